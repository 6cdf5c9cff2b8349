//! Read models for the admin API: clinic lists, conversation lists with
//! filters and keyset pagination, a conversation's messages.

use super::{Result, Store, from_ts, parse_id};
use crate::domain::*;
use chrono::{DateTime, Utc};
use sqlx::Row;

#[derive(Debug, Clone)]
pub struct ConversationSummary {
    pub id: String,
    pub channel: String,
    /// Masked: the full number is on the conversation's page.
    pub phone: String,
    pub language: String,
    pub needs_human: bool,
    pub urgent: bool,
    /// A reply could not be delivered (until staff release the conversation).
    pub undelivered: bool,
    /// Where the conversation stands: idle, booking, cancelling, moving, file or handed_off.
    pub state: String,
    pub last_inbound_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct MessageView {
    /// `in` from the patient, `out` to the patient.
    pub direction: String,
    pub body: String,
    pub at: DateTime<Utc>,
    /// Inbound: pending, processed, failed. Outbound: queued, sending, sent, failed, unknown (before 0022), uncertain or checking (being looked up in Twilio).
    pub status: String,
    pub author: String,
    /// Outbound, once Twilio reported on it: sent, delivered, read, undelivered or failed.
    pub delivery: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ConversationFilter {
    pub needs_human: Option<bool>,
    pub urgent: Option<bool>,
    pub since: Option<DateTime<Utc>>,
    /// Active before this instant.
    pub until: Option<DateTime<Utc>>,
    /// idle, booking, cancelling, moving, file or handed_off.
    pub state: Option<&'static str>,
    /// Keyset pagination: conversations updated before this one.
    pub before: Option<(i64, String)>,
    pub limit: i64,
}

/// A `conversations` row as the list reads it.
#[derive(sqlx::FromRow)]
struct ConversationRecord {
    id: String,
    channel: String,
    phone: String,
    language: String,
    needs_human: i64,
    urgent: i64,
    undelivered_at: Option<i64>,
    flow: String,
    last_inbound_at: Option<i64>,
    #[sqlx(try_from = "super::sql::Epoch")]
    updated_at: DateTime<Utc>,
}

impl ConversationRecord {
    fn into_summary(self) -> Result<ConversationSummary> {
        Ok(ConversationSummary {
            id: self.id,
            channel: self.channel,
            phone: mask_phone(&self.phone),
            language: self.language,
            needs_human: self.needs_human != 0,
            urgent: self.urgent != 0,
            undelivered: self.undelivered_at.is_some(),
            state: self.flow,
            last_inbound_at: self.last_inbound_at.map(from_ts).transpose()?,
            updated_at: self.updated_at,
        })
    }
}

impl Store {
    /// Every clinic, by name, in one query.
    pub async fn clinics(&self) -> Result<Vec<Clinic>> {
        let sql = format!("SELECT {} FROM clinics ORDER BY name, id", super::clinics::CLINIC_COLUMNS);
        sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&self.pool).await?.iter().map(super::clinics::clinic_from_row).collect()
    }

    pub async fn conversations(&self, clinic: ClinicId, f: &ConversationFilter) -> Result<Vec<ConversationSummary>> {
        let mut q = super::sql::Statement::new(
            "SELECT id, channel, phone, language, needs_human, urgent, undelivered_at, flow, last_inbound_at, updated_at FROM conversations WHERE clinic_id = $1",
        );
        q.arg(clinic.to_string());
        if let Some(needs_human) = f.needs_human {
            let p = q.arg(i64::from(needs_human));
            q.push(&format!("AND needs_human = {p}"));
        }
        if let Some(urgent) = f.urgent {
            let p = q.arg(i64::from(urgent));
            q.push(&format!("AND urgent = {p}"));
        }
        if let Some(since) = f.since {
            let p = q.arg(since.timestamp());
            q.push(&format!("AND updated_at >= {p}"));
        }
        if let Some(until) = f.until {
            let p = q.arg(until.timestamp());
            q.push(&format!("AND updated_at < {p}"));
        }
        if let Some(flow) = f.state {
            let p = q.arg(flow.to_string());
            q.push(&format!("AND flow = {p}"));
        }
        if let Some((ts, id)) = &f.before {
            let (t, i) = (q.arg(*ts), q.arg(id.clone()));
            q.push(&format!("AND (updated_at < {t} OR (updated_at = {t} AND id < {i}))"));
        }
        let limit = q.arg(f.limit);
        q.push(&format!("ORDER BY updated_at DESC, id DESC LIMIT {limit}"));
        q.fetch_all::<ConversationRecord, _>(&self.pool).await?.into_iter().map(ConversationRecord::into_summary).collect()
    }

    /// One conversation of the clinic, with its full number.
    pub async fn conversation_summary(&self, clinic: ClinicId, id: ConversationId) -> Result<Option<(ConversationSummary, String)>> {
        let record = sqlx::query_as::<_, ConversationRecord>(
            "SELECT id, channel, phone, language, needs_human, urgent, undelivered_at, flow, last_inbound_at, updated_at FROM conversations \
             WHERE id = $1 AND clinic_id = $2",
        )
        .bind(id.to_string())
        .bind(clinic.to_string())
        .fetch_optional(&self.pool)
        .await?;
        record
            .map(|r| {
                let phone = r.phone.clone();
                r.into_summary().map(|s| (s, phone))
            })
            .transpose()
    }

    /// The conversation's clinic, to check access before showing anything.
    pub async fn conversation_clinic(&self, id: ConversationId) -> Result<Option<ClinicId>> {
        let row = sqlx::query("SELECT clinic_id FROM conversations WHERE id = $1").bind(id.to_string()).fetch_optional(&self.pool).await?;
        row.map(|r| parse_id(&r.try_get::<String, _>("clinic_id")?, ClinicId::parse)).transpose()
    }

    /// Inbound and outbound messages of a conversation, oldest first.
    pub async fn conversation_messages(&self, clinic: ClinicId, id: ConversationId) -> Result<Vec<MessageView>> {
        let conv = sqlx::query("SELECT channel, phone FROM conversations WHERE id = $1 AND clinic_id = $2")
            .bind(id.to_string())
            .bind(clinic.to_string())
            .fetch_optional(&self.pool)
            .await?;
        let Some(conv) = conv else { return Ok(Vec::new()) };
        let channel: String = conv.try_get("channel")?;
        let phone: String = conv.try_get("phone")?;
        let mut out: Vec<MessageView> =
            sqlx::query("SELECT body, received_at, status FROM inbound_messages WHERE clinic_id = $1 AND channel = $2 AND from_phone = $3")
                .bind(clinic.to_string())
                .bind(&channel)
                .bind(&phone)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| {
                    Ok(MessageView {
                        direction: "in".into(),
                        body: r.try_get("body")?,
                        at: from_ts(r.try_get("received_at")?)?,
                        status: r.try_get("status")?,
                        author: "patient".into(),
                        delivery: None,
                    })
                })
                .collect::<Result<_>>()?;
        for r in sqlx::query(
            "SELECT body, created_at, status, author, delivery_status FROM outbound_messages WHERE conversation_id = $1 AND clinic_id = $2",
        )
        .bind(id.to_string())
        .bind(clinic.to_string())
        .fetch_all(&self.pool)
        .await?
        {
            out.push(MessageView {
                direction: "out".into(),
                body: r.try_get("body")?,
                at: from_ts(r.try_get("created_at")?)?,
                status: r.try_get("status")?,
                author: r.try_get("author")?,
                delivery: r.try_get("delivery_status")?,
            });
        }
        out.sort_by_key(|m| (m.at, m.direction == "out"));
        Ok(out)
    }
}

impl Store {
    /// Staff take a conversation over (the bot goes silent) or hand it back:
    /// the given state, `needs_human` set, the version bumped so a turn in
    /// flight that read the old state cannot overwrite it. A take-over of a
    /// conversation the bot still held counts as a handoff by staff.
    pub async fn set_conversation_owner(
        &self,
        clinic: ClinicId,
        id: ConversationId,
        state: &str,
        needs_human: bool,
        audit: Option<&super::NewAuditEvent<'_>>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        if !Self::set_owner_in(&mut tx, clinic, id, state, needs_human, now).await? {
            return Ok(false);
        }
        if let Some(audit) = audit {
            Self::audit_in(&mut tx, audit, now).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// A staff reply: staff take the conversation over (the bot goes silent)
    /// and the reply joins the outbox, with its audit row, in one transaction.
    /// False if the conversation is not one of this clinic's.
    pub async fn staff_reply(
        &self,
        reply: &super::NewOutbound,
        handed_off_state: &str,
        audit: &super::NewAuditEvent<'_>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        if !Self::set_owner_in(&mut tx, reply.clinic_id, reply.conversation_id, handed_off_state, true, now).await? {
            return Ok(false);
        }
        Self::insert_outbound(&mut tx, reply, now).await?;
        Self::audit_in(&mut tx, audit, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn set_owner_in(
        tx: &mut super::Tx,
        clinic: ClinicId,
        id: ConversationId,
        state: &str,
        needs_human: bool,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let before = sqlx::query("SELECT needs_human FROM conversations WHERE id = $1 AND clinic_id = $2")
            .bind(id.to_string())
            .bind(clinic.to_string())
            .fetch_optional(&mut **tx)
            .await?;
        let Some(before) = before else { return Ok(false) };
        // Staff take a conversation over (handed off) or hand it back (idle).
        let flow = if needs_human { "handed_off" } else { "idle" };
        sqlx::query(
            "UPDATE conversations SET state = $1, needs_human = $2, version = version + 1, updated_at = $3, flow = $6, \
               undelivered_at = CASE WHEN $2 = 0 THEN NULL ELSE undelivered_at END WHERE id = $4 AND clinic_id = $5",
        )
        .bind(state)
        .bind(needs_human as i64)
        .bind(super::to_ts(now))
        .bind(id.to_string())
        .bind(clinic.to_string())
        .bind(flow)
        .execute(&mut **tx)
        .await?;
        if needs_human && before.try_get::<i64, _>("needs_human")? == 0 {
            Self::record_activity(tx, clinic, super::Activity::Handoff, "staff", now).await?;
        }
        Ok(true)
    }

    /// Where a staff reply to a conversation of this clinic goes, and when
    /// the patient last wrote (WhatsApp's 24-hour window).
    pub async fn conversation_address(
        &self,
        clinic: ClinicId,
        id: ConversationId,
    ) -> Result<Option<(Channel, PhoneNumber, Option<DateTime<Utc>>)>> {
        let row = sqlx::query("SELECT channel, phone, last_inbound_at FROM conversations WHERE id = $1 AND clinic_id = $2")
            .bind(id.to_string())
            .bind(clinic.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            let channel: String = r.try_get("channel")?;
            Ok((
                Channel::parse(&channel).ok_or_else(|| super::StorageError::Corrupt(format!("bad channel {channel}")))?,
                PhoneNumber::parse(&r.try_get::<String, _>("phone")?).map_err(super::StorageError::Corrupt)?,
                r.try_get::<Option<i64>, _>("last_inbound_at")?.map(from_ts).transpose()?,
            ))
        })
        .transpose()
    }

    pub async fn patient_in_clinic(&self, clinic: ClinicId, patient: PatientId) -> Result<bool> {
        let row = sqlx::query("SELECT 1 AS one FROM patients WHERE id = $1 AND clinic_id = $2")
            .bind(patient.to_string())
            .bind(clinic.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// attended / no_show, from booked only.
    pub async fn set_appointment_status(
        &self,
        clinic: ClinicId,
        id: AppointmentId,
        status: AppointmentStatus,
        audit: &super::NewAuditEvent<'_>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let done =
            sqlx::query("UPDATE appointments SET status = $1, updated_at = $2 WHERE id = $3 AND clinic_id = $4 AND status = 'booked'")
                .bind(status.as_str())
                .bind(super::to_ts(now))
                .bind(id.to_string())
                .bind(clinic.to_string())
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        Self::cancel_reminders(&mut tx, id, status.as_str(), now).await?;
        let visit = if status == AppointmentStatus::Attended { super::VisitEvent::Attended } else { super::VisitEvent::Closed };
        Self::schedule_feedback(&mut tx, id, visit, now).await?;
        Self::audit_in(&mut tx, audit, now).await?;
        tx.commit().await?;
        Ok(true)
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
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

impl Store {
    pub async fn clinic_stats(&self, clinic: ClinicId, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<ClinicStats> {
        // One statement, one round trip: each table is read once over the period.
        Ok(sqlx::query_as::<_, ClinicStats>(
            "SELECT \
               (SELECT COUNT(*) FROM inbound_messages WHERE clinic_id = $1 AND received_at >= $2 AND received_at < $3) AS messages_in, \
               (SELECT COUNT(*) FROM outbound_messages WHERE clinic_id = $1 AND created_at >= $2 AND created_at < $3) AS messages_out, \
               (SELECT COUNT(*) FROM conversations WHERE clinic_id = $1 AND last_inbound_at >= $2 AND last_inbound_at < $3) AS conversations, \
               (SELECT COUNT(*) FROM conversations WHERE clinic_id = $1 AND needs_human = 1) AS waiting_for_staff, \
               (SELECT COUNT(*) FROM google_connections WHERE clinic_id = $1 AND status = 'needs_reconnect') AS calendars_needing_reconnect, \
               (SELECT COUNT(*) FROM calendar_conflicts WHERE clinic_id = $1 AND resolved_at IS NULL) AS calendar_conflicts, \
               (SELECT COUNT(*) FROM appointments WHERE clinic_id = $1 AND status = 'no_show' AND starts_at >= $2 AND starts_at < $3) AS no_shows, \
               booked.by_bot AS bookings_by_bot, booked.by_staff AS bookings_by_staff, \
               done.moves_by_bot, done.moves_by_staff, done.cancellations_by_bot, done.cancellations_by_staff, \
               done.handoffs, done.emergencies, done.model_calls, done.model_failures \
             FROM \
               (SELECT COUNT(*) FILTER (WHERE source = 'bot') AS by_bot, COUNT(*) FILTER (WHERE source = 'staff') AS by_staff \
                  FROM appointments WHERE clinic_id = $1 AND created_at >= $2 AND created_at < $3) AS booked, \
               (SELECT COUNT(*) FILTER (WHERE kind = 'moved' AND actor = 'bot') AS moves_by_bot, \
                       COUNT(*) FILTER (WHERE kind = 'moved' AND actor = 'staff') AS moves_by_staff, \
                       COUNT(*) FILTER (WHERE kind = 'cancelled' AND actor = 'bot') AS cancellations_by_bot, \
                       COUNT(*) FILTER (WHERE kind = 'cancelled' AND actor = 'staff') AS cancellations_by_staff, \
                       COUNT(*) FILTER (WHERE kind = 'handoff') AS handoffs, \
                       COUNT(*) FILTER (WHERE kind = 'emergency') AS emergencies, \
                       COUNT(*) FILTER (WHERE kind IN ('model_call', 'model_failure')) AS model_calls, \
                       COUNT(*) FILTER (WHERE kind = 'model_failure') AS model_failures \
                  FROM activity_events WHERE clinic_id = $1 AND at >= $2 AND at < $3) AS done",
        )
        .bind(clinic.to_string())
        .bind(super::to_ts(from))
        .bind(super::to_ts(to))
        .fetch_one(&self.pool)
        .await?)
    }
}
