//! Configuration: a TOML file, built-in defaults, and `MOAT_<KEY>` environment overrides.
//!
//! Precedence, lowest first: built-in defaults, the file, then the environment. Every
//! top-level key can be set as `MOAT_<KEY>` (upper case); list values are comma separated,
//! nested tables are not settable from the environment. Unknown keys, in the file or in a
//! `MOAT_` variable, are refused with the key's name so a typo never silently does nothing.
//!
//! [`Config::validate`] checks what serde cannot (CIDRs parse, argon2 parameters are
//! accepted by the algorithm, sizes are sane) and turns strings into typed values.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// Errors while loading or validating configuration. Messages name the offending key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
    #[error("config key `{key}`: {message}")]
    Invalid { key: &'static str, message: String },
    /// A key of `[auth]` (its name is built from the group or user it names).
    #[error("config key `{key}`: {message}")]
    Auth { key: String, message: String },
    /// An error about a value, with where that value was set: the file, line and column,
    /// or the environment variable.
    #[error("{place}: {error}")]
    At {
        place: String,
        error: Box<ConfigError>,
    },
}

/// The whole configuration, as written in `moat.toml`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the SSH server listens on.
    pub listen: String,
    /// `sqlite://path` (created if missing), `postgres://user@host/db` or
    /// `mysql://user@host/db` (`mariadb://` too; must exist).
    pub database_url: String,
    /// PostgreSQL: the schemas whose tables the console shows (moat's own tables live in
    /// schema `moat`, never shown). Ignored on SQLite.
    pub database_schemas: Vec<String>,
    /// Directory for the host key (and later the secret key); created with mode 0700.
    pub keys_dir: PathBuf,
    /// Source networks allowed to connect (CIDR, IPv4 or IPv6). Everything else is
    /// dropped before the SSH banner.
    pub allowlist: Vec<String>,
    /// TCP load balancers (CIDR) whose connections start with a PROXY protocol v2 header
    /// naming the real client. Everyone else's PROXY header closes the connection.
    pub trusted_proxies: Vec<String>,
    /// Whether a connection from a trusted proxy without a header is closed (true) or
    /// treated as the proxy's own connection (false).
    pub proxy_header_required: bool,
    /// Seconds a connection may take to authenticate before it is closed.
    pub login_grace_secs: u64,
    /// Seconds an authenticated connection may take to open its console (the shell
    /// request) before it is closed. The session exists, and can be ended, from the
    /// moment authentication succeeds.
    pub shell_grace_secs: u64,
    /// Milliseconds every authentication rejection takes (equalises timing, slows guessing).
    pub auth_rejection_ms: u64,
    /// Terminal sizes above this are clamped (columns, rows): bounds per-session memory.
    pub max_cols: u16,
    pub max_rows: u16,
    /// Rows fetched per page in a list.
    pub page_size: u32,
    /// Where CSV exports asked for in the console are written (created if missing). A
    /// remote user never names a path: files get generated names under this directory.
    pub export_dir: PathBuf,
    /// Hours an export is kept: after that it is no longer served (SFTP, `:exports`) and
    /// the hourly housekeeping deletes it.
    pub export_ttl_hours: u64,
    /// Failed logins allowed on one connection before it is closed.
    pub max_auth_tries: u32,
    /// Password hashing parameters.
    pub argon2: Argon2Config,
    /// Failed-login lockout.
    pub lockout: LockoutConfig,
    /// Connection limits applied before the SSH banner.
    pub limits: LimitsConfig,
    /// Per-model settings, by table name: custom actions and column rules.
    pub models: BTreeMap<String, ModelConfig>,
    /// One-time passwords and step-up.
    pub accounts: AccountsConfig,
    /// Idle and maximum session time.
    pub session: SessionConfig,
    /// Session recordings.
    pub recording: RecordingConfig,
    /// The console's own settings.
    pub console: ConsoleConfig,
    /// Which factors a login needs (`[auth] require`, stricter rules per group).
    pub auth: AuthConfig,
    /// A file of CA public keys (one a line) whose user certificates stand as the
    /// `publickey` factor. Read at start.
    pub trusted_user_ca_keys: Option<PathBuf>,
    /// A file of revoked keys, fingerprints, certificate serials and key ids (see
    /// `auth::keys::revoked`). Read again whenever it changes.
    pub revoked_keys: Option<PathBuf>,
    /// Where the Prometheus metrics endpoint listens (`127.0.0.1:9222`); off when unset.
    /// It serves `GET /metrics` and nothing else.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_listen: Option<String>,
    /// The server log's format: `text` (for people) or `json` (one object a line, for
    /// log pipelines; lines of a session carry its id).
    pub log_format: LogFormat,
    /// `moat doctor`: what it checks against, and the findings the operator accepted.
    pub doctor: DoctorConfig,
    /// Where this configuration came from (not a setting: for error positions and the
    /// database note of CLI commands).
    #[serde(skip)]
    pub origin: Origin,
}

/// The server log's format.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// `[doctor]`
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct DoctorConfig {
    /// Users who have not logged in for this many days are a finding.
    pub dormant_days: u64,
    /// Findings the operator has looked at and accepted, by id, each with the reason
    /// (`listen-all-addresses = "nftables drops 2222 except from 10.0.0.0/8"`). They are
    /// still listed, marked accepted, and do not make `moat doctor` fail.
    pub accept: BTreeMap<String, String>,
}

impl Default for DoctorConfig {
    fn default() -> Self {
        DoctorConfig {
            dormant_days: 90,
            accept: BTreeMap::new(),
        }
    }
}

#[path = "config_origin.rs"]
mod origin;
use origin::line_column;
pub use origin::Origin;

/// `[console]`
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleConfig {
    /// Seconds between refreshes of the screen shown (its rows read again, the cursor and
    /// any open prompt left alone); 0 turns it off.
    pub refresh_secs: u64,
}

/// `[recording]`
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RecordingConfig {
    /// Record every console session (asciicast v2, compressed, in `recordings_dir`).
    pub enabled: bool,
    /// Also record the keys typed (those typed into password, code and step-up fields
    /// are replaced by `*`).
    pub record_input: bool,
    /// Days a recording is kept after its session ended; 0 keeps them forever.
    pub retention_days: u64,
    /// Where recordings are written (created 0700; files 0600).
    pub recordings_dir: PathBuf,
    /// The most of one recording the console holds in memory to replay it, MiB (the
    /// replay stops there and says so; `moat sessions export` has all of it).
    pub replay_max_mib: u64,
}

impl Default for RecordingConfig {
    fn default() -> Self {
        RecordingConfig {
            enabled: true,
            record_input: false,
            retention_days: 90,
            recordings_dir: PathBuf::from("recordings"),
            replay_max_mib: 64,
        }
    }
}

/// `[auth]`: the factors of a login.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// `["password", "totp"]`, `["publickey", "password", "totp"]` or
    /// `["publickey", "totp"]`, in the order they are asked.
    pub require: Vec<String>,
    /// A stricter rule for superusers (empty: none).
    pub require_superuser: Vec<String>,
    /// Stricter rules for the members of a group, by group name.
    pub groups: BTreeMap<String, Vec<String>>,
    /// The certificate principals that stand for a user, instead of the username.
    pub principals: BTreeMap<String, Vec<String>>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            require: vec!["password".into(), "totp".into()],
            require_superuser: Vec::new(),
            groups: BTreeMap::new(),
            principals: BTreeMap::new(),
        }
    }
}

/// `[accounts]`
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct AccountsConfig {
    /// Hours a one-time password (`moat user add` without a password, 2FA reset) works.
    pub one_time_password_hours: u64,
    /// Seconds a verification stays fresh: destructive and security actions after that
    /// ask for a new TOTP code first (step-up).
    pub step_up_secs: u64,
}

impl AccountsConfig {
    /// When a one-time password made at `now` (unix seconds) stops working.
    pub fn one_time_expiry(&self, now: i64) -> i64 {
        let secs = self.one_time_password_hours.saturating_mul(3600);
        now.saturating_add(i64::try_from(secs).unwrap_or(i64::MAX))
    }
}

impl Default for AccountsConfig {
    fn default() -> Self {
        AccountsConfig {
            one_time_password_hours: 72,
            step_up_secs: 600,
        }
    }
}

/// `[session]`
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct SessionConfig {
    /// Seconds without a key from the user before the session is closed.
    pub idle_timeout_secs: u64,
    /// Seconds before the idle close that a warning is shown.
    pub idle_warning_secs: u64,
    /// Seconds a session may last in all, however busy.
    pub max_session_secs: u64,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            idle_timeout_secs: 15 * 60,
            idle_warning_secs: 60,
            max_session_secs: 8 * 3600,
        }
    }
}

/// Settings of one model (`[models.<table>]`).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// Custom permission verbs for this model, e.g. `["export"]` gives `export_<model>`.
    pub actions: Vec<String>,
    /// Columns `/` searches (default: the text columns).
    pub search: Vec<String>,
    /// The name shown for the model (default: its table name).
    pub label: Option<String>,
    /// The column that names a row where others refer to it (default: the first text
    /// column).
    pub display: Option<String>,
    /// Columns a list shows, in this order (default: every column).
    pub list: Vec<String>,
    /// Default order of a list: a column, `-column` for descending (default: the key).
    pub ordering: Option<String>,
    /// Rows per page of this model's lists (default: `page_size`).
    pub page_size: Option<u32>,
    /// Actions on marked rows: each sets columns to fixed values.
    pub bulk: Vec<BulkAction>,
    /// Columns never selected for users outside `exempt_groups` (superusers included).
    pub hidden: Vec<String>,
    /// Columns whose values are shown as `••••` to users outside `exempt_groups`.
    pub masked: Vec<String>,
    /// Columns nobody outside `exempt_groups` may change.
    pub read_only: Vec<String>,
    /// Groups the column rules above do not apply to.
    pub exempt_groups: Vec<String>,
}

/// Argon2id parameters. Defaults are the OWASP minimum (19 MiB, 2 passes, 1 lane).
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Argon2Config {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    /// Verifications running at once; 0 means one per CPU core.
    pub max_concurrent: u32,
    /// Verifications allowed to wait for a slot; beyond that a login is refused at once.
    pub max_queued: u32,
}

/// Failed-login lockout, counted in the database per (username, address), per username
/// and per address. A limit of 0 turns that count off.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct LockoutConfig {
    /// Failures of one username from one address before both are locked together.
    pub failure_limit: u32,
    /// Failures of one username from any address before the username is locked.
    pub user_failure_limit: u32,
    /// Failures from one address (any username) before the address is locked.
    pub ip_failure_limit: u32,
    /// Length of the first lockout.
    pub cooloff_secs: u64,
    /// Each further lockout of the same key lasts this many times longer…
    pub backoff_factor: u32,
    /// …up to this.
    pub max_cooloff_secs: u64,
    /// Whether an attempt during a lockout starts the cool-off again.
    pub extend_on_attempt: bool,
    /// Days a successful login keeps its (username, address) pair a *known source*: only
    /// the pair's own lock refuses it, never a lock of the username or the address that
    /// strangers' guesses caused. 0 turns this off.
    pub known_source_days: u64,
    /// Per-address failure limits for networks many people share (NAT, bastion, proxy),
    /// instead of `ip_failure_limit`: `[{ net = "10.20.0.0/16", limit = 500 }]`. First
    /// match wins; a limit of 0 does not count that network's addresses at all.
    pub address_limits: Vec<AddressLimit>,
}

/// One entry of `[lockout] address_limits`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AddressLimit {
    /// A CIDR (or a bare address).
    pub net: String,
    /// Failures from one address of `net` before that address is locked.
    pub limit: u32,
}

/// A declared bulk action (`[[models.<m>.bulk]] name = "publish", set = { status = "published" }`).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BulkAction {
    pub name: String,
    pub set: BTreeMap<String, toml::Value>,
}

/// Limits on new and unauthenticated connections (OpenSSH's MaxStartups with random early
/// drop, PerSourceMaxStartups and PerSourceNetBlockSize, plus a deadline for the client's
/// version line). Every per-source limit counts an IPv6 source by its `/ipv6_prefix`
/// network and an IPv4 one (IPv4-mapped IPv6 included) by its address.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// New connections per source per minute.
    pub per_source_per_minute: u32,
    /// New connections per second, all sources together.
    pub global_per_second: u32,
    /// Connections not yet logged in, per source.
    pub max_preauth_per_source: u32,
    /// Connections not yet logged in, in total: at this many every new one is refused
    /// (MaxStartups `full`).
    pub max_preauth_total: u32,
    /// Random early drop (MaxStartups `start:rate:full`): from this many unauthenticated
    /// connections on, a new one is refused with probability `preauth_drop_percent`,
    /// rising linearly to certainty at `max_preauth_total`. Equal to `max_preauth_total`:
    /// no early drop, only the hard cap.
    pub preauth_drop_start: u32,
    /// The refusal probability at `preauth_drop_start`, in percent (0–100).
    pub preauth_drop_percent: u32,
    /// Milliseconds a new connection has to send its SSH version line before it is closed
    /// (and its slot freed). The login grace time still applies when it is shorter.
    pub version_grace_ms: u64,
    /// IPv6 sources are counted per network of this many leading bits (64: one site's
    /// LAN), so a client holding a whole prefix is one source, not 2^64.
    pub ipv6_prefix: u8,
    /// The most rows one "mark all matching" may mark (and so one bulk edit may change).
    pub bulk_max_rows: u64,
}

impl LimitsConfig {
    /// Check the limits make sense together; the error names the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (key, n) in [
            ("limits.per_source_per_minute", self.per_source_per_minute),
            ("limits.global_per_second", self.global_per_second),
            ("limits.max_preauth_per_source", self.max_preauth_per_source),
            ("limits.max_preauth_total", self.max_preauth_total),
        ] {
            if n == 0 {
                return Err(invalid(key, "must be at least 1".into()));
            }
        }
        if self.preauth_drop_start > self.max_preauth_total {
            return Err(invalid(
                "limits.preauth_drop_start",
                format!(
                    "must not be above max_preauth_total ({}), where every new connection is refused",
                    self.max_preauth_total
                ),
            ));
        }
        if self.preauth_drop_percent > 100 {
            return Err(invalid(
                "limits.preauth_drop_percent",
                "is a percentage (0 to 100)".into(),
            ));
        }
        if !(100..=600_000).contains(&self.version_grace_ms) {
            return Err(invalid(
                "limits.version_grace_ms",
                "must be between 100 and 600000".into(),
            ));
        }
        if !(1..=128).contains(&self.ipv6_prefix) {
            return Err(invalid(
                "limits.ipv6_prefix",
                "must be between 1 and 128 (bits)".into(),
            ));
        }
        if self.bulk_max_rows == 0 {
            return Err(invalid("limits.bulk_max_rows", "must be at least 1".into()));
        }
        Ok(())
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:2222".into(),
            database_url: "sqlite://moat.db".into(),
            database_schemas: vec!["public".into()],
            keys_dir: PathBuf::from("keys"),
            allowlist: vec!["127.0.0.1/32".into(), "::1/128".into()],
            trusted_proxies: Vec::new(),
            proxy_header_required: true,
            login_grace_secs: 30,
            shell_grace_secs: 10,
            auth_rejection_ms: 1000,
            max_cols: 400,
            max_rows: 150,
            page_size: 100,
            export_dir: PathBuf::from("exports"),
            export_ttl_hours: 24,
            max_auth_tries: 3,
            argon2: Argon2Config::default(),
            lockout: LockoutConfig::default(),
            limits: LimitsConfig::default(),
            models: BTreeMap::new(),
            accounts: AccountsConfig::default(),
            session: SessionConfig::default(),
            recording: RecordingConfig::default(),
            console: ConsoleConfig::default(),
            auth: AuthConfig::default(),
            trusted_user_ca_keys: None,
            revoked_keys: None,
            metrics_listen: None,
            log_format: LogFormat::Text,
            doctor: DoctorConfig::default(),
            origin: Origin::default(),
        }
    }
}

impl Default for Argon2Config {
    fn default() -> Self {
        Argon2Config {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
            max_concurrent: 0,
            max_queued: 16,
        }
    }
}

impl Default for LockoutConfig {
    fn default() -> Self {
        LockoutConfig {
            failure_limit: 5,
            user_failure_limit: 10,
            ip_failure_limit: 20,
            cooloff_secs: 900,
            backoff_factor: 2,
            max_cooloff_secs: 24 * 3600,
            extend_on_attempt: false,
            known_source_days: 30,
            address_limits: Vec::new(),
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            per_source_per_minute: 60,
            global_per_second: 100,
            max_preauth_per_source: 10,
            max_preauth_total: 100,
            preauth_drop_start: 30,
            preauth_drop_percent: 30,
            version_grace_ms: 5000,
            ipv6_prefix: 64,
            bulk_max_rows: 10_000,
        }
    }
}

/// Values derived from a validated [`Config`], in the types the rest of moat uses.
#[derive(Clone, Debug)]
pub struct Validated {
    pub listen: SocketAddr,
    pub allowlist: Vec<IpNet>,
    pub trusted_proxies: Vec<IpNet>,
    pub login_grace: Duration,
    pub shell_grace: Duration,
    pub auth_rejection: Duration,
    pub metrics_listen: Option<SocketAddr>,
}

impl Config {
    /// Check `[models.*]` against the introspected schema: every model and column named
    /// must exist, and key columns can be neither hidden nor masked. An error says where
    /// the value was set.
    pub fn validate_models(&self, schema: &crate::domain::Schema) -> Result<(), ConfigError> {
        validate_models(&self.models, schema).map_err(|e| self.locate(e))
    }

    /// `database_url` as it may be shown to an operator or logged: a password in it is
    /// replaced by `****`.
    pub fn database_shown(&self) -> String {
        match url::Url::parse(&self.database_url) {
            Ok(mut u) if u.password().is_some() => {
                let _ = u.set_password(Some("****"));
                u.to_string()
            }
            _ => self.database_url.clone(),
        }
    }

    /// `error` with the place its key was set (file, line and column, or the
    /// environment variable), when the error names a key that was set there.
    pub fn locate(&self, error: ConfigError) -> ConfigError {
        let ConfigError::Invalid { key, message } = &error else {
            return error;
        };
        // `[models.*]` errors name the model and the setting in their message.
        let path = match *key {
            "models" => message.split(':').next().unwrap_or(key),
            key => key,
        };
        match self.origin.place_of(path) {
            Some(place) => ConfigError::At {
                place,
                error: Box::new(error),
            },
            None => error,
        }
    }

    /// Load configuration: `path` if given (must exist), else `./moat.toml` if present, else
    /// defaults; then apply `MOAT_*` variables from `env`. A file error says the line and
    /// column; the result remembers where it came from (see [`Origin`]).
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let default_path = Path::new("moat.toml");
        let file = match path {
            Some(p) => Some(p.to_path_buf()),
            None if default_path.exists() => Some(default_path.to_path_buf()),
            None => None,
        };
        let mut origin = Origin {
            file: file.clone(),
            named: path.is_some(),
            ..Origin::default()
        };
        let mut table = match &file {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.clone(),
                    source,
                })?;
                let positioned = |e: toml::de::Error| {
                    let message = match e.span() {
                        Some(span) => {
                            let (line, column) = line_column(&text, span.start);
                            format!("line {line}, column {column}: {}", e.message().trim())
                        }
                        None => e.message().trim().to_string(),
                    };
                    ConfigError::Parse {
                        path: p.clone(),
                        message,
                    }
                };
                // The file alone first, so that an unknown key or a wrong type is
                // reported where it is written.
                toml::from_str::<Config>(&text).map_err(positioned)?;
                let table = text.parse::<toml::Table>().map_err(positioned)?;
                origin.text = Some(text.into());
                table
            }
            None => toml::Table::new(),
        };
        origin.env_keys = apply_env(&mut table, env)?;
        let mut config: Config =
            Config::deserialize(toml::Value::Table(table)).map_err(|e| ConfigError::Parse {
                path: file.unwrap_or_else(|| PathBuf::from("<defaults+environment>")),
                message: e.message().to_string(),
            })?;
        config.origin = origin;
        Ok(config)
    }

    /// Parse a TOML string (used by tests and `check-config`).
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: PathBuf::from("<string>"),
            message: e.message().to_string(),
        })
    }

    /// Check values serde cannot and derive the typed forms. An error says where the
    /// value was set.
    pub fn validate(&self) -> Result<Validated, ConfigError> {
        self.check().map_err(|e| self.locate(e))
    }

    fn check(&self) -> Result<Validated, ConfigError> {
        let listen = self
            .listen
            .parse::<SocketAddr>()
            .map_err(|e| invalid("listen", format!("{e} (expected e.g. 127.0.0.1:2222)")))?;
        let allowlist = self
            .allowlist
            .iter()
            .map(|s| parse_cidr(s))
            .collect::<Result<Vec<_>, _>>()?;
        if crate::store::Dialect::of_url(&self.database_url).is_none() {
            return Err(invalid(
                "database_url",
                "must start with sqlite:, postgres:// (or postgresql://), mysql:// or mariadb://"
                    .into(),
            ));
        }
        if self.database_schemas.is_empty() || self.database_schemas.iter().any(|s| s == "moat") {
            return Err(invalid(
                "database_schemas",
                "must name at least one schema, and not moat's own (`moat`)".into(),
            ));
        }
        if self.login_grace_secs == 0 {
            return Err(invalid("login_grace_secs", "must be at least 1".into()));
        }
        if self.export_ttl_hours == 0 {
            return Err(invalid("export_ttl_hours", "must be at least 1".into()));
        }
        if !(1..=3600).contains(&self.shell_grace_secs) {
            return Err(invalid(
                "shell_grace_secs",
                "must be between 1 and 3600".into(),
            ));
        }
        for a in &self.lockout.address_limits {
            parse_cidr(&a.net).map_err(|_| {
                invalid(
                    "lockout.address_limits",
                    format!("`{}` is not a CIDR (e.g. 10.20.0.0/16)", a.net),
                )
            })?;
        }
        if self.max_cols < 40 || self.max_rows < 10 {
            return Err(invalid("max_cols", "must allow at least 40x10".into()));
        }
        if !(10..=10_000).contains(&self.page_size) {
            return Err(invalid("page_size", "must be between 10 and 10000".into()));
        }
        argon2::Params::new(
            self.argon2.memory_kib,
            self.argon2.iterations,
            self.argon2.parallelism,
            None,
        )
        .map_err(|e| invalid("argon2", e.to_string()))?;
        if self.session.idle_timeout_secs == 0 || self.session.max_session_secs == 0 {
            return Err(invalid(
                "session",
                "idle_timeout_secs and max_session_secs must be at least 1".into(),
            ));
        }
        if self.session.idle_warning_secs >= self.session.idle_timeout_secs {
            return Err(invalid(
                "session.idle_warning_secs",
                "must be shorter than idle_timeout_secs".into(),
            ));
        }
        const YEAR: u64 = 365 * 24 * 3600;
        if self.session.idle_timeout_secs > YEAR
            || self.session.max_session_secs > YEAR
            || self.accounts.step_up_secs > YEAR
            || self.accounts.one_time_password_hours > YEAR / 3600
        {
            return Err(invalid(
                "session",
                "session and account times are capped at one year".into(),
            ));
        }
        if self.accounts.one_time_password_hours == 0 {
            return Err(invalid(
                "accounts.one_time_password_hours",
                "must be at least 1".into(),
            ));
        }
        if self.lockout.failure_limit == 0 {
            return Err(invalid(
                "lockout.failure_limit",
                "must be at least 1".into(),
            ));
        }
        self.limits.validate()?;
        if !(1..=4096).contains(&self.recording.replay_max_mib) {
            return Err(invalid(
                "recording.replay_max_mib",
                "must be between 1 and 4096 (MiB of a recording held to replay it)".into(),
            ));
        }
        if self.recording.retention_days > 100 * 365 {
            return Err(invalid(
                "recording.retention_days",
                "must be at most 36500 (0 keeps recordings forever)".into(),
            ));
        }
        if self.recording.enabled && overlaps(&self.recording.recordings_dir, &self.export_dir) {
            return Err(invalid(
                "recording.recordings_dir",
                "must be neither inside export_dir nor contain it: exports are handed to \
                 users, recordings are not theirs"
                    .into(),
            ));
        }
        let methods = crate::auth::keys::Methods::from_config(&self.auth)
            .map_err(|(key, message)| ConfigError::Auth { key, message })?;
        if self.trusted_user_ca_keys.is_some() && !methods.uses_keys() {
            return Err(invalid(
                "trusted_user_ca_keys",
                "certificates stand as the publickey factor, but no [auth] rule requires \
                 publickey (e.g. require = [\"publickey\", \"password\", \"totp\"])"
                    .into(),
            ));
        }
        let trusted_proxies = self
            .trusted_proxies
            .iter()
            .map(|s| {
                parse_cidr(s).map_err(|_| {
                    invalid(
                        "trusted_proxies",
                        format!("`{s}` is not a CIDR (e.g. 10.0.0.5/32)"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let metrics_listen = match &self.metrics_listen {
            None => None,
            Some(addr) => {
                let addr = addr.parse::<SocketAddr>().map_err(|e| {
                    invalid(
                        "metrics_listen",
                        format!("{e} (expected e.g. 127.0.0.1:9222)"),
                    )
                })?;
                if addr == listen {
                    return Err(invalid(
                        "metrics_listen",
                        "must not be the SSH listen address".into(),
                    ));
                }
                Some(addr)
            }
        };
        Ok(Validated {
            listen,
            allowlist,
            trusted_proxies,
            metrics_listen,
            login_grace: Duration::from_secs(self.login_grace_secs),
            shell_grace: Duration::from_secs(self.shell_grace_secs),
            auth_rejection: Duration::from_millis(self.auth_rejection_ms),
        })
    }
}

#[path = "config_models.rs"]
mod models;
pub use models::validate_models;

/// Whether one of two directories is the other or inside it (compared as written, and
/// as the filesystem resolves them when they exist).
fn overlaps(a: &Path, b: &Path) -> bool {
    let lexical = |p: &Path| -> PathBuf {
        let mut out = PathBuf::new();
        for c in p.components() {
            match c {
                std::path::Component::CurDir => {}
                std::path::Component::ParentDir => {
                    out.pop();
                }
                other => out.push(other),
            }
        }
        out
    };
    let resolved = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| lexical(p));
    let (la, lb) = (lexical(a), lexical(b));
    let (ra, rb) = (resolved(a), resolved(b));
    la.starts_with(&lb) || lb.starts_with(&la) || ra.starts_with(&rb) || rb.starts_with(&ra)
}

fn invalid(key: &'static str, message: String) -> ConfigError {
    ConfigError::Invalid { key, message }
}

/// Parse a CIDR, accepting a bare address as a single-host network.
fn parse_cidr(s: &str) -> Result<IpNet, ConfigError> {
    let s = s.trim();
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| {
            invalid(
                "allowlist",
                format!("`{s}` is not a CIDR (e.g. 10.0.0.0/8)"),
            )
        })
}

/// Merge `MOAT_<KEY>` variables into the parsed file. Every top-level key of [`Config`]
/// that is not a section can be set; its value is typed like the key's default (a list is
/// comma separated), so a key added to `Config` is settable without touching this.
fn apply_env(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Vec<String>, ConfigError> {
    let mut set = Vec::new();
    let keys = top_level_keys();
    let defaults = toml::Table::try_from(Config::default()).unwrap_or_default();
    let settable: Vec<&str> = keys
        .iter()
        .copied()
        .filter(|k| !matches!(defaults.get(*k), Some(toml::Value::Table(_))))
        .collect();
    for (var, raw) in env {
        let Some(suffix) = var.strip_prefix("MOAT_") else {
            continue;
        };
        // MOAT_TEST_* belongs to the test suite, MOAT_LOG to logging, MOAT_REVISION to
        // the build (build.rs; `cargo test` passes it on to what it runs).
        if suffix.starts_with("TEST_") || suffix == "LOG" || suffix == "REVISION" {
            continue;
        }
        let key = suffix.to_ascii_lowercase();
        let err = |message: String| ConfigError::Env {
            var: var.clone(),
            message,
        };
        if !keys.contains(&key.as_str()) {
            let names: Vec<String> = settable
                .iter()
                .map(|k| format!("MOAT_{}", k.to_ascii_uppercase()))
                .collect();
            return Err(err(format!("unknown key (settable: {})", names.join(", "))));
        }
        let value = env_value(defaults.get(&key), &raw).map_err(|why| match why {
            EnvValue::Section => err(format!("[{key}] is a section: set it in the config file")),
            EnvValue::Bad(what) => err(format!("`{raw}` is not {what}")),
        })?;
        table.insert(key.clone(), value);
        set.push(key);
    }
    Ok(set)
}

/// Why an environment value does not fit its key.
enum EnvValue {
    Section,
    Bad(&'static str),
}

/// `raw` typed like `default` (the key's default value; `None` for a key whose default is
/// unset, which takes a yes/no, a number or text as it reads).
fn env_value(default: Option<&toml::Value>, raw: &str) -> Result<toml::Value, EnvValue> {
    let boolean = |s: &str| match s.trim() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    };
    Ok(match default {
        Some(toml::Value::Table(_)) => return Err(EnvValue::Section),
        Some(toml::Value::Boolean(_)) => {
            toml::Value::Boolean(boolean(raw).ok_or(EnvValue::Bad("true or false"))?)
        }
        Some(toml::Value::Integer(_)) => toml::Value::Integer(
            raw.trim()
                .parse()
                .map_err(|_| EnvValue::Bad("a whole number"))?,
        ),
        Some(toml::Value::Float(_)) => {
            toml::Value::Float(raw.trim().parse().map_err(|_| EnvValue::Bad("a number"))?)
        }
        Some(toml::Value::Array(_)) => toml::Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_string()))
                .collect(),
        ),
        Some(toml::Value::String(_) | toml::Value::Datetime(_)) => {
            toml::Value::String(raw.to_string())
        }
        None => match (boolean(raw), raw.trim().parse::<i64>()) {
            (Some(b), _) if raw.trim() == "true" || raw.trim() == "false" => {
                toml::Value::Boolean(b)
            }
            (_, Ok(n)) => toml::Value::Integer(n),
            _ => toml::Value::String(raw.to_string()),
        },
    })
}

/// The names of [`Config`]'s top-level keys, read from its `Deserialize` impl (serde
/// hands every struct's field names to the deserializer), so the list cannot drift from
/// the struct.
fn top_level_keys() -> &'static [&'static str] {
    use serde::de::{self, Deserializer, Visitor};

    struct Names(&'static [&'static str]);

    impl<'de> Deserializer<'de> for &mut Names {
        type Error = de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("only the names are wanted"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Self::Error> {
            self.0 = fields;
            Err(de::Error::custom("only the names are wanted"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }

    let mut names = Names(&[]);
    let _ = Config::deserialize(&mut names);
    names.0
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
