//! The only path from a conversation or the admin API to the documents'
//! passages. Each node keeps one BM25 index per clinic in memory, built from
//! the clinic's stored passages and rebuilt when the clinic's
//! `documents_version` moved (every document change bumps it in its own
//! transaction). A search always names the clinic, and the patients whose
//! files the asker has proven access to; nothing else is reachable.
//!
//! With an embedding model configured, passages are embedded when they are
//! stored and each question when it is searched; the index fuses both
//! rankings. When the model does not answer (timeout, breaker open, error),
//! a document is stored without vectors (re-index it later) and a search
//! ranks by words alone: the model makes answers better, never possible.

use crate::documents::{Index, Passage, Quote};
use crate::domain::{ClinicId, PatientId};
use crate::model::embed::Embedder;
use crate::storage::{StorageError, Store};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Whose documents a search may return besides the clinic's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Visibility {
    /// Patients the conversation has proven it speaks for (empty: the clinic's documents only).
    pub patients: Vec<PatientId>,
    /// The clinic's model policy: whether an embedding model may read the
    /// question (a hosted one only where the clinic accepts hosted models,
    /// and never for a question about a patient's file).
    pub policy: crate::domain::ModelPolicy,
}

impl Visibility {
    pub fn clinic_only() -> Visibility {
        Visibility::default()
    }
}

#[derive(Default)]
pub struct Library {
    embedder: Option<Arc<Embedder>>,
    weight: f32,
    indexes: Mutex<HashMap<ClinicId, (i64, Arc<Index>)>>,
    /// One rebuild per clinic at a time: turns that find the index stale
    /// together wait for one rebuild instead of each building their own.
    rebuilding: Mutex<HashMap<ClinicId, Arc<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for Library {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let clinics = self.indexes.lock().map(|m| m.len()).unwrap_or(0);
        f.debug_struct("Library").field("clinics_indexed", &clinics).finish()
    }
}

impl Library {
    pub fn new() -> Library {
        Library::default()
    }

    /// Searches fuse words with this model's vectors, the vectors' ranking
    /// counting `weight` against BM25's 1.
    pub fn with_embedder(embedder: Option<Arc<Embedder>>, weight: f32) -> Library {
        Library { embedder, weight, ..Library::default() }
    }

    pub fn embedder(&self) -> Option<&Arc<Embedder>> {
        self.embedder.as_ref()
    }

    async fn index(&self, store: &Store, clinic: ClinicId) -> Result<Arc<Index>, StorageError> {
        let version = store.documents_version(clinic).await?;
        let cached =
            |version: i64| self.indexes.lock().expect("index cache").get(&clinic).filter(|(v, _)| *v >= version).map(|(_, ix)| ix.clone());
        if let Some(ix) = cached(version) {
            return Ok(ix);
        }
        let gate = self.rebuilding.lock().expect("rebuild gates").entry(clinic).or_default().clone();
        let _one_at_a_time = gate.lock().await;
        // Another turn may have rebuilt it while this one waited.
        let version = store.documents_version(clinic).await?;
        if let Some(ix) = cached(version) {
            return Ok(ix);
        }
        let mut ix = Index::new();
        ix.set_dense_weight(self.weight);
        let model = self.embedder.as_ref().map(|e| e.model().to_string());
        for p in store.passages(clinic).await? {
            // Only vectors of the model that embeds the questions.
            let vector = p.vector.filter(|(m, _)| Some(m) == model.as_ref()).map(|(_, v)| v);
            ix.add_with_vector(
                Passage {
                    document: p.document.to_string(),
                    title: p.title,
                    language: p.language,
                    patient: p.patient.map(|id| id.to_string()),
                    page: p.page,
                    heading: p.heading,
                    text: p.text,
                },
                vector,
            );
        }
        let ix = Arc::new(ix);
        self.indexes.lock().expect("index cache").insert(clinic, (version, ix.clone()));
        Ok(ix)
    }

    /// The `k` best passages of the clinic's documents (and of the visible
    /// patients' files) for `question`, best first.
    pub async fn search(
        &self,
        store: &Store,
        clinic: ClinicId,
        question: &str,
        visible: &Visibility,
        k: usize,
    ) -> Result<Vec<Quote>, StorageError> {
        let ix = self.index(store, clinic).await?;
        let patients: Vec<String> = visible.patients.iter().map(|p| p.to_string()).collect();
        let names: Vec<&str> = patients.iter().map(String::as_str).collect();
        let vector = match &self.embedder {
            // A hosted model reads a question only where the clinic allows
            // it, and never one about a patient's file.
            Some(e) if ix.vectors() > 0 && visible.policy.allows(e.hosted()) && (!e.hosted() || visible.patients.is_empty()) => {
                match e.embed(&[question.to_string()]).await {
                    Ok(mut v) => v.pop(),
                    Err(err) => {
                        tracing::warn!(error = %err, "question not embedded; searching by words only");
                        None
                    }
                }
            }
            _ => None,
        };
        Ok(ix.search_with(question, vector.as_deref(), &names, k).iter().map(|h| Quote::from_hit(h, question)).collect())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AddError {
    #[error(transparent)]
    Refused(#[from] crate::documents::IngestError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// What is being added and by whom (for the audit trail).
pub struct NewFile<'a> {
    pub clinic: ClinicId,
    pub patient: Option<PatientId>,
    pub file_name: &'a str,
    pub content_type: Option<&'a str>,
    pub bytes: &'a [u8],
    /// admin, cli, whatsapp, sms.
    pub source: &'a str,
    pub actor: Option<uuid::Uuid>,
}

/// Ingests a file and stores it with its passages (or, with `replace`, as
/// the new contents of that document). Every node's index follows at its
/// next search.
/// With an embedder, its passages are embedded first (a hosted model never
/// receives a patient's document); if the model fails, the document is
/// stored without vectors and found by its words until it is re-indexed.
pub async fn add_document(
    store: &Store,
    embedder: Option<&Embedder>,
    file: &NewFile<'_>,
    replace: Option<crate::domain::DocumentId>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(crate::domain::DocumentId, crate::documents::Ingested), AddError> {
    let ingested = crate::documents::ingest(file.file_name, file.content_type, file.bytes)?;
    let vectors = match embedder {
        Some(e) if !ingested.passages.is_empty() && (!e.hosted() || file.patient.is_none()) => {
            let texts: Vec<String> = ingested
                .passages
                .iter()
                .map(|p| crate::documents::dense::passage_text(&ingested.title, p.heading.as_deref(), &p.text))
                .collect();
            match e.embed(&texts).await {
                Ok(v) => Some(v),
                Err(err) => {
                    tracing::warn!(error = %err, passages = texts.len(), "document stored without vectors; re-index it when the model answers");
                    None
                }
            }
        }
        _ => None,
    };
    let new = crate::storage::NewDocument {
        clinic: file.clinic,
        patient: file.patient,
        title: &ingested.title,
        file_name: file.file_name,
        format: ingested.format.as_str(),
        language: ingested.language,
        content: file.bytes,
        sha256: &ingested.sha256,
        status: ingested.status,
        pages: ingested.pages,
        source: file.source,
        passages: &ingested.passages,
        vectors: match (&vectors, embedder) {
            (Some(v), Some(e)) => Some((e.model(), v.as_slice())),
            _ => None,
        },
    };
    let action = if replace.is_some() { "replace" } else { "create" };
    let resource = if file.patient.is_some() { "patient_document" } else { "document" };
    let audit =
        crate::storage::NewAuditEvent { actor: file.actor, clinic: Some(file.clinic), action, resource, resource_id: None, outcome: "ok" };
    let id = store.save_document(&new, replace, &audit, now).await?;
    Ok((id, ingested))
}
