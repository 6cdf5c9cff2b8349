-- The queues are claimed oldest first among the rows still waiting. Without
-- these partial indexes the claim walks every row already processed or sent
-- (the primary key in id order, filtered), so it slowed down as the tables
-- grew, and on PostgreSQL without table statistics it chose sequential scans.
-- Each index holds only the waiting rows, so a claim costs the same on a
-- fresh table and after millions of messages.
CREATE INDEX inbound_queue ON inbound_messages (id) WHERE processed_at IS NULL;
CREATE INDEX outbound_queue ON outbound_messages (id) WHERE status = 'queued';
CREATE INDEX outbound_open ON outbound_messages (conversation_id, id) WHERE status IN ('queued', 'sending');
CREATE INDEX outbound_sending ON outbound_messages (locked_until) WHERE status = 'sending';
