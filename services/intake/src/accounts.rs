//! The beneficiary service: registration (by the beneficiary or by
//! reception), accounts with one-time passwords, and the registry staff read.

use crate::grpc::{
    acted_by, actor_of, check_association, policy_in_force, read_applicant, read_channel, readable_code, submitter,
};
use crate::passwords::hash_password;
use crate::registry::{NewAccount, NewBeneficiary, Opened, StoredBeneficiary};
use crate::store::IntakeStore;
use chrono::Utc;
use masar_domain::calendar::saudi_day;
use masar_domain::{ActorRole, Bilingual, FieldError, HijriDate, NationalId, SaudiMobile};
use masar_platform::audit::{self, Actor, Subject};
use masar_platform::grpc::{Problem, changed_meanwhile, invalid_input, parse_uuid};
use masar_platform::identity::{Caller, Staff};
use masar_platform::messaging::{Outbox, event_text};
use masar_platform::paging::{PageRequest, Position};
use masar_platform::policies::PolicyBook;
use masar_platform::sealing::Sealer;
use masar_platform::tokens::TokenVerifier;
use masar_proto::Event;
use masar_proto::event_type;
use masar_proto::events::v1 as events;
use masar_proto::intake::v1::{self as api, beneficiary_service_server::BeneficiaryService};
use secrecy::SecretString;
use tonic::{Code, Request, Response, Status};
use uuid::Uuid;

pub struct Beneficiaries {
    pub store: IntakeStore,
    pub outbox: Outbox,
    pub verifier: TokenVerifier,
    pub policies: PolicyBook,
    pub sealer: Sealer,
}

/// Letters and digits a person cannot misread from an SMS (no 0/O, 1/l/I).
const READABLE: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";

/// Ten readable characters with at least one letter and one digit.
fn one_time_password() -> SecretString {
    loop {
        let candidate = readable_code(10, READABLE);
        if candidate.chars().any(|c| c.is_ascii_digit()) && candidate.chars().any(|c| c.is_ascii_alphabetic()) {
            return SecretString::from(candidate);
        }
    }
}

/// e.g. `nzl-k7m2qx`: the association's prefix and six readable characters.
fn new_username(reference_prefix: &str) -> String {
    format!("{}-{}", reference_prefix.to_lowercase(), readable_code(6, b"abcdefghijkmnpqrstuvwxyz23456789"))
}

fn beneficiary_reply(b: StoredBeneficiary) -> api::Beneficiary {
    api::Beneficiary {
        beneficiary_id: b.beneficiary_id.to_string(),
        association: b.association,
        full_name: b.full_name,
        national_id_masked: NationalId::mask(&b.national_id),
        mobile_masked: SaudiMobile::mask(&b.mobile),
        preferred_language: b.language.tag().to_owned(),
        channel: b.channel,
        registered_by: b.registered_by,
        registered_on_hijri: HijriDate::on(b.registered_at).to_string(),
        registered_at: Some(masar_proto::timestamp(b.registered_at)),
        possible_duplicate_of: b.possible_duplicate_of.map(|id| id.to_string()).unwrap_or_default(),
        has_account: b.has_account,
    }
}

/// How many credentials SMS an anonymous registration may cause in a day,
/// for one national ID and for one number.
pub const CREDENTIAL_MESSAGES_A_DAY: u64 = 3;

#[tonic::async_trait]
impl BeneficiaryService for Beneficiaries {
    async fn register_account(
        &self,
        request: Request<api::RegisterAccountRequest>,
    ) -> Result<Response<api::Registration>, Status> {
        let staff = submitter(Caller::from_request(&self.verifier, &request)?.as_ref())?;
        let input = request.get_ref();
        if let Some(staff) = &staff
            && staff.association != input.association.trim()
        {
            return Err(Problem::new(Bilingual::new(
                "لا يمكنك التسجيل لجمعية أخرى",
                "You cannot register beneficiaries of another association",
            ))
            .into_status(Code::PermissionDenied));
        }
        let now = Utc::now();
        let pack = policy_in_force(&self.policies, &input.association, saudi_day(now)).await?;
        let mut errors = Vec::new();
        check_association(&input.association, pack.as_ref(), &mut errors);
        let channel = read_channel(pack.as_ref(), &input.channel, &mut errors);
        // Without reception's help, a beneficiary registers online.
        if staff.is_none() && channel.is_some_and(|c| !c.is_online()) {
            errors.push(FieldError::new(
                "channel",
                Bilingual::new(
                    "التسجيل الذاتي عبر الموقع أو التطبيق؛ وفي غيرهما يسجلك موظف الاستقبال",
                    "Self-registration is through the website or the mobile app; otherwise reception registers you",
                ),
            ));
        }
        let applicant = read_applicant(input.applicant.as_ref(), &mut errors);
        let (Some(pack), Some(channel), Some(applicant)) = (pack, channel, applicant) else {
            return Err(invalid_input(errors));
        };
        if !errors.is_empty() {
            return Err(invalid_input(errors));
        }
        let password = one_time_password();
        let password_hash = hash_password(password.clone()).await?;
        let new = NewBeneficiary {
            association: pack.association.clone(),
            national_id: applicant.national_id,
            full_name: applicant.full_name,
            mobile: applicant.mobile,
            language: applicant.language,
            channel,
            registered_by: acted_by(&staff),
            registered_at: now,
        };
        let anonymous = staff.is_none();
        let mut tx = self.store.db().begin().await?;
        let (beneficiary, _) = self.store.find_or_register(&mut tx, &new).await?;
        // Online, the holder of an ID and of a number is told by SMS only a few times a day.
        if anonymous {
            let since = now - chrono::Duration::hours(24);
            let sent = self
                .store
                .credential_messages_since(&mut tx, &beneficiary.national_id, &beneficiary.mobile, since)
                .await?;
            if sent >= CREDENTIAL_MESSAGES_A_DAY {
                tx.rollback().await?;
                tracing::info!(association = %pack.association, "registration not acted on: its SMS limit is reached");
                return Ok(Response::new(api::Registration::default()));
            }
        }
        let mut account = NewAccount {
            account_id: Uuid::now_v7(),
            association: pack.association.clone(),
            beneficiary_id: beneficiary.beneficiary_id,
            username: new_username(&pack.reference_prefix),
            password_hash,
            channel,
            opened_by: acted_by(&staff),
            opened_at: now,
        };
        // A username collision is unlikely (32^6 per association); try a few before giving up.
        let mut attempts = 0;
        loop {
            match self.store.open_account(&mut tx, &account).await? {
                Opened::Opened => break,
                // Online, the answer is the same whether or not the ID has an account (or is on file).
                Opened::AlreadyHasAccount if anonymous => {
                    tx.rollback().await?;
                    return Ok(Response::new(api::Registration::default()));
                }
                Opened::AlreadyHasAccount => {
                    return Err(Problem::new(Bilingual::new(
                        "يوجد حساب لهذا الرقم من قبل؛ سجّل الدخول أو راجع موظف الاستقبال",
                        "An account already exists for this national ID; sign in, or ask reception for help",
                    ))
                    .into_status(Code::AlreadyExists));
                }
                Opened::UsernameTaken if attempts < 3 => {
                    attempts += 1;
                    account.username = new_username(&pack.reference_prefix);
                }
                Opened::UsernameTaken => return Err(changed_meanwhile()),
            }
        }
        let event = events::AccountOpened {
            account_id: account.account_id.to_string(),
            association: account.association.clone(),
            username: account.username.clone(),
            mobile: beneficiary.mobile.clone(),
            preferred_language: beneficiary.language.tag().to_owned(),
            sealed_one_time_password: self.sealer.seal(&password),
            channel: channel.as_str().to_owned(),
            actor: Some(actor_of(&staff)),
            opened_at: Some(masar_proto::timestamp(now)),
            association_name: Some(event_text(&pack.name)),
        };
        self.outbox.append(&mut tx, &Event::AccountOpened(event)).await?;
        if anonymous {
            self.store.record_credential_message(&mut tx, &beneficiary.national_id, &beneficiary.mobile, now).await?;
        }
        // Somebody registering themself acts as the account they open.
        let actor = match &staff {
            Some(staff) => Actor::staff(staff, &request),
            None => Actor { username: account.username.clone(), ..Actor::anonymous(&request) },
        };
        let branch = staff.as_ref().and_then(|s| s.branch.as_deref()).unwrap_or_default();
        let subject = Subject::outside_a_case(&account.association, branch);
        audit::record(&mut tx, &actor, subject, event_type::ACCOUNT_OPENED, channel.as_str()).await?;
        tx.commit().await?;
        self.outbox.wake();
        tracing::info!(account_id = %account.account_id, association = %account.association, %channel, "account opened");
        // Anyone may type anyone's ID: an anonymous caller learns nothing of who is on file, nor where the SMS went.
        if anonymous {
            return Ok(Response::new(api::Registration::default()));
        }
        Ok(Response::new(api::Registration {
            beneficiary_id: beneficiary.beneficiary_id.to_string(),
            account_id: account.account_id.to_string(),
            username: account.username,
            // The registry's number: a newcomer cannot redirect an existing beneficiary's credentials.
            mobile_masked: SaudiMobile::mask(&beneficiary.mobile),
        }))
    }

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
        Ok(Response::new(beneficiary_reply(beneficiary)))
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
                .into_iter()
                .map(|(beneficiary, resembles)| api::PossibleDuplicate {
                    beneficiary: Some(beneficiary_reply(beneficiary)),
                    resembles: Some(beneficiary_reply(resembles)),
                })
                .collect(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::passwords::password_matches;
    use secrecy::ExposeSecret;

    #[tokio::test]
    async fn passwords_are_hashed_and_checked() {
        let password = one_time_password();
        let text = password.expose_secret().to_owned();
        assert_eq!(text.len(), 10);
        assert!(text.chars().all(|c| READABLE.contains(&(c as u8))));
        let hash = hash_password(password.clone()).await.unwrap();
        assert!(hash.starts_with("$argon2id$") && !hash.contains(&text));
        assert!(password_matches(Some(hash.clone()), password).await.unwrap());
        assert!(!password_matches(Some(hash), "wrong-one1".to_owned().into()).await.unwrap());
        // The stand-in hash parses and matches nothing a person would type.
        assert!(!password_matches(None, text.into()).await.unwrap());
    }

    #[test]
    fn usernames_carry_the_association_prefix() {
        let username = new_username("NZL");
        assert!(username.starts_with("nzl-") && username.len() == 10, "{username}");
    }
}
