//! The clinic and Twilio credentials a webhook is checked with, kept in
//! memory for a short while: an acknowledgement then costs no lookup and no
//! decryption. A signature that fails against a kept token is checked again
//! against the database before the request is refused, so a new token set
//! through the admin API is honoured at once on every node. The old token
//! stops working at once on the node that took the change and within
//! [`KEEP_FOR`] on the others.

use crate::domain::ClinicId;
use crate::secrets::{Cipher, Secret};
use crate::storage::{StorageError, Store};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a clinic's keys are reused before they are read again (a
/// deleted clinic or removed credentials take effect within this).
pub const KEEP_FOR: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub struct WebhookKey {
    pub clinic_id: ClinicId,
    pub account_sid: String,
    pub auth_token: Secret<String>,
}

#[derive(Debug)]
pub enum Lookup {
    /// The key, and whether it was read from the database just now.
    Found {
        key: Arc<WebhookKey>,
        fresh: bool,
    },
    UnknownClinic,
    NoCredentials,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("stored Twilio token cannot be decrypted: {0}")]
    Decrypt(String),
}

#[derive(Debug, Default)]
pub struct WebhookKeys {
    kept: Mutex<HashMap<String, (Arc<WebhookKey>, Instant)>>,
}

impl WebhookKeys {
    /// Drops what is kept for a clinic whose credentials just changed.
    pub fn forget(&self, clinic: ClinicId) {
        self.kept.lock().expect("keys lock").retain(|_, (key, _)| key.clinic_id != clinic);
    }

    /// The clinic's key by slug: the kept one unless `reload`, older than
    /// [`KEEP_FOR`], or absent.
    pub async fn get(&self, store: &Store, cipher: &Cipher, slug: &str, reload: bool) -> Result<Lookup, KeyError> {
        if !reload
            && let Some((key, at)) = self.kept.lock().expect("keys lock").get(slug)
            && at.elapsed() < KEEP_FOR
        {
            return Ok(Lookup::Found { key: key.clone(), fresh: false });
        }
        let Some(clinic) = store.clinic_by_slug(slug).await? else {
            self.kept.lock().expect("keys lock").remove(slug);
            return Ok(Lookup::UnknownClinic);
        };
        let Some(creds) = store.twilio_credentials(clinic.id).await? else {
            self.kept.lock().expect("keys lock").remove(slug);
            return Ok(Lookup::NoCredentials);
        };
        let token = cipher.decrypt(&creds.auth_token_encrypted).map_err(|e| KeyError::Decrypt(e.to_string()))?;
        let key = Arc::new(WebhookKey { clinic_id: clinic.id, account_sid: creds.account_sid, auth_token: token });
        self.kept.lock().expect("keys lock").insert(slug.to_string(), (key.clone(), Instant::now()));
        Ok(Lookup::Found { key, fresh: true })
    }
}
