//! Files patients send (Twilio media): which a webhook carried, and fetching
//! one safely.
//!
//! A media URL is fetched only when it is the clinic's own Twilio resource —
//! the API host this node talks to, under `/2010-04-01/Accounts/{the
//! clinic's AccountSid}/` — with the clinic's credentials (Basic auth), never
//! a URL found in message text or model output. Twilio answers with a
//! redirect to its CDN for a few hours: redirects are followed only to
//! Twilio's hosts (the API host, `*.twilio.com`, `*.twiliocdn.com`), at most
//! three, and reqwest drops the credentials when the host changes. The
//! answer must be one of the accepted types and at most the document size
//! limit, checked on the header and again while reading.

use crate::documents::MAX_DOCUMENT_BYTES;
use crate::secrets::{Cipher, Secret};
use crate::storage::Store;
use reqwest::Url;
use std::time::Duration;

/// System events (kind only, for staff) when a sent file was not fetched,
/// or was fetched and refused (type, size, unreadable).
pub const EVENT_NOT_FETCHED: &str = "media_not_fetched";
pub const EVENT_REFUSED: &str = "media_refused";

/// Types a patient's file may take (a PDF, a text, a photo of a paper).
pub const ACCEPTED_TYPES: &[&str] = &["application/pdf", "text/plain", "image/jpeg", "image/png"];

/// A file attached to an inbound message, as Twilio described it.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundMedia {
    pub url: String,
    /// Lower-case, without parameters.
    pub content_type: String,
}

/// The files a webhook's fields list (`NumMedia`, `MediaUrl{N}`, `MediaContentType{N}`).
pub fn inbound_media(fields_json: &str) -> Vec<InboundMedia> {
    let Ok(serde_json::Value::Object(fields)) = serde_json::from_str::<serde_json::Value>(fields_json) else { return Vec::new() };
    let get = |k: &str| fields.get(k).and_then(|v| v.as_str()).map(str::trim).filter(|v| !v.is_empty());
    let n = get("NumMedia").and_then(|n| n.parse::<usize>().ok()).unwrap_or(0).min(10);
    (0..n)
        .filter_map(|i| {
            Some(InboundMedia {
                url: get(&format!("MediaUrl{i}"))?.to_string(),
                content_type: get(&format!("MediaContentType{i}"))?.split(';').next()?.trim().to_ascii_lowercase(),
            })
        })
        .collect()
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MediaError {
    #[error("not this clinic's Twilio media URL")]
    NotAllowed,
    #[error("the clinic has no Twilio account")]
    NoCredentials,
    #[error("file type {0:?} not accepted")]
    WrongType(String),
    #[error("file larger than the limit")]
    TooLarge,
    #[error("Twilio answered {0}")]
    Refused(u16),
    #[error("Twilio unreachable: {0}")]
    Unreachable(String),
}

/// Fetches media for the turns of this node.
#[derive(Debug, Clone)]
pub struct MediaSource {
    store: Store,
    cipher: Cipher,
    http: reqwest::Client,
    api: Url,
}

/// A redirect of a media download may go to Twilio's own hosts on HTTPS's
/// port, or to the API host on its own port (a local stand-in in tests),
/// never to another port of either.
fn redirect_allowed(url: &Url, api_host: &str, api_port: Option<u16>) -> bool {
    url.host_str().is_some_and(|h| {
        if h == api_host {
            url.port_or_known_default() == api_port
        } else {
            twilio_host(h, api_host) && url.port_or_known_default() == Some(443)
        }
    })
}

fn twilio_host(host: &str, api_host: &str) -> bool {
    host == api_host || host == "api.twilio.com" || host.ends_with(".twilio.com") || host.ends_with(".twiliocdn.com")
}

/// Whether `url` is a resource of `account_sid` on the Twilio API at `api`.
fn allowed_url(api: &Url, url: &str, account_sid: &str) -> bool {
    let Ok(url) = Url::parse(url) else { return false };
    !account_sid.is_empty()
        && url.scheme() == api.scheme()
        && url.host_str() == api.host_str()
        && url.port_or_known_default() == api.port_or_known_default()
        && url.username().is_empty()
        && url.path().starts_with(&format!("/2010-04-01/Accounts/{account_sid}/"))
}

impl MediaSource {
    /// `api_base` is where this node talks to Twilio (`twilio_api_base`).
    pub fn new(store: Store, cipher: Cipher, api_base: &str) -> anyhow::Result<MediaSource> {
        crate::install_crypto_provider();
        let api = Url::parse(api_base)?;
        let api_host = api.host_str().unwrap_or_default().to_string();
        let api_port = api.port_or_known_default();
        let policy = reqwest::redirect::Policy::custom(move |attempt| {
            // Twilio's own hosts on HTTPS's port, or the API host itself on
            // its own port (a local stand-in in tests): never another port.
            let allowed = redirect_allowed(attempt.url(), &api_host, api_port);
            if attempt.previous().len() >= 3 || !allowed { attempt.stop() } else { attempt.follow() }
        });
        let http =
            reqwest::Client::builder().redirect(policy).connect_timeout(Duration::from_secs(5)).timeout(Duration::from_secs(30)).build()?;
        Ok(MediaSource { store, cipher, http, api })
    }

    /// Whether `url` is a media resource of `account_sid` on this node's Twilio API.
    pub fn allowed(&self, url: &str, account_sid: &str) -> bool {
        allowed_url(&self.api, url, account_sid)
    }

    /// The file's bytes and type, from the clinic's own Twilio account.
    pub async fn fetch(&self, clinic: crate::domain::ClinicId, media: &InboundMedia) -> Result<(Vec<u8>, String), MediaError> {
        if !ACCEPTED_TYPES.contains(&media.content_type.as_str()) {
            return Err(MediaError::WrongType(media.content_type.clone()));
        }
        let creds = self
            .store
            .twilio_credentials(clinic)
            .await
            .map_err(|e| MediaError::Unreachable(format!("database: {e}")))?
            .ok_or(MediaError::NoCredentials)?;
        if !self.allowed(&media.url, &creds.account_sid) {
            return Err(MediaError::NotAllowed);
        }
        let token: Secret<String> = self.cipher.decrypt(&creds.auth_token_encrypted).map_err(|_| MediaError::NoCredentials)?;
        let mut response = self
            .http
            .get(&media.url)
            .basic_auth(&creds.account_sid, Some(token.expose()))
            .send()
            .await
            .map_err(|e| MediaError::Unreachable(e.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(MediaError::Refused(response.status().as_u16()));
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase())
            .unwrap_or_default();
        if !ACCEPTED_TYPES.contains(&content_type.as_str()) {
            return Err(MediaError::WrongType(content_type));
        }
        if response.content_length().is_some_and(|n| n as usize > MAX_DOCUMENT_BYTES) {
            return Err(MediaError::TooLarge);
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| MediaError::Unreachable(e.without_url().to_string()))? {
            if bytes.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(MediaError::TooLarge);
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok((bytes, content_type))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_lists_its_media_with_their_types() {
        let fields = serde_json::json!({
            "NumMedia": "2",
            "MediaUrl0": "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
            "MediaContentType0": "application/pdf",
            "MediaUrl1": "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME2",
            "MediaContentType1": "image/JPEG; q=1",
        })
        .to_string();
        let media = inbound_media(&fields);
        assert_eq!(media.len(), 2);
        assert_eq!((media[0].content_type.as_str(), media[1].content_type.as_str()), ("application/pdf", "image/jpeg"));
        assert!(inbound_media(r#"{"Body":"bonjour"}"#).is_empty());
        assert!(inbound_media(r#"{"NumMedia":"1"}"#).is_empty(), "no URL, nothing to fetch");
    }

    #[test]
    fn only_the_clinics_own_twilio_media_urls_are_allowed() {
        let api = Url::parse("https://api.twilio.com").unwrap();
        let allowed = |url: &str, sid: &str| allowed_url(&api, url, sid);
        assert!(allowed("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1", "AC1"));
        assert!(!allowed("https://api.twilio.com/2010-04-01/Accounts/AC2/Messages/MM1/Media/ME1", "AC1"), "another account");
        assert!(!allowed("https://evil.example/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1", "AC1"), "another host");
        assert!(!allowed("http://api.twilio.com/2010-04-01/Accounts/AC1/Media/ME1", "AC1"), "not TLS");
        assert!(!allowed("https://user@api.twilio.com/2010-04-01/Accounts/AC1/Media/ME1", "AC1"));
        assert!(!allowed("https://api.twilio.com/2010-04-01/Accounts/AC1/../AC2/Media/ME1", "AC1"), "dot segments are resolved first");
        assert!(!allowed("https://api.twilio.com/2010-04-01/Accounts//Media/ME1", ""));
        assert!(twilio_host("media.twiliocdn.com", "api.twilio.com") && !twilio_host("twiliocdn.com.evil.example", "api.twilio.com"));
        let to = |u: &str| Url::parse(u).unwrap();
        assert!(redirect_allowed(&to("https://media.twiliocdn.com/x"), "api.twilio.com", Some(443)));
        assert!(!redirect_allowed(&to("https://media.twiliocdn.com:8443/x"), "api.twilio.com", Some(443)), "another port of a Twilio host");
        assert!(!redirect_allowed(&to("http://media.twiliocdn.com/x"), "api.twilio.com", Some(443)), "not HTTPS's port");
        assert!(redirect_allowed(&to("http://127.0.0.1:4010/cdn/x"), "127.0.0.1", Some(4010)));
        assert!(!redirect_allowed(&to("http://127.0.0.1:6379/"), "127.0.0.1", Some(4010)), "another port of the API host");
    }
}
