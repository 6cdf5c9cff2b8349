use crate::helpers::*;
use futures_util::future::join_all;
use nuru::domain::{PhoneNumber, ServiceId};
use nuru::storage::{BookOutcome, NewAppointment, Store};

async fn race_for_one_slot(app: &TestApp, capacity: u32) -> Vec<BookOutcome> {
    let clinic = &app.clinic;
    let kabeya = clinic.practitioners.iter().find(|p| p.last_name == "Kabeya").unwrap().id;
    let service: ServiceId = clinic.services[0].id;
    let start: chrono::DateTime<chrono::Utc> = "2026-11-24T08:00:00Z".parse().unwrap();
    // Patients first, so that the race is only about the booking itself.
    let mut patients = Vec::new();
    for i in 0..20 {
        let phone = PhoneNumber::parse(&format!("+2439900001{i:02}")).unwrap();
        let mut tx = app.store.begin().await.unwrap();
        patients.push(
            Store::create_patient(&mut tx, clinic.clinic.id, "P", &format!("N{i}"), None, &phone, chrono::Utc::now()).await.unwrap().id,
        );
        tx.commit().await.unwrap();
    }
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(patients.len()));
    let attempts = patients.into_iter().map(|patient_id| {
        let store = app.store.clone();
        let clinic_id = clinic.clinic.id;
        let barrier = barrier.clone();
        tokio::spawn(async move {
            let booking = NewAppointment {
                clinic_id,
                practitioner_id: kabeya,
                patient_id,
                service_id: service,
                starts_at: start,
                ends_at: start + chrono::Duration::minutes(30),
                capacity,
                source: "bot",
                conversation_id: None,
            };
            barrier.wait().await;
            let mut tx = store.begin().await.unwrap();
            let outcome = Store::book(&mut tx, &booking, chrono::Utc::now()).await.unwrap();
            tx.commit().await.unwrap();
            outcome
        })
    });
    join_all(attempts).await.into_iter().map(|r| r.unwrap()).collect()
}

fn booked(outcomes: &[BookOutcome]) -> usize {
    outcomes.iter().filter(|o| matches!(o, BookOutcome::Booked(_))).count()
}

#[tokio::test]
async fn twenty_concurrent_bookings_of_one_slot_make_one_appointment() {
    let app = spawn_app().await;
    let outcomes = race_for_one_slot(&app, 1).await;
    assert_eq!(booked(&outcomes), 1);
    assert_eq!(app.store.appointments(app.clinic.clinic.id).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_guarantee_holds_with_many_connections() {
    // SQLite with several connections contending for the file lock, or
    // PostgreSQL with a pool of eight: the database serialises the bookings.
    let app = spawn_app_with(|c| c.database_max_connections = Some(8)).await;
    let outcomes = race_for_one_slot(&app, 1).await;
    assert_eq!(booked(&outcomes), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn capacity_is_never_exceeded() {
    let app = spawn_app_with(|c| c.database_max_connections = Some(8)).await;
    let outcomes = race_for_one_slot(&app, 3).await;
    assert_eq!(booked(&outcomes), 3);
    assert_eq!(app.store.appointments(app.clinic.clinic.id).await.unwrap().len(), 3);
}
