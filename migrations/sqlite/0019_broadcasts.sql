-- Announcements a clinic sends to a segment of its patients (a vaccination
-- campaign, a closed day): the recipients are fixed when it is created,
-- spaced by the clinic's rate, and each is checked for consent when sent.

CREATE TABLE broadcasts (
    id           TEXT PRIMARY KEY,
    clinic_id    TEXT NOT NULL REFERENCES clinics (id),
    name         TEXT NOT NULL,
    -- What it was sent to (JSON, as given).
    segment      TEXT NOT NULL,
    -- Free text: SMS, and WhatsApp inside the 24-hour window.
    text_fr      TEXT NOT NULL,
    text_en      TEXT NOT NULL,
    -- The approved WhatsApp templates for outside the window, and what
    -- fills {{1}}, {{2}}… (JSON array of {"variable": …} or {"text": …}).
    content_sid_fr TEXT,
    content_sid_en TEXT,
    variables    TEXT NOT NULL DEFAULT '[]',
    -- Messages per minute per sending number.
    per_minute   INTEGER NOT NULL,
    -- running | paused | cancelled (finished when no recipient waits).
    status       TEXT NOT NULL DEFAULT 'running',
    created_by   TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX broadcasts_clinic ON broadcasts (clinic_id, created_at);

CREATE TABLE broadcast_recipients (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    broadcast_id  TEXT NOT NULL REFERENCES broadcasts (id),
    clinic_id     TEXT NOT NULL REFERENCES clinics (id),
    phone         TEXT NOT NULL,
    channel       TEXT NOT NULL,
    language      TEXT NOT NULL,
    patient_id    TEXT REFERENCES patients (id),
    -- pending | queued (handed to the outbox) | skipped | cancelled
    status        TEXT NOT NULL DEFAULT 'pending',
    reason        TEXT,
    due_at        INTEGER NOT NULL,
    locked_until  INTEGER NOT NULL DEFAULT 0,
    outbound_id   INTEGER REFERENCES outbound_messages (id),
    updated_at    INTEGER NOT NULL,
    UNIQUE (broadcast_id, phone, channel)
);
CREATE INDEX broadcast_recipients_due ON broadcast_recipients (due_at, id) WHERE status = 'pending';
CREATE INDEX broadcast_recipients_of ON broadcast_recipients (broadcast_id, status);
