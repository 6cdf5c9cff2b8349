//! What every request handler can reach. Its own module so that handlers
//! (admin, webhooks, calendar files) depend on it and not on `startup`, which
//! depends on them to build the router.

use crate::clock::Clock;
use crate::config::Config;
use crate::secrets::Cipher;
use crate::storage::Store;
use std::sync::Arc;
use tokio::sync::Notify;

/// What every request handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    pub cipher: Cipher,
    pub config: Arc<Config>,
    pub clock: Clock,
    pub inbound_ready: Arc<Notify>,
    /// Stores acknowledged webhooks, several per transaction under load.
    pub intake: crate::storage::Intake,
    /// Counters and histograms for `/metrics`, shared with the workers.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Clinics' webhook credentials, kept briefly in memory.
    pub webhook_keys: Arc<crate::channels::twilio::keys::WebhookKeys>,
    /// Signs and checks the admin API's access tokens.
    pub jwt: Arc<crate::admin::tokens::JwtKeys>,
    /// The model-assisted understanding, when configured (its metrics are in the admin API).
    pub model: Option<Arc<crate::model::ModelAssist>>,
    /// The clinics' documents as this node indexes them (shared with the
    /// turns), with the embedding model when one is configured.
    pub library: Arc<crate::retrieval::Library>,
    /// Practitioners' Google Calendars (consent needs the deployment's OAuth
    /// client; a Workspace service account does not).
    pub google: Arc<crate::calendar::google::Google>,
    /// Sign-in throttling and bounded password hashing.
    pub logins: Arc<crate::admin::throttle::LoginGuard>,
}
