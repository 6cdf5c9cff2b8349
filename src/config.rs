//! Typed configuration: defaults, then an optional `nuru.toml`, then `NURU_*`
//! environment variables. Validated once at start; every error names the key.

use crate::secrets::Secret;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::Path;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `sqlite://FILE` (created if missing) or `postgres://…`.
    pub database_url: String,
    /// Pool size. SQLite defaults to 1: one writer queued in the pool is faster
    /// and more predictable than several connections spinning on the file lock.
    pub database_max_connections: Option<u32>,
    pub listen_addr: String,
    /// The URL Twilio calls, as configured in its console, without trailing
    /// slash. Signatures are checked against it, never against `Host`.
    pub public_base_url: String,
    pub twilio_api_base: String,
    pub log_format: LogFormat,
    pub log_level: String,
    /// 32 bytes, base64: encrypts channel credentials at rest. When absent,
    /// `secret_key_file` is read, or created with a fresh random key.
    pub secret_key: Option<Secret<String>>,
    pub secret_key_file: String,
    /// A conversation silent for longer starts afresh.
    pub conversation_idle_minutes: u32,
    /// How often workers look for work when nothing woke them.
    pub worker_poll_ms: u64,
    /// How long a reply that fails transiently (429, 5xx, connection
    /// refused) is retried, with exponential backoff and jitter, before it is
    /// given up and its conversation put in front of staff. 0: tried once.
    pub send_retry_hours: u32,
    /// Turns this node processes at once (each a different conversation). 0
    /// makes a node that only acknowledges webhooks and serves the API, while
    /// other nodes process. Default: 1 on SQLite (one writer), 4 on PostgreSQL.
    pub turn_concurrency: Option<u32>,
    /// How long a claimed message or reply stays with the node that claimed
    /// it. A node that dies (crash, SIGKILL, lost machine) leaves its claims
    /// to the others after this; longer than any turn or send takes.
    pub worker_lease_seconds: u32,
    /// Replies being sent at once by this node (each to a different
    /// conversation; one conversation's replies always leave in order). 0
    /// makes a node that sends nothing, while other nodes send.
    pub send_concurrency: u32,
    /// Messages per second one SMS sending number may send (Twilio long
    /// codes: about 1; short codes and messaging services: more).
    pub send_per_second_sms: u32,
    /// Messages per second one WhatsApp sender may send.
    pub send_per_second_whatsapp: u32,
    /// Model-assisted understanding: `none` (the default: rules only),
    /// `ollama` or `openai` (any OpenAI-compatible server).
    pub model_backend: ModelBackendKind,
    /// e.g. `http://127.0.0.1:11434` (Ollama) or `https://api.openai.com/v1`.
    pub model_base_url: String,
    pub model_name: String,
    pub model_api_key: Option<Secret<String>>,
    /// Per call; the turn goes on with the rules' answer when it expires.
    pub model_timeout_ms: u64,
    /// OpenAI-compatible servers: `json_schema`, or `json_object` (with the
    /// schema alongside) for servers that only accept that.
    pub model_response_format: ResponseFormatKind,
    /// Prompt tokens per call at most (clinic lists are trimmed first).
    pub model_prompt_budget: usize,
    /// The model runs outside the clinic's premises: identifiers in the
    /// message are pseudonymised before it is sent, and clinics can refuse it.
    pub model_hosted: bool,
    /// Embeddings for document retrieval, fused with the built-in BM25:
    /// `none` (the default: words only), `ollama` (`/api/embed`) or `openai`
    /// (any OpenAI-compatible `/v1/embeddings`).
    pub embedding_backend: ModelBackendKind,
    pub embedding_base_url: String,
    /// e.g. `nomic-embed-text` (Ollama) or `text-embedding-3-small`.
    pub embedding_model: String,
    pub embedding_api_key: Option<Secret<String>>,
    /// Per call; a search goes on with words only when it expires.
    pub embedding_timeout_ms: u64,
    /// The embedding model runs outside the clinic's premises: patients'
    /// documents are never sent to it, and clinics can refuse it.
    pub embedding_hosted: bool,
    /// How much the embedding ranking counts in the fusion, BM25 counting 1.
    /// Lower it for a model weak in one of the clinic's languages.
    pub embedding_weight: f32,
    /// Qdrant's gRPC URL (e.g. `http://127.0.0.1:6334`): passage vectors are
    /// kept and searched there instead of in each node's memory. Needs an
    /// embedding model.
    pub qdrant_url: Option<String>,
    pub qdrant_api_key: Option<Secret<String>>,
    /// One collection for the deployment; every point carries its clinic.
    pub qdrant_collection: String,
    /// Tesseract's program, which reads scans and photos (`crate::ocr`);
    /// empty: no OCR (such documents stay `needs_ocr`). When the program is
    /// missing, the same.
    pub ocr_command: String,
    /// Tesseract's languages (`fra+eng`; each needs its data installed).
    pub ocr_languages: String,
    /// Per image; an image not read in time leaves its page unread.
    pub ocr_timeout_ms: u64,
    /// Base64, at least 32 bytes: signs the admin API's access tokens. Unset:
    /// a random key per process.
    pub jwt_secret: Option<Secret<String>>,
    /// The clinic deployment's Google OAuth client (a "Web application"
    /// client whose redirect URI is `public_base_url/oauth/google/callback`).
    /// Unset: Google Calendar connections are not offered.
    pub google_client_id: Option<String>,
    pub google_client_secret: Option<Secret<String>>,
    /// Google's endpoints; tests and staging point them elsewhere.
    pub google_auth_url: String,
    pub google_token_url: String,
    pub google_revoke_url: String,
    pub google_api_root: String,
    /// How often each connection's busy time is synchronised (±20 % jitter).
    pub google_sync_seconds: u64,
    /// Seconds added to this node's clock: a rehearsal or a test of several
    /// nodes runs on a chosen date, the clock still running. Every node of a
    /// deployment needs the same value. 0 (the default) in production.
    pub clock_offset_seconds: i64,
    /// Behind a reverse proxy (TLS termination): the client's address, for
    /// sign-in throttling, is the last `X-Forwarded-For` entry the proxy
    /// appended, not the socket's peer (the proxy). Off by default.
    pub trust_forwarded_for: bool,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ModelBackendKind {
    None,
    Ollama,
    Openai,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ResponseFormatKind {
    JsonSchema,
    JsonObject,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: "sqlite://nuru.db".into(),
            database_max_connections: None,
            listen_addr: "127.0.0.1:8080".into(),
            public_base_url: "http://localhost:8080".into(),
            twilio_api_base: "https://api.twilio.com".into(),
            log_format: LogFormat::Pretty,
            log_level: "info".into(),
            secret_key: None,
            secret_key_file: "nuru.key".into(),
            conversation_idle_minutes: 240,
            worker_poll_ms: 500,
            send_retry_hours: 24,
            turn_concurrency: None,
            worker_lease_seconds: 60,
            send_concurrency: 16,
            send_per_second_sms: 1,
            send_per_second_whatsapp: 80,
            model_backend: ModelBackendKind::None,
            model_base_url: "http://127.0.0.1:11434".into(),
            model_name: "nuru-extractor".into(),
            model_api_key: None,
            model_timeout_ms: 8000,
            model_response_format: ResponseFormatKind::JsonSchema,
            model_prompt_budget: 1000,
            model_hosted: false,
            embedding_backend: ModelBackendKind::None,
            embedding_base_url: "http://127.0.0.1:11434".into(),
            embedding_model: "nomic-embed-text".into(),
            embedding_api_key: None,
            embedding_timeout_ms: 3000,
            embedding_hosted: false,
            embedding_weight: crate::documents::dense::DEFAULT_WEIGHT,
            qdrant_url: None,
            qdrant_api_key: None,
            qdrant_collection: "nuru_passages".into(),
            ocr_command: "tesseract".into(),
            ocr_languages: "fra+eng".into(),
            ocr_timeout_ms: 30_000,
            jwt_secret: None,
            google_client_id: None,
            google_client_secret: None,
            google_auth_url: "https://accounts.google.com/o/oauth2/v2/auth".into(),
            google_token_url: "https://oauth2.googleapis.com/token".into(),
            google_revoke_url: "https://oauth2.googleapis.com/revoke".into(),
            google_api_root: "https://www.googleapis.com/".into(),
            google_sync_seconds: 300,
            clock_offset_seconds: 0,
            trust_forwarded_for: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration could not be read: {0}")]
    Load(#[from] Box<figment::Error>),
    #[error("invalid configuration `{key}`: {reason}")]
    Invalid { key: &'static str, reason: String },
}

impl Config {
    /// Qdrant's URL when one is set (an empty value, as compose files pass
    /// through, means none).
    pub fn qdrant(&self) -> Option<&str> {
        self.qdrant_url.as_deref().map(str::trim).filter(|u| !u.is_empty())
    }

    /// Loads defaults, then `file` if it exists (or `nuru.toml`), then `NURU_*`.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let path = file.unwrap_or(Path::new("nuru.toml"));
        let config: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(path))
            .merge(Env::prefixed("NURU_").filter(|k| {
                // Test, CI and benchmark settings (NURU_TEST_*, NURU_CI_*,
                // NURU_BENCH_*) and the admin bootstrap password are not the
                // service's configuration.
                let k = k.as_str().to_ascii_lowercase();
                !k.starts_with("test_") && !k.starts_with("ci_") && !k.starts_with("bench_") && k != "admin_password"
            }))
            .extract()
            .map_err(Box::new)?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, reason: &str| ConfigError::Invalid { key, reason: reason.to_string() };
        if !(self.database_url.starts_with("sqlite:")
            || self.database_url.starts_with("postgres://")
            || self.database_url.starts_with("postgresql://"))
        {
            return Err(invalid("database_url", "must start with sqlite: or postgres://"));
        }
        // A century either way: beyond, chrono's arithmetic would overflow.
        if self.clock_offset_seconds.unsigned_abs() > 100 * 366 * 86_400 {
            return Err(invalid("clock_offset_seconds", "must be within a century either way"));
        }
        self.listen_addr.parse::<SocketAddr>().map_err(|e| invalid("listen_addr", &format!("not an address:port ({e})")))?;
        for (key, value) in [("public_base_url", &self.public_base_url), ("twilio_api_base", &self.twilio_api_base)] {
            let url = reqwest::Url::parse(value).map_err(|e| invalid(key, &e.to_string()))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(invalid(key, "must be an http or https URL"));
            }
            if value.ends_with('/') {
                return Err(invalid(key, "must not end with /"));
            }
        }
        if self.database_max_connections == Some(0) {
            return Err(invalid("database_max_connections", "must be at least 1"));
        }
        if self.send_retry_hours > 24 * 14 {
            return Err(invalid("send_retry_hours", "must be at most 336 (two weeks)"));
        }
        for (key, value) in [("send_per_second_sms", self.send_per_second_sms), ("send_per_second_whatsapp", self.send_per_second_whatsapp)]
        {
            if value == 0 {
                return Err(invalid(key, "must be at least 1"));
            }
        }
        if self.worker_lease_seconds < 2 {
            return Err(invalid("worker_lease_seconds", "must be at least 2"));
        }
        if self.worker_poll_ms == 0 {
            return Err(invalid("worker_poll_ms", "must be at least 1"));
        }
        if self.model_backend != ModelBackendKind::None {
            let url = reqwest::Url::parse(&self.model_base_url).map_err(|e| invalid("model_base_url", &e.to_string()))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(invalid("model_base_url", "must be an http or https URL"));
            }
            if self.model_name.trim().is_empty() {
                return Err(invalid("model_name", "must name a model"));
            }
            if self.model_timeout_ms == 0 {
                return Err(invalid("model_timeout_ms", "must be at least 1"));
            }
            if self.model_prompt_budget < 200 {
                return Err(invalid("model_prompt_budget", "must be at least 200 tokens"));
            }
        }
        if let Some(url) = self.qdrant() {
            let parsed = reqwest::Url::parse(url).map_err(|e| invalid("qdrant_url", &e.to_string()))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(invalid("qdrant_url", "must be an http or https URL (Qdrant's gRPC port, 6334)"));
            }
            if self.embedding_backend == ModelBackendKind::None {
                return Err(invalid("qdrant_url", "needs an embedding model: set embedding_backend"));
            }
            if self.qdrant_collection.trim().is_empty() {
                return Err(invalid("qdrant_collection", "must name a collection"));
            }
        }
        if self.embedding_backend != ModelBackendKind::None {
            let url = reqwest::Url::parse(&self.embedding_base_url).map_err(|e| invalid("embedding_base_url", &e.to_string()))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(invalid("embedding_base_url", "must be an http or https URL"));
            }
            if self.embedding_model.trim().is_empty() {
                return Err(invalid("embedding_model", "must name a model"));
            }
            if !(0.0..=10.0).contains(&self.embedding_weight) {
                return Err(invalid("embedding_weight", "must be between 0 and 10"));
            }
            if self.embedding_timeout_ms == 0 {
                return Err(invalid("embedding_timeout_ms", "must be at least 1"));
            }
        }
        let language = |l: &str| !l.is_empty() && l.chars().all(|c| c.is_ascii_lowercase() || c == '_');
        if !self.ocr_languages.split('+').all(language) {
            return Err(invalid("ocr_languages", "must be Tesseract language codes joined by +, such as fra+eng"));
        }
        if self.ocr_timeout_ms == 0 {
            return Err(invalid("ocr_timeout_ms", "must be at least 1"));
        }
        tracing_subscriber::EnvFilter::try_new(&self.log_level).map_err(|e| invalid("log_level", &e.to_string()))?;
        Ok(())
    }

    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        Config::default().validate().unwrap();
    }

    #[test]
    fn errors_name_the_key() {
        let c = Config { public_base_url: "ftp://x".into(), ..Config::default() };
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("public_base_url"), "{err}");
        let c = Config { database_url: "mysql://x".into(), ..Config::default() };
        assert!(c.validate().unwrap_err().to_string().contains("database_url"));
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's own error type
    fn file_then_env_layering() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("nuru.toml", "listen_addr = \"0.0.0.0:9000\"\nlog_level = \"debug\"")?;
            jail.set_env("NURU_LOG_LEVEL", "warn");
            let c = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(c.listen_addr, "0.0.0.0:9000");
            assert_eq!(c.log_level, "warn");
            Ok(())
        });
    }
}
