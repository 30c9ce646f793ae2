//! Beneficiaries and their accounts: registration, and the registry staff read.

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
