//! Person names (the patient the message is about) and practitioner names.
//! Names come from the original tokens so accents and capitals are kept.

use super::lexicon::{ClinicLexicon, GLOSSARY};
use super::normalize::{Token, fold, tokens};

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Person {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

/// Words that end a name ("Awa Mendy née le…") or can never be one.
const STOP: &[&str] = &[
    // Words that follow a title or an introduction without being a name.
    "about",
    "regarding",
    "concernant",
    "because",
    "parce",
    "if",
    "si",
    "bonne",
    "bon",
    "bonjour",
    "bonsoir",
    "again",
    "again?",
    "encore",
    "today",
    "tomorrow",
    "please",
    "abeg",
    "pr",
    "pour",
    "sah",
    "na",
    "directement",
    "lundi",
    "mardi",
    "mercredi",
    "jeudi",
    "vendredi",
    "samedi",
    "dimanche",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "dmn",
    "apres-demain",
    "ce",
    "cet",
    "cette",
    "matin",
    "soir",
    "aprem",
    "est",
    "peut",
    "sera",
    "in",
    "on",
    "at",
    "here",
    "there",
    "this",
    "that",
    "next",
    "now",
    "soon",
    "asap",
    "maintenant",
    "svp,",
    "et",
    "ne",
    "nee",
    "le",
    "la",
    "les",
    "de",
    "du",
    "des",
    "un",
    "une",
    "pour",
    "a",
    "au",
    "j'ai",
    "je",
    "suis",
    "date",
    "and",
    "born",
    "the",
    "for",
    "i",
    "my",
    "is",
    "am",
    "dob",
    "ddn",
    "svp",
    "stp",
    "merci",
    "please",
    "thanks",
    "rdv",
    "rendez-vous",
    "appointment",
    "demain",
    "tomorrow",
    "aujourd'hui",
    "today",
    "qui",
    "a",
    "ans",
    "years",
    "old",
    "age",
    "veux",
    "voudrais",
    "want",
    "need",
    "would",
    "like",
    "besoin",
    "avec",
    "with",
    "chez",
    "mais",
    "but",
    "oui",
    "non",
    "yes",
    "no",
    "ok",
    "bonjour",
    "bonsoir",
    "hello",
    "hi",
    "en",
    "in",
    "on",
    "at",
    "sa",
    "son",
    "ses",
    "ma",
    "mon",
    "mes",
    "c'est",
    "malade",
    "fievre",
    "mal",
    "douleur",
    "pain",
    "sick",
    "ill",
    "enceinte",
    "pregnant",
    "la",
    "ici",
    "here",
    "there",
    "this",
    "that",
    "next",
    "now",
    "soon",
    "asap",
    "maintenant",
    "ce",
    "cette",
    "matin",
    "soir",
    "morning",
    "evening",
    "afternoon",
    "apres-midi",
    "aprem",
    "consultation",
    "dr",
    "docteur",
    "doctor",
    "doc",
    "prenom",
    "nom",
    "name",
    "first",
    "last",
    "surname",
    "vaccin",
    "vaccination",
    "besoin",
    "urgent",
    "toujours",
    "deja",
    "en",
    "route",
    "retard",
    "late",
    "coming",
    "venir",
    "viens",
    "vais",
    "going",
    "from",
    "de",
    "patient",
    "patiente",
    "nouveau",
    "nouvelle",
    "new",
    "mme",
    "mr",
    "m",
    "monsieur",
    "madame",
];

const RELATIVES: &[&str] = &[
    "fille",
    "fils",
    "mere",
    "maman",
    "pere",
    "papa",
    "mari",
    "femme",
    "epouse",
    "epoux",
    "soeur",
    "frere",
    "enfant",
    "bebe",
    "niece",
    "neveu",
    "tante",
    "oncle",
    "grand-mere",
    "grand-pere",
    "cousin",
    "cousine",
    "daughter",
    "son",
    "mother",
    "mum",
    "mom",
    "father",
    "dad",
    "husband",
    "wife",
    "sister",
    "brother",
    "child",
    "baby",
    "kid",
    "grandmother",
    "grandfather",
    "aunt",
    "uncle",
    "niece",
    "nephew",
    "pikin",
];

const TITLES: &[&str] = &["mme", "madame", "m", "monsieur", "mr", "mrs", "ms", "mlle", "mademoiselle", "miss", "mister"];

fn is_name_token(t: &Token<'_>, strict_case: bool) -> bool {
    let alpha = t.original.chars().all(|c| c.is_alphabetic() || c == '-' || c == '\'');
    let capital = t.original.chars().next().is_some_and(char::is_uppercase);
    alpha && t.original.chars().count() >= 2 && !STOP.contains(&t.folded.as_str()) && (!strict_case || capital)
}

fn is_all_caps(s: &str) -> bool {
    s.chars().filter(|c| c.is_alphabetic()).count() >= 2 && s.chars().all(|c| !c.is_alphabetic() || c.is_uppercase())
}

/// Assigns first and last names: an ALL-CAPS word among mixed case is the
/// last name; otherwise "Prénom Nom".
fn assign(words: &[&str], single_is_last: bool) -> Person {
    match words {
        [] => Person::default(),
        [one] if single_is_last => Person { first_name: None, last_name: Some(one.to_string()) },
        [one] => Person { first_name: Some(one.to_string()), last_name: None },
        _ => {
            let caps: Vec<usize> = (0..words.len()).filter(|i| is_all_caps(words[*i])).collect();
            if caps.len() == 1 && words.len() > 1 {
                let last = words[caps[0]].to_string();
                let first: Vec<&str> = words.iter().enumerate().filter(|(i, _)| *i != caps[0]).map(|(_, w)| *w).collect();
                Person { first_name: Some(first.join(" ")), last_name: Some(last) }
            } else {
                Person { first_name: Some(words[0].to_string()), last_name: Some(words[1..].join(" ")) }
            }
        }
    }
}

fn take_names<'a>(toks: &'a [Token<'a>], from: usize, strict_case: bool) -> Vec<&'a str> {
    toks[from.min(toks.len())..].iter().take_while(|t| is_name_token(t, strict_case)).take(3).map(|t| t.original).collect()
}

#[allow(clippy::needless_range_loop)] // neighbours of `i` are read too
/// A message that is only a name ("Awa Mendy", "MENDY Aminata"): two or three
/// capitalised words and nothing else.
pub fn bare_name(toks: &[Token<'_>]) -> Person {
    if (2..=3).contains(&toks.len()) && toks.iter().all(|t| is_name_token(t, true)) {
        let words: Vec<&str> = toks.iter().map(|t| t.original).collect();
        return assign(&words, false);
    }
    // "c'est pour Fatou", "for Merveille": whom an option is for, as answered
    // to "who is this appointment for?".
    let lead = toks.iter().take_while(|t| matches!(t.folded.as_str(), "c'est" | "cest" | "it's" | "its" | "pour" | "for" | "ok")).count();
    let rest = &toks[lead..];
    if lead > 0 && toks[lead - 1].folded.as_str() != "ok" && (1..=3).contains(&rest.len()) && rest.iter().all(|t| is_name_token(t, true)) {
        let words: Vec<&str> = rest.iter().map(|t| t.original).collect();
        if let [only] = words.as_slice() {
            return Person { first_name: Some((*only).to_string()), last_name: None };
        }
        return assign(&words, false);
    }
    Person::default()
}

pub fn extract_person(toks: &[Token<'_>]) -> Person {
    let f: Vec<&str> = toks.iter().map(|t| t.folded.as_str()).collect();
    let at = |i: usize| f.get(i).copied().unwrap_or("");

    // Labelled forms: "Nom: MENDY Prénom: Aminata".
    let label = |names: &[&str]| f.iter().position(|w| names.contains(w)).map(|i| take_names(toks, i + 1, false));
    let last_label = f
        .iter()
        .enumerate()
        .find(|(i, w)| **w == "nom" && !matches!(at(i.wrapping_sub(1)), "mon" | "son" | "votre" | "le"))
        .map(|(i, _)| take_names(toks, i + 1, false));
    let first_label = label(&["prenom", "prenoms"]);
    if last_label.is_some() || first_label.is_some() {
        let first = first_label.and_then(|w| (!w.is_empty()).then(|| w.join(" ")));
        let last = last_label.and_then(|w| (!w.is_empty()).then(|| w.join(" ")));
        if first.is_some() || last.is_some() {
            return Person { first_name: first, last_name: last };
        }
    }

    // The patient the message is for wins over the writer.
    for (i, word) in f.iter().enumerate() {
        if RELATIVES.contains(word) && matches!(at(i.wrapping_sub(1)), "ma" | "mon" | "my" | "notre" | "our" | "la" | "le") {
            let words = take_names(toks, i + 1, true);
            if !words.is_empty() {
                return assign(&words, false);
            }
        }
    }

    // Cues after which a name follows.
    for i in 0..f.len() {
        let (skip, strict) = match (at(i), at(i + 1), at(i + 2)) {
            ("m'appelle" | "mappelle" | "appelle", _, _) => (1, false),
            ("mon", "nom", "est") | ("my", "name", "is") | ("my", "name's", _) | ("my", "name", "na") => (3, false),
            // Pidgin: "dem call me Chinedu Okeke", "they call me …", "I be Grace Fon".
            ("dem" | "they" | "people", "call", "me") => (3, false),
            ("i", "be", _) => (2, true),
            ("moi", "c'est", _) | ("ici", _, _) | ("this", "is", _) => (
                if at(i) == "moi" {
                    2
                } else if at(i) == "ici" {
                    1
                } else {
                    2
                },
                true,
            ),
            ("je", "suis", _) | ("i", "am", _) => (2, true),
            ("i'm", _, _) | ("c'est", _, _) => (1, true),
            ("name", _, _) if at(i.wrapping_sub(1)) != "my" => (1, false),
            _ => continue,
        };
        let words = take_names(toks, i + skip, strict);
        if !words.is_empty() {
            return assign(&words, false);
        }
    }

    // "Moussa Diallo né le 12/12/1988": a name right before a birth cue.
    if let Some(k) = f.iter().position(|w| matches!(*w, "ne" | "nee" | "né" | "née" | "born"))
        && (2..=3).contains(&k)
        && toks[..k].iter().all(|t| is_name_token(t, true))
    {
        let words: Vec<&str> = toks[..k].iter().map(|t| t.original).collect();
        return assign(&words, false);
    }

    // "Mme Mendy", "M. Kabila": a title gives the last name.
    for i in 0..f.len() {
        if TITLES.contains(&f[i]) && (f[i] != "m" || toks[i].original == "M") {
            let words = take_names(toks, i + 1, true);
            if !words.is_empty() {
                let mut p = assign(&words, true);
                if words.len() == 1 {
                    p.first_name = None;
                }
                return p;
            }
        }
    }
    // Two or more words in a row with an ALL-CAPS one ("MENDY Aminata") are a name on their own.
    for i in 0..f.len() {
        if is_all_caps(toks[i].original) && is_name_token(&toks[i], true) && toks[i].original.chars().count() >= 3 {
            let start = if i > 0 && is_name_token(&toks[i - 1], true) { i - 1 } else { i };
            let words = take_names(toks, start, true);
            if words.len() >= 2 && words.len() <= 3 && !words.iter().all(|w| is_all_caps(w)) {
                return assign(&words, false);
            }
        }
    }
    Person::default()
}

/// A name stated with a field word in a sentence, as a patient corrects a
/// recap: "my surname is Okoye", "le nom de famille c'est Kabeya", "non,
/// mon prénom c'est Aminata", "her name is Grace Obi", "mon nom est Diallo".
/// Only the fields named are returned; `None` when no field word leads a name.
pub fn stated_name(toks: &[Token<'_>]) -> Option<Person> {
    let f: Vec<&str> = toks.iter().map(|t| t.folded.as_str()).collect();
    let at = |i: usize| f.get(i).copied().unwrap_or("");
    enum Field {
        First,
        Last,
        Whole,
    }
    for i in 0..f.len() {
        let (field, len) = match (at(i), at(i + 1), at(i + 2)) {
            ("nom", "de", "famille") => (Field::Last, 3),
            ("last" | "family", "name", _) => (Field::Last, 2),
            ("surname" | "lastname", _, _) => (Field::Last, 1),
            ("first" | "given", "name", _) => (Field::First, 2),
            ("prenom" | "firstname", _, _) => (Field::First, 1),
            ("nom", _, _) => (Field::Whole, 1),
            ("name" | "name's", _, _) if !matches!(at(i.wrapping_sub(1)), "last" | "family" | "first" | "given") => (Field::Whole, 1),
            _ => continue,
        };
        let mut j = i + len;
        while matches!(at(j), "is" | "c'est" | "cest" | "est" | "s" | "it's" | "na" | "be" | "sera" | "should" | "actually" | "en" | "fait")
        {
            j += 1;
        }
        if j == i + len && !matches!(at(i), "prenom" | "nom" | "surname") {
            continue;
        }
        let words = take_names(toks, j, false);
        if words.is_empty() {
            continue;
        }
        return Some(match field {
            Field::First => Person { first_name: Some(words.join(" ")), last_name: None },
            Field::Last => Person { first_name: None, last_name: Some(words.join(" ")) },
            // "mon nom c'est Diallo": one word after "nom" is the family name;
            // "my name is Grace": one word after "name" is the first name.
            Field::Whole => assign(&words, at(i) == "nom"),
        });
    }
    None
}

/// The name given in answer to "what is the patient's name?": the words
/// before any date or birth cue ("Awa Mendy, 15/05/1990", "Awa Mendy née le …").
pub fn name_reply(text: &str) -> Option<(String, String)> {
    let name_part: Vec<&str> = text
        .split_whitespace()
        .take_while(|w| {
            !w.chars().any(|c| c.is_ascii_digit()) && !matches!(fold(w).as_str(), "ne" | "nee" | "born" | "ddn" | "dob" | "date")
        })
        .collect();
    let name_part = name_part.join(" ");
    parse_person_name(name_part.trim_matches(|c: char| c == ',' || c == ';' || c.is_whitespace()))
}

/// A reply that is only a name ("Awa Mendy", "MENDY Awa"), as given when the
/// secretary just asked for it. Two to four name-like words, nothing else.
pub fn parse_person_name(text: &str) -> Option<(String, String)> {
    let toks = tokens(text);
    let person = extract_person(&toks);
    if let (Some(f), Some(l)) = (&person.first_name, &person.last_name) {
        return Some((f.clone(), l.clone()));
    }
    let words: Vec<&str> = toks.iter().filter(|t| is_name_token(t, false)).map(|t| t.original).collect();
    if words.len() < 2 || words.len() > 4 || words.len() != toks.len() {
        return None;
    }
    match assign(&words, false) {
        Person { first_name: Some(f), last_name: Some(l) } => Some((f, l)),
        _ => None,
    }
}

const PRACTITIONER_TITLES: &[&str] = &["dr", "docteur", "doc", "doctor", "doctoresse", "pr", "professeur", "prof", "dokta", "docta"];

/// "Dr Kabeya" → "Kabeya"; "Dr Aminata Mendy" → "Aminata Mendy"; with a
/// clinic lexicon, the clinic's spelling ("dr mbuy" → "Mbuyi").
pub fn extract_practitioner(toks: &[Token<'_>], lexicon: Option<&ClinicLexicon>) -> Option<String> {
    let specialty = |w: &str| {
        GLOSSARY.iter().any(|e| e.surfaces.iter().any(|s| s.trim() == w))
            || w.ends_with("logue")
            || w.ends_with("iste")
            || w.ends_with("ologist")
            || w.ends_with("tre")
    };
    for (i, t) in toks.iter().enumerate() {
        // "pr" is SMS for "pour" unless written as the title "Pr" / "Pr.".
        if !PRACTITIONER_TITLES.contains(&t.folded.as_str()) || t.folded == "pr" && t.original != "Pr" {
            continue;
        }
        let mut words: Vec<&str> = Vec::new();
        for next in &toks[i + 1..] {
            let capital = next.original.chars().next().is_some_and(char::is_uppercase);
            if words.len() == 2 || !is_name_token(next, false) || specialty(&next.folded) {
                break;
            }
            if !words.is_empty() && !capital {
                break;
            }
            words.push(next.original);
        }
        if words.is_empty() {
            continue;
        }
        let written = words.join(" ");
        if let Some(lex) = lexicon
            && let Some(found) = lex.match_practitioner(&written).or_else(|| lex.match_practitioner(words[0]))
        {
            return Some(found);
        }
        return Some(written);
    }
    // Without a title, a clinic practitioner's surname on its own still counts.
    let lex = lexicon?;
    toks.iter().find_map(|t| {
        let capital = t.original.chars().next().is_some_and(char::is_uppercase);
        (capital && t.folded.len() >= 4 && lex.practitioners.iter().any(|(last, _, _)| *last == fold(t.original)))
            .then(|| lex.match_practitioner(t.original))
            .flatten()
    })
}
