//! The authorization server metadata document (RFC 8414), which is also
//! the OpenID Provider metadata (OIDC Discovery 1.0 §3): one document,
//! served at both well-known paths, so the two never disagree.

use consent_policy::{AttributeKey, REQUEST_TYPE};
use serde::{Deserialize, Serialize};

use crate::client::{AuthMethod, GrantType};
use crate::oidc::{
    ACR_VALUES, CLAIMS_SUPPORTED, END_SESSION_PATH, IdTokenAlg, OPENID_SCOPE, USERINFO_PATH,
};

/// The scope that lets a company read the public ledger with `client_credentials`.
pub const LEDGER_READ_SCOPE: &str = "ledger:read";
/// The scopes a client may ask for with `client_credentials`.
pub const CLIENT_SCOPES: [&str; 1] = [LEDGER_READ_SCOPE];
/// Where the metadata document is served (RFC 8414 §3).
pub const WELL_KNOWN_PATH: &str = "/.well-known/oauth-authorization-server";
/// The authorization endpoint's path.
pub const AUTHORIZE_PATH: &str = "/oauth/authorize";
/// The token endpoint's path.
pub const TOKEN_PATH: &str = "/oauth/token";
/// The pushed authorization request endpoint's path.
pub const PAR_PATH: &str = "/oauth/par";
/// The JWK set's path.
pub const JWKS_PATH: &str = "/oauth/jwks";
/// The introspection endpoint's path.
pub const INTROSPECT_PATH: &str = "/oauth/introspect";
/// The revocation endpoint's path.
pub const REVOKE_PATH: &str = "/oauth/revoke";
/// The dynamic registration endpoint's path.
pub const REGISTER_PATH: &str = "/oauth/register";
/// The CIBA backchannel authentication endpoint's path.
pub const BC_AUTHORIZE_PATH: &str = "/oauth/bc-authorize";

/// The RFC 8414 metadata of this server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerMetadata {
    /// The issuer URL.
    pub issuer: String,
    /// The authorization endpoint.
    pub authorization_endpoint: String,
    /// The token endpoint.
    pub token_endpoint: String,
    /// The pushed authorization request endpoint (RFC 9126).
    pub pushed_authorization_request_endpoint: String,
    /// Pushed requests are welcome but not required.
    pub require_pushed_authorization_requests: bool,
    /// The JWK set of the token signing keys.
    pub jwks_uri: String,
    /// The introspection endpoint (RFC 7662).
    pub introspection_endpoint: String,
    /// The revocation endpoint (RFC 7009).
    pub revocation_endpoint: String,
    /// The dynamic registration endpoint (RFC 7591).
    pub registration_endpoint: String,
    /// `["code"]`.
    pub response_types_supported: Vec<String>,
    /// `["query"]`.
    pub response_modes_supported: Vec<String>,
    /// Every supported grant type.
    pub grant_types_supported: Vec<String>,
    /// `["S256"]`.
    pub code_challenge_methods_supported: Vec<String>,
    /// Client authentication methods at the token endpoint.
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// Algorithms accepted in `private_key_jwt` assertions.
    pub token_endpoint_auth_signing_alg_values_supported: Vec<String>,
    /// Client authentication methods at the introspection endpoint.
    pub introspection_endpoint_auth_methods_supported: Vec<String>,
    /// Client authentication methods at the revocation endpoint.
    pub revocation_endpoint_auth_methods_supported: Vec<String>,
    /// `["apiome_data"]` (RFC 9396).
    pub authorization_details_types_supported: Vec<String>,
    /// Catalogue attribute keys plus `ledger:read`.
    pub scopes_supported: Vec<String>,
    /// Redirects carry `iss` (RFC 9207).
    pub authorization_response_iss_parameter_supported: bool,
    /// The UserInfo endpoint (OIDC Core §5.3).
    pub userinfo_endpoint: String,
    /// RP-initiated logout (OpenID RP-Initiated Logout 1.0).
    pub end_session_endpoint: String,
    /// `["pairwise"]`: each company sees its own subject for a person.
    pub subject_types_supported: Vec<String>,
    /// `["RS256", "EdDSA"]`; a client picks with `id_token_signed_response_alg`.
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// The claims ID tokens and UserInfo may carry.
    pub claims_supported: Vec<String>,
    /// `none`, `login`, `consent`.
    pub prompt_values_supported: Vec<String>,
    /// The `acr` values ID tokens carry.
    pub acr_values_supported: Vec<String>,
    /// `false`: the `claims` parameter is not supported.
    pub claims_parameter_supported: bool,
    /// `false`: request objects are not supported (PAR is).
    pub request_parameter_supported: bool,
    /// `false`: the `request_uri` parameter is for PAR's URIs only.
    pub request_uri_parameter_supported: bool,
    /// The CIBA backchannel authentication endpoint (CIBA Core §4). No
    /// `backchannel_authentication_request_signing_alg_values_supported`:
    /// signed authentication requests are not supported.
    pub backchannel_authentication_endpoint: String,
    /// `["poll", "ping"]`.
    pub backchannel_token_delivery_modes_supported: Vec<String>,
    /// `false`: no `user_code`.
    pub backchannel_user_code_parameter_supported: bool,
    /// `["ES256", "EdDSA"]`: DPoP proofs (RFC 9449 §5.1) the server accepts.
    pub dpop_signing_alg_values_supported: Vec<String>,
}

impl ServerMetadata {
    /// The document for an issuer URL such as `https://apiome.example`
    /// (a trailing `/` is dropped); endpoints are the issuer plus the paths above.
    #[must_use]
    pub fn for_issuer(issuer: &str) -> Self {
        let issuer = issuer.trim_end_matches('/');
        let at = |path: &str| format!("{issuer}{path}");
        let strings = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let auth_methods: Vec<String> = AuthMethod::ALL
            .iter()
            .map(|m| m.as_str().to_owned())
            .collect();
        let mut scopes: Vec<String> = AttributeKey::catalogue()
            .map(|k| k.as_str().to_owned())
            .collect();
        scopes.extend(CLIENT_SCOPES.iter().map(|s| (*s).to_owned()));
        scopes.push(OPENID_SCOPE.to_owned());
        Self {
            issuer: issuer.to_owned(),
            authorization_endpoint: at(AUTHORIZE_PATH),
            token_endpoint: at(TOKEN_PATH),
            pushed_authorization_request_endpoint: at(PAR_PATH),
            require_pushed_authorization_requests: false,
            jwks_uri: at(JWKS_PATH),
            introspection_endpoint: at(INTROSPECT_PATH),
            revocation_endpoint: at(REVOKE_PATH),
            registration_endpoint: at(REGISTER_PATH),
            response_types_supported: strings(&["code"]),
            response_modes_supported: strings(&["query"]),
            grant_types_supported: GrantType::ALL
                .iter()
                .map(|g| g.as_str().to_owned())
                .collect(),
            code_challenge_methods_supported: strings(&["S256"]),
            token_endpoint_auth_methods_supported: auth_methods.clone(),
            token_endpoint_auth_signing_alg_values_supported: strings(&["EdDSA", "ES256"]),
            introspection_endpoint_auth_methods_supported: auth_methods.clone(),
            revocation_endpoint_auth_methods_supported: auth_methods,
            authorization_details_types_supported: strings(&[REQUEST_TYPE]),
            scopes_supported: scopes,
            authorization_response_iss_parameter_supported: true,
            userinfo_endpoint: at(USERINFO_PATH),
            end_session_endpoint: at(END_SESSION_PATH),
            subject_types_supported: strings(&["pairwise"]),
            id_token_signing_alg_values_supported: IdTokenAlg::ALL
                .iter()
                .map(|a| a.as_str().to_owned())
                .collect(),
            claims_supported: strings(&CLAIMS_SUPPORTED),
            prompt_values_supported: strings(&["none", "login", "consent"]),
            acr_values_supported: strings(&ACR_VALUES),
            claims_parameter_supported: false,
            request_parameter_supported: false,
            request_uri_parameter_supported: false,
            backchannel_authentication_endpoint: at(BC_AUTHORIZE_PATH),
            backchannel_token_delivery_modes_supported: crate::ciba::DeliveryMode::ALL
                .iter()
                .map(|m| m.as_str().to_owned())
                .collect(),
            backchannel_user_code_parameter_supported: false,
            dpop_signing_alg_values_supported: strings(&crate::dpop::SUPPORTED_ALGS),
        }
    }

    /// Every endpoint URL the document lists (for a check that each answers).
    #[must_use]
    pub fn endpoints(&self) -> [&str; 10] {
        [
            &self.backchannel_authentication_endpoint,
            &self.userinfo_endpoint,
            &self.end_session_endpoint,
            &self.authorization_endpoint,
            &self.token_endpoint,
            &self.pushed_authorization_request_endpoint,
            &self.jwks_uri,
            &self.introspection_endpoint,
            &self.revocation_endpoint,
            &self.registration_endpoint,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_lists_every_endpoint_under_the_issuer() {
        let m = ServerMetadata::for_issuer("https://apiome.example/");
        assert_eq!(m.issuer, "https://apiome.example");
        assert_eq!(m.token_endpoint, "https://apiome.example/oauth/token");
        assert_eq!(
            m.pushed_authorization_request_endpoint,
            "https://apiome.example/oauth/par"
        );
        for e in m.endpoints() {
            assert!(e.starts_with("https://apiome.example/oauth/"), "{e}");
        }
    }

    #[test]
    fn document_advertises_what_the_server_supports() {
        let json = serde_json::to_value(ServerMetadata::for_issuer("https://a.example")).unwrap();
        assert_eq!(
            json["response_types_supported"],
            serde_json::json!(["code"])
        );
        assert_eq!(
            json["dpop_signing_alg_values_supported"],
            serde_json::json!(["ES256", "EdDSA"])
        );
        assert_eq!(
            json["code_challenge_methods_supported"],
            serde_json::json!(["S256"])
        );
        assert_eq!(json["require_pushed_authorization_requests"], false);
        assert_eq!(
            json["authorization_details_types_supported"],
            serde_json::json!(["apiome_data"])
        );
        assert_eq!(
            json["grant_types_supported"],
            serde_json::json!([
                "authorization_code",
                "refresh_token",
                "client_credentials",
                "urn:openid:params:grant-type:ciba"
            ])
        );
        assert_eq!(
            json["token_endpoint_auth_methods_supported"],
            serde_json::json!([
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt"
            ])
        );
        assert_eq!(
            json["token_endpoint_auth_signing_alg_values_supported"],
            serde_json::json!(["EdDSA", "ES256"])
        );
        assert_eq!(
            json["id_token_signing_alg_values_supported"],
            serde_json::json!(["RS256", "EdDSA"])
        );
        assert_eq!(
            json["subject_types_supported"],
            serde_json::json!(["pairwise"])
        );
        assert_eq!(
            json["userinfo_endpoint"],
            "https://a.example/oauth/userinfo"
        );
        assert_eq!(
            json["backchannel_authentication_endpoint"],
            "https://a.example/oauth/bc-authorize"
        );
        assert_eq!(
            json["backchannel_token_delivery_modes_supported"],
            serde_json::json!(["poll", "ping"])
        );
        assert_eq!(json["backchannel_user_code_parameter_supported"], false);
        assert!(
            json.get("backchannel_authentication_request_signing_alg_values_supported")
                .is_none(),
            "signed authentication requests are not supported"
        );
        let scopes = json["scopes_supported"].as_array().unwrap();
        assert!(scopes.contains(&"openid".into()));
        assert!(scopes.contains(&"email".into()) && scopes.contains(&"ledger:read".into()));
        assert!(!scopes.iter().any(|s| s.as_str().unwrap().starts_with("x-")));
    }
}
