use crate::helpers::*;

const PATIENT: &str = "+243990000001";

#[tokio::test]
async fn rate_limited_replies_are_retried_with_backoff_and_sent_once() {
    let app = spawn_app().await;
    app.twilio.answer_next(429, r#"{"code": 20429, "message": "Too Many Requests", "status": 429}"#);
    let r = app.say(PATIENT, "bonjour").await;
    assert_eq!(r.len(), 1, "one attempt so far");
    // Not due yet: nothing more is sent.
    app.workers.run_until_idle().await.unwrap();
    assert_eq!(app.twilio.bodies().len(), 1);
    // After the backoff the reply goes out, once.
    app.clock.advance(chrono::Duration::minutes(5));
    app.workers.run_until_idle().await.unwrap();
    let bodies = app.twilio.bodies();
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[0], bodies[1], "the same reply, retried");
    app.clock.advance(chrono::Duration::minutes(30));
    app.workers.run_until_idle().await.unwrap();
    assert_eq!(app.twilio.bodies().len(), 2, "never sent again");
}

#[tokio::test]
async fn an_opted_out_number_is_never_retried() {
    let app = spawn_app().await;
    app.twilio.answer_next(400, r#"{"code": 21610, "message": "Attempt to send to unsubscribed recipient", "status": 400}"#);
    app.say(PATIENT, "bonjour").await;
    app.clock.advance(chrono::Duration::hours(1));
    app.workers.run_until_idle().await.unwrap();
    assert_eq!(app.twilio.bodies().len(), 1);
}

#[tokio::test]
async fn twilio_unreachable_keeps_the_reply_queued() {
    // Port 9 (discard) refuses connections on these machines: nothing reached Twilio.
    let app = spawn_app_with(|c| c.twilio_api_base = "http://127.0.0.1:9".into()).await;
    let response = app.post_signed(&app.whatsapp_fields("SMx", PATIENT, "bonjour")).await;
    assert_eq!(response.status(), 200);
    app.workers.run_until_idle().await.unwrap();
    let conversation = app
        .store
        .conversation_for(
            app.clinic.clinic.id,
            nuru::domain::Channel::WhatsApp,
            &nuru::domain::PhoneNumber::parse(PATIENT).unwrap(),
            nuru::domain::Lang::Fr,
            "{}",
            app.clock.now(),
        )
        .await
        .unwrap();
    let replies = app.store.outbound_for_conversation(conversation.id, 0).await.unwrap();
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].status, "queued", "kept for a later attempt");
}
