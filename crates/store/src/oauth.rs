//! The OAuth 2 authorization server's state. The `authz` crate decides
//! (is this code still good? is this refresh token reused?); this module
//! keeps its records and makes every "use once" step a conditional write,
//! so that of two racing requests exactly one wins and the other is
//! treated as the replay it is.
//!
//! Secrets are stored as hashes only: codes, refresh tokens and request
//! URIs by [`TokenHash`], client secrets inside the [`ClientRecord`] as a
//! keyed hash. Times are [`UnixTime`]s given by the caller.

use std::collections::HashMap;
use std::sync::Arc;

use authz::{
    AuthorizationRequest, ClientId, ClientRecord, CodeRecord, FamilyId, OAuthError,
    PairwiseSubject, PushedRequest, RefreshRecord, RefreshStatus, Rotation, TokenHash, UnixTime,
};
use consent_policy::{CompanyId, CompanyKind};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, SqlErr,
};

use crate::entity::{
    company, oauth_ciba_poll, oauth_client, oauth_code, oauth_jti, oauth_par,
    oauth_pending_authorization, oauth_refresh, oauth_registration_token, oauth_revoked_access,
    oauth_subject,
};
use crate::{Backend, PersonId, Store, StoreError, now};

/// Most clients one listing returns.
pub const MAX_CLIENTS_LISTED: u64 = 1000;

/// What kind of party a client is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientKind {
    /// A company that asks people for data; its `client_id` is its company id.
    Company,
    /// An auditor that reads the ledger (`client_credentials`, `ledger:read`).
    Auditor,
}

impl ClientKind {
    fn as_str(self) -> &'static str {
        match self {
            ClientKind::Company => "company",
            ClientKind::Auditor => "auditor",
        }
    }
}

/// Where a client stands with the operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientStatus {
    /// Gets tokens; its tokens are honoured.
    Active,
    /// `apiome company disable`: nothing until `company enable`.
    Disabled,
    /// `apiome company delete`: for good.
    Deleted,
    /// `apiome auditor revoke`: for good.
    Revoked,
}

impl ClientStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ClientStatus::Active => "active",
            ClientStatus::Disabled => "disabled",
            ClientStatus::Deleted => "deleted",
            ClientStatus::Revoked => "revoked",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "active" => Ok(ClientStatus::Active),
            "disabled" => Ok(ClientStatus::Disabled),
            "deleted" => Ok(ClientStatus::Deleted),
            "revoked" => Ok(ClientStatus::Revoked),
            other => Err(StoreError::corrupt(format!(
                "oauth_client.status {other:?}"
            ))),
        }
    }
}

/// The small, changing part of a client's row, read on every use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ClientState {
    pub(crate) status: ClientStatus,
    pub(crate) revision: i64,
    pub(crate) tokens_after: i64,
}

impl ClientState {
    pub(crate) fn from_columns(
        status: &str,
        revision: i64,
        tokens_after: i64,
    ) -> Result<Self, StoreError> {
        Ok(ClientState {
            status: ClientStatus::parse(status)?,
            revision,
            tokens_after,
        })
    }

    /// Whether an access token of this client issued at `issued_at`
    /// (Unix seconds) is honoured.
    fn honours(&self, issued_at: u64) -> bool {
        self.status == ClientStatus::Active
            && i64::try_from(issued_at).is_ok_and(|iat| iat > self.tokens_after)
    }
}

/// Client records this process has read, by id.
///
/// Parsing a client record (the JSON and the redirect URIs) was ~14 % of a
/// token's server time in a profile under load, so
/// parsed records are kept. A record can change (`apiome company
/// disable|enable|delete|rotate-secret`, `auditor revoke`, from the CLI or
/// another server), and every change bumps the row's `revision`: each use
/// reads the row's status and revision by primary key (no JSON) and uses
/// the kept record only if its revision is still the row's. Only records
/// found are kept, never "unknown", so a client that another process
/// registers is found on its first use.
#[derive(Debug, Default)]
pub(crate) struct ClientCache {
    clients: std::sync::RwLock<HashMap<String, Arc<StoredClient>>>,
}

/// Records kept before the cache starts over (a few MiB at most).
const MAX_CACHED_CLIENTS: usize = 4096;

impl ClientCache {
    fn get(&self, id: &ClientId) -> Option<Arc<StoredClient>> {
        self.clients.read().ok()?.get(id.as_str()).cloned()
    }

    fn keep(&self, client: &Arc<StoredClient>) {
        if let Ok(mut clients) = self.clients.write() {
            if clients.len() >= MAX_CACHED_CLIENTS {
                clients.clear();
            }
            clients.insert(
                client.record.client_id.as_str().to_owned(),
                Arc::clone(client),
            );
        }
    }

    fn forget(&self, id: &str) {
        if let Ok(mut clients) = self.clients.write() {
            clients.remove(id);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.clients.read().map_or(0, |clients| clients.len())
    }
}

/// A client as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredClient {
    /// Its registration (the secret only as a keyed hash).
    pub record: ClientRecord,
    /// Company or auditor.
    pub kind: ClientKind,
    /// When it was registered.
    pub created_at: time::OffsetDateTime,
    /// Where it stands with the operator.
    pub status: ClientStatus,
    /// The row's revision when this was read.
    pub revision: i64,
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(StoreError::corrupt)
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::corrupt(format!("{what}: {e}")))
}

/// `oauth_ciba_poll.last_poll_at` of a row made by a poll not yet recorded.
const NEVER_POLLED: i64 = 0;

fn secs(t: UnixTime) -> i64 {
    i64::try_from(t.as_secs()).unwrap_or(i64::MAX)
}

fn unix(secs: i64) -> UnixTime {
    UnixTime::from_secs(u64::try_from(secs).unwrap_or(0))
}

fn family_text(id: FamilyId) -> String {
    id.as_uuid().to_string()
}

fn parse_family(text: &str) -> Result<FamilyId, StoreError> {
    uuid::Uuid::parse_str(text)
        .map(FamilyId::from)
        .map_err(|_| StoreError::corrupt("oauth family id"))
}

fn parse_status(text: &str) -> Result<RefreshStatus, StoreError> {
    match text {
        "active" => Ok(RefreshStatus::Active),
        "rotated" => Ok(RefreshStatus::Rotated),
        "revoked" => Ok(RefreshStatus::Revoked),
        other => Err(StoreError::corrupt(format!(
            "oauth_refresh.status {other:?}"
        ))),
    }
}

fn status_text(status: RefreshStatus) -> &'static str {
    match status {
        RefreshStatus::Active => "active",
        RefreshStatus::Rotated => "rotated",
        RefreshStatus::Revoked => "revoked",
    }
}

impl TryFrom<oauth_client::Model> for StoredClient {
    type Error = StoreError;
    fn try_from(row: oauth_client::Model) -> Result<Self, StoreError> {
        Ok(StoredClient {
            record: from_json(&row.record, "oauth_client.record")?,
            kind: match row.kind.as_str() {
                "company" => ClientKind::Company,
                "auditor" => ClientKind::Auditor,
                other => return Err(StoreError::corrupt(format!("oauth_client.kind {other:?}"))),
            },
            created_at: row.created_at,
            status: ClientStatus::parse(&row.status)?,
            revision: row.revision,
        })
    }
}

fn refresh_from_row(row: oauth_refresh::Model) -> Result<RefreshRecord, StoreError> {
    let mut record: RefreshRecord = from_json(&row.record, "oauth_refresh.record")?;
    // The column is what conditional updates change: it is the truth.
    record.status = parse_status(&row.status)?;
    Ok(record)
}

fn refresh_row(record: &RefreshRecord) -> Result<oauth_refresh::ActiveModel, StoreError> {
    Ok(oauth_refresh::ActiveModel {
        token_hash: Set(record.token_hash.as_str().to_owned()),
        family_id: Set(family_text(record.family_id)),
        client_id: Set(record.client_id.as_str().to_owned()),
        grant_id: Set(record.grant_id.clone()),
        record: Set(to_json(record)?),
        status: Set(status_text(record.status).to_owned()),
        expires_at: Set(secs(record.expires_at)),
    })
}

impl Store {
    /// Registers a client. A company client also becomes the company of the
    /// same id (named after `client_name`), in the same transaction.
    pub async fn create_client(
        &self,
        record: &ClientRecord,
        kind: ClientKind,
    ) -> Result<StoredClient, StoreError> {
        self.create_client_of(record, kind, CompanyKind::Real).await
    }

    /// Registers a sandbox company's client and its company row (see
    /// [`consent_policy::CompanyKind`]).
    pub async fn create_sandbox_client(
        &self,
        record: &ClientRecord,
    ) -> Result<StoredClient, StoreError> {
        self.create_client_of(record, ClientKind::Company, CompanyKind::Sandbox)
            .await
    }

    async fn create_client_of(
        &self,
        record: &ClientRecord,
        kind: ClientKind,
        company_kind: CompanyKind,
    ) -> Result<StoredClient, StoreError> {
        let (_turn, txn) = self.write_txn().await?;
        let created_at = now();
        if kind == ClientKind::Company {
            let inserted = company::ActiveModel {
                id: Set(record.client_id.as_str().to_owned()),
                name: Set(record.metadata.client_name.clone()),
                created_at: Set(created_at),
                sandbox: Set(company_kind == CompanyKind::Sandbox),
                contact: Set(None),
            }
            .insert(&txn)
            .await;
            match inserted {
                Ok(_) => {}
                Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                    return Err(StoreError::CompanyExists(record.client_id.to_string()));
                }
                Err(e) => return Err(e.into()),
            }
        }
        let row = oauth_client::ActiveModel {
            client_id: Set(record.client_id.as_str().to_owned()),
            kind: Set(kind.as_str().to_owned()),
            record: Set(to_json(record)?),
            created_at: Set(created_at),
            status: Set(ClientStatus::Active.as_str().to_owned()),
            revision: Set(0),
            tokens_after: Set(0),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        StoredClient::try_from(row)
    }

    /// The client with this id, if registered and active: a disabled,
    /// deleted or revoked client is unknown to every protocol endpoint
    /// (see [`ClientCache`] for how a change made elsewhere is seen).
    pub async fn client(&self, id: &ClientId) -> Result<Option<Arc<StoredClient>>, StoreError> {
        Ok(self
            .client_in_any_status(id)
            .await?
            .filter(|c| c.status == ClientStatus::Active))
    }

    /// The client with this id whatever its status (for the operator).
    pub async fn client_in_any_status(
        &self,
        id: &ClientId,
    ) -> Result<Option<Arc<StoredClient>>, StoreError> {
        let Some(state) = self.client_state(id.as_str()).await? else {
            self.clients.forget(id.as_str());
            return Ok(None);
        };
        if let Some(client) = self.clients.get(id)
            && client.revision == state.revision
        {
            return Ok(Some(client));
        }
        let row = match &self.sqlite_reader {
            Some(reader) => reader.client(id.as_str())?,
            None => {
                oauth_client::Entity::find_by_id(id.as_str().to_owned())
                    .one(&self.db)
                    .await?
            }
        };
        let Some(row) = row else {
            return Ok(None);
        };
        let client = Arc::new(StoredClient::try_from(row)?);
        self.clients.keep(&client);
        Ok(Some(client))
    }

    /// The client's status, revision and token cut-off: one primary-key
    /// read of three columns.
    pub(crate) async fn client_state(
        &self,
        client_id: &str,
    ) -> Result<Option<ClientState>, StoreError> {
        if let Some(reader) = &self.sqlite_reader {
            return reader.client_state(client_id);
        }
        let row: Option<(String, i64, i64)> =
            oauth_client::Entity::find_by_id(client_id.to_owned())
                .select_only()
                .column(oauth_client::Column::Status)
                .column(oauth_client::Column::Revision)
                .column(oauth_client::Column::TokensAfter)
                .into_tuple()
                .one(&self.db)
                .await?;
        row.map(|(status, revision, tokens_after)| {
            ClientState::from_columns(&status, revision, tokens_after)
        })
        .transpose()
    }

    /// Whether an access token is honoured now: not revoked (RFC 7009),
    /// and its client active and not cut off since `issued_at` (a disable
    /// ends every token issued before it, for good). On PostgreSQL one
    /// statement answers both; on SQLite the deny list may be in memory
    /// and the client's row is one read on the calling thread.
    pub async fn access_token_honoured(
        &self,
        jti: &str,
        client_id: &str,
        issued_at: u64,
    ) -> Result<bool, StoreError> {
        if self.backend() == Backend::Postgres {
            return self
                .access_token_honoured_pg(jti, client_id, issued_at)
                .await;
        }
        if self.access_token_revoked(jti).await? {
            return Ok(false);
        }
        Ok(self
            .client_state(client_id)
            .await?
            .is_some_and(|state| state.honours(issued_at)))
    }

    async fn access_token_honoured_pg(
        &self,
        jti: &str,
        client_id: &str,
        issued_at: u64,
    ) -> Result<bool, StoreError> {
        use sea_orm::{ConnectionTrait, Statement};
        let statement = Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "SELECT c.status, c.revision, c.tokens_after, \
                 EXISTS (SELECT 1 FROM oauth_revoked_access r WHERE r.jti = $1) AS revoked \
             FROM oauth_client c WHERE c.client_id = $2",
            [jti.into(), client_id.into()],
        );
        let Some(row) = self.db.query_one_raw(statement).await? else {
            return Ok(false);
        };
        let revoked: bool = row.try_get("", "revoked")?;
        let state = ClientState::from_columns(
            &row.try_get::<String>("", "status")?,
            row.try_get("", "revision")?,
            row.try_get("", "tokens_after")?,
        )?;
        Ok(!revoked && state.honours(issued_at))
    }

    /// Every client, oldest first (at most [`MAX_CLIENTS_LISTED`]).
    pub async fn clients(&self) -> Result<Vec<StoredClient>, StoreError> {
        oauth_client::Entity::find()
            .order_by_asc(oauth_client::Column::CreatedAt)
            .order_by_asc(oauth_client::Column::ClientId)
            .limit(MAX_CLIENTS_LISTED)
            .all(&self.db)
            .await?
            .into_iter()
            .map(StoredClient::try_from)
            .collect()
    }

    /// Stores an initial access token (by hash) for RFC 7591 registration.
    pub async fn save_registration_token(
        &self,
        hash: &TokenHash,
        now: UnixTime,
        expires_at: UnixTime,
    ) -> Result<(), StoreError> {
        oauth_registration_token::ActiveModel {
            token_hash: Set(hash.as_str().to_owned()),
            created_at: Set(secs(now)),
            expires_at: Set(secs(expires_at)),
        }
        .insert(&self.db)
        .await?;
        Ok(())
    }

    /// Whether an initial access token with this hash exists and has not
    /// expired. It may register several clients until it expires.
    pub async fn registration_token_is_valid(
        &self,
        hash: &TokenHash,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        Ok(
            oauth_registration_token::Entity::find_by_id(hash.as_str().to_owned())
                .one(&self.db)
                .await?
                .is_some_and(|row| secs(now) < row.expires_at),
        )
    }

    /// Stores a pushed authorization request (RFC 9126).
    pub async fn save_par(&self, record: &PushedRequest) -> Result<(), StoreError> {
        oauth_par::ActiveModel {
            request_uri_hash: Set(record.request_uri_hash.clone()),
            client_id: Set(record.request.client_id.as_str().to_owned()),
            record: Set(to_json(record)?),
            expires_at: Set(secs(record.expires_at)),
            used_at: Set(None),
        }
        .insert(&self.db)
        .await?;
        Ok(())
    }

    /// Redeems a pushed request, once, for the client that pushed it:
    /// `request_uri_hash` is [`authz::RequestUri::hash`]. The outer error is
    /// a database fault; the inner one the OAuth answer (unknown, another
    /// client's, used, expired; a lost race counts as used).
    pub async fn redeem_par(
        &self,
        request_uri_hash: &str,
        client_id: &ClientId,
        now: UnixTime,
    ) -> Result<Result<AuthorizationRequest, OAuthError>, StoreError> {
        let row = oauth_par::Entity::find_by_id(request_uri_hash.to_owned())
            .one(&self.db)
            .await?;
        let record = match row {
            Some(row) => {
                let mut record: PushedRequest = from_json(&row.record, "oauth_par.record")?;
                record.used = row.used_at.is_some();
                Some(record)
            }
            None => None,
        };
        let request = match PushedRequest::redeem(record.as_ref(), client_id, now) {
            Ok(request) => request,
            Err(e) => return Ok(Err(e)),
        };
        let updated = oauth_par::Entity::update_many()
            .col_expr(oauth_par::Column::UsedAt, Expr::value(Some(secs(now))))
            .filter(oauth_par::Column::RequestUriHash.eq(request_uri_hash))
            .filter(oauth_par::Column::UsedAt.is_null())
            .exec(&self.db)
            .await?;
        if updated.rows_affected != 1 {
            return Ok(Err(OAuthError::invalid_request(
                "`request_uri` was already used",
            )));
        }
        Ok(Ok(request))
    }

    /// Keeps an authorization request while the person is on the consent
    /// screen, under a random `id` the form carries, for `ttl`.
    pub async fn save_pending_authorization(
        &self,
        id: &str,
        record: &AuthorizationRequest,
        ttl: std::time::Duration,
    ) -> Result<(), StoreError> {
        let expires_at = now()
            .unix_timestamp()
            .saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX));
        oauth_pending_authorization::ActiveModel {
            id: Set(id.to_owned()),
            client_id: Set(record.client_id.as_str().to_owned()),
            record: Set(to_json(record)?),
            expires_at: Set(expires_at),
        }
        .insert(&self.db)
        .await?;
        Ok(())
    }

    /// Takes a pending authorization out, once: `None` when unknown,
    /// expired, or already taken (by a racing request too).
    pub async fn take_pending_authorization(
        &self,
        id: &str,
    ) -> Result<Option<AuthorizationRequest>, StoreError> {
        let Some(row) = oauth_pending_authorization::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let deleted = oauth_pending_authorization::Entity::delete_many()
            .filter(oauth_pending_authorization::Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        if deleted.rows_affected != 1 || row.expires_at <= now().unix_timestamp() {
            return Ok(None);
        }
        from_json(&row.record, "oauth_pending_authorization.record").map(Some)
    }

    /// Stores a freshly issued authorization code (by hash).
    pub async fn save_code(&self, record: &CodeRecord) -> Result<(), StoreError> {
        oauth_code::ActiveModel {
            code_hash: Set(record.code_hash.as_str().to_owned()),
            client_id: Set(record.client_id.as_str().to_owned()),
            record: Set(to_json(record)?),
            expires_at: Set(secs(record.expires_at)),
            used_at: Set(record.used_at.map(secs)),
            family_id: Set(record.family_id.map(family_text)),
            access_jti: Set(None),
            access_expires_at: Set(None),
        }
        .insert(&self.db)
        .await?;
        Ok(())
    }

    /// The code with this hash, with its current use.
    pub async fn code(&self, code_hash: &TokenHash) -> Result<Option<CodeRecord>, StoreError> {
        let Some(row) = oauth_code::Entity::find_by_id(code_hash.as_str().to_owned())
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let mut record: CodeRecord = from_json(&row.record, "oauth_code.record")?;
        record.used_at = row.used_at.map(unix);
        record.family_id = row.family_id.as_deref().map(parse_family).transpose()?;
        Ok(Some(record))
    }

    /// Marks a code used and starts its refresh family, in one transaction,
    /// only if nobody used it first (`WHERE used_at IS NULL`). `access_jti`
    /// and `access_exp` name the access token issued with it, so that a
    /// later replay can revoke it. `false`: the race was lost, nothing was
    /// written, and this is a replay.
    pub async fn consume_code(
        &self,
        code_hash: &TokenHash,
        used_at: UnixTime,
        refresh: &RefreshRecord,
        access_jti: &str,
        access_exp: UnixTime,
    ) -> Result<bool, StoreError> {
        let (_turn, txn) = self.write_txn().await?;
        let updated = oauth_code::Entity::update_many()
            .col_expr(oauth_code::Column::UsedAt, Expr::value(Some(secs(used_at))))
            .col_expr(
                oauth_code::Column::FamilyId,
                Expr::value(Some(family_text(refresh.family_id))),
            )
            .col_expr(
                oauth_code::Column::AccessJti,
                Expr::value(Some(access_jti.to_owned())),
            )
            .col_expr(
                oauth_code::Column::AccessExpiresAt,
                Expr::value(Some(secs(access_exp))),
            )
            .filter(oauth_code::Column::CodeHash.eq(code_hash.as_str()))
            .filter(oauth_code::Column::UsedAt.is_null())
            .exec(&txn)
            .await?;
        if updated.rows_affected != 1 {
            txn.rollback().await?;
            return Ok(false);
        }
        refresh_row(refresh)?.insert(&txn).await?;
        txn.commit().await?;
        Ok(true)
    }

    /// After a code was replayed: revokes the refresh family and the access
    /// token its first use issued.
    pub async fn revoke_code_tokens(&self, code_hash: &TokenHash) -> Result<(), StoreError> {
        let Some(row) = oauth_code::Entity::find_by_id(code_hash.as_str().to_owned())
            .one(&self.db)
            .await?
        else {
            return Ok(());
        };
        if let Some(family) = row.family_id.as_deref() {
            self.revoke_refresh_family(parse_family(family)?).await?;
        }
        if let (Some(jti), Some(exp)) = (row.access_jti, row.access_expires_at) {
            self.revoke_access_token(&jti, unix(exp)).await?;
        }
        Ok(())
    }

    /// Stores a refresh token record (the first of a new family).
    pub async fn save_refresh(&self, record: &RefreshRecord) -> Result<(), StoreError> {
        refresh_row(record)?.insert(&self.db).await?;
        Ok(())
    }

    /// The refresh token with this hash, with its current status.
    pub async fn refresh_token(
        &self,
        token_hash: &TokenHash,
    ) -> Result<Option<RefreshRecord>, StoreError> {
        oauth_refresh::Entity::find_by_id(token_hash.as_str().to_owned())
            .one(&self.db)
            .await?
            .map(refresh_from_row)
            .transpose()
    }

    /// Applies a rotation: the consumed token becomes `rotated` only if it
    /// is still `active`, and its successor is stored, in one transaction.
    /// `false`: someone rotated (or revoked) it first; nothing was written
    /// and the caller must treat it as reuse.
    pub async fn rotate_refresh(&self, rotation: &Rotation) -> Result<bool, StoreError> {
        let (_turn, txn) = self.write_txn().await?;
        let updated = oauth_refresh::Entity::update_many()
            .col_expr(oauth_refresh::Column::Status, Expr::value("rotated"))
            .col_expr(
                oauth_refresh::Column::Record,
                Expr::value(to_json(&rotation.consumed)?),
            )
            .filter(oauth_refresh::Column::TokenHash.eq(rotation.consumed.token_hash.as_str()))
            .filter(oauth_refresh::Column::Status.eq("active"))
            .exec(&txn)
            .await?;
        if updated.rows_affected != 1 {
            txn.rollback().await?;
            return Ok(false);
        }
        refresh_row(&rotation.issued)?.insert(&txn).await?;
        txn.commit().await?;
        Ok(true)
    }

    /// Revokes every token of a refresh family; returns how many changed.
    pub async fn revoke_refresh_family(&self, family: FamilyId) -> Result<u64, StoreError> {
        let updated = oauth_refresh::Entity::update_many()
            .col_expr(oauth_refresh::Column::Status, Expr::value("revoked"))
            .filter(oauth_refresh::Column::FamilyId.eq(family_text(family)))
            .filter(oauth_refresh::Column::Status.ne("revoked"))
            .exec(&self.db)
            .await?;
        Ok(updated.rows_affected)
    }

    /// Records a `private_key_jwt` assertion's `jti` for `client`; `false`
    /// when it was used before (a replay). Expired ids of the client are
    /// forgotten first: an expired assertion is refused anyway.
    pub async fn use_assertion_jti(
        &self,
        client: &ClientId,
        jti: &str,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        oauth_jti::Entity::delete_many()
            .filter(oauth_jti::Column::ClientId.eq(client.as_str()))
            .filter(oauth_jti::Column::ExpiresAt.lt(secs(now)))
            .exec(&self.db)
            .await?;
        let inserted = oauth_jti::ActiveModel {
            client_id: Set(client.as_str().to_owned()),
            jti: Set(jti.to_owned()),
            expires_at: Set(secs(expires_at)),
        }
        .insert(&self.db)
        .await;
        match inserted {
            Ok(_) => Ok(true),
            Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Puts an access token's `jti` on the deny list until it expires.
    pub async fn revoke_access_token(
        &self,
        jti: &str,
        expires_at: UnixTime,
    ) -> Result<(), StoreError> {
        oauth_revoked_access::Entity::insert(oauth_revoked_access::ActiveModel {
            jti: Set(jti.to_owned()),
            expires_at: Set(secs(expires_at)),
        })
        .on_conflict(
            OnConflict::column(oauth_revoked_access::Column::Jti)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await?;
        self.revoked.record(jti, secs(expires_at));
        Ok(())
    }

    /// Whether an access token's `jti` is on the deny list: from memory
    /// while this process holds the SQLite database alone (see
    /// [`crate::revoked`]), otherwise from the table.
    pub async fn access_token_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        if let Some(known) = self.revoked.lookup(jti) {
            return Ok(known);
        }
        if let Some(reader) = &self.sqlite_reader {
            return reader.access_token_revoked(jti);
        }
        Ok(oauth_revoked_access::Entity::find_by_id(jti.to_owned())
            .one(&self.db)
            .await?
            .is_some())
    }

    /// Remembers whose pairwise `subject` a company was given, so that the
    /// company can name the person by it later.
    pub async fn remember_subject(
        &self,
        company: &CompanyId,
        subject: &PairwiseSubject,
        person: &PersonId,
    ) -> Result<(), StoreError> {
        oauth_subject::Entity::insert(oauth_subject::ActiveModel {
            company_id: Set(company.to_string()),
            subject: Set(subject.as_str().to_owned()),
            person_id: Set(person.as_str().to_owned()),
        })
        .on_conflict(
            OnConflict::columns([
                oauth_subject::Column::CompanyId,
                oauth_subject::Column::Subject,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await?;
        Ok(())
    }

    /// The person a company knows under `subject`, if it was given one.
    pub async fn person_for_subject(
        &self,
        company: &CompanyId,
        subject: &str,
    ) -> Result<Option<PersonId>, StoreError> {
        Ok(
            oauth_subject::Entity::find_by_id((company.to_string(), subject.to_owned()))
                .one(&self.db)
                .await?
                .map(|row| PersonId::new(row.person_id)),
        )
    }

    /// Records a CIBA-style poll of an asynchronous request at `now` and
    /// returns the previous poll's time, if any. The row is made first
    /// (`0`: never polled) and then read locked, so that polls arriving
    /// together are taken one after the other on PostgreSQL too: one of
    /// them is the first, the others see its time (`slow_down`).
    pub async fn ciba_poll(
        &self,
        request_id: &str,
        now: UnixTime,
    ) -> Result<Option<UnixTime>, StoreError> {
        let (_turn, txn) = self.write_txn().await?;
        oauth_ciba_poll::Entity::insert(oauth_ciba_poll::ActiveModel {
            request_id: Set(request_id.to_owned()),
            last_poll_at: Set(NEVER_POLLED),
            tokens_issued_at: Set(None),
        })
        .on_conflict(
            OnConflict::column(oauth_ciba_poll::Column::RequestId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
        let mut query = oauth_ciba_poll::Entity::find_by_id(request_id.to_owned());
        if self.backend() == Backend::Postgres {
            query = query.lock_exclusive();
        }
        let previous = query
            .one(&txn)
            .await?
            .ok_or_else(|| StoreError::corrupt("a poll row vanished"))?
            .last_poll_at;
        oauth_ciba_poll::Entity::update_many()
            .col_expr(oauth_ciba_poll::Column::LastPollAt, Expr::value(secs(now)))
            .filter(oauth_ciba_poll::Column::RequestId.eq(request_id))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok((previous != NEVER_POLLED).then(|| unix(previous)))
    }

    /// Marks that an approved asynchronous request's tokens were issued;
    /// `false` when they were issued before (each request gives tokens once).
    /// Call after [`Store::ciba_poll`], which creates the row.
    pub async fn ciba_issue_once(
        &self,
        request_id: &str,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        let updated = oauth_ciba_poll::Entity::update_many()
            .col_expr(
                oauth_ciba_poll::Column::TokensIssuedAt,
                Expr::value(Some(secs(now))),
            )
            .filter(oauth_ciba_poll::Column::RequestId.eq(request_id))
            .filter(oauth_ciba_poll::Column::TokensIssuedAt.is_null())
            .exec(&self.db)
            .await?;
        Ok(updated.rows_affected == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Handle, store_test};
    use authz::{
        CodeChallenge, PredictableRandom, RedirectUri, RequestForm, client::ClientMetadata,
    };
    use consent_policy::GrantDuration;
    use serde_json::json;

    fn client_record(seed: u64) -> ClientRecord {
        let mut rng = PredictableRandom::new(seed);
        let metadata = ClientMetadata::parse(&json!({
            "client_name": "Acme",
            "redirect_uris": ["https://acme.example/cb"],
            "grant_types": ["authorization_code", "refresh_token"],
        }))
        .unwrap();
        let key = authz::ServerKey::from_bytes([7; 32]);
        ClientRecord::register(metadata, &key, &mut rng, UnixTime::from_secs(1))
            .unwrap()
            .0
    }

    fn auth_request(client: &ClientId) -> AuthorizationRequest {
        AuthorizationRequest {
            client_id: client.clone(),
            redirect_uri: RedirectUri::parse("https://acme.example/cb").unwrap(),
            redirect_uri_explicit: true,
            state: Some("s".into()),
            code_challenge: CodeChallenge::for_verifier("verifier-verifier-verifier-verifier-verifier"),
            data_request: consent_policy::DataRequest::from_json_value(
                json!({"type": "apiome_data", "attributes": ["email"], "purpose": "marketing", "duration": "P30D"}),
                &GrantDuration::parse("P1Y").unwrap(),
            )
            .unwrap(),
            form: RequestForm::AuthorizationDetails,
            oidc: authz::OidcParams::default(),
        }
    }

    fn code(client: &ClientId, seed: u64, now: UnixTime) -> (authz::AuthorizationCode, CodeRecord) {
        CodeRecord::issue(
            &auth_request(client),
            "person",
            "grant",
            &mut PredictableRandom::new(seed),
            now,
        )
        .unwrap()
    }

    fn refresh(client: &ClientId, seed: u64) -> RefreshRecord {
        RefreshRecord::issue_family(
            client,
            "grant",
            UnixTime::from_secs(10_000),
            &mut PredictableRandom::new(seed),
        )
        .unwrap()
        .1
    }

    store_test!(a_company_client_is_its_company, |store| {
        let record = client_record(1);
        store
            .create_client(&record, ClientKind::Company)
            .await
            .unwrap();
        let company = store
            .company(&record.client_id.to_company_id())
            .await
            .unwrap();
        assert_eq!(company.name, "Acme");
        let stored = store.client(&record.client_id).await.unwrap().unwrap();
        assert_eq!(stored.record, record);
        assert_eq!(stored.kind, ClientKind::Company);
        assert!(matches!(
            store.create_client(&record, ClientKind::Company).await,
            Err(StoreError::CompanyExists(_))
        ));
        assert_eq!(store.clients().await.unwrap().len(), 1);
    });

    store_test!(
        a_client_registered_elsewhere_is_found_on_first_use,
        |store| {
            // Another process's view of the same database: its own cache.
            let other = store.without_client_cache();
            let record = client_record(3);
            assert_eq!(other.client(&record.client_id).await.unwrap(), None);
            store
                .create_client(&record, ClientKind::Auditor)
                .await
                .unwrap();
            // "Unknown" was not remembered.
            let found = other.client(&record.client_id).await.unwrap().unwrap();
            assert_eq!(found.record, record);
            assert_eq!(other.clients.len(), 1);
            // The next read is the record read before, not a copy.
            let again = other.client(&record.client_id).await.unwrap().unwrap();
            assert!(Arc::ptr_eq(&found, &again));
        }
    );

    store_test!(
        a_status_change_made_elsewhere_is_seen_by_a_process_that_cached_the_client,
        |store| {
            let record = client_record(4);
            store
                .create_client(&record, ClientKind::Company)
                .await
                .unwrap();
            let id = &record.client_id;
            let server = store.without_client_cache();
            assert!(server.client(id).await.unwrap().is_some());
            assert!(
                server
                    .access_token_honoured("j1", id.as_str(), 100)
                    .await
                    .unwrap()
            );
            // The CLI, another process: disables with a cut-off at 100.
            let tx = store.begin().await.unwrap();
            tx.set_client_status(id, ClientStatus::Disabled, Some(100))
                .await
                .unwrap();
            tx.commit().await.unwrap();
            assert_eq!(server.client(id).await.unwrap(), None);
            let seen = server.client_in_any_status(id).await.unwrap().unwrap();
            assert_eq!((seen.status, seen.revision), (ClientStatus::Disabled, 1));
            assert!(
                !server
                    .access_token_honoured("j2", id.as_str(), 101)
                    .await
                    .unwrap()
            );
            let tx = store.begin().await.unwrap();
            tx.set_client_status(id, ClientStatus::Active, None)
                .await
                .unwrap();
            tx.commit().await.unwrap();
            // Enabled: tokens after the cut-off live, those at or before stay dead.
            assert!(server.client(id).await.unwrap().is_some());
            assert!(
                server
                    .access_token_honoured("j3", id.as_str(), 101)
                    .await
                    .unwrap()
            );
            assert!(
                !server
                    .access_token_honoured("j4", id.as_str(), 100)
                    .await
                    .unwrap()
            );
            // A revoked jti stays revoked whatever the client's state.
            server
                .revoke_access_token("j3", UnixTime::from_secs(u64::MAX / 2))
                .await
                .unwrap();
            assert!(
                !server
                    .access_token_honoured("j3", id.as_str(), 101)
                    .await
                    .unwrap()
            );
            // An unknown client's token is never honoured.
            assert!(
                !server
                    .access_token_honoured("j5", "nobody", 101)
                    .await
                    .unwrap()
            );
        }
    );

    #[test]
    fn the_client_cache_is_bounded() {
        let cache = ClientCache::default();
        for n in 0..MAX_CACHED_CLIENTS + 10 {
            let mut rng = authz::PredictableRandom::new(n as u64);
            let record = ClientRecord {
                client_id: ClientId::generate(&mut rng).unwrap(),
                ..client_record(1)
            };
            cache.keep(&Arc::new(StoredClient {
                record,
                kind: ClientKind::Company,
                created_at: time::OffsetDateTime::UNIX_EPOCH,
                status: ClientStatus::Active,
                revision: 0,
            }));
            assert!(cache.len() <= MAX_CACHED_CLIENTS);
        }
        assert_eq!(cache.len(), 10, "it started over once");
    }

    store_test!(a_code_is_redeemed_once_even_under_a_race, |store| {
        let client = client_record(2).client_id;
        let now = UnixTime::from_secs(1_000);
        let (_, record) = code(&client, 3, now);
        store.save_code(&record).await.unwrap();
        let loaded = store.code(&record.code_hash).await.unwrap().unwrap();
        assert_eq!(loaded, record);
        let attempts: Vec<_> = (0..4u64)
            .map(|i| {
                let store = store.clone();
                let hash = record.code_hash.clone();
                let family = refresh(&client, 100 + i);
                tokio::spawn(async move {
                    store
                        .consume_code(&hash, now, &family, &format!("jti{i}"), now)
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut wins = 0;
        for attempt in attempts {
            if attempt.await.unwrap() {
                wins += 1;
            }
        }
        assert_eq!(wins, 1, "exactly one redemption wins");
        let used = store.code(&record.code_hash).await.unwrap().unwrap();
        assert_eq!(used.used_at, Some(now));
        let family = used.family_id.unwrap();
        // The replay signal revokes what the first use issued.
        assert!(matches!(
            CodeRecord::redeem(Some(&used), &client, None, None, now),
            Err(authz::CodeError::Replayed { .. })
        ));
        store.revoke_code_tokens(&record.code_hash).await.unwrap();
        let jti = (0..4).map(|i| format!("jti{i}")).collect::<Vec<_>>();
        let mut denied = 0;
        for j in &jti {
            if store.access_token_revoked(j).await.unwrap() {
                denied += 1;
            }
        }
        assert_eq!(denied, 1);
        assert_eq!(
            store.revoke_refresh_family(family).await.unwrap(),
            0,
            "already revoked"
        );
    });

    store_test!(refresh_rotates_once_and_reuse_kills_the_family, |store| {
        let client = client_record(4).client_id;
        let now = UnixTime::from_secs(1_000);
        let first = refresh(&client, 5);
        store.save_refresh(&first).await.unwrap();
        let loaded = store.refresh_token(&first.token_hash).await.unwrap();
        let rotation = RefreshRecord::rotate(
            loaded.as_ref(),
            &client,
            now,
            &mut PredictableRandom::new(6),
        )
        .unwrap();
        let racing = RefreshRecord::rotate(
            loaded.as_ref(),
            &client,
            now,
            &mut PredictableRandom::new(7),
        )
        .unwrap();
        assert!(store.rotate_refresh(&rotation).await.unwrap());
        assert!(
            !store.rotate_refresh(&racing).await.unwrap(),
            "the loser is a reuse"
        );
        assert!(
            store
                .refresh_token(&racing.issued.token_hash)
                .await
                .unwrap()
                .is_none()
        );
        // Presenting the rotated token again is reuse: the family dies.
        let old = store.refresh_token(&first.token_hash).await.unwrap();
        let err = RefreshRecord::rotate(old.as_ref(), &client, now, &mut PredictableRandom::new(8))
            .unwrap_err();
        let family = err.family_to_revoke().unwrap();
        assert_eq!(store.revoke_refresh_family(family).await.unwrap(), 2);
        let newest = store
            .refresh_token(&rotation.issued.token_hash)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(newest.status, RefreshStatus::Revoked);
        assert!(
            RefreshRecord::rotate(Some(&newest), &client, now, &mut PredictableRandom::new(9))
                .is_err()
        );
    });

    store_test!(a_pushed_request_is_used_once_and_expires, |store| {
        let client = client_record(10).client_id;
        let other = client_record(11).client_id;
        let now = UnixTime::from_secs(1_000);
        let (record, _) =
            PushedRequest::new(auth_request(&client), &mut PredictableRandom::new(12), now)
                .unwrap();
        store.save_par(&record).await.unwrap();
        let hash = record.request_uri_hash.clone();
        assert!(
            store.redeem_par(&hash, &other, now).await.unwrap().is_err(),
            "another client's"
        );
        let request = store
            .redeem_par(&hash, &client, now)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(request, auth_request(&client));
        assert!(
            store
                .redeem_par(&hash, &client, now)
                .await
                .unwrap()
                .is_err(),
            "used"
        );
        let (late, _) =
            PushedRequest::new(auth_request(&client), &mut PredictableRandom::new(13), now)
                .unwrap();
        store.save_par(&late).await.unwrap();
        let after = late.expires_at.plus_secs(1);
        assert!(
            store
                .redeem_par(&late.request_uri_hash, &client, after)
                .await
                .unwrap()
                .is_err(),
            "expired"
        );
        assert!(
            store
                .redeem_par("nope", &client, now)
                .await
                .unwrap()
                .is_err(),
            "unknown"
        );
    });

    store_test!(a_pending_authorization_is_taken_once, |store| {
        let client = client_record(14).client_id;
        let request = auth_request(&client);
        store
            .save_pending_authorization("p1", &request, std::time::Duration::from_secs(600))
            .await
            .unwrap();
        assert_eq!(
            store.take_pending_authorization("p1").await.unwrap(),
            Some(request.clone())
        );
        assert_eq!(store.take_pending_authorization("p1").await.unwrap(), None);
        store
            .save_pending_authorization("p2", &request, std::time::Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(
            store.take_pending_authorization("p2").await.unwrap(),
            None,
            "expired"
        );
    });

    store_test!(an_assertion_jti_is_accepted_once_per_client, |store| {
        let a = client_record(15).client_id;
        let b = client_record(16).client_id;
        let now = UnixTime::from_secs(1_000);
        let exp = now.plus_secs(60);
        assert!(store.use_assertion_jti(&a, "j1", exp, now).await.unwrap());
        assert!(
            !store.use_assertion_jti(&a, "j1", exp, now).await.unwrap(),
            "replay"
        );
        assert!(
            store.use_assertion_jti(&b, "j1", exp, now).await.unwrap(),
            "another client's jti"
        );
        // Once expired, it is forgotten (the assertion itself is refused as expired).
        assert!(
            store
                .use_assertion_jti(&a, "j1", exp, exp.plus_secs(1))
                .await
                .unwrap()
        );
    });

    store_test!(subjects_and_ciba_polls_are_remembered, |store| {
        let person = store
            .create_person(&Handle::parse("ada").unwrap())
            .await
            .unwrap();
        let company = CompanyId::parse("acme").unwrap();
        let key = authz::ServerKey::from_bytes([1; 32]);
        let subject = PairwiseSubject::derive(&key, &company, person.id.as_str());
        store
            .remember_subject(&company, &subject, &person.id)
            .await
            .unwrap();
        store
            .remember_subject(&company, &subject, &person.id)
            .await
            .unwrap();
        assert_eq!(
            store
                .person_for_subject(&company, subject.as_str())
                .await
                .unwrap(),
            Some(person.id.clone())
        );
        let other = CompanyId::parse("other").unwrap();
        assert_eq!(
            store
                .person_for_subject(&other, subject.as_str())
                .await
                .unwrap(),
            None
        );
    });
}
