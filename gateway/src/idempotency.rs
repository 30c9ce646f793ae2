//! `Idempotency-Key` on POST: a call retried with the same key (a reply lost
//! on a weak mobile connection, a double tap) gets the first call's answer
//! instead of acting twice. Keys belong to the caller (their account; for an
//! anonymous caller, their address and the call itself); the same key with a
//! different call is refused. Replies are
//! kept 24 hours, in Redis where the gateway runs as several replicas.

use crate::error::ApiError;
use crate::remembered::Remembered;
use crate::routes::JSON_BODY_LIMIT;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use masar_domain::Bilingual;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub(crate) const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Set on an answer that repeats the first call's.
pub(crate) const REPLAYED: &str = "idempotent-replayed";

/// How long a finished call's reply is kept.
const KEPT_FOR: Duration = Duration::from_secs(24 * 3600);
/// How long a call's "in progress" mark lasts unless the gateway running it
/// renews it: short, so that a retry is not refused for long when that
/// gateway died mid-call, and renewed while the call runs.
const IN_PROGRESS_LEASE: Duration = Duration::from_secs(5);
const RENEW_EVERY: Duration = Duration::from_secs(2);
/// In memory, expired calls are swept only once this many are kept; a lookup ignores an expired one.
const SWEEP_FROM: usize = 10_000;
/// Their replies hold tokens, which are not kept anywhere; signing in again is harmless.
pub(crate) const NEVER_KEPT: [&str; 4] =
    ["/v1/sessions", "/v1/sessions/refresh", "/v1/sessions/sign-out", "/v1/accounts/password"];

/// Where calls in progress and their replies are kept.
#[derive(Clone)]
pub enum Replays {
    /// One gateway process (`masar dev`).
    InMemory(Arc<Mutex<Remembered<String, (Kept, Instant)>>>),
    /// Shared by every gateway replica.
    Redis { commands: ConnectionManager, prefix: String },
}

/// A call under a key: in progress, or finished with its reply.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Kept {
    fingerprint: String,
    reply: Option<KeptReply>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct KeptReply {
    status: u16,
    content_type: Option<String>,
    body: String,
}

enum Begun {
    First,
    InProgress,
    Finished(KeptReply),
    /// The key was used for another call.
    Mismatch,
}

impl Replays {
    pub fn in_memory() -> Self {
        Self::InMemory(Arc::new(Mutex::new(Remembered::new(SWEEP_FROM))))
    }

    pub async fn redis(url: &str, prefix: &str) -> Result<Self, redis::RedisError> {
        let commands = redis::Client::open(url)?.get_connection_manager().await?;
        Ok(Self::Redis { commands, prefix: format!("{prefix}:idempotency") })
    }

    /// Whether the shared store answers (within a second); `None` when kept in memory.
    pub async fn reachable(&self) -> Option<bool> {
        let Self::Redis { commands, .. } = self else { return None };
        let mut commands = commands.clone();
        let ping = redis::cmd("PING");
        let answer = tokio::time::timeout(std::time::Duration::from_secs(1), ping.query_async::<String>(&mut commands));
        Some(matches!(answer.await, Ok(Ok(_))))
    }

    /// Marks the call in progress unless one came first under `record`.
    async fn begin(&self, record: &str, fingerprint: &str) -> Result<Begun, redis::RedisError> {
        let in_progress = Kept { fingerprint: fingerprint.to_owned(), reply: None };
        let earlier = match self {
            Self::InMemory(kept) => {
                let mut kept = kept.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                let now = Instant::now();
                kept.sweep(now, |_, (_, until)| *until > now);
                match kept.get(record).filter(|(_, until)| *until > now) {
                    Some((earlier, _)) => earlier.clone(),
                    None => {
                        kept.insert(record.to_owned(), (in_progress, now + IN_PROGRESS_LEASE));
                        return Ok(Begun::First);
                    }
                }
            }
            Self::Redis { commands, prefix } => {
                let key = format!("{prefix}:{record}");
                let mut commands = commands.clone();
                let json = serde_json::to_string(&in_progress).expect("serializable");
                let options = redis::SetOptions::default()
                    .conditional_set(redis::ExistenceCheck::NX)
                    .with_expiration(redis::SetExpiry::PX(IN_PROGRESS_LEASE.as_millis() as u64));
                let set: Option<String> = redis::AsyncCommands::set_options(&mut commands, &key, json, options).await?;
                if set.is_some() {
                    return Ok(Begun::First);
                }
                let stored: Option<String> = redis::AsyncCommands::get(&mut commands, &key).await?;
                match stored.and_then(|s| serde_json::from_str::<Kept>(&s).ok()) {
                    Some(earlier) => earlier,
                    // It expired in between: the earlier call is over without a reply kept;
                    // the caller is asked to try again, which then goes through.
                    None => return Ok(Begun::InProgress),
                }
            }
        };
        Ok(match earlier {
            Kept { fingerprint: f, .. } if f != fingerprint => Begun::Mismatch,
            Kept { reply: Some(reply), .. } => Begun::Finished(reply),
            Kept { reply: None, .. } => Begun::InProgress,
        })
    }

    async fn finish(&self, record: &str, kept: Kept) -> Result<(), redis::RedisError> {
        match self {
            Self::InMemory(all) => {
                let mut all = all.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                all.insert(record.to_owned(), (kept, Instant::now() + KEPT_FOR));
                Ok(())
            }
            Self::Redis { commands, prefix } => {
                let json = serde_json::to_string(&kept).expect("serializable");
                let mut commands = commands.clone();
                redis::AsyncCommands::pset_ex(
                    &mut commands,
                    format!("{prefix}:{record}"),
                    json,
                    KEPT_FOR.as_millis() as u64,
                )
                .await
            }
        }
    }

    /// Extends the "in progress" lease of a call this gateway is running.
    async fn renew(&self, record: &str) -> Result<(), redis::RedisError> {
        self.hold(record, IN_PROGRESS_LEASE).await
    }

    /// Keeps a call "in progress" for `lease` from now.
    async fn hold(&self, record: &str, lease: Duration) -> Result<(), redis::RedisError> {
        match self {
            Self::InMemory(all) => {
                let mut all = all.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                if let Some((Kept { reply: None, .. }, until)) = all.get_mut(record) {
                    *until = Instant::now() + lease;
                }
                Ok(())
            }
            Self::Redis { commands, prefix } => {
                let key = format!("{prefix}:{record}");
                redis::AsyncCommands::pexpire(&mut commands.clone(), key, lease.as_millis() as i64).await
            }
        }
    }

    /// Runs `call`, renewing its lease meanwhile; the renewals stop with it,
    /// before its reply is kept.
    async fn while_in_progress<F: std::future::Future>(&self, record: &str, call: F) -> F::Output {
        let heartbeat = async {
            loop {
                tokio::time::sleep(RENEW_EVERY).await;
                if let Err(error) = self.renew(record).await {
                    tracing::warn!(%error, "idempotency store unavailable; the call's lease is not renewed");
                }
            }
        };
        tokio::select! {
            output = call => output,
            never = heartbeat => never,
        }
    }

    /// Forgets a call that failed in a way a retry may mend (a 5xx, a rate limit).
    async fn abandon(&self, record: &str) -> Result<(), redis::RedisError> {
        match self {
            Self::InMemory(all) => {
                all.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(record);
                Ok(())
            }
            Self::Redis { commands, prefix } => {
                redis::AsyncCommands::del(&mut commands.clone(), format!("{prefix}:{record}")).await
            }
        }
    }
}

fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    masar_platform::hex::encode(&hasher.finalize())
}

/// Replays the reply of a POST already made with the same `Idempotency-Key`.
pub(crate) async fn replay_retries(
    axum::extract::State(replays): axum::extract::State<Replays>,
    request: Request,
    next: Next,
) -> Response {
    let Some(key) = request.headers().get(IDEMPOTENCY_KEY).cloned() else {
        return next.run(request).await;
    };
    if request.method() != Method::POST || NEVER_KEPT.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    if key.is_empty() || key.len() > 255 || key.to_str().is_err() {
        return ApiError::bad_request(Bilingual::new(
            "مفتاح عدم التكرار (Idempotency-Key) يجب أن يكون نصاً من 1 إلى 255 حرفاً",
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
        ))
        .into_response();
    }
    let account = crate::routes::signed_in_account(&request);
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, JSON_BODY_LIMIT).await else {
        return ApiError::too_large().into_response();
    };
    let target = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or_default();
    let fingerprint = sha256_hex(&[parts.method.as_str().as_bytes(), target.as_bytes(), &body]);
    // Keys are the caller's own: a signed-in account's. Anonymous callers have no
    // identity to share a key space with: a key is theirs only from the same address
    // with the very same call, so nobody else can read the reply kept under it.
    let scope = account.unwrap_or_else(|| {
        let client = parts.extensions.get::<crate::limits::Client>();
        format!("anonymous {client:?} {fingerprint}")
    });
    // Hashed: neither the account nor the key is readable in the store.
    let record = sha256_hex(&[scope.as_bytes(), key.as_bytes()]);
    let begun = match replays.begin(&record, &fingerprint).await {
        Ok(begun) => begun,
        Err(error) => {
            tracing::warn!(%error, "idempotency store unavailable");
            return ApiError::unavailable().into_response();
        }
    };
    match begun {
        // Its own task: a client that hangs up (the lost reply this is for) does not cut
        // the call short between acting and keeping its reply.
        Begun::First => tokio::spawn(async move {
            let call = next.run(Request::from_parts(parts, Body::from(body)));
            let response = replays.while_in_progress(&record, call).await;
            keep(&replays, &record, fingerprint, response).await
        })
        .await
        .unwrap_or_else(|_| ApiError::internal().into_response()),
        Begun::Finished(reply) => replayed(reply),
        Begun::InProgress => ApiError::conflict(Bilingual::new(
            "طلب بنفس مفتاح عدم التكرار ما زال قيد التنفيذ، أعد المحاولة بعد قليل",
            "A call with this Idempotency-Key is still in progress; try again shortly",
        ))
        .because("idempotency.in_progress")
        .into_response(),
        Begun::Mismatch => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            Bilingual::new(
                "استُخدم مفتاح عدم التكرار هذا لطلب مختلف؛ استخدم مفتاحاً جديداً لكل طلب",
                "This Idempotency-Key was used for a different call; use a new key for each call",
            ),
        )
        .because("idempotency.key_reused")
        .into_response(),
    }
}

/// Keeps the first call's reply, unless a retry may get a better one.
async fn keep(replays: &Replays, record: &str, fingerprint: String, response: Response) -> Response {
    let status = response.status();
    if status == StatusCode::GATEWAY_TIMEOUT {
        // The service may still finish the call: a retry waits until it cannot any more.
        if let Err(error) = replays.hold(record, crate::routes::REQUEST_TIMEOUT * 2).await {
            tracing::warn!(%error, "idempotency store unavailable");
        }
        return response;
    }
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        if let Err(error) = replays.abandon(record).await {
            tracing::warn!(%error, "idempotency store unavailable");
        }
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, JSON_BODY_LIMIT).await else {
        let _ = replays.abandon(record).await;
        return ApiError::internal().into_response();
    };
    let content_type = parts.headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let reply = KeptReply { status: status.as_u16(), content_type, body: String::from_utf8_lossy(&bytes).into_owned() };
    if let Err(error) = replays.finish(record, Kept { fingerprint, reply: Some(reply) }).await {
        tracing::warn!(%error, "idempotency store unavailable; the reply is not kept");
    }
    Response::from_parts(parts, Body::from(bytes))
}

fn replayed(reply: KeptReply) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    let mut response = (status, reply.body).into_response();
    let headers = response.headers_mut();
    if let Some(content_type) = reply.content_type.and_then(|c| HeaderValue::from_str(&c).ok()) {
        headers.insert(http::header::CONTENT_TYPE, content_type);
    }
    headers.insert(REPLAYED, HeaderValue::from_static("true"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease_of(replays: &Replays, record: &str) -> Instant {
        let Replays::InMemory(all) = replays else { unreachable!("in memory") };
        all.lock().unwrap().get(record).map(|(_, until)| *until).expect("kept")
    }

    #[tokio::test]
    async fn a_call_whose_gateway_died_frees_its_key_when_the_lease_runs_out() {
        let replays = Replays::in_memory();
        assert!(matches!(replays.begin("r", "f").await.unwrap(), Begun::First));
        assert!(matches!(replays.begin("r", "f").await.unwrap(), Begun::InProgress));
        let leased = lease_of(&replays, "r");
        assert!(leased <= Instant::now() + IN_PROGRESS_LEASE, "a short lease, not the call's whole time-out");
        replays.renew("r").await.unwrap();
        assert!(lease_of(&replays, "r") >= leased, "renewed while the call runs");
        // Nobody renews it any more: the gateway that ran it is gone.
        let Replays::InMemory(all) = &replays else { unreachable!() };
        all.lock().unwrap().get_mut("r").unwrap().1 = Instant::now();
        assert!(matches!(replays.begin("r", "f").await.unwrap(), Begun::First), "a retry may act");
    }
}
