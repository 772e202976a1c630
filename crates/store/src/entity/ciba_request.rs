//! A CIBA backchannel authentication request (`POST /oauth/bc-authorize`).

use sea_orm::entity::prelude::*;

/// One row of `ciba_request`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ciba_request")]
pub struct Model {
    /// The `auth_req_id`: the request's id, or a random one for nobody.
    #[sea_orm(primary_key, auto_increment = false)]
    pub auth_req_id: String,
    /// The company (client id) that asked.
    pub company_id: String,
    /// The asynchronous request; `None` when the hint named nobody.
    pub request_id: Option<String>,
    /// For nobody: the `apiome_data` entry asked, wire JSON.
    pub asked: Option<String>,
    /// Ping mode: where to call.
    pub notification_endpoint: Option<String>,
    /// Ping mode: the bearer token the client gave for the call.
    pub notification_token: Option<String>,
    /// For nobody: the latest poll, Unix seconds.
    pub last_poll_at: Option<i64>,
    /// When it stops being answerable, Unix seconds.
    pub expires_at: i64,
    /// When asked, Unix seconds.
    pub created_at: i64,
    /// Whether `scope` held `openid` (an ID token comes with the tokens).
    pub openid: bool,
}

/// Relations of `ciba_request`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
