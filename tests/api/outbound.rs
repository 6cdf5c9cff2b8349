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
    let replies = app.whatsapp_replies(PATIENT).await;
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].status, "queued", "kept for a later attempt");
}

/// Replies leave side by side across conversations, each once, and in order
/// within a conversation.
#[tokio::test]
async fn several_senders_send_each_reply_once_and_in_order_within_a_conversation() {
    let app = spawn_app_with(|c| c.send_per_second_whatsapp = 100_000).await;
    let phones: Vec<String> = (0..20).map(|i| format!("+2439900001{i:02}")).collect();
    for (i, phone) in phones.iter().enumerate() {
        for (j, text) in ["bonjour", "je voudrais un rendez-vous", "quels sont vos horaires ?"].iter().enumerate() {
            let r = app.post_signed(&app.whatsapp_fields(&format!("SMc{i}x{j}"), phone, text)).await;
            assert_eq!(r.status(), 200);
        }
    }
    while app.workers.process_next_inbound().await.unwrap().is_some() {}
    let mut expected = Vec::new();
    for phone in &phones {
        let replies = app.whatsapp_replies(phone).await;
        assert!(replies.len() >= 3, "{phone}: {}", replies.len());
        expected.push((format!("whatsapp:{phone}"), replies.into_iter().map(|r| r.body).collect::<Vec<_>>()));
    }
    let total: usize = expected.iter().map(|(_, b)| b.len()).sum();

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let handles = app.workers.clone().spawn(1, 8, stopped);
    for _ in 0..600 {
        if app.twilio.received.lock().unwrap().len() >= total {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    stop.send(true).unwrap();
    for h in handles {
        h.await.unwrap();
    }
    let received = app.twilio.received.lock().unwrap().clone();
    assert_eq!(received.len(), total, "every reply sent, none twice");
    for (to, bodies) in expected {
        let sent: Vec<String> = received.iter().filter(|r| r.field("To") == to).map(|r| r.field("Body").to_string()).collect();
        assert_eq!(sent, bodies, "{to}: in the order they were written");
    }
}

/// A sending number over its rate: the replies beyond it go back to the
/// queue unsent (no attempt counted, nothing left "sending" that a stop could
/// strand) and leave when the number may send again.
#[tokio::test]
async fn replies_beyond_a_numbers_rate_wait_queued_and_leave_later() {
    let app = spawn_app_with(|c| c.send_per_second_whatsapp = 1).await;
    let phones = greetings(&app, "+24399000020", 3).await;
    app.workers.run_until_idle().await.unwrap();
    assert_eq!(app.twilio.bodies().len(), 1, "one message a second from this sender");
    let mut waiting = 0;
    for phone in &phones {
        for reply in app.whatsapp_replies(phone).await {
            assert!(reply.status == "sent" || reply.status == "queued", "{}", reply.status);
            waiting += usize::from(reply.status == "queued");
        }
    }
    assert_eq!(waiting, 2);
    // The limiter runs on real time, the queue on the test clock: move both.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    app.clock.advance(chrono::Duration::seconds(2));
    app.workers.run_until_idle().await.unwrap();
    assert_eq!(app.twilio.bodies().len(), 2, "the next one a second later");
}

/// A wait for the number's rate shorter than a tenth of a second is waited
/// with the reply claimed, not by sending it back to the queue: at 20 a
/// second (bursts of 2), six replies all leave in one pass of the workers.
#[tokio::test]
async fn short_waits_for_a_numbers_rate_are_waited_with_the_reply_in_hand() {
    let app = spawn_app_with(|c| c.send_per_second_whatsapp = 20).await;
    let phones = greetings(&app, "+24399000030", 6).await;
    app.workers.run_until_idle().await.unwrap();
    assert_eq!(app.twilio.bodies().len(), 6, "every reply sent in the pass");
    for phone in &phones {
        for reply in app.whatsapp_replies(phone).await {
            assert_eq!(reply.status, "sent", "{phone}");
        }
    }
}

/// `n` phones (`prefix` and a digit) each write "bonjour" to the clinic's
/// WhatsApp number, each message acknowledged; their greeting replies wait
/// in the outbox.
async fn greetings(app: &TestApp, prefix: &str, n: usize) -> Vec<String> {
    let phones: Vec<String> = (0..n).map(|i| format!("{prefix}{i}")).collect();
    for phone in &phones {
        assert_eq!(app.post_signed(&app.whatsapp_fields(&app.next_sid(), phone, "bonjour")).await.status(), 200);
    }
    phones
}
