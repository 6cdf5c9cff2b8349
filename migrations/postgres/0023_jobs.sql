-- One job mechanism for every leased queue (storage::jobs): each queue's
-- rows carry when they are due, who holds them until when (the claim's
-- token), how many attempts were made, the last error, and, given up on,
-- when they went to the dead-letter state (the reason is the last error).
ALTER TABLE inbound_messages ADD COLUMN run_at BIGINT NOT NULL DEFAULT 0;
UPDATE inbound_messages SET run_at = COALESCE(locked_until, 0), locked_until = NULL WHERE processed_at IS NULL;
ALTER TABLE inbound_messages ADD COLUMN dead_at BIGINT;
UPDATE inbound_messages SET dead_at = processed_at WHERE status = 'failed';

ALTER TABLE outbound_messages ADD COLUMN dead_at BIGINT;
UPDATE outbound_messages SET dead_at = COALESCE(sent_at, created_at) WHERE status IN ('failed', 'unknown');
-- A reply is a job from queued to settled: being sent, or (its outcome
-- unknown) waiting to be looked up in Twilio, or being looked up.
CREATE INDEX outbound_jobs ON outbound_messages (id) WHERE status IN ('queued', 'sending', 'uncertain', 'checking');

ALTER TABLE reminders ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE reminders ADD COLUMN last_error TEXT;
ALTER TABLE reminders ADD COLUMN dead_at BIGINT;

ALTER TABLE feedback_requests ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE feedback_requests ADD COLUMN last_error TEXT;
ALTER TABLE feedback_requests ADD COLUMN dead_at BIGINT;

ALTER TABLE broadcast_recipients ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE broadcast_recipients ADD COLUMN last_error TEXT;
ALTER TABLE broadcast_recipients ADD COLUMN dead_at BIGINT;

ALTER TABLE google_connections ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE google_connections ADD COLUMN dead_at BIGINT;

ALTER TABLE calendar_outbox ADD COLUMN dead_at BIGINT;

-- A document is read off the patient's turn, as a job: stored 'pending'
-- with its bytes, read by a worker within a time budget, its passages
-- written in bounded batches.
ALTER TABLE documents ADD COLUMN run_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE documents ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;
ALTER TABLE documents ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE documents ADD COLUMN last_error TEXT;
ALTER TABLE documents ADD COLUMN dead_at BIGINT;
-- What the file said it was, and the conversation it came from (told if it cannot be read).
ALTER TABLE documents ADD COLUMN content_type TEXT;
ALTER TABLE documents ADD COLUMN conversation_id TEXT;
CREATE INDEX documents_pending ON documents (run_at, id) WHERE status = 'pending';

-- Jobs given up on, counted at every /metrics scrape: only they are indexed.
CREATE INDEX inbound_dead ON inbound_messages (dead_at) WHERE dead_at IS NOT NULL;
CREATE INDEX outbound_dead ON outbound_messages (dead_at) WHERE dead_at IS NOT NULL;
CREATE INDEX reminders_dead ON reminders (dead_at) WHERE dead_at IS NOT NULL;
CREATE INDEX feedback_dead ON feedback_requests (dead_at) WHERE dead_at IS NOT NULL;
CREATE INDEX broadcast_recipients_dead ON broadcast_recipients (dead_at) WHERE dead_at IS NOT NULL;
CREATE INDEX calendar_outbox_dead ON calendar_outbox (dead_at) WHERE dead_at IS NOT NULL;
CREATE INDEX google_connections_dead ON google_connections (dead_at) WHERE dead_at IS NOT NULL;
CREATE INDEX documents_dead ON documents (dead_at) WHERE dead_at IS NOT NULL;
