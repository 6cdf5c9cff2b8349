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

/// SMS shorthand and common misspellings, written out for the intent rules
/// (one folded word → its plain form). Names and dates are read from the
/// message as written; only the rules that recognise what is asked see this.
const SHORTHAND: &[(&str, &str)] = &[
    ("jpeux", "je peux"),
    ("jpe", "je peux"),
    ("jpx", "je peux"),
    ("jpourrai", "je pourrai"),
    ("jpourrais", "je pourrais"),
    ("pourai", "pourrai"),
    ("pourais", "pourrais"),
    ("pourait", "pourrait"),
    ("pa", "pas"),
    ("pb", "probleme"),
    ("pbs", "problemes"),
    ("jveux", "je veux"),
    ("jvx", "je veux"),
    ("jvoudrai", "je voudrais"),
    ("jvoudrais", "je voudrais"),
    ("vx", "veux"),
    ("anule", "annule"),
    ("anuler", "annuler"),
    ("anulle", "annule"),
    ("anulez", "annulez"),
    ("annul", "annule"),
    ("anul", "annule"),
    ("dsl", "desole"),
    ("tmrw", "tomorrow"),
    ("cnt", "can t"),
    ("tmr", "tomorrow"),
    ("2moro", "tomorrow"),
    ("appt", "appointment"),
    ("appts", "appointments"),
    ("rdvs", "rdv"),
    ("rv", "rdv"),
    ("qqn", "quelqu un"),
    ("qqun", "quelqu un"),
    ("qlqn", "quelqu un"),
    ("qqch", "quelque chose"),
    ("qlq", "quelque"),
    ("qq", "quelques"),
];

/// Words after which "avc" is the SMS spelling of "avec" ("rdv avc le dr"),
/// not a stroke ("il a fait un AVC", "AVC ce matin", "signes d'AVC").
const AFTER_AVEC: &[&str] = &[
    "le",
    "la",
    "l",
    "les",
    "un",
    "une",
    "des",
    "dr",
    "docteur",
    "doc",
    "docteure",
    "moi",
    "toi",
    "lui",
    "elle",
    "eux",
    "vous",
    "nous",
    "mon",
    "ma",
    "mes",
    "ton",
    "ta",
    "son",
    "sa",
    "ses",
    "votre",
    "vos",
    "notre",
    "nos",
    "mme",
    "mr",
    "madame",
    "monsieur",
    "pr",
    "professeur",
    "sage",
    "infirmier",
    "infirmiere",
    "pediatre",
    "gyneco",
    "dentiste",
    "ophtalmo",
];

/// Words right after which "avc" is a stroke told in time ("AVC ce matin",
/// "papa avc hier").
const STROKE_AFTER: &[&str] = &["ce", "cette", "hier", "depuis", "aujourd", "today", "this", "yesterday", "il", "elle", "grave", "massif"];

/// Words that make a message a request to be seen, where "avc" is "avec".
const BOOKING_CONTEXT: &[&str] =
    &["rdv", "rendez", "consultation", "creneau", "passer", "voir", "reserver", "prendre", "book", "appointment"];

/// `padded` (see [`padded`]) with shorthand written out.
pub fn expand_shorthand(padded: &str) -> String {
    let words: Vec<&str> = padded.split_whitespace().collect();
    let booking = words.iter().any(|w| BOOKING_CONTEXT.contains(w));
    let mut out = String::with_capacity(padded.len() + 16);
    out.push(' ');
    for (i, w) in words.iter().enumerate() {
        let next = words.get(i + 1).copied().unwrap_or("");
        let prev = if i > 0 { words[i - 1] } else { "" };
        let stroke_before = matches!(prev, "un" | "une" | "d" | "l" | "de" | "du" | "son" | "mon" | "fait" | "signe" | "signes" | "type");
        // "avc" is "avec" before an article or a title, or inside a request
        // to be seen; never first in the message, after "un"/"d'"/"fait", or
        // before a time ("AVC ce matin").
        let avec = (AFTER_AVEC.contains(&next) || booking) && !stroke_before && !STROKE_AFTER.contains(&next) && i > 0;
        let plain = if *w == "avc" && avec { "avec" } else { SHORTHAND.iter().find(|(short, _)| short == w).map_or(*w, |(_, long)| long) };
        out.push_str(plain);
        out.push(' ');
    }
    out
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

    #[test]
    fn shorthand_is_written_out_and_avc_read_from_context() {
        assert_eq!(expand_shorthand(" jpeux pa venir "), " je peux pas venir ");
        assert_eq!(expand_shorthand(" rdv avc le dr kabeya "), " rdv avec le dr kabeya ");
        assert_eq!(expand_shorthand(" il a fait un avc "), " il a fait un avc ");
        assert_eq!(expand_shorthand(" avc ce matin "), " avc ce matin ");
        assert_eq!(expand_shorthand(" des signes d avc la bouche tordue "), " des signes d avc la bouche tordue ");
        assert_eq!(expand_shorthand(" rdv pr ma fille avc pb de peau "), " rdv pr ma fille avec probleme de peau ");
        assert_eq!(expand_shorthand(" avc ce matin rdv svp "), " avc ce matin rdv svp ");
        assert_eq!(expand_shorthand(" papa avc hier besoin rdv "), " papa avc hier besoin rdv ");
    }
}
