-- How long a reply stays worth sending and how hard it is pushed: urgent
-- (an emergency reply: retried within seconds, staff alerted at its first
-- failure), lasting (confirmations, notices: the whole retry budget) or
-- fleeting (a conversational reply such as an offer of times: stale after
-- an hour).
ALTER TABLE outbound_messages ADD COLUMN lifetime TEXT NOT NULL DEFAULT 'lasting';
-- A reply of this conversation could not be delivered: staff see it marked
-- in the inbox (the conversation also needs a person) until they release it.
ALTER TABLE conversations ADD COLUMN undelivered_at INTEGER;
