-- A passage's embedding (little-endian f32s, unit length) and the model that
-- made it, when an embedding model is configured. Vectors of another model
-- are ignored by searches; re-indexing a document computes them again.
ALTER TABLE document_passages ADD COLUMN embedding BYTEA;
ALTER TABLE document_passages ADD COLUMN embedding_model TEXT;
