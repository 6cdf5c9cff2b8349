-- Whether a clinic lets Nuru consult a model about its patients' messages:
-- 'any' model, 'local_only' (no hosted model sees patient data), or 'none'.
ALTER TABLE clinics ADD COLUMN model_policy TEXT NOT NULL DEFAULT 'any' CHECK (model_policy IN ('any', 'local_only', 'none'));
