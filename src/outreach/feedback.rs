//! Asking for feedback after a visit: claim the request due longest, and
//! send it, send its one reminder, or let it expire. Like a reminder, it
//! respects the quiet hours, the WhatsApp window (the clinic's `feedback`
//! template outside it) and the phone's consent; the outbox sends it once.

use super::{About, Outreach};
use crate::domain::AppointmentStatus;
use crate::outreach::plan::QuietHours;
use crate::storage::{ANSWER_WINDOW, AskAfter, ClaimedFeedback, StorageError};
use chrono::Duration;
use tracing::{info, warn};

/// What became of one claimed feedback request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AskedFeedback {
    /// Sent (`1`) or reminded (`2`).
    Queued(u32),
    Deferred,
    Closed(&'static str),
    Lost,
}

impl Outreach {
    /// One step: the feedback request due longest, if any, decided.
    pub async fn feedback_due(&self) -> Result<Option<AskedFeedback>, StorageError> {
        let now = self.clock.now();
        let Some(f) = self.store.claim_feedback(now, now + self.lease).await? else { return Ok(None) };
        let outcome = match self.ask_feedback(&f).await {
            Ok(outcome) => outcome,
            Err(e) => {
                let retry = crate::retry::Backoff::OUTREACH;
                self.store.job_failed(&crate::storage::FEEDBACK, &f.claim, retry, f.due_at, &e.to_string(), self.clock.now()).await?;
                return Err(e);
            }
        };
        info!(feedback = f.id, outcome = ?outcome, "feedback request");
        Ok(Some(outcome))
    }

    async fn ask_feedback(&self, f: &ClaimedFeedback) -> Result<AskedFeedback, StorageError> {
        let now = self.clock.now();
        let close = |status: &'static str, reason: &'static str| async move {
            self.store.close_feedback(f, status, reason, now).await.map(|_| AskedFeedback::Closed(reason))
        };
        let settings = self.store.feedback_settings(f.clinic_id).await?;
        if !settings.enabled {
            return close("skipped", "disabled").await;
        }
        // Asked once with no answer: its one reminder, if the clinic wants
        // one; asked as often as it will be: it expires.
        let reminder = Duration::minutes(settings.reminder_after_minutes as i64);
        if f.asked >= 2 || f.asked == 1 && settings.reminder_after_minutes == 0 {
            return close("expired", "no_answer").await;
        }
        let Some(target) = self.store.reminder_target(f.clinic_id, f.appointment_id).await? else {
            return close("cancelled", "gone").await;
        };
        let visited = match target.status {
            AppointmentStatus::Attended => true,
            // Asked after the end: unless staff said otherwise since.
            AppointmentStatus::Booked => settings.ask_after == AskAfter::End,
            _ => false,
        };
        if !visited {
            return close("cancelled", "not_attended").await;
        }
        let quiet = self.store.reminder_settings(f.clinic_id).await?;
        let quiet = QuietHours::new(quiet.quiet_start, quiet.quiet_end).unwrap_or_default();
        let when = quiet.next_allowed(now, target.timezone);
        if when > now {
            self.store.defer_feedback(f, when, now).await?;
            return Ok(AskedFeedback::Deferred);
        }
        let to = match self.recipient(f.clinic_id, &target, now).await? {
            Ok(to) => to,
            Err(why) => return close("skipped", why).await,
        };
        let Some(template) = self.form(f.clinic_id, "feedback", &to, now).await? else {
            warn!(feedback = f.id, "outside the WhatsApp window with no feedback template: not sent");
            return close("skipped", "no_template").await;
        };
        let about = About::new(&target, to.language);
        let key = if f.asked == 0 { "feedback_request" } else { "feedback_again" };
        let body = about.render(key, to.channel);
        let variables = template.map(|t| (t.content_sid.clone(), t.content_variables(|v| about.value(v))));
        let message = to.message(f.clinic_id, body);
        // Its reminder, if any, then its expiry.
        let next_due = if f.asked == 0 && reminder > Duration::zero() { now + reminder } else { now + ANSWER_WINDOW };
        let queued = self
            .store
            .queue_feedback(f, &message, variables.as_ref().map(|(sid, vars)| (sid.as_str(), vars.as_str())), next_due, now)
            .await?;
        Ok(if queued { AskedFeedback::Queued(f.asked + 1) } else { AskedFeedback::Lost })
    }
}
