use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine;
use chrono::{DateTime, Utc};
use nuru::channels::twilio::compute_signature;
use nuru::clinic_file::{ClinicFile, DEMO_CLINIC};
use nuru::clock::Clock;
use nuru::config::Config;
use nuru::domain::ClinicCatalog;
use nuru::secrets::Secret;
use nuru::startup::{Application, BuildOptions};
use nuru::storage::Store;
use nuru::worker::Workers;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub const DEMO_TOKEN: &str = "demo-auth-token";
pub const DEMO_ACCOUNT: &str = "ACdemo0000000000000000000000000000";
pub const PUBLIC_BASE: &str = "https://nuru.example.org";

/// A database for one test: a SQLite file in a temporary folder, or a fresh
/// PostgreSQL database when `NURU_TEST_DATABASE_URL` points at a server.
pub struct TestDatabase {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

pub async fn test_database() -> TestDatabase {
    match std::env::var("NURU_TEST_DATABASE_URL") {
        Ok(base) if base.starts_with("postgres") => {
            use sqlx::Connection;
            // CI gives each run its own prefix so that runs sharing a server
            // clean up only their own databases.
            let prefix = std::env::var("NURU_TEST_DATABASE_PREFIX").unwrap_or_else(|_| "nuru_t_".into());
            let name = format!("{prefix}{}", uuid::Uuid::new_v4().simple());
            let mut conn = sqlx::PgConnection::connect(&base).await.expect("PostgreSQL reachable at NURU_TEST_DATABASE_URL");
            sqlx::Executor::execute(&mut conn, sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).await.expect("create test database");
            let (prefix, _) = base.rsplit_once('/').expect("URL ends with /database");
            TestDatabase { url: format!("{prefix}/{name}"), _dir: None }
        }
        _ => {
            let dir = tempfile::tempdir().expect("temp dir");
            TestDatabase { url: format!("sqlite://{}", dir.path().join("nuru.db").display()), _dir: Some(dir) }
        }
    }
}

#[derive(Debug, Clone)]
pub struct Recorded {
    pub account: String,
    pub authorization: String,
    pub fields: Vec<(String, String)>,
}

impl Recorded {
    pub fn field(&self, name: &str) -> &str {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or("")
    }
}

/// How Twilio's API answers during an outage: a status and its `Retry-After` (seconds).
pub type Outage = (u16, Option<u64>);

/// A media file the mock serves: content type and bytes.
pub type MediaFile = (String, Vec<u8>);

/// A local server speaking Twilio's Messages API wire format. It records every
/// request and answers 201 with a message SID, or the scripted answers first.
#[derive(Clone, Default)]
pub struct MockTwilio {
    pub received: Arc<Mutex<Vec<Recorded>>>,
    pub script: Arc<Mutex<VecDeque<(u16, String)>>>,
    counter: Arc<AtomicU64>,
    /// Media served at `/2010-04-01/Accounts/{sid}/Messages/{m}/Media/{id}`
    /// (by id: content type and bytes), as Twilio does: Basic auth of the
    /// account required, then a redirect to `/cdn/{id}` on the same host.
    pub media: Arc<Mutex<std::collections::HashMap<String, MediaFile>>>,
    /// Every media request: path and Authorization header.
    pub media_requests: Arc<Mutex<Vec<(String, String)>>>,
    /// While set, every send is answered with this status (and this
    /// `Retry-After`, in seconds): an outage of Twilio's API.
    pub outage: Arc<Mutex<Option<Outage>>>,
    /// The sends answered 201 (accepted): To and Body.
    pub accepted: Arc<Mutex<Vec<(String, String)>>>,
    /// What `GET …/Messages.json` lists: every accepted message as Twilio
    /// shows it (sid, from, to, body, date_created), oldest first.
    pub listed: Arc<Mutex<Vec<serde_json::Value>>>,
    /// While set, a send is accepted (listed) but its answer never comes in
    /// time: the client gives up, the message was sent.
    pub answer_late: Arc<std::sync::atomic::AtomicBool>,
    /// `GET …/Messages.json` requests received.
    pub lookups: Arc<AtomicU64>,
}

impl MockTwilio {
    pub async fn start() -> (MockTwilio, String) {
        let mock = MockTwilio::default();
        let app = axum::Router::new()
            .route("/2010-04-01/Accounts/{sid}/Messages.json", post(messages).get(list_messages))
            .route("/2010-04-01/Accounts/{sid}/Messages/{message}/Media/{id}", axum::routing::get(media))
            .route("/cdn/{id}", axum::routing::get(cdn))
            .with_state(mock.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (mock, url)
    }

    pub fn bodies(&self) -> Vec<String> {
        self.received.lock().unwrap().iter().map(|r| r.field("Body").to_string()).collect()
    }

    /// Serves a file as media `id` of the demo account; returns its URL.
    pub fn add_media(&self, base: &str, id: &str, content_type: &str, bytes: Vec<u8>) -> String {
        self.media.lock().unwrap().insert(id.to_string(), (content_type.to_string(), bytes));
        format!("{base}/2010-04-01/Accounts/{DEMO_ACCOUNT}/Messages/MM{id}/Media/{id}")
    }

    pub fn answer_next(&self, status: u16, body: &str) {
        self.script.lock().unwrap().push_back((status, body.to_string()));
    }
}

async fn media(
    State(mock): State<MockTwilio>,
    Path((sid, _message, id)): Path<(String, String, String)>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let authorization = headers.get("authorization").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    mock.media_requests.lock().unwrap().push((uri.path().to_string(), authorization.clone()));
    let expected = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{DEMO_ACCOUNT}:{DEMO_TOKEN}")));
    if sid != DEMO_ACCOUNT || authorization != expected {
        return (StatusCode::UNAUTHORIZED, "authenticate").into_response();
    }
    if !mock.media.lock().unwrap().contains_key(&id) {
        return (StatusCode::NOT_FOUND, "no such media").into_response();
    }
    (StatusCode::TEMPORARY_REDIRECT, [("location", format!("/cdn/{id}"))]).into_response()
}

async fn cdn(State(mock): State<MockTwilio>, Path(id): Path<String>, uri: axum::http::Uri, headers: HeaderMap) -> axum::response::Response {
    use axum::response::IntoResponse;
    let authorization = headers.get("authorization").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    mock.media_requests.lock().unwrap().push((uri.path().to_string(), authorization));
    match mock.media.lock().unwrap().get(&id) {
        Some((content_type, bytes)) => (StatusCode::OK, [("content-type", content_type.clone())], bytes.clone()).into_response(),
        None => (StatusCode::NOT_FOUND, "gone").into_response(),
    }
}

async fn messages(
    State(mock): State<MockTwilio>,
    Path(sid): Path<String>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, HeaderMap, String) {
    let fields: Vec<(String, String)> = serde_urlencoded::from_str(&body).unwrap();
    let authorization = headers.get("authorization").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let recorded = Recorded { account: sid.clone(), authorization, fields };
    let (to, body_sent) = (recorded.field("To").to_string(), recorded.field("Body").to_string());
    mock.received.lock().unwrap().push(recorded);
    if let Some((status, retry_after)) = *mock.outage.lock().unwrap() {
        let mut headers = HeaderMap::new();
        if let Some(seconds) = retry_after {
            headers.insert("retry-after", seconds.to_string().parse().unwrap());
        }
        let body = serde_json::json!({"code": if status == 429 { 20429 } else { 20500 }, "message": "unavailable", "status": status});
        return (StatusCode::from_u16(status).unwrap(), headers, body.to_string());
    }
    if let Some((status, body)) = mock.script.lock().unwrap().pop_front() {
        return (StatusCode::from_u16(status).unwrap(), HeaderMap::new(), body);
    }
    let n = mock.counter.fetch_add(1, Ordering::SeqCst);
    let message_sid = format!("SM{n:032}");
    let from = fields_from(&body);
    mock.listed.lock().unwrap().push(serde_json::json!({
        "sid": message_sid, "from": from, "to": to, "body": body_sent,
        "date_created": chrono::Utc::now().to_rfc2822(), "status": "queued"
    }));
    mock.accepted.lock().unwrap().push((to, body_sent));
    if mock.answer_late.load(Ordering::SeqCst) {
        tokio::time::sleep(std::time::Duration::from_secs(20)).await;
    }
    (StatusCode::CREATED, HeaderMap::new(), serde_json::json!({"sid": message_sid, "status": "queued", "account_sid": sid}).to_string())
}

fn fields_from(form: &str) -> String {
    let fields: Vec<(String, String)> = serde_urlencoded::from_str(form).unwrap_or_default();
    fields.into_iter().find(|(k, _)| k == "From").map(|(_, v)| v).unwrap_or_default()
}

/// Twilio's `GET …/Messages.json?To=…&From=…&PageSize=…`: newest first.
async fn list_messages(
    State(mock): State<MockTwilio>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> axum::Json<serde_json::Value> {
    mock.lookups.fetch_add(1, Ordering::SeqCst);
    let messages: Vec<serde_json::Value> = mock
        .listed
        .lock()
        .unwrap()
        .iter()
        .rev()
        .filter(|m| q.get("To").is_none_or(|t| m["to"] == *t) && q.get("From").is_none_or(|f| m["from"] == *f))
        .cloned()
        .collect();
    axum::Json(serde_json::json!({"messages": messages, "page": 0, "page_size": 50, "next_page_uri": null}))
}

pub struct TestApp {
    pub base: String,
    pub store: Store,
    pub workers: Arc<Workers>,
    pub clinic: ClinicCatalog,
    pub twilio: MockTwilio,
    /// Where the app talks to Twilio (the mock).
    pub twilio_url: String,
    pub clock: Clock,
    pub http: reqwest::Client,
    sid_counter: AtomicU64,
    _db: TestDatabase,
}

/// Monday 23 November 2026, 08:00 in Kinshasa.
pub fn monday_morning() -> DateTime<Utc> {
    "2026-11-23T07:00:00Z".parse().unwrap()
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub use nuru::harness::scripts::RULES_CLINIC;

pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_for(DEMO_CLINIC, adjust).await
}

/// The app with `clinic` (a clinic file) loaded instead of the demo clinic.
pub async fn spawn_app_for(clinic: &str, adjust: impl FnOnce(&mut Config)) -> TestApp {
    nuru::install_crypto_provider();
    let db = test_database().await;
    let (twilio, twilio_url) = MockTwilio::start().await;
    let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    let mut config = Config {
        database_url: db.url.clone(),
        listen_addr: "127.0.0.1:0".into(),
        public_base_url: PUBLIC_BASE.into(),
        twilio_api_base: twilio_url.clone(),
        secret_key: Some(Secret::new(key)),
        // Without OCR, as a clinic without Tesseract: the tests that read
        // scans turn it on.
        ocr_command: String::new(),
        ..Config::default()
    };
    adjust(&mut config);
    let clock = Clock::fixed(monday_morning());
    let app = Application::build(config, BuildOptions { outbox_only: false, clock: clock.clone(), background_workers: false })
        .await
        .expect("application builds");
    let state = app.state().clone();
    let clinic = ClinicFile::import(clinic, &state.store, &state.cipher, state.clock.now()).await.expect("clinic file imports");
    let base = format!("http://127.0.0.1:{}", app.port());
    let workers = app.workers();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        base,
        store: state.store.clone(),
        workers,
        clinic,
        twilio,
        twilio_url,
        clock,
        http: reqwest::Client::new(),
        sid_counter: AtomicU64::new(0),
        _db: db,
    }
}

pub fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

impl TestApp {
    /// The database the app under test uses (for the CLI run beside it).
    pub fn database_url(&self) -> &str {
        &self._db.url
    }

    pub fn webhook_path(&self) -> String {
        format!("/webhooks/twilio/{}", self.clinic.clinic.slug)
    }

    /// Posts form fields with the signature Twilio would compute for the public URL.
    pub async fn post_signed(&self, fields: &[(String, String)]) -> reqwest::Response {
        let signature = compute_signature(&format!("{PUBLIC_BASE}{}", self.webhook_path()), fields, DEMO_TOKEN);
        self.post_raw(fields, Some(&signature)).await
    }

    pub async fn post_raw(&self, fields: &[(String, String)], signature: Option<&str>) -> reqwest::Response {
        let mut req = self.http.post(format!("{}{}", self.base, self.webhook_path())).form(fields);
        if let Some(s) = signature {
            req = req.header("X-Twilio-Signature", s);
        }
        req.send().await.expect("request sent")
    }

    /// Every reply stored for the WhatsApp conversation with `phone`, oldest first.
    pub async fn whatsapp_replies(&self, phone: &str) -> Vec<nuru::storage::OutboundRow> {
        let phone = nuru::domain::PhoneNumber::parse(phone).unwrap();
        let conversation = self
            .store
            .conversation_for(
                self.clinic.clinic.id,
                nuru::domain::Channel::WhatsApp,
                &phone,
                nuru::domain::Lang::Fr,
                "{}",
                self.clock.now(),
            )
            .await
            .unwrap();
        self.store.outbound_for_conversation(conversation.id, 0).await.unwrap()
    }

    pub fn next_sid(&self) -> String {
        format!("SM{:032}", self.sid_counter.fetch_add(1, Ordering::SeqCst))
    }

    /// A WhatsApp message as Twilio delivers it.
    /// Records a patient of the clinic, linked to `phones` (E.164).
    pub async fn add_patient(&self, first: &str, last: &str, birth: Option<(i32, u32, u32)>, phones: &[&str]) -> nuru::domain::PatientId {
        let patient = nuru::domain::Patient {
            id: nuru::domain::PatientId::random(),
            clinic_id: self.clinic.clinic.id,
            first_name: first.into(),
            last_name: last.into(),
            birth_date: birth.and_then(|(y, m, d)| chrono::NaiveDate::from_ymd_opt(y, m, d)),
            relation: None,
        };
        let phones: Vec<nuru::domain::PhoneNumber> = phones.iter().map(|p| nuru::domain::PhoneNumber::parse(p).unwrap()).collect();
        let audit = nuru::storage::NewAuditEvent {
            actor: None,
            clinic: Some(self.clinic.clinic.id),
            action: "create",
            resource: "patient",
            resource_id: None,
            outcome: "ok",
        };
        self.store.add_patient(&patient, &phones, &audit, self.clock.now()).await.unwrap();
        patient.id
    }

    /// A WhatsApp message carrying files (URL, content type).
    pub async fn say_with_media(&self, from: &str, body: &str, media: &[(&str, &str)]) -> Vec<String> {
        let before = self.twilio.received.lock().unwrap().len();
        let mut fields = self.whatsapp_fields(&self.next_sid(), from, body);
        fields.retain(|(k, _)| k != "NumMedia");
        fields.push(("NumMedia".into(), media.len().to_string()));
        for (i, (url, content_type)) in media.iter().enumerate() {
            fields.push((format!("MediaUrl{i}"), url.to_string()));
            fields.push((format!("MediaContentType{i}"), content_type.to_string()));
        }
        let response = self.post_signed(&fields).await;
        assert_eq!(response.status(), 200, "webhook accepted");
        self.workers.run_until_idle().await.expect("workers run");
        self.twilio.received.lock().unwrap()[before..].iter().map(|r| r.field("Body").to_string()).collect()
    }

    pub fn whatsapp_fields(&self, sid: &str, from: &str, body: &str) -> Vec<(String, String)> {
        fields(&[
            ("MessageSid", sid),
            ("SmsMessageSid", sid),
            ("AccountSid", DEMO_ACCOUNT),
            ("From", &format!("whatsapp:{from}")),
            ("To", "whatsapp:+14155238886"),
            ("Body", body),
            ("NumMedia", "0"),
            ("NumSegments", "1"),
            ("ProfileName", "Patient"),
            ("WaId", from.trim_start_matches('+')),
        ])
    }

    /// Sends a patient message, lets the workers process it and send the
    /// replies, and returns the replies Twilio received for this turn.
    pub async fn say(&self, from: &str, body: &str) -> Vec<String> {
        let before = self.twilio.received.lock().unwrap().len();
        let response = self.post_signed(&self.whatsapp_fields(&self.next_sid(), from, body)).await;
        assert_eq!(response.status(), 200, "webhook accepted");
        self.workers.run_until_idle().await.expect("workers run");
        self.twilio.received.lock().unwrap()[before..].iter().map(|r| r.field("Body").to_string()).collect()
    }
}
