//! How replies leave: through Twilio, or nowhere (the demo outbox and the
//! terminal chat store them and log a masked line instead).

use super::twilio::TwilioClient;
use crate::domain::{Channel, mask_phone};
use crate::secrets::{Cipher, Secret};
use crate::storage::{ClaimedOutbound, Store};
use tracing::{debug, info};

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Not sent; try again later.
    #[error("transient: {0}")]
    Transient(String),
    /// Refused for good (opted out, invalid number, no credentials…).
    #[error("final: {0}")]
    Final(String),
    /// Maybe sent: never retried, so that nothing is sent twice.
    #[error("uncertain: {0}")]
    Uncertain(String),
}

#[derive(Debug, Clone)]
pub enum Transport {
    Twilio(TwilioClient),
    /// Stores and logs (masked) instead of sending: `nuru demo`, `nuru chat`.
    LogOnly,
}

impl Transport {
    /// Sends one claimed reply; returns the provider's message id.
    pub async fn send(&self, store: &Store, cipher: &Cipher, m: &ClaimedOutbound) -> Result<String, SendError> {
        if m.channel == Channel::Chat || matches!(self, Transport::LogOnly) {
            info!(to = %mask_phone(m.to.as_str()), channel = m.channel.as_str(), chars = m.body.chars().count(), "reply stored in the local outbox");
            debug!(body = %m.body, "local outbox");
            return Ok(format!("local-{}", m.id));
        }
        let Transport::Twilio(client) = self else { unreachable!("LogOnly handled above") };
        let catalog_err = |e: crate::storage::StorageError| SendError::Transient(format!("database: {e}"));
        let clinic = store.clinic(m.clinic_id).await.map_err(catalog_err)?;
        let creds = store
            .twilio_credentials(m.clinic_id)
            .await
            .map_err(catalog_err)?
            .ok_or_else(|| SendError::Final("clinic has no Twilio account".into()))?;
        let token: Secret<String> = cipher.decrypt(&creds.auth_token_encrypted).map_err(|e| SendError::Final(e.to_string()))?;
        let (from, to) = match m.channel {
            Channel::WhatsApp => (clinic.whatsapp_number.map(|n| format!("whatsapp:{n}")), format!("whatsapp:{}", m.to.as_str())),
            _ => (clinic.sms_number, m.to.as_str().to_string()),
        };
        let from = from.ok_or_else(|| SendError::Final(format!("clinic has no {} number", m.channel.as_str())))?;
        client.send(&creds.account_sid, &token, &from, &to, &m.body).await
    }
}
