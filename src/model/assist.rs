//! When to ask the model, how, and how its answer is merged with the rules'.

use super::backend::{Backend, BackendError};
use super::breaker::Breaker;
use super::{prompt, schema};
use crate::domain::ClinicCatalog;
use crate::understanding::normalize::fold;
use crate::understanding::{self, ClinicLexicon, Extraction, Intent, TimePreference};
use chrono::NaiveDateTime;
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How one consultation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    Valid,
    Repaired,
    Invalid,
    Timeout,
    Refused,
    Unreachable,
    CircuitOpen,
}

/// Counters the admin API and the logs show (no message text anywhere).
#[derive(Debug, Default)]
pub struct Metrics {
    pub calls: AtomicU64,
    pub valid: AtomicU64,
    pub repaired: AtomicU64,
    pub invalid: AtomicU64,
    pub timeout: AtomicU64,
    pub refused: AtomicU64,
    pub unreachable: AtomicU64,
    pub circuit_open: AtomicU64,
    pub prompt_tokens: AtomicU64,
    pub completion_tokens: AtomicU64,
    pub max_prompt_tokens: AtomicU64,
    pub latency_ms: AtomicU64,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct MetricsSnapshot {
    pub calls: u64,
    pub valid: u64,
    pub repaired: u64,
    pub invalid: u64,
    pub timeout: u64,
    pub refused: u64,
    pub unreachable: u64,
    pub circuit_open: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub max_prompt_tokens: u64,
    pub latency_ms: u64,
}

impl Metrics {
    fn count(&self, outcome: CallOutcome) {
        let c = match outcome {
            CallOutcome::Valid => &self.valid,
            CallOutcome::Repaired => &self.repaired,
            CallOutcome::Invalid => &self.invalid,
            CallOutcome::Timeout => &self.timeout,
            CallOutcome::Refused => &self.refused,
            CallOutcome::Unreachable => &self.unreachable,
            CallOutcome::CircuitOpen => &self.circuit_open,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> MetricsSnapshot {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        MetricsSnapshot {
            calls: g(&self.calls),
            valid: g(&self.valid),
            repaired: g(&self.repaired),
            invalid: g(&self.invalid),
            timeout: g(&self.timeout),
            refused: g(&self.refused),
            unreachable: g(&self.unreachable),
            circuit_open: g(&self.circuit_open),
            prompt_tokens: g(&self.prompt_tokens),
            completion_tokens: g(&self.completion_tokens),
            max_prompt_tokens: g(&self.max_prompt_tokens),
            latency_ms: g(&self.latency_ms),
        }
    }
}

pub struct ModelAssist {
    backend: Backend,
    timeout: Duration,
    budget: usize,
    hosted: bool,
    breaker: Breaker,
    pub metrics: Metrics,
}

/// The rules settle most messages; the model is asked only about what they
/// cannot: no intent and nothing recognised. Never about an emergency.
pub fn should_consult(builtin: &Extraction) -> bool {
    builtin.intent == Intent::Unknown && builtin.confidence < 0.5
}

impl ModelAssist {
    pub fn new(backend: Backend, timeout: Duration, budget: usize, hosted: bool) -> Self {
        Self { backend, timeout, budget, hosted, breaker: Breaker::default(), metrics: Metrics::default() }
    }

    pub fn from_config(config: &crate::config::Config) -> anyhow::Result<Option<ModelAssist>> {
        Ok(Backend::from_config(config)?
            .map(|b| ModelAssist::new(b, Duration::from_millis(config.model_timeout_ms), config.model_prompt_budget, config.model_hosted)))
    }

    /// Whether this model may read the messages of a clinic with `policy`.
    pub fn allowed_by(&self, policy: crate::domain::ModelPolicy) -> bool {
        policy.allows(self.hosted)
    }

    pub fn backend_name(&self) -> &'static str {
        self.backend.name()
    }

    fn circuit_open(&self) -> bool {
        self.breaker.open()
    }

    fn record(&self, ok: bool) {
        self.breaker.record(ok)
    }

    /// One call for another task than extraction (a grounded answer), with
    /// the same timeout, breaker and metrics.
    pub(crate) async fn call_with(
        &self,
        name: &str,
        max_tokens: u32,
        system: &str,
        user: &str,
        schema: &serde_json::Value,
    ) -> Result<String, CallOutcome> {
        if self.circuit_open() {
            self.metrics.count(CallOutcome::CircuitOpen);
            return Err(CallOutcome::CircuitOpen);
        }
        let outcome = self.invoke(name, max_tokens, system, user, schema).await;
        self.record(outcome.is_ok());
        if let Err(o) = outcome {
            self.metrics.count(o);
        }
        outcome
    }

    async fn call(&self, system: &str, user: &str) -> Result<String, CallOutcome> {
        self.invoke("nuru_extraction", 256, system, user, &schema::MODEL_SCHEMA).await
    }

    /// One call with the timeout, counted in the metrics (latency, tokens).
    async fn invoke(
        &self,
        name: &str,
        max_tokens: u32,
        system: &str,
        user: &str,
        schema: &serde_json::Value,
    ) -> Result<String, CallOutcome> {
        let started = Instant::now();
        self.metrics.calls.fetch_add(1, Ordering::Relaxed);
        let result = tokio::time::timeout(self.timeout, self.backend.complete_as(name, max_tokens, system, user, schema)).await;
        self.metrics.latency_ms.fetch_add(started.elapsed().as_millis() as u64, Ordering::Relaxed);
        match result {
            Err(_) | Ok(Err(BackendError::TimedOut)) => Err(CallOutcome::Timeout),
            Ok(Err(BackendError::Unreachable(_))) => Err(CallOutcome::Unreachable),
            Ok(Err(_)) => Err(CallOutcome::Refused),
            Ok(Ok(c)) => {
                self.metrics.prompt_tokens.fetch_add(c.prompt_tokens.unwrap_or(0), Ordering::Relaxed);
                self.metrics.completion_tokens.fetch_add(c.completion_tokens.unwrap_or(0), Ordering::Relaxed);
                Ok(c.content)
            }
        }
    }

    /// Asks the model about `text` if the rules could not settle it, and merges
    /// a valid answer. Returns the rules' extraction unchanged otherwise.
    pub async fn refine(
        &self,
        text: &str,
        builtin: Extraction,
        now: NaiveDateTime,
        catalog: Option<&ClinicCatalog>,
        lexicon: Option<&ClinicLexicon>,
    ) -> (Extraction, Option<CallOutcome>) {
        if !should_consult(&builtin) {
            return (builtin, None);
        }
        if self.circuit_open() {
            self.metrics.count(CallOutcome::CircuitOpen);
            return (builtin, Some(CallOutcome::CircuitOpen));
        }
        let p = prompt::build(catalog, text, self.budget, self.hosted);
        self.metrics.max_prompt_tokens.fetch_max(p.tokens as u64, Ordering::Relaxed);
        let first = match self.call(&p.system, &p.user).await {
            Ok(answer) => answer,
            Err(outcome) => {
                self.record(false);
                self.metrics.count(outcome);
                return (builtin, Some(outcome));
            }
        };
        let (value, outcome) = match schema::validate(&first) {
            Ok(v) => (v, CallOutcome::Valid),
            Err(errors) => {
                // One repair request carrying the validation errors, then give up.
                let repair = format!(
                    "{}\n\nYour previous answer was rejected: {errors}\nAnswer again with one JSON object that follows the schema.",
                    p.system
                );
                match self.call(&repair, &p.user).await.map(|a| schema::validate(&a)) {
                    Ok(Ok(v)) => (v, CallOutcome::Repaired),
                    Ok(Err(_)) => {
                        self.record(false);
                        self.metrics.count(CallOutcome::Invalid);
                        return (builtin, Some(CallOutcome::Invalid));
                    }
                    Err(outcome) => {
                        self.record(false);
                        self.metrics.count(outcome);
                        return (builtin, Some(outcome));
                    }
                }
            }
        };
        self.record(true);
        self.metrics.count(outcome);
        (merge(text, builtin, &value, now, lexicon), Some(outcome))
    }
}

fn intent_of(s: &str) -> Option<Intent> {
    Intent::ALL.into_iter().find(|i| i.as_str() == s)
}

/// Merges a schema-valid answer into the rules' extraction. Fixed rules:
/// - the rules' entities win; the model only fills what they lack;
/// - the model never says "yes" or "no" for the patient (a confirmation must
///   come from the patient's own words, read by the rules);
/// - dates, times and birth dates are the rules' reading of the expressions
///   the model copied; names must appear in the message; practitioners and
///   services must be the clinic's own; anything else is dropped.
pub fn merge(text: &str, builtin: Extraction, v: &serde_json::Value, now: NaiveDateTime, lexicon: Option<&ClinicLexicon>) -> Extraction {
    let mut x = builtin;
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::trim).filter(|x| !x.is_empty());
    if let Some(intent) = s("intent").and_then(intent_of)
        && x.intent != Intent::Emergency
        && !matches!(intent, Intent::Affirmative | Intent::Negative)
    {
        x.intent = intent;
    }
    let folded = fold(text);
    let read = |phrase: String| understanding::extract(&phrase, now, lexicon).entities;
    let written = |words: &str| folded.contains(&fold(words));
    // Expressions must be the patient's own words: an invented one is dropped.
    let s = |k: &str| s(k).filter(|v| !k.ends_with("_expression") || written(v));
    let e = &mut x.entities;
    if e.date.is_none()
        && let Some(expr) = s("date_expression")
    {
        e.date = read(format!("rdv {expr}")).date;
    }
    if e.time.is_none()
        && let Some(expr) = s("time_expression")
    {
        e.time = read(format!("rdv à {expr}")).time;
    }
    if e.birth_date.is_none()
        && let Some(expr) = s("birth_date_expression")
    {
        e.birth_date = read(format!("né le {expr}")).birth_date;
    }
    if e.time_preference.is_none() {
        e.time_preference = match s("time_preference") {
            Some("MORNING") => Some(TimePreference::Morning),
            Some("AFTERNOON") => Some(TimePreference::Afternoon),
            Some("EVENING") => Some(TimePreference::Evening),
            _ => None,
        };
    }
    if e.first_name.is_none() && e.last_name.is_none() {
        e.first_name = s("first_name").filter(|n| written(n)).map(str::to_string);
        e.last_name = s("last_name").filter(|n| written(n)).map(str::to_string);
    }
    if e.practitioner.is_none() {
        // With a clinic, only its own practitioners; without one (`nuru
        // extract`), the name as written, as the conventions ask.
        e.practitioner = match lexicon {
            Some(lex) => s("practitioner").and_then(|p| lex.match_practitioner(p)),
            None => s("practitioner").filter(|p| written(p)).map(|p| p.trim_start_matches("Dr ").trim_start_matches("Dr. ").to_string()),
        };
    }
    if e.appointment_type.is_none() {
        e.appointment_type = s("appointment_type").and_then(|t| read(t.to_string()).appointment_type);
    }
    if e.email.is_none() {
        e.email = s("email").map(str::to_lowercase).filter(|m| folded.contains(m.as_str()));
    }
    if e.choice.is_none() {
        e.choice = v
            .get("choice")
            .and_then(|c| c.as_u64())
            .filter(|c| text.split(|ch: char| !ch.is_ascii_digit()).any(|w| w == c.to_string()))
            .map(|c| c as u32);
    }
    if let Some(lexicon) = lexicon {
        x.mentions = crate::understanding::resolve_mentions(&x.entities, lexicon);
    }
    if x.intent == Intent::Information {
        // What the question asks about is read from the words, as for the rules.
        x.signals.asks = crate::understanding::questions(text);
    }
    x.confidence = 0.6;
    x
}

impl std::fmt::Debug for ModelAssist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelAssist")
            .field("backend", &self.backend.name())
            .field("timeout", &self.timeout)
            .field("budget", &self.budget)
            .finish()
    }
}
