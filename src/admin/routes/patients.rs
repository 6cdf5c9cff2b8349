//! Patients and the phones linked to them (staff and clinic admins). Every
//! read and change is audited; erasure (clinic admins) blanks the patient
//! everywhere this clinic holds them.

use super::{AppointmentView, CreatedId, audit, audit_event, page_limit};
use crate::admin::auth::{ClinicAccess, roles};
use crate::admin::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, Refusals};
use crate::admin::views::Erasure;
use crate::app_state::AppState;
use crate::domain::*;
use crate::storage::PatientRecord;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

#[derive(Debug, Serialize, ToSchema)]
pub struct PatientView {
    pub id: String,
    pub first_name: String,
    pub last_name: String,
    pub birth_date: Option<NaiveDate>,
    /// E.164 numbers from which this patient's family books.
    pub phones: Vec<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PatientDetail {
    #[serde(flatten)]
    pub patient: PatientView,
    /// All their appointments in this clinic, most recent first.
    pub appointments: Vec<AppointmentView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PatientPageView {
    pub items: Vec<PatientView>,
    /// Pass as `offset` for the next page; absent on the last one.
    pub next_offset: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PatientQuery {
    /// Part of the name, in any order ("mbuyi", "grâce mb").
    pub q: Option<String>,
    /// An E.164 number linked to the patient.
    pub phone: Option<String>,
    /// 1–200, default 50.
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatientInput {
    /// Required when creating.
    #[schema(min_length = 1, max_length = 100)]
    pub first_name: Option<String>,
    /// Required when creating.
    #[schema(min_length = 1, max_length = 100)]
    pub last_name: Option<String>,
    pub birth_date: Option<NaiveDate>,
    /// When creating: the numbers to link, E.164.
    #[serde(default)]
    #[schema(max_items = 10)]
    pub phones: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneInput {
    /// E.164, for example +243990000000.
    #[schema(pattern = "^\\+[0-9]{8,15}$")]
    pub phone: String,
}

fn view(r: &PatientRecord) -> PatientView {
    PatientView {
        id: r.patient.id.to_string(),
        first_name: r.patient.first_name.clone(),
        last_name: r.patient.last_name.clone(),
        birth_date: r.patient.birth_date,
        phones: r.phones.iter().map(|p| p.as_str().to_string()).collect(),
        created_at: r.created_at,
    }
}

fn phone(field: &str, raw: &str) -> ApiResult<PhoneNumber> {
    PhoneNumber::parse(raw.trim()).map_err(|_| ApiError::invalid(field, "an E.164 number such as +243990000000"))
}

fn name(field: &str, value: Option<String>) -> ApiResult<Option<String>> {
    match value.map(|v| v.trim().to_string()) {
        Some(v) if v.is_empty() || v.chars().count() > 100 => Err(ApiError::invalid(field, "1 to 100 characters")),
        other => Ok(other),
    }
}

fn birth_date(state: &AppState, date: Option<NaiveDate>) -> ApiResult<Option<NaiveDate>> {
    let today = state.clock.now().date_naive();
    match date {
        Some(d) if d > today || d < NaiveDate::from_ymd_opt(1900, 1, 1).expect("valid date") => {
            Err(ApiError::invalid("birth_date", "between 1900-01-01 and today"))
        }
        other => Ok(other),
    }
}

/// Patients of the clinic by name or phone, alphabetical.
#[utoipa::path(get, path = "/api/clinics/{clinic_id}/patients", tag = "patients", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), PatientQuery),
    responses((status = 200, body = PatientPageView), Refusals))]
pub async fn list_patients(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Staff>,
    ApiQuery(q): ApiQuery<PatientQuery>,
) -> ApiResult<Json<PatientPageView>> {
    let (clinic, caller) = (access.clinic, access.caller);
    let limit = page_limit(q.limit, 50, 200)?;
    let offset = q.offset.unwrap_or(0);
    if !(0..=1_000_000).contains(&offset) {
        return Err(ApiError::invalid("offset", "must be between 0 and 1000000"));
    }
    let name = q.q.as_deref().map(str::trim).filter(|s| !s.is_empty());
    if name.is_some_and(|n| n.chars().count() > 100) {
        return Err(ApiError::invalid("q", "at most 100 characters"));
    }
    let phone = q.phone.as_deref().map(|p| phone("phone", p)).transpose()?;
    let page = state.store.search_patients(clinic, name, phone.as_ref(), limit, offset).await?;
    audit(&state, &caller, Some(clinic), "list", "patients", None).await?;
    Ok(Json(PatientPageView { items: page.items.iter().map(view).collect(), next_offset: page.more.then_some(offset + limit) }))
}

#[utoipa::path(get, path = "/api/clinics/{clinic_id}/patients/{patient_id}", tag = "patients", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("patient_id" = Uuid, Path)),
    responses((status = 200, body = PatientDetail), Refusals))]
pub async fn get_patient(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Staff>,
    ApiPath((_clinic, patient)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<Json<PatientDetail>> {
    let (clinic, caller) = (access.clinic, access.caller);
    let record =
        state.store.patient(clinic, PatientId(patient)).await?.filter(|r| !r.erased).ok_or_else(|| ApiError::not_found("patient"))?;
    let mut appointments: Vec<AppointmentView> =
        state.store.patient_appointments(clinic, PatientId(patient)).await?.iter().map(AppointmentView::from).collect();
    appointments.reverse();
    audit(&state, &caller, Some(clinic), "read", "patient", Some(&patient.to_string())).await?;
    Ok(Json(PatientDetail { patient: view(&record), appointments }))
}

/// Registers a patient (for example before booking for them by phone).
#[utoipa::path(post, path = "/api/clinics/{clinic_id}/patients", tag = "patients", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path)), request_body = PatientInput,
    responses((status = 201, body = CreatedId), Refusals))]
pub async fn create_patient(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Staff>,
    ApiJson(req): ApiJson<PatientInput>,
) -> ApiResult<(StatusCode, Json<CreatedId>)> {
    let (clinic, caller) = (access.clinic, access.caller);
    let first_name = name("first_name", req.first_name)?.ok_or_else(|| ApiError::invalid("first_name", "is required"))?;
    let last_name = name("last_name", req.last_name)?.ok_or_else(|| ApiError::invalid("last_name", "is required"))?;
    if req.phones.len() > 10 {
        return Err(ApiError::invalid("phones", "at most 10"));
    }
    let phones = req.phones.iter().map(|p| phone("phones", p)).collect::<ApiResult<Vec<_>>>()?;
    let patient = Patient {
        id: PatientId::random(),
        clinic_id: clinic,
        first_name,
        last_name,
        birth_date: birth_date(&state, req.birth_date)?,
        relation: None,
    };
    let id = patient.id.to_string();
    state.store.add_patient(&patient, &phones, &audit_event(&caller, clinic, "create", "patient", Some(&id)), state.clock.now()).await?;
    Ok((StatusCode::CREATED, Json(CreatedId { id: patient.id.to_string() })))
}

/// Corrects a name or birth date (phones have their own routes).
#[utoipa::path(patch, path = "/api/clinics/{clinic_id}/patients/{patient_id}", tag = "patients", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("patient_id" = Uuid, Path)), request_body = PatientInput,
    responses((status = 204), Refusals))]
pub async fn update_patient(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Staff>,
    ApiPath((_clinic, patient)): ApiPath<(Uuid, Uuid)>,
    ApiJson(req): ApiJson<PatientInput>,
) -> ApiResult<StatusCode> {
    let (clinic, caller) = (access.clinic, access.caller);
    if !req.phones.is_empty() {
        return Err(ApiError::invalid("phones", "use the patient's phones routes"));
    }
    let mut record =
        state.store.patient(clinic, PatientId(patient)).await?.filter(|r| !r.erased).ok_or_else(|| ApiError::not_found("patient"))?;
    if let Some(n) = name("first_name", req.first_name)? {
        record.patient.first_name = n;
    }
    if let Some(n) = name("last_name", req.last_name)? {
        record.patient.last_name = n;
    }
    if let Some(d) = birth_date(&state, req.birth_date)? {
        record.patient.birth_date = Some(d);
    }
    let id = patient.to_string();
    if !state
        .store
        .update_patient(&record.patient, &audit_event(&caller, clinic, "update", "patient", Some(&id)), state.clock.now())
        .await?
    {
        return Err(ApiError::not_found("patient"));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Links a phone: from then on, messages from it can book, list and cancel for this patient.
#[utoipa::path(post, path = "/api/clinics/{clinic_id}/patients/{patient_id}/phones", tag = "patients", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("patient_id" = Uuid, Path)), request_body = PhoneInput,
    responses((status = 204), Refusals))]
pub async fn add_phone(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Staff>,
    ApiPath((_clinic, patient)): ApiPath<(Uuid, Uuid)>,
    ApiJson(req): ApiJson<PhoneInput>,
) -> ApiResult<StatusCode> {
    let (clinic, caller) = (access.clinic, access.caller);
    let phone = phone("phone", &req.phone)?;
    let id = patient.to_string();
    let event = audit_event(&caller, clinic, "link_phone", "patient", Some(&id));
    if !state.store.link_phone(clinic, PatientId(patient), &phone, &event, state.clock.now()).await? {
        return Err(ApiError::not_found("patient"));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Unlinks a phone (a lost or passed-on number): it no longer reaches this patient's records.
#[utoipa::path(delete, path = "/api/clinics/{clinic_id}/patients/{patient_id}/phones/{phone}", tag = "patients", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("patient_id" = Uuid, Path), ("phone" = String, Path, description = "E.164, with + written %2B")),
    responses((status = 204), Refusals))]
pub async fn remove_phone(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Staff>,
    ApiPath((_clinic, patient, number)): ApiPath<(Uuid, Uuid, String)>,
) -> ApiResult<StatusCode> {
    let (clinic, caller) = (access.clinic, access.caller);
    let phone = phone("phone", &number)?;
    let id = patient.to_string();
    let event = audit_event(&caller, clinic, "unlink_phone", "patient", Some(&id));
    if !state.store.unlink_phone(clinic, PatientId(patient), &phone, &event, state.clock.now()).await? {
        return Err(ApiError::not_found("phone of this patient"));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Erases a patient (clinic admins; the right to erasure): appointments still
/// to come are cancelled and their time freed, name and birth date blanked,
/// phones unlinked, and the messages of a phone that no longer reaches anyone
/// in this clinic blanked. Past appointments stay, anonymous, for statistics.
#[utoipa::path(delete, path = "/api/clinics/{clinic_id}/patients/{patient_id}", tag = "patients", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("patient_id" = Uuid, Path)),
    responses((status = 200, body = Erasure), (status = 503, body = crate::admin::error::ErrorBody, description = "the vector store (Qdrant) did not answer; nothing was changed"), Refusals))]
pub async fn erase_patient(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Admin>,
    ApiPath((_clinic, patient)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<Json<Erasure>> {
    let (clinic, caller) = (access.clinic, access.caller);
    let fresh = crate::conversation::fresh_state_json();
    // The vectors of the patient's documents go first: if Qdrant does not
    // answer, nothing is erased and the call can be repeated.
    state.library.forget_patient(clinic, PatientId(patient)).await.map_err(|e| {
        tracing::error!(error = %e, "patient's document vectors not removed from Qdrant");
        ApiError::unavailable("the vector store did not answer; nothing was erased, try again")
    })?;
    let erasure = state
        .store
        .erase_patient(
            clinic,
            PatientId(patient),
            &fresh,
            &audit_event(&caller, clinic, "erase", "patient", Some(&patient.to_string())),
            state.clock.now(),
        )
        .await?
        .ok_or_else(|| ApiError::not_found("patient"))?;
    Ok(Json(erasure.into()))
}
