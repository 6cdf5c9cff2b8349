//! The audit trail and operational events (superadmins).

use super::*;
use crate::admin::auth::Superadmin;
use crate::admin::error::{ApiQuery, ApiResult, Refusals};
use crate::admin::views::{self, AuditEvent, SystemEvent};
use crate::app_state::AppState;
use crate::domain::*;
use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    pub clinic_id: Option<Uuid>,
    pub limit: Option<i64>,
    pub before: Option<i64>,
}

/// The audit trail (superadmins): who read or changed what, when, where.
#[utoipa::path(get, path = "/api/audit", tag = "audit", security(("bearer" = [])),
    params(AuditQuery),
    responses((status = 200, body = Vec<AuditEvent>), Refusals))]
pub async fn audit_events(
    State(state): State<AppState>,
    _: Superadmin,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Json<Vec<AuditEvent>>> {
    let limit = page_limit(q.limit, 100, 1000)?;
    Ok(Json(views::all(state.store.audit_events(q.clinic_id.map(ClinicId), limit, q.before).await?)))
}

/// Operational events (superadmins): refused webhooks, unsent replies, model
/// failures. Never message text.
#[utoipa::path(get, path = "/api/system-events", tag = "audit", security(("bearer" = [])),
    params(AuditQuery),
    responses((status = 200, body = Vec<SystemEvent>), Refusals))]
pub async fn system_events(
    State(state): State<AppState>,
    _: Superadmin,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Json<Vec<SystemEvent>>> {
    let limit = page_limit(q.limit, 100, 1000)?;
    Ok(Json(views::all(state.store.system_events(q.clinic_id.map(ClinicId), limit, q.before).await?)))
}
