//! Appointment dates and birth dates, resolved from the local date of "now"
//! following the conventions: weekdays are the first such day strictly after
//! today, day + month is the next occurrence on or after today, numeric dates
//! are day-first, two-digit years pivot on the current year.

use super::Intent;
use super::times::TimeFacts;
use chrono::{Datelike, Duration, NaiveDate, Weekday};
use regex::Regex;
use std::sync::LazyLock;

#[derive(Debug, Default)]
pub struct DateFacts {
    pub date: Option<NaiveDate>,
    pub birth_date: Option<NaiveDate>,
}

/// The first `weekday` strictly after `today`.
pub fn resolve_weekday(today: NaiveDate, weekday: Weekday) -> NaiveDate {
    let ahead = (weekday.num_days_from_monday() + 7 - today.weekday().num_days_from_monday()) % 7;
    today + Duration::days(if ahead == 0 { 7 } else { ahead as i64 })
}

/// The next `day`/`month` on or after `today` (skipping years where it does not exist).
pub fn resolve_day_month(today: NaiveDate, day: u32, month: u32) -> Option<NaiveDate> {
    (today.year()..today.year() + 9).filter_map(|y| NaiveDate::from_ymd_opt(y, month, day)).find(|d| *d >= today)
}

/// "le 5": this month if still to come (today included), otherwise next month.
fn resolve_day_alone(today: NaiveDate, day: u32) -> Option<NaiveDate> {
    let mut first = today.with_day(1)?;
    for _ in 0..3 {
        if let Some(d) = NaiveDate::from_ymd_opt(first.year(), first.month(), day).filter(|d| *d >= today) {
            return Some(d);
        }
        first = (first + Duration::days(32)).with_day(1)?;
    }
    None
}

fn expand_year(y: &str, today: NaiveDate) -> i32 {
    let n: i32 = y.parse().unwrap_or(0);
    if y.len() == 4 {
        n
    } else if n <= today.year() % 100 {
        2000 + n
    } else {
        1900 + n
    }
}

const MONTHS: &str = "janvier|janv|jan|january|fevrier|fevr|fev|feb|february|mars|march|mar|avril|avr|april|apr|mai|may|juin|june|jun|juillet|juil|july|jul|aout|august|aug|septembre|september|sept|sep|octobre|october|oct|novembre|november|nov|decembre|december|dec";

fn month_number(m: &str) -> u32 {
    match &m[..3] {
        "jan" => 1,
        "fev" | "feb" => 2,
        "mar" => 3,
        "avr" | "apr" => 4,
        "mai" | "may" => 5,
        "jui" if m.starts_with("juil") => 7,
        "jui" | "jun" => 6,
        "jul" => 7,
        "aou" | "aug" => 8,
        "sep" => 9,
        "oct" => 10,
        "nov" => 11,
        _ => 12,
    }
}

static ISO: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b").unwrap());
static NUMERIC: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b(\d{1,2})([/.-])(\d{1,2})(?:[/.-](\d{4}|\d{2}))?\b").unwrap());
static DAY_MONTH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"\b(\d{{1,2}})(?:er|eme|e|st|nd|rd|th)? (?:de |of )?({MONTHS})\b\.?(?:,? (\d{{4}})\b)?")).unwrap()
});
static MONTH_DAY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!(r"\b({MONTHS})\.? (?:the )?(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,? (\d{{4}})\b)?")).unwrap());
static WEEKDAY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|monday|tuesday|wednesday|thursday|friday|saturday|sunday|tues|tue|wed|thurs|thur|thu|fri)(s)?\b").unwrap()
});
static RELATIVE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(apres[- ]demain|apres[- ]dmn|day after tomorrow|aujourd'? ?hui|aujourdhui|auj|today|ce soir|tonight|cet aprem|cet apres[- ]midi|this afternoon|this evening|ce matin|this morning|demain|dmn|dem1|tomorrow|tmrw|tmr|2moro|(?:dans|ds|in) (\d{1,2}) (?:jours?|jrs?|days?))\b").unwrap()
});
static DAY_ALONE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(?:le|du|ce|on the|the|for the|pour le|au) (\d{1,2})(?:er|eme|e|st|nd|rd|th)?\b").unwrap());
static BIRTH_CUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:\bnee?|\bne|date de naissance|naissance|\bddn|\bdob|d\.o\.b|\bborn(?: on| for)?|birthday|birth date|date of birth|\bnee? en)\s*(?:le|on|the|:)?\s*:?\s*$").unwrap()
});
static REJECTED_AFTER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[ ,]*(?:a \d{1,2} ?h\S*|\d{1,2} ?h\S*)?[ ,]*(?:ne (?:me |m')?(?:va|convient|arrange|marche) pas|(?:ca |c'est )?(?:va|marche) pas|m'arrange pas|me va pas|doesn't work|does not work|won't work|isn't possible|is not possible|n'est pas possible|pas possible|impossible|is bad|is no good|c'est pas bon|je ne peux pas|i can't)").unwrap()
});

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Explicit { has_year: bool },
    Weekday,
    Relative,
    DayAlone,
}

struct Mention {
    start: usize,
    end: usize,
    kind: Kind,
    date: NaiveDate,
}

fn rejected_before(before: &str) -> bool {
    let b = before.trim_end();
    [
        "pas",
        "pas le",
        "pas la",
        "pas pour",
        "not",
        "not on",
        "not the",
        "sauf",
        "sauf le",
        "except",
        "except on",
        "depuis",
        "depuis le",
        "since",
        "since last",
        "no",
        "hier",
        "yesterday",
        // The current appointment, when another day is asked for instead.
        "plutot que",
        "plutot que le",
        "au lieu de",
        "au lieu du",
        "instead of",
        "rather than",
        "a la place de",
    ]
    .iter()
    .any(|w| b.ends_with(&format!(" {w}")) || b == *w)
}

fn habitual(before: &str, plural: bool, intent: Intent) -> bool {
    let b = before.trim_end();
    plural
        || ["les", "tous les", "chaque", "every", "on", "le", "each"].iter().any(|w| {
            let hit = b.ends_with(&format!(" {w}")) || b == *w;
            hit && match *w {
                "le" => matches!(intent, Intent::Information | Intent::ListPractitioners),
                "on" => false,
                _ => true,
            }
        })
}

pub fn extract(f: &str, today: NaiveDate, intent: Intent, times: &TimeFacts) -> DateFacts {
    let mut mentions: Vec<Mention> = Vec::new();
    let overlaps = |mentions: &[Mention], s: usize, e: usize| {
        mentions.iter().any(|m| s < m.end && e > m.start) || times.spans.iter().any(|(ts, te)| s < *te && e > *ts)
    };

    for c in ISO.captures_iter(f) {
        let m0 = c.get(0).expect("whole match");
        if let Some(d) = NaiveDate::from_ymd_opt(c[1].parse().unwrap_or(0), c[2].parse().unwrap_or(0), c[3].parse().unwrap_or(0)) {
            mentions.push(Mention { start: m0.start(), end: m0.end(), kind: Kind::Explicit { has_year: true }, date: d });
        }
    }
    for c in DAY_MONTH.captures_iter(f) {
        let m0 = c.get(0).expect("whole match");
        if overlaps(&mentions, m0.start(), m0.end()) {
            continue;
        }
        let (day, month) = (c[1].parse().unwrap_or(0), month_number(&c[2]));
        let date = match c.get(3) {
            Some(y) => NaiveDate::from_ymd_opt(expand_year(y.as_str(), today), month, day),
            None => resolve_day_month(today, day, month),
        };
        if let Some(d) = date {
            mentions.push(Mention { start: m0.start(), end: m0.end(), kind: Kind::Explicit { has_year: c.get(3).is_some() }, date: d });
        }
    }
    for c in MONTH_DAY.captures_iter(f) {
        let m0 = c.get(0).expect("whole match");
        if overlaps(&mentions, m0.start(), m0.end()) || (&c[1] == "may" && f[m0.end()..].starts_with(" i")) {
            continue;
        }
        let (month, day) = (month_number(&c[1]), c[2].parse().unwrap_or(0));
        let date = match c.get(3) {
            Some(y) => NaiveDate::from_ymd_opt(expand_year(y.as_str(), today), month, day),
            None => resolve_day_month(today, day, month),
        };
        if let Some(d) = date {
            mentions.push(Mention { start: m0.start(), end: m0.end(), kind: Kind::Explicit { has_year: c.get(3).is_some() }, date: d });
        }
    }
    for c in NUMERIC.captures_iter(f) {
        let m0 = c.get(0).expect("whole match");
        if overlaps(&mentions, m0.start(), m0.end()) || (&c[2] == "-" && c.get(4).is_none()) {
            continue;
        }
        let (day, month) = (c[1].parse().unwrap_or(0), c[3].parse().unwrap_or(0));
        let date = match c.get(4) {
            Some(y) => NaiveDate::from_ymd_opt(expand_year(y.as_str(), today), month, day),
            None => resolve_day_month(today, day, month),
        };
        if let Some(d) = date {
            mentions.push(Mention { start: m0.start(), end: m0.end(), kind: Kind::Explicit { has_year: c.get(4).is_some() }, date: d });
        }
    }
    for c in RELATIVE.captures_iter(f) {
        let m0 = c.get(0).expect("whole match");
        let word = &c[1];
        if overlaps(&mentions, m0.start(), m0.end()) {
            continue;
        }
        if (word == "ce matin" || word == "this morning")
            && !matches!(intent, Intent::BookAppointment | Intent::ModifyAppointment | Intent::ListPractitioners | Intent::Information)
        {
            continue;
        }
        let offset = if let Some(n) = c.get(2) {
            n.as_str().parse().unwrap_or(0)
        } else if word.starts_with("apres") || word.starts_with("day after") {
            2
        } else if word.starts_with("dem") || word == "dmn" || word.starts_with("tom") || word.starts_with("tm") || word == "2moro" {
            1
        } else {
            0
        };
        mentions.push(Mention { start: m0.start(), end: m0.end(), kind: Kind::Relative, date: today + Duration::days(offset) });
    }
    for c in WEEKDAY.captures_iter(f) {
        let m0 = c.get(0).expect("whole match");
        if overlaps(&mentions, m0.start(), m0.end()) || habitual(&f[..m0.start()], c.get(2).is_some(), intent) {
            continue;
        }
        let wd = match &c[1][..3] {
            "lun" | "mon" => Weekday::Mon,
            "mar" | "tue" => Weekday::Tue,
            "mer" | "wed" => Weekday::Wed,
            "jeu" | "thu" => Weekday::Thu,
            "ven" | "fri" => Weekday::Fri,
            "sam" | "sat" => Weekday::Sat,
            _ => Weekday::Sun,
        };
        mentions.push(Mention { start: m0.start(), end: m0.end(), kind: Kind::Weekday, date: resolve_weekday(today, wd) });
    }
    for c in DAY_ALONE.captures_iter(f) {
        let m0 = c.get(0).expect("whole match");
        let rest = f[m0.end()..].trim_start();
        let before = &f[..m0.start()];
        let follows_number_word = [
            "h",
            ":",
            "/",
            "heure",
            "am",
            "pm",
            "jour",
            "day",
            "min",
            "an",
            "year",
            "rue",
            "avenue",
            "av ",
            "bd",
            "boulevard",
            "%",
            "fois",
            "time",
            "ans",
        ]
        .iter()
        .any(|w| rest.starts_with(w))
            || rest.chars().next().is_some_and(|ch| ch.is_ascii_digit());
        if overlaps(&mentions, m0.start(), m0.end())
            || follows_number_word
            || before.contains("appel")
            || before.contains("call")
            || before.contains("compos")
        {
            continue;
        }
        if let Some(d) = resolve_day_alone(today, c[1].parse().unwrap_or(0)) {
            mentions.push(Mention { start: m0.start(), end: m0.end(), kind: Kind::DayAlone, date: d });
        }
    }
    mentions.sort_by_key(|m| m.start);

    let mut facts = DateFacts::default();
    let mut candidates: Vec<&Mention> = Vec::new();
    for (i, m) in mentions.iter().enumerate() {
        let before = &f[..m.start];
        let is_birth =
            BIRTH_CUE.is_match(before) || matches!(m.kind, Kind::Explicit { has_year: true }) && m.date < today - Duration::days(366);
        if is_birth {
            facts.birth_date.get_or_insert(m.date);
            continue;
        }
        let next_start = mentions.get(i + 1).map_or(f.len(), |n| n.start);
        // "je ne viendrai pas demain": for a cancellation the negation is about
        // coming, and the date names the appointment.
        if intent != Intent::CancelAppointment && (rejected_before(before) || REJECTED_AFTER.is_match(&f[m.end..next_start])) {
            continue;
        }
        // "mardi 15/12": the explicit date wins over its weekday.
        if m.kind == Kind::Weekday
            && mentions.get(i + 1).is_some_and(|n| matches!(n.kind, Kind::Explicit { .. } | Kind::DayAlone) && n.start <= m.end + 4)
        {
            continue;
        }
        if m.date < today {
            continue;
        }
        // "mon rdv de demain, je peux venir à 16h à la place ?": when a move
        // names the current appointment by its day and the new time apart,
        // that day is the old one.
        let names_current = ["rdv de", "rdv du", "rendez-vous de", "rendez-vous du", "appointment on", "appointment for", "booking on"]
            .iter()
            .any(|cue| before.trim_end().ends_with(cue));
        if intent == Intent::ModifyAppointment && names_current && mentions.len() == 1 && times.time.is_some() {
            continue;
        }
        candidates.push(m);
    }
    let chosen = if intent == Intent::ModifyAppointment { candidates.last() } else { candidates.first() };
    facts.date = chosen.map(|m| m.date);
    facts
}
