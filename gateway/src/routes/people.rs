//! Beneficiaries and their accounts: registration, and the registry staff read.

use super::Query;
use super::{Applicant, Body, Created, FrontEndLanguage, PageQuery, Reply, State, created, grpc, present, time};
use axum::Json;
use axum::extract::Path;
use axum::http::HeaderMap;
use masar_domain::Bilingual;
use masar_proto::intake::v1 as intake;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
pub(super) struct Registration {
    association: String,
    /// `website` or `mobile_app` alone; reception records other channels.
    channel: String,
    applicant: Applicant,
}

/// A registration. To reception (`201`): the new account, whose username and
/// one-time password went by SMS. To anyone online (`202`): only that the
/// request is taken, alike whether or not the national ID is on file or has
/// an account; the SMS, if any, goes to the number the registry holds.
#[derive(Serialize, ToSchema)]
pub(super) struct Registered {
    #[serde(skip_serializing_if = "Option::is_none")]
    beneficiary_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    /// The masked number the SMS went to (reception only).
    #[serde(skip_serializing_if = "Option::is_none")]
    sms_to: Option<String>,
    message: Bilingual,
}

/// Self-registration (website, app) or reception's assisted registration.
#[utoipa::path(post, path = "/v1/accounts", tag = "accounts", request_body = Registration,
    responses((status = 201, body = Registered, description = "Registered by reception"),
              (status = 202, body = Registered, description = "Taken; the SMS says the rest")))]
pub(super) async fn register_account(
    axum::extract::State(mut services): State,
    axum::Extension(language): FrontEndLanguage,
    headers: HeaderMap,
    Body(body): Body<Registration>,
) -> Created<Registered> {
    let message = intake::RegisterAccountRequest {
        association: body.association,
        channel: body.channel,
        applicant: Some(body.applicant.into_message(language)),
    };
    let r = services.beneficiaries.register_account(grpc(&headers, message)).await?.into_inner();
    if r.username.is_empty() {
        let taken = Bilingual::new(
            "استلمنا طلب التسجيل. إن كانت البيانات صحيحة فستصل رسالة نصية باسم المستخدم وكلمة مرور مؤقتة إلى رقم الجوال المسجل لدى الجمعية",
            "Your registration is received. If the details are right, an SMS with a username and a one-time password goes to the mobile number the association has on file",
        );
        let registered =
            Registered { beneficiary_id: None, account_id: None, username: None, sms_to: None, message: taken };
        return Ok((axum::http::StatusCode::ACCEPTED, Json(registered)));
    }
    let told = Bilingual::new(
        format!("أرسلنا اسم المستخدم وكلمة مرور مؤقتة برسالة نصية إلى {}", r.mobile_masked),
        format!("We sent the username and a one-time password by SMS to {}", r.mobile_masked),
    );
    Ok(created(Registered {
        beneficiary_id: Some(r.beneficiary_id),
        account_id: Some(r.account_id),
        username: Some(r.username),
        sms_to: Some(r.mobile_masked),
        message: told,
    }))
}

/// A registry entry; national ID and mobile are masked.
#[derive(Serialize, ToSchema)]
pub(super) struct Beneficiary {
    beneficiary_id: String,
    association: String,
    full_name: String,
    national_id: String,
    mobile: String,
    preferred_language: String,
    channel: String,
    registered_by: String,
    registered_at: Option<String>,
    registered_on_hijri: String,
    has_account: bool,
    possible_duplicate_of: Option<String>,
}

impl From<intake::Beneficiary> for Beneficiary {
    fn from(b: intake::Beneficiary) -> Self {
        Self {
            registered_at: time(b.registered_at.as_ref()),
            possible_duplicate_of: present(&b.possible_duplicate_of),
            beneficiary_id: b.beneficiary_id,
            association: b.association,
            full_name: b.full_name,
            national_id: b.national_id_masked,
            mobile: b.mobile_masked,
            preferred_language: b.preferred_language,
            channel: b.channel,
            registered_by: b.registered_by,
            registered_on_hijri: b.registered_on_hijri,
            has_account: b.has_account,
        }
    }
}

/// One registry entry, for staff of its association.
#[utoipa::path(get, path = "/v1/beneficiaries/{id}", tag = "accounts",
    params(("id" = String, Path, description = "The registry entry")), responses((status = 200, body = Beneficiary)))]
pub(super) async fn get_beneficiary(
    axum::extract::State(mut services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Reply<Beneficiary> {
    let message = intake::GetBeneficiaryRequest { beneficiary_id: id };
    Ok(Json(services.beneficiaries.get_beneficiary(grpc(&headers, message)).await?.into_inner().into()))
}

/// Two registry entries that may be the same person.
#[derive(Serialize, ToSchema)]
pub(super) struct PossibleDuplicate {
    beneficiary: Option<Beneficiary>,
    resembles: Option<Beneficiary>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct PossibleDuplicates {
    /// Newest first.
    possible_duplicates: Vec<PossibleDuplicate>,
    /// Pass as `page_token` for the next page; `null` on the last page.
    next_page_token: Option<String>,
}

/// Entries flagged as possibly the same person, for staff to reconcile.
#[utoipa::path(get, path = "/v1/beneficiaries/possible-duplicates", tag = "accounts", params(PageQuery),
    responses((status = 200, body = PossibleDuplicates)))]
pub(super) async fn list_possible_duplicates(
    axum::extract::State(mut services): State,
    headers: HeaderMap,
    Query(page): Query<PageQuery>,
) -> Reply<PossibleDuplicates> {
    let message = intake::ListPossibleDuplicatesRequest { page_size: page.page_size, page_token: page.page_token };
    let reply = services.beneficiaries.list_possible_duplicates(grpc(&headers, message)).await?.into_inner();
    let possible_duplicates = reply
        .duplicates
        .into_iter()
        .map(|d| PossibleDuplicate {
            beneficiary: d.beneficiary.map(Beneficiary::from),
            resembles: d.resembles.map(Beneficiary::from),
        })
        .collect();
    Ok(Json(PossibleDuplicates { possible_duplicates, next_page_token: present(&reply.next_page_token) }))
}
