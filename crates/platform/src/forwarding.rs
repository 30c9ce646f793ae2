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
//!
//! A service calling another (identity reaching intake's registry) vouches
//! for itself the same way, under [`SERVICE_CALL`]: `<unix seconds> <role>
//! <HMAC-SHA256>`, under a key of its own that only the two services hold
//! (`MASAR_REGISTRY_KEY`), its tag domain-separated from the gateway's, so
//! neither voucher can stand for the other.

use crate::role::Role;
use hmac::{Hmac, Mac as _};
use secrecy::{ExposeSecret as _, SecretString};
use sha2::Sha256;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The metadata (and, inside the gateway, the header) carrying the voucher.
pub const FORWARDED: &str = "masar-forwarded";

/// The metadata carrying a calling service's voucher for itself.
pub const SERVICE_CALL: &str = "masar-service";

/// How far ahead of this clock a voucher may be dated (the clocks of a cluster agree to well within it).
const CLOCK_SKEW: Duration = Duration::from_secs(5);

/// Whether a voucher written at `written` is fresh at `now`: not older than
/// [`FRESH_FOR`], nor dated ahead by more than the clocks' skew.
fn fresh(written: SystemTime, now: SystemTime) -> bool {
    match now.duration_since(written) {
        Ok(age) => age <= FRESH_FOR,
        Err(ahead) => ahead.duration() <= CLOCK_SKEW,
    }
}

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
        if !fresh(UNIX_EPOCH + Duration::from_secs(seconds), now) || !is_request_id(request_id) {
            return None;
        }
        let tag = crate::hex::decode_key(tag)?;
        // Compared in constant time.
        self.mac(seconds, client, request_id).verify_slice(&tag).ok()?;
        Some(Forwarded { request_id: request_id.to_owned(), client: client.to_owned() })
    }
}

impl ForwardingKey {
    fn service_mac(&self, seconds: u64, role: Role) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(format!("service\n{seconds}\n{role}").as_bytes());
        mac
    }

    /// The voucher `role` sends with a call of its own to another service, `now`.
    pub fn vouch_for_service(&self, role: Role, now: SystemTime) -> String {
        let seconds = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let tag = crate::hex::encode(&self.service_mac(seconds, role).finalize().into_bytes());
        format!("{seconds} {role} {tag}")
    }

    /// The service `voucher` stands for, if this key signed it and it is fresh at `now`.
    pub fn verify_service(&self, voucher: &str, now: SystemTime) -> Option<Role> {
        let mut parts = voucher.split(' ');
        let (seconds, role, tag) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let (seconds, role): (u64, Role) = (seconds.parse().ok()?, Role::parse(role)?);
        if !fresh(UNIX_EPOCH + Duration::from_secs(seconds), now) {
            return None;
        }
        let tag = crate::hex::decode_key(tag)?;
        self.service_mac(seconds, role).verify_slice(&tag).ok()?;
        Some(role)
    }
}

/// A service making calls of its own to another: each carries its voucher
/// for itself (see [`SERVICE_CALL`]).
#[derive(Clone)]
pub struct VouchAs {
    pub key: ForwardingKey,
    pub role: Role,
}

impl VouchAs {
    /// `message` as a call that says which service makes it.
    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        let voucher = self.key.vouch_for_service(self.role, SystemTime::now());
        // Digits, a role name and hex: always valid metadata.
        if let Ok(value) = voucher.parse() {
            request.metadata_mut().insert(SERVICE_CALL, value);
        }
        request
    }
}

/// Serves a service to `role` alone: a call without its fresh voucher under
/// `key` is refused before any handler runs, whatever token it carries, so
/// no method of the service can forget the check.
#[derive(Clone)]
pub struct OnlyFrom {
    pub key: ForwardingKey,
    pub role: Role,
}

impl tonic::service::Interceptor for OnlyFrom {
    fn call(&mut self, request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        let voucher = request.metadata().get(SERVICE_CALL).and_then(|v| v.to_str().ok());
        match voucher.and_then(|voucher| self.key.verify_service(voucher, SystemTime::now())) {
            Some(role) if role == self.role => Ok(request),
            _ => Err(tonic::Status::permission_denied(format!("only the {} service calls this", self.role))),
        }
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
        assert!(key.verify(&voucher, now - CLOCK_SKEW - Duration::from_secs(1)).is_none(), "dated ahead");
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

    #[test]
    fn a_service_vouches_only_for_itself_and_never_as_the_gateway() {
        let (key, now) = (key(), SystemTime::now());
        let voucher = key.vouch_for_service(Role::Identity, now);
        assert_eq!(key.verify_service(&voucher, now), Some(Role::Identity));
        assert_eq!(key.verify_service(&voucher, now + FRESH_FOR + Duration::from_secs(1)), None, "stale");
        assert_eq!(key.verify_service(&voucher, now - CLOCK_SKEW - Duration::from_secs(1)), None, "dated ahead");
        assert_eq!(self::key().verify_service(&voucher, now), None, "another key");
        assert_eq!(key.verify_service(&voucher.replacen("identity", "gateway", 1), now), None, "another role");
        assert!(key.verify(&voucher, now).is_none(), "a service's voucher is not the gateway's");
        let gateway = key.vouch(None, "request-1", now).unwrap();
        assert_eq!(key.verify_service(&gateway, now), None, "nor the other way round");
    }
}
