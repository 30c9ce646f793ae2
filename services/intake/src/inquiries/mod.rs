//! Inquiries: a beneficiary's question from any channel, answered by
//! reception or referred to the association's referral role, with its own timeline.

use crate::requests::new_reference;
use crate::requests::store::IntakeStore;
use chrono::Utc;
use masar_domain::calendar::saudi_day;
use masar_domain::{
    ActorRole, Bilingual, FieldError, HijriDate, InquiryStatus, Language, NationalId, PolicyPack, SaudiMobile,
    TextRule, clean_text,
};
use masar_platform::audit::{self, Actor, action};
use masar_platform::forms::{
    acted_by, acting_role, check_association, check_branch, policy_in_force, read_channel, read_text, submitter,
};
use masar_platform::grpc::{Problem, changed_meanwhile, ensure_version, invalid_input, parse_uuid};
use masar_platform::identity::{Caller, Staff};
use masar_platform::messaging::Outbox;
use masar_platform::paging::{PageRequest, Position};
use masar_platform::personal::Field;
use masar_platform::policies::PolicyBook;
use masar_platform::tokens::TokenVerifier;
use masar_proto::Event;
use masar_proto::event_type;
use masar_proto::events::v1 as events;
use masar_proto::intake::v1::{self as api, inquiry_service_server::InquiryService};
use tonic::{Code, Request, Response, Status};
use uuid::Uuid;

mod store;

pub use store::{InquiryEntry, InquiryFilter, StoredInquiry};

pub struct Inquiries {
    pub store: IntakeStore,
    pub outbox: Outbox,
    pub verifier: TokenVerifier,
    pub policies: PolicyBook,
}

fn inquiry_not_found() -> Status {
    Problem::new(Bilingual::new("الاستفسار غير موجود", "No such inquiry")).into_status(Code::NotFound)
}

fn entry_reply(e: InquiryEntry) -> api::InquiryEntry {
    api::InquiryEntry {
        status: e.status.to_string(),
        actor_role: e.actor_role.to_string(),
        channel: e.channel.to_string(),
        text: e.text,
        on_hijri: HijriDate::on(e.at).to_string(),
        at: Some(masar_proto::timestamp(e.at)),
    }
}

fn inquiry_reply(i: StoredInquiry, timeline: Vec<InquiryEntry>) -> api::Inquiry {
    api::Inquiry {
        inquiry_id: i.inquiry_id.to_string(),
        reference: i.reference,
        association: i.association,
        branch: i.branch,
        channel: i.channel.to_string(),
        status: i.status.to_string(),
        referred_to: i.referred_to.map(|r| r.to_string()).unwrap_or_default(),
        asker_name: i.asker_name,
        mobile_masked: i.mobile.as_deref().map(SaudiMobile::mask).unwrap_or_default(),
        question: i.question,
        beneficiary_id: i.beneficiary_id.map(|id| id.to_string()).unwrap_or_default(),
        timeline: timeline.into_iter().map(entry_reply).collect(),
        version: i.version,
    }
}

impl Inquiries {
    /// The association's policy in force today.
    async fn pack(&self, association: &str) -> Result<Option<PolicyPack>, Status> {
        policy_in_force(&self.policies, association, saudi_day(Utc::now())).await
    }

    /// The inquiry, if the caller may see it: staff in scope (the referral
    /// role across the association), or the beneficiary it is linked to.
    /// Someone who asked without an account gets the answer by SMS.
    async fn visible(&self, caller: &Caller, inquiry_id: &str) -> Result<StoredInquiry, Status> {
        let inquiry_id = parse_uuid("inquiry_id", inquiry_id)?;
        let inquiry = self.store.inquiry(inquiry_id).await?.ok_or_else(inquiry_not_found)?;
        if caller.can_see(&inquiry.association, &inquiry.branch, inquiry.owner()) {
            Ok(inquiry)
        } else {
            Err(inquiry_not_found())
        }
    }

    /// Refuses all but the front desk and the association's referral role,
    /// who answer inquiries; returns the association's policy.
    async fn require_inquiry_desk(&self, staff: &Staff) -> Result<PolicyPack, Status> {
        let pack = self.pack(&staff.association).await?.ok_or_else(inquiry_not_found)?;
        staff.require_role(&[ActorRole::FRONT_DESK.as_slice(), &[pack.referral_role]].concat())?;
        Ok(pack)
    }

    async fn reply(&self, inquiry: StoredInquiry) -> Result<Response<api::Inquiry>, Status> {
        let timeline = self.store.inquiry_timeline(inquiry.inquiry_id).await?;
        Ok(Response::new(inquiry_reply(inquiry, timeline)))
    }
}

fn cannot_move(status: InquiryStatus) -> Status {
    let (ar, en) = match status {
        InquiryStatus::Answered => ("تمت الإجابة عن الاستفسار من قبل", "The inquiry was already answered"),
        InquiryStatus::Referred => ("الاستفسار محال من قبل", "The inquiry was already referred"),
        InquiryStatus::Open => ("الاستفسار مفتوح", "The inquiry is open"),
    };
    Problem::new(Bilingual::new(ar, en)).into_status(Code::FailedPrecondition)
}

#[tonic::async_trait]
impl InquiryService for Inquiries {
    async fn ask_question(&self, request: Request<api::AskQuestionRequest>) -> Result<Response<api::Inquiry>, Status> {
        let caller = Caller::from_request(&self.verifier, &request)?;
        let staff = submitter(caller.as_ref())?;
        let input = request.get_ref();
        if let Some(staff) = &staff
            && !staff.can_see(input.association.trim(), input.branch.trim())
        {
            return Err(Problem::new(Bilingual::new(
                "لا يمكنك تسجيل استفسار لهذا الفرع",
                "You cannot record inquiries for this branch",
            ))
            .into_status(Code::PermissionDenied));
        }
        let pack = self.pack(&input.association).await?;
        let mut errors = Vec::new();
        check_association(&input.association, pack.as_ref(), &mut errors);
        check_branch(pack.as_ref(), &input.branch, &mut errors);
        let channel = read_channel(pack.as_ref(), &input.channel, &mut errors);
        if staff.is_none() && channel.is_some_and(|c| !c.is_online()) {
            errors.push(FieldError::new(
                "channel",
                Bilingual::new(
                    "الاستفسار الذاتي عبر الموقع أو التطبيق؛ وفي غيرهما يسجله موظف الاستقبال",
                    "Ask online through the website or the app; on other channels reception records your question",
                ),
            ));
        }
        let name = clean_text("name", &input.name, TextRule::PERSON_NAME).unwrap_or_else(|problem| {
            errors.push(problem);
            String::new()
        });
        if name.is_empty() && !errors.iter().any(|e| e.field == "name") {
            errors.push(FieldError::required("name"));
        }
        let mobile = match input.mobile.trim() {
            "" => None,
            text => SaudiMobile::parse(text).map_err(|e| errors.push(FieldError::new("mobile", e.explain()))).ok(),
        };
        let national_id = match input.national_id.trim() {
            "" => None,
            text => NationalId::parse(text).map_err(|e| errors.push(FieldError::new("national_id", e.explain()))).ok(),
        };
        let question = read_text("question", &input.question, &mut errors);
        let (Some(pack), Some(channel)) = (pack, channel) else {
            return Err(invalid_input(errors));
        };
        if !errors.is_empty() {
            return Err(invalid_input(errors));
        }
        let now = Utc::now();
        let mut tx = self.store.db().begin().await?;
        // Linked to a registry entry only on someone's word who is known: the
        // signed-in beneficiary themself, or staff for the ID they were shown.
        // A typed national ID alone would file a stranger's text in that person's account.
        let beneficiary_id = match (&caller, &national_id) {
            (Some(Caller::Beneficiary(own)), _) if own.association == pack.association => Some(own.beneficiary_id),
            (Some(Caller::Staff(_)), Some(id)) => {
                self.store.beneficiary_by_national_id(&mut tx, &pack.association, id).await?.map(|b| b.beneficiary_id)
            }
            _ => None,
        };
        let asked_by_account = match &caller {
            Some(Caller::Beneficiary(own)) => Some(own.account_id),
            _ => None,
        };
        let inquiry = StoredInquiry {
            inquiry_id: Uuid::now_v7(),
            reference: new_reference(&format!("{}-Q", pack.reference_prefix)),
            association: pack.association.clone(),
            branch: input.branch.trim().to_owned(),
            channel,
            beneficiary_id,
            asked_by_account,
            asker_name: name,
            mobile: mobile.map(|m| m.as_str().to_owned()),
            language: Language::from_tag(&input.preferred_language),
            question: question.clone(),
            status: InquiryStatus::Open,
            referred_to: None,
            asked_at: now,
            version: 1,
        };
        let asked = InquiryEntry {
            status: InquiryStatus::Open,
            actor_role: acting_role(&staff),
            actor: acted_by(&staff),
            channel,
            text: question,
            at: now,
        };
        self.store.insert_inquiry(&mut tx, &inquiry, &asked).await?;
        let actor = match &caller {
            Some(caller) => Actor::calling(caller, &request),
            None => Actor::anonymous(&request),
        };
        audit::record(&mut tx, &actor, inquiry.audit_subject(), action::INQUIRY_ASKED, &inquiry.reference).await?;
        tx.commit().await?;
        tracing::info!(inquiry_id = %inquiry.inquiry_id, association = %inquiry.association, %channel, "inquiry received");
        Ok(Response::new(inquiry_reply(inquiry, vec![asked])))
    }

    async fn refer_inquiry(
        &self,
        request: Request<api::ReferInquiryRequest>,
    ) -> Result<Response<api::Inquiry>, Status> {
        let caller = Caller::required(&self.verifier, &request)?;
        let staff = caller.as_staff()?;
        staff.require_role(&ActorRole::FRONT_DESK)?;
        let inquiry = self.visible(&caller, &request.get_ref().inquiry_id).await?;
        ensure_version(request.get_ref().expected_version, inquiry.version)?;
        if !inquiry.status.can_become(InquiryStatus::Referred) {
            return Err(cannot_move(inquiry.status));
        }
        let pack = self.pack(&inquiry.association).await?.ok_or_else(inquiry_not_found)?;
        let referral_role = pack.referral_role;
        let note = masar_platform::grpc::cleaned("note", &request.get_ref().note, TextRule::NOTE)?;
        let note = note.as_str();
        let entry = InquiryEntry {
            status: InquiryStatus::Referred,
            actor_role: staff.role,
            actor: staff.username.clone(),
            channel: inquiry.channel,
            text: if note.is_empty() { referral_role.to_string() } else { note.to_owned() },
            at: Utc::now(),
        };
        let mut tx = self.store.db().begin().await?;
        if !self.store.move_inquiry(&mut tx, &inquiry, Some(referral_role), &entry).await? {
            return Err(changed_meanwhile());
        }
        let detail = format!("{} to {referral_role}", inquiry.reference);
        audit::record(
            &mut tx,
            &Actor::staff(staff, &request),
            inquiry.audit_subject(),
            action::INQUIRY_REFERRED,
            &detail,
        )
        .await?;
        tx.commit().await?;
        tracing::info!(inquiry_id = %inquiry.inquiry_id, referred_to = %referral_role, "inquiry referred");
        let version = inquiry.version + 1;
        self.reply(StoredInquiry {
            status: InquiryStatus::Referred,
            referred_to: Some(referral_role),
            version,
            ..inquiry
        })
        .await
    }

    async fn answer_inquiry(
        &self,
        request: Request<api::AnswerInquiryRequest>,
    ) -> Result<Response<api::Inquiry>, Status> {
        let caller = Caller::required(&self.verifier, &request)?;
        let staff = caller.as_staff()?;
        // Who may answer at all, before looking the inquiry up: the front desk and the referral role.
        self.require_inquiry_desk(staff).await?;
        let inquiry = self.visible(&caller, &request.get_ref().inquiry_id).await?;
        // A referred inquiry is the referral role's to answer (or the association admin's).
        if let Some(role) = inquiry.referred_to.filter(|_| inquiry.status == InquiryStatus::Referred) {
            staff.require_role(&[role, ActorRole::AssociationAdmin])?;
        }
        ensure_version(request.get_ref().expected_version, inquiry.version)?;
        if !inquiry.status.can_become(InquiryStatus::Answered) {
            return Err(cannot_move(inquiry.status));
        }
        let input = request.get_ref();
        let mut errors = Vec::new();
        let answer = read_text("answer", &input.answer, &mut errors);
        let channel = match input.channel.trim() {
            "" => Some(inquiry.channel),
            text => read_channel(None, text, &mut errors),
        };
        let Some(channel) = channel.filter(|_| errors.is_empty()) else {
            return Err(invalid_input(errors));
        };
        let now = Utc::now();
        let entry = InquiryEntry {
            status: InquiryStatus::Answered,
            actor_role: staff.role,
            actor: staff.username.clone(),
            channel,
            text: answer.clone(),
            at: now,
        };
        let mut tx = self.store.db().begin().await?;
        if !self.store.move_inquiry(&mut tx, &inquiry, inquiry.referred_to, &entry).await? {
            return Err(changed_meanwhile());
        }
        if let Some(mobile) = &inquiry.mobile {
            let event = events::InquiryAnswered {
                inquiry_id: inquiry.inquiry_id.to_string(),
                association: inquiry.association.clone(),
                reference: inquiry.reference.clone(),
                mobile: self.store.personal().seal(&inquiry.association, Field::Mobile, mobile),
                preferred_language: inquiry.language.tag().to_owned(),
                answer,
                channel: channel.as_str().to_owned(),
                actor: Some(staff.event_actor()),
                answered_at: Some(masar_proto::timestamp(now)),
            };
            self.outbox.append(&mut tx, &Event::InquiryAnswered(event)).await?;
        }
        let actor = Actor::staff(staff, &request);
        audit::record(&mut tx, &actor, inquiry.audit_subject(), event_type::INQUIRY_ANSWERED, &inquiry.reference)
            .await?;
        tx.commit().await?;
        self.outbox.wake();
        tracing::info!(inquiry_id = %inquiry.inquiry_id, %channel, "inquiry answered");
        self.reply(StoredInquiry { status: InquiryStatus::Answered, version: inquiry.version + 1, ..inquiry }).await
    }

    async fn get_inquiry(&self, request: Request<api::GetInquiryRequest>) -> Result<Response<api::Inquiry>, Status> {
        let caller = Caller::required(&self.verifier, &request)?;
        let inquiry = self.visible(&caller, &request.get_ref().inquiry_id).await?;
        self.reply(inquiry).await
    }

    async fn list_inquiries(
        &self,
        request: Request<api::ListInquiriesRequest>,
    ) -> Result<Response<api::ListInquiriesResponse>, Status> {
        let caller = Caller::required(&self.verifier, &request)?;
        // A beneficiary follows their own; staff work the queue of their scope.
        let referral_role = match &caller {
            Caller::Staff(staff) => Some(self.require_inquiry_desk(staff).await?.referral_role),
            Caller::Beneficiary(_) => None,
        };
        let page = PageRequest::read(request.get_ref().page_size, &request.get_ref().page_token)?;
        let mut statuses = match (request.get_ref().status.trim(), &caller) {
            ("", Caller::Staff(_)) => vec![InquiryStatus::Open, InquiryStatus::Referred],
            ("", Caller::Beneficiary(_)) => InquiryStatus::ALL.to_vec(),
            (text, _) => vec![InquiryStatus::parse(text).map_err(|_| {
                invalid_input(vec![FieldError::new(
                    "status",
                    Bilingual::new("الحالة: open أو referred أو answered", "Status: open, referred or answered"),
                )])
            })?],
        };
        let branch;
        let filter = match &caller {
            Caller::Beneficiary(own) => InquiryFilter {
                association: &own.association,
                statuses: &statuses,
                branch: None,
                referred_to: None,
                beneficiary_id: Some(own.beneficiary_id),
                asked_by_account: own.only_filed_by(),
            },
            Caller::Staff(staff) => {
                branch = staff.branch_filter("");
                // The referral role's queue is what was referred to it: never an open inquiry.
                let is_referral_role = Some(staff.role) == referral_role;
                statuses.retain(|s| !(is_referral_role && *s == InquiryStatus::Open));
                if statuses.is_empty() {
                    return Ok(Response::new(api::ListInquiriesResponse::default()));
                }
                InquiryFilter {
                    association: &staff.association,
                    statuses: &statuses,
                    branch: branch.as_deref(),
                    referred_to: is_referral_role.then_some(staff.role),
                    beneficiary_id: None,
                    asked_by_account: None,
                }
            }
        };
        let found = self.store.inquiries(filter, &page).await?;
        let (found, next_page_token) = page.finish(found, |i| Position { at: i.asked_at, id: i.inquiry_id });
        let inquiries = found.into_iter().map(|i| inquiry_reply(i, Vec::new())).collect();
        Ok(Response::new(api::ListInquiriesResponse { inquiries, next_page_token }))
    }
}
