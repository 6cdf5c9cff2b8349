//! Cutting a document into passages that retrieval returns and replies
//! quote. Sizes are counted in model tokens (tiktoken's cl100k, the count a
//! hosted model and most embedding models see): a passage holds up to
//! [`TARGET_TOKENS`], is cut on paragraph boundaries where it can (sentences,
//! then words, inside a paragraph too long on its own), never spans two pages
//! or two sections, and starts with the end of the previous passage of the
//! same section ([`OVERLAP_TOKENS`]) so an answer cut at a boundary is whole
//! in one of them. Each passage keeps its page and its section heading.

use super::extract::{Extracted, Format};

pub const TARGET_TOKENS: usize = 180;
pub const OVERLAP_TOKENS: usize = 30;

#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    pub ordinal: u32,
    pub page: Option<u32>,
    pub heading: Option<String>,
    pub text: String,
    pub tokens: u32,
}

fn bpe() -> &'static tiktoken_rs::CoreBPE {
    tiktoken_rs::cl100k_base_singleton()
}

pub fn count_tokens(text: &str) -> usize {
    bpe().encode_ordinary(text).len()
}

/// A short line standing alone before more text, with no closing
/// punctuation, reads as a section title in text and PDF documents.
fn looks_like_heading(block: &str) -> bool {
    !block.contains('\n')
        && block.chars().count() <= 70
        && !block.ends_with(['.', ':', ';', ',', '?', '!'])
        && block.chars().any(char::is_alphabetic)
}

pub fn chunk(doc: &Extracted, format: Format) -> Vec<Chunk> {
    let mut out = Vec::new();
    let mut heading: Option<String> = None;
    for page in &doc.pages {
        let blocks: Vec<&str> = page.text.split("\n\n").map(str::trim).filter(|b| !b.is_empty()).collect();
        let mut section: Vec<String> = Vec::new();
        for (i, block) in blocks.iter().enumerate() {
            let md_heading = format == Format::Markdown && block.starts_with('#') && !block.contains('\n');
            let text_heading = format != Format::Markdown && looks_like_heading(block) && i + 1 < blocks.len();
            if md_heading || text_heading {
                flush(&mut out, &mut section, page.number, &heading);
                heading = Some(block.trim_start_matches('#').trim().to_string());
                continue;
            }
            // Markdown: a heading line followed directly by text in one block.
            if format == Format::Markdown && block.starts_with('#') {
                let (first, rest) = block.split_once('\n').unwrap_or((block, ""));
                flush(&mut out, &mut section, page.number, &heading);
                heading = Some(first.trim_start_matches('#').trim().to_string());
                if !rest.trim().is_empty() {
                    section.push(rest.trim().to_string());
                }
                continue;
            }
            section.push(block.to_string());
        }
        flush(&mut out, &mut section, page.number, &heading);
    }
    for (i, c) in out.iter_mut().enumerate() {
        c.ordinal = i as u32;
    }
    out
}

/// Packs a section's paragraphs into passages of at most TARGET_TOKENS.
fn flush(out: &mut Vec<Chunk>, section: &mut Vec<String>, page: Option<u32>, heading: &Option<String>) {
    if section.is_empty() {
        return;
    }
    // Paragraphs too long on their own are split into sentences, then words.
    let mut pieces: Vec<String> = Vec::new();
    for para in section.drain(..) {
        if count_tokens(&para) <= TARGET_TOKENS {
            pieces.push(para);
        } else {
            for sentence in split_after(&para, &['.', '!', '?', '\n']) {
                if count_tokens(sentence) <= TARGET_TOKENS {
                    pieces.push(sentence.to_string());
                } else {
                    pieces.extend(word_windows(sentence));
                }
            }
        }
    }
    let mut current: Vec<(String, usize)> = Vec::new();
    let mut size = 0;
    let mut fresh = 0; // pieces in `current` not carried over from the previous passage
    for piece in pieces {
        let n = count_tokens(&piece);
        if size + n > TARGET_TOKENS && fresh > 0 {
            emit(out, &current, page, heading);
            // Carry the tail of this passage into the next one.
            let mut carried: Vec<(String, usize)> = Vec::new();
            let mut carried_size = 0;
            for (p, k) in current.iter().rev() {
                if carried_size + k > OVERLAP_TOKENS || carried_size + k + n > TARGET_TOKENS {
                    break;
                }
                carried.insert(0, (p.clone(), *k));
                carried_size += k;
            }
            current = carried;
            size = carried_size;
            fresh = 0;
        }
        current.push((piece, n));
        size += n;
        fresh += 1;
    }
    if fresh > 0 {
        emit(out, &current, page, heading);
    }
}

fn emit(out: &mut Vec<Chunk>, pieces: &[(String, usize)], page: Option<u32>, heading: &Option<String>) {
    let text = pieces.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>().join("\n");
    let tokens = count_tokens(&text) as u32;
    out.push(Chunk { ordinal: 0, page, heading: heading.clone(), text, tokens });
}

/// Pieces of `text` that end with one of `enders` followed by whitespace
/// (or the end), trimmed, empty ones dropped: sentences, list items.
pub(super) fn split_after<'t>(text: &'t str, enders: &[char]) -> Vec<&'t str> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        let end = i + c.len_utf8();
        if enders.contains(&c) && text[end..].chars().next().is_none_or(char::is_whitespace) {
            let s = text[start..end].trim();
            if !s.is_empty() {
                out.push(s);
            }
            start = end;
        }
    }
    let rest = text[start..].trim();
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

/// Windows of whole words, each within TARGET_TOKENS.
fn word_windows(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        let candidate = if current.is_empty() { word.to_string() } else { format!("{current} {word}") };
        if count_tokens(&candidate) > TARGET_TOKENS && !current.is_empty() {
            out.push(std::mem::take(&mut current));
            current = word.to_string();
        } else {
            current = candidate;
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::documents::extract::Page;

    fn doc(pages: &[(Option<u32>, &str)]) -> Extracted {
        Extracted { pages: pages.iter().map(|(n, t)| Page { number: *n, text: t.to_string() }).collect(), needs_ocr: false }
    }

    #[test]
    fn markdown_sections_become_passages_with_their_heading() {
        let d = doc(&[(None, "# Préparation\n\nIntro.\n\n## Prise de sang\n\nVenez à jeun.\n\n## Radiographie\n\nRetirez vos bijoux.")]);
        let c = chunk(&d, Format::Markdown);
        let seen: Vec<(Option<&str>, &str)> = c.iter().map(|c| (c.heading.as_deref(), c.text.as_str())).collect();
        assert_eq!(
            seen,
            vec![(Some("Préparation"), "Intro."), (Some("Prise de sang"), "Venez à jeun."), (Some("Radiographie"), "Retirez vos bijoux.")]
        );
        assert_eq!(c.iter().map(|c| c.ordinal).collect::<Vec<_>>(), vec![0, 1, 2]);
    }

    #[test]
    fn a_passage_never_spans_two_pages_and_keeps_its_page() {
        let d = doc(&[(Some(1), "Tarifs\n\nConsultation 15 000 CDF."), (Some(2), "Laboratoire\n\nNFS 12 000 CDF.")]);
        let c = chunk(&d, Format::Pdf);
        assert_eq!(c.len(), 2);
        assert_eq!((c[0].page, c[0].heading.as_deref()), (Some(1), Some("Tarifs")));
        assert_eq!((c[1].page, c[1].heading.as_deref()), (Some(2), Some("Laboratoire")));
    }

    #[test]
    fn long_sections_are_cut_within_the_budget_with_overlap_and_nothing_lost() {
        let paragraphs: Vec<String> = (0..40)
            .map(|i| format!("Paragraphe numéro {i} : une phrase assez longue qui parle de l'examen {i} et de sa préparation."))
            .collect();
        let d = doc(&[(None, &paragraphs.join("\n\n"))]);
        let c = chunk(&d, Format::Text);
        assert!(c.len() > 3, "{}", c.len());
        for ch in &c {
            assert!(ch.tokens as usize <= TARGET_TOKENS + 2, "{} tokens", ch.tokens);
        }
        for p in &paragraphs {
            assert!(c.iter().any(|ch| ch.text.contains(p.as_str())), "lost: {p}");
        }
        // Consecutive passages share their boundary paragraph.
        for w in c.windows(2) {
            let last = w[0].text.lines().last().unwrap();
            assert!(w[1].text.starts_with(last), "no overlap between {:?} and {:?}", w[0].text, w[1].text);
        }
    }

    #[test]
    fn a_paragraph_longer_than_a_passage_is_cut_on_sentences_then_words() {
        let long = "mot ".repeat(1000);
        let d = doc(&[(None, &format!("Première phrase. {long}"))]);
        let c = chunk(&d, Format::Text);
        assert!(c.len() >= 5);
        assert!(c.iter().all(|ch| ch.tokens as usize <= TARGET_TOKENS + 2));
        assert!(c.iter().map(|ch| ch.text.matches("mot").count()).sum::<usize>() >= 1000);
    }
}
