//! How replies leave: through Twilio, or nowhere (the demo outbox and the
//! terminal chat store them and log a masked line instead).

use super::twilio::{Content, TwilioClient};
use crate::domain::{Channel, mask_phone};
use crate::secrets::{Cipher, Secret};
use crate::storage::{ClaimedOutbound, Lifetime, Store};
use chrono::{DateTime, Utc};
use std::time::Duration;
use tracing::{debug, info};

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Not sent; try again later.
    #[error("transient: {0}")]
    Transient(String),
    /// Not sent: Twilio asked to wait at least this long (429 or 503 with
    /// `Retry-After`).
    #[error("transient: {0} (retry after {1:?})")]
    RetryAfter(String, Duration),
    /// Refused for good (opted out, invalid number, no credentials…).
    #[error("final: {0}")]
    Final(String),
    /// Maybe sent: never retried, so that nothing is sent twice.
    #[error("uncertain: {0}")]
    Uncertain(String),
    /// Not sent: the sending number has used its rate; it may send again
    /// after this long.
    #[error("paced: the sending number may send again in {0:?}")]
    Paced(std::time::Duration),
}

impl SendError {
    /// Twilio's error code, when Twilio answered with one ("HTTP 400 code
    /// 21610 …", as the client words its errors).
    pub fn twilio_code(&self) -> Option<u32> {
        let (SendError::Transient(detail) | SendError::RetryAfter(detail, _) | SendError::Final(detail) | SendError::Uncertain(detail)) =
            self
        else {
            return None;
        };
        let rest = detail.split_once(" code ")?.1;
        rest.split_whitespace().next()?.parse().ok().filter(|c| *c != 0)
    }
}

/// How fast one sending number may send. Twilio queues (or refuses with
/// 429 / 20429) what a sender sends faster than its channel allows: an SMS
/// long code about one message a second, a WhatsApp sender tens a second.
/// Each node paces its own sends by the sending number (`from`); replies of
/// different numbers go out side by side.
/// When a reply that was not sent is tried again, or `None` when it is
/// given up: its next try would come after it stopped being useful
/// (`budget` after it was queued; an hour for a fleeting reply).
/// Exponential backoff with equal jitter from `now` (the instant the failed
/// try ended), never sooner than Twilio's `Retry-After`: an urgent reply
/// every 1–10 s, the others from 5 s doubling up to 15 min.
pub fn next_attempt(
    lifetime: Lifetime,
    attempts: u32,
    queued_at: DateTime<Utc>,
    now: DateTime<Utc>,
    budget: chrono::Duration,
    retry_after: Option<Duration>,
    jitter: f64,
) -> Option<DateTime<Utc>> {
    let doubling = 2_i64.saturating_pow(attempts.saturating_sub(1).min(20));
    let base = match lifetime {
        Lifetime::Urgent => doubling.min(10),
        Lifetime::Lasting | Lifetime::Fleeting => (5 * doubling).min(15 * 60),
    };
    let jittered = ((base as f64) * (0.5 + 0.5 * jitter.clamp(0.0, 1.0))).ceil() as i64;
    let asked = retry_after.map_or(0, |d| d.as_secs_f64().ceil() as i64).min(3600);
    let at = now + chrono::Duration::seconds(jittered.max(asked).max(1));
    let useful = match lifetime {
        Lifetime::Fleeting => budget.min(Lifetime::FLEETING),
        Lifetime::Urgent | Lifetime::Lasting => budget,
    };
    (at <= queued_at + useful).then_some(at)
}

#[derive(Clone)]
pub struct SendPacer {
    sms: std::sync::Arc<governor::DefaultKeyedRateLimiter<String>>,
    whatsapp: std::sync::Arc<governor::DefaultKeyedRateLimiter<String>>,
}

impl std::fmt::Debug for SendPacer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SendPacer")
    }
}

impl SendPacer {
    /// Messages per second per sending number, for each channel (at least 1).
    pub fn new(sms_per_second: u32, whatsapp_per_second: u32) -> Self {
        // Spaced evenly, with a burst of a tenth of a second's worth: no
        // second ever carries more than 110 % of the rate.
        let quota = |n: u32| {
            let n = n.max(1);
            governor::Quota::per_second(std::num::NonZeroU32::new(n).expect("at least 1"))
                .allow_burst(std::num::NonZeroU32::new((n / 10).max(1)).expect("at least 1"))
        };
        SendPacer {
            sms: std::sync::Arc::new(governor::RateLimiter::keyed(quota(sms_per_second))),
            whatsapp: std::sync::Arc::new(governor::RateLimiter::keyed(quota(whatsapp_per_second))),
        }
    }

    /// Takes one message of `from`'s rate on `channel`, or says how long
    /// until there is one (the caller puts the reply back rather than hold it).
    pub fn take(&self, channel: Channel, from: &str) -> Result<(), std::time::Duration> {
        use governor::clock::Clock;
        let limiter = if channel == Channel::WhatsApp { &self.whatsapp } else { &self.sms };
        limiter.check_key(&from.to_string()).map_err(|not_until| not_until.wait_time_from(governor::clock::DefaultClock::default().now()))
    }
}

#[derive(Debug, Clone)]
pub enum Transport {
    Twilio(TwilioClient, SendPacer),
    /// Stores and logs (masked) instead of sending: `nuru demo`, `nuru chat`.
    LogOnly,
}

impl Transport {
    /// Sends one claimed reply; returns the provider's message id. A wait
    /// for the sending number's rate up to `wait_in_hand` is waited here
    /// (as short as a send, and a stop lets it finish); a longer one is
    /// `Paced`, for the caller to put the reply back. The clinic's row is
    /// read once, before the rate is asked, and its credentials only once
    /// the reply may go.
    pub async fn send(&self, store: &Store, cipher: &Cipher, m: &ClaimedOutbound, wait_in_hand: Duration) -> Result<String, SendError> {
        if m.channel == Channel::Chat || matches!(self, Transport::LogOnly) {
            info!(to = %mask_phone(m.to.as_str()), channel = m.channel.as_str(), chars = m.body.chars().count(), "reply stored in the local outbox");
            debug!(body = %m.body, "local outbox");
            return Ok(format!("local-{}", m.id));
        }
        let Transport::Twilio(client, pacer) = self else { unreachable!("LogOnly handled above") };
        let (clinic, from, to) = route(store, m).await?;
        loop {
            match pacer.take(m.channel, &from) {
                Ok(()) => break,
                Err(wait) if wait <= wait_in_hand => tokio::time::sleep(wait).await,
                Err(wait) => return Err(SendError::Paced(wait)),
            }
        }
        let (account_sid, token) = credentials(store, cipher, m).await?;
        let content = match &m.template {
            Some((sid, variables)) => Content::Template { sid, variables },
            None => Content::Text(&m.body),
        };
        client.send(&clinic.slug, &account_sid, &token, &from, &to, content).await
    }

    /// Looks an uncertain send up in Twilio's Messages API: the message id
    /// Twilio gave it, or `None` when Twilio holds no such message (it never
    /// arrived, and may be sent again): the oldest message to that phone
    /// since it was queued that is not already one of ours, with the same
    /// text (a template's text is Twilio's rendering: any text).
    pub async fn look_up(&self, store: &Store, cipher: &Cipher, m: &ClaimedOutbound) -> Result<Option<String>, SendError> {
        let Transport::Twilio(client, _) = self else { return Ok(None) };
        let (_, from, to) = route(store, m).await?;
        let (account_sid, token) = credentials(store, cipher, m).await?;
        let listed = client.sent_to(&account_sid, &token, &from, &to, m.created_at).await?;
        // Twilio lists newest first.
        for l in listed.into_iter().rev().filter(|l| m.template.is_some() || l.body == m.body) {
            if !store.is_our_send(m.clinic_id, &l.sid).await.map_err(|e| SendError::Transient(format!("database: {e}")))? {
                return Ok(Some(l.sid));
            }
        }
        Ok(None)
    }
}

/// The clinic, the sending number and the recipient of a reply on its channel.
async fn route(store: &Store, m: &ClaimedOutbound) -> Result<(crate::domain::Clinic, String, String), SendError> {
    let clinic = store.clinic(m.clinic_id).await.map_err(|e| SendError::Transient(format!("database: {e}")))?;
    let (from, to) = match m.channel {
        Channel::WhatsApp => (clinic.whatsapp_number.clone().map(|n| format!("whatsapp:{n}")), format!("whatsapp:{}", m.to.as_str())),
        _ => (clinic.sms_number.clone(), m.to.as_str().to_string()),
    };
    let from = from.ok_or_else(|| SendError::Final(format!("clinic has no {} number", m.channel.as_str())))?;
    Ok((clinic, from, to))
}

/// The clinic's Twilio account and its token, decrypted.
async fn credentials(store: &Store, cipher: &Cipher, m: &ClaimedOutbound) -> Result<(String, Secret<String>), SendError> {
    let creds = store
        .twilio_credentials(m.clinic_id)
        .await
        .map_err(|e| SendError::Transient(format!("database: {e}")))?
        .ok_or_else(|| SendError::Final("clinic has no Twilio account".into()))?;
    let token: Secret<String> = cipher.decrypt(&creds.auth_token_encrypted).map_err(|e| SendError::Final(e.to_string()))?;
    Ok((creds.account_sid, token))
}

#[cfg(test)]
mod tests {
    use super::{Lifetime, SendError, next_attempt};
    use chrono::{DateTime, Duration, Utc};
    use proptest::prelude::*;

    fn t0() -> DateTime<Utc> {
        "2026-11-23T07:00:00Z".parse().unwrap()
    }

    proptest! {
        /// A retry never comes before Twilio's Retry-After nor after the
        /// reply stopped being useful, and a given-up reply is one whose
        /// next try would have come too late.
        #[test]
        fn a_retry_respects_retry_after_and_the_budget(
            lifetime in prop_oneof![Just(Lifetime::Urgent), Just(Lifetime::Lasting), Just(Lifetime::Fleeting)],
            attempts in 1u32..200,
            elapsed in 0i64..200_000,
            budget_hours in 0i64..48,
            retry_after in proptest::option::of(0u64..7200),
            jitter in 0.0f64..=1.0,
        ) {
            let now = t0() + Duration::seconds(elapsed);
            let budget = Duration::hours(budget_hours);
            let asked = retry_after.map(std::time::Duration::from_secs);
            let useful = if lifetime == Lifetime::Fleeting { budget.min(Lifetime::FLEETING) } else { budget };
            match next_attempt(lifetime, attempts, t0(), now, budget, asked, jitter) {
                Some(at) => {
                    prop_assert!(at > now);
                    prop_assert!(at <= t0() + useful);
                    prop_assert!(at >= now + Duration::seconds(retry_after.unwrap_or(0).min(3600) as i64));
                    let cap = if lifetime == Lifetime::Urgent { 10 } else { 900 };
                    prop_assert!(at <= now + Duration::seconds(cap.max(retry_after.unwrap_or(0).min(3600) as i64)));
                }
                None => {
                    // The same backoff without an end (a fleeting reply backs off as a lasting one).
                    let unbounded = if lifetime == Lifetime::Fleeting { Lifetime::Lasting } else { lifetime };
                    let earliest = next_attempt(unbounded, attempts, t0(), now, Duration::days(10_000), asked, 0.0).unwrap();
                    prop_assert!(earliest > t0() + useful - Duration::seconds(900));
                }
            }
        }
    }

    #[test]
    fn a_75_second_outage_is_outlasted_and_an_hour_old_offer_is_not_sent() {
        let budget = Duration::hours(24);
        // Tries every few seconds, then doubling: within the first two
        // minutes there are several, none later than a few minutes apart.
        let mut now = t0();
        let mut tries = vec![];
        for attempts in 1..=6 {
            now = next_attempt(Lifetime::Lasting, attempts, t0(), now, budget, None, 0.5).unwrap();
            tries.push((now - t0()).num_seconds());
        }
        assert!(tries.iter().any(|s| (75..=300).contains(s)), "a try soon after a 75 s outage: {tries:?}");
        assert_eq!(next_attempt(Lifetime::Fleeting, 9, t0(), t0() + Duration::minutes(59), budget, None, 1.0), None);
        assert!(next_attempt(Lifetime::Lasting, 9, t0(), t0() + Duration::minutes(59), budget, None, 1.0).is_some());
        assert!(next_attempt(Lifetime::Urgent, 40, t0(), t0(), budget, None, 1.0).unwrap() <= t0() + Duration::seconds(10));
        assert_eq!(next_attempt(Lifetime::Lasting, 1, t0(), t0(), Duration::zero(), None, 0.0), None, "no budget: tried once");
    }

    #[test]
    fn twilio_codes_are_read_from_the_clients_errors() {
        assert_eq!(SendError::Final("HTTP 400 code 21610 Attempt to send to unsubscribed recipient".into()).twilio_code(), Some(21610));
        assert_eq!(SendError::Transient("HTTP 429 code 20429 Too Many Requests".into()).twilio_code(), Some(20429));
        assert_eq!(SendError::Transient("HTTP 503 code 0 ".into()).twilio_code(), None);
        assert_eq!(SendError::Transient("connection failed: refused".into()).twilio_code(), None);
        assert_eq!(SendError::Paced(std::time::Duration::from_secs(1)).twilio_code(), None);
    }
}
