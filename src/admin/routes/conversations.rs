//! Conversations: the inbox (filters, pages), the transcript, and staff
//! taking a conversation over, replying through its channel and handing it back.

use super::*;
use crate::admin::auth::{ClinicAccess, roles};
use crate::admin::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, ErrorBody, Refusals};
use crate::admin::views::{self, ConversationSummary, MessageView};
use crate::app_state::AppState;
use crate::domain::*;
use crate::storage::ConversationFilter;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Duration;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationPage {
    pub items: Vec<ConversationSummary>,
    /// Pass as `cursor` for the next page; absent on the last one.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConversationQuery {
    pub needs_human: Option<bool>,
    /// Flagged as a possible emergency.
    pub urgent: Option<bool>,
    #[param(inline)]
    pub state: Option<ConversationState>,
    /// Active on or after this local date.
    pub from: Option<NaiveDate>,
    /// Active on or before this local date.
    pub to: Option<NaiveDate>,
    /// 1–200, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Where a conversation stands.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConversationState {
    Idle,
    Booking,
    Cancelling,
    Moving,
    /// Proving who the patient is before answering about their own file.
    File,
    /// A file the patient sent, waiting for whose file and a yes.
    Attach,
    HandedOff,
}

impl ConversationState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Booking => "booking",
            Self::Cancelling => "cancelling",
            Self::Moving => "moving",
            Self::File => "file",
            Self::Attach => "attach",
            Self::HandedOff => "handed_off",
        }
    }
}

/// Conversations of a clinic, most recently active first.
#[utoipa::path(get, path = "/api/clinics/{clinic_id}/conversations", tag = "conversations", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ConversationQuery),
    responses((status = 200, body = ConversationPage), Refusals))]
pub async fn list_conversations(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Staff>,
    ApiQuery(q): ApiQuery<ConversationQuery>,
) -> ApiResult<Json<ConversationPage>> {
    let (clinic, caller) = (access.clinic, access.caller);
    let limit = page_limit(q.limit, 50, 200)?;
    let before = q.cursor.as_deref().map(parse_cursor).transpose()?;
    let tz = state.store.clinic(clinic).await?.timezone;
    let filter = ConversationFilter {
        needs_human: q.needs_human,
        urgent: q.urgent,
        since: q.from.map(|d| crate::scheduling::day_start(tz, d)),
        until: q.to.map(|d| crate::scheduling::day_start(tz, d + Duration::days(1))),
        state: q.state.map(ConversationState::as_str),
        before,
        limit,
    };
    let items = state.store.conversations(clinic, &filter).await?;
    let next_cursor =
        (items.len() as i64 == limit).then(|| items.last().map(|c| format!("{}_{}", c.updated_at.timestamp(), c.id))).flatten();
    audit(&state, &caller, Some(clinic), "list", "conversations", None).await?;
    Ok(Json(ConversationPage { items: views::all(items), next_cursor }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationDetail {
    #[serde(flatten)]
    pub summary: ConversationSummary,
    /// The full E.164 number (the list masks it).
    pub full_phone: String,
    /// Whether free text can still reach the patient: always on SMS, within
    /// 24 hours of the patient's last message on WhatsApp.
    pub can_reply: bool,
}

/// One conversation, with the full number (read audited).
#[utoipa::path(get, path = "/api/clinics/{clinic_id}/conversations/{conversation_id}", tag = "conversations", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("conversation_id" = Uuid, Path)),
    responses((status = 200, body = ConversationDetail), Refusals))]
pub async fn get_conversation(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Staff>,
    ApiPath((_clinic, conversation)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<Json<ConversationDetail>> {
    let (clinic, caller) = (access.clinic, access.caller);
    let (summary, full_phone) =
        state.store.conversation_summary(clinic, ConversationId(conversation)).await?.ok_or_else(|| ApiError::not_found("conversation"))?;
    let can_reply =
        summary.channel != Channel::WhatsApp.as_str() || crate::outreach::plan::within_window(summary.last_inbound_at, state.clock.now());
    audit(&state, &caller, Some(clinic), "read", "conversation", Some(&conversation.to_string())).await?;
    Ok(Json(ConversationDetail { summary: summary.into(), full_phone, can_reply }))
}

#[utoipa::path(get, path = "/api/clinics/{clinic_id}/conversations/{conversation_id}/messages", tag = "conversations", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("conversation_id" = Uuid, Path)),
    responses((status = 200, body = Vec<MessageView>), Refusals))]
pub async fn conversation_messages(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Staff>,
    ApiPath((_clinic, conversation)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<Json<Vec<MessageView>>> {
    let (clinic, caller) = (access.clinic, access.caller);
    if state.store.conversation_clinic(ConversationId(conversation)).await? != Some(clinic) {
        return Err(ApiError::not_found("conversation"));
    }
    let messages = state.store.conversation_messages(clinic, ConversationId(conversation)).await?;
    audit(&state, &caller, Some(clinic), "read", "conversation", Some(&conversation.to_string())).await?;
    Ok(Json(views::all(messages)))
}

/// Staff hand the conversation back to the bot.
#[utoipa::path(post, path = "/api/clinics/{clinic_id}/conversations/{conversation_id}/release", tag = "conversations", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("conversation_id" = Uuid, Path)),
    responses((status = 204), Refusals))]
pub async fn release_conversation(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Staff>,
    ApiPath((_clinic, conversation)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    let (clinic, caller) = (access.clinic, access.caller);
    let fresh = crate::conversation::fresh_state_json();
    let id = conversation.to_string();
    let event = audit_event(&caller, clinic, "release", "conversation", Some(&id));
    if !state.store.set_conversation_owner(clinic, ConversationId(conversation), &fresh, false, Some(&event), state.clock.now()).await? {
        return Err(ApiError::not_found("conversation"));
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyRequest {
    /// Sent to the patient as written, through the conversation's channel.
    pub body: String,
}

/// Staff take the conversation over: the bot stays silent until released.
#[utoipa::path(post, path = "/api/clinics/{clinic_id}/conversations/{conversation_id}/take-over", tag = "conversations", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("conversation_id" = Uuid, Path)),
    responses((status = 204), Refusals))]
pub async fn take_over_conversation(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Staff>,
    ApiPath((_clinic, conversation)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    let (clinic, caller) = (access.clinic, access.caller);
    let state_json = crate::conversation::handed_off_state_json();
    let id = conversation.to_string();
    let event = audit_event(&caller, clinic, "take_over", "conversation", Some(&id));
    if !state.store.set_conversation_owner(clinic, ConversationId(conversation), &state_json, true, Some(&event), state.clock.now()).await?
    {
        return Err(ApiError::not_found("conversation"));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// A staff reply, sent through the conversation's channel and recorded; the
/// conversation stays with staff. On WhatsApp, refused (409) more than 24
/// hours after the patient's last message.
#[utoipa::path(post, path = "/api/clinics/{clinic_id}/conversations/{conversation_id}/reply", tag = "conversations", security(("bearer" = [])),
    params(("clinic_id" = Uuid, Path), ("conversation_id" = Uuid, Path)), request_body = ReplyRequest,
    responses((status = 202), (status = 409, body = ErrorBody, description = "outside WhatsApp's 24-hour window"), Refusals))]
pub async fn reply_to_conversation(
    State(state): State<AppState>,
    access: ClinicAccess<roles::Staff>,
    ApiPath((_clinic, conversation)): ApiPath<(Uuid, Uuid)>,
    ApiJson(req): ApiJson<ReplyRequest>,
) -> ApiResult<StatusCode> {
    let (clinic, caller) = (access.clinic, access.caller);
    let body = req.body.trim();
    if body.is_empty() || body.chars().count() > 1600 {
        return Err(ApiError::invalid("body", "must be 1 to 1,600 characters"));
    }
    let (channel, phone, last_inbound) =
        state.store.conversation_address(clinic, ConversationId(conversation)).await?.ok_or_else(|| ApiError::not_found("conversation"))?;
    // WhatsApp takes free text only within 24 hours of the patient's last
    // message; past it, only an approved template may open the conversation.
    if channel == Channel::WhatsApp && !crate::outreach::plan::within_window(last_inbound, state.clock.now()) {
        return Err(ApiError::conflict(
            "outside WhatsApp's 24-hour window: the patient last wrote more than a day ago, so only an approved template can reach them now",
        ));
    }
    let reply = crate::storage::NewOutbound {
        clinic_id: clinic,
        conversation_id: ConversationId(conversation),
        inbound_id: None,
        channel,
        to: phone,
        body: body.to_string(),
        author: "staff",
        lifetime: crate::storage::Lifetime::Lasting,
    };
    let id = conversation.to_string();
    let audit = audit_event(&caller, clinic, "reply", "conversation", Some(&id));
    if !state.store.staff_reply(&reply, &crate::conversation::handed_off_state_json(), &audit, state.clock.now()).await? {
        return Err(ApiError::not_found("conversation"));
    }
    Ok(StatusCode::ACCEPTED)
}
