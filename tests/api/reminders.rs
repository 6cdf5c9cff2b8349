//! Reminders, the WhatsApp window and templates, replies to a reminder, and
//! opt-out / opt-in, through the real webhook, worker and local Twilio
//! server, with the clock moved (never slept). Both backends.

use crate::admin::{Admin, setup, setup_with};
use crate::helpers::*;
use chrono::{DateTime, Duration, Utc};
use nuru::domain::{AppointmentId, AppointmentStatus, Channel, PhoneNumber};
use serde_json::{Value, json};

pub(crate) const PATIENT: &str = "+243990000088";
const TEMPLATE: &str = "HX0123456789abcdef0123456789abcdef";

pub(crate) fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// Moves the fixed clock to `to` (forward only).
pub(crate) fn set_clock(app: &TestApp, to: DateTime<Utc>) {
    let now = app.clock.now();
    assert!(to >= now, "the clock only moves forward");
    app.clock.advance(to - now);
}

/// Awa Mendy books through the bot (Tuesday 24 November 08:00 in Kinshasa,
/// Dr Kabeya); then staff move it to `starts_at`. Returns the appointment.
pub(crate) async fn booked(a: &Admin, starts_at: &str) -> AppointmentId {
    let app = &a.app;
    app.say(PATIENT, "Bonjour, je voudrais un rdv demain matin pour une consultation").await;
    app.say(PATIENT, "1").await;
    app.say(PATIENT, "Awa Mendy").await;
    app.say(PATIENT, "15/05/1990").await;
    let r = app.say(PATIENT, "oui").await;
    assert!(r[0].starts_with("C'est réservé"), "{r:?}");
    let appointment = app.store.appointments(app.clinic.clinic.id).await.unwrap().remove(0);
    let token = a.token("staff@demo.org").await;
    let (status, body) = a
        .send(
            "post",
            &token,
            &format!("/api/clinics/{}/appointments/{}/move", app.clinic.clinic.id, appointment.id),
            Some(json!({"starts_at": starts_at})),
        )
        .await;
    assert!(status.is_success(), "{status} {body}");
    appointment.id
}

/// The reminders of the clinic as staff see them (due in the next 60 days).
async fn reminders(a: &Admin, query: &str) -> Vec<Value> {
    let token = a.token("staff@demo.org").await;
    let path = format!("/api/clinics/{}/reminders?from=2026-11-01&to=2026-12-31{query}", a.app.clinic.clinic.id);
    let (status, body) = a.send("get", &token, &path, None).await;
    assert_eq!(status, 200, "{body}");
    body.as_array().unwrap().clone()
}

/// What Twilio received since `before`.
pub(crate) fn sent_since(app: &TestApp, before: usize) -> Vec<Recorded> {
    app.twilio.received.lock().unwrap()[before..].to_vec()
}

pub(crate) fn sent_count(app: &TestApp) -> usize {
    app.twilio.received.lock().unwrap().len()
}

#[tokio::test]
async fn a_moved_appointment_is_reminded_at_its_new_local_times_once_and_1_confirms_attendance() {
    let a = setup().await;
    let app = &a.app;
    // Wednesday 25 November 10:00 in Kinshasa (UTC+1).
    let id = booked(&a, "2026-11-25T09:00:00Z").await;
    let all = reminders(&a, "").await;
    let waiting: Vec<&Value> = all.iter().filter(|r| r["status"] == "scheduled").collect();
    let mut due: Vec<&str> = waiting.iter().map(|r| r["due_at"].as_str().unwrap()).collect();
    due.sort();
    assert_eq!(due, ["2026-11-24T09:00:00Z", "2026-11-25T07:00:00Z"], "24 h and 2 h before the new time: {all:?}");
    // The booking's own time (Tuesday 08:00) had a 2-hour reminder: replaced, never sent.
    assert!(all.iter().any(|r| r["status"] == "cancelled" && r["reason"] == "moved"), "{all:?}");

    // The patient writes on Tuesday morning: the reminder at 10:00 is inside the window.
    set_clock(app, at("2026-11-24T08:30:00Z"));
    app.say(PATIENT, "merci").await;
    set_clock(app, at("2026-11-24T08:59:00Z"));
    let before = sent_count(app);
    app.workers.run_until_idle().await.unwrap();
    assert_eq!(sent_count(app), before, "not before its time");
    set_clock(app, at("2026-11-24T09:00:00Z"));
    app.workers.run_until_idle().await.unwrap();
    let sent = sent_since(app, before);
    assert_eq!(sent.len(), 1, "{sent:?}");
    let body = sent[0].field("Body");
    assert!(body.starts_with("Rappel : Awa a rendez-vous mercredi 25 novembre à 10:00 avec Dr Jean Kabeya"), "{body}");
    assert!(body.contains("Répondez 1 pour confirmer"), "{body}");
    assert_eq!(sent[0].field("To"), format!("whatsapp:{PATIENT}"));
    // Once: running again, or after a restart, sends nothing more.
    app.workers.run_until_idle().await.unwrap();
    assert_eq!(sent_count(app), before + 1);

    // "1": attendance confirmed, visible to staff.
    let r = app.say(PATIENT, "1").await;
    assert!(r[0].contains("Merci, c'est noté : nous vous attendons mercredi 25 novembre à 10:00"), "{r:?}");
    let appointment = app.store.appointment(app.clinic.clinic.id, id).await.unwrap().unwrap();
    assert_eq!(appointment.attendance_confirmed_at, Some(at("2026-11-24T09:00:00Z")));
    let token = a.token("staff@demo.org").await;
    let (_, list) =
        a.send("get", &token, &format!("/api/clinics/{}/appointments?from=2026-11-25&to=2026-11-25", app.clinic.clinic.id), None).await;
    assert_eq!(list[0]["attendance_confirmed_at"], "2026-11-24T09:00:00Z", "{list}");
    // A later "1" is an ordinary message again.
    let r = app.say(PATIENT, "1").await;
    assert!(!r.iter().any(|m| m.contains("nous vous attendons")), "{r:?}");

    // The 2-hour reminder, Wednesday 08:00 local.
    set_clock(app, at("2026-11-25T07:00:00Z"));
    let before = sent_count(app);
    app.workers.run_until_idle().await.unwrap();
    assert_eq!(sent_since(app, before).len(), 1);
    let token = a.token("staff@demo.org").await;
    let (_, stats) =
        a.send("get", &token, &format!("/api/clinics/{}/reminders/stats?from=2026-11-20&to=2026-11-30", app.clinic.clinic.id), None).await;
    assert_eq!(stats["sent"], 2, "{stats}");
    assert_eq!(stats["confirmed"], 1, "{stats}");
}

#[tokio::test]
async fn a_cancelled_appointment_is_never_reminded() {
    let a = setup().await;
    let app = &a.app;
    booked(&a, "2026-11-25T09:00:00Z").await;
    let r = app.say(PATIENT, "je veux annuler mon rdv").await;
    assert!(r[0].contains("Répondez 1"), "{r:?}");
    app.say(PATIENT, "oui").await;
    let before = sent_count(app);
    set_clock(app, at("2026-11-25T08:00:00Z"));
    app.workers.run_until_idle().await.unwrap();
    assert_eq!(sent_count(app), before, "nothing after the cancellation");
    let all = reminders(&a, "").await;
    assert!(all.iter().all(|r| r["status"] == "cancelled"), "{all:?}");
}

#[tokio::test]
async fn quiet_hours_hold_a_reminder_until_morning_or_skip_it() {
    let a = setup().await;
    let app = &a.app;
    // Tuesday 24 November 08:00 local: the 2-hour reminder falls at 06:00,
    // inside the quiet hours (21:00–07:00); it goes at 07:00, an hour before.
    app.say(PATIENT, "Bonjour, je voudrais un rdv demain matin pour une consultation").await;
    app.say(PATIENT, "1").await;
    app.say(PATIENT, "Awa Mendy").await;
    app.say(PATIENT, "15/05/1990").await;
    app.say(PATIENT, "oui").await;
    let all = reminders(&a, "&status=scheduled").await;
    assert_eq!(all.len(), 1, "booked 24 h ahead: the 24-hour reminder is already past: {all:?}");
    assert_eq!(all[0]["due_at"], "2026-11-24T05:00:00Z");
    // Keep the window open: the patient wrote the evening before.
    set_clock(app, at("2026-11-23T19:00:00Z"));
    app.say(PATIENT, "merci").await;
    set_clock(app, at("2026-11-24T05:00:00Z"));
    let before = sent_count(app);
    app.workers.run_until_idle().await.unwrap();
    assert_eq!(sent_count(app), before, "06:00 local is quiet");
    assert_eq!(reminders(&a, "&status=scheduled").await[0]["due_at"], "2026-11-24T06:00:00Z", "held until 07:00 local");
    set_clock(app, at("2026-11-24T06:00:00Z"));
    app.workers.run_until_idle().await.unwrap();
    assert_eq!(sent_since(app, before).len(), 1, "sent at 07:00 local");

    // Quiet hours until 08:00: the reminder would come as the appointment starts: skipped.
    let admin = a.token("admin@demo.org").await;
    let (status, body) = a
        .send(
            "put",
            &admin,
            &format!("/api/clinics/{}/reminder-settings", app.clinic.clinic.id),
            Some(json!({"enabled": true, "offsets_minutes": [120], "quiet_hours_start": "21:00", "quiet_hours_end": "08:30"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    booked_again(&a, "2026-11-25T07:00:00Z").await;
    set_clock(app, at("2026-11-25T05:00:00Z"));
    let before = sent_count(app);
    app.workers.run_until_idle().await.unwrap();
    assert_eq!(sent_count(app), before);
    let skipped = reminders(&a, "&status=skipped").await;
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(skipped[0]["reason"], "quiet_hours");
    // Bad settings are refused with what is wrong.
    let admin = a.token("admin@demo.org").await;
    let token = a.token("staff@demo.org").await;
    for bad in [
        json!({"enabled": true, "offsets_minutes": [5], "quiet_hours_start": "21:00", "quiet_hours_end": "07:00"}),
        json!({"enabled": true, "offsets_minutes": [60], "quiet_hours_start": "25:00", "quiet_hours_end": "07:00"}),
        json!({"enabled": true, "offsets_minutes": [60, 120, 240, 480, 960], "quiet_hours_start": "21:00", "quiet_hours_end": "07:00"}),
    ] {
        let (status, body) = a.send("put", &admin, &format!("/api/clinics/{}/reminder-settings", app.clinic.clinic.id), Some(bad)).await;
        assert_eq!(status, 422, "{body}");
    }
    // Staff may read the settings, not change them.
    let (status, _) = a
        .send(
            "put",
            &token,
            &format!("/api/clinics/{}/reminder-settings", app.clinic.clinic.id),
            Some(json!({"enabled": false, "offsets_minutes": [], "quiet_hours_start": "21:00", "quiet_hours_end": "07:00"})),
        )
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn outside_the_window_the_template_goes_and_63016_and_21610_are_never_retried() {
    let a = setup().await;
    let app = &a.app;
    booked(&a, "2026-11-25T09:00:00Z").await;
    // No template, and the patient last wrote on Monday: not sent, and said why.
    set_clock(app, at("2026-11-24T09:00:00Z"));
    let before = sent_count(app);
    app.workers.run_until_idle().await.unwrap();
    assert_eq!(sent_count(app), before);
    let skipped = reminders(&a, "&status=skipped").await;
    assert_eq!(skipped[0]["reason"], "no_template", "{skipped:?}");

    // With the clinic's approved template: ContentSid and variables, no free text.
    let admin = a.token("admin@demo.org").await;
    let path = format!("/api/clinics/{}/templates/reminder/fr", app.clinic.clinic.id);
    let (status, body) =
        a.send("put", &admin, &path, Some(json!({"content_sid": TEMPLATE, "variables": ["patient_first_name", "date", "time"]}))).await;
    assert_eq!(status, 200, "{body}");
    for bad in [json!({"content_sid": "HX1", "variables": []}), json!({"content_sid": TEMPLATE, "variables": ["diagnosis"]})] {
        let (status, body) = a.send("put", &admin, &path, Some(bad)).await;
        assert_eq!(status, 422, "{body}");
    }
    // The 2-hour reminder (Wednesday 08:00 local), still outside the window.
    set_clock(app, at("2026-11-25T07:00:00Z"));
    app.workers.run_until_idle().await.unwrap();
    let sent = sent_since(app, before);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].field("ContentSid"), TEMPLATE);
    let variables: Value = serde_json::from_str(sent[0].field("ContentVariables")).unwrap();
    assert_eq!(variables, json!({"1": "Awa", "2": "mercredi 25 novembre", "3": "10:00"}));
    assert!(sent[0].fields.iter().all(|(k, _)| k != "Body"), "a template carries no free text");

    // 63016 (outside the window) on the next one: failed, never sent again as free text.
    let id = booked_again(&a, "2026-11-27T09:00:00Z").await;
    let _ = id;
    set_clock(app, at("2026-11-26T09:00:00Z"));
    app.twilio.answer_next(
        400,
        r#"{"code": 63016, "message": "Failed to send freeform message because you are outside the allowed window.", "status": 400}"#,
    );
    let before = sent_count(app);
    app.workers.run_until_idle().await.unwrap();
    app.clock.advance(Duration::minutes(10));
    app.workers.run_until_idle().await.unwrap();
    assert_eq!(sent_since(app, before).len(), 1, "one attempt, no retry");
    let failed = reminders(&a, "&failed=true").await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["send_status"], "failed");

    // 21610 (unsubscribed at Twilio): failed, and the phone recorded as opted out.
    set_clock(app, at("2026-11-27T07:00:00Z"));
    app.twilio.answer_next(400, r#"{"code": 21610, "message": "Attempt to send to unsubscribed recipient", "status": 400}"#);
    let before = sent_count(app);
    app.workers.run_until_idle().await.unwrap();
    assert_eq!(sent_since(app, before).len(), 1);
    let phone = PhoneNumber::parse(PATIENT).unwrap();
    let consent = app.store.consent(app.clinic.clinic.id, &phone, Channel::WhatsApp).await.unwrap().unwrap();
    assert!(consent.opted_out);
    assert_eq!(consent.source, "twilio");
}

/// A second appointment for the same patient, booked by staff.
pub(crate) async fn booked_again(a: &Admin, starts_at: &str) -> AppointmentId {
    let app = &a.app;
    let token = a.token("staff@demo.org").await;
    let patient = app.store.appointments(app.clinic.clinic.id).await.unwrap()[0].patient_id;
    let kabeya = app.clinic.practitioners.iter().find(|p| p.last_name == "Kabeya").unwrap().id;
    let (status, body) = a
        .send(
            "post",
            &token,
            &format!("/api/clinics/{}/appointments", app.clinic.clinic.id),
            Some(
                json!({"practitioner_id": kabeya, "service_id": app.clinic.services[0].id, "patient_id": patient, "starts_at": starts_at}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    AppointmentId::parse(body["id"].as_str().unwrap()).unwrap()
}

/// The reminder of Wednesday's appointment, sent inside the window.
async fn reminded(a: &Admin) -> AppointmentId {
    let app = &a.app;
    let id = booked(a, "2026-11-25T09:00:00Z").await;
    set_clock(app, at("2026-11-24T08:30:00Z"));
    app.say(PATIENT, "bonjour").await;
    set_clock(app, at("2026-11-24T09:00:00Z"));
    let before = sent_count(app);
    app.workers.run_until_idle().await.unwrap();
    assert!(sent_since(app, before)[0].field("Body").starts_with("Rappel"));
    id
}

#[tokio::test]
async fn answering_2_to_a_reminder_cancels_that_appointment_after_a_confirmation() {
    let a = setup().await;
    let app = &a.app;
    let id = reminded(&a).await;
    let r = app.say(PATIENT, "2").await;
    assert!(r[0].contains("Voulez-vous annuler ce rendez-vous ?") && r[0].contains("mercredi 25 novembre à 10:00"), "{r:?}");
    let r = app.say(PATIENT, "1").await;
    assert!(r[0].starts_with("C'est annulé"), "{r:?}");
    assert_eq!(app.store.appointment(app.clinic.clinic.id, id).await.unwrap().unwrap().status, AppointmentStatus::Cancelled);
    let token = a.token("staff@demo.org").await;
    let (_, stats) =
        a.send("get", &token, &format!("/api/clinics/{}/reminders/stats?from=2026-11-20&to=2026-11-30", app.clinic.clinic.id), None).await;
    assert_eq!(stats["cancelled_from_reminder"], 1, "{stats}");
}

#[tokio::test]
async fn answering_3_or_the_move_button_offers_new_times_for_that_appointment() {
    let a = setup().await;
    let app = &a.app;
    reminded(&a).await;
    // The template's quick-reply button: Twilio sends its id as ButtonPayload.
    let before = sent_count(app);
    let mut fields = app.whatsapp_fields(&app.next_sid(), PATIENT, "Déplacer");
    fields.push(("ButtonPayload".into(), "move".into()));
    fields.push(("ButtonText".into(), "Déplacer".into()));
    assert_eq!(app.post_signed(&fields).await.status(), 200);
    app.workers.run_until_idle().await.unwrap();
    let r = sent_since(app, before);
    assert!(r[0].field("Body").contains("pour déplacer votre rendez-vous"), "{:?}", r[0].field("Body"));
    app.say(PATIENT, "menu").await;

    // The 2-hour reminder, then the "cancel" button: the cancellation to
    // confirm, not the CANCEL opt-out keyword.
    set_clock(app, at("2026-11-25T07:00:00Z"));
    app.workers.run_until_idle().await.unwrap();
    let before = sent_count(app);
    let mut fields = app.whatsapp_fields(&app.next_sid(), PATIENT, "Annuler");
    fields.push(("ButtonPayload".into(), "cancel".into()));
    assert_eq!(app.post_signed(&fields).await.status(), 200);
    app.workers.run_until_idle().await.unwrap();
    let r = sent_since(app, before);
    assert!(r[0].field("Body").contains("Voulez-vous annuler ce rendez-vous ?"), "{:?}", r[0].field("Body"));
    let phone = PhoneNumber::parse(PATIENT).unwrap();
    assert!(!app.store.consent(app.clinic.clinic.id, &phone, Channel::WhatsApp).await.unwrap().unwrap().opted_out);
}

#[tokio::test]
async fn answering_yes_or_the_confirm_button_confirms_and_anything_else_is_an_ordinary_message() {
    let a = setup().await;
    let app = &a.app;
    let id = reminded(&a).await;
    // An ordinary question: answered as ever, and the reminder is no longer awaited.
    let r = app.say(PATIENT, "quelle est votre adresse ?").await;
    assert!(r[0].contains("avenue de la Justice"), "{r:?}");
    let r = app.say(PATIENT, "je serai là").await;
    assert!(!r.iter().any(|m| m.contains("nous vous attendons")), "{r:?}");
    assert_eq!(app.store.appointment(app.clinic.clinic.id, id).await.unwrap().unwrap().attendance_confirmed_at, None);

    // The 2-hour reminder, then the confirm button.
    set_clock(app, at("2026-11-25T07:00:00Z"));
    app.workers.run_until_idle().await.unwrap();
    let before = sent_count(app);
    let mut fields = app.whatsapp_fields(&app.next_sid(), PATIENT, "Je confirme");
    fields.push(("ButtonPayload".into(), "confirm".into()));
    assert_eq!(app.post_signed(&fields).await.status(), 200);
    app.workers.run_until_idle().await.unwrap();
    assert!(sent_since(app, before)[0].field("Body").contains("nous vous attendons"));
    assert!(app.store.appointment(app.clinic.clinic.id, id).await.unwrap().unwrap().attendance_confirmed_at.is_some());
}

/// Sends `body` on `channel` and returns the replies Twilio received.
async fn say_on(app: &TestApp, channel: Channel, body: &str) -> Vec<String> {
    let before = sent_count(app);
    let sid = app.next_sid();
    let fields = match channel {
        Channel::WhatsApp => app.whatsapp_fields(&sid, PATIENT, body),
        _ => fields(&[("MessageSid", &sid), ("AccountSid", DEMO_ACCOUNT), ("From", PATIENT), ("To", "+15005550006"), ("Body", body)]),
    };
    assert_eq!(app.post_signed(&fields).await.status(), 200);
    app.workers.run_until_idle().await.unwrap();
    sent_since(app, before).iter().map(|r| r.field("Body").to_string()).collect()
}

#[tokio::test]
async fn every_opt_out_and_opt_in_word_on_whatsapp_and_sms_is_recorded_and_acknowledged_once() {
    // SMS paced at 1 a second per number in production; here as fast as the test.
    let app = spawn_app_with(|c| c.send_per_second_sms = 10_000).await;
    let phone = PhoneNumber::parse(PATIENT).unwrap();
    let clinic = app.clinic.clinic.id;
    for channel in [Channel::WhatsApp, Channel::Sms] {
        say_on(&app, channel, "bonjour").await;
        let c = app.store.consent(clinic, &phone, channel).await.unwrap().unwrap();
        assert!(!c.opted_out && c.source == "inbound", "the first message records the opt-in: {c:?}");
        for word in ["STOP", "stopall", "Unsubscribe", "CANCEL", "end", "QUIT", "ARRET", "ARRÊT", "arrêt."] {
            let r = say_on(&app, channel, word).await;
            assert_eq!(r.len(), 1, "{channel:?} {word}: acknowledged: {r:?}");
            assert!(r[0].contains("START"), "{r:?}");
            let c = app.store.consent(clinic, &phone, channel).await.unwrap().unwrap();
            assert!(c.opted_out && c.source == "keyword", "{channel:?} {word}: {c:?}");
            let again = say_on(&app, channel, "stop").await;
            assert!(again.is_empty(), "{channel:?} {word}: acknowledged once: {again:?}");
            for (i, back) in ["START", "unstop", "yes"].into_iter().enumerate() {
                if i > 0 {
                    say_on(&app, channel, "STOP").await;
                }
                let r = say_on(&app, channel, back).await;
                assert!(r.len() == 1 && r[0].contains("STOP"), "{channel:?} {back}: {r:?}");
                assert!(!app.store.consent(clinic, &phone, channel).await.unwrap().unwrap().opted_out);
            }
        }
        // "yes" from a phone that never opted out is an ordinary yes.
        let r = say_on(&app, channel, "yes").await;
        assert!(!r.iter().any(|m| m.contains("STOP")), "{r:?}");
        // "stop sending me these" is not a keyword: an ordinary message.
        say_on(&app, channel, "je veux arrêter de fumer").await;
        assert!(!app.store.consent(clinic, &phone, channel).await.unwrap().unwrap().opted_out);
    }
    // The channels are separate.
    say_on(&app, Channel::Sms, "STOP").await;
    assert!(app.store.consent(clinic, &phone, Channel::Sms).await.unwrap().unwrap().opted_out);
    assert!(!app.store.consent(clinic, &phone, Channel::WhatsApp).await.unwrap().unwrap().opted_out);
}

#[tokio::test]
async fn an_opted_out_phone_gets_no_reminder_but_still_gets_answers_and_staff_can_set_it() {
    let a = setup().await;
    let app = &a.app;
    booked(&a, "2026-11-25T09:00:00Z").await;
    set_clock(app, at("2026-11-24T08:30:00Z"));
    let r = app.say(PATIENT, "STOP").await;
    assert!(r[0].contains("vous ne recevrez plus"), "{r:?}");
    // Its own questions are still answered.
    let r = app.say(PATIENT, "quelle est votre adresse ?").await;
    assert!(r[0].contains("avenue de la Justice"), "{r:?}");
    set_clock(app, at("2026-11-24T09:00:00Z"));
    let before = sent_count(app);
    app.workers.run_until_idle().await.unwrap();
    assert_eq!(sent_count(app), before);
    assert_eq!(reminders(&a, "&status=skipped").await[0]["reason"], "opted_out");

    // Staff see it, and set it back at the patient's request (audited).
    let token = a.token("staff@demo.org").await;
    let path = format!("/api/clinics/{}/consents/%2B243990000088", app.clinic.clinic.id);
    let (status, body) = a.send("get", &token, &path, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body[0]["opted_out"], true);
    assert_eq!(body[0]["source"], "keyword");
    let (status, body) = a.send("put", &token, &format!("{path}/whatsapp"), Some(json!({"opted_out": false}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["source"], "staff");
    let (status, _) = a.send("put", &token, &format!("{path}/fax"), Some(json!({"opted_out": false}))).await;
    assert_eq!(status, 422);
    // Another clinic's admin cannot read it.
    let other = a.token("admin@other.org").await;
    let (status, _) = a.send("get", &other, &path, None).await;
    assert_eq!(status, 404);
    // The 2-hour reminder goes again.
    set_clock(app, at("2026-11-25T07:00:00Z"));
    let before = sent_count(app);
    app.workers.run_until_idle().await.unwrap();
    assert_eq!(sent_since(app, before).len(), 1);
}

#[tokio::test]
async fn a_reminder_queued_before_a_stop_is_not_sent_after_it() {
    let a = setup().await;
    let app = &a.app;
    booked(&a, "2026-11-25T09:00:00Z").await;
    set_clock(app, at("2026-11-24T08:30:00Z"));
    app.say(PATIENT, "merci").await;
    set_clock(app, at("2026-11-24T09:00:00Z"));
    // The reminder reaches the outbox, then the patient's STOP is processed first.
    let outreach = app.workers.outreach.clone().unwrap();
    assert_eq!(outreach.remind_due().await.unwrap(), Some(nuru::outreach::Reminded::Queued));
    let phone = PhoneNumber::parse(PATIENT).unwrap();
    let change = nuru::storage::ConsentChange {
        clinic: app.clinic.clinic.id,
        phone: &phone,
        channel: Channel::WhatsApp,
        opted_out: true,
        source: "keyword",
        changed_by: None,
    };
    app.store.set_consent_now(change, app.clock.now()).await.unwrap();
    let before = sent_count(app);
    app.workers.run_until_idle().await.unwrap();
    assert_eq!(sent_count(app), before, "not sent to a phone that opted out since");
}

#[tokio::test]
async fn two_nodes_and_a_crash_between_claim_and_send_queue_each_reminder_once() {
    let a = setup_with(|c| c.worker_lease_seconds = 60).await;
    let app = &a.app;
    booked(&a, "2026-11-25T09:00:00Z").await;
    for day in 26..=28 {
        booked_again(&a, &format!("2026-11-{day}T09:00:00Z")).await;
    }
    set_clock(app, at("2026-11-24T08:30:00Z"));
    app.say(PATIENT, "merci").await;
    // Everything due by Saturday's 2-hour reminder, inside a window kept open.
    let lease = Duration::seconds(60);
    let node_a = nuru::outreach::Outreach::new(app.store.clone(), app.clock.clone(), lease);
    let node_b = nuru::outreach::Outreach::new(app.store.clone(), app.clock.clone(), lease);
    let mut queued = 0;
    for step in [at("2026-11-24T09:00:00Z"), at("2026-11-25T07:00:00Z"), at("2026-11-25T09:00:00Z")] {
        if step == at("2026-11-25T07:00:00Z") {
            // The patient writes again: the window stays open.
            set_clock(app, at("2026-11-25T06:30:00Z"));
            app.say(PATIENT, "merci").await;
        }
        set_clock(app, step);
        // A node claims one and dies before deciding it.
        let crashed = app.store.claim_reminder(app.clock.now(), app.clock.now() + lease).await.unwrap();
        loop {
            let (x, y) = tokio::join!(node_a.remind_due(), node_b.remind_due());
            let (x, y) = (x.unwrap(), y.unwrap());
            queued += [&x, &y].iter().filter(|o| ***o == Some(nuru::outreach::Reminded::Queued)).count();
            if x.is_none() && y.is_none() {
                break;
            }
        }
        if crashed.is_some() {
            // Its lease runs out; the next claim takes it over.
            app.clock.advance(Duration::seconds(61));
            while let Some(o) = node_b.remind_due().await.unwrap() {
                queued += usize::from(o == nuru::outreach::Reminded::Queued);
            }
        }
        app.workers.run_until_idle().await.unwrap();
    }
    let all = reminders(&a, "&status=queued").await;
    assert_eq!(queued, all.len(), "each queued reminder counted once: {all:?}");
    assert_eq!(all.len(), 3, "Wednesday's two and Thursday's 24-hour: {all:?}");
    let bodies: Vec<String> =
        app.twilio.received.lock().unwrap().iter().map(|r| r.field("Body").to_string()).filter(|b| b.starts_with("Rappel")).collect();
    assert_eq!(bodies.len(), 3, "one message per reminder: {bodies:?}");
}

#[tokio::test]
async fn a_paris_clinic_reminds_on_the_wall_clock_across_both_dst_changes() {
    let paris = nuru::clinic_file::DEMO_CLINIC.replace("Africa/Kinshasa", "Europe/Paris");
    let app = spawn_app_for(&paris, |_| {}).await;
    let clinic = app.clinic.clinic.id;
    let settings = nuru::storage::ReminderSettings { offsets: vec![48 * 60], ..Default::default() };
    app.store.set_reminder_settings(clinic, &settings, app.clock.now()).await.unwrap();
    let patient = app.add_patient("Awa", "Mendy", Some((1990, 5, 15)), &[PATIENT]).await;
    let kabeya = app.clinic.practitioners.iter().find(|p| p.last_name == "Kabeya").unwrap().id;
    for (now, start, due) in [
        // Monday 29 March 2027 09:00 CEST: Saturday 09:00 CET.
        ("2027-03-22T08:00:00Z", "2027-03-29T07:00:00Z", "2027-03-27T08:00:00Z"),
        // Monday 1 November 2027 09:00 CET: Saturday 09:00 CEST.
        ("2027-10-25T08:00:00Z", "2027-11-01T08:00:00Z", "2027-10-30T07:00:00Z"),
    ] {
        set_clock(&app, at(now));
        let mut tx = app.store.begin().await.unwrap();
        let request = nuru::scheduling::BookRequest {
            practitioner: kabeya,
            service: app.clinic.services[0].id,
            mode: nuru::domain::ConsultationMode::InPerson,
            patient,
            start: at(start),
            source: "staff",
            conversation: None,
        };
        nuru::scheduling::book(&mut tx, &app.clinic, &request, app.clock.now()).await.unwrap();
        tx.commit().await.unwrap();
        // A patient booked by staff who never wrote: reminded on WhatsApp,
        // outside any window, so with the clinic's template.
        let template = nuru::storage::StoredTemplate {
            kind: "reminder".into(),
            language: nuru::domain::Lang::Fr,
            content_sid: TEMPLATE.into(),
            variables: vec!["time".into()],
            updated_at: app.clock.now(),
        };
        app.store.set_template(clinic, &template).await.unwrap();
        set_clock(&app, at(due) - Duration::minutes(1));
        let before = sent_count(&app);
        app.workers.run_until_idle().await.unwrap();
        assert_eq!(sent_count(&app), before, "not an hour early");
        set_clock(&app, at(due));
        app.workers.run_until_idle().await.unwrap();
        let sent = sent_since(&app, before);
        assert_eq!(sent.len(), 1, "{due}");
        assert_eq!(sent[0].field("ContentVariables"), r#"{"1":"09:00"}"#);
    }
}

#[tokio::test]
async fn sms_reminders_are_plain_gsm_text() {
    let app = spawn_app_with(|c| c.send_per_second_sms = 10_000).await;
    say_on(&app, Channel::Sms, "Bonjour, je voudrais un rdv demain matin pour une consultation").await;
    say_on(&app, Channel::Sms, "1").await;
    say_on(&app, Channel::Sms, "Awa Mendy").await;
    say_on(&app, Channel::Sms, "15/05/1990").await;
    say_on(&app, Channel::Sms, "oui").await;
    // The patient wrote on Monday; SMS has no window. 07:00 local, an hour before.
    set_clock(&app, at("2026-11-24T06:00:00Z"));
    let before = sent_count(&app);
    app.workers.run_until_idle().await.unwrap();
    let sent = sent_since(&app, before);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].field("To"), PATIENT);
    let reminder = sent[0].field("Body");
    assert!(reminder.starts_with("Rappel"), "{reminder}");
    let (encoding, segments) = nuru::channels::twilio::segments::segments(reminder);
    assert_eq!(encoding, nuru::channels::twilio::segments::Encoding::Gsm7, "{reminder}");
    assert!(segments <= 2, "{segments} segments: {reminder}");
}
