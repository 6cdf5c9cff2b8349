-- A send whose outcome is unknown (Twilio's answer timed out, the node died
-- mid-send) is 'uncertain' until it is looked up in Twilio's Messages API
-- ('checking' while a node does): found, it is sent; absent, it is queued
-- again. It holds its conversation's next replies until then, so replies
-- keep their order.
CREATE INDEX outbound_uncertain ON outbound_messages (next_attempt_at, id) WHERE status IN ('uncertain', 'checking');
