//! Signing in, for beneficiaries (their accounts) and staff (the directory's
//! members, with a password kept here). A sign-in starts a session: a
//! short-lived access token every service verifies, and a refresh token kept
//! here only as a hash, replaced at each use and revocable.

use crate::passwords::{hash_password, password_matches, wrong_credentials};
use crate::store::{IdentityStore, StoredAccount};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64URL;
use chrono::{DateTime, Utc};
use masar_domain::people::{MAX_PASSWORD_BYTES, new_password_problem};
use masar_domain::{AccountStanding, ActorRole, Bilingual, Directory, TextRule};
use masar_platform::audit::{self, Actor, Subject, action};
use masar_platform::config::SessionPolicy;
use masar_platform::db::{DbError, Row, Sql, Tx};
use masar_platform::grpc::{Problem, changed_meanwhile, internal, invalid_input};
use masar_platform::messaging::Outbox;
use masar_platform::revocations::Revocations;
use masar_platform::tokens::{Claims, TokenKeys};
use masar_proto::Event;
use masar_proto::events::v1 as events;
use masar_proto::identity::v1::{self as api, session_service_server::SessionService};
use rand::Rng;
use secrecy::SecretString;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tonic::{Code, Request, Response, Status};
use uuid::Uuid;

pub struct Sessions {
    pub store: IdentityStore,
    pub directory: Arc<Directory>,
    pub tokens: TokenKeys,
    pub policy: SessionPolicy,
    pub ends: SessionEnds,
}

/// Ends sessions: their refresh tokens stop at once, and their access tokens
/// are refused here at once and by every service as soon as the announcement
/// (an outbox event, in the same transaction) reaches it.
#[derive(Clone)]
pub struct SessionEnds {
    pub store: IdentityStore,
    /// Announces each revocation to every service.
    pub outbox: Outbox,
    /// This process's own refusals, at once.
    pub revocations: Revocations,
    pub access_token_lifetime: std::time::Duration,
}

/// Sessions ended in a transaction, to announce once it commits.
#[must_use]
pub struct Ended(Vec<(Uuid, String)>);

impl SessionEnds {
    /// Ends the sessions in `tx` and queues their announcement.
    pub async fn end(&self, tx: &mut Tx, ending: Ending<'_>, why: &str, now: DateTime<Utc>) -> Result<Ended, Status> {
        let ended = match ending {
            Ending::One(session_id) => self.store.revoke_session(tx, session_id, why, now).await,
            Ending::EveryOneOf { association, username } => {
                self.store.revoke_sessions_of(tx, association, username, why, now).await
            }
        }?;
        // No token issued before the revocation outlives this.
        let forget_after = now
            + chrono::Duration::from_std(self.access_token_lifetime).unwrap_or_default()
            + chrono::Duration::minutes(1);
        for (session_id, association) in &ended {
            let revoked = events::SessionRevoked {
                session_id: session_id.to_string(),
                association: association.clone(),
                revoked_at: Some(masar_proto::timestamp(now)),
                forget_after: Some(masar_proto::timestamp(forget_after)),
            };
            self.outbox.append(tx, &Event::SessionRevoked(revoked)).await?;
        }
        Ok(Ended(ended))
    }

    /// After the commit: this process refuses the tokens at once, the relay sends the announcement.
    pub fn announce(&self, ended: &Ended) {
        self.outbox.wake();
        for (session_id, _) in &ended.0 {
            self.revocations.revoke_here(&session_id.to_string());
        }
    }
}

/// Which sessions end.
pub enum Ending<'a> {
    One(Uuid),
    EveryOneOf { association: &'a str, username: &'a str },
}

/// Whose password was checked.
#[derive(Debug, Clone)]
enum Holder {
    Beneficiary(Box<StoredAccount>),
    Staff { role: ActorRole, branch: Option<String> },
}

#[derive(Debug, Clone)]
struct Credential {
    association: String,
    username: String,
    holder: Holder,
    password_hash: String,
    must_change_password: bool,
}

impl Holder {
    /// The role, branch and registry entry a session of this holder speaks for.
    fn scope(&self) -> (ActorRole, Option<String>, Option<String>) {
        match self {
            Holder::Beneficiary(account) => (ActorRole::Beneficiary, None, Some(account.beneficiary_id.to_string())),
            Holder::Staff { role, branch } => (*role, branch.clone(), None),
        }
    }
}

impl Credential {
    fn claims(&self, session_id: Uuid) -> Claims {
        let (role, branch, beneficiary_id) = self.holder.scope();
        let kind = if beneficiary_id.is_some() { "beneficiary" } else { "staff" };
        let sub = format!("{kind}:{}", self.username);
        let claims = Claims::of(sub, role, self.association.clone(), branch, beneficiary_id, session_id.to_string());
        match &self.holder {
            Holder::Beneficiary(account) => {
                claims.for_account(account.account_id.to_string(), account.standing.is_verified())
            }
            Holder::Staff { .. } => claims,
        }
    }

    /// True for an account staff turned down: it signs in no more.
    fn is_closed(&self) -> bool {
        matches!(&self.holder, Holder::Beneficiary(account) if account.standing == AccountStanding::Closed)
    }
}

/// A session as stored: the refresh token's hash, never the token.
#[derive(Debug, Clone)]
pub struct StoredSession {
    pub session_id: Uuid,
    pub association: String,
    pub username: String,
    pub refresh_hash: String,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

fn stored_session(row: &Row) -> Result<StoredSession, DbError> {
    Ok(StoredSession {
        session_id: row.uuid("session_id")?,
        association: row.text("association")?,
        username: row.text("username")?,
        refresh_hash: row.text("refresh_hash")?,
        expires_at: row.time("expires_at")?,
        revoked_at: row.optional_time("revoked_at")?,
    })
}

/// A refresh token is `<session id>.<secret>`; only the secret's hash is kept.
fn new_refresh_secret() -> String {
    BASE64URL.encode(rand::rng().random::<[u8; 32]>())
}

fn refresh_hash(secret: &str) -> String {
    masar_platform::hex::encode(&Sha256::digest(secret.as_bytes()))
}

fn read_refresh_token(token: &str) -> Option<(Uuid, &str)> {
    let (id, secret) = token.trim().split_once('.')?;
    let id = Uuid::parse_str(id).ok()?;
    (!secret.is_empty()).then_some((id, secret))
}

fn session_ended() -> Status {
    Problem::new(Bilingual::new("انتهت الجلسة؛ سجّل الدخول من جديد", "The session has ended; please sign in again"))
        .because("session.ended")
        .into_status(Code::Unauthenticated)
}

/// Told only to whoever knows the account's password.
fn account_closed() -> Status {
    Problem::new(Bilingual::new(
        "أُغلق هذا الحساب بعد مراجعة الجمعية؛ راجع موظف الاستقبال ومعك هويتك",
        "This account was closed after the association's review; visit reception with your ID card",
    ))
    .because("account.closed")
    .into_status(Code::PermissionDenied)
}

fn locked(wait: chrono::TimeDelta) -> Status {
    let seconds = wait.num_seconds().max(1);
    let minutes = (seconds + 59) / 60;
    let message = if seconds < 120 {
        Bilingual::new(
            format!("محاولات دخول خاطئة متتالية؛ حاول بعد {seconds} ثانية"),
            format!("Too many failed sign-ins; try again in {seconds} seconds"),
        )
    } else {
        Bilingual::new(
            format!("محاولات دخول خاطئة متتالية؛ أُقفل الدخول مؤقتاً، حاول بعد {minutes} دقيقة"),
            format!("Too many failed sign-ins; signing in is locked, try again in {minutes} minutes"),
        )
    };
    let mut status = Problem::new(message).because("sign_in.wait").into_status(Code::ResourceExhausted);
    status.metadata_mut().insert(masar_platform::grpc::RETRY_AFTER, seconds.into());
    status
}

impl Sessions {
    /// The credential for `username` in `association`: a beneficiary's
    /// account, or a staff member of that association in the directory with
    /// a password set.
    async fn credential(&self, association: &str, username: &str) -> Result<Option<Credential>, Status> {
        if let Some(account) = self.store.account(association, username).await? {
            return Ok(Some(Credential {
                association: account.association.clone(),
                username: account.username.clone(),
                password_hash: account.password_hash.clone(),
                must_change_password: account.must_change_password,
                holder: Holder::Beneficiary(Box::new(account)),
            }));
        }
        let Some((member_of, member)) = self.directory.staff(username).filter(|(a, _)| a.code == association) else {
            return Ok(None);
        };
        let stored = self.store.staff_credential(&member_of.code, username).await?;
        Ok(stored.map(|(password_hash, must_change_password)| Credential {
            association: member_of.code.clone(),
            username: member.username.clone(),
            holder: Holder::Staff { role: member.role, branch: member.branch.clone() },
            password_hash,
            must_change_password,
        }))
    }

    /// Checks a password, counting failures per username and client: a
    /// username locked for that client is refused before any check, so
    /// waiting is the only way on there, while its holder signs in from
    /// their own device as ever.
    async fn authenticate(
        &self,
        association: &str,
        username: &str,
        password: &str,
        client: &str,
    ) -> Result<Credential, Status> {
        // Bounded before anything is hashed or looked up: nobody's password or name is this long.
        if username.chars().count() > TextRule::LINE.max_chars || password.len() > MAX_PASSWORD_BYTES {
            return Err(wrong_credentials());
        }
        let now = Utc::now();
        if let Some(until) = self.store.locked_until(association, username, client).await?
            && until > now
        {
            return Err(locked(until - now));
        }
        let credential = self.credential(association, username).await?;
        let matches =
            password_matches(credential.as_ref().map(|c| c.password_hash.clone()), password.to_owned().into()).await?;
        match credential.filter(|_| matches) {
            Some(credential) => {
                self.store.clear_failures(association, username, client).await?;
                if credential.is_closed() {
                    return Err(account_closed());
                }
                Ok(credential)
            }
            None => {
                let failures = self.store.record_failure(association, username, client, now, &self.policy).await?;
                let counted = masar_platform::metrics::metrics();
                counted.sign_in_failures.inc();
                if failures == self.policy.lock_after {
                    counted.sign_in_locks.inc();
                }
                tracing::info!(%association, failures, "sign-in refused");
                Err(wrong_credentials())
            }
        }
    }

    /// Ends sessions and announces it, in one transaction.
    async fn end(&self, ending: Ending<'_>, why: &str, now: DateTime<Utc>) -> Result<(), Status> {
        let mut tx = self.store.db().begin().await?;
        let ended = self.ends.end(&mut tx, ending, why, now).await?;
        tx.commit().await?;
        self.ends.announce(&ended);
        Ok(())
    }

    /// Starts a session for `credential`; without tokens while its password must change.
    async fn start(&self, credential: &Credential) -> Result<api::SignInResult, Status> {
        if credential.must_change_password {
            return Ok(reply(credential, None));
        }
        let now = Utc::now();
        let secret = new_refresh_secret();
        let session = StoredSession {
            session_id: Uuid::new_v4(),
            association: credential.association.clone(),
            username: credential.username.clone(),
            refresh_hash: refresh_hash(&secret),
            expires_at: now + self.policy.refresh_token_lifetime,
            revoked_at: None,
        };
        self.store.start_session(&session, now).await?;
        Ok(reply(credential, Some(self.tokens_for(credential, &session, &secret, now))))
    }

    /// Appends a session action to the trail, as the credential's holder
    /// (`came_in` says how the call arrived). Its own transaction: a session
    /// action is not part of a case's.
    async fn audit(&self, credential: &Credential, came_in: Actor, action: &str) -> Result<(), Status> {
        let (role, branch, _) = credential.holder.scope();
        let actor = Actor { username: credential.username.clone(), role, ..came_in };
        let subject = Subject::outside_a_case(&credential.association, branch.as_deref().unwrap_or_default());
        let mut tx = self.store.db().begin().await?;
        audit::record(&mut tx, &actor, subject, action, "").await?;
        tx.commit().await.map_err(internal)
    }

    fn tokens_for(&self, credential: &Credential, session: &StoredSession, secret: &str, now: DateTime<Utc>) -> Tokens {
        let (access, access_expires) = self.tokens.signer.sign(credential.claims(session.session_id), now);
        Tokens {
            access,
            access_expires,
            refresh: format!("{}.{secret}", session.session_id),
            refresh_expires: session.expires_at,
        }
    }
}

struct Tokens {
    access: String,
    access_expires: DateTime<Utc>,
    refresh: String,
    refresh_expires: DateTime<Utc>,
}

fn reply(credential: &Credential, tokens: Option<Tokens>) -> api::SignInResult {
    let (role, branch, beneficiary_id) = credential.holder.scope();
    let mut result = api::SignInResult {
        username: credential.username.clone(),
        must_change_password: credential.must_change_password,
        role: role.as_str().to_owned(),
        association: credential.association.clone(),
        branch: branch.unwrap_or_default(),
        beneficiary_id: beneficiary_id.unwrap_or_default(),
        account_standing: match &credential.holder {
            Holder::Beneficiary(account) => account.standing.as_str().to_owned(),
            Holder::Staff { .. } => String::new(),
        },
        ..Default::default()
    };
    if let Some(tokens) = tokens {
        result.access_token = tokens.access;
        result.access_token_expires_at = Some(masar_proto::timestamp(tokens.access_expires));
        result.refresh_token = tokens.refresh;
        result.refresh_token_expires_at = Some(masar_proto::timestamp(tokens.refresh_expires));
    }
    result
}

/// Whom failed sign-ins are counted against: the client address the gateway
/// vouched for, or, for a call straight at this port, its peer.
fn client_of<T>(request: &Request<T>) -> String {
    match request.extensions().get::<masar_platform::forwarding::Forwarded>() {
        Some(forwarded) => forwarded.client.clone(),
        None => format!("direct {}", request.remote_addr().map(|a| a.ip().to_string()).unwrap_or_default()),
    }
}

#[tonic::async_trait]
impl SessionService for Sessions {
    async fn sign_in(&self, request: Request<api::SignInRequest>) -> Result<Response<api::SignInResult>, Status> {
        let came_in = Actor::anonymous(&request);
        let client = client_of(&request);
        let input = request.into_inner();
        let credential =
            self.authenticate(input.association.trim(), input.username.trim(), &input.password, &client).await?;
        let result = self.start(&credential).await?;
        self.audit(&credential, came_in, action::SIGNED_IN).await?;
        tracing::info!(association = %credential.association, role = %result.role, "signed in");
        Ok(Response::new(result))
    }

    async fn refresh(&self, request: Request<api::RefreshRequest>) -> Result<Response<api::SignInResult>, Status> {
        let token = request.into_inner().refresh_token;
        let (session_id, secret) = read_refresh_token(&token).ok_or_else(session_ended)?;
        let now = Utc::now();
        let session = self.store.session(session_id).await?.ok_or_else(session_ended)?;
        if session.revoked_at.is_some() || session.expires_at <= now {
            return Err(session_ended());
        }
        if session.refresh_hash != refresh_hash(secret) {
            // An earlier refresh token used again: someone holds a copy. End the session for both.
            self.end(Ending::One(session_id), "refresh token reused", now).await?;
            tracing::warn!(%session_id, "a replaced refresh token was used again; session revoked");
            return Err(session_ended());
        }
        // Who the session is for may have changed: left the directory, or must change their password.
        let Some(credential) = self.credential(&session.association, &session.username).await? else {
            self.end(Ending::One(session_id), "account no longer exists", now).await?;
            return Err(session_ended());
        };
        if credential.is_closed() {
            self.end(Ending::One(session_id), "account closed", now).await?;
            return Err(account_closed());
        }
        if credential.must_change_password {
            return Err(session_ended());
        }
        let next = new_refresh_secret();
        if !self.store.rotate_refresh(session_id, &session.refresh_hash, &refresh_hash(&next), now).await? {
            return Err(session_ended());
        }
        let tokens = self.tokens_for(&credential, &session, &next, now);
        Ok(Response::new(reply(&credential, Some(tokens))))
    }

    async fn sign_out(&self, request: Request<api::SignOutRequest>) -> Result<Response<api::SignOutResponse>, Status> {
        let came_in = Actor::anonymous(&request);
        let token = request.into_inner().refresh_token;
        // Signing out twice, or with a token already replaced, is not an error: the session is over either way.
        if let Some((session_id, secret)) = read_refresh_token(&token)
            && let Some(session) = self.store.session(session_id).await?
            && session.refresh_hash == refresh_hash(secret)
        {
            self.end(Ending::One(session_id), "signed out", Utc::now()).await?;
            if let Some(credential) = self.credential(&session.association, &session.username).await? {
                self.audit(&credential, came_in, action::SIGNED_OUT).await?;
            }
        }
        Ok(Response::new(api::SignOutResponse {}))
    }

    async fn change_password(
        &self,
        request: Request<api::ChangePasswordRequest>,
    ) -> Result<Response<api::SignInResult>, Status> {
        let came_in = Actor::anonymous(&request);
        let client = client_of(&request);
        let input = request.into_inner();
        let (association, username) = (input.association.trim(), input.username.trim());
        let credential = self.authenticate(association, username, &input.current_password, &client).await?;
        if let Some(problem) = new_password_problem(&input.new_password, &input.current_password) {
            return Err(invalid_input(vec![problem]));
        }
        let new_hash = hash_password(SecretString::from(input.new_password)).await?;
        let now = Utc::now();
        let changed = match &credential.holder {
            Holder::Beneficiary(account) => {
                self.store.change_password(account.account_id, &credential.password_hash, &new_hash, now).await
            }
            Holder::Staff { .. } => {
                self.store.change_staff_password(association, username, &credential.password_hash, &new_hash, now).await
            }
        }?;
        if !changed {
            return Err(changed_meanwhile());
        }
        // Sessions started with the old password end; the reply starts a new one.
        self.end(Ending::EveryOneOf { association, username }, "password changed", now).await?;
        tracing::info!(%association, "password changed");
        self.audit(&credential, came_in, action::PASSWORD_CHANGED).await?;
        let credential = Credential { password_hash: new_hash, must_change_password: false, ..credential };
        Ok(Response::new(self.start(&credential).await?))
    }
}

/// Sets a staff member's password (an operator's command, or the demo's).
/// With `must_change`, it works only to choose a new one.
pub async fn set_staff_password(
    store: &IdentityStore,
    association: &str,
    username: &str,
    password: SecretString,
    must_change: bool,
    set_by: &str,
) -> Result<(), Status> {
    let hash = hash_password(password).await?;
    store.set_staff_password(association, username, &hash, must_change, set_by, Utc::now()).await.map_err(internal)
}

/// Gives every staff member of `directory` without a password the same
/// demo password, hashed once. For the built-in demo directory only.
pub async fn seed_demo_staff_passwords(
    store: &IdentityStore,
    directory: &Directory,
    password: &str,
) -> Result<usize, Status> {
    let mut without = Vec::new();
    for association in &directory.associations {
        for member in &association.staff {
            if store.staff_credential(&association.code, &member.username).await?.is_none() {
                without.push((association.code.as_str(), member.username.as_str()));
            }
        }
    }
    // Hashing is deliberately slow: not at every start once everyone has a password.
    if without.is_empty() {
        return Ok(0);
    }
    let hash = hash_password(SecretString::from(password.to_owned())).await?;
    for (association, username) in &without {
        store.set_staff_password(association, username, &hash, false, "demo", Utc::now()).await?;
    }
    Ok(without.len())
}

impl IdentityStore {
    /// A staff member's password hash, and whether it must be changed.
    pub async fn staff_credential(&self, association: &str, username: &str) -> Result<Option<(String, bool)>, DbError> {
        let row = self
            .db()
            .fetch_optional(
                Sql::new(
                    "SELECT password_hash, must_change_password FROM staff_credentials \
                     WHERE association = $1 AND username = $2",
                )
                .bind(association)
                .bind(username),
            )
            .await?;
        row.map(|r| Ok((r.text("password_hash")?, r.int("must_change_password")? != 0))).transpose()
    }

    pub async fn set_staff_password(
        &self,
        association: &str,
        username: &str,
        hash: &str,
        must_change: bool,
        set_by: &str,
        at: DateTime<Utc>,
    ) -> Result<(), DbError> {
        self.db()
            .execute(
                Sql::new(
                    "INSERT INTO staff_credentials (association, username, password_hash, must_change_password, set_by, set_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (association, username) DO UPDATE SET \
                     password_hash = excluded.password_hash, must_change_password = excluded.must_change_password, \
                     set_by = excluded.set_by, set_at = excluded.set_at",
                )
                .bind(association)
                .bind(username)
                .bind(hash)
                .bind(i64::from(must_change))
                .bind(set_by)
                .bind(at),
            )
            .await?;
        Ok(())
    }

    /// Replaces a staff password, conditional on the hash read.
    pub async fn change_staff_password(
        &self,
        association: &str,
        username: &str,
        previous_hash: &str,
        new_hash: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, DbError> {
        let changed = self
            .db()
            .execute(
                Sql::new(
                    "UPDATE staff_credentials SET password_hash = $1, must_change_password = 0, set_by = $2, set_at = $3 \
                     WHERE association = $4 AND username = $5 AND password_hash = $6",
                )
                .bind(new_hash)
                .bind(username)
                .bind(at)
                .bind(association)
                .bind(username)
                .bind(previous_hash),
            )
            .await?;
        Ok(changed == 1)
    }

    pub async fn locked_until(
        &self,
        association: &str,
        username: &str,
        client: &str,
    ) -> Result<Option<DateTime<Utc>>, DbError> {
        let row = self
            .db()
            .fetch_optional(
                Sql::new(
                    "SELECT locked_until FROM sign_in_failures WHERE association = $1 AND username = $2 AND client = $3",
                )
                .bind(association)
                .bind(username)
                .bind(client),
            )
            .await?;
        Ok(row.map(|r| r.optional_time("locked_until")).transpose()?.flatten())
    }

    /// Counts one more failure in a row from `client`; returns how many there are now.
    pub async fn record_failure(
        &self,
        association: &str,
        username: &str,
        client: &str,
        at: DateTime<Utc>,
        policy: &SessionPolicy,
    ) -> Result<u32, DbError> {
        // One statement counts, so that parallel guesses cannot each write the same count.
        let row = self
            .db()
            .fetch_optional(
                Sql::new(
                    "INSERT INTO sign_in_failures (association, username, client, failures, last_failed_at) \
                     VALUES ($1, $2, $3, 1, $4) ON CONFLICT (association, username, client) DO UPDATE SET \
                     failures = sign_in_failures.failures + 1, last_failed_at = excluded.last_failed_at \
                     RETURNING failures",
                )
                .bind(association)
                .bind(username)
                .bind(client)
                .bind(at),
            )
            .await?;
        let failures = row.map(|r| r.unsigned::<u32>("failures")).transpose()?.unwrap_or(1);
        // The wait only grows with the count, so a count without one never follows one with it.
        if let Some(wait) = policy.wait_after(failures) {
            self.db()
                .execute(
                    Sql::new(
                        "UPDATE sign_in_failures SET locked_until = $1 \
                         WHERE association = $2 AND username = $3 AND client = $4",
                    )
                    .bind(at + wait)
                    .bind(association)
                    .bind(username)
                    .bind(client),
                )
                .await?;
        }
        Ok(failures)
    }

    pub async fn clear_failures(&self, association: &str, username: &str, client: &str) -> Result<(), DbError> {
        self.db()
            .execute(
                Sql::new("DELETE FROM sign_in_failures WHERE association = $1 AND username = $2 AND client = $3")
                    .bind(association)
                    .bind(username)
                    .bind(client),
            )
            .await?;
        Ok(())
    }

    pub async fn start_session(&self, session: &StoredSession, at: DateTime<Utc>) -> Result<(), DbError> {
        self.db()
            .execute(
                Sql::new(
                    "INSERT INTO sessions (session_id, association, username, refresh_hash, started_at, refreshed_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $5, $6)",
                )
                .bind(session.session_id)
                .bind(&session.association)
                .bind(&session.username)
                .bind(&session.refresh_hash)
                .bind(at)
                .bind(session.expires_at),
            )
            .await?;
        Ok(())
    }

    pub async fn session(&self, session_id: Uuid) -> Result<Option<StoredSession>, DbError> {
        self.db()
            .fetch_optional(
                Sql::new(
                    "SELECT session_id, association, username, refresh_hash, expires_at, revoked_at \
                     FROM sessions WHERE session_id = $1",
                )
                .bind(session_id),
            )
            .await?
            .as_ref()
            .map(stored_session)
            .transpose()
    }

    /// Replaces the refresh token's hash, conditional on the one read: of two
    /// refreshes with the same token, one wins.
    pub async fn rotate_refresh(
        &self,
        session_id: Uuid,
        previous_hash: &str,
        new_hash: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, DbError> {
        let changed = self
            .db()
            .execute(
                Sql::new(
                    "UPDATE sessions SET refresh_hash = $1, refreshed_at = $2 \
                     WHERE session_id = $3 AND refresh_hash = $4 AND revoked_at IS NULL",
                )
                .bind(new_hash)
                .bind(at)
                .bind(session_id)
                .bind(previous_hash),
            )
            .await?;
        Ok(changed == 1)
    }

    /// Ends one session unless it had ended; returns it (and its association) when it ends now.
    pub async fn revoke_session(
        &self,
        tx: &mut Tx,
        session_id: Uuid,
        why: &str,
        at: DateTime<Utc>,
    ) -> Result<Vec<(Uuid, String)>, DbError> {
        let rows = tx
            .fetch_all(
                Sql::new(
                    "UPDATE sessions SET revoked_at = $1, revoked_why = $2 WHERE session_id = $3 AND revoked_at IS NULL \
                     RETURNING session_id, association",
                )
                .bind(at)
                .bind(why)
                .bind(session_id),
            )
            .await?;
        ended(&rows)
    }

    /// Ends every open session of a username; returns those it ended.
    pub async fn revoke_sessions_of(
        &self,
        tx: &mut Tx,
        association: &str,
        username: &str,
        why: &str,
        at: DateTime<Utc>,
    ) -> Result<Vec<(Uuid, String)>, DbError> {
        let rows = tx
            .fetch_all(
                Sql::new(
                    "UPDATE sessions SET revoked_at = $1, revoked_why = $2 \
                     WHERE association = $3 AND username = $4 AND revoked_at IS NULL RETURNING session_id, association",
                )
                .bind(at)
                .bind(why)
                .bind(association)
                .bind(username),
            )
            .await?;
        ended(&rows)
    }
}

fn ended(rows: &[masar_platform::db::Row]) -> Result<Vec<(Uuid, String)>, DbError> {
    rows.iter().map(|row| Ok((row.uuid("session_id")?, row.text("association")?))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_tokens_name_their_session_and_keep_the_secret_apart() {
        let id = Uuid::new_v4();
        let secret = new_refresh_secret();
        let token = format!("{id}.{secret}");
        assert_eq!(read_refresh_token(&token), Some((id, secret.as_str())));
        assert_eq!(read_refresh_token("nonsense"), None);
        assert_eq!(read_refresh_token(&format!("{id}.")), None);
        assert_ne!(refresh_hash(&secret), secret);
        assert_ne!(new_refresh_secret(), secret);
    }
}
