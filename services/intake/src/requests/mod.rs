//! Requests: the intake gRPC service (transport only; rules come from the
//! domain), with the request store, documents and the timeline beside it.

pub mod attachments;
pub mod store;
pub mod timeline;

use crate::registry::NewBeneficiary;
use crate::registry::register;
use crate::requests::attachments::{DocumentStore, inspect};
use crate::requests::store::{
    Attestation, IntakeStore, NewRequest, RequestFilter, StoredDocument, StoredRequest, TimelineEntry,
};
use chrono::{DateTime, NaiveDate, Utc};
use masar_domain::calendar::{parse_gregorian, saudi_day};
use masar_domain::eligibility::{fact_definition, read_answers};
use masar_domain::policy::DocumentValidity;
use masar_domain::working_days::WorkingCalendar;
use masar_domain::{
    ActorRole, Address, AddressForm, Bilingual, CaseStatus, Facts, FieldError, HijriDate, NationalId, PolicyPack,
    SaudiMobile, TextRule, clean_text, read_address,
};
use masar_platform::audit::{self, Actor, Subject, action};
use masar_platform::forms::{
    acted_by, acting_role, actor_of, check_association, check_branch, policy_in_force, read_applicant, read_channel,
    readable_code, submitter,
};
use masar_platform::grpc::{
    Problem, changed_meanwhile, cleaned, internal, invalid_input, iso_day_or_empty, parse_uuid, request_not_found,
};
use masar_platform::identity::{Caller, Staff};
use masar_platform::messaging::Outbox;
use masar_platform::paging::{PageRequest, Position};
use masar_platform::personal::{Field, PersonalData};
use masar_platform::policies::PolicyBook;
use masar_platform::tokens::TokenVerifier;
use masar_proto::Event;
use masar_proto::event_type;
use masar_proto::events::v1 as events;
use masar_proto::intake::v1::{self as api, intake_service_server::IntakeService};
use std::collections::HashMap;
use tonic::{Code, Request, Response, Status};
use uuid::Uuid;

pub struct Intake {
    pub store: IntakeStore,
    pub outbox: Outbox,
    pub verifier: TokenVerifier,
    pub policies: PolicyBook,
    pub documents: DocumentStore,
    /// The official holidays every association's working calendar skips.
    pub holidays: std::sync::Arc<masar_domain::working_days::OfficialHolidays>,
    /// Today, for the stage clocks.
    pub clock: masar_platform::clock::Clock,
}

/// The request, if it exists and the caller may see it: staff within their
/// scope, a beneficiary only their own. Anything else looks missing.
pub(crate) async fn visible_request(
    store: &IntakeStore,
    caller: &Caller,
    request_id: &str,
) -> Result<StoredRequest, Status> {
    let request_id = parse_uuid("request_id", request_id)?;
    let stored = store.request(request_id).await?.ok_or_else(request_not_found)?;
    if caller.can_see(&stored.association, &stored.branch, stored.owner()) {
        Ok(stored)
    } else {
        Err(request_not_found())
    }
}

/// Checks every field of a submission against the policy in force, reporting all problems at once.
fn validate(
    pack: Option<&PolicyPack>,
    input: &api::CreateRequestRequest,
    submitted_at: DateTime<Utc>,
) -> Result<NewRequest, Status> {
    let mut errors = Vec::new();
    check_association(&input.association, pack, &mut errors);
    check_branch(pack, &input.branch, &mut errors);
    let service_type = input.service_type.trim();
    let offering = pack.filter(|p| p.service_type(service_type).is_some());
    if pack.is_some() && offering.is_none() {
        errors.push(FieldError::new(
            "service_type",
            Bilingual::new("نوع الخدمة غير متاح لدى هذه الجمعية", "This association does not offer this service type"),
        ));
    }
    let channel = read_channel(pack, &input.channel, &mut errors);
    let applicant = read_applicant(input.applicant.as_ref(), &mut errors);
    let description = clean_text("description", &input.description, TextRule::DESCRIPTION)
        .map_err(|problem| errors.push(problem))
        .unwrap_or_default();
    let address = input.address.clone().unwrap_or_default();
    let form = AddressForm {
        city: &address.city,
        district: &address.district,
        street: &address.street,
        short_address: &address.short_address,
        latitude: address.latitude,
        longitude: address.longitude,
    };
    let address = match pack {
        Some(pack) => read_address(pack.address, form).map_err(|problems| errors.extend(problems)).unwrap_or_default(),
        None => None,
    };
    let facts = match offering {
        Some(pack) => read_answers(&pack.facts_asked(service_type), &input.facts, &Facts::default())
            .map_err(|problems| errors.extend(problems))
            .unwrap_or_default(),
        None => Facts::default(),
    };
    match (pack, channel, applicant) {
        (Some(pack), Some(channel), Some(applicant)) if errors.is_empty() => Ok(NewRequest {
            request_id: Uuid::now_v7(),
            reference: new_reference(&pack.reference_prefix),
            association: pack.association.clone(),
            branch: input.branch.trim().to_owned(),
            service_type: service_type.to_owned(),
            channel,
            national_id: applicant.national_id,
            applicant_name: applicant.full_name,
            mobile: applicant.mobile,
            language: applicant.language,
            description,
            submitted_at,
            expected_decision_on: pack.expected_decision_on(saudi_day(submitted_at)),
            policy_version: pack.version,
            facts,
            beneficiary_id: None,
            filed_by_account: None,
            address,
        }),
        _ => Err(invalid_input(errors)),
    }
}

/// A short reference a person can read out on the phone, e.g. NZL-7F3K2Q.
pub(crate) fn new_reference(prefix: &str) -> String {
    format!("{prefix}-{}", readable_code(6, b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789"))
}

/// The hand-off of a (re)submission at `at`: the instant the documents were judged valid on.
fn submitted_event(
    request: &StoredRequest,
    at: DateTime<Utc>,
    actor: &events::Actor,
    resubmission: bool,
    months_since_same_service_approved: Option<u32>,
    documents: &[StoredDocument],
    personal: &PersonalData,
) -> events::RequestSubmitted {
    let national_id_masked = NationalId::mask(&request.national_id);
    // Sealed in the event too: it waits in the outbox and the stream.
    let association = request.association.as_str();
    events::RequestSubmitted {
        case: Some(request.case_ref()),
        actor: Some(actor.clone()),
        submitted_at: Some(masar_proto::timestamp(at)),
        channel: request.channel.clone(),
        applicant_name: request.applicant_name.clone(),
        national_id_masked,
        mobile: personal.seal(association, Field::Mobile, &request.mobile),
        preferred_language: request.language.tag().to_owned(),
        expected_decision_on: request.expected_decision_on.to_string(),
        reference: request.reference.clone(),
        resubmission,
        policy_version: request.policy_version,
        facts_json: personal.seal(association, Field::Facts, &crate::requests::store::facts_json(&request.facts)),
        months_since_same_service_approved,
        documents: documents
            .iter()
            .map(|d| events::SubmittedDocument {
                attachment_id: d.attachment_id.to_string(),
                document: d.document.clone(),
                content_type: d.content_type.clone(),
                size_bytes: d.size_bytes,
                sha256: d.sha256.clone(),
                issued_on: iso_day_or_empty(d.issued_on),
                expires_on: iso_day_or_empty(d.expires_on),
            })
            .collect(),
    }
}

/// Every required document uploaded and valid on the day of submission; one error per problem.
fn document_problems(
    pack: &PolicyPack,
    service_type: &str,
    uploaded: &[StoredDocument],
    on: NaiveDate,
) -> Vec<FieldError> {
    let mut problems = Vec::new();
    for kind in pack.required_documents(service_type) {
        let field = format!("documents.{}", kind.code);
        let Some(upload) = uploaded.iter().find(|d| d.document == kind.code) else {
            problems.push(FieldError::new(
                field,
                Bilingual::new(
                    format!("مستند مطلوب: {}", kind.name.ar),
                    format!("Required document: {}", kind.name.en),
                ),
            ));
            continue;
        };
        let message = match kind.validity(upload.issued_on, upload.expires_on, on) {
            DocumentValidity::Valid => continue,
            DocumentValidity::ExpiredAtSubmission => {
                Bilingual::new(format!("{} منتهي الصلاحية", kind.name.ar), format!("{} has expired", kind.name.en))
            }
            DocumentValidity::IssuedTooLongAgo => Bilingual::new(
                format!("{} صادر قبل أكثر من {} يومًا", kind.name.ar, kind.issued_within_days.unwrap_or_default()),
                format!(
                    "{} was issued more than {} days ago",
                    kind.name.en,
                    kind.issued_within_days.unwrap_or_default()
                ),
            ),
            DocumentValidity::DateMissing => Bilingual::new(
                format!("أدخل تاريخ الإصدار أو الانتهاء لـ {}", kind.name.ar),
                format!("Give the issue or expiry date of {}", kind.name.en),
            ),
        };
        problems.push(FieldError::new(field, message));
    }
    problems
}

/// The applicant must attest the text of the policy they submit under.
fn attestation_problem(pack: &PolicyPack, attested: bool, version: &str) -> Option<FieldError> {
    if attested && version.trim() == pack.attestation.version {
        return None;
    }
    Some(FieldError::new(
        "attestation",
        Bilingual::new(
            format!("يلزم الإقرار بصحة البيانات: «{}»", pack.attestation.text.ar),
            format!("You must attest that the data is correct: \"{}\"", pack.attestation.text.en),
        ),
    ))
}

fn invalid_date(field: &str) -> FieldError {
    FieldError::new(field, Bilingual::new("التاريخ غير صحيح (YYYY-MM-DD)", "Not a valid date (YYYY-MM-DD)"))
}

pub(crate) fn parse_optional_date(field: &str, text: &str, errors: &mut Vec<FieldError>) -> Option<NaiveDate> {
    if text.trim().is_empty() {
        return None;
    }
    parse_gregorian(text).map_err(|_| errors.push(invalid_date(field))).ok()
}

pub(crate) fn refused_in(status: CaseStatus, ar: &str, en: &str) -> Status {
    Problem::new(Bilingual::new(
        format!("{ar} (حالة الطلب: {})", status.describe().ar),
        format!("{en} (the request is '{}')", status.describe().en),
    ))
    .into_status(Code::FailedPrecondition)
}

fn document_reply(d: &StoredDocument) -> api::Document {
    api::Document {
        attachment_id: d.attachment_id.to_string(),
        document: d.document.clone(),
        file_name: d.file_name.clone(),
        content_type: d.content_type.clone(),
        size_bytes: d.size_bytes,
        sha256: d.sha256.clone(),
        issued_on: iso_day_or_empty(d.issued_on),
        expires_on: iso_day_or_empty(d.expires_on),
        uploaded_at: Some(masar_proto::timestamp(d.uploaded_at)),
    }
}

fn address_reply(address: &Address) -> api::Address {
    api::Address {
        city: address.city.clone(),
        district: address.district.clone(),
        street: address.street.clone(),
        short_address: address.short_address.clone(),
        latitude: address.location.map(|l| l.latitude),
        longitude: address.location.map(|l| l.longitude),
    }
}

/// A request as its beneficiary and the staff in scope see it (national ID
/// and mobile masked), without its documents.
pub(crate) fn request_reply(stored: StoredRequest) -> api::ServiceRequest {
    api::ServiceRequest {
        national_id_masked: NationalId::mask(&stored.national_id),
        mobile_masked: SaudiMobile::mask(&stored.mobile),
        request_id: stored.request_id.to_string(),
        reference: stored.reference,
        association: stored.association,
        branch: stored.branch,
        service_type: stored.service_type,
        channel: stored.channel,
        status: stored.status.to_string(),
        stage: stored.status.stage().to_string(),
        applicant_name: stored.applicant_name,
        submitted_at: Some(masar_proto::timestamp(stored.submitted_at)),
        expected_decision_on: stored.expected_decision_on.to_string(),
        expected_decision_on_hijri: HijriDate::from_gregorian(stored.expected_decision_on).to_string(),
        policy_version: stored.policy_version,
        documents: Vec::new(),
        submitted_on_hijri: HijriDate::on(stored.submitted_at).to_string(),
    }
}

/// What a (re)submission hands on once it is complete.
struct Completed {
    facts: Facts,
    documents: Vec<StoredDocument>,
    months_since_same_service_approved: Option<u32>,
    attestation: Attestation,
}

/// What the applicant sends with a (re)submission.
struct Submission<'a> {
    answers: &'a HashMap<String, String>,
    attested: bool,
    attestation_version: &'a str,
}

/// The clock of the stage a case in `status` waits on, read on `today`, and
/// when that stage began: its days run from the first entry of the stretch
/// it has waited on that stage. None when it waits on no stage with a target.
pub(crate) fn stage_clock(
    entries: &[TimelineEntry],
    status: CaseStatus,
    pack: &PolicyPack,
    calendar: &WorkingCalendar<'_>,
    today: chrono::NaiveDate,
) -> Option<(masar_domain::working_days::StageClock, chrono::DateTime<Utc>)> {
    let awaited = status.awaiting()?;
    let started = entries.iter().rev().take_while(|e| e.status.awaiting() == Some(awaited)).last()?.at;
    let days = pack.targets?.for_stage(awaited)?;
    Some((calendar.stage_clock(awaited, saudi_day(started), days, today), started))
}

impl Intake {
    /// Checks a request is complete under `pack` on `now`: every asked fact,
    /// every required document valid, the attestation; all problems at once.
    async fn complete(
        &self,
        stored: &StoredRequest,
        pack: &PolicyPack,
        submission: Submission<'_>,
        staff: &Option<Staff>,
        now: DateTime<Utc>,
    ) -> Result<Completed, Status> {
        let mut errors = Vec::new();
        let facts = read_answers(&pack.facts_asked(&stored.service_type), submission.answers, &stored.facts)
            .map_err(|problems| errors.extend(problems))
            .unwrap_or_default();
        let documents = self.store.current_documents(stored.request_id).await?;
        errors.extend(document_problems(pack, &stored.service_type, &documents, saudi_day(now)));
        errors.extend(attestation_problem(pack, submission.attested, submission.attestation_version));
        if !errors.is_empty() {
            return Err(invalid_input(errors));
        }
        let national_id = NationalId::parse(&stored.national_id).map_err(internal)?;
        let months_since_same_service_approved = self
            .store
            .months_since_same_service_approved(&stored.association, &national_id, &stored.service_type, now)
            .await?;
        let attestation = Attestation { by: acted_by(staff), at: now, version: pack.attestation.version.clone() };
        Ok(Completed { facts, documents, months_since_same_service_approved, attestation })
    }

    /// The policy version a request was started (or submitted) under.
    pub(crate) async fn policy_of(&self, stored: &StoredRequest) -> Result<PolicyPack, Status> {
        self.policies.version(&stored.association, stored.policy_version).await?.ok_or_else(|| {
            internal(format!("{} policy version {} is not stored", stored.association, stored.policy_version))
        })
    }

    /// A beneficiary files for themself, in their own association: the
    /// applicant's national ID is the one their account was opened with.
    /// Checked before the form is read, like every right to act.
    async fn check_for_themself(&self, caller: &Caller, input: &api::CreateRequestRequest) -> Result<(), Status> {
        let Caller::Beneficiary(own) = caller else {
            return Ok(());
        };
        let registered = self.store.beneficiary(own.beneficiary_id).await?;
        let typed = input.applicant.as_ref().map(|a| a.national_id.as_str()).unwrap_or_default();
        // An ID that does not even parse is the form's fault, reported with the other fields.
        let for_someone_else = NationalId::parse(typed)
            .is_ok_and(|typed| registered.as_ref().is_none_or(|b| b.national_id != typed.as_str()));
        if own.association != input.association.trim() || for_someone_else {
            return Err(Problem::new(Bilingual::new(
                "يقدّم المستفيد طلبه لنفسه؛ ولغيره يراجع موظف الاستقبال",
                "A beneficiary applies for themself; reception files requests for others",
            ))
            .into_status(Code::PermissionDenied));
        }
        Ok(())
    }
}

/// A beneficiary applies themself online (website, app); other channels are reception's.
fn check_online(caller: &Caller, new: &NewRequest) -> Result<(), Status> {
    if matches!(caller, Caller::Beneficiary(_)) && !new.channel.is_online() {
        return Err(invalid_input(vec![FieldError::new(
            "channel",
            Bilingual::new("تقديمك الذاتي عبر الموقع أو التطبيق", "You apply yourself through the website or the app"),
        )]));
    }
    Ok(())
}

#[tonic::async_trait]
impl IntakeService for Intake {
    async fn create_request(
        &self,
        request: Request<api::CreateRequestRequest>,
    ) -> Result<Response<api::DraftRequest>, Status> {
        // Filing needs an identity: the beneficiary's account, or front-desk staff.
        let caller = Caller::required(&self.verifier, &request)?;
        let staff = submitter(Some(&caller))?;
        // Where the caller may file is checked before the form, so the form's faults tell outsiders nothing.
        let input = request.get_ref();
        let (association, branch) = (input.association.trim(), input.branch.trim());
        if let Some(staff) = &staff
            && !staff.can_see(association, branch)
        {
            return Err(Problem::new(Bilingual::new(
                "لا يمكنك التقديم لهذه الجمعية أو هذا الفرع",
                "You cannot file requests for this association or branch",
            ))
            .into_status(Code::PermissionDenied));
        }
        self.check_for_themself(&caller, input).await?;
        let now = Utc::now();
        let pack = policy_in_force(&self.policies, association, saudi_day(now)).await?;
        let new = validate(pack.as_ref(), input, now)?;
        check_online(&caller, &new)?;
        let pack = pack.expect("validate refuses a request without a policy");
        let mut tx = self.store.db().begin().await?;
        // Every request belongs to the association's one registry entry for its national ID.
        let registering = NewBeneficiary::of_request(&new, acted_by(&staff));
        let actor = Actor::calling(&caller, &request);
        let beneficiary = register(&self.store, &self.outbox, &mut tx, &registering, &actor).await?;
        let filed_by_account = match &caller {
            Caller::Beneficiary(own) => Some(own.account_id),
            Caller::Staff(_) => None,
        };
        let new = NewRequest { beneficiary_id: Some(beneficiary.beneficiary_id), filed_by_account, ..new };
        self.store.insert_request(&mut tx, &new).await?;
        let subject = Subject::case(new.request_id, &new.association, &new.branch);
        let detail = format!("{} via {}", new.service_type, new.channel);
        audit::record(&mut tx, &actor, subject, action::REQUEST_FILED, &detail).await?;
        tx.commit().await?;
        tracing::info!(request_id = %new.request_id, association = %new.association, branch = %new.branch, "draft created");
        Ok(Response::new(api::DraftRequest {
            request_id: new.request_id.to_string(),
            beneficiary_id: beneficiary.beneficiary_id.to_string(),
            reference: new.reference,
            status: CaseStatus::Draft.to_string(),
            policy_version: pack.version,
            required_documents: pack
                .required_documents(&new.service_type)
                .into_iter()
                .map(|d| api::RequiredDocument {
                    document: d.code.clone(),
                    name_ar: d.name.ar.clone(),
                    name_en: d.name.en.clone(),
                    must_not_be_expired: d.must_not_be_expired,
                    issued_within_days: d.issued_within_days.unwrap_or_default(),
                })
                .collect(),
            attestation_version: pack.attestation.version.clone(),
            attestation_text_ar: pack.attestation.text.ar.clone(),
            attestation_text_en: pack.attestation.text.en.clone(),
        }))
    }

    async fn upload_document(
        &self,
        request: Request<api::UploadDocumentRequest>,
    ) -> Result<Response<api::Document>, Status> {
        let caller = Caller::required(&self.verifier, &request)?;
        let staff = submitter(Some(&caller))?;
        let stored = visible_request(&self.store, &caller, &request.get_ref().request_id).await?;
        if !matches!(stored.status, CaseStatus::Draft | CaseStatus::ReturnedForCompletion) {
            return Err(refused_in(
                stored.status,
                "تُرفع المستندات قبل التقديم أو عند إعادة الطلب للاستكمال",
                "Documents are uploaded before submission, or while the request is returned for completion",
            ));
        }
        let pack = self.policy_of(&stored).await?;
        let actor = Actor::calling(&caller, &request);
        let input = request.into_inner();
        let mut errors = Vec::new();
        let document = input.document.trim();
        if !pack.required_documents(&stored.service_type).iter().any(|d| d.code == document) {
            errors.push(FieldError::new(
                "document",
                Bilingual::new("هذا المستند غير مطلوب لنوع الخدمة", "This service type does not ask for this document"),
            ));
        }
        let issued_on = parse_optional_date("issued_on", &input.issued_on, &mut errors);
        let expires_on = parse_optional_date("expires_on", &input.expires_on, &mut errors);
        // Hashing up to 5 MB is kept off the async threads, as password hashing is.
        let content = input.content;
        let inspected = tokio::task::spawn_blocking(move || inspect(&content)).await.map_err(internal)?;
        let inspected = inspected.map_err(|message| errors.push(FieldError::new("content", message))).ok();
        let Some(inspected) = inspected.filter(|_| errors.is_empty()) else {
            return Err(invalid_input(errors));
        };
        let inspected_content = inspected.content.clone();
        let attachment_id = Uuid::now_v7();
        let upload = StoredDocument {
            attachment_id,
            request_id: stored.request_id,
            document: document.to_owned(),
            // A file's name is shown to staff: cleaned like any line, and cut rather than refused.
            file_name: clean_text("file_name", &input.file_name.chars().take(200).collect::<String>(), TextRule::LINE)
                .unwrap_or_default(),
            content_type: inspected.content_type.to_owned(),
            size_bytes: inspected.size_bytes,
            sha256: inspected.sha256,
            object_key: format!("{}/{}/{}/{attachment_id}", stored.association, stored.request_id, document),
            issued_on,
            expires_on,
            uploaded_by: acted_by(&staff),
            uploaded_at: Utc::now(),
        };
        self.documents.put(&stored.association, &upload.object_key, &inspected_content).await.map_err(internal)?;
        // The bytes are stored first; if the row cannot be, they are removed again.
        let recorded = async {
            let mut tx = self.store.db().begin().await?;
            self.store.add_document(&mut tx, &upload).await?;
            audit::record(&mut tx, &actor, stored.audit_subject(), action::DOCUMENT_UPLOADED, &upload.document).await?;
            tx.commit().await
        };
        if let Err(error) = recorded.await {
            self.documents.delete(&upload.object_key).await;
            return Err(internal(error));
        }
        tracing::info!(request_id = %stored.request_id, document = %upload.document, size = upload.size_bytes, "document uploaded");
        Ok(Response::new(document_reply(&upload)))
    }

    async fn submit_request(
        &self,
        request: Request<api::SubmitRequestRequest>,
    ) -> Result<Response<api::SubmitRequestResponse>, Status> {
        let caller = Caller::required(&self.verifier, &request)?;
        let staff = submitter(Some(&caller))?;
        let stored = visible_request(&self.store, &caller, &request.get_ref().request_id).await?;
        if stored.status != CaseStatus::Draft {
            return Err(refused_in(stored.status, "الطلب مقدم من قبل", "The request was already submitted"));
        }
        let now = Utc::now();
        // Judged by the version in force on the day of submission, which may be newer than the draft's.
        let pack = policy_in_force(&self.policies, &stored.association, saudi_day(now))
            .await?
            .ok_or_else(request_not_found)?;
        let input = request.get_ref();
        let submission = Submission {
            answers: &HashMap::new(),
            attested: input.attested,
            attestation_version: &input.attestation_version,
        };
        let completed = self.complete(&stored, &pack, submission, &staff, now).await?;
        let submitted = StoredRequest {
            status: CaseStatus::Submitted,
            submitted_at: now,
            expected_decision_on: pack.expected_decision_on(saudi_day(now)),
            policy_version: pack.version,
            facts: completed.facts,
            ..stored
        };
        let actor = actor_of(&staff);
        let mut tx = self.store.db().begin().await?;
        if !self.store.mark_submitted(&mut tx, &submitted, &completed.attestation).await? {
            return Err(changed_meanwhile());
        }
        let actor_role = acting_role(&staff);
        let entry =
            TimelineEntry::new(Uuid::now_v7(), CaseStatus::Submitted, actor_role, now, submitted.channel.clone());
        self.store.record(&mut tx, submitted.request_id, &entry).await?;
        let history = completed.months_since_same_service_approved;
        let event =
            submitted_event(&submitted, now, &actor, false, history, &completed.documents, self.store.personal());
        self.outbox.append(&mut tx, &Event::RequestSubmitted(event)).await?;
        let audited = Actor::calling(&caller, &request);
        let subject = submitted.audit_subject();
        audit::record(&mut tx, &audited, subject, event_type::REQUEST_SUBMITTED, "").await?;
        tx.commit().await?;
        self.outbox.wake();
        tracing::info!(request_id = %submitted.request_id, policy_version = submitted.policy_version, "request submitted");
        Ok(Response::new(api::SubmitRequestResponse {
            request_id: submitted.request_id.to_string(),
            reference: submitted.reference,
            status: CaseStatus::Submitted.to_string(),
            expected_decision_on: submitted.expected_decision_on.to_string(),
            expected_decision_on_hijri: HijriDate::from_gregorian(submitted.expected_decision_on).to_string(),
            policy_version: submitted.policy_version,
        }))
    }

    async fn resubmit_request(
        &self,
        request: Request<api::ResubmitRequestRequest>,
    ) -> Result<Response<api::ResubmitRequestResponse>, Status> {
        let caller = Caller::required(&self.verifier, &request)?;
        let staff = submitter(Some(&caller))?;
        let stored = visible_request(&self.store, &caller, &request.get_ref().request_id).await?;
        if stored.status != CaseStatus::ReturnedForCompletion {
            return Err(refused_in(
                stored.status,
                "لا يمكن إعادة تقديم الطلب إلا بعد إعادته لاستكمال النواقص",
                "A request can be resubmitted only after it was returned for completion",
            ));
        }
        let now = Utc::now();
        // The case stays under the version in force when it was first submitted.
        let pack = self.policy_of(&stored).await?;
        let input = request.get_ref();
        let submission = Submission {
            answers: &input.facts,
            attested: input.attested,
            attestation_version: &input.attestation_version,
        };
        let completed = self.complete(&stored, &pack, submission, &staff, now).await?;
        let expected = pack.expected_decision_on(saudi_day(now));
        let mut tx = self.store.db().begin().await?;
        // Conditional on the status, so of two concurrent resubmissions one wins.
        if !self.store.mark_resubmitted(&mut tx, &stored, expected, &completed.facts, &completed.attestation).await? {
            return Err(changed_meanwhile());
        }
        let actor_role = acting_role(&staff);
        let entry = TimelineEntry::new(
            Uuid::now_v7(),
            CaseStatus::Submitted,
            actor_role,
            now,
            cleaned("note", &request.get_ref().note, TextRule::NOTE)?,
        );
        self.store.record(&mut tx, stored.request_id, &entry).await?;
        let history = completed.months_since_same_service_approved;
        let updated = StoredRequest { expected_decision_on: expected, facts: completed.facts, ..stored };
        let event = submitted_event(
            &updated,
            now,
            &actor_of(&staff),
            true,
            history,
            &completed.documents,
            self.store.personal(),
        );
        self.outbox.append(&mut tx, &Event::RequestResubmitted(event)).await?;
        let audited = Actor::calling(&caller, &request);
        let subject = updated.audit_subject();
        audit::record(&mut tx, &audited, subject, event_type::REQUEST_RESUBMITTED, "").await?;
        tx.commit().await?;
        self.outbox.wake();
        Ok(Response::new(api::ResubmitRequestResponse {
            request_id: updated.request_id.to_string(),
            status: CaseStatus::Submitted.to_string(),
            expected_decision_on: expected.to_string(),
        }))
    }

    async fn get_request(
        &self,
        request: Request<api::GetRequestRequest>,
    ) -> Result<Response<api::ServiceRequest>, Status> {
        let caller = Caller::required(&self.verifier, &request)?;
        let stored = visible_request(&self.store, &caller, &request.get_ref().request_id).await?;
        let documents = self.store.current_documents(stored.request_id).await?;
        Ok(Response::new(api::ServiceRequest {
            documents: documents.iter().map(document_reply).collect(),
            ..request_reply(stored)
        }))
    }

    async fn list_requests(
        &self,
        request: Request<api::ListRequestsRequest>,
    ) -> Result<Response<api::ListRequestsResponse>, Status> {
        let caller = Caller::required(&self.verifier, &request)?;
        if let Caller::Staff(staff) = &caller {
            // Researchers and the committee have their own queues; the whole list is the front desk's and supervisors'.
            staff.require_role(&ActorRole::CASE_DESK)?;
        }
        let input = request.get_ref();
        let page = PageRequest::read(input.page_size, &input.page_token)?;
        let status = match input.status.trim() {
            "" => None,
            text => Some(CaseStatus::parse(text).map_err(|_| {
                let which = Bilingual::new("حالة طلب غير معروفة", "Not a request status");
                invalid_input(vec![FieldError::new("status", which)])
            })?),
        };
        let branch;
        let filter = match &caller {
            Caller::Beneficiary(own) => RequestFilter {
                association: &own.association,
                branch: None,
                beneficiary_id: Some(own.beneficiary_id),
                filed_by_account: own.only_filed_by(),
                status,
            },
            Caller::Staff(staff) => {
                branch = staff.branch_filter("");
                RequestFilter {
                    association: &staff.association,
                    branch: branch.as_deref(),
                    beneficiary_id: None,
                    filed_by_account: None,
                    status,
                }
            }
        };
        let rows = self.store.requests(filter, &page).await?;
        let (rows, next_page_token) = page.finish(rows, |r| Position { at: r.submitted_at, id: r.request_id });
        Ok(Response::new(api::ListRequestsResponse {
            requests: rows.into_iter().map(request_reply).collect(),
            next_page_token,
        }))
    }

    async fn get_timeline(&self, request: Request<api::GetTimelineRequest>) -> Result<Response<api::Timeline>, Status> {
        let caller = Caller::required(&self.verifier, &request)?;
        let stored = visible_request(&self.store, &caller, &request.get_ref().request_id).await?;
        let entries = self.store.timeline(stored.request_id).await?;
        // Counted on the association's calendar, from today, while the reply is awaited.
        let today = saudi_day(self.clock.now());
        let (mut working_days_left, mut clock, mut revised) = (None, None, None);
        let awaited = stored.status.awaiting();
        if stored.status.awaits_reply() {
            let pack = self.policy_of(&stored).await?;
            // The targets are the case's version's; the closures the association's calendar as it stands today.
            let today_pack = self.policies.in_force(&stored.association, today).await?;
            let closures = today_pack.as_ref().map_or(&pack.closures, |p| &p.closures);
            let calendar = WorkingCalendar { official: &self.holidays, closures };
            working_days_left = Some(calendar.working_days_between(today, stored.expected_decision_on));
            clock = stage_clock(&entries, stored.status, &pack, &calendar, today).map(|(clock, _)| clock);
            let clocks = crate::supervision::SupervisionStore { db: self.store.db().clone() };
            revised = clocks.revised_promise(stored.request_id).await?;
        }
        Ok(Response::new(api::Timeline {
            request_id: stored.request_id.to_string(),
            status: stored.status.to_string(),
            expected_decision_on: stored.expected_decision_on.to_string(),
            expected_decision_on_hijri: HijriDate::from_gregorian(stored.expected_decision_on).to_string(),
            working_days_left,
            awaiting_stage: awaited.map(|s| s.to_string()).unwrap_or_default(),
            stage_deadline: clock.map(|c| c.deadline.to_string()).unwrap_or_default(),
            stage_working_days_left: clock.map(|c| c.working_days_left),
            stage_overdue: clock.is_some_and(|c| c.overdue),
            revised_decision_on: iso_day_or_empty(revised),
            revised_decision_on_hijri: masar_platform::grpc::hijri_day_or_empty(revised),
            entries: entries
                .into_iter()
                .map(|e| api::TimelineEntry {
                    status: e.status.to_string(),
                    stage: e.stage.to_string(),
                    actor_role: e.actor_role.to_string(),
                    at: Some(masar_proto::timestamp(e.at)),
                    note: e.note,
                    on_hijri: HijriDate::on(e.at).to_string(),
                })
                .collect(),
        }))
    }

    async fn get_document_file(
        &self,
        request: Request<api::GetDocumentFileRequest>,
    ) -> Result<Response<api::DocumentFile>, Status> {
        let caller = Caller::required(&self.verifier, &request)?;
        if let Caller::Staff(staff) = &caller {
            staff.require_role(&ActorRole::CASE_FILE_READERS)?;
        }
        let input = request.get_ref();
        let stored = visible_request(&self.store, &caller, &input.request_id).await?;
        // Of the researchers, only the one research assigned the case to.
        if let Caller::Staff(staff) = &caller
            && staff.role == ActorRole::SocialResearcher
            && stored.assigned_researcher.as_deref() != Some(staff.username.as_str())
        {
            return Err(Problem::new(Bilingual::new(
                "مستندات الحالة للباحث المكلّف بها",
                "A case's documents are for the researcher assigned to it",
            ))
            .because("document.not_your_case")
            .into_status(Code::PermissionDenied));
        }
        let attachment_id = parse_uuid("attachment_id", &input.attachment_id)?;
        let document = self.store.document(stored.request_id, attachment_id).await?.ok_or_else(|| {
            Problem::new(Bilingual::new("المستند غير موجود", "No such document"))
                .because("document.not_found")
                .into_status(Code::NotFound)
        })?;
        let content = self.documents.get(&stored.association, &document.object_key).await.map_err(internal)?;
        let mut tx = self.store.db().begin().await?;
        let actor = Actor::calling(&caller, &request);
        audit::record(&mut tx, &actor, stored.audit_subject(), action::DOCUMENT_OPENED, &document.document).await?;
        tx.commit().await?;
        Ok(Response::new(api::DocumentFile { document: Some(document_reply(&document)), content }))
    }

    async fn get_case_file(
        &self,
        request: Request<api::GetCaseFileRequest>,
    ) -> Result<Response<api::CaseFile>, Status> {
        let caller = Caller::required(&self.verifier, &request)?;
        if let Caller::Staff(staff) = &caller {
            staff.require_role(&ActorRole::CASE_FILE_READERS)?;
        }
        let stored = visible_request(&self.store, &caller, &request.get_ref().request_id).await?;
        // In full for whoever must act on it: the manager matching the data, the researcher calling and visiting.
        let in_full = match &caller {
            Caller::Beneficiary(_) => true,
            Caller::Staff(staff) => match staff.role {
                ActorRole::ProjectManager => true,
                ActorRole::SocialResearcher => {
                    stored.assigned_researcher.as_deref() == Some(staff.username.as_str()) || {
                        return Err(Problem::new(Bilingual::new(
                            "ملف الحالة للباحث المكلّف بها",
                            "A case's file is for the researcher assigned to it",
                        ))
                        .because("case_file.not_your_case")
                        .into_status(Code::PermissionDenied));
                    }
                }
                _ => false,
            },
        };
        let (description, address) = self.store.case_details(&stored).await?;
        let mut file = api::CaseFile { in_full, ..Default::default() };
        if in_full {
            file.national_id = stored.national_id.clone();
            file.mobile = stored.mobile.clone();
            file.description = description;
            file.answers = stored
                .facts
                .0
                .iter()
                .map(|(fact, value)| {
                    let (ar, en) = fact_definition(fact).map_or((fact.as_str(), fact.as_str()), |f| f.label);
                    let (label_ar, label_en) = (ar.to_owned(), en.to_owned());
                    api::Answer { fact: fact.clone(), label_ar, label_en, value: value.to_string() }
                })
                .collect();
            file.address = address.as_ref().map(address_reply);
            if let Caller::Staff(_) = &caller {
                let mut tx = self.store.db().begin().await?;
                let actor = Actor::calling(&caller, &request);
                audit::record(&mut tx, &actor, stored.audit_subject(), action::CASE_FILE_OPENED, "in full").await?;
                tx.commit().await?;
            }
        } else {
            file.address = address.map(|a| address_reply(&a.masked()));
        }
        let documents = self.store.current_documents(stored.request_id).await?;
        file.request = Some(api::ServiceRequest {
            documents: documents.iter().map(document_reply).collect(),
            ..request_reply(stored)
        });
        Ok(Response::new(file))
    }

    async fn ask_to_move_visit(
        &self,
        request: Request<api::AskToMoveVisitRequest>,
    ) -> Result<Response<api::AskToMoveVisitResponse>, Status> {
        let caller = Caller::required(&self.verifier, &request)?;
        caller.as_beneficiary()?;
        let input = request.get_ref();
        let stored = visible_request(&self.store, &caller, &input.request_id).await?;
        if !stored.status.under_research() {
            return Err(refused_in(
                stored.status,
                "يطلب تغيير موعد الزيارة أثناء البحث الاجتماعي",
                "Another time for the visit is asked for while the case is being researched",
            ));
        }
        let mut problems = Vec::new();
        let reason = masar_platform::forms::read_text("reason", &input.reason, &mut problems);
        if !problems.is_empty() {
            return Err(invalid_input(problems));
        }
        let now = Utc::now();
        let event = events::VisitChangeRequested {
            case: Some(stored.case_ref()),
            actor: Some(masar_platform::forms::actor_of(&None)),
            asked_at: Some(masar_proto::timestamp(now)),
            reason,
        };
        let mut tx = self.store.db().begin().await?;
        self.outbox.append(&mut tx, &Event::VisitChangeRequested(event)).await?;
        let audited = Actor::calling(&caller, &request);
        audit::record(&mut tx, &audited, stored.audit_subject(), event_type::VISIT_CHANGE_REQUESTED, "").await?;
        tx.commit().await?;
        self.outbox.wake();
        Ok(Response::new(api::AskToMoveVisitResponse {
            asked_at: Some(masar_proto::timestamp(now)),
            message_ar: "وصل طلبكم، وسيحدد الباحث الاجتماعي موعداً آخر ويبلغكم به.".into(),
            message_en: "Your request arrived; the social researcher will set another time and tell you.".into(),
        }))
    }

    async fn get_policy(&self, request: Request<api::GetPolicyRequest>) -> Result<Response<api::Policy>, Status> {
        let input = request.get_ref();
        let on = match input.on.trim() {
            "" => saudi_day(Utc::now()),
            text => parse_gregorian(text).map_err(|_| invalid_input(vec![invalid_date("on")]))?,
        };
        let pack = policy_in_force(&self.policies, &input.association, on).await?.ok_or_else(|| {
            Problem::new(Bilingual::new("لا توجد سياسة سارية لهذه الجمعية", "No policy of this association is in force"))
                .into_status(Code::NotFound)
        })?;
        let facts_asked: serde_json::Map<String, serde_json::Value> = pack
            .service_types
            .iter()
            .map(|s| {
                let questions: Vec<_> = pack
                    .facts_asked(&s.code)
                    .iter()
                    .map(|q| {
                        serde_json::json!({
                            "fact": q.fact.name,
                            "required": q.required,
                            "label": { "ar": q.fact.label.0, "en": q.fact.label.1 },
                        })
                    })
                    .collect();
                (s.code.clone(), serde_json::json!(questions))
            })
            .collect();
        Ok(Response::new(api::Policy {
            association: pack.association.clone(),
            version: pack.version,
            effective_from: pack.effective_from.to_string(),
            policy_json: serde_json::to_string(&pack).map_err(internal)?,
            facts_asked_json: serde_json::Value::Object(facts_asked).to_string(),
        }))
    }
}
