-- Documents a clinic hands out (patient_id NULL) and documents of one
-- patient's file, with the original bytes, and the passages retrieval reads.
CREATE TABLE documents (
    id          TEXT PRIMARY KEY,
    clinic_id   TEXT NOT NULL REFERENCES clinics (id),
    patient_id  TEXT REFERENCES patients (id),
    title       TEXT NOT NULL,
    file_name   TEXT NOT NULL,
    format      TEXT NOT NULL,
    language    TEXT,
    content     BLOB NOT NULL,
    byte_size   INTEGER NOT NULL,
    sha256      TEXT NOT NULL,
    status      TEXT NOT NULL,
    pages       INTEGER NOT NULL,
    passages    INTEGER NOT NULL,
    source      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX documents_clinic ON documents (clinic_id, created_at);
CREATE INDEX documents_patient ON documents (patient_id) WHERE patient_id IS NOT NULL;

CREATE TABLE document_passages (
    document_id TEXT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    ordinal     INTEGER NOT NULL,
    clinic_id   TEXT NOT NULL,
    patient_id  TEXT,
    page        INTEGER,
    heading     TEXT,
    text        TEXT NOT NULL,
    tokens      INTEGER NOT NULL,
    PRIMARY KEY (document_id, ordinal)
);
CREATE INDEX document_passages_clinic ON document_passages (clinic_id);

-- Bumped in the transaction of every change to a clinic's documents, so each
-- node keeps the clinic's retrieval index in memory while it holds.
ALTER TABLE clinics ADD COLUMN documents_version INTEGER NOT NULL DEFAULT 0;
