//! The account service: registration (by the beneficiary or by reception)
//! with one-time passwords, the claims accounts make to a national ID, and
//! how their holders prove it (in person, by the registry's number, or by
//! an identity provider).

use crate::passwords::hash_password;
use crate::registry::Registry;
use crate::sessions::{Ending, SessionEnds};
use crate::store::{IdentityStore, NewAccount, Opened, StoredAccount, StoredIdentityCheck};
use chrono::Utc;
use masar_domain::calendar::saudi_day;
use masar_domain::people::{self, Claim, ExistingAccount, RegistryContact};
use masar_domain::{AccountStanding, ActorRole, Bilingual, FieldError, HijriDate, Language, NationalId, SaudiMobile};
use masar_platform::audit::{self, Actor, Subject, action};
use masar_platform::forms::{
    acted_by, acting_role, actor_of, check_association, policy_in_force, read_applicant, read_channel, read_text,
    readable_code, submitter,
};
use masar_platform::grpc::{Problem, changed_meanwhile, internal, invalid_input, parse_uuid};
use masar_platform::identity::{Caller, Staff};
use masar_platform::identity_checks::{Answer, Asked, IdentityProvider, Provider};
use masar_platform::messaging::{Outbox, event_text};
use masar_platform::paging::{PageRequest, Position};
use masar_platform::personal::Field;
use masar_platform::policies::PolicyBook;
use masar_platform::sealing::Sealer;
use masar_platform::tokens::TokenVerifier;
use masar_proto::Event;
use masar_proto::event_type;
use masar_proto::events::v1 as events;
use masar_proto::identity::v1::{self as api, account_service_server::AccountService};
use masar_proto::intake::v1 as intake;
use secrecy::SecretString;
use tonic::{Code, Request, Response, Status};
use uuid::Uuid;

pub struct Accounts {
    pub store: IdentityStore,
    pub registry: Registry,
    pub outbox: Outbox,
    pub verifier: TokenVerifier,
    pub policies: PolicyBook,
    pub sealer: Sealer,
    /// Ends a closed account's sessions.
    pub ends: SessionEnds,
    pub identity_provider: Provider,
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

fn already_has_account() -> Status {
    Problem::new(Bilingual::new(
        "يوجد حساب لهذا الرقم من قبل؛ سجّل الدخول أو راجع موظف الاستقبال",
        "An account already exists for this national ID; sign in, or ask reception for help",
    ))
    .because("account.exists")
    .into_status(Code::AlreadyExists)
}

fn account_not_found() -> Status {
    Problem::new(Bilingual::new("الحساب غير موجود", "No such account"))
        .because("account.not_found")
        .into_status(Code::NotFound)
}

fn account_reply(a: &StoredAccount) -> api::Account {
    api::Account {
        account_id: a.account_id.to_string(),
        username: a.username.clone(),
        beneficiary_id: a.beneficiary_id.to_string(),
        standing: a.standing.as_str().to_owned(),
        mobile_masked: SaudiMobile::mask(&a.mobile),
        channel: a.channel.clone(),
        opened_by: a.opened_by.clone(),
        opened_at: Some(masar_proto::timestamp(a.opened_at)),
        opened_on_hijri: HijriDate::on(a.opened_at).to_string(),
        verified_by: a.verified_by.clone().unwrap_or_default(),
        verified_at: a.verified_at.map(masar_proto::timestamp),
        closed_reason: a.closed_reason.clone().unwrap_or_default(),
    }
}

/// A registration being judged: for whom, with which number typed, by whom.
struct Registering<'a> {
    association: &'a str,
    national_id: &'a str,
    typed: &'a str,
    anonymous: bool,
    at: chrono::DateTime<Utc>,
}

/// The registry entry an account is opened for, as intake answered.
struct Entry {
    beneficiary_id: Uuid,
    language: Language,
}

impl Entry {
    fn read(entry: &intake::RegistryEntry) -> Result<Self, Status> {
        let beneficiary = entry.beneficiary.as_ref().ok_or_else(|| internal("the registry answered no entry"))?;
        Ok(Self {
            beneficiary_id: Uuid::parse_str(&beneficiary.beneficiary_id)
                .map_err(|_| internal("the registry answered an entry without an id"))?,
            language: Language::from_tag(&beneficiary.preferred_language),
        })
    }
}

/// How many identity checks an account may start in an hour: each one
/// alerts the ID's holder in their identity app.
pub const IDENTITY_CHECKS_AN_HOUR: u64 = 5;

/// How many credentials SMS an anonymous registration may cause in a day,
/// for one national ID and for one number.
pub const CREDENTIAL_MESSAGES_A_DAY: u64 = 3;

#[tonic::async_trait]
impl AccountService for Accounts {
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
        let anonymous = staff.is_none();
        let quietly = || Ok(Response::new(api::Registration::default()));
        // Judged before anything is written anywhere: a refused registration changes nobody's entry.
        let on_file = self.registry.find_entry(&pack.association, applicant.national_id.as_str()).await?;
        let found = on_file.as_ref().map(Entry::read).transpose()?;
        // Staff's details replace a provisional entry's contact; what is typed online never does.
        let contact = match &on_file {
            Some(entry) if entry.contact_confirmed || anonymous => (entry.mobile.clone(), entry.contact_confirmed),
            _ => (applicant.mobile.as_str().to_owned(), !anonymous),
        };
        let registering = Registering {
            association: &pack.association,
            national_id: applicant.national_id.as_str(),
            typed: applicant.mobile.as_str(),
            anonymous,
            at: now,
        };
        let mut tx = self.store.db().begin().await?;
        let judged = self.judge(&mut tx, &registering, found.map(|e| e.beneficiary_id), (&contact.0, contact.1)).await;
        tx.rollback().await?;
        let Some(_) = judged? else { return quietly() };
        let password = one_time_password();
        let password_hash = hash_password(password.clone()).await?;
        // The registry is intake's: the entry is found (or registered) there, before this transaction.
        let entry = self
            .registry
            .find_or_register(intake::FindOrRegisterRequest {
                association: pack.association.clone(),
                applicant: input.applicant.clone(),
                channel: channel.as_str().to_owned(),
                registered_by: acted_by(&staff),
                registered_at: Some(masar_proto::timestamp(now)),
                registered_by_role: acting_role(&staff).as_str().to_owned(),
            })
            .await?;
        let beneficiary = Entry::read(&entry)?;
        // Judged again where the account is opened: another registration may have come in meanwhile.
        let mut tx = self.store.db().begin().await?;
        let registry = (entry.mobile.as_str(), entry.contact_confirmed);
        let judged = self.judge(&mut tx, &registering, Some(beneficiary.beneficiary_id), registry).await?;
        let Some((credentials_to, standing)) = judged else {
            tx.rollback().await?;
            return quietly();
        };
        let mut account = NewAccount {
            account_id: Uuid::now_v7(),
            association: pack.association.clone(),
            beneficiary_id: beneficiary.beneficiary_id,
            username: new_username(&pack.reference_prefix),
            password_hash,
            channel,
            opened_by: acted_by(&staff),
            opened_at: now,
            mobile: credentials_to,
            standing,
        };
        // A username collision is unlikely (32^6 per association); try a few before giving up.
        let mut attempts = 0;
        loop {
            match self.store.open_account(&mut tx, &account).await? {
                Opened::Opened => break,
                // The same registration at the same moment: one opens it.
                Opened::AlreadyClaimed if anonymous => {
                    tx.rollback().await?;
                    return quietly();
                }
                Opened::AlreadyClaimed => return Err(already_has_account()),
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
            mobile: self.store.personal().seal(&account.association, Field::Mobile, &account.mobile),
            preferred_language: beneficiary.language.tag().to_owned(),
            sealed_one_time_password: self.sealer.seal(&password),
            channel: channel.as_str().to_owned(),
            actor: Some(actor_of(&staff)),
            opened_at: Some(masar_proto::timestamp(now)),
            association_name: Some(event_text(&pack.name)),
            beneficiary_id: account.beneficiary_id.to_string(),
        };
        self.outbox.append(&mut tx, &Event::AccountOpened(event)).await?;
        if anonymous {
            self.store
                .record_credential_message(
                    &mut tx,
                    &pack.association,
                    applicant.national_id.as_str(),
                    &account.mobile,
                    now,
                )
                .await?;
        }
        // Somebody registering themself acts as the account they open.
        let actor = match &staff {
            Some(staff) => Actor::staff(staff, &request),
            None => Actor { username: account.username.clone(), ..Actor::anonymous(&request) },
        };
        let branch = staff.as_ref().and_then(|s| s.branch.as_deref()).unwrap_or_default();
        let subject = Subject::outside_a_case(&account.association, branch);
        let detail = format!("{channel}, {}", account.standing);
        audit::record(&mut tx, &actor, subject, event_type::ACCOUNT_OPENED, &detail).await?;
        tx.commit().await?;
        self.outbox.wake();
        tracing::info!(
            account_id = %account.account_id, association = %account.association, %channel, standing = %account.standing,
            "account opened"
        );
        // Anyone may type anyone's ID: an anonymous caller learns nothing of who is on file, nor where the SMS went.
        if anonymous {
            return quietly();
        }
        Ok(Response::new(api::Registration {
            beneficiary_id: beneficiary.beneficiary_id.to_string(),
            account_id: account.account_id.to_string(),
            username: account.username,
            // The registry's number where it is confirmed: nobody can redirect a known person's credentials.
            mobile_masked: SaudiMobile::mask(&account.mobile),
        }))
    }

    async fn list_account_claims(
        &self,
        request: Request<api::ListAccountClaimsRequest>,
    ) -> Result<Response<api::ListAccountClaimsResponse>, Status> {
        let staff = Staff::from_request(&self.verifier, &request)?;
        staff.require_role(&ActorRole::REGISTRY_KEEPERS)?;
        let page = PageRequest::read(request.get_ref().page_size, &request.get_ref().page_token)?;
        let claims = self.store.account_claims(&staff.association, &page).await?;
        let (claims, next_page_token) = page.finish(claims, |(a, _)| Position { at: a.opened_at, id: a.account_id });
        let ids: Vec<Uuid> = claims.iter().map(|(account, _)| account.beneficiary_id).collect();
        let entries = self.registry.entries(&staff.association, &ids).await?;
        let entry_of = |id: Uuid| {
            entries.iter().find(|e| e.beneficiary.as_ref().is_some_and(|b| b.beneficiary_id == id.to_string()))
        };
        Ok(Response::new(api::ListAccountClaimsResponse {
            next_page_token,
            claims: claims
                .iter()
                .filter_map(|(account, others)| {
                    Some(api::AccountClaim {
                        account: Some(account_reply(account)),
                        beneficiary: entry_of(account.beneficiary_id)?.beneficiary.clone(),
                        others: others.iter().map(account_reply).collect(),
                    })
                })
                .collect(),
        }))
    }

    async fn verify_account_holder(
        &self,
        request: Request<api::VerifyAccountHolderRequest>,
    ) -> Result<Response<api::Account>, Status> {
        let input = request.get_ref();
        let ClaimDecision { staff, account, text: note, mut tx } =
            self.claim_decision(&request, &input.account_id, "note", &input.note).await?;
        self.verify(&mut tx, &account, AccountStanding::InPerson, &staff.username, Utc::now()).await?;
        let detail = format!("{} in person: {note}", account.username);
        let verified = self.decided(tx, &staff, &request, &account, action::ACCOUNT_VERIFIED, &detail).await?;
        tracing::info!(account_id = %account.account_id, association = %staff.association, "account holder verified in person");
        Ok(Response::new(account_reply(&verified)))
    }

    async fn close_account_claim(
        &self,
        request: Request<api::CloseAccountClaimRequest>,
    ) -> Result<Response<api::Account>, Status> {
        let input = request.get_ref();
        let ClaimDecision { staff, account, text: reason, mut tx } =
            self.claim_decision(&request, &input.account_id, "reason", &input.reason).await?;
        let now = Utc::now();
        if !self.store.close_account(&mut tx, account.account_id, &reason, now).await? {
            return Err(changed_meanwhile());
        }
        let ending = Ending::EveryOneOf { association: &account.association, username: &account.username };
        let ended = self.ends.end(&mut tx, ending, "account closed", now).await?;
        let detail = format!("{}: {reason}", account.username);
        let closed = self.decided(tx, &staff, &request, &account, action::ACCOUNT_CLOSED, &detail).await?;
        self.ends.announce(&ended);
        tracing::info!(account_id = %account.account_id, association = %staff.association, "account claim closed");
        Ok(Response::new(account_reply(&closed)))
    }

    async fn start_identity_check(
        &self,
        request: Request<api::StartIdentityCheckRequest>,
    ) -> Result<Response<api::IdentityCheck>, Status> {
        let caller = Caller::required(&self.verifier, &request)?;
        let own = caller.as_beneficiary()?;
        let provider = self.provider()?;
        // No transaction is held across the provider's call: it may take seconds.
        let account = self.store.account_by_id(own.account_id).await?.ok_or_else(account_not_found)?;
        if account.standing != AccountStanding::Unverified {
            return Err(not_a_claim(account.standing));
        }
        let now = Utc::now();
        let started = self.store.identity_checks_since(own.account_id, now - chrono::Duration::hours(1)).await?;
        if started >= IDENTITY_CHECKS_AN_HOUR {
            return Err(Problem::new(Bilingual::new(
                "طلبات تحقق كثيرة خلال ساعة؛ حاول لاحقاً أو راجع موظف الاستقبال",
                "Too many identity checks within an hour; try later, or visit reception",
            ))
            .because("identity.too_many_checks")
            .into_status(Code::ResourceExhausted));
        }
        let national_id = self.national_id_of(&account).await?;
        let asked = provider.ask(&national_id).await.map_err(provider_failed)?;
        let check = StoredIdentityCheck {
            check_id: Uuid::now_v7(),
            account_id: account.account_id,
            association: account.association.clone(),
            transaction: asked.transaction,
            number: asked.number,
            answer: Answer::Waiting.as_str().to_owned(),
        };
        let mut tx = self.store.db().begin().await?;
        self.store.start_identity_check(&mut tx, &check, now).await?;
        let actor = Actor::calling(&caller, &request);
        let subject = Subject::outside_a_case(&account.association, "");
        audit::record(&mut tx, &actor, subject, action::IDENTITY_CHECK_STARTED, "").await?;
        tx.commit().await?;
        Ok(Response::new(identity_check_reply(&check, account.standing)))
    }

    async fn get_identity_check(
        &self,
        request: Request<api::GetIdentityCheckRequest>,
    ) -> Result<Response<api::IdentityCheck>, Status> {
        let caller = Caller::required(&self.verifier, &request)?;
        let own = caller.as_beneficiary()?;
        let check_id = parse_uuid("check_id", &request.get_ref().check_id)?;
        let provider = self.provider()?;
        let not_found = || {
            Problem::new(Bilingual::new("طلب التحقق غير موجود", "No such identity check"))
                .because("identity.check_not_found")
                .into_status(Code::NotFound)
        };
        // Another account's check looks missing.
        let mut check = self
            .store
            .identity_check(check_id)
            .await?
            .filter(|c| c.account_id == own.account_id)
            .ok_or_else(not_found)?;
        let account = self.store.account_by_id(own.account_id).await?.ok_or_else(account_not_found)?;
        if check.answer != Answer::Waiting.as_str() {
            return Ok(Response::new(identity_check_reply(&check, account.standing)));
        }
        let national_id = self.national_id_of(&account).await?;
        let asked = Asked { transaction: check.transaction.clone(), number: check.number };
        let answer = provider.answer(&asked, &national_id).await.map_err(provider_failed)?;
        if answer == Answer::Waiting {
            return Ok(Response::new(identity_check_reply(&check, account.standing)));
        }
        let now = Utc::now();
        let mut tx = self.store.db().begin().await?;
        if !self.store.answer_identity_check(&mut tx, check_id, answer.as_str(), now).await? {
            // Another poll recorded the answer meanwhile: that one is the account's standing now.
            tx.rollback().await?;
            let check = self.store.identity_check(check_id).await?.ok_or_else(not_found)?;
            let account = self.store.account_by_id(own.account_id).await?.ok_or_else(account_not_found)?;
            return Ok(Response::new(identity_check_reply(&check, account.standing)));
        }
        check.answer = answer.as_str().to_owned();
        let mut standing = account.standing;
        if answer == Answer::Confirmed && account.standing == AccountStanding::Unverified {
            self.verify(&mut tx, &account, AccountStanding::ByIdentityProvider, "identity_provider", now).await?;
            let actor = Actor::calling(&caller, &request);
            let subject = Subject::outside_a_case(&account.association, "");
            audit::record(&mut tx, &actor, subject, action::ACCOUNT_VERIFIED, "identity provider").await?;
            standing = AccountStanding::ByIdentityProvider;
        }
        tx.commit().await?;
        self.outbox.wake();
        tracing::info!(%check_id, answer = answer.as_str(), "identity check answered");
        Ok(Response::new(identity_check_reply(&check, standing)))
    }
}

fn identity_check_reply(check: &StoredIdentityCheck, standing: AccountStanding) -> api::IdentityCheck {
    api::IdentityCheck {
        check_id: check.check_id.to_string(),
        number: check.number.into(),
        answer: check.answer.clone(),
        account_standing: standing.as_str().to_owned(),
    }
}

fn provider_failed(error: masar_platform::identity_checks::ProviderError) -> Status {
    tracing::warn!(%error, "identity provider call failed");
    Problem::new(Bilingual::new(
        "خدمة التحقق من الهوية لا تستجيب الآن؛ حاول بعد قليل",
        "The identity check service is not answering; try again shortly",
    ))
    .because("identity.provider_unavailable")
    .into_status(Code::Unavailable)
}

/// Only an unverified account is a claim to prove or turn down.
fn not_a_claim(standing: AccountStanding) -> Status {
    let (message, reason) = if standing == AccountStanding::Closed {
        (Bilingual::new("هذا الحساب مغلق", "This account is closed"), "account.closed")
    } else {
        (
            Bilingual::new("تم التحقق من صاحب هذا الحساب من قبل", "This account's holder is verified already"),
            "account.already_verified",
        )
    };
    Problem::new(message).because(reason).into_status(Code::FailedPrecondition)
}

/// The front desk deciding on a claim: who decides, the claim (of their
/// association; found before the form is read, so the form tells outsiders
/// nothing), the text they must give, and the transaction it happens in.
struct ClaimDecision {
    staff: Staff,
    account: StoredAccount,
    text: String,
    tx: masar_platform::db::Tx,
}

impl Accounts {
    /// Whether `registering`, for an entry (none: not on file yet) whose
    /// registry number is `contact` (and whether it is confirmed), opens an
    /// account: where its credentials go and its standing. `None`: an online
    /// registration that opens nothing and is answered like any other (the
    /// ID is held, or the SMS limit reached); staff are told why instead.
    async fn judge(
        &self,
        tx: &mut masar_platform::db::Tx,
        registering: &Registering<'_>,
        entry: Option<Uuid>,
        contact: (&str, bool),
    ) -> Result<Option<(String, AccountStanding)>, Status> {
        let accounts = match entry {
            Some(entry) => self.store.accounts_of(tx, entry).await?,
            None => Vec::new(),
        };
        let existing: Vec<_> =
            accounts.iter().map(|a| ExistingAccount { standing: a.standing, mobile: &a.mobile }).collect();
        let registry = RegistryContact { mobile: contact.0, confirmed: contact.1 };
        let (credentials_to, standing) = match people::claim(registry, registering.typed, &existing) {
            Claim::Verified { credentials_to } => (credentials_to.to_owned(), AccountStanding::ByRegistryMobile),
            Claim::Unverified { credentials_to } => (credentials_to.to_owned(), AccountStanding::Unverified),
            Claim::HeldByVerified | Claim::AlreadyClaimed if registering.anonymous => return Ok(None),
            Claim::HeldByVerified | Claim::AlreadyClaimed => return Err(already_has_account()),
        };
        // Online, the holder of an ID and of a number is told by SMS only a few times a day.
        if registering.anonymous {
            let since = registering.at - chrono::Duration::hours(24);
            let (association, national_id) = (registering.association, registering.national_id);
            let sent =
                self.store.credential_messages_since(tx, association, national_id, &credentials_to, since).await?;
            if sent >= CREDENTIAL_MESSAGES_A_DAY {
                tracing::info!(%association, "registration not acted on: its SMS limit is reached");
                return Ok(None);
            }
        }
        Ok(Some((credentials_to, standing)))
    }

    async fn claim_decision<T>(
        &self,
        request: &Request<T>,
        account_id: &str,
        field: &str,
        text: &str,
    ) -> Result<ClaimDecision, Status> {
        let staff = Staff::from_request(&self.verifier, request)?;
        staff.require_role(&ActorRole::FRONT_DESK)?;
        let account_id = parse_uuid("account_id", account_id)?;
        let mut tx = self.store.db().begin().await?;
        let account = self.claim_of(&mut tx, &staff.association, account_id).await?;
        let mut errors = Vec::new();
        let text = read_text(field, text, &mut errors);
        if !errors.is_empty() {
            return Err(invalid_input(errors));
        }
        Ok(ClaimDecision { staff, account, text, tx })
    }

    /// Records the decision in the trail and commits; the account as it now stands.
    async fn decided<T>(
        &self,
        mut tx: masar_platform::db::Tx,
        staff: &Staff,
        request: &Request<T>,
        account: &StoredAccount,
        action: &str,
        detail: &str,
    ) -> Result<StoredAccount, Status> {
        let actor = Actor::staff(staff, request);
        let subject = Subject::outside_a_case(&staff.association, staff.branch.as_deref().unwrap_or_default());
        audit::record(&mut tx, &actor, subject, action, detail).await?;
        let now = self.store.account_by_id_in(&mut tx, account.account_id).await?.ok_or_else(account_not_found)?;
        tx.commit().await?;
        self.outbox.wake();
        Ok(now)
    }

    fn provider(&self) -> Result<&dyn IdentityProvider, Status> {
        self.identity_provider.as_deref().ok_or_else(|| {
            Problem::new(Bilingual::new(
                "التحقق الإلكتروني من الهوية غير متاح لدى هذه الجمعية؛ راجع موظف الاستقبال ومعك هويتك",
                "Online identity checks are not offered here; visit reception with your ID card",
            ))
            .because("identity.no_provider")
            .into_status(Code::FailedPrecondition)
        })
    }

    async fn national_id_of(&self, account: &StoredAccount) -> Result<NationalId, Status> {
        let entry =
            self.registry.entry(&account.association, account.beneficiary_id).await?.ok_or_else(account_not_found)?;
        NationalId::parse(&entry.national_id).map_err(|_| internal("a stored national ID no longer parses"))
    }

    /// An unverified account of `association`; another association's looks missing.
    async fn claim_of(
        &self,
        tx: &mut masar_platform::db::Tx,
        association: &str,
        account_id: Uuid,
    ) -> Result<StoredAccount, Status> {
        let account = self
            .store
            .account_by_id_in(tx, account_id)
            .await?
            .filter(|a| a.association == association)
            .ok_or_else(account_not_found)?;
        if account.standing != AccountStanding::Unverified {
            return Err(not_a_claim(account.standing));
        }
        Ok(account)
    }

    /// Makes the account its national ID's holder's, and its number the
    /// registry's where none was confirmed; refused while another account
    /// of the ID is verified (staff must look at the two).
    async fn verify(
        &self,
        tx: &mut masar_platform::db::Tx,
        account: &StoredAccount,
        standing: AccountStanding,
        verified_by: &str,
        at: chrono::DateTime<Utc>,
    ) -> Result<(), Status> {
        let others = self.store.accounts_of(tx, account.beneficiary_id).await?;
        if others.iter().any(|a| a.account_id != account.account_id && a.standing.is_verified()) {
            return Err(Problem::new(Bilingual::new(
                "لهذا الرقم الوطني حساب موثّق آخر؛ يراجع موظف الاستقبال الحسابين",
                "Another account of this national ID is verified; reception must look at both",
            ))
            .because("account.held_by_verified")
            .into_status(Code::FailedPrecondition));
        }
        if !self.store.verify_account(tx, account.account_id, standing, verified_by, at).await? {
            return Err(changed_meanwhile());
        }
        // Intake's entry takes this number as confirmed, where none was.
        let verified = events::AccountVerified {
            account_id: account.account_id.to_string(),
            association: account.association.clone(),
            beneficiary_id: account.beneficiary_id.to_string(),
            mobile: self.store.personal().seal(&account.association, Field::Mobile, &account.mobile),
            standing: standing.as_str().to_owned(),
            verified_at: Some(masar_proto::timestamp(at)),
        };
        self.outbox.append(tx, &Event::AccountVerified(verified)).await?;
        Ok(())
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
