use crate::domain::{BusyInterval, PractitionerId, WeeklyWindow};
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use std::collections::HashMap;

/// The rules and the busy time a search runs against.
#[derive(Debug, Clone, Copy)]
pub struct Availability<'a> {
    pub tz: Tz,
    pub now: DateTime<Utc>,
    pub windows: &'a [WeeklyWindow],
    /// Appointments (and later exceptions and calendar events), any order.
    pub busy: &'a [BusyInterval],
    /// No slot starts sooner than this after `now`.
    pub min_notice: Duration,
    /// No slot on a local date later than today + this many days.
    pub horizon_days: u32,
}

/// What the patient asked for.
#[derive(Debug, Clone)]
pub struct SlotRequest {
    pub duration: Duration,
    /// Candidates; an empty list finds nothing.
    pub practitioners: Vec<PractitionerId>,
    /// First and last local dates searched, inclusive.
    pub from: NaiveDate,
    pub to: NaiveDate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Slot {
    pub practitioner_id: PractitionerId,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub capacity: u32,
}

struct BusyIndex {
    /// Sorted by start.
    intervals: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    longest: Duration,
}

impl BusyIndex {
    fn overlapping(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> u32 {
        let upto = self.intervals.partition_point(|(s, _)| *s < end);
        let mut n = 0;
        for (s, e) in self.intervals[..upto].iter().rev() {
            if *s + self.longest <= start {
                break;
            }
            if *e > start {
                n += 1;
            }
        }
        n
    }
}

/// All bookable slots, ordered by start time then practitioner. A slot steps
/// by the service duration from the start of its window, lies wholly inside
/// the window, starts after `now + min_notice`, and overlaps fewer busy
/// intervals of its practitioner than the window's capacity. Local times that
/// do not exist (the hour skipped when clocks go forward) are not offered.
pub fn find_slots(av: &Availability<'_>, req: &SlotRequest) -> Vec<Slot> {
    if req.duration <= Duration::zero() || req.practitioners.is_empty() {
        return Vec::new();
    }
    let mut busy: HashMap<PractitionerId, BusyIndex> = HashMap::new();
    for b in av.busy.iter().filter(|b| req.practitioners.contains(&b.practitioner_id)) {
        let entry = busy.entry(b.practitioner_id).or_insert_with(|| BusyIndex { intervals: Vec::new(), longest: Duration::zero() });
        entry.intervals.push((b.start, b.end));
        entry.longest = entry.longest.max(b.end - b.start);
    }
    for index in busy.values_mut() {
        index.intervals.sort_unstable();
    }

    let earliest = av.now + av.min_notice;
    let today = av.now.with_timezone(&av.tz).date_naive();
    let last_day = today + Duration::days(av.horizon_days as i64);
    let from = req.from.max(today);
    let to = req.to.min(last_day);

    let mut slots = Vec::new();
    let mut day = from;
    while day <= to {
        for w in av.windows.iter().filter(|w| w.weekday == day.weekday() && req.practitioners.contains(&w.practitioner_id)) {
            let mut t = day.and_time(w.start);
            let window_end = day.and_time(w.end);
            while t + req.duration <= window_end {
                if let Some(start) = av.tz.from_local_datetime(&t).earliest().map(|s| s.with_timezone(&Utc)) {
                    let end = start + req.duration;
                    let taken = busy.get(&w.practitioner_id).map_or(0, |b| b.overlapping(start, end));
                    if start >= earliest && taken < w.capacity {
                        slots.push(Slot { practitioner_id: w.practitioner_id, start, end, capacity: w.capacity });
                    }
                }
                t += req.duration;
            }
        }
        day += Duration::days(1);
    }
    slots.sort_by_key(|s| (s.start, s.practitioner_id));
    slots.dedup_by_key(|s| (s.start, s.practitioner_id));
    slots
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveTime, Weekday};
    use proptest::prelude::*;
    use uuid::Uuid;

    fn pid(n: u128) -> PractitionerId {
        PractitionerId(Uuid::from_u128(n))
    }

    fn window(p: PractitionerId, weekday: Weekday, from: (u32, u32), to: (u32, u32)) -> WeeklyWindow {
        WeeklyWindow {
            practitioner_id: p,
            weekday,
            start: NaiveTime::from_hms_opt(from.0, from.1, 0).unwrap(),
            end: NaiveTime::from_hms_opt(to.0, to.1, 0).unwrap(),
            capacity: 1,
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn kinshasa_morning_slots_are_utc_plus_one() {
        let p = pid(1);
        let windows = [window(p, Weekday::Mon, (8, 0), (10, 0))];
        let busy = [BusyInterval { practitioner_id: p, start: utc("2026-11-23T08:00:00Z"), end: utc("2026-11-23T08:30:00Z") }];
        let av = Availability {
            tz: chrono_tz::Africa::Kinshasa,
            now: utc("2026-11-22T10:00:00Z"),
            windows: &windows,
            busy: &busy,
            min_notice: Duration::hours(1),
            horizon_days: 30,
        };
        let day = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        let req = SlotRequest { duration: Duration::minutes(30), practitioners: vec![p], from: day, to: day };
        let starts: Vec<_> = find_slots(&av, &req).iter().map(|s| s.start).collect();
        // 08:00 local = 07:00Z; 09:00 local (08:00Z) is busy.
        assert_eq!(starts, vec![utc("2026-11-23T07:00:00Z"), utc("2026-11-23T07:30:00Z"), utc("2026-11-23T08:30:00Z")]);
    }

    #[test]
    fn skipped_hour_on_paris_spring_forward_is_not_offered() {
        let p = pid(1);
        let windows = [window(p, Weekday::Sun, (1, 0), (4, 0))];
        let av = Availability {
            tz: chrono_tz::Europe::Paris,
            now: utc("2027-03-20T10:00:00Z"),
            windows: &windows,
            busy: &[],
            min_notice: Duration::zero(),
            horizon_days: 30,
        };
        let day = NaiveDate::from_ymd_opt(2027, 3, 28).unwrap();
        let req = SlotRequest { duration: Duration::hours(1), practitioners: vec![p], from: day, to: day };
        let starts: Vec<_> = find_slots(&av, &req).iter().map(|s| s.start).collect();
        // 01:00 CET = 00:00Z, 02:00 does not exist, 03:00 CEST = 01:00Z.
        assert_eq!(starts, vec![utc("2027-03-28T00:00:00Z"), utc("2027-03-28T01:00:00Z")]);
    }

    proptest! {
        #[test]
        fn slots_respect_windows_busy_and_notice(
            busy_starts in proptest::collection::vec(0i64..(14 * 24 * 60), 0..40),
            busy_len in 5i64..120,
            duration in prop::sample::select(vec![10i64, 15, 20, 30, 45, 60]),
            now_offset in 0i64..(3 * 24 * 60),
            notice in 0i64..600,
        ) {
            let p = pid(7);
            let windows = [
                window(p, Weekday::Mon, (8, 0), (12, 0)),
                window(p, Weekday::Mon, (14, 0), (17, 0)),
                window(p, Weekday::Wed, (9, 30), (13, 15)),
                window(p, Weekday::Sat, (8, 0), (11, 0)),
            ];
            let base = utc("2026-11-23T00:00:00Z");
            let busy: Vec<_> = busy_starts.iter().map(|m| BusyInterval {
                practitioner_id: p,
                start: base + Duration::minutes(*m),
                end: base + Duration::minutes(*m + busy_len),
            }).collect();
            let tz = chrono_tz::Africa::Lubumbashi;
            let now = base + Duration::minutes(now_offset);
            let av = Availability { tz, now, windows: &windows, busy: &busy, min_notice: Duration::minutes(notice), horizon_days: 20 };
            let req = SlotRequest {
                duration: Duration::minutes(duration),
                practitioners: vec![p],
                from: NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
                to: NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(),
            };
            let slots = find_slots(&av, &req);
            for s in &slots {
                prop_assert!(s.start >= now + Duration::minutes(notice));
                prop_assert_eq!(s.end - s.start, Duration::minutes(duration));
                prop_assert!(busy.iter().all(|b| b.end <= s.start || b.start >= s.end), "slot overlaps busy time");
                let ls = s.start.with_timezone(&tz);
                let le = s.end.with_timezone(&tz);
                prop_assert!(windows.iter().any(|w| w.weekday == ls.weekday() && w.start <= ls.time() && le.time() <= w.end && ls.date_naive() == le.date_naive()));
            }
            prop_assert!(slots.windows(2).all(|w| w[0].start < w[1].start));
        }
    }
}
