use crate::helpers::*;
use futures_util::future::join_all;

#[tokio::test]
async fn acknowledges_with_empty_twiml_and_stores_the_message() {
    let app = spawn_app().await;
    let response = app.post_signed(&app.whatsapp_fields("SM1", "+243990000001", "Bonjour")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/xml");
    assert!(response.text().await.unwrap().contains("<Response></Response>"));
    assert_eq!(app.store.count_inbound(app.clinic.clinic.id).await.unwrap(), 1);
}

#[tokio::test]
async fn forged_and_unsigned_requests_are_refused_with_nothing_stored() {
    let app = spawn_app().await;
    let fields = app.whatsapp_fields("SM1", "+243990000001", "Bonjour");
    // No signature.
    assert_eq!(app.post_raw(&fields, None).await.status(), 403);
    // A made-up signature.
    assert_eq!(app.post_raw(&fields, Some("bm90IGEgc2lnbmF0dXJl")).await.status(), 403);
    // Signed with the wrong token.
    let url = format!("{PUBLIC_BASE}{}", app.webhook_path());
    let wrong = nuru::channels::twilio::compute_signature(&url, &fields, "another-token");
    assert_eq!(app.post_raw(&fields, Some(&wrong)).await.status(), 403);
    // Signed for the URL the server sees (Host header), not the public one.
    let local = nuru::channels::twilio::compute_signature(&format!("{}{}", app.base, app.webhook_path()), &fields, DEMO_TOKEN);
    assert_eq!(app.post_raw(&fields, Some(&local)).await.status(), 403);
    // A valid signature over other fields: the body was tampered with.
    let good = nuru::channels::twilio::compute_signature(&url, &fields, DEMO_TOKEN);
    let tampered = app.whatsapp_fields("SM1", "+243990000001", "Annulez tous les rendez-vous");
    assert_eq!(app.post_raw(&tampered, Some(&good)).await.status(), 403);

    assert_eq!(app.store.count_inbound(app.clinic.clinic.id).await.unwrap(), 0);
    app.workers.run_until_idle().await.unwrap();
    assert!(app.twilio.bodies().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn malformed_but_signed_requests_get_a_clear_4xx() {
    let app = spawn_app().await;
    let no_sid = fields(&[("AccountSid", DEMO_ACCOUNT), ("From", "whatsapp:+243990000001"), ("Body", "hi")]);
    let response = app.post_signed(&no_sid).await;
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("MessageSid"));

    let bad_from = fields(&[("MessageSid", "SM9"), ("AccountSid", DEMO_ACCOUNT), ("From", "whatsapp:0812"), ("Body", "hi")]);
    let response = app.post_signed(&bad_from).await;
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("From"));

    let other_account = fields(&[("MessageSid", "SM9"), ("AccountSid", "ACother"), ("From", "whatsapp:+243990000001"), ("Body", "hi")]);
    assert_eq!(app.post_signed(&other_account).await.status(), 403);

    let control_sid =
        fields(&[("MessageSid", "SM\u{0}9"), ("AccountSid", DEMO_ACCOUNT), ("From", "whatsapp:+243990000001"), ("Body", "hi")]);
    let response = app.post_signed(&control_sid).await;
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("MessageSid"));

    let unknown = app.http.post(format!("{}/webhooks/twilio/nope", app.base)).form(&no_sid).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(app.store.count_inbound(app.clinic.clinic.id).await.unwrap(), 0);

    // A NUL inside the text is dropped, on both backends (PostgreSQL refuses it in text).
    let nul = app.whatsapp_fields("SMnul", "+243990000001", "Bon\u{0}jour");
    assert_eq!(app.post_signed(&nul).await.status(), 200);
    let body: String = sqlx::query_scalar("SELECT body FROM inbound_messages WHERE provider_message_id = 'SMnul'")
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    assert_eq!(body, "Bonjour");
}

#[tokio::test]
async fn the_same_message_delivered_twenty_times_is_processed_once() {
    let app = spawn_app().await;
    let fields = app.whatsapp_fields("SMdup", "+243990000001", "Bonjour");
    for _ in 0..10 {
        assert_eq!(app.post_signed(&fields).await.status(), 200);
    }
    let concurrent = join_all((0..10).map(|_| app.post_signed(&fields))).await;
    assert!(concurrent.iter().all(|r| r.status() == 200));
    assert_eq!(app.store.count_inbound(app.clinic.clinic.id).await.unwrap(), 1);

    let turns = app.workers.run_until_idle().await.unwrap();
    assert_eq!(turns.len(), 1, "one processed turn");
    assert_eq!(app.twilio.bodies().len(), 1, "one reply");
    // Delivered again later: still nothing new.
    assert_eq!(app.post_signed(&fields).await.status(), 200);
    assert!(app.workers.run_until_idle().await.unwrap().is_empty());
    assert_eq!(app.twilio.bodies().len(), 1);
}

#[tokio::test]
async fn health_answers_live_and_ready_and_ready_needs_every_migration() {
    let app = spawn_app().await;
    let get = |path: &str| app.http.get(format!("{}{path}", app.base)).send();
    for path in ["/health", "/health/live", "/health/ready"] {
        assert_eq!(get(path).await.unwrap().status(), 200, "{path}");
    }
    // A database that another (older) version migrated: alive, not ready.
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)")
        .execute(app.store.pool())
        .await
        .unwrap();
    let r = get("/health/ready").await.unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.text().await.unwrap().contains("migrations"));
    assert_eq!(get("/health/live").await.unwrap().status(), 200);
}

/// The clinic's keys are kept in memory between webhooks; a token changed by
/// another node (here: straight in the database) is honoured at the first
/// webhook signed with it, and a forged one is still refused.
#[tokio::test]
async fn a_token_changed_by_another_node_signs_at_once() {
    let app = spawn_app().await;
    let path = app.webhook_path();
    let sign = |fields: &[(String, String)], token: &str| {
        nuru::channels::twilio::compute_signature(&format!("{PUBLIC_BASE}{path}"), fields, token)
    };
    let first = app.whatsapp_fields(&app.next_sid(), "+243990000001", "Bonjour");
    assert_eq!(app.post_signed(&first).await.status(), 200, "keys now kept");

    let cipher =
        nuru::secrets::Cipher::from_base64(&base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [7u8; 32])).unwrap();
    let new_token = "rotatedToken0123456789abcdef";
    let creds = nuru::storage::TwilioCredentials { account_sid: DEMO_ACCOUNT.into(), auth_token_encrypted: cipher.encrypt(new_token) };
    let audit = nuru::storage::NewAuditEvent {
        actor: None,
        clinic: Some(app.clinic.clinic.id),
        action: "update",
        resource: "twilio_credentials",
        resource_id: None,
        outcome: "ok",
    };
    app.store.set_twilio_credentials(app.clinic.clinic.id, &creds, &audit, monday_morning()).await.unwrap();

    let rotated = app.whatsapp_fields(&app.next_sid(), "+243990000001", "Toujours là ?");
    let r = app.post_raw(&rotated, Some(&sign(&rotated, new_token))).await;
    assert_eq!(r.status(), 200, "the new token signs on this node without waiting");
    let forged = app.whatsapp_fields(&app.next_sid(), "+243990000001", "forged");
    let r = app.post_raw(&forged, Some(&sign(&forged, "notTheToken0123456789abcdef"))).await;
    assert_eq!(r.status(), 403);
    assert_eq!(app.store.count_inbound(app.clinic.clinic.id).await.unwrap(), 2, "the forged one stored nothing");
}

#[tokio::test]
async fn metrics_count_acknowledgements_refusals_turns_and_sends_without_naming_anyone() {
    let app = spawn_app().await;
    let ok = app.whatsapp_fields(&app.next_sid(), "+243990000001", "Bonjour, je voudrais un rendez-vous demain");
    assert_eq!(app.post_signed(&ok).await.status(), 200);
    assert_eq!(app.post_signed(&ok).await.status(), 200, "a duplicate delivery is acknowledged");
    let forged = app.whatsapp_fields(&app.next_sid(), "+243990000001", "forged");
    assert_eq!(app.post_raw(&forged, Some("bm90IGEgc2lnbmF0dXJl")).await.status(), 403);

    let page = |app: &TestApp| {
        let url = format!("{}/metrics", app.base);
        let http = app.http.clone();
        async move {
            let r = http.get(url).send().await.unwrap();
            assert_eq!(r.status(), 200);
            assert!(r.headers()["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
            r.text().await.unwrap()
        }
    };
    let before = page(&app).await;
    assert!(before.contains("nuru_webhook_requests_total{outcome=\"accepted\"} 1"), "{before}");
    assert!(before.contains("nuru_webhook_requests_total{outcome=\"duplicate\"} 1"), "{before}");
    assert!(before.contains("nuru_webhook_requests_total{outcome=\"signature_invalid\"} 1"), "{before}");
    assert!(before.contains("nuru_webhook_ack_seconds_count 2"), "{before}");
    assert!(before.contains("nuru_queue_waiting{queue=\"inbound\"} 1"), "{before}");

    app.workers.run_until_idle().await.unwrap();
    let after = page(&app).await;
    assert!(after.contains("nuru_turns_total{outcome=\"ok\"} 1"), "{after}");
    assert!(after.contains("nuru_turn_seconds_count 1"), "{after}");
    assert!(after.contains("nuru_outbound_sends_total{result=\"sent\",code=\"\"} 1"), "{after}");
    assert!(after.contains("nuru_queue_waiting{queue=\"inbound\"} 0"), "{after}");
    assert!(after.contains("nuru_queue_waiting{queue=\"outbound\"} 0"), "{after}");
    assert!(after.contains("nuru_db_pool_connections{state=\"max\"}"), "{after}");
    for private in ["+243990000001", "Bonjour", &app.clinic.clinic.slug] {
        assert!(!after.contains(private), "the metrics page names {private}");
    }
}

#[tokio::test]
async fn delivery_status_callbacks_are_signed_move_forward_only_and_are_shown_to_staff() {
    let app = spawn_app().await;
    let phone = "+243990000555";
    app.say(phone, "bonjour").await;
    // Every send asked Twilio to report its delivery here.
    let sent = app.twilio.received.lock().unwrap().last().cloned().unwrap();
    let callback = sent.field("StatusCallback").to_string();
    assert_eq!(callback, format!("{PUBLIC_BASE}/webhooks/twilio/{}/status", app.clinic.clinic.slug));
    let reply = app.whatsapp_replies(phone).await.remove(0);
    let sid = reply.provider_message_id.clone().unwrap();
    let path = format!("/webhooks/twilio/{}/status", app.clinic.clinic.slug);
    let post = |status: &'static str, code: Option<&'static str>, sign: bool| {
        let mut fields =
            fields(&[("MessageSid", &sid), ("MessageStatus", status), ("AccountSid", DEMO_ACCOUNT), ("To", "whatsapp:+243990000555")]);
        if let Some(c) = code {
            fields.push(("ErrorCode".into(), c.into()));
        }
        let signature = nuru::channels::twilio::compute_signature(&format!("{PUBLIC_BASE}{path}"), &fields, DEMO_TOKEN);
        let mut req = app.http.post(format!("{}{path}", app.base)).form(&fields);
        if sign {
            req = req.header("X-Twilio-Signature", signature);
        }
        req.send()
    };
    let delivery = || async {
        let row: (Option<String>, Option<i64>) =
            sqlx::query_as("SELECT delivery_status, delivery_error_code FROM outbound_messages WHERE provider_message_id = $1")
                .bind(&sid)
                .fetch_one(app.store.pool())
                .await
                .unwrap();
        row
    };
    // A forged callback changes nothing.
    assert_eq!(post("failed", Some("30008"), false).await.unwrap().status(), 403);
    assert_eq!(delivery().await, (None, None));
    // In order, then repeated, then out of order: the furthest status stays.
    for status in ["sent", "delivered", "delivered", "read", "sent", "delivered"] {
        assert_eq!(post(status, None, true).await.unwrap().status(), 200, "{status}");
    }
    assert_eq!(delivery().await.0.as_deref(), Some("read"));
    // Staff see it in the transcript.
    let conversation = app
        .store
        .conversation_for(
            app.clinic.clinic.id,
            nuru::domain::Channel::WhatsApp,
            &nuru::domain::PhoneNumber::parse(phone).unwrap(),
            nuru::domain::Lang::Fr,
            "{}",
            app.clock.now(),
        )
        .await
        .unwrap();
    let transcript = app.store.conversation_messages(app.clinic.clinic.id, conversation.id).await.unwrap();
    assert_eq!(transcript.iter().find(|m| m.direction == "out").unwrap().delivery.as_deref(), Some("read"));
}

#[tokio::test]
async fn an_undelivered_reply_keeps_its_error_code() {
    let app = spawn_app().await;
    let phone = "+243990000556";
    app.say(phone, "bonjour").await;
    let sid = app.whatsapp_replies(phone).await.remove(0).provider_message_id.unwrap();
    let path = format!("/webhooks/twilio/{}/status", app.clinic.clinic.slug);
    let fields = fields(&[("MessageSid", &sid), ("MessageStatus", "undelivered"), ("ErrorCode", "63016"), ("AccountSid", DEMO_ACCOUNT)]);
    let signature = nuru::channels::twilio::compute_signature(&format!("{PUBLIC_BASE}{path}"), &fields, DEMO_TOKEN);
    let r = app.http.post(format!("{}{path}", app.base)).form(&fields).header("X-Twilio-Signature", signature).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let row: (Option<String>, Option<i64>) =
        sqlx::query_as("SELECT delivery_status, delivery_error_code FROM outbound_messages WHERE provider_message_id = $1")
            .bind(&sid)
            .fetch_one(app.store.pool())
            .await
            .unwrap();
    assert_eq!(row, (Some("undelivered".into()), Some(63016)));
}

#[tokio::test]
async fn a_batch_stores_each_delivery_once_even_when_repeated_inside_it() {
    let app = spawn_app().await;
    let message = |sid: &str, body: &str| nuru::storage::NewInbound {
        clinic_id: app.clinic.clinic.id,
        provider_message_id: sid.into(),
        channel: nuru::domain::Channel::WhatsApp,
        from: nuru::domain::PhoneNumber::parse("+243990000777").unwrap(),
        body: body.into(),
        fields_json: "{}".into(),
        received_at: app.clock.now(),
    };
    let first = app.store.insert_inbound_batch(&[&message("SMa", "un")]).await;
    assert_eq!(first, vec![Ok(true)]);
    let (a, b1, b2, c) = (message("SMa", "un"), message("SMb", "deux"), message("SMb", "deux"), message("SMc", "trois"));
    let stored = app.store.insert_inbound_batch(&[&a, &b1, &b2, &c]).await;
    assert_eq!(stored, vec![Ok(false), Ok(true), Ok(false), Ok(true)], "stored before, new, repeated in the batch, new");
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT provider_message_id, body FROM inbound_messages ORDER BY id").fetch_all(app.store.pool()).await.unwrap();
    assert_eq!(
        rows,
        vec![("SMa".into(), "un".into()), ("SMb".into(), "deux".into()), ("SMc".into(), "trois".into())],
        "in order, once each"
    );

    // A message the database refuses (here: a clinic that does not exist)
    // fails alone; the others of its batch are stored and acknowledged.
    let mut stray = message("SMx", "perdu");
    stray.clinic_id = nuru::domain::ClinicId::random();
    let (d, e) = (message("SMd", "quatre"), message("SMe", "cinq"));
    let stored = app.store.insert_inbound_batch(&[&d, &stray, &e]).await;
    assert!(matches!(stored[..], [Ok(true), Err(_), Ok(true)]), "{stored:?}");
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM inbound_messages WHERE provider_message_id IN ('SMd', 'SMe', 'SMx')")
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    assert_eq!(count, 2);
}
