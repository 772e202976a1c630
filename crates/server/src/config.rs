//! The one typed configuration, read once at start from flags and
//! environment variables.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use store::DatabaseUrl;
use url::Url;

/// The command line of `apiome`.
#[derive(Debug, Parser)]
#[command(
    name = "apiome",
    version,
    about = "apiome, the API of Me: a personal data-consent broker"
)]
pub struct Cli {
    /// Settings shared by every subcommand.
    #[command(flatten)]
    pub settings: Settings,
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web pages and the API (the default).
    Serve,
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

/// Flags and variables, before they are checked.
#[derive(Debug, Args)]
pub struct Settings {
    /// Address to listen on, HOST:PORT.
    #[arg(
        long,
        env = "APIOME_BIND",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub bind: String,
    /// Address of the admin listener, HOST:PORT: `GET /metrics` is served
    /// there and never on `--bind`. Keep it on loopback or a private
    /// network the scraper reaches.
    #[arg(
        long,
        env = "APIOME_ADMIN_BIND",
        default_value = DEFAULT_ADMIN_BIND,
        global = true
    )]
    pub admin_bind: String,
    /// Directory for the SQLite database and the server's keys.
    #[arg(long, env = "APIOME_DATA_DIR", default_value = "./data", global = true)]
    pub data_dir: PathBuf,
    /// `postgres://...` to use PostgreSQL; SQLite under the data directory when unset.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// The URL people and companies reach this server at (the passkey relying
    /// party, the OAuth issuer); `http://localhost:PORT` when unset.
    #[arg(long, env = "APIOME_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
    /// Log format.
    #[arg(long, env = "APIOME_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    /// Allow webhook URLs on this machine (`http://localhost`, `127.0.0.1`,
    /// `[::1]`), for development only; otherwise (the default) webhooks must
    /// be `https://` to a global address. Never private networks either way.
    #[arg(long, env = "APIOME_WEBHOOK_ALLOW_LOOPBACK", global = true)]
    pub webhook_allow_loopback: bool,
    /// Requests a second each company may make to the token endpoint and
    /// to `POST /v1/requests` (bursts of twice that); 0 turns it off.
    #[arg(long, env = "APIOME_RATE_LIMIT", default_value_t = DEFAULT_RATE_LIMIT, global = true)]
    pub rate_limit: u32,
    /// Accounts each client address (IPv6: each /64) may create per hour;
    /// 0 turns the limit off.
    #[arg(long, env = "APIOME_SIGN_UPS_PER_HOUR", default_value_t = DEFAULT_SIGN_UPS_PER_HOUR, global = true)]
    pub sign_ups_per_hour: u32,
    /// Reverse proxies whose `X-Forwarded-For` is believed (comma-separated
    /// IP addresses), for sign-in throttling by the client's address.
    #[arg(
        long = "trusted-proxy",
        env = "APIOME_TRUSTED_PROXIES",
        value_delimiter = ',',
        global = true
    )]
    pub trusted_proxies: Vec<String>,
    /// Where mail to people goes: `smtps://user:pass@host:465` (implicit
    /// TLS), `smtp://user:pass@host:587?tls=required` (STARTTLS), or plain
    /// `smtp://host:port` to this machine only. Unset: each mail is written
    /// to `DATA_DIR/outbox/<id>.eml` instead.
    #[arg(long, env = "APIOME_SMTP_URL", global = true, hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The `From:` of mail to people; `apiome@<public host>` when unset.
    #[arg(long, env = "APIOME_MAIL_FROM", global = true)]
    pub mail_from: Option<String>,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
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
}

/// The SQLite file's name inside the data directory.
pub const SQLITE_FILE: &str = "apiome.db";

impl Config {
    /// Checks the settings.
    pub fn from_settings(settings: &Settings) -> Result<Config, ConfigError> {
        let bind = parse_bind(&settings.bind).map_err(ConfigError::Bind)?;
        let admin_bind = parse_bind(&settings.admin_bind).map_err(ConfigError::AdminBind)?;
        let database = match &settings.database_url {
            Some(url) if !url.is_empty() => {
                DatabaseUrl::parse(url).map_err(ConfigError::DatabaseUrl)?
            }
            _ => DatabaseUrl::Sqlite(settings.data_dir.join(SQLITE_FILE)),
        };
        let public_url = match &settings.public_url {
            Some(text) if !text.is_empty() => Some(parse_public_url(text)?),
            _ => None,
        };
        let trusted_proxies = settings
            .trusted_proxies
            .iter()
            .map(|p| p.trim())
            .filter(|p| !p.is_empty())
            .map(|p| {
                p.parse()
                    .map_err(|_| ConfigError::TrustedProxy(p.to_owned()))
            })
            .collect::<Result<_, _>>()?;
        let smtp_url = match &settings.smtp_url {
            Some(text) if !text.is_empty() => Some(parse_smtp_url(text)?),
            _ => None,
        };
        Ok(Config {
            mail: MailConfig::new(smtp_url, settings.mail_from.clone()),
            bind,
            admin_bind,
            data_dir: settings.data_dir.clone(),
            database,
            public_url,
            log_format: settings.log_format,
            webhook_allow_loopback: settings.webhook_allow_loopback,
            rate_limit: settings.rate_limit,
            sign_ups_per_hour: settings.sign_ups_per_hour,
            trusted_proxies,
        })
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
            bind: bind.to_owned(),
            admin_bind: DEFAULT_ADMIN_BIND.to_owned(),
            data_dir: PathBuf::from("/tmp/apiome-data"),
            database_url: database_url.map(str::to_owned),
            public_url: None,
            log_format: LogFormat::Text,
            webhook_allow_loopback: true,
            rate_limit: DEFAULT_RATE_LIMIT,
            sign_ups_per_hour: DEFAULT_SIGN_UPS_PER_HOUR,
            trusted_proxies: Vec::new(),
            smtp_url: None,
            mail_from: None,
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
            s.smtp_url = Some(good.into());
            let config = Config::from_settings(&s).unwrap();
            assert_eq!(config.mail.smtp_url.unwrap().as_str(), good);
        }
        for bad in [
            "smtp://mail.example:25",
            "smtp://mail.example:25?tls=opportunistic",
            "http://mail.example",
            "smtps://mail.example?tls=none",
        ] {
            s.smtp_url = Some(bad.into());
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
        s.trusted_proxies = vec!["10.0.0.2".into(), " ::1 ".into(), String::new()];
        let config = Config::from_settings(&s).unwrap();
        assert_eq!(
            config.trusted_proxies,
            [
                "10.0.0.2".parse::<std::net::IpAddr>().unwrap(),
                "::1".parse().unwrap()
            ]
        );
        s.trusted_proxies = vec!["10.0.0.0/8".into()];
        let error = Config::from_settings(&s).unwrap_err().to_string();
        assert!(error.contains("--trusted-proxy"), "{error}");
    }

    #[test]
    fn webhooks_to_this_machine_are_refused_by_default() {
        let cli = Cli::try_parse_from(["apiome", "serve"]).unwrap();
        let config = Config::from_settings(&cli.settings).unwrap();
        assert!(
            !config.webhook_allow_loopback
                || std::env::var_os("APIOME_WEBHOOK_ALLOW_LOOPBACK").is_some()
        );
        assert!(Config::for_tests(PathBuf::new(), config.database.clone()).webhook_allow_loopback);
    }

    #[test]
    fn the_admin_listener_is_its_own_address() {
        let mut s = settings("0.0.0.0:8080", None);
        s.admin_bind = "10.0.0.5:9100".into();
        let config = Config::from_settings(&s).unwrap();
        assert_eq!(config.admin_bind, "10.0.0.5:9100".parse().unwrap());
        s.admin_bind = "nonsense".into();
        let error = Config::from_settings(&s).unwrap_err().to_string();
        assert!(error.contains("--admin-bind"), "{error}");
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
