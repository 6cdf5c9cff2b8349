//! Operations metrics at `/metrics`, in the OpenMetrics text format that
//! Prometheus scrapes (prometheus-client). Counters and histograms are kept
//! by the code paths they describe; queue depths and ages, the pool and the
//! model's counts are read when the page is asked for. No label carries a
//! clinic, a phone or any text: only kinds of outcome.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SendLabels {
    pub result: &'static str,
    /// Twilio's error code ("" when there is none).
    pub code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueLabel {
    pub queue: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PoolLabel {
    pub state: &'static str,
}

/// Queue depth and the age of the oldest waiting item, read at scrape time.
#[derive(Debug, Clone, Copy, Default)]
pub struct QueueReading {
    pub waiting: i64,
    pub oldest_age_seconds: f64,
}

/// What `/metrics` reads from elsewhere when asked.
#[derive(Debug, Clone, Default)]
pub struct Reading {
    pub inbound: QueueReading,
    pub outbound: QueueReading,
    pub pool_size: i64,
    pub pool_idle: i64,
    pub pool_max: i64,
    pub model: Option<crate::model::MetricsSnapshot>,
    /// Google Calendar counts (sync runs, events read, writes, failures,
    /// quota backoffs, requests), when connections are configured.
    pub google: Option<[(&'static str, u64); 6]>,
    /// Jobs given up on, per queue (`storage::jobs`): each needs a person.
    pub jobs_dead: Vec<(&'static str, i64)>,
}

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    webhooks: Family<OutcomeLabel, Counter>,
    ack_seconds: Histogram,
    turns: Family<OutcomeLabel, Counter>,
    turn_seconds: Histogram,
    sends: Family<SendLabels, Counter>,
    queue_waiting: Family<QueueLabel, Gauge>,
    queue_age: Family<QueueLabel, Gauge<f64, AtomicU64>>,
    jobs_dead: Family<QueueLabel, Gauge>,
    pool: Family<PoolLabel, Gauge>,
    model_calls: Family<OutcomeLabel, Counter>,
    google: Family<OutcomeLabel, Counter>,
    google_seen: Mutex<std::collections::HashMap<&'static str, u64>>,
    /// The model's counts already added to `model_calls` (they are kept by
    /// the model's own atomics and added here as they grow).
    model_seen: Mutex<std::collections::HashMap<&'static str, u64>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("nuru");
        let webhooks = Family::<OutcomeLabel, Counter>::default();
        registry.register("webhook_requests", "Twilio webhooks by outcome (accepted, duplicate, or why refused)", webhooks.clone());
        // 0.1 ms to about 6 s, each bucket 1.5 times the one before.
        let ack_seconds = Histogram::new(exponential_buckets(0.0001, 1.5, 28));
        registry.register("webhook_ack_seconds", "Time to store and acknowledge an accepted webhook", ack_seconds.clone());
        let turns = Family::<OutcomeLabel, Counter>::default();
        registry.register("turns", "Inbound messages processed, by outcome (ok, retry, failed)", turns.clone());
        let turn_seconds = Histogram::new(exponential_buckets(0.0001, 1.5, 28));
        registry.register("turn_seconds", "Time to process one inbound message into its replies", turn_seconds.clone());
        let sends = Family::<SendLabels, Counter>::default();
        registry.register("outbound_sends", "Replies handed to Twilio, by result and Twilio error code", sends.clone());
        let queue_waiting = Family::<QueueLabel, Gauge>::default();
        registry.register("queue_waiting", "Items waiting in a queue (inbound, outbound)", queue_waiting.clone());
        let queue_age = Family::<QueueLabel, Gauge<f64, AtomicU64>>::default();
        registry.register("queue_oldest_age_seconds", "Age of the oldest waiting item of a queue", queue_age.clone());
        let jobs_dead = Family::<QueueLabel, Gauge>::default();
        registry.register("jobs_dead", "Jobs given up on and kept in the dead-letter state, per queue", jobs_dead.clone());
        let pool = Family::<PoolLabel, Gauge>::default();
        registry.register("db_pool_connections", "Database pool connections (open, idle, max)", pool.clone());
        let model_calls = Family::<OutcomeLabel, Counter>::default();
        registry.register("model_calls", "Calls to the understanding model, by outcome", model_calls.clone());
        let google = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "google_calendar",
            "Google Calendar work by kind (sync_runs, events_read, writes, failures, backoffs, requests)",
            google.clone(),
        );
        Self {
            google,
            google_seen: Mutex::default(),
            registry,
            webhooks,
            ack_seconds,
            turns,
            turn_seconds,
            sends,
            queue_waiting,
            queue_age,
            jobs_dead,
            pool,
            model_calls,
            model_seen: Mutex::default(),
        }
    }

    pub fn webhook(&self, outcome: &'static str, seconds: Option<f64>) {
        self.webhooks.get_or_create(&OutcomeLabel { outcome }).inc();
        if let Some(s) = seconds {
            self.ack_seconds.observe(s);
        }
    }

    pub fn turn(&self, outcome: &'static str, seconds: f64) {
        self.turns.get_or_create(&OutcomeLabel { outcome }).inc();
        self.turn_seconds.observe(seconds);
    }

    pub fn send(&self, result: &'static str, code: Option<u32>) {
        let code = code.map(|c| c.to_string()).unwrap_or_default();
        self.sends.get_or_create(&SendLabels { result, code }).inc();
    }

    /// The page: the kept counters, with what `reading` says now.
    pub fn render(&self, reading: &Reading) -> String {
        for (queue, q) in [("inbound", reading.inbound), ("outbound", reading.outbound)] {
            self.queue_waiting.get_or_create(&QueueLabel { queue }).set(q.waiting);
            self.queue_age.get_or_create(&QueueLabel { queue }).set(q.oldest_age_seconds);
        }
        for (queue, n) in &reading.jobs_dead {
            self.jobs_dead.get_or_create(&QueueLabel { queue }).set(*n);
        }
        for (state, n) in [("open", reading.pool_size), ("idle", reading.pool_idle), ("max", reading.pool_max)] {
            self.pool.get_or_create(&PoolLabel { state }).set(n);
        }
        if let Some(m) = &reading.model {
            let mut seen = self.model_seen.lock().expect("metrics lock");
            for (outcome, now) in [
                ("valid", m.valid),
                ("repaired", m.repaired),
                ("invalid", m.invalid),
                ("timeout", m.timeout),
                ("refused", m.refused),
                ("unreachable", m.unreachable),
                ("circuit_open", m.circuit_open),
            ] {
                let before = seen.insert(outcome, now).unwrap_or(0);
                let counter = self.model_calls.get_or_create(&OutcomeLabel { outcome });
                counter.inc_by(now.saturating_sub(before));
            }
        }
        if let Some(g) = &reading.google {
            let mut seen = self.google_seen.lock().expect("metrics lock");
            for (outcome, now) in g {
                let before = seen.insert(outcome, *now).unwrap_or(0);
                self.google.get_or_create(&OutcomeLabel { outcome }).inc_by(now.saturating_sub(before));
            }
        }
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_each_series_and_counts() {
        let m = Metrics::new();
        m.webhook("accepted", Some(0.001));
        m.webhook("signature_invalid", None);
        m.turn("ok", 0.002);
        m.send("failed", Some(21610));
        let page = m.render(&Reading { inbound: QueueReading { waiting: 3, oldest_age_seconds: 1.5 }, ..Reading::default() });
        assert!(page.contains("nuru_webhook_requests_total{outcome=\"accepted\"} 1"), "{page}");
        assert!(page.contains("nuru_webhook_requests_total{outcome=\"signature_invalid\"} 1"), "{page}");
        assert!(page.contains("nuru_webhook_ack_seconds_count 1"), "{page}");
        assert!(page.contains("nuru_turn_seconds_count 1"), "{page}");
        assert!(page.contains("nuru_outbound_sends_total{result=\"failed\",code=\"21610\"} 1"), "{page}");
        assert!(page.contains("nuru_queue_waiting{queue=\"inbound\"} 3"), "{page}");
        assert!(page.contains("nuru_queue_oldest_age_seconds{queue=\"inbound\"} 1.5"), "{page}");
        assert!(page.ends_with("# EOF\n"));
    }

    #[test]
    fn model_counts_are_added_as_they_grow() {
        let m = Metrics::new();
        let snap = |valid| crate::model::MetricsSnapshot { valid, ..Default::default() };
        m.render(&Reading { model: Some(snap(2)), ..Reading::default() });
        let page = m.render(&Reading { model: Some(snap(5)), ..Reading::default() });
        assert!(page.contains("nuru_model_calls_total{outcome=\"valid\"} 5"), "{page}");
    }
}
