//! The capacity goals of one node, measured from outside on the release
//! binary, with the bare-HTTP reference of the same run:
//! - acknowledgements of signed webhooks at 64 and 256 connections (and that
//!   every 2xx was stored once);
//! - turns: the backlog those webhooks left, drained by the workers — a mix
//!   of 5,000 phones over the demo clinic and a 20-practitioner clinic with
//!   10,000 appointments: new bookings, slot refinements, choices, names,
//!   confirmations and questions; turn latency from the node's `/metrics`;
//! - replies: the outbox sent to a local Twilio that answers in 50 ms, with
//!   the per-number rate checked at Twilio's side and nothing sent twice,
//!   and the sending node's CPU time per reply;
//! - memory: the node's resident set at 256 connections and during the
//!   drain; SIGTERM: time to exit with a backlog;
//! - on PostgreSQL, the same backlog drained by 1, 2 and 4 nodes.
//!
//! The node is pinned to CPU 0 and this load generator to CPU 1 when
//! `taskset` exists. `cargo bench --bench capacity`; PostgreSQL with
//! `NURU_BENCH_DATABASE_URL=postgres://…/db` (a fresh database is created
//! next to it). Sizes: `NURU_BENCH_MESSAGES` (50,000), `NURU_BENCH_NODES`
//! (`1,2,4`, PostgreSQL only), `NURU_BENCH_NODE_MESSAGES` (10,000).
//! `NURU_BENCH_NODE_WRAPPER` (e.g. `heaptrack -o /tmp/nuru-heap`) runs each
//! node under a profiler.
//! The nodes' clock starts at `CLOCK_AT` (a Monday morning), so every run
//! drives the same mix of turns whatever its day.
//! Prints numbers; asserts only that nothing was lost or sent twice.

#[path = "common/large_clinic.rs"]
mod large_clinic;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use base64::Engine;
use chrono::Utc;
use nuru::domain::*;
use nuru::secrets::Cipher;
use nuru::storage::{Store, TwilioCredentials};
use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PUBLIC: &str = "https://nuru.example.org";
const LARGE_TOKEN: &str = "largeClinicToken0123456789";
const LARGE_ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const PHONES: usize = 5_000;

/// Where the nodes' clock starts, whatever day the bench runs: a Monday,
/// 08:00 in Kinshasa. "Demain", the weekdays and the closed days then mean
/// the same slots on every run, and so does the mix of turns.
const CLOCK_AT: &str = "2026-11-23T07:00:00Z";

fn env_usize(key: &str, default: usize) -> usize {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1e3
}

fn has_taskset() -> bool {
    Command::new("taskset").arg("-V").output().is_ok_and(|o| o.status.success())
}

struct Node {
    child: Child,
    port: u16,
}

impl Node {
    fn start(env: &[(String, String)], extra: &[(&str, &str)], pin: bool) -> Node {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        // NURU_BENCH_NODE_WRAPPER runs the node under a profiler, e.g.
        // "heaptrack -o /tmp/nuru-heap" or "perf record -g -o /tmp/nuru.perf".
        let mut argv: Vec<String> = Vec::new();
        if pin {
            argv.extend(["taskset".into(), "-c".into(), "0".into()]);
        }
        if let Ok(wrapper) = std::env::var("NURU_BENCH_NODE_WRAPPER") {
            argv.extend(wrapper.split_whitespace().map(String::from));
        }
        argv.push(env!("CARGO_BIN_EXE_nuru").into());
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..]);
        cmd.arg("serve")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(extra.iter().copied())
            .env("NURU_LISTEN_ADDR", format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        let child = cmd.spawn().expect("nuru serve starts");
        Node { child, port }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    async fn ready(&self, http: &reqwest::Client) {
        for _ in 0..400 {
            if http.get(self.url("/health/ready")).send().await.is_ok_and(|r| r.status() == 200) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("node did not become ready");
    }

    /// Resident set now and at its highest (kB), from /proc.
    /// CPU time the node has used so far (user + system), in seconds.
    fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // After the command's ")": state is field 3, utime 14 and stime 15,
        // in clock ticks (USER_HZ, 100 on Linux).
        let fields: Vec<u64> =
            stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().map(|f| f.parse().unwrap_or(0)).collect()).unwrap_or_default();
        (fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0)) as f64 / 100.0
    }

    fn rss_kb(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        let field = |name: &str| {
            status.lines().find(|l| l.starts_with(name)).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse().ok()).unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    /// SIGTERM; returns how long the process took to exit.
    fn stop(mut self) -> Duration {
        let t = Instant::now();
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
        t.elapsed()
    }
}

/// A local Twilio Messages API answering 201 after `delay`; counts what it
/// got per (sending number, second) and every (to, body) pair.
#[derive(Clone, Default)]
struct Twilio {
    delay: Duration,
    received: Arc<AtomicUsize>,
    per_second: Arc<Mutex<HashMap<(String, u64), usize>>>,
}

async fn twilio_messages(State(t): State<Twilio>, Path(_sid): Path<String>, body: String) -> (StatusCode, String) {
    let fields: Vec<(String, String)> = serde_urlencoded::from_str(&body).unwrap_or_default();
    let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    let second = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    *t.per_second.lock().unwrap().entry((get("From"), second)).or_default() += 1;
    tokio::time::sleep(t.delay).await;
    let n = t.received.fetch_add(1, Ordering::Relaxed);
    (StatusCode::CREATED, format!("{{\"sid\":\"SM{n:032}\",\"status\":\"queued\"}}"))
}

async fn start_twilio(delay: Duration) -> (Twilio, String) {
    let t = Twilio { delay, ..Twilio::default() };
    let app = axum::Router::new().route("/2010-04-01/Accounts/{sid}/Messages.json", post(twilio_messages)).with_state(t.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (t, url)
}

/// What patient `p` writes, in order (10 messages): a booking refined to
/// another day, a choice, a name, a confirmation, questions.
fn script(p: usize) -> [String; 10] {
    const FIRST: [&str; 8] = ["Awa", "Jean", "Marie", "Paul", "Fatou", "Yves", "Grace", "Serge"];
    const LAST: [&str; 8] = ["Mendy", "Kabeya", "Nkulu", "Diallo", "Mbala", "Ndiaye", "Kouassi", "Fotso"];
    const DAYS: [&str; 5] = ["demain matin", "mercredi après-midi", "jeudi matin", "vendredi", "lundi prochain"];
    [
        format!("Bonjour, je voudrais un rendez-vous {}", DAYS[p % 5]),
        "plutôt l'après-midi si possible".into(),
        (1 + p % 5).to_string(),
        format!("{} {}, {:02}/0{}/19{}", FIRST[p % 8], LAST[(p / 8) % 8], 1 + p % 28, 1 + p % 9, 60 + p % 40),
        "oui".into(),
        "merci".into(),
        "c'est où la clinique ?".into(),
        "what are your opening hours?".into(),
        "quels sont mes rendez-vous ?".into(),
        "ok merci beaucoup".into(),
    ]
}

/// Pre-signed webhook bodies: message `i` is step `i / PHONES` of phone
/// `i % PHONES`, so a phone's messages are far apart and always in order.
/// Even phones write to the demo clinic, odd ones to the large clinic.
fn signed_bodies(first: usize, count: usize, phone_offset: usize) -> Vec<(String, String, String)> {
    (first..first + count)
        .map(|i| {
            let p = i % PHONES;
            let step = (i / PHONES) % 10;
            let (slug, account, token, to) = if p.is_multiple_of(2) {
                ("demo", "ACdemo0000000000000000000000000000", "demo-auth-token", "whatsapp:+14155238886")
            } else {
                ("large", LARGE_ACCOUNT, LARGE_TOKEN, "whatsapp:+14155230000")
            };
            let fields: Vec<(String, String)> = [
                ("MessageSid", format!("SM{phone_offset:08}{i:024}")),
                ("AccountSid", account.to_string()),
                ("From", format!("whatsapp:+2438{:08}", p + phone_offset)),
                ("To", to.to_string()),
                ("Body", script(p)[step].clone()),
                ("NumMedia", "0".to_string()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
            let url = format!("{PUBLIC}/webhooks/twilio/{slug}");
            let sig = nuru::channels::twilio::compute_signature(&url, &fields, token);
            (slug.to_string(), serde_urlencoded::to_string(&fields).unwrap(), sig)
        })
        .collect()
}

/// Builds request `i` of a run.
type MakeRequest = dyn Fn(&reqwest::Client, usize) -> reqwest::RequestBuilder + Send + Sync;

struct Load {
    per_second: f64,
    p50: f64,
    p99: f64,
    ok: usize,
    failed: usize,
}

/// Sends `requests` with `connections` clients at once; `make(i)` builds request `i`.
async fn drive(http: &reqwest::Client, connections: usize, requests: usize, make: Arc<MakeRequest>) -> Load {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (http, next, make) = (http.clone(), next.clone(), make.clone());
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut ok, mut failed) = (Vec::new(), 0, 0);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests {
                    return (lat, ok, failed);
                }
                let t = Instant::now();
                let r = make(&http, i).send().await;
                lat.push(t.elapsed());
                match r {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        ok += 1
                    }
                    _ => failed += 1,
                }
            }
        }));
    }
    let (mut all, mut ok, mut failed) = (Vec::new(), 0, 0);
    for t in tasks {
        let (l, o, f) = t.await.unwrap();
        all.extend(l);
        ok += o;
        failed += f;
    }
    let elapsed = started.elapsed();
    all.sort();
    Load { per_second: requests as f64 / elapsed.as_secs_f64(), p50: percentile(&all, 0.5), p99: percentile(&all, 0.99), ok, failed }
}

fn print_load(label: &str, l: &Load) {
    println!("{label:<44} {:>8.0}/s   p50 {:>6.2} ms   p99 {:>6.2} ms   ok {:>6}   failed {}", l.per_second, l.p50, l.p99, l.ok, l.failed);
}

async fn bare(http: &reqwest::Client, node: &Node, connections: usize, requests: usize) -> Load {
    let url = node.url("/health/live");
    drive(http, connections, requests, Arc::new(move |http: &reqwest::Client, _| http.get(&url))).await
}

/// Samples the node's resident set every 100 ms until `done`; returns the highest (kB).
fn sample_rss(pid: u32, done: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut max = 0;
        while !done.load(Ordering::Relaxed) {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            if let Some(kb) = status.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)) {
                max = max.max(kb.parse().unwrap_or(0));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        max
    })
}

/// p50 and p99 (ms) from the node's `nuru_turn_seconds` histogram: the
/// upper bound of the bucket where the quantile falls.
async fn turn_quantiles(http: &reqwest::Client, node: &Node) -> (f64, f64, u64) {
    let page = http.get(node.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let mut buckets: Vec<(f64, u64)> = page
        .lines()
        .filter(|l| l.starts_with("nuru_turn_seconds_bucket{"))
        .filter_map(|l| {
            let le = l.split("le=\"").nth(1)?.split('"').next()?;
            let n: u64 = l.rsplit(' ').next()?.parse().ok()?;
            Some((if le == "+Inf" { f64::INFINITY } else { le.parse().ok()? }, n))
        })
        .collect();
    buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
    let total = buckets.last().map_or(0, |b| b.1);
    let q = |p: f64| buckets.iter().find(|(_, n)| *n as f64 >= p * total as f64).map_or(0.0, |b| b.0 * 1e3);
    (q(0.5), q(0.99), total)
}

struct Db {
    url: String,
    admin: Option<String>,
    name: String,
    _dir: Option<tempfile::TempDir>,
}

async fn fresh_database(tag: &str) -> Db {
    match std::env::var("NURU_BENCH_DATABASE_URL") {
        Ok(base) if base.starts_with("postgres") => {
            use sqlx::Connection;
            let name = format!("nuru_bench_{tag}_{}", uuid::Uuid::new_v4().simple());
            let mut conn = sqlx::PgConnection::connect(&base).await.unwrap();
            sqlx::Executor::execute(&mut conn, sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).await.unwrap();
            let (prefix, _) = base.rsplit_once('/').unwrap();
            Db { url: format!("{prefix}/{name}"), admin: Some(base), name, _dir: None }
        }
        _ => {
            let dir = tempfile::tempdir().unwrap();
            Db { url: format!("sqlite://{}", dir.path().join("capacity.db").display()), admin: None, name: String::new(), _dir: Some(dir) }
        }
    }
}

async fn drop_database(db: &Db) {
    if let Some(admin) = &db.admin {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(admin).await.unwrap();
        let _ = sqlx::Executor::execute(&mut conn, sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", db.name))).await;
    }
}

/// Migrates, imports the demo clinic, and writes the large clinic (20
/// practitioners, 10,000 appointments around today) with its Twilio account.
async fn prepare(db: &Db, env: &[(String, String)], key: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_nuru")).arg("migrate").envs(env.iter().map(|(k, v)| (k, v))).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/demo-clinic.toml");
    let out =
        Command::new(env!("CARGO_BIN_EXE_nuru")).args(["clinic", "import", demo]).envs(env.iter().map(|(k, v)| (k, v))).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let store = Store::connect(&db.url, Some(2)).await.unwrap();
    // The nodes' clock (see `CLOCK_AT`).
    let offset: i64 = env.iter().find(|(k, _)| k == "NURU_CLOCK_OFFSET_SECONDS").map_or(0, |(_, v)| v.parse().unwrap());
    let now = Utc::now() + chrono::Duration::seconds(offset);
    let today = now.with_timezone(&chrono_tz::Africa::Kinshasa).date_naive();
    let mut s = large_clinic::setup(today, 20, 10_000, 200);
    s.catalog.clinic.slug = "large".into();
    s.catalog.clinic.name = "Large clinic".into();
    s.catalog.clinic.id = ClinicId(uuid::Uuid::from_u128(0x1a59e));
    for p in &mut s.catalog.practitioners {
        p.clinic_id = s.catalog.clinic.id;
    }
    for sv in &mut s.catalog.services {
        sv.clinic_id = s.catalog.clinic.id;
    }
    s.catalog.clinic.whatsapp_number = Some("+14155230000".into());
    s.catalog.clinic.address = "1 avenue du Bench, Kinshasa".into();
    s.catalog.clinic.opening_hours_fr = Some("du lundi au samedi".into());
    s.catalog.clinic.opening_hours_en = Some("Monday to Saturday".into());
    let cipher = Cipher::from_base64(key).unwrap();
    let creds = TwilioCredentials { account_sid: LARGE_ACCOUNT.into(), auth_token_encrypted: cipher.encrypt(LARGE_TOKEN) };
    large_clinic::store(&s, &store, Some(&creds), now).await.unwrap();
    store.close().await;
}

/// (stored, waiting, replies queued, replies sent), read straight from the database.
async fn queue_counts(db: &Db) -> (i64, i64, i64, i64) {
    use sqlx::Row;
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    let row = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM inbound_messages) AS stored, \
                (SELECT COUNT(*) FROM inbound_messages WHERE processed_at IS NULL) AS waiting, \
                (SELECT COUNT(*) FROM outbound_messages WHERE status = 'queued') AS queued, \
                (SELECT COUNT(*) FROM outbound_messages WHERE status = 'sent') AS sent",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let counts = (row.get("stored"), row.get("waiting"), row.get("queued"), row.get("sent"));
    pool.close().await;
    counts
}

/// How long until no inbound message waits (checked every 200 ms).
async fn drain_time(db: &Db) -> Duration {
    let started = Instant::now();
    while queue_counts(db).await.1 > 0 {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    started.elapsed()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(run());
}

async fn run() {
    nuru::install_crypto_provider();
    sqlx::any::install_default_drivers();
    let messages = env_usize("NURU_BENCH_MESSAGES", 50_000);
    let pin = has_taskset();
    if pin {
        let _ = Command::new("taskset").args(["-cp", "1", &std::process::id().to_string()]).output();
    }
    let db = fresh_database("one").await;
    let backend = if db.admin.is_some() { "PostgreSQL" } else { "SQLite" };
    let key = base64::engine::general_purpose::STANDARD.encode([9u8; 32]);
    let (twilio, twilio_url) = start_twilio(Duration::from_millis(50)).await;
    let offset = (CLOCK_AT.parse::<chrono::DateTime<Utc>>().unwrap() - Utc::now()).num_seconds().to_string();
    let env: Vec<(String, String)> = [
        ("NURU_DATABASE_URL", db.url.as_str()),
        ("NURU_CLOCK_OFFSET_SECONDS", offset.as_str()),
        ("NURU_SECRET_KEY", key.as_str()),
        ("NURU_PUBLIC_BASE_URL", PUBLIC),
        ("NURU_TWILIO_API_BASE", twilio_url.as_str()),
        ("NURU_LOG_LEVEL", "error"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    prepare(&db, &env, &key).await;
    let http = reqwest::Client::builder().pool_max_idle_per_host(256).build().unwrap();
    println!(
        "== capacity, {backend}, release build, node {} ; {messages} messages from {PHONES} phones (demo clinic and a 20-practitioner clinic with 10,000 appointments)",
        if pin { "pinned to CPU 0, load generator on CPU 1" } else { "unpinned (no taskset)" }
    );

    // 1. Acknowledgements, on a node that only acknowledges.
    let node = Node::start(&env, &[("NURU_TURN_CONCURRENCY", "0"), ("NURU_SEND_CONCURRENCY", "0")], pin);
    node.ready(&http).await;
    let _ = bare(&http, &node, 64, 5_000).await; // warm-up
    print_load("bare HTTP (GET /health/live), 64 conns", &bare(&http, &node, 64, 50_000).await);
    let at64 = messages * 6 / 10;
    let all = signed_bodies(0, messages, 0);
    let first: Arc<Vec<_>> = Arc::new(all[..at64].to_vec());
    let rest: Arc<Vec<_>> = Arc::new(all[at64..].to_vec());
    let acks64 = drive_webhooks(&http, &node, 64, first).await;
    print_load("signed webhooks acknowledged, 64 conns", &acks64);
    print_load("bare HTTP (GET /health/live), 256 conns", &bare(&http, &node, 256, 50_000).await);
    let done = Arc::new(AtomicBool::new(false));
    let sampler = sample_rss(node.child.id(), done.clone());
    let acks256 = drive_webhooks(&http, &node, 256, rest).await;
    done.store(true, Ordering::Relaxed);
    let rss256 = sampler.join().unwrap();
    print_load("signed webhooks acknowledged, 256 conns", &acks256);
    let (_, hwm) = node.rss_kb();
    node.stop();
    let (stored, waiting, _, _) = queue_counts(&db).await;
    println!(
        "stored {stored} of {} acknowledged (lost {}), RSS at 256 conns {:.1} MB (peak {:.1} MB)",
        acks64.ok + acks256.ok,
        (acks64.ok + acks256.ok) as i64 - stored,
        rss256 as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
    assert_eq!(stored as usize, acks64.ok + acks256.ok, "every acknowledged webhook stored once");

    // 2. Turns: the backlog drained by a node that processes and does not send.
    let node = Node::start(&env, &[("NURU_SEND_CONCURRENCY", "0")], pin);
    let done = Arc::new(AtomicBool::new(false));
    let sampler = sample_rss(node.child.id(), done.clone());
    node.ready(&http).await;
    let drained = drain_time(&db).await;
    done.store(true, Ordering::Relaxed);
    let rss_drain = sampler.join().unwrap();
    let (p50, p99, turns) = turn_quantiles(&http, &node).await;
    node.stop();
    println!(
        "turns: {waiting} drained in {:.1} s = {:>6.0} turns/s   turn p50 ≤ {p50:.2} ms   p99 ≤ {p99:.2} ms ({turns} turns), RSS during the drain ≤ {:.1} MB",
        drained.as_secs_f64(),
        waiting as f64 / drained.as_secs_f64(),
        rss_drain as f64 / 1024.0
    );

    // 3. Replies: the outbox sent by a node that only sends, to a Twilio
    // answering in 50 ms; then SIGTERM with the rest still queued.
    let (_, _, outbox, _) = queue_counts(&db).await;
    let rate = 400;
    let node = Node::start(
        &env,
        &[("NURU_TURN_CONCURRENCY", "0"), ("NURU_SEND_CONCURRENCY", "64"), ("NURU_SEND_PER_SECOND_WHATSAPP", "400")],
        pin,
    );
    node.ready(&http).await;
    let cpu_at_start = node.cpu_seconds();
    let window = Duration::from_secs(20);
    let started = Instant::now();
    let before = twilio.received.load(Ordering::Relaxed);
    while started.elapsed() < window && twilio.received.load(Ordering::Relaxed) - before < outbox as usize {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let sent = twilio.received.load(Ordering::Relaxed) - before;
    let elapsed = started.elapsed();
    let cpu = node.cpu_seconds() - cpu_at_start;
    let stop = node.stop();
    let (_, _, left, sent_rows) = queue_counts(&db).await;
    let max_per_number = twilio.per_second.lock().unwrap().values().copied().max().unwrap_or(0);
    println!(
        "replies: {sent} of {outbox} sent in {:.1} s = {:>6.0} replies/s to a Twilio answering in 50 ms; busiest number-second {max_per_number} (limit {rate}/s); {left} left queued",
        elapsed.as_secs_f64(),
        sent as f64 / elapsed.as_secs_f64()
    );
    println!("replies: the sending node used {cpu:.1} s of CPU = {:.3} ms per reply sent", cpu * 1000.0 / sent.max(1) as f64);
    println!("SIGTERM with {left} replies queued: exited in {:.2} s", stop.as_secs_f64());
    let at_twilio = twilio.received.load(Ordering::Relaxed) as i64;
    assert_eq!(at_twilio, sent_rows, "Twilio got exactly the replies marked sent");
    assert!(max_per_number <= rate + rate / 10, "a number went over its rate");
    drop_database(&db).await;

    // 4. Several nodes on one PostgreSQL.
    if backend == "PostgreSQL" {
        let counts: Vec<usize> =
            std::env::var("NURU_BENCH_NODES").unwrap_or("1,2,4".into()).split(',').filter_map(|n| n.trim().parse().ok()).collect();
        let per_run = env_usize("NURU_BENCH_NODE_MESSAGES", 10_000);
        for n in counts {
            let db = fresh_database("nodes").await;
            let mut env = env.clone();
            env.iter_mut().find(|(k, _)| k == "NURU_DATABASE_URL").unwrap().1 = db.url.clone();
            prepare(&db, &env, &key).await;
            let ingest = Node::start(&env, &[("NURU_TURN_CONCURRENCY", "0"), ("NURU_SEND_CONCURRENCY", "0")], false);
            ingest.ready(&http).await;
            drive_webhooks(&http, &ingest, 64, Arc::new(signed_bodies(0, per_run, 0))).await;
            ingest.stop();
            let nodes: Vec<Node> = (0..n).map(|_| Node::start(&env, &[("NURU_SEND_CONCURRENCY", "0")], false)).collect();
            let elapsed = drain_time(&db).await;
            for node in nodes {
                node.stop();
            }
            println!(
                "{n} node(s) on one PostgreSQL: {per_run} turns in {:.1} s = {:>6.0} turns/s",
                elapsed.as_secs_f64(),
                per_run as f64 / elapsed.as_secs_f64()
            );
            drop_database(&db).await;
        }
    }
}

async fn drive_webhooks(http: &reqwest::Client, node: &Node, connections: usize, bodies: Arc<Vec<(String, String, String)>>) -> Load {
    let base = node.url("/webhooks/twilio/");
    let n = bodies.len();
    let make = Arc::new(move |http: &reqwest::Client, i: usize| {
        let (slug, body, sig) = &bodies[i];
        http.post(format!("{base}{slug}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-twilio-signature", sig)
            .body(body.clone())
    });
    drive(http, connections, n, make).await
}
