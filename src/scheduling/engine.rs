//! The slot engine: clinic rules + time already taken + "now" → bookable
//! slots, and the same check for one slot when it is booked. Pure: no I/O, no
//! clock; every local computation happens in the clinic's IANA zone and every
//! result is a UTC instant.

use super::local::{day_start, local_instant};
use crate::domain::*;
use chrono::{DateTime, Datelike, Duration, NaiveDate, Offset, TimeZone, Utc};
use std::collections::HashMap;

/// What the patient (or staff) asks for.
#[derive(Debug, Clone)]
pub struct SlotQuery {
    pub service: ServiceId,
    pub mode: ConsultationMode,
    /// Candidates; empty means every active practitioner who performs the service.
    pub practitioners: Vec<PractitionerId>,
    /// First and last local dates searched, inclusive.
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// A bookable time with one practitioner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Slot {
    pub practitioner_id: PractitionerId,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Patients the window accepts at this time.
    pub capacity: u32,
}

/// Why a time cannot be booked. Never shown raw to a patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unavailable {
    #[error("unknown service")]
    UnknownService,
    #[error("the practitioner does not offer this service")]
    NotOffered,
    #[error("the clinic is closed that day")]
    ClosedDay,
    #[error("public holiday")]
    Holiday,
    #[error("outside the practitioner's availability")]
    OutsideWindows,
    #[error("too soon (minimum notice)")]
    TooSoon,
    #[error("beyond the booking horizon")]
    BeyondHorizon,
    #[error("the practitioner is unavailable (exception)")]
    Exception,
    #[error("the practitioner is busy (calendar)")]
    Busy,
    #[error("already full")]
    Full,
    #[error("the practitioner's daily limit is reached")]
    DailyLimit,
}

/// Half-open intervals sorted by start, with the longest length so an overlap
/// query is a binary search plus a short backward scan. Held as epoch
/// seconds: the scan compares integers, not chrono instants.
#[derive(Debug, Default)]
struct IntervalIndex {
    intervals: Vec<(i64, i64)>,
    longest: i64,
}

impl IntervalIndex {
    fn push(&mut self, start: DateTime<Utc>, end: DateTime<Utc>) {
        let (start, end) = (start.timestamp(), end.timestamp());
        if end > start {
            self.intervals.push((start, end));
            self.longest = self.longest.max(end - start);
        }
    }

    fn finish(&mut self) {
        // Occupancy usually comes in runs already in order (a read follows
        // its index, a widening is appended after): the stable sort merges
        // runs instead of sorting from scratch.
        self.intervals.sort();
    }

    fn count_overlapping(&self, start: DateTime<Utc>, end: DateTime<Utc>, stop_at: u32) -> u32 {
        let (start, end) = (start.timestamp(), end.timestamp());
        let upto = self.intervals.partition_point(|(s, _)| *s < end);
        // No interval starting at or before this can reach `start`.
        let floor = start - self.longest;
        let mut n = 0;
        for (s, e) in self.intervals[..upto].iter().rev() {
            if *s <= floor {
                break;
            }
            if *e > start {
                n += 1;
                if n >= stop_at {
                    break;
                }
            }
        }
        n
    }

    fn overlaps(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
        self.count_overlapping(start, end, 1) > 0
    }
}

/// Exceptions and outside busy time of one practitioner over a date range.
struct Blocks {
    exceptions: IntervalIndex,
    external: IntervalIndex,
}

/// The engine over one clinic's catalog and the time already taken.
pub struct SlotEngine<'a> {
    catalog: &'a ClinicCatalog,
    now: DateTime<Utc>,
    booked: HashMap<PractitionerId, IntervalIndex>,
    external: &'a [BusyInterval],
    per_day: HashMap<(PractitionerId, NaiveDate), u32>,
}

impl<'a> SlotEngine<'a> {
    /// `ignore` leaves one appointment out (the one being moved).
    pub fn new(catalog: &'a ClinicCatalog, occupancy: &'a Occupancy, now: DateTime<Utc>, ignore: Option<AppointmentId>) -> Self {
        let tz = catalog.clinic.timezone;
        let limited: Vec<PractitionerId> = catalog.practitioners.iter().filter(|p| p.daily_limit.is_some()).map(|p| p.id).collect();
        let mut booked: HashMap<PractitionerId, IntervalIndex> = HashMap::new();
        let mut per_day = HashMap::new();
        for b in occupancy.booked.iter().filter(|b| Some(b.appointment_id) != ignore) {
            booked.entry(b.practitioner_id).or_default().push(b.blocked_from, b.blocked_until);
            if limited.contains(&b.practitioner_id) {
                *per_day.entry((b.practitioner_id, b.start.with_timezone(&tz).date_naive())).or_insert(0) += 1;
            }
        }
        booked.values_mut().for_each(IntervalIndex::finish);
        SlotEngine { catalog, now, booked, external: &occupancy.external, per_day }
    }

    fn today(&self) -> NaiveDate {
        self.now.with_timezone(&self.catalog.clinic.timezone).date_naive()
    }

    fn last_bookable_day(&self) -> NaiveDate {
        self.today() + Duration::days(self.catalog.clinic.booking_horizon_days as i64)
    }

    fn earliest_start(&self) -> DateTime<Utc> {
        self.now + Duration::minutes(self.catalog.clinic.min_notice_minutes as i64)
    }

    fn day_closed(&self, day: NaiveDate) -> Option<Unavailable> {
        if !self.catalog.clinic.opening_days.contains(day.weekday()) {
            Some(Unavailable::ClosedDay)
        } else if self.catalog.holidays.iter().any(|h| h.date == day) {
            Some(Unavailable::Holiday)
        } else {
            None
        }
    }

    /// Why nothing at all can be booked on local `day` (closed day, holiday,
    /// past, beyond the horizon), or `None` when the day is open for booking.
    pub fn day_status(&self, day: NaiveDate) -> Option<Unavailable> {
        if day < self.today() {
            Some(Unavailable::TooSoon)
        } else if day > self.last_bookable_day() {
            Some(Unavailable::BeyondHorizon)
        } else {
            self.day_closed(day)
        }
    }

    /// Whether `practitioner` is in on local `day`: the clinic open (not a
    /// closed day or a holiday), a weekly window that day, and no absence
    /// covering the whole day. What "who works on Thursday?" answers.
    pub fn works_on(&self, practitioner: PractitionerId, day: NaiveDate) -> bool {
        let weekday = day.weekday();
        self.day_closed(day).is_none()
            && self.catalog.windows.iter().any(|w| w.practitioner_id == practitioner && w.weekday == weekday)
            && !self.catalog.exceptions.iter().any(|e| {
                e.applies_to(practitioner)
                    && match &e.time {
                        ExceptionTime::Days { first, last } => *first <= day && day <= *last,
                        ExceptionTime::Weekly { weekday: w, start_minute, end_minute, from, until } => {
                            *w == weekday
                                && *start_minute == 0
                                && *end_minute >= DAY_MINUTES
                                && *from <= day
                                && until.is_none_or(|u| day <= u)
                        }
                        ExceptionTime::Once { .. } => false,
                    }
            })
    }

    /// The last local day that can be booked.
    pub fn last_bookable(&self) -> NaiveDate {
        self.last_bookable_day()
    }

    /// Active practitioners who perform the service and are among the candidates.
    fn candidates(&self, service: &Service, q: &SlotQuery) -> Vec<PractitionerId> {
        self.catalog
            .practitioners
            .iter()
            .filter(|p| p.active && service.practitioners.contains(&p.id))
            .filter(|p| q.practitioners.is_empty() || q.practitioners.contains(&p.id))
            .map(|p| p.id)
            .collect()
    }

    /// Exceptions and outside busy time of `practitioner` touching local days `first..=last`.
    fn blocks(&self, practitioner: PractitionerId, first: NaiveDate, last: NaiveDate) -> Blocks {
        let tz = self.catalog.clinic.timezone;
        let mut exceptions = IntervalIndex::default();
        for e in self.catalog.exceptions.iter().filter(|e| e.applies_to(practitioner)) {
            match &e.time {
                ExceptionTime::Once { start, end } => exceptions.push(*start, *end),
                ExceptionTime::Days { first: a, last: b } => {
                    if *a <= last && *b >= first {
                        exceptions.push(day_start(tz, *a), day_start(tz, *b + Duration::days(1)));
                    }
                }
                ExceptionTime::Weekly { weekday, start_minute, end_minute, from, until } => {
                    let lo = first.max(*from);
                    let hi = until.map_or(last, |u| u.min(last));
                    if lo > hi {
                        continue;
                    }
                    let shift = (weekday.num_days_from_monday() as i64 - lo.weekday().num_days_from_monday() as i64).rem_euclid(7);
                    let mut day = lo + Duration::days(shift);
                    while day <= hi {
                        let midnight = day.and_hms_opt(0, 0, 0).expect("midnight");
                        let start = local_instant(tz, midnight + Duration::minutes(*start_minute as i64));
                        let end = local_instant(tz, midnight + Duration::minutes(*end_minute as i64));
                        exceptions.push(start, end);
                        day += Duration::days(7);
                    }
                }
            }
        }
        exceptions.finish();
        let mut external = IntervalIndex::default();
        for b in self.external.iter().filter(|b| b.practitioner_id == practitioner) {
            external.push(b.start, b.end);
        }
        external.finish();
        Blocks { exceptions, external }
    }

    /// The windows of one practitioner on one local day that accept the
    /// service and mode, as UTC bounds (computed once per day, not per slot).
    fn day_windows(&self, windows: &[&WeeklyWindow], day: NaiveDate) -> Vec<DayWindow> {
        let tz = self.catalog.clinic.timezone;
        let midnight = day.and_hms_opt(0, 0, 0).expect("midnight");
        windows
            .iter()
            .filter(|w| w.weekday == day.weekday())
            .map(|w| DayWindow {
                start_minute: w.start_minute,
                end_minute: w.end_minute,
                start: local_instant(tz, midnight + Duration::minutes(w.start_minute as i64)),
                end: local_instant(tz, midnight + Duration::minutes(w.end_minute as i64)),
                capacity: w.capacity.max(1),
            })
            .collect()
    }

    /// The rules that depend on the time itself, for a slot in `window`.
    fn evaluate(
        &self,
        p: &Candidate<'_>,
        local_day: NaiveDate,
        day: &[DayWindow],
        window: &DayWindow,
        start: DateTime<Utc>,
    ) -> Result<Slot, Unavailable> {
        let end = start + p.duration;
        if start < window.start || end > window.end {
            return Err(Unavailable::OutsideWindows);
        }
        if start < self.earliest_start() {
            return Err(Unavailable::TooSoon);
        }
        let from = start - p.before;
        let until = end + p.after;
        if p.blocks.exceptions.overlaps(from, until) {
            return Err(Unavailable::Exception);
        }
        if p.blocks.external.overlaps(from, until) {
            return Err(Unavailable::Busy);
        }
        // Where windows overlap, the most generous one that holds the slot counts.
        let capacity = day.iter().filter(|w| start >= w.start && end <= w.end).map(|w| w.capacity).max().unwrap_or(window.capacity);
        let taken = p.booked.map_or(0, |b| b.count_overlapping(from, until, capacity));
        if taken >= capacity {
            return Err(Unavailable::Full);
        }
        if let Some(limit) = p.daily_limit
            && self.day_full(p.id, local_day, limit)
        {
            return Err(Unavailable::DailyLimit);
        }
        Ok(Slot { practitioner_id: p.id, start, end, capacity })
    }

    /// Whether `practitioner` already has `limit` appointments on local `day`.
    fn day_full(&self, practitioner: PractitionerId, day: NaiveDate, limit: u32) -> bool {
        self.per_day.get(&(practitioner, day)).copied().unwrap_or(0) >= limit
    }

    fn candidate<'s>(
        &'s self,
        id: PractitionerId,
        service: &Service,
        mode: ConsultationMode,
        first: NaiveDate,
        last: NaiveDate,
    ) -> Candidate<'s> {
        Candidate {
            id,
            duration: Duration::minutes(service.duration_for(id) as i64),
            before: Duration::minutes(service.buffer_before_minutes as i64),
            after: Duration::minutes(service.buffer_after_minutes as i64),
            daily_limit: self.catalog.practitioner(id).and_then(|p| p.daily_limit),
            windows: self.catalog.windows.iter().filter(|w| w.practitioner_id == id && w.accepts(service.id, mode)).collect(),
            blocks: self.blocks(id, first - Duration::days(1), last + Duration::days(1)),
            booked: self.booked.get(&id),
        }
    }

    /// Every bookable slot, ordered by start then practitioner. Slots step by
    /// the service's duration (for that practitioner) from each window's
    /// start; local times that do not exist (clocks going forward) are skipped.
    pub fn find(&self, q: &SlotQuery) -> Vec<Slot> {
        let Some(service) = self.catalog.service(q.service) else { return Vec::new() };
        let from = q.from.max(self.today());
        let to = q.to.min(self.last_bookable_day());
        if from > to {
            return Vec::new();
        }
        let tz = self.catalog.clinic.timezone;
        let mut slots = Vec::new();
        for id in self.candidates(service, q) {
            if service.duration_for(id) == 0
                || !self.catalog.windows.iter().any(|w| w.practitioner_id == id && w.accepts(service.id, q.mode))
            {
                continue;
            }
            let p = self.candidate(id, service, q.mode, from, to);
            let step = p.duration.num_minutes();
            let mut day = from;
            while day <= to {
                // A day already at the practitioner's limit offers nothing.
                if self.day_closed(day).is_none() && !p.daily_limit.is_some_and(|limit| self.day_full(id, day, limit)) {
                    let midnight = day.and_hms_opt(0, 0, 0).expect("midnight");
                    let day_windows = self.day_windows(&p.windows, day);
                    for w in &day_windows {
                        // Without a clock change inside the window (the same
                        // offset at both ends, and as many minutes between its
                        // instants as between its local times), a local minute
                        // is the window's start plus the minutes since: no
                        // time-zone lookup per slot.
                        let steady = w.end - w.start == Duration::minutes(w.end_minute as i64 - w.start_minute as i64)
                            && tz.offset_from_utc_datetime(&w.start.naive_utc()).fix()
                                == tz.offset_from_utc_datetime(&w.end.naive_utc()).fix();
                        let mut minute = w.start_minute as i64;
                        while minute + step <= w.end_minute as i64 {
                            let start = if steady {
                                Some(w.start + Duration::minutes(minute - w.start_minute as i64))
                            } else {
                                // A local time in the gap of a clock change does not exist.
                                tz.from_local_datetime(&(midnight + Duration::minutes(minute))).earliest().map(|t| t.with_timezone(&Utc))
                            };
                            if let Some(start) = start
                                && let Ok(slot) = self.evaluate(&p, day, &day_windows, w, start)
                            {
                                slots.push(slot);
                            }
                            minute += step;
                        }
                    }
                }
                day += Duration::days(1);
            }
        }
        slots.sort_unstable_by_key(|s| (s.start, s.practitioner_id));
        slots.dedup_by_key(|s| (s.start, s.practitioner_id));
        slots
    }

    /// Whether `practitioner` can take the query's service at `start`, by the
    /// same rules as [`find`](Self::find). Booking calls this under the
    /// practitioner's lock, with the occupancy read after the lock.
    pub fn check(&self, q: &SlotQuery, practitioner: PractitionerId, start: DateTime<Utc>) -> Result<Slot, Unavailable> {
        let service = self.catalog.service(q.service).ok_or(Unavailable::UnknownService)?;
        if !self.candidates(service, q).contains(&practitioner) {
            return Err(Unavailable::NotOffered);
        }
        let day = start.with_timezone(&self.catalog.clinic.timezone).date_naive();
        if start < self.earliest_start() || day < self.today() {
            return Err(Unavailable::TooSoon);
        }
        if day > self.last_bookable_day() {
            return Err(Unavailable::BeyondHorizon);
        }
        if let Some(closed) = self.day_closed(day) {
            return Err(closed);
        }
        let p = self.candidate(practitioner, service, q.mode, day, day);
        let day_windows = self.day_windows(&p.windows, day);
        let mut outcome = Err(Unavailable::OutsideWindows);
        for w in &day_windows {
            match self.evaluate(&p, day, &day_windows, w, start) {
                Ok(slot) => return Ok(slot),
                Err(Unavailable::OutsideWindows) => {}
                Err(other) => outcome = Err(other),
            }
        }
        outcome
    }
}

/// One practitioner's rules for one search.
struct Candidate<'c> {
    id: PractitionerId,
    duration: Duration,
    before: Duration,
    after: Duration,
    daily_limit: Option<u32>,
    windows: Vec<&'c WeeklyWindow>,
    blocks: Blocks,
    /// The practitioner's booked time (none booked: `None`).
    booked: Option<&'c IntervalIndex>,
}

/// A window on a given local day, with its bounds as instants.
struct DayWindow {
    start_minute: u16,
    end_minute: u16,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    capacity: u32,
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
