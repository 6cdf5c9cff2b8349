//! `POST /webhooks/twilio/{clinic}`: verify, store, acknowledge. Nothing else
//! happens before the acknowledgement: no model, no reply, no booking.

use super::keys::Lookup;
use super::signature::VerifiedInbound;
use crate::app_state::AppState;
use crate::domain::Channel;
use crate::storage::NewInbound;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tracing::{error, warn};

/// How long an acknowledgement may wait for its clinic's key and its message
/// to be stored
/// (Twilio gives up at 15 s; a 503 sooner makes it retry sooner).
const STORE_BUDGET: std::time::Duration = std::time::Duration::from_secs(2);

const EMPTY_TWIML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>";

fn refuse(status: StatusCode, reason: &str, outcome: &'static str) -> (Response, &'static str) {
    let body = format!("{{\"error\":{}}}", serde_json::json!(reason));
    ((status, [(header::CONTENT_TYPE, "application/json")], body).into_response(), outcome)
}

pub async fn inbound(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = std::time::Instant::now();
    // A webhook that cannot be verified and stored within the budget (the
    // database is gone or stuck) is answered 503 at once, so Twilio retries;
    // a late commit of it is then a duplicate, acknowledged and processed once.
    let (response, outcome) = match tokio::time::timeout(STORE_BUDGET, receive(&app, slug.clone(), uri, headers, body)).await {
        Ok(answer) => answer,
        Err(_) => {
            warn!(clinic = %slug, "inbound message not stored within the budget: answered 503");
            refuse(StatusCode::SERVICE_UNAVAILABLE, "temporarily unavailable", "unavailable")
        }
    };
    let acknowledged = response.status() == StatusCode::OK;
    app.metrics.webhook(outcome, acknowledged.then(|| started.elapsed().as_secs_f64()));
    response
}

type Refusal = (Response, &'static str);

/// The clinic a webhook is for and its verified fields: the signature is
/// checked against the clinic's auth token (read again before a refusal, in
/// case the credentials just changed) and the public URL; anything else is
/// refused with its reason and a trace for staff.
async fn verify(
    app: &AppState,
    slug: &str,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(crate::domain::ClinicId, VerifiedInbound), Refusal> {
    // A slug no clinic could have (a NUL, a stray byte) is unknown at once,
    // before it reaches the database.
    if crate::domain::check_slug(slug).is_err() {
        return Err(refuse(StatusCode::NOT_FOUND, "unknown clinic", "unknown_clinic"));
    }
    let slug = slug.to_string();
    let lookup = |reload: bool| {
        let app = app.clone();
        let slug = slug.clone();
        async move { app.webhook_keys.get(&app.store, &app.cipher, &slug, reload).await }
    };
    let (mut key, mut fresh) = match lookup(false).await {
        Ok(Lookup::Found { key, fresh }) => (key, fresh),
        Ok(Lookup::UnknownClinic) => return Err(refuse(StatusCode::NOT_FOUND, "unknown clinic", "unknown_clinic")),
        Ok(Lookup::NoCredentials) => return Err(refuse(StatusCode::NOT_FOUND, "this clinic has no Twilio account", "no_credentials")),
        Err(e) => {
            error!(clinic = %slug, error = %e, "clinic or credentials lookup failed");
            return Err(refuse(StatusCode::SERVICE_UNAVAILABLE, "temporarily unavailable", "unavailable"));
        }
    };
    let Some(signature) = headers.get("x-twilio-signature").and_then(|v| v.to_str().ok()) else {
        warn!(clinic = %slug, "webhook without signature refused");
        record(app, key.clinic_id, "webhook_signature_missing").await;
        return Err(refuse(StatusCode::FORBIDDEN, "missing X-Twilio-Signature", "signature_missing"));
    };
    let Ok(fields) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(body) else {
        return Err(refuse(StatusCode::BAD_REQUEST, "body must be application/x-www-form-urlencoded", "bad_request"));
    };
    // The URL Twilio signed is the public one, never what Host or X-Forwarded-* say.
    let path_and_query = uri.path_and_query().map(|p| p.as_str()).unwrap_or(uri.path());
    let url = format!("{}{}", app.config.public_base_url, path_and_query);
    let verified = loop {
        match VerifiedInbound::verify(&url, fields.clone(), key.auth_token.expose(), signature) {
            Some(v) if v.get("AccountSid").is_none_or(|a| a == key.account_sid) => break v,
            // A kept key may be older than the clinic's current credentials:
            // read them again before refusing.
            _ if !fresh => match lookup(true).await {
                Ok(Lookup::Found { key: k, .. }) => (key, fresh) = (k, true),
                Ok(_) => return Err(refuse(StatusCode::NOT_FOUND, "this clinic has no Twilio account", "no_credentials")),
                Err(e) => {
                    error!(clinic = %slug, error = %e, "clinic or credentials lookup failed");
                    return Err(refuse(StatusCode::SERVICE_UNAVAILABLE, "temporarily unavailable", "unavailable"));
                }
            },
            Some(_) => {
                warn!(clinic = %slug, "webhook signed for another account refused");
                record(app, key.clinic_id, "webhook_account_mismatch").await;
                return Err(refuse(StatusCode::FORBIDDEN, "AccountSid does not match this clinic", "account_mismatch"));
            }
            None => {
                warn!(clinic = %slug, "webhook with invalid signature refused");
                record(app, key.clinic_id, "webhook_signature_invalid").await;
                return Err(refuse(StatusCode::FORBIDDEN, "invalid X-Twilio-Signature", "signature_invalid"));
            }
        }
    };
    Ok((key.clinic_id, verified))
}

/// The webhook, and the name of its outcome for the metrics.
async fn receive(app: &AppState, slug: String, uri: axum::http::Uri, headers: HeaderMap, body: Bytes) -> (Response, &'static str) {
    let (clinic_id, verified) = match verify(app, &slug, &uri, &headers, &body).await {
        Ok(v) => v,
        Err(refused) => return refused,
    };
    let Some(sid) = verified.get("MessageSid").or_else(|| verified.get("SmsMessageSid")).filter(|s| !s.is_empty()) else {
        return refuse(StatusCode::BAD_REQUEST, "missing MessageSid", "bad_request");
    };
    if sid.len() > 64 || sid.chars().any(char::is_control) {
        return refuse(StatusCode::BAD_REQUEST, "invalid MessageSid", "bad_request");
    }
    let Some(from) = verified.get("From") else {
        return refuse(StatusCode::BAD_REQUEST, "missing From", "bad_request");
    };
    let (channel, from) = match Channel::from_twilio_address(from) {
        Ok(parsed) => parsed,
        Err(reason) => return refuse(StatusCode::BAD_REQUEST, &format!("invalid From: {reason}"), "bad_request"),
    };
    // A tapped WhatsApp button carries its payload; otherwise the text.
    let text = verified.get("ButtonPayload").filter(|p| !p.is_empty()).or_else(|| verified.get("Body")).unwrap_or_default();
    let fields: serde_json::Map<String, serde_json::Value> =
        verified.fields().iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect();
    let message = NewInbound {
        clinic_id,
        provider_message_id: sid.to_string(),
        channel,
        from,
        // A NUL is never text a person wrote, and PostgreSQL refuses it.
        body: text.replace('\0', ""),
        fields_json: serde_json::Value::Object(fields).to_string(),
        received_at: app.clock.now(),
    };
    let outcome = match app.intake.store(message).await {
        Ok(true) => {
            app.inbound_ready.notify_one();
            "accepted"
        }
        Ok(false) => {
            tracing::debug!(clinic = %slug, "duplicate delivery acknowledged");
            "duplicate"
        }
        Err(e) => {
            // Twilio retries on failure only for some errors: a 5xx is our
            // honest answer, the message was not stored.
            // The store logs the database's failing once (ERROR); each
            // refused message is a warning.
            warn!(clinic = %slug, error = %e, "inbound message could not be stored: answered 503");
            return refuse(StatusCode::SERVICE_UNAVAILABLE, "temporarily unavailable", "unavailable");
        }
    };
    ((StatusCode::OK, [(header::CONTENT_TYPE, "text/xml")], EMPTY_TWIML).into_response(), outcome)
}

/// Twilio's rank of a message status: a status callback only moves a reply
/// forward. `None` for statuses of inbound messages or unknown ones.
pub fn delivery_rank(status: &str) -> Option<i64> {
    Some(match status {
        "accepted" | "scheduled" | "queued" => 1,
        "sending" => 2,
        "sent" => 3,
        "undelivered" | "failed" | "canceled" => 4,
        "delivered" | "partially_delivered" => 5,
        "read" => 6,
        _ => return None,
    })
}

/// `POST /webhooks/twilio/{clinic}/status`: Twilio's status callback for a
/// reply (the `StatusCallback` every send names). Signed and checked like an
/// inbound message; recorded only when it moves the reply forward, so
/// repeated and out-of-order callbacks change nothing. Always a quick 200
/// once verified: Twilio need not retry a status Nuru does not use.
pub async fn status(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (clinic_id, verified) = match verify(&app, &slug, &uri, &headers, &body).await {
        Ok(v) => v,
        Err((refused, outcome)) => {
            app.metrics.webhook(outcome, None);
            return refused;
        }
    };
    let Some(sid) = verified.get("MessageSid").filter(|s| !s.is_empty()) else {
        return refuse(StatusCode::BAD_REQUEST, "missing MessageSid", "bad_request").0;
    };
    let Some(status) = verified.get("MessageStatus").or_else(|| verified.get("SmsStatus")) else {
        return refuse(StatusCode::BAD_REQUEST, "missing MessageStatus", "bad_request").0;
    };
    if let Some(rank) = delivery_rank(status) {
        let code = verified.get("ErrorCode").and_then(|c| c.parse::<i64>().ok());
        if let Err(e) = app.store.record_delivery_status(clinic_id, sid, status, rank, code, app.clock.now()).await {
            error!(clinic = %slug, error = %e, "delivery status could not be stored");
            return refuse(StatusCode::SERVICE_UNAVAILABLE, "temporarily unavailable", "unavailable").0;
        }
        if matches!(status, "failed" | "undelivered") {
            warn!(clinic = %slug, code = code.unwrap_or(0), "a reply was not delivered");
        }
    }
    app.metrics.webhook("status_callback", None);
    StatusCode::OK.into_response()
}

/// A refused webhook leaves one trace for staff (kind and clinic only, at
/// most once a minute per kind): nothing of what it carried is kept.
async fn record(app: &AppState, clinic: crate::domain::ClinicId, kind: &str) {
    if let Err(e) = app.store.system_event(Some(clinic), kind, "", app.clock.now()).await {
        error!(error = %e, "system event not recorded");
    }
}
