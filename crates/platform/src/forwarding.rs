//! What the gateway vouches for when it forwards a call: that the call came
//! through it, from which client address, under which request id. A service
//! records the channel and the request id of an action, and counts failed
//! sign-ins per client, from this voucher alone, never from metadata a
//! caller may write: a call straight at a service's port, whatever it
//! claims, is a direct gRPC call with no request id.
//!
//! The voucher is `<unix seconds> <client> <request id> <HMAC-SHA256>`
//! under a key the gateway and the services share (`MASAR_FORWARDING_KEY`),
//! fresh for [`FRESH_FOR`], so one seen on the wire soon stops being of use.

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
    /// The client's address as the gateway saw it (`-` when it knew none).
    pub client: String,
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

    fn mac(&self, seconds: u64, client: &str, request_id: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(format!("{seconds}\n{client}\n{request_id}").as_bytes());
        mac
    }

    /// The voucher for a call from `client` forwarded `now` under `request_id`
    /// (none when the id is not one).
    pub fn vouch(&self, client: Option<std::net::IpAddr>, request_id: &str, now: SystemTime) -> Option<String> {
        if !is_request_id(request_id) {
            return None;
        }
        let client = client.map_or_else(|| "-".to_owned(), |address| address.to_string());
        let seconds = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let tag = crate::hex::encode(&self.mac(seconds, &client, request_id).finalize().into_bytes());
        Some(format!("{seconds} {client} {request_id} {tag}"))
    }

    /// The forwarded call `voucher` stands for, if this key signed it and it is fresh at `now`.
    pub fn verify(&self, voucher: &str, now: SystemTime) -> Option<Forwarded> {
        let mut parts = voucher.split(' ');
        let (seconds, client, request_id, tag) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let seconds: u64 = seconds.parse().ok()?;
        let written = UNIX_EPOCH + Duration::from_secs(seconds);
        let age = now.duration_since(written).unwrap_or_else(|ahead| ahead.duration());
        if age > FRESH_FOR || !is_request_id(request_id) || tag.len() != 64 {
            return None;
        }
        let tag: Vec<u8> =
            (0..32).map(|i| u8::from_str_radix(tag.get(2 * i..2 * i + 2)?, 16).ok()).collect::<Option<_>>()?;
        // Compared in constant time.
        self.mac(seconds, client, request_id).verify_slice(&tag).ok()?;
        Some(Forwarded { request_id: request_id.to_owned(), client: client.to_owned() })
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
        // Extensions are the server's own: a caller cannot put one there.
        if let Some(forwarded) = voucher.and_then(|voucher| self.key.verify(voucher, SystemTime::now())) {
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
        let client = Some("10.0.0.7".parse().unwrap());
        let voucher = key.vouch(client, "8f3c-request.with.dots", now).unwrap();
        let forwarded = key.verify(&voucher, now).unwrap();
        assert_eq!((forwarded.request_id.as_str(), forwarded.client.as_str()), ("8f3c-request.with.dots", "10.0.0.7"));
        assert!(key.verify(&voucher, now + FRESH_FOR + Duration::from_secs(1)).is_none(), "stale");
        assert!(self::key().verify(&voucher, now).is_none(), "another key");
        for forged in [voucher.replacen("8f3c", "0000", 1), voucher.replacen("10.0.0.7", "10.0.0.8", 1)] {
            assert!(key.verify(&forged, now).is_none(), "{forged}: another id or client under the same tag");
        }
        for junk in ["", "gateway", "1 2 3", "x y z w", &format!("{voucher}0"), &format!("{voucher} extra")] {
            assert!(key.verify(junk, now).is_none(), "{junk:?}");
        }
        assert!(key.vouch(None, "two words", now).is_none(), "not an id");
        assert_eq!(key.verify(&key.vouch(None, "r", now).unwrap(), now).unwrap().client, "-");
    }
}
