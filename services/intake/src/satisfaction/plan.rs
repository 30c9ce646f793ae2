//! An approved case's delivery plan: the pack's steps, recorded as they
//! happen and confirmed by the beneficiary where they ask; the record that
//! completes the plan delivers the service.

use super::Ratings;
use super::store::KeptRecord;
use crate::requests::store::StoredRequest;
use crate::requests::{refused_in, visible_request};
use chrono::{DateTime, Utc};
use masar_domain::calendar::saudi_day;
use masar_domain::delivery::{DeliveryPlan, StepEntered, StepProgress, check_step};
use masar_domain::{ActorRole, Bilingual, CaseStatus, FieldError, TextRule};
use masar_platform::audit::{self, Actor, action};
use masar_platform::db::Tx;
use masar_platform::grpc::{Problem, internal, invalid_input};
use masar_platform::identity::Caller;
use masar_proto::intake::v1 as api;
use tonic::{Code, Request, Status};

/// Who reads a plan beside its own beneficiary: the staff who deliver and supervise.
const PLAN_READERS: &[ActorRole] = &ActorRole::SUPERVISORS;

fn no_plan() -> Status {
    Problem::new(Bilingual::new(
        "لا تحدد سياسة هذا الطلب خطة لتقديم الخدمة؛ يسجَّل تقديمها مرة واحدة",
        "This request's policy sets no delivery plan; its delivery is recorded in one go",
    ))
    .because("delivery.no_plan")
    .into_status(Code::FailedPrecondition)
}

fn unknown_step(plan: &DeliveryPlan) -> Status {
    let steps: Vec<&str> = plan.steps.iter().map(|s| s.code.as_str()).collect();
    invalid_input(vec![FieldError::new(
        "step",
        Bilingual::new(
            format!("خطوات الخطة: {}", steps.join("، ")),
            format!("The plan's steps are: {}", steps.join(", ")),
        ),
    )])
}

/// The plan as a reply: every step with its records, done and confirmed.
pub(super) fn plan_reply(stored: &StoredRequest, plan: &DeliveryPlan, kept: &KeptRecord) -> api::DeliveryPlan {
    let steps = plan
        .steps
        .iter()
        .map(|step| {
            let records = kept.records.iter().filter(|(code, _, _)| *code == step.code);
            api::DeliveryPlanStep {
                code: step.code.clone(),
                label_ar: step.label.ar.clone(),
                label_en: step.label.en.clone(),
                asks: step.asks.iter().map(|a| a.to_string()).collect(),
                beneficiary_confirms: step.beneficiary_confirms,
                done: kept.progress(step).done,
                confirmed_at: kept.confirmed(&step.code).map(masar_proto::timestamp),
                records: records
                    .map(|(_, record, (by, at))| api::DeliveryStepRecord {
                        done_on: record.done_on.to_string(),
                        contractor: record.contractor.clone(),
                        provider: record.provider.clone(),
                        amount_sar: record.amount_sar,
                        reference: record.reference.clone(),
                        note: record.note.clone(),
                        partial: !record.complete,
                        recorded_by: by.clone(),
                        recorded_at: Some(masar_proto::timestamp(*at)),
                    })
                    .collect(),
            }
        })
        .collect();
    api::DeliveryPlan {
        request_id: stored.request_id.to_string(),
        status: stored.status.to_string(),
        steps,
        complete: plan.is_complete(|step| kept.progress(step)),
        unrated_closes_after_days: plan.unrated_closes_after_days,
    }
}

impl KeptRecord {
    pub(super) fn progress(&self, step: &masar_domain::delivery::DeliveryStep) -> StepProgress {
        StepProgress {
            done: self.records.iter().any(|(code, record, _)| *code == step.code && record.complete),
            confirmed: self.confirmed(&step.code).is_some(),
        }
    }

    fn confirmed(&self, step: &str) -> Option<DateTime<Utc>> {
        self.confirmations.iter().find(|(code, _)| code == step).map(|(_, at)| *at)
    }
}

impl Ratings {
    /// The case's plan from its policy version, or the refusal saying it has none.
    async fn plan_of(&self, stored: &StoredRequest) -> Result<DeliveryPlan, Status> {
        let pack = self.policies.version(&stored.association, stored.policy_version).await?.ok_or_else(|| {
            internal(format!("{} policy version {} is not stored", stored.association, stored.policy_version))
        })?;
        pack.delivery.ok_or_else(no_plan)
    }

    /// After a step's record or confirmation: the plan completed delivers the
    /// service, once. Returns the request and the records as they now stand.
    async fn deliver_if_complete(
        &self,
        tx: &mut Tx,
        stored: &StoredRequest,
        plan: &DeliveryPlan,
        by: (&str, ActorRole, &Actor),
        now: DateTime<Utc>,
    ) -> Result<(StoredRequest, KeptRecord), Status> {
        let kept = self.store.delivery_records_in(tx, stored.request_id).await?;
        if !plan.is_complete(|step| kept.progress(step)) {
            return Ok((stored.clone(), kept));
        }
        // The timeline's note, in the beneficiary's language: the steps it was delivered in.
        let separator = if stored.language == masar_domain::Language::Arabic { "، " } else { ", " };
        let note = plan.steps.iter().map(|s| s.label.in_language(stored.language)).collect::<Vec<_>>().join(separator);
        self.deliver(tx, stored, by, now, &note).await?;
        Ok((StoredRequest { status: CaseStatus::ServiceDelivered, ..stored.clone() }, kept))
    }

    pub(super) async fn get_delivery_plan_call(
        &self,
        request: Request<api::GetDeliveryPlanRequest>,
    ) -> Result<api::DeliveryPlan, Status> {
        let caller = Caller::required(&self.verifier, &request)?;
        if let Caller::Staff(staff) = &caller {
            staff.require_role(PLAN_READERS)?;
        }
        let stored = visible_request(&self.store, &caller, &request.get_ref().request_id).await?;
        let plan = self.plan_of(&stored).await?;
        let kept = self.store.delivery_records(stored.request_id).await?;
        Ok(plan_reply(&stored, &plan, &kept))
    }

    pub(super) async fn record_delivery_step_call(
        &self,
        request: Request<api::RecordDeliveryStepRequest>,
    ) -> Result<api::DeliveryPlan, Status> {
        let caller = Caller::required(&self.verifier, &request)?;
        let staff = caller.as_staff()?;
        staff.require_role(&ActorRole::SUPERVISORS)?;
        let input = request.get_ref();
        let stored = visible_request(&self.store, &caller, &input.request_id).await?;
        let plan = self.plan_of(&stored).await?;
        if stored.status != CaseStatus::Approved {
            return Err(refused_in(
                stored.status,
                "تسجل خطوات تقديم الخدمة بعد الموافقة وقبل اكتمالها",
                "Delivery steps are recorded once approved and until the delivery is complete",
            ));
        }
        let step = plan.step(input.step.trim()).ok_or_else(|| unknown_step(&plan))?;
        let now = Utc::now();
        let entered = StepEntered {
            done_on: &input.done_on,
            contractor: &input.contractor,
            provider: &input.provider,
            amount_sar: input.amount_sar,
            reference: &input.reference,
            note: &input.note,
            complete: !input.partial,
        };
        let mut tx = self.store.db().begin().await?;
        let kept = self.store.delivery_records_in(&mut tx, stored.request_id).await?;
        if kept.progress(step).done {
            return Err(Problem::new(Bilingual::new("اكتملت هذه الخطوة", "This step is done"))
                .into_status(Code::FailedPrecondition));
        }
        // Steps happen in the plan's order: the works start once a contractor has them, the handover after.
        let earlier = plan.steps.iter().take_while(|s| s.code != step.code);
        if let Some(open) = earlier.into_iter().find(|s| !kept.progress(s).done) {
            return Err(Problem::new(Bilingual::new(
                format!("تُسجَّل خطوة «{}» أولاً", open.label.ar),
                format!("Record '{}' first", open.label.en),
            ))
            .because("delivery.step_out_of_order")
            .into_status(Code::FailedPrecondition));
        }
        // Where the plan stands first, then what was entered.
        let record = check_step(step, entered, saudi_day(now)).map_err(invalid_input)?;
        self.store
            .record_delivery_step(&mut tx, stored.request_id, &step.code, &record, (&staff.username, now))
            .await?;
        let actor = Actor::calling(&caller, &request);
        let detail = format!("{}{}", step.code, if record.complete { "" } else { " (partial)" });
        audit::record(&mut tx, &actor, stored.audit_subject(), action::DELIVERY_STEP_RECORDED, &detail).await?;
        let by = (staff.username.as_str(), staff.role, &actor);
        let (stored, kept) = self.deliver_if_complete(&mut tx, &stored, &plan, by, now).await?;
        tx.commit().await?;
        self.outbox.wake();
        Ok(plan_reply(&stored, &plan, &kept))
    }

    pub(super) async fn confirm_delivery_step_call(
        &self,
        request: Request<api::ConfirmDeliveryStepRequest>,
    ) -> Result<api::DeliveryPlan, Status> {
        let caller = Caller::required(&self.verifier, &request)?;
        // The beneficiary confirms in their account; a supervisor records a confirmation given on paper
        // (a beneficiary who never opened an account), saying so in the note.
        let on_behalf = match &caller {
            Caller::Staff(staff) => {
                staff.require_role(&ActorRole::SUPERVISORS)?;
                true
            }
            Caller::Beneficiary(_) => false,
        };
        let input = request.get_ref();
        let stored = visible_request(&self.store, &caller, &input.request_id).await?;
        let plan = self.plan_of(&stored).await?;
        if stored.status != CaseStatus::Approved {
            return Err(refused_in(
                stored.status,
                "يؤكد المستفيد الاستلام أثناء تقديم الخدمة",
                "The beneficiary confirms while the service is being delivered",
            ));
        }
        let step = plan.step(input.step.trim()).ok_or_else(|| unknown_step(&plan))?;
        if !step.beneficiary_confirms {
            return Err(invalid_input(vec![FieldError::new(
                "step",
                Bilingual::new("لا تطلب هذه الخطوة تأكيد المستفيد", "This step does not ask the beneficiary to confirm"),
            )]));
        }
        let mut problems = Vec::new();
        // On the beneficiary's behalf, the note says how they confirmed (their signature on the handover form).
        let note = masar_domain::input::read_field("note", &input.note, TextRule::NOTE, on_behalf, &mut problems);
        if !problems.is_empty() {
            return Err(invalid_input(problems));
        }
        let now = Utc::now();
        let mut tx = self.store.db().begin().await?;
        let kept = self.store.delivery_records_in(&mut tx, stored.request_id).await?;
        if !kept.progress(step).done {
            return Err(Problem::new(Bilingual::new("تؤكَّد الخطوة بعد إتمامها", "A step is confirmed once it is done"))
                .into_status(Code::FailedPrecondition));
        }
        if !self.store.confirm_delivery_step(&mut tx, stored.request_id, &step.code, &note, now).await? {
            return Err(Problem::new(Bilingual::new("أكدتم هذه الخطوة من قبل", "You already confirmed this step"))
                .into_status(Code::FailedPrecondition));
        }
        let actor = Actor::calling(&caller, &request);
        let detail =
            if on_behalf { format!("{} (on the beneficiary's behalf: {note})", step.code) } else { step.code.clone() };
        audit::record(&mut tx, &actor, stored.audit_subject(), action::DELIVERY_STEP_CONFIRMED, &detail).await?;
        let (by, role) = match &caller {
            Caller::Staff(staff) => (staff.username.as_str(), staff.role),
            Caller::Beneficiary(_) => ("", ActorRole::Beneficiary),
        };
        let (stored, kept) = self.deliver_if_complete(&mut tx, &stored, &plan, (by, role, &actor), now).await?;
        tx.commit().await?;
        self.outbox.wake();
        Ok(plan_reply(&stored, &plan, &kept))
    }
}
