//! Free slots from the engine, and the clinic's exceptions and public holidays.

use super::*;
use crate::admin::auth::{ClinicAccess, roles};
use crate::admin::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, Refusals};
use crate::app_state::AppState;
use crate::domain::*;
use crate::scheduling::{SlotEngine, SlotQuery};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

#[derive(Debug, Serialize, ToSchema)]
pub struct SlotView {
    pub practitioner_id: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub capacity: u32,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SlotsQuery {
    pub service_id: Uuid,
    pub practitioner_id: Option<Uuid>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// in_person (default) or remote.
    #[param(value_type = Option<crate::admin::schema::ConsultationMode>)]
    pub mode: Option<ConsultationMode>,
}

/// Free slots, from the same engine the bot uses.
#[utoipa::path(get, path = "/api/clinics/{clinic_id}/slots", tag = "appointments", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), SlotsQuery),
    responses((status = 200, body = Vec<SlotView>), Refusals))]
pub async fn slots(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Member>,
    ApiQuery(q): ApiQuery<SlotsQuery>,
) -> ApiResult<Json<Vec<SlotView>>> {
    let clinic = access.clinic;
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
            crate::scheduling::day_start(catalog.clinic.timezone, from) - Duration::days(1),
            crate::scheduling::day_start(catalog.clinic.timezone, to) + Duration::days(2),
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
    #[schema(value_type = crate::admin::schema::ExceptionKind)]
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
    responses((status = 200, body = Vec<ExceptionDto>), Refusals))]
pub async fn list_exceptions(State(state): State<AppState>, access: ClinicAccess<roles::Admin>) -> ApiResult<Json<Vec<ExceptionDto>>> {
    let clinic = access.clinic;
    Ok(Json(state.store.exceptions(clinic).await?.iter().map(to_dto).collect()))
}

#[utoipa::path(post, path = "/api/clinics/{clinic_id}/exceptions", tag = "scheduling", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path)), request_body = ExceptionDto,
    responses((status = 201, body = CreatedId), Refusals))]
pub async fn create_exception(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Admin>,
    ApiJson(req): ApiJson<ExceptionDto>,
) -> ApiResult<(StatusCode, Json<CreatedId>)> {
    let (clinic, caller) = (access.clinic, access.caller);
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
        ExceptionTimeDto::Once { starts_at, ends_at } => {
            // Instants are kept to the second: an end within the start's
            // second is not after it once stored.
            use chrono::SubsecRound;
            let (start, end) = (starts_at.trunc_subsecs(0), ends_at.trunc_subsecs(0));
            if end <= start {
                return Err(ApiError::invalid("time.ends_at", "must be at least a second after starts_at"));
            }
            ExceptionTime::Once { start, end }
        }
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
    state
        .store
        .add_exception(clinic, &e, &audit_event(&caller, clinic, "create", "exception", Some(&e.id.to_string())), state.clock.now())
        .await?;
    Ok((StatusCode::CREATED, Json(CreatedId { id: e.id.to_string() })))
}

#[utoipa::path(delete, path = "/api/clinics/{clinic_id}/exceptions/{exception_id}", tag = "scheduling", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("exception_id" = Uuid, Path)),
    responses((status = 204), Refusals))]
pub async fn delete_exception(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Admin>,
    ApiPath((_clinic, exception)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    let (clinic, caller) = (access.clinic, access.caller);
    if !state
        .store
        .delete_exception(
            clinic,
            ExceptionId(exception),
            &audit_event(&caller, clinic, "delete", "exception", Some(&exception.to_string())),
            state.clock.now(),
        )
        .await?
    {
        return Err(ApiError::not_found("exception"));
    }
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/clinics/{clinic_id}/holidays", tag = "scheduling", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path)),
    responses((status = 200, body = Vec<HolidayDto>), Refusals))]
pub async fn list_holidays(State(state): State<AppState>, access: ClinicAccess<roles::Member>) -> ApiResult<Json<Vec<HolidayDto>>> {
    let clinic = access.clinic;
    Ok(Json(state.store.holidays(clinic).await?.into_iter().map(|h| HolidayDto { date: h.date, name: h.name }).collect()))
}

/// Replaces the clinic's public holidays (the clinic is closed on them).
#[utoipa::path(put, path = "/api/clinics/{clinic_id}/holidays", tag = "scheduling", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path)), request_body = Vec<HolidayDto>,
    responses((status = 204), Refusals))]
pub async fn set_holidays(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Admin>,
    ApiJson(req): ApiJson<Vec<HolidayDto>>,
) -> ApiResult<StatusCode> {
    let (clinic, caller) = (access.clinic, access.caller);
    if req.len() > 366 {
        return Err(ApiError::invalid("body", "at most 366 holidays"));
    }
    let holidays: Vec<Holiday> = req.into_iter().map(|h| Holiday { date: h.date, name: h.name.chars().take(100).collect() }).collect();
    state.store.set_holidays(clinic, &holidays, &audit_event(&caller, clinic, "update", "holidays", None), state.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}
