//! Notification: tells the beneficiary by SMS at every stage. Each stage
//! event becomes one stored message (in the consumer's transaction, so a
//! redelivered event never makes a second one); a dispatcher sends what is
//! pending through the configured provider.

mod grpc;
pub mod sms;
mod store;
mod templates;

pub use store::{Claimed, Dispatcher, NewMessage, NotificationStore, SECRET_PLACEHOLDER, StoredMessage};

use masar_domain::{Bilingual, DualDate, Language};
use masar_platform::CancellationToken;
use masar_platform::db::{Db, DbError, Tx};
use masar_platform::messaging::{EventHandler, HandlerError, Outbox, event_case, listed};
use masar_platform::queue::Message;
use masar_platform::role::Role;
use masar_platform::runtime::{Dependencies, ServiceParts};
use masar_proto::events::v1 as events;
use masar_proto::notification::v1::notification_service_server::NotificationServiceServer;
use masar_proto::{Event, event_type};
use sms::SmsProvider;
use sqlx::migrate::Migrator;
use std::sync::Arc;

static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");
static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");

/// Creates or upgrades notification's tables (and its outbox and inbox).
pub async fn migrate(db: &Db) -> Result<(), DbError> {
    masar_platform::runtime::migrate_service(db, "notification", &POSTGRES, &SQLITE).await
}

pub fn parts(deps: &Dependencies, provider: Arc<dyn SmsProvider>, shutdown: CancellationToken) -> ServiceParts {
    let store = NotificationStore::new(deps.db.clone(), deps.personal.clone());
    let service = grpc::Notification { store: store.clone(), verifier: deps.tokens.verifier.clone() };
    let resealed = store.clone();
    let composed = Arc::new(tokio::sync::Notify::new());
    let dispatcher = Dispatcher {
        store: store.clone(),
        provider,
        sealer: deps.sealer.clone(),
        poll_every: deps.outbox.poll_every,
        composed: composed.clone(),
    };
    ServiceParts {
        role: Role::Notification,
        routes: tonic::service::Routes::new(NotificationServiceServer::new(service)),
        service_names: vec!["masar.notification.v1.NotificationService"],
        outbox: Outbox::new(),
        consumes: Some((
            event_type::ALL
                .iter()
                .copied()
                .chain([
                    event_type::ACCOUNT_OPENED,
                    event_type::INQUIRY_ANSWERED,
                    event_type::PROMISE_REVISED,
                    event_type::CASE_OVERDUE,
                ])
                .collect(),
            Arc::new(Composer { store, composed }),
        )),
        background: vec![
            Box::pin(dispatcher.run(shutdown.clone())),
            Box::pin(async move {
                let every = masar_platform::personal::RESEAL_EVERY;
                masar_platform::personal::keep_sealed(|| resealed.reseal_batch(), every, shutdown).await
            }),
        ],
    }
}

/// Turns each stage event into a message for the beneficiary.
struct Composer {
    store: NotificationStore,
    /// Wakes the dispatcher once what was composed is committed.
    composed: Arc<tokio::sync::Notify>,
}

/// The case, the decision (for committee events) and the template details
/// of a stage event after submission.
type Described = (Option<events::CaseRef>, String, Bilingual);

fn describe(event: Event) -> Result<Described, HandlerError> {
    let plain = |case| Ok((case, String::new(), Bilingual::default()));
    match event {
        Event::RequestReturned(e) => Ok((e.case, String::new(), listed(&e.missing_items, &e.missing))),
        Event::RequestVerified(e) => plain(e.case),
        Event::RequestIneligible(e) => Ok((e.case, String::new(), listed(&e.reasons, &e.rule_explanations))),
        Event::ResearcherAssigned(e) => plain(e.case),
        Event::VisitScheduled(e) => {
            let decision = if e.moved { "moved" } else { "" }.to_owned();
            Ok((e.case, decision, appointment(&e.visit_on, &e.visit_time, &e.place)))
        }
        Event::FieldVisitRecorded(e) => plain(e.case),
        Event::ResearchRecommended(e) => plain(e.case),
        Event::CaseScheduled(e) => plain(e.case),
        Event::CommitteeDecided(e) => Ok((e.case, e.decision, listed(&e.reasons, &[]))),
        Event::ServiceDelivered(e) => plain(e.case),
        // Handled before (their own recipients, or the submission's), or not notification's.
        Event::RequestSubmitted(_)
        | Event::RequestResubmitted(_)
        | Event::AccountOpened(_)
        | Event::AccountVerified(_)
        | Event::ContactConfirmed(_)
        | Event::InquiryAnswered(_)
        | Event::CaseOverdue(_)
        | Event::PromiseRevised(_)
        | Event::SessionRevoked(_)
        | Event::VisitChangeRequested(_)
        | Event::DocumentsRequested(_)
        | Event::PolicyApplied(_) => Err(HandlerError::Reject("notification does not describe this event".into())),
    }
}

/// A stage as a sentence names it.
fn stage_words(stage: &str) -> (&'static str, &'static str) {
    match stage {
        "verification" => ("التحقق من المستندات", "document verification"),
        "research" => ("البحث الاجتماعي", "social research"),
        _ => ("لجنة البحث", "research committee"),
    }
}

/// A visit's day in both calendars, its time and place, as the SMS says them.
fn appointment(on: &str, at: &str, place: &str) -> Bilingual {
    let day = reply_date(on);
    Bilingual::new(format!("{} الساعة {at} في {place}", day.ar), format!("{} at {at}, at {place}", day.en))
}

/// The promised reply date in both calendars, Hijri first for Arabic readers.
fn reply_date(iso: &str) -> Bilingual {
    match masar_domain::calendar::parse_gregorian(iso) {
        Ok(day) => {
            let both = DualDate::new(day);
            Bilingual::new(both.arabic(), both.english())
        }
        Err(_) => Bilingual::new(iso, iso),
    }
}

#[async_trait::async_trait]
impl EventHandler for Composer {
    fn committed(&self) {
        self.composed.notify_one();
    }

    async fn handle(&self, tx: &mut Tx, message: &Message, event: Event) -> Result<(), HandlerError> {
        // A revised promise's new date, which its message says in place of the submission's.
        let mut revised_on = None;
        let (case, decision, details) = match event {
            // Not about a request: their own messages.
            Event::AccountOpened(event) => return self.credentials(tx, message, event).await,
            Event::InquiryAnswered(event) => return self.inquiry_answer(tx, message, event).await,
            Event::CaseOverdue(event) => return self.overdue_alert(tx, message, event).await,
            Event::PromiseRevised(event) => {
                let (ar, en) = stage_words(&event.stage);
                revised_on = Some(event.expected_decision_on);
                let why = Bilingual::new(
                    format!("تجاوزت مرحلة {ar} المدة المحددة لها"),
                    format!("the {en} stage is taking longer than its target"),
                );
                (event.case, String::new(), why)
            }
            Event::RequestSubmitted(event) | Event::RequestResubmitted(event) => {
                let (request_id, case) = event_case(event.case.clone())?;
                self.store.remember_recipient(tx, request_id, &case, &event).await?;
                (Some(case), String::new(), reply_date(&event.expected_decision_on))
            }
            // Told of the first assignment already: a reassignment is the association's business.
            Event::ResearcherAssigned(event) if event.reassignment => return Ok(()),
            other => describe(other)?,
        };
        let (request_id, _) = event_case(case)?;
        let recipient = self
            .store
            .recipient_in(tx, request_id)
            .await?
            // The submission event travels on another stream and may come later.
            .ok_or_else(|| HandlerError::Retry(format!("no recipient yet for {request_id}")))?;
        let language = Language::from_tag(&recipient.language);
        let details = details.in_language(language).to_owned();
        // A revised promise says its new date; every other message's date is its details.
        let date = match &revised_on {
            Some(day) => reply_date(day).in_language(language).to_owned(),
            None => details.clone(),
        };
        let fields = templates::Fields { reference: recipient.reference.clone(), date, details, ..Default::default() };
        let Some(text) = templates::render(&message.event_type, &decision, language, &fields) else {
            return Ok(());
        };
        let queued = NewMessage {
            subject_id: request_id,
            event: message,
            association: &recipient.association,
            mobile: &recipient.sealed_mobile,
            language,
            body: &text,
            channel: &recipient.channel,
            sealed_secret: None,
        };
        self.store.queue_message(tx, &queued).await?;
        Ok(())
    }
}

/// A message whose event names its own recipient (an account's, an inquiry's), not a request's.
struct Direct<'a> {
    subject_id: &'a str,
    association: &'a str,
    mobile: &'a str,
    language: &'a str,
    channel: &'a str,
    sealed_secret: Option<&'a str>,
}

impl Composer {
    /// The answer to an inquiry, to the mobile its asker left.
    async fn inquiry_answer(
        &self,
        tx: &mut Tx,
        message: &Message,
        event: events::InquiryAnswered,
    ) -> Result<(), HandlerError> {
        let direct = Direct {
            subject_id: &event.inquiry_id,
            association: &event.association,
            mobile: &event.mobile,
            language: &event.preferred_language,
            channel: &event.channel,
            sealed_secret: None,
        };
        let fields = |_| templates::Fields {
            reference: event.reference.clone(),
            details: event.answer.clone(),
            ..Default::default()
        };
        self.queue_direct(tx, message, direct, fields).await
    }

    /// A case past its stage's target, to the supervisor alerted.
    async fn overdue_alert(
        &self,
        tx: &mut Tx,
        message: &Message,
        event: events::CaseOverdue,
    ) -> Result<(), HandlerError> {
        let (request_id, case) = event_case(event.case.clone())?;
        let direct = Direct {
            subject_id: &request_id.to_string(),
            association: &case.association,
            mobile: &event.supervisor_mobile,
            language: "ar",
            channel: "staff",
            sealed_secret: None,
        };
        let fields = |language| {
            let (ar, en) = stage_words(&event.stage);
            templates::Fields {
                reference: event.reference.clone(),
                date: reply_date(&event.deadline).in_language(language).to_owned(),
                details: Bilingual::new(ar, en).in_language(language).to_owned(),
                ..Default::default()
            }
        };
        self.queue_direct(tx, message, direct, fields).await
    }

    /// The new account's username and one-time password; the password stays
    /// sealed in the stored message until the dispatcher sends it.
    async fn credentials(
        &self,
        tx: &mut Tx,
        message: &Message,
        event: events::AccountOpened,
    ) -> Result<(), HandlerError> {
        let direct = Direct {
            subject_id: &event.account_id,
            association: &event.association,
            mobile: &event.mobile,
            language: &event.preferred_language,
            channel: &event.channel,
            sealed_secret: Some(&event.sealed_one_time_password),
        };
        let name = event.association_name.clone().unwrap_or_default();
        let fields = |language| templates::Fields {
            details: Bilingual::new(name.ar, name.en).in_language(language).to_owned(),
            username: event.username.clone(),
            ..Default::default()
        };
        self.queue_direct(tx, message, direct, fields).await
    }

    async fn queue_direct(
        &self,
        tx: &mut Tx,
        message: &Message,
        direct: Direct<'_>,
        fields: impl FnOnce(Language) -> templates::Fields,
    ) -> Result<(), HandlerError> {
        let subject_id = direct.subject_id.parse().map_err(|_| {
            HandlerError::Reject(format!("{}: '{}' is not a UUID", message.event_type, direct.subject_id))
        })?;
        let language = Language::from_tag(direct.language);
        let text = templates::render(&message.event_type, "", language, &fields(language))
            .ok_or_else(|| HandlerError::Reject(format!("no template for {}", message.event_type)))?;
        let queued = NewMessage {
            subject_id,
            event: message,
            association: direct.association,
            mobile: direct.mobile,
            language,
            body: &text,
            channel: direct.channel,
            sealed_secret: direct.sealed_secret,
        };
        self.store.queue_message(tx, &queued).await?;
        Ok(())
    }
}
