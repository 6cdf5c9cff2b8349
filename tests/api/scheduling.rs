//! Scheduling rules through the real storage, on SQLite and PostgreSQL: the
//! rules clinic (fixtures/rules-clinic.toml) in Lubumbashi (UTC+2); the test
//! clock is Monday 23 November 2026, 09:00 local.

use crate::concurrency::{book, new_patients, practitioner_named, request, search, service_named};
use crate::helpers::*;
use chrono::{DateTime, Utc};
use nuru::domain::*;
use nuru::scheduling::{self, BookingError, MoveRequest, SlotQuery, Unavailable};

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn local(app: &TestApp, t: DateTime<Utc>) -> String {
    t.with_timezone(&app.clinic.clinic.timezone).format("%a %d %H:%M").to_string()
}

fn consultations(app: &TestApp, who: &str, from: &str, to: &str) -> SlotQuery {
    SlotQuery {
        service: service_named(&app.clinic, "consultation"),
        mode: ConsultationMode::InPerson,
        practitioners: vec![practitioner_named(&app.clinic, who)],
        from: from.parse().unwrap(),
        to: to.parse().unwrap(),
    }
}

async fn starts(app: &TestApp, q: &SlotQuery) -> Vec<String> {
    search(app, q).await.iter().map(|s| local(app, s.start)).collect()
}

fn unavailable(outcome: Result<AppointmentId, BookingError>) -> Unavailable {
    match outcome {
        Err(BookingError::Unavailable(u)) => u,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn the_rules_survive_storage() {
    let app = spawn_app_for(RULES_CLINIC, |_| {}).await;
    let stored = app.store.catalog(app.clinic.clinic.id).await.unwrap();
    let file = &app.clinic;
    assert_eq!(stored.clinic.opening_days, file.clinic.opening_days);
    assert!(!stored.clinic.opening_days.contains(chrono::Weekday::Sun));
    assert_eq!(stored.holidays, file.holidays);
    let sorted = |mut v: Vec<AvailabilityException>| {
        v.sort_by_key(|e| e.id);
        v
    };
    assert_eq!(sorted(stored.exceptions.clone()), sorted(file.exceptions.clone()));
    assert_eq!(stored.exceptions.len(), 3);
    let key = |w: &WeeklyWindow| (w.practitioner_id, w.weekday.num_days_from_monday(), w.start_minute, w.end_minute);
    let (mut a, mut b) = (stored.windows.clone(), file.windows.clone());
    a.sort_by_key(key);
    b.sort_by_key(key);
    assert_eq!(a, b);
    for s in &file.services {
        let mut t = stored.service(s.id).unwrap().clone();
        t.practitioners.sort();
        let mut s = s.clone();
        s.practitioners.sort();
        assert_eq!(t, s);
    }
    let mut p = stored.practitioners.clone();
    p.sort_by_key(|p| p.id);
    let mut q = file.practitioners.clone();
    q.sort_by_key(|p| p.id);
    assert_eq!(p, q);
}

#[tokio::test]
async fn search_honours_every_stored_rule() {
    let app = spawn_app_for(RULES_CLINIC, |_| {}).await;
    // Tuesday: the staff meeting (10:00–11:00) blocks only its hour, and the
    // 10-minute buffer after a consultation keeps 09:30 out too.
    let tuesday = starts(&app, &consultations(&app, "Ilunga", "2026-11-24", "2026-11-24")).await;
    assert_eq!(tuesday[..6], ["Tue 24 08:00", "Tue 24 08:30", "Tue 24 09:00", "Tue 24 11:00", "Tue 24 11:30", "Tue 24 14:00"]);
    // Wednesday afternoon is teaching; Friday 27 is a holiday; Sunday is closed.
    let week = starts(&app, &consultations(&app, "Ilunga", "2026-11-25", "2026-11-29")).await;
    assert!(week.iter().any(|s| s == "Wed 25 11:30"));
    assert!(
        !week.iter().any(|s| s.starts_with("Wed 25 14") || s.starts_with("Wed 25 15") || s.starts_with("Fri 27") || s.starts_with("Sun"))
    );
    // Dr Kasongo: 20-minute consultations, not in the vaccination window, and
    // not during the leave of 7–11 December.
    let kasongo = starts(&app, &consultations(&app, "Kasongo", "2026-11-30", "2026-12-12")).await;
    assert_eq!(kasongo[..3], ["Mon 30 08:00", "Mon 30 08:20", "Mon 30 08:40"]);
    assert!(!kasongo.iter().any(|s| s.starts_with("Tue") || s.starts_with("Thu")));
    assert!(!kasongo.iter().any(|s| ["Mon 07", "Wed 09", "Fri 11"].iter().any(|d| s.starts_with(d))));
    // Minimum notice (two hours) and horizon (28 days).
    let today = starts(&app, &consultations(&app, "Ilunga", "2026-11-23", "2026-11-23")).await;
    assert_eq!(today.first().map(String::as_str), Some("Mon 23 11:00"));
    assert!(starts(&app, &consultations(&app, "Ilunga", "2026-12-22", "2026-12-31")).await.is_empty());
    // Remote consultations: Friday afternoon with Dr Kasongo.
    let mut remote = consultations(&app, "Kasongo", "2026-11-30", "2026-12-05");
    remote.mode = ConsultationMode::Remote;
    assert!(starts(&app, &remote).await.iter().any(|s| s == "Fri 04 15:00"));
}

#[tokio::test]
async fn booking_refuses_whatever_search_would_not_offer() {
    let app = spawn_app_for(RULES_CLINIC, |_| {}).await;
    let (ilunga, kasongo) = (practitioner_named(&app.clinic, "Ilunga"), practitioner_named(&app.clinic, "Kasongo"));
    let consultation = service_named(&app.clinic, "consultation");
    let patient = new_patients(&app, 1).await[0];
    let try_book = |p, t: &str| book(&app.store, &app.clinic, request(p, consultation, patient, at(t)));
    assert_eq!(unavailable(try_book(ilunga, "2026-11-24T08:30:00Z").await), Unavailable::Exception); // 10:30 meeting
    assert_eq!(unavailable(try_book(ilunga, "2026-11-24T07:30:00Z").await), Unavailable::Exception); // buffer runs into it
    assert_eq!(unavailable(try_book(ilunga, "2026-11-27T06:00:00Z").await), Unavailable::Holiday);
    assert_eq!(unavailable(try_book(ilunga, "2026-11-29T06:00:00Z").await), Unavailable::ClosedDay);
    assert_eq!(unavailable(try_book(ilunga, "2026-11-23T07:30:00Z").await), Unavailable::TooSoon);
    assert_eq!(unavailable(try_book(ilunga, "2026-12-23T06:00:00Z").await), Unavailable::BeyondHorizon);
    assert_eq!(unavailable(try_book(ilunga, "2026-11-24T11:00:00Z").await), Unavailable::OutsideWindows); // 13:00, lunch
    assert_eq!(unavailable(try_book(kasongo, "2026-11-24T07:00:00Z").await), Unavailable::OutsideWindows); // vaccinations only
    assert_eq!(unavailable(try_book(kasongo, "2026-12-07T06:00:00Z").await), Unavailable::Exception); // leave
    let remote_only = "2026-12-04T13:00:00Z";
    assert_eq!(unavailable(try_book(kasongo, remote_only).await), Unavailable::OutsideWindows);
    let mut remote = request(kasongo, consultation, patient, at(remote_only));
    remote.mode = ConsultationMode::Remote;
    assert!(book(&app.store, &app.clinic, remote).await.is_ok());
    assert!(app.store.appointments(app.clinic.clinic.id).await.unwrap().len() == 1, "only the valid booking was stored");
}

#[tokio::test]
async fn buffers_durations_and_the_daily_limit_apply_to_stored_bookings() {
    let app = spawn_app_for(RULES_CLINIC, |_| {}).await;
    let (ilunga, kasongo) = (practitioner_named(&app.clinic, "Ilunga"), practitioner_named(&app.clinic, "Kasongo"));
    let consultation = service_named(&app.clinic, "consultation");
    let patient = new_patients(&app, 1).await[0];
    // Kasongo, Monday 30, 08:00: a 20-minute consultation blocking until 08:30.
    let id = book(&app.store, &app.clinic, request(kasongo, consultation, patient, at("2026-11-30T06:00:00Z"))).await.unwrap();
    let a = app.store.appointment(app.clinic.clinic.id, id).await.unwrap().unwrap();
    assert_eq!(a.ends_at - a.starts_at, chrono::Duration::minutes(20));
    let next = starts(&app, &consultations(&app, "Kasongo", "2026-11-30", "2026-11-30")).await;
    assert_eq!(next[..2], ["Mon 30 08:40", "Mon 30 09:00"]);
    assert_eq!(
        unavailable(book(&app.store, &app.clinic, request(kasongo, consultation, patient, at("2026-11-30T06:20:00Z"))).await),
        Unavailable::Full
    );

    // Dr Ilunga takes six a day.
    for hour in [6, 7, 8, 9, 12, 13] {
        book(&app.store, &app.clinic, request(ilunga, consultation, patient, at(&format!("2026-11-30T{hour:02}:00:00Z")))).await.unwrap();
    }
    assert_eq!(
        unavailable(book(&app.store, &app.clinic, request(ilunga, consultation, patient, at("2026-11-30T14:00:00Z"))).await),
        Unavailable::DailyLimit
    );
    assert!(starts(&app, &consultations(&app, "Ilunga", "2026-11-30", "2026-11-30")).await.is_empty());
}

#[tokio::test]
async fn moving_and_cancelling_free_the_time_at_once() {
    let app = spawn_app_for(RULES_CLINIC, |_| {}).await;
    let ilunga = practitioner_named(&app.clinic, "Ilunga");
    let consultation = service_named(&app.clinic, "consultation");
    let patients = new_patients(&app, 2).await;
    let clinic = app.clinic.clone();
    let q = consultations(&app, "Ilunga", "2026-11-30", "2026-11-30");
    let a = book(&app.store, &clinic, request(ilunga, consultation, patients[0], at("2026-11-30T06:00:00Z"))).await.unwrap();
    let b = book(&app.store, &clinic, request(ilunga, consultation, patients[1], at("2026-11-30T08:00:00Z"))).await.unwrap();
    assert!(!starts(&app, &q).await.contains(&"Mon 30 08:00".to_string()));

    let reschedule = |start: &str| {
        let (store, clinic, req) =
            (app.store.clone(), clinic.clone(), MoveRequest { appointment: a, practitioner: None, start: at(start), source: "staff" });
        async move {
            let mut tx = store.begin().await.unwrap();
            let r = scheduling::reschedule(&mut tx, &clinic, &req, monday_morning()).await;
            if r.is_ok() {
                tx.commit().await.unwrap();
            }
            r
        }
    };
    // Onto b's time (10:00 local): refused, and a keeps its time.
    assert!(matches!(reschedule("2026-11-30T08:00:00Z").await, Err(BookingError::Unavailable(Unavailable::Full))));
    assert_eq!(app.store.appointment(clinic.clinic.id, a).await.unwrap().unwrap().starts_at, at("2026-11-30T06:00:00Z"));
    // Half an hour later, overlapping its own time: allowed, a is not in its own way.
    assert_eq!(reschedule("2026-11-30T06:30:00Z").await.unwrap().starts_at, at("2026-11-30T06:30:00Z"));
    assert_eq!(reschedule("2026-11-30T07:00:00Z").await.unwrap().starts_at, at("2026-11-30T07:00:00Z"));
    // 08:00 is free again; 08:30 would run (with its buffer) into a's 09:00.
    let now_free = starts(&app, &q).await;
    assert!(now_free.contains(&"Mon 30 08:00".to_string()) && !now_free.contains(&"Mon 30 08:30".to_string()), "{now_free:?}");
    assert_eq!(app.store.appointments(clinic.clinic.id).await.unwrap().len(), 2, "a move creates nothing");

    // Cancelling frees the time; cancelling twice does nothing.
    assert!(!starts(&app, &q).await.contains(&"Mon 30 10:00".to_string()));
    let mut tx = app.store.begin().await.unwrap();
    assert!(scheduling::cancel(&mut tx, clinic.clinic.id, b, "staff", monday_morning()).await.unwrap());
    assert!(!scheduling::cancel(&mut tx, clinic.clinic.id, b, "staff", monday_morning()).await.unwrap());
    tx.commit().await.unwrap();
    assert!(starts(&app, &q).await.contains(&"Mon 30 10:00".to_string()));
    let again = book(&app.store, &clinic, request(ilunga, consultation, patients[0], at("2026-11-30T08:00:00Z"))).await;
    assert!(again.is_ok(), "a cancelled slot is bookable again");
    // A cancelled appointment cannot be moved.
    let mut tx = app.store.begin().await.unwrap();
    let r = scheduling::reschedule(
        &mut tx,
        &clinic,
        &MoveRequest { appointment: b, practitioner: None, start: at("2026-11-30T12:00:00Z"), source: "staff" },
        monday_morning(),
    )
    .await;
    assert!(matches!(r, Err(BookingError::NotFound(_))));
}

#[tokio::test]
async fn outside_busy_time_and_new_exceptions_block_at_once() {
    let app = spawn_app_for(RULES_CLINIC, |_| {}).await;
    let ilunga = practitioner_named(&app.clinic, "Ilunga");
    let consultation = service_named(&app.clinic, "consultation");
    let patient = new_patients(&app, 1).await[0];
    let q = consultations(&app, "Ilunga", "2026-11-30", "2026-11-30");
    let (from, to) = (at("2026-11-30T00:00:00Z"), at("2026-12-01T00:00:00Z"));
    // A calendar event 08:00–09:00 local.
    let event = vec![("evt-1".to_string(), at("2026-11-30T06:00:00Z"), at("2026-11-30T07:00:00Z"))];
    app.store.replace_external_busy(app.clinic.clinic.id, ilunga, "google", from..to, &event, app.clock.now()).await.unwrap();
    assert_eq!(starts(&app, &q).await.first().map(String::as_str), Some("Mon 30 09:00"));
    assert_eq!(
        unavailable(book(&app.store, &app.clinic, request(ilunga, consultation, patient, at("2026-11-30T06:00:00Z"))).await),
        Unavailable::Busy
    );
    app.store.replace_external_busy(app.clinic.clinic.id, ilunga, "google", from..to, &[], app.clock.now()).await.unwrap();
    assert_eq!(starts(&app, &q).await.first().map(String::as_str), Some("Mon 30 08:00"));

    // An exception added now (an emergency morning) blocks the next search and booking.
    let e = AvailabilityException {
        id: ExceptionId::random(),
        practitioner_id: Some(ilunga),
        kind: ExceptionKind::Emergency,
        reason: "Garde à l'hôpital".into(),
        time: ExceptionTime::Once { start: at("2026-11-30T06:00:00Z"), end: at("2026-11-30T10:00:00Z") },
    };
    app.store
        .add_exception(
            app.clinic.clinic.id,
            &e,
            &nuru::storage::NewAuditEvent {
                actor: None,
                clinic: Some(app.clinic.clinic.id),
                action: "create",
                resource: "exception",
                resource_id: None,
                outcome: "ok",
            },
            app.clock.now(),
        )
        .await
        .unwrap();
    let catalog = app.store.catalog(app.clinic.clinic.id).await.unwrap();
    assert_eq!(starts(&app, &q).await.first().map(String::as_str), Some("Mon 30 14:00"));
    assert_eq!(
        unavailable(book(&app.store, &catalog, request(ilunga, consultation, patient, at("2026-11-30T07:00:00Z"))).await),
        Unavailable::Exception
    );
}

/// A practitioner's daily limit counts every appointment of the day, even
/// when the patient asks for part of it: Dr Ilunga (six a day) has four
/// appointments Thursday afternoon and two late Thursday morning, so a
/// Thursday morning request is not offered her Thursday.
#[tokio::test]
async fn a_request_for_part_of_a_day_respects_a_daily_limit_filled_by_the_rest_of_it() {
    let app = spawn_app_for(RULES_CLINIC, |_| {}).await;
    let (ilunga, consultation) = (practitioner_named(&app.clinic, "Ilunga"), service_named(&app.clinic, "consultation"));
    let patient = new_patients(&app, 1).await[0];
    // Lubumbashi is UTC+2: 10:40 and 11:20 local, then 14:00 to 16:00 local.
    for start in [
        "2026-11-26T08:40:00Z",
        "2026-11-26T09:20:00Z",
        "2026-11-26T12:00:00Z",
        "2026-11-26T12:40:00Z",
        "2026-11-26T13:20:00Z",
        "2026-11-26T14:00:00Z",
    ] {
        book(&app.store, &app.clinic, request(ilunga, consultation, patient, at(start))).await.unwrap();
    }
    let sid = app.next_sid();
    let message = fields(&[
        ("MessageSid", &sid),
        ("AccountSid", "ACrules000000000000000000000000000"),
        ("From", "whatsapp:+243990000301"),
        ("To", "whatsapp:+243990000000"),
        ("Body", "Bonjour, je voudrais une consultation avec le Dr Ilunga jeudi matin"),
    ]);
    let path = app.webhook_path();
    let signature = nuru::channels::twilio::compute_signature(&format!("{PUBLIC_BASE}{path}"), &message, "rules-auth-token");
    let response =
        app.http.post(format!("{}{path}", app.base)).form(&message).header("X-Twilio-Signature", signature).send().await.unwrap();
    assert_eq!(response.status(), 200);
    app.workers.run_until_idle().await.unwrap();
    // The reply as queued (the local Twilio knows only the demo account).
    let r: String =
        sqlx::query_scalar("SELECT body FROM outbound_messages ORDER BY id DESC LIMIT 1").fetch_one(app.store.pool()).await.unwrap();
    assert!(r.contains("Ilunga"), "{r}");
    assert!(!r.contains("jeudi 26 novembre à"), "Dr Ilunga is full on Thursday: {r}");
}
