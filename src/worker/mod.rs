//! Background work over database-backed queues: processing inbound messages
//! (one conversation at a time, in order) and sending the outbox. Each loop is
//! a repetition of a single step that tests can call directly.

mod documents;

pub use documents::{PASSAGE_BATCH, Read};

use crate::channels::{SendError, Transport};
use crate::clock::Clock;
use crate::conversation::shell::{TurnReport, TurnRunner};
use crate::retry::{Backoff, Next};
use crate::secrets::Cipher;
use crate::storage::{INBOUND, OUTBOUND, StorageError, Store};
use chrono::Duration;
use std::sync::Arc;
use tokio::sync::{Notify, watch};
use tracing::{error, info, warn};

/// Seconds after an unanswered send before it is looked up in Twilio.
const RECHECK_SECONDS: i64 = 10;
/// Twilio: "Attempt to send to unsubscribed recipient".
const TWILIO_UNSUBSCRIBED: u32 = 21610;
/// A sending number's wait up to this long is waited with the reply claimed;
/// longer, the reply goes back to the queue.
const PACED_WAIT_IN_HAND: std::time::Duration = std::time::Duration::from_millis(100);

#[derive(Debug, Clone)]
pub struct Workers {
    pub metrics: Arc<crate::metrics::Metrics>,
    pub store: Store,
    pub engine: TurnRunner,
    pub transport: Transport,
    pub cipher: Cipher,
    pub clock: Clock,
    pub inbound_ready: Arc<Notify>,
    pub outbound_ready: Arc<Notify>,
    /// How long a reply that failed transiently is retried (`send_retry_hours`).
    pub send_retry_budget: Duration,
    pub poll: std::time::Duration,
    /// How long a claim stays with this node (`worker_lease_seconds`).
    pub lease: Duration,
    /// Google Calendar sync and event writes, when configured.
    pub google: Option<Arc<crate::calendar::google::Google>>,
    /// Appointment reminders, feedback requests and broadcasts (one loop per node, claims leased).
    pub outreach: Option<crate::outreach::Outreach>,
}

impl Workers {
    /// Processes the next available inbound message. `Ok(None)` when idle.
    pub async fn process_next_inbound(&self) -> Result<Option<TurnReport>, StorageError> {
        let now = self.clock.now();
        let Some(m) = self.store.claim_inbound(now, now + self.lease).await? else { return Ok(None) };
        let started = std::time::Instant::now();
        let result = self.engine.process(&m).await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(_) if m.attempts >= Backoff::TURN.max_attempts => "failed",
            Err(_) => "retry",
        };
        self.metrics.turn(outcome, started.elapsed().as_secs_f64());
        match result {
            Ok(report) => {
                if report.replies > 0 {
                    self.outbound_ready.notify_one();
                }
                Ok(Some(report))
            }
            Err(e) => {
                let ended = self.clock.now();
                match Backoff::TURN.next(m.attempts, m.received_at, ended, None, rand::random()) {
                    Next::RetryAt(at) => {
                        warn!(message = m.id, attempt = m.attempts, error = %e, "turn failed; will retry");
                        self.store.release_job(&INBOUND, &m.claim, at, Some(&e.to_string()), true).await?;
                    }
                    Next::GiveUp => {
                        error!(message = m.id, error = %e, "giving up on inbound message");
                        self.store.bury_job(&INBOUND, &m.claim, &e.to_string(), ended).await?;
                    }
                }
                Ok(Some(TurnReport::default()))
            }
        }
    }

    /// Sends the next due reply. `Ok(false)` when nothing is due.
    pub async fn send_next_outbound(&self) -> Result<bool, StorageError> {
        let now = self.clock.now();
        let Some(m) = self.store.claim_outbound(now, now + self.send_lease()).await? else { return Ok(false) };
        if m.looking_up {
            // Maybe sent (no answer, or its node died mid-send): looked up
            // in Twilio, never sent again blindly.
            self.reconcile(&m).await?;
            return Ok(true);
        }
        // A message Nuru starts is not sent to a phone that opted out since
        // it was queued; replies to the patient's own messages still go.
        if m.kind != "reply" && m.kind != "staff" && self.store.consent(m.clinic_id, &m.to, m.channel).await?.is_some_and(|c| c.opted_out) {
            self.metrics.send("opted_out", None);
            self.store.bury_job(&OUTBOUND, &m.claim, "opted out", now).await?;
            return Ok(true);
        }
        // A short wait for the number's rate is waited in the send, claim in
        // hand; a long one puts the reply back below.
        let result = self.transport.send(&self.store, &self.cipher, &m, PACED_WAIT_IN_HAND).await;
        let code = result.as_ref().err().and_then(SendError::twilio_code);
        // Retries are timed from when this try ended, not from the claim.
        let ended = self.clock.now();
        let retry_at = match &result {
            Err(SendError::Transient(_)) => self.retry_at(&m, ended, None),
            Err(SendError::RetryAfter(_, wait)) => self.retry_at(&m, ended, Some(*wait)),
            _ => None,
        };
        match &result {
            Ok(_) => self.metrics.send("sent", None),
            Err(SendError::Paced(_)) => self.metrics.send("paced", None),
            Err(SendError::Transient(_) | SendError::RetryAfter(..)) if retry_at.is_some() => self.metrics.send("retry", code),
            Err(SendError::Uncertain(_)) => self.metrics.send("uncertain", code),
            Err(_) => self.metrics.send("failed", code),
        }
        match result {
            Ok(provider_id) => self.store.mark_outbound_sent(m.id, &provider_id, ended).await?,
            Err(SendError::Paced(wait)) => {
                // Whole seconds: the queue's times are epoch seconds.
                let at = now + Duration::seconds(wait.as_secs() as i64 + 1);
                self.store.defer_outbound(&m, at).await?;
                return Ok(false);
            }
            Err(SendError::Transient(reason) | SendError::RetryAfter(reason, _)) if retry_at.is_some() => {
                warn!(outbound = m.id, attempt = m.attempts, %reason, "send failed; will retry");
                if m.lifetime == crate::storage::Lifetime::Urgent && m.attempts == 1 {
                    // An emergency reply that did not leave: staff know now,
                    // while it keeps being tried every few seconds.
                    error!(outbound = m.id, "an urgent reply could not be sent: its conversation is in front of staff");
                    self.store.flag_undelivered(&m, None, ended).await?;
                }
                self.store.release_job(&OUTBOUND, &m.claim, retry_at.expect("guarded"), Some(&reason), true).await?;
            }
            Err(SendError::Uncertain(reason)) => {
                // Maybe sent: never sent again blindly; looked up in
                // Twilio's Messages API shortly.
                warn!(outbound = m.id, %reason, "send outcome unknown: to be looked up in Twilio");
                self.store.mark_outbound_uncertain(m.id, ended + Duration::seconds(RECHECK_SECONDS), &reason).await?;
            }
            Err(e) if code == Some(TWILIO_UNSUBSCRIBED) => {
                // Twilio refuses: the phone opted out (STOP to the carrier or
                // to Twilio). Recorded, and never retried.
                warn!(outbound = m.id, "recipient unsubscribed (21610): opted out");
                self.store.bury_job(&OUTBOUND, &m.claim, &e.to_string(), ended).await?;
                let change = crate::storage::ConsentChange {
                    clinic: m.clinic_id,
                    phone: &m.to,
                    channel: m.channel,
                    opted_out: true,
                    source: "twilio",
                    changed_by: None,
                };
                self.store.set_consent_now(change, now).await?;
            }
            Err(e) => {
                // Refused for good, given up after its budget, or maybe sent:
                // never tried again, and its conversation goes in front of
                // staff, marked undelivered.
                error!(outbound = m.id, attempt = m.attempts, error = %e, "reply not sent: its conversation is in front of staff");
                self.store.flag_undelivered(&m, Some(&e.to_string()), ended).await?;
                self.store.system_event(Some(m.clinic_id), "send_failed", &format!("outbound {}", m.id), ended).await?;
            }
        }
        Ok(true)
    }

    /// How long a reply being sent stays with this node: a send takes at
    /// most the Twilio client's 15 s timeout, so a node that died mid-send
    /// holds its conversation's next reply back for at most this long.
    fn send_lease(&self) -> Duration {
        self.lease.min(Duration::seconds(20))
    }

    /// Settles a send whose outcome was unknown by asking Twilio: found, it
    /// is sent (never sent twice); absent, it is queued again within its
    /// budget; the lookup failing is retried like a send.
    async fn reconcile(&self, u: &crate::storage::ClaimedOutbound) -> Result<(), StorageError> {
        let now = self.clock.now();
        match self.transport.look_up(&self.store, &self.cipher, u).await {
            Ok(Some(provider_id)) => {
                info!(outbound = u.id, "an uncertain send had reached Twilio: recorded as sent");
                self.metrics.send("reconciled", None);
                self.store.mark_outbound_sent(u.id, &provider_id, now).await?;
            }
            Ok(None) => match self.retry_at(u, now, None) {
                Some(_) => {
                    info!(outbound = u.id, "an uncertain send never reached Twilio: queued again");
                    self.store.requeue_outbound(u.id, now).await?;
                }
                None => self.store.flag_undelivered(u, Some("never reached Twilio, and no longer useful"), now).await?,
            },
            Err(e) => match self.retry_at(u, now, None) {
                Some(at) if !matches!(e, SendError::Final(_)) => self.store.mark_outbound_uncertain(u.id, at, &e.to_string()).await?,
                _ => {
                    error!(outbound = u.id, error = %e, "an uncertain send could not be settled: its conversation is in front of staff");
                    self.store.flag_undelivered(u, Some(&format!("outcome unknown: {e}")), now).await?;
                }
            },
        }
        Ok(())
    }

    /// When a reply that failed transiently is tried again, or `None` once
    /// it would no longer be useful.
    fn retry_at(
        &self,
        m: &crate::storage::ClaimedOutbound,
        ended: chrono::DateTime<chrono::Utc>,
        asked: Option<std::time::Duration>,
    ) -> Option<chrono::DateTime<chrono::Utc>> {
        crate::channels::outbound::next_attempt(m.lifetime, m.attempts, m.created_at, ended, self.send_retry_budget, asked, rand::random())
    }

    /// Runs both queues until neither has work ready now (tests, chat, bench).
    pub async fn run_until_idle(&self) -> Result<Vec<TurnReport>, StorageError> {
        let mut reports = Vec::new();
        loop {
            let mut busy = false;
            while let Some(r) = self.process_next_inbound().await? {
                reports.push(r);
                busy = true;
            }
            if let Some(outreach) = &self.outreach {
                while outreach.remind_due().await?.is_some() {
                    busy = true;
                }
                while outreach.feedback_due().await?.is_some() {
                    busy = true;
                }
                while outreach.broadcast_due().await?.is_some() {
                    busy = true;
                }
            }
            while self.read_next_document().await?.is_some() {
                busy = true;
            }
            while self.send_next_outbound().await? {
                busy = true;
            }
            if !busy {
                return Ok(reports);
            }
        }
    }

    /// Spawns the processing and sending loops; they stop when `shutdown` flips.
    /// Each sending loop claims its own reply: a conversation's next reply
    /// waits while one of its replies is being sent, so replies run side by
    /// side across conversations and in order within one. Per queue, only
    /// the first loop looks at the database on a timer (work queued by other
    /// nodes, retries coming due); the others sleep until a sibling finds
    /// work or a local webhook or turn announces some, so an idle node costs
    /// the database two queries per `worker_poll_ms`, not one per loop.
    pub fn spawn(self: Arc<Self>, processors: usize, senders: usize, shutdown: watch::Receiver<bool>) -> Vec<tokio::task::JoinHandle<()>> {
        let mut handles = Vec::new();
        for first in (0..processors).map(|i| i == 0) {
            // The stop flag is read before every step, so a backlog never
            // keeps the process alive: the turn in hand finishes, the rest
            // waits in the database for the next start.
            handles.push(self.clone().queue_loop(first, self.inbound_ready.clone(), shutdown.clone(), "inbound queue", |w| async move {
                w.process_next_inbound().await.map(|turn| turn.is_some())
            }));
        }
        for first in (0..senders).map(|i| i == 0) {
            handles.push(self.clone().queue_loop(first, self.outbound_ready.clone(), shutdown.clone(), "outbox", |w| async move {
                w.send_next_outbound().await
            }));
        }
        // Documents patients sent: one loop per node (reading is CPU work
        // off the async workers; claims are leased). A refusal's notice
        // wakes the senders.
        let ready = self.outbound_ready.clone();
        handles.push(self.clone().queue_loop(true, Arc::new(Notify::new()), shutdown.clone(), "document reads", move |w| {
            let ready = ready.clone();
            async move {
                let read = w.read_next_document().await?;
                if read == Some(Read::Refused) {
                    ready.notify_one();
                }
                Ok(read.is_some())
            }
        }));
        if let Some(outreach) = &self.outreach {
            let o = outreach.clone();
            let ready = self.outbound_ready.clone();
            handles.push(self.clone().queue_loop(
                true,
                Arc::new(Notify::new()),
                shutdown.clone(),
                "reminders, feedback and broadcasts",
                move |_| {
                    let (o, ready) = (o.clone(), ready.clone());
                    async move {
                        // Reminders first (they are due at a time); feedback
                        // requests when none is due.
                        let step = o.remind_due().await?;
                        if step == Some(crate::outreach::Reminded::Queued) {
                            ready.notify_one();
                        }
                        if step.is_some() {
                            return Ok(true);
                        }
                        let step = o.feedback_due().await?;
                        if matches!(step, Some(crate::outreach::AskedFeedback::Queued(_))) {
                            ready.notify_one();
                        }
                        if step.is_some() {
                            return Ok(true);
                        }
                        let step = o.broadcast_due().await?;
                        if step == Some(crate::outreach::Broadcasted::Queued) {
                            ready.notify_one();
                        }
                        Ok(step.is_some())
                    }
                },
            ));
        }
        if let Some(google) = &self.google {
            // One loop each: Google's per-user quotas favour a steady pace
            // over bursts, and every node runs its own (claims are leased).
            let lease = self.lease.to_std().unwrap_or(std::time::Duration::from_secs(60));
            let g = google.clone();
            handles.push(self.clone().queue_loop(true, Arc::new(Notify::new()), shutdown.clone(), "calendar sync", move |_| {
                let g = g.clone();
                async move { g.sync_due(lease).await }
            }));
            let g = google.clone();
            handles.push(self.clone().queue_loop(true, Arc::new(Notify::new()), shutdown.clone(), "calendar writes", move |_| {
                let g = g.clone();
                async move { g.write_due(lease).await }
            }));
        }
        info!(processors, senders, "workers started");
        handles
    }

    /// One loop over a queue: `step` until it finds nothing, then sleep until
    /// `ready` is notified (by a sibling that found work, or a local webhook
    /// or turn), the stop flag flips, or — for the `first` loop only — the
    /// poll interval passes. A step that did work wakes a sibling to work
    /// beside it.
    fn queue_loop<F, Fut>(
        self: Arc<Self>,
        first: bool,
        ready: Arc<Notify>,
        mut stop: watch::Receiver<bool>,
        queue: &'static str,
        step: F,
    ) -> tokio::task::JoinHandle<()>
    where
        F: Fn(Arc<Workers>) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<bool, StorageError>> + Send,
    {
        tokio::spawn(async move {
            while !*stop.borrow() {
                match step(self.clone()).await {
                    Ok(true) => {
                        ready.notify_one();
                        continue;
                    }
                    Ok(false) => {}
                    Err(e) => error!(error = %e, queue, "queue step failed"),
                }
                tokio::select! {
                    _ = ready.notified() => {}
                    _ = tokio::time::sleep(self.poll), if first => {}
                    _ = stop.changed() => {}
                }
            }
        })
    }
}
