//! Settings, from defaults then `MASAR_*` (and the standard `DATABASE_URL`,
//! `REDIS_URL`, `OTEL_EXPORTER_OTLP_ENDPOINT`) environment variables.
//! Parsing is a pure function of a map, so it is tested without touching
//! the process environment. Secrets stay wrapped and never print.

use crate::messaging::{ConsumerSettings, OutboxSettings};
use crate::role::Role;
use crate::runtime::DrainSettings;
use secrecy::SecretString;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("{name}: {problem}")]
    Invalid { name: String, problem: String },
}

#[derive(Debug, Clone)]
pub struct Settings {
    vars: Environment,
    /// Where `masar dev` keeps its SQLite files and the dev SMS log.
    pub data_dir: PathBuf,
    /// Stream names start with this (`masar:request.submitted`).
    pub stream_prefix: String,
    pub otlp_endpoint: Option<String>,
    /// Which spans go to the OTLP endpoint (`MASAR_TRACE_FILTER`, EnvFilter
    /// syntax); unset: Masar's own (`telemetry::DEFAULT_TRACE_FILTER`).
    pub trace_filter: Option<String>,
    /// A directory file replacing the built-in demo directory.
    pub directory_file: Option<PathBuf>,
    /// A folder of policy packs (*.toml) replacing the built-in ones of Nuzul and Hayat.
    pub policy_dir: Option<PathBuf>,
    /// The operator's file of Eid holidays per Hijri year (the built-in one otherwise).
    pub holidays_file: Option<PathBuf>,
    /// Where uploaded documents go: `file:///…` or `s3://bucket/prefix` (credentials from `AWS_*`).
    /// Unset: `<data dir>/files`.
    pub files_url: Option<String>,
    /// The key identity and notification seal one-time passwords with (64 hex
    /// characters). Unset: `masar dev` keeps one in `<data dir>/sealing.key`.
    pub sealing_key: Option<SecretString>,
    /// The gateway's and the services' shared key for vouching forwarded calls.
    pub forwarding_key: Option<SecretString>,
    /// The key identity vouches for its calls to intake's registry with
    /// (`MASAR_REGISTRY_KEY`, 64 hex characters): held by those two roles alone.
    pub registry_key: Option<SecretString>,
    /// `MASAR_DATA_KEYS`: the versioned keys personal data at rest is sealed with, newest first.
    pub data_keys: Option<SecretString>,
    /// Identity's key for signing access tokens (64 hex characters). Unset:
    /// `masar dev` keeps one in `<data dir>/token-signing.key`.
    pub token_signing_key: Option<SecretString>,
    /// The public keys every service accepts tokens from (64 hex characters
    /// each, comma-separated): the signing key's, and the previous one while rotating.
    pub token_verifying_keys: Option<String>,
    pub sessions: SessionPolicy,
    pub gateway: GatewaySettings,
    pub consumer: ConsumerSettings,
    pub outbox: OutboxSettings,
    pub drain: DrainSettings,
    pub sms: SmsSettings,
    pub identity: IdentitySettings,
    /// The time the calendar's rules read: the system's (tests move a copy ahead).
    pub clock: crate::clock::Clock,
    /// `MASAR_SUPERVISION_EVERY_MS`: how often intake reads the stage clocks
    /// and alerts the supervisors of cases past their targets (a minute).
    pub supervision_every: Duration,
}

/// The external identity check (Nafath-style) beneficiaries may prove their national ID with.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IdentitySettings {
    /// `MASAR_IDENTITY_PROVIDER`: `fake` (a stand-in that confirms everyone
    /// but `fake_refuses`) or `none`. Unset: `fake` with the built-in demo
    /// directory, `none` otherwise.
    pub provider: Option<String>,
    /// `MASAR_FAKE_IDENTITY_REFUSES`: national IDs (comma-separated) whose holders the fake says refused.
    pub fake_refuses: String,
}

/// A variable's trimmed value; set-but-empty counts as unset.
fn lookup(vars: &HashMap<String, String>, name: &str) -> Option<String> {
    vars.get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// The raw variables, kept for per-role look-ups; never printed, since
/// they hold connection strings with passwords.
#[derive(Clone)]
struct Environment(HashMap<String, String>);

impl std::fmt::Debug for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Environment(..)")
    }
}

/// How long tokens live, and how failed sign-ins slow down and lock.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionPolicy {
    pub access_token_lifetime: Duration,
    pub refresh_token_lifetime: Duration,
    /// Failed attempts in a row that cost nothing more than the answer.
    pub free_failures: u32,
    /// The wait after the first failure beyond the free ones; it doubles with each further one.
    pub slowdown: Duration,
    /// Failed attempts in a row that lock the username for `lock_for`.
    pub lock_after: u32,
    pub lock_for: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            access_token_lifetime: Duration::from_secs(15 * 60),
            refresh_token_lifetime: Duration::from_secs(30 * 24 * 3600),
            free_failures: 2,
            slowdown: Duration::from_secs(2),
            lock_after: 5,
            lock_for: Duration::from_secs(15 * 60),
        }
    }
}

impl SessionPolicy {
    /// How long a username must wait after its `failures`-th failure in a row.
    pub fn wait_after(&self, failures: u32) -> Option<Duration> {
        if failures >= self.lock_after {
            Some(self.lock_for)
        } else if failures > self.free_failures {
            Some(self.slowdown * 2u32.saturating_pow(failures - self.free_failures - 1))
        } else {
            None
        }
    }
}

/// What the gateway allows web and mobile front ends.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewaySettings {
    /// Origins whose pages may call the API from a browser (`MASAR_CORS_ORIGINS`,
    /// comma-separated, or `*`). None by default: browsers then allow same-origin pages only.
    pub cors_origins: Vec<String>,
    /// Requests one client may make per minute, in bursts of as many
    /// (`MASAR_RATE_LIMIT_PER_MINUTE`). A client is the signed-in account, or
    /// else the address it connects from.
    pub requests_per_minute: u32,
    /// The header a trusted proxy puts the client's address in, e.g.
    /// `x-forwarded-for` (`MASAR_CLIENT_ADDRESS_HEADER`); its last address is
    /// used, the one the proxy added. Unset: the connection's own address.
    pub client_address_header: Option<String>,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        Self { cors_origins: Vec::new(), requests_per_minute: 600, client_address_header: None }
    }
}

#[derive(Debug, Clone)]
pub struct SmsSettings {
    /// `file` (development: appends to a file and the log) is the only provider of this step.
    pub provider: String,
    /// The pre-approved sender name.
    pub sender: String,
    pub api_key: Option<SecretString>,
    /// The dev provider's file; defaults to `<data_dir>/sms.log`.
    pub file: Option<PathBuf>,
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_map(std::env::vars().collect())
    }

    pub fn from_map(vars: HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(&vars, name);
        let millis = |name: &str, default: u64| -> Result<Duration, ConfigError> {
            match get(name) {
                None => Ok(Duration::from_millis(default)),
                Some(v) => v.parse::<u64>().map(Duration::from_millis).map_err(|_| ConfigError::Invalid {
                    name: name.to_owned(),
                    problem: format!("'{v}' is not a number of milliseconds"),
                }),
            }
        };
        let whole = |name: &str, default: u64| -> Result<u64, ConfigError> {
            match get(name) {
                None => Ok(default),
                Some(v) => v.parse::<u64>().map_err(|_| ConfigError::Invalid {
                    name: name.to_owned(),
                    problem: format!("'{v}' is not a whole number"),
                }),
            }
        };
        let count = |name: &str, default: u32| -> Result<u32, ConfigError> {
            let n = whole(name, default.into())?;
            u32::try_from(n)
                .map_err(|_| ConfigError::Invalid { name: name.to_owned(), problem: format!("'{n}' is too large") })
        };
        let session_defaults = SessionPolicy::default();
        let sessions = SessionPolicy {
            access_token_lifetime: Duration::from_secs(whole(
                "MASAR_ACCESS_TOKEN_SECONDS",
                session_defaults.access_token_lifetime.as_secs(),
            )?),
            refresh_token_lifetime: Duration::from_secs(
                whole("MASAR_REFRESH_TOKEN_DAYS", session_defaults.refresh_token_lifetime.as_secs() / 86_400)? * 86_400,
            ),
            free_failures: count("MASAR_SIGN_IN_FREE_FAILURES", session_defaults.free_failures)?,
            slowdown: millis("MASAR_SIGN_IN_SLOWDOWN_MS", session_defaults.slowdown.as_millis() as u64)?,
            lock_after: count("MASAR_SIGN_IN_LOCK_AFTER", session_defaults.lock_after)?,
            lock_for: millis("MASAR_SIGN_IN_LOCK_MS", session_defaults.lock_for.as_millis() as u64)?,
        };
        let gateway_defaults = GatewaySettings::default();
        let gateway = GatewaySettings {
            cors_origins: get("MASAR_CORS_ORIGINS")
                .map(|list| list.split(',').map(|o| o.trim().to_owned()).filter(|o| !o.is_empty()).collect())
                .unwrap_or_default(),
            requests_per_minute: match count("MASAR_RATE_LIMIT_PER_MINUTE", gateway_defaults.requests_per_minute)? {
                0 => {
                    return Err(ConfigError::Invalid {
                        name: "MASAR_RATE_LIMIT_PER_MINUTE".into(),
                        problem: "must be at least 1".into(),
                    });
                }
                n => n,
            },
            client_address_header: get("MASAR_CLIENT_ADDRESS_HEADER").map(|h| h.to_ascii_lowercase()),
        };
        let defaults = ConsumerSettings::default();
        let outbox_defaults = OutboxSettings::default();
        let drain_defaults = DrainSettings::default();
        let max_deliveries = whole("MASAR_MAX_DELIVERIES", defaults.max_deliveries)?;
        Ok(Self {
            data_dir: get("MASAR_DATA_DIR").map_or_else(|| PathBuf::from("data"), PathBuf::from),
            stream_prefix: get("MASAR_STREAM_PREFIX").unwrap_or_else(|| "masar".into()),
            otlp_endpoint: get("OTEL_EXPORTER_OTLP_ENDPOINT"),
            trace_filter: get("MASAR_TRACE_FILTER"),
            directory_file: get("MASAR_DIRECTORY").map(PathBuf::from),
            policy_dir: get("MASAR_POLICY_DIR").map(PathBuf::from),
            holidays_file: get("MASAR_HOLIDAYS_FILE").map(PathBuf::from),
            files_url: get("MASAR_FILES_URL"),
            sealing_key: get("MASAR_SEALING_KEY").map(SecretString::from),
            forwarding_key: get("MASAR_FORWARDING_KEY").map(SecretString::from),
            registry_key: get("MASAR_REGISTRY_KEY").map(SecretString::from),
            data_keys: get("MASAR_DATA_KEYS").map(SecretString::from),
            token_signing_key: get("MASAR_TOKEN_SIGNING_KEY").map(SecretString::from),
            token_verifying_keys: get("MASAR_TOKEN_VERIFYING_KEYS"),
            sessions,
            gateway,
            consumer: ConsumerSettings {
                max_deliveries,
                reclaim_after: millis("MASAR_RECLAIM_AFTER_MS", defaults.reclaim_after.as_millis() as u64)?,
                wait: millis("MASAR_QUEUE_WAIT_MS", defaults.wait.as_millis() as u64)?,
            },
            outbox: OutboxSettings {
                poll_every: millis("MASAR_OUTBOX_POLL_MS", outbox_defaults.poll_every.as_millis() as u64)?,
                settle_every: millis("MASAR_OUTBOX_SETTLE_MS", outbox_defaults.settle_every.as_millis() as u64)?,
                keep_for: match whole("MASAR_OUTBOX_RETENTION_DAYS", outbox_defaults.keep_for.as_secs() / 86_400)? {
                    // Streams are trimmed to the retention period: 0 would trim what is not consumed yet.
                    0 => {
                        return Err(ConfigError::Invalid {
                            name: "MASAR_OUTBOX_RETENTION_DAYS".into(),
                            problem: "must be at least 1".into(),
                        });
                    }
                    days => Duration::from_secs(days * 86_400),
                },
            },
            drain: DrainSettings {
                delay: millis("MASAR_DRAIN_DELAY_MS", drain_defaults.delay.as_millis() as u64)?,
                grace: millis("MASAR_SHUTDOWN_GRACE_MS", drain_defaults.grace.as_millis() as u64)?,
            },
            sms: SmsSettings {
                provider: get("MASAR_SMS_PROVIDER").unwrap_or_else(|| "file".into()),
                sender: get("MASAR_SMS_SENDER").unwrap_or_else(|| "Masar".into()),
                api_key: get("MASAR_SMS_API_KEY").map(SecretString::from),
                file: get("MASAR_SMS_FILE").map(PathBuf::from),
            },
            identity: IdentitySettings {
                provider: get("MASAR_IDENTITY_PROVIDER"),
                fake_refuses: get("MASAR_FAKE_IDENTITY_REFUSES").unwrap_or_default(),
            },
            clock: crate::clock::Clock::default(),
            supervision_every: millis("MASAR_SUPERVISION_EVERY_MS", 60_000)?,
            vars: Environment(vars),
        })
    }

    fn get(&self, name: &str) -> Option<String> {
        lookup(&self.vars.0, name)
    }

    /// These settings with further variables set (e.g. where the gateway finds
    /// services once their ports are known).
    pub fn with(&self, more: impl IntoIterator<Item = (String, String)>) -> Result<Self, ConfigError> {
        let mut vars = self.vars.0.clone();
        vars.extend(more);
        // The same clock: what moves one suite's time moves it for every role.
        Ok(Self { clock: self.clock.clone(), ..Self::from_map(vars)? })
    }

    /// The role's database: `MASAR_<ROLE>_DATABASE_URL`, else `DATABASE_URL`.
    pub fn database_url(&self, role: Role) -> Option<SecretString> {
        self.get(&format!("{}DATABASE_URL", role.env_prefix()))
            .or_else(|| self.get("DATABASE_URL"))
            .map(SecretString::from)
    }

    pub fn redis_url(&self) -> Option<SecretString> {
        self.get("REDIS_URL").map(SecretString::from)
    }

    /// Where a role listens: `MASAR_<ROLE>_ADDR`, else `MASAR_LISTEN_ADDR`
    /// (one role per pod), else `host`:<default port>.
    pub fn listen_addr(&self, role: Role, host: &str) -> Result<SocketAddr, ConfigError> {
        let name = format!("{}ADDR", role.env_prefix());
        let value = self
            .get(&name)
            .or_else(|| self.get("MASAR_LISTEN_ADDR"))
            .unwrap_or_else(|| format!("{host}:{}", role.default_port()));
        value.parse().map_err(|_| ConfigError::Invalid { name, problem: format!("'{value}' is not host:port") })
    }

    /// Where this process serves `/metrics`: `MASAR_METRICS_ADDR`, else
    /// `host`:9464; `off` serves none.
    pub fn metrics_addr(&self, host: &str) -> Result<Option<SocketAddr>, ConfigError> {
        let name = "MASAR_METRICS_ADDR";
        let value = self.get(name).unwrap_or_else(|| format!("{host}:9464"));
        if value == "off" {
            return Ok(None);
        }
        value.parse().map(Some).map_err(|_| ConfigError::Invalid {
            name: name.into(),
            problem: format!("'{value}' is not host:port or off"),
        })
    }

    /// How the gateway reaches a service: `MASAR_<ROLE>_ENDPOINT`, else loopback on its default port.
    pub fn endpoint(&self, role: Role) -> String {
        self.get(&format!("{}ENDPOINT", role.env_prefix()))
            .unwrap_or_else(|| format!("http://127.0.0.1:{}", role.default_port()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::from_map(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn defaults_need_nothing() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.stream_prefix, "masar");
        assert!(s.database_url(Role::Intake).is_none());
        assert_eq!(s.listen_addr(Role::Committee, "127.0.0.1").unwrap().port(), 50054);
        assert_eq!(s.endpoint(Role::Notification), "http://127.0.0.1:50055");
        assert_eq!(s.sms.provider, "file");
    }

    #[test]
    fn per_role_overrides_win() {
        let s = settings(&[
            ("DATABASE_URL", "postgres://shared/masar"),
            ("MASAR_RESEARCH_DATABASE_URL", "postgres://research/masar"),
            ("MASAR_LISTEN_ADDR", "0.0.0.0:9000"),
            ("MASAR_GATEWAY_ADDR", "0.0.0.0:8081"),
        ])
        .unwrap();
        assert_eq!(s.database_url(Role::Intake).unwrap().expose_secret(), "postgres://shared/masar");
        assert_eq!(s.database_url(Role::Research).unwrap().expose_secret(), "postgres://research/masar");
        assert_eq!(s.listen_addr(Role::Intake, "0.0.0.0").unwrap().port(), 9000);
        assert_eq!(s.listen_addr(Role::Gateway, "0.0.0.0").unwrap().port(), 8081);
    }

    #[test]
    fn gateway_settings_read_lists_and_refuse_a_zero_limit() {
        assert_eq!(settings(&[]).unwrap().gateway, GatewaySettings::default());
        let s = settings(&[
            ("MASAR_CORS_ORIGINS", "https://nuzul.org.sa, https://app.nuzul.org.sa,"),
            ("MASAR_RATE_LIMIT_PER_MINUTE", "30"),
            ("MASAR_CLIENT_ADDRESS_HEADER", "X-Forwarded-For"),
        ])
        .unwrap();
        assert_eq!(s.gateway.cors_origins, ["https://nuzul.org.sa", "https://app.nuzul.org.sa"]);
        assert_eq!(s.gateway.requests_per_minute, 30);
        assert_eq!(s.gateway.client_address_header.as_deref(), Some("x-forwarded-for"));
        let err = settings(&[("MASAR_RATE_LIMIT_PER_MINUTE", "0")]).unwrap_err();
        assert!(err.to_string().starts_with("MASAR_RATE_LIMIT_PER_MINUTE"), "{err}");
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = settings(&[("MASAR_RECLAIM_AFTER_MS", "soon")]).unwrap_err();
        assert_eq!(err.to_string(), "MASAR_RECLAIM_AFTER_MS: 'soon' is not a number of milliseconds");
        let err = settings(&[("MASAR_OUTBOX_RETENTION_DAYS", "0")]).unwrap_err();
        assert_eq!(err.to_string(), "MASAR_OUTBOX_RETENTION_DAYS: must be at least 1");
        let err = settings(&[("MASAR_METRICS_ADDR", "everywhere")]).unwrap().metrics_addr("x").unwrap_err();
        assert!(err.to_string().starts_with("MASAR_METRICS_ADDR"), "{err}");
        assert_eq!(settings(&[("MASAR_METRICS_ADDR", "off")]).unwrap().metrics_addr("x").unwrap(), None);
        let err = settings(&[("MASAR_INTAKE_ADDR", "nowhere")]).unwrap().listen_addr(Role::Intake, "x").unwrap_err();
        assert!(err.to_string().starts_with("MASAR_INTAKE_ADDR"));
    }

    #[test]
    fn secrets_do_not_print() {
        let s = settings(&[
            ("MASAR_SMS_API_KEY", "very-secret"),
            ("DATABASE_URL", "postgres://u:hunter2@db/masar"),
            ("MASAR_SEALING_KEY", "feedface"),
            ("MASAR_TOKEN_SIGNING_KEY", "beefcafe"),
        ])
        .unwrap();
        let printed = format!("{s:?}");
        assert!(!printed.contains("very-secret") && !printed.contains("hunter2"), "{printed}");
        assert!(!printed.contains("feedface") && !printed.contains("beefcafe"), "{printed}");
    }

    #[test]
    fn failed_sign_ins_slow_down_then_lock() {
        let policy =
            settings(&[("MASAR_SIGN_IN_SLOWDOWN_MS", "1000"), ("MASAR_SIGN_IN_LOCK_MS", "900000")]).unwrap().sessions;
        let waits: Vec<_> = (1..=6).map(|n| policy.wait_after(n).map(|d| d.as_secs())).collect();
        assert_eq!(waits, [None, None, Some(1), Some(2), Some(900), Some(900)]);
        assert_eq!(policy.access_token_lifetime, Duration::from_secs(900));
    }
}
