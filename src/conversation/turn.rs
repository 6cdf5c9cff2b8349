//! What one turn works with and produces: the context the shell gathered
//! (`TurnContext`), the event (`Event`), and the outcome (`Outcome`: the next
//! state, the language and the `Effect`s the shell performs). Shared by the
//! transition function and the flows, which depend on it and not on `step`.

use super::state::{Conversation, Flow, PatientChoice};
use super::texts;
use crate::domain::{AppointmentId, Channel, ClinicCatalog, Lang, Occupancy, Patient, ServiceId};
use crate::scheduling::Slot;
use crate::storage::UpcomingAppointment;
use crate::understanding::Extraction;
use chrono::{DateTime, Utc};

/// What the shell gathered before the turn.
#[derive(Debug, Clone, Copy)]
pub struct TurnContext<'a> {
    pub now: DateTime<Utc>,
    pub catalog: &'a ClinicCatalog,
    /// Time already taken from the clinic's practitioners over the booking horizon.
    pub occupancy: &'a Occupancy,
    /// Patients linked to the sender's phone number.
    pub patients: &'a [Patient],
    /// Their upcoming appointments.
    pub upcoming: &'a [UpcomingAppointment],
    pub channel: Channel,
}

#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// What the extractor understood of a patient message (the conversation
    /// never reads the text itself).
    Message {
        understood: &'a Extraction,
        /// The language the message is evidently written in, if any
        /// ("3" or "👍" carry none: the conversation keeps its language).
        language: Option<Lang>,
        /// The conversation was idle for longer than the configured time.
        idle_reset: bool,
    },
    /// The slot confirmed in this state was taken by someone else just now.
    SlotTaken,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BookingRequest {
    pub slot: Slot,
    pub service: ServiceId,
    pub patient: PatientChoice,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Reply(String),
    Book(BookingRequest),
    /// Cancel this appointment of the sender's (confirmed by the patient).
    Cancel(AppointmentId),
    /// Move this appointment of the sender's to the slot (confirmed by the patient).
    Move {
        appointment: AppointmentId,
        slot: Slot,
    },
    /// Staff should look at this conversation.
    NeedsHuman,
    /// A possible emergency: staff alerted.
    Urgent,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub state: Conversation,
    pub language: Lang,
    pub effects: Vec<Effect>,
}

impl Outcome {
    pub(super) fn say(&mut self, channel: Channel, key: &str, args: &[(&str, &str)]) {
        let text = texts::texts().render(self.language, key, args);
        self.effects.push(Effect::Reply(texts::for_channel(&text, channel)));
    }

    /// A turn the engine did not understand: the third in a row hands over.
    pub(super) fn misunderstood(&mut self, ctx: &TurnContext<'_>, key: &str, args: &[(&str, &str)]) {
        self.state.misunderstood = self.state.misunderstood.saturating_add(1);
        if self.state.misunderstood >= 3 {
            self.say(ctx.channel, "too_many_misunderstandings", &[]);
            self.hand_over();
        } else {
            self.say(ctx.channel, key, args);
        }
    }

    /// "ok merci", "je vais réfléchir" while options are open: nothing is
    /// booked, and the patient is told they can come back.
    pub(super) fn close_politely(&mut self, ctx: &TurnContext<'_>) {
        self.state = Conversation::default();
        self.say(ctx.channel, "closed_without_choice", &[]);
    }

    pub(super) fn hand_over(&mut self) {
        self.state.flow = Flow::HandedOff;
        self.state.misunderstood = 0;
        self.effects.push(Effect::NeedsHuman);
    }
}
