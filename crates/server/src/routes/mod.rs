//! HTTP routes: each parses, calls the core, and renders. No domain logic
//! lives here.

pub mod activity;
pub mod catalogue;
pub mod data;
pub mod export;
pub mod health;
pub mod inbox;
pub mod ledger;
pub mod me;
pub mod messages;
pub mod money;
pub mod notifications;
pub mod oauth;
pub mod page;
pub mod payouts;
pub mod receipts;
pub mod requests;
pub mod schema;
pub mod session;
pub mod uses;
pub mod webhook;
pub mod webhook_events;
