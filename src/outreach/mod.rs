//! Messages Nuru writes first: appointment reminders. `plan` holds the
//! rules (quiet hours, lateness, the WhatsApp window and templates); this
//! file is the worker step around them: claim the reminder due longest,
//! read what it needs, decide, and either hand it to the outbox (one
//! transaction, conditional on the claim) or close it with the reason staff
//! see. The outbox sends it like any reply (never twice) and skips a phone
//! that opted out in the meantime.

mod broadcast;
mod feedback;
pub mod plan;

pub use broadcast::Broadcasted;
pub use feedback::AskedFeedback;

use crate::channels::twilio::segments;
use crate::clock::Clock;
use crate::conversation::texts;
use crate::domain::{AppointmentStatus, Channel, ClinicId, ConversationId, Lang, PhoneNumber};
use crate::storage::{ClaimedReminder, NewOutbound, ReminderTarget, StorageError, Store};
use chrono::{DateTime, Duration, Utc};
use plan::{Form, QuietHours, Template, Timing, Variable};
use tracing::{info, warn};

#[derive(Debug, Clone)]
pub struct Outreach {
    store: Store,
    clock: Clock,
    lease: Duration,
}

/// What became of one claimed reminder (for logs and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reminded {
    Queued,
    Deferred,
    Closed(&'static str),
    /// Another node took it over (this node's lease ran out).
    Lost,
}

impl Outreach {
    pub fn new(store: Store, clock: Clock, lease: Duration) -> Outreach {
        Outreach { store, clock, lease }
    }

    /// One step: the reminder due longest, if any, decided. `Ok(None)` when
    /// none is due. A failure leaves it claimed until its lease ends, and
    /// then it is tried again.
    pub async fn remind_due(&self) -> Result<Option<Reminded>, StorageError> {
        let now = self.clock.now();
        let Some(r) = self.store.claim_reminder(now, now + self.lease).await? else { return Ok(None) };
        let outcome = match self.remind(&r).await {
            Ok(outcome) => outcome,
            Err(e) => {
                let retry = crate::retry::Backoff::OUTREACH;
                self.store.job_failed(&crate::storage::REMINDERS, &r.claim, retry, r.due_at, &e.to_string(), self.clock.now()).await?;
                return Err(e);
            }
        };
        info!(reminder = r.id, outcome = ?outcome, "reminder");
        Ok(Some(outcome))
    }

    async fn remind(&self, r: &ClaimedReminder) -> Result<Reminded, StorageError> {
        let now = self.clock.now();
        let close = |status: &'static str, reason: &'static str| async move {
            self.store.close_reminder(r, status, reason, now).await.map(|_| Reminded::Closed(reason))
        };
        let settings = self.store.reminder_settings(r.clinic_id).await?;
        if !settings.enabled {
            return close("skipped", "disabled").await;
        }
        let Some(target) = self.store.reminder_target(r.clinic_id, r.appointment_id).await? else {
            return close("cancelled", "gone").await;
        };
        // Moved or cancelled since (their own transactions replaced it; this
        // is the guard should one ever be missed).
        if target.status != AppointmentStatus::Booked || target.starts_at != r.appointment_starts_at {
            return close("cancelled", "changed").await;
        }
        let quiet = QuietHours::new(settings.quiet_start, settings.quiet_end).unwrap_or_default();
        let lead = Duration::minutes(r.offset_minutes as i64);
        match plan::reminder_timing(r.due_at, lead, target.starts_at, now, quiet, target.timezone) {
            Timing::Now => {}
            Timing::Later(at) => {
                self.store.defer_reminder(r, at, now).await?;
                return Ok(Reminded::Deferred);
            }
            Timing::Skip(why) => return close("skipped", why.as_str()).await,
        }
        let to = match self.recipient(r.clinic_id, &target, now).await? {
            Ok(to) => to,
            Err(why) => return close("skipped", why).await,
        };
        let Some(template) = self.form(r.clinic_id, "reminder", &to, now).await? else {
            warn!(reminder = r.id, "outside the WhatsApp window with no reminder template: not sent");
            return close("skipped", "no_template").await;
        };
        let about = About::new(&target, to.language);
        let body = about.render("reminder", to.channel);
        let variables = template.map(|t| (t.content_sid.clone(), t.content_variables(|v| about.value(v))));
        let message = to.message(r.clinic_id, body);
        let queued = self
            .store
            .queue_reminder(r, &message, "reminder", variables.as_ref().map(|(sid, vars)| (sid.as_str(), vars.as_str())), now)
            .await?;
        Ok(if queued { Reminded::Queued } else { Reminded::Lost })
    }

    /// Where a message the clinic starts about `target` goes: the patient's
    /// conversation, or (a patient booked by staff who never wrote) their
    /// first phone, on WhatsApp when the clinic has a number there. `Err`:
    /// why it cannot go (no phone, no sending number, opted out).
    async fn recipient(
        &self,
        clinic: ClinicId,
        target: &ReminderTarget,
        now: DateTime<Utc>,
    ) -> Result<Result<Recipient, &'static str>, StorageError> {
        let to = match &target.conversation {
            Some(c) => Recipient {
                conversation: c.id,
                channel: c.channel,
                phone: c.phone.clone(),
                language: c.language,
                last_inbound: c.last_inbound_at,
            },
            None => {
                let Some(phone) = target.first_phone.clone() else { return Ok(Err("no_phone")) };
                let channel = if target.whatsapp_number.is_some() { Channel::WhatsApp } else { Channel::Sms };
                let initial = serde_json::to_string(&crate::conversation::Conversation::default()).expect("state serialises");
                let row = self.store.conversation_for(clinic, channel, &phone, target.default_language, &initial, now).await?;
                Recipient { conversation: row.id, channel, phone, language: row.language, last_inbound: row.last_inbound_at }
            }
        };
        let number = match to.channel {
            Channel::WhatsApp => target.whatsapp_number.as_ref(),
            _ => target.sms_number.as_ref(),
        };
        if number.is_none() && to.channel != Channel::Chat {
            return Ok(Err("no_sending_number"));
        }
        if self.store.consent(clinic, &to.phone, to.channel).await?.is_some_and(|c| c.opted_out) {
            return Ok(Err("opted_out"));
        }
        Ok(Ok(to))
    }

    /// How a message of `kind` reaches `to` now: `Some(None)` free text,
    /// `Some(Some(t))` the clinic's approved template, `None` not at all
    /// (outside the WhatsApp window with no template).
    async fn form(
        &self,
        clinic: ClinicId,
        kind: &str,
        to: &Recipient,
        now: DateTime<Utc>,
    ) -> Result<Option<Option<Template>>, StorageError> {
        let stored = self.store.template(clinic, kind, to.language).await?;
        let template = stored
            .map(|t| Template { content_sid: t.content_sid, variables: t.variables.iter().filter_map(|v| Variable::parse(v)).collect() });
        Ok(match plan::form(to.channel, to.last_inbound, now, template.as_ref()) {
            Form::NoTemplate => None,
            Form::Template(_) => Some(template),
            Form::Text => Some(None),
        })
    }
}

/// Where a message Nuru starts goes.
#[derive(Debug, Clone)]
struct Recipient {
    conversation: ConversationId,
    channel: Channel,
    phone: PhoneNumber,
    language: Lang,
    last_inbound: Option<DateTime<Utc>>,
}

impl Recipient {
    fn message(&self, clinic: ClinicId, body: String) -> NewOutbound {
        NewOutbound {
            clinic_id: clinic,
            conversation_id: self.conversation,
            inbound_id: None,
            channel: self.channel,
            to: self.phone.clone(),
            body,
            author: "bot",
            lifetime: crate::storage::Lifetime::Lasting,
        }
    }
}

/// What a message about an appointment says, in its reader's language.
struct About {
    lang: Lang,
    patient: String,
    day: String,
    time: String,
    practitioner: String,
    service: String,
    clinic: String,
}

impl About {
    fn new(target: &ReminderTarget, lang: Lang) -> About {
        let local = target.starts_at.with_timezone(&target.timezone);
        About {
            lang,
            patient: target.patient_first_name.clone(),
            day: texts::day(lang, local.date_naive()),
            time: texts::time(local.time()),
            practitioner: target.practitioner.clone(),
            service: if lang == Lang::En { target.service_en.clone() } else { target.service_fr.clone() },
            clinic: target.clinic_name.clone(),
        }
    }

    /// What fills a template's variable.
    fn value(&self, v: Variable) -> String {
        match v {
            Variable::PatientFirstName => self.patient.clone(),
            Variable::Date => self.day.clone(),
            Variable::Time => self.time.clone(),
            Variable::Practitioner => self.practitioner.clone(),
            Variable::Service => self.service.clone(),
            Variable::Clinic => self.clinic.clone(),
        }
    }

    /// The text `key` with these facts, for `channel`.
    fn render(&self, key: &str, channel: Channel) -> String {
        let args = [
            ("patient", self.patient.as_str()),
            ("day", &self.day),
            ("time", &self.time),
            ("practitioner", &self.practitioner),
            ("service", &self.service),
            ("clinic", &self.clinic),
        ];
        for_channel(&texts::texts().render(self.lang, key, &args), channel)
    }
}

/// A text for `channel`: on SMS, every character in the GSM alphabet (one
/// or two segments).
fn for_channel(text: &str, channel: Channel) -> String {
    let body = texts::for_channel(text, channel);
    if channel == Channel::Sms { segments::to_gsm7(&body) } else { body }
}
