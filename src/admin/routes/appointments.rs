//! Appointments: the agenda over a period, and staff booking, moving,
//! cancelling and marking them, by the same rules and locks as the bot.

use super::*;
use crate::admin::auth::{ClinicAccess, roles};
use crate::admin::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, ErrorBody, Refusals};
use crate::app_state::AppState;
use crate::domain::*;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

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
    /// When the patient confirmed they will come (answering a reminder).
    pub attendance_confirmed_at: Option<DateTime<Utc>>,
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
            attendance_confirmed_at: a.attendance_confirmed_at,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AgendaQuery {
    /// Local date, inclusive (default: today).
    pub from: Option<NaiveDate>,
    /// Local date, inclusive (default: from + 14 days).
    pub to: Option<NaiveDate>,
    /// One practitioner's agenda. A practitioner may ask only for their own.
    pub practitioner_id: Option<Uuid>,
}

/// The agenda of a period: a practitioner sees only their own.
#[utoipa::path(get, path = "/api/clinics/{clinic_id}/appointments", tag = "appointments", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), AgendaQuery),
    responses((status = 200, body = Vec<AppointmentView>), Refusals))]
pub async fn list_appointments(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Member>,
    ApiQuery(q): ApiQuery<AgendaQuery>,
) -> ApiResult<Json<Vec<AppointmentView>>> {
    let (clinic_id, caller) = (access.clinic, access.caller);
    let clinic = state.store.clinic(clinic_id).await?;
    let (from, to) = range(&state, &clinic, &RangeQuery { from: q.from, to: q.to })?;
    let (start, end) =
        (crate::scheduling::day_start(clinic.timezone, from), crate::scheduling::day_start(clinic.timezone, to + Duration::days(1)));
    // A practitioner sees their own agenda only.
    let own = caller.memberships.iter().find(|m| m.clinic_id == clinic_id && m.role == ClinicRole::Practitioner).map(|m| m.practitioner_id);
    let asked = q.practitioner_id.map(PractitionerId);
    if !caller.superadmin && asked.is_some() && own.is_some_and(|p| p != asked) {
        return Err(ApiError::forbidden());
    }
    let items: Vec<AppointmentView> = state
        .store
        .appointments_between(clinic_id, start, end, None)
        .await?
        .iter()
        .filter(|a| caller.superadmin || own.is_none_or(|p| p == Some(a.practitioner_id)))
        .filter(|a| asked.is_none_or(|p| p == a.practitioner_id))
        .map(AppointmentView::from)
        .collect();
    audit(&state, &caller, Some(clinic_id), "list", "appointments", None).await?;
    Ok(Json(items))
}

/// Cancels an appointment; its time is bookable again at once.
#[utoipa::path(post, path = "/api/clinics/{clinic_id}/appointments/{appointment_id}/cancel", tag = "appointments", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("appointment_id" = Uuid, Path)),
    responses((status = 204), Refusals))]
pub async fn cancel_appointment(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Staff>,
    ApiPath((_clinic, appointment)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    let (clinic, caller) = (access.clinic, access.caller);
    let mut tx = state.store.begin().await?;
    let done =
        crate::scheduling::cancel(&mut tx, clinic, AppointmentId(appointment), "staff", state.clock.now()).await.map_err(|e| match e {
            crate::scheduling::BookingError::Storage(s) => ApiError::from(s),
            _ => ApiError::not_found("appointment"),
        })?;
    if !done {
        return Err(ApiError::not_found("booked appointment"));
    }
    let id = appointment.to_string();
    crate::storage::Store::audit_in(&mut tx, &audit_event(&caller, clinic, "cancel", "appointment", Some(&id)), state.clock.now()).await?;
    tx.commit().await.map_err(crate::storage::StorageError::from)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAppointmentRequest {
    pub practitioner_id: Uuid,
    pub service_id: Uuid,
    pub patient_id: Uuid,
    pub starts_at: DateTime<Utc>,
    #[serde(default)]
    #[schema(value_type = Option<crate::admin::schema::ConsultationMode>)]
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

fn booking_error(e: crate::scheduling::BookingError) -> ApiError {
    match e {
        crate::scheduling::BookingError::Unavailable(why) => ApiError::conflict(format!("this time cannot be booked: {why}")),
        crate::scheduling::BookingError::NotFound(what) => ApiError::not_found(what),
        crate::scheduling::BookingError::Storage(s) => ApiError::from(s),
    }
}

/// Books on behalf of a patient, by the same rules and lock as the bot.
#[utoipa::path(post, path = "/api/clinics/{clinic_id}/appointments", tag = "appointments", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path)), request_body = NewAppointmentRequest,
    responses((status = 201, body = CreatedId), (status = 409, body = ErrorBody), Refusals))]
pub async fn create_appointment(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Staff>,
    ApiJson(req): ApiJson<NewAppointmentRequest>,
) -> ApiResult<(StatusCode, Json<CreatedId>)> {
    let (clinic, caller) = (access.clinic, access.caller);
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
    let book = crate::scheduling::BookRequest {
        practitioner: PractitionerId(req.practitioner_id),
        service: ServiceId(req.service_id),
        mode: req.mode.unwrap_or_default(),
        patient: PatientId(req.patient_id),
        start: req.starts_at,
        source: "staff",
        conversation: None,
    };
    let mut tx = state.store.begin().await?;
    let created = crate::scheduling::book(&mut tx, &catalog, &book, state.clock.now()).await.map_err(booking_error)?;
    let id = created.to_string();
    crate::storage::Store::audit_in(&mut tx, &audit_event(&caller, clinic, "create", "appointment", Some(&id)), state.clock.now()).await?;
    tx.commit().await.map_err(crate::storage::StorageError::from)?;
    Ok((StatusCode::CREATED, Json(CreatedId { id: created.to_string() })))
}

/// Moves an appointment; the old time is freed only if the new one is taken.
#[utoipa::path(post, path = "/api/clinics/{clinic_id}/appointments/{appointment_id}/move", tag = "appointments", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("appointment_id" = Uuid, Path)), request_body = MoveRequestBody,
    responses((status = 204), (status = 409, body = ErrorBody), Refusals))]
pub async fn move_appointment(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Staff>,
    ApiPath((_clinic, appointment)): ApiPath<(Uuid, Uuid)>,
    ApiJson(req): ApiJson<MoveRequestBody>,
) -> ApiResult<StatusCode> {
    let (clinic, caller) = (access.clinic, access.caller);
    let catalog = state.store.catalog(clinic).await?;
    let request = crate::scheduling::MoveRequest {
        appointment: AppointmentId(appointment),
        practitioner: req.practitioner_id.map(PractitionerId),
        start: req.starts_at,
        source: "staff",
    };
    let mut tx = state.store.begin().await?;
    crate::scheduling::reschedule(&mut tx, &catalog, &request, state.clock.now()).await.map_err(booking_error)?;
    let id = appointment.to_string();
    crate::storage::Store::audit_in(&mut tx, &audit_event(&caller, clinic, "move", "appointment", Some(&id)), state.clock.now()).await?;
    tx.commit().await.map_err(crate::storage::StorageError::from)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Marks a booked appointment attended or missed.
#[utoipa::path(post, path = "/api/clinics/{clinic_id}/appointments/{appointment_id}/status", tag = "appointments", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("appointment_id" = Uuid, Path)), request_body = StatusRequest,
    responses((status = 204), Refusals))]
pub async fn set_appointment_status(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Staff>,
    ApiPath((_clinic, appointment)): ApiPath<(Uuid, Uuid)>,
    ApiJson(req): ApiJson<StatusRequest>,
) -> ApiResult<StatusCode> {
    let (clinic, caller) = (access.clinic, access.caller);
    let status = match AppointmentStatus::parse(&req.status) {
        Some(s @ (AppointmentStatus::Attended | AppointmentStatus::NoShow)) => s,
        _ => return Err(ApiError::invalid("status", "must be attended or no_show")),
    };
    let id = appointment.to_string();
    let event = audit_event(&caller, clinic, "status", "appointment", Some(&id));
    if !state.store.set_appointment_status(clinic, AppointmentId(appointment), status, &event, state.clock.now()).await? {
        return Err(ApiError::not_found("booked appointment"));
    }
    Ok(StatusCode::NO_CONTENT)
}
