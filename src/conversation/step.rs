//! The transition function. Pure: everything it needs is in `TurnContext`,
//! everything it wants done is returned as `Effect`s.

use super::booking;
use super::changes;
use super::replies;
use super::state::{Conversation, Flow, PatientChoice};
use crate::domain::{AppointmentId, Channel, ClinicCatalog, Lang, Occupancy, Patient, ServiceId};
use crate::scheduling::Slot;
use crate::storage::UpcomingAppointment;
use crate::texts;
use crate::understanding::{Extraction, Intent};
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
    /// A patient message and what the extractor understood of it.
    Message {
        text: &'a str,
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

    pub(super) fn hand_over(&mut self) {
        self.state.flow = Flow::HandedOff;
        self.state.misunderstood = 0;
        self.effects.push(Effect::NeedsHuman);
    }
}

pub fn step(state: &Conversation, language: Lang, event: Event<'_>, ctx: &TurnContext<'_>) -> Outcome {
    match event {
        Event::SlotTaken => match state.flow {
            Flow::Moving(_) => changes::after_slot_taken(state, language, ctx),
            _ => booking::after_slot_taken(state, language, ctx),
        },
        Event::Message { text, understood, language: said_in, idle_reset } => {
            on_message(state, said_in.unwrap_or(language), text, understood, idle_reset, ctx)
        }
    }
}

fn on_message(state: &Conversation, lang: Lang, text: &str, x: &Extraction, idle_reset: bool, ctx: &TurnContext<'_>) -> Outcome {
    let mut out = Outcome { state: state.clone(), language: lang, effects: Vec::new() };
    if idle_reset && matches!(out.state.flow, Flow::Booking(_) | Flow::Cancelling(_) | Flow::Moving(_)) {
        out.state = Conversation::default();
        out.say(ctx.channel, "fresh_start", &[]);
    }
    // Safety first: an emergency interrupts anything, even a staff-owned conversation.
    if x.intent == Intent::Emergency {
        replies::emergency(&mut out, ctx);
        out.effects.push(Effect::Urgent);
        out.effects.push(Effect::NeedsHuman);
        if out.state.flow != Flow::HandedOff {
            out.state = Conversation::default();
        }
        out.state.after_emergency = true;
        return out;
    }
    let after_emergency = std::mem::take(&mut out.state.after_emergency);
    if out.state.flow == Flow::HandedOff {
        return out;
    }
    if x.intent == Intent::HumanHandoff {
        out.say(ctx.channel, "handoff", &[]);
        out.hand_over();
        return out;
    }
    let in_booking = matches!(out.state.flow, Flow::Booking(_));
    let in_flow = !matches!(out.state.flow, Flow::Idle);
    if in_flow && x.signals.restart || in_booking && x.intent == Intent::CancelAppointment {
        out.state = Conversation::default();
        out.say(ctx.channel, "reset", &[]);
        return out;
    }
    match out.state.flow.clone() {
        Flow::Booking(b) => booking::on_message(&mut out, *b, text, x, ctx),
        Flow::Cancelling(c) => changes::on_cancel_message(&mut out, c, text, x, ctx),
        Flow::Moving(c) => changes::on_move_message(&mut out, *c, text, x, ctx),
        Flow::Idle | Flow::HandedOff => idle(&mut out, text, x, after_emergency, ctx),
    }
    out
}

fn idle(out: &mut Outcome, text: &str, x: &Extraction, after_emergency: bool, ctx: &TurnContext<'_>) {
    let e = &x.entities;
    if after_emergency && matches!(x.intent, Intent::Unknown | Intent::Affirmative | Intent::Negative) {
        replies::emergency(out, ctx);
        out.state.after_emergency = true;
        return;
    }
    let wants_slot = e.date.is_some() || e.time.is_some() || e.appointment_type.is_some() || e.time_preference.is_some();
    match x.intent {
        Intent::BookAppointment => booking::start(out, x, ctx),
        Intent::Unknown if wants_slot => booking::start(out, x, ctx),
        Intent::Greeting | Intent::Affirmative if x.signals.closing => {
            out.state.misunderstood = 0;
            out.say(ctx.channel, "you_are_welcome", &[]);
        }
        Intent::Greeting => {
            out.state.misunderstood = 0;
            out.say(ctx.channel, "welcome", &[("clinic", &ctx.catalog.clinic.name)]);
        }
        Intent::ListAppointments => {
            out.state.misunderstood = 0;
            replies::list_appointments(out, ctx);
        }
        Intent::ListPractitioners => {
            out.state.misunderstood = 0;
            replies::practitioners(out, x, ctx);
        }
        Intent::Information => {
            out.state.misunderstood = 0;
            replies::information(out, text, ctx);
        }
        Intent::CancelAppointment => {
            out.state.misunderstood = 0;
            changes::start_cancel(out, x, ctx);
        }
        Intent::ModifyAppointment => {
            out.state.misunderstood = 0;
            changes::start_move(out, x, ctx);
        }
        Intent::Affirmative | Intent::Negative => out.say(ctx.channel, "how_can_i_help", &[]),
        Intent::Unknown | Intent::Emergency | Intent::HumanHandoff => out.misunderstood(ctx, "not_understood", &[]),
    }
}

#[cfg(test)]
#[path = "step_tests.rs"]
mod tests;
