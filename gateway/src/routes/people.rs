//! Beneficiaries and their accounts: registration, sign-in, the first
//! password change, and the registry staff read.

use super::{ApiResult, ApplicantBody, Body, State, grpc, ok, time};
use axum::Json;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use masar_domain::Bilingual;
use masar_proto::intake::v1 as intake;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
pub(super) struct RegistrationBody {
    association: String,
    channel: String,
    applicant: ApplicantBody,
}

/// Self-registration (website, app) or reception's assisted registration.
pub(super) async fn register_account(
    axum::extract::State(mut services): State,
    headers: HeaderMap,
    Body(body): Body<RegistrationBody>,
) -> ApiResult {
    let message = intake::RegisterAccountRequest {
        association: body.association,
        channel: body.channel,
        applicant: Some(body.applicant.into()),
    };
    let r = services.beneficiaries.register_account(grpc(&headers, message)).await?.into_inner();
    let told = Bilingual::new(
        format!("أرسلنا اسم المستخدم وكلمة مرور مؤقتة برسالة نصية إلى {}", r.mobile_masked),
        format!("We sent the username and a one-time password by SMS to {}", r.mobile_masked),
    );
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "beneficiary_id": r.beneficiary_id, "account_id": r.account_id, "username": r.username,
            "sms_to": r.mobile_masked, "message": told,
        })),
    ))
}

#[derive(Deserialize)]
pub(super) struct SignInBody {
    association: String,
    username: String,
    password: String,
}

fn signed_in(r: intake::SignInResult) -> ApiResult {
    ok(json!({
        "account_id": r.account_id, "beneficiary_id": r.beneficiary_id, "username": r.username,
        "must_change_password": r.must_change_password,
    }))
}

pub(super) async fn sign_in(
    axum::extract::State(mut services): State,
    headers: HeaderMap,
    Body(body): Body<SignInBody>,
) -> ApiResult {
    let message =
        intake::SignInRequest { association: body.association, username: body.username, password: body.password };
    signed_in(services.beneficiaries.sign_in(grpc(&headers, message)).await?.into_inner())
}

#[derive(Deserialize)]
pub(super) struct PasswordBody {
    association: String,
    username: String,
    current_password: String,
    new_password: String,
}

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
    signed_in(services.beneficiaries.change_password(grpc(&headers, message)).await?.into_inner())
}

fn beneficiary_json(b: &intake::Beneficiary) -> Value {
    json!({
        "beneficiary_id": b.beneficiary_id, "association": b.association, "full_name": b.full_name,
        "national_id": b.national_id_masked, "mobile": b.mobile_masked, "preferred_language": b.preferred_language,
        "channel": b.channel, "registered_by": b.registered_by, "registered_at": time(b.registered_at.as_ref()),
        "registered_on_hijri": b.registered_on_hijri, "has_account": b.has_account,
        "possible_duplicate_of": Some(&b.possible_duplicate_of).filter(|id| !id.is_empty()),
    })
}

pub(super) async fn get_beneficiary(
    axum::extract::State(mut services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let message = intake::GetBeneficiaryRequest { beneficiary_id: id };
    ok(beneficiary_json(&services.beneficiaries.get_beneficiary(grpc(&headers, message)).await?.into_inner()))
}

pub(super) async fn list_possible_duplicates(
    axum::extract::State(mut services): State,
    headers: HeaderMap,
) -> ApiResult {
    let message = intake::ListPossibleDuplicatesRequest {};
    let reply = services.beneficiaries.list_possible_duplicates(grpc(&headers, message)).await?.into_inner();
    let pairs: Vec<Value> = reply
        .duplicates
        .iter()
        .map(|d| {
            json!({
                "beneficiary": d.beneficiary.as_ref().map(beneficiary_json),
                "resembles": d.resembles.as_ref().map(beneficiary_json),
            })
        })
        .collect();
    ok(json!({ "possible_duplicates": pairs }))
}
