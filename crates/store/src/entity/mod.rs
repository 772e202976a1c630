//! sea-orm entities, one per table. Repositories in the parent module turn
//! these rows into domain values; nothing outside the crate sees them.

pub mod attribute;
pub mod blocked_company;
pub mod company;
pub mod company_webhook;
pub mod data_request;
pub mod grant;
pub mod idempotency_key;
pub mod ledger_checkpoint;
pub mod ledger_entry;
pub mod ledger_head;
pub mod ledger_node;
pub mod money_account;
pub mod money_transfer;
pub mod oauth_ciba_poll;
pub mod oauth_client;
pub mod oauth_code;
pub mod oauth_jti;
pub mod oauth_par;
pub mod oauth_pending_authorization;
pub mod oauth_refresh;
pub mod oauth_registration_token;
pub mod oauth_revoked_access;
pub mod oauth_subject;
pub mod passkey;
pub mod password_credential;
pub mod person;
pub mod recovery_code;
pub mod rule;
pub mod session;
pub mod sign_in_throttle;
pub mod webauthn_ceremony;
pub mod webhook_delivery;
pub mod webhook_secret;
