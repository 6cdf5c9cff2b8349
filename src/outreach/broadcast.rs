//! Sending a broadcast: claim the recipient due longest and hand it to the
//! outbox, or skip it with the reason staff see (opted out, no template
//! outside the WhatsApp window, no sending number). The quiet hours hold
//! the broadcast's waiting recipients together, so the clinic's rate holds.

use super::{Outreach, for_channel};
use crate::domain::{Channel, Lang};
use crate::outreach::plan::{self, Fill, Form, QuietHours, Template, Variable};
use crate::storage::{ClaimedRecipient, NewOutbound, StorageError};
use tracing::{info, warn};

/// What became of one claimed recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Broadcasted {
    Queued,
    /// The quiet hours hold it (and the rest of its broadcast).
    Held,
    Skipped(&'static str),
    Lost,
}

impl Outreach {
    /// One step: the broadcast recipient due longest, if any, decided.
    pub async fn broadcast_due(&self) -> Result<Option<Broadcasted>, StorageError> {
        let now = self.clock.now();
        let Some(r) = self.store.claim_broadcast_recipient(now, now + self.lease).await? else { return Ok(None) };
        let outcome = match self.send_broadcast(&r).await {
            Ok(outcome) => outcome,
            Err(e) => {
                let (q, retry) = (&crate::storage::BROADCAST_RECIPIENTS, crate::retry::Backoff::OUTREACH);
                self.store.job_failed(q, &r.claim, retry, r.due_at, &e.to_string(), self.clock.now()).await?;
                return Err(e);
            }
        };
        info!(recipient = r.id, outcome = ?outcome, "broadcast");
        Ok(Some(outcome))
    }

    async fn send_broadcast(&self, r: &ClaimedRecipient) -> Result<Broadcasted, StorageError> {
        let now = self.clock.now();
        let skip =
            |reason: &'static str| async move { self.store.close_recipient(r, reason, now).await.map(|_| Broadcasted::Skipped(reason)) };
        let Some(b) = self.store.broadcast(r.clinic_id, r.broadcast_id).await? else { return skip("gone").await };
        if self.store.consent(r.clinic_id, &r.phone, r.channel).await?.is_some_and(|c| c.opted_out) {
            return skip("opted_out").await;
        }
        let clinic = self.store.clinic(r.clinic_id).await?;
        let number = match r.channel {
            Channel::WhatsApp => clinic.whatsapp_number.as_ref(),
            _ => clinic.sms_number.as_ref(),
        };
        if number.is_none() && r.channel != Channel::Chat {
            return skip("no_sending_number").await;
        }
        let quiet = self.store.reminder_settings(r.clinic_id).await?;
        let quiet = QuietHours::new(quiet.quiet_start, quiet.quiet_end).unwrap_or_default();
        let when = quiet.next_allowed(now, clinic.timezone);
        if when > now {
            self.store.hold_broadcast(r, when - now, now).await?;
            return Ok(Broadcasted::Held);
        }
        let initial = serde_json::to_string(&crate::conversation::Conversation::default()).expect("state serialises");
        let conversation = self.store.conversation_for(r.clinic_id, r.channel, &r.phone, r.language, &initial, now).await?;
        let (text, content_sid) = match r.language {
            Lang::Fr => (&b.text_fr, &b.content_sid_fr),
            Lang::En => (&b.text_en, &b.content_sid_en),
        };
        let template = content_sid.clone().map(|sid| Template { content_sid: sid, variables: Vec::new() });
        let form = plan::form(r.channel, conversation.last_inbound_at, now, template.as_ref());
        if form == Form::NoTemplate {
            warn!(recipient = r.id, "outside the WhatsApp window with no broadcast template: not sent");
            return skip("no_template").await;
        }
        let variables = match form {
            Form::Template(t) => {
                let fills: Vec<Fill> =
                    serde_json::from_str(&b.variables_json).map_err(|e| StorageError::Corrupt(format!("broadcast variables: {e}")))?;
                let first_name = match r.patient_id {
                    Some(p) => self.store.patient(r.clinic_id, p).await?.map(|p| p.patient.first_name).unwrap_or_default(),
                    None => String::new(),
                };
                let value = |v: Variable| match v {
                    Variable::PatientFirstName => first_name.clone(),
                    Variable::Clinic => clinic.name.clone(),
                    _ => String::new(),
                };
                Some((t.content_sid.clone(), plan::fill_variables(&fills, value)))
            }
            _ => None,
        };
        let message = NewOutbound {
            clinic_id: r.clinic_id,
            conversation_id: conversation.id,
            inbound_id: None,
            channel: r.channel,
            to: r.phone.clone(),
            body: for_channel(text, r.channel),
            author: "bot",
            lifetime: crate::storage::Lifetime::Lasting,
        };
        let queued =
            self.store.queue_broadcast(r, &message, variables.as_ref().map(|(sid, vars)| (sid.as_str(), vars.as_str())), now).await?;
        Ok(if queued { Broadcasted::Queued } else { Broadcasted::Lost })
    }
}
