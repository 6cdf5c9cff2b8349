//! Patient-facing texts. They live in `prompts/replies/{fr,en}.toml`, are
//! embedded in the binary at build time and checked for matching keys and
//! placeholders by the tests. Also: dates written the way patients read them.

use crate::domain::{Channel, Lang};
use chrono::{Datelike, NaiveDate, NaiveTime, Weekday};
use std::collections::HashMap;
use std::sync::LazyLock;

const FR: &str = include_str!("../prompts/replies/fr.toml");
const EN: &str = include_str!("../prompts/replies/en.toml");

pub struct Texts {
    fr: HashMap<String, String>,
    en: HashMap<String, String>,
}

static TEXTS: LazyLock<Texts> = LazyLock::new(|| Texts {
    fr: toml::from_str(FR).expect("prompts/replies/fr.toml is valid TOML of strings"),
    en: toml::from_str(EN).expect("prompts/replies/en.toml is valid TOML of strings"),
});

pub fn texts() -> &'static Texts {
    &TEXTS
}

impl Texts {
    /// The text `key` in `lang` with `{name}` placeholders filled.
    pub fn render(&self, lang: Lang, key: &str, args: &[(&str, &str)]) -> String {
        let table = match lang {
            Lang::Fr => &self.fr,
            Lang::En => &self.en,
        };
        let mut out = table.get(key).cloned().unwrap_or_else(|| panic!("missing text {key}"));
        for (name, value) in args {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        out
    }

    pub fn keys(&self, lang: Lang) -> Vec<&str> {
        let table = match lang {
            Lang::Fr => &self.fr,
            Lang::En => &self.en,
        };
        let mut keys: Vec<&str> = table.keys().map(String::as_str).collect();
        keys.sort_unstable();
        keys
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
    fn both_languages_have_the_same_keys_and_placeholders() {
        let t = texts();
        assert_eq!(t.keys(Lang::Fr), t.keys(Lang::En));
        let placeholders = |s: &str| {
            let mut v: Vec<String> = s.split('{').skip(1).filter_map(|p| p.split('}').next()).map(String::from).collect();
            v.sort();
            v
        };
        for key in t.keys(Lang::Fr) {
            assert_eq!(placeholders(&t.fr[key]), placeholders(&t.en[key]), "placeholders of {key}");
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
