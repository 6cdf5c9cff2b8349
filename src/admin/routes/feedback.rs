//! Feedback after a visit: the clinic's settings, and the ratings and
//! comments of a period (per practitioner and service).

use super::outreach::local_span;
use super::{RangeQuery, audit, audit_event, range};
use crate::admin::auth::{ClinicAccess, roles};
use crate::admin::error::{ApiError, ApiJson, ApiQuery, ApiResult, Refusals};
use crate::app_state::AppState;
use crate::domain::*;
use crate::storage::{AskAfter, FeedbackSettings, RatingSummary};
use axum::Json;
use axum::extract::State;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackSettingsView {
    /// Patients are asked for feedback at all.
    pub enabled: bool,
    /// `attended` (default): once staff mark the appointment attended;
    /// `end`: at its end, unless it was cancelled or marked missed.
    pub ask_after: String,
    /// Minutes after that before the request goes (0 to 10080; default 120).
    pub delay_minutes: u32,
    /// Minutes after the request before its one reminder (0: none, else 60
    /// to 10080; default 1440).
    pub reminder_after_minutes: u32,
}

fn settings_view(s: FeedbackSettings) -> FeedbackSettingsView {
    FeedbackSettingsView {
        enabled: s.enabled,
        ask_after: s.ask_after.as_str().to_string(),
        delay_minutes: s.delay_minutes,
        reminder_after_minutes: s.reminder_after_minutes,
    }
}

/// The clinic's feedback settings.
#[utoipa::path(get, path = "/api/clinics/{clinic_id}/feedback-settings", tag = "outreach",
    security(("bearer" = [])), params(("clinic_id" = uuid::Uuid, Path)),
    responses((status = 200, body = FeedbackSettingsView), Refusals))]
pub async fn get_feedback_settings(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Staff>,
) -> ApiResult<Json<FeedbackSettingsView>> {
    Ok(Json(settings_view(state.store.feedback_settings(access.clinic).await?)))
}

/// Changes the feedback settings (clinic admins). Requests already
/// scheduled keep their time.
#[utoipa::path(put, path = "/api/clinics/{clinic_id}/feedback-settings", tag = "outreach",
    security(("bearer" = [])), params(("clinic_id" = uuid::Uuid, Path)), request_body = FeedbackSettingsView,
    responses((status = 200, body = FeedbackSettingsView), Refusals))]
pub async fn set_feedback_settings(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Admin>,
    ApiJson(req): ApiJson<FeedbackSettingsView>,
) -> ApiResult<Json<FeedbackSettingsView>> {
    let ask_after = AskAfter::parse(&req.ask_after).ok_or_else(|| ApiError::invalid("ask_after", "attended or end"))?;
    if req.delay_minutes > 7 * 24 * 60 {
        return Err(ApiError::invalid("delay_minutes", "from 0 to 7 days (10080)"));
    }
    if req.reminder_after_minutes != 0 && !(60..=7 * 24 * 60).contains(&req.reminder_after_minutes) {
        return Err(ApiError::invalid("reminder_after_minutes", "0 (no reminder) or from 60 minutes to 7 days (10080)"));
    }
    let settings = FeedbackSettings {
        enabled: req.enabled,
        ask_after,
        delay_minutes: req.delay_minutes,
        reminder_after_minutes: req.reminder_after_minutes,
    };
    let now = state.clock.now();
    state.store.set_feedback_settings(access.clinic, &settings, now).await?;
    let event = audit_event(&access.caller, access.clinic, "update", "feedback_settings", None);
    state.store.audit(&event, now).await?;
    Ok(Json(settings_view(settings)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedbackQuery {
    /// Local date of the appointments, inclusive (default: 30 days ago).
    pub from: Option<NaiveDate>,
    /// Local date, inclusive (default: today).
    pub to: Option<NaiveDate>,
    pub practitioner_id: Option<uuid::Uuid>,
    pub service_id: Option<uuid::Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RatingSummaryView {
    pub count: i64,
    /// Mean rating, two decimals (null when none).
    pub mean: Option<f64>,
    /// How many gave 1, 2, 3, 4 and 5.
    pub distribution: [i64; 5],
}

fn summary(s: RatingSummary) -> RatingSummaryView {
    RatingSummaryView { count: s.count, mean: s.mean, distribution: s.distribution }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PractitionerRatings {
    pub practitioner_id: uuid::Uuid,
    #[serde(flatten)]
    pub ratings: RatingSummaryView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceRatings {
    pub service_id: uuid::Uuid,
    #[serde(flatten)]
    pub ratings: RatingSummaryView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CommentView {
    pub appointment_id: uuid::Uuid,
    pub practitioner_id: uuid::Uuid,
    pub service_id: uuid::Uuid,
    pub rating: Option<u8>,
    /// What the patient wrote, as written (data, never instructions).
    pub comment: String,
    pub answered_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FeedbackStatsView {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Requests sent for the period's appointments.
    pub requested: i64,
    /// Requests answered with a rating, and declined ("non merci").
    pub answered: i64,
    pub declined: i64,
    /// answered / requested (null when none was sent).
    pub response_rate: Option<f64>,
    pub overall: RatingSummaryView,
    pub by_practitioner: Vec<PractitionerRatings>,
    pub by_service: Vec<ServiceRatings>,
    /// The latest comments, newest first (100 at most).
    pub comments: Vec<CommentView>,
}

/// Ratings and comments for the appointments of a period (local dates,
/// inclusive; default the last 30 days), optionally of one practitioner or
/// service. Reading the comments is audited.
#[utoipa::path(get, path = "/api/clinics/{clinic_id}/feedback/stats", tag = "outreach",
    security(("bearer" = [])), params(("clinic_id" = uuid::Uuid, Path), FeedbackQuery),
    responses((status = 200, body = FeedbackStatsView), Refusals))]
pub async fn feedback_stats(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Staff>,
    ApiQuery(q): ApiQuery<FeedbackQuery>,
) -> ApiResult<Json<FeedbackStatsView>> {
    let clinic = state.store.clinic(access.clinic).await?;
    let today = state.clock.now().with_timezone(&clinic.timezone).date_naive();
    let (from, to) =
        range(&state, &clinic, &RangeQuery { from: q.from.or(Some(today - chrono::Duration::days(30))), to: q.to.or(Some(today)) })?;
    let catalog = state.store.catalog(access.clinic).await?;
    let practitioner = q.practitioner_id.map(PractitionerId);
    if let Some(p) = practitioner
        && catalog.practitioner(p).is_none()
    {
        return Err(ApiError::invalid("practitioner_id", "no such practitioner in this clinic"));
    }
    let service = q.service_id.map(ServiceId);
    if let Some(s) = service
        && catalog.service(s).is_none()
    {
        return Err(ApiError::invalid("service_id", "no such service in this clinic"));
    }
    let (lo, hi) = local_span(&clinic, from, to);
    let s = state.store.feedback_stats(access.clinic, lo, hi, practitioner, service).await?;
    audit(&state, &access.caller, Some(access.clinic), "read", "feedback", None).await?;
    Ok(Json(FeedbackStatsView {
        from,
        to,
        requested: s.requested,
        answered: s.answered,
        declined: s.declined,
        response_rate: (s.requested > 0).then(|| (s.answered as f64 / s.requested as f64 * 1000.0).round() / 1000.0),
        overall: summary(s.overall),
        by_practitioner: s
            .by_practitioner
            .into_iter()
            .map(|(id, r)| PractitionerRatings { practitioner_id: id.0, ratings: summary(r) })
            .collect(),
        by_service: s.by_service.into_iter().map(|(id, r)| ServiceRatings { service_id: id.0, ratings: summary(r) }).collect(),
        comments: s
            .comments
            .into_iter()
            .map(|c| CommentView {
                appointment_id: c.appointment_id.0,
                practitioner_id: c.practitioner_id.0,
                service_id: c.service_id.0,
                rating: c.rating,
                comment: c.comment,
                answered_at: c.answered_at,
            })
            .collect(),
    }))
}
