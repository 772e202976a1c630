//! The end-to-end tests: one test binary, one module per feature, so the
//! whole server is linked once rather than once per file. Each module
//! starts servers of its own (`app_test!`, `TestApp`); nothing here is
//! shared between them but the process. `timing.rs` is the one file
//! outside: it measures latencies and is its own binary so that nothing
//! else runs beside it.
//!
//! A new file `tests/tests/NAME.rs` needs a `mod NAME;` line here (in
//! order); `cargo test -p apiome-tests --test e2e NAME::` runs it alone.

mod admin;
mod bounds;
mod browser;
mod ciba;
mod consent;
mod counter;
mod dpop;
mod erasure;
mod examples;
mod export;
mod foundation;
mod inbox;
mod ledger;
mod messages;
mod metrics;
mod money;
mod money_attacks;
mod notifications;
mod oauth;
mod oidc;
mod payouts;
mod people;
mod proxy;
mod rate_limit;
mod reads;
mod receipts;
mod sandbox;
mod sign_in_attacks;
mod uses;
mod webhooks;
