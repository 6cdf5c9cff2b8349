//! `POST /webhooks/twilio/{clinic}`: verify, store, acknowledge. Nothing else
//! happens before the acknowledgement: no model, no reply, no booking.

use super::signature::VerifiedInbound;
use crate::app_state::AppState;
use crate::domain::Channel;
use crate::storage::NewInbound;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tracing::{error, warn};

const EMPTY_TWIML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>";

fn refuse(status: StatusCode, reason: &str) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], format!("{{\"error\":{}}}", serde_json::json!(reason))).into_response()
}

pub async fn inbound(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let clinic = match app.store.clinic_by_slug(&slug).await {
        Ok(Some(c)) => c,
        Ok(None) => return refuse(StatusCode::NOT_FOUND, "unknown clinic"),
        Err(e) => {
            error!(error = %e, "clinic lookup failed");
            return refuse(StatusCode::SERVICE_UNAVAILABLE, "temporarily unavailable");
        }
    };
    let creds = match app.store.twilio_credentials(clinic.id).await {
        Ok(Some(c)) => c,
        Ok(None) => return refuse(StatusCode::NOT_FOUND, "this clinic has no Twilio account"),
        Err(e) => {
            error!(error = %e, "credentials lookup failed");
            return refuse(StatusCode::SERVICE_UNAVAILABLE, "temporarily unavailable");
        }
    };
    let Some(signature) = headers.get("x-twilio-signature").and_then(|v| v.to_str().ok()) else {
        warn!(clinic = %slug, "webhook without signature refused");
        record(&app, clinic.id, "webhook_signature_missing").await;
        return refuse(StatusCode::FORBIDDEN, "missing X-Twilio-Signature");
    };
    let Ok(fields) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body) else {
        return refuse(StatusCode::BAD_REQUEST, "body must be application/x-www-form-urlencoded");
    };
    let token = match app.cipher.decrypt(&creds.auth_token_encrypted) {
        Ok(t) => t,
        Err(e) => {
            error!(clinic = %slug, error = %e, "stored Twilio token cannot be decrypted");
            return refuse(StatusCode::SERVICE_UNAVAILABLE, "temporarily unavailable");
        }
    };
    // The URL Twilio signed is the public one, never what Host or X-Forwarded-* say.
    let path_and_query = uri.path_and_query().map(|p| p.as_str()).unwrap_or(uri.path());
    let url = format!("{}{}", app.config.public_base_url, path_and_query);
    let Some(verified) = VerifiedInbound::verify(&url, fields, token.expose(), signature) else {
        warn!(clinic = %slug, "webhook with invalid signature refused");
        record(&app, clinic.id, "webhook_signature_invalid").await;
        return refuse(StatusCode::FORBIDDEN, "invalid X-Twilio-Signature");
    };
    if verified.get("AccountSid").is_some_and(|a| a != creds.account_sid) {
        warn!(clinic = %slug, "webhook signed for another account refused");
        record(&app, clinic.id, "webhook_account_mismatch").await;
        return refuse(StatusCode::FORBIDDEN, "AccountSid does not match this clinic");
    }
    let Some(sid) = verified.get("MessageSid").or_else(|| verified.get("SmsMessageSid")).filter(|s| !s.is_empty()) else {
        return refuse(StatusCode::BAD_REQUEST, "missing MessageSid");
    };
    let Some(from) = verified.get("From") else {
        return refuse(StatusCode::BAD_REQUEST, "missing From");
    };
    let (channel, from) = match Channel::from_twilio_address(from) {
        Ok(parsed) => parsed,
        Err(reason) => return refuse(StatusCode::BAD_REQUEST, &format!("invalid From: {reason}")),
    };
    // A tapped WhatsApp button carries its payload; otherwise the text.
    let text = verified.get("ButtonPayload").filter(|p| !p.is_empty()).or_else(|| verified.get("Body")).unwrap_or_default();
    let fields: serde_json::Map<String, serde_json::Value> =
        verified.fields().iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect();
    let message = NewInbound {
        clinic_id: clinic.id,
        provider_message_id: sid.to_string(),
        channel,
        from,
        body: text.to_string(),
        fields_json: serde_json::Value::Object(fields).to_string(),
        received_at: app.clock.now(),
    };
    match app.store.insert_inbound(&message).await {
        Ok(true) => app.inbound_ready.notify_one(),
        Ok(false) => tracing::debug!(clinic = %slug, "duplicate delivery acknowledged"),
        Err(e) => {
            // Twilio retries on failure only for some errors: a 5xx is our
            // honest answer, the message was not stored.
            error!(clinic = %slug, error = %e, "inbound message could not be stored");
            return refuse(StatusCode::SERVICE_UNAVAILABLE, "temporarily unavailable");
        }
    }
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/xml")], EMPTY_TWIML).into_response()
}

/// A refused webhook leaves one trace for staff (kind and clinic only, at
/// most once a minute per kind): nothing of what it carried is kept.
async fn record(app: &AppState, clinic: crate::domain::ClinicId, kind: &str) {
    if let Err(e) = app.store.system_event(Some(clinic), kind, "", app.clock.now()).await {
        error!(error = %e, "system event not recorded");
    }
}
