-- Google Calendar: one connection per practitioner (the refresh token
-- encrypted like the Twilio token), the single-use states of connections
-- being made, the durable queue of event writes, and the conflicts found.
CREATE TABLE google_connections (
    practitioner_id  TEXT PRIMARY KEY REFERENCES practitioners (id),
    clinic_id        TEXT NOT NULL REFERENCES clinics (id),
    -- connected | needs_reconnect
    status           TEXT NOT NULL,
    -- oauth (the doctor consented; refresh token below) | service_account
    -- (the clinic's Workspace service account acts as `subject`)
    kind             TEXT NOT NULL DEFAULT 'oauth',
    subject          TEXT,
    refresh_token_enc TEXT NOT NULL,
    scope            TEXT NOT NULL,
    -- The calendars Google listed, as JSON [{"id","summary","primary","access_role"}].
    calendars        TEXT NOT NULL DEFAULT '[]',
    -- Chosen by the clinic: JSON ids counted as busy, and the one receiving bookings.
    busy_calendars   TEXT NOT NULL DEFAULT '[]',
    booking_calendar TEXT,
    -- JSON {"calendar id": "sync token"}.
    sync_tokens      TEXT NOT NULL DEFAULT '{}',
    next_sync_at     BIGINT NOT NULL DEFAULT 0,
    sync_lease_until BIGINT NOT NULL DEFAULT 0,
    last_sync_at     BIGINT,
    last_error       TEXT,
    connected_at     BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX google_connections_due ON google_connections (next_sync_at) WHERE status = 'connected';

CREATE TABLE google_oauth_states (
    state_hash      TEXT PRIMARY KEY,
    clinic_id       TEXT NOT NULL REFERENCES clinics (id),
    practitioner_id TEXT NOT NULL REFERENCES practitioners (id),
    verifier_enc    TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    expires_at      BIGINT NOT NULL
);

-- One row per appointment and practitioner whose booking calendar must
-- follow it. A change while a write is in flight bumps `changes`; the
-- worker marks the row done only if `changes` is what it read.
CREATE TABLE calendar_outbox (
    appointment_id  TEXT NOT NULL REFERENCES appointments (id),
    practitioner_id TEXT NOT NULL REFERENCES practitioners (id),
    clinic_id       TEXT NOT NULL REFERENCES clinics (id),
    changes         BIGINT NOT NULL DEFAULT 1,
    done            BIGINT NOT NULL DEFAULT 0,
    due_at          BIGINT NOT NULL,
    lease_until     BIGINT NOT NULL DEFAULT 0,
    attempts        BIGINT NOT NULL DEFAULT 0,
    last_error      TEXT,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (appointment_id, practitioner_id)
);
CREATE INDEX calendar_outbox_due ON calendar_outbox (due_at) WHERE done = 0;

-- An event Nuru wrote that the doctor moved or deleted in Google.
CREATE TABLE calendar_conflicts (
    id              TEXT PRIMARY KEY,
    clinic_id       TEXT NOT NULL REFERENCES clinics (id),
    practitioner_id TEXT NOT NULL REFERENCES practitioners (id),
    appointment_id  TEXT NOT NULL REFERENCES appointments (id),
    -- deleted_in_google | moved_in_google
    kind            TEXT NOT NULL,
    google_start    BIGINT,
    detected_at     BIGINT NOT NULL,
    resolved_at     BIGINT,
    UNIQUE (appointment_id, kind)
);
CREATE INDEX calendar_conflicts_clinic ON calendar_conflicts (clinic_id, detected_at);

-- A Workspace clinic's service account with domain-wide delegation (the key
-- file, encrypted like the Twilio token; never returned).
CREATE TABLE google_service_accounts (
    clinic_id    TEXT PRIMARY KEY REFERENCES clinics (id),
    client_email TEXT NOT NULL,
    key_enc      TEXT NOT NULL,
    updated_at   BIGINT NOT NULL
);

-- Whether events written to doctors' calendars carry the patient's name
-- (default: no; never the reason or the service).
ALTER TABLE clinics ADD COLUMN calendar_patient_names BIGINT NOT NULL DEFAULT 0;
