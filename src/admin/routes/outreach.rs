//! What Nuru writes first: the clinic's reminder settings, its approved
//! WhatsApp templates, the reminders (with the ones that failed), their
//! statistics, and each phone's consent to receive them.

use super::{RangeQuery, audit, audit_event, range};
use crate::admin::auth::{ClinicAccess, roles};
use crate::admin::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, ErrorBody, Refusals};
use crate::app_state::AppState;
use crate::domain::*;
use crate::outreach::plan::{QuietHours, Variable, is_content_sid};
use crate::storage::{ConsentChange, ReminderSettings, StoredTemplate};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReminderSettingsView {
    /// Reminders are sent at all.
    pub enabled: bool,
    /// How long before the appointment each reminder goes, in minutes
    /// (default 1440 and 120: 24 h and 2 h). At most 4, each from 15
    /// minutes to 7 days. An appointment booked later than a lead time
    /// gets only the reminders still ahead.
    #[schema(max_items = 4)]
    pub offsets_minutes: Vec<u32>,
    /// No reminder goes out between these local times ("HH:MM"; default
    /// 21:00 to 07:00). One due then goes at the end, if that is still
    /// early enough before the appointment; otherwise it is skipped.
    pub quiet_hours_start: String,
    pub quiet_hours_end: String,
}

fn hhmm(minute: u16) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// The clinic's reminder settings.
#[utoipa::path(get, path = "/api/clinics/{clinic_id}/reminder-settings", tag = "outreach",
    security(("bearer" = [])), params(("clinic_id" = uuid::Uuid, Path)),
    responses((status = 200, body = ReminderSettingsView), Refusals))]
pub async fn get_reminder_settings(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Staff>,
) -> ApiResult<Json<ReminderSettingsView>> {
    let s = state.store.reminder_settings(access.clinic).await?;
    Ok(Json(ReminderSettingsView {
        enabled: s.enabled,
        offsets_minutes: s.offsets,
        quiet_hours_start: hhmm(s.quiet_start),
        quiet_hours_end: hhmm(s.quiet_end),
    }))
}

/// Changes the reminder settings (clinic admins). Upcoming appointments are
/// scheduled again with them; reminders already handed to the outbox stay.
#[utoipa::path(put, path = "/api/clinics/{clinic_id}/reminder-settings", tag = "outreach",
    security(("bearer" = [])), params(("clinic_id" = uuid::Uuid, Path)), request_body = ReminderSettingsView,
    responses((status = 200, body = ReminderSettingsView), Refusals))]
pub async fn set_reminder_settings(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Admin>,
    ApiJson(req): ApiJson<ReminderSettingsView>,
) -> ApiResult<Json<ReminderSettingsView>> {
    let quiet = QuietHours::parse(&req.quiet_hours_start, &req.quiet_hours_end)
        .ok_or_else(|| ApiError::invalid("quiet_hours_start", "quiet hours are two local times written HH:MM"))?;
    if req.offsets_minutes.len() > 4 {
        return Err(ApiError::invalid("offsets_minutes", "at most 4 reminders"));
    }
    let mut offsets = req.offsets_minutes.clone();
    if offsets.iter().any(|m| !(15..=7 * 24 * 60).contains(m)) {
        return Err(ApiError::invalid("offsets_minutes", "each lead time is from 15 minutes to 7 days (10080)"));
    }
    offsets.sort_unstable_by(|a, b| b.cmp(a));
    offsets.dedup();
    let settings = ReminderSettings { enabled: req.enabled, offsets, quiet_start: quiet.start(), quiet_end: quiet.end() };
    let now = state.clock.now();
    state.store.set_reminder_settings(access.clinic, &settings, now).await?;
    let event = audit_event(&access.caller, access.clinic, "update", "reminder_settings", None);
    state.store.audit(&event, now).await?;
    Ok(Json(ReminderSettingsView {
        enabled: settings.enabled,
        offsets_minutes: settings.offsets,
        quiet_hours_start: hhmm(settings.quiet_start),
        quiet_hours_end: hhmm(settings.quiet_end),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateView {
    /// reminder, feedback or broadcast.
    pub kind: String,
    /// fr or en.
    pub language: String,
    /// The Twilio Content SID of the approved template (HX…).
    pub content_sid: String,
    /// What fills {{1}}, {{2}}…, in order.
    pub variables: Vec<String>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateInput {
    /// The Twilio Content SID of a template WhatsApp approved (HX and 32 hexadecimal digits).
    #[schema(max_length = 34)]
    pub content_sid: String,
    /// What fills {{1}}, {{2}}…, in order: patient_first_name, date, time,
    /// practitioner, service, clinic. Quick-reply buttons of a reminder
    /// template should carry the ids 1 (confirm), 2 (cancel), 3 (move).
    #[schema(max_items = 10)]
    pub variables: Vec<String>,
}

fn template_view(t: StoredTemplate) -> TemplateView {
    TemplateView {
        kind: t.kind,
        language: t.language.as_str().to_string(),
        content_sid: t.content_sid,
        variables: t.variables,
        updated_at: t.updated_at,
    }
}

/// The clinic's WhatsApp templates, used outside the 24-hour window.
#[utoipa::path(get, path = "/api/clinics/{clinic_id}/templates", tag = "outreach",
    security(("bearer" = [])), params(("clinic_id" = uuid::Uuid, Path)),
    responses((status = 200, body = Vec<TemplateView>), Refusals))]
pub async fn list_templates(State(state): State<AppState>, access: ClinicAccess<roles::Staff>) -> ApiResult<Json<Vec<TemplateView>>> {
    Ok(Json(state.store.templates(access.clinic).await?.into_iter().map(template_view).collect()))
}

fn template_key(kind: &str, language: &str) -> ApiResult<(&'static str, Lang)> {
    let kind = ["reminder", "feedback", "broadcast"]
        .into_iter()
        .find(|k| *k == kind)
        .ok_or_else(|| ApiError::invalid("kind", "reminder, feedback or broadcast"))?;
    let lang = Lang::parse(language).ok_or_else(|| ApiError::invalid("language", "fr or en"))?;
    Ok((kind, lang))
}

/// Sets the template of one kind and language (clinic admins).
#[utoipa::path(put, path = "/api/clinics/{clinic_id}/templates/{kind}/{language}", tag = "outreach",
    security(("bearer" = [])), params(("clinic_id" = uuid::Uuid, Path), ("kind" = String, Path), ("language" = String, Path)),
    request_body = TemplateInput, responses((status = 200, body = TemplateView), Refusals))]
pub async fn set_template(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Admin>,
    ApiPath((_clinic, kind, language)): ApiPath<(uuid::Uuid, String, String)>,
    ApiJson(req): ApiJson<TemplateInput>,
) -> ApiResult<Json<TemplateView>> {
    let (kind, language) = template_key(&kind, &language)?;
    if !is_content_sid(&req.content_sid) {
        return Err(ApiError::invalid("content_sid", "a Twilio Content SID: HX followed by 32 hexadecimal digits"));
    }
    if req.variables.len() > 10 {
        return Err(ApiError::invalid("variables", "at most 10"));
    }
    if let Some(bad) = req.variables.iter().find(|v| Variable::parse(v).is_none()) {
        let known: Vec<&str> = Variable::ALL.iter().map(|v| v.as_str()).collect();
        return Err(ApiError::invalid("variables", format!("{bad} is not one of {}", known.join(", "))));
    }
    let now = state.clock.now();
    let t = StoredTemplate { kind: kind.into(), language, content_sid: req.content_sid, variables: req.variables, updated_at: now };
    state.store.set_template(access.clinic, &t).await?;
    let id = format!("{kind}/{}", language.as_str());
    state.store.audit(&audit_event(&access.caller, access.clinic, "update", "template", Some(&id)), now).await?;
    Ok(Json(template_view(t)))
}

/// Removes a template (clinic admins): outside the window, nothing of that
/// kind is sent on WhatsApp in that language until another is set.
#[utoipa::path(delete, path = "/api/clinics/{clinic_id}/templates/{kind}/{language}", tag = "outreach",
    security(("bearer" = [])), params(("clinic_id" = uuid::Uuid, Path), ("kind" = String, Path), ("language" = String, Path)),
    responses((status = 204), Refusals))]
pub async fn delete_template(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Admin>,
    ApiPath((_clinic, kind, language)): ApiPath<(uuid::Uuid, String, String)>,
) -> ApiResult<StatusCode> {
    let (kind, language) = template_key(&kind, &language)?;
    if !state.store.delete_template(access.clinic, kind, language).await? {
        return Err(ApiError::not_found("template"));
    }
    let id = format!("{kind}/{}", language.as_str());
    state.store.audit(&audit_event(&access.caller, access.clinic, "delete", "template", Some(&id)), state.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReminderQuery {
    /// Local date, inclusive (default: today).
    pub from: Option<chrono::NaiveDate>,
    /// Local date, inclusive (default: from + 14 days).
    pub to: Option<chrono::NaiveDate>,
    /// scheduled, queued, skipped, cancelled or failed.
    pub status: Option<String>,
    /// Only reminders that failed or were not delivered.
    pub failed: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReminderView {
    pub id: i64,
    pub appointment_id: String,
    pub offset_minutes: u32,
    pub due_at: DateTime<Utc>,
    /// scheduled, queued (handed to the outbox), skipped, cancelled or failed.
    pub status: String,
    /// Why skipped or cancelled: opted_out, quiet_hours, too_late,
    /// no_template, no_phone, moved, cancelled, disabled…
    pub reason: Option<String>,
    /// What the patient did from it: confirmed, cancelled or moved.
    pub reply: Option<String>,
    /// The outbox: queued, sending, sent, failed or unknown.
    pub send_status: Option<String>,
    /// Twilio's delivery status (delivered, read, undelivered, failed…).
    pub delivery_status: Option<String>,
    /// Twilio's error code (63016: outside the WhatsApp window; 21610: opted out).
    pub error_code: Option<i64>,
}

/// From the start of local day `from` to the end of local day `to`.
pub(super) fn local_span(clinic: &Clinic, from: chrono::NaiveDate, to: chrono::NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    (crate::scheduling::day_start(clinic.timezone, from), crate::scheduling::day_start(clinic.timezone, to + chrono::Duration::days(1)))
}

/// The clinic's reminders due between two local dates, newest first (500 at most).
#[utoipa::path(get, path = "/api/clinics/{clinic_id}/reminders", tag = "outreach",
    security(("bearer" = [])), params(("clinic_id" = uuid::Uuid, Path), ReminderQuery),
    responses((status = 200, body = Vec<ReminderView>), Refusals))]
pub async fn list_reminders(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Staff>,
    ApiQuery(q): ApiQuery<ReminderQuery>,
) -> ApiResult<Json<Vec<ReminderView>>> {
    let clinic = state.store.clinic(access.clinic).await?;
    let (from, to) = range(&state, &clinic, &RangeQuery { from: q.from, to: q.to })?;
    if let Some(s) = &q.status
        && !["scheduled", "queued", "skipped", "cancelled", "failed"].contains(&s.as_str())
    {
        return Err(ApiError::invalid("status", "scheduled, queued, skipped, cancelled or failed"));
    }
    let (lo, hi) = local_span(&clinic, from, to);
    let rows = state.store.reminders(access.clinic, lo, hi, q.status.as_deref(), q.failed.unwrap_or(false)).await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| ReminderView {
                id: r.id,
                appointment_id: r.appointment_id.to_string(),
                offset_minutes: r.offset_minutes,
                due_at: r.due_at,
                status: r.status,
                reason: r.reason,
                reply: r.reply,
                send_status: r.send_status,
                delivery_status: r.delivery_status,
                error_code: r.error_code,
            })
            .collect(),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReminderStatsView {
    pub from: chrono::NaiveDate,
    pub to: chrono::NaiveDate,
    /// Reminders due in the period, by what became of them.
    pub scheduled: i64,
    pub sent: i64,
    pub skipped: i64,
    pub failed: i64,
    /// Patients who answered a reminder by confirming, cancelling, moving.
    pub confirmed: i64,
    pub cancelled_from_reminder: i64,
    pub moved_from_reminder: i64,
    /// Appointments of the period marked attended or no-show.
    pub attended_with_reminder: i64,
    pub no_show_with_reminder: i64,
    pub attended_without_reminder: i64,
    pub no_show_without_reminder: i64,
    /// No-shows among the appointments marked, with a reminder sent and without (null when none).
    pub no_show_rate_with_reminder: Option<f64>,
    pub no_show_rate_without_reminder: Option<f64>,
}

/// Reminder statistics for a period (local dates, inclusive; default the
/// last 30 days).
#[utoipa::path(get, path = "/api/clinics/{clinic_id}/reminders/stats", tag = "outreach",
    security(("bearer" = [])), params(("clinic_id" = uuid::Uuid, Path), RangeQuery),
    responses((status = 200, body = ReminderStatsView), Refusals))]
pub async fn reminder_stats(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Staff>,
    ApiQuery(q): ApiQuery<RangeQuery>,
) -> ApiResult<Json<ReminderStatsView>> {
    let clinic = state.store.clinic(access.clinic).await?;
    let today = state.clock.now().with_timezone(&clinic.timezone).date_naive();
    let q = RangeQuery { from: q.from.or(Some(today - chrono::Duration::days(30))), to: q.to.or(Some(today)) };
    let (from, to) = range(&state, &clinic, &q)?;
    let (lo, hi) = local_span(&clinic, from, to);
    let s = state.store.reminder_stats(access.clinic, lo, hi).await?;
    let rate = |no: i64, yes: i64| (no + yes > 0).then(|| no as f64 / (no + yes) as f64);
    Ok(Json(ReminderStatsView {
        from,
        to,
        scheduled: s.scheduled,
        sent: s.sent,
        skipped: s.skipped,
        failed: s.failed,
        confirmed: s.confirmed,
        cancelled_from_reminder: s.cancelled_from_reminder,
        moved_from_reminder: s.moved_from_reminder,
        attended_with_reminder: s.attended_with_reminder,
        no_show_with_reminder: s.no_show_with_reminder,
        attended_without_reminder: s.attended_without_reminder,
        no_show_without_reminder: s.no_show_without_reminder,
        no_show_rate_with_reminder: rate(s.no_show_with_reminder, s.attended_with_reminder),
        no_show_rate_without_reminder: rate(s.no_show_without_reminder, s.attended_without_reminder),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentView {
    /// whatsapp or sms.
    pub channel: String,
    /// The phone receives no reminders, feedback requests or broadcasts on
    /// this channel (replies to its own messages still go).
    pub opted_out: bool,
    /// inbound (its first message), keyword (STOP / START), staff, or twilio
    /// (Twilio refused a send with 21610).
    pub source: String,
    pub changed_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentInput {
    pub opted_out: bool,
}

fn phone_param(phone: &str) -> ApiResult<PhoneNumber> {
    PhoneNumber::parse(phone).map_err(|e| ApiError::invalid("phone", e))
}

/// A phone's consent to the messages the clinic starts, per channel (none
/// recorded: it never wrote and was never set).
#[utoipa::path(get, path = "/api/clinics/{clinic_id}/consents/{phone}", tag = "outreach",
    security(("bearer" = [])), params(("clinic_id" = uuid::Uuid, Path), ("phone" = String, Path, description = "E.164, e.g. +243810000001")),
    responses((status = 200, body = Vec<ConsentView>), Refusals))]
pub async fn get_consents(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Staff>,
    ApiPath((_clinic, phone)): ApiPath<(uuid::Uuid, String)>,
) -> ApiResult<Json<Vec<ConsentView>>> {
    let phone = phone_param(&phone)?;
    audit(&state, &access.caller, Some(access.clinic), "read", "consent", Some(&mask_phone(phone.as_str()))).await?;
    let all = state.store.consents(access.clinic, &phone).await?;
    Ok(Json(
        all.into_iter()
            .map(|c| ConsentView { channel: c.channel.as_str().into(), opted_out: c.opted_out, source: c.source, changed_at: c.changed_at })
            .collect(),
    ))
}

/// Sets a phone's consent on a channel (staff, audited): a patient who asked
/// at the desk to stop, or to receive reminders again.
#[utoipa::path(put, path = "/api/clinics/{clinic_id}/consents/{phone}/{channel}", tag = "outreach",
    security(("bearer" = [])), params(("clinic_id" = uuid::Uuid, Path), ("phone" = String, Path), ("channel" = String, Path, description = "whatsapp or sms")),
    request_body = ConsentInput, responses((status = 200, body = ConsentView), (status = 422, body = ErrorBody), Refusals))]
pub async fn set_consent(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Staff>,
    ApiPath((_clinic, phone, channel)): ApiPath<(uuid::Uuid, String, String)>,
    ApiJson(req): ApiJson<ConsentInput>,
) -> ApiResult<Json<ConsentView>> {
    let phone = phone_param(&phone)?;
    let channel = match Channel::parse(&channel) {
        Some(c @ (Channel::WhatsApp | Channel::Sms)) => c,
        _ => return Err(ApiError::invalid("channel", "whatsapp or sms")),
    };
    let now = state.clock.now();
    let user = access.caller.user_id.to_string();
    let change =
        ConsentChange { clinic: access.clinic, phone: &phone, channel, opted_out: req.opted_out, source: "staff", changed_by: Some(&user) };
    state.store.set_consent_now(change, now).await?;
    let masked = mask_phone(phone.as_str());
    state.store.audit(&audit_event(&access.caller, access.clinic, "update", "consent", Some(&masked)), now).await?;
    let c = state.store.consent(access.clinic, &phone, channel).await?.ok_or_else(|| ApiError::not_found("consent"))?;
    Ok(Json(ConsentView { channel: c.channel.as_str().into(), opted_out: c.opted_out, source: c.source, changed_at: c.changed_at }))
}
