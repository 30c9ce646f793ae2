//! Sealed values: a secret one service hands another through the outbox and
//! the queue (a one-time password on its way to the SMS) is encrypted with a
//! key only those two services hold, so no table or stream keeps it in clear.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD as BASE64;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;

const NONCE_BYTES: usize = 24;

/// Seals and opens with one 256-bit key (XChaCha20-Poly1305, random nonce per value).
#[derive(Clone)]
pub struct Sealer {
    cipher: Arc<XChaCha20Poly1305>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SealingError {
    #[error("a sealing key is 64 hexadecimal characters (32 bytes); generate one with `openssl rand -hex 32`")]
    BadKey,
    #[error("the sealed value is damaged, or was sealed with another key")]
    CannotOpen,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl Sealer {
    /// A key written as 64 hex characters.
    pub fn from_hex(key: &SecretString) -> Result<Self, SealingError> {
        let bytes = crate::hex::decode_key(key.expose_secret()).ok_or(SealingError::BadKey)?;
        Ok(Self { cipher: Arc::new(XChaCha20Poly1305::new(&bytes.into())) })
    }

    pub fn seal(&self, secret: &SecretString) -> String {
        let nonce: [u8; NONCE_BYTES] = rand::rng().random();
        let sealed = self
            .cipher
            .encrypt(&XNonce::from(nonce), secret.expose_secret().as_bytes())
            .expect("encrypting a short text in memory cannot fail");
        BASE64.encode([nonce.as_slice(), &sealed].concat())
    }

    pub fn open(&self, sealed: &str) -> Result<SecretString, SealingError> {
        let bytes = BASE64.decode(sealed.trim()).map_err(|_| SealingError::CannotOpen)?;
        if bytes.len() <= NONCE_BYTES {
            return Err(SealingError::CannotOpen);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        let nonce = XNonce::from(<[u8; NONCE_BYTES]>::try_from(nonce).map_err(|_| SealingError::CannotOpen)?);
        let clear = self.cipher.decrypt(&nonce, ciphertext).map_err(|_| SealingError::CannotOpen)?;
        String::from_utf8(clear).map(SecretString::from).map_err(|_| SealingError::CannotOpen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key() {
        let sealer = Sealer::from_hex(&crate::hex::random_key()).unwrap();
        let secret = SecretString::from("K7m2Qx9p");
        let sealed = sealer.seal(&secret);
        assert!(!sealed.contains("K7m2Qx9p"));
        assert_ne!(sealed, sealer.seal(&secret), "each seal has its own nonce");
        assert_eq!(sealer.open(&sealed).unwrap().expose_secret(), "K7m2Qx9p");
        let other = Sealer::from_hex(&crate::hex::random_key()).unwrap();
        assert_eq!(other.open(&sealed).unwrap_err(), SealingError::CannotOpen);
        assert_eq!(sealer.open("not sealed").unwrap_err(), SealingError::CannotOpen);
    }

    #[test]
    fn keys_are_64_hex_characters() {
        assert!(Sealer::from_hex(&SecretString::from("ab".repeat(32))).is_ok());
        assert_eq!(Sealer::from_hex(&SecretString::from("ab".repeat(16))).unwrap_err(), SealingError::BadKey);
        assert_eq!(Sealer::from_hex(&SecretString::from("zz".repeat(32))).unwrap_err(), SealingError::BadKey);
        assert!(!format!("{:?}", Sealer::from_hex(&SecretString::from("ab".repeat(32))).unwrap()).contains("ab"));
    }
}
