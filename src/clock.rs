//! Time as a dependency: production reads the system clock, tests set it.

use chrono::{DateTime, Duration, Utc};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Default)]
pub struct Clock {
    fixed: Option<Arc<Mutex<DateTime<Utc>>>>,
    /// Added to the system clock (a shifted clock still runs).
    shift: Duration,
}

impl Clock {
    pub fn system() -> Self {
        Self::default()
    }

    /// The system clock moved by `shift`: it runs at real speed from another
    /// instant. Several processes given the same shift agree on the time, as
    /// leases between nodes need; a fixed clock would never let one expire.
    pub fn shifted(shift: Duration) -> Self {
        Self { fixed: None, shift }
    }

    /// A clock that stays at `at` until moved.
    pub fn fixed(at: DateTime<Utc>) -> Self {
        Self { fixed: Some(Arc::new(Mutex::new(at))), shift: Duration::zero() }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match &self.fixed {
            None => Utc::now() + self.shift,
            Some(t) => *t.lock().expect("clock lock"),
        }
    }

    /// Moves a fixed clock; no effect on the system clock.
    pub fn advance(&self, by: Duration) {
        if let Some(t) = &self.fixed {
            *t.lock().expect("clock lock") += by;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shifted_clock_runs_from_its_instant_and_a_fixed_one_stays() {
        let target: DateTime<Utc> = "2026-11-23T07:00:00Z".parse().unwrap();
        let shifted = Clock::shifted(target - Utc::now());
        let first = shifted.now();
        assert!((first - target).num_seconds().abs() < 5, "{first}");
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(shifted.now() > first, "a shifted clock runs");
        shifted.advance(Duration::hours(1));
        assert!(shifted.now() - first < Duration::minutes(1), "advance moves only a fixed clock");

        let fixed = Clock::fixed(target);
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(fixed.now(), target);
        fixed.advance(Duration::hours(1));
        assert_eq!(fixed.now(), target + Duration::hours(1));
    }
}
