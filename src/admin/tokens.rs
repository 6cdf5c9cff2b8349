//! Access tokens: HS256 with the algorithm pinned and `exp`/`iss`/`aud`
//! checked against the application's clock. No dependency on the rest of the
//! application, so that the application state can hold the keys.

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const ISSUER: &str = "nuru";
pub const AUDIENCE: &str = "nuru-admin";
pub const ACCESS_MINUTES: i64 = 15;

#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtKeys(..)")
    }
}

impl JwtKeys {
    pub fn new(secret: &[u8]) -> Self {
        Self { encoding: EncodingKey::from_secret(secret), decoding: DecodingKey::from_secret(secret) }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    /// The console session's anti-CSRF token: present only in access tokens
    /// the console carries in a cookie, where every change must repeat it
    /// in the `X-CSRF-Token` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csrf: Option<String>,
    /// The sign-in (refresh-token family) the token was issued for: signing
    /// out revokes it, and with it every access token it issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

/// An access token of no sign-in (only signing keys make one: tests, tools).
pub fn issue_access(keys: &JwtKeys, user: Uuid, now: DateTime<Utc>) -> String {
    issue(keys, user, None, now, None)
}

/// An access token of a sign-in (`session`, its refresh-token family).
pub fn issue_session_access(keys: &JwtKeys, user: Uuid, session: Uuid, now: DateTime<Utc>) -> String {
    issue(keys, user, Some(session), now, None)
}

/// An access token for the console's cookie, bound to its anti-CSRF token.
pub fn issue_console_access(keys: &JwtKeys, user: Uuid, session: Uuid, now: DateTime<Utc>, csrf: &str) -> String {
    issue(keys, user, Some(session), now, Some(csrf.to_string()))
}

fn issue(keys: &JwtKeys, user: Uuid, session: Option<Uuid>, now: DateTime<Utc>, csrf: Option<String>) -> String {
    let claims = Claims {
        sub: user.to_string(),
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        iat: now.timestamp(),
        exp: (now + Duration::minutes(ACCESS_MINUTES)).timestamp(),
        csrf,
        sid: session.map(|s| s.to_string()),
    };
    jsonwebtoken::encode(&Header::new(jsonwebtoken::Algorithm::HS256), &claims, &keys.encoding).expect("HS256 signing cannot fail")
}

/// Verifies an access token at `now`, the application's clock: the library
/// checks the signature, algorithm, issuer and audience; expiry is checked
/// here against `now` so that a server on a fixed clock (tests) and the token
/// it issued agree on time.
pub fn verify_access(keys: &JwtKeys, token: &str, now: DateTime<Utc>) -> Option<Claims> {
    let mut v = Validation::new(jsonwebtoken::Algorithm::HS256);
    v.algorithms = vec![jsonwebtoken::Algorithm::HS256];
    v.set_issuer(&[ISSUER]);
    v.set_audience(&[AUDIENCE]);
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    v.leeway = 0;
    v.validate_exp = false;
    let claims = jsonwebtoken::decode::<Claims>(token, &keys.decoding, &v).ok()?.claims;
    (claims.exp > now.timestamp()).then_some(claims)
}
