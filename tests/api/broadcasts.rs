//! Broadcasts: a segment fixed at creation, sent at the clinic's rate per
//! number, opted-out phones skipped when their turn comes, templates outside
//! the WhatsApp window, pause / resume / cancel, per-recipient status from
//! Twilio's callbacks, quiet hours, two nodes and a crash. Real webhook,
//! worker and local Twilio server; the clock moved, never slept. Both backends.

use crate::admin::{Admin, setup};
use crate::helpers::*;
use crate::reminders::{at, sent_count, sent_since, set_clock};
use chrono::Duration;
use nuru::domain::AppointmentId;
use serde_json::{Value, json};

const TEMPLATE: &str = "HX0a1b2c3d4e5f60718293a4b5c6d7e8f9";

/// A patient with this phone, booked by staff with Dr Kabeya at `starts_at`.
async fn patient_booked(a: &Admin, phone: &str, first_name: &str, starts_at: &str) -> AppointmentId {
    let app = &a.app;
    let token = a.token("staff@demo.org").await;
    let clinic = app.clinic.clinic.id;
    let (code, body) = a
        .send(
            "post",
            &token,
            &format!("/api/clinics/{clinic}/patients"),
            Some(json!({"first_name": first_name, "last_name": "Test", "phones": [phone]})),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let patient = body["id"].as_str().unwrap().to_string();
    let kabeya = app.clinic.practitioners.iter().find(|p| p.last_name == "Kabeya").unwrap().id;
    let (code, body) = a
        .send(
            "post",
            &token,
            &format!("/api/clinics/{clinic}/appointments"),
            Some(
                json!({"practitioner_id": kabeya, "service_id": app.clinic.services[0].id, "patient_id": patient, "starts_at": starts_at}),
            ),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    AppointmentId::parse(body["id"].as_str().unwrap()).unwrap()
}

fn announcement(per_minute: u32, segment: Value) -> Value {
    json!({
        "name": "Vaccination",
        "segment": segment,
        "text_fr": "Campagne de vaccination samedi 28 novembre de 8h à 12h, sans rendez-vous.",
        "text_en": "Vaccination campaign on Saturday 28 November, 8:00 to 12:00, no appointment needed.",
        "content_sid_fr": TEMPLATE,
        "variables": [{"variable": "patient_first_name"}, {"text": "samedi 28 novembre"}],
        "per_minute": per_minute,
    })
}

fn this_week() -> Value {
    json!({"kind": "appointments", "from": "2026-11-24", "to": "2026-11-27"})
}

async fn create(a: &Admin, body: Value) -> (String, u64) {
    let admin = a.token("admin@demo.org").await;
    let (code, created) = a.send("post", &admin, &format!("/api/clinics/{}/broadcasts", a.app.clinic.clinic.id), Some(body)).await;
    assert_eq!(code, 201, "{created}");
    (created["id"].as_str().unwrap().to_string(), created["recipients"].as_u64().unwrap())
}

async fn get(a: &Admin, path: &str) -> Value {
    let token = a.token("staff@demo.org").await;
    let (code, body) = a.send("get", &token, &format!("/api/clinics/{}/broadcasts{path}", a.app.clinic.clinic.id), None).await;
    assert_eq!(code, 200, "{body}");
    body
}

async fn act(a: &Admin, id: &str, action: &str) -> (u16, Value) {
    let admin = a.token("admin@demo.org").await;
    let (code, body) = a.send("post", &admin, &format!("/api/clinics/{}/broadcasts/{id}/{action}", a.app.clinic.clinic.id), None).await;
    (code.as_u16(), body)
}

/// Broadcast messages Twilio received since `before`.
fn announced_since(app: &TestApp, before: usize) -> Vec<Recorded> {
    sent_since(app, before).into_iter().filter(|r| r.field("Body").contains("vaccination") || r.field("ContentSid") == TEMPLATE).collect()
}

/// Twilio reports a message's delivery (signed like Twilio signs).
async fn delivery_callback(app: &TestApp, sid: &str, to: &str, status: &str) {
    let path = format!("/webhooks/twilio/{}/status", app.clinic.clinic.slug);
    let fields = fields(&[("MessageSid", sid), ("MessageStatus", status), ("AccountSid", DEMO_ACCOUNT), ("To", to)]);
    let signature = nuru::channels::twilio::compute_signature(&format!("{PUBLIC_BASE}{path}"), &fields, DEMO_TOKEN);
    let r = app.http.post(format!("{}{path}", app.base)).form(&fields).header("X-Twilio-Signature", signature).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_broadcast_reaches_its_segment_at_its_rate_skips_opted_out_phones_and_shows_each_recipient() {
    let a = setup().await;
    let app = &a.app;
    patient_booked(&a, "+243990000101", "Awa", "2026-11-25T09:00:00Z").await;
    patient_booked(&a, "+243990000102", "Grace", "2026-11-26T09:00:00Z").await;
    patient_booked(&a, "+243990000103", "Jean", "2026-12-10T09:00:00Z").await;
    patient_booked(&a, "+243990000104", "Fatou", "2026-11-25T13:00:00Z").await;
    app.say("+243990000101", "bonjour").await;
    app.say("+243990000104", "STOP").await;

    // Refused: staff are not admins; bad template, rate, variable, period.
    let staff = a.token("staff@demo.org").await;
    let path = format!("/api/clinics/{}/broadcasts", app.clinic.clinic.id);
    let (code, _) = a.send("post", &staff, &path, Some(announcement(2, this_week()))).await;
    assert_eq!(code, 403);
    let admin = a.token("admin@demo.org").await;
    for (field, value) in [
        ("content_sid_fr", json!("HX12")),
        ("per_minute", json!(0)),
        ("variables", json!([{"variable": "date"}])),
        ("segment", json!({"kind": "appointments", "from": "2026-11-27", "to": "2026-11-24"})),
        ("segment", json!({"kind": "everyone"})),
        ("text_fr", json!("")),
    ] {
        let mut body = announcement(2, this_week());
        body[field] = value;
        let (code, refused) = a.send("post", &admin, &path, Some(body)).await;
        assert_eq!(code, 422, "{field}: {refused}");
    }
    assert_eq!(get(&a, "").await, json!([]), "nothing created by a refused request");

    // Two a minute: one every 30 seconds from the clinic's WhatsApp number.
    let before = sent_count(app);
    let (id, recipients) = create(&a, announcement(2, this_week())).await;
    assert_eq!(recipients, 3, "this week's patients, not December's");
    app.workers.run_until_idle().await.unwrap();
    let sent = announced_since(app, before);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].field("To"), "whatsapp:+243990000101");
    assert!(sent[0].field("Body").starts_with("Campagne de vaccination"), "inside the window: the text");
    app.clock.advance(Duration::seconds(29));
    app.workers.run_until_idle().await.unwrap();
    assert_eq!(announced_since(app, before).len(), 1, "not before its turn");
    app.clock.advance(Duration::seconds(1));
    app.workers.run_until_idle().await.unwrap();
    let sent = announced_since(app, before);
    assert_eq!(sent.len(), 2, "{sent:?}");
    // Grace never wrote: outside the window, the approved template.
    assert_eq!(sent[1].field("To"), "whatsapp:+243990000102");
    assert_eq!(sent[1].field("ContentSid"), TEMPLATE);
    let variables: Value = serde_json::from_str(sent[1].field("ContentVariables")).unwrap();
    assert_eq!(variables, json!({"1": "Grace", "2": "samedi 28 novembre"}));
    // Fatou opted out: skipped when her turn comes.
    app.clock.advance(Duration::seconds(30));
    app.workers.run_until_idle().await.unwrap();
    assert_eq!(announced_since(app, before).len(), 2);

    let b = get(&a, &format!("/{id}")).await;
    assert_eq!(b["status"], "finished", "{b}");
    assert_eq!(
        (b["progress"]["queued"].as_i64(), b["progress"]["skipped"].as_i64(), b["progress"]["sent"].as_i64()),
        (Some(2), Some(1), Some(2)),
        "{b}"
    );
    // Twilio reports Awa's message delivered.
    let awa_sid = app
        .whatsapp_replies("+243990000101")
        .await
        .into_iter()
        .rev()
        .find(|m| m.body.contains("vaccination"))
        .unwrap()
        .provider_message_id
        .unwrap();
    delivery_callback(app, &awa_sid, "whatsapp:+243990000101", "delivered").await;
    let recipients = get(&a, &format!("/{id}/recipients")).await;
    let row = |phone: &str| recipients.as_array().unwrap().iter().find(|r| r["phone"] == phone).unwrap().clone();
    assert_eq!(row("+243990000101")["delivery_status"], "delivered", "{recipients}");
    assert_eq!(row("+243990000102")["status"], "queued");
    assert_eq!(row("+243990000104")["status"], "skipped");
    assert_eq!(row("+243990000104")["reason"], "opted_out");
    assert_eq!(get(&a, &format!("/{id}")).await["progress"]["delivered"], 1);
}

#[tokio::test]
async fn a_paused_broadcast_waits_resumes_at_its_rate_and_a_cancelled_one_sends_no_more() {
    let a = setup().await;
    let app = &a.app;
    for (i, hour) in [8, 9, 13, 14].into_iter().enumerate() {
        let phone = format!("+24399000020{i}");
        patient_booked(&a, &phone, "Awa", &format!("2026-11-25T{hour:02}:00:00Z")).await;
        app.say(&phone, "bonjour").await;
    }
    let before = sent_count(app);
    let (id, recipients) = create(&a, announcement(1, this_week())).await;
    assert_eq!(recipients, 4);
    app.workers.run_until_idle().await.unwrap();
    assert_eq!(announced_since(app, before).len(), 1);

    let (code, b) = act(&a, &id, "pause").await;
    assert_eq!(code, 200, "{b}");
    assert_eq!(b["status"], "paused");
    assert_eq!(b["progress"]["paused"], 3);
    assert_eq!(act(&a, &id, "pause").await.0, 409, "already paused");
    app.clock.advance(Duration::minutes(10));
    app.workers.run_until_idle().await.unwrap();
    assert_eq!(announced_since(app, before).len(), 1, "nothing while paused");

    let (code, b) = act(&a, &id, "resume").await;
    assert_eq!((code, b["status"].as_str()), (200, Some("running")), "{b}");
    app.workers.run_until_idle().await.unwrap();
    assert_eq!(announced_since(app, before).len(), 2, "the next one at once");
    app.clock.advance(Duration::seconds(59));
    app.workers.run_until_idle().await.unwrap();
    assert_eq!(announced_since(app, before).len(), 2, "then one a minute");
    app.clock.advance(Duration::seconds(1));
    app.workers.run_until_idle().await.unwrap();
    assert_eq!(announced_since(app, before).len(), 3);

    let (code, b) = act(&a, &id, "cancel").await;
    assert_eq!(code, 200, "{b}");
    assert_eq!((b["status"].as_str(), b["progress"]["cancelled"].as_i64()), (Some("cancelled"), Some(1)), "{b}");
    app.clock.advance(Duration::minutes(10));
    app.workers.run_until_idle().await.unwrap();
    assert_eq!(announced_since(app, before).len(), 3, "nothing after the cancellation");
    assert_eq!(act(&a, &id, "resume").await.0, 409);
    assert_eq!(act(&a, &uuid::Uuid::new_v4().to_string(), "cancel").await.0, 404);
    let all = get(&a, "").await;
    assert_eq!(all.as_array().unwrap().len(), 1);
    assert_eq!(all[0]["status"], "cancelled");
}

#[tokio::test]
async fn patients_seen_since_a_date_are_those_marked_attended() {
    let a = setup().await;
    let app = &a.app;
    let seen = patient_booked(&a, "+243990000301", "Awa", "2026-11-24T09:00:00Z").await;
    let missed = patient_booked(&a, "+243990000302", "Grace", "2026-11-24T10:00:00Z").await;
    patient_booked(&a, "+243990000303", "Jean", "2026-11-30T09:00:00Z").await;
    set_clock(app, at("2026-11-24T14:00:00Z"));
    let staff = a.token("staff@demo.org").await;
    for (id, status) in [(seen, "attended"), (missed, "no_show")] {
        let path = format!("/api/clinics/{}/appointments/{id}/status", app.clinic.clinic.id);
        assert_eq!(a.send("post", &staff, &path, Some(json!({ "status": status }))).await.0, 204);
    }
    let (id, recipients) = create(&a, announcement(60, json!({"kind": "seen_since", "since": "2026-11-01"}))).await;
    assert_eq!(recipients, 1);
    let list = get(&a, &format!("/{id}/recipients")).await;
    assert_eq!(list[0]["phone"], "+243990000301", "{list}");
    let admin = a.token("admin@demo.org").await;
    let path = format!("/api/clinics/{}/broadcasts", app.clinic.clinic.id);
    let (code, body) = a.send("post", &admin, &path, Some(announcement(60, json!({"kind": "seen_since", "since": "2027-01-01"})))).await;
    assert_eq!(code, 422, "{body}");
}

#[tokio::test]
async fn the_quiet_hours_hold_a_broadcast_until_morning_at_its_rate() {
    let a = setup().await;
    let app = &a.app;
    for (i, hour) in [8, 9].into_iter().enumerate() {
        patient_booked(&a, &format!("+24399000040{i}"), "Awa", &format!("2026-11-25T{hour:02}:00:00Z")).await;
    }
    // Monday 21:30 in Kinshasa.
    set_clock(app, at("2026-11-23T20:30:00Z"));
    for i in 0..2 {
        app.say(&format!("+24399000040{i}"), "bonjour").await;
    }
    let before = sent_count(app);
    create(&a, announcement(1, this_week())).await;
    app.workers.run_until_idle().await.unwrap();
    assert!(announced_since(app, before).is_empty(), "not in the quiet hours");
    set_clock(app, at("2026-11-24T05:59:00Z"));
    app.workers.run_until_idle().await.unwrap();
    assert!(announced_since(app, before).is_empty());
    set_clock(app, at("2026-11-24T06:00:00Z"));
    app.workers.run_until_idle().await.unwrap();
    assert_eq!(announced_since(app, before).len(), 1, "07:00 local");
    app.clock.advance(Duration::seconds(59));
    app.workers.run_until_idle().await.unwrap();
    assert_eq!(announced_since(app, before).len(), 1, "the rate holds after the quiet hours");
    app.clock.advance(Duration::seconds(1));
    app.workers.run_until_idle().await.unwrap();
    assert_eq!(announced_since(app, before).len(), 2);
}

#[tokio::test]
async fn two_nodes_and_a_crash_between_claim_and_send_send_each_recipient_once() {
    let a = setup().await;
    let app = &a.app;
    for (i, hour) in [8, 9, 13].into_iter().enumerate() {
        let phone = format!("+24399000050{i}");
        patient_booked(&a, &phone, "Awa", &format!("2026-11-25T{hour:02}:00:00Z")).await;
        app.say(&phone, "bonjour").await;
    }
    create(&a, announcement(600, this_week())).await;
    let lease = Duration::seconds(60);
    let node_a = nuru::outreach::Outreach::new(app.store.clone(), app.clock.clone(), lease);
    let node_b = nuru::outreach::Outreach::new(app.store.clone(), app.clock.clone(), lease);
    app.clock.advance(Duration::seconds(1));
    let crashed = app.store.claim_broadcast_recipient(app.clock.now(), app.clock.now() + lease).await.unwrap();
    assert!(crashed.is_some());
    let mut queued = 0;
    loop {
        let (x, y) = tokio::join!(node_a.broadcast_due(), node_b.broadcast_due());
        let (x, y) = (x.unwrap(), y.unwrap());
        queued += [&x, &y].iter().filter(|o| ***o == Some(nuru::outreach::Broadcasted::Queued)).count();
        if x.is_none() && y.is_none() {
            break;
        }
    }
    assert_eq!(queued, 2, "the crashed claim waits for its lease");
    app.clock.advance(Duration::seconds(61));
    while let Some(o) = node_b.broadcast_due().await.unwrap() {
        queued += usize::from(o == nuru::outreach::Broadcasted::Queued);
    }
    assert_eq!(queued, 3);
    app.workers.run_until_idle().await.unwrap();
    let mut to: Vec<String> = announced_since(app, 0).iter().map(|r| r.field("To").to_string()).collect();
    to.sort();
    assert_eq!(to, ["whatsapp:+243990000500", "whatsapp:+243990000501", "whatsapp:+243990000502"], "one message per phone");
}
