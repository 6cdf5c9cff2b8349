//! Accounts and tokens: Argon2id password hashes (OWASP: 19 MiB, 2
//! iterations, parallelism 1), short-lived HS256 access tokens with the
//! algorithm pinned and `exp`/`iss`/`aud` checked, and rotating refresh tokens
//! stored as SHA-256 hashes (a reused one revokes its whole family).

use super::error::{ApiError, ApiResult};
use crate::app_state::AppState;
use crate::storage::{ClinicRole, Membership, Store};
use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString, rand_core::OsRng};
use argon2::{Algorithm, Argon2, Params, Version};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::{DateTime, Duration, Utc};
use sha2::Digest;
use uuid::Uuid;

pub use super::tokens::{
    ACCESS_MINUTES, AUDIENCE, Claims, ISSUER, JwtKeys, issue_access, issue_console_access, issue_session_access, verify_access,
};
pub const REFRESH_DAYS: i64 = 30;
/// A sign-in lasts at most this long, however often it is refreshed.
pub const SESSION_MAX_DAYS: i64 = 30;

fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(19 * 1024, 2, 1, None).expect("OWASP parameters are valid"))
}

/// Whether `password` may be an account's: at least 12 characters, no space
/// at either end (a copy-paste slip the owner would not type again), and not
/// guessable (zxcvbn's score of at least 3 of 4, its dictionaries of common
/// passwords, names and patterns, with the e-mail's words counted as known).
/// The reason, in words an administrator understands, otherwise.
pub fn check_password(password: &str, email: &str) -> Result<(), String> {
    if password.chars().count() < 12 {
        return Err("the password must have at least 12 characters".into());
    }
    if password.trim() != password {
        return Err("the password must not begin or end with a space".into());
    }
    let known: Vec<&str> = email.split(['@', '.', '-', '_', '+']).filter(|w| !w.is_empty()).collect();
    let estimate = zxcvbn::zxcvbn(password, &known);
    if (estimate.score() as u8) < 3 {
        let hint = estimate.feedback().and_then(|f| f.warning()).map(|w| format!(" ({w})")).unwrap_or_default();
        return Err(format!("the password is too easy to guess{hint}: use a longer phrase of unrelated words"));
    }
    Ok(())
}

pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    argon2().hash_password(password.as_bytes(), &salt).expect("hashing cannot fail with valid parameters").to_string()
}

/// Checks `password` against a stored Argon2 hash, in constant time. The
/// 19 MiB of Argon2 memory is this thread's own, allocated once and reused:
/// allocated afresh for every check, glibc's allocator kept raising its
/// mmap threshold and retained them (400 MB after 64 sign-ins, even one at
/// a time).
pub fn verify_password(password: &str, hash: &str) -> bool {
    thread_local! {
        static BLOCKS: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let Ok(parsed) = PasswordHash::new(hash) else { return false };
    let Ok(params) = Params::try_from(&parsed) else { return false };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else { return false };
    // Only hashes this deployment wrote are stored; still, no stored value
    // may make a check take more than 64 MiB.
    if params.block_count() > 64 * 1024 {
        return false;
    }
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else { return false };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm) else { return false };
    let version = parsed.version.map_or(Ok(Version::V0x13), Version::try_from);
    let Ok(version) = version else { return false };
    let mut out = vec![0u8; expected.len()];
    let computed = BLOCKS.with(|blocks| {
        let mut blocks = blocks.borrow_mut();
        blocks.resize(params.block_count(), argon2::Block::default());
        Argon2::new(algorithm, version, params.clone()).hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut blocks[..])
    });
    computed.is_ok() && argon2::password_hash::Output::new(&out).is_ok_and(|o| o == expected)
}

/// `verify_password` on one of [`super::throttle::HASHES_AT_ONCE`] threads
/// of its own: Argon2id takes tens of milliseconds of CPU and 19 MiB, which
/// must not stall the async executor, and on a fixed pair of threads the
/// allocator keeps at most two such blocks (on tokio's blocking pool each
/// new thread kept its own: 640 MB after 64 sign-ins). `None` checks
/// against the dummy hash (unknown e-mail), so timing tells nothing.
pub async fn verify_password_blocking(password: String, hash: Option<String>) -> bool {
    let (answer, answered) = tokio::sync::oneshot::channel();
    let job: HashJob = Box::new(move || {
        let ok = match hash {
            Some(hash) => verify_password(&password, &hash),
            None => verify_password(&password, dummy_hash()),
        };
        let _ = answer.send(ok);
    });
    if hashers().send(job).is_err() {
        return false;
    }
    answered.await.unwrap_or(false)
}

type HashJob = Box<dyn FnOnce() + Send>;

/// The hashing threads' queue (started on first use).
fn hashers() -> &'static std::sync::mpsc::Sender<HashJob> {
    static HASHERS: std::sync::LazyLock<std::sync::mpsc::Sender<HashJob>> = std::sync::LazyLock::new(|| {
        let (queue, jobs) = std::sync::mpsc::channel::<HashJob>();
        let jobs = std::sync::Arc::new(std::sync::Mutex::new(jobs));
        for i in 0..super::throttle::HASHES_AT_ONCE {
            let jobs = jobs.clone();
            std::thread::Builder::new()
                .name(format!("nuru-hash-{i}"))
                .spawn(move || {
                    loop {
                        let job = match jobs.lock() {
                            Ok(jobs) => jobs.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })
                .expect("a hashing thread starts");
        }
        queue
    });
    &HASHERS
}

/// A hash to compare against when the e-mail is unknown, so timing does not
/// tell which accounts exist.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| hash_password("not a real password"));
    &DUMMY
}

pub fn token_hash(token: &str) -> String {
    sha2::Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Issues a refresh token in `family` (a new family at login).
pub async fn issue_refresh(store: &Store, user: Uuid, family: Uuid, now: DateTime<Utc>) -> ApiResult<String> {
    let token = crate::secrets::random_token();
    store.insert_refresh_token(family, user, &token_hash(&token), now + Duration::days(REFRESH_DAYS), now).await?;
    Ok(token)
}

/// The authenticated caller, with their clinic memberships read fresh from
/// the database on every request (a removed membership takes effect at once).
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: Uuid,
    pub email: String,
    pub superadmin: bool,
    pub memberships: Vec<Membership>,
}

impl Caller {
    /// Access to a clinic with at least `role`. Someone with no link to the
    /// clinic gets 404 (its existence is not confirmed); a member with too
    /// small a role gets 403.
    pub fn require(&self, clinic: crate::domain::ClinicId, role: ClinicRole) -> ApiResult<()> {
        if self.superadmin {
            return Ok(());
        }
        match self.memberships.iter().find(|m| m.clinic_id == clinic) {
            None => Err(ApiError::not_found("clinic")),
            Some(m) if m.role >= role => Ok(()),
            Some(_) => Err(ApiError::forbidden()),
        }
    }

    pub fn require_superadmin(&self) -> ApiResult<()> {
        if self.superadmin { Ok(()) } else { Err(ApiError::forbidden()) }
    }
}

/// The clinic id segment of `/api/clinics/{clinic_id}/…`, as written.
fn clinic_in_path(parts: &Parts) -> Option<&str> {
    parts.uri.path().strip_prefix("/api/clinics/").and_then(|rest| rest.split('/').next())
}

/// The least role a route needs in the clinic named by its path.
pub trait MinRole {
    const ROLE: ClinicRole;
}

/// Role markers for [`ClinicAccess`].
pub mod roles {
    use super::{ClinicRole, MinRole};
    /// Any member of the clinic (a practitioner sees their own agenda).
    pub struct Member;
    /// Front-desk staff and above.
    pub struct Staff;
    /// The clinic's administrators.
    pub struct Admin;
    impl MinRole for Member {
        const ROLE: ClinicRole = ClinicRole::Practitioner;
    }
    impl MinRole for Staff {
        const ROLE: ClinicRole = ClinicRole::Staff;
    }
    impl MinRole for Admin {
        const ROLE: ClinicRole = ClinicRole::ClinicAdmin;
    }
}

/// A caller authorised for the clinic named by `/api/clinics/{clinic_id}/…`
/// with at least the role `R`: handlers that take one cannot forget the check.
pub struct ClinicAccess<R: MinRole> {
    pub caller: Caller,
    pub clinic: crate::domain::ClinicId,
    role: std::marker::PhantomData<R>,
}

impl<R: MinRole + Send + Sync> FromRequestParts<AppState> for ClinicAccess<R> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        let id = clinic_in_path(parts).ok_or_else(|| ApiError::invalid("clinic_id", "the path names no clinic"))?;
        let clinic = crate::domain::ClinicId(Uuid::parse_str(id).map_err(|_| ApiError::invalid("clinic_id", "not a UUID"))?);
        caller.require(clinic, R::ROLE)?;
        Ok(ClinicAccess { caller, clinic, role: std::marker::PhantomData })
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let claims = match parts.headers.get(axum::http::header::AUTHORIZATION) {
            Some(header) => {
                let token = header
                    .to_str()
                    .ok()
                    .and_then(|h| h.strip_prefix("Bearer "))
                    .ok_or_else(|| ApiError::unauthenticated("missing bearer token"))?;
                verify_access(&state.jwt, token.trim(), state.clock.now())
                    .ok_or_else(|| ApiError::unauthenticated("invalid or expired token"))?
            }
            // The console's session: the access token in an HttpOnly cookie,
            // and every change proven same-site by the token's CSRF value.
            None => {
                let token = super::cookies::cookie(&parts.headers, super::cookies::ACCESS_COOKIE)
                    .ok_or_else(|| ApiError::unauthenticated("missing bearer token"))?;
                let claims = verify_access(&state.jwt, &token, state.clock.now())
                    .ok_or_else(|| ApiError::unauthenticated("invalid or expired token"))?;
                super::cookies::check_csrf(parts, claims.csrf.as_deref())?;
                claims
            }
        };
        let user_id = Uuid::parse_str(&claims.sub).map_err(|_| ApiError::unauthenticated("invalid token"))?;
        if let Some(session) = &claims.sid {
            let session = Uuid::parse_str(session).map_err(|_| ApiError::unauthenticated("invalid token"))?;
            if state.store.session_revoked(session).await? {
                return Err(ApiError::unauthenticated("signed out; sign in again"));
            }
        }
        let user = state.store.user(user_id).await?.filter(|u| u.active).ok_or_else(|| ApiError::unauthenticated("unknown account"))?;
        let memberships = state.store.memberships(user_id).await?;
        let caller = Caller { user_id, email: user.email, superadmin: user.superadmin, memberships };
        // Under /api/clinics/{id}/…, someone with no link to the clinic is
        // turned away here, before any body is read: 404 whatever they send.
        if let Some(id) = clinic_in_path(parts).and_then(|s| Uuid::parse_str(s).ok()) {
            caller.require(crate::domain::ClinicId(id), ClinicRole::Practitioner)?;
            // Superadmins pass any membership check: the clinic must still exist.
            if caller.superadmin {
                state.store.clinic(crate::domain::ClinicId(id)).await?;
            }
        }
        Ok(caller)
    }
}

/// The client's address: the socket's peer, or behind a trusted proxy
/// (`trust_forwarded_for`) the last `X-Forwarded-For` entry. Never refuses.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub Option<std::net::IpAddr>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if state.config.trust_forwarded_for {
            let forwarded =
                parts.headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).last();
            if let Some(ip) = forwarded.and_then(|v| v.trim().parse().ok()) {
                return Ok(ClientIp(Some(ip)));
            }
        }
        Ok(ClientIp(parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip())))
    }
}

/// A caller who must be a superadmin: anyone else is refused (403) before
/// any body is read, whatever they send.
#[derive(Debug, Clone)]
pub struct Superadmin(pub Caller);

impl FromRequestParts<AppState> for Superadmin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.require_superadmin()?;
        Ok(Superadmin(caller))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_blank_and_padded_passwords_are_refused() {
        use super::check_password;
        assert!(check_password("            ", "a@b.org").is_err(), "twelve spaces");
        assert!(check_password("password1234", "a@b.org").is_err(), "a common password");
        assert!(check_password("123456789012", "a@b.org").is_err());
        assert!(check_password("azertyuiop12", "a@b.org").is_err(), "a French keyboard row");
        assert!(check_password(" cheval lampe nuage riviere ", "a@b.org").is_err(), "padded with spaces");
        assert!(check_password("short", "a@b.org").is_err());
        assert!(check_password("cheval lampe nuage rivière", "a@b.org").is_ok());
        assert!(check_password("Tq8#vLz2!pWm", "a@b.org").is_ok());
    }

    #[test]
    fn passwords_and_tokens() {
        let h = hash_password("correct horse battery staple");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_password("correct horse battery staple", &h));
        assert!(!verify_password("wrong", &h));
        let keys = JwtKeys::new(b"0123456789abcdef0123456789abcdef");
        let user = Uuid::new_v4();
        let now: DateTime<Utc> = "2026-11-23T07:00:00Z".parse().unwrap();
        let t = issue_access(&keys, user, now);
        assert_eq!(verify_access(&keys, &t, now).unwrap().sub, user.to_string());
        assert!(verify_access(&keys, &t, now + Duration::minutes(ACCESS_MINUTES)).is_none(), "expired on the given clock");
        let other = JwtKeys::new(b"another key, another key, another");
        assert!(verify_access(&other, &t, now).is_none(), "signature checked");
        let expired = issue_access(&keys, user, now - Duration::minutes(ACCESS_MINUTES + 1));
        assert!(verify_access(&keys, &expired, now).is_none(), "exp checked");
        // alg=none: header {"alg":"none"} with the same claims and no signature.
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let payload = t.split('.').nth(1).unwrap();
        let none = format!("{}.{payload}.", b64.encode(r#"{"alg":"none","typ":"JWT"}"#));
        assert!(verify_access(&keys, &none, now).is_none(), "alg=none refused");
        assert_eq!(token_hash("x").len(), 64);
    }
}
