//! The transition function. Pure: everything it needs is in `TurnContext`,
//! everything it wants done is returned as `Effect`s.

use super::attach;
use super::booking;
use super::changes;
use super::file;
use super::replies;
use super::state::{Conversation, Flow};
use super::turn::{Effect, Event, Outcome, TurnContext};
use crate::domain::{AwaitedFeedback, FeedbackAnswer, Lang};
use crate::understanding::{ConsentWord, Extraction, Intent};

pub fn step(state: &Conversation, language: Lang, event: Event<'_>, ctx: &TurnContext<'_>) -> Outcome {
    match event {
        Event::SlotTaken => match state.flow {
            Flow::Moving(_) => changes::after_slot_taken(state, language, ctx),
            _ => booking::after_slot_taken(state, language, ctx),
        },
        Event::Message { understood, language: said_in, idle_reset } => {
            on_message(state, said_in.unwrap_or(language), understood, idle_reset, ctx)
        }
    }
}

fn on_message(state: &Conversation, lang: Lang, x: &Extraction, idle_reset: bool, ctx: &TurnContext<'_>) -> Outcome {
    let mut out = Outcome { state: state.clone(), language: lang, effects: Vec::new() };
    if idle_reset && matches!(out.state.flow, Flow::Booking(_) | Flow::Cancelling(_) | Flow::Moving(_) | Flow::File(_) | Flow::Attach(_)) {
        out.state = Conversation::default();
        out.say(ctx.channel, "fresh_start", &[]);
    }
    if idle_reset {
        // A follow-up to an emergency is one that comes soon after it.
        out.state.after_emergency = false;
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
    let last_service = std::mem::take(&mut out.state.last_service);
    // STOP / START as a whole message: consent to what the clinic starts
    // (reminders, broadcasts), acknowledged once, even to a staff-held
    // conversation. START and YES count only for a phone that opted out.
    match x.signals.consent {
        Some(ConsentWord::OptOut) => {
            if out.state.flow != Flow::HandedOff {
                out.state = Conversation::default();
            }
            if !ctx.opted_out {
                out.say(ctx.channel, "opted_out", &[]);
            }
            out.effects.push(Effect::Consent { opted_out: true });
            return out;
        }
        Some(ConsentWord::OptIn) if ctx.opted_out => {
            out.say(ctx.channel, "opted_in", &[]);
            out.effects.push(Effect::Consent { opted_out: false });
            return out;
        }
        _ => {}
    }
    if out.state.flow == Flow::HandedOff {
        return out;
    }
    if x.intent == Intent::HumanHandoff {
        out.say(ctx.channel, "handoff", &[]);
        out.hand_over();
        return out;
    }
    // A file sent now is about this file, whatever was going on.
    if let Some(kind) = ctx.attachment {
        attach::start(&mut out, kind, ctx);
        return out;
    }
    let in_booking = matches!(out.state.flow, Flow::Booking(_));
    let in_flow = !matches!(out.state.flow, Flow::Idle);
    if in_flow && x.signals.restart || in_booking && x.intent == Intent::CancelAppointment {
        out.state = Conversation::default();
        out.say(ctx.channel, "reset", &[]);
        return out;
    }
    if out.state.flow == Flow::Idle
        && let Some(asked) = ctx.feedback
        && answer_feedback(&mut out, asked, x, ctx)
    {
        return out;
    }
    if out.state.flow == Flow::Idle
        && let Some(id) = ctx.reminded
        && answer_reminder(&mut out, id, x, ctx)
    {
        return out;
    }
    match out.state.flow.clone() {
        Flow::Booking(b) => booking::on_message(&mut out, *b, x, ctx),
        Flow::Cancelling(c) => changes::on_cancel_message(&mut out, c, x, ctx),
        Flow::Moving(c) => changes::on_move_message(&mut out, *c, x, ctx),
        Flow::File(f) => file::on_message(&mut out, f, x, ctx),
        Flow::Attach(a) => attach::on_message(&mut out, a, x, ctx),
        Flow::Idle | Flow::HandedOff => idle(&mut out, x, after_emergency, last_service, ctx),
    }
    out
}

/// "1" / "oui" / "je serai là", "2" / "annuler", "3" / "déplacer" in answer
/// to a reminder of appointment `id`; false when the message is not one
/// (it is then an ordinary message).
fn answer_reminder(out: &mut Outcome, id: crate::domain::AppointmentId, x: &Extraction, ctx: &TurnContext<'_>) -> bool {
    // The number the reminder offered first, then the words.
    let answer = match x.entities.choice {
        Some(n @ 1..=3) => n,
        Some(_) => return false,
        None if x.signals.attending || x.intent == Intent::Affirmative && !x.signals.closing => 1,
        None if x.intent == Intent::CancelAppointment => 2,
        None if x.intent == Intent::ModifyAppointment => 3,
        None => return false,
    };
    out.state.misunderstood = 0;
    match answer {
        1 => changes::attending(out, id, ctx),
        2 => changes::cancel_reminded(out, id, ctx),
        _ => changes::move_reminded(out, id, x, ctx),
    }
    true
}

/// A rating ("4", "5/5", "⭐⭐⭐", "très bien"), a comment, or "non merci"
/// in answer to a feedback request; false when the message is none of
/// these (a booking, a question…: it is then an ordinary message).
fn answer_feedback(out: &mut Outcome, asked: AwaitedFeedback, x: &Extraction, ctx: &TurnContext<'_>) -> bool {
    let request = asked.request;
    let e = &x.entities;
    // Words a rating or a comment is made of, not a request for something.
    let open = matches!(x.intent, Intent::Unknown | Intent::Affirmative | Intent::Negative | Intent::Greeting);
    let wants_something = e.date.is_some() || e.time.is_some() || e.appointment_type.is_some() || x.signals.asks.own_file;
    // Asked for a rating, a message about a day or a time is a request;
    // asked for a comment, it is the comment ("on a attendu 3 heures").
    let comment = x.intent == Intent::Unknown && !x.signals.asks.own_file && (asked.rated || !wants_something);
    let clinic = ctx.catalog.clinic.name.as_str();
    let answer = |out: &mut Outcome, key: &str, rating: &str, answer: Option<FeedbackAnswer>, keep_waiting: bool| {
        out.state.misunderstood = 0;
        out.say(ctx.channel, key, &[("rating", rating), ("clinic", clinic)]);
        out.effects.push(Effect::Feedback { request, answer, keep_waiting });
    };
    if !asked.rated {
        if let Some(r) = x.signals.rating.filter(|_| open || e.choice.is_some()) {
            let key = match (r.score, r.with_comment) {
                (_, true) => "feedback_thanks",
                (1 | 2, false) => "feedback_sorry",
                _ => "feedback_thanks_ask_comment",
            };
            let rating = FeedbackAnswer::Rating { score: r.score, with_comment: r.with_comment };
            answer(out, key, &r.score.to_string(), Some(rating), !r.with_comment);
            return true;
        }
        if x.intent == Intent::Negative || x.signals.closing && open {
            answer(out, "feedback_declined", "", Some(FeedbackAnswer::Declined), false);
            return true;
        }
        if comment {
            // A comment first: kept, and the rating asked for once more.
            answer(out, "feedback_ask_rating", "", Some(FeedbackAnswer::Comment), true);
            return true;
        }
        return false;
    }
    // Rated: the message may be the comment offered.
    if x.intent == Intent::Negative || x.signals.closing && open {
        answer(out, "feedback_declined", "", Some(FeedbackAnswer::Declined), false);
    } else if x.intent == Intent::Affirmative {
        // "oui": they will write it next.
        answer(out, "feedback_write_comment", "", None, true);
    } else if comment {
        answer(out, "feedback_thanks", "", Some(FeedbackAnswer::Comment), false);
    } else {
        return false;
    }
    true
}

fn idle(out: &mut Outcome, x: &Extraction, after_emergency: bool, last_service: Option<crate::domain::ServiceId>, ctx: &TurnContext<'_>) {
    let e = &x.entities;
    if after_emergency && matches!(x.intent, Intent::Unknown | Intent::Affirmative | Intent::Negative) {
        replies::emergency(out, ctx);
        out.state.after_emergency = true;
        return;
    }
    let wants_slot = e.date.is_some() || e.time.is_some() || e.appointment_type.is_some() || e.time_preference.is_some();
    if x.signals.asks.own_file && matches!(x.intent, Intent::Information | Intent::Unknown | Intent::ListAppointments) {
        return file::start(out, ctx);
    }
    match x.intent {
        Intent::BookAppointment => booking::start(out, x, last_service, ctx),
        Intent::Unknown if wants_slot => booking::start(out, x, last_service, ctx),
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
            replies::information(out, x, ctx);
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
        // A question the rules could not place may be one the clinic's
        // documents answer; without a confident passage, as before.
        Intent::Unknown if x.signals.question => match ctx.documents() {
            Some(found) => match found.first().filter(|q| q.confident) {
                Some(q) => {
                    out.state.misunderstood = 0;
                    replies::quote(out, ctx, q);
                }
                None => out.misunderstood(ctx, "not_understood", &[]),
            },
            // Retrieval has not run yet: the shell runs it and decides again.
            None => out.misunderstood(ctx, "not_understood", &[]),
        },
        Intent::Unknown | Intent::Emergency | Intent::HumanHandoff => out.misunderstood(ctx, "not_understood", &[]),
    }
}

#[cfg(test)]
#[path = "step_tests.rs"]
mod tests;
