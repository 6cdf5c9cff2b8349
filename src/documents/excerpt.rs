//! The part of a passage a reply quotes: its lines or sentences that share
//! most words with the question, kept in the document's order, within a
//! character budget (SMS gets a short one). Pure.

use super::terms::terms;
use std::collections::HashSet;

/// Pieces of a passage: its lines, and within them sentences and list
/// items (`;`).
fn pieces(text: &str) -> Vec<&str> {
    text.lines().flat_map(|line| super::chunk::split_after(line, &['.', '!', '?', ';'])).collect()
}

/// At most `max_chars` characters of `text` about `question`.
pub fn excerpt(text: &str, question: &str, max_chars: usize) -> String {
    // A passage that fits is quoted whole: a result or a short sheet reads
    // best as written.
    let whole = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("\n");
    if whole.chars().count() <= max_chars {
        return whole;
    }
    let asked: HashSet<String> = terms(question).into_iter().collect();
    let pieces = pieces(text);
    let mut ranked: Vec<(usize, usize)> =
        pieces.iter().enumerate().map(|(i, p)| (i, terms(p).into_iter().collect::<HashSet<_>>().intersection(&asked).count())).collect();
    // Most shared words first; among equals, the earlier piece.
    ranked.sort_by_key(|&(i, n)| (std::cmp::Reverse(n), i));
    let mut keep: Vec<usize> = Vec::new();
    let mut used = 0;
    for (i, n) in ranked {
        let len = pieces[i].chars().count() + 1;
        if keep.is_empty() && len > max_chars {
            // Even the best piece is too long: cut it on a word.
            let mut cut = String::new();
            for w in pieces[i].split_whitespace() {
                if cut.chars().count() + w.chars().count() + 2 > max_chars {
                    break;
                }
                if !cut.is_empty() {
                    cut.push(' ');
                }
                cut.push_str(w);
            }
            return format!("{cut}…");
        }
        if used + len > max_chars || (n == 0 && !keep.is_empty()) {
            continue;
        }
        keep.push(i);
        used += len;
    }
    keep.sort_unstable();
    let mut out = String::new();
    for (k, i) in keep.iter().enumerate() {
        if k > 0 {
            out.push_str(if *i == keep[k - 1] + 1 { " " } else { " … " });
        }
        // A list item cut out of its list keeps no dangling separator.
        let piece = pieces[*i];
        out.push_str(if k + 1 == keep.len() { piece.trim_end_matches([';', ',']).trim_end() } else { piece });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_about_the_question_is_kept_within_the_budget() {
        let text = "Consultations : consultation de médecine générale 15 000 CDF ; consultation prénatale 10 000 CDF.\n\
                    Échographie pelvienne 35 000 CDF ; échographie abdominale 40 000 CDF ; radiographie du thorax 25 000 CDF.";
        let e = excerpt(text, "c'est combien la radio du thorax ?", 120);
        assert!(e.contains("radiographie du thorax 25 000 CDF"), "{e}");
        assert!(e.chars().count() <= 120, "{e}");
    }

    #[test]
    fn a_single_long_sentence_is_cut_on_a_word() {
        let e = excerpt(&"mot ".repeat(200), "mot", 50);
        assert!(e.ends_with('…') && e.chars().count() <= 50, "{e}");
    }
}
