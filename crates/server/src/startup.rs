//! Building the application from a [`Config`], so that `main` and the tests
//! start exactly the same server (tests on port 0).

use std::net::TcpListener;
use std::time::Instant;

use actix_web::dev::{Server, Service};
use actix_web::http::header;
use actix_web::middleware::{Compress, DefaultHeaders};
use actix_web::{App, HttpServer, web};
use store::Store;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::config::Config;
use crate::ledger_signer::{self, CheckpointTask, LedgerKeyError, LedgerSigner};
use crate::problem::Problem;
use crate::{data_dir, openapi};

/// The largest JSON body any endpoint reads.
pub const MAX_JSON_BYTES: usize = 64 * 1024;
/// The server key's label for decoy passkey challenges (the same in every
/// process sharing the data, so a decoy does not change between them).
const DECOY_PASSKEY_LABEL: &str = "apiome passkey decoy v1";
/// How long in-flight requests get to finish on SIGTERM/SIGINT.
const SHUTDOWN_GRACE_SECS: u64 = 10;

/// Stops a running server (`stop(true)` lets requests finish).
pub type StopHandle = actix_web::dev::ServerHandle;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The repositories.
    pub store: Store,
    /// The URL the server is reached at (issuer, relying party, links).
    pub public_url: url::Url,
    /// The passkey relying party for that URL.
    pub passkeys: std::sync::Arc<identity::Passkeys>,
    /// The transparency log's signing key.
    pub ledger: LedgerSigner,
    /// The OAuth authorization server's keys and settings.
    pub oauth: std::sync::Arc<crate::oauth_server::OAuthServer>,
    /// Whether webhook URLs may point at this machine.
    pub webhook_allow_loopback: bool,
    /// Per-company limits on the token and request endpoints.
    pub rate_limit: std::sync::Arc<crate::rate_limit::RateLimiter>,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: std::sync::Arc<[std::net::IpAddr]>,
    /// The bounds on signing in and up (argon2 slots, sign-ups per address).
    pub sign_in: std::sync::Arc<broker::sign_in::Limits>,
    /// The key of the one-click unsubscribe tokens in mail.
    pub unsubscribe_key: std::sync::Arc<[u8]>,
    /// The operator's payout rules (the minimum).
    pub payouts: broker::payout::PayoutRules,
}

impl AppState {
    /// What the sign-in and sign-up use cases work with.
    pub(crate) fn accounts(&self) -> broker::sign_in::Accounts<'_> {
        broker::sign_in::Accounts {
            store: &self.store,
            passkeys: &self.passkeys,
            limits: &self.sign_in,
        }
    }

    /// The client's address; behind a trusted proxy, the one it forwarded.
    pub(crate) fn client_address(&self, req: &actix_web::HttpRequest) -> std::net::IpAddr {
        let forwarded = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok());
        crate::client_ip::client_ip(
            req.peer_addr().map(|a| a.ip()),
            forwarded,
            &self.trusted_proxies,
        )
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
    }

    /// Whether this server is reached over HTTPS (cookies are then `Secure`).
    pub(crate) fn is_https(&self) -> bool {
        self.public_url.scheme() == "https"
    }
}

/// The server failed to start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory cannot be used.
    #[error(transparent)]
    DataDir(#[from] data_dir::DataDirError),
    /// The database cannot be opened or migrated.
    #[error("{0} (check --database-url / DATABASE_URL and that the database is running)")]
    Store(#[from] store::StoreError),
    /// Another process serves the SQLite database.
    #[error(transparent)]
    InUse(store::StoreError),
    /// Passkeys cannot work at the public URL.
    #[error("{0} (set --public-url or APIOME_PUBLIC_URL)")]
    Passkeys(identity::PasskeyError),
    /// The transparency log's key cannot be made or read.
    #[error(transparent)]
    LedgerKey(#[from] LedgerKeyError),
    /// The OAuth keys cannot be made or read.
    #[error(transparent)]
    OAuthKeys(#[from] crate::oauth_keys::OAuthKeyError),
    /// The keys sealing attribute values cannot be had.
    #[error(transparent)]
    DataKeys(#[from] crate::data_keys::DataKeysError),
    /// Mail cannot be sent as configured.
    #[error(transparent)]
    Mail(#[from] crate::mail::MailError),
    /// The webhook worker has no HTTP client.
    #[error("cannot make the webhook HTTP client: {0}")]
    Webhooks(reqwest::Error),
    /// The address cannot be listened on.
    #[error(
        "cannot listen on {addr}: {source} (set --bind / APIOME_BIND or --admin-bind / APIOME_ADMIN_BIND to a free address)"
    )]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A built server, listening but not yet serving.
pub struct Application {
    port: u16,
    admin_port: u16,
    server: Server,
    /// The admin listener (`/metrics`), running on its own task (an actix
    /// server runs only while its future is polled), stopped after the
    /// public one.
    admin: (StopHandle, tokio::task::JoinHandle<std::io::Result<()>>),
    store: Store,
    checkpoints: CheckpointTask,
    sweeper: crate::sweeper::Periodic,
    revocations: crate::sweeper::Periodic,
    authorizations: crate::sweeper::Periodic,
    webhooks: crate::sweeper::Periodic,
    mail: Option<crate::sweeper::Periodic>,
    notices: crate::sweeper::Periodic,
    /// Picks up signing keys rotated by another process.
    signing_keys: crate::sweeper::Periodic,
    /// This process's claim on a SQLite database, released last.
    database_lock: Option<store::DatabaseLock>,
}

impl Application {
    /// Prepares the data directory, opens and migrates the database, and
    /// binds the listener.
    pub async fn build(config: Config) -> Result<Application, StartError> {
        data_dir::prepare(&config.data_dir)?;
        let keys = crate::data_keys::load_from(&config.keys, &config.data_dir)?;
        // Before the database is opened (and migrated): a second server on
        // a SQLite file is refused before it touches the file.
        let database_lock =
            store::DatabaseLock::acquire_for(&config.database).map_err(|e| match e {
                e @ store::StoreError::InUse { .. } => StartError::InUse(e),
                e => StartError::Store(e),
            })?;
        let store = Store::open(&config.database, keys).await?;
        let database_lock = match database_lock {
            Some(lock) => Some(store.serve_alone(lock).await?),
            None => None,
        };
        let (listener, port) = listen(config.bind)?;
        let (admin_listener, admin_port) = listen(config.admin_bind)?;
        let public_url = config.public_url_for(port);
        let passkeys = identity::Passkeys::new(&public_url).map_err(StartError::Passkeys)?;
        let ledger = LedgerSigner::load_from(
            &config.keys,
            &config.data_dir,
            &ledger_signer::log_name(&public_url),
        )?;
        ledger_signer::check_key_matches_log(&store, &ledger).await;
        let oauth = crate::oauth_server::OAuthServer::load(
            &config.keys,
            &config.data_dir,
            &store,
            &public_url,
        )
        .await?;
        crate::receipts::install(&store, &oauth, &config.jurisdiction);
        let (signing, rsa) = (oauth.signing.clone(), oauth.rsa.clone());
        let signing_keys =
            crate::sweeper::Periodic::spawn(crate::oauth_keys::SIGNING_KEYS_REFRESH, move || {
                let (signing, rsa) = (signing.clone(), rsa.clone());
                async move {
                    tokio::join!(signing.refresh(), rsa.refresh());
                }
            });
        let decoy_secret = oauth.server_key.derive(DECOY_PASSKEY_LABEL).to_text();
        let unsubscribe_key: std::sync::Arc<[u8]> = oauth
            .server_key
            .derive(crate::mail::UNSUBSCRIBE_KEY_LABEL)
            .to_text()
            .into_bytes()
            .into();
        let mailer = crate::mail::Mailer::new(
            &config.mail,
            &config.data_dir,
            &public_url,
            unsubscribe_key.to_vec(),
        )?;
        let state = AppState {
            store: store.clone(),
            passkeys: std::sync::Arc::new(passkeys),
            public_url,
            ledger: ledger.clone(),
            oauth: std::sync::Arc::new(oauth),
            webhook_allow_loopback: config.webhook_allow_loopback,
            rate_limit: std::sync::Arc::new(crate::rate_limit::RateLimiter::new(config.rate_limit)),
            trusted_proxies: config.trusted_proxies.clone().into(),
            sign_in: std::sync::Arc::new(broker::sign_in::Limits::new(
                broker::sign_in::PasswordHashing::for_this_machine(),
                config.sign_ups_per_hour,
                decoy_secret,
            )),
            unsubscribe_key,
            payouts: broker::payout::PayoutRules {
                minimum_micros: config.payout_minimum_micros,
            },
        };
        let webhooks =
            crate::webhooks::spawn_delivery_worker(store.clone(), config.webhook_allow_loopback)
                .map_err(StartError::Webhooks)?;
        let metrics = web::Data::new(crate::metrics::Metrics::default());
        let admin = admin_server(admin_listener, config.admin_bind, &state, &metrics)?;
        let admin = (admin.handle(), tokio::spawn(admin));
        let server = HttpServer::new(move || app(state.clone(), metrics.clone()))
            .listen(listener)
            .map_err(|source| StartError::Listen {
                addr: config.bind,
                source,
            })?
            .shutdown_timeout(SHUTDOWN_GRACE_SECS)
            .run();
        tracing::info!(
            address = %config.bind, port, admin_address = %config.admin_bind, admin_port,
            database = %config.database.display(),
            "apiome is serving"
        );
        let checkpoints = CheckpointTask::spawn(store.clone(), ledger);
        let sweeper = crate::sweeper::spawn_expiry_sweeper(store.clone());
        let revocations = crate::sweeper::spawn_revocation_sweeper(store.clone());
        let authorizations = crate::sweeper::spawn_authorization_purger(store.clone());
        let mail = config
            .mail
            .send
            .then(|| crate::mail::spawn_mail_worker(store.clone(), mailer));
        let notices = crate::mail::spawn_notice_sweeper(store.clone(), &config.mail);
        // Proofs are served from a cache of the tree's upper levels; fill
        // it in the background rather than on the first requests.
        let warming = store.clone();
        tokio::spawn(async move {
            match warming.warm_ledger_cache().await {
                Ok(nodes) => tracing::debug!(nodes, "ledger proof cache warmed"),
                Err(error) => tracing::warn!(%error, "ledger proof cache not warmed"),
            }
        });
        Ok(Application {
            port,
            admin_port,
            server,
            admin,
            store,
            checkpoints,
            sweeper,
            revocations,
            authorizations,
            webhooks,
            mail,
            notices,
            signing_keys,
            database_lock,
        })
    }

    /// The port it listens on (the real one when the config said 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The admin listener's port (`GET /metrics`; the real one when the
    /// config said 0).
    pub fn admin_port(&self) -> u16 {
        self.admin_port
    }

    /// A handle that can stop the server (the admin listener stops with it).
    pub fn stop_handle(&self) -> StopHandle {
        self.server.handle()
    }

    /// Serves until SIGTERM/SIGINT (or [`Self::handle`]) stops it, lets
    /// in-flight requests finish, then closes the database.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        let (admin, serving) = self.admin;
        admin.stop(true).await;
        match serving.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "the admin listener failed"),
            Err(e) => tracing::warn!(error = %e, "the admin listener's task failed"),
        }
        self.sweeper.stop().await;
        self.revocations.stop().await;
        self.authorizations.stop().await;
        self.webhooks.stop().await;
        if let Some(mail) = self.mail {
            mail.stop().await;
        }
        self.notices.stop().await;
        self.signing_keys.stop().await;
        self.checkpoints.stop().await;
        if let Err(e) = self.store.close().await {
            tracing::warn!(error = %e, "closing the database");
        }
        drop(self.database_lock);
        tracing::info!("apiome stopped");
        result
    }
}

/// Binds `addr`, and says which port it got (the real one for port 0).
fn listen(addr: std::net::SocketAddr) -> Result<(TcpListener, u16), StartError> {
    let listener = TcpListener::bind(addr).map_err(|source| StartError::Listen { addr, source })?;
    let port = listener
        .local_addr()
        .map_err(|source| StartError::Listen { addr, source })?
        .port();
    Ok((listener, port))
}

/// The admin listener: `GET /metrics` and nothing else, one worker, not
/// counted in the request metrics (a scrape would be a series of its own).
/// Its requests are the operator's, so it stays off the public port.
fn admin_server(
    listener: TcpListener,
    addr: std::net::SocketAddr,
    state: &AppState,
    metrics: &web::Data<crate::metrics::Metrics>,
) -> Result<Server, StartError> {
    let (state, metrics) = (web::Data::new(state.clone()), metrics.clone());
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(metrics.clone())
            .service(crate::metrics::metrics)
            .default_service(web::to(|| async {
                Err::<actix_web::HttpResponse, _>(Problem::not_found(
                    "the admin listener serves /metrics only",
                ))
            }))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .map_err(|source| StartError::Listen { addr, source })?
    .shutdown_timeout(1)
    .run())
}

/// Two years, the value the HSTS preload list asks for.
pub const HSTS: &str = "max-age=63072000; includeSubDomains";

/// The public application: routes, limits, error shapes and headers.
fn app(
    state: AppState,
    metrics: web::Data<crate::metrics::Metrics>,
) -> App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let mut headers = DefaultHeaders::new()
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        // Never a referrer to another site (a consent screen's URL
        // carries the OAuth request), but a form posted to this
        // site keeps its `Origin`: under `no-referrer` browsers
        // send `Origin: null`, and the sign-in forms' login-CSRF
        // check refuses that.
        .add((header::REFERRER_POLICY, "same-origin"))
        .add((header::X_FRAME_OPTIONS, "DENY"));
    if state.public_url.scheme() == "https" {
        // Served over TLS (here or at a proxy): browsers must never come
        // back over plain http, where a session cookie could be taken.
        headers = headers.add((header::STRICT_TRANSPORT_SECURITY, HSTS));
    }
    let trusted = crate::request_id::TrustedProxies(state.trusted_proxies.clone());
    let state_url = state.public_url.clone();
    let (app, document) = App::new()
        .into_utoipa_app()
        .openapi(openapi::document_base())
        .app_data(web::Data::new(state))
        .app_data(
            web::JsonConfig::default()
                .limit(MAX_JSON_BYTES)
                .error_handler(|err, _| Problem::malformed(err.to_string()).into()),
        )
        .app_data(
            web::QueryConfig::default()
                .error_handler(|err, _| Problem::malformed(err.to_string()).into()),
        )
        .app_data(
            web::PathConfig::default()
                .error_handler(|err, _| Problem::malformed(err.to_string()).into()),
        )
        .configure(openapi::api)
        .split_for_parts();
    let mut document = document;
    openapi::finish(&mut document, state_url.as_str());
    let allowed = std::sync::Arc::new(crate::allowed_methods::AllowedMethods::of(&document));
    let observed = metrics.clone();
    app.app_data(metrics)
        .app_data(web::Data::new(trusted))
        .service(crate::pages::home::home)
        .configure(crate::pages::configure)
        .service(
            SwaggerUi::new("/docs/{_:.*}")
                .url("/openapi.json", document)
                .config(utoipa_swagger_ui::Config::default().validator_url("none")),
        )
        .service(web::redirect("/docs", "/docs/"))
        .default_service(web::to(move |req: actix_web::HttpRequest| {
            let allowed = allowed.clone();
            async move { crate::allowed_methods::unmatched(&req, &allowed) }
        }))
        .wrap_fn(move |req, srv| {
            let answer = srv.call(req);
            let public_url = state_url.clone();
            async move { crate::problem::with_absolute_type(answer.await?, &public_url).await }
        })
        .wrap(Compress::default())
        .wrap(headers)
        .wrap_fn(move |req, srv| {
            // Method, path and status only: query strings can carry codes
            // and tokens, and no value of a person's may reach the logs.
            let method = req.method().clone();
            let path = req.path().to_owned();
            let started = Instant::now();
            let response = srv.call(req);
            let observed = observed.clone();
            async move {
                let response = response.await?;
                observed.observe(
                    &method,
                    response.request().match_pattern(),
                    response.status().as_u16(),
                    started.elapsed(),
                );
                tracing::info!(
                    %method, %path, status = response.status().as_u16(),
                    elapsed_us = started.elapsed().as_micros() as u64,
                    "request"
                );
                Ok(response)
            }
        })
        // outermost: the access line above is written inside its span
        .wrap(actix_web::middleware::from_fn(
            crate::request_id::middleware,
        ))
}
