//! Practitioners' Google Calendar connections: start one (Google's consent
//! URL), see its state, choose which calendars count as busy and which one
//! receives bookings, synchronise now, disconnect; and the conflicts found
//! when a doctor moved or deleted in Google an event Nuru wrote.
//!
//! A clinic admin manages every practitioner's connection; a member with the
//! practitioner role manages their own only.

use super::audit_event;
use crate::admin::auth::{Caller, ClinicAccess, roles};
use crate::admin::error::{ApiError, ApiJson, ApiPath, ApiResult, ErrorBody, Refusals};
use crate::app_state::AppState;
use crate::calendar::google::api::CalendarEntry;
use crate::domain::*;
use crate::storage::ClinicRole;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectStarted {
    /// Open this in the doctor's browser: Google asks them to consent, then
    /// sends them back to `/oauth/google/callback`.
    pub authorization_url: String,
    /// The link works once, until then.
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GoogleCalendarView {
    pub id: String,
    pub summary: String,
    pub primary: bool,
    /// owner, writer, reader or freeBusyReader. Bookings need owner or writer.
    pub access_role: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GoogleConnectionView {
    /// connected, or needs_reconnect (Google refused the grant: the doctor
    /// must connect again; nothing is retried until then).
    pub status: String,
    pub connected_at: DateTime<Utc>,
    pub calendars: Vec<GoogleCalendarView>,
    pub busy_calendars: Vec<String>,
    pub booking_calendar: Option<String>,
    pub last_sync_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// Bookings, moves and cancellations not yet written to Google.
    pub pending_writes: i64,
    /// What happens to busy time while the connection needs the doctor.
    pub note: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarChoice {
    /// Calendars whose events make the practitioner busy.
    #[schema(max_items = 20)]
    pub busy_calendars: Vec<String>,
    /// The calendar that receives bookings (owner or writer access); null
    /// for none.
    pub booking_calendar: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceAccountKeyInput {
    /// The service account's key file as Google's console gives it (JSON,
    /// "type": "service_account"). Stored encrypted, never returned.
    #[schema(value_type = Object)]
    pub key: serde_json::Value,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DelegatedConnection {
    /// The practitioner's Workspace address, which the service account acts as.
    #[schema(max_length = 254)]
    pub subject: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarConflictView {
    pub id: String,
    pub practitioner_id: String,
    pub appointment_id: String,
    /// deleted_in_google or moved_in_google. Nuru neither re-creates nor
    /// drops the appointment: staff decide.
    pub kind: String,
    pub google_start: Option<DateTime<Utc>>,
    pub detected_at: DateTime<Utc>,
}

/// A clinic admin, or the practitioner themself.
async fn may_manage(state: &AppState, caller: &Caller, clinic: ClinicId, practitioner: Uuid) -> ApiResult<PractitionerId> {
    let catalog = state.store.catalog(clinic).await?;
    let id = PractitionerId(practitioner);
    catalog.practitioner(id).ok_or_else(|| ApiError::not_found("practitioner"))?;
    if caller.require(clinic, ClinicRole::ClinicAdmin).is_ok() {
        return Ok(id);
    }
    let own = caller.memberships.iter().any(|m| m.clinic_id == clinic && m.practitioner_id == Some(id));
    if own { Ok(id) } else { Err(ApiError::forbidden()) }
}

/// Starts connecting a practitioner's Google Calendar: returns Google's
/// consent URL (authorization code with PKCE; the state is single-use and
/// bound to this practitioner).
#[utoipa::path(post, path = "/api/clinics/{clinic_id}/practitioners/{practitioner_id}/google/connect", tag = "calendar",
    security(("bearer" = [])), params(("clinic_id" = Uuid, Path), ("practitioner_id" = Uuid, Path)),
    responses((status = 201, body = ConnectStarted), (status = 409, body = ErrorBody, description = "Google Calendar is not configured on this deployment"), Refusals))]
pub async fn connect_google(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Member>,
    ApiPath((_clinic, practitioner)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<(StatusCode, Json<ConnectStarted>)> {
    let (clinic, caller) = (access.clinic, access.caller);
    let id = may_manage(&state, &caller, clinic, practitioner).await?;
    let google = state.google.clone();
    if !google.offers_consent() {
        return Err(ApiError::conflict(
            "doctors cannot connect by consent on this deployment (set google_client_id and google_client_secret), or use the clinic's service account",
        ));
    }
    let pid = id.to_string();
    let audit = audit_event(&caller, clinic, "connect_start", "google_calendar", Some(&pid));
    let (authorization_url, expires_at) = google.start_connection(clinic, id, &audit).await?;
    Ok((StatusCode::CREATED, Json(ConnectStarted { authorization_url, expires_at })))
}

/// The practitioner's connection: state, calendars, last sync, pending writes.
#[utoipa::path(get, path = "/api/clinics/{clinic_id}/practitioners/{practitioner_id}/google", tag = "calendar",
    security(("bearer" = [])), params(("clinic_id" = Uuid, Path), ("practitioner_id" = Uuid, Path)),
    responses((status = 200, body = GoogleConnectionView), Refusals))]
pub async fn get_google(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Member>,
    ApiPath((_clinic, practitioner)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<Json<GoogleConnectionView>> {
    let (clinic, caller) = (access.clinic, access.caller);
    let id = may_manage(&state, &caller, clinic, practitioner).await?;
    let c = state.store.google_connection(clinic, id).await?.ok_or_else(|| ApiError::not_found("google connection"))?;
    let calendars: Vec<CalendarEntry> = serde_json::from_str(&c.calendars_json).unwrap_or_default();
    let pending_writes = state.store.pending_calendar_writes(id).await?;
    let needs = c.status == crate::storage::NEEDS_RECONNECT;
    Ok(Json(GoogleConnectionView {
        note: needs.then(|| {
            "Google refused the grant. The busy time synchronised last stays in place; no new busy time is read and no booking is written to Google until the practitioner connects again.".to_string()
        }),
        status: c.status,
        connected_at: c.connected_at,
        calendars: calendars
            .into_iter()
            .map(|e| GoogleCalendarView { id: e.id, summary: e.summary, primary: e.primary, access_role: e.access_role })
            .collect(),
        busy_calendars: c.busy_calendars,
        booking_calendar: c.booking_calendar,
        last_sync_at: c.last_sync_at,
        last_error: c.last_error,
        pending_writes,
    }))
}

/// Chooses the calendars that count as busy and the one that receives
/// bookings. Every upcoming booking is then written to the booking calendar.
#[utoipa::path(put, path = "/api/clinics/{clinic_id}/practitioners/{practitioner_id}/google/calendars", tag = "calendar",
    security(("bearer" = [])), params(("clinic_id" = Uuid, Path), ("practitioner_id" = Uuid, Path)), request_body = CalendarChoice,
    responses((status = 204), Refusals))]
pub async fn choose_google_calendars(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Member>,
    ApiPath((_clinic, practitioner)): ApiPath<(Uuid, Uuid)>,
    ApiJson(req): ApiJson<CalendarChoice>,
) -> ApiResult<StatusCode> {
    let (clinic, caller) = (access.clinic, access.caller);
    let id = may_manage(&state, &caller, clinic, practitioner).await?;
    let c = state.store.google_connection(clinic, id).await?.ok_or_else(|| ApiError::not_found("google connection"))?;
    let calendars: Vec<CalendarEntry> = serde_json::from_str(&c.calendars_json).unwrap_or_default();
    if req.busy_calendars.len() > 20 {
        return Err(ApiError::invalid("busy_calendars", "at most 20 calendars"));
    }
    let mut busy: Vec<String> = Vec::new();
    for b in &req.busy_calendars {
        if !calendars.iter().any(|e| &e.id == b) {
            return Err(ApiError::invalid("busy_calendars", format!("{b} is not one of the practitioner's calendars")));
        }
        if !busy.contains(b) {
            busy.push(b.clone());
        }
    }
    if let Some(b) = &req.booking_calendar {
        match calendars.iter().find(|e| &e.id == b) {
            None => return Err(ApiError::invalid("booking_calendar", "not one of the practitioner's calendars")),
            Some(e) if !matches!(e.access_role.as_str(), "owner" | "writer") => {
                return Err(ApiError::invalid("booking_calendar", "the practitioner cannot write to this calendar"));
            }
            Some(_) => {}
        }
    }
    let pid = id.to_string();
    let audit = audit_event(&caller, clinic, "update", "google_calendar", Some(&pid));
    let now = state.clock.now();
    if !state.store.choose_google_calendars(clinic, id, &busy, req.booking_calendar.as_deref(), &audit, now).await? {
        return Err(ApiError::not_found("google connection"));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Makes the practitioner's busy time synchronise now (support).
#[utoipa::path(post, path = "/api/clinics/{clinic_id}/practitioners/{practitioner_id}/google/sync", tag = "calendar",
    security(("bearer" = [])), params(("clinic_id" = Uuid, Path), ("practitioner_id" = Uuid, Path)),
    responses((status = 202), Refusals))]
pub async fn sync_google(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Member>,
    ApiPath((_clinic, practitioner)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    let (clinic, caller) = (access.clinic, access.caller);
    let id = may_manage(&state, &caller, clinic, practitioner).await?;
    state.store.google_connection(clinic, id).await?.ok_or_else(|| ApiError::not_found("google connection"))?;
    state.store.google_sync_now(id).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Disconnects: the grant is revoked at Google (when this deployment can
/// reach it), the busy time read from it and the writes not yet made are
/// dropped.
#[utoipa::path(delete, path = "/api/clinics/{clinic_id}/practitioners/{practitioner_id}/google", tag = "calendar",
    security(("bearer" = [])), params(("clinic_id" = Uuid, Path), ("practitioner_id" = Uuid, Path)),
    responses((status = 204), Refusals))]
pub async fn disconnect_google(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Member>,
    ApiPath((_clinic, practitioner)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    let (clinic, caller) = (access.clinic, access.caller);
    let id = may_manage(&state, &caller, clinic, practitioner).await?;
    let pid = id.to_string();
    let audit = audit_event(&caller, clinic, "disconnect", "google_calendar", Some(&pid));
    if !state.google.disconnect(clinic, id, &audit).await? {
        return Err(ApiError::not_found("google connection"));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Events Nuru wrote that a doctor moved or deleted in Google, not resolved yet.
#[utoipa::path(get, path = "/api/clinics/{clinic_id}/calendar-conflicts", tag = "calendar",
    security(("bearer" = [])), params(("clinic_id" = Uuid, Path)),
    responses((status = 200, body = Vec<CalendarConflictView>), Refusals))]
pub async fn calendar_conflicts(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Staff>,
) -> ApiResult<Json<Vec<CalendarConflictView>>> {
    let conflicts = state.store.calendar_conflicts(access.clinic).await?;
    Ok(Json(
        conflicts
            .into_iter()
            .map(|c| CalendarConflictView {
                id: c.id,
                practitioner_id: c.practitioner_id.to_string(),
                appointment_id: c.appointment_id.to_string(),
                kind: c.kind,
                google_start: c.google_start,
                detected_at: c.detected_at,
            })
            .collect(),
    ))
}

/// A Workspace clinic's service account with domain-wide delegation: its
/// key file, stored encrypted. Practitioners can then be connected without
/// each one's consent.
#[utoipa::path(put, path = "/api/clinics/{clinic_id}/google/service-account", tag = "calendar",
    security(("bearer" = [])), params(("clinic_id" = Uuid, Path)), request_body = ServiceAccountKeyInput,
    responses((status = 204), Refusals))]
pub async fn set_google_service_account(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Admin>,
    ApiJson(req): ApiJson<ServiceAccountKeyInput>,
) -> ApiResult<StatusCode> {
    let (clinic, caller) = (access.clinic, access.caller);
    let audit = audit_event(&caller, clinic, "update", "google_service_account", None);
    match state.google.set_service_account(clinic, &req.key.to_string(), &audit).await? {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(why) => Err(ApiError::invalid("key", why)),
    }
}

/// Connects a practitioner through the clinic's service account, acting as
/// their Workspace address (the delegation is tried at once).
#[utoipa::path(post, path = "/api/clinics/{clinic_id}/practitioners/{practitioner_id}/google/service-account", tag = "calendar",
    security(("bearer" = [])), params(("clinic_id" = Uuid, Path), ("practitioner_id" = Uuid, Path)), request_body = DelegatedConnection,
    responses((status = 204), (status = 409, body = ErrorBody, description = "no service account key, or Google refused the delegation"), Refusals))]
pub async fn connect_google_service_account(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Admin>,
    ApiPath((_clinic, practitioner)): ApiPath<(Uuid, Uuid)>,
    ApiJson(req): ApiJson<DelegatedConnection>,
) -> ApiResult<StatusCode> {
    let (clinic, caller) = (access.clinic, access.caller);
    let id = may_manage(&state, &caller, clinic, practitioner).await?;
    let subject = req.subject.trim();
    if subject.len() > 254 || subject.split('@').count() != 2 || subject.contains(char::is_whitespace) {
        return Err(ApiError::invalid("subject", "an e-mail address"));
    }
    let pid = id.to_string();
    let audit = audit_event(&caller, clinic, "connect", "google_calendar", Some(&pid));
    use crate::calendar::google::{ConnectError, GoogleError};
    match state.google.connect_service_account(clinic, id, subject, &audit).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(ConnectError::Google(GoogleError::NeedsReconnect(m))) => Err(ApiError::conflict(m)),
        Err(ConnectError::Denied(m)) => Err(ApiError::conflict(format!("Google refused the delegation: {m}"))),
        Err(ConnectError::Google(GoogleError::Storage(e))) => Err(e.into()),
        Err(e) => Err(ApiError::conflict(format!("Google could not be reached: {e}"))),
    }
}
