//! Sign-in cannot be turned against the clinic: password hashing is bounded
//! (a flood of logins waits briefly, then gets a fast 503; memory stays
//! flat), and failed attempts are counted per client address and per e-mail
//! from that address, the same whether the account exists or not, so a
//! stranger elsewhere can never lock the owner out and no answer tells
//! which accounts exist. Counted in this node's memory: a restart forgets.

use super::error::{ApiError, ApiResult};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, SemaphorePermit};

/// Password hashes computed at once (Argon2id: 19 MiB and tens of ms each).
pub const HASHES_AT_ONCE: usize = 2;
/// How long a sign-in waits for its turn to hash before it is told to retry.
const HASH_WAIT: Duration = Duration::from_secs(2);
/// Failed sign-ins are counted over this window.
const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failures of one e-mail from one address before that pair must wait.
const PER_ACCOUNT: u32 = 5;
/// Failures from one address (any e-mails) before it must wait.
const PER_ADDRESS: u32 = 30;
/// Keys kept at most; expired ones are dropped first.
const MAX_KEYS: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Address(IpAddr),
    Account(String, IpAddr),
}

#[derive(Debug)]
pub struct LoginGuard {
    hashing: Semaphore,
    /// Failures per key: how many, since when.
    failures: Mutex<HashMap<Key, (u32, Instant)>>,
}

impl Default for LoginGuard {
    fn default() -> Self {
        LoginGuard { hashing: Semaphore::new(HASHES_AT_ONCE), failures: Mutex::default() }
    }
}

fn keys(email: &str, client: Option<IpAddr>) -> (Key, Key) {
    // Unknown addresses (no socket peer) share one bucket.
    let client = client.unwrap_or(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED));
    (Key::Address(client), Key::Account(email.trim().to_lowercase(), client))
}

impl LoginGuard {
    /// An attempt for `email` from `client`: refused (429 with
    /// `Retry-After`, before any hashing) once the pair failed
    /// [`PER_ACCOUNT`] times or the address [`PER_ADDRESS`] times within the
    /// window. Known and unknown e-mails alike.
    pub fn admit(&self, email: &str, client: Option<IpAddr>) -> ApiResult<()> {
        let (address, account) = keys(email, client);
        let now = Instant::now();
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        for (key, limit) in [(address, PER_ADDRESS), (account, PER_ACCOUNT)] {
            if let Some((count, since)) = failures.get(&key) {
                let elapsed = now.duration_since(*since);
                if *count >= limit && elapsed < WINDOW {
                    return Err(ApiError::throttled((WINDOW - elapsed).as_secs()));
                }
            }
        }
        Ok(())
    }

    /// A wrong e-mail or password from `client`.
    pub fn failed(&self, email: &str, client: Option<IpAddr>) {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() >= MAX_KEYS {
            failures.retain(|_, (_, since)| now.duration_since(*since) < WINDOW);
            if failures.len() >= MAX_KEYS {
                failures.clear();
            }
        }
        let (address, account) = keys(email, client);
        for key in [address, account] {
            let entry = failures.entry(key).or_insert((0, now));
            if now.duration_since(entry.1) >= WINDOW {
                *entry = (0, now);
            }
            entry.0 += 1;
        }
    }

    /// The right password: that e-mail's failures from there are forgotten.
    pub fn succeeded(&self, email: &str, client: Option<IpAddr>) {
        let (_, account) = keys(email, client);
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).remove(&account);
    }

    /// A turn to hash a password, or a fast 503 when too many sign-ins
    /// are hashing already and none finishes within a short wait.
    pub async fn hashing(&self) -> ApiResult<SemaphorePermit<'_>> {
        match tokio::time::timeout(HASH_WAIT, self.hashing.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(ApiError::busy(1, "too many sign-ins at once; try again in a moment")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::LoginGuard;
    use std::net::IpAddr;

    #[test]
    fn one_address_is_throttled_and_the_owner_elsewhere_is_not() {
        let guard = LoginGuard::default();
        let attacker: IpAddr = "198.51.100.7".parse().unwrap();
        let owner: IpAddr = "203.0.113.9".parse().unwrap();
        for _ in 0..5 {
            guard.admit("dr.mendy@clinique.sn", Some(attacker)).unwrap();
            guard.failed("dr.mendy@clinique.sn", Some(attacker));
        }
        let refused = guard.admit("Dr.Mendy@clinique.sn ", Some(attacker)).unwrap_err();
        assert_eq!(refused.status, 429);
        assert!(refused.retry_after.is_some_and(|s| s >= 1));
        guard.admit("dr.mendy@clinique.sn", Some(owner)).expect("the owner, elsewhere, may sign in");
        // An unknown e-mail is throttled exactly alike.
        for _ in 0..5 {
            guard.admit("nobody@clinique.sn", Some(owner)).unwrap();
            guard.failed("nobody@clinique.sn", Some(owner));
        }
        assert_eq!(guard.admit("nobody@clinique.sn", Some(owner)).unwrap_err().status, 429);
    }

    #[test]
    fn one_address_trying_many_accounts_is_throttled() {
        let guard = LoginGuard::default();
        let scanner: IpAddr = "198.51.100.8".parse().unwrap();
        let admitted = (0..100)
            .filter(|i| {
                let email = format!("user{i}@clinique.sn");
                let ok = guard.admit(&email, Some(scanner)).is_ok();
                if ok {
                    guard.failed(&email, Some(scanner));
                }
                ok
            })
            .count();
        assert_eq!(admitted, 30);
    }

    #[test]
    fn signing_in_many_times_rightly_is_never_throttled() {
        let guard = LoginGuard::default();
        let desk: IpAddr = "192.0.2.10".parse().unwrap();
        for _ in 0..100 {
            guard.admit("staff@clinique.sn", Some(desk)).unwrap();
            guard.succeeded("staff@clinique.sn", Some(desk));
        }
        // A typo now and then is forgiven by the next right password.
        for _ in 0..20 {
            guard.failed("staff@clinique.sn", Some(desk));
            guard.succeeded("staff@clinique.sn", Some(desk));
            guard.admit("staff@clinique.sn", Some(desk)).unwrap();
        }
    }
}
