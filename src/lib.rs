//! The `masar` binary's library: starts roles in either shape, prepares
//! databases, and drives the demo. `main.rs` only parses the command line.
//!
//! - embedded (`masar dev`): the six services and the gateway in one
//!   process, SQLite files, the in-process queue;
//! - distributed (`masar serve <role>`): one role per process, PostgreSQL
//!   and Redis Streams.

pub mod bench;
pub mod chaos;
pub mod demo;
pub mod processes;
pub mod seed;

use anyhow::Context;
use masar_domain::working_days::OfficialHolidays;
use masar_domain::{Directory, FieldError, PolicyPack};
use masar_intake::{Applied, ApplyError};
use masar_notification::sms::{FileSmsProvider, SmsProvider};
use masar_platform::CancellationToken;
use masar_platform::config::Settings;
use masar_platform::db::Db;
use masar_platform::forwarding::ForwardingKey;
use masar_platform::messaging::Outbox;
use masar_platform::personal::{LocalKeys, PersonalData};
use masar_platform::queue::{MemoryQueue, Queue, RedisQueue};
use masar_platform::replicas::Endpoints;
use masar_platform::role::Role;
use masar_platform::runtime::{self, Dependencies, ServiceParts};
use masar_platform::sealing::Sealer;
use masar_platform::tokens::TokenKeys;
use secrecy::{ExposeSecret, SecretString};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The demo directory: the staff of Nuzul and Hayat, for every role.
pub const DEMO_DIRECTORY: &str = include_str!("../demo/directory.json");

/// The policy packs of Nuzul and Hayat (every version), built in so `masar dev` needs no files.
pub const BUILT_IN_POLICIES: &[(&str, &str)] = &[
    ("policies/nuzul.toml", include_str!("../policies/nuzul.toml")),
    ("policies/nuzul-v2.toml", include_str!("../policies/nuzul-v2.toml")),
    ("policies/nuzul-v3.toml", include_str!("../policies/nuzul-v3.toml")),
    ("policies/nuzul-v4.toml", include_str!("../policies/nuzul-v4.toml")),
    ("policies/hayat.toml", include_str!("../policies/hayat.toml")),
    ("policies/hayat-v2.toml", include_str!("../policies/hayat-v2.toml")),
];

/// A policy file's name (for messages) and text.
pub struct PolicySource {
    pub name: String,
    pub text: String,
}

impl PolicySource {
    pub fn read(file: &std::path::Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        Ok(Self { name: file.display().to_string(), text })
    }
}

/// The policy files intake applies at start: MASAR_POLICY_DIR's *.toml, or the built-in ones.
pub fn policy_sources(settings: &Settings) -> anyhow::Result<Vec<PolicySource>> {
    let Some(dir) = &settings.policy_dir else {
        return Ok(BUILT_IN_POLICIES
            .iter()
            .map(|(name, text)| PolicySource { name: (*name).to_owned(), text: (*text).to_owned() })
            .collect());
    };
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading the policy folder {}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    paths.sort();
    paths.iter().map(|path| PolicySource::read(path)).collect()
}

/// Parses a policy file, or explains every problem in it with its location.
pub fn parse_policy(source: &PolicySource) -> anyhow::Result<PolicyPack> {
    PolicyPack::from_toml(&source.text).map_err(|problems| anyhow::anyhow!(policy_report(&source.name, &problems)))
}

/// One line per problem: where it is, then English and Arabic.
pub fn policy_report(name: &str, problems: &[FieldError]) -> String {
    let mut report = format!("{name}: {} problem(s)", problems.len());
    for p in problems {
        report.push_str(&format!("\n  {}: {}\n  {}: {}", p.field, p.message.en, p.field, p.message.ar));
    }
    report
}

/// The official Eid holidays, built in so `masar dev` needs no file.
pub const BUILT_IN_HOLIDAYS: &str = include_str!("../calendar/holidays.toml");

/// The operator's Eid holidays: MASAR_HOLIDAYS_FILE, or the built-in ones.
pub fn load_holidays(settings: &Settings) -> anyhow::Result<OfficialHolidays> {
    let (name, text) = match &settings.holidays_file {
        Some(path) => (
            path.display().to_string(),
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
        ),
        None => ("calendar/holidays.toml".to_owned(), BUILT_IN_HOLIDAYS.to_owned()),
    };
    OfficialHolidays::from_toml(&text).map_err(|problems| anyhow::anyhow!(policy_report(&name, &problems)))
}

pub fn load_directory(settings: &Settings) -> anyhow::Result<Directory> {
    let text = match &settings.directory_file {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
        None => DEMO_DIRECTORY.to_owned(),
    };
    let packs = policy_sources(settings)?.iter().map(parse_policy).collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Directory::from_json(&text, &packs)?)
}

/// Prepares one role's database: its tables; for intake the configured
/// policy versions; for identity the same versions (registration is judged
/// by them from the first call, before intake's announcements arrive) and
/// the accounts intake kept before identity was its own service; for
/// research and the committee the same versions (their criteria and
/// committee rules apply to cases that arrived before these roles kept
/// announcements).
pub async fn prepare(role: Role, db: &Db, settings: &Settings) -> anyhow::Result<()> {
    migrate(role, db).await?;
    match role {
        Role::Intake => apply_configured_policies(db, settings).await?,
        Role::Identity => {
            keep_configured_policies(db, settings).await?;
            adopt_intakes_accounts(db, settings).await?;
        }
        // Scores and decides cases by versions announced before these roles kept them.
        Role::Research | Role::Committee => keep_configured_policies(db, settings).await?,
        _ => {}
    }
    Ok(())
}

/// Takes over the accounts and staff passwords an earlier version kept in
/// intake's database, where this process can reach it (`masar migrate` and
/// every start of identity; once identity holds any, nothing more is copied).
async fn adopt_intakes_accounts(identity: &Db, settings: &Settings) -> anyhow::Result<()> {
    let embedded = settings.database_url(Role::Identity).is_none();
    if !embedded && settings.database_url(Role::Intake).is_none() {
        return Ok(());
    }
    // Read as it stands: intake's own start migrates it (role_database would migrate it again).
    let intake = if embedded {
        embedded_database(Role::Intake, &settings.data_dir).await?
    } else {
        connect_database(Role::Intake, settings).await?
    };
    let copied = masar_identity::adopt_from_intake(&intake, identity).await;
    intake.close().await;
    copied?;
    Ok(())
}

/// Keeps the configured policy files in a judging role's own book, as an
/// announcement would (a version kept already is left alone).
pub async fn keep_configured_policies(db: &Db, settings: &Settings) -> anyhow::Result<()> {
    for source in policy_sources(settings)? {
        let pack = parse_policy(&source)?;
        let mut tx = db.begin().await?;
        masar_platform::policies::PolicyBook::keep(&mut tx, &pack, &source.text, chrono::Utc::now()).await?;
        tx.commit().await?;
    }
    Ok(())
}

/// Applies the configured policy files that are newer than what intake stores.
pub async fn apply_configured_policies(db: &Db, settings: &Settings) -> anyhow::Result<()> {
    for source in policy_sources(settings)? {
        apply_policy(db, &source).await?;
    }
    Ok(())
}

/// Applies one policy file to intake's database; a newer stored version is left alone.
pub async fn apply_policy(db: &Db, source: &PolicySource) -> anyhow::Result<Option<Applied>> {
    match masar_intake::apply_policy(db, &Outbox::new(), &source.text, chrono::Utc::now()).await {
        Ok(applied) => Ok(Some(applied)),
        Err(ApplyError::NotNewer { association, stored }) => {
            tracing::info!(%association, stored, file = %source.name, "a newer policy version is already stored");
            Ok(None)
        }
        Err(ApplyError::Invalid(problems)) => anyhow::bail!(policy_report(&source.name, &problems)),
        Err(other) => Err(anyhow::anyhow!("{}: {other}", source.name)),
    }
}

/// A service's database in whichever shape is configured: PostgreSQL when a
/// database URL is set, otherwise the embedded SQLite file of `masar dev`.
pub async fn role_database(role: Role, settings: &Settings) -> anyhow::Result<Db> {
    if settings.database_url(role).is_some() {
        return connect_database(role, settings).await;
    }
    std::fs::create_dir_all(&settings.data_dir)?;
    let db = embedded_database(role, &settings.data_dir).await?;
    migrate(role, &db).await?;
    Ok(db)
}

/// Intake's store on `db`, with the personal-data keys of the shape `role_database` chose.
pub fn intake_store(db: &Db, settings: &Settings) -> anyhow::Result<masar_intake::IntakeStore> {
    let embedded = settings.database_url(Role::Intake).is_none();
    Ok(masar_intake::IntakeStore::new(db.clone(), personal_data(settings, embedded)?))
}

/// Identity's store on `db`, with the personal-data keys of the shape `role_database` chose.
pub fn identity_store(db: &Db, settings: &Settings) -> anyhow::Result<masar_identity::IdentityStore> {
    let embedded = settings.database_url(Role::Identity).is_none();
    Ok(masar_identity::IdentityStore::new(db.clone(), personal_data(settings, embedded)?))
}

/// Checks every service's audit chains (`masar audit verify`): each
/// service's result, in the order of [`Role::SERVICES`].
pub async fn verify_audit_chains(
    settings: &Settings,
) -> anyhow::Result<Vec<(Role, masar_platform::audit::ChainCheck)>> {
    let mut checks = Vec::new();
    for role in Role::SERVICES {
        let db = role_database(role, settings).await?;
        let check = masar_platform::audit::verify_chains(&db).await?;
        db.close().await;
        checks.push((role, check));
    }
    Ok(checks)
}

/// Object storage for uploaded documents: `MASAR_FILES_URL`, or a folder in the data directory.
pub fn file_store(settings: &Settings) -> anyhow::Result<Arc<dyn object_store::ObjectStore>> {
    let url = match &settings.files_url {
        Some(url) => url::Url::parse(url).with_context(|| format!("MASAR_FILES_URL is not a URL: {url}"))?,
        None => {
            let folder = settings.data_dir.join("files");
            std::fs::create_dir_all(&folder).with_context(|| format!("creating {}", folder.display()))?;
            let folder = folder.canonicalize()?;
            url::Url::from_directory_path(&folder)
                .map_err(|_| anyhow::anyhow!("{} is not a folder", folder.display()))?
        }
    };
    Ok(match url.scheme() {
        "file" => {
            let folder = url.to_file_path().map_err(|_| anyhow::anyhow!("{url} is not a local folder"))?;
            std::fs::create_dir_all(&folder)?;
            Arc::new(object_store::local::LocalFileSystem::new_with_prefix(folder)?)
        }
        "s3" => Arc::new(object_store::aws::AmazonS3Builder::from_env().with_url(url.as_str()).build()?),
        other => anyhow::bail!("MASAR_FILES_URL: unsupported scheme '{other}' (file or s3)"),
    })
}

/// The sealer of one-time passwords: `MASAR_SEALING_KEY`, or, embedded only,
/// a key kept in `<data dir>/sealing.key` (made on first start, readable by the owner only).
pub fn sealer(settings: &Settings, embedded: bool) -> anyhow::Result<Sealer> {
    let key = secret_key(&settings.sealing_key, embedded, settings, "sealing.key")?.context(
        "set MASAR_SEALING_KEY (64 hex characters, the same for intake and notification; `openssl rand -hex 32`)",
    )?;
    Sealer::from_hex(&key).context("MASAR_SEALING_KEY")
}

/// Where the personal data at rest is sealed with: `MASAR_DATA_KEYS`, or,
/// embedded only, the keys kept in `<data dir>/data.keys`.
pub fn personal_data(settings: &Settings, embedded: bool) -> anyhow::Result<PersonalData> {
    let keys = secret_or_kept(&settings.data_keys, embedded, settings, "data.keys", LocalKeys::generate)?.context(
        "set MASAR_DATA_KEYS ('1:<64 hex characters>', the same for intake, verification and notification; \
         `masar keys rotate` prints a first or a next list)",
    )?;
    PersonalData::from_list(&keys).context("MASAR_DATA_KEYS")
}

/// What `masar keys rotate` did.
pub enum Rotation {
    /// Embedded: `<data dir>/data.keys` now seals with the new version; restart to use it.
    Kept { version: u32 },
    /// Distributed: the two lists to deploy in turn (every replica of intake,
    /// verification and notification, then the second).
    Deploy(masar_platform::personal::NextKey),
    /// Distributed, with no keys yet: the first list, for every replica of intake, verification and notification.
    First(SecretString),
}

/// A new personal-data key: the next version after `MASAR_DATA_KEYS` (or the embedded `data.keys`).
pub fn rotate_data_keys(settings: &Settings) -> anyhow::Result<Rotation> {
    if let Some(list) = &settings.data_keys {
        return Ok(Rotation::Deploy(LocalKeys::next(list).context("MASAR_DATA_KEYS")?));
    }
    if settings.database_url(Role::Intake).is_some() {
        return Ok(Rotation::First(LocalKeys::generate()));
    }
    let path = settings.data_dir.join("data.keys");
    let list = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let next = LocalKeys::next(&SecretString::from(list)).with_context(|| path.display().to_string())?;
    // One process reads the file: it can go straight to the second list.
    let replaced = settings.data_dir.join("data.keys.next");
    let _ = std::fs::remove_file(&replaced);
    write_owner_only(&replaced, next.current.expose_secret())?;
    std::fs::rename(&replaced, &path)?;
    Ok(Rotation::Kept { version: next.version })
}

/// Rows still sealed with an older key (or in clear), per service that holds personal data.
pub async fn rows_to_reseal(settings: &Settings) -> anyhow::Result<Vec<(Role, u64)>> {
    let intake = intake_store(&role_database(Role::Intake, settings).await?, settings)?;
    let personal = intake.personal().clone();
    let identity = masar_identity::IdentityStore::new(role_database(Role::Identity, settings).await?, personal.clone());
    let notification = role_database(Role::Notification, settings).await?;
    let notification = masar_notification::NotificationStore::new(notification, personal.clone());
    let research = masar_research::ResearchStore::new(role_database(Role::Research, settings).await?, personal);
    Ok(vec![
        (Role::Intake, intake.rows_to_reseal().await?),
        (Role::Identity, identity.rows_to_reseal().await?),
        (Role::Notification, notification.rows_to_reseal().await?),
        (Role::Research, research.rows_to_reseal().await?),
    ])
}

/// The key the gateway vouches for forwarded calls with and the services
/// check them with: `MASAR_FORWARDING_KEY`, or, embedded only, one kept in
/// `<data dir>/forwarding.key`.
pub fn forwarding_key(settings: &Settings, embedded: bool) -> anyhow::Result<ForwardingKey> {
    let key = secret_key(&settings.forwarding_key, embedded, settings, "forwarding.key")?.context(
        "set MASAR_FORWARDING_KEY (64 hex characters, the same for the gateway and every service; `openssl rand -hex 32`)",
    )?;
    Ok(ForwardingKey::from_hex(&key)?)
}

/// The key identity vouches for its calls to intake's registry with and
/// intake checks them with: `MASAR_REGISTRY_KEY` for those two roles (or,
/// embedded, one kept in `<data dir>/registry.key`); no other role holds it,
/// so none can pass for identity.
pub fn registry_key(settings: &Settings, role: Role, embedded: bool) -> anyhow::Result<ForwardingKey> {
    if !embedded && !matches!(role, Role::Intake | Role::Identity) {
        return Ok(ForwardingKey::from_hex(&masar_platform::hex::random_key())?);
    }
    let key = secret_key(&settings.registry_key, embedded, settings, "registry.key")?.context(
        "set MASAR_REGISTRY_KEY for intake and identity alone (64 hex characters, the same for both; \
         `openssl rand -hex 32`)",
    )?;
    ForwardingKey::from_hex(&key).context("MASAR_REGISTRY_KEY")
}

/// The token keys of `role`. Identity signs: `MASAR_TOKEN_SIGNING_KEY`, or,
/// embedded only, a key kept in `<data dir>/token-signing.key`. Every role
/// accepts `MASAR_TOKEN_VERIFYING_KEYS` (the previous key, while rotating;
/// in the distributed shape, the only keys every other role knows).
pub fn token_keys(settings: &Settings, role: Role, embedded: bool) -> anyhow::Result<TokenKeys> {
    let lifetime = settings.sessions.access_token_lifetime;
    let also_accepted = settings.token_verifying_keys.clone().unwrap_or_default();
    let signs = embedded || role == Role::Identity;
    let signing_key =
        if signs { secret_key(&settings.token_signing_key, embedded, settings, "token-signing.key")? } else { None };
    match signing_key {
        Some(key) => TokenKeys::signing(&key, &also_accepted, lifetime).context("MASAR_TOKEN_SIGNING_KEY"),
        None if signs => anyhow::bail!(
            "set MASAR_TOKEN_SIGNING_KEY for identity (make a pair with `masar token-keys`; \
             give its verifying key to every role as MASAR_TOKEN_VERIFYING_KEYS)"
        ),
        None if also_accepted.is_empty() => anyhow::bail!(
            "set MASAR_TOKEN_VERIFYING_KEYS (the verifying key of identity's MASAR_TOKEN_SIGNING_KEY; `masar token-keys`)"
        ),
        None => TokenKeys::verifying(&also_accepted).context("MASAR_TOKEN_VERIFYING_KEYS"),
    }
}

/// A key from the environment; unset, embedded only, one kept in the data
/// directory (made on first start, readable by the owner only).
fn secret_key(
    configured: &Option<SecretString>,
    embedded: bool,
    settings: &Settings,
    file: &str,
) -> anyhow::Result<Option<SecretString>> {
    secret_or_kept(configured, embedded, settings, file, masar_platform::hex::random_key)
}

/// `configured`, or, embedded only, the secret kept in `<data dir>/<file>` (made by `fresh` on first use).
fn secret_or_kept(
    configured: &Option<SecretString>,
    embedded: bool,
    settings: &Settings,
    file: &str,
    fresh: fn() -> SecretString,
) -> anyhow::Result<Option<SecretString>> {
    if let Some(key) = configured {
        return Ok(Some(key.clone()));
    }
    if !embedded {
        return Ok(None);
    }
    let path = settings.data_dir.join(file);
    if !path.exists() {
        std::fs::create_dir_all(&settings.data_dir)?;
        write_owner_only(&path, fresh().expose_secret())?;
    }
    let key = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(Some(SecretString::from(key)))
}

fn write_owner_only(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(&mut options.open(path)?, text.as_bytes())?;
    Ok(())
}

/// A role's SQLite file in the embedded suite's data directory.
pub(crate) async fn embedded_database(role: Role, data_dir: &std::path::Path) -> anyhow::Result<Db> {
    let path = data_dir.join(format!("{}.db", role.schema()));
    Ok(Db::connect(&format!("sqlite://{}", path.display()), role.schema()).await?)
}

/// Creates or upgrades one role's tables.
pub async fn migrate(role: Role, db: &Db) -> anyhow::Result<()> {
    match role {
        Role::Intake => masar_intake::migrate(db).await?,
        Role::Identity => masar_identity::migrate(db).await?,
        Role::Verification => masar_verification::migrate(db).await?,
        Role::Research => masar_research::migrate(db).await?,
        Role::Committee => masar_committee::migrate(db).await?,
        Role::Notification => masar_notification::migrate(db).await?,
        Role::Gateway => {}
    }
    Ok(())
}

/// The SMS provider named in the settings.
pub fn sms_provider(settings: &Settings) -> anyhow::Result<Arc<dyn SmsProvider>> {
    match settings.sms.provider.as_str() {
        "file" => Ok(Arc::new(FileSmsProvider {
            path: settings.sms.file.clone().unwrap_or_else(|| settings.data_dir.join("sms.log")),
            sender: settings.sms.sender.clone(),
        })),
        other => anyhow::bail!("unknown SMS provider '{other}' (this version has: file)"),
    }
}

/// The identity provider `MASAR_IDENTITY_PROVIDER` names. The fake confirms
/// anyone, so it is the default only for `masar dev`'s demo (the embedded
/// shape with the built-in directory); a deployment names it or gets none.
pub fn identity_provider(
    settings: &Settings,
    embedded: bool,
) -> anyhow::Result<masar_platform::identity_checks::Provider> {
    let demo = embedded && settings.directory_file.is_none();
    match settings.identity.provider.as_deref() {
        Some("fake") => {}
        None if demo => {}
        None | Some("none") => return Ok(None),
        Some(other) => anyhow::bail!("unknown identity provider '{other}' (this version has: fake, none)"),
    }
    let fake = masar_platform::identity_checks::FakeProvider::refusing(&settings.identity.fake_refuses);
    Ok(Some(Arc::new(fake)))
}

fn parts(
    role: Role,
    deps: &Dependencies,
    sms: Arc<dyn SmsProvider>,
    shutdown: &CancellationToken,
) -> anyhow::Result<ServiceParts> {
    Ok(match role {
        Role::Intake => masar_intake::parts(deps, shutdown.clone()),
        Role::Identity => masar_identity::parts(deps, shutdown.clone())?,
        Role::Verification => masar_verification::parts(deps),
        Role::Research => masar_research::parts(deps, shutdown.clone()),
        Role::Committee => masar_committee::parts(deps),
        Role::Notification => masar_notification::parts(deps, sms, shutdown.clone()),
        Role::Gateway => unreachable!("the gateway has no service parts"),
    })
}

/// Where a role's infrastructure comes from.
#[derive(Clone)]
pub enum Shape {
    /// `masar dev`: SQLite files in the data directory; one in-process queue,
    /// one staff directory and one list of revoked sessions that every role
    /// of the process shares; services at `endpoints`.
    Embedded {
        queue: Arc<MemoryQueue>,
        endpoints: Endpoints,
        directory: Arc<Directory>,
        revocations: masar_platform::revocations::Revocations,
    },
    /// `masar serve`: the role's PostgreSQL schema, Redis Streams, services
    /// at `MASAR_<ROLE>_ENDPOINT`.
    Distributed,
}

impl Shape {
    fn is_embedded(&self) -> bool {
        matches!(self, Self::Embedded { .. })
    }
}

/// What a service gets in `shape`: its database, the queue, and the files
/// and keys its role needs. The one place a role is assembled.
pub async fn dependencies(
    role: Role,
    shape: &Shape,
    settings: &Settings,
    directory: Arc<Directory>,
) -> anyhow::Result<Dependencies> {
    let embedded = shape.is_embedded();
    let (db, queue): (Db, Arc<dyn Queue>) = match shape {
        Shape::Embedded { queue, .. } => {
            let db = embedded_database(role, &settings.data_dir).await?;
            prepare(role, &db, settings).await?;
            if role == Role::Identity {
                seed_demo_passwords(&db, settings, &directory).await?;
            }
            (db, queue.clone())
        }
        Shape::Distributed => {
            let db = connect_database(role, settings).await?;
            // Replicas race harmlessly: applying or keeping a stored version again changes nothing.
            match role {
                Role::Intake => apply_configured_policies(&db, settings).await?,
                Role::Identity => {
                    keep_configured_policies(&db, settings).await?;
                    adopt_intakes_accounts(&db, settings).await?;
                }
                _ => {}
            }
            let redis_url = settings.redis_url().context("set REDIS_URL for the queue")?;
            (db, Arc::new(RedisQueue::connect(redis_url.expose_secret(), &settings.stream_prefix).await?))
        }
    };
    // Documents are intake's and the sealing key identity's and notification's; in the distributed
    // shape the other roles get inert stand-ins rather than needing a writable folder (their root
    // is read-only) or the secret.
    let inert_files = || -> Arc<dyn object_store::ObjectStore> { Arc::new(object_store::memory::InMemory::new()) };
    let (files, sealer) = match role {
        _ if embedded => (file_store(settings)?, sealer(settings, true)?),
        Role::Intake => (file_store(settings)?, Sealer::from_hex(&masar_platform::hex::random_key())?),
        Role::Identity | Role::Notification => (inert_files(), sealer(settings, false)?),
        _ => (inert_files(), Sealer::from_hex(&masar_platform::hex::random_key())?),
    };
    // Personal data is read by intake (the registry and requests), identity (accounts' numbers),
    // verification (the answers), research (whom researchers met) and notification (the
    // numbers); the committee never sees it, nor its keys.
    let personal = match role {
        _ if embedded => personal_data(settings, true)?,
        Role::Intake | Role::Identity | Role::Verification | Role::Research | Role::Notification => {
            personal_data(settings, false)?
        }
        _ => PersonalData::from_list(&LocalKeys::generate())?,
    };
    // One process, one list: a session identity ends is refused by every embedded role at once.
    let revocations = match shape {
        Shape::Embedded { revocations, .. } => revocations.clone(),
        Shape::Distributed => masar_platform::revocations::Revocations::default(),
    };
    let mut tokens = token_keys(settings, role, embedded)?;
    tokens.verifier = tokens.verifier.with_revocations(revocations.clone());
    Ok(Dependencies {
        db,
        queue,
        directory,
        holidays: Arc::new(load_holidays(settings)?),
        consumer: settings.consumer.clone(),
        outbox: settings.outbox.clone(),
        files,
        sealer,
        tokens,
        sessions: settings.sessions.clone(),
        revocations,
        drain: settings.drain.clone(),
        forwarding: forwarding_key(settings, embedded)?,
        registry_key: registry_key(settings, role, embedded)?,
        identity_provider: identity_provider(settings, embedded)?,
        personal,
        endpoints: match shape {
            Shape::Embedded { endpoints, .. } => endpoints.clone(),
            Shape::Distributed => Endpoints::of(|r| settings.endpoint(r)),
        },
        clock: settings.clock.clone(),
        supervision_every: settings.supervision_every,
    })
}

/// Starts one role of `shape` on `listener`, as `masar serve`, `masar dev`,
/// `masar bench` and the tests all start it; it runs until `shutdown` is cancelled.
pub async fn start_role(
    role: Role,
    shape: &Shape,
    settings: &Settings,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<JoinHandle<anyhow::Result<()>>> {
    if role == Role::Gateway {
        return start_gateway(shape, settings, listener, shutdown).await;
    }
    let directory = match shape {
        Shape::Embedded { directory, .. } => directory.clone(),
        Shape::Distributed => Arc::new(load_directory(settings)?),
    };
    let deps = dependencies(role, shape, settings, directory).await?;
    let parts = parts(role, &deps, sms_provider(settings)?, &shutdown)?;
    Ok(tokio::spawn(async move { Ok(runtime::run(parts, deps, listener, shutdown).await?) }))
}

/// The password every demo staff member signs in with (`masar dev` with the built-in directory only).
pub const DEMO_STAFF_PASSWORD: &str = "masar-demo-2026";

/// Gives the built-in demo staff their demo password; an association's own
/// directory (`MASAR_DIRECTORY`) gets none: its staff get theirs with `masar staff-password`.
pub async fn seed_demo_passwords(identity: &Db, settings: &Settings, directory: &Directory) -> anyhow::Result<()> {
    if settings.directory_file.is_none() {
        let store = identity_store(identity, settings)?;
        masar_identity::seed_demo_staff_passwords(&store, directory, DEMO_STAFF_PASSWORD)
            .await
            .map_err(|status| anyhow::anyhow!("seeding demo passwords: {}", status.message()))?;
    }
    Ok(())
}

/// Starts the gateway of `shape` on `listener`; it runs until `shutdown` is cancelled.
async fn start_gateway(
    shape: &Shape,
    settings: &Settings,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<JoinHandle<anyhow::Result<()>>> {
    let (endpoints, replays) = match shape {
        Shape::Embedded { endpoints, .. } => (endpoints.clone(), masar_gateway::Replays::in_memory()),
        Shape::Distributed => {
            // Replicas share the replies kept for Idempotency-Key through Redis.
            let replays = match settings.redis_url() {
                Some(url) => masar_gateway::Replays::redis(url.expose_secret(), &settings.stream_prefix).await?,
                None => {
                    tracing::warn!("REDIS_URL unset: Idempotency-Key replies are kept in this replica's memory only");
                    masar_gateway::Replays::in_memory()
                }
            };
            (Endpoints::of(|r| settings.endpoint(r)), replays)
        }
    };
    let gateway = masar_gateway::Gateway {
        services: masar_gateway::Services::connect(&endpoints)?,
        verifier: token_keys(settings, Role::Gateway, shape.is_embedded())?.verifier,
        settings: settings.gateway.clone(),
        replays,
        stopping: shutdown.clone(),
        forwarding: forwarding_key(settings, shape.is_embedded())?,
    };
    // Stopping: calls keep being served for the drain delay, then those in flight finish.
    let drain = settings.drain.clone();
    let stopping = shutdown.clone();
    let drained = async move {
        stopping.cancelled().await;
        tokio::time::sleep(drain.delay).await;
    };
    let drain = settings.drain.clone();
    Ok(tokio::spawn(async move {
        // Given up after the grace period (None) counts as stopped.
        drain.bounded(&shutdown, masar_gateway::serve(listener, gateway, drained)).await.transpose()?;
        Ok(())
    }))
}

/// A running suite: each role's address, task and stop switch.
pub struct Suite {
    pub roles: Vec<RunningRole>,
    pub shutdown: CancellationToken,
}

/// One running role of a suite.
pub struct RunningRole {
    pub role: Role,
    pub address: SocketAddr,
    pub task: JoinHandle<anyhow::Result<()>>,
    /// Stops this role alone (a child of the suite's shutdown).
    pub stop: CancellationToken,
}

impl Suite {
    pub fn address(&self, role: Role) -> SocketAddr {
        self.roles.iter().find(|r| r.role == role).map(|r| r.address).expect("every role is started")
    }

    /// Where a role listens, e.g. `http://127.0.0.1:50052` (a service's own gRPC port).
    pub fn url(&self, role: Role) -> String {
        format!("http://{}", self.address(role))
    }

    pub fn gateway_url(&self) -> String {
        self.url(Role::Gateway)
    }

    /// Stops every role and waits for them.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        for role in self.roles {
            role.task.await??;
        }
        Ok(())
    }
}

/// How to build the embedded suite.
pub struct EmbeddedOptions {
    pub settings: Settings,
    /// Bind every role on 127.0.0.1:0 (tests) instead of its configured port.
    pub any_port: bool,
}

/// Starts all six services and the gateway in this process on SQLite files
/// in the data directory and the in-process queue.
pub async fn start_embedded(options: EmbeddedOptions) -> anyhow::Result<Suite> {
    let settings = &options.settings;
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating the data directory {}", settings.data_dir.display()))?;
    let mut listeners = Vec::new();
    for role in Role::ALL {
        listeners.push((role, bind(role, settings, options.any_port, "127.0.0.1")?));
    }
    let addresses: Vec<(Role, SocketAddr)> =
        listeners.iter().map(|(role, l)| Ok((*role, l.local_addr()?))).collect::<std::io::Result<_>>()?;
    let address_of = |role: Role| addresses.iter().find(|(r, _)| *r == role).map(|(_, a)| *a).expect("bound above");
    let shape = Shape::Embedded {
        directory: Arc::new(load_directory(settings)?),
        queue: Arc::new(MemoryQueue::new()),
        endpoints: Endpoints::of(|r| format!("http://{}", address_of(r))),
        revocations: Default::default(),
    };
    start_suite(&shape, settings, listeners).await
}

/// Starts each role on its listener in `shape`, services before the gateway.
pub async fn start_suite(
    shape: &Shape,
    settings: &Settings,
    listeners: Vec<(Role, TcpListener)>,
) -> anyhow::Result<Suite> {
    let shutdown = CancellationToken::new();
    let mut suite = Suite { roles: Vec::new(), shutdown: shutdown.clone() };
    for (role, listener) in listeners {
        let address = listener.local_addr()?;
        let stop = shutdown.child_token();
        let task = start_role(role, shape, settings, listener, stop.clone()).await?;
        suite.roles.push(RunningRole { role, address, task, stop });
    }
    Ok(suite)
}

fn bind(role: Role, settings: &Settings, any_port: bool, host: &str) -> anyhow::Result<TcpListener> {
    let addr = if any_port { SocketAddr::from(([127, 0, 0, 1], 0)) } else { settings.listen_addr(role, host)? };
    listen(addr).with_context(|| format!("{role} cannot listen on {addr}"))
}

/// Listens on `addr`, even while connections of a process that just stopped
/// linger in TIME_WAIT on it (a quick restart of `make run` or of a pod).
pub fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// The role's database in the distributed shape.
pub async fn connect_database(role: Role, settings: &Settings) -> anyhow::Result<Db> {
    let url = settings
        .database_url(role)
        .with_context(|| format!("set DATABASE_URL (or {}DATABASE_URL) to a PostgreSQL URL", role.env_prefix()))?;
    Ok(Db::connect(url.expose_secret(), role.schema()).await?)
}

/// Serves this process's `/metrics` where the settings say (`MASAR_METRICS_ADDR`).
pub fn start_metrics(
    settings: &Settings,
    host: &str,
    shutdown: CancellationToken,
) -> anyhow::Result<Option<SocketAddr>> {
    let Some(addr) = settings.metrics_addr(host)? else { return Ok(None) };
    let listener = listen(addr).with_context(|| format!("metrics cannot listen on {addr}"))?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(error) = masar_platform::metrics::serve(listener, shutdown).await {
            tracing::error!(%error, "the metrics endpoint stopped");
        }
    });
    Ok(Some(addr))
}

/// Runs one role against PostgreSQL and Redis until Ctrl-C or SIGTERM.
pub async fn serve(role: Role, settings: Settings) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    tokio::spawn(stop_on_signal(shutdown.clone()));
    start_metrics(&settings, "0.0.0.0", shutdown.clone())?;
    let listener = bind(role, &settings, false, "0.0.0.0")?;
    start_role(role, &Shape::Distributed, &settings, listener, shutdown).await?.await?
}

/// Creates or upgrades the PostgreSQL schemas of `roles` (`masar migrate`).
pub async fn migrate_distributed(roles: &[Role], settings: &Settings) -> anyhow::Result<()> {
    for role in roles {
        let db = connect_database(*role, settings).await?;
        prepare(*role, &db, settings).await?;
        db.close().await;
    }
    Ok(())
}

/// Cancels `shutdown` on Ctrl-C or SIGTERM (what Kubernetes sends).
pub async fn stop_on_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
    shutdown.cancel();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fake_identity_provider_is_trusted_only_where_asked_for_or_in_the_demo() {
        let settings = |vars: &[(&str, &str)]| {
            Settings::from_map(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()).unwrap()
        };
        let provided =
            |vars: &[(&str, &str)], embedded| identity_provider(&settings(vars), embedded).unwrap().is_some();
        assert!(provided(&[], true), "masar dev's demo");
        assert!(!provided(&[], false), "a distributed deployment names its provider");
        assert!(!provided(&[("MASAR_DIRECTORY", "staff.json")], true), "an association's own embedded deployment");
        assert!(provided(&[("MASAR_IDENTITY_PROVIDER", "fake")], false));
        assert!(!provided(&[("MASAR_IDENTITY_PROVIDER", "none")], true));
        let unknown = identity_provider(&settings(&[("MASAR_IDENTITY_PROVIDER", "nafath")]), false);
        assert!(unknown.unwrap_err().to_string().contains("unknown identity provider 'nafath'"));
    }
}
