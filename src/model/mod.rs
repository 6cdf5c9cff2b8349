//! Model-assisted understanding (Ollama or any OpenAI-compatible server).
//!
//! The built-in extractor always runs first. The model is asked only when the
//! rules cannot settle a message (see [`assist::should_consult`]); its answer
//! must validate against `prompts/extraction.schema.json` (one repair request
//! is allowed), then pass domain checks, and is merged under fixed rules: an
//! emergency found by the rules is never overridden, the model never computes
//! a date (the rules' resolver reads the expressions it copied), and a model
//! can never say "yes" for the patient, so it cannot confirm a booking, a move
//! or a cancellation. Calls happen in the worker, never in the webhook, with a
//! timeout and a circuit breaker.

pub mod answer;
pub mod assist;
pub mod backend;
pub mod breaker;
pub mod embed;
pub mod prompt;
pub mod schema;

pub use assist::{CallOutcome, Metrics, MetricsSnapshot, ModelAssist};
pub use backend::{Backend, BackendError, Completion};
