//! Admin API handlers. Every route that names a clinic checks the caller's
//! membership first (404 without one, 403 with too small a role); every read
//! or change of patient data is audited.

mod accounts;
mod agenda;
mod appointments;
mod audit;
mod broadcasts;
mod catalog;
mod clinics;
mod conversations;
mod deliveries;
mod documents;
mod feedback;
mod google;
mod outreach;
mod patients;

pub use accounts::*;
pub use agenda::*;
pub use appointments::*;
pub use audit::*;
pub use broadcasts::*;
pub use catalog::*;
pub use clinics::*;
pub use conversations::*;
pub use deliveries::*;
pub use documents::*;
pub use feedback::*;
pub use google::*;
pub use outreach::*;
pub use patients::*;

use super::auth::Caller;
use super::error::{ApiError, ApiResult};
use crate::app_state::AppState;
use crate::domain::*;
use crate::storage::{ClinicRole, NewAuditEvent};
use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RangeQuery {
    /// Local date, inclusive (default: today).
    pub from: Option<NaiveDate>,
    /// Local date, inclusive (default: from + 14 days).
    pub to: Option<NaiveDate>,
}

/// The audit row of a change, to be written in the change's own transaction.
fn audit_event<'a>(caller: &Caller, clinic: ClinicId, action: &'a str, resource: &'a str, id: Option<&'a str>) -> NewAuditEvent<'a> {
    NewAuditEvent { actor: Some(caller.user_id), clinic: Some(clinic), action, resource, resource_id: id, outcome: "ok" }
}

/// Records who read what. A read is answered only once its audit row is
/// written; a failed audit fails the request instead of passing silently.
/// (A change writes its row in its own transaction: see `audit_event`.)
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

/// A page size: `default` when absent, 1 to `max` otherwise.
fn page_limit(asked: Option<i64>, default: i64, max: i64) -> ApiResult<i64> {
    let limit = asked.unwrap_or(default);
    if (1..=max).contains(&limit) { Ok(limit) } else { Err(ApiError::invalid("limit", format!("must be between 1 and {max}"))) }
}

fn parse_cursor(c: &str) -> ApiResult<(i64, String)> {
    let (ts, id) = c.split_once('_').ok_or_else(|| ApiError::invalid("cursor", "not a cursor from a previous page"))?;
    Ok((ts.parse().map_err(|_| ApiError::invalid("cursor", "not a cursor from a previous page"))?, id.to_string()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedId {
    pub id: String,
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
