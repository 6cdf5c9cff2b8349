//! What a queue claim costs as the tables grow: the inbound queue drained
//! claim by claim with a backlog waiting, over an empty history and over a
//! long one (messages already processed), on SQLite and, when
//! `NURU_BENCH_DATABASE_URL` names a PostgreSQL server, on a fresh PostgreSQL
//! database without table statistics (as with autovacuum off), and on one
//! whose statistics were taken while nothing waited (a quiet day) before a
//! backlog arrived (an outage's).
//!
//! `cargo bench --bench queue` (options: NURU_BENCH_HISTORY, NURU_BENCH_BACKLOG,
//! NURU_BENCH_CLAIMS, NURU_BENCH_DATABASE_URL=postgres://…/postgres).
//! Prints numbers; asserts only that every claim found a message.

use base64::Engine;
use chrono::Utc;
use nuru::clinic_file::{ClinicFile, DEMO_CLINIC};
use nuru::secrets::Cipher;
use nuru::storage::Store;
use std::time::{Duration, Instant};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() -> anyhow::Result<()> {
    nuru::install_crypto_provider();
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let history = env("NURU_BENCH_HISTORY", 50_000);
    let backlog = env("NURU_BENCH_BACKLOG", 10_000);
    let claims = env("NURU_BENCH_CLAIMS", 2_000);
    println!("== inbound queue: {claims} claims (claim + mark done), backlog {backlog} from 5,000 phones");
    for h in [0, history] {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite://{}", dir.path().join("queue.db").display());
        measure("SQLite", &url, h, backlog, claims).await?;
    }
    if let Ok(server) = std::env::var("NURU_BENCH_DATABASE_URL") {
        for h in [0, history] {
            let name = format!("nuru_bench_queue_{}", std::process::id());
            let admin = sqlx::AnyPool::connect(&server).await?;
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}"))).execute(&admin).await?;
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await?;
            let url = format!("{}/{name}", server.rsplit_once('/').map(|(base, _)| base).unwrap_or(&server));
            measure("PostgreSQL, no statistics", &url, h, backlog, claims).await?;
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)"))).execute(&admin).await?;
        }
        // Statistics taken on a quiet day (the history, nothing waiting),
        // then a backlog: the case of a queue after an outage.
        let name = format!("nuru_bench_queue_{}", std::process::id());
        let admin = sqlx::AnyPool::connect(&server).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}"))).execute(&admin).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await?;
        let url = format!("{}/{name}", server.rsplit_once('/').map(|(base, _)| base).unwrap_or(&server));
        ANALYZE_QUIET.store(true, std::sync::atomic::Ordering::Relaxed);
        measure("PostgreSQL, quiet-day stats", &url, history, backlog, claims).await?;
        ANALYZE_QUIET.store(false, std::sync::atomic::Ordering::Relaxed);
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)"))).execute(&admin).await?;
    }
    Ok(())
}

/// Run `ANALYZE` after the history is written and before the backlog is.
static ANALYZE_QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

async fn measure(label: &str, url: &str, history: usize, backlog: usize, claims: usize) -> anyhow::Result<()> {
    sqlx::any::install_default_drivers();
    let store = Store::connect(url, None).await?;
    let cipher = Cipher::from_base64(&base64::engine::general_purpose::STANDARD.encode([7u8; 32]))?;
    let clinic = ClinicFile::import(DEMO_CLINIC, &store, &cipher, Utc::now()).await?.clinic.id;
    // History, then the backlog, written in bulk (the benchmark measures claims, not inserts).
    let fill = |from: usize, count: usize, processed: bool| {
        format!(
            "INSERT INTO inbound_messages (clinic_id, provider_message_id, channel, from_phone, body, fields, received_at, processed_at, status) \
             WITH RECURSIVE g(n) AS (SELECT {from} UNION ALL SELECT n + 1 FROM g WHERE n < {last}) \
             SELECT '{clinic}', 'SM' || n, 'whatsapp', '+2439' || (10000000 + n % 5000), 'bonjour', '{{}}', n, {done}, '{status}' FROM g",
            last = from + count - 1,
            done = if processed { "n" } else { "NULL" },
            status = if processed { "processed" } else { "pending" },
        )
    };
    if history > 0 {
        sqlx::query(sqlx::AssertSqlSafe(fill(1, history, true))).execute(store.pool()).await?;
    }
    if ANALYZE_QUIET.load(std::sync::atomic::Ordering::Relaxed) {
        sqlx::query("ANALYZE inbound_messages").execute(store.pool()).await?;
    }
    sqlx::query(sqlx::AssertSqlSafe(fill(history + 1, backlog, false))).execute(store.pool()).await?;
    let mut latencies = Vec::with_capacity(claims);
    let started = Instant::now();
    for _ in 0..claims {
        let now = Utc::now();
        let t = Instant::now();
        let m = store.claim_inbound(now, now + chrono::Duration::seconds(60)).await?;
        latencies.push(t.elapsed());
        let m = m.ok_or_else(|| anyhow::anyhow!("the backlog ran dry"))?;
        store.bury_job(&nuru::storage::INBOUND, &m.claim, "bench", now).await?;
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let p = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    println!(
        "{label:<28} history {history:>7}  claims/s {:>7.0}  claim p50 {:>7.3} ms  p99 {:>7.3} ms",
        claims as f64 / elapsed.as_secs_f64(),
        ms(p(0.5)),
        ms(p(0.99)),
    );
    store.close().await;
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
