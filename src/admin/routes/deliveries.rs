//! What did not reach patients: the clinic's own delivery failures, for its
//! admins, counted by kind and reason over a period (nothing hidden by a
//! rate limit), with the most recent ones to open.

use super::outreach::local_span;
use super::{RangeQuery, range};
use crate::admin::auth::{ClinicAccess, roles};
use crate::admin::error::{ApiQuery, ApiResult, Refusals};
use crate::app_state::AppState;
use axum::Json;
use axum::extract::State;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryFailuresView {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Messages given up or refused in the period.
    pub failed: i64,
    /// Messages whose outcome is being looked up in Twilio now.
    pub uncertain: i64,
    /// Failures by kind (reply, staff, reminder, feedback, broadcast) and reason, most first.
    pub by_reason: Vec<FailureCount>,
    /// The most recent failures (at most 50), newest first.
    pub recent: Vec<FailedDelivery>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FailureCount {
    pub kind: String,
    pub reason: String,
    pub count: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FailedDelivery {
    pub id: i64,
    pub conversation_id: String,
    pub kind: String,
    pub channel: String,
    /// Masked.
    pub to: String,
    pub attempts: i64,
    pub reason: String,
    pub queued_at: DateTime<Utc>,
}

/// The clinic's delivery failures in a period (clinic admins; default the
/// last 7 days).
#[utoipa::path(get, path = "/api/clinics/{clinic_id}/deliveries/failed", tag = "outreach",
    security(("bearer" = [])), params(("clinic_id" = uuid::Uuid, Path), RangeQuery),
    responses((status = 200, body = DeliveryFailuresView), Refusals))]
pub async fn delivery_failures(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Admin>,
    ApiQuery(q): ApiQuery<RangeQuery>,
) -> ApiResult<Json<DeliveryFailuresView>> {
    let clinic = state.store.clinic(access.clinic).await?;
    let today = state.clock.now().with_timezone(&clinic.timezone).date_naive();
    let q = RangeQuery { from: q.from.or(Some(today - chrono::Duration::days(7))), to: q.to.or(Some(today)) };
    let (from, to) = range(&state, &clinic, &q)?;
    let (lo, hi) = local_span(&clinic, from, to);
    let f = state.store.delivery_failures(access.clinic, lo, hi, 50).await?;
    Ok(Json(DeliveryFailuresView {
        from,
        to,
        failed: f.failed,
        uncertain: f.uncertain,
        by_reason: f.by_reason.into_iter().map(|(kind, reason, count)| FailureCount { kind, reason, count }).collect(),
        recent: f
            .recent
            .into_iter()
            .map(|r| FailedDelivery {
                id: r.id,
                conversation_id: r.conversation_id,
                kind: r.kind,
                channel: r.channel,
                to: crate::domain::mask_phone(&r.to),
                attempts: r.attempts,
                reason: r.error,
                queued_at: r.created_at,
            })
            .collect(),
    }))
}
