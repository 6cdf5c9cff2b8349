//! Secrets: a wrapper whose `Debug` never prints the value, and the cipher that
//! keeps channel credentials encrypted at rest (XChaCha20-Poly1305).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;

#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The only way to read the value: greppable on purpose.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(
        "the secret key (secret_key / NURU_SECRET_KEY, or the key file) must be 32 bytes encoded in base64, for example from `openssl rand -base64 32`"
    )]
    BadKey,
    #[error("secret key file {0}: {1}")]
    KeyFile(String, std::io::Error),
    #[error("stored secret cannot be decrypted with this key")]
    Decrypt,
}

/// Encrypts and decrypts stored secrets. Format: `v1:` + base64(nonce ‖ ciphertext).
#[derive(Clone)]
pub struct Cipher(XChaCha20Poly1305);

impl fmt::Debug for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cipher(<redacted>)")
    }
}

impl Cipher {
    pub fn from_base64(key: &str) -> Result<Self, SecretError> {
        let bytes = B64.decode(key.trim()).map_err(|_| SecretError::BadKey)?;
        let cipher = XChaCha20Poly1305::new_from_slice(&bytes).map_err(|_| SecretError::BadKey)?;
        Ok(Self(cipher))
    }

    /// Reads the key file, creating it (mode 0600) with a random key if missing.
    pub fn from_key_file(path: &Path) -> Result<Self, SecretError> {
        let err = |e| SecretError::KeyFile(path.display().to_string(), e);
        if !path.exists() {
            let key = XChaCha20Poly1305::generate_key(&mut OsRng);
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(err)?;
            }
            std::fs::write(path, B64.encode(key)).map_err(err)?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
            }
        }
        let text = std::fs::read_to_string(path).map_err(err)?;
        Self::from_base64(&text)
    }

    pub fn random() -> Self {
        Self(XChaCha20Poly1305::new(&XChaCha20Poly1305::generate_key(&mut OsRng)))
    }

    pub fn encrypt(&self, plaintext: &str) -> String {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let ciphertext = self.0.encrypt(&nonce, plaintext.as_bytes()).expect("encryption cannot fail for in-memory data");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ciphertext);
        format!("v1:{}", B64.encode(out))
    }

    pub fn decrypt(&self, stored: &str) -> Result<Secret<String>, SecretError> {
        let raw = stored.strip_prefix("v1:").ok_or(SecretError::Decrypt)?;
        let bytes = B64.decode(raw).map_err(|_| SecretError::Decrypt)?;
        if bytes.len() < 24 {
            return Err(SecretError::Decrypt);
        }
        let (nonce, ciphertext) = bytes.split_at(24);
        let plain = self.0.decrypt(XNonce::from_slice(nonce), ciphertext).map_err(|_| SecretError::Decrypt)?;
        String::from_utf8(plain).map(Secret::new).map_err(|_| SecretError::Decrypt)
    }
}

/// An unguessable URL-safe token (256 bits): calendar feed links and the like.
pub fn random_token() -> String {
    use chacha20poly1305::aead::rand_core::RngCore;
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_redaction() {
        let c = Cipher::random();
        let stored = c.encrypt("auth-token-123");
        assert!(!stored.contains("auth-token"));
        let back = c.decrypt(&stored).unwrap();
        assert_eq!(back.expose(), "auth-token-123");
        assert_eq!(format!("{back:?}"), "Secret(<redacted>)");
        assert!(Cipher::random().decrypt(&stored).is_err());
    }
}
