-- Messages Nuru writes first: appointment reminders, with each clinic's
-- offsets and quiet hours, the approved WhatsApp templates they need outside
-- the 24-hour window, and each phone's consent to receive them.

-- Absent row: the defaults (on, 24 h and 2 h before, quiet 21:00–07:00).
CREATE TABLE reminder_settings (
    clinic_id   TEXT PRIMARY KEY REFERENCES clinics (id),
    enabled     INTEGER NOT NULL DEFAULT 1,
    -- Minutes before the appointment, JSON array.
    offsets     TEXT NOT NULL DEFAULT '[1440,120]',
    -- Minutes after local midnight; start > end spans midnight; equal: none.
    quiet_start INTEGER NOT NULL DEFAULT 1260,
    quiet_end   INTEGER NOT NULL DEFAULT 420,
    updated_at  INTEGER NOT NULL
);

-- One row per appointment, offset and appointment time: created, replaced
-- and cancelled in the transaction that books, moves or cancels.
CREATE TABLE reminders (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    clinic_id             TEXT NOT NULL REFERENCES clinics (id),
    appointment_id        TEXT NOT NULL REFERENCES appointments (id),
    offset_minutes        INTEGER NOT NULL,
    appointment_starts_at INTEGER NOT NULL,
    due_at                INTEGER NOT NULL,
    -- scheduled | queued (handed to the outbox) | skipped | cancelled | failed
    status                TEXT NOT NULL DEFAULT 'scheduled',
    -- Why skipped or failed (opted_out, quiet_hours, no_template, outside_window…).
    reason                TEXT,
    locked_until          INTEGER NOT NULL DEFAULT 0,
    outbound_id           INTEGER REFERENCES outbound_messages (id),
    -- What the patient did from it: confirmed | cancelled | moved.
    reply                 TEXT,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL,
    UNIQUE (appointment_id, offset_minutes, appointment_starts_at)
);
CREATE INDEX reminders_due ON reminders (due_at, id) WHERE status = 'scheduled';
CREATE INDEX reminders_appointment ON reminders (appointment_id);
CREATE INDEX reminders_clinic ON reminders (clinic_id, due_at);

-- Approved WhatsApp templates (Twilio Content API): `variables` names, in
-- order, what fills {{1}}, {{2}}…
CREATE TABLE message_templates (
    clinic_id   TEXT NOT NULL REFERENCES clinics (id),
    kind        TEXT NOT NULL CHECK (kind IN ('reminder', 'feedback', 'broadcast')),
    language    TEXT NOT NULL CHECK (language IN ('fr', 'en')),
    content_sid TEXT NOT NULL,
    variables   TEXT NOT NULL DEFAULT '[]',
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (clinic_id, kind, language)
);

-- Whether a phone accepts messages the clinic starts, per channel.
CREATE TABLE contact_consents (
    clinic_id  TEXT NOT NULL REFERENCES clinics (id),
    phone      TEXT NOT NULL,
    channel    TEXT NOT NULL,
    opted_out  INTEGER NOT NULL DEFAULT 0,
    -- inbound (its first message) | keyword | staff | twilio
    source     TEXT NOT NULL,
    changed_at INTEGER NOT NULL,
    changed_by TEXT,
    PRIMARY KEY (clinic_id, phone, channel)
);

-- What an outbound message is (reply | staff | reminder), and the template
-- it is sent as, when it is one.
ALTER TABLE outbound_messages ADD COLUMN kind TEXT NOT NULL DEFAULT 'reply';
ALTER TABLE outbound_messages ADD COLUMN content_sid TEXT;
ALTER TABLE outbound_messages ADD COLUMN content_variables TEXT;

-- The reminder the conversation's next message may answer ("1", "2", "3").
ALTER TABLE conversations ADD COLUMN awaiting_reminder INTEGER;

ALTER TABLE appointments ADD COLUMN attendance_confirmed_at INTEGER;
ALTER TABLE appointments ADD COLUMN attendance_confirmed_via TEXT;
