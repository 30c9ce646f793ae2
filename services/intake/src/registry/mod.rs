//! The registry as staff read it (`BeneficiaryService`), and as the identity
//! service reaches it (`RegistryService`, for its calls alone); the
//! registry's store is beside it.

use crate::requests::store::IntakeStore;
use masar_domain::{ActorRole, Bilingual, FieldError, HijriDate, NationalId, SaudiMobile};
use masar_platform::audit::{self, Actor, Subject, action};
use masar_platform::db::{DbError, Tx};
use masar_platform::forms::{check_association, policy_in_force, read_applicant, read_channel};
use masar_platform::grpc::{Problem, invalid_input, parse_uuid};
use masar_platform::identity::Staff;
use masar_platform::messaging::{EventHandler, HandlerError, Outbox};
use masar_platform::paging::{PageRequest, Position};
use masar_platform::personal::Field;
use masar_platform::policies::PolicyBook;
use masar_platform::queue::Message;
use masar_platform::tokens::TokenVerifier;
use masar_proto::events::v1 as events;
use masar_proto::intake::v1::{
    self as api, beneficiary_service_server::BeneficiaryService, registry_service_server::RegistryService,
};
use masar_proto::{Event, event_type};
use tonic::{Code, Request, Response, Status};
use uuid::Uuid;

mod store;

pub use store::{NewBeneficiary, Registered, StoredBeneficiary};

pub struct Beneficiaries {
    pub store: IntakeStore,
    pub verifier: TokenVerifier,
}

pub(crate) fn beneficiary_reply(b: &StoredBeneficiary) -> api::Beneficiary {
    api::Beneficiary {
        beneficiary_id: b.beneficiary_id.to_string(),
        association: b.association.clone(),
        full_name: b.full_name.clone(),
        national_id_masked: NationalId::mask(&b.national_id),
        mobile_masked: SaudiMobile::mask(&b.mobile),
        preferred_language: b.language.tag().to_owned(),
        channel: b.channel.clone(),
        registered_by: b.registered_by.clone(),
        registered_on_hijri: HijriDate::on(b.registered_at).to_string(),
        registered_at: Some(masar_proto::timestamp(b.registered_at)),
        possible_duplicate_of: b.possible_duplicate_of.map(|id| id.to_string()).unwrap_or_default(),
        has_account: b.has_account,
    }
}

#[tonic::async_trait]
impl BeneficiaryService for Beneficiaries {
    async fn get_beneficiary(
        &self,
        request: Request<api::GetBeneficiaryRequest>,
    ) -> Result<Response<api::Beneficiary>, Status> {
        let staff = Staff::from_request(&self.verifier, &request)?;
        staff.require_role(&ActorRole::REGISTRY_KEEPERS)?;
        let beneficiary_id = parse_uuid("beneficiary_id", &request.get_ref().beneficiary_id)?;
        let not_found =
            || Problem::new(Bilingual::new("المستفيد غير موجود", "No such beneficiary")).into_status(Code::NotFound);
        let beneficiary = self.store.beneficiary(beneficiary_id).await?.ok_or_else(not_found)?;
        // Beneficiaries belong to the association, not a branch; another association's look missing.
        if beneficiary.association != staff.association {
            return Err(not_found());
        }
        Ok(Response::new(beneficiary_reply(&beneficiary)))
    }

    async fn list_possible_duplicates(
        &self,
        request: Request<api::ListPossibleDuplicatesRequest>,
    ) -> Result<Response<api::ListPossibleDuplicatesResponse>, Status> {
        let staff = Staff::from_request(&self.verifier, &request)?;
        staff.require_role(&ActorRole::REGISTRY_KEEPERS)?;
        let page = PageRequest::read(request.get_ref().page_size, &request.get_ref().page_token)?;
        let pairs = self.store.possible_duplicates(&staff.association, &page).await?;
        let (pairs, next_page_token) =
            page.finish(pairs, |(b, _)| Position { at: b.registered_at, id: b.beneficiary_id });
        Ok(Response::new(api::ListPossibleDuplicatesResponse {
            next_page_token,
            duplicates: pairs
                .iter()
                .map(|(beneficiary, resembles)| api::PossibleDuplicate {
                    beneficiary: Some(beneficiary_reply(beneficiary)),
                    resembles: Some(beneficiary_reply(resembles)),
                })
                .collect(),
        }))
    }
}

/// Finds or registers `new`'s entry in `tx`, as `actor`. A new entry, and
/// staff's details confirming a provisional entry's contact, are on the
/// registry's trail; a confirmation is also announced (identity proves the
/// claims made with that number), in the same transaction.
pub(crate) async fn register(
    store: &IntakeStore,
    outbox: &Outbox,
    tx: &mut Tx,
    new: &NewBeneficiary,
    actor: &Actor,
) -> Result<StoredBeneficiary, DbError> {
    let (entry, registered) = store.find_or_register(tx, new).await?;
    let subject = Subject::outside_a_case(&entry.association, "");
    let id = entry.beneficiary_id.to_string();
    match registered {
        Registered::Found => {}
        Registered::New => audit::record(tx, actor, subject, action::BENEFICIARY_REGISTERED, &id).await?,
        Registered::ContactConfirmed => {
            let confirmed = events::ContactConfirmed {
                beneficiary_id: id.clone(),
                association: entry.association.clone(),
                mobile: store.personal().seal(&entry.association, Field::Mobile, &entry.mobile),
                confirmed_by: new.registered_by.clone(),
                confirmed_at: Some(masar_proto::timestamp(new.registered_at)),
            };
            outbox.append(tx, &Event::ContactConfirmed(confirmed)).await?;
            audit::record(tx, actor, subject, event_type::CONTACT_CONFIRMED, &id).await?;
        }
    }
    Ok(entry)
}

/// The registry for the identity service, which alone reaches it (see `OnlyFrom` where it is served).
pub struct RegistryForIdentity {
    pub store: IntakeStore,
    pub outbox: Outbox,
    pub policies: PolicyBook,
}

fn entry_reply(entry: &StoredBeneficiary) -> api::RegistryEntry {
    api::RegistryEntry {
        beneficiary: Some(beneficiary_reply(entry)),
        national_id: entry.national_id.clone(),
        mobile: entry.mobile.clone(),
        contact_confirmed: entry.contact_confirmed,
    }
}

#[tonic::async_trait]
impl RegistryService for RegistryForIdentity {
    async fn find_or_register(
        &self,
        request: Request<api::FindOrRegisterRequest>,
    ) -> Result<Response<api::RegistryEntry>, Status> {
        let input = request.get_ref();
        // Identity validated the form against the same pack; checked again here, where the registry is kept.
        let registered_at = masar_proto::to_datetime(input.registered_at.as_ref());
        let pack =
            policy_in_force(&self.policies, &input.association, masar_domain::calendar::saudi_day(registered_at))
                .await?;
        let mut errors: Vec<FieldError> = Vec::new();
        check_association(&input.association, pack.as_ref(), &mut errors);
        let channel = read_channel(pack.as_ref(), &input.channel, &mut errors);
        let applicant = read_applicant(input.applicant.as_ref(), &mut errors);
        let (Some(pack), Some(channel), Some(applicant)) = (pack, channel, applicant) else {
            return Err(invalid_input(errors));
        };
        let registered_by = input.registered_by.trim();
        let role = ActorRole::parse(&input.registered_by_role);
        if registered_by.is_empty() {
            errors.push(FieldError::required("registered_by"));
        }
        if role.is_err() {
            errors.push(FieldError::new("registered_by_role", Bilingual::new("الدور غير معروف", "Unknown role")));
        }
        let Ok(role) = role else { return Err(invalid_input(errors)) };
        if !errors.is_empty() {
            return Err(invalid_input(errors));
        }
        let new = NewBeneficiary {
            association: pack.association.clone(),
            national_id: applicant.national_id,
            full_name: applicant.full_name,
            mobile: applicant.mobile,
            language: applicant.language,
            channel,
            registered_by: registered_by.to_owned(),
            registered_at,
        };
        // Identity names who acts; the call itself came straight from identity.
        let username = if role == ActorRole::Beneficiary { String::new() } else { registered_by.to_owned() };
        let actor = Actor { username, role, ..Actor::anonymous(&request) };
        let mut tx = self.store.db().begin().await?;
        let entry = register(&self.store, &self.outbox, &mut tx, &new, &actor).await?;
        tx.commit().await?;
        self.outbox.wake();
        Ok(Response::new(entry_reply(&entry)))
    }

    async fn find_entry(
        &self,
        request: Request<api::FindEntryRequest>,
    ) -> Result<Response<api::FindEntryResponse>, Status> {
        let input = request.get_ref();
        let national_id = NationalId::parse(&input.national_id)
            .map_err(|e| invalid_input(vec![FieldError::new("national_id", e.explain())]))?;
        let entry = self.store.beneficiary_on_file(input.association.trim(), &national_id).await?;
        Ok(Response::new(api::FindEntryResponse { entry: entry.as_ref().map(entry_reply) }))
    }

    async fn get_entries(
        &self,
        request: Request<api::GetEntriesRequest>,
    ) -> Result<Response<api::GetEntriesResponse>, Status> {
        let input = request.get_ref();
        let ids = input
            .beneficiary_ids
            .iter()
            .map(|id| parse_uuid("beneficiary_ids", id))
            .collect::<Result<Vec<Uuid>, _>>()?;
        let entries = self.store.beneficiaries(input.association.trim(), &ids).await?;
        Ok(Response::new(api::GetEntriesResponse { entries: entries.iter().map(entry_reply).collect() }))
    }
}

/// Identity's news of accounts: an entry with an account, and a number an
/// account's verified holder proved.
pub struct AccountNews {
    pub store: IntakeStore,
}

#[async_trait::async_trait]
impl EventHandler for AccountNews {
    async fn handle(&self, tx: &mut Tx, message: &Message, event: Event) -> Result<(), HandlerError> {
        let (beneficiary_id, association, sealed_mobile) = match &event {
            Event::AccountOpened(opened) => (&opened.beneficiary_id, &opened.association, None),
            Event::AccountVerified(verified) => {
                (&verified.beneficiary_id, &verified.association, Some(&verified.mobile))
            }
            _ => return Err(HandlerError::Reject(format!("not news of an account: {}", message.event_type))),
        };
        let beneficiary_id = Uuid::parse_str(beneficiary_id)
            .map_err(|_| HandlerError::Reject(format!("{} names no registry entry", message.event_type)))?;
        match sealed_mobile {
            None => self.store.note_account(tx, beneficiary_id).await?,
            Some(sealed) => {
                let mobile = self.store.personal().open(association, Field::Mobile, sealed)?;
                self.store.prove_contact(tx, association, beneficiary_id, &mobile).await?;
            }
        }
        Ok(())
    }
}
