//! Understanding one patient message on its own: intent, language, entities
//! and signals, as `docs/understanding.md` defines them. Deterministic, no
//! I/O, no server: rules where they are precise and a linear classifier
//! trained from the corpus and shipped inside the binary (`classifier`,
//! combined by `policy`); this is the embedded default and the fast path.
//! The optional model (`crate::model`) is only asked about what these
//! cannot settle.

pub mod classifier;
mod danger;
mod dates;
pub mod eval;
mod intent;
mod lexicon;
mod mentions;
mod names;
pub mod normalize;
mod phrases;
pub mod policy;
mod questions;
mod rating;
mod signals;
mod times;

pub use dates::{resolve_day_month, resolve_weekday};
pub use lexicon::ClinicLexicon;
pub use mentions::Mentions;
pub use names::parse_person_name;
pub use questions::Asks;
pub use rating::Rating;
pub use signals::{ConsentWord, Signals};

use crate::domain::Lang;
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use serde::{Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Intent {
    Emergency,
    HumanHandoff,
    BookAppointment,
    ModifyAppointment,
    CancelAppointment,
    ListAppointments,
    ListPractitioners,
    Information,
    Greeting,
    Affirmative,
    Negative,
    Unknown,
}

impl Intent {
    pub const ALL: [Intent; 12] = [
        Intent::Emergency,
        Intent::HumanHandoff,
        Intent::BookAppointment,
        Intent::ModifyAppointment,
        Intent::CancelAppointment,
        Intent::ListAppointments,
        Intent::ListPractitioners,
        Intent::Information,
        Intent::Greeting,
        Intent::Affirmative,
        Intent::Negative,
        Intent::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Intent::Emergency => "EMERGENCY",
            Intent::HumanHandoff => "HUMAN_HANDOFF",
            Intent::BookAppointment => "BOOK_APPOINTMENT",
            Intent::ModifyAppointment => "MODIFY_APPOINTMENT",
            Intent::CancelAppointment => "CANCEL_APPOINTMENT",
            Intent::ListAppointments => "LIST_APPOINTMENTS",
            Intent::ListPractitioners => "LIST_PRACTITIONERS",
            Intent::Information => "INFORMATION",
            Intent::Greeting => "GREETING",
            Intent::Affirmative => "AFFIRMATIVE",
            Intent::Negative => "NEGATIVE",
            Intent::Unknown => "UNKNOWN",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TimePreference {
    Morning,
    Afternoon,
    Evening,
}

fn ser_date<S: Serializer>(d: &Option<NaiveDate>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_str(&d.format("%Y-%m-%d").to_string()),
        None => s.serialize_none(),
    }
}

fn ser_time<S: Serializer>(t: &Option<NaiveTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&t.format("%H:%M").to_string()),
        None => s.serialize_none(),
    }
}

/// The entities of one message; absent ones are omitted from the JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Entities {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ser_date")]
    pub birth_date: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ser_date")]
    pub date: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ser_time")]
    pub time: Option<NaiveTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_preference: Option<TimePreference>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub practitioner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub appointment_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub choice: Option<u32>,
}

/// The fields of a name a message states explicitly.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatedName {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

/// What the extractor understood, with how sure it is (0 to 1) so that the
/// conversation can ask the patient, or later a model, when it is unsure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Extraction {
    pub intent: Intent,
    pub language: Lang,
    pub entities: Entities,
    #[serde(skip)]
    pub confidence: f32,
    /// What the message signals for the conversation (relative, restart, closing).
    #[serde(skip)]
    pub signals: Signals,
    /// The message read as the answer to "what is the patient's name?": the
    /// words before any date or birth cue, as first and last name
    /// ("Awa Mendy, 15/05/1990", "awa mendy").
    #[serde(skip)]
    pub name_reply: Option<(String, String)>,
    /// A name stated with its field word ("my surname is Okoye", "mon prénom
    /// c'est Aminata"): how a patient corrects a recap.
    #[serde(skip)]
    pub stated_name: Option<StatedName>,
    /// The clinic's practitioners and services named, as ids (with a lexicon).
    #[serde(skip)]
    pub mentions: Mentions,
}

/// Understands `text` written at local wall-clock time `now` (in the clinic's
/// zone). `lexicon` adds the clinic's own practitioners and services.
/// The language a longer text (a document) is written in, by its marker words.
pub fn language_of_text(text: &str) -> Lang {
    lexicon::detect_language(&normalize::tokens(text))
}

/// The intent classifier this binary ships (`nuru train-intent` writes it).
pub static SHIPPED_MODEL: std::sync::LazyLock<classifier::Model> = std::sync::LazyLock::new(|| {
    classifier::Model::from_bytes(include_bytes!("intent-model.bin")).expect("the shipped intent model matches this build")
});

/// The text the classifier reads: padded folded words, shorthand written out
/// (what the rules read too).
pub fn classifier_text(text: &str) -> String {
    normalize::expand_shorthand(&normalize::padded(&normalize::tokens(text)))
}

pub fn extract(text: &str, now: NaiveDateTime, lexicon: Option<&ClinicLexicon>) -> Extraction {
    extract_with(text, now, lexicon, Some(&SHIPPED_MODEL))
}

/// [`extract`] with another classifier (cross-validation), or the rules
/// alone (`None`).
pub fn extract_with(text: &str, now: NaiveDateTime, lexicon: Option<&ClinicLexicon>, model: Option<&classifier::Model>) -> Extraction {
    let tokens = normalize::tokens(text);
    let folded = normalize::fold(text);
    let padded = normalize::expand_shorthand(&normalize::padded(&tokens));
    let language = lexicon::detect_language(&tokens);
    let today = now.date();

    let choice = intent::whole_message_choice(&folded);
    let mut entities = Entities { choice, ..Entities::default() };
    let rule = intent::classify(&padded, &folded, choice.is_some());
    let shape = policy::Shape { choice: choice.is_some(), question: signals::is_question(text, &padded) };
    let (intent, decision) = policy::combine(rule, shape, model, &padded);

    if choice.is_none() {
        let times = times::extract(&folded, intent);
        let dates = dates::extract(&folded, today, intent, &times);
        entities.date = dates.date;
        entities.birth_date = dates.birth_date;
        entities.time = times.time;
        entities.time_preference = times.preference;
        // An e-mail address is not a name ("Awa.Mendy@gmail.com").
        let without_email: String = text.split_whitespace().filter(|w| !w.contains('@')).collect::<Vec<_>>().join(" ");
        let name_tokens = normalize::tokens(&without_email);
        let mut person = names::extract_person(&name_tokens);
        if intent == Intent::Unknown && person.first_name.is_none() && person.last_name.is_none() {
            person = names::bare_name(&name_tokens);
        }
        entities.first_name = person.first_name;
        entities.last_name = person.last_name;
        entities.practitioner = names::extract_practitioner(&tokens, lexicon);
        entities.appointment_type = lexicon::appointment_type(&padded, language, lexicon);
        entities.email = lexicon::email(&folded);
        // In an emergency, "ce soir" or "this morning" tell when it happens,
        // not when to come: keep a slot only if an appointment is mentioned.
        if intent == Intent::Emergency && !intent::mentions_appointment(&padded) {
            entities.date = None;
            entities.time = None;
            entities.time_preference = None;
        }
    }

    let confidence = match (intent, decision) {
        (_, policy::Decision::Classifier(p)) => p.min(0.9),
        (Intent::Emergency, _) => 0.99,
        (Intent::Unknown, _) if entities != Entities::default() => 0.7,
        (Intent::Unknown, _) => 0.3,
        _ => 0.9,
    };
    let name_reply = if matches!(intent, Intent::Unknown | Intent::Greeting) { names::name_reply(text) } else { None };
    let mut signals = signals::read(&padded);
    signals.question = signals::is_question(text, &padded);
    signals.rating = rating::read(text, &folded, &padded, choice);
    if intent == Intent::Information {
        signals.asks = questions::read(&padded);
    } else if matches!(intent, Intent::Unknown | Intent::ListAppointments) {
        // "c'est quoi mon taux d'hémoglobine ?" asks about the writer's file
        // whatever else the words settled.
        signals.asks.own_file = questions::read(&padded).own_file;
    }
    let mentions = lexicon.map(|l| mentions::resolve(&entities, l)).unwrap_or_default();
    let stated_name = names::stated_name(&tokens).map(|p| StatedName { first_name: p.first_name, last_name: p.last_name });
    Extraction { intent, language, entities, confidence, signals, name_reply, stated_name, mentions }
}

#[cfg(test)]
mod tests;

/// The clinic's practitioners and services that `entities` name.
pub fn resolve_mentions(entities: &Entities, lexicon: &ClinicLexicon) -> Mentions {
    mentions::resolve(entities, lexicon)
}

/// What an information question asks about (address, hours, prices, …),
/// for an intent decided elsewhere (the model).
pub fn questions(text: &str) -> Asks {
    questions::read(&normalize::expand_shorthand(&normalize::padded(&normalize::tokens(text))))
}

/// The language a message is evidently written in, or `None` when it carries
/// no French or English signal ("3", "👍"): the conversation then keeps its own.
pub fn language_signal(text: &str) -> Option<Lang> {
    lexicon::language_scores(&normalize::tokens(text)).and_then(|(fr, en)| match fr.cmp(&en) {
        std::cmp::Ordering::Greater => Some(Lang::Fr),
        std::cmp::Ordering::Less => Some(Lang::En),
        std::cmp::Ordering::Equal => None,
    })
}
