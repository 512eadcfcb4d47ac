//! Configuration: defaults, then an optional TOML file, then `ROLLCALL_*` environment
//! variables and flags (clap merges those two). Validated once at start-up.

pub use crate::outbound::Destinations;
pub use crate::store::SqliteSynchronous;
use crate::store::seal::MasterKey;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Limits of the SCIM surface, advertised in `/ServiceProviderConfig` and enforced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimLimits {
    /// Largest page (`count`) served; larger requests are clamped.
    pub max_results: usize,
    /// Page size when the client sends no `count`.
    pub default_count: usize,
    /// Most operations in one `/Bulk` request.
    pub bulk_max_operations: usize,
    /// Largest `/Bulk` body in bytes.
    pub bulk_max_payload: usize,
    /// Largest body of any other request in bytes.
    pub max_body: usize,
}

impl Default for ScimLimits {
    fn default() -> Self {
        ScimLimits {
            max_results: 1000,
            default_count: 100,
            bulk_max_operations: 1000,
            bulk_max_payload: 1024 * 1024,
            max_body: 1024 * 1024,
        }
    }
}

/// Rate limits (see `http::rate_limit`); 0 turns a limit off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// SCIM and admin API requests per second, per client address and per token.
    pub api_per_second: u32,
    /// Sign-in, session, invitation and SSO requests per second per client address.
    pub sign_in_per_second: u32,
    /// Failed authentication attempts per minute per client address.
    pub auth_failures_per_minute: u32,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        // An IdP sends a few hundred requests a second at most, and the benchmark's
        // seeding a few thousand from one address with one token: far below the first.
        RateLimitConfig {
            api_per_second: 20_000,
            sign_in_per_second: 50,
            auth_failures_per_minute: 100,
            trusted_proxies: Vec::new(),
        }
    }
}

/// The whole configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// `sqlite:PATH` or `postgres://...`; secret because it may carry a password.
    pub database_url: SecretString,
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// Public base URL (e.g. `https://rollcall.example.com`) for `meta.location`; when
    /// absent, taken from the request's Host header.
    pub public_url: Option<String>,
    pub scim: ScimLimits,
    pub outbox: OutboxConfig,
    /// How long an invitation link stays valid, in days.
    pub invitation_ttl_days: u32,
    /// How long a session's access token (JWT) is valid, in seconds.
    pub access_token_ttl_secs: u64,
    /// How SQLite commits (ignored on PostgreSQL).
    pub sqlite_synchronous: SqliteSynchronous,
    pub rate_limits: RateLimitConfig,
    /// Where webhooks and OIDC requests may go: public addresses and the internal hosts
    /// an operator allowed (`crate::outbound`).
    pub outbound: Destinations,
    /// Seals the secrets stored in the database (`crate::store::seal`).
    pub master_key: Arc<MasterKey>,
    /// Where the master key came from.
    pub master_key_source: MasterKeySource,
}

/// Where the master key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterKeySource {
    /// `ROLLCALL_MASTER_KEY`.
    Environment,
    /// `--master-key-file` (or `master_key_file` in the config file).
    File(PathBuf),
    /// Generated into (or read from) the data directory: the embedded default.
    DataDir(PathBuf),
}

/// The master key file rollcall generates in the data directory on SQLite.
pub const DATA_DIR_KEY_FILE: &str = "master.key";

/// How queued emails and webhooks leave (see `crate::outbox`).
#[derive(Debug, Clone)]
pub struct OutboxConfig {
    /// `smtp://[user:pass@]host[:port][?tls=required]` or `smtps://...`; None writes
    /// `.eml` files under `<data-dir>/outbox/`. Secret: it may carry a password.
    pub smtp_url: Option<SecretString>,
    /// The From of every email, e.g. `rollcall <noreply@example.com>`.
    pub mail_from: String,
    /// How often an idle worker looks for due rows.
    pub poll_interval: Duration,
    /// The lease on a row being sent (renewed while the send runs): how long the rows of
    /// a crashed process wait before another worker sends them.
    pub lease: Duration,
}

/// The From used when none is configured.
pub const DEFAULT_MAIL_FROM: &str = "rollcall <rollcall@localhost>";

/// A configuration problem, reported as one line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {reason}")]
    File { path: String, reason: String },
    #[error("invalid {what}: {reason}")]
    Invalid { what: &'static str, reason: String },
    #[error("cannot create data directory {path}: {reason}")]
    DataDir { path: String, reason: String },
    /// The master key is missing, unreadable or malformed (a sentence of its own).
    #[error("{0}")]
    MasterKey(String),
}

/// Settings given (None where not): from flags and environment, and, read the same way
/// by their field names, from the TOML file. Unknown keys in the file are an error.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct Overrides {
    /// `--config`: where the file is, so not a key in it.
    #[serde(skip)]
    pub config_file: Option<PathBuf>,
    pub database_url: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub listen: Option<String>,
    pub public_url: Option<String>,
    /// The SCIM limits: file keys only (no flag sets them).
    pub max_results: Option<usize>,
    pub bulk_max_operations: Option<usize>,
    pub bulk_max_payload: Option<usize>,
    pub smtp_url: Option<String>,
    pub mail_from: Option<String>,
    pub outbox_poll_ms: Option<u64>,
    pub outbox_lease_ms: Option<u64>,
    pub outbound_allow_hosts: Option<Vec<String>>,
    pub invitation_ttl_days: Option<u32>,
    pub access_token_ttl_secs: Option<u64>,
    pub sqlite_synchronous: Option<String>,
    pub rate_limit_api_per_second: Option<u32>,
    pub rate_limit_sign_in_per_second: Option<u32>,
    pub rate_limit_auth_failures_per_minute: Option<u32>,
    pub trusted_proxies: Option<Vec<String>>,
    /// `ROLLCALL_MASTER_KEY`: the base64 of 32 bytes. Environment only: never a file key.
    #[serde(skip)]
    pub master_key: Option<SecretString>,
    pub master_key_file: Option<PathBuf>,
}

impl Overrides {
    /// These settings, each one not given taken from `under` (the file's).
    fn over(self, under: Overrides) -> Overrides {
        macro_rules! layered {
            ($($field:ident),* $(,)?) => {
                Overrides {
                    $($field: self.$field.or(under.$field),)*
                    // Neither can be a key of the file.
                    config_file: self.config_file,
                    master_key: self.master_key,
                }
            };
        }
        layered!(
            database_url,
            data_dir,
            listen,
            public_url,
            max_results,
            bulk_max_operations,
            bulk_max_payload,
            smtp_url,
            mail_from,
            outbox_poll_ms,
            outbox_lease_ms,
            outbound_allow_hosts,
            invitation_ttl_days,
            access_token_ttl_secs,
            sqlite_synchronous,
            rate_limit_api_per_second,
            rate_limit_sign_in_per_second,
            rate_limit_auth_failures_per_minute,
            trusted_proxies,
            master_key_file,
        )
    }
}

impl Config {
    /// Builds and validates the configuration; creates the data directory.
    pub fn load(o: &Overrides) -> Result<Config, ConfigError> {
        let file = match &o.config_file {
            Some(path) => read_file(path)?,
            None => Overrides::default(),
        };
        let o = o.clone().over(file);
        let data_dir = o
            .data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("./data"));
        crate::private_files::private_dir(&data_dir).map_err(|e| ConfigError::DataDir {
            path: data_dir.display().to_string(),
            reason: e.to_string(),
        })?;
        let database_url = o
            .database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite:{}", data_dir.join("rollcall.db").display()));
        validate_database_url(&database_url)?;
        let (master_key, master_key_source) = master_key(
            o.master_key.as_ref(),
            o.master_key_file.clone(),
            &data_dir,
            database_url.starts_with("sqlite:"),
        )?;
        let listen_text = o
            .listen
            .clone()
            .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
        let listen =
            listen_text
                .parse()
                .map_err(|e: std::net::AddrParseError| ConfigError::Invalid {
                    what: "listen address",
                    reason: format!("{listen_text:?}: {e} (expected e.g. 127.0.0.1:8080)"),
                })?;
        let public_url = o.public_url.clone();
        if let Some(url) = &public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(ConfigError::Invalid {
                what: "public URL",
                reason: format!("{url:?} must start with http:// or https://"),
            });
        }
        let mut scim = ScimLimits::default();
        if let Some(n) = o.max_results {
            scim.max_results = n.max(1);
        }
        if let Some(n) = o.bulk_max_operations {
            scim.bulk_max_operations = n.max(1);
        }
        if let Some(n) = o.bulk_max_payload {
            scim.bulk_max_payload = n.max(1024);
        }
        let smtp_url = o.smtp_url.clone();
        if let Some(url) = &smtp_url
            && !(url.starts_with("smtp://") || url.starts_with("smtps://"))
        {
            return Err(ConfigError::Invalid {
                what: "SMTP URL",
                reason: format!(
                    "{:?} must start with smtp:// or smtps://",
                    crate::store::redact_url(url)
                ),
            });
        }
        let mail_from = o
            .mail_from
            .clone()
            .unwrap_or_else(|| DEFAULT_MAIL_FROM.to_owned());
        if let Err(e) = mail_from.parse::<lettre::message::Mailbox>() {
            return Err(ConfigError::Invalid {
                what: "mail from address",
                reason: format!("{mail_from:?}: {e}"),
            });
        }
        let outbox = OutboxConfig {
            smtp_url: smtp_url.map(SecretString::from),
            mail_from,
            poll_interval: Duration::from_millis(o.outbox_poll_ms.unwrap_or(1000).max(10)),
            lease: outbox_lease(o.outbox_lease_ms)?,
        };
        let outbound = Destinations::allowing(
            o.outbound_allow_hosts.as_deref().unwrap_or_default(),
        )
        .map_err(|reason| ConfigError::Invalid {
            what: "outbound allowed host",
            reason,
        })?;
        let invitation_ttl_days = o
            .invitation_ttl_days
            .unwrap_or(crate::provisioning::invitations::DEFAULT_TTL_DAYS);
        if !(1..=365).contains(&invitation_ttl_days) {
            return Err(ConfigError::Invalid {
                what: "invitation TTL",
                reason: format!("{invitation_ttl_days} days: expected 1 to 365"),
            });
        }
        let access_token_ttl_secs = o
            .access_token_ttl_secs
            .unwrap_or(crate::sso::session::DEFAULT_ACCESS_TTL_SECS);
        if !(1..=crate::sso::session::MAX_ACCESS_TTL_SECS).contains(&access_token_ttl_secs) {
            return Err(ConfigError::Invalid {
                what: "access token TTL",
                reason: format!(
                    "{access_token_ttl_secs} seconds: expected 1 to {}",
                    crate::sso::session::MAX_ACCESS_TTL_SECS
                ),
            });
        }
        let sqlite_synchronous = match o.sqlite_synchronous.clone() {
            None => SqliteSynchronous::default(),
            Some(text) => text.parse().map_err(|reason| ConfigError::Invalid {
                what: "SQLite synchronous setting",
                reason,
            })?,
        };
        let rate_limits = rate_limits(&o)?;
        Ok(Config {
            database_url: SecretString::from(database_url),
            data_dir,
            listen,
            public_url: public_url.map(|u| u.trim_end_matches('/').to_owned()),
            scim,
            outbox,
            invitation_ttl_days,
            access_token_ttl_secs,
            sqlite_synchronous,
            rate_limits,
            outbound,
            master_key: Arc::new(master_key),
            master_key_source,
        })
    }

    /// The public base URL: `--public-url`, else `http://<listen address>` (the bound
    /// one, which differs from `listen` when the port was 0).
    pub fn public_base_url(&self, bound: SocketAddr) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{bound}"))
    }

    /// The database URL (handle with care: may contain a password).
    pub fn database_url(&self) -> &str {
        self.database_url.expose_secret()
    }
}

/// The rate limits and proxies given, else the defaults.
fn rate_limits(o: &Overrides) -> Result<RateLimitConfig, ConfigError> {
    let d = RateLimitConfig::default();
    let trusted_proxies = o
        .trusted_proxies
        .iter()
        .flatten()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse().map_err(|e| ConfigError::Invalid {
                what: "trusted proxy address",
                reason: format!("{p:?}: {e} (expected an IP address such as 10.0.0.2)"),
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(RateLimitConfig {
        api_per_second: o.rate_limit_api_per_second.unwrap_or(d.api_per_second),
        sign_in_per_second: o
            .rate_limit_sign_in_per_second
            .unwrap_or(d.sign_in_per_second),
        auth_failures_per_minute: o
            .rate_limit_auth_failures_per_minute
            .unwrap_or(d.auth_failures_per_minute),
        trusted_proxies,
    })
}

/// The master key: `ROLLCALL_MASTER_KEY`, else the key file given, else (SQLite only)
/// the data directory's key file, generated on first start.
fn master_key(
    env: Option<&SecretString>,
    file: Option<PathBuf>,
    data_dir: &Path,
    sqlite: bool,
) -> Result<(MasterKey, MasterKeySource), ConfigError> {
    let invalid = ConfigError::MasterKey;
    match (env, file) {
        (Some(_), Some(path)) => Err(invalid(format!(
            "both ROLLCALL_MASTER_KEY and the master key file {} are given: give one",
            path.display()
        ))),
        (Some(text), None) => Ok((
            MasterKey::from_base64(text.expose_secret())
                .map_err(|e| invalid(format!("invalid ROLLCALL_MASTER_KEY: {e}")))?,
            MasterKeySource::Environment,
        )),
        (None, Some(path)) => Ok((read_key_file(&path)?, MasterKeySource::File(path))),
        (None, None) if sqlite => {
            let path = data_dir.join(DATA_DIR_KEY_FILE);
            generate_key_file(&path)?;
            Ok((read_key_file(&path)?, MasterKeySource::DataDir(path)))
        }
        (None, None) => Err(invalid(
            "PostgreSQL needs a master key that every rollcall process shares, to seal the \
             secrets stored in the database: set ROLLCALL_MASTER_KEY to the base64 of 32 \
             random bytes (e.g. `openssl rand -base64 32`) or give --master-key-file PATH \
             (master_key_file in the config file)"
                .into(),
        )),
    }
}

/// Reads a master key file (base64 text).
pub fn read_key_file(path: &Path) -> Result<MasterKey, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::MasterKey(format!(
            "cannot read the master key file {}: {e}",
            path.display()
        ))
    })?;
    MasterKey::from_base64(&text).map_err(|e| {
        ConfigError::MasterKey(format!("invalid master key file {}: {e}", path.display()))
    })
}

/// Writes a new random key to `path` (0600) unless a key file is there. Written aside and
/// linked into place, so that processes starting together never read half a key and
/// all end up with the first one written.
fn generate_key_file(path: &Path) -> Result<(), ConfigError> {
    if path.exists() {
        return Ok(());
    }
    let failed = |e: String| {
        ConfigError::MasterKey(format!(
            "cannot create the master key file {}: {e}",
            path.display()
        ))
    };
    let text = MasterKey::generate_base64().map_err(|e| failed(e.to_string()))?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let written = (|| {
        use std::io::Write as _;
        let mut f = crate::private_files::create_private(&tmp)?;
        writeln!(f, "{}", text.expose_secret())?;
        f.sync_all()?;
        match std::fs::hard_link(&tmp, path) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(e),
            _ => Ok(()),
        }
    })();
    let _ = std::fs::remove_file(&tmp);
    written.map_err(|e| failed(e.to_string()))
}

/// The outbox lease: at least 300 ms (it is renewed every third of it), at most an hour.
fn outbox_lease(ms: Option<u64>) -> Result<Duration, ConfigError> {
    let Some(ms) = ms else {
        return Ok(crate::outbox::DEFAULT_CLAIM_FOR);
    };
    if !(300..=3_600_000).contains(&ms) {
        return Err(ConfigError::Invalid {
            what: "outbox lease",
            reason: format!("{ms} ms: expected 300 to 3600000"),
        });
    }
    Ok(Duration::from_millis(ms))
}

fn read_file(path: &Path) -> Result<Overrides, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::File {
        path: path.display().to_string(),
        reason: e.message().to_owned(),
    })
}

fn validate_database_url(url: &str) -> Result<(), ConfigError> {
    if url.starts_with("sqlite:")
        || url.starts_with("postgres://")
        || url.starts_with("postgresql://")
    {
        Ok(())
    } else {
        Err(ConfigError::Invalid {
            what: "database URL",
            reason: format!(
                "{:?} is neither sqlite:PATH nor postgres://...",
                crate::store::redact_url(url)
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_to_sqlite_in_the_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("nested/data");
        let c = Config::load(&Overrides {
            data_dir: Some(data.clone()),
            ..Overrides::default()
        })
        .unwrap();
        assert!(data.is_dir());
        assert_eq!(
            c.database_url(),
            format!("sqlite:{}", data.join("rollcall.db").display())
        );
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
    }

    #[test]
    fn rejects_unknown_database_schemes_and_config_keys() {
        let dir = tempfile::tempdir().unwrap();
        let err = Config::load(&Overrides {
            data_dir: Some(dir.path().into()),
            database_url: Some("mysql://u:secret@h/db".into()),
            ..Overrides::default()
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("neither sqlite"), "{err}");
        assert!(!err.contains("secret"), "password leaked: {err}");
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:1\"\nlisten_port = 3\n").unwrap();
        let err = Config::load(&Overrides {
            config_file: Some(file),
            data_dir: Some(dir.path().into()),
            ..Overrides::default()
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("listen_port"), "{err}");
    }

    #[test]
    fn checks_outbox_settings_without_printing_the_smtp_password() {
        let dir = tempfile::tempdir().unwrap();
        let load = |smtp: &str, from: &str| {
            Config::load(&Overrides {
                data_dir: Some(dir.path().into()),
                smtp_url: Some(smtp.into()),
                mail_from: Some(from.into()),
                ..Overrides::default()
            })
        };
        let err = load("http://u:hunter2@mail.test", "a@b.test")
            .unwrap_err()
            .to_string();
        assert!(err.contains("smtp://") && !err.contains("hunter2"), "{err}");
        let err = load("smtp://mail.test", "not an address")
            .unwrap_err()
            .to_string();
        assert!(err.contains("mail from"), "{err}");
        let c = load("smtps://u:hunter2@mail.test", "Acme <a@b.test>").unwrap();
        assert_eq!(
            c.sqlite_synchronous,
            SqliteSynchronous::Full,
            "durable by default"
        );
        assert!(!format!("{c:?}").contains("hunter2"));
        assert_eq!(c.outbox.poll_interval, Duration::from_secs(1));
    }

    #[test]
    fn the_outbox_lease_and_the_allowed_outbound_hosts_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let load = |lease: Option<u64>, hosts: Option<Vec<&str>>| {
            Config::load(&Overrides {
                data_dir: Some(dir.path().into()),
                outbox_lease_ms: lease,
                outbound_allow_hosts: hosts.map(|h| h.into_iter().map(String::from).collect()),
                ..Overrides::default()
            })
        };
        let c = load(None, None).unwrap();
        assert_eq!(c.outbox.lease, Duration::from_secs(30));
        assert!(!c.outbound.permits_ip("127.0.0.1".parse().unwrap()));
        assert!(c.outbound.permits_ip("93.184.216.34".parse().unwrap()));
        assert_eq!(
            load(Some(2000), None).unwrap().outbox.lease,
            Duration::from_secs(2)
        );
        let err = load(Some(10), None).unwrap_err().to_string();
        assert!(err.contains("outbox lease"), "{err}");
        let c = load(None, Some(vec!["10.0.0.0/8", "hooks.internal", "::1"])).unwrap();
        assert!(c.outbound.permits_ip("10.1.2.3".parse().unwrap()));
        assert!(c.outbound.permits_ip("::1".parse().unwrap()));
        assert!(!c.outbound.permits_ip("192.168.0.1".parse().unwrap()));
        let err = load(None, Some(vec!["http://x/?a"]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("outbound allowed host"), "{err}");
    }

    #[test]
    fn the_embedded_default_generates_a_private_master_key_once() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let load = || {
            Config::load(&Overrides {
                data_dir: Some(data.clone()),
                ..Overrides::default()
            })
            .unwrap()
        };
        let first = load();
        let file = data.join(DATA_DIR_KEY_FILE);
        assert_eq!(
            first.master_key_source,
            MasterKeySource::DataDir(file.clone())
        );
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(&data), 0o700);
        assert_eq!(load().master_key.id(), first.master_key.id(), "reused");
    }

    #[test]
    fn postgres_needs_a_master_key_given_one_way() {
        let dir = tempfile::tempdir().unwrap();
        let key = MasterKey::generate_base64().unwrap();
        let key_file = dir.path().join("k");
        std::fs::write(&key_file, key.expose_secret()).unwrap();
        let load = |env: Option<&str>, file: Option<&Path>| {
            Config::load(&Overrides {
                data_dir: Some(dir.path().into()),
                database_url: Some("postgres://u@db.internal/rollcall".into()),
                master_key: env.map(SecretString::from),
                master_key_file: file.map(Path::to_path_buf),
                ..Overrides::default()
            })
        };
        let err = load(None, None).unwrap_err().to_string();
        assert!(
            err.contains("ROLLCALL_MASTER_KEY") && err.contains("--master-key-file"),
            "{err}"
        );
        assert!(
            !dir.path().join(DATA_DIR_KEY_FILE).exists(),
            "none generated"
        );
        let from_env = load(Some(key.expose_secret()), None).unwrap();
        assert_eq!(from_env.master_key_source, MasterKeySource::Environment);
        let from_file = load(None, Some(&key_file)).unwrap();
        assert_eq!(from_file.master_key.id(), from_env.master_key.id());
        let err = load(Some(key.expose_secret()), Some(&key_file))
            .unwrap_err()
            .to_string();
        assert!(err.contains("give one"), "{err}");
        let err = load(Some("hunter2-not-a-key"), None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("32 random bytes") && !err.contains("hunter2"),
            "{err}"
        );
        assert!(!format!("{from_env:?}").contains(key.expose_secret()));
    }

    #[test]
    fn sqlite_synchronous_is_full_or_normal() {
        let dir = tempfile::tempdir().unwrap();
        let load = |value: &str| {
            Config::load(&Overrides {
                data_dir: Some(dir.path().into()),
                sqlite_synchronous: Some(value.into()),
                ..Overrides::default()
            })
        };
        assert_eq!(
            load("normal").unwrap().sqlite_synchronous,
            SqliteSynchronous::Normal
        );
        assert_eq!(
            load("FULL").unwrap().sqlite_synchronous,
            SqliteSynchronous::Full
        );
        let err = load("off").unwrap_err().to_string();
        assert!(
            err.contains("SQLite synchronous") && err.contains("full or normal"),
            "{err}"
        );
    }
}
