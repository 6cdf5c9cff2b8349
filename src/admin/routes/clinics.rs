//! Clinics and their settings: list, read, create (superadmins), change
//! (clinic admins), channel credentials (write-only, encrypted at rest),
//! statistics per period, and the model's counters (superadmins).

use super::{RangeQuery, audit_event, range};
use crate::admin::auth::{Caller, ClinicAccess, Superadmin, roles};
use crate::admin::error::{ApiError, ApiJson, ApiQuery, ApiResult, ErrorBody, Refusals};
use crate::admin::views::ClinicStats;
use crate::app_state::AppState;
use crate::domain::*;
use crate::scheduling;
use crate::storage::TwilioCredentials;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Duration;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Serialize, ToSchema)]
pub struct ClinicView {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub timezone: String,
    pub default_language: String,
    pub address: String,
    pub phone: Option<String>,
    pub emergency_number: String,
    pub opening_hours_fr: Option<String>,
    pub opening_hours_en: Option<String>,
    /// 1 (Monday) to 7 (Sunday).
    pub opening_days: Vec<u8>,
    pub booking_horizon_days: u32,
    pub min_notice_minutes: u32,
    pub whatsapp_number: Option<String>,
    pub sms_number: Option<String>,
    /// Answers the bot gives to information questions.
    #[schema(value_type = Vec<crate::admin::schema::ClinicAnswer>)]
    pub answers: Vec<ClinicAnswer>,
    #[schema(value_type = crate::admin::schema::ModelPolicy)]
    pub model_policy: ModelPolicy,
    /// Events in doctors' Google Calendars carry the patient's name.
    pub calendar_patient_names: bool,
    /// The Twilio account, if set; its auth token is never shown.
    pub twilio_account_sid: Option<String>,
}

fn clinic_view(c: &Clinic, twilio: Option<TwilioCredentials>) -> ClinicView {
    ClinicView {
        id: c.id.to_string(),
        slug: c.slug.clone(),
        name: c.name.clone(),
        timezone: c.timezone.name().to_string(),
        default_language: c.default_language.as_str().to_string(),
        address: c.address.clone(),
        phone: c.phone.clone(),
        emergency_number: c.emergency_number.clone(),
        opening_hours_fr: c.opening_hours_fr.clone(),
        opening_hours_en: c.opening_hours_en.clone(),
        opening_days: WEEK.iter().filter(|d| c.opening_days.contains(**d)).map(|d| d.number_from_monday() as u8).collect(),
        booking_horizon_days: c.booking_horizon_days,
        min_notice_minutes: c.min_notice_minutes,
        whatsapp_number: c.whatsapp_number.clone(),
        sms_number: c.sms_number.clone(),
        answers: c.answers.clone(),
        model_policy: c.model_policy,
        calendar_patient_names: c.calendar_patient_names,
        twilio_account_sid: twilio.map(|t| t.account_sid),
    }
}

const WEEK: [chrono::Weekday; 7] = [
    chrono::Weekday::Mon,
    chrono::Weekday::Tue,
    chrono::Weekday::Wed,
    chrono::Weekday::Thu,
    chrono::Weekday::Fri,
    chrono::Weekday::Sat,
    chrono::Weekday::Sun,
];

/// The clinics the caller may see (all of them for superadmins).
#[utoipa::path(get, path = "/api/clinics", tag = "clinics", security(("bearer" = [])),
    responses((status = 200, body = Vec<ClinicView>), Refusals))]
pub async fn list_clinics(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<ClinicView>>> {
    let mut out = Vec::new();
    for c in state.store.clinics().await? {
        if caller.superadmin || caller.memberships.iter().any(|m| m.clinic_id == c.id) {
            let twilio = state.store.twilio_credentials(c.id).await?;
            out.push(clinic_view(&c, twilio));
        }
    }
    Ok(Json(out))
}

#[utoipa::path(get, path = "/api/clinics/{clinic_id}", tag = "clinics", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path)),
    responses((status = 200, body = ClinicView), Refusals))]
pub async fn get_clinic(State(state): State<AppState>, access: ClinicAccess<roles::Member>) -> ApiResult<Json<ClinicView>> {
    let clinic = access.clinic;
    let twilio = state.store.twilio_credentials(clinic).await?;
    Ok(Json(clinic_view(&state.store.clinic(clinic).await?, twilio)))
}

/// Every field is optional: only those given change. Empty strings clear the
/// optional texts and numbers.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClinicSettings {
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    /// An IANA zone: Africa/Kinshasa, Africa/Douala, Europe/Paris…
    pub timezone: Option<String>,
    /// fr or en: the language of a conversation until the patient shows theirs.
    #[schema(pattern = "^(fr|en)$")]
    pub default_language: Option<String>,
    #[schema(max_length = 500)]
    pub address: Option<String>,
    #[schema(max_length = 40)]
    pub phone: Option<String>,
    /// Given in every emergency reply.
    #[schema(min_length = 1, max_length = 40)]
    pub emergency_number: Option<String>,
    #[schema(max_length = 1000)]
    pub opening_hours_fr: Option<String>,
    #[schema(max_length = 1000)]
    pub opening_hours_en: Option<String>,
    /// 1 (Monday) to 7 (Sunday).
    pub opening_days: Option<Vec<u8>>,
    #[schema(minimum = 1, maximum = 365)]
    pub booking_horizon_days: Option<u32>,
    /// Up to a week.
    #[schema(maximum = 10080)]
    pub min_notice_minutes: Option<u32>,
    /// E.164, the WhatsApp sender (without the `whatsapp:` prefix).
    pub whatsapp_number: Option<String>,
    /// E.164, the SMS sender.
    pub sms_number: Option<String>,
    /// Replaces every information answer.
    #[schema(max_items = 50)]
    #[schema(value_type = Option<Vec<crate::admin::schema::ClinicAnswer>>)]
    pub answers: Option<Vec<ClinicAnswer>>,
    #[schema(value_type = Option<crate::admin::schema::ModelPolicy>)]
    pub model_policy: Option<ModelPolicy>,
    /// Show the patient's name in events written to doctors' Google
    /// Calendars (default false: "RDV — Nuru #A1B2C3" only). Never the
    /// reason or the service.
    pub calendar_patient_names: Option<bool>,
}

fn bounded(field: &str, value: String, max: usize) -> ApiResult<String> {
    let value = value.trim().to_string();
    if value.chars().count() > max {
        return Err(ApiError::invalid(field, format!("at most {max} characters")));
    }
    Ok(value)
}

fn required(field: &str, value: String, max: usize) -> ApiResult<String> {
    let value = bounded(field, value, max)?;
    if value.is_empty() {
        return Err(ApiError::invalid(field, "must not be empty"));
    }
    Ok(value)
}

fn optional(field: &str, value: String, max: usize) -> ApiResult<Option<String>> {
    Ok(Some(bounded(field, value, max)?).filter(|v| !v.is_empty()))
}

fn channel_number(field: &str, value: String) -> ApiResult<Option<String>> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    PhoneNumber::parse(value)
        .map(|p| Some(p.as_str().to_string()))
        .map_err(|_| ApiError::invalid(field, "an E.164 number such as +243990000000"))
}

/// Applies the settings given to `c`, checking each.
fn apply(c: &mut Clinic, s: ClinicSettings) -> ApiResult<()> {
    if let Some(v) = s.name {
        c.name = required("name", v, 200)?;
    }
    if let Some(v) = s.timezone {
        c.timezone = v.trim().parse().map_err(|_| ApiError::invalid("timezone", "an IANA time zone such as Africa/Kinshasa"))?;
    }
    if let Some(v) = s.default_language {
        c.default_language = Lang::parse(v.trim()).ok_or_else(|| ApiError::invalid("default_language", "fr or en"))?;
    }
    if let Some(v) = s.address {
        c.address = bounded("address", v, 500)?;
    }
    if let Some(v) = s.phone {
        c.phone = optional("phone", v, 40)?;
    }
    if let Some(v) = s.emergency_number {
        c.emergency_number = required("emergency_number", v, 40)?;
    }
    if let Some(v) = s.opening_hours_fr {
        c.opening_hours_fr = optional("opening_hours_fr", v, 1000)?;
    }
    if let Some(v) = s.opening_hours_en {
        c.opening_hours_en = optional("opening_hours_en", v, 1000)?;
    }
    if let Some(days) = s.opening_days {
        let mut set = WeekdaySet::from_bits(0);
        for d in days {
            let day =
                chrono::Weekday::try_from(d.wrapping_sub(1)).map_err(|_| ApiError::invalid("opening_days", "1 (Monday) to 7 (Sunday)"))?;
            set = set.with(day);
        }
        c.opening_days = set;
    }
    if let Some(v) = s.booking_horizon_days {
        crate::domain::check_booking_horizon(v).map_err(|rule| ApiError::invalid("booking_horizon_days", rule))?;
        c.booking_horizon_days = v;
    }
    if let Some(v) = s.min_notice_minutes {
        if v > 10_080 {
            return Err(ApiError::invalid("min_notice_minutes", "must be between 0 and 10080"));
        }
        c.min_notice_minutes = v;
    }
    if let Some(v) = s.whatsapp_number {
        c.whatsapp_number = channel_number("whatsapp_number", v)?;
    }
    if let Some(v) = s.sms_number {
        c.sms_number = channel_number("sms_number", v)?;
    }
    if let Some(answers) = s.answers {
        if answers.len() > 50 {
            return Err(ApiError::invalid("answers", "at most 50"));
        }
        for a in &answers {
            if a.fr.chars().count() > 2000 || a.en.chars().count() > 2000 {
                return Err(ApiError::invalid("answers", "each answer at most 2,000 characters"));
            }
        }
        c.answers = answers;
    }
    if let Some(p) = s.model_policy {
        c.model_policy = p;
    }
    if let Some(n) = s.calendar_patient_names {
        c.calendar_patient_names = n;
    }
    Ok(())
}

/// Changes the clinic's settings (clinic admins). The slug, which is in the
/// webhook address, cannot change.
#[utoipa::path(patch, path = "/api/clinics/{clinic_id}", tag = "clinics", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path)), request_body = ClinicSettings,
    responses((status = 200, body = ClinicView), (status = 409, body = ErrorBody), Refusals))]
pub async fn update_clinic(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Admin>,
    ApiJson(req): ApiJson<ClinicSettings>,
) -> ApiResult<Json<ClinicView>> {
    let (clinic, caller) = (access.clinic, access.caller);
    let mut c = state.store.clinic(clinic).await?;
    apply(&mut c, req)?;
    state
        .store
        .update_clinic_settings(&c, &audit_event(&caller, clinic, "update", "clinic", Some(&clinic.to_string())), state.clock.now())
        .await?;
    let twilio = state.store.twilio_credentials(clinic).await?;
    Ok(Json(clinic_view(&c, twilio)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClinicRequest {
    /// In the webhook address: 2 to 50 of a–z, 0–9 and "-". Cannot change later.
    #[schema(pattern = "^[a-z0-9-]{2,50}$")]
    pub slug: String,
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// An IANA zone: Africa/Kinshasa, Africa/Douala, Europe/Paris…
    pub timezone: String,
    #[schema(min_length = 1, max_length = 40)]
    pub emergency_number: String,
    /// fr (default) or en.
    #[schema(pattern = "^(fr|en)$")]
    pub default_language: Option<String>,
}

/// Creates a clinic (superadmins); its admins then fill in the rest.
#[utoipa::path(post, path = "/api/clinics", tag = "clinics", security(("bearer" = [])), request_body = NewClinicRequest,
    responses((status = 201, body = ClinicView), (status = 409, body = ErrorBody), Refusals))]
pub async fn create_clinic(
    State(state): State<AppState>,
    Superadmin(caller): Superadmin,
    ApiJson(req): ApiJson<NewClinicRequest>,
) -> ApiResult<(StatusCode, Json<ClinicView>)> {
    let slug = req.slug.trim().to_string();
    crate::domain::check_slug(&slug).map_err(|rule| ApiError::invalid("slug", rule))?;
    let mut c = Clinic {
        id: ClinicId(Uuid::new_v4()),
        slug,
        name: String::new(),
        timezone: chrono_tz::UTC,
        default_language: Lang::Fr,
        address: String::new(),
        phone: None,
        emergency_number: String::new(),
        opening_hours_fr: None,
        opening_hours_en: None,
        answers: Vec::new(),
        model_policy: ModelPolicy::default(),
        calendar_patient_names: false,
        booking_horizon_days: 60,
        min_notice_minutes: 60,
        opening_days: WEEK[..5].iter().copied().collect(),
        whatsapp_number: None,
        sms_number: None,
    };
    apply(
        &mut c,
        ClinicSettings {
            name: Some(req.name),
            timezone: Some(req.timezone),
            emergency_number: Some(req.emergency_number),
            default_language: req.default_language,
            ..ClinicSettings::default()
        },
    )?;
    state.store.create_clinic(&c, &audit_event(&caller, c.id, "create", "clinic", Some(&c.id.to_string())), state.clock.now()).await?;
    Ok((StatusCode::CREATED, Json(clinic_view(&c, None))))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TwilioCredentialsInput {
    /// "AC" and 32 hexadecimal characters.
    #[schema(pattern = "^AC[0-9a-fA-F]{32}$")]
    pub account_sid: String,
    /// Write-only: stored encrypted, never shown again.
    #[schema(pattern = "^[A-Za-z0-9]{16,128}$", write_only)]
    pub auth_token: String,
}

/// Sets the clinic's Twilio account (clinic admins). The auth token is
/// encrypted at rest and never returned; webhooks are then checked with it.
#[utoipa::path(put, path = "/api/clinics/{clinic_id}/channels/twilio", tag = "clinics", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path)), request_body = TwilioCredentialsInput,
    responses((status = 204), Refusals))]
pub async fn set_twilio(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Admin>,
    ApiJson(req): ApiJson<TwilioCredentialsInput>,
) -> ApiResult<StatusCode> {
    let (clinic, caller) = (access.clinic, access.caller);
    let sid = req.account_sid.trim();
    if sid.len() != 34 || !sid.starts_with("AC") || !sid[2..].bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::invalid("account_sid", "\"AC\" and 32 hexadecimal characters"));
    }
    let token = req.auth_token.trim();
    if !(16..=128).contains(&token.len()) || !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ApiError::invalid("auth_token", "16 to 128 letters and digits"));
    }
    let creds = TwilioCredentials { account_sid: sid.to_string(), auth_token_encrypted: state.cipher.encrypt(token) };
    state
        .store
        .set_twilio_credentials(clinic, &creds, &audit_event(&caller, clinic, "update", "twilio_credentials", None), state.clock.now())
        .await?;
    state.webhook_keys.forget(clinic);
    Ok(StatusCode::NO_CONTENT)
}

/// Activity of a clinic over a period (local dates, inclusive; default the
/// last 30 days).
#[utoipa::path(get, path = "/api/clinics/{clinic_id}/stats", tag = "clinics", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), RangeQuery),
    responses((status = 200, body = ClinicStats), Refusals))]
pub async fn clinic_stats(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Admin>,
    ApiQuery(q): ApiQuery<RangeQuery>,
) -> ApiResult<Json<ClinicStats>> {
    let (clinic_id, _caller) = (access.clinic, access.caller);
    let clinic = state.store.clinic(clinic_id).await?;
    let today = state.clock.now().with_timezone(&clinic.timezone).date_naive();
    let q = RangeQuery { from: q.from.or(Some(today - Duration::days(30))), to: q.to.or(Some(today)) };
    let (from, to) = range(&state, &clinic, &q)?;
    let stats = state
        .store
        .clinic_stats(
            clinic_id,
            scheduling::day_start(clinic.timezone, from),
            scheduling::day_start(clinic.timezone, to + Duration::days(1)),
        )
        .await?;
    Ok(Json(stats.into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelMetricsView {
    /// False when understanding is the built-in rules only.
    pub configured: bool,
    /// ollama or openai.
    pub backend: Option<String>,
    /// Counters since this process started.
    pub metrics: Option<crate::model::MetricsSnapshot>,
}

/// The model's counters since start (superadmins): calls, outcomes, tokens,
/// latency. Per clinic counts are in each clinic's stats.
#[utoipa::path(get, path = "/api/model/metrics", tag = "audit", security(("bearer" = [])),
    responses((status = 200, body = ModelMetricsView), Refusals))]
pub async fn model_metrics(State(state): State<AppState>, _: Superadmin) -> ApiResult<Json<ModelMetricsView>> {
    Ok(Json(match &state.model {
        Some(m) => ModelMetricsView { configured: true, backend: Some(m.backend_name().to_string()), metrics: Some(m.metrics.snapshot()) },
        None => ModelMetricsView { configured: false, backend: None, metrics: None },
    }))
}
