//! Feedback after a visit: each clinic's settings, one request per
//! appointment (scheduled in the transaction that marks it attended, or
//! books or moves it when the clinic asks after the appointment's end),
//! claimed with a lease like a reminder, and the patient's rating and
//! comment, recorded in the turn that reads them.

use super::{NewOutbound, Result, StorageError, Store, from_ts, parse_id, to_ts};
use crate::domain::*;
use chrono::{DateTime, Duration, Utc};
use sqlx::AnyConnection;
use sqlx::Row;

/// When a clinic asks for feedback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AskAfter {
    /// Once staff mark the appointment attended.
    Attended,
    /// At the appointment's end, unless it was cancelled or marked missed.
    End,
}

impl AskAfter {
    pub fn as_str(self) -> &'static str {
        match self {
            AskAfter::Attended => "attended",
            AskAfter::End => "end",
        }
    }

    pub fn parse(s: &str) -> Option<AskAfter> {
        match s {
            "attended" => Some(AskAfter::Attended),
            "end" => Some(AskAfter::End),
            _ => None,
        }
    }
}

/// A clinic's feedback settings (the defaults when it never set them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedbackSettings {
    pub enabled: bool,
    pub ask_after: AskAfter,
    /// After the trigger, before the request goes.
    pub delay_minutes: u32,
    /// After the request, before its one reminder; 0: none.
    pub reminder_after_minutes: u32,
}

impl Default for FeedbackSettings {
    fn default() -> Self {
        FeedbackSettings { enabled: true, ask_after: AskAfter::Attended, delay_minutes: 120, reminder_after_minutes: 24 * 60 }
    }
}

/// What happened to an appointment, for its feedback request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VisitEvent {
    /// Booked or moved.
    Booked,
    Attended,
    /// Cancelled or marked missed: no request.
    Closed,
}

/// A request this node claimed: to send (`asked` 0), to remind (1), or to
/// expire (asked as often as it will be).
#[derive(Debug, Clone)]
pub struct ClaimedFeedback {
    pub id: i64,
    pub clinic_id: ClinicId,
    pub appointment_id: AppointmentId,
    pub asked: u32,
    pub due_at: DateTime<Utc>,
    pub locked_until: DateTime<Utc>,
    /// The lease this node holds on it.
    pub claim: super::jobs::Claim,
}

/// Feedback requests to send, remind or expire: a job until answered,
/// closed or given up on.
pub static FEEDBACK: super::jobs::Queue = super::jobs::Queue {
    name: "feedback",
    table: "feedback_requests",
    key: &[("id", super::jobs::KeyType::Int)],
    run_at: "due_at",
    lease: "locked_until",
    attempts: "attempts",
    error: "last_error",
    open: "status IN ('scheduled', 'asked')",
    sequence: None,
    join: None,
    index: Some("feedback_due"),
    order: "feedback_requests.due_at, feedback_requests.id",
    on_claim: "",
    on_release: "",
    on_bury: ", status = 'failed', reason = 'error'",
    on_revive: ", status = 'scheduled', reason = NULL",
    returning: "clinic_id, appointment_id, asked, due_at",
};

/// Ratings over a period: how many, their mean and distribution.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RatingSummary {
    pub count: i64,
    pub mean: Option<f64>,
    /// Ratings 1 to 5.
    pub distribution: [i64; 5],
}

/// Feedback over a period, as staff see it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeedbackStats {
    /// Requests sent (at least once) for appointments of the period.
    pub requested: i64,
    pub answered: i64,
    pub declined: i64,
    pub overall: RatingSummary,
    pub by_practitioner: Vec<(PractitionerId, RatingSummary)>,
    pub by_service: Vec<(ServiceId, RatingSummary)>,
    /// The latest comments, newest first.
    pub comments: Vec<FeedbackComment>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FeedbackComment {
    pub appointment_id: AppointmentId,
    pub practitioner_id: PractitionerId,
    pub service_id: ServiceId,
    pub rating: Option<u8>,
    pub comment: String,
    pub answered_at: Option<DateTime<Utc>>,
}

/// A comment is kept to this many characters.
const COMMENT_CHARS: usize = 1000;

/// How long a request waits for an answer after its last sending.
pub const ANSWER_WINDOW: Duration = Duration::days(3);

impl Store {
    pub async fn feedback_settings(&self, clinic: ClinicId) -> Result<FeedbackSettings> {
        let mut conn = self.pool.acquire().await?;
        Self::feedback_settings_in(&mut conn, clinic).await
    }

    async fn feedback_settings_in(conn: &mut AnyConnection, clinic: ClinicId) -> Result<FeedbackSettings> {
        let row =
            sqlx::query("SELECT enabled, ask_after, delay_minutes, reminder_after_minutes FROM feedback_settings WHERE clinic_id = $1")
                .bind(clinic.to_string())
                .fetch_optional(&mut *conn)
                .await?;
        let Some(row) = row else { return Ok(FeedbackSettings::default()) };
        let ask_after: String = row.try_get("ask_after")?;
        Ok(FeedbackSettings {
            enabled: row.try_get::<i64, _>("enabled")? != 0,
            ask_after: AskAfter::parse(&ask_after).ok_or_else(|| StorageError::Corrupt(format!("feedback ask_after {ask_after}")))?,
            delay_minutes: row.try_get::<i64, _>("delay_minutes")? as u32,
            reminder_after_minutes: row.try_get::<i64, _>("reminder_after_minutes")? as u32,
        })
    }

    /// Stores the settings; requests already scheduled keep their time.
    pub async fn set_feedback_settings(&self, clinic: ClinicId, s: &FeedbackSettings, now: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "INSERT INTO feedback_settings (clinic_id, enabled, ask_after, delay_minutes, reminder_after_minutes, updated_at) \
             VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (clinic_id) DO UPDATE SET enabled = excluded.enabled, ask_after = excluded.ask_after, \
               delay_minutes = excluded.delay_minutes, reminder_after_minutes = excluded.reminder_after_minutes, updated_at = excluded.updated_at",
        )
        .bind(clinic.to_string())
        .bind(s.enabled as i32)
        .bind(s.ask_after.as_str())
        .bind(s.delay_minutes as i64)
        .bind(s.reminder_after_minutes as i64)
        .bind(to_ts(now))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Inside the transaction that books, moves, marks or cancels
    /// `appointment`: its feedback request scheduled, moved or cancelled.
    pub async fn schedule_feedback(
        conn: &mut AnyConnection,
        appointment: AppointmentId,
        event: VisitEvent,
        now: DateTime<Utc>,
    ) -> Result<()> {
        if event == VisitEvent::Closed {
            sqlx::query(
                "UPDATE feedback_requests SET status = 'cancelled', reason = 'closed', updated_at = $1 \
                 WHERE appointment_id = $2 AND status = 'scheduled'",
            )
            .bind(to_ts(now))
            .bind(appointment.to_string())
            .execute(&mut *conn)
            .await?;
            return Ok(());
        }
        let row = sqlx::query("SELECT clinic_id, ends_at FROM appointments WHERE id = $1")
            .bind(appointment.to_string())
            .fetch_one(&mut *conn)
            .await?;
        let clinic = parse_id(&row.try_get::<String, _>("clinic_id")?, ClinicId::parse)?;
        let ends_at = from_ts(row.try_get("ends_at")?)?;
        let settings = Self::feedback_settings_in(conn, clinic).await?;
        if !settings.enabled {
            return Ok(());
        }
        let delay = Duration::minutes(settings.delay_minutes as i64);
        let due = match (settings.ask_after, event) {
            (AskAfter::Attended, VisitEvent::Booked) => return Ok(()),
            (AskAfter::Attended, _) => now + delay,
            (AskAfter::End, _) => (ends_at + delay).max(now),
        };
        // Booked or moved: a request not sent yet follows the appointment.
        let on_conflict = if event == VisitEvent::Booked {
            "DO UPDATE SET due_at = excluded.due_at WHERE feedback_requests.status = 'scheduled'"
        } else {
            "DO NOTHING"
        };
        let sql = format!(
            "INSERT INTO feedback_requests (clinic_id, appointment_id, due_at, created_at, updated_at) VALUES ($1,$2,$3,$4,$4) \
             ON CONFLICT (appointment_id) {on_conflict}"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(clinic.to_string())
            .bind(appointment.to_string())
            .bind(to_ts(due))
            .bind(to_ts(now))
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    /// Leases the request due longest (to send, remind or expire).
    pub async fn claim_feedback(&self, now: DateTime<Utc>, lease_until: DateTime<Utc>) -> Result<Option<ClaimedFeedback>> {
        let Some((claim, row)) = self.claim_job(&FEEDBACK, now, lease_until).await? else { return Ok(None) };
        Ok(Some(ClaimedFeedback {
            id: row.try_get("id")?,
            clinic_id: parse_id(&row.try_get::<String, _>("clinic_id")?, ClinicId::parse)?,
            appointment_id: parse_id(&row.try_get::<String, _>("appointment_id")?, AppointmentId::parse)?,
            asked: row.try_get::<i64, _>("asked")? as u32,
            due_at: from_ts(row.try_get("due_at")?)?,
            locked_until: from_ts(claim.lease)?,
            claim,
        }))
    }

    /// Puts a claimed request back until `at`.
    pub async fn defer_feedback(&self, f: &ClaimedFeedback, at: DateTime<Utc>, now: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "UPDATE feedback_requests SET due_at = $1, locked_until = 0, updated_at = $2 \
             WHERE id = $3 AND status IN ('scheduled', 'asked') AND locked_until = $4",
        )
        .bind(to_ts(at))
        .bind(to_ts(now))
        .bind(f.id)
        .bind(to_ts(f.locked_until))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Closes a claimed request (`status` skipped, cancelled or expired)
    /// with the reason staff see; a conversation still waiting for its
    /// answer no longer does.
    pub async fn close_feedback(&self, f: &ClaimedFeedback, status: &str, reason: &str, now: DateTime<Utc>) -> Result<()> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE feedback_requests SET status = $1, reason = $2, updated_at = $3 \
             WHERE id = $4 AND status IN ('scheduled', 'asked') AND locked_until = $5",
        )
        .bind(status)
        .bind(reason)
        .bind(to_ts(now))
        .bind(f.id)
        .bind(to_ts(f.locked_until))
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 1 {
            sqlx::query("UPDATE conversations SET awaiting_feedback = NULL WHERE awaiting_feedback = $1")
                .bind(f.id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Hands a claimed request (or its reminder) to the outbox, in one
    /// transaction that holds only if the claim is still this node's; the
    /// conversation's next message may answer it (and no longer a reminder
    /// sent before). `next_due`: its reminder, or its expiry.
    pub async fn queue_feedback(
        &self,
        f: &ClaimedFeedback,
        message: &NewOutbound,
        template: Option<(&str, &str)>,
        next_due: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let taken = sqlx::query(
            "UPDATE feedback_requests SET status = 'asked', asked = asked + 1, due_at = $1, locked_until = 0, conversation_id = $2, \
               updated_at = $3 WHERE id = $4 AND status IN ('scheduled', 'asked') AND locked_until = $5",
        )
        .bind(to_ts(next_due))
        .bind(message.conversation_id.to_string())
        .bind(to_ts(now))
        .bind(f.id)
        .bind(to_ts(f.locked_until))
        .execute(&mut *tx)
        .await?;
        if taken.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        let outbound = Store::insert_outbound_of_kind(&mut tx, message, "feedback", template, now).await?;
        sqlx::query("UPDATE feedback_requests SET outbound_id = $1 WHERE id = $2").bind(outbound).bind(f.id).execute(&mut *tx).await?;
        sqlx::query("UPDATE conversations SET awaiting_feedback = $1, awaiting_reminder = NULL WHERE id = $2")
            .bind(f.id)
            .bind(message.conversation_id.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The request a conversation waits an answer to, if it still does.
    pub async fn awaited_feedback(&self, conversation: ConversationId, request: i64) -> Result<Option<AwaitedFeedback>> {
        let row = sqlx::query("SELECT status, rating, comment FROM feedback_requests WHERE id = $1 AND conversation_id = $2")
            .bind(request)
            .bind(conversation.to_string())
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let status: String = row.try_get("status")?;
        let rated = row.try_get::<Option<i64>, _>("rating")?.is_some();
        let commented = row.try_get::<Option<String>, _>("comment")?.is_some();
        Ok(match status.as_str() {
            "asked" => Some(AwaitedFeedback { request, rated: false }),
            "answered" if rated && !commented => Some(AwaitedFeedback { request, rated: true }),
            _ => None,
        })
    }

    /// Inside the turn's transaction: the patient's answer to `request`
    /// (`text`, their message, kept when it is a comment). False when the
    /// request was not waiting for it.
    pub async fn record_feedback(
        conn: &mut AnyConnection,
        conversation: ConversationId,
        request: i64,
        answer: FeedbackAnswer,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let text: String = text.trim().chars().take(COMMENT_CHARS).collect();
        let (ts, conv) = (to_ts(now), conversation.to_string());
        let done = match answer {
            FeedbackAnswer::Rating { score, with_comment: true } => sqlx::query(
                "UPDATE feedback_requests SET rating = $1, status = 'answered', answered_at = $2, updated_at = $2, \
                   comment = CASE WHEN comment IS NULL THEN $3 ELSE comment || ' / ' || $3 END \
                 WHERE id = $4 AND conversation_id = $5 AND status = 'asked'",
            )
            .bind(score as i64)
            .bind(ts)
            .bind(text)
            .bind(request)
            .bind(conv),
            FeedbackAnswer::Rating { score, with_comment: false } => sqlx::query(
                "UPDATE feedback_requests SET rating = $1, status = 'answered', answered_at = $2, updated_at = $2 \
                 WHERE id = $3 AND conversation_id = $4 AND status = 'asked'",
            )
            .bind(score as i64)
            .bind(ts)
            .bind(request)
            .bind(conv),
            FeedbackAnswer::Comment => sqlx::query(
                "UPDATE feedback_requests SET comment = CASE WHEN comment IS NULL THEN $1 ELSE comment || ' / ' || $1 END, updated_at = $2 \
                 WHERE id = $3 AND conversation_id = $4 AND status IN ('asked', 'answered')",
            )
            .bind(text)
            .bind(ts)
            .bind(request)
            .bind(conv),
            FeedbackAnswer::Declined => sqlx::query(
                "UPDATE feedback_requests SET status = 'declined', updated_at = $1 WHERE id = $2 AND conversation_id = $3 AND status = 'asked'",
            )
            .bind(ts)
            .bind(request)
            .bind(conv),
        }
        .execute(&mut *conn)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Inside the turn's transaction: the conversation waits for the
    /// request's comment (`keep`), or no longer waits for anything from it.
    pub async fn set_awaiting_feedback(conn: &mut AnyConnection, conversation: ConversationId, request: i64, keep: bool) -> Result<()> {
        let sql = if keep {
            "UPDATE conversations SET awaiting_feedback = $1 WHERE id = $2 AND awaiting_feedback = $1"
        } else {
            "UPDATE conversations SET awaiting_feedback = NULL WHERE id = $2 AND awaiting_feedback = $1"
        };
        sqlx::query(sql).bind(request).bind(conversation.to_string()).execute(&mut *conn).await?;
        Ok(())
    }

    /// Feedback for the clinic's appointments starting in `[from, to)`,
    /// optionally of one practitioner or service.
    pub async fn feedback_stats(
        &self,
        clinic: ClinicId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        practitioner: Option<PractitionerId>,
        service: Option<ServiceId>,
    ) -> Result<FeedbackStats> {
        let rows = sqlx::query(
            "SELECT a.id AS appointment_id, a.practitioner_id, a.service_id, f.status, f.asked, f.rating, f.comment, f.answered_at \
             FROM feedback_requests f JOIN appointments a ON a.id = f.appointment_id \
             WHERE f.clinic_id = $1 AND a.starts_at >= $2 AND a.starts_at < $3 AND f.asked > 0 \
               AND ($4 = '' OR a.practitioner_id = $4) AND ($5 = '' OR a.service_id = $5) \
             ORDER BY COALESCE(f.answered_at, 0) DESC, f.id DESC",
        )
        .bind(clinic.to_string())
        .bind(to_ts(from))
        .bind(to_ts(to))
        .bind(practitioner.map(|p| p.to_string()).unwrap_or_default())
        .bind(service.map(|s| s.to_string()).unwrap_or_default())
        .fetch_all(&self.pool)
        .await?;
        let mut stats = FeedbackStats::default();
        let mut by_practitioner: std::collections::BTreeMap<String, RatingSummary> = Default::default();
        let mut by_service: std::collections::BTreeMap<String, RatingSummary> = Default::default();
        for row in &rows {
            stats.requested += 1;
            let status: String = row.try_get("status")?;
            if status == "declined" {
                stats.declined += 1;
            }
            let practitioner_id: String = row.try_get("practitioner_id")?;
            let service_id: String = row.try_get("service_id")?;
            let rating = row.try_get::<Option<i64>, _>("rating")?.filter(|r| (1..=5).contains(r)).map(|r| r as u8);
            if let Some(r) = rating {
                stats.answered += 1;
                for summary in [
                    &mut stats.overall,
                    by_practitioner.entry(practitioner_id.clone()).or_default(),
                    by_service.entry(service_id.clone()).or_default(),
                ] {
                    summary.count += 1;
                    summary.distribution[r as usize - 1] += 1;
                }
            }
            if let Some(comment) = row.try_get::<Option<String>, _>("comment")?
                && stats.comments.len() < 100
                && !comment.is_empty()
            {
                stats.comments.push(FeedbackComment {
                    appointment_id: parse_id(&row.try_get::<String, _>("appointment_id")?, AppointmentId::parse)?,
                    practitioner_id: parse_id(&practitioner_id, PractitionerId::parse)?,
                    service_id: parse_id(&service_id, ServiceId::parse)?,
                    rating,
                    comment,
                    answered_at: row.try_get::<Option<i64>, _>("answered_at")?.map(from_ts).transpose()?,
                });
            }
        }
        let finish = |s: &mut RatingSummary| {
            let total: i64 = s.distribution.iter().enumerate().map(|(i, n)| (i as i64 + 1) * n).sum();
            s.mean = (s.count > 0).then(|| (total as f64 / s.count as f64 * 100.0).round() / 100.0);
        };
        finish(&mut stats.overall);
        for (id, mut s) in by_practitioner {
            finish(&mut s);
            stats.by_practitioner.push((parse_id(&id, PractitionerId::parse)?, s));
        }
        for (id, mut s) in by_service {
            finish(&mut s);
            stats.by_service.push((parse_id(&id, ServiceId::parse)?, s));
        }
        Ok(stats)
    }
}
