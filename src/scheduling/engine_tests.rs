//! Slot engine tests: fixed cases for every rule and time zone, and property
//! tests comparing the engine with an independent oracle written in local
//! wall-clock terms.

use super::*;
use chrono::{NaiveDateTime, NaiveTime, Timelike, Weekday};
use chrono_tz::Tz;
use proptest::prelude::*;
use uuid::Uuid;

fn pid(n: u128) -> PractitionerId {
    PractitionerId(Uuid::from_u128(n))
}

fn sid(n: u128) -> ServiceId {
    ServiceId(Uuid::from_u128(1000 + n))
}

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn window(p: PractitionerId, weekday: Weekday, from: (u16, u16), to: (u16, u16)) -> WeeklyWindow {
    WeeklyWindow {
        practitioner_id: p,
        weekday,
        start_minute: from.0 * 60 + from.1,
        end_minute: to.0 * 60 + to.1,
        capacity: 1,
        services: Vec::new(),
        mode: None,
    }
}

fn practitioner(p: PractitionerId) -> Practitioner {
    Practitioner {
        id: p,
        clinic_id: ClinicId(Uuid::nil()),
        title: "Dr".into(),
        first_name: "A".into(),
        last_name: format!("P{}", p.0.as_u128()),
        active: true,
        daily_limit: None,
    }
}

fn service(s: ServiceId, minutes: u32, practitioners: &[PractitionerId]) -> Service {
    Service {
        id: s,
        clinic_id: ClinicId(Uuid::nil()),
        name_fr: "consultation".into(),
        name_en: "consultation".into(),
        duration_minutes: minutes,
        buffer_before_minutes: 0,
        buffer_after_minutes: 0,
        practitioners: practitioners.to_vec(),
        duration_overrides: Vec::new(),
        price: None,
    }
}

fn catalog(tz: Tz, practitioners: &[PractitionerId], services: Vec<Service>, windows: Vec<WeeklyWindow>) -> ClinicCatalog {
    ClinicCatalog {
        clinic: Clinic {
            id: ClinicId(Uuid::nil()),
            slug: "t".into(),
            name: "T".into(),
            timezone: tz,
            default_language: Lang::Fr,
            address: String::new(),
            phone: None,
            emergency_number: "112".into(),
            opening_hours_fr: None,
            opening_hours_en: None,
            answers: vec![],
            model_policy: ModelPolicy::Any,
            calendar_patient_names: false,
            booking_horizon_days: 30,
            min_notice_minutes: 0,
            opening_days: WeekdaySet::ALL,
            whatsapp_number: None,
            sms_number: None,
        },
        practitioners: practitioners.iter().map(|p| practitioner(*p)).collect(),
        services,
        windows,
        holidays: Vec::new(),
        exceptions: Vec::new(),
    }
}

fn query(s: ServiceId, from: &str, to: &str) -> SlotQuery {
    SlotQuery { service: s, mode: ConsultationMode::InPerson, practitioners: Vec::new(), from: date(from), to: date(to) }
}

fn booked(p: PractitionerId, start: &str, minutes: i64) -> BookedTime {
    let start = utc(start);
    let end = start + Duration::minutes(minutes);
    BookedTime { appointment_id: AppointmentId::random(), practitioner_id: p, start, end, blocked_from: start, blocked_until: end }
}

fn local_starts(cat: &ClinicCatalog, slots: &[Slot]) -> Vec<String> {
    slots.iter().map(|s| s.start.with_timezone(&cat.clinic.timezone).format("%a %d %H:%M").to_string()).collect()
}

#[test]
fn kinshasa_slots_are_utc_plus_one_and_skip_booked_time() {
    let p = pid(1);
    let cat = catalog(chrono_tz::Africa::Kinshasa, &[p], vec![service(sid(1), 30, &[p])], vec![window(p, Weekday::Mon, (8, 0), (10, 0))]);
    let occ = Occupancy { booked: vec![booked(p, "2026-11-23T08:00:00Z", 30)], external: vec![] };
    let engine = SlotEngine::new(&cat, &occ, utc("2026-11-22T10:00:00Z"), None);
    let starts: Vec<_> = engine.find(&query(sid(1), "2026-11-23", "2026-11-23")).iter().map(|s| s.start).collect();
    assert_eq!(starts, vec![utc("2026-11-23T07:00:00Z"), utc("2026-11-23T07:30:00Z"), utc("2026-11-23T08:30:00Z")]);
}

#[test]
fn lubumbashi_is_utc_plus_two() {
    let p = pid(1);
    let cat = catalog(chrono_tz::Africa::Lubumbashi, &[p], vec![service(sid(1), 60, &[p])], vec![window(p, Weekday::Mon, (8, 0), (10, 0))]);
    let occ = Occupancy::default();
    let engine = SlotEngine::new(&cat, &occ, utc("2026-11-22T10:00:00Z"), None);
    let starts: Vec<_> = engine.find(&query(sid(1), "2026-11-23", "2026-11-23")).iter().map(|s| s.start).collect();
    assert_eq!(starts, vec![utc("2026-11-23T06:00:00Z"), utc("2026-11-23T07:00:00Z")]);
}

#[test]
fn paris_spring_forward_skips_the_missing_hour() {
    let p = pid(1);
    let cat = catalog(chrono_tz::Europe::Paris, &[p], vec![service(sid(1), 60, &[p])], vec![window(p, Weekday::Sun, (1, 0), (4, 0))]);
    let occ = Occupancy::default();
    let engine = SlotEngine::new(&cat, &occ, utc("2027-03-20T10:00:00Z"), None);
    let starts: Vec<_> = engine.find(&query(sid(1), "2027-03-28", "2027-03-28")).iter().map(|s| s.start).collect();
    // 01:00 CET = 00:00Z; 02:00 does not exist; 03:00 CEST = 01:00Z. The
    // 01:00 slot ends at 03:00 local, one real hour later.
    assert_eq!(starts, vec![utc("2027-03-28T00:00:00Z"), utc("2027-03-28T01:00:00Z")]);
}

#[test]
fn paris_fall_back_offers_the_repeated_hour_once_and_keeps_real_durations() {
    let p = pid(1);
    let cat = catalog(chrono_tz::Europe::Paris, &[p], vec![service(sid(1), 60, &[p])], vec![window(p, Weekday::Sun, (1, 0), (4, 0))]);
    let occ = Occupancy::default();
    let engine = SlotEngine::new(&cat, &occ, utc("2026-10-20T10:00:00Z"), None);
    let slots = engine.find(&query(sid(1), "2026-10-25", "2026-10-25"));
    // 01:00 CEST = 23:00Z; 02:00 (first, CEST) = 00:00Z; 03:00 CET = 02:00Z.
    let starts: Vec<_> = slots.iter().map(|s| s.start).collect();
    assert_eq!(starts, vec![utc("2026-10-24T23:00:00Z"), utc("2026-10-25T00:00:00Z"), utc("2026-10-25T02:00:00Z")]);
    assert!(slots.iter().all(|s| s.end - s.start == Duration::hours(1)));
    // The window ends at 04:00 CET = 03:00Z: a slot from 03:00 would not fit.
    assert!(slots.iter().all(|s| s.end <= utc("2026-10-25T03:00:00Z")));
}

#[test]
fn paris_ordinary_days_around_the_change_use_the_right_offset() {
    let p = pid(1);
    let cat = catalog(
        chrono_tz::Europe::Paris,
        &[p],
        vec![service(sid(1), 30, &[p])],
        vec![window(p, Weekday::Sat, (9, 0), (9, 30)), window(p, Weekday::Mon, (9, 0), (9, 30))],
    );
    let occ = Occupancy::default();
    let engine = SlotEngine::new(&cat, &occ, utc("2026-10-20T10:00:00Z"), None);
    let starts: Vec<_> = engine.find(&query(sid(1), "2026-10-24", "2026-10-26")).iter().map(|s| s.start).collect();
    assert_eq!(starts, vec![utc("2026-10-24T07:00:00Z"), utc("2026-10-26T08:00:00Z")]);
}

#[test]
fn partial_exception_blocks_only_its_hour() {
    let p = pid(1);
    let mut cat =
        catalog(chrono_tz::Africa::Kinshasa, &[p], vec![service(sid(1), 30, &[p])], vec![window(p, Weekday::Tue, (8, 0), (12, 0))]);
    cat.exceptions.push(AvailabilityException {
        id: ExceptionId::random(),
        practitioner_id: Some(p),
        kind: ExceptionKind::Busy,
        reason: "staff meeting".into(),
        time: ExceptionTime::Once { start: utc("2026-11-24T09:00:00Z"), end: utc("2026-11-24T10:00:00Z") },
    });
    let occ = Occupancy::default();
    let engine = SlotEngine::new(&cat, &occ, utc("2026-11-22T10:00:00Z"), None);
    let slots = engine.find(&query(sid(1), "2026-11-24", "2026-11-24"));
    assert_eq!(
        local_starts(&cat, &slots),
        ["Tue 24 08:00", "Tue 24 08:30", "Tue 24 09:00", "Tue 24 09:30", "Tue 24 11:00", "Tue 24 11:30"]
    );
    let q = query(sid(1), "2026-11-24", "2026-11-24");
    assert_eq!(engine.check(&q, p, utc("2026-11-24T09:00:00Z")), Err(Unavailable::Exception));
}

#[test]
fn day_and_weekly_exceptions_holidays_and_closed_days() {
    let p = pid(1);
    let days = [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri, Weekday::Sat, Weekday::Sun];
    let mut cat = catalog(
        chrono_tz::Africa::Kinshasa,
        &[p],
        vec![service(sid(1), 60, &[p])],
        days.iter().map(|d| window(p, *d, (8, 0), (10, 0))).collect(),
    );
    cat.clinic.opening_days = days[..6].iter().copied().collect(); // closed on Sunday
    cat.holidays.push(Holiday { date: date("2026-11-25"), name: "holiday".into() });
    cat.exceptions.push(AvailabilityException {
        id: ExceptionId::random(),
        practitioner_id: Some(p),
        kind: ExceptionKind::Leave,
        reason: String::new(),
        time: ExceptionTime::Days { first: date("2026-11-26"), last: date("2026-11-27") },
    });
    cat.exceptions.push(AvailabilityException {
        id: ExceptionId::random(),
        practitioner_id: None,
        kind: ExceptionKind::Training,
        reason: String::new(),
        time: ExceptionTime::Weekly {
            weekday: Weekday::Mon,
            start_minute: 8 * 60,
            end_minute: 9 * 60,
            from: date("2026-01-01"),
            until: None,
        },
    });
    let occ = Occupancy::default();
    let engine = SlotEngine::new(&cat, &occ, utc("2026-11-22T12:00:00Z"), None);
    let slots = engine.find(&query(sid(1), "2026-11-22", "2026-11-30"));
    assert_eq!(
        local_starts(&cat, &slots),
        ["Mon 23 09:00", "Tue 24 08:00", "Tue 24 09:00", "Sat 28 08:00", "Sat 28 09:00", "Mon 30 09:00"]
    );
    let q = query(sid(1), "2026-11-22", "2026-11-30");
    assert_eq!(engine.check(&q, p, utc("2026-11-25T07:00:00Z")), Err(Unavailable::Holiday));
    assert_eq!(engine.check(&q, p, utc("2026-11-29T07:00:00Z")), Err(Unavailable::ClosedDay));
    assert_eq!(engine.check(&q, p, utc("2026-11-26T07:00:00Z")), Err(Unavailable::Exception));
}

#[test]
fn buffers_stack_between_neighbours() {
    let p = pid(1);
    let mut s = service(sid(1), 30, &[p]);
    s.buffer_before_minutes = 10;
    s.buffer_after_minutes = 15;
    let cat = catalog(chrono_tz::Africa::Kinshasa, &[p], vec![s], vec![window(p, Weekday::Tue, (8, 0), (12, 0))]);
    // A booking 09:00–09:30 local (08:00Z) blocking 08:50–09:45.
    let mut b = booked(p, "2026-11-24T08:00:00Z", 30);
    b.blocked_from = b.start - Duration::minutes(10);
    b.blocked_until = b.end + Duration::minutes(15);
    let occ = Occupancy { booked: vec![b], external: vec![] };
    let engine = SlotEngine::new(&cat, &occ, utc("2026-11-22T10:00:00Z"), None);
    let slots = engine.find(&query(sid(1), "2026-11-24", "2026-11-24"));
    // 08:00 (blocks until 08:45) fits; 08:30 would block until 09:15; 09:30
    // would start its 10-minute buffer at 09:20, inside the other's 09:45;
    // 10:00 starts its buffer at 09:50, after 09:45.
    assert_eq!(local_starts(&cat, &slots)[..3], ["Tue 24 08:00", "Tue 24 10:00", "Tue 24 10:30"]);
}

#[test]
fn practitioner_duration_override_window_services_and_modes() {
    let (a, b) = (pid(1), pid(2));
    let mut consult = service(sid(1), 30, &[a, b]);
    consult.duration_overrides.push((b, 45));
    let vacc = service(sid(2), 15, &[a]);
    let mut group = window(a, Weekday::Tue, (8, 0), (9, 0));
    group.services = vec![sid(2)];
    group.capacity = 3;
    let mut remote = window(a, Weekday::Tue, (14, 0), (15, 0));
    remote.mode = Some(ConsultationMode::Remote);
    let cat =
        catalog(chrono_tz::Africa::Kinshasa, &[a, b], vec![consult, vacc], vec![group, remote, window(b, Weekday::Tue, (8, 0), (10, 0))]);
    let occ = Occupancy { booked: vec![booked(a, "2026-11-24T07:00:00Z", 15), booked(a, "2026-11-24T07:00:00Z", 15)], external: vec![] };
    let engine = SlotEngine::new(&cat, &occ, utc("2026-11-22T10:00:00Z"), None);
    // Consultations in person: only b (a's morning window is for vaccinations,
    // a's afternoon one is remote), in 45-minute steps.
    let slots = engine.find(&query(sid(1), "2026-11-24", "2026-11-24"));
    assert!(slots.iter().all(|s| s.practitioner_id == b && s.end - s.start == Duration::minutes(45)));
    assert_eq!(local_starts(&cat, &slots), ["Tue 24 08:00", "Tue 24 08:45"]);
    // Remote consultations: a in the afternoon.
    let mut q = query(sid(1), "2026-11-24", "2026-11-24");
    q.mode = ConsultationMode::Remote;
    let remote_slots = engine.find(&q);
    assert_eq!(local_starts(&cat, &remote_slots), ["Tue 24 08:00", "Tue 24 08:45", "Tue 24 14:00", "Tue 24 14:30"]);
    // Vaccinations: 08:00 has two of three places left, capacity shown.
    let vacc_slots = engine.find(&query(sid(2), "2026-11-24", "2026-11-24"));
    assert_eq!(vacc_slots.len(), 4);
    assert!(vacc_slots.iter().all(|s| s.capacity == 3));
}

#[test]
fn daily_limit_notice_horizon_and_external_busy() {
    let p = pid(1);
    let mut cat = catalog(
        chrono_tz::Africa::Kinshasa,
        &[p],
        vec![service(sid(1), 30, &[p])],
        vec![window(p, Weekday::Mon, (8, 0), (12, 0)), window(p, Weekday::Tue, (8, 0), (12, 0))],
    );
    cat.practitioners[0].daily_limit = Some(2);
    cat.clinic.min_notice_minutes = 120;
    cat.clinic.booking_horizon_days = 2;
    let occ = Occupancy {
        booked: vec![booked(p, "2026-11-24T07:00:00Z", 30), booked(p, "2026-11-24T08:00:00Z", 30)],
        external: vec![BusyInterval { practitioner_id: p, start: utc("2026-11-23T09:10:00Z"), end: utc("2026-11-23T09:20:00Z") }],
    };
    // Monday 09:15 local: notice pushes the first slot to 11:30 (10:15Z +);
    // the calendar event 10:10–10:20 local is before that anyway.
    let now = utc("2026-11-23T08:15:00Z");
    let engine = SlotEngine::new(&cat, &occ, now, None);
    let slots = engine.find(&query(sid(1), "2026-11-23", "2026-12-31"));
    // Tuesday is at its daily limit (2); Wednesday has no window; Thursday is beyond the horizon.
    assert_eq!(local_starts(&cat, &slots), ["Mon 23 11:30"]);
    let q = query(sid(1), "2026-11-23", "2026-12-31");
    assert_eq!(engine.check(&q, p, utc("2026-11-24T09:00:00Z")), Err(Unavailable::DailyLimit));
    assert_eq!(engine.check(&q, p, utc("2026-11-23T09:00:00Z")), Err(Unavailable::TooSoon));
    let early = SlotEngine::new(&cat, &occ, utc("2026-11-22T08:00:00Z"), None);
    assert_eq!(early.check(&q, p, utc("2026-11-23T09:00:00Z")), Err(Unavailable::Busy));
    assert_eq!(early.check(&q, p, utc("2026-11-30T08:00:00Z")), Err(Unavailable::BeyondHorizon));
    // Moving one of Tuesday's appointments within Tuesday is allowed: it is ignored.
    let moving = SlotEngine::new(&cat, &occ, now, Some(occ.booked[0].appointment_id));
    assert!(moving.check(&q, p, utc("2026-11-24T09:00:00Z")).is_ok());
}

// ---- property tests -------------------------------------------------------

/// The oracle: is `start` with practitioner `p` bookable, decided in local
/// wall-clock terms, independently of the engine's UTC index.
fn oracle(cat: &ClinicCatalog, occ: &Occupancy, now: DateTime<Utc>, q: &SlotQuery, p: PractitionerId, start: DateTime<Utc>) -> bool {
    let tz = cat.clinic.timezone;
    let Some(service) = cat.service(q.service) else { return false };
    if !service.practitioners.contains(&p) {
        return false;
    }
    let duration = Duration::minutes(service.duration_for(p) as i64);
    let end = start + duration;
    let (ls, le) = (start.with_timezone(&tz), end.with_timezone(&tz));
    let day = ls.date_naive();
    let today = now.with_timezone(&tz).date_naive();
    if start < now + Duration::minutes(cat.clinic.min_notice_minutes as i64)
        || day > today + Duration::days(cat.clinic.booking_horizon_days as i64)
    {
        return false;
    }
    if !cat.clinic.opening_days.contains(day.weekday()) || cat.holidays.iter().any(|h| h.date == day) {
        return false;
    }
    let minute_of = |t: NaiveDateTime| (t.time().hour() * 60 + t.time().minute()) as i64;
    let end_minute = if le.date_naive() == day {
        minute_of(le.naive_local())
    } else if le.date_naive() == day.succ_opt().unwrap() && minute_of(le.naive_local()) == 0 {
        1440
    } else {
        return false;
    };
    let windows: Vec<&WeeklyWindow> = cat
        .windows
        .iter()
        .filter(|w| w.practitioner_id == p && w.weekday == day.weekday() && w.accepts(q.service, q.mode))
        .filter(|w| w.start_minute as i64 <= minute_of(ls.naive_local()) && end_minute <= w.end_minute as i64)
        .collect();
    // Real duration check: a slot straddling a clock change must still lie in the window.
    if windows.is_empty() || le.naive_local() - ls.naive_local() < duration - Duration::hours(2) {
        return false;
    }
    let from = start - Duration::minutes(service.buffer_before_minutes as i64);
    let until = end + Duration::minutes(service.buffer_after_minutes as i64);
    // Exceptions, decided by walking the local minutes of the blocked time.
    let mut t = from;
    while t < until {
        let local = t.with_timezone(&tz).naive_local();
        let d = local.date();
        let m = minute_of(local);
        for e in cat.exceptions.iter().filter(|e| e.applies_to(p)) {
            let hit = match &e.time {
                ExceptionTime::Once { start, end } => t >= *start && t < *end,
                ExceptionTime::Days { first, last } => d >= *first && d <= *last,
                ExceptionTime::Weekly { weekday, start_minute, end_minute, from, until } => {
                    d.weekday() == *weekday
                        && d >= *from
                        && until.is_none_or(|u| d <= u)
                        && m >= *start_minute as i64
                        && m < *end_minute as i64
                }
            };
            if hit {
                return false;
            }
        }
        t += Duration::minutes(1);
    }
    if occ.external.iter().any(|b| b.practitioner_id == p && b.start < until && b.end > from) {
        return false;
    }
    let capacity = windows.iter().map(|w| w.capacity).max().unwrap_or(1);
    let overlapping =
        occ.booked.iter().filter(|b| b.practitioner_id == p && b.blocked_from < until && b.blocked_until > from).count() as u32;
    if overlapping >= capacity {
        return false;
    }
    if let Some(limit) = cat.practitioner(p).and_then(|x| x.daily_limit) {
        let that_day =
            occ.booked.iter().filter(|b| b.practitioner_id == p && b.start.with_timezone(&tz).date_naive() == day).count() as u32;
        if that_day >= limit {
            return false;
        }
    }
    true
}

#[derive(Debug, Clone)]
struct World {
    cat: ClinicCatalog,
    occ: Occupancy,
    now: DateTime<Utc>,
}

fn tz_strategy() -> impl Strategy<Value = Tz> {
    prop::sample::select(vec![chrono_tz::Africa::Kinshasa, chrono_tz::Africa::Lubumbashi, chrono_tz::Europe::Paris])
}

fn weekday_strategy() -> impl Strategy<Value = Weekday> {
    (0u8..7).prop_map(|n| Weekday::try_from(n).unwrap())
}

fn world_strategy() -> impl Strategy<Value = World> {
    let base = utc("2026-10-19T00:00:00Z"); // two weeks before Paris falls back, so searches cross it
    (
        tz_strategy(),
        prop::collection::vec((0u128..2, weekday_strategy(), 0u16..(22 * 4), 1u16..(8 * 4), 1u32..4, any::<bool>(), 0u8..3), 1..8),
        (
            prop::sample::select(vec![10u32, 15, 20, 30, 45, 60]),
            0u32..20,
            0u32..20,
            prop::option::of(prop::sample::select(vec![20u32, 40])),
        ),
        prop::collection::vec((0u128..2, 0i64..(24 * 24 * 4), 1i64..12), 0..30),
        prop::collection::vec((0u128..3, 0u8..3, 0i64..24, 0u16..(24 * 4), 1u16..(6 * 4), weekday_strategy()), 0..5),
        (prop::collection::vec(0i64..24, 0..3), any::<u8>(), prop::option::of(1u32..6)),
        (0i64..(20 * 24 * 60), 0u32..(36 * 60), 1u32..24),
    )
        .prop_map(
            move |(
                tz,
                windows,
                (minutes, before, after, override_min),
                booked,
                exceptions,
                (holidays, days, limit),
                (now_off, notice, horizon),
            )| {
                let ps = [pid(1), pid(2)];
                let mut s = service(sid(1), minutes, &ps);
                s.buffer_before_minutes = before;
                s.buffer_after_minutes = after;
                if let Some(m) = override_min {
                    s.duration_overrides.push((ps[1], m));
                }
                let windows = windows
                    .into_iter()
                    .map(|(p, weekday, start_q, len_q, capacity, restricted, mode)| {
                        let start = start_q * 15;
                        let end = (start + len_q * 15).min(DAY_MINUTES);
                        WeeklyWindow {
                            practitioner_id: ps[p as usize],
                            weekday,
                            start_minute: start,
                            end_minute: end.max(start + 15),
                            capacity,
                            services: if restricted { vec![sid(1)] } else { vec![sid(9)] }.into_iter().filter(|_| restricted).collect(),
                            mode: [None, Some(ConsultationMode::InPerson), Some(ConsultationMode::Remote)][mode as usize],
                        }
                    })
                    .collect();
                let mut cat = catalog(tz, &ps, vec![s], windows);
                cat.clinic.min_notice_minutes = notice;
                cat.clinic.booking_horizon_days = horizon;
                cat.clinic.opening_days = WeekdaySet::from_bits(days | 0b0011111);
                cat.practitioners[0].daily_limit = limit;
                cat.holidays =
                    holidays.into_iter().map(|d| Holiday { date: base.date_naive() + Duration::days(d), name: String::new() }).collect();
                cat.exceptions = exceptions
                    .into_iter()
                    .map(|(who, kind, day, start_q, len_q, weekday)| {
                        let first = base.date_naive() + Duration::days(day);
                        let time = match kind {
                            0 => {
                                let s = base + Duration::days(day) + Duration::minutes(start_q as i64 * 15);
                                ExceptionTime::Once { start: s, end: s + Duration::minutes(len_q as i64 * 15) }
                            }
                            1 => ExceptionTime::Days { first, last: first + Duration::days((len_q % 3) as i64) },
                            _ => ExceptionTime::Weekly {
                                weekday,
                                start_minute: start_q * 15,
                                end_minute: (start_q * 15 + len_q * 15).min(DAY_MINUTES),
                                from: first,
                                until: None,
                            },
                        };
                        AvailabilityException {
                            id: ExceptionId::random(),
                            practitioner_id: [Some(ps[0]), Some(ps[1]), None][who as usize],
                            kind: ExceptionKind::Busy,
                            reason: String::new(),
                            time,
                        }
                    })
                    .collect();
                let booked = booked
                    .into_iter()
                    .map(|(p, q, len)| {
                        let start = base + Duration::minutes(q * 15);
                        let end = start + Duration::minutes(len * 10);
                        BookedTime {
                            appointment_id: AppointmentId::random(),
                            practitioner_id: ps[p as usize],
                            start,
                            end,
                            blocked_from: start - Duration::minutes(before as i64),
                            blocked_until: end + Duration::minutes(after as i64),
                        }
                    })
                    .collect();
                World {
                    cat,
                    occ: Occupancy {
                        booked,
                        external: vec![BusyInterval {
                            practitioner_id: ps[1],
                            start: base + Duration::days(3),
                            end: base + Duration::days(3) + Duration::hours(5),
                        }],
                    },
                    now: base + Duration::minutes(now_off),
                }
            },
        )
}

/// Every candidate time the grid could offer, without any rule applied.
fn grid(cat: &ClinicCatalog, q: &SlotQuery) -> Vec<(PractitionerId, DateTime<Utc>)> {
    let service = cat.service(q.service).unwrap();
    let mut out = Vec::new();
    let mut day = q.from;
    while day <= q.to {
        for w in cat.windows.iter().filter(|w| w.weekday == day.weekday() && w.accepts(q.service, q.mode)) {
            let step = service.duration_for(w.practitioner_id) as i64;
            let mut m = w.start_minute as i64;
            while m + step <= w.end_minute as i64 {
                let local = day.and_time(NaiveTime::MIN) + Duration::minutes(m);
                if let Some(t) = cat.clinic.timezone.from_local_datetime(&local).earliest() {
                    out.push((w.practitioner_id, t.with_timezone(&Utc)));
                }
                m += step;
            }
        }
        day += Duration::days(1);
    }
    out.sort();
    out.dedup();
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Search offers exactly the grid times the oracle accepts, and booking
    /// (check) accepts every one of them.
    #[test]
    fn search_matches_the_oracle_and_booking_agrees(world in world_strategy(), remote in any::<bool>()) {
        let World { cat, occ, now } = world;
        let mut q = query(sid(1), "2026-10-19", "2026-11-20");
        if remote { q.mode = ConsultationMode::Remote; }
        let engine = SlotEngine::new(&cat, &occ, now, None);
        let slots = engine.find(&q);
        let offered: Vec<(PractitionerId, DateTime<Utc>)> = slots.iter().map(|s| (s.practitioner_id, s.start)).collect();
        let mut sorted = offered.clone();
        sorted.sort();
        let expected: Vec<_> = grid(&cat, &q).into_iter().filter(|(p, t)| oracle(&cat, &occ, now, &q, *p, *t)).collect();
        prop_assert_eq!(&sorted, &expected);
        for s in &slots {
            prop_assert_eq!(engine.check(&q, s.practitioner_id, s.start), Ok(*s));
        }
        prop_assert!(slots.windows(2).all(|w| (w[0].start, w[0].practitioner_id) < (w[1].start, w[1].practitioner_id)));
    }

    /// Booking offered slots one after another, each re-checked against the
    /// occupancy so far, never exceeds a capacity or a daily limit and never
    /// overlaps an exception.
    #[test]
    fn booking_every_offered_slot_keeps_every_invariant(world in world_strategy(), order in any::<u64>()) {
        let World { cat, mut occ, now } = world;
        let q = query(sid(1), "2026-10-19", "2026-11-20");
        let mut slots = SlotEngine::new(&cat, &occ, now, None).find(&q);
        // A deterministic shuffle.
        let n = slots.len();
        for i in (1..n).rev() {
            slots.swap(i, (order.wrapping_mul(6364136223846793005).wrapping_add(i as u64) % (i as u64 + 1)) as usize);
        }
        let service = cat.service(sid(1)).unwrap().clone();
        let initial = occ.booked.len();
        for s in slots {
            let engine = SlotEngine::new(&cat, &occ, now, None);
            if let Ok(slot) = engine.check(&q, s.practitioner_id, s.start) {
                prop_assert!(oracle(&cat, &occ, now, &q, slot.practitioner_id, slot.start));
                occ.booked.push(BookedTime {
                    appointment_id: AppointmentId::random(),
                    practitioner_id: slot.practitioner_id,
                    start: slot.start,
                    end: slot.end,
                    blocked_from: slot.start - Duration::minutes(service.buffer_before_minutes as i64),
                    blocked_until: slot.end + Duration::minutes(service.buffer_after_minutes as i64),
                });
            }
        }
        // At no instant do more patients overlap than the most generous window allows.
        for b in &occ.booked[initial..] {
            let at = |t: DateTime<Utc>| occ.booked.iter().filter(|o| o.practitioner_id == b.practitioner_id && o.blocked_from <= t && o.blocked_until > t).count() as u32;
            let cap = cat.windows.iter().filter(|w| w.practitioner_id == b.practitioner_id).map(|w| w.capacity).max().unwrap();
            let points = occ.booked.iter().filter(|o| o.practitioner_id == b.practitioner_id).map(|o| o.blocked_from).filter(|t| *t >= b.blocked_from && *t < b.blocked_until);
            for t in points.chain([b.blocked_from]) {
                prop_assert!(at(t) <= cap, "capacity exceeded");
            }
        }
        if let Some(limit) = cat.practitioners[0].daily_limit {
            let tz = cat.clinic.timezone;
            let mut per_day = std::collections::HashMap::new();
            for b in occ.booked[initial..].iter().filter(|b| b.practitioner_id == pid(1)) {
                *per_day.entry(b.start.with_timezone(&tz).date_naive()).or_insert(0u32) += 1;
            }
            prop_assert!(per_day.values().all(|n| *n <= limit));
        }
    }

    /// A local instant never vanishes: every local minute of a day maps to an
    /// instant, monotonically.
    #[test]
    fn local_instants_are_monotonic(tz in tz_strategy(), day in 0i64..730, a in 0i64..1440, b in 0i64..1440) {
        let d = date("2026-01-01") + Duration::days(day);
        let (a, b) = (a.min(b), a.max(b));
        let t = |m: i64| super::local_instant(tz, d.and_time(NaiveTime::MIN) + Duration::minutes(m));
        prop_assert!(t(a) <= t(b));
    }
}
