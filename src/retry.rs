//! When a job that failed is tried again: one pure policy for every queue.
//!
//! Exponential backoff with equal jitter (half the step fixed, half random,
//! so that jobs that failed together do not come back together), never
//! sooner than a wait the other side asked for (`Retry-After`), given up
//! once the next try would come after the job stopped being useful or
//! after its most attempts.

use chrono::{DateTime, Duration, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The wait after the first failed attempt.
    pub first: Duration,
    /// No wait is longer.
    pub cap: Duration,
    /// Given up after this many attempts.
    pub max_attempts: u32,
    /// Given up when the next try would come later than this after the job
    /// was created.
    pub useful_for: Option<Duration>,
}

/// What to do with a job whose attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    RetryAt(DateTime<Utc>),
    GiveUp,
}

impl Backoff {
    /// A conversation turn: 2 s doubling, five attempts (a turn that fails
    /// five times fails for a reason waiting will not fix).
    pub const TURN: Backoff = Backoff { first: Duration::seconds(2), cap: Duration::seconds(256), max_attempts: 5, useful_for: None };
    /// Reading a document: a few tries, a minute apart at first.
    pub const INGEST: Backoff = Backoff { first: Duration::seconds(60), cap: Duration::seconds(3600), max_attempts: 4, useful_for: None };
    /// Reminders, feedback requests and broadcast messages whose handling
    /// failed (the database, a template): retried for a while, then given up
    /// with the reason, for staff to see.
    pub const OUTREACH: Backoff = Backoff { first: Duration::seconds(30), cap: Duration::seconds(1800), max_attempts: 8, useful_for: None };
    /// Google Calendar writes and syncs: 2 s doubling up to an hour, never
    /// given up (the calendar must end up right; staff see the error).
    pub const CALENDAR: Backoff =
        Backoff { first: Duration::seconds(2), cap: Duration::seconds(3600), max_attempts: u32::MAX, useful_for: None };

    /// After attempt number `attempts` (1 for the first) failed at `now`:
    /// when to try again, or give up. `jitter` in [0, 1]; `asked`: the
    /// least wait the other side asked for.
    pub fn next(&self, attempts: u32, created_at: DateTime<Utc>, now: DateTime<Utc>, asked: Option<Duration>, jitter: f64) -> Next {
        if attempts >= self.max_attempts {
            return Next::GiveUp;
        }
        let step = self.first.num_milliseconds().max(1).saturating_mul(2_i64.saturating_pow(attempts.saturating_sub(1).min(40)));
        let step = step.min(self.cap.num_milliseconds().max(1));
        let jittered = (step as f64 * (0.5 + 0.5 * jitter.clamp(0.0, 1.0))).ceil() as i64;
        let wait = Duration::milliseconds(jittered).max(asked.unwrap_or_else(Duration::zero)).max(Duration::seconds(1));
        // The queues keep whole seconds: rounded up, never sooner.
        let wait = Duration::seconds((wait.num_milliseconds() + 999) / 1000);
        let at = now + wait;
        match self.useful_for {
            Some(useful) if at > created_at + useful => Next::GiveUp,
            _ => Next::RetryAt(at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).expect("valid")
    }

    proptest! {
        #[test]
        fn a_retry_is_never_sooner_than_asked_nor_later_than_the_cap_or_its_use(
            attempts in 1u32..60, jitter in 0.0f64..=1.0, asked in proptest::option::of(0i64..7200), age in 0i64..100_000,
            first in 1i64..120, cap in 1i64..7200, useful in proptest::option::of(1i64..200_000),
        ) {
            let b = Backoff { first: Duration::seconds(first), cap: Duration::seconds(cap.max(first)), max_attempts: 30,
                useful_for: useful.map(Duration::seconds) };
            let now = t0() + Duration::seconds(age);
            match b.next(attempts, t0(), now, asked.map(Duration::seconds), jitter) {
                Next::RetryAt(at) => {
                    prop_assert!(attempts < 30);
                    prop_assert!(at > now);
                    prop_assert!(at >= now + Duration::seconds(asked.unwrap_or(0)));
                    prop_assert!(at <= now + Duration::seconds(cap.max(first).max(asked.unwrap_or(0)).max(1)));
                    if let Some(u) = useful { prop_assert!(at <= t0() + Duration::seconds(u)); }
                }
                Next::GiveUp => prop_assert!(attempts >= 30 || useful.is_some()),
            }
        }

        #[test]
        fn waits_grow_with_attempts(attempts in 1u32..20, jitter in 0.0f64..=1.0) {
            let b = Backoff::CALENDAR;
            let wait = |n| match b.next(n, t0(), t0(), None, jitter) { Next::RetryAt(at) => at - t0(), Next::GiveUp => unreachable!() };
            prop_assert!(wait(attempts + 1) >= wait(attempts));
        }
    }

    #[test]
    fn a_turn_is_given_up_after_its_fifth_attempt() {
        assert!(matches!(Backoff::TURN.next(4, t0(), t0(), None, 0.0), Next::RetryAt(_)));
        assert_eq!(Backoff::TURN.next(5, t0(), t0(), None, 0.0), Next::GiveUp);
    }
}
