//! Google Calendar as a source and a destination of practitioners' time.
//!
//! - `oauth`: consent URL (PKCE S256, single-use state), code exchange,
//!   refresh, revocation.
//! - `api`: the Calendar API v3 through google-calendar3.
//! - `events`: what an event means for free time, the event that mirrors an
//!   appointment (pure).
//! - this file: `Google`, the service the admin API, the worker and the turn
//!   shell call: connect, sync busy time in, write bookings out, check
//!   free/busy before a booking is confirmed.

pub mod api;
pub mod callback;
pub mod events;
pub mod oauth;
pub mod service_account;

use crate::clock::Clock;
use crate::config::Config;
use crate::domain::{AppointmentStatus, ClinicId, PractitionerId};
use crate::secrets::{Cipher, Secret};
use crate::storage::{BusyChanges, CalendarWrite, GoogleConnection, NewAuditEvent, StorageError, Store};
use api::{Api, ApiError, CalendarEntry};
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use events::Change;
use oauth::{OAuthClient, OAuthError};
use std::collections::HashMap;
use std::sync::Mutex;
use tracing::{info, warn};

/// How long a consent link may wait for the doctor.
const STATE_MINUTES: i64 = 15;
/// A full sync reads events from this far back.
const FULL_SYNC_PAST_DAYS: i64 = 1;

#[derive(Debug, thiserror::Error)]
pub enum GoogleError {
    #[error("the connection needs the doctor again: {0}")]
    NeedsReconnect(String),
    #[error("Google is rate limiting")]
    RateLimited,
    #[error("Google is unavailable: {0}")]
    Unavailable(String),
    #[error("Google refused: {0}")]
    Refused(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<ApiError> for GoogleError {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::RateLimited => GoogleError::RateLimited,
            ApiError::Unavailable(m) => GoogleError::Unavailable(m),
            other => GoogleError::Refused(other.to_string()),
        }
    }
}

/// Why no access token could be had.
#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error(transparent)]
    Token(#[from] OAuthError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<GoogleError> for FetchError {
    fn from(e: GoogleError) -> Self {
        match e {
            GoogleError::Storage(e) => FetchError::Storage(e),
            GoogleError::NeedsReconnect(m) => FetchError::Token(OAuthError::InvalidGrant(m)),
            GoogleError::Unavailable(m) => FetchError::Token(OAuthError::Unavailable(m)),
            other => FetchError::Token(OAuthError::Refused(other.to_string())),
        }
    }
}

/// Why a callback did not connect anything.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("this link is unknown, used already or expired")]
    UnknownState,
    #[error("Google did not give the access asked for: {0}")]
    Denied(String),
    #[error("Google gave no refresh token")]
    NoRefreshToken,
    #[error(transparent)]
    Google(#[from] GoogleError),
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct GoogleMetrics {
    pub sync_runs: std::sync::atomic::AtomicU64,
    pub events_read: std::sync::atomic::AtomicU64,
    pub writes: std::sync::atomic::AtomicU64,
    pub failures: std::sync::atomic::AtomicU64,
    pub backoffs: std::sync::atomic::AtomicU64,
    pub requests: std::sync::atomic::AtomicU64,
}

impl GoogleMetrics {
    /// The counts, named as `/metrics` shows them.
    pub fn snapshot(&self) -> [(&'static str, u64); 6] {
        let r = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
        [
            ("sync_runs", r(&self.sync_runs)),
            ("events_read", r(&self.events_read)),
            ("writes", r(&self.writes)),
            ("failures", r(&self.failures)),
            ("backoffs", r(&self.backoffs)),
            ("requests", r(&self.requests)),
        ]
    }
}

fn bump(c: &std::sync::atomic::AtomicU64, n: u64) {
    c.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
}

/// An access token held in memory, with when it expires.
type HeldToken = (Secret<String>, DateTime<Utc>);

pub struct Google {
    /// The deployment's OAuth client (doctors consent one by one); absent,
    /// only Workspace service accounts connect.
    oauth: Option<OAuthClient>,
    token_url: String,
    /// Service-account authenticators per practitioner (they cache tokens).
    delegated: Mutex<HashMap<PractitionerId, std::sync::Arc<service_account::Authenticator>>>,
    api: Api,
    store: Store,
    cipher: Cipher,
    clock: Clock,
    sync_every: Duration,
    tokens: Mutex<HashMap<PractitionerId, HeldToken>>,
    pub metrics: GoogleMetrics,
}

impl std::fmt::Debug for Google {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Google").field("oauth", &self.oauth).field("api", &self.api).finish_non_exhaustive()
    }
}

/// What a sync did, for the CLI and the tests.
#[derive(Debug, Default, Clone, Copy)]
pub struct SyncReport {
    pub calendars: usize,
    pub events: usize,
    pub pages: usize,
    pub full: bool,
}

impl Google {
    /// Doctors connect by consent when the deployment has a Google OAuth
    /// client; a Workspace clinic's service account works without one.
    pub fn from_config(config: &Config, store: Store, cipher: Cipher, clock: Clock) -> Self {
        let oauth = config.google_client_id.clone().filter(|c| !c.is_empty()).map(|client_id| {
            let secret = config.google_client_secret.clone().unwrap_or_else(|| Secret::new(String::new()));
            let redirect = format!("{}/oauth/google/callback", config.public_base_url.trim_end_matches('/'));
            OAuthClient::new(
                client_id,
                secret,
                [config.google_auth_url.clone(), config.google_token_url.clone(), config.google_revoke_url.clone()],
                redirect,
            )
        });
        Self {
            oauth,
            token_url: config.google_token_url.clone(),
            delegated: Mutex::new(HashMap::new()),
            api: Api::new(&config.google_api_root),
            store,
            cipher,
            clock,
            sync_every: Duration::seconds(config.google_sync_seconds.max(10) as i64),
            tokens: Mutex::new(HashMap::new()),
            metrics: GoogleMetrics::default(),
        }
    }

    /// Whether doctors can connect by consent (an OAuth client is configured).
    pub fn offers_consent(&self) -> bool {
        self.oauth.is_some()
    }

    /// Stores a Workspace clinic's service account key, encrypted, after
    /// checking it is one.
    pub async fn set_service_account(
        &self,
        clinic: ClinicId,
        key_json: &str,
        audit: &NewAuditEvent<'_>,
    ) -> Result<Result<(), String>, StorageError> {
        let key = match service_account::parse_key(key_json, &self.token_url) {
            Ok(k) => k,
            Err(why) => return Ok(Err(why)),
        };
        self.delegated.lock().expect("authenticators").clear();
        self.store.set_google_service_account(clinic, &key.client_email, &self.cipher.encrypt(key_json), audit, self.clock.now()).await?;
        Ok(Ok(()))
    }

    /// Connects a practitioner through the clinic's service account, acting
    /// as `subject` (their Workspace address): a token is asked at once (so
    /// a delegation not granted is said now), then their calendars listed.
    pub async fn connect_service_account(
        &self,
        clinic: ClinicId,
        practitioner: PractitionerId,
        subject: &str,
        audit: &NewAuditEvent<'_>,
    ) -> Result<(), ConnectError> {
        let auth = self.delegated_authenticator(clinic, subject).await?;
        let token = service_account::token(&auth).await.map_err(|e| match e {
            OAuthError::InvalidGrant(m) | OAuthError::Refused(m) => ConnectError::Denied(m),
            OAuthError::Unavailable(m) => ConnectError::Google(GoogleError::Unavailable(m)),
        })?;
        let calendars = self.api.calendars(&token).await.map_err(GoogleError::from)?;
        let now = self.clock.now();
        let connection = GoogleConnection {
            kind: crate::storage::SERVICE_ACCOUNT.into(),
            subject: Some(subject.to_string()),
            scope: oauth::SCOPES.join(" "),
            ..new_connection(clinic, practitioner, &calendars, now)
        };
        self.store.save_google_connection(&connection, audit, now).await.map_err(GoogleError::from)?;
        self.delegated.lock().expect("authenticators").insert(practitioner, auth);
        Ok(())
    }

    async fn delegated_authenticator(
        &self,
        clinic: ClinicId,
        subject: &str,
    ) -> Result<std::sync::Arc<service_account::Authenticator>, GoogleError> {
        let (_, key_enc) = self
            .store
            .google_service_account(clinic)
            .await?
            .ok_or_else(|| GoogleError::NeedsReconnect("the clinic has no service account key".into()))?;
        let key_json = self.cipher.decrypt(&key_enc).map_err(|_| GoogleError::NeedsReconnect("stored key unreadable".into()))?;
        let key = service_account::parse_key(key_json.expose(), &self.token_url).map_err(GoogleError::NeedsReconnect)?;
        let auth = service_account::authenticator(key, subject).await.map_err(|e| GoogleError::Refused(e.to_string()))?;
        Ok(std::sync::Arc::new(auth))
    }

    /// Starts a connection for a practitioner: a single-use state bound to
    /// them, the PKCE verifier kept encrypted, and Google's consent URL.
    pub async fn start_connection(
        &self,
        clinic: ClinicId,
        practitioner: PractitionerId,
        audit: &NewAuditEvent<'_>,
    ) -> Result<(String, DateTime<Utc>), StorageError> {
        let now = self.clock.now();
        let state = crate::secrets::random_token();
        let Some(client) = &self.oauth else { return Err(StorageError::NotFound("Google OAuth client")) };
        let (verifier, challenge) = oauth::pkce_pair();
        let expires = now + Duration::minutes(STATE_MINUTES);
        let record = crate::storage::OAuthState {
            clinic_id: clinic,
            practitioner_id: practitioner,
            verifier_enc: self.cipher.encrypt(&verifier),
            created_by: audit.actor.map(|a| a.to_string()).unwrap_or_default(),
        };
        self.store.save_oauth_state(&oauth::state_hash(&state), &record, expires, audit, now).await?;
        Ok((client.consent_url(&state, &challenge), expires))
    }

    /// Google's redirect: the state is taken (once), the code exchanged with
    /// its verifier, the refresh token stored encrypted, the calendars listed.
    /// The primary calendar counts as busy and receives bookings until the
    /// clinic chooses otherwise.
    pub async fn finish_connection(&self, state: &str, code: &str) -> Result<(ClinicId, PractitionerId), ConnectError> {
        let now = self.clock.now();
        let taken = self.store.take_oauth_state(&oauth::state_hash(state), now).await.map_err(GoogleError::from)?;
        let taken = taken.ok_or(ConnectError::UnknownState)?;
        let verifier = self.cipher.decrypt(&taken.verifier_enc).map_err(|_| ConnectError::UnknownState)?;
        let client = self.oauth.as_ref().ok_or(ConnectError::UnknownState)?;
        let tokens = client.exchange_code(code, verifier.expose()).await.map_err(|e| match e {
            OAuthError::InvalidGrant(m) | OAuthError::Refused(m) => ConnectError::Denied(m),
            OAuthError::Unavailable(m) => ConnectError::Google(GoogleError::Unavailable(m)),
        })?;
        let granted = tokens.scope.clone().unwrap_or_default();
        if let Some(missing) = oauth::SCOPES.iter().find(|s| !granted.split(' ').any(|g| g == **s)) {
            return Err(ConnectError::Denied(format!("scope {missing} was not granted")));
        }
        let refresh = tokens.refresh_token.clone().ok_or(ConnectError::NoRefreshToken)?;
        let calendars = self.api.calendars(tokens.access_token.expose()).await.map_err(GoogleError::from)?;
        bump(&self.metrics.requests, 2);
        let mut connection = GoogleConnection {
            refresh_token_enc: self.cipher.encrypt(refresh.expose()),
            scope: granted,
            ..new_connection(taken.clinic_id, taken.practitioner_id, &calendars, now)
        };
        // Connecting again (after "needs reconnect") keeps the clinic's
        // choice of calendars, as far as they still exist.
        if let Some(old) = self.store.google_connection(taken.clinic_id, taken.practitioner_id).await.map_err(GoogleError::from)? {
            let listed = |id: &String| calendars.iter().any(|c| &c.id == id);
            let busy: Vec<String> = old.busy_calendars.into_iter().filter(listed).collect();
            if !busy.is_empty() || old.booking_calendar.is_some() {
                connection.busy_calendars = busy;
                connection.booking_calendar = old.booking_calendar.filter(listed);
            }
        }
        let actor = uuid::Uuid::parse_str(&taken.created_by).ok();
        let id = taken.practitioner_id.to_string();
        let audit = NewAuditEvent {
            actor,
            clinic: Some(taken.clinic_id),
            action: "connect",
            resource: "google_calendar",
            resource_id: Some(&id),
            outcome: "ok",
        };
        self.store.save_google_connection(&connection, &audit, now).await.map_err(GoogleError::from)?;
        let expires = now + Duration::seconds(tokens.expires_in.unwrap_or(3600));
        self.tokens.lock().expect("tokens").insert(taken.practitioner_id, (tokens.access_token, expires));
        info!(practitioner = %taken.practitioner_id, calendars = calendars.len(), "Google Calendar connected");
        Ok((taken.clinic_id, taken.practitioner_id))
    }

    /// Disconnect: the grant is revoked at Google (best effort: a revocation
    /// that fails is logged, the connection goes anyway).
    pub async fn disconnect(
        &self,
        clinic: ClinicId,
        practitioner: PractitionerId,
        audit: &NewAuditEvent<'_>,
    ) -> Result<bool, StorageError> {
        let Some(conn) = self.store.google_connection(clinic, practitioner).await? else { return Ok(false) };
        if let Some(client) = &self.oauth
            && conn.kind == crate::storage::OAUTH
            && let Ok(token) = self.cipher.decrypt(&conn.refresh_token_enc)
            && let Err(e) = client.revoke(token.expose()).await
        {
            warn!(practitioner = %practitioner, error = %e, "Google revocation failed; the connection is removed anyway");
        }
        self.tokens.lock().expect("tokens").remove(&practitioner);
        self.delegated.lock().expect("authenticators").remove(&practitioner);
        self.store.delete_google_connection(clinic, practitioner, audit, self.clock.now()).await
    }

    /// A valid access token for the connection, refreshed when needed. A
    /// refused grant (or delegation) marks the connection "needs reconnect".
    async fn access_token(&self, conn: &GoogleConnection, force: bool) -> Result<String, GoogleError> {
        match self.fetch_token(conn, force).await {
            Ok(t) => Ok(t),
            Err(FetchError::Storage(e)) => Err(GoogleError::Storage(e)),
            Err(FetchError::Token(OAuthError::InvalidGrant(m))) => {
                warn!(practitioner = %conn.practitioner_id, kind = %conn.kind, "Google refused the grant; the connection needs the doctor or the admin again");
                self.tokens.lock().expect("tokens").remove(&conn.practitioner_id);
                self.delegated.lock().expect("authenticators").remove(&conn.practitioner_id);
                self.store.mark_google_needs_reconnect(conn.practitioner_id, &format!("invalid_grant: {m}"), self.clock.now()).await?;
                Err(GoogleError::NeedsReconnect(m))
            }
            Err(FetchError::Token(OAuthError::Refused(m))) => Err(GoogleError::Refused(m)),
            Err(FetchError::Token(OAuthError::Unavailable(m))) => Err(GoogleError::Unavailable(m)),
        }
    }

    /// The token from the service account's authenticator, or from the
    /// refresh token (kept in memory until a minute before it expires).
    async fn fetch_token(&self, conn: &GoogleConnection, force: bool) -> Result<String, FetchError> {
        let now = self.clock.now();
        if conn.kind == crate::storage::SERVICE_ACCOUNT {
            let held = if force { None } else { self.delegated.lock().expect("authenticators").get(&conn.practitioner_id).cloned() };
            let auth = match held {
                Some(a) => a,
                None => {
                    let subject = conn.subject.clone().unwrap_or_default();
                    let a = self.delegated_authenticator(conn.clinic_id, &subject).await?;
                    self.delegated.lock().expect("authenticators").insert(conn.practitioner_id, a.clone());
                    a
                }
            };
            bump(&self.metrics.requests, 1);
            return Ok(service_account::token(&auth).await?);
        }
        let Some(client) = &self.oauth else {
            return Err(FetchError::Token(OAuthError::InvalidGrant("this deployment has no Google OAuth client".into())));
        };
        if !force
            && let Some((token, expires)) = self.tokens.lock().expect("tokens").get(&conn.practitioner_id)
            && *expires > now + Duration::seconds(60)
        {
            return Ok(token.expose().clone());
        }
        let refresh = self
            .cipher
            .decrypt(&conn.refresh_token_enc)
            .map_err(|_| FetchError::Token(OAuthError::InvalidGrant("stored token unreadable".into())))?;
        bump(&self.metrics.requests, 1);
        let t = client.refresh(refresh.expose()).await?;
        let expires = now + Duration::seconds(t.expires_in.unwrap_or(3600));
        let token = t.access_token.expose().clone();
        self.tokens.lock().expect("tokens").insert(conn.practitioner_id, (t.access_token, expires));
        Ok(token)
    }

    /// Runs `call` with an access token; a 401 refreshes the token once.
    async fn with_token<T, F, Fut>(&self, conn: &GoogleConnection, call: F) -> Result<T, GoogleError>
    where
        F: Fn(String) -> Fut,
        Fut: std::future::Future<Output = Result<T, ApiError>>,
    {
        let token = self.access_token(conn, false).await?;
        bump(&self.metrics.requests, 1);
        match call(token).await {
            Err(ApiError::Unauthorised) => {
                let token = self.access_token(conn, true).await?;
                bump(&self.metrics.requests, 1);
                call(token).await.map_err(GoogleError::from)
            }
            other => other.map_err(GoogleError::from),
        }
    }

    fn zone_of(conn: &GoogleConnection, calendar: &str, fallback: Tz) -> Tz {
        serde_json::from_str::<Vec<CalendarEntry>>(&conn.calendars_json)
            .ok()
            .and_then(|cals| cals.into_iter().find(|c| c.id == calendar))
            .and_then(|c| c.time_zone)
            .and_then(|z| z.parse().ok())
            .unwrap_or(fallback)
    }

    /// Reads the busy calendars' changes since their sync tokens (everything
    /// when there is none, or when Google answers 410), and applies them.
    pub async fn sync(&self, conn: &GoogleConnection) -> Result<SyncReport, GoogleError> {
        let clinic = self.store.clinic(conn.clinic_id).await?;
        let mut report = SyncReport { calendars: conn.busy_calendars.len(), ..Default::default() };
        for calendar in &conn.busy_calendars {
            let zone = Self::zone_of(conn, calendar, clinic.timezone);
            let mut token = conn.sync_tokens.get(calendar).cloned();
            'attempt: loop {
                let since = self.clock.now() - Duration::days(FULL_SYNC_PAST_DAYS);
                let mut changes = BusyChanges { full: token.is_none(), ..Default::default() };
                let mut page: Option<String> = None;
                let next_sync = loop {
                    let result = self
                        .with_token(conn, |t| {
                            let (token, page) = (token.clone(), page.clone());
                            async move { self.api.events_page(&t, calendar, token.as_deref(), page.as_deref(), since, zone).await }
                        })
                        .await;
                    let got = match result {
                        Ok(p) => p,
                        Err(GoogleError::Refused(m)) if m == ApiError::FullSyncRequired.to_string() => {
                            info!(practitioner = %conn.practitioner_id, "sync token expired (410); full sync");
                            token = None;
                            continue 'attempt;
                        }
                        Err(e) => return Err(e),
                    };
                    report.pages += 1;
                    report.events += got.changes.len();
                    for change in got.changes {
                        match change {
                            Change::Busy { key, start, end } => changes.busy.push((key, start, end)),
                            Change::Free { key } => changes.free.push(key),
                            Change::Own { appointment, start, cancelled } => {
                                changes.conflicts.push((appointment, if cancelled { None } else { start }))
                            }
                        }
                    }
                    match got.next_page_token {
                        Some(p) => page = Some(p),
                        None => break got.next_sync_token,
                    }
                };
                report.full |= changes.full;
                bump(&self.metrics.events_read, (changes.busy.len() + changes.free.len()) as u64);
                self.store.apply_google_sync(conn.practitioner_id, calendar, &changes, next_sync.as_deref(), self.clock.now()).await?;
                break;
            }
        }
        bump(&self.metrics.sync_runs, 1);
        Ok(report)
    }

    /// One worker step: the connection whose sync is due longest is synced.
    /// False when none was due.
    pub async fn sync_due(&self, lease: std::time::Duration) -> Result<bool, StorageError> {
        let now = self.clock.now();
        let lease_until = now + Duration::from_std(lease).unwrap_or(Duration::seconds(60));
        let Some(conn) = self.store.claim_google_sync(now, lease_until).await? else { return Ok(false) };
        let outcome = self.sync(&conn).await;
        let next = self.clock.now() + jittered(self.sync_every);
        match outcome {
            Ok(r) => {
                info!(practitioner = %conn.practitioner_id, events = r.events, pages = r.pages, full = r.full, "Google Calendar synced");
                self.store.finish_google_sync(conn.practitioner_id, next, None, self.clock.now()).await?;
            }
            Err(GoogleError::Storage(e)) => return Err(e),
            Err(GoogleError::NeedsReconnect(_)) => {}
            Err(e) => {
                bump(&self.metrics.failures, 1);
                if matches!(e, GoogleError::RateLimited) {
                    bump(&self.metrics.backoffs, 1);
                }
                warn!(practitioner = %conn.practitioner_id, error = %e, "Google Calendar sync failed");
                self.store.finish_google_sync(conn.practitioner_id, next, Some(&e.to_string()), self.clock.now()).await?;
            }
        }
        Ok(true)
    }

    /// One worker step: the oldest due event write goes to Google. False
    /// when none was due.
    pub async fn write_due(&self, lease: std::time::Duration) -> Result<bool, StorageError> {
        let now = self.clock.now();
        let lease_until = now + Duration::from_std(lease).unwrap_or(Duration::seconds(60));
        let Some(w) = self.store.claim_calendar_write(now, lease_until).await? else { return Ok(false) };
        match self.write(&w).await {
            Ok(()) => {
                bump(&self.metrics.writes, 1);
                self.store.finish_calendar_write(&w, self.clock.now()).await?;
            }
            Err(GoogleError::Storage(e)) => return Err(e),
            Err(e) => {
                bump(&self.metrics.failures, 1);
                let ended = self.clock.now();
                let at = match e {
                    GoogleError::RateLimited | GoogleError::Unavailable(_) => {
                        bump(&self.metrics.backoffs, 1);
                        match crate::retry::Backoff::CALENDAR.next(w.claim.attempts, ended, ended, None, rand::random()) {
                            crate::retry::Next::RetryAt(at) => at,
                            crate::retry::Next::GiveUp => ended + Duration::hours(1),
                        }
                    }
                    _ => ended + Duration::hours(1),
                };
                warn!(appointment = %w.appointment_id, error = %e, retry_in_s = (at - ended).num_seconds(), "calendar write failed");
                self.store.retry_calendar_write(&w, at, &e.to_string()).await?;
            }
        }
        Ok(true)
    }

    async fn write(&self, w: &CalendarWrite) -> Result<(), GoogleError> {
        let Some(conn) = self.store.google_connection_of(w.practitioner_id).await? else { return Ok(()) };
        let Some(calendar) = conn.booking_calendar.clone() else { return Ok(()) };
        let clinic = self.store.clinic(w.clinic_id).await?;
        let appointment = self.store.appointment(w.clinic_id, w.appointment_id).await?;
        let id = events::event_id(w.appointment_id);
        match appointment {
            Some(a) if a.status == AppointmentStatus::Booked && a.practitioner_id == w.practitioner_id => {
                let patient = match clinic.calendar_patient_names {
                    true => self
                        .store
                        .patient(w.clinic_id, a.patient_id)
                        .await?
                        .filter(|p| !p.erased)
                        .map(|p| format!("{} {}", p.patient.first_name, p.patient.last_name).trim().to_string()),
                    false => None,
                };
                let event =
                    events::appointment_event(a.id, a.starts_at, a.ends_at, clinic.timezone, clinic.default_language, patient.as_deref());
                self.with_token(&conn, |t| {
                    let (event, calendar) = (event.clone(), calendar.clone());
                    async move { self.api.put_event(&t, &calendar, event).await }
                })
                .await
            }
            _ => {
                self.with_token(&conn, |t| {
                    let (calendar, id) = (calendar.clone(), id.clone());
                    async move { self.api.delete_event(&t, &calendar, &id).await }
                })
                .await
            }
        }
    }

    /// Right before a booking is confirmed: Google's busy periods of the
    /// practitioner's busy calendars that overlap `[start, end)`, asked now
    /// (they are also recorded as busy time, so the alternatives offered
    /// next avoid them). Empty when the practitioner has no usable
    /// connection or Google cannot answer: the synchronised busy time then
    /// stands alone, and the booking is not refused for Google's silence.
    pub async fn busy_now(
        &self,
        clinic: ClinicId,
        practitioner: PractitionerId,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, DateTime<Utc>)>, StorageError> {
        let Some(conn) = self.store.google_connection(clinic, practitioner).await? else { return Ok(Vec::new()) };
        if conn.status != crate::storage::CONNECTED || conn.busy_calendars.is_empty() {
            return Ok(Vec::new());
        }
        let calendars = conn.busy_calendars.clone();
        let answer = self
            .with_token(&conn, |t| {
                let calendars = calendars.clone();
                async move { self.api.free_busy(&t, &calendars, start, end).await }
            })
            .await;
        let busy: Vec<_> = match answer {
            Ok(b) => b.into_iter().filter(|(s, e)| *s < end && *e > start).collect(),
            Err(GoogleError::Storage(e)) => return Err(e),
            Err(e) => {
                warn!(practitioner = %practitioner, error = %e, "free/busy check failed; booking on the synchronised busy time");
                return Ok(Vec::new());
            }
        };
        if !busy.is_empty() {
            self.store.note_google_busy(clinic, practitioner, &busy, self.clock.now()).await?;
        }
        Ok(busy)
    }
}

/// A new connection with the calendars Google listed: the primary calendar
/// counts as busy and receives bookings until the clinic chooses otherwise.
fn new_connection(clinic: ClinicId, practitioner: PractitionerId, calendars: &[CalendarEntry], now: DateTime<Utc>) -> GoogleConnection {
    let primary = calendars.iter().find(|c| c.primary).map(|c| c.id.clone());
    GoogleConnection {
        practitioner_id: practitioner,
        clinic_id: clinic,
        status: crate::storage::CONNECTED.into(),
        kind: crate::storage::OAUTH.into(),
        subject: None,
        refresh_token_enc: String::new(),
        scope: String::new(),
        calendars_json: serde_json::to_string(calendars).expect("json"),
        busy_calendars: primary.iter().cloned().collect(),
        booking_calendar: primary,
        sync_tokens: Default::default(),
        last_sync_at: None,
        last_error: None,
        connected_at: now,
    }
}

/// The sync interval with ±20 % jitter, so connections spread out.
fn jittered(every: Duration) -> Duration {
    let ms = every.num_milliseconds().max(1000) as f64;
    Duration::milliseconds((ms * rand::random_range(0.8..1.2)) as i64)
}
