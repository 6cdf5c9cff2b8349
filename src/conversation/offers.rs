//! Slots to offer: searched through `SlotEngine` for a booking's service and
//! practitioners, filtered by the asked period, picked (up to five, one
//! practitioner per start time) and written as a numbered list. Shared by
//! booking and moving.

use super::state::Booking;
use super::texts;
use super::turn::TurnContext;
use crate::domain::{AppointmentId, ConsultationMode, Lang, PractitionerId};
use crate::scheduling::{Slot, SlotQuery};
use crate::understanding::TimePreference;
use chrono::{NaiveDate, Timelike};

pub(super) const MAX_OFFERED: usize = 5;

pub(super) fn candidates(b: &Booking, ctx: &TurnContext<'_>) -> Vec<PractitionerId> {
    let Some(service) = b.service else { return Vec::new() };
    let all: Vec<PractitionerId> = ctx.catalog.practitioners_for(service).iter().map(|p| p.id).collect();
    match b.practitioner {
        Some(p) if all.contains(&p) => vec![p],
        _ => all,
    }
}

pub(super) fn search(b: &Booking, ctx: &TurnContext<'_>, from: NaiveDate, to: NaiveDate) -> Vec<Slot> {
    search_ignoring(b, ctx, from, to, None)
}

/// Slots for the booking's service and practitioners; `ignore` leaves out an
/// appointment being moved, so its own time counts as free.
pub(super) fn search_ignoring(
    b: &Booking,
    ctx: &TurnContext<'_>,
    from: NaiveDate,
    to: NaiveDate,
    ignore: Option<AppointmentId>,
) -> Vec<Slot> {
    let Some(service) = b.service else { return Vec::new() };
    let practitioners = candidates(b, ctx);
    if practitioners.is_empty() {
        return Vec::new();
    }
    let query = SlotQuery { service, mode: ConsultationMode::InPerson, practitioners, from, to };
    ctx.engine(from, to, ignore).find(&query)
}

/// Searches from `from` a week, then two, four… up to `to`, and stops as
/// soon as `enough` holds for what was found. A search over the first days
/// finds exactly the slots a search up to `to` finds on those days, so a
/// caller whose choice depends only on the earliest days (the earliest free
/// slots, the first day with an asked time) gets the same answer, having
/// read and searched a week instead of the whole horizon.
pub(super) fn search_until(
    b: &Booking,
    ctx: &TurnContext<'_>,
    from: NaiveDate,
    to: NaiveDate,
    ignore: Option<AppointmentId>,
    enough: impl Fn(&[Slot]) -> bool,
) -> Vec<Slot> {
    let mut days = 7;
    loop {
        let end = (from + chrono::Duration::days(days - 1)).min(to);
        let slots = search_ignoring(b, ctx, from, end, ignore);
        if end >= to || enough(&slots) {
            return slots;
        }
        days *= 2;
    }
}

/// Enough earliest slots to offer: [`MAX_OFFERED`] different start times
/// among those `keep` accepts, or, when a time was asked (`exact`), one at
/// that time (the first day with it free is then the answer).
pub(super) fn enough_earliest(slots: &[Slot], keep: impl Fn(&Slot) -> bool, exact: Option<(chrono_tz::Tz, chrono::NaiveTime)>) -> bool {
    let mut kept = slots.iter().filter(|s| keep(s));
    match exact {
        Some((tz, t)) => kept.any(|s| s.start.with_timezone(&tz).time() == t),
        None => {
            let mut starts: Vec<_> = kept.map(|s| s.start).collect();
            starts.dedup();
            starts.len() >= MAX_OFFERED
        }
    }
}

/// Enough slots for [`pick`] to choose exactly what it would choose from a
/// search up to the horizon: [`MAX_OFFERED`] different start times, or, for
/// a day and a time asked together (pick takes the nearest times first, over
/// every day), that many different starts at exactly that time. Any slot
/// of a later day would rank after those.
pub(super) fn enough_to_pick(slots: &[Slot], b: &Booking, tz: chrono_tz::Tz) -> bool {
    let exact = |s: &Slot| match (b.date, b.time) {
        (Some(_), Some(t)) => s.start.with_timezone(&tz).time() == t,
        _ => true,
    };
    enough_earliest(slots, exact, None)
}

pub(super) fn in_preference(pref: Option<TimePreference>, hour: u32) -> bool {
    match pref {
        None => true,
        Some(TimePreference::Morning) => hour < 12,
        Some(TimePreference::Afternoon) => (12..17).contains(&hour),
        Some(TimePreference::Evening) => hour >= 17,
    }
}

/// Up to five slots: nearest to the asked time if any, else the earliest,
/// one practitioner per start time so the list offers real choice.
pub(super) fn pick(slots: &[Slot], b: &Booking, ctx: &TurnContext<'_>) -> Vec<Slot> {
    let tz = ctx.catalog.clinic.timezone;
    let mut chosen: Vec<Slot> = Vec::new();
    let mut ordered: Vec<Slot> = slots.to_vec();
    if let Some(t) = b.time {
        let wanted = t.num_seconds_from_midnight() as i64;
        ordered.sort_by_key(|s| {
            let local = s.start.with_timezone(&tz);
            ((local.time().num_seconds_from_midnight() as i64 - wanted).abs(), local.date_naive(), s.start)
        });
        if b.date.is_none() {
            // A time without a day: the earliest days first, nearest time within each.
            ordered.sort_by_key(|s| s.start.with_timezone(&tz).date_naive());
        }
    }
    for s in ordered {
        if chosen.len() == MAX_OFFERED {
            break;
        }
        if !chosen.iter().any(|c| c.start == s.start) {
            chosen.push(s);
        }
    }
    chosen.sort_by_key(|s| (s.start, s.practitioner_id));
    chosen
}

pub(super) fn slot_lines(lang: Lang, slots: &[Slot], ctx: &TurnContext<'_>) -> String {
    let tz = ctx.catalog.clinic.timezone;
    slots
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let local = s.start.with_timezone(&tz);
            let practitioner = ctx.catalog.practitioner(s.practitioner_id).map(|p| p.display_name()).unwrap_or_default();
            texts::texts().render(
                lang,
                "slot_line",
                &[
                    ("n", &(i + 1).to_string()),
                    ("day", &texts::day(lang, local.date_naive())),
                    ("time", &texts::time(local.time())),
                    ("practitioner", &practitioner),
                ],
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
#[path = "offers_tests.rs"]
mod tests;
