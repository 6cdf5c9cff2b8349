-- Bumped in the transaction of every change to what the conversation reads
-- from the catalog (settings, practitioners, services, windows, exceptions,
-- holidays), so that each node can keep the catalog in memory and reload it
-- only when this number moved.
ALTER TABLE clinics ADD COLUMN catalog_version BIGINT NOT NULL DEFAULT 0;
