//! Phrase lookups shared by the rules: one Aho-Corasick automaton per
//! phrase list, and one reading of negation ("pas de fièvre", "aucun
//! saignement", "no vomiting") for every sign.

use aho_corasick::AhoCorasick;
use std::cell::RefCell;
use std::collections::HashMap;

/// One Aho-Corasick automaton per phrase list (built on first use, kept per
/// thread): a lookup scans the message once, whatever the number of phrases.
pub(super) fn matcher(phrases: &'static [&'static str]) -> std::rc::Rc<AhoCorasick> {
    thread_local! {
        static CACHE: RefCell<HashMap<(usize, usize), std::rc::Rc<AhoCorasick>>> = RefCell::new(HashMap::new());
    }
    CACHE.with(|c| {
        c.borrow_mut()
            .entry((phrases.as_ptr() as usize, phrases.len()))
            .or_insert_with(|| {
                std::rc::Rc::new(
                    AhoCorasick::builder()
                        .kind(Some(aho_corasick::AhoCorasickKind::DFA))
                        .build(phrases)
                        .expect("phrases build an automaton"),
                )
            })
            .clone()
    })
}

pub(super) fn any_phrase(p: &str, phrases: &'static [&'static str]) -> bool {
    matcher(phrases).is_match(p)
}

/// Whether the words right before byte `at` negate what starts there.
pub(super) fn negated_before(p: &str, at: usize) -> bool {
    let before = &p[..(at + 1).min(p.len())];
    // The three words before the stem, looked at for a negation.
    before.split_whitespace().rev().take(3).enumerate().any(|(n, w)| {
        matches!(w, "pas" | "sans" | "aucun" | "aucune" | "jamais" | "never" | "without" | "ni")
            || (n == 0 && matches!(w, "no" | "not" | "non"))
            || (n <= 1 && matches!(w, "no" | "not" | "nor"))
    })
}

pub(super) fn unnegated(p: &str, stem: &str) -> bool {
    p.match_indices(stem).any(|(at, _)| !negated_before(p, at))
}
