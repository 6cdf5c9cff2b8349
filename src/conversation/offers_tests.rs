//! Searching only as far as an offer needs picks what a search up to the
//! horizon picks.

use super::*;
use crate::clinic_file::{ClinicFile, DEMO_CLINIC};
use crate::conversation::state::Booking;
use crate::conversation::turn::Asks;
use crate::domain::*;
use chrono::{DateTime, Duration, NaiveTime, Utc};
use proptest::prelude::*;

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn a_search_that_stops_when_enough_is_found_picks_what_the_whole_horizon_picks(
        booked in proptest::collection::vec((0usize..8, 0i64..45, 0i64..20), 0..400),
        service in 0usize..8,
        date in proptest::option::of(0i64..30),
        time in proptest::option::of(0u32..20),
        one_practitioner in proptest::option::of(0usize..8),
    ) {
        let (catalog, _) = ClinicFile::parse(DEMO_CLINIC).unwrap().into_catalog().unwrap();
        let tz = catalog.clinic.timezone;
        let now = at("2026-11-23T07:00:00Z");
        let today = now.with_timezone(&tz).date_naive();
        let slot_at = |i: u32| NaiveTime::from_hms_opt(8, 0, 0).unwrap() + Duration::minutes(30 * i as i64);
        let occupancy = Occupancy {
            booked: booked
                .iter()
                .map(|(p, day, i)| {
                    let p = &catalog.practitioners[p % catalog.practitioners.len()];
                    let local = (today + Duration::days(*day)).and_time(slot_at(*i as u32));
                    let start = local.and_local_timezone(tz).earliest().unwrap().with_timezone(&Utc);
                    let end = start + Duration::minutes(30);
                    BookedTime { appointment_id: AppointmentId::random(), practitioner_id: p.id, start, end, blocked_from: start, blocked_until: end }
                })
                .collect(),
            external: Vec::new(),
        };
        let service = catalog.services[service % catalog.services.len()].id;
        let b = Booking {
            service: Some(service),
            practitioner: one_practitioner.map(|p| catalog.practitioners[p % catalog.practitioners.len()].id),
            date: date.map(|d| today + Duration::days(d)),
            time: time.map(slot_at),
            ..Booking::default()
        };
        let asks = Asks::default();
        let span = (at("2026-11-01T00:00:00Z"), at("2027-12-01T00:00:00Z"));
        let ctx = TurnContext::for_tests(now, &catalog, &occupancy, span, &asks);
        let from = b.date.unwrap_or(today);
        let last = today + Duration::days(catalog.clinic.booking_horizon_days as i64);
        let whole = pick(&search(&b, &ctx, from, last), &b, &ctx);
        let lazy = pick(&search_until(&b, &ctx, from, last, None, |found| enough_to_pick(found, &b, tz)), &b, &ctx);
        prop_assert_eq!(whole, lazy);
    }
}
