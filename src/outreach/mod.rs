//! Messages Nuru writes first: appointment reminders. `plan` holds the
//! rules (quiet hours, lateness, the WhatsApp window and templates); this
//! file is the worker step around them: claim the reminder due longest,
//! read what it needs, decide, and either hand it to the outbox (one
//! transaction, conditional on the claim) or close it with the reason staff
//! see. The outbox sends it like any reply (never twice) and skips a phone
//! that opted out in the meantime.

pub mod plan;

use crate::channels::twilio::segments;
use crate::clock::Clock;
use crate::conversation::texts;
use crate::domain::{AppointmentStatus, Channel, Lang};
use crate::storage::{ClaimedReminder, NewOutbound, StorageError, Store};
use chrono::Duration;
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
        let outcome = self.remind(&r).await?;
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
        let (conversation, channel, phone, lang, last_inbound) = match &target.conversation {
            Some(c) => (c.id, c.channel, c.phone.clone(), c.language, c.last_inbound_at),
            None => {
                // A patient booked by staff who never wrote: their first
                // phone, on WhatsApp when the clinic has a number there.
                let Some(phone) = target.first_phone.clone() else { return close("skipped", "no_phone").await };
                let channel = if target.whatsapp_number.is_some() { Channel::WhatsApp } else { Channel::Sms };
                let initial = serde_json::to_string(&crate::conversation::Conversation::default()).expect("state serialises");
                let row = self.store.conversation_for(r.clinic_id, channel, &phone, target.default_language, &initial, now).await?;
                (row.id, channel, phone, row.language, row.last_inbound_at)
            }
        };
        let number = match channel {
            Channel::WhatsApp => target.whatsapp_number.as_ref(),
            _ => target.sms_number.as_ref(),
        };
        if number.is_none() && channel != Channel::Chat {
            return close("skipped", "no_sending_number").await;
        }
        if self.store.consent(r.clinic_id, &phone, channel).await?.is_some_and(|c| c.opted_out) {
            return close("skipped", "opted_out").await;
        }
        let stored = self.store.template(r.clinic_id, "reminder", lang).await?;
        let template = stored
            .map(|t| Template { content_sid: t.content_sid, variables: t.variables.iter().filter_map(|v| Variable::parse(v)).collect() });
        let form = plan::form(channel, last_inbound, now, template.as_ref());
        if form == Form::NoTemplate {
            warn!(reminder = r.id, "outside the WhatsApp window with no reminder template: not sent");
            return close("skipped", "no_template").await;
        }
        let local = target.starts_at.with_timezone(&target.timezone);
        let service = if lang == Lang::En { &target.service_en } else { &target.service_fr };
        let day = texts::day(lang, local.date_naive());
        let time = texts::time(local.time());
        let value = |v: Variable| -> String {
            match v {
                Variable::PatientFirstName => target.patient_first_name.clone(),
                Variable::Date => day.clone(),
                Variable::Time => time.clone(),
                Variable::Practitioner => target.practitioner.clone(),
                Variable::Service => service.clone(),
                Variable::Clinic => target.clinic_name.clone(),
            }
        };
        let body = texts::texts().render(
            lang,
            "reminder",
            &[
                ("patient", &target.patient_first_name),
                ("day", &day),
                ("time", &time),
                ("practitioner", &target.practitioner),
                ("service", service),
                ("clinic", &target.clinic_name),
            ],
        );
        let body = texts::for_channel(&body, channel);
        // On SMS, every character in the GSM alphabet: one or two segments.
        let body = if channel == Channel::Sms { segments::to_gsm7(&body) } else { body };
        let variables = match form {
            Form::Template(t) => Some((t.content_sid.clone(), t.content_variables(value))),
            _ => None,
        };
        let message = NewOutbound {
            clinic_id: r.clinic_id,
            conversation_id: conversation,
            inbound_id: None,
            channel,
            to: phone,
            body,
            author: "bot",
        };
        let queued = self
            .store
            .queue_reminder(r, &message, "reminder", variables.as_ref().map(|(sid, vars)| (sid.as_str(), vars.as_str())), now)
            .await?;
        Ok(if queued { Reminded::Queued } else { Reminded::Lost })
    }
}
