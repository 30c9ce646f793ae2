//! Signing in, in both shapes: staff and beneficiary sessions, refresh
//! tokens replaced at each use and revoked on reuse or sign-out, failed
//! sign-ins that slow down and lock, tokens checked by the services
//! themselves at their gRPC ports, and a signing key rotated without
//! signing anyone out.

use crate::support::{distributed_suite, embedded_suite, embedded_suite_in, grpc_request, temp_dir};
use masar::demo::GatewayClient;
use masar::{DEMO_STAFF_PASSWORD, Suite};
use masar_domain::ActorRole;
use masar_platform::role::Role;
use masar_platform::tokens::{Claims, TokenSigner};
use masar_proto::verification::v1 as verification;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

fn credentials(association: &str, username: &str, password: &str) -> Value {
    json!({ "association": association, "username": username, "password": password })
}

async fn sign_in(client: &GatewayClient, association: &str, username: &str, password: &str) -> (u16, Value) {
    let body = credentials(association, username, password);
    client.call(Method::POST, "/v1/sessions", None, Some(body)).await.unwrap()
}

fn tokens(reply: &Value) -> (String, String) {
    let session = &reply["session"];
    (session["access_token"].as_str().unwrap().to_owned(), session["refresh_token"].as_str().unwrap().to_owned())
}

/// The status and `Retry-After` of a sign-in, read raw.
async fn attempt(base: &str, username: &str, password: &str) -> (u16, Option<u64>) {
    let response = reqwest::Client::new()
        .post(format!("{base}/v1/sessions"))
        .json(&credentials("nuzul", username, password))
        .send()
        .await
        .unwrap();
    let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()?.parse().ok());
    (response.status().as_u16(), retry_after)
}

async fn drive_sessions(suite: &Suite) {
    let client = GatewayClient::new(&suite.gateway_url());
    let refresh = |token: &str| {
        let client = client.clone();
        let body = json!({ "refresh_token": token });
        async move { client.call(Method::POST, "/v1/sessions/refresh", None, Some(body)).await.unwrap() }
    };

    // Staff sign in with their association; the token carries their role and branch.
    let (status, signed_in) = sign_in(&client, "nuzul", "nuzul.pm", DEMO_STAFF_PASSWORD).await;
    assert_eq!(status, 200, "{signed_in}");
    assert_eq!(
        (signed_in["role"].as_str(), signed_in["branch"].as_str()),
        (Some("project_manager"), Some("riyadh")),
        "{signed_in}"
    );
    let (access, first_refresh) = tokens(&signed_in);
    let project_manager = client.with_token(&access);
    project_manager.get("/v1/verification/pending", None).await.unwrap();
    let (status, _) = sign_in(&client, "hayat", "nuzul.pm", DEMO_STAFF_PASSWORD).await;
    assert_eq!(status, 401, "staff sign in to their own association only");

    // Each refresh replaces the refresh token; using a replaced one ends the session for everyone holding it.
    let (status, renewed) = refresh(&first_refresh).await;
    assert_eq!(status, 200, "{renewed}");
    let (renewed_access, second_refresh) = tokens(&renewed);
    assert_ne!(second_refresh, first_refresh);
    client.with_token(&renewed_access).get("/v1/verification/pending", None).await.unwrap();
    let (status, body) = refresh(&first_refresh).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthenticated")), "{body}");
    assert_eq!(refresh(&second_refresh).await.0, 401, "the reuse revoked the session");
    assert_eq!(refresh("not-a-token").await.0, 401);

    // Signing out revokes the refresh token; signing out again is harmless.
    let (_, again) = sign_in(&client, "nuzul", "nuzul.pm", DEMO_STAFF_PASSWORD).await;
    let (_, refresh_token) = tokens(&again);
    let sign_out = json!({ "refresh_token": refresh_token });
    assert_eq!(client.call(Method::POST, "/v1/sessions/sign-out", None, Some(sign_out.clone())).await.unwrap().0, 204);
    assert_eq!(client.call(Method::POST, "/v1/sessions/sign-out", None, Some(sign_out)).await.unwrap().0, 204);
    assert_eq!(refresh(&refresh_token).await.0, 401);

    // Failed sign-ins: two are free, then each must wait, and more lock the username.
    let base = suite.gateway_url();
    let member = "nuzul.committee3";
    assert_eq!(attempt(&base, member, "wrong-1").await, (401, None));
    assert_eq!(attempt(&base, member, "wrong-2").await, (401, None));
    assert_eq!(attempt(&base, member, "wrong-3").await, (401, None));
    let (status, retry_after) = attempt(&base, member, DEMO_STAFF_PASSWORD).await;
    assert_eq!((status, retry_after), (429, Some(1)), "even the right password waits");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(attempt(&base, member, DEMO_STAFF_PASSWORD).await.0, 200, "a success clears the count");
    let mut waited = Vec::new();
    for n in 1..=5 {
        // Wait out each slowdown so every attempt is judged.
        loop {
            match attempt(&base, member, &format!("wrong-{n}")).await {
                (429, _) => tokio::time::sleep(Duration::from_millis(100)).await,
                (status, _) => {
                    waited.push(status);
                    break;
                }
            }
        }
    }
    assert_eq!(waited, [401; 5]);
    let body = client.call(Method::POST, "/v1/sessions", None, Some(credentials("nuzul", member, DEMO_STAFF_PASSWORD)));
    let (status, locked) = body.await.unwrap();
    assert_eq!(status, 429, "{locked}");
    assert!(locked["message"]["ar"].as_str().unwrap().contains("حاول بعد"), "{locked}");
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(attempt(&base, member, DEMO_STAFF_PASSWORD).await.0, 200, "the lock ends by itself");

    // A staff password change ends the sessions started with the old one.
    let (_, admin) = sign_in(&client, "nuzul", "nuzul.admin", DEMO_STAFF_PASSWORD).await;
    let (_, admin_refresh) = tokens(&admin);
    let change = json!({ "association": "nuzul", "username": "nuzul.admin",
                         "current_password": DEMO_STAFF_PASSWORD, "new_password": "Idara-2026" });
    let (status, changed) = client.call(Method::POST, "/v1/accounts/password", None, Some(change)).await.unwrap();
    assert_eq!((status, changed["role"].as_str()), (200, Some("association_admin")), "{changed}");
    assert_eq!(refresh(&admin_refresh).await.0, 401);
    assert_eq!(sign_in(&client, "nuzul", "nuzul.admin", DEMO_STAFF_PASSWORD).await.0, 401);
    assert_eq!(sign_in(&client, "nuzul", "nuzul.admin", "Idara-2026").await.0, 200);

    // The services check tokens themselves: straight at verification's port, nothing is taken on trust.
    let endpoint = suite.url(Role::Verification);
    let mut verification =
        verification::verification_service_client::VerificationServiceClient::connect(endpoint).await.unwrap();
    let list = |token: Option<&str>| grpc_request(verification::ListPendingRequest::default(), token);
    let code = |r: Result<tonic::Response<verification::ListPendingResponse>, tonic::Status>| {
        r.map(|_| tonic::Code::Ok).unwrap_or_else(|status| status.code())
    };
    assert_eq!(code(verification.list_pending(list(None)).await), tonic::Code::Unauthenticated);
    let stranger = TokenSigner::from_hex(&masar_platform::hex::random_key(), Duration::from_secs(60)).unwrap();
    let (forged, _) = stranger.sign(claims_for("nuzul.pm", ActorRole::AssociationAdmin), chrono::Utc::now());
    assert_eq!(code(verification.list_pending(list(Some(&forged))).await), tonic::Code::Unauthenticated);
    // The renewed token's session was revoked by the reuse above: refused too. A live one passes.
    assert_eq!(code(verification.list_pending(list(Some(&renewed_access))).await), tonic::Code::Unauthenticated);
    let live = client.staff_token("nuzul.pm").await.unwrap();
    assert_eq!(code(verification.list_pending(list(Some(&live))).await), tonic::Code::Ok);
    let researcher = client.staff_token("nuzul.researcher1").await.unwrap();
    assert_eq!(code(verification.list_pending(list(Some(&researcher))).await), tonic::Code::PermissionDenied);
}

fn claims_for(username: &str, role: ActorRole) -> Claims {
    Claims::of(format!("staff:{username}"), role, "nuzul".into(), None, None, "test".into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_embedded() {
    let (suite, _) = embedded_suite().await;
    drive_sessions(&suite).await;
    suite.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_distributed() {
    let distributed = distributed_suite().await;
    drive_sessions(&distributed.suite).await;
    distributed.stop().await;
}

/// Anyone may guess at a predictable username such as `nuzul.pm`, but only
/// locks it for themselves: failures count per username and client (the
/// address the gateway vouches for), and the holder signs in from theirs.
async fn drive_lockout(base: &str) {
    let attempt_from = |address: &'static str, password: &'static str| {
        let base = base.to_owned();
        async move {
            let response = reqwest::Client::new()
                .post(format!("{base}/v1/sessions"))
                .header("x-forwarded-for", address)
                .json(&credentials("nuzul", "nuzul.pm", password))
                .send()
                .await
                .unwrap();
            response.status().as_u16()
        }
    };
    let mut refused = Vec::new();
    while refused.len() < 5 {
        match attempt_from("203.0.113.66", "guess").await {
            429 => tokio::time::sleep(Duration::from_millis(100)).await,
            status => refused.push(status),
        }
    }
    assert_eq!(refused, [401; 5]);
    assert_eq!(attempt_from("203.0.113.66", DEMO_STAFF_PASSWORD).await, 429, "locked for the guesser");
    assert_eq!(attempt_from("198.51.100.7", DEMO_STAFF_PASSWORD).await, 200, "the holder signs in from their own");
    let locks = masar_platform::metrics::render();
    assert!(locks.contains("masar_sign_in_locks_total 1"), "the lock is counted for the storm alert");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_cannot_lock_a_staff_member_out_embedded() {
    let (suite, _) = crate::support::embedded_suite_with(&[("MASAR_CLIENT_ADDRESS_HEADER", "x-forwarded-for")]).await;
    drive_lockout(&suite.gateway_url()).await;
    suite.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_cannot_lock_a_staff_member_out_distributed() {
    let redis = crate::support::redis_url();
    let distributed =
        crate::support::distributed_suite_on(&redis, &[("MASAR_CLIENT_ADDRESS_HEADER", "x-forwarded-for")]).await;
    drive_lockout(&distributed.suite.gateway_url()).await;
    distributed.stop().await;
}

/// Whether `access` is refused as signed out: through the gateway, and at
/// every service's own port (each answers for its part of a case's trail).
async fn refused_everywhere(suite: &Suite, access: &str) -> bool {
    use masar_proto::audit::v1::{CaseTrailRequest, audit_trail_client::AuditTrailClient};
    let caller = GatewayClient::new(&suite.gateway_url()).with_token(access);
    if caller.call(Method::GET, "/v1/verification/pending", None, None).await.unwrap().0 != 401 {
        return false;
    }
    for role in Role::SERVICES {
        let mut trail = AuditTrailClient::connect(suite.url(role)).await.unwrap();
        let ask = CaseTrailRequest { request_id: uuid::Uuid::now_v7().to_string() };
        match trail.case_trail(grpc_request(ask, Some(access))).await {
            Err(status) if status.code() == tonic::Code::Unauthenticated => {}
            _ => return false,
        }
    }
    true
}

/// A session's access tokens die with it: after signing out, a password
/// change and a replayed refresh token, everywhere, and past a restart.
async fn drive_revocation(suite: &Suite) -> String {
    let client = GatewayClient::new(&suite.gateway_url());
    let start = |username: &'static str| {
        let client = client.clone();
        async move {
            let (status, body) = sign_in(&client, "nuzul", username, DEMO_STAFF_PASSWORD).await;
            assert_eq!(status, 200, "{body}");
            tokens(&body)
        }
    };
    // Signed out.
    let (access, refresh) = start("nuzul.pm").await;
    assert!(!refused_everywhere(suite, &access).await, "a live session works everywhere");
    let sign_out = json!({ "refresh_token": refresh });
    assert_eq!(client.call(Method::POST, "/v1/sessions/sign-out", None, Some(sign_out)).await.unwrap().0, 204);
    crate::support::wait_until("the signed-out token refused everywhere", || refused_everywhere(suite, &access)).await;
    let (_, body) = client.with_token(&access).call(Method::GET, "/v1/verification/pending", None, None).await.unwrap();
    assert_eq!(body["message"]["en"], "This session has ended; sign in again", "{body}");
    // A replayed refresh token ends the session for whoever holds it.
    let (stolen, first_refresh) = start("nuzul.branch").await;
    let renewed = client.post("/v1/sessions/refresh", None, json!({ "refresh_token": first_refresh })).await.unwrap();
    let (renewed_access, _) = tokens(&renewed);
    let replay =
        client.call(Method::POST, "/v1/sessions/refresh", None, Some(json!({ "refresh_token": first_refresh })));
    assert_eq!(replay.await.unwrap().0, 401);
    for token in [&stolen, &renewed_access] {
        crate::support::wait_until("the replayed session's tokens refused", || refused_everywhere(suite, token)).await;
    }
    // A password change ends the sessions started with the old one.
    let (before_change, _) = start("nuzul.admin").await;
    let change = json!({ "association": "nuzul", "username": "nuzul.admin",
                         "current_password": DEMO_STAFF_PASSWORD, "new_password": "Idara-2026-new" });
    let changed = client.post("/v1/accounts/password", None, change).await.unwrap();
    let (after_change, _) = tokens(&changed);
    crate::support::wait_until("the old password's token refused", || refused_everywhere(suite, &before_change)).await;
    assert!(!refused_everywhere(suite, &after_change).await, "the new session works");
    access
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_session_stops_working_everywhere_embedded() {
    let (suite, _) = embedded_suite().await;
    drive_revocation(&suite).await;
    suite.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_session_stops_working_everywhere_distributed() {
    let mut distributed = distributed_suite().await;
    let signed_out = drive_revocation(&distributed.suite).await;
    // Restarted, a service still refuses it: its table keeps what it was told.
    for role in [Role::Verification, Role::Intake] {
        let address = distributed.stop_role(role).await;
        distributed.restart_role(role, address).await;
    }
    crate::support::wait_until("the restarted services refuse it still", || {
        refused_everywhere(&distributed.suite, &signed_out)
    })
    .await;
    distributed.stop().await;
}

/// Rotating the signing key signs nobody out: tokens signed with the old key
/// stay valid while it is listed, and refresh tokens do not depend on keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signing_key_rotates_without_signing_anyone_out() {
    let data_dir = temp_dir();
    let before = embedded_suite_in(&data_dir, &[]).await;
    let client = GatewayClient::new(&before.gateway_url());
    let (_, signed_in) = sign_in(&client, "nuzul", "nuzul.pm", DEMO_STAFF_PASSWORD).await;
    let (old_access, old_refresh) = tokens(&signed_in);
    before.stop().await.unwrap();

    let old_key = std::fs::read_to_string(data_dir.join("token-signing.key")).unwrap();
    let old_verifying = TokenSigner::from_hex(&old_key.into(), Duration::from_secs(60)).unwrap().verifying_key();
    let new_key = masar_platform::hex::random_key();
    use secrecy::ExposeSecret as _;
    let rotating =
        [("MASAR_TOKEN_SIGNING_KEY", new_key.expose_secret()), ("MASAR_TOKEN_VERIFYING_KEYS", old_verifying.as_str())];
    let during = embedded_suite_in(&data_dir, &rotating).await;
    let client = GatewayClient::new(&during.gateway_url());
    client.with_token(&old_access).get("/v1/verification/pending", None).await.unwrap();
    let body = json!({ "refresh_token": old_refresh });
    let (status, renewed) = client.call(Method::POST, "/v1/sessions/refresh", None, Some(body)).await.unwrap();
    assert_eq!(status, 200, "{renewed}");
    let (new_access, _) = tokens(&renewed);
    during.stop().await.unwrap();

    // Once the old key is dropped, only what it signed stops working.
    let after = embedded_suite_in(&data_dir, &[("MASAR_TOKEN_SIGNING_KEY", new_key.expose_secret())]).await;
    let client = GatewayClient::new(&after.gateway_url());
    let (status, body) =
        client.with_token(&old_access).call(Method::GET, "/v1/verification/pending", None, None).await.unwrap();
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthenticated")), "{body}");
    client.with_token(&new_access).get("/v1/verification/pending", None).await.unwrap();
    after.stop().await.unwrap();
}

/// The signing key lives only in the service that signs: handed to every
/// role by mistake, only identity signs with it (every other role verifies
/// only), and identity alone cannot start without it.
#[test]
fn only_identity_signs_access_tokens() {
    use secrecy::ExposeSecret as _;
    let key = masar_platform::hex::random_key();
    let deployed = TokenSigner::from_hex(&key, Duration::from_secs(60)).unwrap().verifying_key();
    let settings = |pairs: &[(&str, &str)]| {
        let vars = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        masar_platform::config::Settings::from_map(vars).unwrap()
    };
    let everywhere =
        settings(&[("MASAR_TOKEN_SIGNING_KEY", key.expose_secret()), ("MASAR_TOKEN_VERIFYING_KEYS", &deployed)]);
    for role in Role::ALL {
        let keys = masar::token_keys(&everywhere, role, false).unwrap();
        assert_eq!(keys.signer.verifying_key() == deployed, role == Role::Identity, "{role}");
    }
    let verifying_only = settings(&[("MASAR_TOKEN_VERIFYING_KEYS", &deployed)]);
    assert!(masar::token_keys(&verifying_only, Role::Identity, false).is_err(), "identity needs the signing key");
    for role in Role::ALL.into_iter().filter(|r| *r != Role::Identity) {
        assert!(masar::token_keys(&verifying_only, role, false).is_ok(), "{role} needs only the verifying key");
    }
}
