//! Signed-webhook acknowledgement throughput and latency on the embedded
//! default (SQLite file), then per-turn processing time.
//!
//! `cargo bench --bench webhook` (options: NURU_BENCH_REQUESTS, NURU_BENCH_CLIENTS).
//! Prints numbers; asserts only that nothing was lost.

use base64::Engine;
use nuru::channels::twilio::compute_signature;
use nuru::clinic_file::{ClinicFile, DEMO_CLINIC};
use nuru::config::Config;
use nuru::secrets::Secret;
use nuru::startup::{Application, BuildOptions};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    nuru::install_crypto_provider();
    let requests = env("NURU_BENCH_REQUESTS", 20_000);
    let clients = env("NURU_BENCH_CLIENTS", 16);
    let dir = tempfile::tempdir()?;
    let config = Config {
        database_url: format!("sqlite://{}", dir.path().join("bench.db").display()),
        listen_addr: "127.0.0.1:0".into(),
        public_base_url: "https://nuru.example.org".into(),
        secret_key: Some(Secret::new(base64::engine::general_purpose::STANDARD.encode([9u8; 32]))),
        log_level: "error".into(),
        ..Config::default()
    };
    let app = Application::build(config, BuildOptions { outbox_only: true, background_workers: false, ..BuildOptions::default() }).await?;
    let state = app.state().clone();
    let clinic = ClinicFile::import(DEMO_CLINIC, &state.store, &state.cipher, state.clock.now()).await?;
    let url = format!("http://127.0.0.1:{}/webhooks/twilio/demo", app.port());
    let workers = app.workers();
    tokio::spawn(app.run_until_stopped());

    // Pre-sign every request: the benchmark measures the server, not the signer.
    let public = "https://nuru.example.org/webhooks/twilio/demo";
    let bodies: Vec<(String, String)> = (0..requests)
        .map(|i| {
            let fields: Vec<(String, String)> = [
                ("MessageSid", format!("SM{i:032}")),
                ("AccountSid", "ACdemo0000000000000000000000000000".to_string()),
                ("From", format!("whatsapp:+2439{:08}", i % 500)),
                ("To", "whatsapp:+14155238886".to_string()),
                ("Body", "Bonjour, je voudrais un rdv demain matin pour une consultation".to_string()),
                ("NumMedia", "0".to_string()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
            let sig = compute_signature(public, &fields, "demo-auth-token");
            (serde_urlencoded::to_string(&fields).expect("form"), sig)
        })
        .collect();
    let bodies = Arc::new(bodies);
    let http = reqwest::Client::builder().pool_max_idle_per_host(clients).build()?;
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));

    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (http, url, bodies, next) = (http.clone(), url.clone(), bodies.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failures = 0usize;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((body, sig)) = bodies.get(i) else { break };
                let t = Instant::now();
                let r = http
                    .post(&url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .header("x-twilio-signature", sig)
                    .body(body.clone())
                    .send()
                    .await;
                latencies.push(t.elapsed());
                if !matches!(r, Ok(ref r) if r.status() == 200) {
                    failures += 1;
                }
            }
            (latencies, failures)
        }));
    }
    let mut latencies = Vec::with_capacity(requests);
    let mut failures = 0;
    for t in tasks {
        let (l, f) = t.await?;
        latencies.extend(l);
        failures += f;
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let stored = state.store.count_inbound(clinic.clinic.id).await?;
    println!("== signed webhook acknowledgement (SQLite file, {clients} concurrent clients, client on the same 2 cores)");
    println!("requests      {requests}");
    println!("throughput    {:.0} acknowledged/s", requests as f64 / elapsed.as_secs_f64());
    println!("latency p50   {:.2} ms", percentile(&latencies, 0.50).as_secs_f64() * 1e3);
    println!("latency p99   {:.2} ms", percentile(&latencies, 0.99).as_secs_f64() * 1e3);
    println!("latency max   {:.2} ms", latencies.last().unwrap().as_secs_f64() * 1e3);
    println!("failures      {failures}");
    println!("stored        {stored} (lost: {})", requests as i64 - stored);
    assert_eq!(stored as usize, requests, "every acknowledged webhook is stored");
    assert_eq!(failures, 0);

    // Per-turn processing: understand, decide, book-or-reply, all in one transaction.
    let turns = env("NURU_BENCH_TURNS", 2_000).min(requests);
    let mut per_turn = Vec::with_capacity(turns);
    let started = Instant::now();
    for _ in 0..turns {
        let t = Instant::now();
        if workers.process_next_inbound().await?.is_none() {
            break;
        }
        per_turn.push(t.elapsed());
    }
    let elapsed = started.elapsed();
    per_turn.sort();
    println!("== turn processing (first message of a booking: extract + slot search + reply in one transaction)");
    println!("turns         {}", per_turn.len());
    println!("throughput    {:.0} turns/s", per_turn.len() as f64 / elapsed.as_secs_f64());
    println!("turn p50      {:.2} ms", percentile(&per_turn, 0.50).as_secs_f64() * 1e3);
    println!("turn p99      {:.2} ms", percentile(&per_turn, 0.99).as_secs_f64() * 1e3);
    Ok(())
}
