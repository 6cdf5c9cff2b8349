-- Where a conversation stands (idle, booking, cancelling, moving, handed_off),
-- in its own column so that the admin API filters on it with an index rather
-- than a pattern over the state JSON.
ALTER TABLE conversations ADD COLUMN flow TEXT NOT NULL DEFAULT 'idle';
UPDATE conversations SET flow = CASE
    WHEN state LIKE '%"flow":"booking"%' THEN 'booking'
    WHEN state LIKE '%"flow":"cancelling"%' THEN 'cancelling'
    WHEN state LIKE '%"flow":"moving"%' THEN 'moving'
    WHEN state LIKE '%"flow":"handed_off"%' THEN 'handed_off'
    ELSE 'idle' END;
CREATE INDEX conversations_clinic_flow ON conversations (clinic_id, flow, updated_at);
