//! Calendar files over HTTP, validated with an independent iCalendar parser
//! (the `ical` crate) and the RFC 5545 rules a parser may forgive.

use crate::concurrency::{book, new_patients, practitioner_named, request, service_named};
use crate::helpers::*;
use ical::parser::ical::component::IcalCalendar;
use nuru::domain::AppointmentId;
use std::io::BufReader;

/// Parses and checks a calendar: CRLF endings, lines folded at 75 octets,
/// the required properties, UTC times.
fn validate(text: &str) -> IcalCalendar {
    assert!(text.ends_with("\r\n"), "ends with CRLF");
    for line in text.split("\r\n").filter(|l| !l.is_empty()) {
        assert!(line.len() <= 75, "line longer than 75 octets: {line:?}");
        assert!(!line.contains('\n') && !line.contains('\r'), "bare line break in {line:?}");
    }
    let mut calendars = ical::IcalParser::new(BufReader::new(text.as_bytes()));
    let cal = calendars.next().expect("one calendar").expect("parses");
    assert!(calendars.next().is_none());
    let prop = |props: &[ical::property::Property], name: &str| props.iter().find(|p| p.name == name).and_then(|p| p.value.clone());
    assert_eq!(prop(&cal.properties, "VERSION").as_deref(), Some("2.0"));
    assert!(prop(&cal.properties, "PRODID").is_some());
    for e in &cal.events {
        for name in ["UID", "DTSTAMP", "DTSTART", "DTEND"] {
            assert!(prop(&e.properties, name).is_some(), "event without {name}");
        }
        for name in ["DTSTAMP", "DTSTART", "DTEND"] {
            let v = prop(&e.properties, name).unwrap();
            assert!(chrono::NaiveDateTime::parse_from_str(&v, "%Y%m%dT%H%M%SZ").is_ok(), "{name} is not a UTC date-time: {v}");
        }
    }
    cal
}

fn value(props: &[ical::property::Property], name: &str) -> String {
    props.iter().find(|p| p.name == name).and_then(|p| p.value.clone()).unwrap_or_default()
}

async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    app.http.get(format!("{}{}", app.base, path)).send().await.unwrap()
}

#[tokio::test]
async fn an_appointment_file_is_valid_and_carries_no_health_data() {
    let app = spawn_app_for(RULES_CLINIC, |_| {}).await;
    let (ilunga, ultrasound) = (practitioner_named(&app.clinic, "Ilunga"), service_named(&app.clinic, "ultrasound"));
    let patient = new_patients(&app, 1).await[0];
    let start = "2026-11-30T06:15:00Z".parse().unwrap(); // 08:15 local, after the 15-minute preparation buffer
    let id: AppointmentId = book(&app.store, &app.clinic, request(ilunga, ultrasound, patient, start)).await.unwrap();
    let token = app.store.appointment_calendar_token(id).await.unwrap().expect("a token per appointment");
    assert!(token.len() >= 43, "256-bit token");

    let response = get(&app, &format!("/calendar/appointments/{token}.ics")).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/calendar"));
    let text = response.text().await.unwrap();
    let cal = validate(&text);
    assert_eq!(cal.events.len(), 1);
    let e = &cal.events[0].properties;
    assert_eq!(value(e, "DTSTART"), "20261130T061500Z");
    assert_eq!(value(e, "DTEND"), "20261130T070000Z");
    assert_eq!(value(e, "UID"), format!("{}@nuru", id.0.simple()));
    assert!(value(e, "SUMMARY").starts_with("Rendez-vous"));
    // The address's comma is escaped as RFC 5545 requires.
    assert_eq!(value(e, "LOCATION"), "5 avenue Mama Yemo\\, Lubumbashi");
    let lower = text.to_lowercase();
    for health in ["échographie", "ultrasound", "consultation", "p n0"] {
        assert!(!lower.contains(health), "{health:?} leaked into the calendar file");
    }

    let english = get(&app, &format!("/calendar/appointments/{token}.ics?lang=en")).await.text().await.unwrap();
    assert!(value(&validate(&english).events[0].properties, "SUMMARY").starts_with("Appointment"));
}

#[tokio::test]
async fn a_practitioner_feed_lists_booked_and_cancelled_appointments() {
    let app = spawn_app_for(RULES_CLINIC, |_| {}).await;
    let (ilunga, consultation) = (practitioner_named(&app.clinic, "Ilunga"), service_named(&app.clinic, "consultation"));
    let patients = new_patients(&app, 2).await;
    let a =
        book(&app.store, &app.clinic, request(ilunga, consultation, patients[0], "2026-11-30T06:00:00Z".parse().unwrap())).await.unwrap();
    let b =
        book(&app.store, &app.clinic, request(ilunga, consultation, patients[1], "2026-11-30T07:00:00Z".parse().unwrap())).await.unwrap();
    let mut tx = app.store.begin().await.unwrap();
    assert!(nuru::scheduling::cancel(&mut tx, app.clinic.clinic.id, b, "staff", monday_morning()).await.unwrap());
    tx.commit().await.unwrap();

    let token = app.store.practitioner_calendar_token(ilunga).await.unwrap().expect("feed token");
    let text = get(&app, &format!("/calendar/practitioners/{token}.ics")).await.text().await.unwrap();
    let cal = validate(&text);
    assert_eq!(cal.events.len(), 2);
    let status = |id: AppointmentId| {
        let e = cal.events.iter().find(|e| value(&e.properties, "UID") == format!("{}@nuru", id.0.simple())).expect("event present");
        value(&e.properties, "STATUS")
    };
    assert_eq!(status(a), "CONFIRMED");
    assert_eq!(status(b), "CANCELLED");
    assert!(!text.contains("N0") && !text.contains("N1"), "no patient names in the feed");
}

#[tokio::test]
async fn unknown_or_malformed_tokens_are_not_found() {
    let app = spawn_app_for(RULES_CLINIC, |_| {}).await;
    for path in [
        "/calendar/appointments/nope.ics",
        "/calendar/practitioners/nope.ics",
        "/calendar/appointments/x",
        "/calendar/practitioners/..%2F.ics",
    ] {
        assert_eq!(get(&app, path).await.status(), 404, "{path}");
    }
}
