//! Documents a clinic hands out and a patient's own file: text extraction
//! (`extract`, lopdf for PDFs), passages cut by token count (`chunk`,
//! tiktoken-rs), the words retrieval matches in both languages (`terms`) and
//! the embedded BM25 index (`index`). No I/O here but what callers hand in:
//! storage keeps documents and passages, the `docs` commands read files.

pub mod chunk;
pub mod extract;
pub mod index;
pub mod terms;

pub use chunk::{Chunk, chunk};
pub use extract::{ExtractError, Extracted, Format, extract};
pub use index::{Hit, Index, Passage};
pub mod folder;

/// Whether a hit is a confident answer: most of what was asked is in it.
pub fn confident(hit: &Hit<'_>) -> bool {
    hit.coverage >= MIN_COVERAGE
}

/// The share of the question's weight a passage must contain to be quoted.
pub const MIN_COVERAGE: f32 = 0.5;
