//! apiome's HTTP server: routes that parse, call the core crates, and
//! render; configuration; start-up; the OpenAPI document.

pub mod admin;
pub mod allowed_methods;
pub mod auth;
pub mod backup;
pub mod client_ip;
pub mod config;
pub mod data_dir;
pub mod data_keys;
pub(crate) mod idempotency;
pub mod ledger_signer;
pub mod log_writer;
pub mod mail;
pub mod metrics;
pub mod oauth_keys;
pub mod oauth_server;
pub mod openapi;
pub mod pages;
pub mod problem;
pub mod problem_types;
pub mod rate_limit;
pub mod receipts;
pub mod request_id;
pub mod routes;
pub mod startup;
pub mod sweeper;
pub mod telemetry;
pub mod traces;
pub mod webhooks;
