//! Feedback after a visit: requested once (with at most one reminder) after
//! staff mark the visit attended or after its end, answered with a rating and
//! a comment, shown to staff; the WhatsApp window, templates, opt-out, quiet
//! hours, several nodes and erasure. Real webhook, worker and local Twilio
//! server, the clock moved (never slept). Both backends.

use crate::admin::{Admin, setup};
use crate::helpers::*;
use crate::reminders::{PATIENT, at, booked, booked_again, sent_count, sent_since, set_clock};
use chrono::Duration;
use nuru::domain::AppointmentId;
use serde_json::{Value, json};

const TEMPLATE: &str = "HXfedcba9876543210fedcba9876543210";

/// Staff mark the appointment attended (or missed).
async fn mark(a: &Admin, id: AppointmentId, status: &str) {
    let token = a.token("staff@demo.org").await;
    let path = format!("/api/clinics/{}/appointments/{id}/status", a.app.clinic.clinic.id);
    let (code, body) = a.send("post", &token, &path, Some(json!({ "status": status }))).await;
    assert_eq!(code, 204, "{body}");
}

async fn stats(a: &Admin, query: &str) -> Value {
    let token = a.token("staff@demo.org").await;
    let path = format!("/api/clinics/{}/feedback/stats?from=2026-11-20&to=2026-11-30{query}", a.app.clinic.clinic.id);
    let (code, body) = a.send("get", &token, &path, None).await;
    assert_eq!(code, 200, "{body}");
    body
}

/// The feedback requests and reminders Twilio received since `before`.
fn requests_since(app: &TestApp, before: usize) -> Vec<Recorded> {
    sent_since(app, before)
        .into_iter()
        .filter(|r| r.field("Body").contains("merci de votre visite") || r.field("Body").contains("votre avis sur votre visite"))
        .collect()
}

#[tokio::test]
async fn marked_attended_the_patient_is_asked_once_two_hours_later_and_staff_see_the_rating_and_comment() {
    let a = setup().await;
    let app = &a.app;
    // Wednesday 25 November 10:00 in Kinshasa (UTC+1).
    let id = booked(&a, "2026-11-25T09:00:00Z").await;
    set_clock(app, at("2026-11-25T08:30:00Z"));
    app.say(PATIENT, "bonjour").await;
    // 10:40: the visit is over, staff mark it attended. Nothing before 12:40.
    set_clock(app, at("2026-11-25T09:40:00Z"));
    mark(&a, id, "attended").await;
    let before = sent_count(app);
    set_clock(app, at("2026-11-25T11:39:00Z"));
    app.workers.run_until_idle().await.unwrap();
    assert_eq!(sent_count(app), before, "not before its time");
    set_clock(app, at("2026-11-25T11:40:00Z"));
    app.workers.run_until_idle().await.unwrap();
    let sent = sent_since(app, before);
    assert_eq!(sent.len(), 1, "{sent:?}");
    let body = sent[0].field("Body");
    assert!(body.starts_with("Bonjour Awa, merci de votre visite du mercredi 25 novembre au Centre médical Nuru"), "{body}");
    assert!(body.contains("Comment s'est passée votre consultation avec Dr Jean Kabeya ?"), "{body}");
    assert_eq!(sent[0].field("To"), format!("whatsapp:{PATIENT}"));
    // Once: running again sends nothing more.
    app.workers.run_until_idle().await.unwrap();
    assert_eq!(sent_count(app), before + 1);

    let r = app.say(PATIENT, "⭐⭐⭐⭐").await;
    assert!(r[0].contains("Merci pour votre note (4/5)"), "{r:?}");
    let r = app.say(PATIENT, "Le médecin était à l'écoute, mais la salle d'attente était trop chaude").await;
    assert!(r[0].contains("Merci pour votre avis"), "{r:?}");
    // Answered: no reminder a day later.
    let before = sent_count(app);
    set_clock(app, at("2026-11-26T12:00:00Z"));
    app.workers.run_until_idle().await.unwrap();
    assert!(requests_since(app, before).is_empty());

    let s = stats(&a, "").await;
    assert_eq!((s["requested"].as_i64(), s["answered"].as_i64()), (Some(1), Some(1)), "{s}");
    assert_eq!(s["response_rate"], 1.0);
    assert_eq!(s["overall"]["mean"], 4.0);
    assert_eq!(s["overall"]["distribution"], json!([0, 0, 0, 1, 0]));
    let kabeya = app.clinic.practitioners.iter().find(|p| p.last_name == "Kabeya").unwrap().id;
    assert_eq!(s["by_practitioner"][0]["practitioner_id"], kabeya.to_string());
    assert_eq!(s["by_practitioner"][0]["count"], 1);
    assert_eq!(s["by_service"][0]["mean"], 4.0);
    assert_eq!(s["comments"][0]["rating"], 4);
    assert!(s["comments"][0]["comment"].as_str().unwrap().contains("salle d'attente était trop chaude"), "{s}");
    // Filtered to another practitioner: nothing; an unknown one: refused.
    let other = app.clinic.practitioners.iter().find(|p| p.id != kabeya).unwrap().id;
    assert_eq!(stats(&a, &format!("&practitioner_id={other}")).await["overall"]["count"], 0);
    let token = a.token("staff@demo.org").await;
    let path = format!("/api/clinics/{}/feedback/stats?practitioner_id={}", app.clinic.clinic.id, uuid::Uuid::new_v4());
    let (code, body) = a.send("get", &token, &path, None).await;
    assert_eq!(code, 422, "{body}");

    // Erased, the patient's comment goes; the rating stays, anonymous.
    let patient = app.store.appointments(app.clinic.clinic.id).await.unwrap()[0].patient_id;
    let admin = a.token("admin@demo.org").await;
    let (code, body) = a.send("delete", &admin, &format!("/api/clinics/{}/patients/{patient}", app.clinic.clinic.id), None).await;
    assert!(code.is_success(), "{code} {body}");
    let s = stats(&a, "").await;
    assert_eq!(s["overall"]["count"], 1, "{s}");
    assert_eq!(s["comments"], json!([]), "{s}");
}

#[tokio::test]
async fn asked_after_the_end_unless_missed_or_cancelled_and_settings_are_checked() {
    let a = setup().await;
    let app = &a.app;
    let path = format!("/api/clinics/{}/feedback-settings", app.clinic.clinic.id);
    let staff = a.token("staff@demo.org").await;
    let (code, defaults) = a.send("get", &staff, &path, None).await;
    assert_eq!(code, 200);
    assert_eq!(defaults, json!({"enabled": true, "ask_after": "attended", "delay_minutes": 120, "reminder_after_minutes": 1440}));
    let wanted = json!({"enabled": true, "ask_after": "end", "delay_minutes": 60, "reminder_after_minutes": 0});
    let (code, _) = a.send("put", &staff, &path, Some(wanted.clone())).await;
    assert_eq!(code, 403, "clinic admins only");
    let admin = a.token("admin@demo.org").await;
    for (bad, field) in [
        (json!({"enabled": true, "ask_after": "soon", "delay_minutes": 60, "reminder_after_minutes": 0}), "ask_after"),
        (json!({"enabled": true, "ask_after": "end", "delay_minutes": 60, "reminder_after_minutes": 30}), "reminder_after_minutes"),
        (json!({"enabled": true, "ask_after": "end", "delay_minutes": 20000, "reminder_after_minutes": 0}), "delay_minutes"),
    ] {
        let (code, body) = a.send("put", &admin, &path, Some(bad)).await;
        assert_eq!(code, 422, "{body}");
        assert!(body.to_string().contains(field), "{body}");
    }
    let (code, body) = a.send("put", &admin, &path, Some(wanted.clone())).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(a.send("get", &staff, &path, None).await.1, wanted);

    // Wednesday: seen but never marked; Thursday: marked missed; Friday: cancelled.
    booked(&a, "2026-11-25T09:00:00Z").await;
    let thursday = booked_again(&a, "2026-11-26T09:00:00Z").await;
    let friday = booked_again(&a, "2026-11-27T09:00:00Z").await;
    set_clock(app, at("2026-11-25T08:30:00Z"));
    app.say(PATIENT, "bonjour").await;
    let before = sent_count(app);
    set_clock(app, at("2026-11-25T11:00:00Z"));
    app.workers.run_until_idle().await.unwrap();
    let asked = requests_since(app, before);
    assert_eq!(asked.len(), 1, "an hour after Wednesday's end: {asked:?}");
    assert!(asked[0].field("Body").contains("mercredi 25 novembre"));

    set_clock(app, at("2026-11-26T10:00:00Z"));
    mark(&a, thursday, "no_show").await;
    let token = a.token("staff@demo.org").await;
    let cancel = format!("/api/clinics/{}/appointments/{friday}/cancel", app.clinic.clinic.id);
    let (code, body) = a.send("post", &token, &cancel, None).await;
    assert!(code.is_success(), "{code} {body}");
    // Past every end, and past Wednesday's expiry (no reminder wanted).
    set_clock(app, at("2026-12-01T12:00:00Z"));
    app.workers.run_until_idle().await.unwrap();
    assert_eq!(requests_since(app, before).len(), 1, "no request for a missed or cancelled visit, no reminder");
    let s = stats(&a, "").await;
    assert_eq!((s["requested"].as_i64(), s["answered"].as_i64()), (Some(1), Some(0)), "{s}");
}

#[tokio::test]
async fn outside_the_window_the_feedback_template_goes_and_an_opted_out_phone_is_never_asked() {
    let a = setup().await;
    let app = &a.app;
    // The patient last wrote on Monday: Wednesday is outside the 24 hours.
    let wednesday = booked(&a, "2026-11-25T09:00:00Z").await;
    set_clock(app, at("2026-11-25T09:40:00Z"));
    mark(&a, wednesday, "attended").await;
    let before = sent_count(app);
    set_clock(app, at("2026-11-25T11:40:00Z"));
    app.workers.run_until_idle().await.unwrap();
    assert!(requests_since(app, before).is_empty(), "no free text outside the window, no template yet");

    let admin = a.token("admin@demo.org").await;
    let path = format!("/api/clinics/{}/templates/feedback/fr", app.clinic.clinic.id);
    let (code, body) = a
        .send("put", &admin, &path, Some(json!({"content_sid": TEMPLATE, "variables": ["patient_first_name", "date", "practitioner"]})))
        .await;
    assert_eq!(code, 200, "{body}");
    let thursday = booked_again(&a, "2026-11-26T09:00:00Z").await;
    set_clock(app, at("2026-11-26T09:40:00Z"));
    mark(&a, thursday, "attended").await;
    let before = sent_count(app);
    set_clock(app, at("2026-11-26T11:40:00Z"));
    app.workers.run_until_idle().await.unwrap();
    let sent: Vec<Recorded> = sent_since(app, before).into_iter().filter(|r| r.field("ContentSid") == TEMPLATE).collect();
    assert_eq!(sent.len(), 1, "{:?}", sent_since(app, before));
    let variables: Value = serde_json::from_str(sent[0].field("ContentVariables")).unwrap();
    assert_eq!(variables, json!({"1": "Awa", "2": "jeudi 26 novembre", "3": "Dr Jean Kabeya"}));
    // A tapped "4" on the template is a rating.
    let r = app.say(PATIENT, "4").await;
    assert!(r[0].contains("(4/5)"), "{r:?}");

    // STOP: the next visit is never asked about.
    let r = app.say(PATIENT, "STOP").await;
    assert!(r[0].contains("vous ne recevrez plus"), "{r:?}");
    let friday = booked_again(&a, "2026-11-27T09:00:00Z").await;
    set_clock(app, at("2026-11-27T09:40:00Z"));
    mark(&a, friday, "attended").await;
    let before = sent_count(app);
    set_clock(app, at("2026-11-28T12:00:00Z"));
    app.workers.run_until_idle().await.unwrap();
    assert!(sent_since(app, before).is_empty(), "{:?}", sent_since(app, before));
}

#[tokio::test]
async fn quiet_hours_hold_a_request_until_morning_and_an_unanswered_one_is_reminded_once() {
    let a = setup().await;
    let app = &a.app;
    // Wednesday 16:00 local; at 19:30 staff mark it attended: due 21:30.
    let id = booked(&a, "2026-11-25T15:00:00Z").await;
    set_clock(app, at("2026-11-25T18:30:00Z"));
    app.say(PATIENT, "merci").await;
    mark(&a, id, "attended").await;
    let before = sent_count(app);
    set_clock(app, at("2026-11-25T20:30:00Z"));
    app.workers.run_until_idle().await.unwrap();
    assert!(requests_since(app, before).is_empty(), "21:30 local is in the quiet hours");
    set_clock(app, at("2026-11-26T05:59:00Z"));
    app.workers.run_until_idle().await.unwrap();
    assert!(requests_since(app, before).is_empty());
    set_clock(app, at("2026-11-26T06:00:00Z"));
    app.workers.run_until_idle().await.unwrap();
    assert_eq!(requests_since(app, before).len(), 1, "07:00 local");
    // Later, the patient writes something else: an ordinary message; no answer.
    set_clock(app, at("2026-11-26T08:00:00Z"));
    let r = app.say(PATIENT, "je voudrais un rendez-vous lundi").await;
    assert!(!r.iter().any(|m| m.contains("note")), "{r:?}");
    // A day later (inside the window since that message), the one reminder.
    set_clock(app, at("2026-11-27T06:00:00Z"));
    app.workers.run_until_idle().await.unwrap();
    let asked = requests_since(app, before);
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert!(asked[1].field("Body").contains("votre avis sur votre visite du mercredi 25 novembre"), "{asked:?}");
    // Then never again; a "2" long after is no rating.
    set_clock(app, at("2026-12-02T06:00:00Z"));
    app.workers.run_until_idle().await.unwrap();
    assert_eq!(requests_since(app, before).len(), 2);
    let s = stats(&a, "").await;
    assert_eq!((s["requested"].as_i64(), s["answered"].as_i64()), (Some(1), Some(0)), "{s}");
}

#[tokio::test]
async fn two_nodes_and_a_crash_between_claim_and_send_ask_each_visit_once() {
    let a = setup().await;
    let app = &a.app;
    let mut visits = vec![booked(&a, "2026-11-25T09:00:00Z").await];
    for hour in [13, 14] {
        visits.push(booked_again(&a, &format!("2026-11-25T{hour}:00:00Z")).await);
    }
    set_clock(app, at("2026-11-25T15:00:00Z"));
    app.say(PATIENT, "merci").await;
    for id in &visits {
        mark(&a, *id, "attended").await;
    }
    set_clock(app, at("2026-11-25T17:00:00Z"));
    let lease = Duration::seconds(60);
    let node_a = nuru::outreach::Outreach::new(app.store.clone(), app.clock.clone(), lease);
    let node_b = nuru::outreach::Outreach::new(app.store.clone(), app.clock.clone(), lease);
    // A node claims one and dies before deciding it.
    let crashed = app.store.claim_feedback(app.clock.now(), app.clock.now() + lease).await.unwrap();
    assert!(crashed.is_some());
    let mut queued = 0;
    loop {
        let (x, y) = tokio::join!(node_a.feedback_due(), node_b.feedback_due());
        let (x, y) = (x.unwrap(), y.unwrap());
        queued += [&x, &y].iter().filter(|o| matches!(o, Some(nuru::outreach::AskedFeedback::Queued(1)))).count();
        if x.is_none() && y.is_none() {
            break;
        }
    }
    assert_eq!(queued, 2, "the crashed claim waits for its lease");
    app.clock.advance(Duration::seconds(61));
    while let Some(o) = node_b.feedback_due().await.unwrap() {
        queued += usize::from(o == nuru::outreach::AskedFeedback::Queued(1));
    }
    assert_eq!(queued, 3);
    app.workers.run_until_idle().await.unwrap();
    assert_eq!(requests_since(app, 0).len(), 3, "one message per visit");
}
