//! Practitioners, treatment types (services) and weekly availability windows.
//! Members read them; clinic admins change them. The engine and the bot read
//! the same rows, so a change applies to the next search.

use super::{CreatedId, audit_event};
use crate::admin::auth::{ClinicAccess, roles};
use crate::admin::error::{ApiError, ApiJson, ApiPath, ApiResult, ErrorBody, Refusals};
use crate::app_state::AppState;
use crate::domain::*;
use crate::storage::{FutureOf, StorageError, StoredWindow};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Serialize, ToSchema)]
pub struct PractitionerView {
    pub id: String,
    pub title: String,
    pub first_name: String,
    pub last_name: String,
    /// Inactive practitioners are never offered.
    pub active: bool,
    pub daily_limit: Option<u32>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PractitionerInput {
    /// "Dr", "Pr", "Mme"… (may be empty).
    #[schema(max_length = 20)]
    pub title: Option<String>,
    #[schema(min_length = 1, max_length = 100)]
    pub first_name: Option<String>,
    #[schema(min_length = 1, max_length = 100)]
    pub last_name: Option<String>,
    /// Most appointments in one local day; 0 removes the limit.
    #[schema(maximum = 200)]
    pub daily_limit: Option<u32>,
    pub active: Option<bool>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PerformedBy {
    pub practitioner_id: Uuid,
    /// This practitioner's own duration for the service, if different.
    #[schema(minimum = 5, maximum = 480)]
    pub duration_minutes: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceView {
    pub id: String,
    pub name_fr: String,
    pub name_en: String,
    pub duration_minutes: u32,
    pub buffer_before_minutes: u32,
    pub buffer_after_minutes: u32,
    pub price: Option<String>,
    pub practitioner_ids: Vec<String>,
    pub practitioners: Vec<PerformedBy>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceInput {
    /// Required when creating.
    #[schema(min_length = 1, max_length = 100)]
    pub name_fr: Option<String>,
    /// Required when creating.
    #[schema(min_length = 1, max_length = 100)]
    pub name_en: Option<String>,
    /// Required when creating.
    #[schema(minimum = 5, maximum = 480)]
    pub duration_minutes: Option<u32>,
    /// Time kept free before and after (cleaning, notes).
    #[schema(maximum = 240)]
    pub buffer_before_minutes: Option<u32>,
    #[schema(maximum = 240)]
    pub buffer_after_minutes: Option<u32>,
    /// Shown to patients who ask ("15 000 FC"); empty removes it.
    #[schema(max_length = 100)]
    pub price: Option<String>,
    /// Replaces the list of practitioners who perform it.
    #[schema(max_items = 100)]
    pub practitioners: Option<Vec<PerformedBy>>,
}

/// A weekly window in which a practitioner takes appointments.
#[derive(Debug, Serialize, ToSchema)]
pub struct WindowView {
    pub id: String,
    pub practitioner_id: Uuid,
    /// 1 (Monday) to 7 (Sunday).
    pub weekday: u8,
    /// Minutes from local midnight.
    pub start_minute: u16,
    pub end_minute: u16,
    pub capacity: u32,
    /// Limited to these services; empty means every service of the practitioner.
    pub service_ids: Vec<Uuid>,
    /// in_person or remote; absent means both.
    #[schema(value_type = Option<crate::admin::schema::ConsultationMode>)]
    pub mode: Option<ConsultationMode>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WindowInput {
    pub practitioner_id: Uuid,
    /// 1 (Monday) to 7 (Sunday).
    #[schema(minimum = 1, maximum = 7)]
    pub weekday: u8,
    /// Minutes from local midnight: 0 ≤ start_minute < end_minute ≤ 1440.
    #[schema(maximum = 1439)]
    pub start_minute: u16,
    #[schema(minimum = 1, maximum = 1440)]
    pub end_minute: u16,
    /// Patients seen at once (group sessions); default 1.
    #[serde(default = "one")]
    #[schema(minimum = 1, maximum = 100)]
    pub capacity: u32,
    /// Limited to these services; empty means every service of the practitioner.
    #[serde(default)]
    #[schema(max_items = 100)]
    pub service_ids: Vec<Uuid>,
    /// in_person or remote; absent means both.
    #[schema(value_type = Option<crate::admin::schema::ConsultationMode>)]
    pub mode: Option<ConsultationMode>,
}

fn one() -> u32 {
    1
}

/// A text field, if given: trimmed, within `max` characters, and not empty
/// when `required`.
fn text(field: &str, value: Option<String>, required: bool, max: usize) -> ApiResult<Option<String>> {
    let value = value.map(|v| v.trim().to_string());
    match value {
        Some(v) if v.chars().count() > max => Err(ApiError::invalid(field, format!("at most {max} characters"))),
        Some(v) if v.is_empty() && required => Err(ApiError::invalid(field, "must not be empty")),
        other => Ok(other),
    }
}

/// A field a creation cannot do without.
fn present<T>(field: &str, value: Option<T>) -> ApiResult<T> {
    value.ok_or_else(|| ApiError::invalid(field, "is required"))
}

fn in_range(field: &str, value: Option<u32>, min: u32, max: u32) -> ApiResult<Option<u32>> {
    match value {
        Some(v) if !(min..=max).contains(&v) => Err(ApiError::invalid(field, format!("must be between {min} and {max}"))),
        other => Ok(other),
    }
}

fn practitioner_view(p: &Practitioner) -> PractitionerView {
    PractitionerView {
        id: p.id.to_string(),
        title: p.title.clone(),
        first_name: p.first_name.clone(),
        last_name: p.last_name.clone(),
        active: p.active,
        daily_limit: p.daily_limit,
    }
}

/// Storage said a referenced object is not the clinic's: the caller's input is wrong.
fn reference_error(e: StorageError, field: &str) -> ApiError {
    match e {
        StorageError::NotFound(what) => ApiError::invalid(field, format!("not a {what} of this clinic")),
        other => other.into(),
    }
}

#[utoipa::path(get, path = "/api/clinics/{clinic_id}/practitioners", tag = "clinics", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path)),
    responses((status = 200, body = Vec<PractitionerView>), Refusals))]
pub async fn list_practitioners(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Member>,
) -> ApiResult<Json<Vec<PractitionerView>>> {
    let clinic = access.clinic;
    let catalog = state.store.catalog(clinic).await?;
    Ok(Json(catalog.practitioners.iter().map(practitioner_view).collect()))
}

#[utoipa::path(post, path = "/api/clinics/{clinic_id}/practitioners", tag = "clinics", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path)), request_body = PractitionerInput,
    responses((status = 201, body = CreatedId), Refusals))]
pub async fn create_practitioner(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Admin>,
    ApiJson(req): ApiJson<PractitionerInput>,
) -> ApiResult<(StatusCode, Json<CreatedId>)> {
    let (clinic, caller) = (access.clinic, access.caller);
    let p = Practitioner {
        id: PractitionerId(Uuid::new_v4()),
        clinic_id: clinic,
        title: text("title", req.title, false, 20)?.unwrap_or_default(),
        first_name: present("first_name", text("first_name", req.first_name, true, 100)?)?,
        last_name: present("last_name", text("last_name", req.last_name, true, 100)?)?,
        active: req.active.unwrap_or(true),
        daily_limit: in_range("daily_limit", req.daily_limit, 0, 200)?.filter(|n| *n > 0),
    };
    state
        .store
        .save_practitioner(&p, true, &audit_event(&caller, clinic, "create", "practitioner", Some(&p.id.to_string())), state.clock.now())
        .await?;
    Ok((StatusCode::CREATED, Json(CreatedId { id: p.id.to_string() })))
}

/// Refuses to take a practitioner out of service while appointments are still booked with them.
async fn ensure_no_future_bookings(state: &AppState, clinic: ClinicId, of: FutureOf, id: Uuid) -> ApiResult<()> {
    let n = state.store.future_bookings(clinic, of, id, state.clock.now()).await?;
    if n > 0 {
        return Err(ApiError::conflict(format!("{n} appointment(s) still booked: move or cancel them first")));
    }
    Ok(())
}

/// Changes the fields given; `active: false` takes the practitioner out of
/// every search (refused while appointments are still booked with them).
#[utoipa::path(patch, path = "/api/clinics/{clinic_id}/practitioners/{practitioner_id}", tag = "clinics", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("practitioner_id" = Uuid, Path)), request_body = PractitionerInput,
    responses((status = 204), (status = 409, body = ErrorBody), Refusals))]
pub async fn update_practitioner(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Admin>,
    ApiPath((_clinic, practitioner)): ApiPath<(Uuid, Uuid)>,
    ApiJson(req): ApiJson<PractitionerInput>,
) -> ApiResult<StatusCode> {
    let (clinic, caller) = (access.clinic, access.caller);
    let catalog = state.store.catalog(clinic).await?;
    let mut p = catalog.practitioner(PractitionerId(practitioner)).cloned().ok_or_else(|| ApiError::not_found("practitioner"))?;
    if let Some(t) = text("title", req.title, false, 20)? {
        p.title = t;
    }
    if let Some(n) = text("first_name", req.first_name, true, 100)? {
        p.first_name = n;
    }
    if let Some(n) = text("last_name", req.last_name, true, 100)? {
        p.last_name = n;
    }
    if let Some(limit) = in_range("daily_limit", req.daily_limit, 0, 200)? {
        p.daily_limit = (limit > 0).then_some(limit);
    }
    if let Some(active) = req.active {
        if p.active && !active {
            ensure_no_future_bookings(&state, clinic, FutureOf::Practitioner, practitioner).await?;
        }
        p.active = active;
    }
    state
        .store
        .save_practitioner(
            &p,
            false,
            &audit_event(&caller, clinic, "update", "practitioner", Some(&practitioner.to_string())),
            state.clock.now(),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Archives a practitioner (inactive, kept for past appointments); refused
/// while appointments are still booked with them.
#[utoipa::path(delete, path = "/api/clinics/{clinic_id}/practitioners/{practitioner_id}", tag = "clinics", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("practitioner_id" = Uuid, Path)),
    responses((status = 204), (status = 409, body = ErrorBody), Refusals))]
pub async fn archive_practitioner(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Admin>,
    ApiPath((_clinic, practitioner)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    let (clinic, caller) = (access.clinic, access.caller);
    let catalog = state.store.catalog(clinic).await?;
    let mut p = catalog.practitioner(PractitionerId(practitioner)).cloned().ok_or_else(|| ApiError::not_found("practitioner"))?;
    ensure_no_future_bookings(&state, clinic, FutureOf::Practitioner, practitioner).await?;
    p.active = false;
    state
        .store
        .save_practitioner(
            &p,
            false,
            &audit_event(&caller, clinic, "archive", "practitioner", Some(&practitioner.to_string())),
            state.clock.now(),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

fn service_view(s: &Service) -> ServiceView {
    ServiceView {
        id: s.id.to_string(),
        name_fr: s.name_fr.clone(),
        name_en: s.name_en.clone(),
        duration_minutes: s.duration_minutes,
        buffer_before_minutes: s.buffer_before_minutes,
        buffer_after_minutes: s.buffer_after_minutes,
        price: s.price.clone(),
        practitioner_ids: s.practitioners.iter().map(|p| p.to_string()).collect(),
        practitioners: s
            .practitioners
            .iter()
            .map(|p| PerformedBy {
                practitioner_id: p.0,
                duration_minutes: s.duration_overrides.iter().find(|(q, _)| q == p).map(|(_, m)| *m),
            })
            .collect(),
    }
}

#[utoipa::path(get, path = "/api/clinics/{clinic_id}/services", tag = "clinics", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path)),
    responses((status = 200, body = Vec<ServiceView>), Refusals))]
pub async fn list_services(State(state): State<AppState>, access: ClinicAccess<roles::Member>) -> ApiResult<Json<Vec<ServiceView>>> {
    let clinic = access.clinic;
    let catalog = state.store.catalog(clinic).await?;
    Ok(Json(catalog.services.iter().map(service_view).collect()))
}

/// Applies the fields given to `s`, checking each.
fn apply_service(s: &mut Service, req: ServiceInput) -> ApiResult<()> {
    if let Some(n) = text("name_fr", req.name_fr, true, 100)? {
        s.name_fr = n;
    }
    if let Some(n) = text("name_en", req.name_en, true, 100)? {
        s.name_en = n;
    }
    if let Some(d) = in_range("duration_minutes", req.duration_minutes, 5, crate::domain::MAX_SERVICE_MINUTES)? {
        s.duration_minutes = d;
    }
    if let Some(b) = in_range("buffer_before_minutes", req.buffer_before_minutes, 0, crate::domain::MAX_BUFFER_MINUTES)? {
        s.buffer_before_minutes = b;
    }
    if let Some(b) = in_range("buffer_after_minutes", req.buffer_after_minutes, 0, crate::domain::MAX_BUFFER_MINUTES)? {
        s.buffer_after_minutes = b;
    }
    if let Some(p) = text("price", req.price, false, 100)? {
        s.price = (!p.is_empty()).then_some(p);
    }
    if let Some(list) = req.practitioners {
        if list.len() > 100 {
            return Err(ApiError::invalid("practitioners", "at most 100"));
        }
        s.practitioners.clear();
        s.duration_overrides.clear();
        for p in list {
            let pid = PractitionerId(p.practitioner_id);
            if s.practitioners.contains(&pid) {
                return Err(ApiError::invalid("practitioners", "a practitioner is listed twice"));
            }
            s.practitioners.push(pid);
            if let Some(m) = in_range("practitioners.duration_minutes", p.duration_minutes, 5, crate::domain::MAX_SERVICE_MINUTES)? {
                s.duration_overrides.push((pid, m));
            }
        }
    }
    Ok(())
}

#[utoipa::path(post, path = "/api/clinics/{clinic_id}/services", tag = "clinics", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path)), request_body = ServiceInput,
    responses((status = 201, body = CreatedId), Refusals))]
pub async fn create_service(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Admin>,
    ApiJson(req): ApiJson<ServiceInput>,
) -> ApiResult<(StatusCode, Json<CreatedId>)> {
    let (clinic, caller) = (access.clinic, access.caller);
    for (field, missing) in
        [("name_fr", req.name_fr.is_none()), ("name_en", req.name_en.is_none()), ("duration_minutes", req.duration_minutes.is_none())]
    {
        if missing {
            return Err(ApiError::invalid(field, "is required"));
        }
    }
    let mut s = Service {
        id: ServiceId(Uuid::new_v4()),
        clinic_id: clinic,
        name_fr: String::new(),
        name_en: String::new(),
        duration_minutes: 0,
        buffer_before_minutes: 0,
        buffer_after_minutes: 0,
        practitioners: Vec::new(),
        duration_overrides: Vec::new(),
        price: None,
    };
    apply_service(&mut s, req)?;
    state
        .store
        .save_service(&s, true, &audit_event(&caller, clinic, "create", "service", Some(&s.id.to_string())), state.clock.now())
        .await
        .map_err(|e| reference_error(e, "practitioners"))?;
    Ok((StatusCode::CREATED, Json(CreatedId { id: s.id.to_string() })))
}

#[utoipa::path(patch, path = "/api/clinics/{clinic_id}/services/{service_id}", tag = "clinics", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("service_id" = Uuid, Path)), request_body = ServiceInput,
    responses((status = 204), Refusals))]
pub async fn update_service(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Admin>,
    ApiPath((_clinic, service)): ApiPath<(Uuid, Uuid)>,
    ApiJson(req): ApiJson<ServiceInput>,
) -> ApiResult<StatusCode> {
    let (clinic, caller) = (access.clinic, access.caller);
    let catalog = state.store.catalog(clinic).await?;
    let mut s = catalog.service(ServiceId(service)).cloned().ok_or_else(|| ApiError::not_found("service"))?;
    apply_service(&mut s, req)?;
    state
        .store
        .save_service(&s, false, &audit_event(&caller, clinic, "update", "service", Some(&service.to_string())), state.clock.now())
        .await
        .map_err(|e| reference_error(e, "practitioners"))?;
    Ok(StatusCode::NO_CONTENT)
}

/// Retires a service: no longer offered or understood, kept for the
/// appointments that used it. Refused while some are still booked.
#[utoipa::path(delete, path = "/api/clinics/{clinic_id}/services/{service_id}", tag = "clinics", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("service_id" = Uuid, Path)),
    responses((status = 204), (status = 409, body = ErrorBody), Refusals))]
pub async fn archive_service(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Admin>,
    ApiPath((_clinic, service)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    let (clinic, caller) = (access.clinic, access.caller);
    ensure_no_future_bookings(&state, clinic, FutureOf::Service, service).await?;
    if !state
        .store
        .archive_service(
            clinic,
            ServiceId(service),
            &audit_event(&caller, clinic, "archive", "service", Some(&service.to_string())),
            state.clock.now(),
        )
        .await?
    {
        return Err(ApiError::not_found("service"));
    }
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/clinics/{clinic_id}/windows", tag = "scheduling", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path)),
    responses((status = 200, body = Vec<WindowView>), Refusals))]
pub async fn list_windows(State(state): State<AppState>, access: ClinicAccess<roles::Member>) -> ApiResult<Json<Vec<WindowView>>> {
    let clinic = access.clinic;
    Ok(Json(
        state
            .store
            .windows(clinic)
            .await?
            .into_iter()
            .map(|w| WindowView {
                id: w.id.to_string(),
                practitioner_id: w.window.practitioner_id.0,
                weekday: w.window.weekday.number_from_monday() as u8,
                start_minute: w.window.start_minute,
                end_minute: w.window.end_minute,
                capacity: w.window.capacity,
                service_ids: w.window.services.iter().map(|s| s.0).collect(),
                mode: w.window.mode,
            })
            .collect(),
    ))
}

/// Adds a weekly window in which the practitioner takes appointments. To
/// change one, add the new window and delete the old.
#[utoipa::path(post, path = "/api/clinics/{clinic_id}/windows", tag = "scheduling", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path)), request_body = WindowInput,
    responses((status = 201, body = CreatedId), Refusals))]
pub async fn create_window(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Admin>,
    ApiJson(req): ApiJson<WindowInput>,
) -> ApiResult<(StatusCode, Json<CreatedId>)> {
    let (clinic, caller) = (access.clinic, access.caller);
    let weekday =
        chrono::Weekday::try_from(req.weekday.wrapping_sub(1)).map_err(|_| ApiError::invalid("weekday", "1 (Monday) to 7 (Sunday)"))?;
    if req.end_minute > DAY_MINUTES || req.start_minute >= req.end_minute {
        return Err(ApiError::invalid("end_minute", "0 ≤ start_minute < end_minute ≤ 1440"));
    }
    in_range("capacity", Some(req.capacity), 1, 100)?;
    if req.service_ids.len() > 100 {
        return Err(ApiError::invalid("service_ids", "at most 100"));
    }
    let window = StoredWindow {
        id: Uuid::new_v4(),
        window: WeeklyWindow {
            practitioner_id: PractitionerId(req.practitioner_id),
            weekday,
            start_minute: req.start_minute,
            end_minute: req.end_minute,
            capacity: req.capacity,
            services: req.service_ids.iter().copied().map(ServiceId).collect(),
            mode: req.mode,
        },
    };
    state
        .store
        .add_window(clinic, &window, &audit_event(&caller, clinic, "create", "window", Some(&window.id.to_string())), state.clock.now())
        .await
        .map_err(|e| match e {
            StorageError::NotFound("practitioner") => ApiError::invalid("practitioner_id", "not a practitioner of this clinic"),
            other => reference_error(other, "service_ids"),
        })?;
    Ok((StatusCode::CREATED, Json(CreatedId { id: window.id.to_string() })))
}

#[utoipa::path(delete, path = "/api/clinics/{clinic_id}/windows/{window_id}", tag = "scheduling", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("window_id" = Uuid, Path)),
    responses((status = 204), Refusals))]
pub async fn delete_window(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Admin>,
    ApiPath((_clinic, window)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    let (clinic, caller) = (access.clinic, access.caller);
    if !state
        .store
        .delete_window(clinic, window, &audit_event(&caller, clinic, "delete", "window", Some(&window.to_string())), state.clock.now())
        .await?
    {
        return Err(ApiError::not_found("window"));
    }
    Ok(StatusCode::NO_CONTENT)
}
