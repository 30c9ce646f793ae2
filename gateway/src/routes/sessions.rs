//! Signing in and out, for beneficiaries and staff alike: access tokens to
//! send as `Authorization: Bearer …`, and refresh tokens to renew them.

use super::{ApiResult, Body, State, grpc, ok, time};
use axum::http::{HeaderMap, StatusCode};
use masar_proto::intake::v1 as intake;
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
pub(super) struct SignInBody {
    association: String,
    username: String,
    password: String,
}

fn session(r: intake::SignInResult) -> ApiResult {
    let tokens = (!r.access_token.is_empty()).then(|| {
        json!({
            "access_token": r.access_token, "token_type": "Bearer",
            "access_token_expires_at": time(r.access_token_expires_at.as_ref()),
            "refresh_token": r.refresh_token,
            "refresh_token_expires_at": time(r.refresh_token_expires_at.as_ref()),
        })
    });
    ok(json!({
        "username": r.username, "must_change_password": r.must_change_password,
        "role": r.role, "association": r.association,
        "branch": Some(&r.branch).filter(|b| !b.is_empty()),
        "beneficiary_id": Some(&r.beneficiary_id).filter(|b| !b.is_empty()),
        "session": tokens,
    }))
}

/// Signs in; while a one-time password is in use, no session is started
/// (`must_change_password`): change it with `/v1/accounts/password`.
pub(super) async fn sign_in(
    axum::extract::State(mut services): State,
    headers: HeaderMap,
    Body(body): Body<SignInBody>,
) -> ApiResult {
    let message =
        intake::SignInRequest { association: body.association, username: body.username, password: body.password };
    session(services.sessions.sign_in(grpc(&headers, message)).await?.into_inner())
}

#[derive(Deserialize)]
pub(super) struct RefreshBody {
    refresh_token: String,
}

pub(super) async fn refresh(
    axum::extract::State(mut services): State,
    headers: HeaderMap,
    Body(body): Body<RefreshBody>,
) -> ApiResult {
    let message = intake::RefreshRequest { refresh_token: body.refresh_token };
    session(services.sessions.refresh(grpc(&headers, message)).await?.into_inner())
}

pub(super) async fn sign_out(
    axum::extract::State(mut services): State,
    headers: HeaderMap,
    Body(body): Body<RefreshBody>,
) -> Result<StatusCode, crate::ApiError> {
    let message = intake::SignOutRequest { refresh_token: body.refresh_token };
    services.sessions.sign_out(grpc(&headers, message)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub(super) struct PasswordBody {
    association: String,
    username: String,
    current_password: String,
    new_password: String,
}

/// Changes a password (the one-time one, or any); ends every other session
/// and starts a new one.
pub(super) async fn change_password(
    axum::extract::State(mut services): State,
    headers: HeaderMap,
    Body(body): Body<PasswordBody>,
) -> ApiResult {
    let message = intake::ChangePasswordRequest {
        association: body.association,
        username: body.username,
        current_password: body.current_password,
        new_password: body.new_password,
    };
    session(services.sessions.change_password(grpc(&headers, message)).await?.into_inner())
}
