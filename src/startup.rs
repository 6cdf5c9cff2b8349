//! Builds the whole application from a configuration, so that `main`, the
//! tests and the benchmark run the same code.

use crate::app_state::AppState;
use crate::channels::{Transport, twilio};
use crate::clock::Clock;
use crate::config::Config;
use crate::conversation::shell::TurnRunner;
use crate::secrets::Cipher;
use crate::storage::Store;
use crate::worker::Workers;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use std::path::Path;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Store replies in the outbox and log them instead of calling Twilio.
    pub outbox_only: bool,
    pub clock: Clock,
    /// Start the worker loops with the server (tests may drive them by hand).
    pub background_workers: bool,
}

impl Default for BuildOptions {
    fn default() -> Self {
        Self { outbox_only: false, clock: Clock::system(), background_workers: true }
    }
}

pub struct Application {
    listener: TcpListener,
    state: AppState,
    workers: Arc<Workers>,
    background_workers: bool,
}

/// The node's clock: the system's, moved by `clock_offset_seconds` when set.
pub fn clock(config: &Config) -> Clock {
    if config.clock_offset_seconds == 0 {
        return Clock::system();
    }
    let clock = Clock::shifted(chrono::Duration::seconds(config.clock_offset_seconds));
    tracing::warn!(now = %clock.now(), offset_seconds = config.clock_offset_seconds, "this node's clock is moved (clock_offset_seconds)");
    clock
}

/// The cipher for stored secrets: `secret_key`, or the key file (created on first use).
pub fn cipher(config: &Config) -> anyhow::Result<Cipher> {
    Ok(match &config.secret_key {
        Some(key) => Cipher::from_base64(key.expose())?,
        None => Cipher::from_key_file(Path::new(&config.secret_key_file))?,
    })
}

impl Application {
    pub async fn build(config: Config, options: BuildOptions) -> anyhow::Result<Application> {
        crate::install_crypto_provider();
        let store = Store::connect(&config.database_url, config.database_max_connections).await?;
        let listener = TcpListener::bind(&config.listen_addr).await?;
        let cipher = cipher(&config)?;
        let inbound_ready = Arc::new(Notify::new());
        let transport = if options.outbox_only {
            Transport::LogOnly
        } else {
            let pacer = crate::channels::outbound::SendPacer::new(config.send_per_second_sms, config.send_per_second_whatsapp);
            Transport::Twilio(twilio::TwilioClient::new(&config.twilio_api_base).with_status_callbacks(&config.public_base_url), pacer)
        };
        let mut engine =
            TurnRunner::new(store.clone(), options.clock.clone(), chrono::Duration::minutes(config.conversation_idle_minutes as i64))
                .with_calendar_links(&config.public_base_url);
        let model = crate::model::ModelAssist::from_config(&config)?.map(Arc::new);
        if let Some(model) = &model {
            tracing::info!(backend = model.backend_name(), model = %config.model_name, "model-assisted understanding on");
            engine = engine.with_model(model.clone());
        }
        let library = Arc::new(crate::retrieval::Library::from_config(&config)?);
        if let Some(e) = library.embedder() {
            tracing::info!(
                backend = e.backend_name(),
                model = e.model(),
                qdrant = config.qdrant().is_some(),
                "document retrieval with embeddings on"
            );
        }
        engine = engine.with_library(library.clone()).with_media(Arc::new(crate::channels::twilio::media::MediaSource::new(
            store.clone(),
            cipher.clone(),
            &config.twilio_api_base,
        )?));
        let google = Arc::new(crate::calendar::google::Google::from_config(&config, store.clone(), cipher.clone(), options.clock.clone()));
        tracing::debug!(consent = google.offers_consent(), "Google Calendar connections");
        engine = engine.with_google(google.clone());
        let metrics = Arc::new(crate::metrics::Metrics::new());
        let workers = Arc::new(Workers {
            metrics: metrics.clone(),
            store: store.clone(),
            engine,
            transport,
            cipher: cipher.clone(),
            clock: options.clock.clone(),
            inbound_ready: inbound_ready.clone(),
            outbound_ready: Arc::new(Notify::new()),
            send_retry_budget: chrono::Duration::hours(config.send_retry_hours.into()),
            poll: std::time::Duration::from_millis(config.worker_poll_ms),
            lease: chrono::Duration::seconds(config.worker_lease_seconds as i64),
            google: Some(google.clone()),
            outreach: Some(crate::outreach::Outreach::new(
                store.clone(),
                options.clock.clone(),
                chrono::Duration::seconds(config.worker_lease_seconds as i64),
            )),
        });
        let jwt = Arc::new(crate::admin::auth::JwtKeys::new(&jwt_secret(&config)?));
        let intake = crate::storage::Intake::start(store.clone());
        let state = AppState {
            store,
            cipher,
            config: Arc::new(config),
            clock: options.clock,
            inbound_ready,
            intake,
            webhook_keys: Arc::default(),
            metrics,
            jwt,
            model,
            library,
            google,
            logins: Arc::default(),
        };
        Ok(Application { listener, state, workers, background_workers: options.background_workers })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Where this process listens, as a URL to open locally
    /// (`0.0.0.0` shown as `127.0.0.1`).
    pub fn local_url(&self) -> String {
        match self.listener.local_addr() {
            Ok(mut a) => {
                if a.ip().is_unspecified() {
                    a.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
                }
                format!("http://{a}")
            }
            Err(_) => "(unknown address)".into(),
        }
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub fn workers(&self) -> Arc<Workers> {
        self.workers.clone()
    }

    /// Serves until Ctrl-C (or SIGTERM). Then it stops accepting connections,
    /// lets the requests in flight and each worker's current step finish, and
    /// returns within `SHUTDOWN_GRACE`: whatever is still queued stays in the
    /// database for the next start (a turn cut short rolls back whole).
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let processors = match self.state.config.turn_concurrency {
            Some(n) => n as usize,
            None if self.state.store.backend() == crate::storage::Backend::Sqlite => 1,
            None => 4,
        };
        let handles = if self.background_workers {
            self.workers.clone().spawn(processors, self.state.config.send_concurrency as usize, stop_rx.clone())
        } else {
            Vec::new()
        };
        tracing::info!(addr = %self.listener.local_addr()?, "listening");
        tokio::spawn(async move {
            shutdown_signal().await;
            tracing::info!("stopping: no new connections; finishing the requests and turns in hand");
            let _ = stop_tx.send(true);
        });
        let stopping = |mut rx: watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|stop| *stop).await;
        };
        // `into_make_service` turns the routes into services once: serving the
        // `Router` itself would rebuild the whole route table (about 160 KB)
        // for every connection.
        let serve = axum::serve(self.listener, router(self.state.clone()).into_make_service_with_connect_info::<std::net::SocketAddr>())
            .with_graceful_shutdown(stopping(stop_rx.clone()));
        let deadline = async {
            stopping(stop_rx.clone()).await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        };
        let finish = async {
            serve.await?;
            for h in handles {
                let _ = h.await;
            }
            anyhow::Ok(())
        };
        tokio::select! {
            done = finish => done?,
            _ = deadline => tracing::warn!("still busy {} s after the stop signal; leaving the rest to the next start", SHUTDOWN_GRACE.as_secs()),
        }
        // A connection still held by an abandoned step would make `close` wait.
        let _ = tokio::time::timeout(std::time::Duration::from_millis(500), self.state.store.close()).await;
        Ok(())
    }
}

/// How long a stopping process may take to finish what it has in hand.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(4);

/// The admin API's signing key: `jwt_secret` (base64, at least 32 bytes), or
/// a random one per process (tokens then end with the process; set it when
/// several nodes serve the API).
fn jwt_secret(config: &Config) -> anyhow::Result<Vec<u8>> {
    use base64::Engine;
    match &config.jwt_secret {
        Some(s) => {
            let key = base64::engine::general_purpose::STANDARD.decode(s.expose().trim()).map_err(|e| {
                anyhow::anyhow!("jwt_secret (NURU_JWT_SECRET) must be base64, for example from `openssl rand -base64 32` ({e})")
            })?;
            anyhow::ensure!(key.len() >= 32, "jwt_secret (NURU_JWT_SECRET) must decode to at least 32 bytes, it has {}", key.len());
            Ok(key)
        }
        None => {
            use chacha20poly1305::aead::rand_core::RngCore;
            let mut key = vec![0u8; 32];
            chacha20poly1305::aead::OsRng.fill_bytes(&mut key);
            Ok(key)
        }
    }
}

pub fn router(state: AppState) -> Router {
    let (admin, openapi) = crate::admin::router();
    let spec = openapi.to_pretty_json().expect("the OpenAPI document serialises");
    Router::new()
        .merge(admin)
        .merge(crate::console::router())
        .route("/api/openapi.json", get(move || async move { ([(axum::http::header::CONTENT_TYPE, "application/json")], spec) }))
        // Swagger UI with its assets embedded in the binary (the vendored
        // build): a health app's admin page loads no third-party script.
        .merge(utoipa_swagger_ui::SwaggerUi::new("/api/docs").url("/api/docs/openapi.json", openapi))
        .route("/health", get(ready))
        .route("/health/ready", get(ready))
        .route("/health/live", get(live))
        .route("/metrics", get(metrics))
        .route("/webhooks/twilio/{clinic}", post(twilio::webhook::inbound))
        .route("/webhooks/twilio/{clinic}/status", post(twilio::webhook::status))
        .route("/calendar/appointments/{file}", get(crate::calendar::feeds::appointment))
        .route("/calendar/practitioners/{file}", get(crate::calendar::feeds::practitioner))
        .route("/oauth/google/callback", get(crate::calendar::google::callback::callback))
        .with_state(state)
}

/// How long readiness may take, whatever the database does.
const READY_BUDGET: std::time::Duration = std::time::Duration::from_millis(900);

/// Ready to serve: the database answers, carries every migration of this
/// build, and stores (a committed write; a full disk or a read-only file is
/// not ready). Answers within a second: a database that does not answer in
/// time is not ready. A load balancer sends traffic only to ready nodes.
async fn ready(State(state): State<AppState>) -> (StatusCode, &'static str) {
    let check = async {
        match state.store.migrations_current().await {
            Ok(true) => {}
            Ok(false) => return (StatusCode::SERVICE_UNAVAILABLE, "database migrations are behind this version"),
            Err(_) => return (StatusCode::SERVICE_UNAVAILABLE, "database unavailable"),
        }
        match state.store.probe_write(state.clock.now()).await {
            Ok(()) => (StatusCode::OK, "ok"),
            Err(e) if e.cannot_write() => (StatusCode::SERVICE_UNAVAILABLE, "database cannot write (disk full or read-only)"),
            Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable"),
        }
    };
    match tokio::time::timeout(READY_BUDGET, check).await {
        Ok(answer) => answer,
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database not answering"),
    }
}

/// Prometheus' scrape: this node's counters, with the queues and the pool
/// as they are now. Counts of kinds only, never a clinic, phone or text.
async fn metrics(State(state): State<AppState>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let now = state.clock.now();
    let depths = match state.store.queue_depths().await {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "queue depths unavailable for /metrics");
            return (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response();
        }
    };
    let age = |oldest: Option<chrono::DateTime<chrono::Utc>>| oldest.map_or(0.0, |t| (now - t).num_milliseconds().max(0) as f64 / 1000.0);
    let jobs_dead = match state.store.dead_counts().await {
        Ok(counts) => counts,
        Err(e) => {
            tracing::warn!(error = %e, "dead jobs unavailable for /metrics");
            return (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response();
        }
    };
    let (open, idle, max) = state.store.pool_usage();
    let reading = crate::metrics::Reading {
        inbound: crate::metrics::QueueReading { waiting: depths.inbound_waiting, oldest_age_seconds: age(depths.inbound_oldest) },
        outbound: crate::metrics::QueueReading { waiting: depths.outbound_waiting, oldest_age_seconds: age(depths.outbound_oldest) },
        pool_size: open as i64,
        pool_idle: idle as i64,
        pool_max: max as i64,
        model: state.model.as_ref().map(|m| m.metrics.snapshot()),
        google: Some(state.google.metrics.snapshot()),
        jobs_dead,
    };
    ([(axum::http::header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], state.metrics.render(&reading))
        .into_response()
}

/// Alive: the process answers HTTP (an orchestrator restarts it otherwise).
async fn live() -> &'static str {
    "ok"
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
