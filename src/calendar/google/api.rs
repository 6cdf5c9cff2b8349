//! The Google Calendar API v3 through google-calendar3: calendars listed,
//! events read page by page (with a sync token), written and deleted,
//! free/busy asked. Only the base URL differs between production and tests.

use super::events::Change;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use google_calendar3::api::{Event, FreeBusyRequest, FreeBusyRequestItem};
use google_calendar3::{CalendarHub, hyper_rustls, hyper_util};
use serde::{Deserialize, Serialize};

type Connector = hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>;

/// One HTTP client for every call (pooled connections), and the API's root.
#[derive(Clone)]
pub struct Api {
    client: google_calendar3::common::Client<Connector>,
    root: String,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api").field("root", &self.root).finish()
    }
}

/// How a call failed, as the callers must react to it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 429, or 403 with a rate-limit reason: back off and try again.
    #[error("rate limited")]
    RateLimited,
    /// 5xx or the network: try again later.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// 404 / 410 on an event or a calendar.
    #[error("not found")]
    NotFound,
    /// 410 on a sync token: the token is too old, sync everything again.
    #[error("full sync required")]
    FullSyncRequired,
    /// 409 on insert: an event with this id exists already.
    #[error("already exists")]
    Duplicate,
    /// 401: the access token is no good (it is refreshed once and retried).
    #[error("unauthorised")]
    Unauthorised,
    /// Anything else: a bug or a setting to fix; retried slowly and shown to staff.
    #[error("refused: {0}")]
    Refused(String),
}

/// A calendar the doctor can pick, as Google lists it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CalendarEntry {
    pub id: String,
    pub summary: String,
    pub primary: bool,
    /// owner, writer, reader or freeBusyReader: bookings need owner or writer.
    pub access_role: String,
    pub time_zone: Option<String>,
}

/// One page of a calendar's events.
#[derive(Debug, Default)]
pub struct Page {
    pub changes: Vec<Change>,
    pub next_page_token: Option<String>,
    pub next_sync_token: Option<String>,
}

fn classify_error(e: google_calendar3::Error) -> ApiError {
    use google_calendar3::Error as E;
    match e {
        E::HttpError(e) => ApiError::Unavailable(e.to_string()),
        E::Io(e) => ApiError::Unavailable(e.to_string()),
        E::BadRequest(v) => {
            let code = v["error"]["code"].as_u64().unwrap_or(400);
            let reason = v["error"]["errors"][0]["reason"].as_str().unwrap_or("").to_string();
            let message = v["error"]["message"].as_str().unwrap_or("").to_string();
            by_status(code as u16, &reason, &message)
        }
        E::Failure(resp) => by_status(resp.status().as_u16(), "", ""),
        E::JsonDecodeError(_, e) => ApiError::Refused(format!("unreadable answer: {e}")),
        other => ApiError::Refused(other.to_string()),
    }
}

fn by_status(code: u16, reason: &str, message: &str) -> ApiError {
    match code {
        401 => ApiError::Unauthorised,
        429 => ApiError::RateLimited,
        403 if reason.contains("ateLimit") || reason == "quotaExceeded" => ApiError::RateLimited,
        404 => ApiError::NotFound,
        409 => ApiError::Duplicate,
        410 if reason == "fullSyncRequired" || message.to_lowercase().contains("sync token") => ApiError::FullSyncRequired,
        410 => ApiError::NotFound,
        500..=599 => ApiError::Unavailable(format!("HTTP {code}")),
        _ => ApiError::Refused(format!("HTTP {code} {reason} {message}").trim().to_string()),
    }
}

impl Api {
    /// `root` is Google's API root (`https://www.googleapis.com/`) or a stand-in's.
    pub fn new(root: &str) -> Self {
        let connector =
            hyper_rustls::HttpsConnectorBuilder::new().with_webpki_roots().https_or_http().enable_http1().enable_http2().build();
        let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector);
        let root = if root.ends_with('/') { root.to_string() } else { format!("{root}/") };
        Self { client, root }
    }

    fn hub(&self, token: &str) -> CalendarHub<Connector> {
        let mut hub = CalendarHub::new(self.client.clone(), token.to_string());
        hub.root_url(self.root.clone());
        hub.base_url(format!("{}calendar/v3/", self.root));
        hub
    }

    pub async fn calendars(&self, token: &str) -> Result<Vec<CalendarEntry>, ApiError> {
        let hub = self.hub(token);
        let mut out = Vec::new();
        let mut page: Option<String> = None;
        loop {
            let mut call = hub.calendar_list().list().max_results(250);
            if let Some(p) = &page {
                call = call.page_token(p);
            }
            let (_, list) = call.doit().await.map_err(classify_error)?;
            for c in list.items.unwrap_or_default() {
                let Some(id) = c.id else { continue };
                out.push(CalendarEntry {
                    summary: c.summary_override.or(c.summary).unwrap_or_else(|| id.clone()),
                    id,
                    primary: c.primary.unwrap_or(false),
                    access_role: c.access_role.unwrap_or_default(),
                    time_zone: c.time_zone,
                });
            }
            page = list.next_page_token;
            if page.is_none() {
                return Ok(out);
            }
        }
    }

    /// One page of events: recurring events expanded, deleted ones included
    /// (so a sync sees them go). Without a sync token, a full read from `since`.
    pub async fn events_page(
        &self,
        token: &str,
        calendar: &str,
        sync_token: Option<&str>,
        page_token: Option<&str>,
        since: DateTime<Utc>,
        zone: Tz,
    ) -> Result<Page, ApiError> {
        let hub = self.hub(token);
        let mut call = hub.events().list(calendar).single_events(true).show_deleted(true).max_results(250);
        call = match sync_token {
            Some(t) => call.sync_token(t),
            None => call.time_min(since),
        };
        if let Some(p) = page_token {
            call = call.page_token(p);
        }
        let (_, events) = call.doit().await.map_err(classify_error)?;
        let changes = events.items.unwrap_or_default().iter().filter_map(|e| super::events::classify(calendar, e, zone)).collect();
        Ok(Page { changes, next_page_token: events.next_page_token, next_sync_token: events.next_sync_token })
    }

    /// Inserts the event with its own id; an event with that id already
    /// there (a retry after a crash) is patched to the same content instead.
    pub async fn put_event(&self, token: &str, calendar: &str, event: Event) -> Result<(), ApiError> {
        let hub = self.hub(token);
        let id = event.id.clone().unwrap_or_default();
        match hub.events().insert(event.clone(), calendar).send_updates("none").doit().await.map_err(classify_error) {
            Ok(_) => Ok(()),
            Err(ApiError::Duplicate) => {
                let patch = Event { id: None, ..event };
                hub.events().patch(patch, calendar, &id).send_updates("none").doit().await.map_err(classify_error).map(|_| ())
            }
            Err(e) => Err(e),
        }
    }

    /// Deletes the event; one already gone (404 / 410) is deleted.
    pub async fn delete_event(&self, token: &str, calendar: &str, event_id: &str) -> Result<(), ApiError> {
        match self.hub(token).events().delete(calendar, event_id).send_updates("none").doit().await.map_err(classify_error) {
            Ok(_) | Err(ApiError::NotFound) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The busy periods of `calendars` between `from` and `to`, asked now.
    pub async fn free_busy(
        &self,
        token: &str,
        calendars: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, DateTime<Utc>)>, ApiError> {
        let request = FreeBusyRequest {
            time_min: Some(from),
            time_max: Some(to),
            items: Some(calendars.iter().map(|c| FreeBusyRequestItem { id: Some(c.clone()) }).collect()),
            ..Default::default()
        };
        let (_, answer) = self.hub(token).freebusy().query(request).doit().await.map_err(classify_error)?;
        let mut busy = Vec::new();
        for (_, cal) in answer.calendars.unwrap_or_default() {
            if cal.errors.as_ref().is_some_and(|e| !e.is_empty()) {
                return Err(ApiError::Refused("free/busy could not read a calendar".into()));
            }
            for p in cal.busy.unwrap_or_default() {
                if let (Some(s), Some(e)) = (p.start, p.end) {
                    busy.push((s, e));
                }
            }
        }
        Ok(busy)
    }
}
