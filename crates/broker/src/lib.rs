//! apiome's application layer: one plain async function per use case.
//!
//! The adapters above (the JSON API, the HTML pages, the `apiome` command,
//! background tasks) parse what they were sent into typed values, call one
//! function here and render what it returns. Nothing here parses HTTP and
//! nothing above opens a transaction: each use case locks what it changes,
//! loads, decides with `consent-policy`, records, appends its ledger entry
//! and commits, so a promise is kept in exactly one place whichever
//! adapter asked.
//!
//! | module | use cases |
//! |---|---|
//! | [`admin`] | the operator disables, enables, deletes (refused while it holds value, unless forced) a company or rotates its secret, revokes an auditor, suspends or unsuspends a person |
//! | [`activity`] | a person reads their own ledger entries, each proved against a checkpoint |
//! | [`authorize`] | a person opens a company's authorization request (refused, remembered, or the consent screen) and answers it; where an offer is reserved and paid |
//! | [`idempotency`] | a company's `Idempotency-Key`: claim, replay, keep, prune |
//! | [`ask`] | a company asks a person asynchronously, decided under the policy in force when it is recorded |
//! | [`dpop`] | a DPoP proof is checked and accepted once (replay cache in the store) |
//! | [`data`] | a company reads what a grant allows *and* the policy allows now |
//! | [`attributes`] | a person sets, moves or deletes an attribute |
//! | [`answer`] | a person approves all, approves only some, or declines a request |
//! | [`erase`] | a person erases their account: grants revoked, requests declined, earnings left only if waived, their data key and everything theirs alone deleted |
//! | [`export`] | a person takes everything apiome holds about them as one document (GDPR Art. 15/20), every list paged to its end, the activity proved against one checkpoint |
//! | [`fund`] | the operator credits a company's wallet (once per transfer id) |
//! | [`grants`] | a person lists and revokes their grants |
//! | [`inbox`] | a person lists the requests sent to them |
//! | [`receipts`] | a person lists and reads their consent receipts; a company reads those of its own grants |
//! | [`rules`] | a person adds, orders and deletes standing rules |
//! | [`uses`] | a company reports what it did with a grant's data; a kind the purpose does not cover is refused and still recorded |
//! | [`sandbox`] | a sandbox company reaches only its synthetic people and offers only `XTS`; a synthetic "ask" person approves on their own after N seconds |
//! | [`payout`] | a person withdraws earnings (at least the minimum, within what they can withdraw, one waiting per currency); the operator confirms or fails it, lists them |
//! | [`overview`] | a person reads their account: attributes, rules, blocks, ways in |
//! | [`preferences`] | a person sets their default, longest grant and contact preferences |
//! | [`block`] | a person blocks or unblocks a company (a block revokes its live grants) |
//! | [`sign_in`] | a person signs in (password, recovery code, passkey), counted before it is tried |
//! | [`sign_up`] | a person creates an account (password or passkey), counted per address |
//! | [`token`] | a company's client gets tokens (code, refresh, CIBA poll, client credentials), introspects them, or registers |
//! | [`webhook`] | a company sets or removes its webhook, rotates its signing secret (the old one signs 24 h more), sees its deliveries |
//! | [`messages`] | a company sends a person a message through apiome, delivered only on the person's terms (channel, hours in their zone, weekly cap, verified address) and recorded either way; the person lists them and stops a company in one click |
//! | [`notifications`] | a person sets and verifies a notification address, turns kinds of notice on or off, chooses a daily digest, unsubscribes in one click |
//! | [`ways_in`] | a person adds or removes a passkey, replaces recovery codes (a recent sign-in required), ends other sessions |
//!
//! Architecture invariant: this crate never depends on actix-web (checked
//! by `tests/layers.rs`).

pub mod activity;
pub mod admin;
pub mod answer;
pub mod ask;
pub mod attributes;
pub mod authorize;
pub mod block;
pub mod counter;
pub mod data;
pub mod dpop;
pub mod erase;
mod error;
pub mod export;
pub mod fund;
pub mod grants;
pub mod idempotency;
pub mod inbox;
pub mod messages;
pub mod notifications;
pub mod oidc;
pub mod overview;
pub mod payout;
pub mod preferences;
pub mod receipts;
pub mod rules;
pub mod sandbox;
pub mod sign_in;
pub mod sign_up;
pub mod token;
pub mod uses;
pub mod ways_in;
pub mod webhook;

pub use error::BrokerError;

/// Company names looked up in one batch.
struct CompanyNames(std::collections::HashMap<String, String>);

impl CompanyNames {
    /// The company's name, or its id when it is gone.
    fn of(&self, id: &consent_policy::CompanyId) -> String {
        self.get(id).unwrap_or_else(|| id.to_string())
    }

    /// The company's name, if it is known.
    fn get(&self, id: &consent_policy::CompanyId) -> Option<String> {
        self.0.get(id.as_str()).cloned()
    }
}

async fn company_names<'a>(
    store: &store::Store,
    ids: impl Iterator<Item = &'a consent_policy::CompanyId>,
) -> Result<CompanyNames, store::StoreError> {
    Ok(CompanyNames(store.company_names(ids).await?))
}
