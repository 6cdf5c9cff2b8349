//! The booking flow: gather service and day, propose up to five slots, settle
//! who the patient is, confirm, book. Pure, like the rest of `step`.

use super::offers::{enough_earliest, enough_to_pick, in_preference, pick, search, search_until, slot_lines};
use super::replies;
use super::select::{Facts, Selection, select, slot_facts};
use super::state::{Booking, Conversation, Flow, PatientChoice, Stage};
use super::texts;
use super::turn::{BookingRequest, Effect, Outcome, TurnContext};
use crate::domain::{Lang, PatientId};
use crate::scheduling::{Slot, Unavailable};
use crate::understanding::normalize::fold;
use crate::understanding::{Extraction, Intent, TimePreference};
use chrono::{Duration, NaiveDate, Timelike};

/// Starts a booking from a request; `last_service` is the one service the
/// previous reply was about, taken when the request names none.
pub fn start(out: &mut Outcome, x: &Extraction, last_service: Option<crate::domain::ServiceId>, ctx: &TurnContext<'_>) {
    let mut b = Booking { relation: x.signals.relation, service: last_service, ..Booking::default() };
    absorb(&mut b, x);
    out.state.misunderstood = 0;
    advance(out, b, ctx);
}

/// Takes what the message says about the booking. Returns whether anything changed.
fn absorb(b: &mut Booking, x: &Extraction) -> bool {
    let before = b.clone();
    let e = &x.entities;
    // Which of the clinic's services and practitioners are named was settled by understanding.
    if let Some(service) = x.mentions.services.first() {
        b.service = Some(*service);
    }
    if let Some(practitioner) = x.mentions.practitioners.first() {
        b.practitioner = Some(*practitioner);
    }
    if let Some(d) = e.date {
        b.date = Some(d);
        if e.time.is_none() && e.time_preference.is_none() {
            b.time = None;
        }
    }
    if let Some(t) = e.time {
        b.time = Some(t);
    }
    if let Some(p) = e.time_preference {
        b.preference = Some(p);
        if e.time.is_none() {
            b.time = None;
        }
    }
    if e.first_name.is_some() || e.last_name.is_some() {
        b.named_first = e.first_name.clone().or(b.named_first.take());
        b.named_last = e.last_name.clone().or(b.named_last.take());
    }
    if let Some(d) = e.birth_date {
        b.named_birth = Some(d);
    }
    *b != before
}

pub fn on_message(out: &mut Outcome, mut b: Booking, x: &Extraction, ctx: &TurnContext<'_>) {
    b.relation = x.signals.relation.or(b.relation);
    let changed = absorb(&mut b, x);
    let choice = x.entities.choice;
    let yes = x.intent == Intent::Affirmative;
    let no = x.intent == Intent::Negative;
    match b.stage.clone() {
        Stage::Start => advance(out, b, ctx),
        Stage::AskService { options } => match choice.and_then(|n| options.get(n as usize - 1)) {
            Some(id) => {
                b.service = Some(*id);
                out.state.misunderstood = 0;
                advance(out, b, ctx);
            }
            None if b.service.is_some() => advance(out, b, ctx),
            None => unclear(out, b, x, ctx),
        },
        Stage::AskDay => {
            if changed && (b.date.is_some() || b.time.is_some() || b.preference.is_some()) {
                out.state.misunderstood = 0;
                advance(out, b, ctx);
            } else {
                unclear(out, b, x, ctx);
            }
        }
        Stage::ChooseSlot { offered } => {
            let facts: Vec<Facts<'_>> = offered.iter().map(slot_facts).collect();
            let selection = select(x, &facts, ctx);
            if let Selection::One(i) = selection {
                out.state.misunderstood = 0;
                slot_chosen(out, b, offered[i], ctx);
            } else if let Selection::Several(fitting) = selection {
                out.state.misunderstood = 0;
                let narrowed: Vec<Slot> = fitting.iter().map(|i| offered[*i]).collect();
                offer(out, b, narrowed, ctx);
            } else if choice.is_none() && !changed && x.signals.closing {
                out.close_politely(ctx);
            } else if changed {
                advance(out, b, ctx);
            } else if yes && offered.len() == 1 {
                slot_chosen(out, b, offered[0], ctx);
            } else if no {
                b.date = None;
                b.time = None;
                b.preference = None;
                b.stage = Stage::AskDay;
                out.say(ctx.channel, "ask_day", &[]);
                set(out, b);
            } else {
                unclear(out, b, x, ctx);
            }
        }
        Stage::ChoosePatient { slot, options } => {
            let facts: Vec<Facts<'_>> = options.iter().map(|id| patient_facts(ctx, *id)).collect();
            match (choice, select(x, &facts, ctx)) {
                (_, Selection::One(i)) => {
                    b.patient = Some(PatientChoice::Existing { id: options[i] });
                    out.state.misunderstood = 0;
                    slot_chosen(out, b, slot, ctx);
                }
                (Some(n), _) if n as usize == options.len() + 1 => {
                    b.stage = Stage::AskName { slot };
                    out.say(ctx.channel, "ask_name", &[]);
                    set(out, b);
                }
                (_, Selection::Several(fitting)) => {
                    let narrowed: Vec<PatientId> = fitting.iter().map(|i| options[*i]).collect();
                    ask_which_patient(out, &narrowed, ctx);
                    b.stage = Stage::ChoosePatient { slot, options: narrowed };
                    set(out, b);
                }
                _ if b.named_first.is_some() && b.named_last.is_some() => slot_chosen(out, b, slot, ctx),
                _ => unclear(out, b, x, ctx),
            }
        }
        Stage::AskName { slot } => {
            if (b.named_first.is_none() || b.named_last.is_none())
                && let Some((first, last)) = x.name_reply.clone()
            {
                b.named_first = Some(first);
                b.named_last = Some(last);
            }
            if b.named_first.is_some() && b.named_last.is_some() {
                out.state.misunderstood = 0;
                slot_chosen(out, b, slot, ctx);
            } else {
                unclear(out, b, x, ctx);
            }
        }
        Stage::AskBirthDate { slot } => {
            let today = ctx.now.with_timezone(&ctx.catalog.clinic.timezone).date_naive();
            if b.named_birth.is_some_and(|d| plausible_birth(d, today)) {
                out.state.misunderstood = 0;
                slot_chosen(out, b, slot, ctx);
            } else {
                b.named_birth = None;
                unclear(out, b, x, ctx);
            }
        }
        Stage::Confirm { slot, service, patient } => {
            // "non, je suis née le …", "my surname is …": the recap is
            // corrected and asked again, whatever else the message says.
            let today = ctx.now.with_timezone(&ctx.catalog.clinic.timezone).date_naive();
            if let Some(corrected) = corrected_patient(&patient, x, today) {
                b.patient = Some(corrected);
                out.state.misunderstood = 0;
                out.say(ctx.channel, "recap_corrected", &[]);
                return confirm(out, b, slot, ctx);
            }
            let new_time = changed && (x.entities.date.is_some() || x.entities.time.is_some() || x.entities.time_preference.is_some());
            let answer = super::gate::answer(x, super::gate::Question::Book);
            if answer == super::gate::Answer::Yes && !new_time {
                book(out, &b, slot, service, patient, ctx);
            } else if answer == super::gate::Answer::Mixed && !new_time {
                out.say(ctx.channel, "mixed_answer", &[]);
                unclear(out, b, x, ctx);
            } else if answer == super::gate::Answer::No {
                if changed && (x.entities.date.is_some() || x.entities.time.is_some() || x.entities.time_preference.is_some()) {
                    return advance(out, b, ctx);
                }
                b.date = None;
                b.time = None;
                b.preference = None;
                b.stage = Stage::AskDay;
                out.say(ctx.channel, "not_booked", &[]);
                set(out, b);
            } else if changed && (x.entities.date.is_some() || x.entities.time.is_some() || x.entities.time_preference.is_some()) {
                advance(out, b, ctx);
            } else {
                unclear(out, b, x, ctx);
            }
        }
    }
}

/// A new patient's recap with what the message corrects: a birth date, or a
/// first or last name stated with its field word. `None` when nothing in
/// the message changes the recap (a patient already on file is corrected by
/// staff, not by a message).
fn corrected_patient(patient: &PatientChoice, x: &Extraction, today: NaiveDate) -> Option<PatientChoice> {
    let PatientChoice::New { first_name, last_name, birth_date, relation } = patient else { return None };
    let mut next = (first_name.clone(), last_name.clone(), *birth_date);
    if let Some(d) = x.entities.birth_date.filter(|d| plausible_birth(*d, today)) {
        next.2 = d;
    }
    if let Some(stated) = &x.stated_name {
        if let Some(f) = &stated.first_name {
            next.0 = f.clone();
        }
        if let Some(l) = &stated.last_name {
            next.1 = l.clone();
        }
    }
    let changed = next != (first_name.clone(), last_name.clone(), *birth_date);
    changed.then_some(PatientChoice::New { first_name: next.0, last_name: next.1, birth_date: next.2, relation: *relation })
}

fn plausible_birth(d: NaiveDate, today: NaiveDate) -> bool {
    d <= today && d > today - Duration::days(366 * 125)
}

fn set(out: &mut Outcome, b: Booking) {
    out.state.flow = Flow::Booking(Box::new(b));
}

/// The patient wrote something that does not answer the question: answer a
/// side question if there is one, then ask again.
fn unclear(out: &mut Outcome, b: Booking, x: &Extraction, ctx: &TurnContext<'_>) {
    match x.intent {
        Intent::ListAppointments => replies::list_appointments(out, ctx),
        Intent::ListPractitioners => replies::practitioners(out, x, ctx),
        Intent::Information => replies::information(out, x, ctx),
        // "merci", "ok thanks" instead of an answer: the patient is leaving,
        // and nothing is booked. Not at the confirmation, where thanks may
        // be meant as a yes: that one is asked again.
        _ if x.signals.closing && x.entities.choice.is_none() && !matches!(b.stage, Stage::Confirm { .. }) => {
            return out.close_politely(ctx);
        }
        _ => {
            let key = match &b.stage {
                Stage::AskDay => "day_not_understood",
                Stage::AskName { .. } => "name_not_understood",
                Stage::AskBirthDate { .. } => "birth_date_not_understood",
                Stage::Confirm { .. } => "confirm_unclear",
                Stage::ChooseSlot { offered } => {
                    let max = offered.len().to_string();
                    out.misunderstood(ctx, "choice_unclear", &[("max", &max)]);
                    if out.state.flow != Flow::HandedOff {
                        set(out, b);
                    }
                    return;
                }
                _ => "not_understood",
            };
            out.misunderstood(ctx, key, &[]);
            if out.state.flow == Flow::HandedOff {
                return;
            }
            if !matches!(b.stage, Stage::AskService { .. } | Stage::ChoosePatient { .. }) {
                set(out, b);
                return;
            }
        }
    }
    prompt(out, b, ctx);
}

/// Asks the question of the current stage again.
fn prompt(out: &mut Outcome, b: Booking, ctx: &TurnContext<'_>) {
    match &b.stage {
        Stage::AskService { .. } | Stage::Start => return advance(out, Booking { service: None, ..b }, ctx),
        Stage::AskDay => out.say(ctx.channel, "ask_day", &[]),
        Stage::ChooseSlot { offered } => {
            let offered = offered.clone();
            return offer(out, b, offered, ctx);
        }
        Stage::ChoosePatient { options, .. } => ask_which_patient(out, options, ctx),
        Stage::AskName { .. } => out.say(ctx.channel, "ask_name", &[]),
        Stage::AskBirthDate { .. } => {
            let first = b.named_first.clone().unwrap_or_default();
            out.say(ctx.channel, "ask_birth_date", &[("first_name", &first)]);
        }
        Stage::Confirm { slot, .. } => {
            let slot = *slot;
            return confirm(out, b, slot, ctx);
        }
    }
    set(out, b);
}

fn service_name(lang: Lang, b: &Booking, ctx: &TurnContext<'_>) -> String {
    b.service.and_then(|s| ctx.catalog.service(s)).map(|s| s.name(lang).to_string()).unwrap_or_default()
}

/// Moves the booking to its next question, or to proposals.
fn advance(out: &mut Outcome, mut b: Booking, ctx: &TurnContext<'_>) {
    let lang = out.language;
    if b.service.is_none() {
        if let [only] = ctx.catalog.services.as_slice() {
            b.service = Some(only.id);
        } else {
            let options: Vec<_> = ctx.catalog.services.iter().map(|s| s.id).collect();
            let lines: Vec<String> = ctx
                .catalog
                .services
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    texts::texts().render(lang, "option_line", &[("n", &(i + 1).to_string()), ("label", &texts::capitalized(s.name(lang)))])
                })
                .collect();
            b.stage = Stage::AskService { options };
            out.say(ctx.channel, "ask_service", &[("options", &lines.join("\n"))]);
            return set(out, b);
        }
    }
    // No day given: the next free slots, and the patient may name another day.
    let clinic = &ctx.catalog.clinic;
    let tz = clinic.timezone;
    let today = ctx.now.with_timezone(&tz).date_naive();
    let engine = ctx.rules();
    let last = engine.last_bookable();
    let day_status = b.date.and_then(|d| engine.day_status(d));
    if day_status == Some(Unavailable::BeyondHorizon) {
        // Too far ahead: say how far booking opens and ask for another day.
        let days = clinic.booking_horizon_days.to_string();
        out.say(ctx.channel, "beyond_horizon", &[("days", &days), ("last", &texts::day(lang, last))]);
        b.date = None;
        b.time = None;
        b.stage = Stage::AskDay;
        return set(out, b);
    }
    let all = match b.date {
        Some(day) => search(&b, ctx, day, day),
        // The earliest free slots (or the first day with the asked time free).
        None => search_until(&b, ctx, today, last, None, |found| {
            enough_earliest(found, |s| in_preference(b.preference, s.start.with_timezone(&tz).hour()), b.time.map(|t| (tz, t)))
        }),
    };
    let matching: Vec<Slot> = all.iter().copied().filter(|s| in_preference(b.preference, s.start.with_timezone(&tz).hour())).collect();

    // Everything given and the exact time free: straight to the patient and confirmation.
    if let Some(t) = b.time
        && let Some(exact) = matching.iter().find(|s| s.start.with_timezone(&tz).time() == t)
    {
        return slot_chosen(out, b, *exact, ctx);
    }
    if !matching.is_empty() {
        let offered = pick(&matching, &b, ctx);
        return offer(out, b, offered, ctx);
    }
    let service = service_name(lang, &b, ctx);
    // Nothing that day or period: the nearest alternatives from that day on.
    let from = b.date.unwrap_or(today);
    let later = search_until(&b, ctx, from, last, None, |found| enough_earliest(found, |_| true, None));
    let alternatives = pick(&later, &Booking { time: None, ..b.clone() }, ctx);
    if alternatives.is_empty() {
        out.say(ctx.channel, "no_slots_at_all", &[("service", &service), ("days", &clinic.booking_horizon_days.to_string())]);
        out.effects.push(Effect::NeedsHuman);
        out.state.flow = Flow::Idle;
        return;
    }
    let when = match b.date {
        Some(d) => texts::day(lang, d),
        None => String::new(),
    };
    let when = if when.is_empty() { service.clone() } else { format!("{} {when}", if lang == Lang::Fr { "le" } else { "on" }) };
    if matches!(day_status, Some(Unavailable::ClosedDay | Unavailable::Holiday)) {
        out.say(ctx.channel, "closed_day", &[("when", &when)]);
        return offer(out, b, alternatives, ctx);
    }
    let options = slot_lines(lang, &alternatives, ctx);
    b.stage = Stage::ChooseSlot { offered: alternatives };
    let period = match b.preference {
        Some(TimePreference::Morning) => "morning",
        Some(TimePreference::Afternoon) => "afternoon",
        Some(TimePreference::Evening) => "evening",
        None => "any",
    };
    out.say(ctx.channel, "no_slots_that_day", &[("when", &when), ("period", period), ("service", &service), ("options", &options)]);
    set(out, b);
}

/// Offers `offered` slots (a narrowed list, or new proposals).
fn offer(out: &mut Outcome, mut b: Booking, offered: Vec<Slot>, ctx: &TurnContext<'_>) {
    let service = service_name(out.language, &b, ctx);
    let options = slot_lines(out.language, &offered, ctx);
    b.stage = Stage::ChooseSlot { offered };
    out.say(ctx.channel, "propose_slots", &[("service", &service), ("options", &options)]);
    set(out, b);
}

fn patient_facts<'a>(ctx: &TurnContext<'a>, id: PatientId) -> Facts<'a> {
    let patient = ctx.patients.iter().find(|p| p.id == id);
    Facts { patient_first_name: patient.map(|p| p.first_name.as_str()), relation: patient.and_then(|p| p.relation), ..Facts::default() }
}

fn ask_which_patient(out: &mut Outcome, options: &[crate::domain::PatientId], ctx: &TurnContext<'_>) {
    let t = texts::texts();
    let mut lines: Vec<String> = options
        .iter()
        .filter_map(|id| ctx.patients.iter().find(|p| p.id == *id))
        .enumerate()
        .map(|(i, p)| t.render(out.language, "option_line", &[("n", &(i + 1).to_string()), ("label", &p.full_name())]))
        .collect();
    let other = t.render(out.language, "another_person", &[]);
    lines.push(t.render(out.language, "option_line", &[("n", &(options.len() + 1).to_string()), ("label", &other)]));
    out.say(ctx.channel, "ask_which_patient", &[("options", &lines.join("\n"))]);
}

/// A slot is chosen: settle the patient, then confirm.
fn slot_chosen(out: &mut Outcome, mut b: Booking, slot: Slot, ctx: &TurnContext<'_>) {
    if b.patient.is_none() {
        if let (Some(first), Some(last)) = (b.named_first.clone(), b.named_last.clone()) {
            let known = ctx.patients.iter().find(|p| fold(&p.first_name) == fold(&first) && fold(&p.last_name) == fold(&last));
            if let Some(p) = known {
                b.patient = Some(PatientChoice::Existing { id: p.id });
            } else if let Some(birth_date) = b.named_birth {
                b.patient = Some(PatientChoice::New { first_name: first, last_name: last, birth_date, relation: b.relation });
            } else {
                b.stage = Stage::AskBirthDate { slot };
                out.say(ctx.channel, "ask_birth_date", &[("first_name", &first)]);
                return set(out, b);
            }
        } else if b.named_first.is_none() && b.named_last.is_none() {
            match ctx.patients {
                // For a relative not yet named: ask, even with one patient on file.
                many if b.relation.is_some() && !many.is_empty() => {
                    let options: Vec<_> = many.iter().map(|p| p.id).collect();
                    ask_which_patient(out, &options, ctx);
                    b.stage = Stage::ChoosePatient { slot, options };
                    return set(out, b);
                }
                [] => {
                    b.stage = Stage::AskName { slot };
                    out.say(ctx.channel, "ask_name", &[]);
                    return set(out, b);
                }
                [only] => b.patient = Some(PatientChoice::Existing { id: only.id }),
                many => {
                    let options: Vec<_> = many.iter().map(|p| p.id).collect();
                    ask_which_patient(out, &options, ctx);
                    b.stage = Stage::ChoosePatient { slot, options };
                    return set(out, b);
                }
            }
        } else if let (Some(first), None) = (b.named_first.clone(), &b.named_last) {
            // "mon fils Prince": a first name alone picks a patient on file.
            let same: Vec<PatientId> = ctx.patients.iter().filter(|p| fold(&p.first_name) == fold(&first)).map(|p| p.id).collect();
            match same.as_slice() {
                [only] => b.patient = Some(PatientChoice::Existing { id: *only }),
                [] => {
                    b.stage = Stage::AskName { slot };
                    out.say(ctx.channel, "ask_name", &[]);
                    return set(out, b);
                }
                several => {
                    ask_which_patient(out, several, ctx);
                    b.stage = Stage::ChoosePatient { slot, options: several.to_vec() };
                    return set(out, b);
                }
            }
        } else {
            // Half a name: ask for the whole of it.
            b.stage = Stage::AskName { slot };
            out.say(ctx.channel, "ask_name", &[]);
            return set(out, b);
        }
    }
    confirm(out, b, slot, ctx);
}

fn patient_name(b: &Booking, ctx: &TurnContext<'_>) -> String {
    match &b.patient {
        Some(PatientChoice::Existing { id }) => ctx.patients.iter().find(|p| p.id == *id).map(|p| p.full_name()).unwrap_or_default(),
        Some(PatientChoice::New { first_name, last_name, .. }) => format!("{first_name} {last_name}"),
        None => String::new(),
    }
}

fn slot_args(lang: Lang, b: &Booking, slot: &Slot, ctx: &TurnContext<'_>) -> [(&'static str, String); 5] {
    let local = slot.start.with_timezone(&ctx.catalog.clinic.timezone);
    [
        ("day", texts::day(lang, local.date_naive())),
        ("time", texts::time(local.time())),
        ("practitioner", ctx.catalog.practitioner(slot.practitioner_id).map(|p| p.display_name()).unwrap_or_default()),
        ("service", service_name(lang, b, ctx)),
        ("patient", patient_name(b, ctx)),
    ]
}

/// Asks for the confirmation of a booking whose service and patient are
/// settled; the stage then carries all the booking needs.
fn confirm(out: &mut Outcome, mut b: Booking, slot: Slot, ctx: &TurnContext<'_>) {
    let (Some(service), Some(patient)) = (b.service, b.patient.clone()) else {
        // A slot is only chosen with a service, and confirmation only follows
        // a settled patient: go back to what is missing rather than confirm half.
        return advance(out, b, ctx);
    };
    let mut args = slot_args(out.language, &b, &slot, ctx);
    // The recap shows a new patient's birth date so that a typo can be
    // corrected before anything is written; later messages do not repeat it.
    if let PatientChoice::New { birth_date, .. } = &patient {
        args[4].1 = format!("{} ({})", args[4].1, birth_date.format("%d/%m/%Y"));
    }
    let args: Vec<(&str, &str)> = args.iter().map(|(k, v)| (*k, v.as_str())).collect();
    out.say(ctx.channel, "confirm_booking", &args);
    b.stage = Stage::Confirm { slot, service, patient };
    set(out, b);
}

fn book(out: &mut Outcome, b: &Booking, slot: Slot, service: crate::domain::ServiceId, patient: PatientChoice, ctx: &TurnContext<'_>) {
    let mut args: Vec<(&str, String)> = slot_args(out.language, b, &slot, ctx).into_iter().collect();
    args.push(("address", ctx.catalog.clinic.address.clone()));
    let args: Vec<(&str, &str)> = args.iter().map(|(k, v)| (*k, v.as_str())).collect();
    out.effects.push(Effect::Book(BookingRequest { slot, service, patient }));
    out.say(ctx.channel, "booked", &args);
    out.state = Conversation::default();
}

/// The confirmed slot went to someone else between proposal and booking.
pub fn after_slot_taken(state: &Conversation, language: Lang, ctx: &TurnContext<'_>) -> Outcome {
    let mut out = Outcome { state: state.clone(), language, effects: Vec::new() };
    let Flow::Booking(b) = state.flow.clone() else { return out };
    let mut b = *b;
    let clinic = &ctx.catalog.clinic;
    let today = ctx.now.with_timezone(&clinic.timezone).date_naive();
    let from = b.date.unwrap_or(today);
    // What a search up to the horizon would offer, found searching only as
    // far as that needs (a busy clinic's horizon is thousands of slots).
    let last = today + Duration::days(clinic.booking_horizon_days as i64);
    let slots = search_until(&b, ctx, from, last, None, |found| enough_to_pick(found, &b, clinic.timezone));
    let offered = pick(&slots, &b, ctx);
    if offered.is_empty() {
        let service = service_name(language, &b, ctx);
        out.say(ctx.channel, "no_slots_at_all", &[("service", &service), ("days", &clinic.booking_horizon_days.to_string())]);
        out.effects.push(Effect::NeedsHuman);
        out.state.flow = Flow::Idle;
        return out;
    }
    let options = slot_lines(language, &offered, ctx);
    b.stage = Stage::ChooseSlot { offered };
    out.say(ctx.channel, "slot_taken", &[("options", &options)]);
    set(&mut out, b);
    out
}
