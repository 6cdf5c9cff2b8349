use crate::domain::{AppointmentId, PatientId, PractitionerId, Relation, ServiceId};
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
    /// The last reply gave the emergency numbers: a panicked follow-up
    /// ("on fait quoi ???") gets them again, never the booking example.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub after_emergency: bool,
    /// The one service the last reply was about ("do you do ultrasounds?"):
    /// a booking asked for in the very next message without naming a
    /// service ("ok I'd like one") is for it. Kept one turn only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_service: Option<crate::domain::ServiceId>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "flow", rename_all = "snake_case")]
pub enum Flow {
    #[default]
    Idle,
    Booking(Box<Booking>),
    /// Cancelling one of the sender's appointments.
    Cancelling(Change),
    /// Moving one of the sender's appointments to a new time.
    Moving(Box<Change>),
    /// A question about a patient's own file, waiting for proof of identity.
    File(FileQuestion),
    /// A file the patient sent (WhatsApp/SMS media), waiting for whose file
    /// it is and the patient's yes before it is added.
    Attach(AttachFile),
    /// Staff own the conversation: the bot stays silent until released.
    HandedOff,
}

impl Flow {
    /// The flow's name as stored beside the state (the admin API filters on it).
    pub fn kind(&self) -> &'static str {
        match self {
            Flow::Idle => "idle",
            Flow::Booking(_) => "booking",
            Flow::Cancelling(_) => "cancelling",
            Flow::Moving(_) => "moving",
            Flow::File(_) => "file",
            Flow::Attach(_) => "attach",
            Flow::HandedOff => "handed_off",
        }
    }
}

/// A file sent with message `message`, to add to `patient`'s file once chosen
/// and confirmed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttachFile {
    pub message: i64,
    pub patient: Option<PatientId>,
    pub stage: AttachStage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttachStage {
    /// A family phone: whose file?
    ChoosePatient,
    /// Waiting for yes or no.
    Confirm,
}

/// A question about a patient's own file: the message that asked it (the
/// shell searches with its text once the patient is proven), whose file, and
/// where the proof stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileQuestion {
    pub question: i64,
    pub patient: Option<PatientId>,
    pub stage: FileStage,
    /// Wrong birth dates given so far.
    #[serde(default)]
    pub tries: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileStage {
    /// A family phone: which patient's file?
    ChoosePatient,
    /// The patient's birth date, as proof.
    BirthDate,
}

/// A change to an existing appointment (cancel or move), one question at a time.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Change {
    pub appointment: Option<AppointmentId>,
    /// The new time asked for (moves only).
    pub date: Option<NaiveDate>,
    pub time: Option<NaiveTime>,
    pub preference: Option<TimePreference>,
    pub stage: ChangeStage,
    /// Started by answering a reminder ("2", "3"): the outcome is counted for it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub from_reminder: bool,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum ChangeStage {
    #[default]
    Start,
    /// Which appointment: the sender has several.
    Choose { options: Vec<AppointmentId> },
    /// Moves: new times offered.
    ChooseSlot { offered: Vec<Slot> },
    /// Cancel the chosen appointment.
    ConfirmCancel,
    /// Move the chosen appointment to this slot.
    ConfirmMove { slot: Slot },
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
    /// "pour ma maman", "for my son": the booking is for this relative of
    /// the writer (recorded with a new patient), not for the writer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relation: Option<Relation>,
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
    /// Everything the booking needs is here: a yes books exactly this.
    Confirm {
        slot: Slot,
        service: ServiceId,
        patient: PatientChoice,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PatientChoice {
    Existing {
        id: PatientId,
    },
    New {
        first_name: String,
        last_name: String,
        birth_date: NaiveDate,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        relation: Option<Relation>,
    },
}
