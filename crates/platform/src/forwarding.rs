//! What the gateway vouches for when it forwards a call: that the call came
//! through it, under which request id. A service records the channel and the
//! request id of an action from this voucher alone, never from metadata a
//! caller may write: a call straight at a service's port, whatever it
//! claims, is recorded as a direct gRPC call with no request id.
//!
//! The voucher is `<unix seconds>.<request id>.<HMAC-SHA256>` under a key
//! the gateway and the services share (`MASAR_FORWARDING_KEY`), fresh for
//! [`FRESH_FOR`], so one seen on the wire soon stops being of use.

use hmac::{Hmac, Mac as _};
use secrecy::{ExposeSecret as _, SecretString};
use sha2::Sha256;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The metadata (and, inside the gateway, the header) carrying the voucher.
pub const FORWARDED: &str = "masar-forwarded";

/// How long a voucher is accepted after the gateway wrote it (clocks of a
/// cluster agree to well within this).
pub const FRESH_FOR: Duration = Duration::from_secs(60);

/// A call the gateway forwarded, as its voucher says; in the request's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forwarded {
    /// The HTTP request's `X-Request-Id`.
    pub request_id: String,
}

#[derive(Debug, thiserror::Error)]
#[error("MASAR_FORWARDING_KEY must be 64 hex characters (`openssl rand -hex 32`)")]
pub struct InvalidForwardingKey;

/// The key the gateway signs vouchers with and every service checks them with.
#[derive(Clone)]
pub struct ForwardingKey([u8; 32]);

impl std::fmt::Debug for ForwardingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ForwardingKey(…)")
    }
}

/// A request id is kept only when it looks like one (it is stored and shown to staff).
fn is_request_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic())
}

impl ForwardingKey {
    pub fn from_hex(key: &SecretString) -> Result<Self, InvalidForwardingKey> {
        crate::hex::decode_key(key.expose_secret()).map(Self).ok_or(InvalidForwardingKey)
    }

    fn mac(&self, seconds: u64, request_id: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(format!("{seconds}\n{request_id}").as_bytes());
        mac
    }

    /// The voucher for a call forwarded `now` under `request_id` (none when the id is not one).
    pub fn vouch(&self, request_id: &str, now: SystemTime) -> Option<String> {
        if !is_request_id(request_id) {
            return None;
        }
        let seconds = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let tag = crate::hex::encode(&self.mac(seconds, request_id).finalize().into_bytes());
        Some(format!("{seconds}.{request_id}.{tag}"))
    }

    /// The forwarded call `voucher` stands for, if this key signed it and it is fresh at `now`.
    pub fn verify(&self, voucher: &str, now: SystemTime) -> Option<Forwarded> {
        let (seconds, rest) = voucher.split_once('.')?;
        let (request_id, tag) = rest.rsplit_once('.')?;
        let seconds: u64 = seconds.parse().ok()?;
        let written = UNIX_EPOCH + Duration::from_secs(seconds);
        let age = now.duration_since(written).unwrap_or_else(|ahead| ahead.duration());
        if age > FRESH_FOR || !is_request_id(request_id) || tag.len() != 64 {
            return None;
        }
        let tag: Vec<u8> =
            (0..32).map(|i| u8::from_str_radix(tag.get(2 * i..2 * i + 2)?, 16).ok()).collect::<Option<_>>()?;
        // Compared in constant time.
        self.mac(seconds, request_id).verify_slice(&tag).ok()?;
        Some(Forwarded { request_id: request_id.to_owned() })
    }
}

/// Checks the voucher of every call a service's port takes, and names the
/// forwarded ones in the request's extensions (where [`crate::audit::Actor`]
/// reads them); a missing, stale or forged voucher names nothing.
#[derive(Clone)]
pub struct CheckVouchers<S> {
    pub inner: S,
    pub key: ForwardingKey,
}

impl<S, B> tower::Service<http::Request<B>> for CheckVouchers<S>
where
    S: tower::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let voucher = request.headers().get(FORWARDED).and_then(|v| v.to_str().ok());
        let forwarded = voucher.and_then(|voucher| self.key.verify(voucher, SystemTime::now()));
        request.extensions_mut().remove::<Forwarded>();
        if let Some(forwarded) = forwarded {
            request.extensions_mut().insert(forwarded);
        }
        self.inner.call(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ForwardingKey {
        ForwardingKey::from_hex(&crate::hex::random_key()).unwrap()
    }

    #[test]
    fn only_a_fresh_voucher_of_the_same_key_vouches() {
        let (key, now) = (key(), SystemTime::now());
        let voucher = key.vouch("8f3c-request.with.dots", now).unwrap();
        assert_eq!(key.verify(&voucher, now).unwrap().request_id, "8f3c-request.with.dots");
        assert!(key.verify(&voucher, now + FRESH_FOR + Duration::from_secs(1)).is_none(), "stale");
        assert!(self::key().verify(&voucher, now).is_none(), "another key");
        let forged = voucher.replacen("8f3c", "0000", 1);
        assert!(key.verify(&forged, now).is_none(), "another id under the same tag");
        for junk in ["", "gateway", "1.2", "x.y.z", &format!("{voucher}0")] {
            assert!(key.verify(junk, now).is_none(), "{junk:?}");
        }
        assert!(key.vouch("two words", now).is_none(), "not an id");
    }
}
