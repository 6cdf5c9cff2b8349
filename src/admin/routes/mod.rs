//! Admin API handlers. Every route that names a clinic checks the caller's
//! membership first (404 without one, 403 with too small a role); every read
//! or change of patient data is audited.

mod catalog;
mod clinics;
mod patients;

pub use catalog::*;
pub use clinics::*;
pub use patients::*;

use super::auth::{self, Caller, Superadmin};
use super::error::{ApiError, ApiResult};
use crate::app_state::AppState;
use crate::domain::*;
use crate::scheduling::{self, SlotEngine, SlotQuery};
use crate::storage::{AuditEvent, ClinicRole, ConversationFilter, ConversationSummary, MessageView, NewAuditEvent};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MembershipView {
    pub clinic_id: String,
    pub role: ClinicRole,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeView {
    pub user_id: String,
    pub email: String,
    pub superadmin: bool,
    pub memberships: Vec<MembershipView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AppointmentView {
    pub id: String,
    pub practitioner_id: String,
    pub patient_id: String,
    pub service_id: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub status: String,
    pub mode: String,
}

impl From<&Appointment> for AppointmentView {
    fn from(a: &Appointment) -> Self {
        Self {
            id: a.id.to_string(),
            practitioner_id: a.practitioner_id.to_string(),
            patient_id: a.patient_id.to_string(),
            service_id: a.service_id.to_string(),
            starts_at: a.starts_at,
            ends_at: a.ends_at,
            status: a.status.as_str().to_string(),
            mode: a.mode.as_str().to_string(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SlotView {
    pub practitioner_id: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub capacity: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationPage {
    pub items: Vec<ConversationSummary>,
    /// Pass as `cursor` for the next page; absent on the last one.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConversationQuery {
    pub needs_human: Option<bool>,
    /// Flagged as a possible emergency.
    pub urgent: Option<bool>,
    #[param(inline)]
    pub state: Option<ConversationState>,
    /// Active on or after this local date.
    pub from: Option<NaiveDate>,
    /// Active on or before this local date.
    pub to: Option<NaiveDate>,
    /// 1–200, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Where a conversation stands.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConversationState {
    Idle,
    Booking,
    Cancelling,
    Moving,
    HandedOff,
}

impl ConversationState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Booking => "booking",
            Self::Cancelling => "cancelling",
            Self::Moving => "moving",
            Self::HandedOff => "handed_off",
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RangeQuery {
    /// Local date, inclusive (default: today).
    pub from: Option<NaiveDate>,
    /// Local date, inclusive (default: from + 14 days).
    pub to: Option<NaiveDate>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SlotsQuery {
    pub service_id: Uuid,
    pub practitioner_id: Option<Uuid>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// in_person (default) or remote.
    pub mode: Option<ConsultationMode>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    pub clinic_id: Option<Uuid>,
    pub limit: Option<i64>,
    pub before: Option<i64>,
}

fn clinic_id(id: Uuid) -> ClinicId {
    ClinicId(id)
}

/// Records who read or changed what. A read is answered only once its audit
/// row is written; a failed audit fails the request instead of passing
/// silently.
async fn audit(
    state: &AppState,
    caller: &Caller,
    clinic: Option<ClinicId>,
    action: &str,
    resource: &str,
    id: Option<&str>,
) -> ApiResult<()> {
    let event = NewAuditEvent { actor: Some(caller.user_id), clinic, action, resource, resource_id: id, outcome: "ok" };
    state.store.audit(&event, state.clock.now()).await?;
    Ok(())
}

/// Exchanges e-mail and password for tokens. Five failures in a row lock the
/// account for 15 minutes; unknown e-mails cost the same time as known ones.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = TokenPair), (status = 401, body = super::error::ErrorBody), (status = 429, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)))]
pub async fn login(State(state): State<AppState>, Json(req): Json<LoginRequest>) -> ApiResult<Json<TokenPair>> {
    let now = state.clock.now();
    let user = state.store.user_by_email(req.email.trim()).await?;
    let Some(user) = user.filter(|u| u.active) else {
        auth::verify_password_blocking(req.password.clone(), None).await;
        // Anyone can send these: not audited per attempt, a rate-limited system event instead.
        state.store.system_event(None, "login_unknown_account", "", now).await?;
        return Err(ApiError::unauthenticated("wrong e-mail or password"));
    };
    if user.locked_until.is_some_and(|t| t > now) {
        return Err(ApiError::locked());
    }
    if !auth::verify_password_blocking(req.password.clone(), Some(user.password_hash.expose().to_string())).await {
        state.store.login_failed(user.id, auth::MAX_FAILED, now + Duration::minutes(auth::LOCK_MINUTES)).await?;
        state
            .store
            .audit(
                &NewAuditEvent {
                    actor: Some(user.id),
                    clinic: None,
                    action: "login",
                    resource: "account",
                    resource_id: Some(&user.id.to_string()),
                    outcome: "wrong_password",
                },
                now,
            )
            .await?;
        return Err(ApiError::unauthenticated("wrong e-mail or password"));
    }
    state.store.login_succeeded(user.id).await?;
    state
        .store
        .audit(
            &NewAuditEvent {
                actor: Some(user.id),
                clinic: None,
                action: "login",
                resource: "account",
                resource_id: Some(&user.id.to_string()),
                outcome: "ok",
            },
            now,
        )
        .await?;
    let refresh_token = auth::issue_refresh(&state.store, user.id, Uuid::new_v4(), now).await?;
    Ok(Json(TokenPair {
        access_token: auth::issue_access(&state.jwt, user.id, now),
        refresh_token,
        token_type: "Bearer".into(),
        expires_in: auth::ACCESS_MINUTES * 60,
    }))
}

/// Rotates a refresh token. A token used twice revokes its whole family.
#[utoipa::path(post, path = "/api/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenPair), (status = 401, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)))]
pub async fn refresh(State(state): State<AppState>, Json(req): Json<RefreshRequest>) -> ApiResult<Json<TokenPair>> {
    let now = state.clock.now();
    let row = state
        .store
        .refresh_token(&auth::token_hash(&req.refresh_token))
        .await?
        .ok_or_else(|| ApiError::unauthenticated("unknown refresh token"))?;
    if row.revoked_at.is_some() || row.expires_at <= now {
        return Err(ApiError::unauthenticated("refresh token expired or revoked"));
    }
    if row.used_at.is_some() || !state.store.use_refresh_token(row.id, now).await? {
        // Reuse: someone else holds a copy. Revoke the family.
        state.store.revoke_refresh_family(row.family_id, now).await?;
        state
            .store
            .audit(
                &NewAuditEvent {
                    actor: Some(row.user_id),
                    clinic: None,
                    action: "refresh",
                    resource: "account",
                    resource_id: Some(&row.user_id.to_string()),
                    outcome: "reuse_detected",
                },
                now,
            )
            .await?;
        return Err(ApiError::unauthenticated("refresh token reused; sign in again"));
    }
    let user = state.store.user(row.user_id).await?.filter(|u| u.active).ok_or_else(|| ApiError::unauthenticated("unknown account"))?;
    let refresh_token = auth::issue_refresh(&state.store, user.id, row.family_id, now).await?;
    Ok(Json(TokenPair {
        access_token: auth::issue_access(&state.jwt, user.id, now),
        refresh_token,
        token_type: "Bearer".into(),
        expires_in: auth::ACCESS_MINUTES * 60,
    }))
}

/// Revokes the refresh token's family (sign out everywhere it was passed on).
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth", request_body = RefreshRequest, responses((status = 204), (status = 422, body = super::error::ErrorBody)))]
pub async fn logout(State(state): State<AppState>, Json(req): Json<RefreshRequest>) -> ApiResult<StatusCode> {
    if let Some(row) = state.store.refresh_token(&auth::token_hash(&req.refresh_token)).await? {
        state.store.revoke_refresh_family(row.family_id, state.clock.now()).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = MeView), (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)))]
pub async fn me(caller: Caller) -> Json<MeView> {
    Json(MeView {
        user_id: caller.user_id.to_string(),
        email: caller.email.clone(),
        superadmin: caller.superadmin,
        memberships: caller.memberships.iter().map(|m| MembershipView { clinic_id: m.clinic_id.to_string(), role: m.role }).collect(),
    })
}

/// A page size: `default` when absent, 1 to `max` otherwise.
fn page_limit(asked: Option<i64>, default: i64, max: i64) -> ApiResult<i64> {
    let limit = asked.unwrap_or(default);
    if (1..=max).contains(&limit) { Ok(limit) } else { Err(ApiError::invalid("limit", format!("must be between 1 and {max}"))) }
}

fn parse_cursor(c: &str) -> ApiResult<(i64, String)> {
    let (ts, id) = c.split_once('_').ok_or_else(|| ApiError::invalid("cursor", "not a cursor from a previous page"))?;
    Ok((ts.parse().map_err(|_| ApiError::invalid("cursor", "not a cursor from a previous page"))?, id.to_string()))
}

/// Conversations of a clinic, most recently active first.
#[utoipa::path(get, path = "/api/clinics/{clinic_id}/conversations", tag = "conversations", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ConversationQuery),
    responses((status = 200, body = ConversationPage), (status = 404, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody), (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody)))]
pub async fn list_conversations(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Query(q): Query<ConversationQuery>,
) -> ApiResult<Json<ConversationPage>> {
    let clinic = clinic_id(id);
    caller.require(clinic, ClinicRole::Staff)?;
    let limit = page_limit(q.limit, 50, 200)?;
    let before = q.cursor.as_deref().map(parse_cursor).transpose()?;
    let tz = state.store.clinic(clinic).await?.timezone;
    let filter = ConversationFilter {
        needs_human: q.needs_human,
        urgent: q.urgent,
        since: q.from.map(|d| scheduling::day_start(tz, d)),
        until: q.to.map(|d| scheduling::day_start(tz, d + Duration::days(1))),
        state: q.state.map(ConversationState::as_str),
        before,
        limit,
    };
    let items = state.store.conversations(clinic, &filter).await?;
    let next_cursor =
        (items.len() as i64 == limit).then(|| items.last().map(|c| format!("{}_{}", c.updated_at.timestamp(), c.id))).flatten();
    audit(&state, &caller, Some(clinic), "list", "conversations", None).await?;
    Ok(Json(ConversationPage { items, next_cursor }))
}

#[utoipa::path(get, path = "/api/clinics/{clinic_id}/conversations/{conversation_id}/messages", tag = "conversations", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("conversation_id" = Uuid, Path)),
    responses((status = 200, body = Vec<MessageView>), (status = 404, body = super::error::ErrorBody), (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)))]
pub async fn conversation_messages(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, conversation)): Path<(Uuid, Uuid)>,
) -> ApiResult<Json<Vec<MessageView>>> {
    let clinic = clinic_id(id);
    caller.require(clinic, ClinicRole::Staff)?;
    if state.store.conversation_clinic(ConversationId(conversation)).await? != Some(clinic) {
        return Err(ApiError::not_found("conversation"));
    }
    let messages = state.store.conversation_messages(clinic, ConversationId(conversation)).await?;
    audit(&state, &caller, Some(clinic), "read", "conversation", Some(&conversation.to_string())).await?;
    Ok(Json(messages))
}

/// Staff hand the conversation back to the bot.
#[utoipa::path(post, path = "/api/clinics/{clinic_id}/conversations/{conversation_id}/release", tag = "conversations", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("conversation_id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = super::error::ErrorBody), (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)))]
pub async fn release_conversation(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, conversation)): Path<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    let clinic = clinic_id(id);
    caller.require(clinic, ClinicRole::Staff)?;
    let fresh = crate::conversation::fresh_state_json();
    if !state.store.set_conversation_owner(clinic, ConversationId(conversation), &fresh, false, state.clock.now()).await? {
        return Err(ApiError::not_found("conversation"));
    }
    audit(&state, &caller, Some(clinic), "release", "conversation", Some(&conversation.to_string())).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn range(state: &AppState, clinic: &Clinic, q: &RangeQuery) -> ApiResult<(NaiveDate, NaiveDate)> {
    let today = state.clock.now().with_timezone(&clinic.timezone).date_naive();
    let from = q.from.unwrap_or(today);
    let to = q.to.unwrap_or(from + Duration::days(14));
    if to < from || to - from > Duration::days(92) {
        return Err(ApiError::invalid("to", "must be on or after from, at most 92 days later"));
    }
    Ok((from, to))
}

#[utoipa::path(get, path = "/api/clinics/{clinic_id}/appointments", tag = "appointments", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), RangeQuery),
    responses((status = 200, body = Vec<AppointmentView>), (status = 404, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody), (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody)))]
pub async fn list_appointments(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Query(q): Query<RangeQuery>,
) -> ApiResult<Json<Vec<AppointmentView>>> {
    let clinic_id = clinic_id(id);
    caller.require(clinic_id, ClinicRole::Practitioner)?;
    let clinic = state.store.clinic(clinic_id).await?;
    let (from, to) = range(&state, &clinic, &q)?;
    let (start, end) = (scheduling::day_start(clinic.timezone, from), scheduling::day_start(clinic.timezone, to + Duration::days(1)));
    // A practitioner sees their own agenda only.
    let own = caller.memberships.iter().find(|m| m.clinic_id == clinic_id && m.role == ClinicRole::Practitioner).map(|m| m.practitioner_id);
    let items: Vec<AppointmentView> = state
        .store
        .appointments_between(clinic_id, start, end, None)
        .await?
        .iter()
        .filter(|a| caller.superadmin || own.is_none_or(|p| p == Some(a.practitioner_id)))
        .map(AppointmentView::from)
        .collect();
    audit(&state, &caller, Some(clinic_id), "list", "appointments", None).await?;
    Ok(Json(items))
}

/// Cancels an appointment; its time is bookable again at once.
#[utoipa::path(post, path = "/api/clinics/{clinic_id}/appointments/{appointment_id}/cancel", tag = "appointments", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("appointment_id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = super::error::ErrorBody), (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)))]
pub async fn cancel_appointment(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, appointment)): Path<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    let clinic = clinic_id(id);
    caller.require(clinic, ClinicRole::Staff)?;
    let mut tx = state.store.begin().await?;
    let done = scheduling::cancel(&mut tx, clinic, AppointmentId(appointment), "staff", state.clock.now()).await.map_err(|e| match e {
        scheduling::BookingError::Storage(s) => ApiError::from(s),
        _ => ApiError::not_found("appointment"),
    })?;
    tx.commit().await.map_err(crate::storage::StorageError::from)?;
    if !done {
        return Err(ApiError::not_found("booked appointment"));
    }
    audit(&state, &caller, Some(clinic), "cancel", "appointment", Some(&appointment.to_string())).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Free slots, from the same engine the bot uses.
#[utoipa::path(get, path = "/api/clinics/{clinic_id}/slots", tag = "appointments", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), SlotsQuery),
    responses((status = 200, body = Vec<SlotView>), (status = 404, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody), (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody)))]
pub async fn slots(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Query(q): Query<SlotsQuery>,
) -> ApiResult<Json<Vec<SlotView>>> {
    let clinic = clinic_id(id);
    caller.require(clinic, ClinicRole::Practitioner)?;
    let catalog = state.store.catalog(clinic).await?;
    if catalog.service(ServiceId(q.service_id)).is_none() {
        return Err(ApiError::invalid("service_id", "not a service of this clinic"));
    }
    let (from, to) = range(&state, &catalog.clinic, &RangeQuery { from: q.from, to: q.to })?;
    let now = state.clock.now();
    let occupancy = state
        .store
        .occupancy(
            clinic,
            scheduling::day_start(catalog.clinic.timezone, from) - Duration::days(1),
            scheduling::day_start(catalog.clinic.timezone, to) + Duration::days(2),
        )
        .await?;
    let query = SlotQuery {
        service: ServiceId(q.service_id),
        mode: q.mode.unwrap_or_default(),
        practitioners: q.practitioner_id.map(|p| vec![PractitionerId(p)]).unwrap_or_default(),
        from,
        to,
    };
    let found = SlotEngine::new(&catalog, &occupancy, now, None).find(&query);
    Ok(Json(
        found
            .into_iter()
            .map(|s| SlotView { practitioner_id: s.practitioner_id.to_string(), starts_at: s.start, ends_at: s.end, capacity: s.capacity })
            .collect(),
    ))
}

/// The audit trail (superadmins): who read or changed what, when, where.
#[utoipa::path(get, path = "/api/audit", tag = "audit", security(("bearer" = [])),
    params(AuditQuery),
    responses((status = 200, body = Vec<AuditEvent>), (status = 403, body = super::error::ErrorBody), (status = 401, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)))]
pub async fn audit_events(State(state): State<AppState>, _: Superadmin, Query(q): Query<AuditQuery>) -> ApiResult<Json<Vec<AuditEvent>>> {
    let limit = page_limit(q.limit, 100, 1000)?;
    Ok(Json(state.store.audit_events(q.clinic_id.map(ClinicId), limit, q.before).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAppointmentRequest {
    pub practitioner_id: Uuid,
    pub service_id: Uuid,
    pub patient_id: Uuid,
    pub starts_at: DateTime<Utc>,
    #[serde(default)]
    pub mode: Option<ConsultationMode>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveRequestBody {
    pub starts_at: DateTime<Utc>,
    /// Another practitioner of the same service; absent keeps the practitioner.
    pub practitioner_id: Option<Uuid>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    /// attended or no_show.
    pub status: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyRequest {
    /// Sent to the patient as written, through the conversation's channel.
    pub body: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedId {
    pub id: String,
}

fn booking_error(e: scheduling::BookingError) -> ApiError {
    match e {
        scheduling::BookingError::Unavailable(why) => ApiError::conflict(format!("this time cannot be booked: {why}")),
        scheduling::BookingError::NotFound(what) => ApiError::not_found(what),
        scheduling::BookingError::Storage(s) => ApiError::from(s),
    }
}

/// Books on behalf of a patient, by the same rules and lock as the bot.
#[utoipa::path(post, path = "/api/clinics/{clinic_id}/appointments", tag = "appointments", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path)), request_body = NewAppointmentRequest,
    responses((status = 201, body = CreatedId), (status = 404, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody), (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody)))]
pub async fn create_appointment(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(req): Json<NewAppointmentRequest>,
) -> ApiResult<(StatusCode, Json<CreatedId>)> {
    let clinic = clinic_id(id);
    caller.require(clinic, ClinicRole::Staff)?;
    if !state.store.patient_in_clinic(clinic, PatientId(req.patient_id)).await? {
        return Err(ApiError::invalid("patient_id", "not a patient of this clinic"));
    }
    let catalog = state.store.catalog(clinic).await?;
    if catalog.service(ServiceId(req.service_id)).is_none() {
        return Err(ApiError::invalid("service_id", "not a service of this clinic"));
    }
    if catalog.practitioner(PractitionerId(req.practitioner_id)).is_none() {
        return Err(ApiError::invalid("practitioner_id", "not a practitioner of this clinic"));
    }
    let book = scheduling::BookRequest {
        practitioner: PractitionerId(req.practitioner_id),
        service: ServiceId(req.service_id),
        mode: req.mode.unwrap_or_default(),
        patient: PatientId(req.patient_id),
        start: req.starts_at,
        source: "staff",
        conversation: None,
    };
    let mut tx = state.store.begin().await?;
    let created = scheduling::book(&mut tx, &catalog, &book, state.clock.now()).await.map_err(booking_error)?;
    tx.commit().await.map_err(crate::storage::StorageError::from)?;
    audit(&state, &caller, Some(clinic), "create", "appointment", Some(&created.to_string())).await?;
    Ok((StatusCode::CREATED, Json(CreatedId { id: created.to_string() })))
}

/// Moves an appointment; the old time is freed only if the new one is taken.
#[utoipa::path(post, path = "/api/clinics/{clinic_id}/appointments/{appointment_id}/move", tag = "appointments", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("appointment_id" = Uuid, Path)), request_body = MoveRequestBody,
    responses((status = 204), (status = 404, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody), (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)))]
pub async fn move_appointment(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, appointment)): Path<(Uuid, Uuid)>,
    Json(req): Json<MoveRequestBody>,
) -> ApiResult<StatusCode> {
    let clinic = clinic_id(id);
    caller.require(clinic, ClinicRole::Staff)?;
    let catalog = state.store.catalog(clinic).await?;
    let request = scheduling::MoveRequest {
        appointment: AppointmentId(appointment),
        practitioner: req.practitioner_id.map(PractitionerId),
        start: req.starts_at,
        source: "staff",
    };
    let mut tx = state.store.begin().await?;
    scheduling::reschedule(&mut tx, &catalog, &request, state.clock.now()).await.map_err(booking_error)?;
    tx.commit().await.map_err(crate::storage::StorageError::from)?;
    audit(&state, &caller, Some(clinic), "move", "appointment", Some(&appointment.to_string())).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Marks a booked appointment attended or missed.
#[utoipa::path(post, path = "/api/clinics/{clinic_id}/appointments/{appointment_id}/status", tag = "appointments", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("appointment_id" = Uuid, Path)), request_body = StatusRequest,
    responses((status = 204), (status = 404, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody), (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody)))]
pub async fn set_appointment_status(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, appointment)): Path<(Uuid, Uuid)>,
    Json(req): Json<StatusRequest>,
) -> ApiResult<StatusCode> {
    let clinic = clinic_id(id);
    caller.require(clinic, ClinicRole::Staff)?;
    let status = match AppointmentStatus::parse(&req.status) {
        Some(s @ (AppointmentStatus::Attended | AppointmentStatus::NoShow)) => s,
        _ => return Err(ApiError::invalid("status", "must be attended or no_show")),
    };
    if !state.store.set_appointment_status(clinic, AppointmentId(appointment), status, state.clock.now()).await? {
        return Err(ApiError::not_found("booked appointment"));
    }
    audit(&state, &caller, Some(clinic), "status", "appointment", Some(&appointment.to_string())).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Staff take the conversation over: the bot stays silent until released.
#[utoipa::path(post, path = "/api/clinics/{clinic_id}/conversations/{conversation_id}/take-over", tag = "conversations", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("conversation_id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = super::error::ErrorBody), (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)))]
pub async fn take_over_conversation(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, conversation)): Path<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    let clinic = clinic_id(id);
    caller.require(clinic, ClinicRole::Staff)?;
    let state_json = crate::conversation::handed_off_state_json();
    if !state.store.set_conversation_owner(clinic, ConversationId(conversation), &state_json, true, state.clock.now()).await? {
        return Err(ApiError::not_found("conversation"));
    }
    audit(&state, &caller, Some(clinic), "take_over", "conversation", Some(&conversation.to_string())).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A staff reply, sent through the conversation's channel and recorded; the
/// conversation stays with staff.
#[utoipa::path(post, path = "/api/clinics/{clinic_id}/conversations/{conversation_id}/reply", tag = "conversations", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("conversation_id" = Uuid, Path)), request_body = ReplyRequest,
    responses((status = 202), (status = 404, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody), (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody)))]
pub async fn reply_to_conversation(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, conversation)): Path<(Uuid, Uuid)>,
    Json(req): Json<ReplyRequest>,
) -> ApiResult<StatusCode> {
    let clinic = clinic_id(id);
    caller.require(clinic, ClinicRole::Staff)?;
    let body = req.body.trim();
    if body.is_empty() || body.chars().count() > 1600 {
        return Err(ApiError::invalid("body", "must be 1 to 1,600 characters"));
    }
    let (channel, phone) =
        state.store.conversation_address(clinic, ConversationId(conversation)).await?.ok_or_else(|| ApiError::not_found("conversation"))?;
    let now = state.clock.now();
    state
        .store
        .set_conversation_owner(clinic, ConversationId(conversation), &crate::conversation::handed_off_state_json(), true, now)
        .await?;
    let reply = crate::storage::NewOutbound {
        clinic_id: clinic,
        conversation_id: ConversationId(conversation),
        inbound_id: None,
        channel,
        to: phone,
        body: body.to_string(),
        author: "staff",
    };
    let mut tx = state.store.begin().await?;
    crate::storage::Store::insert_outbound(&mut tx, &reply, now).await?;
    tx.commit().await.map_err(crate::storage::StorageError::from)?;
    audit(&state, &caller, Some(clinic), "reply", "conversation", Some(&conversation.to_string())).await?;
    Ok(StatusCode::ACCEPTED)
}

/// When an exception applies.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(tag = "recurrence", rename_all = "snake_case")]
pub enum ExceptionTimeDto {
    /// A one-off interval.
    Once { starts_at: DateTime<Utc>, ends_at: DateTime<Utc> },
    /// Whole local days, inclusive.
    Days { first: NaiveDate, last: NaiveDate },
    /// Every week: weekday 1 (Monday) to 7, minutes from local midnight (0–1440).
    Weekly { weekday: u8, start_minute: u16, end_minute: u16, from: NaiveDate, until: Option<NaiveDate> },
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ExceptionDto {
    /// Absent when creating.
    #[serde(default, skip_deserializing)]
    pub id: Option<String>,
    /// Absent for the whole clinic.
    pub practitioner_id: Option<Uuid>,
    pub kind: ExceptionKind,
    /// Seen by admins only, never by patients.
    #[serde(default)]
    pub reason: String,
    pub time: ExceptionTimeDto,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HolidayDto {
    pub date: NaiveDate,
    #[serde(default)]
    pub name: String,
}

fn to_dto(e: &AvailabilityException) -> ExceptionDto {
    let time = match &e.time {
        ExceptionTime::Once { start, end } => ExceptionTimeDto::Once { starts_at: *start, ends_at: *end },
        ExceptionTime::Days { first, last } => ExceptionTimeDto::Days { first: *first, last: *last },
        ExceptionTime::Weekly { weekday, start_minute, end_minute, from, until } => ExceptionTimeDto::Weekly {
            weekday: weekday.number_from_monday() as u8,
            start_minute: *start_minute,
            end_minute: *end_minute,
            from: *from,
            until: *until,
        },
    };
    ExceptionDto {
        id: Some(e.id.to_string()),
        practitioner_id: e.practitioner_id.map(|p| p.0),
        kind: e.kind,
        reason: e.reason.clone(),
        time,
    }
}

/// Leave, training, meetings: the time the engine never offers.
#[utoipa::path(get, path = "/api/clinics/{clinic_id}/exceptions", tag = "scheduling", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path)),
    responses((status = 200, body = Vec<ExceptionDto>), (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)))]
pub async fn list_exceptions(State(state): State<AppState>, caller: Caller, Path(id): Path<Uuid>) -> ApiResult<Json<Vec<ExceptionDto>>> {
    let clinic = clinic_id(id);
    caller.require(clinic, ClinicRole::ClinicAdmin)?;
    Ok(Json(state.store.exceptions(clinic).await?.iter().map(to_dto).collect()))
}

#[utoipa::path(post, path = "/api/clinics/{clinic_id}/exceptions", tag = "scheduling", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path)), request_body = ExceptionDto,
    responses((status = 201, body = CreatedId), (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)))]
pub async fn create_exception(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(req): Json<ExceptionDto>,
) -> ApiResult<(StatusCode, Json<CreatedId>)> {
    let clinic = clinic_id(id);
    caller.require(clinic, ClinicRole::ClinicAdmin)?;
    if let Some(p) = req.practitioner_id {
        let catalog = state.store.catalog(clinic).await?;
        if catalog.practitioner(PractitionerId(p)).is_none() {
            return Err(ApiError::invalid("practitioner_id", "not a practitioner of this clinic"));
        }
    }
    if req.reason.chars().count() > 500 {
        return Err(ApiError::invalid("reason", "at most 500 characters"));
    }
    let time = match req.time {
        ExceptionTimeDto::Once { starts_at, ends_at } if ends_at > starts_at => ExceptionTime::Once { start: starts_at, end: ends_at },
        ExceptionTimeDto::Once { .. } => return Err(ApiError::invalid("time.ends_at", "must be after starts_at")),
        ExceptionTimeDto::Days { first, last } if last >= first => ExceptionTime::Days { first, last },
        ExceptionTimeDto::Days { .. } => return Err(ApiError::invalid("time.last", "must be on or after first")),
        ExceptionTimeDto::Weekly { weekday, start_minute, end_minute, from, until } => {
            let weekday = chrono::Weekday::try_from(weekday.wrapping_sub(1))
                .map_err(|_| ApiError::invalid("time.weekday", "1 (Monday) to 7 (Sunday)"))?;
            if end_minute > DAY_MINUTES || start_minute >= end_minute {
                return Err(ApiError::invalid("time.end_minute", "0 ≤ start_minute < end_minute ≤ 1440"));
            }
            if until.is_some_and(|u| u < from) {
                return Err(ApiError::invalid("time.until", "must be on or after from"));
            }
            ExceptionTime::Weekly { weekday, start_minute, end_minute, from, until }
        }
    };
    let e = AvailabilityException {
        id: ExceptionId::random(),
        practitioner_id: req.practitioner_id.map(PractitionerId),
        kind: req.kind,
        reason: req.reason,
        time,
    };
    state.store.add_exception(clinic, &e, state.clock.now()).await?;
    audit(&state, &caller, Some(clinic), "create", "exception", Some(&e.id.to_string())).await?;
    Ok((StatusCode::CREATED, Json(CreatedId { id: e.id.to_string() })))
}

#[utoipa::path(delete, path = "/api/clinics/{clinic_id}/exceptions/{exception_id}", tag = "scheduling", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("exception_id" = Uuid, Path)),
    responses((status = 204), (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)))]
pub async fn delete_exception(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, exception)): Path<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    let clinic = clinic_id(id);
    caller.require(clinic, ClinicRole::ClinicAdmin)?;
    if !state.store.delete_exception(clinic, ExceptionId(exception)).await? {
        return Err(ApiError::not_found("exception"));
    }
    audit(&state, &caller, Some(clinic), "delete", "exception", Some(&exception.to_string())).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/clinics/{clinic_id}/holidays", tag = "scheduling", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path)),
    responses((status = 200, body = Vec<HolidayDto>), (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)))]
pub async fn list_holidays(State(state): State<AppState>, caller: Caller, Path(id): Path<Uuid>) -> ApiResult<Json<Vec<HolidayDto>>> {
    let clinic = clinic_id(id);
    caller.require(clinic, ClinicRole::Practitioner)?;
    Ok(Json(state.store.holidays(clinic).await?.into_iter().map(|h| HolidayDto { date: h.date, name: h.name }).collect()))
}

/// Replaces the clinic's public holidays (the clinic is closed on them).
#[utoipa::path(put, path = "/api/clinics/{clinic_id}/holidays", tag = "scheduling", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path)), request_body = Vec<HolidayDto>,
    responses((status = 204), (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)))]
pub async fn set_holidays(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(req): Json<Vec<HolidayDto>>,
) -> ApiResult<StatusCode> {
    let clinic = clinic_id(id);
    caller.require(clinic, ClinicRole::ClinicAdmin)?;
    if req.len() > 366 {
        return Err(ApiError::invalid("body", "at most 366 holidays"));
    }
    let holidays: Vec<Holiday> = req.into_iter().map(|h| Holiday { date: h.date, name: h.name.chars().take(100).collect() }).collect();
    state.store.set_holidays(clinic, &holidays).await?;
    audit(&state, &caller, Some(clinic), "update", "holidays", None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Operational events (superadmins): refused webhooks, unsent replies, model
/// failures. Never message text.
#[utoipa::path(get, path = "/api/system-events", tag = "audit", security(("bearer" = [])),
    params(AuditQuery),
    responses((status = 200, body = Vec<crate::storage::SystemEvent>), (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)))]
pub async fn system_events(
    State(state): State<AppState>,
    _: Superadmin,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<Vec<crate::storage::SystemEvent>>> {
    let limit = page_limit(q.limit, 100, 1000)?;
    Ok(Json(state.store.system_events(q.clinic_id.map(ClinicId), limit, q.before).await?))
}
