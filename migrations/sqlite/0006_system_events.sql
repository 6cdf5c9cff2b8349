-- Operational events staff and superadmins can list: refused webhooks,
-- replies that could not be sent, model failures. Never message text.
CREATE TABLE system_events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        INTEGER NOT NULL,
    clinic_id TEXT,
    kind      TEXT NOT NULL,
    detail    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX system_events_at ON system_events (at);
CREATE INDEX system_events_clinic_kind ON system_events (clinic_id, kind, at);
