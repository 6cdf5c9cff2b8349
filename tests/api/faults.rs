//! Faults a clinic's server meets in production, reproduced for real: a
//! database that runs out of room, a database that goes away, and what each
//! does to what a patient sent. What a user relies on: a 200 means the
//! message is stored (committed, visible to every other connection, there
//! after a restart); readiness says the truth within a second.

use crate::helpers::*;
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// The ids of `acknowledged` that another connection to the same SQLite file
/// sees: what a restart would find.
async fn committed_on_sqlite(url: &str, acknowledged: &[String]) -> HashSet<String> {
    use sqlx::{Connection, Row};
    let mut conn = sqlx::SqliteConnection::connect(url).await.expect("a second connection opens");
    let rows = sqlx::query("SELECT provider_message_id FROM inbound_messages").fetch_all(&mut conn).await.unwrap();
    let stored: HashSet<String> = rows.iter().map(|r| r.get::<String, _>(0)).collect();
    acknowledged.iter().filter(|id| stored.contains(*id)).cloned().collect()
}

async fn readiness(app: &TestApp) -> (u16, Duration) {
    let started = Instant::now();
    let status = app.http.get(format!("{}/health/ready", app.base)).timeout(Duration::from_secs(10)).send().await.unwrap().status();
    (status.as_u16(), started.elapsed())
}

/// A small filesystem of its own (tmpfs), unmounted when dropped. `None`
/// where this process may not mount (not root): the test says it is skipped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(bytes: u64) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().ok()?;
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(SmallDisk { dir })
    }

    fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Fills what is left with a ballast file.
    fn fill(&self) {
        use std::io::Write;
        let mut f = std::fs::File::create(self.path().join("ballast")).unwrap();
        let block = vec![0u8; 4096];
        while f.write_all(&block).is_ok() {}
        let _ = f.sync_all();
    }

    fn free_room(&self) {
        std::fs::remove_file(self.path().join("ballast")).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

/// The default database's disk fills up in the middle of a burst of
/// webhooks, then gets room again. Every message acknowledged with a 200,
/// before, during or after, is committed: another connection sees it.
/// While the database cannot write, readiness says so within a second.
#[tokio::test]
async fn sqlite_disk_full_then_room_again_loses_no_acknowledged_message() {
    if std::env::var("NURU_TEST_DATABASE_URL").is_ok_and(|u| u.starts_with("postgres")) {
        // The outage tests cover PostgreSQL; its disk is the server's.
        return;
    }
    let Some(disk) = SmallDisk::mount(8 * 1024 * 1024) else {
        println!("skipped: mounting a small filesystem needs root");
        return;
    };
    let url = format!("sqlite://{}", disk.path().join("nuru.db").display());
    let db_url = url.clone();
    let app = spawn_app_with(move |c| c.database_url = db_url).await;
    let padding = "Bonjour, je voudrais un rendez-vous pour ma fille. ".repeat(20);
    let app = &app;
    let post = |i: usize, series: u32, body: String| {
        let sid = app.next_sid();
        let fields = app.whatsapp_fields(&sid, &format!("+2438{series}{i:07}"), &body);
        async move { (sid, app.post_signed(&fields).await.status().as_u16()) }
    };
    let mut acknowledged = Vec::new();
    for i in 0..20 {
        let (sid, status) = post(i, 1, padding.clone()).await;
        assert_eq!(status, 200, "room on the disk: stored");
        acknowledged.push(sid);
    }
    disk.fill();
    let mut refused = 0;
    for i in 0..300 {
        let (sid, status) = post(i, 2, padding.clone()).await;
        match status {
            200 => acknowledged.push(sid),
            503 => refused += 1,
            other => panic!("a webhook while the disk is full is answered 200 or 503, not {other}"),
        }
    }
    assert!(refused > 0, "the full disk refused some writes ({} acknowledged)", acknowledged.len());
    let (status, took) = readiness(app).await;
    assert_eq!(status, 503, "readiness reports a database that cannot write");
    assert!(took < Duration::from_millis(1500), "readiness answers within a second, took {took:?}");

    disk.free_room();
    for i in 0..50 {
        let (sid, status) = post(i, 3, "bonjour".into()).await;
        assert_eq!(status, 200, "once there is room, webhooks are stored again");
        acknowledged.push(sid);
    }
    let (status, _) = readiness(app).await;
    assert_eq!(status, 200, "readiness recovers once the database writes again");
    let committed = committed_on_sqlite(&url, &acknowledged).await;
    let lost = acknowledged.iter().filter(|id| !committed.contains(*id)).count();
    assert_eq!(lost, 0, "{lost} of {} acknowledged messages are not committed ({refused} refused)", acknowledged.len());
}

async fn conversations(app: &TestApp) -> Vec<nuru::storage::ConversationSummary> {
    let filter = nuru::storage::ConversationFilter { limit: 100, ..Default::default() };
    app.store.conversations(app.clinic.clinic.id, &filter).await.unwrap()
}

/// Runs the workers every `step` of the app's clock for `span`.
pub(crate) async fn run_for(app: &TestApp, span: chrono::Duration, step: chrono::Duration) {
    let end = app.clock.now() + span;
    while app.clock.now() < end {
        app.clock.advance(step);
        app.workers.run_until_idle().await.expect("workers run");
    }
}

/// Twilio's API is down (`status`, with `retry_after`) for `outage`
/// while 100 patients write: every reply is delivered once it is back, each
/// exactly once, and none is given up.
async fn replies_outlast_an_outage(status: u16, retry_after: Option<u64>, outage: chrono::Duration) -> TestApp {
    let app = spawn_app().await;
    *app.twilio.outage.lock().unwrap() = Some((status, retry_after));
    let phones: Vec<String> = (0..100).map(|i| format!("+24381{i:07}")).collect();
    for phone in &phones {
        let response = app.post_signed(&app.whatsapp_fields(&app.next_sid(), phone, "bonjour")).await;
        assert_eq!(response.status(), 200);
    }
    app.workers.run_until_idle().await.expect("workers run");
    run_for(&app, outage, chrono::Duration::seconds(1)).await;
    assert!(app.twilio.accepted.lock().unwrap().is_empty(), "nothing was accepted during the outage");
    *app.twilio.outage.lock().unwrap() = None;
    run_for(&app, chrono::Duration::minutes(20), chrono::Duration::seconds(5)).await;
    let accepted = app.twilio.accepted.lock().unwrap().clone();
    for phone in &phones {
        let replies = app.whatsapp_replies(phone).await;
        assert!(!replies.is_empty(), "a reply was queued for {phone}");
        for reply in &replies {
            assert_eq!(reply.status, "sent", "every reply is sent after the outage ({phone}: {reply:?})");
            let times = accepted.iter().filter(|(to, body)| to == &format!("whatsapp:{phone}") && body == &reply.body).count();
            assert_eq!(times, 1, "each reply is accepted by Twilio exactly once ({phone})");
        }
    }
    app
}

#[tokio::test]
async fn every_reply_is_delivered_once_after_a_75_second_twilio_outage() {
    replies_outlast_an_outage(503, None, chrono::Duration::seconds(75)).await;
}

/// 429 with `Retry-After: 60` for 40 s: no reply is tried again before
/// Twilio said it may be, and every one is delivered once.
#[tokio::test]
async fn retry_after_is_honoured_and_every_reply_arrives() {
    let app = replies_outlast_an_outage(429, Some(60), chrono::Duration::seconds(40)).await;
    // Each phone was tried once at the start, then not before 60 s: within
    // the 40 s outage, exactly one try per reply.
    let received = app.twilio.received.lock().unwrap().len();
    let accepted = app.twilio.accepted.lock().unwrap().len();
    assert_eq!(received, 2 * accepted, "one refused try and one accepted try per reply ({received} tries, {accepted} accepted)");
}

/// An emergency reply that cannot be sent puts its conversation in front of
/// staff at its first failure, marked undelivered, and keeps being tried
/// every few seconds: it is delivered within seconds of Twilio's return.
#[tokio::test]
async fn a_failing_emergency_reply_alerts_staff_at_once_and_is_retried_within_seconds() {
    let app = spawn_app().await;
    *app.twilio.outage.lock().unwrap() = Some((503, None));
    let phone = "+243810000001";
    let response = app.post_signed(&app.whatsapp_fields(&app.next_sid(), phone, "mon fils a avalé de l'eau de javel")).await;
    assert_eq!(response.status(), 200);
    app.workers.run_until_idle().await.unwrap();
    let inbox = conversations(&app).await;
    let conversation = inbox.iter().find(|c| c.urgent).expect("the emergency is in the inbox");
    assert!(conversation.needs_human && conversation.undelivered, "staff see at once that the emergency reply did not leave");
    run_for(&app, chrono::Duration::minutes(5), chrono::Duration::seconds(1)).await;
    let tries_in_outage = app.twilio.received.lock().unwrap().len();
    assert!(tries_in_outage >= 25, "an urgent reply is tried every few seconds ({tries_in_outage} tries in 5 min)");
    *app.twilio.outage.lock().unwrap() = None;
    run_for(&app, chrono::Duration::seconds(12), chrono::Duration::seconds(1)).await;
    let replies = app.whatsapp_replies(phone).await;
    assert!(replies.iter().all(|r| r.status == "sent"), "delivered within seconds of Twilio's return: {replies:?}");
    assert!(replies.iter().any(|r| r.body.contains("112")), "the reply carries the emergency number");
}

/// A conversational reply that could not go out for an hour is stale: it is
/// given up (never sent late), and its conversation is in front of staff,
/// marked undelivered, until they release it.
#[tokio::test]
async fn a_reply_stale_after_an_hour_is_given_up_and_its_conversation_flagged() {
    let app = spawn_app().await;
    *app.twilio.outage.lock().unwrap() = Some((500, None));
    let phone = "+243810000002";
    assert_eq!(app.post_signed(&app.whatsapp_fields(&app.next_sid(), phone, "bonjour")).await.status(), 200);
    app.workers.run_until_idle().await.unwrap();
    let inbox = conversations(&app).await;
    assert!(!inbox[0].undelivered, "a failed try of a greeting is retried quietly");
    run_for(&app, chrono::Duration::minutes(70), chrono::Duration::seconds(30)).await;
    *app.twilio.outage.lock().unwrap() = None;
    run_for(&app, chrono::Duration::minutes(5), chrono::Duration::seconds(30)).await;
    assert!(app.twilio.accepted.lock().unwrap().is_empty(), "a stale greeting is never sent late");
    let replies = app.whatsapp_replies(phone).await;
    assert!(replies.iter().all(|r| r.status == "failed"), "{replies:?}");
    let inbox = conversations(&app).await;
    assert!(inbox[0].needs_human && inbox[0].undelivered, "staff see the conversation, marked undelivered");
    // Released by staff: the mark goes with the hand-over.
    let id = nuru::domain::ConversationId::parse(&inbox[0].id).unwrap();
    let fresh = nuru::conversation::fresh_state_json();
    assert!(app.store.set_conversation_owner(app.clinic.clinic.id, id, &fresh, false, None, app.clock.now()).await.unwrap());
    let inbox = conversations(&app).await;
    assert!(!inbox[0].undelivered && !inbox[0].needs_human);
}

/// A webhook for a slug no clinic can have (a NUL, a stray byte) is a 404
/// before anything reaches the database (it was a 503 with an ERROR line).
#[tokio::test]
async fn a_webhook_for_an_impossible_slug_is_unknown() {
    let app = spawn_app().await;
    // A slug that is not UTF-8 (%FF) is refused by the path itself: 400.
    assert_eq!(app.http.post(format!("{}/webhooks/twilio/demo%FF", app.base)).send().await.unwrap().status(), 400);
    for slug in ["demo%00", "DEMO", "demo%2F..%2Fx"] {
        let response = app.http.post(format!("{}/webhooks/twilio/{slug}", app.base)).form(&[("Body", "x")]).send().await.unwrap();
        assert_eq!(response.status(), 404, "{slug}");
    }
    let (status, _) = readiness(&app).await;
    assert_eq!(status, 200);
}

/// A TCP proxy in front of a server: `cut` breaks every open connection and
/// makes new ones hang (a network partition: nothing answers, nothing
/// refuses); `heal` lets them through again.
struct Proxy {
    addr: String,
    down: Arc<std::sync::atomic::AtomicBool>,
    generation: tokio::sync::watch::Sender<u64>,
}

use std::sync::Arc;

impl Proxy {
    async fn start(target: String) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let down = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (generation, _) = tokio::sync::watch::channel(0u64);
        let (flag, gen_tx) = (down.clone(), generation.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else { return };
                let mut changed = gen_tx.subscribe();
                let (flag, target) = (flag.clone(), target.clone());
                tokio::spawn(async move {
                    if flag.load(std::sync::atomic::Ordering::SeqCst) {
                        // Partitioned: hold the socket, answer nothing, until healed.
                        let _ = changed.changed().await;
                        return;
                    }
                    let Ok(mut server) = tokio::net::TcpStream::connect(&target).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = changed.changed() => {}
                    }
                });
            }
        });
        Proxy { addr, down, generation }
    }

    fn cut(&self) {
        self.down.store(true, std::sync::atomic::Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    fn heal(&self) {
        self.down.store(false, std::sync::atomic::Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }
}

/// PostgreSQL becomes unreachable for 20 s (a partition: connections broken,
/// new ones hang) while a webhook arrives every 100 ms: each is answered
/// 503 within the 2 s budget, never
/// held for the pool's 30 s; readiness says so within a second; once the
/// network heals, webhooks are stored again, and every message acknowledged
/// with a 200 is there.
#[tokio::test]
async fn a_postgres_outage_answers_fast_and_loses_no_acknowledged_message() {
    let Ok(base) = std::env::var("NURU_TEST_DATABASE_URL").map(|u| u.to_string()) else {
        println!("skipped: PostgreSQL only (NURU_TEST_DATABASE_URL)");
        return;
    };
    if !base.starts_with("postgres") {
        println!("skipped: PostgreSQL only");
        return;
    }
    let target = reqwest::Url::parse(&base).unwrap();
    let target = format!("{}:{}", target.host_str().unwrap(), target.port().unwrap_or(5432));
    let proxy = Proxy::start(target.clone()).await;
    let through = proxy.addr.clone();
    let app = spawn_app_with(move |c| c.database_url = c.database_url.replace(&target, &through)).await;
    let app = &app;
    let post = |series: u32, i: usize| {
        let sid = app.next_sid();
        let fields = app.whatsapp_fields(&sid, &format!("+2438{series}{i:07}"), "bonjour");
        async move {
            let started = Instant::now();
            let status = app.post_signed(&fields).await.status().as_u16();
            (sid, status, started.elapsed())
        }
    };
    let mut acknowledged = Vec::new();
    for i in 0..10 {
        let (sid, status, _) = post(1, i).await;
        assert_eq!(status, 200);
        acknowledged.push(sid);
    }
    proxy.cut();
    // For 20 s, a webhook every 100 ms, each answered on its own, and
    // readiness asked every 5 s.
    let post = &post;
    let senders = (0..200u64).map(|i| async move {
        tokio::time::sleep(Duration::from_millis(100 * i)).await;
        post(2, i as usize).await
    });
    let probes = (0..4u64).map(|k| async move {
        tokio::time::sleep(Duration::from_millis(2_500 + 5_000 * k)).await;
        readiness(app).await
    });
    let both = async { tokio::join!(futures_util::future::join_all(senders), futures_util::future::join_all(probes)) };
    let (during, ready) = tokio::time::timeout(Duration::from_secs(35), both).await.expect("no webhook waits for the pool's 30 s");
    let slowest = during.iter().map(|(_, _, took)| *took).max().unwrap();
    let refused = during.iter().filter(|(_, s, _)| *s == 503).count();
    println!("outage: {} webhooks, {refused} answered 503, slowest answer {slowest:?}, readiness {ready:?}", during.len());
    for (sid, status, took) in &during {
        assert!(matches!(status, 200 | 503), "{status}");
        assert!(*took < Duration::from_secs(10), "answered within the budget, took {took:?}");
        if *status == 200 {
            acknowledged.push(sid.clone());
        }
    }
    assert!(refused > 0, "an unreachable database is a 503, so Twilio retries");
    for (status, took) in ready {
        assert_eq!(status, 503, "readiness reports the outage");
        assert!(took < Duration::from_millis(1500), "readiness answers within a second, took {took:?}");
    }
    proxy.heal();
    // The pool reconnects; webhooks are stored again within a few tries.
    let mut healed = false;
    for round in 0..30 {
        let (sid, status, _) = post(3, round).await;
        if status == 200 {
            acknowledged.push(sid);
            healed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(healed, "webhooks are stored again once the database is back");
    for i in 100..110 {
        let (sid, status, _) = post(3, i).await;
        assert_eq!(status, 200);
        acknowledged.push(sid);
    }
    assert_eq!(readiness(app).await.0, 200);
    use sqlx::Row;
    let stored: HashSet<String> = sqlx::query("SELECT provider_message_id FROM inbound_messages")
        .fetch_all(app.store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String, _>(0))
        .collect();
    let lost = acknowledged.iter().filter(|id| !stored.contains(*id)).count();
    assert_eq!(lost, 0, "{lost} of {} acknowledged messages missing", acknowledged.len());
}

/// The default database's file can only be read (a file system remounted
/// read-only, a wrong owner): readiness says so instead of 200, and every
/// webhook is a 503 (nothing acknowledged unstored).
#[tokio::test]
async fn a_read_only_sqlite_database_is_not_ready() {
    if std::env::var("NURU_TEST_DATABASE_URL").is_ok_and(|u| u.starts_with("postgres")) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("nuru.db");
    let url = format!("sqlite://{}", file.display());
    // A first node creates the database and the demo clinic…
    let db_url = url.clone();
    let writer = spawn_app_with(move |c| c.database_url = db_url).await;
    assert_eq!(readiness(&writer).await.0, 200);
    // …a second opens it read-only.
    let config = nuru::config::Config {
        database_url: format!("{url}?mode=ro"),
        listen_addr: "127.0.0.1:0".into(),
        public_base_url: PUBLIC_BASE.into(),
        secret_key: Some(nuru::secrets::Secret::new(base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [7u8; 32]))),
        ..Default::default()
    };
    let options = nuru::startup::BuildOptions { outbox_only: false, clock: writer.clock.clone(), background_workers: false };
    let app = nuru::startup::Application::build(config, options).await.expect("a read-only database opens");
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let ready = writer.http.get(format!("{base}/health/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 503, "a database that cannot write is not ready");
    assert!(ready.text().await.unwrap().contains("cannot write"));
    let fields = writer.whatsapp_fields(&writer.next_sid(), "+243810000009", "bonjour");
    let signature = nuru::channels::twilio::compute_signature(&format!("{PUBLIC_BASE}{}", writer.webhook_path()), &fields, DEMO_TOKEN);
    let response = writer
        .http
        .post(format!("{base}{}", writer.webhook_path()))
        .header("X-Twilio-Signature", signature)
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503, "nothing is acknowledged unstored");
}

/// Twilio accepts a reply but its answer never comes in time (the client
/// gives up at 15 s): the reply is not marked failed nor sent again blindly;
/// it is looked up in Twilio's Messages API, found, and recorded as sent,
/// once. The conversation's next reply waits for that lookup (about 10 s),
/// so the patient gets the replies in order.
#[tokio::test]
async fn a_timed_out_send_twilio_accepted_is_found_and_never_sent_twice() {
    let app = spawn_app().await;
    let phone = "+243810000003";
    app.twilio.answer_late.store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(app.post_signed(&app.whatsapp_fields(&app.next_sid(), phone, "bonjour")).await.status(), 200);
    app.workers.run_until_idle().await.unwrap();
    app.twilio.answer_late.store(false, std::sync::atomic::Ordering::SeqCst);
    let first = app.whatsapp_replies(phone).await;
    assert!(first.iter().all(|r| r.status != "failed"), "an unanswered send is not a failure: {first:?}");
    // The patient writes again: that reply follows once the first is settled.
    assert_eq!(app.post_signed(&app.whatsapp_fields(&app.next_sid(), phone, "je voudrais un rendez-vous")).await.status(), 200);
    app.workers.run_until_idle().await.unwrap();
    run_for(&app, chrono::Duration::seconds(30), chrono::Duration::seconds(5)).await;
    let replies = app.whatsapp_replies(phone).await;
    assert!(replies.iter().all(|r| r.status == "sent"), "{replies:?}");
    let accepted = app.twilio.accepted.lock().unwrap().clone();
    for reply in &replies {
        let times = accepted.iter().filter(|(_, body)| body == &reply.body).count();
        assert_eq!(times, 1, "accepted by Twilio exactly once: {}", reply.body);
    }
    let order: Vec<&String> = accepted.iter().map(|(_, body)| body).collect();
    let stored: Vec<&String> = replies.iter().map(|r| &r.body).collect();
    assert_eq!(order, stored, "Twilio got the replies in the order they were written");
    assert!(app.twilio.lookups.load(std::sync::atomic::Ordering::SeqCst) >= 1, "Twilio was asked");
    let listed = app.twilio.listed.lock().unwrap().clone();
    assert_eq!(replies[0].provider_message_id.as_deref(), listed[0]["sid"].as_str(), "recorded with Twilio's own id");
}

/// A node dies between claiming a reply and hearing Twilio's answer: within
/// the send lease (20 s) the reply is looked up in Twilio; absent, it is
/// sent, once.
#[tokio::test]
async fn a_send_cut_by_a_crash_is_looked_up_and_sent_once() {
    let app = spawn_app().await;
    let phone = "+243810000004";
    assert_eq!(app.post_signed(&app.whatsapp_fields(&app.next_sid(), phone, "bonjour")).await.status(), 200);
    while app.workers.process_next_inbound().await.unwrap().is_some() {}
    // The dead node's claim: taken, never sent.
    let now = app.clock.now();
    let claimed = app.store.claim_outbound(now, now + chrono::Duration::seconds(20)).await.unwrap().expect("a reply to claim");
    app.workers.run_until_idle().await.unwrap();
    assert!(app.twilio.accepted.lock().unwrap().is_empty(), "nothing sent while the claim holds");
    run_for(&app, chrono::Duration::seconds(40), chrono::Duration::seconds(5)).await;
    let accepted = app.twilio.accepted.lock().unwrap().clone();
    assert_eq!(accepted.iter().filter(|(_, body)| *body == claimed.body).count(), 1, "sent once after the lookup");
    assert!(app.whatsapp_replies(phone).await.iter().all(|r| r.status == "sent"));
}
