//! Scoring the extractor against a labelled corpus (`nuru eval-nlu FILE`):
//! intent accuracy, per-intent recall and precision, emergency recall and
//! false alarms, language accuracy, and entity precision/recall/F1 per key.
//!
//! A corpus line: `{"id", "text", "now", "tz", "intent", "language",
//! "entities": {...}}` with the conventions' formats (absent = omitted);
//! `"intent_only": true` marks a batch whose entities were not labelled.

use super::{Extraction, Intent};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;

#[derive(Debug, Clone, Deserialize)]
pub struct Labelled {
    #[serde(default)]
    pub id: serde_json::Value,
    pub text: String,
    pub now: String,
    #[serde(default = "default_tz")]
    pub tz: String,
    pub intent: Intent,
    pub language: String,
    #[serde(default)]
    pub entities: BTreeMap<String, serde_json::Value>,
    /// A batch labelled for intent and language only: its entities are not scored.
    #[serde(default)]
    pub intent_only: bool,
}

fn default_tz() -> String {
    "Africa/Kinshasa".into()
}

pub const ENTITY_KEYS: [&str; 10] =
    ["first_name", "last_name", "birth_date", "date", "time", "time_preference", "practitioner", "appointment_type", "email", "choice"];

#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    pub tp: u32,
    pub fp: u32,
    pub fn_: u32,
}

impl Counts {
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 { 0.0 } else { 2.0 * p * r / (p + r) }
    }
}

fn ratio(a: u32, b: u32) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

/// One disagreement, for `--errors`.
#[derive(Debug, Clone)]
pub struct Miss {
    pub id: String,
    pub text: String,
    pub what: String,
}

#[derive(Debug, Default)]
pub struct Report {
    pub messages: u32,
    pub intent_correct: u32,
    pub language_correct: u32,
    /// Per gold intent: (gold count, correctly predicted); per predicted intent: predicted count.
    pub per_intent: BTreeMap<&'static str, (u32, u32, u32)>,
    pub emergencies: u32,
    pub emergencies_found: u32,
    pub false_alarms: u32,
    pub entities: BTreeMap<&'static str, Counts>,
    pub misses: Vec<Miss>,
}

impl Report {
    pub fn intent_accuracy(&self) -> f64 {
        ratio(self.intent_correct, self.messages)
    }
    pub fn language_accuracy(&self) -> f64 {
        ratio(self.language_correct, self.messages)
    }
    pub fn emergency_recall(&self) -> f64 {
        ratio(self.emergencies_found, self.emergencies)
    }
    pub fn false_alarms_per_200(&self) -> f64 {
        if self.messages == 0 { 0.0 } else { self.false_alarms as f64 * 200.0 / self.messages as f64 }
    }
    /// Micro-averaged over every key.
    pub fn entity_totals(&self) -> Counts {
        self.entities.values().fold(Counts::default(), |a, c| Counts { tp: a.tp + c.tp, fp: a.fp + c.fp, fn_: a.fn_ + c.fn_ })
    }

    /// Adds one message: its gold labels and what the extractor said.
    pub fn add(&mut self, gold: &Labelled, got: &Extraction) {
        self.messages += 1;
        let id = match &gold.id {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let miss = |what: String| Miss { id: id.clone(), text: gold.text.clone(), what };
        let (g, p) = (gold.intent.as_str(), got.intent.as_str());
        self.per_intent.entry(g).or_default().0 += 1;
        self.per_intent.entry(p).or_default().2 += 1;
        if g == p {
            self.intent_correct += 1;
            self.per_intent.entry(g).or_default().1 += 1;
        } else {
            self.misses.push(miss(format!("intent {g} → {p}")));
        }
        if gold.language == got.language.as_str() {
            self.language_correct += 1;
        } else {
            self.misses.push(miss(format!("language {} → {}", gold.language, got.language.as_str())));
        }
        if gold.intent == Intent::Emergency {
            self.emergencies += 1;
            if got.intent == Intent::Emergency {
                self.emergencies_found += 1;
            }
        } else if got.intent == Intent::Emergency {
            self.false_alarms += 1;
        }
        if gold.intent_only {
            return;
        }
        let predicted = serde_json::to_value(&got.entities).unwrap_or_default();
        for key in ENTITY_KEYS {
            let want = gold.entities.get(key).filter(|v| !v.is_null());
            let have = predicted.get(key).filter(|v| !v.is_null());
            let c = self.entities.entry(key).or_default();
            match (want, have) {
                (Some(w), Some(h)) if same(w, h) => c.tp += 1,
                (Some(w), Some(h)) => {
                    c.fp += 1;
                    c.fn_ += 1;
                    self.misses.push(miss(format!("{key} {w} → {h}")));
                }
                (Some(w), None) => {
                    c.fn_ += 1;
                    self.misses.push(miss(format!("{key} {w} → (none)")));
                }
                (None, Some(h)) => {
                    c.fp += 1;
                    self.misses.push(miss(format!("{key} (none) → {h}")));
                }
                (None, None) => {}
            }
        }
    }
}

/// Names compare without regard to case; everything else exactly.
fn same(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    match (a.as_str(), b.as_str()) {
        (Some(x), Some(y)) => x.trim().to_lowercase() == y.trim().to_lowercase(),
        _ => a == b,
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "messages            {}", self.messages)?;
        writeln!(f, "intent accuracy     {:.4} ({}/{})", self.intent_accuracy(), self.intent_correct, self.messages)?;
        writeln!(f, "language accuracy   {:.4}", self.language_accuracy())?;
        writeln!(f, "emergency recall    {:.4} ({}/{})", self.emergency_recall(), self.emergencies_found, self.emergencies)?;
        writeln!(f, "false alarms        {} ({:.2} per 200 messages)", self.false_alarms, self.false_alarms_per_200())?;
        writeln!(f, "\nintent                 gold  recall  precision")?;
        for intent in Intent::ALL {
            let (gold, correct, predicted) = self.per_intent.get(intent.as_str()).copied().unwrap_or_default();
            writeln!(f, "{:<22} {:>5}  {:>6.3}  {:>9.3}", intent.as_str(), gold, ratio(correct, gold), ratio(correct, predicted))?;
        }
        writeln!(f, "\nentity              gold  precision  recall      f1")?;
        for key in ENTITY_KEYS {
            let c = self.entities.get(key).copied().unwrap_or_default();
            writeln!(f, "{key:<18} {:>5}  {:>9.3}  {:>6.3}  {:>6.3}", c.tp + c.fn_, c.precision(), c.recall(), c.f1())?;
        }
        let t = self.entity_totals();
        writeln!(f, "{:<18} {:>5}  {:>9.3}  {:>6.3}  {:>6.3}", "all (micro)", t.tp + t.fn_, t.precision(), t.recall(), t.f1())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::understanding::{Entities, Extraction};

    fn gold(intent: Intent, entities: serde_json::Value) -> Labelled {
        serde_json::from_value(serde_json::json!({
            "id": "x", "text": "t", "now": "2026-11-23T09:15:00", "intent": intent, "language": "fr", "entities": entities
        }))
        .unwrap()
    }

    #[test]
    fn scores_count_right_wrong_missing_and_extra() {
        let mut r = Report::default();
        let got = Extraction {
            intent: Intent::Emergency,
            language: crate::domain::Lang::Fr,
            entities: Entities { first_name: Some("Awa".into()), time: chrono::NaiveTime::from_hms_opt(10, 0, 0), ..Entities::default() },
            confidence: 1.0,
            signals: Default::default(),
            name_reply: None,
            stated_name: None,
            mentions: Default::default(),
        };
        r.add(&gold(Intent::BookAppointment, serde_json::json!({"first_name": "awa", "date": "2026-11-24", "time": "11:00"})), &got);
        assert_eq!(r.intent_accuracy(), 0.0);
        assert_eq!(r.false_alarms, 1);
        let e = &r.entities;
        assert_eq!((e["first_name"].tp, e["date"].fn_, e["time"].fp, e["time"].fn_), (1, 1, 1, 1));
        let t = r.entity_totals();
        assert_eq!((t.tp, t.fp, t.fn_), (1, 1, 2));
        assert!(r.to_string().contains("intent accuracy     0.0000"));
    }
}
