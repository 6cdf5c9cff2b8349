//! Google Calendar: a local server speaks Google's OAuth token endpoint and
//! the Calendar API v3 as google-calendar3 calls it (same production client,
//! only the base URLs change) and records every request. Runs on SQLite and
//! PostgreSQL like every storage test.

use crate::admin::{Admin, setup_with};
use crate::helpers::*;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use nuru::calendar::google::events::event_id;
use nuru::domain::{AppointmentStatus, PractitionerId};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

const SCOPES: &str = "https://www.googleapis.com/auth/calendar.calendarlist.readonly https://www.googleapis.com/auth/calendar.events https://www.googleapis.com/auth/calendar.freebusy";
const PRIMARY: &str = "kabeya@example.org";
const PATIENT: &str = "+243990000077";

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: HashMap<String, String>,
    pub body: String,
}

#[derive(Default)]
struct Inner {
    requests: Vec<Request>,
    /// The PKCE challenge the consent URL carried, to check the verifier.
    challenge: Option<String>,
    valid_tokens: Vec<String>,
    refresh_ok: bool,
    issued: u64,
    /// Events per calendar: id → (change sequence, event JSON).
    events: BTreeMap<String, BTreeMap<String, (u64, Value)>>,
    seq: u64,
    /// Sync tokens Google no longer accepts (410).
    expired_tokens: Vec<String>,
    /// Answers given to the next Calendar API calls instead of the real one.
    faults: VecDeque<(u16, Value)>,
    /// Workspace users the service account may act as, and the JWT claims received.
    delegated: Vec<String>,
    delegations: Vec<Value>,
    url: String,
}

#[derive(Clone, Default)]
pub struct MockGoogle(Arc<Mutex<Inner>>);

impl MockGoogle {
    pub async fn start() -> (MockGoogle, String) {
        let mock = MockGoogle::default();
        mock.0.lock().unwrap().refresh_ok = true;
        let app = axum::Router::new()
            .route("/token", post(token))
            .route("/revoke", post(revoke))
            .route("/calendar/v3/users/me/calendarList", get(calendar_list))
            .route("/calendar/v3/calendars/{cal}/events", get(list_events).post(insert_event))
            .route("/calendar/v3/calendars/{cal}/events/{id}", axum::routing::patch(patch_event).delete(delete_event))
            .route("/calendar/v3/freeBusy", post(free_busy))
            .with_state(mock.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        mock.0.lock().unwrap().url = url.clone();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (mock, url)
    }

    /// The mock's base URL.
    pub fn requests_url(&self) -> String {
        self.0.lock().unwrap().url.clone()
    }

    pub fn requests(&self) -> Vec<Request> {
        self.0.lock().unwrap().requests.clone()
    }

    fn count(&self, method: &str, path_part: &str) -> usize {
        self.requests().iter().filter(|r| r.method == method && r.path.contains(path_part)).count()
    }

    pub fn put(&self, calendar: &str, event: Value) {
        let mut g = self.0.lock().unwrap();
        g.seq += 1;
        let seq = g.seq;
        let id = event["id"].as_str().unwrap().to_string();
        g.events.entry(calendar.to_string()).or_default().insert(id, (seq, event));
    }

    pub fn event(&self, calendar: &str, id: &str) -> Option<Value> {
        self.0.lock().unwrap().events.get(calendar).and_then(|c| c.get(id)).map(|(_, e)| e.clone())
    }

    /// The doctor deletes an event in Google.
    pub fn cancel(&self, calendar: &str, id: &str) {
        let mut g = self.0.lock().unwrap();
        g.seq += 1;
        let seq = g.seq;
        if let Some(e) = g.events.get_mut(calendar).and_then(|c| c.get_mut(id)) {
            e.1["status"] = json!("cancelled");
            e.0 = seq;
        }
    }

    pub fn fault(&self, status: u16, body: Value) {
        self.0.lock().unwrap().faults.push_back((status, body));
    }

    pub fn expire_sync_tokens(&self) {
        let mut g = self.0.lock().unwrap();
        let seq = g.seq;
        g.expired_tokens.extend((0..=seq).map(|s| format!("s{s}")));
    }

    /// The doctor revoked Nuru's access (or changed their password).
    pub fn revoke_grant(&self) {
        let mut g = self.0.lock().unwrap();
        g.refresh_ok = false;
        g.valid_tokens.clear();
    }
}

fn record(mock: &MockGoogle, method: &str, path: String, query: HashMap<String, String>, body: String) {
    mock.0.lock().unwrap().requests.push(Request { method: method.into(), path, query, body });
}

fn error(code: u16, reason: &str) -> (StatusCode, axum::Json<Value>) {
    (
        StatusCode::from_u16(code).unwrap(),
        axum::Json(
            json!({"error": {"code": code, "message": reason, "errors": [{"domain": "global", "reason": reason, "message": reason}]}}),
        ),
    )
}

/// Checks the bearer token, then any scripted fault.
fn api_gate(mock: &MockGoogle, headers: &HeaderMap) -> Option<(StatusCode, axum::Json<Value>)> {
    let mut g = mock.0.lock().unwrap();
    let token = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).unwrap_or("");
    if !g.valid_tokens.iter().any(|t| t == token) {
        return Some(error(401, "authError"));
    }
    g.faults.pop_front().map(|(status, body)| (StatusCode::from_u16(status).unwrap(), axum::Json(body)))
}

async fn token(State(mock): State<MockGoogle>, body: String) -> (StatusCode, axum::Json<Value>) {
    record(&mock, "POST", "/token".into(), HashMap::new(), body.clone());
    let form: HashMap<String, String> = serde_urlencoded::from_str(&body).unwrap();
    let mut g = mock.0.lock().unwrap();
    let grant = |g: &mut Inner, refresh: bool| {
        g.issued += 1;
        let at = format!("at-{}", g.issued);
        g.valid_tokens.push(at.clone());
        let mut answer = json!({"access_token": at, "expires_in": 3599, "scope": SCOPES, "token_type": "Bearer"});
        if refresh {
            answer["refresh_token"] = json!("rt-secret-1");
        }
        (StatusCode::OK, axum::Json(answer))
    };
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let verifier = form.get("code_verifier").cloned().unwrap_or_default();
            let ok = form.get("code").map(String::as_str) == Some("good-code")
                && g.challenge.as_deref() == Some(&nuru::calendar::google::oauth::pkce_challenge(&verifier))
                && form.get("client_secret").map(String::as_str) == Some("client-secret");
            if !ok {
                return (
                    StatusCode::BAD_REQUEST,
                    axum::Json(json!({"error": "invalid_grant", "error_description": "Bad code or verifier"})),
                );
            }
            grant(&mut g, true)
        }
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer") => {
            // A service account's signed JWT: the claims are read (the
            // signature is yup-oauth2's RS256 with the test key).
            let jwt = form.get("assertion").cloned().unwrap_or_default();
            let parts: Vec<&str> = jwt.split('.').collect();
            use base64::Engine;
            let claims: Value =
                serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
            let header: Value =
                serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
            g.delegations.push(claims.clone());
            if header["alg"] != "RS256" || parts[2].is_empty() || !g.delegated.contains(&claims["sub"].as_str().unwrap_or("").to_string()) {
                return (
                    StatusCode::BAD_REQUEST,
                    axum::Json(
                        json!({"error": "unauthorized_client", "error_description": "Client is unauthorized to retrieve access tokens using this method."}),
                    ),
                );
            }
            grant(&mut g, false)
        }
        Some("refresh_token") if g.refresh_ok && form.get("refresh_token").map(String::as_str) == Some("rt-secret-1") => {
            grant(&mut g, false)
        }
        Some("refresh_token") => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."})),
        ),
        _ => (StatusCode::BAD_REQUEST, axum::Json(json!({"error": "unsupported_grant_type"}))),
    }
}

async fn revoke(State(mock): State<MockGoogle>, body: String) -> StatusCode {
    record(&mock, "POST", "/revoke".into(), HashMap::new(), body);
    mock.revoke_grant();
    StatusCode::OK
}

async fn calendar_list(State(mock): State<MockGoogle>, headers: HeaderMap) -> (StatusCode, axum::Json<Value>) {
    record(&mock, "GET", "/calendarList".into(), HashMap::new(), String::new());
    if let Some(refused) = api_gate(&mock, &headers) {
        return refused;
    }
    (
        StatusCode::OK,
        axum::Json(json!({"kind": "calendar#calendarList", "items": [
            {"id": PRIMARY, "summary": PRIMARY, "primary": true, "accessRole": "owner", "timeZone": "Africa/Kinshasa"},
            {"id": "hospital@group.calendar.google.com", "summary": "Hôpital", "accessRole": "owner", "timeZone": "Africa/Kinshasa"},
            {"id": "fr.cd#holiday@group.v.calendar.google.com", "summary": "Jours fériés", "accessRole": "reader"}
        ]})),
    )
}

async fn list_events(
    State(mock): State<MockGoogle>,
    Path(cal): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> (StatusCode, axum::Json<Value>) {
    record(&mock, "GET", format!("/calendars/{cal}/events"), q.clone(), String::new());
    if let Some(refused) = api_gate(&mock, &headers) {
        return refused;
    }
    let g = mock.0.lock().unwrap();
    let since = match q.get("syncToken") {
        Some(t) if g.expired_tokens.contains(t) => return error(410, "fullSyncRequired"),
        Some(t) => t.trim_start_matches('s').parse::<u64>().unwrap(),
        None => 0,
    };
    let all: Vec<Value> = g
        .events
        .get(&cal)
        .map(|c| c.values().filter(|(s, e)| *s > since && (since > 0 || e["status"] != "cancelled")).map(|(_, e)| e.clone()).collect())
        .unwrap_or_default();
    let size: usize = q.get("maxResults").and_then(|m| m.parse().ok()).unwrap_or(250);
    let offset: usize = q.get("pageToken").and_then(|p| p.parse().ok()).unwrap_or(0);
    let page: Vec<Value> = all.iter().skip(offset).take(size).cloned().collect();
    let mut answer = json!({"kind": "calendar#events", "timeZone": "Africa/Kinshasa", "items": page});
    if offset + size < all.len() {
        answer["nextPageToken"] = json!((offset + size).to_string());
    } else {
        answer["nextSyncToken"] = json!(format!("s{}", g.seq));
    }
    (StatusCode::OK, axum::Json(answer))
}

async fn insert_event(
    State(mock): State<MockGoogle>,
    Path(cal): Path<String>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, axum::Json<Value>) {
    record(&mock, "POST", format!("/calendars/{cal}/events"), HashMap::new(), body.clone());
    if let Some(refused) = api_gate(&mock, &headers) {
        return refused;
    }
    let mut event: Value = serde_json::from_str(&body).unwrap();
    let id = event["id"].as_str().unwrap().to_string();
    if mock.event(&cal, &id).is_some() {
        return error(409, "duplicate");
    }
    event["status"] = json!("confirmed");
    mock.put(&cal, event.clone());
    (StatusCode::OK, axum::Json(event))
}

async fn patch_event(
    State(mock): State<MockGoogle>,
    Path((cal, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, axum::Json<Value>) {
    record(&mock, "PATCH", format!("/calendars/{cal}/events/{id}"), HashMap::new(), body.clone());
    if let Some(refused) = api_gate(&mock, &headers) {
        return refused;
    }
    let Some(mut event) = mock.event(&cal, &id) else { return error(404, "notFound") };
    let patch: Value = serde_json::from_str(&body).unwrap();
    for (k, v) in patch.as_object().unwrap() {
        event[k] = v.clone();
    }
    event["status"] = json!("confirmed");
    mock.put(&cal, event.clone());
    (StatusCode::OK, axum::Json(event))
}

async fn delete_event(
    State(mock): State<MockGoogle>,
    Path((cal, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> (StatusCode, axum::Json<Value>) {
    record(&mock, "DELETE", format!("/calendars/{cal}/events/{id}"), HashMap::new(), String::new());
    if let Some(refused) = api_gate(&mock, &headers) {
        return refused;
    }
    match mock.event(&cal, &id) {
        Some(e) if e["status"] != "cancelled" => {
            mock.cancel(&cal, &id);
            (StatusCode::NO_CONTENT, axum::Json(Value::Null))
        }
        _ => error(410, "deleted"),
    }
}

async fn free_busy(State(mock): State<MockGoogle>, headers: HeaderMap, body: String) -> (StatusCode, axum::Json<Value>) {
    record(&mock, "POST", "/freeBusy".into(), HashMap::new(), body.clone());
    if let Some(refused) = api_gate(&mock, &headers) {
        return refused;
    }
    let req: Value = serde_json::from_str(&body).unwrap();
    let (from, to) = (req["timeMin"].as_str().unwrap().to_string(), req["timeMax"].as_str().unwrap().to_string());
    let parse = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap();
    let mut calendars = serde_json::Map::new();
    for item in req["items"].as_array().unwrap() {
        let cal = item["id"].as_str().unwrap();
        let busy: Vec<Value> = mock
            .0
            .lock()
            .unwrap()
            .events
            .get(cal)
            .map(|c| {
                c.values()
                    .map(|(_, e)| e)
                    .filter(|e| e["status"] != "cancelled" && e["transparency"] != "transparent" && e["start"]["dateTime"].is_string())
                    .filter(|e| {
                        parse(e["start"]["dateTime"].as_str().unwrap()) < parse(&to)
                            && parse(e["end"]["dateTime"].as_str().unwrap()) > parse(&from)
                    })
                    .map(|e| json!({"start": e["start"]["dateTime"], "end": e["end"]["dateTime"]}))
                    .collect()
            })
            .unwrap_or_default();
        calendars.insert(cal.to_string(), json!({"busy": busy}));
    }
    (StatusCode::OK, axum::Json(json!({"kind": "calendar#freeBusy", "timeMin": from, "timeMax": to, "calendars": calendars})))
}

fn timed(id: &str, start: &str, end: &str) -> Value {
    json!({"id": id, "status": "confirmed", "summary": "Déjeuner", "start": {"dateTime": start}, "end": {"dateTime": end}})
}

fn google_config(c: &mut nuru::config::Config, url: &str) {
    c.google_client_id = Some("client-id".into());
    c.google_client_secret = Some(nuru::secrets::Secret::new("client-secret".into()));
    c.google_auth_url = format!("{url}/auth");
    c.google_token_url = format!("{url}/token");
    c.google_revoke_url = format!("{url}/revoke");
    c.google_api_root = format!("{url}/");
}

async fn setup() -> (Admin, MockGoogle, PractitionerId) {
    let (google, url) = MockGoogle::start().await;
    let a = setup_with(|c| google_config(c, &url)).await;
    let kabeya = a.app.clinic.practitioners.iter().find(|p| p.last_name == "Kabeya").unwrap().id;
    (a, google, kabeya)
}

fn query_of(url: &str) -> HashMap<String, String> {
    serde_urlencoded::from_str(url.split_once('?').unwrap().1).unwrap()
}

/// Starts a connection as the clinic admin and follows it through Google's consent.
async fn connect(a: &Admin, google: &MockGoogle, practitioner: PractitionerId) -> HashMap<String, String> {
    let token = a.token("admin@demo.org").await;
    let path = format!("/api/clinics/{}/practitioners/{}/google/connect", a.app.clinic.clinic.id, practitioner);
    let (status, body) = a.send("post", &token, &path, None).await;
    assert_eq!(status, 201, "{body}");
    let q = query_of(body["authorization_url"].as_str().unwrap());
    google.0.lock().unwrap().challenge = Some(q["code_challenge"].clone());
    let callback = format!("{}/oauth/google/callback?state={}&code=good-code", a.app.base, urlencode(&q["state"]));
    let page = a.app.http.get(&callback).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Google Agenda est connecté"));
    q
}

fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("x", s)]).unwrap()[2..].to_string()
}

#[tokio::test]
async fn connecting_a_doctor_uses_pkce_and_a_state_that_works_once() {
    let (a, google, kabeya) = setup().await;
    let q = connect(&a, &google, kabeya).await;
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["access_type"], "offline");
    assert_eq!(q["redirect_uri"], format!("{PUBLIC_BASE}/oauth/google/callback"));
    assert_eq!(q["scope"], SCOPES, "only the scopes used");

    // The code went with the verifier whose S256 is the challenge (the mock checked it).
    let exchange: Vec<Request> = google.requests().into_iter().filter(|r| r.path == "/token").collect();
    assert_eq!(exchange.len(), 1);
    let form: HashMap<String, String> = serde_urlencoded::from_str(&exchange[0].body).unwrap();
    assert_eq!(form["grant_type"], "authorization_code");
    assert_eq!(form["redirect_uri"], format!("{PUBLIC_BASE}/oauth/google/callback"));

    // The state works once: a replay, and a state never issued, are refused without calling Google.
    for state in [q["state"].as_str(), "forged-state"] {
        let page =
            a.app.http.get(format!("{}/oauth/google/callback?state={}&code=good-code", a.app.base, urlencode(state))).send().await.unwrap();
        assert_eq!(page.status(), 400);
        assert!(page.text().await.unwrap().contains("déjà servi ou a expiré"));
    }
    assert_eq!(google.count("POST", "/token"), 1, "no exchange for a replayed or foreign state");

    // The connection: calendars listed, the primary counts and receives bookings; no token shown or stored in clear.
    let token = a.token("admin@demo.org").await;
    let path = format!("/api/clinics/{}/practitioners/{}/google", a.app.clinic.clinic.id, kabeya);
    let (status, body) = a.send("get", &token, &path, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "connected");
    assert_eq!(body["calendars"].as_array().unwrap().len(), 3);
    assert_eq!(body["busy_calendars"], json!([PRIMARY]));
    assert_eq!(body["booking_calendar"], PRIMARY);
    assert!(!body.to_string().contains("rt-secret"), "the refresh token is never returned");
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT refresh_token_enc FROM google_connections").fetch_all(a.app.store.pool()).await.unwrap();
    assert!(!stored[0].contains("rt-secret"), "the refresh token is stored encrypted");

    // The calendar receiving bookings must be writable; another clinic's admin cannot see the connection.
    let choose = format!("{path}/calendars");
    let (status, body) = a
        .send(
            "put",
            &token,
            &choose,
            Some(json!({"busy_calendars": [PRIMARY], "booking_calendar": "fr.cd#holiday@group.v.calendar.google.com"})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, _) =
        a.send("put", &token, &choose, Some(json!({"busy_calendars": ["someone-else@example.org"], "booking_calendar": null}))).await;
    assert_eq!(status, 422);
    let other = a.token("admin@other.org").await;
    assert_eq!(a.send("get", &other, &path, None).await.0, 404);
    // Staff (not admin, not this practitioner) may not manage it.
    let staff = a.token("staff@demo.org").await;
    assert_eq!(a.send("get", &staff, &path, None).await.0, 403);

    // Disconnect revokes at Google and removes the connection.
    assert_eq!(a.send("delete", &token, &path, None).await.0, 204);
    assert_eq!(google.count("POST", "/revoke"), 1);
    assert_eq!(a.send("get", &token, &path, None).await.0, 404);
}

#[tokio::test]
async fn busy_time_comes_in_by_pages_then_by_sync_token_and_again_after_410() {
    let (a, google, kabeya) = setup().await;
    // 300 events on Wednesday nights (two pages of 250), plus the kinds that are not busy.
    for i in 0..300 {
        let start = chrono::DateTime::parse_from_rfc3339("2026-11-25T20:00:00+01:00").unwrap() + chrono::Duration::minutes(i);
        google.put(PRIMARY, timed(&format!("bulk{i}"), &start.to_rfc3339(), &(start + chrono::Duration::minutes(1)).to_rfc3339()));
    }
    google.put(PRIMARY, timed("lunch", "2026-11-24T12:00:00+01:00", "2026-11-24T13:30:00+01:00"));
    let mut transparent = timed("reminder", "2026-11-24T09:00:00+01:00", "2026-11-24T09:30:00+01:00");
    transparent["transparency"] = json!("transparent");
    google.put(PRIMARY, transparent);
    let mut declined = timed("declined", "2026-11-24T10:00:00+01:00", "2026-11-24T11:00:00+01:00");
    declined["attendees"] = json!([{"email": PRIMARY, "self": true, "responseStatus": "declined"}]);
    google.put(PRIMARY, declined);
    google.put(PRIMARY, json!({"id": "congress", "status": "confirmed", "start": {"date": "2026-11-26"}, "end": {"date": "2026-11-27"}}));
    connect(&a, &google, kabeya).await;

    assert!(a.app.workers.google.as_ref().unwrap().sync_due(std::time::Duration::from_secs(60)).await.unwrap());
    let lists: Vec<Request> = google.requests().into_iter().filter(|r| r.path.ends_with("/events") && r.method == "GET").collect();
    assert_eq!(lists.len(), 2, "two pages");
    assert_eq!(lists[0].query["singleEvents"], "true", "recurring events expanded by Google");
    assert_eq!(lists[0].query["showDeleted"], "true");
    assert!(lists[0].query.contains_key("timeMin") && !lists[0].query.contains_key("syncToken"));
    assert_eq!(lists[1].query["pageToken"], "250");

    let busy = |a: &Admin| {
        let store = a.app.store.clone();
        let clinic = a.app.clinic.clinic.id;
        async move {
            let o =
                store.occupancy(clinic, "2026-11-23T00:00:00Z".parse().unwrap(), "2026-12-31T00:00:00Z".parse().unwrap()).await.unwrap();
            o.external.iter().map(|b| (b.start, b.end)).collect::<Vec<_>>()
        }
    };
    let got = busy(&a).await;
    assert_eq!(got.len(), 302, "300 + lunch + the all-day congress; not the transparent or declined ones");
    let at = |s: &str| s.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    assert!(got.contains(&(at("2026-11-24T11:00:00Z"), at("2026-11-24T12:30:00Z"))), "lunch, from Paris time");
    assert!(got.contains(&(at("2026-11-25T23:00:00Z"), at("2026-11-26T23:00:00Z"))), "the all-day event in Kinshasa's day");

    // An hour later the access token has expired: it is refreshed with the stored refresh token.
    a.app.clock.advance(chrono::Duration::hours(1));
    let refreshes = || google.requests().iter().filter(|r| r.path == "/token" && r.body.contains("grant_type=refresh_token")).count();
    assert_eq!(refreshes(), 0);
    // Two changes: the next sync asks with the sync token and gets only them.
    google.cancel(PRIMARY, "lunch");
    google.put(PRIMARY, timed("surgery", "2026-11-27T08:00:00+01:00", "2026-11-27T10:00:00+01:00"));
    a.app.store.google_sync_now(kabeya).await.unwrap();
    assert!(a.app.workers.google.as_ref().unwrap().sync_due(std::time::Duration::from_secs(60)).await.unwrap());
    assert_eq!(refreshes(), 1, "the expired access token was refreshed once");
    let last = google.requests().into_iter().rfind(|r| r.path.ends_with("/events")).unwrap();
    assert!(last.query["syncToken"].starts_with('s'), "incremental");
    let got = busy(&a).await;
    assert_eq!(got.len(), 302, "lunch gone, surgery in");
    assert!(!got.contains(&(at("2026-11-24T11:00:00Z"), at("2026-11-24T12:30:00Z"))));
    assert!(got.contains(&(at("2026-11-27T07:00:00Z"), at("2026-11-27T09:00:00Z"))));

    // Google forgets the token (410): everything is read again, nothing counted twice.
    google.expire_sync_tokens();
    a.app.store.google_sync_now(kabeya).await.unwrap();
    let before = google.requests().len();
    assert!(a.app.workers.google.as_ref().unwrap().sync_due(std::time::Duration::from_secs(60)).await.unwrap());
    let after: Vec<Request> = google.requests()[before..].iter().filter(|r| r.path.ends_with("/events")).cloned().collect();
    assert!(after[0].query.contains_key("syncToken") && !after[1].query.contains_key("syncToken"), "410, then a full read");
    assert_eq!(busy(&a).await.len(), 302);
}

/// Books through the bot, up to the confirmation question.
async fn offer_and_choose(app: &TestApp) {
    let r = app.say(PATIENT, "Bonjour, je voudrais un rdv demain matin pour une consultation").await;
    assert!(r[0].contains("mardi 24 novembre à 08:00"), "{}", r[0]);
    app.say(PATIENT, "1").await;
    app.say(PATIENT, "Awa Mendy").await;
    let r = app.say(PATIENT, "15/05/1990").await;
    assert!(r[0].contains("Répondez 1 pour confirmer") && r[0].contains("Kabeya"), "{}", r[0]);
}

#[tokio::test]
async fn a_slot_taken_in_google_after_the_offer_is_refused_with_alternatives_in_the_same_turn() {
    let (a, google, kabeya) = setup().await;
    connect(&a, &google, kabeya).await;
    offer_and_choose(&a.app).await;
    // Meanwhile the doctor puts a meeting over 08:00 Kinshasa (07:00 UTC) in Google (not synchronised yet).
    google.put(PRIMARY, timed("meeting", "2026-11-24T06:45:00Z", "2026-11-24T07:15:00Z"));
    let r = a.app.say(PATIENT, "oui").await;
    assert!(!r[0].contains("C'est réservé"), "{}", r[0]);
    assert!(r[0].contains("1.") && !r[0].contains("à 08:00 –"), "alternatives without 08:00: {}", r[0]);
    assert!(a.app.store.appointments(a.app.clinic.clinic.id).await.unwrap().is_empty(), "nothing booked");
    let fb: Vec<Request> = google.requests().into_iter().filter(|r| r.path == "/freeBusy").collect();
    assert_eq!(fb.len(), 1);
    let asked: Value = serde_json::from_str(&fb[0].body).unwrap();
    assert_eq!(asked["items"][0]["id"], PRIMARY);
    // The patient picks an alternative: booked after a fresh check.
    let r = a.app.say(PATIENT, "1").await;
    assert!(r[0].contains("Répondez 1"), "{}", r[0]);
    let r = a.app.say(PATIENT, "oui").await;
    assert!(r[0].contains("C'est réservé"), "{}", r[0]);
    let booked = a.app.store.appointments(a.app.clinic.clinic.id).await.unwrap().remove(0);
    assert!(
        booked.practitioner_id != kabeya || booked.starts_at >= "2026-11-24T07:15:00Z".parse::<chrono::DateTime<chrono::Utc>>().unwrap(),
        "not over the meeting"
    );
    // Dr Kabeya's slots are checked again at every confirmation; others have no Google Calendar.
    let checks = if booked.practitioner_id == kabeya { 2 } else { 1 };
    assert_eq!(google.count("POST", "/freeBusy"), checks);
    // The doctor removes the meeting: after the next sync its time is free again.
    google.cancel(PRIMARY, "meeting");
    let g = a.app.workers.google.clone().unwrap();
    assert!(g.sync_due(std::time::Duration::from_secs(60)).await.unwrap());
    let o = a.app.store.occupancy(a.app.clinic.clinic.id, a.app.clock.now(), a.app.clock.now() + chrono::Duration::days(3)).await.unwrap();
    assert!(
        o.external.iter().all(|b| b.start != "2026-11-24T06:45:00Z".parse::<chrono::DateTime<chrono::Utc>>().unwrap()),
        "{:?}",
        o.external
    );
}

#[tokio::test]
async fn bookings_moves_and_cancellations_reach_the_booking_calendar_once_each() {
    let (a, google, kabeya) = setup().await;
    connect(&a, &google, kabeya).await;
    offer_and_choose(&a.app).await;
    a.app.say(PATIENT, "oui").await;
    let appointment = a.app.store.appointments(a.app.clinic.clinic.id).await.unwrap().remove(0);
    let id = event_id(appointment.id);
    let g = a.app.workers.google.clone().unwrap();
    let lease = std::time::Duration::from_secs(60);

    // A crash between Google's answer and the commit: the event is there already.
    google.put(PRIMARY, json!({"id": id, "status": "confirmed", "start": {"dateTime": "2026-11-24T07:00:00Z"}, "end": {"dateTime": "2026-11-24T07:30:00Z"}}));
    assert!(g.write_due(lease).await.unwrap());
    assert!(!g.write_due(lease).await.unwrap(), "nothing left to write");
    let event = google.event(PRIMARY, &id).unwrap();
    assert!(event["summary"].as_str().unwrap().starts_with("RDV — Nuru #"), "{event}");
    assert!(
        !event.to_string().contains("Mendy") && !event.to_string().contains("consultation"),
        "no patient name, no health data: {event}"
    );
    assert_eq!(event["start"]["timeZone"], "Africa/Kinshasa");
    assert_eq!(google.count("POST", "/events"), 1);
    assert_eq!(google.count("PATCH", &id), 1, "the retry found the event and patched it");

    // Staff move it through the admin API: one patch with the new time.
    let token = a.token("admin@demo.org").await;
    let (status, body) = a
        .send(
            "post",
            &token,
            &format!("/api/clinics/{}/appointments/{}/move", a.app.clinic.clinic.id, appointment.id),
            Some(json!({"starts_at": "2026-11-24T08:00:00Z"})),
        )
        .await;
    assert!(status.is_success(), "{status} {body}");
    assert!(g.write_due(lease).await.unwrap());
    assert_eq!(google.event(PRIMARY, &id).unwrap()["start"]["dateTime"], "2026-11-24T08:00:00Z");

    // The patient cancels through the bot: one delete; a second delete (410) counts as done.
    let r = a.app.say(PATIENT, "je veux annuler mon rdv").await;
    assert!(r[0].contains("Répondez 1"), "{}", r[0]);
    a.app.say(PATIENT, "oui").await;
    assert_eq!(a.app.store.appointments(a.app.clinic.clinic.id).await.unwrap()[0].status, AppointmentStatus::Cancelled);
    assert!(g.write_due(lease).await.unwrap());
    assert_eq!(google.event(PRIMARY, &id).unwrap()["status"], "cancelled");
    assert_eq!(google.count("DELETE", &id), 1);
    assert!(!g.write_due(lease).await.unwrap());

    let page = a.app.http.get(format!("{}/metrics", a.app.base)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("nuru_google_calendar_total{outcome=\"writes\"} 3"), "{page}");

    // A clinic that chooses to show names: the next booking's event carries the patient's name, still no reason.
    let (status, _) =
        a.send("patch", &token, &format!("/api/clinics/{}", a.app.clinic.clinic.id), Some(json!({"calendar_patient_names": true}))).await;
    assert_eq!(status, 200);
    let body = json!({"practitioner_id": kabeya, "service_id": appointment.service_id, "patient_id": appointment.patient_id,
        "starts_at": "2026-11-25T08:00:00Z"});
    let (status, created) = a.send("post", &token, &format!("/api/clinics/{}/appointments", a.app.clinic.clinic.id), Some(body)).await;
    assert_eq!(status, 201, "{created}");
    let second = a
        .app
        .store
        .appointments(a.app.clinic.clinic.id)
        .await
        .unwrap()
        .into_iter()
        .find(|x| x.status == AppointmentStatus::Booked)
        .unwrap();
    assert!(g.write_due(lease).await.unwrap());
    let named = google.event(PRIMARY, &event_id(second.id)).unwrap();
    assert!(named["summary"].as_str().unwrap().starts_with("RDV — Awa Mendy — Nuru #"), "{named}");
    assert!(!named.to_string().contains("consultation"), "{named}");
}

#[tokio::test]
async fn rate_limits_back_off_and_a_revoked_grant_needs_the_doctor_again() {
    let (a, google, kabeya) = setup().await;
    connect(&a, &google, kabeya).await;
    offer_and_choose(&a.app).await;
    a.app.say(PATIENT, "oui").await;
    let g = a.app.workers.google.clone().unwrap();
    let lease = std::time::Duration::from_secs(60);
    for _ in 0..3 {
        google.fault(429, json!({"error": {"code": 429, "message": "Rate Limit Exceeded", "errors": [{"reason": "rateLimitExceeded"}]}}));
    }
    google.fault(
        403,
        json!({"error": {"code": 403, "message": "User Rate Limit Exceeded", "errors": [{"reason": "userRateLimitExceeded"}]}}),
    );
    let mut waits = Vec::new();
    for _ in 0..4 {
        assert!(g.write_due(lease).await.unwrap());
        assert!(!g.write_due(lease).await.unwrap(), "not due again before its backoff");
        let due: i64 = sqlx::query_scalar("SELECT due_at FROM calendar_outbox").fetch_one(a.app.store.pool()).await.unwrap();
        waits.push(due - a.app.clock.now().timestamp());
        a.app.clock.advance(chrono::Duration::seconds(due - a.app.clock.now().timestamp()));
    }
    assert!(waits.iter().all(|w| *w >= 1) && waits[3] > waits[0], "growing backoff: {waits:?}");
    assert!(g.write_due(lease).await.unwrap());
    assert_eq!(google.count("POST", "/events"), 5, "four refused, one written");
    assert_eq!(g.metrics.backoffs.load(std::sync::atomic::Ordering::Relaxed), 4);

    // The doctor revokes access: the next refresh gets invalid_grant.
    let synced =
        a.app.store.occupancy(a.app.clinic.clinic.id, a.app.clock.now(), a.app.clock.now() + chrono::Duration::days(30)).await.unwrap();
    google.revoke_grant();
    a.app.store.google_sync_now(kabeya).await.unwrap();
    assert!(g.sync_due(lease).await.unwrap());
    let token = a.token("admin@demo.org").await;
    let path = format!("/api/clinics/{}/practitioners/{}/google", a.app.clinic.clinic.id, kabeya);
    let (_, body) = a.send("get", &token, &path, None).await;
    assert_eq!(body["status"], "needs_reconnect", "{body}");
    assert!(body["note"].as_str().unwrap().contains("stays in place"));
    assert!(body["last_error"].as_str().unwrap().contains("invalid_grant"));
    let (_, stats) = a.send("get", &token, &format!("/api/clinics/{}/stats", a.app.clinic.clinic.id), None).await;
    assert_eq!(stats["calendars_needing_reconnect"], 1, "{stats}");
    // The doctor connects again: the clinic's choice of calendars is kept.
    let path_cal = format!("{path}/calendars");
    let choice = json!({"busy_calendars": [PRIMARY, "hospital@group.calendar.google.com"], "booking_calendar": PRIMARY});
    assert_eq!(a.send("put", &token, &path_cal, Some(choice)).await.0, 204);
    google.0.lock().unwrap().refresh_ok = true;
    connect(&a, &google, kabeya).await;
    let (_, again) = a.send("get", &token, &path, None).await;
    assert_eq!(again["status"], "connected");
    assert_eq!(again["busy_calendars"], json!([PRIMARY, "hospital@group.calendar.google.com"]));
    google.revoke_grant();
    a.app.store.mark_google_needs_reconnect(kabeya, "invalid_grant: test", a.app.clock.now()).await.unwrap();
    // No more calls to Google for this connection until the doctor connects again.
    let before = google.requests().len();
    a.app.store.google_sync_now(kabeya).await.unwrap();
    assert!(!g.sync_due(lease).await.unwrap());
    assert!(!g.write_due(lease).await.unwrap());
    assert_eq!(google.requests().len(), before);
    let kept =
        a.app.store.occupancy(a.app.clinic.clinic.id, a.app.clock.now(), a.app.clock.now() + chrono::Duration::days(30)).await.unwrap();
    assert_eq!(kept.external.len(), synced.external.len(), "the synchronised busy time stays");
}

#[tokio::test]
async fn an_event_the_doctor_deleted_in_google_is_reported_as_a_conflict_not_recreated() {
    let (a, google, kabeya) = setup().await;
    connect(&a, &google, kabeya).await;
    offer_and_choose(&a.app).await;
    a.app.say(PATIENT, "oui").await;
    let g = a.app.workers.google.clone().unwrap();
    let lease = std::time::Duration::from_secs(60);
    assert!(g.write_due(lease).await.unwrap());
    assert!(g.sync_due(lease).await.unwrap());
    let appointment = a.app.store.appointments(a.app.clinic.clinic.id).await.unwrap().remove(0);
    let busy =
        a.app.store.occupancy(a.app.clinic.clinic.id, a.app.clock.now(), a.app.clock.now() + chrono::Duration::days(3)).await.unwrap();
    assert!(busy.external.is_empty(), "Nuru's own event is not counted as busy time on top of the appointment");

    // The doctor drags the event to 10:00, then deletes it: both are reported.
    let mut moved = google.event(PRIMARY, &event_id(appointment.id)).unwrap();
    moved["start"] = json!({"dateTime": "2026-11-24T09:00:00Z"});
    moved["end"] = json!({"dateTime": "2026-11-24T09:30:00Z"});
    google.put(PRIMARY, moved);
    a.app.store.google_sync_now(kabeya).await.unwrap();
    assert!(g.sync_due(lease).await.unwrap());
    google.cancel(PRIMARY, &event_id(appointment.id));
    a.app.store.google_sync_now(kabeya).await.unwrap();
    assert!(g.sync_due(lease).await.unwrap());
    let token = a.token("staff@demo.org").await;
    let (status, body) = a.send("get", &token, &format!("/api/clinics/{}/calendar-conflicts", a.app.clinic.clinic.id), None).await;
    assert_eq!(status, 200);
    assert_eq!(body.as_array().unwrap().len(), 2, "{body}");
    let kinds: Vec<&str> = body.as_array().unwrap().iter().map(|c| c["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"deleted_in_google") && kinds.contains(&"moved_in_google"), "{body}");
    let moved = body.as_array().unwrap().iter().find(|c| c["kind"] == "moved_in_google").unwrap();
    assert_eq!(moved["google_start"], "2026-11-24T09:00:00Z");
    assert_eq!(body[0]["appointment_id"], appointment.id.to_string());
    assert_eq!(a.app.store.appointments(a.app.clinic.clinic.id).await.unwrap()[0].status, AppointmentStatus::Booked, "not dropped");
    assert!(!g.write_due(lease).await.unwrap(), "not re-created");
}

#[tokio::test]
async fn two_nodes_and_a_crash_after_a_claim_write_each_event_exactly_once() {
    let (google, url) = MockGoogle::start().await;
    let a = setup_with(|c| google_config(c, &url)).await;
    let kabeya = a.app.clinic.practitioners.iter().find(|p| p.last_name == "Kabeya").unwrap().id;
    connect(&a, &google, kabeya).await;
    let patient = a.app.add_patient("Awa", "Mendy", Some((1990, 5, 15)), &[PATIENT]).await;
    let service = a.app.clinic.services.iter().find(|s| s.name_fr == "consultation").unwrap().id;
    let token = a.token("admin@demo.org").await;
    for i in 0..6 {
        let start = "2026-11-24T07:00:00Z".parse::<chrono::DateTime<chrono::Utc>>().unwrap() + chrono::Duration::minutes(30 * i);
        let body = json!({"practitioner_id": kabeya, "service_id": service, "patient_id": patient, "starts_at": start});
        let (status, answer) = a.send("post", &token, &format!("/api/clinics/{}/appointments", a.app.clinic.clinic.id), Some(body)).await;
        assert_eq!(status, 201, "{answer}");
    }
    // A second node on the same database, with its own Google client and token cache.
    let mut config = nuru::config::Config::default();
    google_config(&mut config, &url);
    let other = std::sync::Arc::new(nuru::calendar::google::Google::from_config(
        &config,
        a.app.store.clone(),
        a.app.workers.cipher.clone(),
        a.app.clock.clone(),
    ));
    let first = a.app.workers.google.clone().unwrap();
    let lease = std::time::Duration::from_secs(60);
    // A node claims a write and dies before calling Google.
    let now = a.app.clock.now();
    let lost = a.app.store.claim_calendar_write(now, now + chrono::Duration::seconds(60)).await.unwrap().expect("a write is due");
    let drain = |g: std::sync::Arc<nuru::calendar::google::Google>| async move {
        let mut n = 0;
        while g.write_due(lease).await.unwrap() {
            n += 1;
        }
        n
    };
    let (x, y) = tokio::join!(drain(first.clone()), drain(other.clone()));
    assert_eq!(x + y, 5, "the claimed write waits for its lease");
    a.app.clock.advance(chrono::Duration::seconds(61));
    let (x2, y2) = tokio::join!(drain(first), drain(other));
    assert_eq!(x2 + y2, 1, "the lost claim is taken again after its lease");
    assert_eq!(google.count("POST", "/events"), 6, "one insert per appointment, none twice");
    assert!(google.event(PRIMARY, &event_id(lost.appointment_id)).is_some());
    let pending: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM calendar_outbox WHERE done = 0").fetch_one(a.app.store.pool()).await.unwrap();
    assert_eq!(pending, 0);
}

#[tokio::test]
async fn a_workspace_service_account_connects_a_doctor_without_their_consent_and_a_withdrawn_delegation_needs_the_admin() {
    let (a, google, kabeya) = setup().await;
    let url = google.requests_url();
    let mut key: Value = serde_json::from_str(include_str!("../../fixtures/google/test-service-account.json")).unwrap();
    key["token_uri"] = json!(format!("{url}/token"));
    let token = a.token("admin@demo.org").await;
    let clinic = a.app.clinic.clinic.id;
    // Not a key file: refused with the reason.
    let (status, body) =
        a.send("put", &token, &format!("/api/clinics/{clinic}/google/service-account"), Some(json!({"key": {"type": "user"}}))).await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = a.send("put", &token, &format!("/api/clinics/{clinic}/google/service-account"), Some(json!({"key": key}))).await;
    assert_eq!(status, 204, "{body}");
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT key_enc FROM google_service_accounts").fetch_all(a.app.store.pool()).await.unwrap();
    assert!(!stored[0].contains("PRIVATE KEY"), "the key is stored encrypted");

    let path = format!("/api/clinics/{clinic}/practitioners/{kabeya}/google/service-account");
    // Delegation not granted for this user in the Workspace console: said at once.
    let (status, body) = a.send("post", &token, &path, Some(json!({"subject": "kabeya@clinic.example"}))).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("refused the delegation"), "{body}");
    google.0.lock().unwrap().delegated.push("kabeya@clinic.example".into());
    let (status, body) = a.send("post", &token, &path, Some(json!({"subject": "kabeya@clinic.example"}))).await;
    assert_eq!(status, 204, "{body}");
    let claims = google.0.lock().unwrap().delegations.last().cloned().unwrap();
    assert_eq!(claims["sub"], "kabeya@clinic.example");
    assert_eq!(claims["iss"], "nuru-calendar@nuru-tests.iam.gserviceaccount.com");
    assert_eq!(claims["scope"], SCOPES);
    assert_eq!(claims["aud"], format!("{url}/token"));

    // It works like a consented connection: busy time in, bookings out.
    google.put(PRIMARY, timed("lunch", "2026-11-24T12:00:00+01:00", "2026-11-24T13:30:00+01:00"));
    let g = a.app.workers.google.clone().unwrap();
    let lease = std::time::Duration::from_secs(60);
    assert!(g.sync_due(lease).await.unwrap());
    let o = a.app.store.occupancy(clinic, a.app.clock.now(), a.app.clock.now() + chrono::Duration::days(3)).await.unwrap();
    assert_eq!(o.external.len(), 1);
    let (_, view) = a.send("get", &token, &format!("/api/clinics/{clinic}/practitioners/{kabeya}/google"), None).await;
    assert_eq!(view["status"], "connected");

    // The Workspace admin withdraws the delegation: the connection needs the clinic's admin, busy time stays.
    google.revoke_grant();
    google.0.lock().unwrap().delegated.clear();
    a.app.store.google_sync_now(kabeya).await.unwrap();
    assert!(g.sync_due(lease).await.unwrap());
    let (_, view) = a.send("get", &token, &format!("/api/clinics/{clinic}/practitioners/{kabeya}/google"), None).await;
    assert_eq!(view["status"], "needs_reconnect", "{view}");
    let o = a.app.store.occupancy(clinic, a.app.clock.now(), a.app.clock.now() + chrono::Duration::days(3)).await.unwrap();
    assert_eq!(o.external.len(), 1, "busy time kept");
}
