//! Several `nuru serve` processes on one PostgreSQL database, two of them
//! killed with SIGKILL in the middle of the run and started again: every
//! message is processed exactly once and in order within its conversation,
//! each turn has its reply (but those after a hand-over to staff), no reply
//! reaches Twilio twice, and no slot is booked twice. PostgreSQL only
//! (SQLite is one process's file).

use crate::helpers::{DEMO_ACCOUNT, DEMO_TOKEN, MockTwilio, PUBLIC_BASE, monday_morning, test_database};
use base64::Engine;
use rand::Rng;
use sqlx::Row;
use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const NODES: usize = 4;
const PHONES: usize = 500;
const PER_PHONE: usize = 20;

/// What a patient writes, in order: a booking with its choice, the
/// patient's name and the confirmation, a list, a move, questions, a
/// cancellation, a second booking, small talk; in French and English.
fn script(p: usize) -> [String; PER_PHONE] {
    const FIRST: [&str; 10] = ["Awa", "Jean", "Marie", "Paul", "Fatou", "Yves", "Grace", "Moise", "Aline", "Serge"];
    const LAST: [&str; 10] = ["Mendy", "Kabeya", "Nkulu", "Diallo", "Mbala", "Tshibanda", "Ndiaye", "Kouassi", "Fotso", "Ilunga"];
    // Different days and options, so that patients compete for some slots
    // (and are offered others) without all wanting the same one.
    const DAYS: [&str; 6] = ["demain matin", "mercredi matin", "mercredi après-midi", "jeudi matin", "vendredi après-midi", "lundi matin"];
    let first = format!("Je voudrais un rendez-vous pour une consultation {}", DAYS[p % 6]);
    let choice = (1 + (p / 6) % 5).to_string();
    let name = format!("{} {}, {:02}/05/19{}", FIRST[p % 10], LAST[(p / 10) % 10], 1 + p % 28, 60 + p % 40);
    [
        "Bonjour",
        &first,
        &choice,
        &name,
        "oui",
        "merci",
        "quels sont mes rendez-vous ?",
        "je veux déplacer mon rendez-vous",
        "jeudi après-midi",
        "2",
        "oui",
        "c'est où la clinique ?",
        "what are your opening hours?",
        "I want to cancel my appointment",
        "yes",
        "je voudrais une consultation vendredi matin",
        "1",
        "oui",
        "do I still have something booked?",
        "merci beaucoup",
    ]
    .map(String::from)
}

struct Node {
    port: u16,
    child: Option<Child>,
}

impl Node {
    fn start(&mut self, env: &[(String, String)]) {
        let child = Command::new(env!("CARGO_BIN_EXE_nuru"))
            .arg("serve")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("NURU_LISTEN_ADDR", format!("127.0.0.1:{}", self.port))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nuru serve starts");
        self.child = Some(child);
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SIGKILL: no shutdown, claims and transactions left as they are.
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn nuru(env: &[(String, String)], args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_nuru")).args(args).envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str()))).output().unwrap();
    assert!(out.status.success(), "nuru {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Waits for a node's readiness. Generous: four debug binaries starting at
/// once while the rest of the suite runs on two cores can take a while the
/// first time (cold page cache), and this is a wait, not a measure.
async fn wait_ready(http: &reqwest::Client, port: u16) {
    for _ in 0..1200 {
        if let Ok(r) = http.get(format!("http://127.0.0.1:{port}/health/ready")).send().await
            && r.status() == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("node on port {port} never became ready");
}

fn phone(i: usize) -> String {
    format!("+2438{i:08}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_nodes_with_two_killed_process_every_message_once_and_in_order() {
    if !std::env::var("NURU_TEST_DATABASE_URL").is_ok_and(|u| u.starts_with("postgres")) {
        eprintln!("several nodes share a PostgreSQL database: set NURU_TEST_DATABASE_URL to run this test");
        return;
    }
    let db = test_database().await;
    let (twilio, twilio_url) = MockTwilio::start().await;
    let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    // The nodes' clocks run from the suite's Monday morning, all alike (the
    // leases between them need one time): "demain matin" and "mercredi
    // après-midi" mean the same slots whatever day the suite runs.
    let offset = (monday_morning() - chrono::Utc::now()).num_seconds().to_string();
    let env: Vec<(String, String)> = [
        ("NURU_DATABASE_URL", db.url.as_str()),
        ("NURU_DATABASE_MAX_CONNECTIONS", "6"),
        ("NURU_SECRET_KEY", key.as_str()),
        ("NURU_PUBLIC_BASE_URL", PUBLIC_BASE),
        ("NURU_TWILIO_API_BASE", twilio_url.as_str()),
        ("NURU_LOG_LEVEL", "error"),
        ("NURU_WORKER_POLL_MS", "200"),
        // A killed node's claims go back to the others after 5 s.
        ("NURU_WORKER_LEASE_SECONDS", "5"),
        ("NURU_SEND_PER_SECOND_WHATSAPP", "100000"),
        ("NURU_CLOCK_OFFSET_SECONDS", offset.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    nuru(&env, &["migrate"]);
    nuru(&env, &["clinic", "import", concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/demo-clinic.toml")]);

    nuru::install_crypto_provider();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
    let mut nodes: Vec<Node> = (0..NODES).map(|_| Node { port: free_port(), child: None }).collect();
    for n in &mut nodes {
        n.start(&env);
    }
    for n in &nodes {
        wait_ready(&http, n.port).await;
    }
    let ports: Arc<Vec<u16>> = Arc::new(nodes.iter().map(|n| n.port).collect());

    // Each phone writes its messages one after the other (the next once the
    // previous is acknowledged, as Twilio delivers a sender's messages), each
    // to a node picked at random; a node that does not answer is replaced by
    // another, with the same MessageSid, as Twilio's retry would.
    let sent = Arc::new(AtomicUsize::new(0));
    let permits = Arc::new(tokio::sync::Semaphore::new(64));
    let mut tasks = Vec::new();
    for p in 0..PHONES {
        let (http, ports, sent, permits) = (http.clone(), ports.clone(), sent.clone(), permits.clone());
        tasks.push(tokio::spawn(async move {
            for (k, text) in script(p).iter().enumerate() {
                let fields: Vec<(String, String)> = [
                    ("MessageSid", format!("SM{p:016}{k:016}")),
                    ("AccountSid", DEMO_ACCOUNT.to_string()),
                    ("From", format!("whatsapp:{}", phone(p))),
                    ("To", "whatsapp:+14155238886".to_string()),
                    ("Body", text.clone()),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
                let signature =
                    nuru::channels::twilio::compute_signature(&format!("{PUBLIC_BASE}/webhooks/twilio/demo"), &fields, DEMO_TOKEN);
                let _permit = permits.acquire().await.unwrap();
                let mut tries = 0;
                loop {
                    let port = ports[rand::rng().random_range(0..ports.len())];
                    let r = http
                        .post(format!("http://127.0.0.1:{port}/webhooks/twilio/demo"))
                        .header("x-twilio-signature", &signature)
                        .form(&fields)
                        .send()
                        .await;
                    match r {
                        Ok(r) if r.status() == 200 => break,
                        other => {
                            tries += 1;
                            assert!(tries < 200, "message {p}/{k} never acknowledged: {other:?}");
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                }
                sent.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }

    // Two nodes die without warning a quarter of the way, and come back at
    // the middle of the run.
    let total = PHONES * PER_PHONE;
    while sent.load(Ordering::Relaxed) < total / 4 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    nodes[1].kill();
    nodes[2].kill();
    while sent.load(Ordering::Relaxed) < total / 2 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    nodes[1].start(&env);
    nodes[2].start(&env);
    for t in tasks {
        t.await.unwrap();
    }

    // Everything drains: no message waiting, no reply queued or being sent.
    sqlx::any::install_default_drivers();
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(2).connect(&db.url).await.unwrap();
    let started = Instant::now();
    loop {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM inbound_messages WHERE processed_at IS NULL) AS waiting, \
                    (SELECT COUNT(*) FROM outbound_messages WHERE status IN ('queued', 'sending')) AS unsent",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        let (waiting, unsent): (i64, i64) = (row.get("waiting"), row.get("unsent"));
        if waiting == 0 && unsent == 0 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(300), "not drained after 300 s: {waiting} messages, {unsent} replies");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Every acknowledged message stored once and processed once.
    let inbound =
        sqlx::query("SELECT id, provider_message_id, from_phone, status FROM inbound_messages ORDER BY id").fetch_all(&pool).await.unwrap();
    assert_eq!(inbound.len(), total, "each message stored exactly once");
    let mut by_phone: HashMap<String, Vec<(i64, String)>> = HashMap::new();
    for r in &inbound {
        assert_eq!(r.get::<String, _>("status"), "processed", "message {} not processed", r.get::<i64, _>("id"));
        by_phone.entry(r.get("from_phone")).or_default().push((r.get("id"), r.get("provider_message_id")));
    }
    assert_eq!(by_phone.len(), PHONES);

    // Each turn's replies stored once (a turn answers, and may then repeat
    // the question still pending: two different replies), and a
    // conversation's turns in the order written: replies are stored by the
    // turn's transaction, so their order is the order the turns committed.
    let outbound =
        sqlx::query("SELECT id, inbound_id, to_phone, body, status FROM outbound_messages ORDER BY id").fetch_all(&pool).await.unwrap();
    let mut replies: HashMap<String, Vec<(i64, String, String)>> = HashMap::new();
    let mut per_turn: HashMap<i64, Vec<String>> = HashMap::new();
    for r in &outbound {
        let inbound_id: i64 = r.get("inbound_id");
        per_turn.entry(inbound_id).or_default().push(r.get("body"));
        replies.entry(r.get("to_phone")).or_default().push((inbound_id, r.get("body"), r.get("status")));
    }
    // Every turn has its reply, except those after a conversation was
    // handed over to staff (three misunderstandings: patients compete for
    // the same slots, so a script can go astray), where the bot is silent.
    let handed_over: Vec<String> = sqlx::query("SELECT phone FROM conversations WHERE flow = 'handed_off'")
        .fetch_all(&pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get("phone"))
        .collect();
    for (phone, messages) in &by_phone {
        let answered: Vec<bool> = messages.iter().map(|(id, _)| per_turn.contains_key(id)).collect();
        let quiet_from = answered.iter().rposition(|a| *a).map_or(0, |last| last + 1);
        if answered[..quiet_from].iter().all(|a| *a) && (quiet_from == answered.len() || handed_over.contains(phone)) {
            continue;
        }
        // Which turn went unanswered, and what was said before.
        let said = sqlx::query(
            "SELECT 'in' AS side, id, body FROM inbound_messages WHERE from_phone = $1 \
             UNION ALL SELECT 'out' AS side, inbound_id AS id, body FROM outbound_messages WHERE to_phone = $1 ORDER BY id, side",
        )
        .bind(phone)
        .fetch_all(&pool)
        .await
        .unwrap();
        for r in said {
            eprintln!("{:>3} {}: {}", r.get::<String, _>("side"), r.get::<i64, _>("id"), r.get::<String, _>("body"));
        }
        panic!("{phone}: a turn without reply ({answered:?}) in a conversation not handed over");
    }
    for (turn, bodies) in &per_turn {
        let mut distinct = bodies.clone();
        distinct.dedup();
        assert!(bodies.len() <= 2 && distinct.len() == bodies.len(), "turn {turn} replied twice: {bodies:?}");
    }
    for (phone, messages) in &by_phone {
        let written: Vec<&String> = messages.iter().map(|(_, sid)| sid).collect();
        let mut sorted = written.clone();
        sorted.sort();
        assert_eq!(written, sorted, "{phone}: messages stored in the order written");
        let mut turns: Vec<i64> = replies[phone].iter().map(|(inbound, _, _)| *inbound).collect();
        turns.dedup();
        let expected: Vec<i64> = messages.iter().map(|(id, _)| *id).filter(|id| per_turn.contains_key(id)).collect();
        assert_eq!(turns, expected, "{phone}: turns processed in the order written");
    }

    // Twilio received each reply exactly once, in order per phone. A reply
    // that a killed node had in flight was looked up in Twilio's Messages
    // API by another node: found, it is recorded as sent; absent, it was
    // sent then, in its place in the conversation.
    let received = twilio.received.lock().unwrap().clone();
    let mut at_twilio: HashMap<String, Vec<String>> = HashMap::new();
    for r in &received {
        at_twilio.entry(r.field("To").trim_start_matches("whatsapp:").to_string()).or_default().push(r.field("Body").to_string());
    }
    for (phone, rows) in &replies {
        assert!(rows.iter().all(|(_, _, s)| s == "sent"), "{phone}: a reply not sent: {rows:?}");
        let sent: Vec<&String> = rows.iter().map(|(_, b, _)| b).collect();
        let got: Vec<&String> = at_twilio.get(phone).map(|g| g.iter().collect()).unwrap_or_default();
        assert_eq!(got, sent, "{phone}: Twilio got each reply once, in order");
    }

    // No slot given twice.
    let clashes: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM appointments a JOIN appointments b \
           ON a.practitioner_id = b.practitioner_id AND a.id < b.id \
          AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at \
          WHERE a.status <> 'cancelled' AND b.status <> 'cancelled'",
    )
    .fetch_one(&pool)
    .await
    .unwrap()
    .get("n");
    assert_eq!(clashes, 0, "two appointments in one practitioner's slot");
    let booked: i64 = sqlx::query("SELECT COUNT(*) AS n FROM appointments").fetch_one(&pool).await.unwrap().get("n");
    assert!(booked > 0, "the run booked appointments");
    eprintln!(
        "{total} messages over {NODES} nodes (two killed and restarted): {booked} appointments, {} replies received by Twilio, {} conversations handed over",
        received.len(),
        handed_over.len()
    );
    pool.close().await;
}
