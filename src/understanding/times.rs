//! Times of day ("10h30", "3pm", "midi", "2h de l'après-midi") and time
//! preferences (matin, afternoon, ce soir), on folded text.

use super::{Intent, TimePreference};
use chrono::NaiveTime;
use regex::Regex;
use std::sync::LazyLock;

#[derive(Debug, Default)]
pub struct TimeFacts {
    pub time: Option<NaiveTime>,
    pub preference: Option<TimePreference>,
    /// Byte spans of the folded text used by times, so dates do not reuse them.
    pub spans: Vec<(usize, usize)>,
}

static H_TIME: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b([01]?\d|2[0-3]) ?(?:h|heures?|heure|hr|hrs)(?: ?([0-5]\d))?\b").unwrap());
static COLON_TIME: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b([01]?\d|2[0-3])[:]([0-5]\d)\b").unwrap());
static AMPM_TIME: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b(1[0-2]|0?[1-9])(?:[:.]([0-5]\d))? ?(am|pm|a\.m|p\.m)\b").unwrap());
static WORD_TIME: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b(midi|noon|minuit|midnight)\b").unwrap());
static PERIOD_SUFFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(de l'apres[- ]midi|de l'aprem|de l apres[- ]midi|l'apres[- ]midi|du soir|de la soiree|in the afternoon|in the evening|at night|du matin|in the morning|le soir|le matin)").unwrap()
});
static PREFERENCE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(matin|matinee|mat|morning|apres[- ]midi|apres midi|aprem|apm|afternoon|soir|soiree|evening|tonight)\b").unwrap()
});

fn rejected_or_history(before: &str) -> bool {
    let b = before.trim_end();
    [
        "pas",
        "pas a",
        "pas à",
        "not",
        "not at",
        "depuis",
        "since",
        "dans",
        "in",
        "sauf",
        "except",
        "plus tard que",
        "apres",
        "after",
        "avant",
        "before",
    ]
    .iter()
    .any(|w| b.ends_with(&format!(" {w}")) || b == *w)
        || b.ends_with("depuis ce")
        || b.ends_with("since this")
}

pub fn extract(f: &str, intent: Intent) -> TimeFacts {
    let mut found: Vec<(usize, usize, NaiveTime)> = Vec::new();
    let mut period_spans: Vec<(usize, usize)> = Vec::new();
    let mut push = |start: usize, end: usize, h: u32, m: u32, found: &mut Vec<(usize, usize, NaiveTime)>| {
        if found.iter().any(|(s, e, _)| start < *e && end > *s) {
            return;
        }
        if rejected_or_history(&f[..start]) {
            return;
        }
        let mut h = h;
        let mut end = end;
        if let Some(sfx) = PERIOD_SUFFIX.captures(&f[end..]) {
            let period = &sfx[1];
            let pm = period.contains("apres")
                || period.contains("aprem")
                || period.contains("soir")
                || period.contains("afternoon")
                || period.contains("evening")
                || period.contains("night");
            if pm && h < 12 {
                h += 12;
            }
            let m0 = sfx.get(0).expect("whole match");
            period_spans.push((end + m0.start(), end + m0.end()));
            end += m0.end();
        }
        if let Some(t) = NaiveTime::from_hms_opt(h, m, 0) {
            found.push((start, end, t));
        }
    };
    for c in AMPM_TIME.captures_iter(f) {
        let m0 = c.get(0).expect("whole match");
        let mut h: u32 = c[1].parse().unwrap_or(0);
        let min: u32 = c.get(2).map_or(0, |m| m.as_str().parse().unwrap_or(0));
        let pm = c[3].starts_with('p');
        if pm && h < 12 {
            h += 12;
        }
        if !pm && h == 12 {
            h = 0;
        }
        push(m0.start(), m0.end(), h, min, &mut found);
    }
    for c in H_TIME.captures_iter(f) {
        let m0 = c.get(0).expect("whole match");
        if f[m0.end()..].starts_with('/') || f[..m0.start()].ends_with('/') {
            continue; // "24h/24"
        }
        push(m0.start(), m0.end(), c[1].parse().unwrap_or(0), c.get(2).map_or(0, |m| m.as_str().parse().unwrap_or(0)), &mut found);
    }
    for c in COLON_TIME.captures_iter(f) {
        let m0 = c.get(0).expect("whole match");
        push(m0.start(), m0.end(), c[1].parse().unwrap_or(0), c[2].parse().unwrap_or(0), &mut found);
    }
    for c in WORD_TIME.captures_iter(f) {
        let m0 = c.get(0).expect("whole match");
        let before = &f[..m0.start()];
        if before.ends_with("apres-") || before.ends_with("apres ") || before.ends_with("apres") {
            continue; // après-midi
        }
        let h = if matches!(&c[1], "midi" | "noon") { 12 } else { 0 };
        push(m0.start(), m0.end(), h, 0, &mut found);
    }
    found.sort_by_key(|(s, _, _)| *s);

    let mut facts = TimeFacts { spans: found.iter().map(|(s, e, _)| (*s, *e)).collect(), ..TimeFacts::default() };
    facts.time = if intent == Intent::ModifyAppointment { found.last() } else { found.first() }.map(|(_, _, t)| *t);

    for m in PREFERENCE.find_iter(f) {
        if period_spans.iter().any(|(s, e)| m.start() < *e && m.end() > *s) {
            continue;
        }
        let before = &f[..m.start()];
        let b = before.trim_end();
        if b.ends_with("good")
            || b.ends_with("bonne")
            || b.ends_with("bon")
            || b.ends_with("depuis ce")
            || b.ends_with("since this")
            || b.ends_with("hier")
            || b.ends_with("yesterday")
        {
            continue;
        }
        if intent == Intent::Emergency && (b.ends_with("ce") || b.ends_with("this")) {
            continue; // "he fainted this morning": history, not a wish
        }
        let word = m.as_str();
        let period = if word.starts_with("mat") || word == "morning" {
            TimePreference::Morning
        } else if word.starts_with("apres") || word.starts_with("aprem") || word == "apm" || word == "afternoon" {
            TimePreference::Afternoon
        } else {
            TimePreference::Evening
        };
        // "pas le matin", "not in the morning", "sauf l'après-midi": the
        // other half of the clinic's day is wanted.
        let read = if negated_period(before) {
            Some(if period == TimePreference::Morning { TimePreference::Afternoon } else { TimePreference::Morning })
        } else if rejected_or_history(before) {
            None
        } else {
            Some(period)
        };
        let Some(read) = read else { continue };
        // "le matin je travaille, plutôt l'après-midi": a period said as the
        // preferred one wins over one said before it.
        if facts.preference.is_none() || preferred_period(before) {
            facts.preference = Some(read);
        }
        if preferred_period(before) {
            break;
        }
    }
    facts
}

/// The last words before a period, past its article or preposition.
fn lead_word(before: &str) -> Option<&str> {
    before.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).rev().find(|w| {
        !matches!(*w, "le" | "la" | "l" | "les" | "the" | "in" | "a" | "en" | "dans" | "this" | "ce" | "de" | "du" | "during" | "au" | "an")
    })
}

/// A period negated right before it ("pas le matin", "not in the morning",
/// "no mornings", "sauf l'après-midi", "except the afternoon").
fn negated_period(before: &str) -> bool {
    matches!(lead_word(before), Some("pas" | "pa" | "not" | "no" | "sauf" | "except" | "jamais" | "never" | "but"))
}

/// A period said as the preferred one ("plutôt l'après-midi", "rather in the
/// afternoon", "de préférence le matin", "better evening").
fn preferred_period(before: &str) -> bool {
    matches!(lead_word(before), Some("plutot" | "rather" | "preference" | "prefere" | "prefer" | "better" | "instead" | "mieux"))
}
