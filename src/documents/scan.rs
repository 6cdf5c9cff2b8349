//! A scan's pages as images for OCR, and the passages OCR'd text becomes.
//! Pure: the OCR program runs elsewhere (`crate::ocr`); here the page
//! images are taken out of a PDF without a text layer (a JPEG stored as is,
//! raw grey or colour pixels written as PNM), and the pages read back are
//! cut into passages marked with their confidence, a page read with too
//! little confidence left out of search for staff to check.

use super::extract::{ExtractError, Extracted, Format, Page, tidy};
use super::ingest::{Ingested, MAX_PASSAGES};
use crate::storage::NewPassage;

/// Pages of one document read by OCR (the rest is left to staff).
pub const MAX_OCR_PAGES: usize = 20;
/// Bytes the page images of one document may decode to, all together.
pub const MAX_IMAGE_BYTES: usize = 64 * 1024 * 1024;
/// A page read with less confidence (Tesseract's mean word confidence,
/// 0–100) is not searchable: what a patient is told must not be a
/// misread figure.
pub const MIN_OCR_CONFIDENCE: u8 = 75;

/// A document read by OCR where some page was not read with confidence:
/// stored, its confident pages searchable, listed for staff to check.
pub const NEEDS_REVIEW: &str = "needs_review";

/// The system event staff see when a document sent in a conversation was
/// read by OCR with a page too uncertain to search.
pub const EVENT_NEEDS_REVIEW: &str = "document_needs_review";

/// One page image: its page number and bytes Tesseract reads.
#[derive(Debug, Clone, PartialEq)]
pub struct PageImage {
    pub page: u32,
    pub bytes: Vec<u8>,
}

/// One page as OCR read it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadPage {
    pub page: u32,
    pub text: String,
    pub confidence: u8,
}

/// The images to read: the photo itself, or the largest image of each of a
/// PDF's first [`MAX_OCR_PAGES`] pages (pages without one are skipped).
pub fn page_images(format: Format, bytes: &[u8]) -> Result<Vec<PageImage>, ExtractError> {
    match format {
        Format::Jpeg | Format::Png => Ok(vec![PageImage { page: 1, bytes: bytes.to_vec() }]),
        Format::Pdf => pdf_images(bytes),
        Format::Markdown | Format::Text => Ok(Vec::new()),
    }
}

fn pdf_images(bytes: &[u8]) -> Result<Vec<PageImage>, ExtractError> {
    let (doc, pages) = super::extract::load_pdf(bytes)?;
    let mut out = Vec::new();
    let mut budget = MAX_IMAGE_BYTES;
    for (&number, &id) in pages.iter().take(MAX_OCR_PAGES) {
        let Ok(images) = doc.get_page_images(id) else { continue };
        let Some(image) = images.iter().max_by_key(|i| i.width.saturating_mul(i.height)) else { continue };
        let filters: Vec<&str> = image.filters.iter().flatten().map(String::as_str).collect();
        let bytes = match filters.as_slice() {
            ["DCTDecode"] => Some(image.content.to_vec()),
            [] | ["FlateDecode"] => {
                let channels = match image.color_space.as_deref() {
                    Some("DeviceGray") => 1,
                    Some("DeviceRGB") => 3,
                    _ => 0,
                };
                let (w, h) = (image.width.max(0) as usize, image.height.max(0) as usize);
                let size = w.saturating_mul(h).saturating_mul(channels);
                if channels == 0 || image.bits_per_component != Some(8) || size == 0 || size > budget {
                    None
                } else {
                    let stream = doc.get_object(image.id).and_then(|o| o.as_stream()).ok();
                    let pixels = stream.and_then(|s| {
                        if filters.is_empty() { Some(s.content.clone()) } else { s.decompressed_content_with_limit(size).ok() }
                    });
                    pixels.filter(|p| p.len() >= size).map(|p| pnm(w, h, channels, &p[..size]))
                }
            }
            _ => None,
        };
        if let Some(bytes) = bytes {
            if bytes.len() > budget {
                break;
            }
            budget -= bytes.len();
            out.push(PageImage { page: number, bytes });
        }
    }
    Ok(out)
}

/// Netpbm: `P5` (grey) or `P6` (colour), 8 bits.
fn pnm(width: usize, height: usize, channels: usize, pixels: &[u8]) -> Vec<u8> {
    let mut out = format!("{} {width} {height} 255\n", if channels == 1 { "P5" } else { "P6" }).into_bytes();
    out.extend_from_slice(pixels);
    out
}

/// The document as OCR read it: the confident pages cut into passages
/// marked with their confidence; `indexed` when every page of the document
/// was read with confidence, [`NEEDS_REVIEW`] otherwise.
pub fn with_ocr(mut ingested: Ingested, read: &[ReadPage]) -> Result<Ingested, ExtractError> {
    let confident: Vec<&ReadPage> = read.iter().filter(|p| p.confidence >= MIN_OCR_CONFIDENCE && !p.text.trim().is_empty()).collect();
    let doc = Extracted { pages: confident.iter().map(|p| Page { number: Some(p.page), text: tidy(&p.text) }).collect(), needs_ocr: false };
    let mut passages: Vec<NewPassage> = Vec::new();
    for c in super::chunk(&doc, ingested.format) {
        let confidence = confident.iter().find(|p| Some(p.page) == c.page).map(|p| p.confidence);
        passages.push(NewPassage { page: c.page, heading: c.heading, text: c.text, tokens: c.tokens, ocr_confidence: confidence });
    }
    if passages.len() > MAX_PASSAGES {
        return Err(ExtractError::TooMuch(format!("{} passages, more than {MAX_PASSAGES}", passages.len())));
    }
    let whole = confident.len() as u32 == ingested.pages && !passages.is_empty();
    ingested.language = super::language_of(&doc).or(ingested.language);
    ingested.status = if whole { "indexed" } else { NEEDS_REVIEW };
    ingested.passages = passages;
    Ok(ingested)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn photo() -> Ingested {
        super::super::ingest("tarifs.jpg", Some("image/jpeg"), b"\xff\xd8\xff\xe0rest").unwrap()
    }

    #[test]
    fn a_confident_page_is_searchable_and_marked_a_doubtful_one_is_left_to_staff() {
        let page = |confidence| ReadPage { page: 1, text: "Tarifs de la clinique\n\nÉchographie : 25 000 FCFA".into(), confidence };
        let read = with_ocr(photo(), &[page(92)]).unwrap();
        assert_eq!(read.status, "indexed");
        assert!(read.passages.iter().all(|p| p.ocr_confidence == Some(92) && p.page == Some(1)));
        assert!(read.passages.iter().any(|p| p.text.contains("25 000 FCFA")));
        let doubtful = with_ocr(photo(), &[page(MIN_OCR_CONFIDENCE - 1)]).unwrap();
        assert_eq!((doubtful.status, doubtful.passages.len()), (NEEDS_REVIEW, 0));
        let nothing = with_ocr(photo(), &[]).unwrap();
        assert_eq!((nothing.status, nothing.passages.len()), (NEEDS_REVIEW, 0));
    }

    #[test]
    fn a_scanned_pdf_gives_its_jpeg_page_and_a_text_pdf_none() {
        let scan = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/scans/preparation-scan.pdf")).unwrap();
        let images = page_images(Format::Pdf, &scan).unwrap();
        assert_eq!(images.len(), 1);
        assert_eq!(images[0].page, 1);
        assert!(images[0].bytes.starts_with(&[0xff, 0xd8, 0xff]), "the page's JPEG as stored");
        assert!(page_images(Format::Text, b"hello").unwrap().is_empty());
    }

    #[test]
    fn raw_pixels_become_a_netpbm_image() {
        let img = pnm(2, 1, 1, &[0, 255]);
        assert_eq!(img, b"P5 2 1 255\n\x00\xff");
    }
}
