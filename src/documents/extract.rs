//! Text out of an uploaded file: PDF through lopdf (page by page, numbers
//! kept), Markdown and plain text as UTF-8. Every page is NFKC-normalised
//! (ligatures, full-width forms) and its whitespace tidied. A PDF whose pages
//! carry no text (a scan) is reported as needing OCR, never as empty text.

use unicode_normalization::UnicodeNormalization;

/// The formats accepted, from the content type or the file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Pdf,
    Markdown,
    Text,
    /// A photo of a document (a patient's phone): stored, flagged for OCR.
    Jpeg,
    Png,
}

impl Format {
    /// From a MIME type (parameters ignored) or, failing that, the extension.
    pub fn detect(content_type: Option<&str>, file_name: &str) -> Option<Format> {
        let mime = content_type.map(|c| c.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
        match mime.as_deref() {
            Some("application/pdf") => return Some(Format::Pdf),
            Some("text/markdown") => return Some(Format::Markdown),
            Some("text/plain") if !file_name.to_ascii_lowercase().ends_with(".md") => return Some(Format::Text),
            Some("image/jpeg") => return Some(Format::Jpeg),
            Some("image/png") => return Some(Format::Png),
            _ => {}
        }
        let lower = file_name.to_ascii_lowercase();
        if lower.ends_with(".pdf") {
            Some(Format::Pdf)
        } else if lower.ends_with(".md") || lower.ends_with(".markdown") {
            Some(Format::Markdown)
        } else if lower.ends_with(".txt") {
            Some(Format::Text)
        } else if lower.ends_with(".jpg") || lower.ends_with(".jpeg") {
            Some(Format::Jpeg)
        } else if lower.ends_with(".png") {
            Some(Format::Png)
        } else {
            None
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Pdf => "application/pdf",
            Format::Markdown => "text/markdown",
            Format::Text => "text/plain",
            Format::Jpeg => "image/jpeg",
            Format::Png => "image/png",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Pdf => "pdf",
            Format::Markdown => "markdown",
            Format::Text => "text",
            Format::Jpeg => "jpeg",
            Format::Png => "png",
        }
    }

    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "pdf" => Some(Format::Pdf),
            "markdown" => Some(Format::Markdown),
            "text" => Some(Format::Text),
            "jpeg" => Some(Format::Jpeg),
            "png" => Some(Format::Png),
            _ => None,
        }
    }
}

/// One page of text (`number` is 1-based; `None` for formats without pages).
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub number: Option<u32>,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Extracted {
    pub pages: Vec<Page>,
    /// A PDF with pages but no text layer: a scan, to be read by OCR.
    pub needs_ocr: bool,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ExtractError {
    #[error("the PDF cannot be read: {0}")]
    BadPdf(String),
    #[error("the PDF is encrypted; upload it without a password")]
    Encrypted,
    #[error("the text is not UTF-8; save it as UTF-8 and upload it again")]
    NotUtf8,
    /// Beyond what one document may cost (a decompression bomb, a bundle of
    /// scans, a book): refused whole, with what was too much.
    #[error("the document is too big to read: {0}; send only the pages that matter, or split it")]
    TooMuch(String),
}

/// Pages a PDF may have.
pub const MAX_PAGES: usize = 500;
/// Bytes the pages' content streams may decompress to, all pages together
/// (a stream shared by several pages counts once per page, as reading
/// their text decodes it once per page).
pub const MAX_CONTENT_BYTES: usize = 16 * 1024 * 1024;
/// Bytes of text a document may hold once extracted (a long discharge
/// letter is tens of kilobytes).
pub const MAX_TEXT_BYTES: usize = 2 * 1024 * 1024;

pub fn extract(format: Format, bytes: &[u8]) -> Result<Extracted, ExtractError> {
    match format {
        Format::Pdf => pdf(bytes),
        Format::Markdown | Format::Text => {
            let text = std::str::from_utf8(bytes).map_err(|_| ExtractError::NotUtf8)?;
            let text = text.strip_prefix('\u{feff}').unwrap_or(text);
            if text.len() > MAX_TEXT_BYTES {
                return Err(ExtractError::TooMuch(format!("more than {} MiB of text", MAX_TEXT_BYTES >> 20)));
            }
            Ok(Extracted { pages: vec![Page { number: None, text: tidy(text) }], needs_ocr: false })
        }
        // No OCR here: a photo is one page without text, stored and flagged.
        Format::Jpeg | Format::Png => Ok(Extracted { pages: vec![Page { number: Some(1), text: String::new() }], needs_ocr: true }),
    }
}

/// A PDF loaded within the document limits: not encrypted, at most
/// [`MAX_PAGES`] pages, with its page ids by number.
pub(super) fn load_pdf(bytes: &[u8]) -> Result<(lopdf::Document, std::collections::BTreeMap<u32, lopdf::ObjectId>), ExtractError> {
    // Object and cross-reference streams are decoded while loading: each
    // bounded by the whole budget.
    let options = lopdf::LoadOptions { max_decompressed_size: Some(MAX_CONTENT_BYTES), ..Default::default() };
    let doc = lopdf::Document::load_mem_with_options(bytes, options).map_err(|e| match e {
        lopdf::Error::Decompress(_) => ExtractError::TooMuch(format!("a part of it unpacks to more than {} MiB", MAX_CONTENT_BYTES >> 20)),
        e => ExtractError::BadPdf(e.to_string()),
    })?;
    if doc.is_encrypted() {
        return Err(ExtractError::Encrypted);
    }
    let page_ids = doc.get_pages();
    if page_ids.len() > MAX_PAGES {
        return Err(ExtractError::TooMuch(format!("{} pages, more than {MAX_PAGES}", page_ids.len())));
    }
    Ok((doc, page_ids))
}

fn pdf(bytes: &[u8]) -> Result<Extracted, ExtractError> {
    let (doc, page_ids) = load_pdf(bytes)?;
    check_content_size(&doc, &page_ids)?;
    let mut pages = Vec::new();
    let mut text_bytes = 0;
    for (&number, _) in page_ids.iter() {
        // A page whose text cannot be decoded counts as a page without text.
        let text = tidy(&doc.extract_text(&[number]).unwrap_or_default());
        text_bytes += text.len();
        if text_bytes > MAX_TEXT_BYTES {
            return Err(ExtractError::TooMuch(format!("more than {} MiB of text", MAX_TEXT_BYTES >> 20)));
        }
        pages.push(Page { number: Some(number), text });
    }
    let needs_ocr = !pages.is_empty() && pages.iter().all(|p| p.text.chars().filter(|c| c.is_alphanumeric()).count() < 3);
    Ok(Extracted { pages, needs_ocr })
}

/// What reading every page's text would decode, counted before any is read:
/// more than [`MAX_CONTENT_BYTES`] refuses the document (each stream is
/// decoded at most once here, and never past what is left of the budget).
fn check_content_size(doc: &lopdf::Document, pages: &std::collections::BTreeMap<u32, lopdf::ObjectId>) -> Result<(), ExtractError> {
    let too_much = || ExtractError::TooMuch(format!("its pages unpack to more than {} MiB", MAX_CONTENT_BYTES >> 20));
    let mut sizes: std::collections::HashMap<lopdf::ObjectId, usize> = std::collections::HashMap::new();
    let mut total = 0usize;
    for &page in pages.values() {
        for id in doc.get_page_contents(page) {
            let size = match sizes.get(&id) {
                Some(size) => *size,
                None => {
                    let Ok(stream) = doc.get_object(id).and_then(|o| o.as_stream()) else { continue };
                    let size = match stream.decompressed_content_with_limit(MAX_CONTENT_BYTES - total) {
                        Ok(content) => content.len(),
                        Err(lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded { .. })) => return Err(too_much()),
                        // Undecodable: its page reads as empty.
                        Err(_) => 0,
                    };
                    sizes.insert(id, size);
                    size
                }
            };
            total = total.saturating_add(size);
            if total > MAX_CONTENT_BYTES {
                return Err(too_much());
            }
        }
    }
    Ok(())
}

/// NFKC, no control characters, spaces collapsed within lines, at most one
/// blank line between paragraphs, lines trimmed.
pub fn tidy(text: &str) -> String {
    let normal: String = text.nfkc().collect();
    let mut out = String::with_capacity(normal.len());
    let mut blank = 0;
    for line in normal.lines() {
        let line: String =
            line.split(|c: char| c.is_whitespace() || c.is_control()).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ");
        if line.is_empty() {
            blank += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank > 0 { "\n\n" } else { "\n" });
        }
        blank = 0;
        out.push_str(&line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_come_from_the_type_or_the_name() {
        assert_eq!(Format::detect(Some("application/pdf"), "x.bin"), Some(Format::Pdf));
        assert_eq!(Format::detect(Some("text/plain; charset=utf-8"), "notes.md"), Some(Format::Markdown));
        assert_eq!(Format::detect(None, "Tarifs.PDF"), Some(Format::Pdf));
        assert_eq!(Format::detect(Some("image/png"), "photo.png"), Some(Format::Png));
        assert_eq!(Format::detect(None, "scan.JPEG"), Some(Format::Jpeg));
        assert_eq!(Format::detect(Some("application/msword"), "lettre.doc"), None);
    }

    #[test]
    fn tidy_normalises_ligatures_spaces_and_blank_lines() {
        assert_eq!(tidy("  Le ﬁchier\t\tpdf \n\n\n\n ligne   deux \r\n"), "Le fichier pdf\n\nligne deux");
    }

    #[test]
    fn text_that_is_not_utf8_is_refused_clearly() {
        assert_eq!(extract(Format::Text, b"caf\xe9"), Err(ExtractError::NotUtf8));
    }

    /// A PDF written by lopdf itself: two pages, WinAnsi text with accents.
    fn lopdf_pdf(pages: &[&str]) -> Vec<u8> {
        use lopdf::content::{Content, Operation};
        use lopdf::{Document, Object, Stream, dictionary};
        let mut doc = Document::with_version("1.5");
        let pages_id = doc.new_object_id();
        let font = doc
            .add_object(dictionary! { "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica", "Encoding" => "WinAnsiEncoding" });
        let resources = doc.add_object(dictionary! { "Font" => dictionary! { "F1" => font } });
        let mut kids = Vec::new();
        for text in pages {
            let mut ops = vec![
                Operation::new("BT", vec![]),
                Operation::new("Tf", vec!["F1".into(), 12.into()]),
                Operation::new("Td", vec![72.into(), 700.into()]),
            ];
            for line in text.lines() {
                // Latin-1 characters are their own WinAnsi codes.
                let bytes: Vec<u8> = line.chars().map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?')).collect();
                ops.push(Operation::new("Tj", vec![Object::String(bytes, lopdf::StringFormat::Literal)]));
                ops.push(Operation::new("Td", vec![0.into(), (-16).into()]));
            }
            ops.push(Operation::new("ET", vec![]));
            let content = doc.add_object(Stream::new(dictionary! {}, Content { operations: ops }.encode().unwrap()));
            kids.push(Object::from(doc.add_object(dictionary! { "Type" => "Page", "Parent" => pages_id, "Contents" => content })));
        }
        finish(doc, pages_id, kids, resources)
    }

    /// The page tree of `kids` under `pages_id`, a catalog, and the bytes.
    fn finish(mut doc: lopdf::Document, pages_id: lopdf::ObjectId, kids: Vec<lopdf::Object>, resources: lopdf::ObjectId) -> Vec<u8> {
        use lopdf::{Object, dictionary};
        let count = kids.len() as i64;
        doc.objects.insert(
            pages_id,
            Object::Dictionary(dictionary! { "Type" => "Pages", "Kids" => kids, "Count" => count, "Resources" => resources, "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()] }),
        );
        let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
        doc.trailer.set("Root", catalog);
        let mut out = Vec::new();
        doc.save_to(&mut out).unwrap();
        out
    }

    #[test]
    fn a_lopdf_pdf_gives_each_page_its_text_with_accents() {
        let bytes = lopdf_pdf(&["Préparation à l'échographie\nVessie pleine", "Deuxième page : résultats"]);
        let e = extract(Format::Pdf, &bytes).unwrap();
        assert!(!e.needs_ocr);
        assert_eq!(e.pages.len(), 2);
        assert_eq!(e.pages[0].number, Some(1));
        assert!(e.pages[0].text.contains("Préparation à l'échographie"), "{:?}", e.pages[0].text);
        assert!(e.pages[1].text.contains("Deuxième page : résultats"), "{:?}", e.pages[1].text);
    }

    fn fixture(path: &str) -> Vec<u8> {
        std::fs::read(format!("{}/fixtures/retrieval/documents/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    #[test]
    fn pdfs_from_fpdf2_and_a_raw_writer_keep_pages_and_accents() {
        let fpdf = extract(Format::Pdf, &fixture("tarifs-2026.pdf")).unwrap();
        assert_eq!(fpdf.pages.len(), 2);
        assert!(fpdf.pages[0].text.contains("Échographie pelvienne 35 000 CDF"), "{:?}", fpdf.pages[0].text);
        assert!(fpdf.pages[1].text.contains("Numération formule sanguine (NFS) 12 000 CDF"), "{:?}", fpdf.pages[1].text);
        let raw = extract(Format::Pdf, &fixture("patients/P001/compte-rendu-echographie.pdf")).unwrap();
        assert_eq!(raw.pages.len(), 1);
        assert!(raw.pages[0].text.contains("Utérus de taille normale"), "{:?}", raw.pages[0].text);
    }

    #[test]
    fn a_scan_is_flagged_for_ocr_not_indexed_as_empty() {
        let scan = extract(Format::Pdf, &fixture("ordonnance-scannee.pdf")).unwrap();
        assert!(scan.needs_ocr);
        assert_eq!(scan.pages.len(), 1);
    }

    /// A PDF of `pages` pages all drawing one Flate-compressed content stream
    /// that shows `line` `repeat` times: a few kilobytes that unpack to
    /// megabytes.
    fn bomb(pages: usize, line: &str, repeat: usize) -> Vec<u8> {
        use lopdf::{Document, Object, Stream, dictionary};
        use std::io::Write;
        let mut doc = Document::with_version("1.5");
        let pages_id = doc.new_object_id();
        let font = doc.add_object(dictionary! { "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica" });
        let resources = doc.add_object(dictionary! { "Font" => dictionary! { "F1" => font } });
        let mut plain = b"BT /F1 12 Tf 72 700 Td ".to_vec();
        for _ in 0..repeat {
            plain.extend_from_slice(format!("({line}) Tj 0 -14 Td ").as_bytes());
        }
        plain.extend_from_slice(b"ET");
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(&plain).unwrap();
        let content = doc.add_object(Stream::new(dictionary! { "Filter" => "FlateDecode" }, z.finish().unwrap()));
        let kids: Vec<Object> = (0..pages)
            .map(|_| Object::from(doc.add_object(dictionary! { "Type" => "Page", "Parent" => pages_id, "Contents" => content })))
            .collect();
        finish(doc, pages_id, kids, resources)
    }

    #[test]
    fn a_decompression_bomb_is_refused_before_its_text_is_read() {
        // 24 MB of page content from a file of 70 kB (the fixture the API
        // tests and the faults bench send).
        let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/hostile/decompression-bomb.pdf")).unwrap();
        assert!(bytes.len() < 100_000, "{} bytes", bytes.len());
        assert!(matches!(extract(Format::Pdf, &bytes), Err(ExtractError::TooMuch(_))));
    }

    #[test]
    fn one_stream_shared_by_fifty_pages_counts_fifty_times() {
        // Each page alone is fine (500 kB); read fifty times it is 25 MB.
        let bytes = bomb(50, "Hemoglobine normale", 17_000);
        let e = extract(Format::Pdf, &bytes).unwrap_err();
        assert!(e.to_string().contains("unpack"), "{e}");
        // The same stream on a few pages is an ordinary document.
        assert_eq!(extract(Format::Pdf, &bomb(3, "Hemoglobine normale", 200)).unwrap().pages.len(), 3);
    }

    #[test]
    fn too_many_pages_or_too_much_text_is_refused_clearly() {
        let e = extract(Format::Pdf, &bomb(MAX_PAGES + 1, "x", 1)).unwrap_err();
        assert!(e.to_string().contains("pages"), "{e}");
        // 40 pages of 60 kB of text each: under the unpacked budget, over the text one.
        let e = extract(Format::Pdf, &bomb(40, &"Compte rendu ".repeat(40), 120)).unwrap_err();
        assert!(e.to_string().contains("text"), "{e}");
        let long = "a".repeat(MAX_TEXT_BYTES + 1);
        assert!(matches!(extract(Format::Text, long.as_bytes()), Err(ExtractError::TooMuch(_))));
    }

    #[test]
    fn garbage_is_not_a_pdf() {
        assert!(matches!(extract(Format::Pdf, b"%PDF-1.4 nothing"), Err(ExtractError::BadPdf(_))));
    }
}
