//! apiome's schema, as an ordered list of sea-orm migrations.
//!
//! Every schema change is a new file here; a migration that has shipped is
//! never edited. `Migrator::up` runs on every server start and from
//! `apiome migrate`.

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_people_and_policy;
mod m20261123_000002_identity;
mod m20261123_000003_ledger;
mod m20261123_000004_requests_and_grants;
mod m20261123_000005_oauth;
mod m20261123_000006_money;
mod m20261123_000007_webhooks;
mod m20261123_000008_ledger_person;
mod m20261202_000009_ledger_node_by_position;
mod m20261205_000010_policy_version;
mod m20261205_000011_idempotency_keys;
mod m20261207_000012_webhook_secrets;
mod m20261207_000013_notifications;
mod m20261207_000014_admin;
mod m20261207_000015_keys;
mod m20261207_000016_oidc;
mod m20261207_000017_webhook_attempts;
mod m20261207_000018_ciba;
mod m20261207_000019_dpop;
mod m20261207_000020_ciba_openid;
mod m20261207_000021_sandbox;
mod m20261207_000022_counter_offer;
mod m20261207_000023_payouts;
mod m20261207_000024_receipts;
mod m20261207_000025_grant_uses;
mod m20261207_000026_person_keys;
mod m20261207_000027_contact_relay;

/// The ordered list of apiome's migrations.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_people_and_policy::Migration),
            Box::new(m20261123_000002_identity::Migration),
            Box::new(m20261123_000003_ledger::Migration),
            Box::new(m20261123_000004_requests_and_grants::Migration),
            Box::new(m20261123_000005_oauth::Migration),
            Box::new(m20261123_000006_money::Migration),
            Box::new(m20261123_000007_webhooks::Migration),
            Box::new(m20261123_000008_ledger_person::Migration),
            Box::new(m20261202_000009_ledger_node_by_position::Migration),
            Box::new(m20261205_000010_policy_version::Migration),
            Box::new(m20261205_000011_idempotency_keys::Migration),
            Box::new(m20261207_000012_webhook_secrets::Migration),
            Box::new(m20261207_000013_notifications::Migration),
            Box::new(m20261207_000014_admin::Migration),
            Box::new(m20261207_000015_keys::Migration),
            Box::new(m20261207_000016_oidc::Migration),
            Box::new(m20261207_000017_webhook_attempts::Migration),
            Box::new(m20261207_000018_ciba::Migration),
            Box::new(m20261207_000019_dpop::Migration),
            Box::new(m20261207_000020_ciba_openid::Migration),
            Box::new(m20261207_000021_sandbox::Migration),
            Box::new(m20261207_000022_counter_offer::Migration),
            Box::new(m20261207_000023_payouts::Migration),
            Box::new(m20261207_000024_receipts::Migration),
            Box::new(m20261207_000025_grant_uses::Migration),
            Box::new(m20261207_000026_person_keys::Migration),
            Box::new(m20261207_000027_contact_relay::Migration),
        ]
    }
}
