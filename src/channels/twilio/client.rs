//! Twilio's Messages API: `POST {base}/2010-04-01/Accounts/{sid}/Messages.json`
//! with form fields and Basic auth. The base URL is configurable so tests can
//! point it at a local server speaking the same wire format.

use crate::channels::outbound::SendError;
use crate::secrets::Secret;
use serde::Deserialize;
use std::time::Duration;

/// What a message carries: free text, or an approved template (its Content
/// SID and `ContentVariables` JSON).
#[derive(Debug, Clone, Copy)]
pub enum Content<'a> {
    Text(&'a str),
    Template { sid: &'a str, variables: &'a str },
}

#[derive(Debug, Clone)]
pub struct TwilioClient {
    http: reqwest::Client,
    api_base: String,
    /// Public base URL: every send names `{base}/webhooks/twilio/{clinic}/status`
    /// as its `StatusCallback`, so delivery reports come back.
    status_base: Option<String>,
}

#[derive(Deserialize)]
struct Created {
    sid: String,
}

/// One page of `GET …/Messages.json` (Twilio's list of messages).
#[derive(Deserialize)]
struct MessageList {
    messages: Vec<ListedMessage>,
}

#[derive(Deserialize)]
struct ListedMessage {
    sid: String,
    #[serde(default)]
    body: Option<String>,
    /// RFC 2822, as Twilio writes it.
    #[serde(default)]
    date_created: Option<String>,
}

/// A message Twilio holds, as a lookup sees it.
#[derive(Debug, Clone)]
pub struct Listed {
    pub sid: String,
    pub body: String,
    pub created: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Deserialize, Default)]
struct TwilioError {
    code: Option<i64>,
    message: Option<String>,
}

/// Twilio error codes that must never be retried: opted out (21610),
/// outside the WhatsApp 24-hour window (63016), invalid number (21211, 21614).
const FINAL_CODES: &[i64] = &[21610, 63016, 21211, 21614, 21408, 21612];

impl TwilioClient {
    /// The messages Twilio holds from `from` to `to` created at or after
    /// `since`, from the newest page of 50 (not filtered by `DateSent`: a
    /// message Twilio accepted but has not sent yet has none): how an
    /// uncertain send is found, or known never to have arrived.
    pub async fn sent_to(
        &self,
        account_sid: &str,
        auth_token: &Secret<String>,
        from: &str,
        to: &str,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<Listed>, SendError> {
        let url = format!("{}/2010-04-01/Accounts/{}/Messages.json", self.api_base, account_sid);
        let response = self
            .http
            .get(&url)
            .basic_auth(account_sid, Some(auth_token.expose()))
            .query(&[("From", from), ("To", to), ("PageSize", "50")])
            .send()
            .await
            // Without the URL: its query names the patient's number.
            .map_err(|e| SendError::Transient(format!("lookup failed: {}", e.without_url())))?;
        if !response.status().is_success() {
            return Err(SendError::Transient(format!("lookup answered HTTP {}", response.status().as_u16())));
        }
        let list: MessageList =
            response.json().await.map_err(|e| SendError::Transient(format!("unreadable lookup: {}", e.without_url())))?;
        Ok(list
            .messages
            .into_iter()
            .map(|m| Listed {
                sid: m.sid,
                body: m.body.unwrap_or_default(),
                created: m.date_created.and_then(|d| chrono::DateTime::parse_from_rfc2822(&d).ok()).map(|d| d.with_timezone(&chrono::Utc)),
            })
            // A message without a readable creation time is kept: better
            // judged sent than sent twice.
            .filter(|m| m.created.is_none_or(|c| c >= since - chrono::Duration::seconds(5)))
            .collect())
    }
}

/// `Retry-After`: whole seconds, or an HTTP date (RFC 9110 §10.2.3), read
/// against the answer's own `Date` (so no clock of ours is involved).
fn retry_after(value: &str, date: Option<&str>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let sent = chrono::DateTime::parse_from_rfc2822(date?.trim()).ok()?;
    Some((at - sent).to_std().unwrap_or_default())
}

impl TwilioClient {
    pub fn new(api_base: &str) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15))
            .build()
            .expect("HTTP client builds (is the TLS provider installed?)");
        Self { http, api_base: api_base.trim_end_matches('/').to_string(), status_base: None }
    }

    /// Asks Twilio to report each message's delivery to this deployment.
    pub fn with_status_callbacks(mut self, public_base_url: &str) -> Self {
        self.status_base = Some(public_base_url.trim_end_matches('/').to_string());
        self
    }

    /// Sends one message; returns Twilio's message SID.
    pub async fn send(
        &self,
        clinic_slug: &str,
        account_sid: &str,
        auth_token: &Secret<String>,
        from: &str,
        to: &str,
        content: Content<'_>,
    ) -> Result<String, SendError> {
        let url = format!("{}/2010-04-01/Accounts/{}/Messages.json", self.api_base, account_sid);
        let response = self
            .http
            .post(&url)
            .basic_auth(account_sid, Some(auth_token.expose()))
            .form(&{
                let mut form = vec![("From", from.to_string()), ("To", to.to_string())];
                // An approved template (outside WhatsApp's 24-hour window) is
                // sent by its Content SID and variables, never as free text.
                match content {
                    Content::Template { sid, variables } => {
                        form.push(("ContentSid", sid.to_string()));
                        form.push(("ContentVariables", variables.to_string()));
                    }
                    Content::Text(body) => form.push(("Body", body.to_string())),
                }
                if let Some(base) = &self.status_base {
                    form.push(("StatusCallback", format!("{base}/webhooks/twilio/{clinic_slug}/status")));
                }
                form
            })
            .send()
            .await
            .map_err(|e| {
                if e.is_connect() {
                    // Nothing reached Twilio: safe to try again.
                    SendError::Transient(format!("connection failed: {e}"))
                } else {
                    // The request may have been accepted: retrying could send twice.
                    SendError::Uncertain(format!("no answer: {e}"))
                }
            })?;
        let status = response.status();
        if status.is_success() {
            let created: Created = response.json().await.map_err(|e| SendError::Uncertain(format!("unreadable answer: {e}")))?;
            return Ok(created.sid);
        }
        let header = |name| response.headers().get(name).and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok());
        let retry_after = header(reqwest::header::RETRY_AFTER).and_then(|v| retry_after(v, header(reqwest::header::DATE)));
        let error: TwilioError = response.json().await.unwrap_or_default();
        let detail = format!("HTTP {} code {} {}", status.as_u16(), error.code.unwrap_or(0), error.message.unwrap_or_default());
        if status.as_u16() == 429 || error.code == Some(20429) || status.is_server_error() {
            return Err(match retry_after {
                Some(wait) => SendError::RetryAfter(detail, wait),
                None => SendError::Transient(detail),
            });
        }
        if error.code.is_some_and(|c| FINAL_CODES.contains(&c)) || status.is_client_error() {
            return Err(SendError::Final(detail));
        }
        Err(SendError::Transient(detail))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn retry_after_is_read_as_seconds_or_an_http_date() {
        use std::time::Duration;
        let date = Some("Wed, 21 Oct 2015 07:28:00 GMT");
        assert_eq!(super::retry_after("60", None), Some(Duration::from_secs(60)));
        assert_eq!(super::retry_after(" 0 ", date), Some(Duration::ZERO));
        assert_eq!(super::retry_after("Wed, 21 Oct 2015 07:30:00 GMT", date), Some(Duration::from_secs(120)));
        assert_eq!(super::retry_after("Wed, 21 Oct 2015 07:20:00 GMT", date), Some(Duration::ZERO), "a date passed: at once");
        assert_eq!(super::retry_after("Wed, 21 Oct 2015 07:30:00 GMT", None), None, "a date without the answer's Date is not guessed");
        assert_eq!(super::retry_after("soon", date), None);
    }
}
