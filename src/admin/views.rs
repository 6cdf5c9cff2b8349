//! The admin API's response bodies for records that storage reads. Storage
//! returns its own records; these types are what goes on the wire and into the
//! OpenAPI document, so a column added to a table never reaches a client by
//! accident.

use crate::storage;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConversationSummary {
    pub id: String,
    pub channel: String,
    /// Masked: the full number is on the conversation's page.
    pub phone: String,
    pub language: String,
    pub needs_human: bool,
    pub urgent: bool,
    /// A reply could not be delivered (an outage outlasted its retries, or
    /// Twilio refused it): staff should reach the patient another way.
    pub undelivered: bool,
    /// Where the conversation stands: idle, booking, cancelling, moving, file (proving who the patient is before answering about their file) or handed_off.
    pub state: String,
    pub last_inbound_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

impl From<storage::ConversationSummary> for ConversationSummary {
    fn from(c: storage::ConversationSummary) -> Self {
        let storage::ConversationSummary {
            id,
            channel,
            phone,
            language,
            needs_human,
            urgent,
            undelivered,
            state,
            last_inbound_at,
            updated_at,
        } = c;
        ConversationSummary { id, channel, phone, language, needs_human, urgent, undelivered, state, last_inbound_at, updated_at }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageView {
    /// `in` from the patient, `out` to the patient.
    pub direction: String,
    pub body: String,
    pub at: DateTime<Utc>,
    /// Inbound: pending, processed, failed. Outbound: queued, sending, sent, failed, unknown.
    pub status: String,
    pub author: String,
    /// Replies, once Twilio reported on them: sent, delivered, read,
    /// undelivered or failed (from Twilio's status callbacks).
    pub delivery: Option<String>,
}

impl From<storage::MessageView> for MessageView {
    fn from(m: storage::MessageView) -> Self {
        let storage::MessageView { direction, body, at, status, author, delivery } = m;
        MessageView { direction, body, at, status, author, delivery }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClinicStats {
    pub messages_in: i64,
    pub messages_out: i64,
    /// Conversations with a patient message in the period.
    pub conversations: i64,
    pub bookings_by_bot: i64,
    pub bookings_by_staff: i64,
    pub moves_by_bot: i64,
    pub moves_by_staff: i64,
    pub cancellations_by_bot: i64,
    pub cancellations_by_staff: i64,
    /// Appointments in the period marked as missed.
    pub no_shows: i64,
    /// Conversations passed to staff: asked for or misunderstood (bot), taken over (staff).
    pub handoffs: i64,
    /// Messages read as possible emergencies.
    pub emergencies: i64,
    /// Model consultations (the rules were unsure), and those that gave nothing usable.
    pub model_calls: i64,
    pub model_failures: i64,
    /// Conversations waiting for staff now.
    pub waiting_for_staff: i64,
    /// Google Calendar connections that need the practitioner (or admin) again now.
    pub calendars_needing_reconnect: i64,
    /// Calendar conflicts (events moved or deleted in Google) not resolved.
    pub calendar_conflicts: i64,
}

impl From<storage::ClinicStats> for ClinicStats {
    fn from(s: storage::ClinicStats) -> Self {
        let storage::ClinicStats {
            messages_in,
            messages_out,
            conversations,
            bookings_by_bot,
            bookings_by_staff,
            moves_by_bot,
            moves_by_staff,
            cancellations_by_bot,
            cancellations_by_staff,
            no_shows,
            handoffs,
            emergencies,
            model_calls,
            model_failures,
            waiting_for_staff,
            calendars_needing_reconnect,
            calendar_conflicts,
        } = s;
        ClinicStats {
            messages_in,
            messages_out,
            conversations,
            bookings_by_bot,
            bookings_by_staff,
            moves_by_bot,
            moves_by_staff,
            cancellations_by_bot,
            cancellations_by_staff,
            no_shows,
            handoffs,
            emergencies,
            model_calls,
            model_failures,
            waiting_for_staff,
            calendars_needing_reconnect,
            calendar_conflicts,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditEvent {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor_user_id: Option<String>,
    pub clinic_id: Option<String>,
    pub action: String,
    pub resource: String,
    pub resource_id: Option<String>,
    pub outcome: String,
}

impl From<storage::AuditEvent> for AuditEvent {
    fn from(e: storage::AuditEvent) -> Self {
        let storage::AuditEvent { id, at, actor_user_id, clinic_id, action, resource, resource_id, outcome } = e;
        AuditEvent { id, at, actor_user_id, clinic_id, action, resource, resource_id, outcome }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SystemEvent {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub clinic_id: Option<String>,
    /// e.g. webhook_signature_invalid, send_failed, model_timeout.
    pub kind: String,
    pub detail: String,
}

impl From<storage::SystemEvent> for SystemEvent {
    fn from(e: storage::SystemEvent) -> Self {
        let storage::SystemEvent { id, at, clinic_id, kind, detail } = e;
        SystemEvent { id, at, clinic_id, kind, detail }
    }
}

/// What an erasure did.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Erasure {
    pub cancelled_appointments: u64,
    pub phones_unlinked: u64,
    pub conversations_blanked: u64,
    /// The patient's documents deleted, with their passages.
    pub documents_deleted: u64,
}

impl From<storage::Erasure> for Erasure {
    fn from(e: storage::Erasure) -> Self {
        let storage::Erasure { cancelled_appointments, phones_unlinked, conversations_blanked, documents_deleted } = e;
        Erasure { cancelled_appointments, phones_unlinked, conversations_blanked, documents_deleted }
    }
}

/// Converts every record of a list.
pub fn all<S, T: From<S>>(items: Vec<S>) -> Vec<T> {
    items.into_iter().map(T::from).collect()
}
