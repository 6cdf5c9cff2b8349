//! Google's OAuth 2.0 endpoints for a web server application: the consent
//! URL (authorization code with PKCE S256 and a single-use `state`), the code
//! exchange, the refresh of an access token and the revocation. These are
//! form posts with JSON answers (RFC 6749, RFC 7636, RFC 7009); the URLs come
//! from the configuration so tests and staging can point elsewhere.
//!
//! yup-oauth2's flows cover installed and device applications and service
//! accounts; its refresh-token flow falls back to an interactive flow when a
//! refresh fails and hides the reason, and a revoked or expired grant
//! (`invalid_grant`) must be told apart from a network failure here: the
//! connection then needs the doctor again, and retrying would be useless.

use crate::secrets::Secret;
use base64::Engine;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::time::Duration;

/// What only Calendar needs: the calendars' names, events (read and write),
/// and free/busy.
pub const SCOPES: &[&str] = &[
    "https://www.googleapis.com/auth/calendar.calendarlist.readonly",
    "https://www.googleapis.com/auth/calendar.events",
    "https://www.googleapis.com/auth/calendar.freebusy",
];

#[derive(Debug, Clone)]
pub struct OAuthClient {
    pub client_id: String,
    pub client_secret: Secret<String>,
    pub auth_url: String,
    pub token_url: String,
    pub revoke_url: String,
    pub redirect_uri: String,
    http: reqwest::Client,
}

#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// The grant was revoked, expired or never valid: only the doctor can fix it.
    #[error("invalid_grant: {0}")]
    InvalidGrant(String),
    /// Any other refusal from the token endpoint (bad client, bad request).
    #[error("token endpoint refused: {0}")]
    Refused(String),
    /// Network failure or a 5xx: worth retrying later.
    #[error("token endpoint unreachable: {0}")]
    Unavailable(String),
}

#[derive(Debug, Clone, Deserialize)]
pub struct Tokens {
    pub access_token: Secret<String>,
    #[serde(default)]
    pub expires_in: Option<i64>,
    #[serde(default)]
    pub refresh_token: Option<Secret<String>>,
    #[serde(default)]
    pub scope: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// A PKCE verifier (RFC 7636: 43 to 128 unreserved characters) and its S256 challenge.
pub fn pkce_pair() -> (String, String) {
    let verifier = format!("{}{}", crate::secrets::random_token(), crate::secrets::random_token());
    (verifier.clone(), pkce_challenge(&verifier))
}

pub fn pkce_challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// How a `state` is stored: its SHA-256, so a database read gives nothing to replay.
pub fn state_hash(state: &str) -> String {
    Sha256::digest(state.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

impl OAuthClient {
    pub fn new(client_id: String, client_secret: Secret<String>, urls: [String; 3], redirect_uri: String) -> Self {
        let [auth_url, token_url, revoke_url] = urls;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("HTTP client");
        Self { client_id, client_secret, auth_url, token_url, revoke_url, redirect_uri, http }
    }

    /// Google's consent page for this state and challenge; offline access so
    /// a refresh token comes back, and consent asked again so it always does.
    pub fn consent_url(&self, state: &str, challenge: &str) -> String {
        let query = serde_urlencoded::to_string([
            ("client_id", self.client_id.as_str()),
            ("redirect_uri", self.redirect_uri.as_str()),
            ("response_type", "code"),
            ("scope", &SCOPES.join(" ")),
            ("access_type", "offline"),
            ("prompt", "consent"),
            ("include_granted_scopes", "true"),
            ("state", state),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ])
        .expect("form encoding");
        let sep = if self.auth_url.contains('?') { '&' } else { '?' };
        format!("{}{sep}{query}", self.auth_url)
    }

    pub async fn exchange_code(&self, code: &str, verifier: &str) -> Result<Tokens, OAuthError> {
        self.token_request(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("code_verifier", verifier),
            ("client_id", &self.client_id),
            ("client_secret", self.client_secret.expose()),
            ("redirect_uri", &self.redirect_uri),
        ])
        .await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Result<Tokens, OAuthError> {
        self.token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", &self.client_id),
            ("client_secret", self.client_secret.expose()),
        ])
        .await
    }

    /// Revokes the grant (disconnect). A token Google no longer knows is revoked already.
    pub async fn revoke(&self, token: &str) -> Result<(), OAuthError> {
        let resp =
            self.http.post(&self.revoke_url).form(&[("token", token)]).send().await.map_err(|e| OAuthError::Unavailable(e.to_string()))?;
        let status = resp.status();
        if status.is_success() || status == reqwest::StatusCode::BAD_REQUEST {
            return Ok(());
        }
        Err(OAuthError::Unavailable(format!("HTTP {status}")))
    }

    async fn token_request(&self, form: &[(&str, &str)]) -> Result<Tokens, OAuthError> {
        let resp = self.http.post(&self.token_url).form(form).send().await.map_err(|e| OAuthError::Unavailable(e.to_string()))?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| OAuthError::Unavailable(e.to_string()))?;
        if status.is_success() {
            return serde_json::from_slice(&body).map_err(|e| OAuthError::Refused(format!("unreadable token answer: {e}")));
        }
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(OAuthError::Unavailable(format!("HTTP {status}")));
        }
        match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(e) if e.error == "invalid_grant" => Err(OAuthError::InvalidGrant(e.error_description.unwrap_or_default())),
            Ok(e) => Err(OAuthError::Refused(format!("{}: {}", e.error, e.error_description.unwrap_or_default()))),
            Err(_) => Err(OAuthError::Refused(format!("HTTP {status}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_is_base64url_sha256_of_the_verifier() {
        // BASE64URL(SHA-256("abc")), the FIPS 180-2 test vector ba7816bf…15ad.
        assert_eq!(pkce_challenge("abc"), "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
        let (v, c) = pkce_pair();
        assert!((43..=128).contains(&v.len()) && v.chars().all(|ch| ch.is_ascii_alphanumeric() || "-._~".contains(ch)));
        assert_eq!(pkce_challenge(&v), c);
    }

    #[test]
    fn the_consent_url_carries_state_challenge_and_offline_access() {
        crate::install_crypto_provider();
        let c = OAuthClient::new(
            "cid".into(),
            Secret::new("s".into()),
            ["https://accounts.example/auth".into(), "t".into(), "r".into()],
            "https://nuru.example/oauth/google/callback".into(),
        );
        let url = c.consent_url("st", "ch");
        for part in
            ["client_id=cid", "state=st", "code_challenge=ch", "code_challenge_method=S256", "access_type=offline", "response_type=code"]
        {
            assert!(url.contains(part), "{url} lacks {part}");
        }
        assert!(url.contains("redirect_uri=https%3A%2F%2Fnuru.example%2Foauth%2Fgoogle%2Fcallback"));
        assert!(!url.contains("client_secret"));
    }
}
