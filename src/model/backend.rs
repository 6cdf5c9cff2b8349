//! The two model backends, behind one enum: Ollama through `ollama-rs`
//! (`/api/chat` with `format` = the JSON schema) and any OpenAI-compatible
//! server through `async-openai` (`/chat/completions` with `response_format`
//! `json_schema`, or `json_object` with the schema for servers that only
//! accept that). Only the base URL differs between production and tests.

use crate::config::{Config, ModelBackendKind, ResponseFormatKind};
use async_openai::config::OpenAIConfig;
use ollama_rs::Ollama;
use ollama_rs::generation::chat::ChatMessage;
use ollama_rs::generation::chat::request::ChatMessageRequest;
use ollama_rs::generation::parameters::{FormatType, JsonStructure};
use ollama_rs::models::ModelOptions;
use serde_json::{Value, json};

pub enum Backend {
    OpenAi { client: async_openai::Client<OpenAIConfig>, model: String, format: ResponseFormatKind },
    Ollama { client: Ollama, model: String },
}

/// What a backend answered, with its token counts when it gives them.
#[derive(Debug, Clone, Default)]
pub struct Completion {
    pub content: String,
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// No answer in time.
    #[error("model server too slow")]
    TimedOut,
    /// Nothing came back (connection refused, reset, DNS).
    #[error("model server unreachable: {0}")]
    Unreachable(String),
    /// The server answered with an error (HTTP status, refusal, unsupported option).
    #[error("model server refused: {0}")]
    Refused(String),
    /// An answer that is not shaped like the API's response.
    #[error("malformed response: {0}")]
    Malformed(String),
}

impl Backend {
    /// The backend the configuration names, if any.
    pub fn from_config(config: &Config) -> anyhow::Result<Option<Backend>> {
        Ok(match config.model_backend {
            ModelBackendKind::None => None,
            ModelBackendKind::Openai => {
                let mut c = OpenAIConfig::new().with_api_base(config.model_base_url.clone());
                if let Some(key) = &config.model_api_key {
                    c = c.with_api_key(key.expose().clone());
                }
                let http = reqwest::Client::builder().timeout(std::time::Duration::from_millis(config.model_timeout_ms)).build()?;
                Some(Backend::OpenAi {
                    client: async_openai::Client::with_config(c).with_http_client(http),
                    model: config.model_name.clone(),
                    format: config.model_response_format,
                })
            }
            ModelBackendKind::Ollama => {
                let url = reqwest::Url::parse(&config.model_base_url)?;
                Some(Backend::Ollama { client: Ollama::from_url(url), model: config.model_name.clone() })
            }
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Backend::OpenAi { .. } => "openai",
            Backend::Ollama { .. } => "ollama",
        }
    }

    /// One chat call: the system prompt, the message, the schema of the
    /// answer (named `name`), at most `max_tokens` of answer.
    pub async fn complete_as(
        &self,
        name: &str,
        max_tokens: u32,
        system: &str,
        user: &str,
        schema: &Value,
    ) -> Result<Completion, BackendError> {
        match self {
            Backend::OpenAi { client, model, format } => {
                let response_format = match format {
                    ResponseFormatKind::JsonSchema => {
                        json!({"type": "json_schema", "json_schema": {"name": name, "strict": true, "schema": schema}})
                    }
                    ResponseFormatKind::JsonObject => json!({"type": "json_object", "schema": schema}),
                };
                let request = json!({
                    "model": model,
                    "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
                    "temperature": 0,
                    "max_tokens": max_tokens,
                    "stream": false,
                    "response_format": response_format,
                });
                let response: Value = client.chat().create_byot(request).await.map_err(openai_error)?;
                let content = response["choices"][0]["message"]["content"]
                    .as_str()
                    .ok_or_else(|| BackendError::Malformed("no choices[0].message.content".into()))?
                    .to_string();
                if let Some(refusal) = response["choices"][0]["message"]["refusal"].as_str().filter(|r| !r.is_empty()) {
                    return Err(BackendError::Refused(format!("refusal ({} chars)", refusal.len())));
                }
                Ok(Completion {
                    content,
                    prompt_tokens: response["usage"]["prompt_tokens"].as_u64(),
                    completion_tokens: response["usage"]["completion_tokens"].as_u64(),
                })
            }
            Backend::Ollama { client, model } => {
                let schema = schemars::Schema::try_from(schema.clone()).map_err(|e| BackendError::Malformed(e.to_string()))?;
                let request = ChatMessageRequest::new(
                    model.clone(),
                    vec![ChatMessage::system(system.to_string()), ChatMessage::user(user.to_string())],
                )
                .format(FormatType::StructuredJson(Box::new(JsonStructure::new_for_schema(schema))))
                .options(ModelOptions::default().temperature(0.0).num_predict(max_tokens as i32));
                let response = client.send_chat_messages(request).await.map_err(ollama_error)?;
                let final_data = response.final_data.as_ref();
                Ok(Completion {
                    content: response.message.content,
                    prompt_tokens: final_data.map(|d| d.prompt_eval_count),
                    completion_tokens: final_data.map(|d| d.eval_count),
                })
            }
        }
    }
}

pub(crate) fn openai_error(e: async_openai::error::OpenAIError) -> BackendError {
    use async_openai::error::OpenAIError as E;
    match e {
        E::Reqwest(r) if r.is_timeout() => BackendError::TimedOut,
        E::Reqwest(r) if r.is_connect() || r.is_request() => BackendError::Unreachable(r.to_string()),
        E::JSONDeserialize(err, _) => BackendError::Malformed(err.to_string()),
        other => BackendError::Refused(other.to_string()),
    }
}

pub(crate) fn ollama_error(e: ollama_rs::error::OllamaError) -> BackendError {
    let text = e.to_string();
    match e {
        ollama_rs::error::OllamaError::ReqwestError(r) if r.is_connect() || r.is_timeout() || r.is_request() => {
            BackendError::Unreachable(text)
        }
        ollama_rs::error::OllamaError::JsonError(_) => BackendError::Malformed(text),
        _ => BackendError::Refused(text),
    }
}
