//! The one typed configuration, read once at start from, in rising
//! order of precedence: built-in defaults, a TOML file (`--config PATH` or
//! `APIOME_CONFIG`), environment variables, then flags. [`load`] merges
//! them with `figment`; [`Config::from_settings`] checks the result.
//!
//! Every key of the file is a field of [`Settings`]; [`KEYS`] names, for
//! each, its environment variable and its flag (if it has one).
//! `docs/apiome.toml` lists them all and a test loads it.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand, ValueEnum};
use figment::Figment;
use figment::providers::{Env, Format as _, Serialized, Toml};
use serde::{Deserialize, Deserializer, Serialize};
use store::DatabaseUrl;
use url::Url;

/// The command line of `apiome`. `apiome` alone serves, taking the serve
/// flags; a subcommand takes its own flags only.
#[derive(Debug, Parser)]
#[command(
    name = "apiome",
    version,
    about = "apiome, the API of Me: a personal data-consent broker"
)]
pub struct Cli {
    /// What every command needs: the config file, the data and the database.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The serve flags, for `apiome` without a subcommand.
    #[command(flatten)]
    pub serve: ServeArgs,
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// The command to run, the config file and the settings given as
    /// flags. Serve flags before `serve` count as if after it (after wins).
    ///
    /// # Errors
    /// Serve flags before another subcommand, which would ignore them.
    pub fn into_parts(self) -> Result<(Command, Option<PathBuf>, Settings), clap::Error> {
        let (command, serve) = match self.command {
            None => (Command::Serve(self.serve.clone()), self.serve),
            Some(Command::Serve(serve)) => {
                let serve = serve.or(self.serve);
                (Command::Serve(serve.clone()), serve)
            }
            Some(_) if self.serve.into_settings() != Settings::default() => {
                return Err(clap::Error::raw(
                    clap::error::ErrorKind::ArgumentConflict,
                    "serve flags (--bind, --admin-bind, --public-url, ...) are only for `apiome serve`\n",
                ));
            }
            Some(command) => (command, ServeArgs::default()),
        };
        let mut flags = serve.into_settings();
        self.global.fill(&mut flags);
        Ok((command, self.global.config, flags))
    }
}

/// Flags every subcommand takes.
#[derive(Clone, Debug, Default, Args)]
pub struct GlobalArgs {
    /// A TOML configuration file (every key: docs/apiome.toml); the
    /// environment overrides it, flags override both.
    #[arg(long, env = "APIOME_CONFIG", global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Directory for the SQLite database and the server's keys [default: ./data].
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// `postgres://...` to use PostgreSQL; SQLite under the data directory when unset.
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Log format [default: text].
    #[arg(long, value_enum, global = true)]
    pub log_format: Option<LogFormat>,
    /// Allow webhook URLs on this machine (`http://localhost`, `127.0.0.1`,
    /// `[::1]`), for development only; otherwise (the default) webhooks must
    /// be `https://` to a global address. Never private networks either way.
    #[arg(long, global = true)]
    pub webhook_allow_loopback: bool,
}

impl GlobalArgs {
    fn fill(&self, flags: &mut Settings) {
        flags.data_dir.clone_from(&self.data_dir);
        flags.database_url = self.database_url.clone().map(Secret::new);
        flags.log_format = self.log_format;
        flags.webhook_allow_loopback = self.webhook_allow_loopback.then_some(true);
    }
}

/// Flags of `apiome serve` (and of `apiome` alone).
#[derive(Clone, Debug, Default, Args)]
pub struct ServeArgs {
    /// Address to listen on, HOST:PORT [default: 127.0.0.1:8080].
    #[arg(long, value_name = "HOST:PORT")]
    pub bind: Option<String>,
    /// Address of the admin listener, HOST:PORT: `GET /metrics` is served
    /// there and never on `--bind`. Keep it on loopback or a private
    /// network the scraper reaches [default: 127.0.0.1:9090].
    #[arg(long, value_name = "HOST:PORT")]
    pub admin_bind: Option<String>,
    /// The URL people and companies reach this server at (the passkey relying
    /// party, the OAuth issuer); `http://localhost:PORT` when unset.
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Requests a second each company may make to the token endpoint and
    /// to `POST /v1/requests` (bursts of twice that); 0 turns it off [default: 500].
    #[arg(long)]
    pub rate_limit: Option<u32>,
    /// Accounts each client address (IPv6: each /64) may create per hour;
    /// 0 turns the limit off [default: 20].
    #[arg(long)]
    pub sign_ups_per_hour: Option<u32>,
    /// Reverse proxies whose `X-Forwarded-For` is believed (comma-separated
    /// IP addresses), for sign-in throttling by the client's address.
    #[arg(long = "trusted-proxy", value_delimiter = ',', value_name = "IP")]
    pub trusted_proxies: Vec<String>,
    /// Where mail to people goes: `smtps://user:pass@host:465` (implicit
    /// TLS), `smtp://user:pass@host:587?tls=required` (STARTTLS), or plain
    /// `smtp://host:port` to this machine only. Unset: each mail is written
    /// to `DATA_DIR/outbox/<id>.eml` instead.
    #[arg(long, value_name = "URL")]
    pub smtp_url: Option<String>,
    /// The `From:` of mail to people; `apiome@<public host>` when unset.
    #[arg(long)]
    pub mail_from: Option<String>,
    /// An OpenTelemetry collector's OTLP/HTTP URL (`http://127.0.0.1:4318`;
    /// spans go to its `/v1/traces`). Unset: no traces are exported.
    #[arg(long, value_name = "URL")]
    pub otlp_endpoint: Option<String>,
    /// The law consent is given under, as consent receipts name it
    /// (ISO/IEC TS 27560 `jurisdiction`) [default: EU].
    #[arg(long)]
    pub jurisdiction: Option<String>,
}

impl ServeArgs {
    /// These flags, each missing one taken from `earlier`.
    fn or(self, earlier: ServeArgs) -> ServeArgs {
        ServeArgs {
            bind: self.bind.or(earlier.bind),
            admin_bind: self.admin_bind.or(earlier.admin_bind),
            public_url: self.public_url.or(earlier.public_url),
            rate_limit: self.rate_limit.or(earlier.rate_limit),
            sign_ups_per_hour: self.sign_ups_per_hour.or(earlier.sign_ups_per_hour),
            trusted_proxies: if self.trusted_proxies.is_empty() {
                earlier.trusted_proxies
            } else {
                self.trusted_proxies
            },
            smtp_url: self.smtp_url.or(earlier.smtp_url),
            mail_from: self.mail_from.or(earlier.mail_from),
            otlp_endpoint: self.otlp_endpoint.or(earlier.otlp_endpoint),
            jurisdiction: self.jurisdiction.or(earlier.jurisdiction),
        }
    }

    fn into_settings(self) -> Settings {
        Settings {
            bind: self.bind,
            admin_bind: self.admin_bind,
            public_url: self.public_url,
            rate_limit: self.rate_limit,
            sign_ups_per_hour: self.sign_ups_per_hour,
            trusted_proxies: (!self.trusted_proxies.is_empty()).then_some(self.trusted_proxies),
            smtp_url: self.smtp_url.map(Secret::new),
            mail_from: self.mail_from,
            otlp_endpoint: self.otlp_endpoint,
            jurisdiction: self.jurisdiction,
            ..Settings::default()
        }
    }
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web pages and the API (the default).
    Serve(ServeArgs),
    /// Bring the database schema up to date, then exit.
    Migrate,
    /// Print the OpenAPI document of the JSON API.
    Openapi,
    /// Write a consistent copy of the database while it serves: SQLite via
    /// `VACUUM INTO`, PostgreSQL via `pg_dump --format=custom`. Keys are not
    /// in it: back up `DATA_DIR/keys/` (or `APIOME_MASTER_KEY`) apart.
    Backup {
        /// The file to write (must not exist).
        #[arg(long)]
        to: PathBuf,
    },
    /// Put a backup back (every `apiome serve` stopped): SQLite's file into
    /// place, or `pg_restore --clean` into the PostgreSQL database.
    Restore {
        /// The backup file.
        #[arg(long)]
        from: PathBuf,
        /// Replace an existing SQLite database.
        #[arg(long)]
        force: bool,
    },
    /// The transparency log.
    Ledger {
        /// What to do with it.
        #[command(subcommand)]
        command: LedgerCommand,
    },
    /// Companies as OAuth clients.
    Company {
        /// What to do.
        #[command(subcommand)]
        command: CompanyCommand,
    },
    /// People: look them up (never what they share).
    Person {
        /// What to do.
        #[command(subcommand)]
        command: PersonCommand,
    },
    /// People's payouts: list them, confirm one sent, fail one.
    Payout {
        /// What to do.
        #[command(subcommand)]
        command: PayoutCommand,
    },
    /// Auditors as OAuth clients (client credentials, `ledger:read`).
    Auditor {
        /// What to do.
        #[command(subcommand)]
        command: AuditorCommand,
    },
    /// The OAuth access-token signing keys.
    Keys {
        /// What to do.
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// The configuration: file, environment and flags.
    Config {
        /// What to do.
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

/// Subcommands of `apiome payout`.
#[derive(Debug, Subcommand)]
pub enum PayoutCommand {
    /// List payouts, oldest first, one JSON object per line, with the full
    /// destination to send the money to (at most 1000).
    List {
        /// Only those waiting to be sent.
        #[arg(long)]
        pending: bool,
    },
    /// Record that a pending payout was sent: the money leaves the books.
    Confirm {
        /// The payout's id.
        id: String,
        /// The bank's or payment service's reference for the transfer.
        #[arg(long)]
        transfer_id: String,
    },
    /// Record that a pending payout failed: the money goes back to the
    /// person's earnings.
    Fail {
        /// The payout's id.
        id: String,
        /// Why, in a line the person will read.
        #[arg(long)]
        reason: String,
    },
}

/// Subcommands of `apiome config`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check the configuration and print the effective one as TOML, secrets
    /// masked, each value with where it came from (file, environment, flag
    /// or default); exits non-zero naming the first key that does not work.
    Check,
}

/// Subcommands of `apiome company`.
#[derive(Debug, Subcommand)]
pub enum CompanyCommand {
    /// Register a company; prints its `client_id` and `client_secret` (shown once).
    Create {
        /// The name people see on the consent screen.
        #[arg(long)]
        name: String,
        /// A redirect URI (exact match); repeat for several.
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        /// An `https://` URL called (signed) when a request is decided or a grant revoked.
        #[arg(long)]
        webhook_url: Option<String>,
        /// CIBA ping mode: the `https://` URL called with `{"auth_req_id"}`
        /// when a backchannel request is decided (poll mode without it).
        #[arg(long)]
        ciba_ping_endpoint: Option<String>,
        /// Every token request must carry a DPoP proof (RFC 9449) with the
        /// server's nonce, and every access token is bound to its key.
        #[arg(long)]
        dpop: bool,
        /// A sandbox company: its requests reach only synthetic people
        /// (`sandbox-allow`, `sandbox-ask-N`, `sandbox-decline`), never a
        /// real one, and its offers and wallet are in `XTS` (test money).
        #[arg(long)]
        sandbox: bool,
        /// How people reach the company about their data (an address or a
        /// URL); every consent receipt names it as the controller's contact.
        #[arg(long)]
        contact: Option<String>,
    },
    /// Set or remove a company's webhook URL; prints its signing secret
    /// (made once, random; see `rotate-webhook-secret`).
    Webhook {
        /// The company's client id.
        client_id: String,
        /// The `https://` URL to call.
        #[arg(long, conflicts_with = "remove", required_unless_present = "remove")]
        url: Option<String>,
        /// Stop calling.
        #[arg(long)]
        remove: bool,
    },
    /// Replace a company's webhook signing secret; prints the new one. The
    /// replaced one goes on signing for 24 hours.
    RotateWebhookSecret {
        /// The company's client id.
        client_id: String,
    },
    /// List the companies, one JSON object per line (no secrets).
    List,
    /// Show one company: its client, live grants and wallet (no secrets).
    Show {
        /// The company's client id.
        client_id: String,
    },
    /// Credit a company's wallet with a payment received, e.g. `fund CLIENT_ID 10.00 EUR`.
    Fund {
        /// The company's client id.
        client_id: String,
        /// Whole units with up to six decimals: `10`, `10.50`, `0.05`.
        #[arg(allow_hyphen_values = true)]
        amount: String,
        /// ISO 4217 code, e.g. `EUR`.
        currency: String,
        /// An idempotency id (a bank reference, say): funding twice with
        /// the same id credits once. Random when absent.
        #[arg(long)]
        transfer_id: Option<String>,
    },
    /// Print an initial access token for dynamic registration (RFC 7591),
    /// valid for 24 hours.
    RegistrationToken,
    /// Disable a company at once, in every server: its token requests get
    /// `invalid_client`, its access tokens stop working and its refresh
    /// tokens end. `enable` lets it get new tokens (old ones stay dead).
    Disable {
        /// The company's client id.
        client_id: String,
    },
    /// Enable a disabled company again.
    Enable {
        /// The company's client id.
        client_id: String,
    },
    /// Delete a company for good. Refused while it has live grants, open
    /// requests or money in its wallet (it says what) unless `--force`.
    Delete {
        /// The company's client id.
        client_id: String,
        /// Revoke its live grants, expire its open requests (voiding their
        /// offers) and refund its wallet, then delete it.
        #[arg(long)]
        force: bool,
    },
    /// Give a company (or auditor) a new client secret, printed once; the
    /// old one stops working at once.
    RotateSecret {
        /// The client id.
        client_id: String,
    },
}

/// Subcommands of `apiome auditor`.
#[derive(Debug, Subcommand)]
pub enum AuditorCommand {
    /// Register an auditor; prints its `client_id` and `client_secret` (shown once).
    Create {
        /// The auditor's name.
        #[arg(long)]
        name: String,
    },
    /// List the auditors, one JSON object per line (no secrets).
    List,
    /// Revoke an auditor for good: no new token, its tokens dead at once.
    Revoke {
        /// The auditor's client id.
        client_id: String,
    },
}

/// Subcommands of `apiome person`.
#[derive(Debug, Subcommand)]
pub enum PersonCommand {
    /// List people in sign-up order, one JSON object per line (at most
    /// 1000; `--after` the last one printed for the next 1000).
    List {
        /// Start after this person (handle or id).
        #[arg(long)]
        after: Option<String>,
    },
    /// Show one person: id, handle, ledger pseudonym, sign-up time and how
    /// many live grants they have.
    Show {
        /// The person's handle or id.
        who: String,
    },
    /// Suspend a person: their sessions end, sign-in is refused, companies
    /// read nothing of theirs and their requests are answered as denied.
    Suspend {
        /// The person's handle or id.
        who: String,
    },
    /// Lift a suspension: sign-in works again, and grants still live are
    /// read again (a suspension revokes none).
    Unsuspend {
        /// The person's handle or id.
        who: String,
    },
}

/// Subcommands of `apiome keys`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Add a new access-token signing key (the newest signs; older keys keep
    /// verifying until no unexpired token can use them, then are pruned).
    Rotate,
    /// Seal every attribute value under a new data key and retire the old
    /// ones (stop every `apiome serve` first). With `APIOME_MASTER_KEY`, put
    /// the new key first in it before running this.
    RotateData,
}

/// Subcommands of `apiome ledger`.
#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Print the log's verifier key (made in the data directory if missing),
    /// for auditors to pin.
    PublicKey,
}

/// Every key of the configuration, as the file names it; unset ones take
/// their default in [`Config::from_settings`]. Also what flags and the
/// environment are turned into before they are merged.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// `bind`: address to listen on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind: Option<String>,
    /// `admin_bind`: address of the admin listener.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_bind: Option<String>,
    /// `data_dir`: the SQLite database and the key files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// `database_url`: PostgreSQL or SQLite.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<Secret>,
    /// `public_url`: the origin the server is reached at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// `log_format`: `text` or `json`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
    /// `webhook_allow_loopback`: webhooks to this machine.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_bool"
    )]
    pub webhook_allow_loopback: Option<bool>,
    /// `rate_limit`: requests a second per company.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<u32>,
    /// `sign_ups_per_hour`: accounts per address and hour.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sign_ups_per_hour: Option<u32>,
    /// `trusted_proxies`: a list, or one comma-separated string.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "string_or_list"
    )]
    pub trusted_proxies: Option<Vec<String>>,
    /// `smtp_url`: where mail goes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_url: Option<Secret>,
    /// `mail_from`: the `From:` of mail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mail_from: Option<String>,
    /// `otlp_endpoint`: where spans are exported (OTLP/HTTP).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otlp_endpoint: Option<String>,
    /// `jurisdiction`: the law consent receipts name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jurisdiction: Option<String>,
    /// `master_key`: the data keys themselves (base64, comma separated).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master_key: Option<Secret>,
    /// `master_key_file`: a file holding the data keys, one a line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master_key_file: Option<PathBuf>,
    /// `server_key`: the key of client-secret hashes and pairwise subjects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_key: Option<Secret>,
    /// `server_key_file`: a file holding it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_key_file: Option<PathBuf>,
    /// `ledger_key`: the transparency log's signing key (C2SP note key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ledger_key: Option<Secret>,
    /// `ledger_key_file`: a file holding it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ledger_key_file: Option<PathBuf>,
    /// `payout_minimum_micros`: the smallest payout a person may ask for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payout_minimum_micros: Option<u64>,
}

/// The jurisdiction consent receipts name unless configured.
pub const DEFAULT_JURISDICTION: &str = "EU";

/// A configuration key: its name in the file, its environment variable,
/// its flag, and whether its value is secret.
#[derive(Clone, Copy, Debug)]
pub struct Key {
    /// The name in the file.
    pub name: &'static str,
    /// The environment variable.
    pub env: &'static str,
    /// The flag, if there is one (secrets have none: a command line is
    /// visible to every user of the machine).
    pub flag: Option<&'static str>,
}

/// Every key, in the order `apiome config check` prints them.
pub const KEYS: &[Key] = &[
    key("data_dir", "APIOME_DATA_DIR", Some("--data-dir")),
    key("database_url", "DATABASE_URL", Some("--database-url")),
    key("log_format", "APIOME_LOG_FORMAT", Some("--log-format")),
    key(
        "webhook_allow_loopback",
        "APIOME_WEBHOOK_ALLOW_LOOPBACK",
        Some("--webhook-allow-loopback"),
    ),
    key("bind", "APIOME_BIND", Some("--bind")),
    key("admin_bind", "APIOME_ADMIN_BIND", Some("--admin-bind")),
    key("public_url", "APIOME_PUBLIC_URL", Some("--public-url")),
    key("rate_limit", "APIOME_RATE_LIMIT", Some("--rate-limit")),
    key(
        "sign_ups_per_hour",
        "APIOME_SIGN_UPS_PER_HOUR",
        Some("--sign-ups-per-hour"),
    ),
    key(
        "trusted_proxies",
        "APIOME_TRUSTED_PROXIES",
        Some("--trusted-proxy"),
    ),
    key("smtp_url", "APIOME_SMTP_URL", Some("--smtp-url")),
    key("mail_from", "APIOME_MAIL_FROM", Some("--mail-from")),
    key(
        "otlp_endpoint",
        "APIOME_OTLP_ENDPOINT",
        Some("--otlp-endpoint"),
    ),
    key(
        "jurisdiction",
        "APIOME_JURISDICTION",
        Some("--jurisdiction"),
    ),
    key("master_key", "APIOME_MASTER_KEY", None),
    key("master_key_file", "APIOME_MASTER_KEY_FILE", None),
    key("server_key", "APIOME_SERVER_KEY", None),
    key("server_key_file", "APIOME_SERVER_KEY_FILE", None),
    key("ledger_key", "APIOME_LEDGER_KEY", None),
    key("ledger_key_file", "APIOME_LEDGER_KEY_FILE", None),
    key(
        "payout_minimum_micros",
        "APIOME_PAYOUT_MINIMUM_MICROS",
        None,
    ),
];

const fn key(name: &'static str, env: &'static str, flag: Option<&'static str>) -> Key {
    Key { name, env, flag }
}

/// A secret value: never in `Debug`, masked by `apiome config check`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(text: impl Into<String>) -> Secret {
        Secret(text.into())
    }

    /// The value itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(****)")
    }
}

fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Loose {
        Bool(bool),
        Int(i64),
        Text(String),
    }
    match Option::<Loose>::deserialize(d)? {
        None => Ok(None),
        Some(Loose::Bool(b)) => Ok(Some(b)),
        Some(Loose::Int(0)) => Ok(Some(false)),
        Some(Loose::Int(1)) => Ok(Some(true)),
        Some(Loose::Text(t)) => match t.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Ok(Some(true)),
            "false" | "no" | "off" | "0" | "" => Ok(Some(false)),
            _ => Err(serde::de::Error::custom(format!(
                "expected true or false, found {t:?}"
            ))),
        },
        Some(Loose::Int(n)) => Err(serde::de::Error::custom(format!(
            "expected true or false, found {n}"
        ))),
    }
}

fn string_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(Option::<OneOrMany>::deserialize(d)?.map(|v| match v {
        OneOrMany::One(text) => text.split(',').map(str::to_owned).collect(),
        OneOrMany::Many(list) => list,
    }))
}

/// The configuration cannot be read: one line naming the key and where
/// its value came from.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file given cannot be read.
    #[error("cannot read the config file {}: {source} (set --config or APIOME_CONFIG)", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A key unknown, misspelt or of the wrong type, or TOML that does not parse.
    #[error("{0}")]
    Invalid(String),
    /// A key whose value does not work.
    #[error("{origin}: {error}")]
    Value {
        /// The key and where its value came from.
        origin: String,
        /// What is wrong.
        error: ConfigError,
    },
}

/// The merged settings and where each value came from.
pub struct Loaded {
    /// The merged settings.
    pub settings: Settings,
    figment: Figment,
    file: Option<PathBuf>,
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loaded")
            .field("settings", &self.settings)
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

/// Merges the file (if any), the environment and the flags.
///
/// # Errors
/// The file is unreadable or holds an unknown key or a value of the
/// wrong type; an environment variable holds a value of the wrong type.
pub fn load(file: Option<&Path>, flags: &Settings) -> Result<Loaded, LoadError> {
    let mut figment = Figment::new();
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Unreadable {
            path: path.to_owned(),
            source,
        })?;
        // The file alone first, so that an error names it and its key.
        Figment::from(Toml::string(&text))
            .extract::<Settings>()
            .map_err(|e| LoadError::Invalid(describe_error(e, &Whence::File(path))))?;
        figment = figment.merge(Toml::file_exact(path));
    }
    let env = Env::raw().filter_map(|var| {
        KEYS.iter()
            .find(|k| var.as_str() == k.env)
            .map(|k| k.name.into())
    });
    Figment::from(env.clone())
        .extract::<Settings>()
        .map_err(|e| LoadError::Invalid(describe_error(e, &Whence::Environment)))?;
    figment = figment
        .merge(env)
        .merge(Serialized::defaults(flags.clone()));
    let settings = figment
        .extract::<Settings>()
        .map_err(|e| LoadError::Invalid(describe_error(e, &Whence::Merged)))?;
    Ok(Loaded {
        settings,
        figment,
        file: file.map(Path::to_owned),
    })
}

/// Where the values being extracted came from.
enum Whence<'a> {
    File(&'a Path),
    Environment,
    Merged,
}

impl Whence<'_> {
    /// Where `key`'s value came from, in words.
    fn of(&self, key: &str) -> String {
        match self {
            Whence::File(path) => format!("config file {}", path.display()),
            Whence::Environment => KEYS.iter().find(|k| k.name == key).map_or_else(
                || "environment".to_owned(),
                |k| format!("environment variable {}", k.env),
            ),
            Whence::Merged => "configuration".to_owned(),
        }
    }
}

/// One line for figment's errors: the key, where it came from, what is wrong.
fn describe_error(error: figment::Error, whence: &Whence<'_>) -> String {
    let mut lines = Vec::new();
    for e in error {
        let key = e.path.join(".");
        let from = whence.of(&key);
        lines.push(match &e.kind {
            figment::error::Kind::UnknownField(found, _) => {
                format!("{from}: unknown key `{found}` (every key is listed in docs/apiome.toml)")
            }
            kind if key.is_empty() => format!("{from}: {kind}"),
            kind => format!("{from}: key `{key}`: {kind}"),
        });
    }
    lines.join("; ")
}

impl Loaded {
    /// Checks the merged settings; an error names the key and its source.
    ///
    /// # Errors
    /// A value that does not work.
    pub fn config(&self) -> Result<Config, LoadError> {
        Config::from_settings(&self.settings).map_err(|error| LoadError::Value {
            origin: format!("`{}` from {}", error.key(), self.source_of(error.key())),
            error,
        })
    }

    /// Where the value of `key` came from: the file, a variable, a flag or
    /// the default.
    pub fn source_of(&self, key: &str) -> String {
        let Some(found) = KEYS.iter().find(|k| k.name == key) else {
            return "default".to_owned();
        };
        let Some(metadata) = self.figment.find_metadata(key) else {
            return "default".to_owned();
        };
        if let Some(figment::Source::File(path)) = &metadata.source {
            return format!("config file {}", path.display());
        }
        if metadata.name.contains("environment") {
            return format!("environment variable {}", found.env);
        }
        match found.flag {
            Some(flag) => format!("flag {flag}"),
            None => "default".to_owned(),
        }
    }

    /// The effective configuration as TOML, secrets masked, each line
    /// saying where its value came from.
    pub fn render(&self, config: &Config) -> String {
        let mut out = String::from("# apiome: the effective configuration (secrets masked)\n");
        if let Some(file) = &self.file {
            out.push_str(&format!("# config file: {}\n", file.display()));
        }
        let values = config.effective();
        for key in KEYS {
            let source = self.source_of(key.name);
            match values.get(key.name) {
                Some(value) => {
                    let mut table = toml::Table::new();
                    table.insert(key.name.to_owned(), value.clone());
                    let line = toml::to_string(&table).unwrap_or_default();
                    out.push_str(&format!("{}  # {source}\n", line.trim_end()));
                }
                None => out.push_str(&format!("# {} is unset\n", key.name)),
            }
        }
        out
    }
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl KeySources {
    /// Checks that every key file named can be read (for `apiome config
    /// check`; whether it holds a key is checked where it is used).
    ///
    /// # Errors
    /// The first file that cannot be read, named with its key.
    pub fn check_files(&self) -> Result<(), LoadError> {
        for (key, file) in [
            ("master_key_file", &self.master_key_file),
            ("server_key_file", &self.server_key_file),
            ("ledger_key_file", &self.ledger_key_file),
        ] {
            if let Some(path) = file
                && let Err(e) = std::fs::File::open(path)
            {
                return Err(LoadError::Invalid(format!(
                    "`{key}`: cannot read {}: {e}",
                    path.display()
                )));
            }
        }
        Ok(())
    }
}

/// The checked configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where to listen.
    pub bind: SocketAddr,
    /// Where the admin listener (`/metrics`) listens.
    pub admin_bind: SocketAddr,
    /// Holds the SQLite database and keys.
    pub data_dir: PathBuf,
    /// Where the data lives.
    pub database: DatabaseUrl,
    /// The URL the server is reached at, without a trailing slash; `None`
    /// means `http://localhost:PORT` with the port actually bound.
    pub public_url: Option<Url>,
    /// Log format.
    pub log_format: LogFormat,
    /// Whether webhook URLs may point at this machine.
    pub webhook_allow_loopback: bool,
    /// Per-client requests a second on the token and request endpoints.
    pub rate_limit: u32,
    /// Accounts each client address may create per hour (0: no limit).
    pub sign_ups_per_hour: u32,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Mail to people.
    pub mail: MailConfig,
    /// Where the keys the servers share come from.
    pub keys: KeySources,
    /// The OpenTelemetry collector spans are exported to; `None`: none.
    pub otlp_endpoint: Option<Url>,
    /// The smallest payout, in micro-units of any currency (1.00 by default).
    pub payout_minimum_micros: u64,
    /// The law consent is given under, named by every consent receipt.
    pub jurisdiction: String,
}

/// Where each key the servers share comes from: the value itself (from a
/// secret manager, through the environment), a file it names, or, when
/// neither is set, the file under `DATA_DIR/keys/` (made on first start).
/// The OAuth signing keys live in the database, sealed under the data key.
#[derive(Clone, Debug, Default)]
pub struct KeySources {
    /// The data keys (`master_key`).
    pub master_key: Option<Secret>,
    /// A file of data keys (`master_key_file`).
    pub master_key_file: Option<PathBuf>,
    /// The server key (`server_key`).
    pub server_key: Option<Secret>,
    /// A file holding the server key (`server_key_file`).
    pub server_key_file: Option<PathBuf>,
    /// The ledger key (`ledger_key`).
    pub ledger_key: Option<Secret>,
    /// A file holding the ledger key (`ledger_key_file`).
    pub ledger_key_file: Option<PathBuf>,
}

/// How mail to people is sent and when notices are due.
#[derive(Clone, Debug)]
pub struct MailConfig {
    /// The checked SMTP URL; `None`: the file outbox in the data directory.
    pub smtp_url: Option<Url>,
    /// The `From:` address; `apiome@<public host>` when `None`.
    pub from: Option<String>,
    /// How long before an end the reminder goes (3 days).
    pub reminder_before: time::Duration,
    /// How often a digest goes out (a day).
    pub digest_every: time::Duration,
    /// Whether this process runs the mail worker. Always in `serve`;
    /// tests turn it off to queue mail that no one sends yet.
    pub send: bool,
}

impl MailConfig {
    /// The defaults: file outbox, reminders 3 days ahead, daily digests.
    pub fn new(smtp_url: Option<Url>, from: Option<String>) -> MailConfig {
        MailConfig {
            smtp_url,
            from,
            reminder_before: time::Duration::days(3),
            digest_every: time::Duration::days(1),
            send: true,
        }
    }
}

/// What `apiome config check` prints in place of a secret.
pub const MASKED: &str = "****";

/// A URL with its password (if any) replaced by [`MASKED`].
fn mask_password(text: &str) -> String {
    match Url::parse(text) {
        Ok(mut url) if url.password().is_some() => {
            url.set_password(Some(MASKED)).ok();
            url.to_string()
        }
        Ok(url) => url.to_string(),
        Err(_) => MASKED.to_owned(),
    }
}

fn non_empty(text: Option<&str>) -> Option<&str> {
    text.filter(|t| !t.trim().is_empty())
}

/// The public listener's default address.
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";

/// The default data directory.
pub const DEFAULT_DATA_DIR: &str = "./data";

/// The admin listener's default address: this machine only.
pub const DEFAULT_ADMIN_BIND: &str = "127.0.0.1:9090";

/// The default per-client rate limit (requests a second).
pub const DEFAULT_RATE_LIMIT: u32 = 500;

/// The default number of accounts an address may create per hour: a
/// household or an office signing up together, not a script.
pub const DEFAULT_SIGN_UPS_PER_HOUR: u32 = 20;

/// A configuration that cannot work, with what to change.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The bind address does not parse.
    #[error(
        "invalid bind address {0:?}: expected HOST:PORT such as 127.0.0.1:8080 (set --bind or APIOME_BIND)"
    )]
    Bind(String),
    /// The admin bind address does not parse.
    #[error(
        "invalid admin bind address {0:?}: expected HOST:PORT such as 127.0.0.1:9090 (set --admin-bind or APIOME_ADMIN_BIND)"
    )]
    AdminBind(String),
    /// The public URL does not parse or has a path.
    #[error(
        "invalid public URL {0:?}: expected an origin such as https://apiome.example (set --public-url or APIOME_PUBLIC_URL)"
    )]
    PublicUrl(String),
    /// The database URL does not parse.
    #[error("{0} (set --database-url or DATABASE_URL)")]
    DatabaseUrl(String),
    /// An SMTP URL that is not `smtps://`, `smtp://...?tls=required`, or
    /// plain `smtp://` to this machine.
    #[error(
        "invalid SMTP URL: {0} (set --smtp-url or APIOME_SMTP_URL to smtps://host:465, smtp://host:587?tls=required, or smtp://127.0.0.1:25)"
    )]
    SmtpUrl(String),
    /// A trusted proxy that is not an IP address.
    #[error(
        "invalid trusted proxy {0:?}: expected an IP address such as 10.0.0.2 (set --trusted-proxy or APIOME_TRUSTED_PROXIES)"
    )]
    TrustedProxy(String),
    /// A key given both as a value and as a file.
    #[error("{0} and {0}_file are both set: give the key one way")]
    TwoSources(&'static str),
    /// An OTLP endpoint that is not an http(s) URL.
    #[error(
        "invalid OTLP endpoint {0:?}: expected a collector's URL such as http://127.0.0.1:4318 (set --otlp-endpoint or APIOME_OTLP_ENDPOINT)"
    )]
    OtlpEndpoint(String),
}

impl ConfigError {
    /// The configuration key at fault.
    pub fn key(&self) -> &'static str {
        match self {
            ConfigError::Bind(_) => "bind",
            ConfigError::AdminBind(_) => "admin_bind",
            ConfigError::PublicUrl(_) => "public_url",
            ConfigError::DatabaseUrl(_) => "database_url",
            ConfigError::SmtpUrl(_) => "smtp_url",
            ConfigError::TrustedProxy(_) => "trusted_proxies",
            ConfigError::TwoSources(key) => key,
            ConfigError::OtlpEndpoint(_) => "otlp_endpoint",
        }
    }
}

/// The SQLite file's name inside the data directory.
pub const SQLITE_FILE: &str = "apiome.db";

impl Config {
    /// Checks the settings, filling in the defaults.
    pub fn from_settings(settings: &Settings) -> Result<Config, ConfigError> {
        let bind = parse_bind(settings.bind.as_deref().unwrap_or(DEFAULT_BIND))
            .map_err(ConfigError::Bind)?;
        let admin_bind = parse_bind(settings.admin_bind.as_deref().unwrap_or(DEFAULT_ADMIN_BIND))
            .map_err(ConfigError::AdminBind)?;
        let data_dir = settings
            .data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let database = match non_empty(settings.database_url.as_ref().map(Secret::expose)) {
            Some(url) => DatabaseUrl::parse(url).map_err(ConfigError::DatabaseUrl)?,
            None => DatabaseUrl::Sqlite(data_dir.join(SQLITE_FILE)),
        };
        let public_url = match non_empty(settings.public_url.as_deref()) {
            Some(text) => Some(parse_public_url(text)?),
            None => None,
        };
        let trusted_proxies = settings
            .trusted_proxies
            .iter()
            .flatten()
            .map(|p| p.trim())
            .filter(|p| !p.is_empty())
            .map(|p| {
                p.parse()
                    .map_err(|_| ConfigError::TrustedProxy(p.to_owned()))
            })
            .collect::<Result<_, _>>()?;
        let otlp_endpoint = match non_empty(settings.otlp_endpoint.as_deref()) {
            Some(text) => Some(parse_otlp_endpoint(text)?),
            None => None,
        };
        let smtp_url = match non_empty(settings.smtp_url.as_ref().map(Secret::expose)) {
            Some(text) => Some(parse_smtp_url(text)?),
            None => None,
        };
        let non_empty_secret =
            |s: &Option<Secret>| s.clone().filter(|s| !s.expose().trim().is_empty());
        let non_empty_path = |p: &Option<PathBuf>| p.clone().filter(|p| !p.as_os_str().is_empty());
        let keys = KeySources {
            master_key: non_empty_secret(&settings.master_key),
            master_key_file: non_empty_path(&settings.master_key_file),
            server_key: non_empty_secret(&settings.server_key),
            server_key_file: non_empty_path(&settings.server_key_file),
            ledger_key: non_empty_secret(&settings.ledger_key),
            ledger_key_file: non_empty_path(&settings.ledger_key_file),
        };
        for (name, value, file) in [
            (
                "master_key",
                keys.master_key.is_some(),
                keys.master_key_file.is_some(),
            ),
            (
                "server_key",
                keys.server_key.is_some(),
                keys.server_key_file.is_some(),
            ),
            (
                "ledger_key",
                keys.ledger_key.is_some(),
                keys.ledger_key_file.is_some(),
            ),
        ] {
            if value && file {
                return Err(ConfigError::TwoSources(name));
            }
        }
        Ok(Config {
            mail: MailConfig::new(
                smtp_url,
                non_empty(settings.mail_from.as_deref()).map(str::to_owned),
            ),
            bind,
            admin_bind,
            data_dir,
            database,
            public_url,
            log_format: settings.log_format.unwrap_or(LogFormat::Text),
            webhook_allow_loopback: settings.webhook_allow_loopback.unwrap_or(false),
            rate_limit: settings.rate_limit.unwrap_or(DEFAULT_RATE_LIMIT),
            sign_ups_per_hour: settings
                .sign_ups_per_hour
                .unwrap_or(DEFAULT_SIGN_UPS_PER_HOUR),
            trusted_proxies,
            keys,
            otlp_endpoint,
            payout_minimum_micros: settings
                .payout_minimum_micros
                .unwrap_or(consent_policy::DEFAULT_PAYOUT_MINIMUM_MICROS),
            jurisdiction: non_empty(settings.jurisdiction.as_deref())
                .unwrap_or(DEFAULT_JURISDICTION)
                .to_owned(),
        })
    }

    /// Every key's effective value as TOML, secrets masked; unset
    /// optional keys are absent.
    pub fn effective(&self) -> toml::Table {
        let mut t = toml::Table::new();
        let mut put = |k: &str, v: toml::Value| {
            t.insert(k.to_owned(), v);
        };
        let text = |s: String| toml::Value::String(s);
        let path = |p: &Path| toml::Value::String(p.display().to_string());
        put("data_dir", path(&self.data_dir));
        put(
            "database_url",
            text(match &self.database {
                DatabaseUrl::Postgres(url) => mask_password(url),
                DatabaseUrl::Sqlite(file) => format!("sqlite://{}", file.display()),
            }),
        );
        put(
            "log_format",
            text(match self.log_format {
                LogFormat::Text => "text".to_owned(),
                LogFormat::Json => "json".to_owned(),
            }),
        );
        put(
            "webhook_allow_loopback",
            toml::Value::Boolean(self.webhook_allow_loopback),
        );
        put("bind", text(self.bind.to_string()));
        put("admin_bind", text(self.admin_bind.to_string()));
        if let Some(url) = &self.public_url {
            put(
                "public_url",
                text(url.as_str().trim_end_matches('/').to_owned()),
            );
        }
        put("rate_limit", toml::Value::Integer(self.rate_limit.into()));
        put(
            "sign_ups_per_hour",
            toml::Value::Integer(self.sign_ups_per_hour.into()),
        );
        put(
            "trusted_proxies",
            toml::Value::Array(
                self.trusted_proxies
                    .iter()
                    .map(|ip| text(ip.to_string()))
                    .collect(),
            ),
        );
        if let Some(url) = &self.mail.smtp_url {
            put("smtp_url", text(mask_password(url.as_str())));
        }
        if let Some(from) = &self.mail.from {
            put("mail_from", text(from.clone()));
        }
        if let Some(url) = &self.otlp_endpoint {
            put("otlp_endpoint", text(url.to_string()));
        }
        put(
            "payout_minimum_micros",
            toml::Value::Integer(i64::try_from(self.payout_minimum_micros).unwrap_or(i64::MAX)),
        );
        put("jurisdiction", text(self.jurisdiction.clone()));
        let keys = &self.keys;
        for (name, secret) in [
            ("master_key", &keys.master_key),
            ("server_key", &keys.server_key),
            ("ledger_key", &keys.ledger_key),
        ] {
            if secret.is_some() {
                put(name, text(MASKED.to_owned()));
            }
        }
        for (name, file) in [
            ("master_key_file", &keys.master_key_file),
            ("server_key_file", &keys.server_key_file),
            ("ledger_key_file", &keys.ledger_key_file),
        ] {
            if let Some(file) = file {
                put(name, path(file));
            }
        }
        t
    }

    /// A configuration for tests: port 0 on loopback.
    pub fn for_tests(data_dir: PathBuf, database: DatabaseUrl) -> Config {
        Config {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            admin_bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir,
            database,
            public_url: None,
            log_format: LogFormat::Text,
            webhook_allow_loopback: true,
            rate_limit: DEFAULT_RATE_LIMIT,
            sign_ups_per_hour: DEFAULT_SIGN_UPS_PER_HOUR,
            trusted_proxies: Vec::new(),
            mail: MailConfig::new(None, None),
            keys: KeySources::default(),
            otlp_endpoint: None,
            payout_minimum_micros: consent_policy::DEFAULT_PAYOUT_MINIMUM_MICROS,
            jurisdiction: DEFAULT_JURISDICTION.to_owned(),
        }
    }

    /// The public URL, given the port the server actually bound.
    pub fn public_url_for(&self, port: u16) -> Url {
        self.public_url.clone().unwrap_or_else(|| {
            Url::parse(&format!("http://localhost:{port}")).expect("a localhost URL parses")
        })
    }
}

/// An origin: scheme, host and optional port, no path, query or fragment.
fn parse_public_url(text: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(text).map_err(|_| ConfigError::PublicUrl(text.to_owned()))?;
    let is_origin = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some()
        && url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty();
    if is_origin {
        Ok(url)
    } else {
        Err(ConfigError::PublicUrl(text.to_owned()))
    }
}

/// An http(s) URL with a host and no credentials (they would be printed
/// by `config check` and sent in the clear over http).
fn parse_otlp_endpoint(text: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(text).map_err(|_| ConfigError::OtlpEndpoint(text.to_owned()))?;
    let sound = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some()
        && url.username().is_empty()
        && url.password().is_none();
    if sound {
        Ok(url)
    } else {
        Err(ConfigError::OtlpEndpoint(text.to_owned()))
    }
}

/// The scheme decides the TLS: `smtps://` is implicit TLS,
/// `smtp://...?tls=required` STARTTLS, and plain `smtp://` (no `tls`) is
/// accepted only to a loopback host, where nothing crosses a network.
fn parse_smtp_url(text: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(text).map_err(|e| ConfigError::SmtpUrl(e.to_string()))?;
    let tls = url
        .query_pairs()
        .find(|(k, _)| k == "tls")
        .map(|(_, v)| v.into_owned());
    // `smtp:` is not a special scheme to the URL parser: an address
    // literal may come back as text, brackets and all.
    let host = url
        .host_str()
        .ok_or_else(|| ConfigError::SmtpUrl("no host".to_owned()))?;
    let loopback = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match (url.scheme(), tls.as_deref()) {
        ("smtps", None) => Ok(url),
        ("smtp", Some("required")) => Ok(url),
        ("smtp", None) if loopback => Ok(url),
        ("smtp", None) => Err(ConfigError::SmtpUrl(
            "plain SMTP only to this machine; add ?tls=required or use smtps://".to_owned(),
        )),
        (scheme, tls) => Err(ConfigError::SmtpUrl(format!(
            "scheme {scheme:?} with tls={tls:?}"
        ))),
    }
}

/// HOST:PORT; `Err` holds the text, for the caller's error.
fn parse_bind(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    // A host name (e.g. localhost:8080) resolves once, at start.
    text.to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(bind: &str, database_url: Option<&str>) -> Settings {
        Settings {
            bind: Some(bind.to_owned()),
            data_dir: Some(PathBuf::from("/tmp/apiome-data")),
            database_url: database_url.map(Secret::new),
            ..Settings::default()
        }
    }

    #[test]
    fn the_smtp_url_scheme_decides_the_tls() {
        let mut s = settings("127.0.0.1:1", None);
        for good in [
            "smtps://u:p@mail.example:465",
            "smtp://u:p@mail.example:587?tls=required",
            "smtp://127.0.0.1:2525",
            "smtp://[::1]:25",
        ] {
            s.smtp_url = Some(Secret::new(good));
            let config = Config::from_settings(&s).unwrap();
            assert_eq!(config.mail.smtp_url.unwrap().as_str(), good);
        }
        for bad in [
            "smtp://mail.example:25",
            "smtp://mail.example:25?tls=opportunistic",
            "http://mail.example",
            "smtps://mail.example?tls=none",
        ] {
            s.smtp_url = Some(Secret::new(bad));
            let error = Config::from_settings(&s).unwrap_err().to_string();
            assert!(error.contains("--smtp-url"), "{bad}: {error}");
        }
        s.smtp_url = None;
        assert!(Config::from_settings(&s).unwrap().mail.smtp_url.is_none());
    }

    #[test]
    fn sqlite_under_the_data_dir_is_the_default() {
        let config = Config::from_settings(&settings("127.0.0.1:8080", None)).unwrap();
        assert_eq!(config.bind, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(config.admin_bind, "127.0.0.1:9090".parse().unwrap());
        assert_eq!(
            config.database,
            DatabaseUrl::Sqlite("/tmp/apiome-data/apiome.db".into())
        );
    }

    #[test]
    fn a_postgres_url_switches_to_postgres() {
        let config =
            Config::from_settings(&settings("[::1]:9000", Some("postgres://a@h/db"))).unwrap();
        assert_eq!(
            config.database,
            DatabaseUrl::Postgres("postgres://a@h/db".into())
        );
        assert_eq!(config.bind.port(), 9000);
    }

    #[test]
    fn the_public_url_is_an_origin() {
        let mut s = settings("127.0.0.1:1", None);
        s.public_url = Some("https://apiome.example".into());
        let config = Config::from_settings(&s).unwrap();
        assert_eq!(config.public_url_for(1).as_str(), "https://apiome.example/");
        for bad in ["apiome.example", "ftp://x", "https://x/path", "https://u@x"] {
            s.public_url = Some(bad.into());
            assert!(Config::from_settings(&s).is_err(), "{bad}");
        }
        let default = Config::from_settings(&settings("127.0.0.1:1", None)).unwrap();
        assert_eq!(
            default.public_url_for(4321).as_str(),
            "http://localhost:4321/"
        );
    }

    #[test]
    fn trusted_proxies_are_ip_addresses() {
        let mut s = settings("127.0.0.1:1", None);
        s.trusted_proxies = Some(vec!["10.0.0.2".into(), " ::1 ".into(), String::new()]);
        let config = Config::from_settings(&s).unwrap();
        assert_eq!(
            config.trusted_proxies,
            [
                "10.0.0.2".parse::<std::net::IpAddr>().unwrap(),
                "::1".parse().unwrap()
            ]
        );
        s.trusted_proxies = Some(vec!["10.0.0.0/8".into()]);
        let error = Config::from_settings(&s).unwrap_err().to_string();
        assert!(error.contains("--trusted-proxy"), "{error}");
    }

    #[test]
    fn webhooks_to_this_machine_are_refused_by_default() {
        let config = Config::from_settings(&Settings::default()).unwrap();
        assert!(!config.webhook_allow_loopback);
        assert!(Config::for_tests(PathBuf::new(), config.database.clone()).webhook_allow_loopback);
    }

    #[test]
    fn serve_flags_belong_to_serve_and_to_apiome_alone() {
        for line in [
            &["apiome", "--bind", "127.0.0.1:1"][..],
            &[
                "apiome",
                "serve",
                "--bind",
                "127.0.0.1:1",
                "--data-dir",
                "d",
            ],
            &[
                "apiome",
                "--data-dir",
                "d",
                "serve",
                "--bind",
                "127.0.0.1:1",
            ],
            &[
                "apiome",
                "--bind",
                "127.0.0.1:1",
                "serve",
                "--data-dir",
                "d",
            ],
        ] {
            let (command, _, flags) = Cli::try_parse_from(line).unwrap().into_parts().unwrap();
            assert!(matches!(command, Command::Serve(_)), "{line:?}");
            assert_eq!(flags.bind.as_deref(), Some("127.0.0.1:1"), "{line:?}");
        }
        let (_, _, flags) = Cli::try_parse_from(["apiome", "migrate", "--data-dir", "d"])
            .unwrap()
            .into_parts()
            .unwrap();
        let before = Cli::try_parse_from(["apiome", "--bind", "127.0.0.1:1", "migrate"]).unwrap();
        assert!(before.into_parts().is_err());
        assert_eq!(flags.data_dir, Some(PathBuf::from("d")));
        assert!(Cli::try_parse_from(["apiome", "migrate", "--bind", "127.0.0.1:1"]).is_err());
        assert!(
            Cli::try_parse_from(["apiome", "company", "list", "--smtp-url", "smtp://x"]).is_err()
        );
    }

    #[test]
    fn passwords_are_masked_in_the_effective_configuration() {
        let mut s = settings(
            "127.0.0.1:1",
            Some("postgres://u:hunter2@db.example/apiome"),
        );
        s.smtp_url = Some(Secret::new("smtps://u:swordfish@mail.example:465"));
        s.master_key = Some(Secret::new("c2VjcmV0"));
        let shown = toml::to_string(&Config::from_settings(&s).unwrap().effective()).unwrap();
        for secret in ["hunter2", "swordfish", "c2VjcmV0"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(
            shown.contains("postgres://u:****@db.example/apiome"),
            "{shown}"
        );
        assert!(format!("{s:?}").find("hunter2").is_none());
    }

    #[test]
    fn a_key_given_twice_is_refused() {
        let mut s = settings("127.0.0.1:1", None);
        s.master_key = Some(Secret::new("x"));
        s.master_key_file = Some(PathBuf::from("/k"));
        assert_eq!(Config::from_settings(&s).unwrap_err().key(), "master_key");
    }

    #[test]
    fn the_admin_listener_is_its_own_address() {
        let mut s = settings("0.0.0.0:8080", None);
        s.admin_bind = Some("10.0.0.5:9100".into());
        let config = Config::from_settings(&s).unwrap();
        assert_eq!(config.admin_bind, "10.0.0.5:9100".parse().unwrap());
        s.admin_bind = Some("nonsense".into());
        let error = Config::from_settings(&s).unwrap_err().to_string();
        assert!(error.contains("--admin-bind"), "{error}");
    }

    #[test]
    fn traces_are_off_unless_an_http_collector_url_is_given() {
        let mut s = settings("127.0.0.1:1", None);
        assert_eq!(Config::from_settings(&s).unwrap().otlp_endpoint, None);
        s.otlp_endpoint = Some("http://127.0.0.1:4318".into());
        let config = Config::from_settings(&s).unwrap();
        assert_eq!(
            config.otlp_endpoint.as_ref().map(Url::as_str),
            Some("http://127.0.0.1:4318/")
        );
        assert_eq!(
            config.effective()["otlp_endpoint"].as_str(),
            Some("http://127.0.0.1:4318/")
        );
        for bad in [
            "127.0.0.1:4318",
            "ftp://collector",
            "http://user:secret@collector:4318",
            "nonsense",
        ] {
            s.otlp_endpoint = Some(bad.into());
            let error = Config::from_settings(&s).unwrap_err();
            assert_eq!(error.key(), "otlp_endpoint", "{bad}");
            assert!(error.to_string().contains("--otlp-endpoint"), "{error}");
        }
    }

    #[test]
    fn bad_values_say_what_to_fix_on_one_line() {
        for (bind, url) in [
            ("nonsense", None),
            ("127.0.0.1:99999", None),
            ("127.0.0.1:1", Some("mysql://x")),
        ] {
            let err = Config::from_settings(&settings(bind, url))
                .unwrap_err()
                .to_string();
            assert!(!err.contains('\n'), "{err}");
            assert!(err.contains("(set --"), "{err}");
        }
    }
}
