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
async fn run_for(app: &TestApp, span: chrono::Duration, step: chrono::Duration) {
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
