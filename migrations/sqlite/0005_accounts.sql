-- Admin API accounts, memberships, refresh tokens (rotated, reuse revokes the
-- family) and the audit trail.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    superadmin    INTEGER NOT NULL DEFAULT 0,
    active        INTEGER NOT NULL DEFAULT 1,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until  INTEGER,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE memberships (
    user_id         TEXT NOT NULL REFERENCES users (id),
    clinic_id       TEXT NOT NULL REFERENCES clinics (id),
    role            TEXT NOT NULL CHECK (role IN ('clinic_admin', 'staff', 'practitioner')),
    practitioner_id TEXT REFERENCES practitioners (id),
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (user_id, clinic_id)
);
CREATE INDEX memberships_clinic ON memberships (clinic_id);

CREATE TABLE refresh_tokens (
    id         TEXT PRIMARY KEY,
    family_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id),
    token_hash TEXT NOT NULL UNIQUE,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    revoked_at INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

CREATE TABLE audit_events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    at            INTEGER NOT NULL,
    actor_user_id TEXT,
    clinic_id     TEXT,
    action        TEXT NOT NULL,
    resource      TEXT NOT NULL,
    resource_id   TEXT,
    outcome       TEXT NOT NULL DEFAULT 'ok'
);
CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_clinic ON audit_events (clinic_id, at);
