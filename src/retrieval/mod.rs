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

pub mod qdrant;

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
    /// Where vectors are kept and searched when `qdrant_url` is set (then
    /// the in-memory index holds words only).
    qdrant: Option<Arc<qdrant::QdrantStore>>,
    indexes: Mutex<HashMap<ClinicId, (i64, Arc<Index>)>>,
    /// Reads scans and photos; `None`: they stay `needs_ocr`.
    ocr: Option<Arc<crate::ocr::Tesseract>>,
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
        Library { weight: crate::documents::dense::DEFAULT_WEIGHT, ..Library::default() }
    }

    /// Searches fuse words with this model's vectors, the vectors' ranking
    /// counting `weight` against BM25's 1.
    pub fn with_embedder(embedder: Option<Arc<Embedder>>, weight: f32) -> Library {
        Library { embedder, weight, ..Library::default() }
    }

    /// Scans and photos read by OCR.
    pub fn with_ocr(mut self, ocr: Option<crate::ocr::Tesseract>) -> Library {
        self.ocr = ocr.map(Arc::new);
        self
    }

    /// Vectors in Qdrant instead of memory.
    pub fn with_qdrant(mut self, store: Arc<qdrant::QdrantStore>) -> Library {
        self.qdrant = Some(store);
        self
    }

    /// The library the configuration describes: words only by default, an
    /// embedding model when `embedding_backend` is set, Qdrant when
    /// `qdrant_url` is.
    pub fn from_config(config: &crate::config::Config) -> anyhow::Result<Library> {
        let embedder = Embedder::from_config(config)?.map(Arc::new);
        let ocr = Some(config.ocr_command.trim())
            .filter(|c| !c.is_empty())
            .map(|c| crate::ocr::Tesseract::new(c, &config.ocr_languages, std::time::Duration::from_millis(config.ocr_timeout_ms)));
        let mut library = Library::with_embedder(embedder, config.embedding_weight).with_ocr(ocr);
        if let Some(url) = config.qdrant() {
            let key = config.qdrant_api_key.as_ref().map(|k| k.expose().clone());
            let timeout = std::time::Duration::from_millis(config.embedding_timeout_ms);
            library = library.with_qdrant(Arc::new(qdrant::QdrantStore::new(url, key.as_deref(), &config.qdrant_collection, timeout)?));
        }
        Ok(library)
    }

    pub fn embedder(&self) -> Option<&Arc<Embedder>> {
        self.embedder.as_ref()
    }

    /// A document deleted: its vectors leave Qdrant too (the database's went
    /// with its passages).
    pub async fn forget_document(&self, clinic: ClinicId, document: crate::domain::DocumentId) -> Result<(), qdrant::QdrantError> {
        match &self.qdrant {
            Some(q) => q.delete_document(clinic, document).await,
            None => Ok(()),
        }
    }

    /// A patient erased: the vectors of their documents leave Qdrant too.
    pub async fn forget_patient(&self, clinic: ClinicId, patient: PatientId) -> Result<(), qdrant::QdrantError> {
        match &self.qdrant {
            Some(q) => q.delete_patient(clinic, patient).await,
            None => Ok(()),
        }
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
            // Only vectors of the model that embeds the questions, and none
            // in memory when Qdrant holds them.
            let vector = p.vector.filter(|(m, _)| Some(m) == model.as_ref() && self.qdrant.is_none()).map(|(_, v)| v);
            ix.add_with_vector(
                Passage {
                    document: p.document.to_string(),
                    title: p.title,
                    language: p.language,
                    patient: p.patient.map(|id| id.to_string()),
                    page: p.page,
                    heading: p.heading,
                    text: p.text,
                    ocr_confidence: p.ocr_confidence,
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
        let searchable = self.qdrant.is_some() || ix.vectors() > 0;
        let vector = match &self.embedder {
            // A hosted model reads a question only where the clinic allows
            // it, and never one about a patient's file.
            Some(e) if searchable && visible.policy.allows(e.hosted()) && (!e.hosted() || visible.patients.is_empty()) => {
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
        let hits = match (&self.qdrant, &vector, &self.embedder) {
            (Some(q), Some(v), Some(e)) => {
                let depth = crate::documents::dense::FUSION_DEPTH.max(k);
                match q.nearest(clinic, &visible.patients, e.model(), v, depth).await {
                    Ok(near) => {
                        let near: Vec<(u32, f32)> =
                            near.iter().filter_map(|n| ix.number_of(&n.document, n.ordinal).map(|id| (id, n.similarity))).collect();
                        ix.search_near(question, &near, &names, k)
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "Qdrant search failed; searching by words only");
                        ix.search(question, &names, k)
                    }
                }
            }
            _ => ix.search_with(question, vector.as_deref(), &names, k),
        };
        Ok(hits.iter().map(|h| Quote::from_hit(h, question)).collect())
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
use crate::documents::{ExtractError, IngestError};

/// How long reading one file may take.
pub const INGEST_BUDGET: std::time::Duration = std::time::Duration::from_secs(20);

/// How long OCR may take for one document, all pages together (less than
/// a document read's lease): pages not read by then are left to staff.
pub const OCR_BUDGET: std::time::Duration = std::time::Duration::from_secs(45);

/// Reads a file into passages: CPU work bounded by the document limits,
/// off the async workers (webhooks keep their acknowledgement latency) and
/// within [`INGEST_BUDGET`]; a scan or a photo then read by OCR when the
/// library has it, within [`OCR_BUDGET`].
pub async fn read_file(
    library: &Library,
    file_name: &str,
    content_type: Option<&str>,
    bytes: &[u8],
) -> Result<crate::documents::Ingested, IngestError> {
    let ingested = off_the_workers({
        let (name, content_type, bytes) = (file_name.to_string(), content_type.map(str::to_string), bytes.to_vec());
        move || crate::documents::ingest(&name, content_type.as_deref(), &bytes)
    })
    .await?;
    match library.ocr.as_deref() {
        Some(ocr) if ingested.status == crate::documents::NEEDS_OCR => read_by_ocr(ocr, ingested, bytes).await,
        _ => Ok(ingested),
    }
}

async fn off_the_workers<T: Send + 'static>(work: impl FnOnce() -> Result<T, IngestError> + Send + 'static) -> Result<T, IngestError> {
    match tokio::time::timeout(INGEST_BUDGET, tokio::task::spawn_blocking(work)).await {
        Ok(Ok(done)) => done,
        Ok(Err(_)) => Err(IngestError::from(ExtractError::BadPdf("the reader stopped".into()))),
        Err(_) => Err(IngestError::from(ExtractError::TooMuch(format!("it takes more than {} s to read", INGEST_BUDGET.as_secs())))),
    }
}

/// OCR over a scan's pages. A page the program fails on is left unread; if
/// it failed on every page (not an image it reads, or not installed), the
/// document stays as it was, `needs_ocr`.
pub(crate) async fn read_by_ocr(
    ocr: &crate::ocr::Tesseract,
    ingested: crate::documents::Ingested,
    bytes: &[u8],
) -> Result<crate::documents::Ingested, IngestError> {
    use crate::documents::scan;
    let format = ingested.format;
    let images = off_the_workers({
        let bytes = bytes.to_vec();
        move || scan::page_images(format, &bytes).map_err(IngestError::from)
    })
    .await?;
    let started = std::time::Instant::now();
    let mut read = Vec::new();
    for image in &images {
        let Some(left) = OCR_BUDGET.checked_sub(started.elapsed()) else {
            tracing::warn!(page = image.page, "OCR budget spent: the remaining pages are left to staff");
            break;
        };
        match tokio::time::timeout(left, ocr.read(&image.bytes)).await {
            Ok(Ok(text)) => {
                tracing::info!(page = image.page, words = text.words, confidence = text.confidence, "page read by OCR");
                read.push(scan::ReadPage { page: image.page, text: text.text, confidence: text.confidence });
            }
            Ok(Err(crate::ocr::OcrError::Unavailable(program))) => {
                tracing::warn!(program, "OCR is not installed: the document stays needs_ocr");
                return Ok(ingested);
            }
            Ok(Err(e)) => tracing::warn!(page = image.page, error = %e, "OCR could not read a page"),
            Err(_) => tracing::warn!(page = image.page, "OCR budget spent on one page"),
        }
    }
    if read.is_empty() && (images.is_empty() || started.elapsed() < OCR_BUDGET) {
        // No page image it reads, or every page failed: nothing OCR could work on.
        return Ok(ingested);
    }
    Ok(scan::with_ocr(ingested, &read)?)
}

/// The passages' vectors, when an embedding model is configured, allowed
/// for this document (a hosted model never receives a patient's document)
/// and answers; `None` otherwise (the document is then found by its words
/// until it is re-indexed).
pub async fn embed_for(library: &Library, ingested: &crate::documents::Ingested, patient: Option<PatientId>) -> Option<Vec<Vec<f32>>> {
    let e = library.embedder.as_deref()?;
    if ingested.passages.is_empty() || (e.hosted() && patient.is_some()) {
        return None;
    }
    let texts: Vec<String> =
        ingested.passages.iter().map(|p| crate::documents::dense::passage_text(&ingested.title, p.heading.as_deref(), &p.text)).collect();
    match e.embed(&texts).await {
        Ok(v) => Some(v),
        Err(err) => {
            tracing::warn!(error = %err, passages = texts.len(), "document stored without vectors; re-index it when the model answers");
            None
        }
    }
}

pub async fn add_document(
    store: &Store,
    library: &Library,
    file: &NewFile<'_>,
    replace: Option<crate::domain::DocumentId>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(crate::domain::DocumentId, crate::documents::Ingested), AddError> {
    let ingested = read_file(library, file.file_name, file.content_type, file.bytes).await?;
    let vectors = embed_for(library, &ingested, file.patient).await;
    let embedder = library.embedder.as_deref();
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
    put_vectors(library, file.clinic, file.patient, id, vectors.as_deref()).await;
    Ok((id, ingested))
}

/// A stored document's vectors into Qdrant, when it is configured (none:
/// none of the document's older ones may stay there). A failure is logged:
/// the document is found by its words until it is re-indexed.
pub async fn put_vectors(
    library: &Library,
    clinic: ClinicId,
    patient: Option<PatientId>,
    id: crate::domain::DocumentId,
    vectors: Option<&[Vec<f32>]>,
) {
    let Some(q) = &library.qdrant else { return };
    let result = match (vectors, library.embedder.as_deref()) {
        (Some(v), Some(e)) => q.put(clinic, patient, id, e.model(), v).await,
        _ => q.delete_document(clinic, id).await,
    };
    if let Err(err) = result {
        tracing::warn!(error = %err, "document stored, its vectors not in Qdrant; re-index it when Qdrant answers");
    }
}
