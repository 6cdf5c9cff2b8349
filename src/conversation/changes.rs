//! Cancelling and moving an existing appointment. Only the appointments of
//! the patients linked to the sender's phone (`ctx.upcoming`) can be named,
//! and nothing changes without an explicit confirmation turn. Pure.

use super::offers::{enough_earliest, in_preference, pick, search_ignoring, search_until, slot_lines};
use super::replies;
use super::select::{Facts, Selection, description, select, slot_facts};
use super::state::{Booking, Change, ChangeStage, Conversation, Flow};
use super::texts;
use super::turn::{Effect, Outcome, ReminderReply, TurnContext};
use crate::domain::{AppointmentId, Lang};
use crate::scheduling::Slot;
use crate::storage::UpcomingAppointment;
use crate::understanding::{Extraction, Intent};
use chrono::{Duration, Timelike};

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Cancel,
    Move,
}

fn upcoming<'a>(ctx: &TurnContext<'a>, id: AppointmentId) -> Option<&'a UpcomingAppointment> {
    ctx.upcoming.iter().find(|u| u.appointment.id == id)
}

/// "mercredi 25 novembre à 10:00 – consultation avec Dr Jean Kabeya (Awa Mendy)"
fn describe(lang: Lang, u: &UpcomingAppointment, ctx: &TurnContext<'_>) -> String {
    let a = &u.appointment;
    let local = a.starts_at.with_timezone(&ctx.catalog.clinic.timezone);
    texts::texts().render(
        lang,
        "appointment_summary",
        &[
            ("day", &texts::day(lang, local.date_naive())),
            ("time", &texts::time(local.time())),
            ("service", ctx.catalog.service(a.service_id).map(|s| s.name(lang)).unwrap_or_default()),
            ("practitioner", &ctx.catalog.practitioner(a.practitioner_id).map(|p| p.display_name()).unwrap_or_default()),
            ("patient", &format!("{} {}", u.patient_first_name, u.patient_last_name)),
        ],
    )
}

/// The sender's appointments the message points at, by the same matching as
/// a choice from a list (`select`). For a cancellation the entities describe
/// the appointment; for a move they describe the new time, so only names
/// (patient, relation, practitioner, service) narrow it down.
fn narrow<'a>(kind: Kind, x: &Extraction, ctx: &TurnContext<'a>) -> Vec<&'a UpcomingAppointment> {
    let all: Vec<&UpcomingAppointment> = ctx.upcoming.iter().collect();
    let facts: Vec<Facts<'_>> = all.iter().map(|u| facts(ctx, u.appointment.id)).collect();
    let described = if kind == Kind::Move {
        let mut names_only = x.clone();
        (names_only.entities.date, names_only.entities.time, names_only.entities.time_preference) = (None, None, None);
        select(&names_only, &facts, ctx)
    } else {
        select(x, &facts, ctx)
    };
    match described {
        Selection::One(i) => vec![all[i]],
        Selection::Several(fitting) => fitting.into_iter().map(|i| all[i]).collect(),
        Selection::NoMatch | Selection::Nothing => all,
    }
}

/// What describes one of the sender's appointments in a list.
fn facts<'a>(ctx: &TurnContext<'a>, id: AppointmentId) -> Facts<'a> {
    upcoming(ctx, id)
        .map(|u| Facts {
            start: Some(u.appointment.starts_at),
            practitioner: Some(u.appointment.practitioner_id),
            service: Some(u.appointment.service_id),
            patient_first_name: Some(&u.patient_first_name),
            relation: ctx.patients.iter().find(|p| p.id == u.appointment.patient_id).and_then(|p| p.relation),
        })
        .unwrap_or_default()
}

fn set(out: &mut Outcome, kind: Kind, c: Change) {
    out.state.flow = match kind {
        Kind::Cancel => Flow::Cancelling(c),
        Kind::Move => Flow::Moving(Box::new(c)),
    };
}

fn ask_which(out: &mut Outcome, kind: Kind, mut c: Change, options: Vec<AppointmentId>, ctx: &TurnContext<'_>) {
    let lines: Vec<String> = options
        .iter()
        .enumerate()
        .filter_map(|(i, id)| upcoming(ctx, *id).map(|u| format!("{}. {}", i + 1, describe(out.language, u, ctx))))
        .collect();
    let key = if kind == Kind::Cancel { "which_appointment_cancel" } else { "which_appointment_move" };
    out.say(ctx.channel, key, &[("options", &lines.join("\n"))]);
    c.stage = ChangeStage::Choose { options };
    set(out, kind, c);
}

fn start(out: &mut Outcome, kind: Kind, x: &Extraction, ctx: &TurnContext<'_>) {
    if ctx.upcoming.is_empty() {
        out.say(ctx.channel, "list_none", &[]);
        out.state.flow = Flow::Idle;
        return;
    }
    let e = &x.entities;
    let c = Change { date: e.date, time: e.time, preference: e.time_preference, ..Change::default() };
    match narrow(kind, x, ctx).as_slice() {
        [only] => chosen(out, kind, c, only.appointment.id, ctx),
        many => {
            let options = many.iter().map(|u| u.appointment.id).collect();
            ask_which(out, kind, c, options, ctx)
        }
    }
}

pub fn start_cancel(out: &mut Outcome, x: &Extraction, ctx: &TurnContext<'_>) {
    start(out, Kind::Cancel, x, ctx);
}

pub fn start_move(out: &mut Outcome, x: &Extraction, ctx: &TurnContext<'_>) {
    start(out, Kind::Move, x, ctx);
}

/// "2" in answer to a reminder: cancelling that appointment, to be confirmed.
pub fn cancel_reminded(out: &mut Outcome, id: AppointmentId, ctx: &TurnContext<'_>) {
    chosen(out, Kind::Cancel, Change { from_reminder: true, ..Change::default() }, id, ctx);
}

/// "3" in answer to a reminder: new times for that appointment.
pub fn move_reminded(out: &mut Outcome, id: AppointmentId, x: &Extraction, ctx: &TurnContext<'_>) {
    let e = &x.entities;
    let c = Change { date: e.date, time: e.time, preference: e.time_preference, from_reminder: true, ..Change::default() };
    chosen(out, Kind::Move, c, id, ctx);
}

/// "1", "oui", "je serai là" in answer to a reminder: the patient will come.
pub fn attending(out: &mut Outcome, id: AppointmentId, ctx: &TurnContext<'_>) {
    let Some(u) = upcoming(ctx, id) else { return gone(out, ctx) };
    out.effects.push(Effect::ConfirmAttendance(id));
    out.effects.push(Effect::ReminderAnswered { appointment: id, reply: ReminderReply::Confirmed });
    out.say(ctx.channel, "attendance_confirmed", &[("appointment", &describe(out.language, u, ctx))]);
}

fn chosen(out: &mut Outcome, kind: Kind, mut c: Change, id: AppointmentId, ctx: &TurnContext<'_>) {
    c.appointment = Some(id);
    match kind {
        Kind::Cancel => {
            let Some(u) = upcoming(ctx, id) else { return gone(out, ctx) };
            out.say(ctx.channel, "confirm_cancel", &[("appointment", &describe(out.language, u, ctx))]);
            c.stage = ChangeStage::ConfirmCancel;
            set(out, kind, c);
        }
        Kind::Move => propose(out, c, ctx, "move_propose"),
    }
}

fn gone(out: &mut Outcome, ctx: &TurnContext<'_>) {
    out.say(ctx.channel, "list_none", &[]);
    out.state = Conversation::default();
}

/// New times for the appointment being moved: same service and practitioner,
/// its own time counted as free; the asked day, time or period if any.
fn propose(out: &mut Outcome, mut c: Change, ctx: &TurnContext<'_>, key: &str) {
    let Some(u) = c.appointment.and_then(|id| upcoming(ctx, id)) else { return gone(out, ctx) };
    let a = &u.appointment;
    let tz = ctx.catalog.clinic.timezone;
    let today = ctx.now.with_timezone(&tz).date_naive();
    let last = today + Duration::days(ctx.catalog.clinic.booking_horizon_days as i64);
    let b = Booking {
        service: Some(a.service_id),
        practitioner: Some(a.practitioner_id),
        date: c.date,
        time: c.time,
        preference: c.preference,
        ..Booking::default()
    };
    let wanted = |s: &Slot| s.start != a.starts_at && in_preference(c.preference, s.start.with_timezone(&tz).hour());
    let found = match c.date {
        Some(day) => search_ignoring(&b, ctx, day, day, Some(a.id)),
        // The earliest free slots (or the first day with the asked time free).
        None => search_until(&b, ctx, today, last, Some(a.id), |found| enough_earliest(found, wanted, c.time.map(|t| (tz, t)))),
    };
    let slots: Vec<Slot> = found.into_iter().filter(wanted).collect();
    if let Some(t) = c.time
        && let Some(exact) = slots.iter().find(|s| s.start.with_timezone(&tz).time() == t)
    {
        return confirm_move(out, c, *exact, ctx);
    }
    let mut offered = pick(&slots, &b, ctx);
    let mut key = key;
    if offered.is_empty() {
        // Nothing that day: the nearest times from then on.
        let later = search_until(
            &Booking { date: None, time: None, preference: None, ..b.clone() },
            ctx,
            c.date.unwrap_or(today),
            last,
            Some(a.id),
            |found| enough_earliest(found, |s| s.start != a.starts_at, None),
        );
        offered = pick(&later.into_iter().filter(|s| s.start != a.starts_at).collect::<Vec<_>>(), &Booking { time: None, ..b }, ctx);
        key = "move_no_slots_that_day";
    }
    if offered.is_empty() {
        out.say(ctx.channel, "move_impossible", &[]);
        out.effects.push(Effect::NeedsHuman);
        out.state = Conversation::default();
        return;
    }
    let options = slot_lines(out.language, &offered, ctx);
    out.say(ctx.channel, key, &[("appointment", &describe(out.language, u, ctx)), ("options", &options)]);
    c.stage = ChangeStage::ChooseSlot { offered };
    set(out, Kind::Move, c);
}

fn confirm_move(out: &mut Outcome, mut c: Change, slot: Slot, ctx: &TurnContext<'_>) {
    let Some(u) = c.appointment.and_then(|id| upcoming(ctx, id)) else { return gone(out, ctx) };
    let lang = out.language;
    let local = slot.start.with_timezone(&ctx.catalog.clinic.timezone);
    out.say(
        ctx.channel,
        "confirm_move",
        &[
            ("appointment", &describe(lang, u, ctx)),
            ("day", &texts::day(lang, local.date_naive())),
            ("time", &texts::time(local.time())),
            ("practitioner", &ctx.catalog.practitioner(slot.practitioner_id).map(|p| p.display_name()).unwrap_or_default()),
        ],
    );
    c.stage = ChangeStage::ConfirmMove { slot };
    set(out, Kind::Move, c);
}

fn unclear(out: &mut Outcome, kind: Kind, c: Change, x: &Extraction, ctx: &TurnContext<'_>) {
    // A side question is answered, and the question before stays open.
    let side = match x.intent {
        Intent::ListAppointments => Some(replies::list_appointments as fn(&mut Outcome, &TurnContext<'_>)),
        _ => None,
    };
    if let Some(answer) = side {
        answer(out, ctx);
        out.say(ctx.channel, "resume_change", &[]);
        return set(out, kind, c);
    }
    if x.intent == Intent::Information {
        replies::information(out, x, ctx);
        out.say(ctx.channel, "resume_change", &[]);
        return set(out, kind, c);
    }
    if x.intent == Intent::ListPractitioners {
        replies::practitioners(out, x, ctx);
        out.say(ctx.channel, "resume_change", &[]);
        return set(out, kind, c);
    }
    if x.signals.closing && x.entities.choice.is_none() && !matches!(c.stage, ChangeStage::ConfirmCancel | ChangeStage::ConfirmMove { .. })
    {
        return out.close_politely(ctx);
    }
    let key = match (&c.stage, kind) {
        (ChangeStage::ConfirmCancel | ChangeStage::ConfirmMove { .. }, _) => "confirm_change_unclear",
        _ => "choice_unclear_change",
    };
    set(out, kind, c);
    out.misunderstood(ctx, key, &[]);
}

/// A change of mind: cancelling the appointment being moved, or moving the
/// one being cancelled ("finalement je préfère le déplacer"). The same
/// appointment, unless the message names another; the other change then
/// asks its own confirmation. Not while a move waits for its yes: "annuler"
/// there may mean not to move.
fn change_of_mind(out: &mut Outcome, kind: Kind, c: &Change, x: &Extraction, ctx: &TurnContext<'_>) -> bool {
    let other = match (kind, x.intent) {
        (Kind::Move, Intent::CancelAppointment) if !matches!(c.stage, ChangeStage::ConfirmMove { .. }) => Kind::Cancel,
        (Kind::Cancel, Intent::ModifyAppointment) => Kind::Move,
        _ => return false,
    };
    if x.entities.choice.is_some() {
        return false;
    }
    out.state.misunderstood = 0;
    let e = &x.entities;
    let fresh = Change { date: e.date, time: e.time, preference: e.time_preference, from_reminder: c.from_reminder, ..Change::default() };
    match (narrow(other, x, ctx).as_slice(), c.appointment) {
        ([one], _) => chosen(out, other, fresh, one.appointment.id, ctx),
        (_, Some(id)) => chosen(out, other, fresh, id, ctx),
        (many, None) => {
            let options = many.iter().map(|u| u.appointment.id).collect();
            ask_which(out, other, fresh, options, ctx)
        }
    }
    true
}

fn on_message(out: &mut Outcome, kind: Kind, mut c: Change, x: &Extraction, ctx: &TurnContext<'_>) {
    if change_of_mind(out, kind, &c, x, ctx) {
        return;
    }
    let e = &x.entities;
    let new_time = e.date.is_some() || e.time.is_some() || e.time_preference.is_some();
    match c.stage.clone() {
        ChangeStage::Start => unclear(out, kind, c, x, ctx),
        ChangeStage::Choose { options } => {
            let facts: Vec<Facts<'_>> = options.iter().map(|id| facts(ctx, *id)).collect();
            match select(x, &facts, ctx) {
                Selection::One(i) => {
                    out.state.misunderstood = 0;
                    chosen(out, kind, c, options[i], ctx)
                }
                Selection::Several(fitting) => {
                    out.state.misunderstood = 0;
                    let narrowed = fitting.iter().map(|i| options[*i]).collect();
                    ask_which(out, kind, c, narrowed, ctx)
                }
                Selection::NoMatch => {
                    let what = description(x, out.language);
                    out.say(ctx.channel, "no_option_matches", &[("what", &what)]);
                    ask_which(out, kind, c, options, ctx)
                }
                Selection::Nothing => unclear(out, kind, c, x, ctx),
            }
        }
        ChangeStage::ChooseSlot { offered } => {
            let facts: Vec<Facts<'_>> = offered.iter().map(slot_facts).collect();
            if let Selection::One(i) = select(x, &facts, ctx) {
                out.state.misunderstood = 0;
                confirm_move(out, c, offered[i], ctx);
            } else if new_time {
                c.date = e.date.or(c.date);
                c.time = e.time;
                c.preference = e.time_preference;
                propose(out, c, ctx, "move_propose");
            } else {
                unclear(out, kind, c, x, ctx);
            }
        }
        ChangeStage::ConfirmCancel | ChangeStage::ConfirmMove { .. } => {
            let Some(id) = c.appointment else { return gone(out, ctx) };
            let question = if kind == Kind::Cancel { super::gate::Question::Cancel } else { super::gate::Question::Move };
            let answer = super::gate::answer(x, question);
            if answer == super::gate::Answer::Yes && !(kind == Kind::Move && new_time) {
                out.state = Conversation::default();
                if let ChangeStage::ConfirmMove { slot } = c.stage {
                    let local = slot.start.with_timezone(&ctx.catalog.clinic.timezone);
                    out.effects.push(Effect::Move { appointment: id, slot });
                    if c.from_reminder {
                        out.effects.push(Effect::ReminderAnswered { appointment: id, reply: ReminderReply::Moved });
                    }
                    out.say(
                        ctx.channel,
                        "moved",
                        &[
                            ("day", &texts::day(out.language, local.date_naive())),
                            ("time", &texts::time(local.time())),
                            ("practitioner", &ctx.catalog.practitioner(slot.practitioner_id).map(|p| p.display_name()).unwrap_or_default()),
                        ],
                    );
                } else {
                    let what = upcoming(ctx, id).map(|u| describe(out.language, u, ctx)).unwrap_or_default();
                    out.effects.push(Effect::Cancel(id));
                    if c.from_reminder {
                        out.effects.push(Effect::ReminderAnswered { appointment: id, reply: ReminderReply::Cancelled });
                    }
                    out.say(ctx.channel, "cancelled", &[("appointment", &what)]);
                }
            } else if kind == Kind::Move && new_time {
                c.date = e.date.or(c.date);
                c.time = e.time;
                c.preference = e.time_preference;
                propose(out, c, ctx, "move_propose");
            } else if answer == super::gate::Answer::No {
                out.state = Conversation::default();
                out.say(ctx.channel, if kind == Kind::Cancel { "cancel_kept" } else { "move_not_done" }, &[]);
            } else {
                if answer == super::gate::Answer::Mixed {
                    out.say(ctx.channel, "mixed_answer", &[]);
                }
                unclear(out, kind, c, x, ctx);
            }
        }
    }
}

pub fn on_cancel_message(out: &mut Outcome, c: Change, x: &Extraction, ctx: &TurnContext<'_>) {
    on_message(out, Kind::Cancel, c, x, ctx);
}

pub fn on_move_message(out: &mut Outcome, c: Change, x: &Extraction, ctx: &TurnContext<'_>) {
    on_message(out, Kind::Move, c, x, ctx);
}

/// The new time went to someone else between proposal and confirmation.
pub fn after_slot_taken(state: &Conversation, language: Lang, ctx: &TurnContext<'_>) -> Outcome {
    let mut out = Outcome { state: state.clone(), language, effects: Vec::new() };
    if let Flow::Moving(c) = state.flow.clone() {
        let c = Change { time: None, ..*c };
        propose(&mut out, c, ctx, "move_slot_taken");
    }
    out
}
