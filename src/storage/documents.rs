//! Documents and their passages. A document is written with all its
//! passages, its audit event and the clinic's `documents_version` bump in one
//! transaction, so a node's index is never built from half a document.

use super::{NewAuditEvent, Result, StorageError, Store, from_ts, parse_id, to_ts};
use crate::domain::{ClinicId, DocumentId, Lang, PatientId};
use chrono::{DateTime, Utc};
use sqlx::Row;

/// A document ready to store: what ingestion made of a file.
#[derive(Debug, Clone)]
pub struct NewDocument<'a> {
    pub clinic: ClinicId,
    pub patient: Option<PatientId>,
    pub title: &'a str,
    pub file_name: &'a str,
    /// `pdf`, `markdown` or `text`.
    pub format: &'a str,
    pub language: Option<Lang>,
    pub content: &'a [u8],
    pub sha256: &'a str,
    /// `indexed`, `needs_ocr` or `needs_review` (read by OCR, a page too uncertain to search).
    pub status: &'a str,
    pub pages: u32,
    /// admin, cli, whatsapp, sms.
    pub source: &'a str,
    pub passages: &'a [NewPassage],
    /// One vector per passage and the model that made them, when an
    /// embedding model is configured and answered.
    pub vectors: Option<(&'a str, &'a [Vec<f32>])>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewPassage {
    pub page: Option<u32>,
    pub heading: Option<String>,
    pub text: String,
    pub tokens: u32,
    /// Read by OCR from a scan or a photo: the page's confidence (0–100).
    pub ocr_confidence: Option<u8>,
}

/// A document as listed (no content).
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentRecord {
    pub id: DocumentId,
    pub clinic: ClinicId,
    pub patient: Option<PatientId>,
    pub title: String,
    pub file_name: String,
    pub format: String,
    pub language: Option<Lang>,
    pub byte_size: i64,
    pub sha256: String,
    pub status: String,
    pub pages: i64,
    pub passages: i64,
    pub source: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A passage as the retrieval index loads it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredPassage {
    pub document: DocumentId,
    pub title: String,
    pub language: Option<Lang>,
    pub patient: Option<PatientId>,
    pub page: Option<u32>,
    pub heading: Option<String>,
    pub text: String,
    pub ocr_confidence: Option<u8>,
    /// Its embedding and the model that made it, if any.
    pub vector: Option<(String, Vec<f32>)>,
}

const COLUMNS: &str = "id, clinic_id, patient_id, title, file_name, format, language, byte_size, sha256, status, pages, passages, source, created_at, updated_at";

fn record(row: &sqlx::any::AnyRow) -> Result<DocumentRecord> {
    let patient: Option<String> = row.try_get("patient_id")?;
    let language: Option<String> = row.try_get("language")?;
    Ok(DocumentRecord {
        id: parse_id(&row.try_get::<String, _>("id")?, DocumentId::parse)?,
        clinic: parse_id(&row.try_get::<String, _>("clinic_id")?, ClinicId::parse)?,
        patient: patient.as_deref().map(|p| parse_id(p, PatientId::parse)).transpose()?,
        title: row.try_get("title")?,
        file_name: row.try_get("file_name")?,
        format: row.try_get("format")?,
        language: language.as_deref().and_then(Lang::parse),
        byte_size: row.try_get("byte_size")?,
        sha256: row.try_get("sha256")?,
        status: row.try_get("status")?,
        pages: row.try_get("pages")?,
        passages: row.try_get("passages")?,
        source: row.try_get("source")?,
        created_at: from_ts(row.try_get("created_at")?)?,
        updated_at: from_ts(row.try_get("updated_at")?)?,
    })
}

impl Store {
    /// Stores a new document (or, with `replace`, new contents for an
    /// existing one of the same clinic and owner) with its passages.
    pub async fn save_document(
        &self,
        doc: &NewDocument<'_>,
        replace: Option<DocumentId>,
        audit: &NewAuditEvent<'_>,
        now: DateTime<Utc>,
    ) -> Result<DocumentId> {
        let (c, ts) = (doc.clinic.to_string(), to_ts(now));
        let patient = doc.patient.map(|p| p.to_string());
        let mut tx = self.begin().await?;
        // Both statements take the same parameters in the same order: the
        // document's fields ($1–$11), the time ($12), its id, clinic and owner.
        let sql = match replace {
            Some(_) => {
                "UPDATE documents SET title = $1, file_name = $2, format = $3, language = $4, content = $5, byte_size = $6, sha256 = $7, \
                 status = $8, pages = $9, passages = $10, source = $11, updated_at = $12 \
                 WHERE id = $13 AND clinic_id = $14 AND ((patient_id IS NULL AND $15 IS NULL) OR patient_id = $15)"
            }
            None => {
                "INSERT INTO documents (title, file_name, format, language, content, byte_size, sha256, status, pages, passages, source, \
                 updated_at, id, clinic_id, patient_id, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$12)"
            }
        };
        let id = replace.unwrap_or_else(DocumentId::random);
        let written = sqlx::query(sql)
            .bind(doc.title)
            .bind(doc.file_name)
            .bind(doc.format)
            .bind(doc.language.map(|l| l.as_str().to_string()))
            .bind(doc.content.to_vec())
            .bind(doc.content.len() as i64)
            .bind(doc.sha256)
            .bind(doc.status)
            .bind(doc.pages as i64)
            .bind(doc.passages.len() as i64)
            .bind(doc.source)
            .bind(ts)
            .bind(id.to_string())
            .bind(&c)
            .bind(patient.clone())
            .execute(&mut *tx)
            .await?;
        if written.rows_affected() == 0 {
            // A replacement of a document this clinic and owner do not have.
            return Err(StorageError::NotFound("document"));
        }
        if replace.is_some() {
            sqlx::query("DELETE FROM document_passages WHERE document_id = $1").bind(id.to_string()).execute(&mut *tx).await?;
        }
        Self::insert_passages_in(&mut tx, id, doc.clinic, doc.patient, 0, doc.passages, doc.vectors).await?;
        Self::bump_documents_version(&mut tx, doc.clinic).await?;
        let id_text = id.to_string();
        Self::audit_in(&mut tx, &NewAuditEvent { resource_id: Some(&id_text), ..*audit }, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Inside a transaction: `passages` of document `id`, numbered from
    /// `first`, with their vectors when there is one per passage.
    pub(super) async fn insert_passages_in(
        conn: &mut sqlx::AnyConnection,
        id: DocumentId,
        clinic: ClinicId,
        patient: Option<PatientId>,
        first: usize,
        passages: &[NewPassage],
        vectors: Option<(&str, &[Vec<f32>])>,
    ) -> Result<()> {
        let vectors = vectors.filter(|(_, v)| v.len() == passages.len());
        for (i, p) in passages.iter().enumerate() {
            let vector = vectors.map(|(model, v)| (model.to_string(), crate::documents::dense::to_bytes(&v[i])));
            sqlx::query(
                "INSERT INTO document_passages (document_id, ordinal, clinic_id, patient_id, page, heading, text, tokens, embedding_model, embedding, ocr_confidence) \
                 VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
            )
            .bind(id.to_string())
            .bind((first + i) as i64)
            .bind(clinic.to_string())
            .bind(patient.map(|p| p.to_string()))
            .bind(p.page.map(i64::from))
            .bind(p.heading.clone())
            .bind(&p.text)
            .bind(p.tokens as i64)
            .bind(vector.as_ref().map(|(m, _)| m.clone()))
            .bind(vector.map(|(_, b)| b))
            .bind(p.ocr_confidence.map(i64::from))
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }

    pub(super) async fn bump_documents_version(conn: &mut sqlx::AnyConnection, clinic: ClinicId) -> Result<()> {
        sqlx::query("UPDATE clinics SET documents_version = documents_version + 1 WHERE id = $1")
            .bind(clinic.to_string())
            .execute(conn)
            .await?;
        Ok(())
    }

    /// The number that moves with every change to the clinic's documents.
    pub async fn documents_version(&self, clinic: ClinicId) -> Result<i64> {
        let row =
            sqlx::query("SELECT documents_version FROM clinics WHERE id = $1").bind(clinic.to_string()).fetch_optional(&self.pool).await?;
        row.map(|r| r.try_get::<i64, _>("documents_version")).transpose()?.ok_or(StorageError::NotFound("clinic"))
    }

    /// The clinic's documents (`patient`: only that patient's; otherwise the
    /// clinic's own), newest first.
    pub async fn documents(&self, clinic: ClinicId, patient: Option<PatientId>) -> Result<Vec<DocumentRecord>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM documents WHERE clinic_id = $1 AND ((patient_id IS NULL AND $2 IS NULL) OR patient_id = $2) ORDER BY created_at DESC, id"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(clinic.to_string())
            .bind(patient.map(|p| p.to_string()))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(record)
            .collect()
    }

    /// One document of the clinic, with its original bytes.
    pub async fn document(&self, clinic: ClinicId, id: DocumentId) -> Result<Option<(DocumentRecord, Vec<u8>)>> {
        let sql = format!("SELECT {COLUMNS}, content FROM documents WHERE clinic_id = $1 AND id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(clinic.to_string()).bind(id.to_string()).fetch_optional(&self.pool).await?;
        row.map(|r| Ok((record(&r)?, r.try_get::<Vec<u8>, _>("content")?))).transpose()
    }

    /// Deletes a document of the clinic and its passages; false if there was none.
    pub async fn delete_document(&self, clinic: ClinicId, id: DocumentId, audit: &NewAuditEvent<'_>, now: DateTime<Utc>) -> Result<bool> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM document_passages WHERE document_id = $1 AND clinic_id = $2")
            .bind(id.to_string())
            .bind(clinic.to_string())
            .execute(&mut *tx)
            .await?;
        let gone = sqlx::query("DELETE FROM documents WHERE id = $1 AND clinic_id = $2")
            .bind(id.to_string())
            .bind(clinic.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if gone == 0 {
            return Ok(false);
        }
        Self::bump_documents_version(&mut tx, clinic).await?;
        Self::audit_in(&mut tx, audit, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Every passage of the clinic's documents (the clinic's and its
    /// patients'), for the clinic's retrieval index.
    pub async fn passages(&self, clinic: ClinicId) -> Result<Vec<StoredPassage>> {
        let rows = sqlx::query(
            "SELECT p.document_id, d.title, d.language, p.patient_id, p.page, p.heading, p.text, p.embedding_model, p.embedding, p.ocr_confidence FROM document_passages p \
             JOIN documents d ON d.id = p.document_id WHERE p.clinic_id = $1 AND d.status <> 'pending' ORDER BY p.document_id, p.ordinal",
        )
        .bind(clinic.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let patient: Option<String> = r.try_get("patient_id")?;
                let language: Option<String> = r.try_get("language")?;
                let page: Option<i64> = r.try_get("page")?;
                Ok(StoredPassage {
                    document: parse_id(&r.try_get::<String, _>("document_id")?, DocumentId::parse)?,
                    title: r.try_get("title")?,
                    language: language.as_deref().and_then(Lang::parse),
                    patient: patient.as_deref().map(|p| parse_id(p, PatientId::parse)).transpose()?,
                    page: page.map(|p| p as u32),
                    heading: r.try_get("heading")?,
                    text: r.try_get("text")?,
                    ocr_confidence: r.try_get::<Option<i64>, _>("ocr_confidence")?.map(|c| c.clamp(0, 100) as u8),
                    vector: match (r.try_get::<Option<String>, _>("embedding_model")?, r.try_get::<Option<Vec<u8>>, _>("embedding")?) {
                        (Some(model), Some(bytes)) => crate::documents::dense::from_bytes(&bytes).map(|v| (model, v)),
                        _ => None,
                    },
                })
            })
            .collect()
    }

    /// Deletes a patient's documents and passages in the caller's
    /// transaction (erasure); returns how many documents went.
    pub(super) async fn erase_patient_documents(conn: &mut sqlx::AnyConnection, clinic: ClinicId, patient: PatientId) -> Result<u64> {
        let (c, p) = (clinic.to_string(), patient.to_string());
        sqlx::query("DELETE FROM document_passages WHERE clinic_id = $1 AND patient_id = $2").bind(&c).bind(&p).execute(&mut *conn).await?;
        let gone = sqlx::query("DELETE FROM documents WHERE clinic_id = $1 AND patient_id = $2")
            .bind(&c)
            .bind(&p)
            .execute(&mut *conn)
            .await?
            .rows_affected();
        if gone > 0 {
            Self::bump_documents_version(conn, clinic).await?;
        }
        Ok(gone)
    }
}
