//! Patient-facing texts. They live in `prompts/replies/{fr,en}.ftl` (Fluent),
//! are embedded in the binary at build time and checked for matching messages
//! and variables by the tests. Fluent lets a language choose its own grammar:
//! French picks its articles from `$service_gender` and `$clinic_gender`,
//! which `render` derives from the service and clinic names it is given.
//! Also: dates written the way patients read them.

use crate::domain::{Channel, Lang};
use crate::understanding::normalize::fold;
use chrono::{Datelike, NaiveDate, NaiveTime, Weekday};
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource};
use std::sync::LazyLock;

const FR: &str = include_str!("../../prompts/replies/fr.ftl");
const EN: &str = include_str!("../../prompts/replies/en.ftl");

pub struct Texts {
    fr: FluentBundle<FluentResource>,
    en: FluentBundle<FluentResource>,
    fr_keys: Vec<String>,
    en_keys: Vec<String>,
}

fn bundle(lang: &str, source: &'static str) -> (FluentBundle<FluentResource>, Vec<String>) {
    let resource = FluentResource::try_new(source.to_string()).unwrap_or_else(|(_, e)| panic!("prompts/replies/{lang}.ftl: {e:?}"));
    let mut keys: Vec<String> = resource
        .entries()
        .filter_map(|e| match e {
            fluent_syntax::ast::Entry::Message(m) => Some(m.id.name.to_string()),
            _ => None,
        })
        .collect();
    keys.sort_unstable();
    let mut bundle = FluentBundle::new_concurrent(vec![lang.parse().expect("language tag")]);
    // Replies go to SMS and WhatsApp as plain text: no Unicode isolation marks.
    bundle.set_use_isolating(false);
    bundle.add_resource(resource).unwrap_or_else(|e| panic!("prompts/replies/{lang}.ftl: {e:?}"));
    (bundle, keys)
}

static TEXTS: LazyLock<Texts> = LazyLock::new(|| {
    let (fr, fr_keys) = bundle("fr", FR);
    let (en, en_keys) = bundle("en", EN);
    Texts { fr, en, fr_keys, en_keys }
});

pub fn texts() -> &'static Texts {
    &TEXTS
}

impl Texts {
    fn bundle(&self, lang: Lang) -> &FluentBundle<FluentResource> {
        match lang {
            Lang::Fr => &self.fr,
            Lang::En => &self.en,
        }
    }

    /// The message `key` in `lang` with its variables filled. A `service` or
    /// `clinic` argument also gives its grammatical gender to the message.
    pub fn render(&self, lang: Lang, key: &str, args: &[(&str, &str)]) -> String {
        self.try_render(lang, key, args).unwrap_or_else(|e| panic!("text {key} ({lang:?}): {e}"))
    }

    fn try_render(&self, lang: Lang, key: &str, args: &[(&str, &str)]) -> Result<String, String> {
        let bundle = self.bundle(lang);
        let pattern = bundle.get_message(key).and_then(|m| m.value()).ok_or_else(|| format!("missing text {key}"))?;
        let mut fluent_args = FluentArgs::new();
        for (name, value) in args {
            fluent_args.set(*name, *value);
            match *name {
                "service" => fluent_args.set("service_gender", service_gender(value)),
                "clinic" => fluent_args.set("clinic_gender", clinic_gender(value)),
                _ => {}
            }
        }
        let mut errors = Vec::new();
        let text = bundle.format_pattern(pattern, Some(&fluent_args), &mut errors).into_owned();
        if errors.is_empty() { Ok(text) } else { Err(format!("{errors:?}")) }
    }

    pub fn keys(&self, lang: Lang) -> Vec<&str> {
        let keys = match lang {
            Lang::Fr => &self.fr_keys,
            Lang::En => &self.en_keys,
        };
        keys.iter().map(String::as_str).collect()
    }

    /// The variables a message needs: those its rendering misses with no arguments.
    #[cfg(test)]
    fn variables(&self, lang: Lang, key: &str) -> Vec<String> {
        let bundle = self.bundle(lang);
        let pattern = bundle.get_message(key).and_then(|m| m.value()).expect("message has a value");
        let mut errors = Vec::new();
        let _ = bundle.format_pattern(pattern, None, &mut errors);
        let mut names: Vec<String> = errors
            .iter()
            .filter_map(|e| match e {
                fluent_bundle::FluentError::ResolverError(fluent_bundle::resolver::ResolverError::Reference(
                    fluent_bundle::resolver::errors::ReferenceKind::Variable { id },
                )) => Some(id.clone()),
                _ => None,
            })
            .filter(|n| !n.ends_with("_gender"))
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

/// The grammatical gender of a French service name, from its first word:
/// "consultation", "échographie", "prise de sang" are feminine; "contrôle",
/// "détartrage", "vaccin" masculine. Used only to choose "un"/"une".
pub fn service_gender(name: &str) -> &'static str {
    let folded = fold(name);
    let first = folded.split_whitespace().next().unwrap_or("");
    const MASCULINE: &[&str] = &[
        "controle",
        "vaccin",
        "bilan",
        "test",
        "certificat",
        "suivi",
        "examen",
        "soin",
        "soins",
        "rendez-vous",
        "frottis",
        "pansement",
        "accouchement",
    ];
    const FEMININE_ENDINGS: &[&str] =
        &["tion", "sion", "ie", "ure", "ade", "ance", "ence", "ette", "ise", "ose", "ite", "ee", "te", "ique", "ine"];
    if MASCULINE.contains(&first) || first.ends_with("age") || first.ends_with("isme") {
        "masculine"
    } else if FEMININE_ENDINGS.iter().any(|e| first.ends_with(e)) {
        "feminine"
    } else {
        "masculine"
    }
}

/// How French says "of" before a clinic's name: "du Centre médical Nuru",
/// "de la Clinique Ngaliema", "de l'Hôpital du Cinquantenaire", and, for a
/// name without a common noun first, "de Nuru Santé" / "d'Afia Santé".
pub fn clinic_gender(name: &str) -> &'static str {
    let folded = fold(name);
    let first = folded.split_whitespace().next().unwrap_or("");
    let vowel = first.starts_with(['a', 'e', 'i', 'o', 'u', 'y', 'h']);
    const MASCULINE: &[&str] = &["centre", "cabinet", "dispensaire", "poste", "groupe", "service", "complexe", "laboratoire"];
    const FEMININE: &[&str] =
        &["clinique", "polyclinique", "maison", "maternite", "fondation", "pharmacie", "cite", "structure", "mutuelle"];
    const ELIDED: &[&str] = &["hopital", "institut", "espace", "hospice", "etablissement", "unite"];
    if MASCULINE.contains(&first) {
        "masculine"
    } else if FEMININE.contains(&first) {
        "feminine"
    } else if ELIDED.contains(&first) {
        "elided"
    } else if vowel {
        "bare_elided"
    } else {
        "bare"
    }
}

/// Adapts a reply to its channel: SMS has no emoji (one emoji makes the whole
/// SMS UCS-2 and halves its length) and no decorative bullets.
pub fn for_channel(text: &str, channel: Channel) -> String {
    if channel != Channel::Sms {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let emoji = matches!(c as u32, 0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0xFE0F | 0x200D);
        match c {
            '•' => out.push('-'),
            '–' => out.push('-'),
            _ if emoji => {}
            _ => out.push(c),
        }
    }
    // A removed emoji leaves its spaces behind: collapse them.
    out.lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect::<Vec<_>>().join("\n")
}

/// Twilio refuses a `Body` longer than 1,600 characters (error 21658).
pub const MAX_MESSAGE_CHARS: usize = 1600;

/// Splits a reply into messages of at most [`MAX_MESSAGE_CHARS`]: whole lines
/// where they fit, a longer line at its last space before the limit (or
/// mid-word when it has none). Nothing is dropped.
pub fn split_for_sending(body: &str) -> Vec<String> {
    if body.chars().count() <= MAX_MESSAGE_CHARS {
        return vec![body.to_string()];
    }
    let mut pieces: Vec<String> = Vec::new();
    for line in body.lines() {
        let mut rest: Vec<char> = line.chars().collect();
        while rest.len() > MAX_MESSAGE_CHARS {
            let cut = rest[..=MAX_MESSAGE_CHARS].iter().rposition(|c| c.is_whitespace()).filter(|&i| i > 0).unwrap_or(MAX_MESSAGE_CHARS);
            pieces.push(rest[..cut].iter().collect::<String>().trim_end().to_string());
            rest = rest[cut..].iter().copied().skip_while(|c| c.is_whitespace()).collect();
        }
        pieces.push(rest.into_iter().collect());
    }
    let mut parts = vec![String::new()];
    for piece in pieces {
        let current = parts.last_mut().expect("one part");
        if !current.is_empty() && current.chars().count() + piece.chars().count() + 1 > MAX_MESSAGE_CHARS {
            parts.push(piece);
        } else {
            if !current.is_empty() {
                current.push('\n');
            }
            current.push_str(&piece);
        }
    }
    parts
}

const FR_DAYS: [&str; 7] = ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"];
const EN_DAYS: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
const FR_MONTHS: [&str; 12] =
    ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"];
const EN_MONTHS: [&str; 12] =
    ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

/// "lundi 23 novembre" / "Monday 23 November".
pub fn day(lang: Lang, d: NaiveDate) -> String {
    let wd = d.weekday().num_days_from_monday() as usize;
    let m = d.month0() as usize;
    match lang {
        Lang::Fr => format!("{} {} {}", FR_DAYS[wd], if d.day() == 1 { "1er".to_string() } else { d.day().to_string() }, FR_MONTHS[m]),
        Lang::En => format!("{} {} {}", EN_DAYS[wd], d.day(), EN_MONTHS[m]),
    }
}

pub fn weekday_name(lang: Lang, wd: Weekday) -> &'static str {
    let i = wd.num_days_from_monday() as usize;
    match lang {
        Lang::Fr => FR_DAYS[i],
        Lang::En => EN_DAYS[i],
    }
}

/// "consultation" → "Consultation", for list items.
pub fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// "09:30" in both languages: unambiguous on every phone.
pub fn time(t: NaiveTime) -> String {
    t.format("%H:%M").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_have_the_same_messages_and_variables() {
        let t = texts();
        assert_eq!(t.keys(Lang::Fr), t.keys(Lang::En));
        for key in t.keys(Lang::Fr) {
            assert_eq!(t.variables(Lang::Fr, key), t.variables(Lang::En, key), "variables of {key}");
        }
    }

    /// Every message the conversation code names exists in both languages: the
    /// first string of each `say`, `render` and `misunderstood` call, and every
    /// snake_case literal that is not one of the messages' variables.
    #[test]
    fn every_message_named_in_code_exists_in_both_languages() {
        let t = texts();
        let sources = [
            include_str!("booking.rs"),
            include_str!("changes.rs"),
            include_str!("offers.rs"),
            include_str!("replies.rs"),
            include_str!("select.rs"),
            include_str!("shell.rs"),
            include_str!("step.rs"),
            include_str!("turn.rs"),
        ];
        let keys = t.keys(Lang::Fr);
        let variables: Vec<String> = keys.iter().flat_map(|k| t.variables(Lang::Fr, k)).collect();
        let mut named = std::collections::BTreeSet::new();
        for source in sources {
            let code = source.split("#[cfg(test)]").next().unwrap();
            for call in ["say(", "render(", "misunderstood("] {
                for (i, _) in code.match_indices(call) {
                    let rest = &code[i + call.len()..];
                    let args = &rest[..rest.find(';').unwrap_or(rest.len())];
                    if let Some(literal) = args.split('"').nth(1).filter(|l| {
                        !l.is_empty() && l.chars().all(|c| c.is_ascii_lowercase() || c == '_') && !variables.iter().any(|v| v == l)
                    }) {
                        named.insert(literal.to_string());
                    }
                }
            }
            for literal in code.split('"').skip(1).step_by(2) {
                let snake = literal.contains('_') && literal.chars().all(|c| c.is_ascii_lowercase() || c == '_');
                if snake && !variables.iter().any(|v| v == literal) {
                    named.insert(literal.to_string());
                }
            }
        }
        assert!(named.len() > 40, "the scan finds the messages ({})", named.len());
        for key in &named {
            assert!(keys.contains(&key.as_str()), "message {key} is named in code but missing from fr.ftl");
            assert!(t.keys(Lang::En).contains(&key.as_str()), "message {key} is named in code but missing from en.ftl");
        }
    }

    #[test]
    fn french_chooses_its_articles() {
        let t = texts();
        let welcome = |clinic| t.render(Lang::Fr, "welcome", &[("clinic", clinic)]);
        assert!(welcome("Centre médical Nuru").contains("l'assistant du Centre médical Nuru"));
        assert!(welcome("Clinique Ngaliema").contains("l'assistant de la Clinique Ngaliema"));
        assert!(welcome("Hôpital du Cinquantenaire").contains("l'assistant de l'Hôpital du Cinquantenaire"));
        assert!(welcome("Afia Santé").contains("l'assistant d'Afia Santé"));
        assert!(welcome("Nuru Santé").contains("l'assistant de Nuru Santé"));
        let slots = |service| t.render(Lang::Fr, "propose_slots", &[("service", service), ("options", "1. …")]);
        assert!(slots("consultation").contains("pour une consultation :"), "{}", slots("consultation"));
        assert!(slots("échographie").contains("pour une échographie :"));
        assert!(slots("contrôle").contains("pour un contrôle :"));
        assert!(slots("détartrage").contains("pour un détartrage :"));
        assert!(t.render(Lang::En, "propose_slots", &[("service", "consultation"), ("options", "1. …")]).contains("for consultation:"));
        assert!(!slots("vaccination").contains('\u{2068}'), "no isolation marks in plain-text replies");
    }

    #[test]
    fn a_reply_longer_than_twilio_takes_is_split_and_loses_nothing() {
        let long_line = "mot ".repeat(1000); // 4,000 characters on one line
        let body = format!("Bonjour\n{long_line}\nfin");
        let parts = split_for_sending(&body);
        assert!(parts.len() >= 3, "{}", parts.len());
        assert!(parts.iter().all(|p| p.chars().count() <= MAX_MESSAGE_CHARS));
        let words = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        assert_eq!(words(&parts.join(" ")), words(&body), "every word is sent, in order");
        let no_space = "x".repeat(3500);
        let parts = split_for_sending(&no_space);
        assert_eq!(parts.concat(), no_space);
        assert!(parts.iter().all(|p| p.chars().count() <= MAX_MESSAGE_CHARS));
    }

    proptest::proptest! {
        #[test]
        fn splitting_keeps_every_word_and_the_limit(words in proptest::collection::vec("[a-zé]{1,12}|\n", 0..600)) {
            let body = words.join(" ");
            let parts = split_for_sending(&body);
            proptest::prop_assert!(parts.iter().all(|p| p.chars().count() <= MAX_MESSAGE_CHARS));
            let split = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
            proptest::prop_assert_eq!(split(&parts.join(" ")), split(&body));
        }
    }

    #[test]
    fn sms_drops_emoji() {
        assert_eq!(for_channel("C'est réservé ✅\n📅 lundi", Channel::Sms), "C'est réservé\nlundi");
        assert_eq!(for_channel("ok ✅", Channel::WhatsApp), "ok ✅");
    }

    #[test]
    fn days_read_naturally() {
        let d = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        assert_eq!(day(Lang::Fr, d), "mardi 1er décembre");
        assert_eq!(day(Lang::En, d), "Tuesday 1 December");
    }
}
