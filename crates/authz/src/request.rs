//! Authorization requests: the authorize endpoint's parameters, rich
//! authorization details (RFC 9396), plain scopes, and pushed requests (RFC 9126).

use consent_policy::{
    AttributeKey, DataRequest, GrantDuration, MAX_GRANT_SECS, Purpose, REQUEST_TYPE, RequestError,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::client::{ClientId, ClientRecord, GrantType, RedirectUri};
use crate::code::AuthorizationCode;
use crate::error::{ErrorCode, OAuthError};
use crate::oidc::{OPENID_SCOPE, OidcParams};
use crate::params::Params;
use crate::pkce::CodeChallenge;
use crate::random::{Random, RandomError};
use crate::time::UnixTime;

/// The purpose a scope-only request gets: providing the client's service.
pub const SCOPE_PURPOSE: Purpose = Purpose::ServiceProvision;
/// The duration a scope-only request gets, 30 days.
pub const SCOPE_DURATION: &str = "P30D";
/// The longest `state` accepted, in bytes.
pub const MAX_STATE_LEN: usize = 512;
/// The longest `scope` accepted, in bytes.
pub const MAX_SCOPE_LEN: usize = 2048;
/// The prefix of a pushed request's `request_uri` (RFC 9126 §2.2).
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";
/// How long a pushed request stays usable, in seconds.
pub const PAR_LIFETIME_SECS: u64 = 60;

/// How the client expressed what it wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestForm {
    /// An `authorization_details` entry of type `apiome_data`.
    AuthorizationDetails,
    /// A `scope` of attribute keys, with [`SCOPE_PURPOSE`] and [`SCOPE_DURATION`].
    Scope,
}

/// A checked authorization request: who asks, where the answer goes, the
/// PKCE challenge and the data asked for.
///
/// Serialisable: the server keeps it (pushed requests, and between showing
/// the consent screen and the person's answer) and reads it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    /// The client that asks.
    pub client_id: ClientId,
    /// The registered redirect URI the answer goes to.
    pub redirect_uri: RedirectUri,
    /// Whether `redirect_uri` was in the request (then the token request must repeat it).
    pub redirect_uri_explicit: bool,
    /// The client's `state`, echoed back.
    pub state: Option<String>,
    /// The PKCE `S256` challenge.
    pub code_challenge: CodeChallenge,
    /// What the client asks for; checked against the ten-year ceiling only:
    /// re-check it against the person's longest grant with
    /// [`consent_policy::RawRequest::validate`] once the person is known.
    pub data_request: DataRequest,
    /// Whether it came as `authorization_details` or as `scope`.
    pub form: RequestForm,
    /// The OpenID Connect side: `openid`, `nonce`, `prompt`, `max_age`,
    /// `login_hint` (all off for a plain OAuth request).
    #[serde(default)]
    pub oidc: OidcParams,
}

/// The client named by an authorization request's `client_id`, for the
/// server to look up before [`AuthorizationRequest::parse`].
///
/// # Errors
/// `invalid_request` when missing or repeated, `invalid_client` when
/// malformed; never redirectable.
pub fn requested_client_id(params: &Params) -> Result<ClientId, OAuthError> {
    ClientId::parse(params.require("client_id")?)
}

impl AuthorizationRequest {
    /// Checks the parameters of a front-channel authorization request for
    /// `client` (found through [`requested_client_id`]).
    ///
    /// Errors about the client or the redirect URI are not redirectable:
    /// show them to the person. Later errors are redirectable: send them to
    /// the redirect URI with [`AuthorizationRequest::error_redirect`] or
    /// [`OAuthError::redirect_url`], echoing `state` when it was valid.
    ///
    /// An offer is refused here: anyone can write a front-channel request
    /// (the person themselves, a third-party page), so it cannot carry the
    /// company's word that it pays. An offer comes only through a pushed
    /// request ([`AuthorizationRequest::parse_pushed`]), which the company
    /// authenticates.
    ///
    /// # Errors
    /// See the module's checks, in order: client, redirect URI, `state`,
    /// `response_type`, grant permission, PKCE, `authorization_details`/`scope`;
    /// then `invalid_request` for an offer.
    pub fn parse(params: &Params, client: &ClientRecord) -> Result<Self, RedirectableError> {
        if params.contains("request_uri") {
            return Err(RedirectableError::local(OAuthError::invalid_request(
                "`request_uri` is handled by `PushedRequest::redeem`, not here",
            )));
        }
        let request = Self::parse_inner(params, client)?;
        if request.data_request.offer().is_some() {
            return Err(RedirectableError {
                error: OAuthError::invalid_request(
                    "an offer is accepted only in a pushed authorization request (RFC 9126), \
                     which the client authenticates; push this request to the PAR endpoint",
                )
                .redirectable(),
                redirect_uri: Some(request.redirect_uri),
                state: request.state,
            });
        }
        Ok(request)
    }

    /// Checks the parameters of a pushed authorization request (RFC 9126)
    /// from an authenticated `client`; every error is answered as JSON.
    ///
    /// # Errors
    /// As [`AuthorizationRequest::parse`], with `request_uri` itself refused.
    pub fn parse_pushed(params: &Params, client: &ClientRecord) -> Result<Self, OAuthError> {
        if params.contains("request_uri") {
            return Err(OAuthError::invalid_request(
                "a pushed request must not carry `request_uri`",
            ));
        }
        Self::parse_inner(params, client).map_err(|e| {
            let mut error = e.error;
            error.redirectable = false;
            error
        })
    }

    fn parse_inner(params: &Params, client: &ClientRecord) -> Result<Self, RedirectableError> {
        let local = RedirectableError::local;
        let client_id = requested_client_id(params).map_err(local)?;
        if client_id != client.client_id {
            return Err(local(OAuthError::invalid_request(
                "`client_id` does not name the client that was looked up",
            )));
        }
        let (redirect_uri, redirect_uri_explicit) = match params
            .get("redirect_uri")
            .map_err(local)?
        {
            Some(presented) => match client.redirect_uri(presented) {
                Some(uri) => (uri.clone(), true),
                None => {
                    return Err(local(OAuthError::invalid_request(
                        "`redirect_uri` is not registered for this client (exact match required)",
                    )));
                }
            },
            None => match client.metadata.redirect_uris.as_slice() {
                [only] => (only.clone(), false),
                _ => {
                    return Err(local(OAuthError::invalid_request(
                        "`redirect_uri` is required: the client registered several",
                    )));
                }
            },
        };
        // From here on the error may go to the client, echoing a valid `state`.
        let mut state = None;
        let redirect = |state: &Option<String>, error: OAuthError| RedirectableError {
            error: error.redirectable(),
            redirect_uri: Some(redirect_uri.clone()),
            state: state.clone(),
        };
        match params.get("state") {
            Ok(None) => {}
            Ok(Some(s))
                if s.len() <= MAX_STATE_LEN
                    && s.bytes().all(|b| b.is_ascii_graphic() || b == b' ') =>
            {
                state = Some(s.to_owned());
            }
            Ok(Some(_)) => {
                return Err(redirect(
                    &None,
                    OAuthError::invalid_request(format!(
                        "`state` must be at most {MAX_STATE_LEN} printable ASCII characters"
                    )),
                ));
            }
            Err(e) => return Err(redirect(&None, e)),
        }
        let fail = |e: OAuthError| redirect(&state, e);
        match params.get("response_type").map_err(fail)? {
            None => {
                return Err(fail(OAuthError::invalid_request(
                    "`response_type` is required",
                )));
            }
            Some("code") => {}
            Some(other) => {
                return Err(fail(OAuthError::new(
                    ErrorCode::UnsupportedResponseType,
                    format!(
                        "`response_type` `{}` is not supported; only `code`",
                        crate::error::excerpt(other)
                    ),
                )));
            }
        }
        if !client.metadata.allows(GrantType::AuthorizationCode) {
            return Err(fail(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                "this client is not registered for the `authorization_code` grant",
            )));
        }
        let code_challenge = CodeChallenge::parse(
            params.get("code_challenge").map_err(fail)?,
            params.get("code_challenge_method").map_err(fail)?,
        )
        .map_err(fail)?;
        let details = params.get("authorization_details").map_err(fail)?;
        let (openid, scope) = split_openid(params.get("scope").map_err(fail)?);
        let oidc = OidcParams::parse(params, openid).map_err(fail)?;
        let (data_request, form) = match (details, scope.as_deref()) {
            (Some(_), Some(_)) => {
                return Err(fail(OAuthError::invalid_request(
                    "send either `authorization_details` or `scope`, not both",
                )));
            }
            (Some(details), None) => (
                parse_authorization_details(details).map_err(fail)?,
                RequestForm::AuthorizationDetails,
            ),
            (None, Some(scope)) => (
                data_request_from_scope(scope).map_err(fail)?,
                RequestForm::Scope,
            ),
            (None, None) if openid => {
                return Err(fail(OAuthError::invalid_scope(
                    "`openid` alone shares nothing to sign in with: add the attributes the \
                     sign-in needs to `scope` (e.g. `openid email`) or send `authorization_details`",
                )));
            }
            (None, None) => {
                return Err(fail(OAuthError::invalid_scope(
                    "ask with `authorization_details` (type `apiome_data`) or a `scope` of attribute keys",
                )));
            }
        };
        Ok(Self {
            client_id,
            redirect_uri,
            redirect_uri_explicit,
            state,
            code_challenge,
            data_request,
            form,
            oidc,
        })
    }

    /// The redirect that hands `code` to the client, with `state` and the
    /// RFC 9207 `iss`.
    #[must_use]
    pub fn success_redirect(&self, code: &AuthorizationCode, issuer: &str) -> String {
        let mut url =
            url::Url::parse(self.redirect_uri.as_str()).expect("a RedirectUri is an absolute URL");
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("code", code.expose());
            if let Some(state) = &self.state {
                query.append_pair("state", state);
            }
            query.append_pair("iss", issuer);
        }
        url.into()
    }

    /// The redirect that reports `error` (e.g. `access_denied` when the
    /// person declines) to the client, with `state` and `iss`.
    #[must_use]
    pub fn error_redirect(&self, error: &OAuthError, issuer: &str) -> String {
        let error = error.clone().redirectable();
        error
            .redirect_url(&self.redirect_uri, self.state.as_deref(), issuer)
            .expect("a redirectable error always has a redirect")
    }

    /// The granted `authorization_details` claim for a token: the approved
    /// subset of this request as a one-entry array.
    #[must_use]
    pub fn granted_details(granted: &DataRequest) -> serde_json::Value {
        serde_json::json!([granted.to_raw()])
    }
}

/// Takes `openid` out of a `scope`: whether it was there, and the
/// attribute keys left (`None` when none are).
fn split_openid(scope: Option<&str>) -> (bool, Option<String>) {
    let Some(scope) = scope else {
        return (false, None);
    };
    let tokens: Vec<&str> = scope.split(' ').filter(|t| !t.is_empty()).collect();
    let openid = tokens.contains(&OPENID_SCOPE);
    let rest: Vec<&str> = tokens.into_iter().filter(|t| *t != OPENID_SCOPE).collect();
    if openid && rest.is_empty() {
        (true, None)
    } else if openid {
        (true, Some(rest.join(" ")))
    } else {
        (false, Some(scope.to_owned()))
    }
}

/// An authorization-endpoint error and where, if anywhere, it may be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}")]
pub struct RedirectableError {
    /// The error; `error.redirectable` says whether to redirect.
    pub error: OAuthError,
    /// The checked redirect URI, when the error may go there.
    pub redirect_uri: Option<RedirectUri>,
    /// The `state` to echo.
    pub state: Option<String>,
}

impl RedirectableError {
    /// An error to show to the person, never redirected.
    #[must_use]
    pub fn local(mut error: OAuthError) -> Self {
        error.redirectable = false;
        Self {
            error,
            redirect_uri: None,
            state: None,
        }
    }

    /// The redirect URL reporting the error, or `None` when it must be shown locally.
    #[must_use]
    pub fn redirect_url(&self, issuer: &str) -> Option<String> {
        let uri = self.redirect_uri.as_ref()?;
        self.error.redirect_url(uri, self.state.as_deref(), issuer)
    }
}

/// Parses `authorization_details`: a JSON array with exactly one entry of type `apiome_data`.
///
/// # Errors
/// `invalid_authorization_details` naming the field at fault.
pub fn parse_authorization_details(text: &str) -> Result<DataRequest, OAuthError> {
    let fail = |why: String| OAuthError::new(ErrorCode::InvalidAuthorizationDetails, why);
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|_| fail("`authorization_details` is not valid JSON".into()))?;
    let serde_json::Value::Array(entries) = value else {
        return Err(fail("`authorization_details` must be a JSON array".into()));
    };
    let entry = match <[serde_json::Value; 1]>::try_from(entries) {
        Ok([entry]) => entry,
        Err(entries) => {
            return Err(fail(format!(
                "`authorization_details` must hold exactly one entry of type `{REQUEST_TYPE}`, not {}",
                entries.len()
            )));
        }
    };
    if let Some(kind) = entry.get("type")
        && kind.as_str() != Some(REQUEST_TYPE)
    {
        return Err(fail(format!(
            "authorization details type {} is not supported; use `{REQUEST_TYPE}`",
            crate::error::excerpt(&kind.to_string())
        )));
    }
    let ceiling = GrantDuration::from_secs(MAX_GRANT_SECS).expect("ten years is a valid grant");
    DataRequest::from_json_value(entry, &ceiling).map_err(|e| details_error(&e))
}

/// The `invalid_authorization_details` error for a request problem.
#[must_use]
pub fn details_error(e: &RequestError) -> OAuthError {
    let field = e.field();
    let path = if field == "authorization_details" {
        "authorization_details[0]".to_owned()
    } else {
        format!("authorization_details[0].{field}")
    };
    OAuthError::new(
        ErrorCode::InvalidAuthorizationDetails,
        format!("`{path}`: {e}"),
    )
}

/// Turns a `scope` of space-separated attribute keys into a request for
/// [`SCOPE_PURPOSE`] lasting [`SCOPE_DURATION`], with no offer.
///
/// # Errors
/// `invalid_scope` for an unknown or repeated key, `ledger:read`, an empty
/// or over-long scope.
pub fn data_request_from_scope(scope: &str) -> Result<DataRequest, OAuthError> {
    if scope.len() > MAX_SCOPE_LEN {
        return Err(OAuthError::invalid_scope(format!(
            "`scope` is longer than {MAX_SCOPE_LEN} bytes"
        )));
    }
    let mut keys = Vec::new();
    for token in scope.split(' ').filter(|t| !t.is_empty()) {
        if token == crate::metadata::LEDGER_READ_SCOPE {
            return Err(OAuthError::invalid_scope(
                "`ledger:read` is granted by `client_credentials`, not by a person",
            ));
        }
        let key = AttributeKey::parse(token).map_err(|_| {
            OAuthError::invalid_scope(format!(
                "`{}` is not a known attribute key",
                crate::error::excerpt(token)
            ))
        })?;
        keys.push(key);
    }
    let duration = GrantDuration::parse(SCOPE_DURATION).expect("P30D is a valid duration");
    DataRequest::new(keys, SCOPE_PURPOSE, duration, None).map_err(|e| match e {
        RequestError::EmptyRequest => OAuthError::invalid_scope("`scope` names no attribute"),
        RequestError::DuplicateAttribute { key } => {
            OAuthError::invalid_scope(format!("`{key}` appears twice in `scope`"))
        }
        other => OAuthError::invalid_scope(other.to_string()),
    })
}

/// A pushed request's `request_uri` in clear, handed to the client once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestUri(String);

impl RequestUri {
    /// The `request_uri` parameter of an authorization request, if any.
    ///
    /// # Errors
    /// `invalid_request` (not redirectable) when repeated or not of the
    /// form [`REQUEST_URI_PREFIX`] plus 43 base64url characters.
    pub fn from_params(params: &Params) -> Result<Option<Self>, OAuthError> {
        let Some(text) = params.get("request_uri")? else {
            return Ok(None);
        };
        let ok = text
            .strip_prefix(REQUEST_URI_PREFIX)
            .and_then(crate::b64url_decode)
            .is_some_and(|b| b.len() == 32);
        if ok {
            Ok(Some(Self(text.to_owned())))
        } else {
            Err(OAuthError::invalid_request(
                "`request_uri` is not one this server issued",
            ))
        }
    }

    /// The text handed to the client.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The SHA-256 hash under which the pushed request is stored.
    #[must_use]
    pub fn hash(&self) -> String {
        crate::b64url_encode(Sha256::digest(self.0.as_bytes()))
    }
}

/// A pushed authorization request as the store keeps it, keyed by
/// [`RequestUri::hash`]; usable once, for [`PAR_LIFETIME_SECS`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushedRequest {
    /// The SHA-256 hash of the `request_uri`.
    pub request_uri_hash: String,
    /// The checked request.
    pub request: AuthorizationRequest,
    /// When it stops being usable.
    pub expires_at: UnixTime,
    /// Whether it was already used.
    pub used: bool,
}

/// The RFC 9126 §2.2 answer to a pushed request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushedResponse {
    /// The reference to use at the authorization endpoint.
    pub request_uri: String,
    /// Seconds until it expires.
    pub expires_in: u64,
}

impl PushedRequest {
    /// Stores a checked request under a fresh `request_uri`; returns the
    /// record to store and the response for the client.
    ///
    /// # Errors
    /// [`RandomError`] when the random source fails.
    pub fn new(
        request: AuthorizationRequest,
        rng: &mut impl Random,
        now: UnixTime,
    ) -> Result<(Self, PushedResponse), RandomError> {
        let bytes: [u8; 32] = rng.array()?;
        let uri = RequestUri(format!(
            "{REQUEST_URI_PREFIX}{}",
            crate::b64url_encode(bytes)
        ));
        let record = Self {
            request_uri_hash: uri.hash(),
            request,
            expires_at: now.plus_secs(PAR_LIFETIME_SECS),
            used: false,
        };
        let response = PushedResponse {
            request_uri: uri.0,
            expires_in: PAR_LIFETIME_SECS,
        };
        Ok((record, response))
    }

    /// Takes the request out of a stored pushed request found by the
    /// `request_uri` the client sent alongside `client_id`.
    ///
    /// The store must then mark it used atomically (update only where not
    /// yet used) and treat a lost race as `used`.
    ///
    /// # Errors
    /// `invalid_request`, not redirectable: unknown, expired, used, or
    /// pushed by another client.
    pub fn redeem(
        record: Option<&Self>,
        client_id: &ClientId,
        now: UnixTime,
    ) -> Result<AuthorizationRequest, OAuthError> {
        let Some(record) = record else {
            return Err(OAuthError::invalid_request("`request_uri` is unknown"));
        };
        if record.request.client_id != *client_id {
            return Err(OAuthError::invalid_request(
                "`request_uri` was pushed by another client",
            ));
        }
        if record.used {
            return Err(OAuthError::invalid_request(
                "`request_uri` was already used",
            ));
        }
        if now >= record.expires_at {
            return Err(OAuthError::invalid_request("`request_uri` has expired"));
        }
        Ok(record.request.clone())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::client::ClientMetadata;
    use crate::random::PredictableRandom;
    use crate::server_key::ServerKey;

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    const DETAILS: &str = r#"[{"type":"apiome_data","attributes":["email","interests"],"purpose":"marketing","duration":"P7D"}]"#;
    const WITH_OFFER: &str = r#"[{"type":"apiome_data","attributes":["email","interests"],"purpose":"marketing","duration":"P7D","offer":{"amount_micros":50000,"currency":"USD"}}]"#;

    fn client_with(uris: &[&str], grants: &[&str]) -> ClientRecord {
        let seed = uris
            .iter()
            .chain(grants)
            .map(|s| s.len() as u64)
            .sum::<u64>()
            + uris.len() as u64 * 1000;
        let meta = ClientMetadata::parse(&json!({
            "client_name": "Acme", "redirect_uris": uris, "grant_types": grants,
            "response_types": if grants.contains(&"authorization_code") { json!(["code"]) } else { json!([]) },
        }))
        .unwrap();
        ClientRecord::register(
            meta,
            &ServerKey::from_bytes([1; 32]),
            &mut PredictableRandom::new(seed),
            UnixTime::from_secs(0),
        )
        .unwrap()
        .0
    }

    fn client() -> ClientRecord {
        client_with(
            &["https://acme.example/cb", "https://acme.example/other"],
            &["authorization_code"],
        )
    }

    fn params(client: &ClientRecord, extra: &[(&str, &str)], drop: &[&str]) -> Params {
        let mut pairs: Vec<(String, String)> = [
            ("response_type", "code"),
            ("client_id", client.client_id.as_str()),
            ("redirect_uri", "https://acme.example/cb"),
            ("state", "xyz"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("authorization_details", DETAILS),
        ]
        .into_iter()
        .filter(|(k, _)| !drop.contains(k) && !extra.iter().any(|(e, _)| e == k))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        pairs.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        Params::from_pairs(pairs).unwrap()
    }

    fn err(c: &ClientRecord, extra: &[(&str, &str)], drop: &[&str]) -> RedirectableError {
        AuthorizationRequest::parse(&params(c, extra, drop), c).unwrap_err()
    }

    #[test]
    fn rich_request_parses() {
        let c = client();
        let r = AuthorizationRequest::parse(&params(&c, &[], &[]), &c).unwrap();
        assert_eq!(r.client_id, c.client_id);
        assert_eq!(r.redirect_uri.as_str(), "https://acme.example/cb");
        assert!(r.redirect_uri_explicit);
        assert_eq!(r.state.as_deref(), Some("xyz"));
        assert_eq!(r.form, RequestForm::AuthorizationDetails);
        assert_eq!(r.data_request.purpose(), Purpose::Marketing);
        assert_eq!(r.data_request.attributes().len(), 2);
        let stored = serde_json::to_string(&r).unwrap();
        assert_eq!(
            serde_json::from_str::<AuthorizationRequest>(&stored).unwrap(),
            r
        );
    }

    #[test]
    fn openid_goes_with_attribute_scopes_or_details_and_never_becomes_an_attribute() {
        let c = client();
        let scoped = AuthorizationRequest::parse(
            &params(
                &c,
                &[("scope", "openid email"), ("nonce", "n-1")],
                &["authorization_details"],
            ),
            &c,
        )
        .unwrap();
        assert!(scoped.oidc.openid);
        assert_eq!(scoped.oidc.nonce.as_deref(), Some("n-1"));
        let keys: Vec<&str> = scoped
            .data_request
            .attributes()
            .iter()
            .map(AttributeKey::as_str)
            .collect();
        assert_eq!(keys, ["email"]);
        let detailed =
            AuthorizationRequest::parse(&params(&c, &[("scope", "openid")], &[]), &c).unwrap();
        assert!(detailed.oidc.openid);
        assert_eq!(detailed.form, RequestForm::AuthorizationDetails);
        // Details with attribute scopes beside them are still refused.
        let both = err(&c, &[("scope", "openid email")], &[]);
        assert_eq!(both.error.code, ErrorCode::InvalidRequest);
        // A stored request of before OpenID Connect reads back as plain OAuth.
        let mut old = serde_json::to_value(&scoped).unwrap();
        old.as_object_mut().unwrap().remove("oidc");
        let old: AuthorizationRequest = serde_json::from_value(old).unwrap();
        assert_eq!(old.oidc, OidcParams::default());
    }

    #[test]
    fn an_offer_is_refused_on_the_front_channel_and_taken_when_pushed() {
        let c = client();
        let offer = [("authorization_details", WITH_OFFER)];
        let e = err(&c, &offer, &[]);
        assert_eq!(e.error.code, ErrorCode::InvalidRequest);
        assert!(e.error.description.contains("pushed"), "{e}");
        let url = e.redirect_url("https://as.example").unwrap();
        assert!(url.starts_with("https://acme.example/cb?"), "{url}");
        assert!(
            url.contains("error=invalid_request") && url.contains("state=xyz"),
            "{url}"
        );
        let pushed =
            AuthorizationRequest::parse_pushed(&params(&c, &offer, &["state"]), &c).unwrap();
        assert_eq!(pushed.data_request.offer().unwrap().amount_micros(), 50_000);
    }

    #[test]
    fn scope_request_gets_service_provision_for_thirty_days() {
        let c = client();
        let r = AuthorizationRequest::parse(
            &params(
                &c,
                &[("scope", "email  display_name")],
                &["authorization_details"],
            ),
            &c,
        )
        .unwrap();
        assert_eq!(r.form, RequestForm::Scope);
        assert_eq!(r.data_request.purpose(), Purpose::ServiceProvision);
        assert_eq!(r.data_request.duration().as_str(), "P30D");
        assert!(r.data_request.offer().is_none());
        let keys: Vec<&str> = r
            .data_request
            .attributes()
            .iter()
            .map(AttributeKey::as_str)
            .collect();
        assert_eq!(keys, ["email", "display_name"]);
    }

    #[test]
    fn client_and_redirect_uri_errors_are_never_redirected() {
        let c = client();
        let other = client_with(&["https://evil.example/cb"], &["authorization_code"]);
        let cases: Vec<(RedirectableError, &str)> = vec![
            (err(&c, &[], &["client_id"]), "`client_id` is required"),
            (err(&c, &[("client_id", "acme")], &[]), "not an identifier"),
            (
                AuthorizationRequest::parse(&params(&other, &[], &[]), &c).unwrap_err(),
                "does not name",
            ),
            (
                err(&c, &[("redirect_uri", "https://evil.example/cb")], &[]),
                "not registered",
            ),
            (
                err(&c, &[("redirect_uri", "https://acme.example/cb/")], &[]),
                "not registered",
            ),
            (err(&c, &[], &["redirect_uri"]), "several"),
            (
                AuthorizationRequest::parse(
                    &Params::from_form(&format!(
                        "{}&redirect_uri=https://acme.example/cb",
                        params(&c, &[], &[]).to_form()
                    ))
                    .unwrap(),
                    &c,
                )
                .unwrap_err(),
                "more than once",
            ),
            (err(&c, &[("request_uri", "urn:x")], &[]), "request_uri"),
        ];
        for (e, why) in cases {
            assert!(!e.error.redirectable, "{why}");
            assert_eq!(e.redirect_url("https://as.example"), None, "{why}");
            assert!(
                e.error.description.contains(why),
                "{why}: {}",
                e.error.description
            );
        }
    }

    #[test]
    fn single_registered_uri_is_the_default() {
        let c = client_with(&["https://acme.example/cb"], &["authorization_code"]);
        let r = AuthorizationRequest::parse(&params(&c, &[], &["redirect_uri"]), &c).unwrap();
        assert_eq!(r.redirect_uri.as_str(), "https://acme.example/cb");
        assert!(!r.redirect_uri_explicit);
    }

    #[test]
    fn later_errors_redirect_with_state_and_precise_codes() {
        let c = client();
        let dup_type = json!([{"type":"apiome_data","attributes":["email"],"purpose":"marketing","duration":"P1D"},
                              {"type":"apiome_data","attributes":["email"],"purpose":"marketing","duration":"P1D"}]).to_string();
        let dup_extra = [("authorization_details", dup_type.as_str())];
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str], ErrorCode, &'a str);
        let cases: Vec<Case<'_>> = vec![
            (
                &[],
                &["response_type"],
                ErrorCode::InvalidRequest,
                "`response_type` is required",
            ),
            (
                &[("response_type", "token")],
                &[],
                ErrorCode::UnsupportedResponseType,
                "`token`",
            ),
            (
                &[],
                &["code_challenge_method"],
                ErrorCode::InvalidRequest,
                "`code_challenge_method` is required",
            ),
            (
                &[("code_challenge_method", "plain")],
                &[],
                ErrorCode::InvalidRequest,
                "`plain` is not allowed",
            ),
            (
                &[],
                &["code_challenge"],
                ErrorCode::InvalidRequest,
                "`code_challenge` is required",
            ),
            (
                &[("code_challenge", "abc")],
                &[],
                ErrorCode::InvalidRequest,
                "43 characters",
            ),
            (
                &[("scope", "email")],
                &[],
                ErrorCode::InvalidRequest,
                "not both",
            ),
            (
                &[],
                &["authorization_details"],
                ErrorCode::InvalidScope,
                "attribute keys",
            ),
            (
                &[("authorization_details", "{")],
                &[],
                ErrorCode::InvalidAuthorizationDetails,
                "not valid JSON",
            ),
            (
                &[("authorization_details", "{}")],
                &[],
                ErrorCode::InvalidAuthorizationDetails,
                "JSON array",
            ),
            (
                &[("authorization_details", "[]")],
                &[],
                ErrorCode::InvalidAuthorizationDetails,
                "not 0",
            ),
            (
                &dup_extra,
                &[],
                ErrorCode::InvalidAuthorizationDetails,
                "not 2",
            ),
            (
                &[(
                    "authorization_details",
                    r#"[{"type":"payment_initiation"}]"#,
                )],
                &[],
                ErrorCode::InvalidAuthorizationDetails,
                "payment_initiation",
            ),
            (
                &[(
                    "authorization_details",
                    r#"[{"type":"apiome_data","attributes":["shoe"],"purpose":"marketing","duration":"P1D"}]"#,
                )],
                &[],
                ErrorCode::InvalidAuthorizationDetails,
                "`authorization_details[0].attributes`",
            ),
            (
                &[(
                    "authorization_details",
                    r#"[{"type":"apiome_data","attributes":["email"],"purpose":"spying","duration":"P1D"}]"#,
                )],
                &[],
                ErrorCode::InvalidAuthorizationDetails,
                "`authorization_details[0].purpose`",
            ),
            (
                &[(
                    "authorization_details",
                    r#"[{"type":"apiome_data","attributes":["email"],"purpose":"marketing","duration":"P20Y"}]"#,
                )],
                &[],
                ErrorCode::InvalidAuthorizationDetails,
                "`authorization_details[0].duration`",
            ),
            (
                &[(
                    "authorization_details",
                    r#"[{"type":"apiome_data","attributes":["email"],"purpose":"marketing","duration":"P1D","offer":{"amount_micros":-1,"currency":"USD"}}]"#,
                )],
                &[],
                ErrorCode::InvalidAuthorizationDetails,
                "offer.amount_micros",
            ),
            (
                &[(
                    "authorization_details",
                    r#"[{"type":"apiome_data","attributes":["email"],"purpose":"marketing","duration":"P1D","extra":1}]"#,
                )],
                &[],
                ErrorCode::InvalidAuthorizationDetails,
                "`authorization_details[0]`",
            ),
            (
                &[("authorization_details", r#"["apiome_data"]"#)],
                &[],
                ErrorCode::InvalidAuthorizationDetails,
                "`authorization_details[0]`",
            ),
        ];
        for (extra, drop, code, why) in cases {
            let e = err(&c, extra, drop);
            assert_eq!(e.error.code, code, "{why}");
            assert!(
                e.error.description.contains(why),
                "{why}: {}",
                e.error.description
            );
            let url = e.redirect_url("https://as.example").unwrap();
            assert!(url.starts_with("https://acme.example/cb?error="), "{url}");
            assert!(url.contains("&state=xyz&iss="), "{url}");
        }
    }

    #[test]
    fn scope_errors_are_invalid_scope() {
        let c = client();
        for (scope, why) in [
            ("email shoe_size", "`shoe_size`"),
            ("email email", "twice"),
            ("ledger:read", "client_credentials"),
            ("   ", "no attribute"),
        ] {
            let e = err(&c, &[("scope", scope)], &["authorization_details"]);
            assert_eq!(e.error.code, ErrorCode::InvalidScope, "{scope}");
            assert!(
                e.error.description.contains(why),
                "{scope}: {}",
                e.error.description
            );
            assert!(e.error.redirectable);
        }
        let too_long = "email ".repeat(400);
        assert_eq!(
            data_request_from_scope(&too_long).unwrap_err().code,
            ErrorCode::InvalidScope
        );
    }

    #[test]
    fn bad_state_is_redirected_without_echoing_it() {
        let c = client();
        let long = "s".repeat(MAX_STATE_LEN + 1);
        for state in [long.as_str(), "a\u{1}b"] {
            let e = err(&c, &[("state", state)], &[]);
            assert_eq!(e.error.code, ErrorCode::InvalidRequest);
            assert_eq!(e.state, None);
            assert!(
                !e.redirect_url("https://as.example")
                    .unwrap()
                    .contains("state=")
            );
        }
    }

    #[test]
    fn client_without_code_grant_is_unauthorized_client() {
        let c = client_with(&["https://acme.example/cb"], &["client_credentials"]);
        let e = err(&c, &[], &[]);
        assert_eq!(e.error.code, ErrorCode::UnauthorizedClient);
        assert!(e.error.redirectable);
    }

    #[test]
    fn success_and_error_redirects_carry_state_and_issuer() {
        let c = client();
        let r = AuthorizationRequest::parse(&params(&c, &[], &[]), &c).unwrap();
        let (code, _) = AuthorizationCode::generate(&mut PredictableRandom::new(1)).unwrap();
        let url = r.success_redirect(&code, "https://as.example");
        assert_eq!(
            url,
            format!(
                "https://acme.example/cb?code={}&state=xyz&iss=https%3A%2F%2Fas.example",
                code.expose()
            )
        );
        let denied = r.error_redirect(
            &OAuthError::new(ErrorCode::AccessDenied, "the person declined"),
            "https://as.example",
        );
        assert!(denied.starts_with("https://acme.example/cb?error=access_denied&error_description=the+person+declined&state=xyz"));
        let granted = AuthorizationRequest::granted_details(&r.data_request);
        assert_eq!(granted[0]["type"], "apiome_data");
    }

    #[test]
    fn pushed_request_round_trip_is_single_use_and_short_lived() {
        let c = client();
        let r = AuthorizationRequest::parse_pushed(&params(&c, &[], &[]), &c).unwrap();
        let now = UnixTime::from_secs(1000);
        let (record, response) =
            PushedRequest::new(r.clone(), &mut PredictableRandom::new(2), now).unwrap();
        assert_eq!(response.expires_in, 60);
        assert!(response.request_uri.starts_with(REQUEST_URI_PREFIX));
        let p = Params::from_pairs([
            ("client_id".to_owned(), c.client_id.as_str().to_owned()),
            ("request_uri".to_owned(), response.request_uri.clone()),
        ])
        .unwrap();
        let uri = RequestUri::from_params(&p).unwrap().unwrap();
        assert_eq!(uri.hash(), record.request_uri_hash);
        assert_eq!(uri.as_str(), response.request_uri);
        assert_eq!(
            PushedRequest::redeem(Some(&record), &c.client_id, now.plus_secs(59)).unwrap(),
            r
        );

        let expired =
            PushedRequest::redeem(Some(&record), &c.client_id, now.plus_secs(60)).unwrap_err();
        assert!(expired.description.contains("expired"));
        let used = PushedRequest {
            used: true,
            ..record.clone()
        };
        assert!(
            PushedRequest::redeem(Some(&used), &c.client_id, now)
                .unwrap_err()
                .description
                .contains("already used")
        );
        assert!(
            PushedRequest::redeem(None, &c.client_id, now)
                .unwrap_err()
                .description
                .contains("unknown")
        );
        let other = client_with(&["https://acme.example/x"], &["authorization_code"]);
        let e = PushedRequest::redeem(Some(&record), &other.client_id, now).unwrap_err();
        assert!(e.description.contains("another client"));
        for e in [expired, e] {
            assert_eq!(e.code, ErrorCode::InvalidRequest);
            assert!(!e.redirectable);
        }
    }

    #[test]
    fn pushed_request_errors_are_json_only() {
        let c = client();
        let e =
            AuthorizationRequest::parse_pushed(&params(&c, &[("response_type", "token")], &[]), &c)
                .unwrap_err();
        assert_eq!(e.code, ErrorCode::UnsupportedResponseType);
        assert!(!e.redirectable);
        let e = AuthorizationRequest::parse_pushed(&params(&c, &[("request_uri", "x")], &[]), &c)
            .unwrap_err();
        assert!(e.description.contains("must not carry"));
    }

    #[test]
    fn malformed_request_uri_is_invalid_request() {
        for bad in [
            "urn:x",
            "urn:ietf:params:oauth:request_uri:abc",
            "https://x.example",
        ] {
            let p = Params::from_pairs([("request_uri".to_owned(), bad.to_owned())]).unwrap();
            assert_eq!(
                RequestUri::from_params(&p).unwrap_err().code,
                ErrorCode::InvalidRequest
            );
        }
        assert_eq!(RequestUri::from_params(&Params::default()).unwrap(), None);
    }
}
