//! Google Calendar: a full sync of a calendar with 5,000 events (pages of
//! 250) and an incremental sync with 10 changes, with the number of requests
//! each makes; and the latency a booking confirmation gains from the fresh
//! free/busy check when Google answers in 150 ms (paid in the worker, never
//! in the webhook). Against a local server speaking the Calendar API's wire
//! format; SQLite file database. `cargo bench --bench google`. Prints
//! numbers; asserts nothing timed.

use axum::extract::{Query, State};
use axum::routing::{get, post};
use nuru::calendar::google::Google;
use nuru::clinic_file::ClinicFile;
use nuru::clock::Clock;
use nuru::config::Config;
use nuru::secrets::Cipher;
use nuru::storage::{GoogleConnection, NewAuditEvent, Store};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const EVENTS: usize = 5000;
const CAL: &str = "doctor@example.org";

#[derive(Clone)]
struct Mock {
    requests: Arc<AtomicU64>,
    /// Events changed after the full read (the incremental sync's answer).
    changed: Arc<AtomicU64>,
}

fn event(i: usize, base: chrono::DateTime<chrono::Utc>) -> Value {
    let start = base + chrono::Duration::minutes(15 * i as i64);
    json!({"id": format!("ev{i}"), "status": "confirmed", "summary": "busy",
        "start": {"dateTime": start.to_rfc3339()}, "end": {"dateTime": (start + chrono::Duration::minutes(10)).to_rfc3339()}})
}

async fn events(State(m): State<Mock>, Query(q): Query<HashMap<String, String>>) -> axum::Json<Value> {
    m.requests.fetch_add(1, Ordering::Relaxed);
    let base: chrono::DateTime<chrono::Utc> = "2026-12-01T00:00:00Z".parse().unwrap();
    if q.contains_key("syncToken") {
        let n = m.changed.load(Ordering::Relaxed) as usize;
        let items: Vec<Value> = (0..n).map(|i| event(i * 7, base + chrono::Duration::minutes(5))).collect();
        return axum::Json(json!({"items": items, "nextSyncToken": "s2"}));
    }
    let offset: usize = q.get("pageToken").and_then(|p| p.parse().ok()).unwrap_or(0);
    let items: Vec<Value> = (offset..(offset + 250).min(EVENTS)).map(|i| event(i, base)).collect();
    let mut answer = json!({"items": items});
    if offset + 250 < EVENTS {
        answer["nextPageToken"] = json!((offset + 250).to_string());
    } else {
        answer["nextSyncToken"] = json!("s1");
    }
    axum::Json(answer)
}

async fn free_busy(State(m): State<Mock>) -> axum::Json<Value> {
    m.requests.fetch_add(1, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(150)).await;
    axum::Json(json!({"calendars": {CAL: {"busy": []}}}))
}

async fn token(State(m): State<Mock>) -> axum::Json<Value> {
    m.requests.fetch_add(1, Ordering::Relaxed);
    axum::Json(json!({"access_token": "at", "expires_in": 3600}))
}

#[tokio::main]
async fn main() {
    nuru::install_crypto_provider();
    let mock = Mock { requests: Arc::default(), changed: Arc::default() };
    let app = axum::Router::new()
        .route("/token", post(token))
        .route("/calendar/v3/calendars/{cal}/events", get(events))
        .route("/calendar/v3/freeBusy", post(free_busy))
        .with_state(mock.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let dir = std::env::temp_dir().join(format!("nuru-bench-google-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = Store::connect(&format!("sqlite://{}/b.db?mode=rwc", dir.display()), None).await.unwrap();
    let cipher = Cipher::random();
    let clock = Clock::fixed("2026-11-30T08:00:00Z".parse().unwrap());
    let demo = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/demo-clinic.toml")).unwrap();
    let catalog = ClinicFile::import(&demo, &store, &cipher, clock.now()).await.unwrap();
    let practitioner = catalog.practitioners[0].id;
    let conn = GoogleConnection {
        practitioner_id: practitioner,
        clinic_id: catalog.clinic.id,
        status: "connected".into(),
        kind: "oauth".into(),
        subject: None,
        refresh_token_enc: cipher.encrypt("rt"),
        scope: String::new(),
        calendars_json: "[]".into(),
        busy_calendars: vec![CAL.into()],
        booking_calendar: None,
        sync_tokens: Default::default(),
        last_sync_at: None,
        last_error: None,
        connected_at: clock.now(),
    };
    let audit = NewAuditEvent {
        actor: None,
        clinic: Some(catalog.clinic.id),
        action: "bench",
        resource: "google",
        resource_id: None,
        outcome: "ok",
    };
    store.save_google_connection(&conn, &audit, clock.now()).await.unwrap();
    let mut config = Config { google_client_id: Some("bench".into()), ..Config::default() };
    config.google_token_url = format!("{url}/token");
    config.google_api_root = format!("{url}/");
    let google = Google::from_config(&config, store.clone(), cipher, clock.clone());

    println!("Google Calendar sync and free/busy (local server, SQLite file)");
    let conn = store.google_connection_of(practitioner).await.unwrap().unwrap();
    let before = mock.requests.load(Ordering::Relaxed);
    let t = Instant::now();
    let r = google.sync(&conn).await.unwrap();
    println!(
        "  full sync, {EVENTS} events: {:.0} ms, {} requests ({} pages + token), {} events applied",
        t.elapsed().as_secs_f64() * 1e3,
        mock.requests.load(Ordering::Relaxed) - before,
        r.pages,
        r.events
    );
    mock.changed.store(10, Ordering::Relaxed);
    let conn = store.google_connection_of(practitioner).await.unwrap().unwrap();
    let before = mock.requests.load(Ordering::Relaxed);
    let t = Instant::now();
    let r = google.sync(&conn).await.unwrap();
    println!(
        "  incremental sync, 10 changes: {:.1} ms, {} request(s), {} events applied",
        t.elapsed().as_secs_f64() * 1e3,
        mock.requests.load(Ordering::Relaxed) - before,
        r.events
    );

    let mut added = Vec::new();
    let start: chrono::DateTime<chrono::Utc> = "2026-12-10T09:00:00Z".parse().unwrap();
    for _ in 0..20 {
        let t = Instant::now();
        google.busy_now(catalog.clinic.id, practitioner, start, start + chrono::Duration::minutes(30)).await.unwrap();
        added.push(t.elapsed());
    }
    added.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "  free/busy check before a booking (Google answering in 150 ms): p50 {:.1} ms, max {:.1} ms added to the turn",
        ms(added[10]),
        ms(added[19])
    );
    let _ = std::fs::remove_dir_all(&dir);
}
