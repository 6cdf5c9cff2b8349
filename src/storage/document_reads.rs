//! Documents patients send, read off their turn: stored `pending` with
//! their bytes, then read by a worker as a `jobs` queue, their passages
//! written in bounded batches (each its own short transaction, so the
//! webhooks of every clinic keep the database between them), and made
//! visible to search only once the last batch is in.

use super::jobs::{Claim, KeyType, Queue};
use super::{NewAuditEvent, NewOutbound, NewPassage, Result, Store, from_ts, parse_id, to_ts};
use crate::domain::{ClinicId, ConversationId, DocumentId, Lang, PatientId};
use chrono::{DateTime, Utc};
use sqlx::Row;

/// Documents waiting to be read.
pub static DOCUMENT_READS: Queue = Queue {
    name: "document_reads",
    table: "documents",
    key: &[("id", KeyType::Text)],
    run_at: "run_at",
    lease: "lease_until",
    attempts: "attempts",
    error: "last_error",
    open: "status = 'pending'",
    sequence: None,
    join: None,
    index: Some("documents_pending"),
    order: "documents.run_at, documents.id",
    on_claim: "",
    on_release: "",
    on_bury: ", status = 'refused', updated_at = {now}",
    on_revive: ", status = 'pending'",
    returning: "clinic_id, patient_id, file_name, content_type, content, source, conversation_id, created_at",
};

/// A file to add to a patient's (or the clinic's) documents, read later.
#[derive(Debug, Clone)]
pub struct PendingDocument<'a> {
    pub clinic: ClinicId,
    pub patient: Option<PatientId>,
    pub file_name: &'a str,
    pub content_type: Option<&'a str>,
    pub content: &'a [u8],
    pub sha256: &'a str,
    /// whatsapp, sms, admin, cli.
    pub source: &'a str,
    /// Told if the file cannot be read.
    pub conversation: Option<ConversationId>,
}

/// A document this node is reading.
#[derive(Debug, Clone)]
pub struct ClaimedRead {
    pub id: DocumentId,
    pub clinic: ClinicId,
    pub patient: Option<PatientId>,
    pub file_name: String,
    pub content_type: Option<String>,
    pub content: Vec<u8>,
    pub source: String,
    pub conversation: Option<ConversationId>,
    pub created_at: DateTime<Utc>,
    pub claim: Claim,
}

/// What reading found, to record with the document.
#[derive(Debug, Clone, Copy)]
pub struct ReadDocument<'a> {
    pub title: &'a str,
    pub format: &'a str,
    pub language: Option<Lang>,
    /// `indexed`, `needs_ocr` or `needs_review`.
    pub status: &'a str,
    pub pages: u32,
    pub passages: usize,
}

impl Store {
    /// Stores a file to be read, due now. Staff see it in the file at once
    /// (`pending`); search finds it once read.
    pub async fn queue_document(&self, d: &PendingDocument<'_>, now: DateTime<Utc>) -> Result<DocumentId> {
        let id = DocumentId::random();
        sqlx::query(
            "INSERT INTO documents (id, clinic_id, patient_id, title, file_name, format, language, content, byte_size, sha256, status, \
               pages, passages, source, created_at, updated_at, run_at, content_type, conversation_id) \
             VALUES ($1,$2,$3,$4,$4,'',NULL,$5,$6,$7,'pending',0,0,$8,$9,$9,$9,$10,$11)",
        )
        .bind(id.to_string())
        .bind(d.clinic.to_string())
        .bind(d.patient.map(|p| p.to_string()))
        .bind(d.file_name)
        .bind(d.content.to_vec())
        .bind(d.content.len() as i64)
        .bind(d.sha256)
        .bind(d.source)
        .bind(to_ts(now))
        .bind(d.content_type)
        .bind(d.conversation.map(|c| c.to_string()))
        .execute(&self.pool)
        .await?;
        Ok(id)
    }

    /// Leases the document waiting longest to be read.
    pub async fn claim_document_read(&self, now: DateTime<Utc>, lease_until: DateTime<Utc>) -> Result<Option<ClaimedRead>> {
        let Some((claim, row)) = self.claim_job(&DOCUMENT_READS, now, lease_until).await? else { return Ok(None) };
        let patient: Option<String> = row.try_get("patient_id")?;
        let conversation: Option<String> = row.try_get("conversation_id")?;
        Ok(Some(ClaimedRead {
            id: parse_id(&row.try_get::<String, _>("id")?, DocumentId::parse)?,
            clinic: parse_id(&row.try_get::<String, _>("clinic_id")?, ClinicId::parse)?,
            patient: patient.as_deref().map(|p| parse_id(p, PatientId::parse)).transpose()?,
            file_name: row.try_get("file_name")?,
            content_type: row.try_get("content_type")?,
            content: row.try_get("content")?,
            source: row.try_get("source")?,
            conversation: conversation.as_deref().map(|c| parse_id(c, ConversationId::parse)).transpose()?,
            created_at: from_ts(row.try_get("created_at")?)?,
            claim,
        }))
    }

    /// Writes one batch of a document's passages from `first` on, in one
    /// transaction that holds only if the read is still this node's, and
    /// renews its lease to `lease_until`. The first batch clears what an
    /// interrupted read left. `false`: the read is another node's now.
    pub async fn write_passages(
        &self,
        r: &mut ClaimedRead,
        first: usize,
        passages: &[NewPassage],
        vectors: Option<(&str, &[Vec<f32>])>,
        lease_until: DateTime<Utc>,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let held = sqlx::query("UPDATE documents SET lease_until = $1 WHERE id = $2 AND lease_until = $3 AND status = 'pending'")
            .bind(to_ts(lease_until))
            .bind(r.id.to_string())
            .bind(r.claim.lease)
            .execute(&mut *tx)
            .await?;
        if held.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        if first == 0 {
            sqlx::query("DELETE FROM document_passages WHERE document_id = $1").bind(r.id.to_string()).execute(&mut *tx).await?;
        }
        Store::insert_passages_in(&mut tx, r.id, r.clinic, r.patient, first, passages, vectors).await?;
        tx.commit().await?;
        r.claim.lease = to_ts(lease_until);
        Ok(true)
    }

    /// The read is done: the document takes what was found and becomes
    /// visible to search, with its audit event, in one transaction that
    /// holds only if the read is still this node's.
    pub async fn finish_document_read(
        &self,
        r: &ClaimedRead,
        found: &ReadDocument<'_>,
        audit: &NewAuditEvent<'_>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE documents SET title = $1, format = $2, language = $3, status = $4, pages = $5, passages = $6, updated_at = $7, \
               lease_until = 0, last_error = NULL WHERE id = $8 AND lease_until = $9 AND status = 'pending'",
        )
        .bind(found.title)
        .bind(found.format)
        .bind(found.language.map(|l| l.as_str().to_string()))
        .bind(found.status)
        .bind(found.pages as i64)
        .bind(found.passages as i64)
        .bind(to_ts(now))
        .bind(r.id.to_string())
        .bind(r.claim.lease)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        Self::bump_documents_version(&mut tx, r.clinic).await?;
        let id = r.id.to_string();
        Self::audit_in(&mut tx, &NewAuditEvent { resource_id: Some(&id), ..*audit }, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The file cannot be read (refused by the document limits, or given up
    /// after its attempts): kept `refused` with the reason, its passages
    /// gone; the conversation it came from, if any, is told (`notice`) and
    /// put in front of staff, in one transaction.
    pub async fn refuse_document_read(
        &self,
        r: &ClaimedRead,
        reason: &str,
        notice: Option<&NewOutbound>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        if !Store::bury_job_in(&mut tx, &DOCUMENT_READS, &r.claim, reason, now).await? {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query("DELETE FROM document_passages WHERE document_id = $1").bind(r.id.to_string()).execute(&mut *tx).await?;
        if let Some(m) = notice {
            Store::insert_outbound(&mut tx, m, now).await?;
            sqlx::query(
                "UPDATE conversations SET needs_human = 1, updated_at = $1, version = version + 1 WHERE id = $2 AND clinic_id = $3",
            )
            .bind(to_ts(now))
            .bind(m.conversation_id.to_string())
            .bind(m.clinic_id.to_string())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}
