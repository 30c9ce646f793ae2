//! Per-client rate limits: a token bucket for each signed-in account, or for
//! each address where the caller is anonymous, so that one client can neither
//! starve the others nor try passwords without end.

use crate::error::ApiError;
use crate::remembered::Remembered;
use axum::extract::{ConnectInfo, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use masar_platform::config::GatewaySettings;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The client's address, whoever is signed in: the services count failed sign-ins by it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientAddress(pub IpAddr);

/// Who a request counts against; also in the request's extensions, for
/// what else is kept per caller (`Idempotency-Key` replies).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Client {
    /// `association/subject` of a verified access token.
    Account(String),
    Address(IpAddr),
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// From this many remembered clients, those whose bucket has refilled are
/// forgotten (a full bucket is the same as none), so memory stays bounded.
const REMEMBERED_CLIENTS: usize = 50_000;

#[derive(Clone)]
pub(crate) struct RateLimiter {
    capacity: f64,
    per_second: f64,
    address_header: Option<http::HeaderName>,
    buckets: Arc<Mutex<Remembered<Client, Bucket>>>,
}

impl RateLimiter {
    pub(crate) fn new(settings: &GatewaySettings) -> Self {
        let per_minute = f64::from(settings.requests_per_minute.max(1));
        Self {
            capacity: per_minute,
            per_second: per_minute / 60.0,
            address_header: settings.client_address_header.as_deref().and_then(|h| h.parse().ok()),
            buckets: Arc::new(Mutex::new(Remembered::new(REMEMBERED_CLIENTS))),
        }
    }

    /// Takes one request from the client's bucket, or says how long until it may try again.
    fn take(&self, client: Client, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if !buckets.contains_key(&client) {
            let (capacity, per_second) = (self.capacity, self.per_second);
            buckets.sweep(now, |_, b| b.tokens + now.duration_since(b.updated).as_secs_f64() * per_second < capacity);
        }
        let bucket = buckets.entry(client).or_insert(Bucket { tokens: self.capacity, updated: now });
        let refilled = now.duration_since(bucket.updated).as_secs_f64() * self.per_second;
        bucket.tokens = (bucket.tokens + refilled).min(self.capacity);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / self.per_second))
        }
    }

    fn client_of(&self, request: &Request) -> Client {
        match crate::routes::signed_in_account(request) {
            Some(account) => Client::Account(account),
            None => Client::Address(self.address_of(request)),
        }
    }

    /// The client's address: the one the proxy in front reports, or the connection's.
    fn address_of(&self, request: &Request) -> IpAddr {
        let forwarded = self.address_header.as_ref().and_then(|name| {
            let values = request.headers().get_all(name).iter().filter_map(|v| v.to_str().ok());
            // The proxy appends the address it saw; anything before it came from the client.
            values.flat_map(|v| v.split(',')).next_back().and_then(|a| a.trim().parse().ok())
        });
        let connected = || request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        forwarded.or_else(connected).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }
}

/// Answers `429` with `Retry-After` once a client has used up its requests.
pub(crate) async fn limit_rate(
    axum::extract::State(limiter): axum::extract::State<RateLimiter>,
    request: Request,
    next: Next,
) -> Response {
    // Probes must not be refused for the traffic of others.
    if matches!(request.uri().path(), "/healthz" | "/readyz") {
        return next.run(request).await;
    }
    let mut request = request;
    let client = limiter.client_of(&request);
    request.extensions_mut().insert(client.clone());
    let address = ClientAddress(limiter.address_of(&request));
    request.extensions_mut().insert(address);
    match limiter.take(client, Instant::now()) {
        Ok(()) => next.run(request).await,
        Err(wait) => ApiError::rate_limited(wait.as_secs().max(1)).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_minute: u32) -> RateLimiter {
        RateLimiter::new(&GatewaySettings { requests_per_minute: per_minute, ..Default::default() })
    }

    #[test]
    fn a_client_gets_its_burst_then_waits_for_the_refill() {
        let limiter = limiter(3);
        let start = Instant::now();
        let fatima = || Client::Account("hayat/beneficiary:hyt-1".into());
        for _ in 0..3 {
            assert_eq!(limiter.take(fatima(), start), Ok(()));
        }
        // Three a minute: one more every 20 s.
        let wait = limiter.take(fatima(), start).unwrap_err();
        assert_eq!(wait.as_secs(), 20);
        assert!(limiter.take(fatima(), start + Duration::from_secs(19)).is_err());
        assert_eq!(limiter.take(fatima(), start + Duration::from_secs(40)), Ok(()));
        // Others are not affected.
        assert_eq!(limiter.take(Client::Address(IpAddr::V4(Ipv4Addr::LOCALHOST)), start), Ok(()));
    }

    #[test]
    fn refilled_clients_are_forgotten_when_too_many_are_remembered() {
        let limiter = limiter(60);
        let start = Instant::now();
        for n in 0..REMEMBERED_CLIENTS {
            limiter.take(Client::Account(n.to_string()), start).unwrap();
        }
        let later = start + Duration::from_secs(2);
        limiter.take(Client::Account("one more".into()), later).unwrap();
        assert_eq!(limiter.buckets.lock().unwrap().len(), 1, "every earlier bucket had refilled");
    }

    #[test]
    fn the_last_forwarded_address_is_the_client() {
        let limiter = RateLimiter::new(&GatewaySettings {
            client_address_header: Some("x-forwarded-for".into()),
            ..Default::default()
        });
        let request = http::Request::builder()
            .header("x-forwarded-for", "10.9.9.9, 203.0.113.7")
            .body(axum::body::Body::empty())
            .unwrap();
        assert_eq!(limiter.client_of(&request), Client::Address("203.0.113.7".parse().unwrap()));
    }
}
