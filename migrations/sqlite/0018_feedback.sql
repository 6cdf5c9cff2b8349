-- After a visit, Nuru asks the patient for a rating (1–5) and an optional
-- comment, once, with at most one reminder.

-- Absent row: the defaults (on; asked 2 hours after staff mark the
-- appointment attended; one reminder a day later).
CREATE TABLE feedback_settings (
    clinic_id              TEXT PRIMARY KEY REFERENCES clinics (id),
    enabled                INTEGER NOT NULL DEFAULT 1,
    -- attended: once staff mark the appointment attended;
    -- end: at the appointment's end, unless cancelled or marked missed.
    ask_after              TEXT NOT NULL DEFAULT 'attended' CHECK (ask_after IN ('attended', 'end')),
    delay_minutes          INTEGER NOT NULL DEFAULT 120,
    -- 0: no reminder.
    reminder_after_minutes INTEGER NOT NULL DEFAULT 1440,
    updated_at             INTEGER NOT NULL
);

-- One request per appointment, scheduled in the transaction that marks it
-- attended (or books it, when asked after its end).
CREATE TABLE feedback_requests (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    clinic_id       TEXT NOT NULL REFERENCES clinics (id),
    appointment_id  TEXT NOT NULL UNIQUE REFERENCES appointments (id),
    -- When the next step is due: the request, its reminder, its expiry.
    due_at          INTEGER NOT NULL,
    -- scheduled | asked | answered | declined | expired | skipped | cancelled
    status          TEXT NOT NULL DEFAULT 'scheduled',
    reason          TEXT,
    -- How many times it was sent (1, or 2 with the reminder).
    asked           INTEGER NOT NULL DEFAULT 0,
    locked_until    INTEGER NOT NULL DEFAULT 0,
    conversation_id TEXT REFERENCES conversations (id),
    outbound_id     INTEGER REFERENCES outbound_messages (id),
    rating          INTEGER CHECK (rating BETWEEN 1 AND 5),
    comment         TEXT,
    answered_at     INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX feedback_due ON feedback_requests (due_at, id) WHERE status IN ('scheduled', 'asked');
CREATE INDEX feedback_clinic ON feedback_requests (clinic_id, answered_at);

-- The feedback request the conversation's next message may answer.
ALTER TABLE conversations ADD COLUMN awaiting_feedback INTEGER;
