//! Beneficiaries and their accounts: registration, and the registry staff read.

use super::Query;
use super::{Applicant, Body, Created, FrontEndLanguage, PageQuery, Reply, State, created, grpc, present, time};
use axum::Json;
use axum::extract::Path;
use axum::http::HeaderMap;
use masar_domain::Bilingual;
use masar_proto::identity::v1 as identity;
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
    axum::extract::State(services): State,
    axum::Extension(language): FrontEndLanguage,
    headers: HeaderMap,
    Body(body): Body<Registration>,
) -> Created<Registered> {
    let message = identity::RegisterAccountRequest {
        association: body.association,
        channel: body.channel,
        applicant: Some(body.applicant.into_message(language)),
    };
    let r = services.accounts.clone().register_account(grpc(&headers, message)).await?.into_inner();
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
    axum::extract::State(services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Reply<Beneficiary> {
    let message = intake::GetBeneficiaryRequest { beneficiary_id: id };
    Ok(Json(services.beneficiaries.clone().get_beneficiary(grpc(&headers, message)).await?.into_inner().into()))
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
    axum::extract::State(services): State,
    headers: HeaderMap,
    Query(page): Query<PageQuery>,
) -> Reply<PossibleDuplicates> {
    let message = intake::ListPossibleDuplicatesRequest { page_size: page.page_size, page_token: page.page_token };
    let reply = services.beneficiaries.clone().list_possible_duplicates(grpc(&headers, message)).await?.into_inner();
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

/// A beneficiary's account, for staff. Until its holder proves the national
/// ID is theirs (`standing` `unverified`) it sees only what it filed itself.
#[derive(Serialize, ToSchema)]
pub(super) struct Account {
    account_id: String,
    username: String,
    beneficiary_id: String,
    /// `unverified`, `registry_mobile`, `in_person`, `identity_provider` or `closed`.
    standing: String,
    /// Where its credentials went, masked.
    mobile: String,
    channel: String,
    opened_by: String,
    opened_at: Option<String>,
    opened_on_hijri: String,
    verified_by: Option<String>,
    verified_at: Option<String>,
    closed_reason: Option<String>,
}

impl From<identity::Account> for Account {
    fn from(a: identity::Account) -> Self {
        Self {
            opened_at: time(a.opened_at.as_ref()),
            verified_at: time(a.verified_at.as_ref()),
            verified_by: present(&a.verified_by),
            closed_reason: present(&a.closed_reason),
            account_id: a.account_id,
            username: a.username,
            beneficiary_id: a.beneficiary_id,
            standing: a.standing,
            mobile: a.mobile_masked,
            channel: a.channel,
            opened_by: a.opened_by,
            opened_on_hijri: a.opened_on_hijri,
        }
    }
}

/// An unverified account, with the registry entry it claims and the entry's other accounts.
#[derive(Serialize, ToSchema)]
pub(super) struct AccountClaim {
    account: Option<Account>,
    beneficiary: Option<Beneficiary>,
    /// Competing claims, or the ID's verified holder.
    others: Vec<Account>,
}

#[derive(Serialize, ToSchema)]
pub(super) struct AccountClaims {
    /// Oldest first.
    claims: Vec<AccountClaim>,
    /// Pass as `page_token` for the next page; `null` on the last page.
    next_page_token: Option<String>,
}

/// Unverified accounts (claims to a national ID) for staff to verify or turn down.
#[utoipa::path(get, path = "/v1/accounts/claims", tag = "accounts", params(PageQuery),
    responses((status = 200, body = AccountClaims)))]
pub(super) async fn list_account_claims(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Query(page): Query<PageQuery>,
) -> Reply<AccountClaims> {
    let message = identity::ListAccountClaimsRequest { page_size: page.page_size, page_token: page.page_token };
    let reply = services.accounts.clone().list_account_claims(grpc(&headers, message)).await?.into_inner();
    let claims = reply
        .claims
        .into_iter()
        .map(|c| AccountClaim {
            account: c.account.map(Account::from),
            beneficiary: c.beneficiary.map(Beneficiary::from),
            others: c.others.into_iter().map(Account::from).collect(),
        })
        .collect();
    Ok(Json(AccountClaims { claims, next_page_token: present(&reply.next_page_token) }))
}

#[derive(Deserialize, ToSchema)]
pub(super) struct SeenInPerson {
    /// What reception saw, e.g. "national ID card, photo matches".
    note: String,
}

/// Reception saw the account's holder with their ID card: the account becomes theirs.
#[utoipa::path(post, path = "/v1/accounts/{id}/verify", tag = "accounts",
    params(("id" = String, Path, description = "The account")), request_body = SeenInPerson,
    responses((status = 200, body = Account)))]
pub(super) async fn verify_account_holder(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
    Body(body): Body<SeenInPerson>,
) -> Reply<Account> {
    let message = identity::VerifyAccountHolderRequest { account_id: id, note: body.note };
    Ok(Json(services.accounts.clone().verify_account_holder(grpc(&headers, message)).await?.into_inner().into()))
}

#[derive(Deserialize, ToSchema)]
pub(super) struct ClaimTurnedDown {
    reason: String,
}

/// Turns a claim down: the account signs in no more, and its sessions end.
#[utoipa::path(post, path = "/v1/accounts/{id}/close", tag = "accounts",
    params(("id" = String, Path, description = "The account")), request_body = ClaimTurnedDown,
    responses((status = 200, body = Account)))]
pub(super) async fn close_account_claim(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
    Body(body): Body<ClaimTurnedDown>,
) -> Reply<Account> {
    let message = identity::CloseAccountClaimRequest { account_id: id, reason: body.reason };
    Ok(Json(services.accounts.clone().close_account_claim(grpc(&headers, message)).await?.into_inner().into()))
}

/// An external identity check (Nafath-style) of the signed-in beneficiary.
#[derive(Serialize, ToSchema)]
pub(super) struct IdentityCheck {
    check_id: String,
    /// Choose this number in your national identity app.
    number: u32,
    /// `waiting`, `confirmed`, `refused` or `expired`.
    answer: String,
    /// The account's standing now; once confirmed, refresh the session to see every case of yours.
    account_standing: String,
}

impl From<identity::IdentityCheck> for IdentityCheck {
    fn from(c: identity::IdentityCheck) -> Self {
        Self { check_id: c.check_id, number: c.number, answer: c.answer, account_standing: c.account_standing }
    }
}

/// Asks the identity provider to have the national ID's holder confirm, in their app.
#[utoipa::path(post, path = "/v1/me/identity-checks", tag = "accounts",
    responses((status = 201, body = IdentityCheck)))]
pub(super) async fn start_identity_check(
    axum::extract::State(services): State,
    headers: HeaderMap,
) -> Created<IdentityCheck> {
    let message = identity::StartIdentityCheckRequest {};
    Ok(created(services.accounts.clone().start_identity_check(grpc(&headers, message)).await?.into_inner().into()))
}

/// Where an identity check stands; poll it until it is no longer `waiting`.
#[utoipa::path(get, path = "/v1/me/identity-checks/{id}", tag = "accounts",
    params(("id" = String, Path, description = "The check")), responses((status = 200, body = IdentityCheck)))]
pub(super) async fn get_identity_check(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Reply<IdentityCheck> {
    let message = identity::GetIdentityCheckRequest { check_id: id };
    Ok(Json(services.accounts.clone().get_identity_check(grpc(&headers, message)).await?.into_inner().into()))
}
