//! From an uploaded file to what storage keeps: format checked, size
//! capped, text extracted, passages cut, language and digest noted. Pure:
//! the caller reads the bytes and stores the result.

use super::{ExtractError, Extracted, Format, chunk, extract};
use crate::domain::Lang;
use crate::storage::NewPassage;
use sha2::{Digest, Sha256};

/// The largest document accepted (a price list or a discharge letter is far
/// smaller; a scanned bundle is not indexed anyway).
pub const MAX_DOCUMENT_BYTES: usize = 10 * 1024 * 1024;
/// Passages one document may have (its text is at most
/// [`super::extract::MAX_TEXT_BYTES`], about 2,600 passages of full text).
pub const MAX_PASSAGES: usize = 4_000;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum IngestError {
    #[error("the file is empty")]
    Empty,
    #[error("the file is {0} bytes; the limit is {MAX_DOCUMENT_BYTES} bytes (10 MiB)")]
    TooLarge(usize),
    #[error(
        "unsupported file type {0:?}: upload a PDF, a Markdown (.md) or plain-text (.txt) file, or a photo (JPEG or PNG, stored for OCR)"
    )]
    Unsupported(String),
    #[error(transparent)]
    Unreadable(#[from] ExtractError),
}

#[derive(Debug, Clone)]
pub struct Ingested {
    pub format: Format,
    pub title: String,
    pub language: Option<Lang>,
    pub sha256: String,
    /// `indexed`, or `needs_ocr` for a PDF with no text layer (stored, listed, not searchable).
    pub status: &'static str,
    pub pages: u32,
    pub passages: Vec<NewPassage>,
}

pub fn ingest(file_name: &str, content_type: Option<&str>, bytes: &[u8]) -> Result<Ingested, IngestError> {
    if bytes.is_empty() {
        return Err(IngestError::Empty);
    }
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(IngestError::TooLarge(bytes.len()));
    }
    let format =
        Format::detect(content_type, file_name).ok_or_else(|| IngestError::Unsupported(content_type.unwrap_or(file_name).to_string()))?;
    // A file called .pdf must be one (and a PDF is not text).
    let photo_ok = match format {
        Format::Jpeg => bytes.starts_with(&[0xff, 0xd8, 0xff]),
        Format::Png => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        _ => true,
    };
    if !photo_ok {
        return Err(IngestError::Unsupported(format!("{} that is not one", format.content_type())));
    }
    if format == Format::Pdf && !bytes.starts_with(b"%PDF-") {
        return Err(IngestError::Unsupported(format!("{file_name} (not a PDF)")));
    }
    let extracted = extract(format, bytes)?;
    let passages = if extracted.needs_ocr {
        Vec::new()
    } else {
        chunk(&extracted, format)
            .into_iter()
            .map(|c| NewPassage { page: c.page, heading: c.heading, text: c.text, tokens: c.tokens, ocr_confidence: None })
            .collect()
    };
    if passages.len() > MAX_PASSAGES {
        return Err(ExtractError::TooMuch(format!("{} passages, more than {MAX_PASSAGES}", passages.len())).into());
    }
    Ok(Ingested {
        format,
        title: super::folder::title_from_file_name(file_name),
        language: super::language_of(&extracted),
        sha256: hex(&Sha256::digest(bytes)),
        status: if extracted.needs_ocr { "needs_ocr" } else { "indexed" },
        pages: extracted.pages.len() as u32,
        passages,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Language of a whole document, from the first pages' words.
pub(crate) fn language_of(doc: &Extracted) -> Option<Lang> {
    let sample: String = doc.pages.iter().map(|p| p.text.as_str()).collect::<Vec<_>>().join(" ").chars().take(4000).collect();
    if sample.trim().is_empty() {
        return None;
    }
    Some(crate::understanding::language_of_text(&sample))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_types_give_clear_errors() {
        assert_eq!(ingest("a.txt", None, b"").unwrap_err(), IngestError::Empty);
        assert!(matches!(ingest("a.txt", None, &vec![b'a'; MAX_DOCUMENT_BYTES + 1]), Err(IngestError::TooLarge(_))));
        assert!(matches!(ingest("photo.jpg", Some("image/jpeg"), b"\xff\xd8"), Err(IngestError::Unsupported(_))), "not a JPEG");
        let photo = ingest("photo.jpg", Some("image/jpeg"), b"\xff\xd8\xff\xe0rest").unwrap();
        assert_eq!((photo.status, photo.pages, photo.passages.len()), ("needs_ocr", 1, 0), "a photo is stored for OCR");
        assert!(matches!(ingest("lettre.docx", None, b"PK"), Err(IngestError::Unsupported(_))));
        assert!(matches!(ingest("fake.pdf", None, b"hello"), Err(IngestError::Unsupported(_))));
    }

    #[test]
    fn a_text_file_becomes_passages_with_its_language_and_digest() {
        let i = ingest(
            "horaires-labo.md",
            Some("text/markdown"),
            "# Laboratoire\n\nLe laboratoire est ouvert du lundi au vendredi de 7h à 15h.".as_bytes(),
        )
        .unwrap();
        assert_eq!((i.status, i.title.as_str(), i.language), ("indexed", "horaires labo", Some(Lang::Fr)));
        assert_eq!(i.passages.len(), 1);
        assert_eq!(i.passages[0].heading.as_deref(), Some("Laboratoire"));
        assert_eq!(i.sha256.len(), 64);
    }
}
