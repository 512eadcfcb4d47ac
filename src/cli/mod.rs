//! The command line: `serve`, `org`, `token`, `admin-token`, `keys`. Every failure is one clear line on
//! stderr and a non-zero exit code.

mod admin;
mod keys;
mod serve;

use crate::config::{Config, Overrides};
use crate::store::tokens::TokenKind;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// rollcall: SCIM 2.0 provisioning server with SSO hooks.
#[derive(Debug, Parser)]
#[command(name = "rollcall", version, about)]
pub struct Cli {
    /// Database URL: sqlite:PATH or postgres://USER@HOST/DB [default: SQLite file in the data dir]
    #[arg(
        long,
        env = "ROLLCALL_DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// Directory for the embedded database and outgoing mail [default: ./data]
    #[arg(long, env = "ROLLCALL_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Optional TOML configuration file (flags and environment override it)
    #[arg(long, env = "ROLLCALL_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// File holding the master key that seals the secrets stored in the database (the base64 of 32 random bytes; ROLLCALL_MASTER_KEY gives the key itself) [default: <data-dir>/master.key, generated on first start; required on PostgreSQL]
    #[arg(long, env = "ROLLCALL_MASTER_KEY_FILE", global = true)]
    pub master_key_file: Option<PathBuf>,
    /// SQLite commits: `full` syncs every commit, so an acknowledged write survives a power cut; `normal` is faster but may lose the last commits to a power cut or OS crash [default: full]
    #[arg(long, env = "ROLLCALL_SQLITE_SYNCHRONOUS", global = true)]
    pub sqlite_synchronous: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

/// The settings of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "ROLLCALL_LISTEN")]
    listen: Option<String>,
    /// Public base URL used in resource locations [default: from the Host header] and invitation links [default: http://<listen address>]
    #[arg(long, env = "ROLLCALL_PUBLIC_URL")]
    public_url: Option<String>,
    /// SMTP server for outgoing mail: smtp://[USER:PASS@]HOST[:PORT][?tls=required] or smtps://... [default: .eml files in <data-dir>/outbox/]
    #[arg(long, env = "ROLLCALL_SMTP_URL", hide_env_values = true)]
    smtp_url: Option<String>,
    /// From address of outgoing mail [default: rollcall <rollcall@localhost>]
    #[arg(long, env = "ROLLCALL_MAIL_FROM")]
    mail_from: Option<String>,
    /// How often the outbox worker looks for due emails and webhooks, in milliseconds [default: 1000]
    #[arg(long, env = "ROLLCALL_OUTBOX_POLL_MS")]
    outbox_poll_ms: Option<u64>,
    /// How long the outbox worker's claim on an email or webhook being sent lasts, in milliseconds; renewed while the send runs, it is how long the sends of a crashed process wait before another worker takes them [default: 30000]
    #[arg(long, env = "ROLLCALL_OUTBOX_LEASE_MS")]
    outbox_lease_ms: Option<u64>,
    /// Internal hosts that webhooks and OIDC issuers may reach (host names, IP addresses or CIDR ranges, comma-separated); loopback, private and link-local addresses are refused otherwise [default: none]
    #[arg(long, env = "ROLLCALL_OUTBOUND_ALLOW_HOSTS", value_delimiter = ',')]
    outbound_allow_hosts: Vec<String>,
    /// How many days an invitation link in a joining email stays valid [default: 7]
    #[arg(long, env = "ROLLCALL_INVITATION_TTL_DAYS")]
    invitation_ttl_days: Option<u32>,
    /// How many seconds a session's access token (JWT) stays valid [default: 900]
    #[arg(long, env = "ROLLCALL_ACCESS_TOKEN_TTL_SECS")]
    access_token_ttl_secs: Option<u64>,
    #[command(flatten)]
    rate_limits: RateLimitArgs,
}

impl ServeArgs {
    fn apply(self, o: &mut Overrides) {
        o.listen = self.listen;
        o.public_url = self.public_url;
        o.smtp_url = self.smtp_url;
        o.mail_from = self.mail_from;
        o.outbox_poll_ms = self.outbox_poll_ms;
        o.outbox_lease_ms = self.outbox_lease_ms;
        o.outbound_allow_hosts =
            (!self.outbound_allow_hosts.is_empty()).then_some(self.outbound_allow_hosts);
        o.invitation_ttl_days = self.invitation_ttl_days;
        o.access_token_ttl_secs = self.access_token_ttl_secs;
        self.rate_limits.apply(o);
    }
}

/// The rate limits of `serve` (0 turns one off).
#[derive(Debug, Args)]
pub struct RateLimitArgs {
    /// SCIM and admin API requests per second, per client address and per token [default: 20000]
    #[arg(long, env = "ROLLCALL_RATE_LIMIT_API_PER_SECOND")]
    rate_limit_api_per_second: Option<u32>,
    /// Sign-in, session, invitation and SSO requests per second per client address [default: 50]
    #[arg(long, env = "ROLLCALL_RATE_LIMIT_SIGN_IN_PER_SECOND")]
    rate_limit_sign_in_per_second: Option<u32>,
    /// Failed authentication attempts (bad tokens, bad refresh tokens, wrong codes) per minute per client address; past it the address gets 429 for a minute [default: 100]
    #[arg(long, env = "ROLLCALL_RATE_LIMIT_AUTH_FAILURES_PER_MINUTE")]
    rate_limit_auth_failures_per_minute: Option<u32>,
    /// Reverse proxies (IP addresses, comma-separated) whose X-Forwarded-For names the client [default: none]
    #[arg(long, env = "ROLLCALL_TRUSTED_PROXIES", value_delimiter = ',')]
    trusted_proxies: Option<Vec<String>>,
}

impl RateLimitArgs {
    fn apply(self, o: &mut Overrides) {
        o.rate_limit_api_per_second = self.rate_limit_api_per_second;
        o.rate_limit_sign_in_per_second = self.rate_limit_sign_in_per_second;
        o.rate_limit_auth_failures_per_minute = self.rate_limit_auth_failures_per_minute;
        o.trusted_proxies = self.trusted_proxies;
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply migrations and serve SCIM until SIGINT/SIGTERM
    Serve {
        #[command(flatten)]
        settings: ServeArgs,
    },
    /// Apply the database migrations and exit (every command also does this itself)
    Migrate,
    /// Manage organizations
    #[command(subcommand)]
    Org(OrgCommand),
    /// Manage SCIM bearer tokens
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage admin API bearer tokens (for /admin/v1)
    #[command(subcommand, name = "admin-token")]
    AdminToken(AdminTokenCommand),
    /// Manage the keys that sign session access tokens (published at /.well-known/jwks.json)
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a new key the signer; the old key stays published until its tokens expire.
    /// Running servers pick it up at once; prints the new key id
    Rotate,
    /// List the signing keys (ids and dates, never the keys)
    List,
    /// Re-seal every secret stored in the database under a new master key, in one
    /// transaction; prints how many values of each kind moved. Stop rollcall first, and
    /// start it with the new key afterwards (the old one no longer opens anything)
    #[command(name = "rotate-master")]
    RotateMaster {
        /// File holding the new master key (base64 of 32 random bytes); ROLLCALL_NEW_MASTER_KEY gives the key itself
        #[arg(long, env = "ROLLCALL_NEW_MASTER_KEY_FILE")]
        new_master_key_file: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an organization; prints its id
    Create {
        /// The organization's name (unique, case-insensitive)
        name: String,
        /// Seats in its subscription
        #[arg(long)]
        seats: Option<u32>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a SCIM bearer token; prints it (only its hash is stored)
    Create {
        /// Organization name or id
        #[arg(long)]
        org: String,
        /// What the token is for, e.g. "Okta production"
        #[arg(long, default_value = "scim")]
        label: String,
    },
    /// List an organization's tokens
    List {
        /// Organization name or id
        #[arg(long)]
        org: String,
    },
    /// Revoke a token by id
    Revoke {
        /// The token id (from `token list`)
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminTokenCommand {
    /// Create an admin API token; prints it (only its hash is stored)
    Create {
        /// Organization name or id
        #[arg(long)]
        org: String,
        /// Who or what the token is for; audit log entries name it as `admin:<label>`
        #[arg(long, default_value = "admin")]
        label: String,
    },
    /// List an organization's admin tokens
    List {
        /// Organization name or id
        #[arg(long)]
        org: String,
    },
    /// Revoke an admin token by id
    Revoke {
        /// The token id (from `admin-token list`)
        id: String,
    },
}

impl From<AdminTokenCommand> for TokenCommand {
    fn from(c: AdminTokenCommand) -> TokenCommand {
        match c {
            AdminTokenCommand::Create { org, label } => TokenCommand::Create { org, label },
            AdminTokenCommand::List { org } => TokenCommand::List { org },
            AdminTokenCommand::Revoke { id } => TokenCommand::Revoke { id },
        }
    }
}

/// A secret from the environment (None if unset or empty).
fn env_secret(name: &str) -> Option<secrecy::SecretString> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .map(secrecy::SecretString::from)
}

/// A command failure: printed as `error: ...`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CliError(pub String);

impl From<crate::config::ConfigError> for CliError {
    fn from(e: crate::config::ConfigError) -> Self {
        CliError(e.to_string())
    }
}

impl From<crate::store::StoreError> for CliError {
    fn from(e: crate::store::StoreError) -> Self {
        CliError(e.to_string())
    }
}

/// Parses arguments, runs the command, maps the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    crate::telemetry::init();
    crate::tls::ensure_crypto_provider();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Help and version as clap prints them; any other argument error as one line.
fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return if e.use_stderr() {
            ExitCode::from(2)
        } else {
            ExitCode::SUCCESS
        };
    }
    let rendered = e.render().to_string();
    // clap's message is its first paragraph (the names of missing arguments follow on
    // indented lines); the usage block after it is left to --help.
    let message: Vec<&str> = rendered
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    let message = message.join(" ");
    let message = message.strip_prefix("error: ").unwrap_or(&message);
    eprintln!("error: {message} (see --help)");
    ExitCode::from(2)
}

async fn run(cli: Cli) -> Result<(), CliError> {
    let mut overrides = Overrides {
        config_file: cli.config,
        database_url: cli.database_url,
        data_dir: cli.data_dir,
        sqlite_synchronous: cli.sqlite_synchronous,
        master_key_file: cli.master_key_file,
        // From the environment only: a key on the command line shows in `ps`.
        master_key: env_secret("ROLLCALL_MASTER_KEY"),
        ..Overrides::default()
    };
    match cli.command {
        Command::Serve { settings } => {
            settings.apply(&mut overrides);
            serve::run(Config::load(&overrides)?).await
        }
        Command::Migrate => admin::migrate(Config::load(&overrides)?).await,
        Command::Org(cmd) => admin::org(Config::load(&overrides)?, cmd).await,
        Command::Token(cmd) => admin::token(Config::load(&overrides)?, TokenKind::Scim, cmd).await,
        Command::AdminToken(cmd) => {
            admin::token(Config::load(&overrides)?, TokenKind::Admin, cmd.into()).await
        }
        Command::Keys(cmd) => keys::run(Config::load(&overrides)?, cmd).await,
    }
}
