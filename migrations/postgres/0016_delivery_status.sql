-- What Twilio's status callbacks say of each reply after it was handed over:
-- the furthest status reached (rank: queued 1, sending 2, sent 3,
-- undelivered/failed 4, delivered 5, read 6; it only moves forward), the
-- error code of a failed delivery, and when it last moved.
ALTER TABLE outbound_messages ADD COLUMN delivery_status TEXT;
ALTER TABLE outbound_messages ADD COLUMN delivery_rank BIGINT NOT NULL DEFAULT 0;
ALTER TABLE outbound_messages ADD COLUMN delivery_error_code BIGINT;
ALTER TABLE outbound_messages ADD COLUMN delivery_updated_at BIGINT;
CREATE INDEX outbound_provider_message ON outbound_messages (provider_message_id) WHERE provider_message_id IS NOT NULL;
