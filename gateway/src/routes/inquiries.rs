//! Inquiries: asked from any channel, referred, answered, each with its timeline.

use super::{ApiResult, Body, State, grpc, ok, time};
use axum::Json;
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode};
use masar_proto::intake::v1 as intake;
use serde::Deserialize;
use serde_json::{Value, json};

fn inquiry_json(i: &intake::Inquiry) -> Value {
    let timeline: Vec<Value> = i
        .timeline
        .iter()
        .map(|e| {
            json!({
                "status": e.status, "actor_role": e.actor_role, "channel": e.channel, "text": e.text,
                "at": time(e.at.as_ref()), "on_hijri": e.on_hijri,
            })
        })
        .collect();
    json!({
        "inquiry_id": i.inquiry_id, "reference": i.reference, "association": i.association, "branch": i.branch,
        "channel": i.channel, "status": i.status, "referred_to": Some(&i.referred_to).filter(|r| !r.is_empty()),
        "asker_name": i.asker_name, "mobile": i.mobile_masked, "question": i.question,
        "beneficiary_id": Some(&i.beneficiary_id).filter(|b| !b.is_empty()), "timeline": timeline,
    })
}

#[derive(Deserialize)]
pub(super) struct QuestionBody {
    association: String,
    branch: String,
    channel: String,
    name: String,
    #[serde(default)]
    mobile: String,
    #[serde(default)]
    national_id: String,
    #[serde(default)]
    preferred_language: String,
    question: String,
}

pub(super) async fn ask_question(
    axum::extract::State(mut services): State,
    headers: HeaderMap,
    Body(body): Body<QuestionBody>,
) -> ApiResult {
    let message = intake::AskQuestionRequest {
        association: body.association,
        branch: body.branch,
        channel: body.channel,
        name: body.name,
        mobile: body.mobile,
        national_id: body.national_id,
        preferred_language: body.preferred_language,
        question: body.question,
    };
    let inquiry = services.inquiries.ask_question(grpc(&headers, message)).await?.into_inner();
    Ok((StatusCode::CREATED, Json(inquiry_json(&inquiry))))
}

#[derive(Deserialize, Default)]
pub(super) struct ReferBody {
    #[serde(default)]
    note: String,
}

pub(super) async fn refer_inquiry(
    axum::extract::State(mut services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
    Body(body): Body<ReferBody>,
) -> ApiResult {
    let message = intake::ReferInquiryRequest { inquiry_id: id, note: body.note };
    ok(inquiry_json(&services.inquiries.refer_inquiry(grpc(&headers, message)).await?.into_inner()))
}

#[derive(Deserialize)]
pub(super) struct AnswerBody {
    answer: String,
    #[serde(default)]
    channel: String,
}

pub(super) async fn answer_inquiry(
    axum::extract::State(mut services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
    Body(body): Body<AnswerBody>,
) -> ApiResult {
    let message = intake::AnswerInquiryRequest { inquiry_id: id, answer: body.answer, channel: body.channel };
    ok(inquiry_json(&services.inquiries.answer_inquiry(grpc(&headers, message)).await?.into_inner()))
}

pub(super) async fn get_inquiry(
    axum::extract::State(mut services): State,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let message = intake::GetInquiryRequest { inquiry_id: id };
    ok(inquiry_json(&services.inquiries.get_inquiry(grpc(&headers, message)).await?.into_inner()))
}

#[derive(Deserialize)]
pub(super) struct StatusQuery {
    #[serde(default)]
    status: String,
}

pub(super) async fn list_inquiries(
    axum::extract::State(mut services): State,
    headers: HeaderMap,
    Query(q): Query<StatusQuery>,
) -> ApiResult {
    let message = intake::ListInquiriesRequest { status: q.status };
    let reply = services.inquiries.list_inquiries(grpc(&headers, message)).await?.into_inner();
    ok(json!({ "inquiries": reply.inquiries.iter().map(inquiry_json).collect::<Vec<_>>() }))
}
