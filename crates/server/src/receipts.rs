//! The server's side of consent receipts: it lends the store the key that
//! signs them, which is the newest key of the OAuth signing set served at
//! `/.well-known/jwks.json`, so anyone verifies a receipt with the JWKS
//! they already fetch for tokens (the JOSE `typ` is
//! [`ledger::receipt::RECEIPT_TYP`], never an access token's).

use std::sync::Arc;

use authz::{PairwiseSubject, ServerKey};
use consent_policy::CompanyId;
use ledger::receipt::{RECEIPT_TYP, ReceiptClaims};
use store::{PersonId, ReceiptSigner, Store};

use crate::oauth_keys::SigningKeys;
use crate::oauth_server::OAuthServer;

/// Signs receipts with the OAuth signing set as loaded now.
struct ServerSigner {
    issuer: String,
    jurisdiction: String,
    server_key: ServerKey,
    signing: SigningKeys,
}

impl ReceiptSigner for ServerSigner {
    fn issuer(&self) -> &str {
        &self.issuer
    }

    fn jurisdiction(&self) -> &str {
        &self.jurisdiction
    }

    fn subject(&self, company: &CompanyId, person: &PersonId) -> String {
        PairwiseSubject::derive(&self.server_key, company, person.as_str())
            .as_str()
            .to_owned()
    }

    fn sign(&self, claims: &ReceiptClaims) -> Result<String, String> {
        self.signing
            .current()
            .sign_other(RECEIPT_TYP, claims)
            .map_err(|e| e.to_string())
    }
}

/// Makes `store` receipt every grant and revocation with `oauth`'s keys,
/// naming `jurisdiction` (the `jurisdiction` configuration key).
pub fn install(store: &Store, oauth: &OAuthServer, jurisdiction: &str) {
    store.set_receipt_signer(Arc::new(ServerSigner {
        issuer: oauth.issuer.clone(),
        jurisdiction: jurisdiction.to_owned(),
        server_key: oauth.server_key.clone(),
        signing: oauth.signing.clone(),
    }));
}
