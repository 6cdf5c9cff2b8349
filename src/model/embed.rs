//! Embeddings for retrieval: Ollama's `/api/embed` through `ollama-rs`, or any
//! OpenAI-compatible `/v1/embeddings` through `async-openai`. Only the base
//! URL differs between production and tests. Same discipline as the
//! extraction model: a timeout per call, a circuit breaker, and the caller
//! falls back to words only (BM25) whenever no vector comes back.

use super::backend::{BackendError, ollama_error, openai_error};
use super::breaker::Breaker;
use crate::config::{Config, ModelBackendKind};
use async_openai::config::OpenAIConfig;
use async_openai::types::embeddings::{CreateEmbeddingRequest, EmbeddingInput};
use ollama_rs::Ollama;
use ollama_rs::generation::embeddings::request::{EmbeddingsInput, GenerateEmbeddingsRequest};
use std::time::Duration;

/// Texts per request: large enough to ingest a document in a few calls,
/// small enough for any server's request limit.
pub const BATCH: usize = 32;

enum Client {
    OpenAi(async_openai::Client<OpenAIConfig>),
    Ollama(Ollama),
}

pub struct Embedder {
    client: Client,
    model: String,
    timeout: Duration,
    hosted: bool,
    breaker: Breaker,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder").field("backend", &self.backend_name()).field("model", &self.model).finish()
    }
}

impl Embedder {
    /// The embedder the configuration names, if any.
    pub fn from_config(config: &Config) -> anyhow::Result<Option<Embedder>> {
        crate::install_crypto_provider();
        let timeout = Duration::from_millis(config.embedding_timeout_ms);
        let client = match config.embedding_backend {
            ModelBackendKind::None => return Ok(None),
            ModelBackendKind::Openai => {
                let mut c = OpenAIConfig::new().with_api_base(config.embedding_base_url.clone());
                if let Some(key) = &config.embedding_api_key {
                    c = c.with_api_key(key.expose().clone());
                }
                let http = reqwest::Client::builder().timeout(timeout).build()?;
                Client::OpenAi(async_openai::Client::with_config(c).with_http_client(http))
            }
            ModelBackendKind::Ollama => Client::Ollama(Ollama::from_url(reqwest::Url::parse(&config.embedding_base_url)?)),
        };
        Ok(Some(Embedder {
            client,
            model: config.embedding_model.clone(),
            timeout,
            hosted: config.embedding_hosted,
            breaker: Breaker::default(),
        }))
    }

    pub fn backend_name(&self) -> &'static str {
        match self.client {
            Client::OpenAi(_) => "openai",
            Client::Ollama(_) => "ollama",
        }
    }

    /// The model's name, stored with every vector it made: vectors of another
    /// model are never compared with this one's.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// Whether the model runs outside the clinic's premises (then it never
    /// receives a patient's document, and a clinic's policy may refuse it).
    pub fn hosted(&self) -> bool {
        self.hosted
    }

    /// One vector per text, in order. Refused at once while the breaker is open.
    pub async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, BackendError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        if self.breaker.open() {
            return Err(BackendError::Unreachable("circuit open after repeated failures".into()));
        }
        let mut out = Vec::with_capacity(texts.len());
        for batch in texts.chunks(BATCH) {
            let result = match tokio::time::timeout(self.timeout, self.call(batch)).await {
                Err(_) => Err(BackendError::TimedOut),
                Ok(r) => r,
            };
            let result = result.and_then(|vectors| check(batch.len(), vectors));
            self.breaker.record(result.is_ok());
            out.extend(result?);
        }
        Ok(out)
    }

    async fn call(&self, batch: &[String]) -> Result<Vec<Vec<f32>>, BackendError> {
        match &self.client {
            Client::OpenAi(client) => {
                let request = CreateEmbeddingRequest {
                    model: self.model.clone(),
                    input: EmbeddingInput::StringArray(batch.to_vec()),
                    ..Default::default()
                };
                let response = client.embeddings().create(request).await.map_err(openai_error)?;
                let mut data = response.data;
                data.sort_by_key(|e| e.index);
                Ok(data.into_iter().map(|e| e.embedding).collect())
            }
            Client::Ollama(client) => {
                let request = GenerateEmbeddingsRequest::new(self.model.clone(), EmbeddingsInput::Multiple(batch.to_vec()));
                let response = client.generate_embeddings(request).await.map_err(ollama_error)?;
                Ok(response.embeddings)
            }
        }
    }
}

/// A server must answer one vector per text, all of one length, finite.
fn check(expected: usize, vectors: Vec<Vec<f32>>) -> Result<Vec<Vec<f32>>, BackendError> {
    if vectors.len() != expected {
        return Err(BackendError::Malformed(format!("{} vectors for {expected} texts", vectors.len())));
    }
    let dims = vectors.first().map_or(0, Vec::len);
    if dims == 0 || vectors.iter().any(|v| v.len() != dims || v.iter().any(|x| !x.is_finite())) {
        return Err(BackendError::Malformed("vectors of different lengths, empty or not finite".into()));
    }
    Ok(vectors.into_iter().map(crate::documents::dense::normalized).collect())
}
