-- A retired service keeps the appointments that used it; it is no longer offered.
ALTER TABLE services ADD COLUMN archived_at INTEGER;

-- An erased patient keeps no name, birth date or phone; the row stays so that
-- past appointments still count in the clinic's statistics.
ALTER TABLE patients ADD COLUMN erased_at INTEGER;

-- What the bot and staff did, for the per-clinic statistics: moves,
-- cancellations, handoffs, emergencies, model calls. No patient data.
CREATE TABLE activity_events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    clinic_id TEXT NOT NULL,
    at        INTEGER NOT NULL,
    kind      TEXT NOT NULL,
    actor     TEXT NOT NULL
);
CREATE INDEX activity_events_clinic_at ON activity_events (clinic_id, at);
CREATE INDEX patients_clinic_name ON patients (clinic_id, last_name, first_name);
