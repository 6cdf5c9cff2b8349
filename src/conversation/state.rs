use crate::domain::{PatientId, PractitionerId, ServiceId};
use crate::scheduling::Slot;
use crate::understanding::TimePreference;
use chrono::{NaiveDate, NaiveTime};
use serde::{Deserialize, Serialize};

/// What is stored between two messages of one conversation.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Conversation {
    pub flow: Flow,
    /// Consecutive turns the engine did not understand; the third hands over.
    #[serde(default)]
    pub misunderstood: u8,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "flow", rename_all = "snake_case")]
pub enum Flow {
    #[default]
    Idle,
    Booking(Box<Booking>),
    /// Staff own the conversation: the bot stays silent until released.
    HandedOff,
}

/// A booking being put together, one piece at a time.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Booking {
    pub service: Option<ServiceId>,
    pub practitioner: Option<PractitionerId>,
    pub date: Option<NaiveDate>,
    pub time: Option<NaiveTime>,
    pub preference: Option<TimePreference>,
    pub patient: Option<PatientChoice>,
    /// A name given before the patient is settled ("c'est pour ma fille Aïcha Diallo").
    pub named_first: Option<String>,
    pub named_last: Option<String>,
    pub named_birth: Option<NaiveDate>,
    pub stage: Stage,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum Stage {
    #[default]
    Start,
    AskService {
        options: Vec<ServiceId>,
    },
    AskDay,
    ChooseSlot {
        offered: Vec<Slot>,
    },
    ChoosePatient {
        slot: Slot,
        options: Vec<PatientId>,
    },
    AskName {
        slot: Slot,
    },
    AskBirthDate {
        slot: Slot,
    },
    Confirm {
        slot: Slot,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PatientChoice {
    Existing { id: PatientId },
    New { first_name: String, last_name: String, birth_date: NaiveDate },
}
