//! Signing in and out, for beneficiaries and staff alike: access tokens to
//! send as `Authorization: Bearer …`, and refresh tokens to renew them.

use super::{Body, Reply, State, grpc, present, time};
use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use masar_proto::identity::v1 as identity;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
pub(super) struct Credentials {
    association: String,
    username: String,
    password: String,
}

/// The tokens of a session.
#[derive(Serialize, ToSchema)]
pub(super) struct Tokens {
    /// Send as `Authorization: Bearer …`; short-lived.
    access_token: String,
    /// Always `Bearer`.
    token_type: &'static str,
    access_token_expires_at: Option<String>,
    /// Keep it secret; each use replaces it, and using a replaced one ends the session.
    refresh_token: String,
    refresh_token_expires_at: Option<String>,
}

/// Who signed in, with their scope, and the session's tokens.
#[derive(Serialize, ToSchema)]
pub(super) struct SignedIn {
    username: String,
    /// A one-time password is in use: no session until it is changed.
    must_change_password: bool,
    role: String,
    association: String,
    branch: Option<String>,
    beneficiary_id: Option<String>,
    /// Beneficiaries: `unverified` (the account sees only what it filed
    /// itself, until its holder proves the national ID is theirs), or how it was verified.
    account_standing: Option<String>,
    /// Absent while `must_change_password`.
    session: Option<Tokens>,
}

fn signed_in(r: identity::SignInResult) -> Json<SignedIn> {
    let session = (!r.access_token.is_empty()).then(|| Tokens {
        access_token_expires_at: time(r.access_token_expires_at.as_ref()),
        refresh_token_expires_at: time(r.refresh_token_expires_at.as_ref()),
        access_token: r.access_token,
        token_type: "Bearer",
        refresh_token: r.refresh_token,
    });
    Json(SignedIn {
        branch: present(&r.branch),
        beneficiary_id: present(&r.beneficiary_id),
        account_standing: present(&r.account_standing),
        username: r.username,
        must_change_password: r.must_change_password,
        role: r.role,
        association: r.association,
        session,
    })
}

/// Signs in; while a one-time password is in use, no session is started
/// (`must_change_password`): change it with `/v1/accounts/password`. Failed
/// attempts slow down, then lock the username for a while (`429`, `Retry-After`).
#[utoipa::path(post, path = "/v1/sessions", tag = "sessions", request_body = Credentials,
    responses((status = 200, body = SignedIn)))]
pub(super) async fn sign_in(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Body(body): Body<Credentials>,
) -> Reply<SignedIn> {
    let message =
        identity::SignInRequest { association: body.association, username: body.username, password: body.password };
    Ok(signed_in(services.sessions.clone().sign_in(grpc(&headers, message)).await?.into_inner()))
}

#[derive(Deserialize, ToSchema)]
pub(super) struct RefreshToken {
    refresh_token: String,
}

/// Renews a session's tokens; the refresh token sent is replaced.
#[utoipa::path(post, path = "/v1/sessions/refresh", tag = "sessions", request_body = RefreshToken,
    responses((status = 200, body = SignedIn)))]
pub(super) async fn refresh(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Body(body): Body<RefreshToken>,
) -> Reply<SignedIn> {
    let message = identity::RefreshRequest { refresh_token: body.refresh_token };
    Ok(signed_in(services.sessions.clone().refresh(grpc(&headers, message)).await?.into_inner()))
}

/// Ends the session (its access token expires on its own, within minutes).
#[utoipa::path(post, path = "/v1/sessions/sign-out", tag = "sessions", request_body = RefreshToken,
    responses((status = 204, description = "Signed out")))]
pub(super) async fn sign_out(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Body(body): Body<RefreshToken>,
) -> Result<StatusCode, crate::ApiError> {
    let message = identity::SignOutRequest { refresh_token: body.refresh_token };
    services.sessions.clone().sign_out(grpc(&headers, message)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
pub(super) struct PasswordChange {
    association: String,
    username: String,
    current_password: String,
    new_password: String,
}

/// Changes a password (the one-time one, or any); ends every other session
/// and starts a new one.
#[utoipa::path(post, path = "/v1/accounts/password", tag = "accounts", request_body = PasswordChange,
    responses((status = 200, body = SignedIn)))]
pub(super) async fn change_password(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Body(body): Body<PasswordChange>,
) -> Reply<SignedIn> {
    let message = identity::ChangePasswordRequest {
        association: body.association,
        username: body.username,
        current_password: body.current_password,
        new_password: body.new_password,
    };
    Ok(signed_in(services.sessions.clone().change_password(grpc(&headers, message)).await?.into_inner()))
}
