//! Broadcasts: a clinic admin's announcement to a segment of patients, its
//! progress, each recipient's status, pause, resume and cancel.

use super::outreach::local_span;
use super::{audit, audit_event};
use crate::admin::auth::{ClinicAccess, roles};
use crate::admin::error::{ApiError, ApiJson, ApiPath, ApiResult, Refusals};
use crate::app_state::AppState;
use crate::domain::*;
use crate::outreach::plan::{Fill, Variable, is_content_sid};
use crate::storage::{BroadcastAction, BroadcastRecord, NewBroadcast, Segment};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;
use uuid::Uuid;

/// Who receives it: patients with an appointment between two local dates
/// (inclusive), optionally of one practitioner or service; or every
/// patient seen (an appointment marked attended) since a local date.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SegmentInput {
    Appointments { from: NaiveDate, to: NaiveDate, practitioner_id: Option<Uuid>, service_id: Option<Uuid> },
    SeenSince { since: NaiveDate },
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BroadcastInput {
    /// For staff (1 to 100 characters).
    pub name: String,
    pub segment: SegmentInput,
    /// The message in French and in English (1 to 1,000 characters each):
    /// sent as is on SMS and on WhatsApp inside the 24-hour window.
    pub text_fr: String,
    pub text_en: String,
    /// The WhatsApp templates (HX…) approved for this announcement, for
    /// patients outside the window; without one they are skipped.
    pub content_sid_fr: Option<String>,
    pub content_sid_en: Option<String>,
    /// What fills {{1}}, {{2}}…: `{"variable": "patient_first_name"}`,
    /// `{"variable": "clinic"}` or `{"text": "…"}` (at most 10).
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub variables: Vec<Fill>,
    /// Messages per minute from each of the clinic's numbers (1 to 600; default 60).
    pub per_minute: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BroadcastView {
    pub id: Uuid,
    pub name: String,
    #[schema(value_type = Object)]
    pub segment: serde_json::Value,
    pub text_fr: String,
    pub text_en: String,
    pub content_sid_fr: Option<String>,
    pub content_sid_en: Option<String>,
    pub per_minute: u32,
    /// running, paused, cancelled, or finished (running with no one left to send to).
    pub status: String,
    pub created_at: DateTime<Utc>,
    /// Recipients: pending, paused, queued (handed to the outbox), skipped
    /// (opted out, no template outside the window…), cancelled; and of those
    /// queued: sent, delivered, read, failed (from Twilio's status callbacks).
    pub progress: BTreeMap<String, i64>,
}

fn view(b: BroadcastRecord) -> BroadcastView {
    let waiting = b.progress.get("pending").copied().unwrap_or(0) + b.progress.get("paused").copied().unwrap_or(0);
    let status = if b.status == "running" && waiting == 0 { "finished".to_string() } else { b.status };
    BroadcastView {
        id: b.id.0,
        name: b.name,
        segment: serde_json::from_str(&b.segment_json).unwrap_or(serde_json::Value::Null),
        text_fr: b.text_fr,
        text_en: b.text_en,
        content_sid_fr: b.content_sid_fr,
        content_sid_en: b.content_sid_en,
        per_minute: b.per_minute,
        status,
        created_at: b.created_at,
        progress: b.progress,
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedBroadcast {
    pub id: Uuid,
    /// Phones it will be sent to (one per phone and channel).
    pub recipients: u64,
}

fn text(field: &str, value: &str, max: usize) -> ApiResult<()> {
    let n = value.trim().chars().count();
    if n == 0 || n > max { Err(ApiError::invalid(field, format!("from 1 to {max} characters"))) } else { Ok(()) }
}

/// Creates a broadcast and starts sending it (clinic admins). The
/// recipients are the segment's patients' phones now; an opted-out phone is
/// skipped when its turn comes.
#[utoipa::path(post, path = "/api/clinics/{clinic_id}/broadcasts", tag = "outreach",
    security(("bearer" = [])), params(("clinic_id" = Uuid, Path)), request_body = BroadcastInput,
    responses((status = 201, body = CreatedBroadcast), Refusals))]
pub async fn create_broadcast(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Admin>,
    ApiJson(req): ApiJson<BroadcastInput>,
) -> ApiResult<(StatusCode, Json<CreatedBroadcast>)> {
    text("name", &req.name, 100)?;
    text("text_fr", &req.text_fr, 1000)?;
    text("text_en", &req.text_en, 1000)?;
    for (field, sid) in [("content_sid_fr", &req.content_sid_fr), ("content_sid_en", &req.content_sid_en)] {
        if sid.as_deref().is_some_and(|s| !is_content_sid(s)) {
            return Err(ApiError::invalid(field, "a Twilio Content SID: HX and 32 hexadecimal digits"));
        }
    }
    if req.variables.len() > 10 {
        return Err(ApiError::invalid("variables", "at most 10"));
    }
    for fill in &req.variables {
        match fill {
            Fill::Variable(Variable::PatientFirstName | Variable::Clinic) => {}
            Fill::Variable(_) => return Err(ApiError::invalid("variables", "a broadcast knows patient_first_name and clinic")),
            Fill::Text(t) => text("variables", t, 200)?,
        }
    }
    let per_minute = req.per_minute.unwrap_or(60);
    if !(1..=600).contains(&per_minute) {
        return Err(ApiError::invalid("per_minute", "from 1 to 600"));
    }
    let clinic = state.store.clinic(access.clinic).await?;
    let now = state.clock.now();
    let today = now.with_timezone(&clinic.timezone).date_naive();
    let segment = match req.segment {
        SegmentInput::Appointments { from, to, practitioner_id, service_id } => {
            if to < from || (to - from).num_days() > 366 {
                return Err(ApiError::invalid("segment", "to is on or after from, at most 366 days later"));
            }
            let catalog = state.store.catalog(access.clinic).await?;
            if practitioner_id.is_some_and(|p| catalog.practitioner(PractitionerId(p)).is_none()) {
                return Err(ApiError::invalid("segment", "no such practitioner in this clinic"));
            }
            if service_id.is_some_and(|s| catalog.service(ServiceId(s)).is_none()) {
                return Err(ApiError::invalid("segment", "no such service in this clinic"));
            }
            let (lo, hi) = local_span(&clinic, from, to);
            Segment::Appointments {
                from: lo,
                to: hi,
                practitioner: practitioner_id.map(PractitionerId),
                service: service_id.map(ServiceId),
            }
        }
        SegmentInput::SeenSince { since } => {
            if since > today {
                return Err(ApiError::invalid("segment", "since is a date in the past"));
            }
            Segment::SeenSince { since: local_span(&clinic, since, since).0 }
        }
    };
    let id = BroadcastId::random();
    let segment_json = serde_json::to_string(&req.segment).expect("segment serialises");
    let variables_json = serde_json::to_string(&req.variables).expect("fills serialise");
    let created_by = access.caller.user_id.to_string();
    let new = NewBroadcast {
        id,
        clinic: access.clinic,
        name: req.name.trim(),
        segment,
        segment_json: &segment_json,
        text_fr: req.text_fr.trim(),
        text_en: req.text_en.trim(),
        content_sid_fr: req.content_sid_fr.as_deref(),
        content_sid_en: req.content_sid_en.as_deref(),
        variables_json: &variables_json,
        per_minute,
        created_by: Some(&created_by),
    };
    let recipients = state.store.create_broadcast(&new, now).await?;
    let id_text = id.to_string();
    state.store.audit(&audit_event(&access.caller, access.clinic, "create", "broadcast", Some(&id_text)), now).await?;
    Ok((StatusCode::CREATED, Json(CreatedBroadcast { id: id.0, recipients })))
}

/// The clinic's broadcasts, newest first, with their progress.
#[utoipa::path(get, path = "/api/clinics/{clinic_id}/broadcasts", tag = "outreach",
    security(("bearer" = [])), params(("clinic_id" = Uuid, Path)),
    responses((status = 200, body = Vec<BroadcastView>), Refusals))]
pub async fn list_broadcasts(State(state): State<AppState>, access: ClinicAccess<roles::Staff>) -> ApiResult<Json<Vec<BroadcastView>>> {
    Ok(Json(state.store.broadcasts(access.clinic).await?.into_iter().map(view).collect()))
}

/// One broadcast and its progress.
#[utoipa::path(get, path = "/api/clinics/{clinic_id}/broadcasts/{broadcast_id}", tag = "outreach",
    security(("bearer" = [])), params(("clinic_id" = Uuid, Path), ("broadcast_id" = Uuid, Path)),
    responses((status = 200, body = BroadcastView), Refusals))]
pub async fn get_broadcast(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Staff>,
    ApiPath((_clinic, id)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<Json<BroadcastView>> {
    let b = state.store.broadcast(access.clinic, BroadcastId(id)).await?.ok_or_else(|| ApiError::not_found("broadcast"))?;
    Ok(Json(view(b)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecipientView {
    pub phone: String,
    pub channel: String,
    /// pending, paused, queued, skipped or cancelled.
    pub status: String,
    /// Why it was skipped: opted_out, no_template, no_sending_number.
    pub reason: Option<String>,
    /// The outbox's status of the message, Twilio's delivery status and error code.
    pub send_status: Option<String>,
    pub delivery_status: Option<String>,
    pub error_code: Option<i64>,
}

/// Each recipient of a broadcast and what became of its message (the read is audited).
#[utoipa::path(get, path = "/api/clinics/{clinic_id}/broadcasts/{broadcast_id}/recipients", tag = "outreach",
    security(("bearer" = [])), params(("clinic_id" = Uuid, Path), ("broadcast_id" = Uuid, Path)),
    responses((status = 200, body = Vec<RecipientView>), Refusals))]
pub async fn broadcast_recipients(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Staff>,
    ApiPath((_clinic, id)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<Json<Vec<RecipientView>>> {
    state.store.broadcast(access.clinic, BroadcastId(id)).await?.ok_or_else(|| ApiError::not_found("broadcast"))?;
    let recipients = state.store.broadcast_recipients(access.clinic, BroadcastId(id)).await?;
    audit(&state, &access.caller, Some(access.clinic), "read", "broadcast_recipients", Some(&id.to_string())).await?;
    Ok(Json(
        recipients
            .into_iter()
            .map(|r| RecipientView {
                phone: r.phone.as_str().to_string(),
                channel: r.channel.as_str().to_string(),
                status: r.status,
                reason: r.reason,
                send_status: r.send_status,
                delivery_status: r.delivery_status,
                error_code: r.error_code,
            })
            .collect(),
    ))
}

async fn act(
    state: &AppState,
    access: &ClinicAccess<roles::Admin>,
    id: Uuid,
    action: BroadcastAction,
    verb: &str,
) -> ApiResult<Json<BroadcastView>> {
    let now = state.clock.now();
    match state.store.act_on_broadcast(access.clinic, BroadcastId(id), action, now).await? {
        None => return Err(ApiError::not_found("broadcast")),
        Some(false) => return Err(ApiError::conflict(format!("this broadcast cannot be {verb} in its state"))),
        Some(true) => {}
    }
    let id_text = id.to_string();
    state.store.audit(&audit_event(&access.caller, access.clinic, verb, "broadcast", Some(&id_text)), now).await?;
    let b = state.store.broadcast(access.clinic, BroadcastId(id)).await?.ok_or_else(|| ApiError::not_found("broadcast"))?;
    Ok(Json(view(b)))
}

/// Pauses a running broadcast: nobody else receives it until resumed.
#[utoipa::path(post, path = "/api/clinics/{clinic_id}/broadcasts/{broadcast_id}/pause", tag = "outreach",
    security(("bearer" = [])), params(("clinic_id" = Uuid, Path), ("broadcast_id" = Uuid, Path)),
    responses((status = 200, body = BroadcastView), Refusals))]
pub async fn pause_broadcast(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Admin>,
    ApiPath((_clinic, id)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<Json<BroadcastView>> {
    act(&state, &access, id, BroadcastAction::Pause, "paused").await
}

/// Resumes a paused broadcast, at its rate from now.
#[utoipa::path(post, path = "/api/clinics/{clinic_id}/broadcasts/{broadcast_id}/resume", tag = "outreach",
    security(("bearer" = [])), params(("clinic_id" = Uuid, Path), ("broadcast_id" = Uuid, Path)),
    responses((status = 200, body = BroadcastView), Refusals))]
pub async fn resume_broadcast(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Admin>,
    ApiPath((_clinic, id)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<Json<BroadcastView>> {
    act(&state, &access, id, BroadcastAction::Resume, "resumed").await
}

/// Cancels a broadcast: those not yet sent never receive it.
#[utoipa::path(post, path = "/api/clinics/{clinic_id}/broadcasts/{broadcast_id}/cancel", tag = "outreach",
    security(("bearer" = [])), params(("clinic_id" = Uuid, Path), ("broadcast_id" = Uuid, Path)),
    responses((status = 200, body = BroadcastView), Refusals))]
pub async fn cancel_broadcast(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Admin>,
    ApiPath((_clinic, id)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<Json<BroadcastView>> {
    act(&state, &access, id, BroadcastAction::Cancel, "cancelled").await
}
