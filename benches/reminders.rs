//! 10,000 reminders due within one minute, scheduled and sent through a
//! local Twilio server that answers in 50 ms: how long scheduling takes (the
//! reminder rows written in each booking's transaction), how fast the
//! reminder loop hands them to the outbox, how fast the outbox sends them
//! with the sending number's rate kept, and that none is sent twice.
//!
//! `cargo bench --bench reminders` (options: NURU_BENCH_REMINDERS,
//! NURU_BENCH_RATE (per second per WhatsApp number, default 400),
//! NURU_BENCH_SENDERS (sending loops, default 64),
//! NURU_BENCH_DATABASE_URL=postgres://…/postgres for PostgreSQL).

use axum::extract::State;
use axum::routing::post;
use base64::Engine;
use chrono::{Duration, Utc};
use nuru::channels::Transport;
use nuru::channels::outbound::SendPacer;
use nuru::channels::twilio::TwilioClient;
use nuru::clinic_file::{ClinicFile, DEMO_CLINIC};
use nuru::clock::Clock;
use nuru::conversation::shell::TurnRunner;
use nuru::domain::{ConsultationMode, Lang, PhoneNumber};
use nuru::secrets::Cipher;
use nuru::storage::{NewAppointment, ReminderSettings, Store, StoredTemplate};
use nuru::worker::Workers;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[derive(Default)]
struct Received {
    /// Messages per (sending number, wall-clock second).
    per_second: HashMap<(String, u64), usize>,
    /// Every recipient seen, and how many came twice.
    to: HashSet<String>,
    twice: usize,
    total: usize,
}

async fn twilio(State(received): State<Arc<Mutex<Received>>>, body: String) -> (axum::http::StatusCode, String) {
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let fields: HashMap<String, String> = serde_urlencoded::from_str(&body).unwrap_or_default();
    let second = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let mut r = received.lock().unwrap();
    r.total += 1;
    *r.per_second.entry((fields.get("From").cloned().unwrap_or_default(), second)).or_default() += 1;
    if !r.to.insert(fields.get("To").cloned().unwrap_or_default()) {
        r.twice += 1;
    }
    let n = r.total;
    (axum::http::StatusCode::CREATED, format!(r#"{{"sid":"SM{n:032}","status":"queued"}}"#))
}

fn main() -> anyhow::Result<()> {
    nuru::install_crypto_provider();
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    sqlx::any::install_default_drivers();
    let dir = tempfile::tempdir()?;
    let (label, url, admin) = match std::env::var("NURU_BENCH_DATABASE_URL") {
        Ok(server) => {
            let name = format!("nuru_bench_reminders_{}", std::process::id());
            let admin = sqlx::AnyPool::connect(&server).await?;
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await?;
            let url = format!("{}/{name}", server.rsplit_once('/').map(|(base, _)| base).unwrap_or(&server));
            ("PostgreSQL", url, Some((admin, name)))
        }
        Err(_) => ("SQLite", format!("sqlite://{}", dir.path().join("reminders.db").display()), None),
    };
    let result = measure(label, &url).await;
    if let Some((admin, name)) = admin {
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)"))).execute(&admin).await?;
    }
    result
}

async fn measure(label: &str, url: &str) -> anyhow::Result<()> {
    let count = env("NURU_BENCH_REMINDERS", 10_000);
    let rate = env("NURU_BENCH_RATE", 400) as u32;
    let senders = env("NURU_BENCH_SENDERS", 64);
    let store = Store::connect(url, None).await?;
    let cipher = Cipher::from_base64(&base64::engine::general_purpose::STANDARD.encode([7u8; 32]))?;
    let now = Utc::now();
    let catalog = ClinicFile::import(DEMO_CLINIC, &store, &cipher, now).await?;
    let clinic = catalog.clinic.id;
    store
        .set_reminder_settings(
            clinic,
            &ReminderSettings { offsets: vec![24 * 60], quiet_start: 0, quiet_end: 0, ..Default::default() },
            now,
        )
        .await?;
    let template = StoredTemplate {
        kind: "reminder".into(),
        language: Lang::Fr,
        content_sid: "HX0123456789abcdef0123456789abcdef".into(),
        variables: vec!["patient_first_name".into(), "date".into(), "time".into()],
        updated_at: now,
    };
    store.set_template(clinic, &template).await?;
    println!(
        "== {label}: {count} reminders due within one minute, a Twilio answering in 50 ms, {rate}/s per number, {senders} sending loops"
    );

    // Scheduling: one booking transaction per appointment (the reminder row
    // is written inside it), starts spread over one minute, 24 hours ahead.
    let kabeya = catalog.practitioners[0].id;
    let service = catalog.services[0].id;
    let base = now + Duration::hours(24) + Duration::minutes(5);
    let started = Instant::now();
    for i in 0..count {
        let phone = PhoneNumber::parse(&format!("+2439{:08}", 10_000_000 + i)).map_err(anyhow::Error::msg)?;
        let mut tx = store.begin().await?;
        let patient = Store::create_patient(&mut tx, clinic, "Awa", &format!("Patient{i}"), None, &phone, now).await?.id;
        let start = base + Duration::milliseconds((i as i64 * 60_000) / count as i64);
        let a = NewAppointment {
            clinic_id: clinic,
            practitioner_id: kabeya,
            patient_id: patient,
            service_id: service,
            mode: ConsultationMode::InPerson,
            starts_at: start,
            ends_at: start + Duration::minutes(30),
            blocked_from: start,
            blocked_until: start + Duration::minutes(30),
            source: "staff",
            conversation_id: None,
        };
        Store::insert_appointment(&mut tx, &a, now).await?;
        tx.commit().await?;
    }
    let scheduling = started.elapsed();
    println!(
        "scheduled: {count} bookings with their reminder rows in {:.1} s = {:.0} bookings/s",
        scheduling.as_secs_f64(),
        count as f64 / scheduling.as_secs_f64()
    );

    let received = Arc::new(Mutex::new(Received::default()));
    let app = axum::Router::new().route("/2010-04-01/Accounts/{sid}/Messages.json", post(twilio)).with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let twilio_url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });

    // Every reminder is due: the clock stands a minute after the last one.
    let clock = Clock::fixed(base - Duration::hours(24) + Duration::minutes(2));
    let lease = Duration::seconds(60);
    let outbound_ready = Arc::new(tokio::sync::Notify::new());
    let workers = Arc::new(Workers {
        metrics: Arc::default(),
        store: store.clone(),
        engine: TurnRunner::new(store.clone(), clock.clone(), Duration::hours(4)),
        transport: Transport::Twilio(TwilioClient::new(&twilio_url), SendPacer::new(1, rate)),
        cipher: cipher.clone(),
        clock: clock.clone(),
        inbound_ready: Arc::default(),
        outbound_ready,
        send_retry_budget: chrono::Duration::hours(24),
        poll: std::time::Duration::from_millis(50),
        lease,
        google: None,
        outreach: Some(nuru::outreach::Outreach::new(store.clone(), clock.clone(), lease)),
    });
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let started = Instant::now();
    let handles = workers.clone().spawn(0, senders, shutdown);
    let mut queued_at = None;
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let total = received.lock().unwrap().total;
        if queued_at.is_none() {
            let waiting: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM reminders WHERE status = 'scheduled'").fetch_one(store.pool()).await?;
            if waiting == 0 {
                queued_at = Some(started.elapsed());
            }
        }
        if total >= count || started.elapsed() > std::time::Duration::from_secs(600) {
            break;
        }
    }
    let sent = started.elapsed();
    stop.send(true)?;
    for h in handles {
        let _ = h.await;
    }
    let r = received.lock().unwrap();
    let busiest = r.per_second.values().max().copied().unwrap_or(0);
    let queued_at = queued_at.unwrap_or(sent);
    println!(
        "queued: {count} reminders decided and handed to the outbox in {:.1} s = {:.0} reminders/s (one reminder loop)",
        queued_at.as_secs_f64(),
        count as f64 / queued_at.as_secs_f64()
    );
    println!(
        "sent: {} of {count} in {:.1} s = {:.0} messages/s; busiest number-second {busiest} (limit {rate}/s); sent twice: {}",
        r.total,
        sent.as_secs_f64(),
        r.total as f64 / sent.as_secs_f64(),
        r.twice
    );
    Ok(())
}
