-- Full scheduling rules (issue 3): opening days, holidays, exceptions,
-- buffers, per-practitioner durations, window limits, daily limits, outside
-- busy time, and calendar feed tokens.

ALTER TABLE clinics ADD COLUMN opening_days INTEGER NOT NULL DEFAULT 127 CHECK (opening_days BETWEEN 0 AND 127);

ALTER TABLE practitioners ADD COLUMN daily_limit INTEGER CHECK (daily_limit IS NULL OR daily_limit >= 1);
-- Secret part of the practitioner's calendar feed URL.
ALTER TABLE practitioners ADD COLUMN calendar_token TEXT;
CREATE UNIQUE INDEX practitioners_calendar_token ON practitioners (calendar_token);

ALTER TABLE services ADD COLUMN buffer_before_minutes INTEGER NOT NULL DEFAULT 0 CHECK (buffer_before_minutes >= 0);
ALTER TABLE services ADD COLUMN buffer_after_minutes INTEGER NOT NULL DEFAULT 0 CHECK (buffer_after_minutes >= 0);

ALTER TABLE practitioner_services ADD COLUMN duration_minutes INTEGER CHECK (duration_minutes IS NULL OR duration_minutes > 0);

ALTER TABLE availability_windows ADD COLUMN mode TEXT CHECK (mode IS NULL OR mode IN ('in_person', 'remote'));
CREATE TABLE window_services (
    window_id  TEXT NOT NULL REFERENCES availability_windows (id) ON DELETE CASCADE,
    service_id TEXT NOT NULL REFERENCES services (id),
    PRIMARY KEY (window_id, service_id)
);

CREATE TABLE clinic_holidays (
    clinic_id TEXT NOT NULL REFERENCES clinics (id),
    day       TEXT NOT NULL,
    name      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (clinic_id, day)
);

-- One row per exception; `recurrence` says which columns hold its time.
CREATE TABLE availability_exceptions (
    id              TEXT PRIMARY KEY,
    clinic_id       TEXT NOT NULL REFERENCES clinics (id),
    practitioner_id TEXT REFERENCES practitioners (id),
    kind            TEXT NOT NULL CHECK (kind IN ('leave', 'training', 'emergency', 'busy')),
    reason          TEXT NOT NULL DEFAULT '',
    recurrence      TEXT NOT NULL CHECK (recurrence IN ('once', 'days', 'weekly')),
    starts_at       BIGINT,
    ends_at         BIGINT,
    first_day       TEXT,
    last_day        TEXT,
    weekday         INTEGER CHECK (weekday IS NULL OR weekday BETWEEN 1 AND 7),
    start_minute    INTEGER CHECK (start_minute IS NULL OR start_minute BETWEEN 0 AND 1439),
    end_minute      INTEGER CHECK (end_minute IS NULL OR end_minute BETWEEN 1 AND 1440),
    created_at      BIGINT NOT NULL,
    CHECK (recurrence <> 'once' OR (starts_at IS NOT NULL AND ends_at > starts_at)),
    CHECK (recurrence <> 'days' OR (first_day IS NOT NULL AND last_day >= first_day)),
    CHECK (recurrence <> 'weekly' OR (weekday IS NOT NULL AND first_day IS NOT NULL AND end_minute > start_minute))
);
CREATE INDEX availability_exceptions_clinic ON availability_exceptions (clinic_id);

-- Busy time from outside (Google Calendar free/busy, later): plain intervals.
CREATE TABLE external_busy (
    id              TEXT PRIMARY KEY,
    clinic_id       TEXT NOT NULL REFERENCES clinics (id),
    practitioner_id TEXT NOT NULL REFERENCES practitioners (id),
    source          TEXT NOT NULL,
    external_id     TEXT NOT NULL,
    starts_at       BIGINT NOT NULL,
    ends_at         BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    CHECK (ends_at > starts_at),
    UNIQUE (practitioner_id, source, external_id)
);
CREATE INDEX external_busy_time ON external_busy (clinic_id, starts_at);

-- The time an appointment blocks: itself plus its service's buffers. Overlap
-- and capacity are decided on these.
ALTER TABLE appointments ADD COLUMN blocked_from BIGINT NOT NULL DEFAULT 0;
ALTER TABLE appointments ADD COLUMN blocked_until BIGINT NOT NULL DEFAULT 0;
UPDATE appointments SET blocked_from = starts_at, blocked_until = ends_at;
ALTER TABLE appointments ADD COLUMN mode TEXT NOT NULL DEFAULT 'in_person' CHECK (mode IN ('in_person', 'remote'));
ALTER TABLE appointments ADD COLUMN calendar_token TEXT;
CREATE UNIQUE INDEX appointments_calendar_token ON appointments (calendar_token);
CREATE INDEX appointments_practitioner_blocked ON appointments (practitioner_id, blocked_from) WHERE status = 'booked';
CREATE INDEX appointments_clinic_blocked ON appointments (clinic_id, blocked_from) WHERE status = 'booked';
