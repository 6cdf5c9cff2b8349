//! A circuit breaker for calls to a model server: after `THRESHOLD`
//! consecutive failures it opens for `COOL_DOWN`, then lets one call through
//! (half-open: one more failure reopens it). A turn never waits on a server
//! that has been failing.

use std::sync::Mutex;
use std::time::{Duration, Instant};

const THRESHOLD: u32 = 3;
const COOL_DOWN: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
pub struct Breaker(Mutex<State>);

#[derive(Debug, Default)]
struct State {
    failures: u32,
    open_until: Option<Instant>,
}

impl Breaker {
    /// Whether calls are refused now.
    pub fn open(&self) -> bool {
        let mut b = self.0.lock().expect("breaker");
        match b.open_until {
            Some(until) if Instant::now() < until => true,
            Some(_) => {
                b.open_until = None;
                b.failures = THRESHOLD - 1;
                false
            }
            None => false,
        }
    }

    pub fn record(&self, ok: bool) {
        let mut b = self.0.lock().expect("breaker");
        if ok {
            b.failures = 0;
        } else {
            b.failures += 1;
            if b.failures >= THRESHOLD {
                b.open_until = Some(Instant::now() + COOL_DOWN);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_failures_in_a_row_open_it_and_a_success_resets_the_count() {
        let b = Breaker::default();
        b.record(false);
        b.record(false);
        b.record(true);
        b.record(false);
        b.record(false);
        assert!(!b.open());
        b.record(false);
        assert!(b.open());
    }
}
