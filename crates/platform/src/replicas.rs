//! Client-side balancing over a service's replicas, so that a scaled service
//! shares its calls and a replica that stops takes no new ones.
//!
//! An endpoint setting (`MASAR_INTAKE_ENDPOINT`, say) names one or more
//! addresses, comma-separated. Each host is resolved again every few
//! seconds: a Kubernetes headless Service answers with every ready pod, so
//! calls spread over all of them rather than riding the one long-lived
//! HTTP/2 connection that a virtual IP would pin. Each replica's health is
//! asked every [`CHECK_EVERY`]: one that answers `NOT_SERVING` (it is
//! draining after SIGTERM, see [`crate::runtime::DrainSettings`]) or cannot be
//! reached gets no new call while another serves. When none serves, calls go
//! to all of them and fail fast, rather than wait for a replica to appear.

use crate::grpc::{TracedChannel, inject_trace_context};
use crate::health::Backoff;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::mpsc;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::channel::Change;
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// How often each replica's health is asked. A replica keeps serving for its
/// drain delay after turning unhealthy, which must be longer than this.
pub const CHECK_EVERY: Duration = Duration::from_millis(250);

/// How often the hosts are resolved again, for replicas that come and go.
const RESOLVE_EVERY: Duration = Duration::from_secs(5);

/// Where each service listens, e.g. `http://127.0.0.1:50051`, or its
/// replicas, comma-separated (a headless Service's name resolves to them all).
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoints {
    pub intake: String,
    pub identity: String,
    pub verification: String,
    pub research: String,
    pub committee: String,
    pub notification: String,
}

impl Endpoints {
    /// Each service's endpoint as `address_of` gives it.
    pub fn of(address_of: impl Fn(crate::role::Role) -> String) -> Self {
        use crate::role::Role;
        Self {
            intake: address_of(Role::Intake),
            identity: address_of(Role::Identity),
            verification: address_of(Role::Verification),
            research: address_of(Role::Research),
            committee: address_of(Role::Committee),
            notification: address_of(Role::Notification),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("'{endpoint}' is not an endpoint like http://host:port: {problem}")]
pub struct InvalidEndpoint {
    pub endpoint: String,
    pub problem: &'static str,
}

/// One configured address: a host (a name or an IP) and its port.
#[derive(Debug, Clone, PartialEq)]
struct Target {
    scheme: String,
    host: String,
    port: u16,
}

fn targets(endpoints: &str) -> Result<Vec<Target>, InvalidEndpoint> {
    let parse = |endpoint: &str| {
        let invalid = |problem| InvalidEndpoint { endpoint: endpoint.to_owned(), problem };
        let uri: http::Uri = endpoint.parse().map_err(|_| invalid("not a URI"))?;
        let scheme = uri.scheme_str().filter(|s| matches!(*s, "http" | "https")).ok_or(invalid("no http scheme"))?;
        let host = uri.host().ok_or(invalid("no host"))?;
        let port = uri.port_u16().ok_or(invalid("no port"))?;
        // `[::1]` in a URI is `::1` to the resolver.
        let host = host.trim_start_matches('[').trim_end_matches(']');
        Ok(Target { scheme: scheme.to_owned(), host: host.to_owned(), port })
    };
    let targets =
        endpoints.split(',').map(str::trim).filter(|e| !e.is_empty()).map(parse).collect::<Result<Vec<_>, _>>()?;
    if targets.is_empty() {
        return Err(InvalidEndpoint { endpoint: endpoints.to_owned(), problem: "no address" });
    }
    Ok(targets)
}

/// A channel whose calls go to the serving replicas behind `endpoints`
/// (comma-separated `http://host:port`) and carry the caller's trace
/// context. Connects lazily, so roles can start in any order; must be
/// called within the Tokio runtime, which runs the replicas' watch.
pub fn balanced_channel(endpoints: &str) -> Result<TracedChannel, InvalidEndpoint> {
    let targets = targets(endpoints)?;
    // Room for every change between two calls: the balancer takes them as it takes a call.
    let (channel, changes) = Channel::balance_channel(1024);
    tokio::spawn(
        Replicas { targets, changes, known: BTreeMap::new(), balanced: BTreeSet::new(), unresolved: false }.run(),
    );
    Ok(InterceptedService::new(channel, inject_trace_context as fn(_) -> _))
}

/// How a replica answered its last health check.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Condition {
    /// Not asked yet: it may take calls.
    Unknown,
    Serving,
    /// Draining or not ready: no new call while another serves.
    NotServing,
    Unreachable,
}

struct Known {
    endpoint: String,
    condition: Condition,
    checker: tokio::task::JoinHandle<()>,
}

struct Replicas {
    targets: Vec<Target>,
    changes: mpsc::Sender<Change<SocketAddr, Endpoint>>,
    known: BTreeMap<SocketAddr, Known>,
    /// The replicas the balancer has now.
    balanced: BTreeSet<SocketAddr>,
    /// The last lookup failed (warned once per outage).
    unresolved: bool,
}

fn endpoint(uri: String) -> Endpoint {
    Endpoint::from_shared(uri)
        .expect("built from a parsed target")
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
}

impl Replicas {
    async fn run(mut self) {
        let (reports, mut reported) = mpsc::unbounded_channel();
        let mut resolve = tokio::time::interval(RESOLVE_EVERY);
        resolve.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                // Every clone of the channel is gone: nobody calls any more.
                () = self.changes.closed() => break,
                _ = resolve.tick() => self.resolve(&reports).await,
                Some((address, condition)) = reported.recv() => {
                    if let Some(known) = self.known.get_mut(&address) {
                        known.condition = condition;
                    }
                }
            }
            if self.rebalance().await.is_err() {
                break;
            }
        }
        for known in self.known.values() {
            known.checker.abort();
        }
    }

    /// Finds the replicas behind every target. A failed or empty lookup (a
    /// headless Service with no ready pod has no name) keeps those known:
    /// they may still answer, and calls must not wait for a name.
    async fn resolve(&mut self, reports: &mpsc::UnboundedSender<(SocketAddr, Condition)>) {
        let mut found = BTreeMap::new();
        for target in &self.targets {
            let addresses = tokio::net::lookup_host((target.host.as_str(), target.port)).await;
            match addresses.map(|addresses| addresses.collect::<Vec<_>>()) {
                Ok(addresses) if !addresses.is_empty() => {
                    found.extend(addresses.into_iter().map(|address| (address, target.scheme.clone())));
                }
                outcome => {
                    if !self.unresolved {
                        let error = outcome.err().map(|e| e.to_string()).unwrap_or_else(|| "no address".into());
                        tracing::warn!(host = %target.host, %error, "cannot resolve a service's host; keeping its known replicas");
                    }
                    self.unresolved = true;
                    return;
                }
            }
        }
        self.unresolved = false;
        self.known.retain(|address, known| {
            let stays = found.contains_key(address);
            if !stays {
                known.checker.abort();
            }
            stays
        });
        for (address, scheme) in found {
            self.known.entry(address).or_insert_with(|| {
                let endpoint = format!("{scheme}://{address}");
                let checker = tokio::spawn(check_health(address, endpoint.clone(), reports.clone()));
                Known { endpoint, condition: Condition::Unknown, checker }
            });
        }
    }

    /// Gives the balancer the replicas that may take calls: every one not
    /// known to be draining or unreachable, or all when none is left.
    async fn rebalance(&mut self) -> Result<(), mpsc::error::SendError<Change<SocketAddr, Endpoint>>> {
        let eligible = |known: &Known| matches!(known.condition, Condition::Unknown | Condition::Serving);
        let mut wanted: BTreeSet<SocketAddr> =
            self.known.iter().filter(|(_, known)| eligible(known)).map(|(address, _)| *address).collect();
        if wanted.is_empty() {
            wanted = self.known.keys().copied().collect();
        }
        for address in self.balanced.difference(&wanted) {
            tracing::debug!(%address, "replica out of the balance");
            self.changes.send(Change::Remove(*address)).await?;
        }
        for address in wanted.difference(&self.balanced) {
            tracing::debug!(%address, "replica in the balance");
            self.changes.send(Change::Insert(*address, endpoint(self.known[address].endpoint.clone()))).await?;
        }
        self.balanced = wanted;
        Ok(())
    }
}

/// Asks one replica's health (the whole server, `""`) until aborted, reporting each change.
async fn check_health(address: SocketAddr, uri: String, reports: mpsc::UnboundedSender<(SocketAddr, Condition)>) {
    let channel = endpoint(uri).connect_timeout(Duration::from_secs(1)).timeout(Duration::from_secs(1)).connect_lazy();
    let mut health = HealthClient::new(channel);
    let mut backoff = Backoff::new(CHECK_EVERY, Duration::from_secs(1));
    let mut last = Condition::Unknown;
    loop {
        let condition = match health.check(HealthCheckRequest { service: String::new() }).await {
            Ok(reply) if reply.get_ref().status() == ServingStatus::Serving => Condition::Serving,
            Ok(_) => Condition::NotServing,
            Err(_) => Condition::Unreachable,
        };
        if condition != last {
            last = condition;
            if reports.send((address, condition)).is_err() {
                return;
            }
        }
        // Gone: ask less often, up to a bound, until it is back.
        let wait = if condition == Condition::Unreachable { backoff.next_wait() } else { CHECK_EVERY };
        if condition != Condition::Unreachable {
            backoff.reset();
        }
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_comma_separated_uris_with_ports() {
        let parsed = targets("http://masar-intake:50051, http://10.0.0.7:50051,http://[::1]:50051").unwrap();
        let hosts: Vec<(&str, u16)> = parsed.iter().map(|t| (t.host.as_str(), t.port)).collect();
        assert_eq!(hosts, [("masar-intake", 50051), ("10.0.0.7", 50051), ("::1", 50051)]);
        for wrong in ["", " , ", "masar-intake:50051", "http://masar-intake", "ftp://host:21"] {
            assert!(targets(wrong).is_err(), "{wrong:?} accepted");
        }
    }
}
