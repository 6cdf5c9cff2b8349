//! Text folding shared by every rule: lower case, accents removed, typographic
//! apostrophes and dashes made plain. Rules match folded text; names are taken
//! from the original tokens so accents and capitals survive.

use unicode_normalization::UnicodeNormalization;

pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.nfkd() {
        match c {
            '\u{300}'..='\u{36f}' => {}
            '’' | '‘' | '`' | 'ʼ' => out.push('\''),
            '–' | '—' => out.push('-'),
            'œ' | 'Œ' => out.push_str("oe"),
            'æ' | 'Æ' => out.push_str("ae"),
            _ => out.extend(c.to_lowercase()),
        }
    }
    out
}

/// A word of the original message with its folded form.
#[derive(Debug, Clone)]
pub struct Token<'a> {
    pub original: &'a str,
    pub folded: String,
}

/// Splits on anything that is not a letter, a digit, an apostrophe inside a
/// word or a hyphen inside a word (Jean-Pierre, aujourd'hui).
pub fn tokens(s: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut start = None;
    let chars: Vec<(usize, char)> = s.char_indices().collect();
    for (i, &(pos, c)) in chars.iter().enumerate() {
        let inner_joiner = matches!(c, '\'' | '’' | '-') && start.is_some() && chars.get(i + 1).is_some_and(|(_, n)| n.is_alphanumeric());
        if c.is_alphanumeric() || inner_joiner {
            start.get_or_insert(pos);
        } else if let Some(st) = start.take() {
            out.push(&s[st..pos]);
        }
    }
    if let Some(st) = start {
        out.push(&s[st..]);
    }
    out.into_iter().map(|w| Token { original: w, folded: fold(w) }).collect()
}

/// Folded words joined by single spaces with a space at both ends, so that
/// `has_phrase(" rdv ")` style lookups match whole words only.
pub fn padded(tokens: &[Token<'_>]) -> String {
    let mut s = String::from(" ");
    for t in tokens {
        // Apostrophes and hyphens become spaces so "l'apres-midi" matches "apres midi".
        for c in t.folded.chars() {
            s.push(if c == '\'' || c == '-' { ' ' } else { c });
        }
        s.push(' ');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_accents_and_apostrophes() {
        assert_eq!(fold("Après-Demain, ÉCHO’ œuf"), "apres-demain, echo' oeuf");
    }

    #[test]
    fn tokens_keep_inner_joiners() {
        let t: Vec<_> = tokens("Bjr, c'est pour Jean-Pierre à 10h30!").into_iter().map(|t| t.original).collect();
        assert_eq!(t, vec!["Bjr", "c'est", "pour", "Jean-Pierre", "à", "10h30"]);
    }
}
