//! The no-double-booking guarantee under real concurrency, on the backend the
//! run uses (SQLite by default, PostgreSQL with NURU_TEST_DATABASE_URL).

use crate::helpers::*;
use chrono::{DateTime, Duration, Utc};
use futures_util::future::join_all;
use nuru::domain::*;
use nuru::scheduling::{self, BookRequest, BookingError, Slot, SlotEngine, SlotQuery};
use nuru::storage::Store;
use std::sync::Arc;

pub fn service_named(clinic: &ClinicCatalog, name: &str) -> ServiceId {
    clinic.services.iter().find(|s| s.name_en == name).unwrap().id
}

pub fn practitioner_named(clinic: &ClinicCatalog, last_name: &str) -> PractitionerId {
    clinic.practitioners.iter().find(|p| p.last_name == last_name).unwrap().id
}

pub async fn new_patients(app: &TestApp, n: usize) -> Vec<PatientId> {
    let mut patients = Vec::new();
    for i in 0..n {
        let phone = PhoneNumber::parse(&format!("+2439900{i:05}")).unwrap();
        let mut tx = app.store.begin().await.unwrap();
        patients.push(
            Store::create_patient(&mut tx, app.clinic.clinic.id, "P", &format!("N{i}"), None, &phone, monday_morning()).await.unwrap().id,
        );
        tx.commit().await.unwrap();
    }
    patients
}

/// Books in its own transaction, as the conversation shell and the admin API do.
pub async fn book(store: &Store, clinic: &ClinicCatalog, req: BookRequest) -> Result<AppointmentId, BookingError> {
    let mut tx = store.begin().await.unwrap();
    let outcome = scheduling::book(&mut tx, clinic, &req, monday_morning()).await;
    if outcome.is_ok() {
        tx.commit().await.unwrap();
    }
    outcome
}

pub fn request(practitioner: PractitionerId, service: ServiceId, patient: PatientId, start: DateTime<Utc>) -> BookRequest {
    BookRequest { practitioner, service, mode: ConsultationMode::InPerson, patient, start, source: "staff", conversation: None }
}

pub async fn search(app: &TestApp, q: &SlotQuery) -> Vec<Slot> {
    let now = monday_morning();
    let occupancy = app.store.occupancy(app.clinic.clinic.id, now - Duration::days(2), now + Duration::days(40)).await.unwrap();
    let catalog = app.store.catalog(app.clinic.clinic.id).await.unwrap();
    SlotEngine::new(&catalog, &occupancy, now, None).find(q)
}

async fn race_for_one_slot(app: &TestApp, practitioner: PractitionerId, service: ServiceId, start: DateTime<Utc>) -> usize {
    let patients = new_patients(app, 20).await;
    let barrier = Arc::new(tokio::sync::Barrier::new(patients.len()));
    let clinic = Arc::new(app.clinic.clone());
    let attempts = patients.into_iter().map(|patient| {
        let (store, clinic, barrier) = (app.store.clone(), clinic.clone(), barrier.clone());
        tokio::spawn(async move {
            barrier.wait().await;
            book(&store, &clinic, request(practitioner, service, patient, start)).await
        })
    });
    let outcomes: Vec<_> = join_all(attempts).await.into_iter().map(|r| r.unwrap()).collect();
    for o in &outcomes {
        assert!(matches!(o, Ok(_) | Err(BookingError::Unavailable(_))), "unexpected outcome {o:?}");
    }
    outcomes.iter().filter(|o| o.is_ok()).count()
}

#[tokio::test]
async fn twenty_concurrent_bookings_of_one_slot_make_one_appointment() {
    let app = spawn_app().await;
    let (kabeya, consultation) = (practitioner_named(&app.clinic, "Kabeya"), service_named(&app.clinic, "consultation"));
    assert_eq!(race_for_one_slot(&app, kabeya, consultation, "2026-11-24T08:00:00Z".parse().unwrap()).await, 1);
    assert_eq!(app.store.appointments(app.clinic.clinic.id).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_guarantee_holds_with_many_connections() {
    // SQLite with several connections contending for the file lock, or
    // PostgreSQL with a pool of eight: the database serialises the bookings.
    let app = spawn_app_with(|c| c.database_max_connections = Some(8)).await;
    let (kabeya, consultation) = (practitioner_named(&app.clinic, "Kabeya"), service_named(&app.clinic, "consultation"));
    assert_eq!(race_for_one_slot(&app, kabeya, consultation, "2026-11-24T08:00:00Z".parse().unwrap()).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_group_window_takes_exactly_its_capacity() {
    let app = spawn_app_for(RULES_CLINIC, |c| c.database_max_connections = Some(8)).await;
    let (kasongo, vaccination) = (practitioner_named(&app.clinic, "Kasongo"), service_named(&app.clinic, "vaccination"));
    // Tuesday 24 November, 09:00 in Lubumbashi: the group window holds three.
    assert_eq!(race_for_one_slot(&app, kasongo, vaccination, "2026-11-24T07:00:00Z".parse().unwrap()).await, 3);
    assert_eq!(app.store.appointments(app.clinic.clinic.id).await.unwrap().len(), 3);
}

/// Every offered slot of two days, attempted three times each from many
/// tasks at once: the final state obeys every rule (no overlap beyond
/// capacity, buffers, daily limit), checked by the engine itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn booking_every_offered_slot_at_once_breaks_no_rule() {
    let app = spawn_app_for(RULES_CLINIC, |c| c.database_max_connections = Some(8)).await;
    let clinic = Arc::new(app.clinic.clone());
    let days = ("2026-11-24".parse().unwrap(), "2026-11-26".parse().unwrap());
    let mut attempts = Vec::new();
    for name in ["consultation", "vaccination", "ultrasound"] {
        let q = SlotQuery {
            service: service_named(&clinic, name),
            mode: ConsultationMode::InPerson,
            practitioners: vec![],
            from: days.0,
            to: days.1,
        };
        for slot in search(&app, &q).await {
            for _ in 0..3 {
                attempts.push((q.service, slot));
            }
        }
    }
    assert!(attempts.len() > 60, "a real race: {} attempts", attempts.len());
    let patients = new_patients(&app, 5).await;
    let barrier = Arc::new(tokio::sync::Barrier::new(attempts.len()));
    let tasks = attempts.into_iter().enumerate().map(|(i, (service, slot))| {
        let (store, clinic, barrier) = (app.store.clone(), clinic.clone(), barrier.clone());
        let patient = patients[i % patients.len()];
        tokio::spawn(async move {
            barrier.wait().await;
            book(&store, &clinic, request(slot.practitioner_id, service, patient, slot.start)).await
        })
    });
    let outcomes: Vec<_> = join_all(tasks).await.into_iter().map(|r| r.unwrap()).collect();
    assert!(outcomes.iter().all(|o| matches!(o, Ok(_) | Err(BookingError::Unavailable(_)))));
    let booked = outcomes.iter().filter(|o| o.is_ok()).count();
    assert!(booked >= 10, "{booked} booked");

    // The final state, read back: each appointment is still valid with
    // every other one in place.
    let now = monday_morning();
    let occupancy = app.store.occupancy(clinic.clinic.id, now, now + Duration::days(10)).await.unwrap();
    assert_eq!(occupancy.booked.len(), booked);
    let appointments = app.store.appointments(clinic.clinic.id).await.unwrap();
    // The occupancy read (one packed row) gives back each appointment's own
    // practitioner and times, its buffers around them.
    let mut read: Vec<_> = occupancy.booked.iter().map(|b| (b.appointment_id, b.practitioner_id, b.start, b.end)).collect();
    let mut listed: Vec<_> = appointments.iter().map(|a| (a.id, a.practitioner_id, a.starts_at, a.ends_at)).collect();
    read.sort();
    listed.sort();
    assert_eq!(read, listed);
    assert!(occupancy.booked.iter().all(|b| b.blocked_from <= b.start && b.end <= b.blocked_until));
    for a in &appointments {
        let engine = SlotEngine::new(&clinic, &occupancy, now, Some(a.id));
        let day = a.starts_at.with_timezone(&clinic.clinic.timezone).date_naive();
        let q = SlotQuery { service: a.service_id, mode: a.mode, practitioners: vec![a.practitioner_id], from: day, to: day };
        assert_eq!(engine.check(&q, a.practitioner_id, a.starts_at).map(|s| s.start), Ok(a.starts_at), "appointment {a:?} breaks a rule");
    }
    // Dr Ilunga's daily limit is six.
    let ilunga = practitioner_named(&clinic, "Ilunga");
    let mut per_day = std::collections::HashMap::new();
    for a in appointments.iter().filter(|a| a.practitioner_id == ilunga) {
        *per_day.entry(a.starts_at.with_timezone(&clinic.clinic.timezone).date_naive()).or_insert(0) += 1;
    }
    assert!(per_day.values().all(|n| *n <= 6), "{per_day:?}");
}
