//! Inquiries: asked from any channel, referred, answered, each with its timeline.

use super::Query;
use super::{
    Body, Created, FrontEndLanguage, Note, PageQuery, Reply, State, created, grpc, language_or, present, time,
};
use crate::versions::{IfMatch, VersionedReply, versioned};
use axum::Json;
use axum::extract::Path;
use axum::http::HeaderMap;
use masar_proto::intake::v1 as intake;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// One step of an inquiry: asked, referred or answered.
#[derive(Serialize, ToSchema)]
pub(super) struct InquiryEntry {
    status: String,
    actor_role: String,
    channel: String,
    text: String,
    at: Option<String>,
    on_hijri: String,
}

/// An inquiry with its timeline; the mobile is masked.
#[derive(Serialize, ToSchema)]
pub(super) struct Inquiry {
    inquiry_id: String,
    reference: String,
    association: String,
    branch: String,
    channel: String,
    /// `open`, `referred` or `answered`.
    status: String,
    referred_to: Option<String>,
    asker_name: String,
    mobile: String,
    question: String,
    /// The registry entry, when the asker was identified.
    beneficiary_id: Option<String>,
    timeline: Vec<InquiryEntry>,
    /// The inquiry's version: send it back as `If-Match` to refer or answer it.
    version: u64,
}

impl From<intake::Inquiry> for Inquiry {
    fn from(i: intake::Inquiry) -> Self {
        let timeline = i
            .timeline
            .into_iter()
            .map(|e| InquiryEntry {
                at: time(e.at.as_ref()),
                status: e.status,
                actor_role: e.actor_role,
                channel: e.channel,
                text: e.text,
                on_hijri: e.on_hijri,
            })
            .collect();
        Self {
            referred_to: present(&i.referred_to),
            beneficiary_id: present(&i.beneficiary_id),
            inquiry_id: i.inquiry_id,
            reference: i.reference,
            association: i.association,
            branch: i.branch,
            channel: i.channel,
            status: i.status,
            asker_name: i.asker_name,
            mobile: i.mobile_masked,
            question: i.question,
            timeline,
            version: i.version,
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub(super) struct Question {
    association: String,
    branch: String,
    channel: String,
    name: String,
    /// Where the answer goes by SMS.
    #[serde(default)]
    mobile: String,
    /// Recorded by staff who identified the asker; a signed-in beneficiary is known by their token.
    #[serde(default)]
    national_id: String,
    /// `ar` or `en` for the answer's SMS; when empty, the request's `Accept-Language`.
    #[serde(default)]
    preferred_language: String,
    question: String,
}

/// Asks a question, anonymously or signed in; reception records one from any channel.
#[utoipa::path(post, path = "/v1/inquiries", tag = "inquiries", request_body = Question,
    responses((status = 201, body = Inquiry)))]
pub(super) async fn ask_question(
    axum::extract::State(services): State,
    axum::Extension(language): FrontEndLanguage,
    headers: HeaderMap,
    Body(body): Body<Question>,
) -> Created<Inquiry> {
    let message = intake::AskQuestionRequest {
        association: body.association,
        branch: body.branch,
        channel: body.channel,
        name: body.name,
        mobile: body.mobile,
        national_id: body.national_id,
        preferred_language: language_or(body.preferred_language, language),
        question: body.question,
    };
    Ok(created(services.inquiries.clone().ask_question(grpc(&headers, message)).await?.into_inner().into()))
}

/// Refers an inquiry reception cannot answer to the project manager.
#[utoipa::path(post, path = "/v1/inquiries/{id}/refer", tag = "inquiries",
    params(("id" = String, Path, description = "The inquiry"), IfMatch), request_body = Note,
    responses((status = 200, body = Inquiry)))]
pub(super) async fn refer_inquiry(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
    if_match: IfMatch,
    Body(body): Body<Note>,
) -> VersionedReply<Inquiry> {
    let message = intake::ReferInquiryRequest { inquiry_id: id, note: body.note, expected_version: if_match.0 };
    if_match.versioned(services.inquiries.clone().refer_inquiry(grpc(&headers, message)).await, |r| r.version)
}

#[derive(Deserialize, ToSchema)]
pub(super) struct Answer {
    answer: String,
    /// How the answer was given, e.g. `phone`; empty: the inquiry's own channel.
    #[serde(default)]
    channel: String,
}

/// Answers an inquiry; the asker is told by SMS.
#[utoipa::path(post, path = "/v1/inquiries/{id}/answer", tag = "inquiries",
    params(("id" = String, Path, description = "The inquiry"), IfMatch), request_body = Answer,
    responses((status = 200, body = Inquiry)))]
pub(super) async fn answer_inquiry(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
    if_match: IfMatch,
    Body(body): Body<Answer>,
) -> VersionedReply<Inquiry> {
    let message = intake::AnswerInquiryRequest {
        inquiry_id: id,
        answer: body.answer,
        channel: body.channel,
        expected_version: if_match.0,
    };
    if_match.versioned(services.inquiries.clone().answer_inquiry(grpc(&headers, message)).await, |r| r.version)
}

/// One inquiry: its signed-in asker, or staff of its association.
#[utoipa::path(get, path = "/v1/inquiries/{id}", tag = "inquiries",
    params(("id" = String, Path, description = "The inquiry")), responses((status = 200, body = Inquiry)))]
pub(super) async fn get_inquiry(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> VersionedReply<Inquiry> {
    let message = intake::GetInquiryRequest { inquiry_id: id };
    versioned(services.inquiries.clone().get_inquiry(grpc(&headers, message)).await, |r| r.version)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct StatusQuery {
    /// `open`, `referred` or `answered`; empty: open and referred.
    #[serde(default)]
    status: String,
}

#[derive(Serialize, ToSchema)]
pub(super) struct Inquiries {
    /// Oldest first, without their timelines (see `GET /v1/inquiries/{id}`).
    inquiries: Vec<Inquiry>,
    /// Pass as `page_token` for the next page; `null` on the last page.
    next_page_token: Option<String>,
}

/// Staff: the association's inquiries; a beneficiary: their own.
#[utoipa::path(get, path = "/v1/inquiries", tag = "inquiries", params(StatusQuery, PageQuery),
    responses((status = 200, body = Inquiries)))]
pub(super) async fn list_inquiries(
    axum::extract::State(services): State,
    headers: HeaderMap,
    Query(q): Query<StatusQuery>,
    Query(page): Query<PageQuery>,
) -> Reply<Inquiries> {
    let message =
        intake::ListInquiriesRequest { status: q.status, page_size: page.page_size, page_token: page.page_token };
    let reply = services.inquiries.clone().list_inquiries(grpc(&headers, message)).await?.into_inner();
    Ok(Json(Inquiries {
        inquiries: reply.inquiries.into_iter().map(Inquiry::from).collect(),
        next_page_token: present(&reply.next_page_token),
    }))
}
