//! Faults a clinic's node meets, measured from outside on the release
//! binary (`cargo bench --bench faults`; SQLite in a temporary folder):
//! - a sign-in flood: 64 concurrent logins to unknown e-mails from 64
//!   addresses (the node trusts `X-Forwarded-For` here): the answers, how
//!   long they took, and the node's peak resident set;
//! - a decompression bomb (`fixtures/hostile/decompression-bomb.pdf`, 70 kB,
//!   whose page unpacks to 24 MB) uploaded while webhooks are acknowledged at 16 connections: the
//!   acknowledgement latency with and without the bomb, and the bomb's answer.
//!
//! Prints numbers; asserts only that every webhook was answered.

use base64::Engine;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const PUBLIC: &str = "https://nuru.example.org";
const TOKEN: &str = "demo-auth-token";
const ACCOUNT: &str = "ACdemo0000000000000000000000000000";
const STAFF_PASSWORD: &str = "cheval lampe nuage rivière";

fn nuru(args: &[&str], env: &[(String, String)]) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nuru"));
    cmd.args(args).envs(env.iter().map(|(k, v)| (k, v))).env("NURU_ADMIN_PASSWORD", STAFF_PASSWORD);
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "nuru {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn peak_rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

/// A PDF of 70 kB whose one page unpacks to 24 MB of drawing text.
fn bomb() -> Vec<u8> {
    std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/hostile/decompression-bomb.pdf")).unwrap()
}

/// Signed webhooks to the demo clinic at `connections`, until `stop` (or
/// `count` sent): every answer's latency, sorted, and how many were not 200.
async fn webhooks(http: &reqwest::Client, base: &str, connections: usize, count: usize, first: usize) -> (Vec<Duration>, usize) {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (http, next, base) = (http.clone(), next.clone(), base.to_string());
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut bad) = (Vec::new(), 0);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    return (lat, bad);
                }
                let n = first + i;
                let fields: Vec<(String, String)> = [
                    ("MessageSid", format!("SM{n:032}")),
                    ("AccountSid", ACCOUNT.to_string()),
                    ("From", format!("whatsapp:+2438{:08}", n % 5_000)),
                    ("To", "whatsapp:+14155238886".to_string()),
                    ("Body", "bonjour".to_string()),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
                let sig = nuru::channels::twilio::compute_signature(&format!("{PUBLIC}/webhooks/twilio/demo"), &fields, TOKEN);
                let t = Instant::now();
                let r = http.post(format!("{base}/webhooks/twilio/demo")).header("X-Twilio-Signature", sig).form(&fields).send().await;
                lat.push(t.elapsed());
                if !r.is_ok_and(|r| r.status() == 200) {
                    bad += 1;
                }
            }
        }));
    }
    let (mut all, mut bad) = (Vec::new(), 0);
    for t in tasks {
        let (l, b) = t.await.unwrap();
        all.extend(l);
        bad += b;
    }
    all.sort();
    (all, bad)
}

fn summary(lat: &[Duration]) -> String {
    let at = |p: f64| lat[((lat.len() as f64 - 1.0) * p) as usize].as_secs_f64() * 1000.0;
    format!("p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} answers)", at(0.5), at(0.99), at(1.0), lat.len())
}

fn main() {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(run());
}

async fn run() {
    nuru::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let key = base64::engine::general_purpose::STANDARD.encode([9u8; 32]);
    let jwt = base64::engine::general_purpose::STANDARD.encode([5u8; 32]);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let env: Vec<(String, String)> = [
        ("NURU_DATABASE_URL", format!("sqlite://{}", dir.path().join("faults.db").display())),
        ("NURU_SECRET_KEY", key),
        ("NURU_JWT_SECRET", jwt),
        ("NURU_PUBLIC_BASE_URL", PUBLIC.to_string()),
        ("NURU_TWILIO_API_BASE", "http://127.0.0.1:9".to_string()),
        ("NURU_LOG_LEVEL", "error".to_string()),
        ("NURU_TRUST_FORWARDED_FOR", "true".to_string()),
        ("NURU_TURN_CONCURRENCY", "0".to_string()),
        ("NURU_LISTEN_ADDR", format!("127.0.0.1:{port}")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    nuru(&["migrate"], &env);
    nuru(&["clinic", "import", concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/demo-clinic.toml")], &env);
    nuru(&["admin", "add-member", "--email", "desk@demo.org", "--clinic", "demo", "--role", "clinic_admin"], &env);
    let mut child =
        Command::new(env!("CARGO_BIN_EXE_nuru")).arg("serve").envs(env.iter().map(|(k, v)| (k, v))).stdout(Stdio::null()).spawn().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder().pool_max_idle_per_host(128).build().unwrap();
    for _ in 0..400 {
        if http.get(format!("{base}/health/ready")).send().await.is_ok_and(|r| r.status() == 200) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    println!("== faults, SQLite, release build, node pid {}", child.id());
    println!("peak RSS at start {:.1} MB", peak_rss_mb(child.id()));

    // 1. A sign-in flood.
    for round in 0..2 {
        let started = Instant::now();
        let logins: Vec<_> = (0..64)
            .map(|i| {
                let (http, base) = (http.clone(), base.clone());
                tokio::spawn(async move {
                    let t = Instant::now();
                    let r = http
                        .post(format!("{base}/api/auth/login"))
                        .header("x-forwarded-for", format!("198.51.{round}.{}", i + 1))
                        .json(&serde_json::json!({"email": format!("nobody{round}-{i}@demo.org"), "password": "a wrong guess"}))
                        .send()
                        .await
                        .unwrap();
                    (r.status().as_u16(), t.elapsed())
                })
            })
            .collect();
        let mut answers = Vec::new();
        for l in logins {
            answers.push(l.await.unwrap());
        }
        let count = |s: u16| answers.iter().filter(|(a, _)| *a == s).count();
        let slowest = answers.iter().map(|(_, t)| *t).max().unwrap();
        println!(
            "64 concurrent sign-ins (round {}): {} × 401, {} × 503, {} × 429 in {:.2} s (slowest {:.2} s); node peak RSS {:.1} MB",
            round + 1,
            count(401),
            count(503),
            count(429),
            started.elapsed().as_secs_f64(),
            slowest.as_secs_f64(),
            peak_rss_mb(child.id())
        );
    }

    // 2. A decompression bomb during webhook load.
    let (baseline, bad) = webhooks(&http, &base, 16, 4_000, 0).await;
    assert_eq!(bad, 0, "every webhook acknowledged");
    println!("acknowledgements, 16 conns, no upload:           {}", summary(&baseline));
    let login: serde_json::Value = http
        .post(format!("{base}/api/auth/login"))
        .json(&serde_json::json!({"email": "desk@demo.org", "password": STAFF_PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().expect("the staff account signs in").to_string();
    let clinics: serde_json::Value = http.get(format!("{base}/api/me")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    let clinic = clinics["memberships"][0]["clinic_id"].as_str().unwrap().to_string();
    let bomb = bomb();
    let size = bomb.len();
    let uploads = {
        let (http, base, token) = (http.clone(), base.clone(), token.clone());
        tokio::spawn(async move {
            let mut answers = Vec::new();
            for _ in 0..10 {
                let form = reqwest::multipart::Form::new().part(
                    "file",
                    reqwest::multipart::Part::bytes(bomb.clone()).file_name("scanner.pdf").mime_str("application/pdf").unwrap(),
                );
                let t = Instant::now();
                let r =
                    http.post(format!("{base}/api/clinics/{clinic}/documents")).bearer_auth(&token).multipart(form).send().await.unwrap();
                answers.push((r.status().as_u16(), t.elapsed()));
            }
            answers
        })
    };
    let (during, bad) = webhooks(&http, &base, 16, 4_000, 100_000).await;
    assert_eq!(bad, 0, "every webhook acknowledged");
    let answers = uploads.await.unwrap();
    println!("acknowledgements, 16 conns, 10 bomb uploads:     {}", summary(&during));
    println!(
        "bomb ({size} bytes, a page unpacking to 24 MB): answered {:?}, slowest {:.0} ms; node peak RSS {:.1} MB",
        answers.iter().map(|(s, _)| *s).collect::<std::collections::BTreeSet<_>>(),
        answers.iter().map(|(_, t)| t.as_secs_f64() * 1000.0).fold(0.0, f64::max),
        peak_rss_mb(child.id())
    );
    let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
    let _ = child.wait();
}
