//! Documents a clinic hands out and a patient's own file: text extraction
//! (`extract`, lopdf for PDFs), passages cut by token count (`chunk`,
//! tiktoken-rs), the words retrieval matches in both languages (`terms`) and
//! the embedded BM25 index (`index`). No I/O here but what callers hand in:
//! storage keeps documents and passages, the `docs` commands read files.

pub mod chunk;
pub mod dense;
pub mod excerpt;
pub mod extract;
pub mod index;
pub mod ingest;
pub mod scan;
pub mod terms;

pub use chunk::{Chunk, chunk};
pub use extract::{ExtractError, Extracted, Format, extract};
pub use index::{Hit, Index, Passage};
pub(crate) use ingest::language_of;
pub use ingest::{IngestError, Ingested, MAX_DOCUMENT_BYTES, ingest};
pub mod folder;

/// Whether a hit is a confident answer: most of what was asked is in it, or
/// the embedding model puts it very close to the question.
pub fn confident(hit: &Hit<'_>) -> bool {
    hit.coverage >= MIN_COVERAGE || hit.similarity.is_some_and(|s| s >= dense::DENSE_CONFIDENT)
}

/// The status of a stored document without text to search (a scan, a photo).
pub const NEEDS_OCR: &str = "needs_ocr";

/// The share of the question's weight a passage must contain to be quoted.
pub const MIN_COVERAGE: f32 = 0.5;

/// A passage retrieval found for a question, ready for a reply: the
/// conversation quotes it and never reads the question or the passage itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Quote {
    /// The document's id.
    pub document: String,
    pub title: String,
    pub page: Option<u32>,
    pub language: Option<crate::domain::Lang>,
    /// The patient whose file it comes from; `None` for the clinic's documents.
    pub patient: Option<String>,
    /// What a WhatsApp reply quotes (≤ 600 characters) and what an SMS quotes (≤ 280).
    pub long: String,
    pub short: String,
    /// Whether it is a confident answer ([`MIN_COVERAGE`]).
    pub confident: bool,
    /// Whether it holds at least half of the question's terms: the test for
    /// a question about one patient's file, whose few documents make the
    /// weighted coverage unsteady.
    pub relevant: bool,
    /// Read by OCR from a scan or a photo: its page's confidence (0–100).
    pub ocr: Option<u8>,
    /// A model's answer that leans on this passage and passed the grounding
    /// checks (`model::answer`), in the patient's language.
    pub answer: Option<String>,
}

impl Quote {
    pub fn from_hit(hit: &Hit<'_>, question: &str) -> Quote {
        let p = hit.passage;
        Quote {
            document: p.document.clone(),
            title: p.title.clone(),
            page: p.page,
            language: p.language,
            patient: p.patient.clone(),
            long: excerpt::excerpt(&p.text, question, 600),
            short: excerpt::excerpt(&p.text, question, 280),
            confident: confident(hit),
            relevant: hit.share >= 0.5 || hit.similarity.is_some_and(|s| s >= dense::DENSE_CONFIDENT),
            ocr: p.ocr_confidence,
            answer: None,
        }
    }
}
