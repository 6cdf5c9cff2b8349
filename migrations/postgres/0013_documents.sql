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
    content     BYTEA NOT NULL,
    byte_size   BIGINT NOT NULL,
    sha256      TEXT NOT NULL,
    status      TEXT NOT NULL,
    pages       BIGINT NOT NULL,
    passages    BIGINT NOT NULL,
    source      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX documents_clinic ON documents (clinic_id, created_at);
CREATE INDEX documents_patient ON documents (patient_id) WHERE patient_id IS NOT NULL;

CREATE TABLE document_passages (
    document_id TEXT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    ordinal     BIGINT NOT NULL,
    clinic_id   TEXT NOT NULL,
    patient_id  TEXT,
    page        BIGINT,
    heading     TEXT,
    text        TEXT NOT NULL,
    tokens      BIGINT NOT NULL,
    PRIMARY KEY (document_id, ordinal)
);
CREATE INDEX document_passages_clinic ON document_passages (clinic_id);

-- Bumped in the transaction of every change to a clinic's documents, so each
-- node keeps the clinic's retrieval index in memory while it holds.
ALTER TABLE clinics ADD COLUMN documents_version BIGINT NOT NULL DEFAULT 0;
