-- Readiness writes here to learn whether the database can store (a full
-- disk, a read-only file): one row per node, its room freed after each probe.
CREATE TABLE write_probes (
    node TEXT PRIMARY KEY,
    probed_at INTEGER NOT NULL,
    room BLOB
);
