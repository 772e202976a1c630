//! The operator's commands for OAuth clients and keys: `apiome company
//! create|list|registration-token`, `apiome auditor create`, `apiome keys
//! rotate`. Each prints JSON on stdout; a client secret or initial access
//! token is printed once and stored only as a hash.

use std::path::Path;

use authz::{
    ClientMetadata, ClientRecord, ClientSecret, GrantType, OsRandom, Random, ServerKey, TokenHash,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use consent_policy::CompanyKind;
use store::{ClientKind, Store};

use crate::oauth_keys::{self, unix_now};

/// How long an initial access token for registration stays usable.
pub const REGISTRATION_TOKEN_TTL_SECS: u64 = 24 * 60 * 60;

/// An operator command that could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The input was refused (a bad name or redirect URI).
    #[error("{0}")]
    Invalid(String),
    /// The database refused.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// The keys cannot be read or written.
    #[error(transparent)]
    Keys(#[from] oauth_keys::OAuthKeyError),
    /// The use case refused.
    #[error(transparent)]
    Broker(#[from] broker::BrokerError),
}

impl From<authz::OAuthError> for AdminError {
    fn from(e: authz::OAuthError) -> Self {
        AdminError::Invalid(e.description)
    }
}

impl From<authz::RandomError> for AdminError {
    fn from(e: authz::RandomError) -> Self {
        AdminError::Invalid(format!("no randomness: {}", e.0))
    }
}

/// A new client and its secret, shown once.
#[derive(Debug, serde::Serialize)]
pub struct CreatedClient {
    /// The client id (for a company, also its company id).
    pub client_id: String,
    /// The secret; only its keyed hash is stored.
    pub client_secret: String,
    /// The name people see.
    pub client_name: String,
    /// Registered redirect URIs (none for auditors).
    pub redirect_uris: Vec<String>,
    /// Grant types it may use.
    pub grant_types: Vec<String>,
    /// How it authenticates at the token endpoint.
    pub token_endpoint_auth_method: String,
    /// Whether every token it gets must be DPoP-bound (RFC 9449 §5.2).
    pub dpop_bound_access_tokens: bool,
    /// A sandbox company (synthetic people, `XTS`); printed only when true.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub sandbox: bool,
}

fn created(
    record: &ClientRecord,
    secret: Option<ClientSecret>,
) -> Result<CreatedClient, AdminError> {
    let secret =
        secret.ok_or_else(|| AdminError::Invalid("a secret client got no secret".into()))?;
    Ok(CreatedClient {
        client_id: record.client_id.to_string(),
        client_secret: secret.expose().to_owned(),
        client_name: record.metadata.client_name.clone(),
        redirect_uris: record
            .metadata
            .redirect_uris
            .iter()
            .map(|u| u.as_str().to_owned())
            .collect(),
        grant_types: record
            .metadata
            .grant_types
            .iter()
            .map(|g| g.as_str().to_owned())
            .collect(),
        token_endpoint_auth_method: record
            .metadata
            .token_endpoint_auth_method
            .as_str()
            .to_owned(),
        dpop_bound_access_tokens: record.metadata.dpop_bound_access_tokens,
        sandbox: false,
    })
}

/// Registers a company client (`client_secret_basic`; code, refresh,
/// client-credentials and CIBA-poll grants) and its company row.
pub async fn create_company(
    store: &Store,
    server_key: &ServerKey,
    name: &str,
    redirect_uris: &[String],
) -> Result<CreatedClient, AdminError> {
    create_company_with(
        store,
        server_key,
        name,
        redirect_uris,
        serde_json::json!({}),
    )
    .await
}

/// As [`create_company`], for a company whose tokens must all be
/// DPoP-bound (`dpop_bound_access_tokens`, RFC 9449 §5.2): every token
/// request needs a proof with the server's nonce.
pub async fn create_dpop_company(
    store: &Store,
    server_key: &ServerKey,
    name: &str,
    redirect_uris: &[String],
) -> Result<CreatedClient, AdminError> {
    let dpop = serde_json::json!({"dpop_bound_access_tokens": true});
    create_company_with(store, server_key, name, redirect_uris, dpop).await
}

/// [`create_company`] in CIBA ping mode, notified at `endpoint` (checked
/// by the caller as a webhook URL is).
pub async fn create_ping_company(
    store: &Store,
    server_key: &ServerKey,
    name: &str,
    redirect_uris: &[String],
    endpoint: &str,
) -> Result<CreatedClient, AdminError> {
    let ping = serde_json::json!({
        "backchannel_token_delivery_mode": "ping",
        "backchannel_client_notification_endpoint": endpoint,
    });
    create_company_with(store, server_key, name, redirect_uris, ping).await
}

/// Registers a company with extra RFC 7591 metadata members (CIBA ping
/// delivery, `dpop_bound_access_tokens`), checked as registration checks them.
pub async fn create_company_with(
    store: &Store,
    server_key: &ServerKey,
    name: &str,
    redirect_uris: &[String],
    extra: serde_json::Value,
) -> Result<CreatedClient, AdminError> {
    register_company(
        store,
        server_key,
        name,
        redirect_uris,
        extra,
        CompanyKind::Real,
    )
    .await
}

/// As [`create_company_with`], for a sandbox company (`apiome company
/// create --sandbox`): its requests reach only synthetic `sandbox-*`
/// people and its offers and wallet are in `XTS` (see
/// [`consent_policy::SandboxPerson`]). Only the operator makes one;
/// RFC 7591 registration makes real companies.
pub async fn create_sandbox_company_with(
    store: &Store,
    server_key: &ServerKey,
    name: &str,
    redirect_uris: &[String],
    extra: serde_json::Value,
) -> Result<CreatedClient, AdminError> {
    register_company(
        store,
        server_key,
        name,
        redirect_uris,
        extra,
        CompanyKind::Sandbox,
    )
    .await
}

async fn register_company(
    store: &Store,
    server_key: &ServerKey,
    name: &str,
    redirect_uris: &[String],
    extra: serde_json::Value,
    kind: CompanyKind,
) -> Result<CreatedClient, AdminError> {
    let grant_types: Vec<&str> = GrantType::ALL.iter().map(|g| g.as_str()).collect();
    let mut document = serde_json::json!({
        "client_name": name,
        "redirect_uris": redirect_uris,
        "token_endpoint_auth_method": "client_secret_basic",
        "grant_types": grant_types,
    });
    if let (Some(map), Some(more)) = (document.as_object_mut(), extra.as_object()) {
        map.extend(more.clone());
    }
    let metadata = ClientMetadata::parse(&document)?;
    let (record, secret) = ClientRecord::register(metadata, server_key, &mut OsRandom, unix_now())?;
    match kind {
        CompanyKind::Real => store.create_client(&record, ClientKind::Company).await?,
        CompanyKind::Sandbox => store.create_sandbox_client(&record).await?,
    };
    Ok(CreatedClient {
        sandbox: kind == CompanyKind::Sandbox,
        ..created(&record, secret)?
    })
}

/// Registers an auditor: `client_credentials` only, for `ledger:read`.
pub async fn create_auditor(
    store: &Store,
    server_key: &ServerKey,
    name: &str,
) -> Result<CreatedClient, AdminError> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > authz::client::MAX_CLIENT_NAME_LEN
        || name.chars().any(char::is_control)
    {
        return Err(AdminError::Invalid(format!(
            "the name must have 1 to {} characters and no control characters",
            authz::client::MAX_CLIENT_NAME_LEN
        )));
    }
    let metadata = ClientMetadata {
        client_name: name.to_owned(),
        redirect_uris: Vec::new(),
        token_endpoint_auth_method: authz::AuthMethod::ClientSecretBasic,
        jwks: None,
        grant_types: vec![GrantType::ClientCredentials],
        id_token_signed_response_alg: authz::IdTokenAlg::default(),
        post_logout_redirect_uris: Vec::new(),
        backchannel_token_delivery_mode: authz::DeliveryMode::Poll,
        backchannel_client_notification_endpoint: None,
        dpop_bound_access_tokens: false,
    };
    let (record, secret) = ClientRecord::register(metadata, server_key, &mut OsRandom, unix_now())?;
    store.create_client(&record, ClientKind::Auditor).await?;
    created(&record, secret)
}

/// A company as `apiome company list` prints it (no secrets).
#[derive(Debug, serde::Serialize)]
pub struct ListedCompany {
    /// The client id.
    pub client_id: String,
    /// The name.
    pub client_name: String,
    /// Registered redirect URIs.
    pub redirect_uris: Vec<String>,
    /// How it authenticates.
    pub token_endpoint_auth_method: String,
    /// Grant types it may use.
    pub grant_types: Vec<String>,
    /// Registration time, Unix seconds.
    pub client_id_issued_at: u64,
    /// Whether its tokens must be DPoP-bound.
    pub dpop_bound_access_tokens: bool,
    /// `active`, `disabled` or `deleted`.
    pub status: store::ClientStatus,
}

/// Every company client.
pub async fn list_companies(store: &Store) -> Result<Vec<ListedCompany>, AdminError> {
    Ok(store
        .clients()
        .await?
        .iter()
        .filter(|c| c.kind == ClientKind::Company)
        .map(listed)
        .collect())
}

/// A new initial access token for RFC 7591 registration.
#[derive(Debug, serde::Serialize)]
pub struct RegistrationToken {
    /// Send as `Authorization: Bearer <token>` to `/oauth/register`.
    pub initial_access_token: String,
    /// When it stops working, Unix seconds.
    pub expires_at: u64,
}

/// Issues an initial access token, stored hashed, valid for
/// [`REGISTRATION_TOKEN_TTL_SECS`].
pub async fn issue_registration_token(store: &Store) -> Result<RegistrationToken, AdminError> {
    let bytes: [u8; 32] = OsRandom.array()?;
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let now = unix_now();
    let expires_at = now.plus_secs(REGISTRATION_TOKEN_TTL_SECS);
    store
        .save_registration_token(&TokenHash::of(&token), now, expires_at)
        .await?;
    Ok(RegistrationToken {
        initial_access_token: token,
        expires_at: expires_at.as_secs(),
    })
}

/// The server key from the data directory (made if missing), for commands
/// that register clients.
pub fn server_key(data_dir: &Path) -> Result<ServerKey, AdminError> {
    Ok(oauth_keys::load_server_key(data_dir)?)
}

/// What `apiome company fund` did, and the wallet after it.
#[derive(Debug, serde::Serialize)]
pub struct FundReport {
    /// The company's client id.
    pub client_id: String,
    /// The idempotency id of the funding transfer.
    pub transfer_id: String,
    /// `credited`, or `already_credited` when this transfer id was applied before.
    pub status: &'static str,
    /// The amount credited, e.g. `10.00 EUR`.
    pub amount: String,
    /// Micro-units credited.
    pub amount_micros: u64,
    /// What the wallet can now reserve in this currency, e.g. `12.50 EUR`.
    pub available: String,
}

/// Credits a company's wallet: the operator's record of a payment received.
/// `amount` is in whole units (`10`, `0.05`); `transfer_id` (a bank
/// reference, say) makes a retry harmless — a random one when absent.
pub async fn fund_company(
    store: &Store,
    client_id: &str,
    amount: &str,
    currency: &str,
    transfer_id: Option<String>,
) -> Result<FundReport, AdminError> {
    let client = company_client(store, client_id).await?;
    let currency = consent_policy::Currency::parse(currency)
        .map_err(|e| AdminError::Invalid(e.to_string()))?;
    let money = consent_policy::Money::parse_units(amount, currency)
        .map_err(|e| AdminError::Invalid(e.to_string()))?;
    let transfer_id = match transfer_id {
        Some(id) => id,
        None => format!("fund:{}", uuid::Uuid::new_v4()),
    };
    let company = client.to_company_id();
    let broker::fund::Funding { funded, available } =
        broker::fund::fund(store, &company, &money, &transfer_id).await?;
    Ok(FundReport {
        client_id: client_id.to_owned(),
        transfer_id,
        status: match funded {
            store::Funded::Credited => "credited",
            store::Funded::AlreadyCredited => "already_credited",
        },
        amount: money.to_string(),
        amount_micros: money.amount_micros(),
        available: available.to_string(),
    })
}

/// The client of a registered company that was not deleted, or why there
/// is none.
async fn company_client(store: &Store, client_id: &str) -> Result<authz::ClientId, AdminError> {
    let client = any_company_client(store, client_id).await?;
    match store.client_in_any_status(&client).await? {
        Some(found) if found.status == store::ClientStatus::Deleted => Err(AdminError::Invalid(
            format!("the company {client_id} was deleted"),
        )),
        _ => Ok(client),
    }
}

/// The client of a registered company, deleted or not, or why there is none.
async fn any_company_client(store: &Store, client_id: &str) -> Result<authz::ClientId, AdminError> {
    let unknown = || {
        AdminError::Invalid(format!(
            "no company with client id {client_id} (see `apiome company list`)"
        ))
    };
    let client = authz::ClientId::parse(client_id).map_err(|_| unknown())?;
    match store.client_in_any_status(&client).await? {
        Some(found) if found.kind == ClientKind::Company => Ok(client),
        Some(_) => Err(AdminError::Invalid(format!(
            "{client_id} is an auditor, not a company"
        ))),
        None => Err(unknown()),
    }
}

/// A company's webhook as `apiome company webhook` prints it.
#[derive(Debug, serde::Serialize)]
pub struct WebhookReport {
    /// The company's client id.
    pub client_id: String,
    /// The URL called, or `None` when removed.
    pub webhook_url: Option<String>,
    /// The current signing secret (`whsec_…`, Standard Webhooks' form).
    pub webhook_secret: Option<String>,
    /// After a rotation: until when the replaced secret also signs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_secret_signs_until: Option<String>,
}

/// Longest company contact, in characters (an address or a URL).
pub const MAX_CONTACT_CHARS: usize = 254;

/// Sets the contact consent receipts name for the company (`apiome company
/// create --contact`): an address or URL people write to about their data.
pub async fn set_company_contact(
    store: &Store,
    client_id: &str,
    contact: &str,
) -> Result<(), AdminError> {
    let contact = contact.trim();
    if contact.is_empty()
        || contact.chars().count() > MAX_CONTACT_CHARS
        || contact.chars().any(char::is_control)
    {
        return Err(AdminError::Invalid(format!(
            "--contact is 1 to {MAX_CONTACT_CHARS} characters, no control characters"
        )));
    }
    let client = company_client(store, client_id).await?;
    store
        .set_company_contact(&client.to_company_id(), Some(contact))
        .await?;
    Ok(())
}

/// Sets (or with `None` removes) a company's webhook URL. The operator is
/// trusted with host names that do not resolve yet: the URL's shape and
/// any address literal are checked here, and every address a name resolves
/// to before each call (`webhooks::check_destination`), as for a URL a
/// company sets through the API.
pub async fn set_webhook(
    store: &Store,
    client_id: &str,
    url: Option<&str>,
    allow_loopback: bool,
) -> Result<WebhookReport, AdminError> {
    let client = company_client(store, client_id).await?;
    let company = client.to_company_id();
    let url = url
        .map(|u| crate::webhooks::check_url(u, allow_loopback).map_err(AdminError::Invalid))
        .transpose()?;
    let secret = match &url {
        Some(url) => broker::webhook::set(store, &company, url.as_str())
            .await?
            .first()
            .map(|s| s.as_str().to_owned()),
        None => {
            broker::webhook::remove(store, &company).await?;
            None
        }
    };
    Ok(WebhookReport {
        client_id: client_id.to_owned(),
        webhook_secret: secret,
        webhook_url: url.map(String::from),
        previous_secret_signs_until: None,
    })
}

/// Replaces a company's webhook signing secret; the replaced one goes on
/// signing for 24 hours, so the company can move its receiver to the new
/// one without missing a call.
pub async fn rotate_webhook_secret(
    store: &Store,
    client_id: &str,
) -> Result<WebhookReport, AdminError> {
    let client = company_client(store, client_id).await?;
    let company = client.to_company_id();
    let secrets = broker::webhook::rotate_secret(store, &company).await?;
    Ok(WebhookReport {
        client_id: client_id.to_owned(),
        webhook_url: store.webhook(&company).await?,
        webhook_secret: secrets.first().map(|s| s.as_str().to_owned()),
        previous_secret_signs_until: secrets
            .iter()
            .find_map(store::WebhookSecret::signs_until)
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            }),
    })
}

fn listed(client: &store::StoredClient) -> ListedCompany {
    let m = &client.record.metadata;
    ListedCompany {
        client_id: client.record.client_id.to_string(),
        client_name: m.client_name.clone(),
        redirect_uris: m
            .redirect_uris
            .iter()
            .map(|u| u.as_str().to_owned())
            .collect(),
        token_endpoint_auth_method: m.token_endpoint_auth_method.as_str().to_owned(),
        grant_types: m
            .grant_types
            .iter()
            .map(|g| g.as_str().to_owned())
            .collect(),
        client_id_issued_at: client.record.issued_at.as_secs(),
        dpop_bound_access_tokens: m.dpop_bound_access_tokens,
        status: client.status,
    }
}

/// One currency of a company's wallet, as `apiome company show` prints it.
#[derive(Debug, serde::Serialize)]
pub struct ShownBalance {
    /// Ever funded, e.g. `10.00 EUR`.
    pub funded: String,
    /// Paid to people.
    pub spent: String,
    /// Held for offers waiting for an answer.
    pub reserved: String,
    /// What new offers can still reserve.
    pub available: String,
}

/// A company as `apiome company show` prints it (no secrets).
#[derive(Debug, serde::Serialize)]
pub struct ShownCompany {
    /// What `company list` prints.
    #[serde(flatten)]
    pub company: ListedCompany,
    /// Grants neither revoked nor expired.
    pub live_grants: u64,
    /// The wallet, one balance per currency it was ever funded in.
    pub wallet: Vec<ShownBalance>,
    /// A sandbox company (synthetic people, `XTS`).
    pub sandbox: bool,
}

/// One company, with what it holds: live grants and its wallet.
pub async fn show_company(store: &Store, client_id: &str) -> Result<ShownCompany, AdminError> {
    let client = any_company_client(store, client_id).await?;
    let stored = store
        .client_in_any_status(&client)
        .await?
        .ok_or_else(|| AdminError::Invalid(format!("no company with client id {client_id}")))?;
    let company = client.to_company_id();
    let money = |amount, currency| consent_policy::Money::new(amount, currency).to_string();
    let wallet = store
        .wallet(&company)
        .await?
        .into_iter()
        .map(|b| ShownBalance {
            funded: money(b.funded, b.currency),
            spent: money(b.spent, b.currency),
            reserved: money(b.reserved, b.currency),
            available: money(b.available, b.currency),
        })
        .collect();
    Ok(ShownCompany {
        company: listed(&stored),
        live_grants: store.live_grant_count_for_company(&company).await?,
        wallet,
        sandbox: store.company(&company).await?.kind == CompanyKind::Sandbox,
    })
}

/// An auditor as `apiome auditor list` prints it (no secret).
#[derive(Debug, serde::Serialize)]
pub struct ListedAuditor {
    /// The client id.
    pub client_id: String,
    /// The name.
    pub client_name: String,
    /// Registration time, Unix seconds.
    pub client_id_issued_at: u64,
    /// `active` or `revoked`.
    pub status: store::ClientStatus,
}

/// Every auditor client, oldest first.
pub async fn list_auditors(store: &Store) -> Result<Vec<ListedAuditor>, AdminError> {
    Ok(store
        .clients()
        .await?
        .into_iter()
        .filter(|c| c.kind == ClientKind::Auditor)
        .map(|c| ListedAuditor {
            client_id: c.record.client_id.to_string(),
            client_name: c.record.metadata.client_name.clone(),
            client_id_issued_at: c.record.issued_at.as_secs(),
            status: c.status,
        })
        .collect())
}

/// A person as `apiome person list|show` prints them: who, never what
/// they share (no attribute value, no rule).
#[derive(Debug, serde::Serialize)]
pub struct ListedPerson {
    /// Internal id.
    pub id: String,
    /// The handle they sign in with.
    pub handle: String,
    /// The name the ledger knows them by.
    pub pseudonym: String,
    /// Sign-up time, RFC 3339.
    pub created_at: String,
    /// Whether the operator suspended them.
    pub suspended: bool,
}

fn listed_person(person: &store::Person) -> ListedPerson {
    ListedPerson {
        id: person.id.as_str().to_owned(),
        handle: person.handle.as_str().to_owned(),
        pseudonym: person.pseudonym.clone(),
        created_at: person
            .created_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        suspended: person.suspended,
    }
}

/// People in sign-up order, at most [`store::MAX_PEOPLE_LISTED`] after the
/// person with id `after`.
pub async fn list_people(
    store: &Store,
    after: Option<&str>,
) -> Result<Vec<ListedPerson>, AdminError> {
    let after = match after {
        Some(who) => Some(person_by_id_or_handle(store, who).await?.id),
        None => None,
    };
    Ok(store
        .people(after.as_ref())
        .await?
        .iter()
        .map(listed_person)
        .collect())
}

/// A person as `apiome person show` prints them.
#[derive(Debug, serde::Serialize)]
pub struct ShownPerson {
    /// What `person list` prints.
    #[serde(flatten)]
    pub person: ListedPerson,
    /// Grants neither revoked nor expired.
    pub live_grants: u64,
}

/// One person, by handle or id.
pub async fn show_person(store: &Store, who: &str) -> Result<ShownPerson, AdminError> {
    let person = person_by_id_or_handle(store, who).await?;
    Ok(ShownPerson {
        live_grants: store.live_grant_count_for_person(&person.id).await?,
        person: listed_person(&person),
    })
}

/// The person with this handle, else with this id, or why there is none.
async fn person_by_id_or_handle(store: &Store, who: &str) -> Result<store::Person, AdminError> {
    if let Ok(handle) = consent_policy::Handle::parse(who) {
        match store.person_by_handle(&handle).await {
            Ok(person) => return Ok(person),
            Err(store::StoreError::PersonNotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    match store
        .person(&consent_policy::PersonId::new(who.to_owned()))
        .await
    {
        Ok(person) => Ok(person),
        Err(store::StoreError::PersonNotFound) => Err(AdminError::Invalid(format!(
            "no person with handle or id {who} (see `apiome person list`)"
        ))),
        Err(e) => Err(e.into()),
    }
}

/// What an operator's act on a client or person did, as printed.
#[derive(Debug, serde::Serialize)]
pub struct ActReport {
    /// The client id, or the person's id.
    pub id: String,
    /// The state now: `disabled`, `active`, `deleted`, `revoked`,
    /// `suspended`.
    pub status: &'static str,
    /// `false` when it was so already (nothing changed, nothing logged).
    pub changed: bool,
}

fn act(id: &str, status: &'static str, outcome: broker::admin::Outcome) -> ActReport {
    ActReport {
        id: id.to_owned(),
        status,
        changed: outcome == broker::admin::Outcome::Done,
    }
}

/// `apiome company disable`.
pub async fn disable_company(store: &Store, client_id: &str) -> Result<ActReport, AdminError> {
    let outcome = broker::admin::disable_company(store, client_id).await?;
    Ok(act(client_id, "disabled", outcome))
}

/// `apiome company enable`.
pub async fn enable_company(store: &Store, client_id: &str) -> Result<ActReport, AdminError> {
    let outcome = broker::admin::enable_company(store, client_id).await?;
    Ok(act(client_id, "active", outcome))
}

/// What `apiome company delete` did.
#[derive(Debug, serde::Serialize)]
pub struct DeleteReport {
    /// The act itself.
    #[serde(flatten)]
    pub act: ActReport,
    /// Grants revoked (`--force`).
    pub revoked_grants: Vec<String>,
    /// Requests that were waiting for an answer, now expired.
    pub expired_requests: u64,
    /// Offers voided, back in the wallet before the refund, e.g. `["0.05 EUR"]`.
    pub voided: Vec<String>,
    /// What the wallet still held, refunded, e.g. `["9.95 EUR"]`.
    pub refunded: Vec<String>,
}

/// `apiome company delete`: refused while the company holds grants,
/// requests or money (the error says what); [`force_delete_company`] ends
/// all of it.
pub async fn delete_company(store: &Store, client_id: &str) -> Result<DeleteReport, AdminError> {
    let outcome = broker::admin::delete_company(store, client_id).await?;
    Ok(deleted(
        client_id,
        outcome,
        broker::admin::CompanyHoldings::default(),
    ))
}

/// `apiome company delete --force`.
pub async fn force_delete_company(
    store: &Store,
    client_id: &str,
) -> Result<DeleteReport, AdminError> {
    let (outcome, ended) = broker::admin::force_delete_company(store, client_id).await?;
    Ok(deleted(client_id, outcome, ended))
}

fn deleted(
    client_id: &str,
    outcome: broker::admin::Outcome,
    ended: broker::admin::CompanyHoldings,
) -> DeleteReport {
    let words = |m: &[consent_policy::Money]| m.iter().map(ToString::to_string).collect();
    DeleteReport {
        act: act(client_id, "deleted", outcome),
        voided: words(&ended.reserved),
        refunded: words(&ended.available),
        revoked_grants: ended.live_grants,
        expired_requests: ended.pending_requests,
    }
}

/// A client's new secret, shown once.
#[derive(Debug, serde::Serialize)]
pub struct RotatedSecret {
    /// The client id.
    pub client_id: String,
    /// The new secret; the old one is refused from now on.
    pub client_secret: String,
}

/// `apiome company rotate-secret`.
pub async fn rotate_client_secret(
    store: &Store,
    server_key: &ServerKey,
    client_id: &str,
) -> Result<RotatedSecret, AdminError> {
    let secret = broker::admin::rotate_client_secret(store, server_key, client_id).await?;
    Ok(RotatedSecret {
        client_id: client_id.to_owned(),
        client_secret: secret.expose().to_owned(),
    })
}

/// `apiome auditor revoke`.
pub async fn revoke_auditor(store: &Store, client_id: &str) -> Result<ActReport, AdminError> {
    let outcome = broker::admin::revoke_auditor(store, client_id).await?;
    Ok(act(client_id, "revoked", outcome))
}

/// `apiome person suspend`.
pub async fn suspend_person(store: &Store, who: &str) -> Result<ActReport, AdminError> {
    let person = person_by_id_or_handle(store, who).await?;
    let outcome = broker::admin::suspend_person(store, &person.id).await?;
    Ok(act(person.id.as_str(), "suspended", outcome))
}

/// `apiome person unsuspend`.
pub async fn unsuspend_person(store: &Store, who: &str) -> Result<ActReport, AdminError> {
    let person = person_by_id_or_handle(store, who).await?;
    let outcome = broker::admin::unsuspend_person(store, &person.id).await?;
    Ok(act(person.id.as_str(), "active", outcome))
}

/// A payout as `apiome payout` prints it: the operator sends the money, so
/// the destination is in full here (and only here).
#[derive(Debug, serde::Serialize)]
pub struct PayoutReport {
    /// The payout's id.
    pub id: String,
    /// The person's id.
    pub person_id: String,
    /// E.g. `2.50 EUR`.
    pub amount: String,
    /// Micro-units.
    pub amount_micros: u64,
    /// ISO 4217 code.
    pub currency: &'static str,
    /// `pending`, `posted` or `voided`.
    pub state: &'static str,
    /// `iban` or `handle`.
    pub destination_kind: &'static str,
    /// The IBAN or handle to send to.
    pub destination: String,
    /// The bank reference, once confirmed.
    pub reference: Option<String>,
    /// Why it failed, once failed.
    pub failure_reason: Option<String>,
    /// Asked for at (RFC 3339).
    pub created_at: String,
}

fn payout_report(p: store::StoredPayout) -> PayoutReport {
    // An erased person's settled payouts keep no destination.
    let destination = match &p.destination {
        Some(consent_policy::PayoutDestination::Iban(iban)) => iban.as_str().to_owned(),
        Some(consent_policy::PayoutDestination::Handle(handle)) => handle.as_str().to_owned(),
        None => String::new(),
    };
    PayoutReport {
        person_id: p.person_id.as_str().to_owned(),
        amount: p.amount.to_string(),
        amount_micros: p.amount.amount_micros(),
        currency: p.amount.currency().code(),
        state: p.state.as_str(),
        destination_kind: p
            .destination
            .as_ref()
            .map_or("erased", consent_policy::PayoutDestination::kind),
        destination,
        reference: p.reference,
        failure_reason: p.failure_reason,
        created_at: p
            .created_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        id: p.id,
    }
}

/// `apiome payout list [--pending]`.
pub async fn list_payouts(store: &Store, pending: bool) -> Result<Vec<PayoutReport>, AdminError> {
    Ok(broker::payout::list(store, pending)
        .await?
        .into_iter()
        .map(payout_report)
        .collect())
}

/// `apiome payout confirm ID --transfer-id REF`.
pub async fn confirm_payout(
    store: &Store,
    id: &str,
    reference: &str,
) -> Result<PayoutReport, AdminError> {
    Ok(payout_report(
        broker::payout::confirm(store, id, reference).await?,
    ))
}

/// `apiome payout fail ID --reason TEXT`.
pub async fn fail_payout(
    store: &Store,
    id: &str,
    reason: &str,
) -> Result<PayoutReport, AdminError> {
    Ok(payout_report(
        broker::payout::fail(store, id, reason).await?,
    ))
}
