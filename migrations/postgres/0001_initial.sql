-- Nuru schema, PostgreSQL flavour. Instants are UTC epoch seconds (BIGINT), ids
-- are UUID text, flags are INTEGER 0/1: the sqlx Any driver decodes those on
-- both backends (see ARCHITECTURE.md, "Storage").

CREATE TABLE clinics (
    id                    TEXT PRIMARY KEY,
    slug                  TEXT NOT NULL UNIQUE,
    name                  TEXT NOT NULL,
    timezone              TEXT NOT NULL,
    default_language      TEXT NOT NULL CHECK (default_language IN ('fr', 'en')),
    address               TEXT NOT NULL DEFAULT '',
    phone                 TEXT,
    emergency_number      TEXT NOT NULL,
    opening_hours_fr      TEXT,
    opening_hours_en      TEXT,
    booking_horizon_days  INTEGER NOT NULL DEFAULT 30,
    min_notice_minutes    INTEGER NOT NULL DEFAULT 60,
    whatsapp_number       TEXT,
    sms_number            TEXT,
    twilio_account_sid    TEXT,
    twilio_auth_token_enc TEXT,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL
);

CREATE TABLE practitioners (
    id          TEXT PRIMARY KEY,
    clinic_id   TEXT NOT NULL REFERENCES clinics (id),
    title       TEXT NOT NULL DEFAULT '',
    first_name  TEXT NOT NULL DEFAULT '',
    last_name   TEXT NOT NULL,
    active      INTEGER NOT NULL DEFAULT 1,
    -- Bumped by every booking of this practitioner: the row write serialises
    -- concurrent bookings (see storage::appointments).
    booking_seq INTEGER NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX practitioners_clinic ON practitioners (clinic_id);

CREATE TABLE services (
    id               TEXT PRIMARY KEY,
    clinic_id        TEXT NOT NULL REFERENCES clinics (id),
    name_fr          TEXT NOT NULL,
    name_en          TEXT NOT NULL,
    duration_minutes INTEGER NOT NULL CHECK (duration_minutes > 0),
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX services_clinic ON services (clinic_id);

CREATE TABLE practitioner_services (
    practitioner_id TEXT NOT NULL REFERENCES practitioners (id),
    service_id      TEXT NOT NULL REFERENCES services (id),
    PRIMARY KEY (practitioner_id, service_id)
);

CREATE TABLE availability_windows (
    id              TEXT PRIMARY KEY,
    clinic_id       TEXT NOT NULL REFERENCES clinics (id),
    practitioner_id TEXT NOT NULL REFERENCES practitioners (id),
    weekday         INTEGER NOT NULL CHECK (weekday BETWEEN 1 AND 7),
    start_minute    INTEGER NOT NULL CHECK (start_minute BETWEEN 0 AND 1439),
    end_minute      INTEGER NOT NULL CHECK (end_minute BETWEEN 1 AND 1440),
    capacity        INTEGER NOT NULL DEFAULT 1 CHECK (capacity >= 1),
    CHECK (end_minute > start_minute)
);
CREATE INDEX availability_windows_clinic ON availability_windows (clinic_id);

CREATE TABLE patients (
    id         TEXT PRIMARY KEY,
    clinic_id  TEXT NOT NULL REFERENCES clinics (id),
    first_name TEXT NOT NULL,
    last_name  TEXT NOT NULL,
    birth_date TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- A phone may belong to several patients of a family, and a patient may have
-- several phones.
CREATE TABLE patient_phones (
    clinic_id  TEXT NOT NULL REFERENCES clinics (id),
    patient_id TEXT NOT NULL REFERENCES patients (id),
    phone      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (patient_id, phone)
);
CREATE INDEX patient_phones_lookup ON patient_phones (clinic_id, phone);

CREATE TABLE conversations (
    id              TEXT PRIMARY KEY,
    clinic_id       TEXT NOT NULL REFERENCES clinics (id),
    channel         TEXT NOT NULL,
    phone           TEXT NOT NULL,
    language        TEXT NOT NULL,
    state           TEXT NOT NULL,
    version         INTEGER NOT NULL DEFAULT 0,
    needs_human     INTEGER NOT NULL DEFAULT 0,
    urgent          INTEGER NOT NULL DEFAULT 0,
    last_inbound_at BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (clinic_id, channel, phone)
);

CREATE TABLE appointments (
    id              TEXT PRIMARY KEY,
    clinic_id       TEXT NOT NULL REFERENCES clinics (id),
    practitioner_id TEXT NOT NULL REFERENCES practitioners (id),
    patient_id      TEXT NOT NULL REFERENCES patients (id),
    service_id      TEXT NOT NULL REFERENCES services (id),
    starts_at       BIGINT NOT NULL,
    ends_at         BIGINT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('booked', 'cancelled', 'attended', 'no_show')),
    source          TEXT NOT NULL CHECK (source IN ('bot', 'staff')),
    conversation_id TEXT REFERENCES conversations (id),
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    CHECK (ends_at > starts_at)
);
CREATE INDEX appointments_practitioner_time ON appointments (practitioner_id, starts_at);
CREATE INDEX appointments_clinic_time ON appointments (clinic_id, starts_at);
CREATE INDEX appointments_patient ON appointments (patient_id);

-- Every inbound delivery, stored before it is acknowledged. The unique key is
-- the idempotency guard: a repeated delivery inserts nothing.
CREATE TABLE inbound_messages (
    id                  BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    clinic_id           TEXT NOT NULL REFERENCES clinics (id),
    provider_message_id TEXT NOT NULL,
    channel             TEXT NOT NULL,
    from_phone          TEXT NOT NULL,
    body                TEXT NOT NULL,
    fields              TEXT NOT NULL,
    received_at         BIGINT NOT NULL,
    status              TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processed', 'failed')),
    attempts            INTEGER NOT NULL DEFAULT 0,
    locked_until        BIGINT,
    processed_at        BIGINT,
    error               TEXT,
    UNIQUE (clinic_id, provider_message_id)
);
CREATE INDEX inbound_pending ON inbound_messages (clinic_id, channel, from_phone, id) WHERE processed_at IS NULL;

-- The outbox: replies are written here in the turn's transaction and sent by
-- the sender worker.
CREATE TABLE outbound_messages (
    id                  BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    clinic_id           TEXT NOT NULL REFERENCES clinics (id),
    conversation_id     TEXT NOT NULL REFERENCES conversations (id),
    inbound_id          BIGINT REFERENCES inbound_messages (id),
    channel             TEXT NOT NULL,
    to_phone            TEXT NOT NULL,
    body                TEXT NOT NULL,
    author              TEXT NOT NULL DEFAULT 'bot',
    status              TEXT NOT NULL DEFAULT 'queued',
    provider_message_id TEXT,
    attempts            INTEGER NOT NULL DEFAULT 0,
    next_attempt_at     BIGINT NOT NULL,
    locked_until        BIGINT,
    error               TEXT,
    created_at          BIGINT NOT NULL,
    sent_at             BIGINT
);
CREATE INDEX outbound_due ON outbound_messages (next_attempt_at, id) WHERE status = 'queued';
CREATE INDEX outbound_conversation ON outbound_messages (conversation_id, id);
