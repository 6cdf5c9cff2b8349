//! Reading the documents patients send, off their turn: one leased job per
//! document (`storage::DOCUMENT_READS`), read within the document limits and
//! a time budget, its passages written in bounded batches with the lease
//! renewed at each, so that a bomb costs bounded time and never holds the
//! database from other clinics' webhooks.

use super::Workers;
use crate::retry::{Backoff, Next};
use crate::storage::{ClaimedRead, DOCUMENT_READS, NewOutbound, ReadDocument, StorageError};
use chrono::Duration;
use tracing::{info, warn};

/// Passages written per transaction.
pub const PASSAGE_BATCH: usize = 200;
/// How long a node holds a read between renewals: longer than the reading
/// budget, so a read in progress is never taken by another node.
const READ_LEASE: Duration = Duration::seconds(60);

/// What became of one document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// Searchable, with this many passages.
    Indexed(usize),
    /// Refused (the document limits, or given up after its attempts): the
    /// patient told and staff shown.
    Refused,
    /// Failed for a reason that may pass (the database): tried again later.
    Retried,
    /// Another node holds it now.
    Lost,
}

impl Workers {
    /// Reads the document waiting longest. `Ok(None)` when none waits.
    pub async fn read_next_document(&self) -> Result<Option<Read>, StorageError> {
        let now = self.clock.now();
        let Some(mut r) = self.store.claim_document_read(now, now + READ_LEASE).await? else { return Ok(None) };
        match self.read(&mut r).await {
            Ok(read) => Ok(Some(read)),
            Err(e) => {
                let (now, reason) = (self.clock.now(), e.to_string());
                match Backoff::INGEST.next(r.claim.attempts, r.created_at, now, None, rand::random()) {
                    Next::RetryAt(at) => {
                        warn!(document = %r.id, attempt = r.claim.attempts, error = %e, "reading a document failed; will retry");
                        self.store.release_job(&DOCUMENT_READS, &r.claim, at, Some(&reason), true).await?;
                        Ok(Some(Read::Retried))
                    }
                    Next::GiveUp => {
                        tracing::error!(document = %r.id, error = %e, "a document could not be read after its attempts");
                        self.refuse(&r, &reason).await?;
                        Ok(Some(Read::Refused))
                    }
                }
            }
        }
    }

    async fn read(&self, r: &mut ClaimedRead) -> Result<Read, StorageError> {
        let library = self.engine.library();
        let ingested = match crate::retrieval::read_file(library, &r.file_name, r.content_type.as_deref(), &r.content).await {
            Ok(ingested) => ingested,
            Err(e) => {
                warn!(document = %r.id, error = %e, "a sent document was refused");
                self.store
                    .system_event(Some(r.clinic), crate::channels::twilio::media::EVENT_REFUSED, &e.to_string(), self.clock.now())
                    .await?;
                return if self.refuse(r, &e.to_string()).await? { Ok(Read::Refused) } else { Ok(Read::Lost) };
            }
        };
        let vectors = crate::retrieval::embed_for(library, &ingested, r.patient).await;
        let model = library.embedder().map(|e| e.model().to_string());
        let chunks = ingested.passages.chunks(PASSAGE_BATCH).enumerate();
        for (i, batch) in chunks {
            let first = i * PASSAGE_BATCH;
            let batch_vectors = match (&vectors, &model) {
                (Some(v), Some(m)) => Some((m.as_str(), &v[first..first + batch.len()])),
                _ => None,
            };
            if !self.store.write_passages(r, first, batch, batch_vectors, self.clock.now() + READ_LEASE).await? {
                warn!(document = %r.id, "another node took over reading this document");
                return Ok(Read::Lost);
            }
        }
        // A document with no passages still clears what a read cut short left.
        if ingested.passages.is_empty() && !self.store.write_passages(r, 0, &[], None, self.clock.now() + READ_LEASE).await? {
            return Ok(Read::Lost);
        }
        let found = ReadDocument {
            title: &ingested.title,
            format: ingested.format.as_str(),
            language: ingested.language,
            status: ingested.status,
            pages: ingested.pages,
            passages: ingested.passages.len(),
        };
        let resource = if r.patient.is_some() { "patient_document" } else { "document" };
        let audit = crate::storage::NewAuditEvent {
            actor: None,
            clinic: Some(r.clinic),
            action: "create",
            resource,
            resource_id: None,
            outcome: "ok",
        };
        if !self.store.finish_document_read(r, &found, &audit, self.clock.now()).await? {
            return Ok(Read::Lost);
        }
        crate::retrieval::put_vectors(library, r.clinic, r.patient, r.id, vectors.as_deref()).await;
        if found.status == crate::documents::scan::NEEDS_REVIEW {
            let detail = format!("document {}: a page read by OCR was too uncertain to search; check it", r.id);
            self.store.system_event(Some(r.clinic), crate::documents::scan::EVENT_NEEDS_REVIEW, &detail, self.clock.now()).await?;
        }
        info!(document = %r.id, passages = found.passages, "a sent document was read");
        Ok(Read::Indexed(found.passages))
    }

    /// Refuses the document with `reason`, telling its conversation.
    async fn refuse(&self, r: &ClaimedRead, reason: &str) -> Result<bool, StorageError> {
        let notice = self.notice(r).await?;
        self.store.refuse_document_read(r, reason, notice.as_ref(), self.clock.now()).await
    }

    /// What the patient is told when their document cannot be read, in
    /// their conversation's language.
    async fn notice(&self, r: &ClaimedRead) -> Result<Option<NewOutbound>, StorageError> {
        let Some(conversation) = r.conversation else { return Ok(None) };
        let Some((channel, to, lang)) = self.store.conversation_contact(r.clinic, conversation).await? else { return Ok(None) };
        Ok(Some(NewOutbound {
            clinic_id: r.clinic,
            conversation_id: conversation,
            inbound_id: None,
            channel,
            to,
            body: crate::conversation::texts::texts().render(lang, "media_unreadable", &[]),
            author: "bot",
            lifetime: crate::storage::Lifetime::Lasting,
        }))
    }
}
