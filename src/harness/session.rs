//! An in-process conversation with the real engine on a private in-memory
//! database: what `nuru chat`, `nuru test-conversations` and the tests share.
//! Messages go through the same path as webhooks (stored, claimed by the
//! worker, processed in one transaction, replies queued in the outbox).

use crate::channels::Transport;
use crate::clinic_file::ClinicFile;
use crate::clock::Clock;
use crate::conversation::shell::TurnRunner;
use crate::domain::{Channel, ClinicCatalog, PhoneNumber};
use crate::secrets::Cipher;
use crate::storage::{ConversationRow, NewInbound, Store};
use crate::worker::Workers;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub struct Session {
    pub store: Store,
    pub catalog: ClinicCatalog,
    pub clock: Clock,
    workers: Workers,
    counter: AtomicU64,
    last_seen: std::sync::Mutex<std::collections::HashMap<String, i64>>,
}

impl Session {
    /// A fresh in-memory database with `clinic_file` imported.
    pub async fn start(clinic_file: &str, clock: Clock, idle_after: chrono::Duration) -> anyhow::Result<Session> {
        Self::start_with(clinic_file, clock, idle_after, None).await
    }

    /// The same, with model-assisted understanding.
    pub async fn start_with(
        clinic_file: &str,
        clock: Clock,
        idle_after: chrono::Duration,
        model: Option<Arc<crate::model::ModelAssist>>,
    ) -> anyhow::Result<Session> {
        crate::install_crypto_provider();
        let store = Store::connect("sqlite::memory:", Some(1)).await?;
        let cipher = Cipher::random();
        let catalog = ClinicFile::import(clinic_file, &store, &cipher, clock.now()).await?;
        let workers = Workers {
            metrics: Arc::default(),
            store: store.clone(),
            engine: match model {
                Some(m) => TurnRunner::new(store.clone(), clock.clone(), idle_after).with_model(m),
                None => TurnRunner::new(store.clone(), clock.clone(), idle_after),
            },
            transport: Transport::LogOnly,
            cipher,
            clock: clock.clone(),
            inbound_ready: Arc::default(),
            outbound_ready: Arc::default(),
            send_retry_budget: chrono::Duration::zero(),
            poll: std::time::Duration::from_millis(100),
            lease: chrono::Duration::seconds(60),
            google: None,
            outreach: Some(crate::outreach::Outreach::new(store.clone(), clock.clone(), chrono::Duration::seconds(60))),
        };
        Ok(Session { store, catalog, clock, workers, counter: AtomicU64::new(0), last_seen: Default::default() })
    }

    pub async fn conversation(&self, phone: &PhoneNumber, channel: Channel) -> anyhow::Result<ConversationRow> {
        Ok(self
            .store
            .conversation_for(self.catalog.clinic.id, channel, phone, self.catalog.clinic.default_language, "{}", self.clock.now())
            .await?)
    }

    /// Sends one patient message and returns the replies it produced.
    pub async fn say(&self, phone: &PhoneNumber, channel: Channel, text: &str) -> anyhow::Result<Vec<String>> {
        let n = self.counter.fetch_add(1, Ordering::SeqCst);
        let message = NewInbound {
            clinic_id: self.catalog.clinic.id,
            provider_message_id: format!("session-{n}"),
            channel,
            from: phone.clone(),
            body: text.to_string(),
            fields_json: "{}".into(),
            received_at: self.clock.now(),
        };
        self.store.insert_inbound(&message).await?;
        self.idle(phone, channel).await
    }

    /// Lets the workers run (the clock may have moved) and returns what this
    /// conversation received since the last look: the replies to what was
    /// said, or what Nuru wrote first (a reminder).
    pub async fn idle(&self, phone: &PhoneNumber, channel: Channel) -> anyhow::Result<Vec<String>> {
        self.workers.run_until_idle().await?;
        let conversation = self.conversation(phone, channel).await?;
        let key = format!("{}:{}", channel.as_str(), phone.as_str());
        let after = self.last_seen.lock().expect("lock").get(&key).copied().unwrap_or(0);
        let replies = self.store.outbound_for_conversation(conversation.id, after).await?;
        if let Some(last) = replies.last() {
            self.last_seen.lock().expect("lock").insert(key, last.id);
        }
        Ok(replies.into_iter().map(|r| r.body).collect())
    }

    /// Staff hand the conversation back to the bot.
    /// Staff mark an appointment attended or missed, as the admin API does.
    pub async fn staff_mark(&self, id: crate::domain::AppointmentId, status: crate::domain::AppointmentStatus) -> anyhow::Result<()> {
        let id_text = id.to_string();
        let audit = crate::storage::NewAuditEvent {
            actor: None,
            clinic: Some(self.catalog.clinic.id),
            action: "update",
            resource: "appointment",
            resource_id: Some(&id_text),
            outcome: "ok",
        };
        let now = self.clock.now();
        anyhow::ensure!(
            self.store.set_appointment_status(self.catalog.clinic.id, id, status, &audit, now).await?,
            "appointment not booked"
        );
        Ok(())
    }

    pub async fn staff_release(&self, phone: &PhoneNumber, channel: Channel) -> anyhow::Result<()> {
        let conversation = self.conversation(phone, channel).await?;
        self.workers.engine.release(self.catalog.clinic.id, conversation.id).await?;
        Ok(())
    }
}
