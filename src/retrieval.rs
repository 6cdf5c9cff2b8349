//! The only path from a conversation or the admin API to the documents'
//! passages. Each node keeps one BM25 index per clinic in memory, built from
//! the clinic's stored passages and rebuilt when the clinic's
//! `documents_version` moved (every document change bumps it in its own
//! transaction). A search always names the clinic, and the patients whose
//! files the asker has proven access to; nothing else is reachable.

use crate::documents::{Index, Passage, Quote};
use crate::domain::{ClinicId, PatientId};
use crate::storage::{StorageError, Store};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Whose documents a search may return besides the clinic's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Visibility {
    /// Patients the conversation has proven it speaks for (empty: the clinic's documents only).
    pub patients: Vec<PatientId>,
}

impl Visibility {
    pub fn clinic_only() -> Visibility {
        Visibility::default()
    }
}

#[derive(Default)]
pub struct Library {
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
        for p in store.passages(clinic).await? {
            ix.add(Passage {
                document: p.document.to_string(),
                title: p.title,
                language: p.language,
                patient: p.patient.map(|id| id.to_string()),
                page: p.page,
                heading: p.heading,
                text: p.text,
            });
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
        Ok(ix.search(question, &names, k).iter().map(|h| Quote::from_hit(h, question)).collect())
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
pub async fn add_document(
    store: &Store,
    file: &NewFile<'_>,
    replace: Option<crate::domain::DocumentId>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(crate::domain::DocumentId, crate::documents::Ingested), AddError> {
    let ingested = crate::documents::ingest(file.file_name, file.content_type, file.bytes)?;
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
    };
    let action = if replace.is_some() { "replace" } else { "create" };
    let resource = if file.patient.is_some() { "patient_document" } else { "document" };
    let audit =
        crate::storage::NewAuditEvent { actor: file.actor, clinic: Some(file.clinic), action, resource, resource_id: None, outcome: "ok" };
    let id = store.save_document(&new, replace, &audit, now).await?;
    Ok((id, ingested))
}
