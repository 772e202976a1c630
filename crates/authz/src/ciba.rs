//! OpenID Connect Client-Initiated Backchannel Authentication (CIBA Core
//! 1.0), poll and ping modes: the backchannel authentication request a
//! company sends to `POST /oauth/bc-authorize`, read and checked, and the
//! delivery mode a client registers.
//!
//! | parameter | rule |
//! |---|---|
//! | `login_hint` | required, exactly one hint: the person's handle or the pairwise `sub` this client knows them by; `login_hint_token` and `id_token_hint` are not supported |
//! | `scope` / `authorization_details` | what is asked: one RFC 9396 `apiome_data` entry, or a `scope` of attribute keys; `openid` may be in `scope` either way |
//! | `binding_message` | optional, at most [`MAX_BINDING_MESSAGE_CHARS`] characters of plain text, shown to the person with the request |
//! | `requested_expiry` | optional whole seconds, 1 to [`MAX_REQUESTED_EXPIRY_SECS`] |
//! | `client_notification_token` | required from a ping-mode client: a bearer token (RFC 6750 syntax) of at most [`MAX_NOTIFICATION_TOKEN_LEN`] characters |
//! | `user_code`, `request` | not supported: an `invalid_request` that says so |

use consent_policy::DataRequest;
use serde::{Deserialize, Serialize};

use crate::client::{ClientRecord, GrantType};
use crate::error::{ErrorCode, OAuthError};
use crate::oidc::OPENID_SCOPE;
use crate::params::Params;
use crate::request::{data_request_from_scope, parse_authorization_details};

/// The longest `binding_message`, in characters: it must fit on a phone
/// screen beside the request, and the person reads it to compare.
pub const MAX_BINDING_MESSAGE_CHARS: usize = 64;
/// The longest `login_hint`, in bytes (a handle has at most 32, a
/// pairwise subject 43).
pub const MAX_LOGIN_HINT_LEN: usize = 128;
/// The longest `client_notification_token` (CIBA Core §7.1).
pub const MAX_NOTIFICATION_TOKEN_LEN: usize = 1024;
/// The longest `requested_expiry`, in seconds: seven days, as long as an
/// asynchronous request waits in an inbox.
pub const MAX_REQUESTED_EXPIRY_SECS: u64 = 7 * 24 * 3600;

/// How a client hears that a backchannel request was decided
/// (`backchannel_token_delivery_mode`). `push` is not supported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryMode {
    /// The client polls the token endpoint.
    #[default]
    Poll,
    /// The server calls the client's notification endpoint, then the client
    /// fetches the tokens from the token endpoint.
    Ping,
}

impl DeliveryMode {
    /// Both, as metadata lists them.
    pub const ALL: [DeliveryMode; 2] = [DeliveryMode::Poll, DeliveryMode::Ping];

    /// The wire name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Poll => "poll",
            Self::Ping => "ping",
        }
    }

    /// Whether this is the default (`poll`), which registration responses omit.
    #[must_use]
    pub fn is_poll(&self) -> bool {
        *self == Self::Poll
    }
}

/// A checked backchannel authentication request.
#[derive(Debug, Clone, PartialEq)]
pub struct BackchannelRequest {
    /// The `login_hint`: a handle or a pairwise subject (the caller looks
    /// it up; a hint that names nobody is not an error).
    pub login_hint: String,
    /// What is asked.
    pub details: DataRequest,
    /// Whether `scope` held `openid`.
    pub openid: bool,
    /// The `binding_message`, if any.
    pub binding_message: Option<String>,
    /// The `requested_expiry`, if any.
    pub requested_expiry_secs: Option<u64>,
    /// The `client_notification_token` (ping mode only).
    pub client_notification_token: Option<String>,
}

impl BackchannelRequest {
    /// Reads a backchannel authentication request of `client` (already
    /// authenticated).
    ///
    /// # Errors
    /// `unauthorized_client` when the client may not use the CIBA grant;
    /// `invalid_binding_message`; `invalid_authorization_details`;
    /// `invalid_scope`; `invalid_request` for every other parameter, each
    /// naming it.
    pub fn parse(params: &Params, client: &ClientRecord) -> Result<Self, OAuthError> {
        if !client.metadata.allows(GrantType::Ciba) {
            return Err(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                "this client is not registered for the `urn:openid:params:grant-type:ciba` grant",
            ));
        }
        for unsupported in ["request", "request_uri", "user_code"] {
            if params.contains(unsupported) {
                return Err(OAuthError::invalid_request(format!(
                    "`{unsupported}` is not supported at the backchannel authentication endpoint"
                )));
            }
        }
        let login_hint = login_hint(params)?;
        let (details, openid) = what_is_asked(params)?;
        let binding_message = params
            .get("binding_message")?
            .map(binding_message)
            .transpose()?;
        let requested_expiry_secs = params
            .get("requested_expiry")?
            .map(requested_expiry)
            .transpose()?;
        // Checked whenever sent (a malformed one is a mistake either way);
        // kept only for a ping-mode client, which must send one.
        let sent = params
            .get("client_notification_token")?
            .map(notification_token)
            .transpose()?;
        let client_notification_token = match client.metadata.backchannel_token_delivery_mode {
            DeliveryMode::Poll => None,
            DeliveryMode::Ping => Some(sent.ok_or_else(|| {
                OAuthError::invalid_request(
                    "`client_notification_token` is required: this client is registered for ping mode",
                )
            })?),
        };
        Ok(Self {
            login_hint,
            details,
            openid,
            binding_message,
            requested_expiry_secs,
            client_notification_token,
        })
    }
}

/// Exactly one hint, and it is `login_hint`.
fn login_hint(params: &Params) -> Result<String, OAuthError> {
    let present: Vec<&str> = ["login_hint", "login_hint_token", "id_token_hint"]
        .into_iter()
        .filter(|name| params.contains(name))
        .collect();
    match present.as_slice() {
        [] => Err(OAuthError::invalid_request(
            "`login_hint` is required: the person's handle, or the `sub` you know them by",
        )),
        ["login_hint"] => {
            let hint = params.require("login_hint")?;
            if hint.len() > MAX_LOGIN_HINT_LEN || hint.chars().any(char::is_control) {
                return Err(OAuthError::invalid_request(format!(
                    "`login_hint` is a handle or a `sub`: at most {MAX_LOGIN_HINT_LEN} bytes, no control characters"
                )));
            }
            Ok(hint.to_owned())
        }
        [one] => Err(OAuthError::invalid_request(format!(
            "`{one}` is not supported; name the person with `login_hint` (their handle, or the `sub` you know them by)"
        ))),
        _ => Err(OAuthError::invalid_request(format!(
            "send exactly one hint, not {}",
            present.join(" and ")
        ))),
    }
}

/// The data request, from `authorization_details` or the attribute keys
/// of `scope`, and whether `scope` held `openid`.
fn what_is_asked(params: &Params) -> Result<(DataRequest, bool), OAuthError> {
    let scope = params.get("scope")?.unwrap_or("");
    let openid = scope.split(' ').any(|s| s == OPENID_SCOPE);
    let keys: Vec<&str> = scope
        .split(' ')
        .filter(|s| !s.is_empty() && *s != OPENID_SCOPE)
        .collect();
    match (params.get("authorization_details")?, keys.is_empty()) {
        (Some(details), true) => Ok((parse_authorization_details(details)?, openid)),
        (Some(_), false) => Err(OAuthError::invalid_request(
            "ask either with `authorization_details` or with attribute keys in `scope`, not both \
             (`scope` may still hold `openid`)",
        )),
        (None, false) => Ok((data_request_from_scope(&keys.join(" "))?, openid)),
        (None, true) => Err(OAuthError::invalid_request(
            "ask with `authorization_details` (type `apiome_data`) or a `scope` of attribute keys",
        )),
    }
}

fn binding_message(text: &str) -> Result<String, OAuthError> {
    let fail = |why: String| OAuthError::new(ErrorCode::InvalidBindingMessage, why);
    let chars = text.chars().count();
    if chars > MAX_BINDING_MESSAGE_CHARS {
        return Err(fail(format!(
            "`binding_message` has {chars} characters; at most {MAX_BINDING_MESSAGE_CHARS}"
        )));
    }
    if text.chars().any(char::is_control) || text.trim().is_empty() {
        return Err(fail(
            "`binding_message` must be plain printable text, without control characters".into(),
        ));
    }
    Ok(text.to_owned())
}

fn requested_expiry(text: &str) -> Result<u64, OAuthError> {
    text.parse::<u64>()
        .ok()
        .filter(|secs| {
            text.bytes().all(|b| b.is_ascii_digit())
                && (1..=MAX_REQUESTED_EXPIRY_SECS).contains(secs)
        })
        .ok_or_else(|| {
            OAuthError::invalid_request(format!(
                "`requested_expiry` is whole seconds from 1 to {MAX_REQUESTED_EXPIRY_SECS}"
            ))
        })
}

/// RFC 6750 §2.1 `b64token`: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn notification_token(text: &str) -> Result<String, OAuthError> {
    let body = text.trim_end_matches('=');
    let valid = !body.is_empty()
        && text.len() <= MAX_NOTIFICATION_TOKEN_LEN
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b));
    if valid {
        Ok(text.to_owned())
    } else {
        Err(OAuthError::invalid_request(format!(
            "`client_notification_token` is a bearer token (RFC 6750 b64token) of at most \
             {MAX_NOTIFICATION_TOKEN_LEN} characters"
        )))
    }
}

/// Checks the CIBA part of a registration: `backchannel_token_delivery_mode`
/// (`poll` by default, or `ping`) and, exactly for `ping`, an absolute
/// `https` (or `http`, which the server allows only to loopback)
/// `backchannel_client_notification_endpoint`. The server checks the
/// destination itself (its webhook rules).
///
/// # Errors
/// `invalid_client_metadata` naming the field.
pub fn check_registration(
    mode: Option<&serde_json::Value>,
    endpoint: Option<&serde_json::Value>,
    grant_types: &[GrantType],
) -> Result<(DeliveryMode, Option<String>), OAuthError> {
    let fail = |why: String| OAuthError::new(ErrorCode::InvalidClientMetadata, why);
    let mode = match mode {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(m)) => Some(
            DeliveryMode::ALL
                .into_iter()
                .find(|d| d.as_str() == m)
                .ok_or_else(|| {
                    fail(format!(
                        "`backchannel_token_delivery_mode` `{}` is not supported; use poll or ping",
                        crate::error::excerpt(m)
                    ))
                })?,
        ),
        Some(_) => {
            return Err(fail(
                "`backchannel_token_delivery_mode` must be a string".into(),
            ));
        }
    };
    if mode.is_some() && !grant_types.contains(&GrantType::Ciba) {
        return Err(fail(
            "`backchannel_token_delivery_mode` needs the `urn:openid:params:grant-type:ciba` grant type"
                .into(),
        ));
    }
    let mode = mode.unwrap_or_default();
    let endpoint = match endpoint {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(url)) => Some(url.clone()),
        Some(_) => {
            return Err(fail(
                "`backchannel_client_notification_endpoint` must be a string".into(),
            ));
        }
    };
    match (mode, endpoint) {
        (DeliveryMode::Ping, None) => Err(fail(
            "ping mode needs `backchannel_client_notification_endpoint`".into(),
        )),
        (DeliveryMode::Poll, Some(_)) => Err(fail(
            "`backchannel_client_notification_endpoint` is only for ping mode".into(),
        )),
        (DeliveryMode::Poll, None) => Ok((mode, None)),
        (DeliveryMode::Ping, Some(url)) => {
            let parsed = url::Url::parse(&url).map_err(|_| {
                fail("`backchannel_client_notification_endpoint` must be an absolute URL".into())
            })?;
            if url.len() > 2048 || !matches!(parsed.scheme(), "https" | "http") {
                return Err(fail(
                    "`backchannel_client_notification_endpoint` must be an https URL of at most 2048 characters"
                        .into(),
                ));
            }
            Ok((mode, Some(url)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ClientMetadata;
    use crate::random::PredictableRandom;
    use crate::server_key::ServerKey;
    use crate::time::UnixTime;

    fn client(extra: serde_json::Value) -> ClientRecord {
        let mut body = serde_json::json!({
            "client_name": "Acme",
            "redirect_uris": ["https://acme.example/cb"],
            "grant_types": ["authorization_code", "urn:openid:params:grant-type:ciba"],
        });
        if let (Some(map), Some(more)) = (body.as_object_mut(), extra.as_object()) {
            map.extend(more.clone());
        }
        let metadata = ClientMetadata::parse(&body).unwrap();
        let key = ServerKey::generate(&mut PredictableRandom::new(1)).unwrap();
        ClientRecord::register(
            metadata,
            &key,
            &mut PredictableRandom::new(2),
            UnixTime::from_secs(1),
        )
        .unwrap()
        .0
    }

    fn form(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        )
        .unwrap()
    }

    fn refused(pairs: &[(&str, &str)], client: &ClientRecord) -> OAuthError {
        BackchannelRequest::parse(&form(pairs), client).unwrap_err()
    }

    const DETAILS: &str = r#"[{"type":"apiome_data","attributes":["email"],"purpose":"marketing","duration":"P30D"}]"#;

    #[test]
    fn a_handle_with_details_and_a_binding_message_is_read() {
        let poll = client(serde_json::json!({}));
        let read = BackchannelRequest::parse(
            &form(&[
                ("scope", "openid"),
                ("login_hint", "ada"),
                ("authorization_details", DETAILS),
                ("binding_message", "Order 4711"),
                ("requested_expiry", "600"),
            ]),
            &poll,
        )
        .unwrap();
        assert_eq!(read.login_hint, "ada");
        assert!(read.openid);
        assert_eq!(read.binding_message.as_deref(), Some("Order 4711"));
        assert_eq!(read.requested_expiry_secs, Some(600));
        assert_eq!(read.client_notification_token, None);
        let by_scope = BackchannelRequest::parse(
            &form(&[("scope", "openid email"), ("login_hint", "ada")]),
            &poll,
        )
        .unwrap();
        assert_eq!(by_scope.details.attributes().len(), 1);
    }

    #[test]
    fn a_poll_client_may_leave_out_the_notification_token_but_not_send_a_malformed_one() {
        let poll = client(serde_json::json!({}));
        let hint = ("login_hint", "ada");
        let details = ("authorization_details", DETAILS);
        let kept = BackchannelRequest::parse(
            &form(&[hint, details, ("client_notification_token", "abc.DEF-123=")]),
            &poll,
        )
        .unwrap();
        assert_eq!(kept.client_notification_token, None, "poll mode keeps none");
        let long = "a".repeat(MAX_NOTIFICATION_TOKEN_LEN + 1);
        for bad in ["has space", "é", long.as_str()] {
            let refused = BackchannelRequest::parse(
                &form(&[hint, details, ("client_notification_token", bad)]),
                &poll,
            )
            .unwrap_err();
            assert_eq!(refused.code, ErrorCode::InvalidRequest, "{bad}");
            assert!(refused.description.contains("client_notification_token"));
        }
    }

    /// A form, the error it gets, and words its description must hold.
    type Case<'a> = (Vec<(&'a str, &'a str)>, ErrorCode, &'a str);

    #[test]
    fn every_bad_parameter_is_refused_with_its_name() {
        let poll = client(serde_json::json!({}));
        let hint = ("login_hint", "ada");
        let details = ("authorization_details", DETAILS);
        let long = "x".repeat(MAX_BINDING_MESSAGE_CHARS + 1);
        let cases: Vec<Case<'_>> = vec![
            (
                vec![details],
                ErrorCode::InvalidRequest,
                "`login_hint` is required",
            ),
            (
                vec![hint, ("id_token_hint", "x"), details],
                ErrorCode::InvalidRequest,
                "exactly one hint",
            ),
            (
                vec![("login_hint_token", "x"), details],
                ErrorCode::InvalidRequest,
                "`login_hint_token` is not supported",
            ),
            (
                vec![("id_token_hint", "x"), details],
                ErrorCode::InvalidRequest,
                "`id_token_hint` is not supported",
            ),
            (
                vec![hint, hint, details],
                ErrorCode::InvalidRequest,
                "more than once",
            ),
            (
                vec![hint],
                ErrorCode::InvalidRequest,
                "ask with `authorization_details`",
            ),
            (
                vec![hint, details, ("scope", "email")],
                ErrorCode::InvalidRequest,
                "not both",
            ),
            (
                vec![hint, ("authorization_details", "[{")],
                ErrorCode::InvalidAuthorizationDetails,
                "not valid JSON",
            ),
            (
                vec![hint, details, ("binding_message", &long)],
                ErrorCode::InvalidBindingMessage,
                "at most 64",
            ),
            (
                vec![hint, details, ("binding_message", "a\nb")],
                ErrorCode::InvalidBindingMessage,
                "control",
            ),
            (
                vec![hint, details, ("requested_expiry", "0")],
                ErrorCode::InvalidRequest,
                "`requested_expiry`",
            ),
            (
                vec![hint, details, ("requested_expiry", "+5")],
                ErrorCode::InvalidRequest,
                "`requested_expiry`",
            ),
            (
                vec![hint, details, ("requested_expiry", "604801")],
                ErrorCode::InvalidRequest,
                "`requested_expiry`",
            ),
            (
                vec![hint, details, ("user_code", "1234")],
                ErrorCode::InvalidRequest,
                "`user_code` is not supported",
            ),
            (
                vec![hint, details, ("request", "e30.e30.")],
                ErrorCode::InvalidRequest,
                "`request` is not supported",
            ),
        ];
        for (pairs, code, says) in cases {
            let error = refused(&pairs, &poll);
            assert_eq!(error.code, code, "{pairs:?}: {error}");
            assert!(error.description.contains(says), "{pairs:?}: {error}");
        }
    }

    #[test]
    fn a_ping_client_must_send_a_bearer_shaped_notification_token() {
        let ping = client(serde_json::json!({
            "backchannel_token_delivery_mode": "ping",
            "backchannel_client_notification_endpoint": "https://acme.example/ciba",
        }));
        let base = [("login_hint", "ada"), ("authorization_details", DETAILS)];
        let error = refused(&base, &ping);
        assert!(
            error
                .description
                .contains("`client_notification_token` is required"),
            "{error}"
        );
        let mut bad = base.to_vec();
        bad.push(("client_notification_token", "has space"));
        assert!(refused(&bad, &ping).description.contains("b64token"));
        let mut good = base.to_vec();
        good.push((
            "client_notification_token",
            "8d67dc78-7faa-4d41-aabd-67707b374255",
        ));
        let read = BackchannelRequest::parse(&form(&good), &ping).unwrap();
        assert_eq!(
            read.client_notification_token.as_deref(),
            Some("8d67dc78-7faa-4d41-aabd-67707b374255")
        );
    }

    #[test]
    fn a_client_without_the_ciba_grant_is_unauthorized() {
        let body = serde_json::json!({
            "client_name": "Acme",
            "redirect_uris": ["https://acme.example/cb"],
        });
        let metadata = ClientMetadata::parse(&body).unwrap();
        let key = ServerKey::generate(&mut PredictableRandom::new(1)).unwrap();
        let (record, _) = ClientRecord::register(
            metadata,
            &key,
            &mut PredictableRandom::new(2),
            UnixTime::from_secs(1),
        )
        .unwrap();
        let error = refused(
            &[("login_hint", "ada"), ("authorization_details", DETAILS)],
            &record,
        );
        assert_eq!(error.code, ErrorCode::UnauthorizedClient);
    }

    #[test]
    fn registration_needs_an_endpoint_exactly_for_ping() {
        let ciba = [GrantType::Ciba];
        let ping = serde_json::json!("ping");
        let url = serde_json::json!("https://acme.example/ciba");
        assert_eq!(
            check_registration(Some(&ping), Some(&url), &ciba).unwrap(),
            (
                DeliveryMode::Ping,
                Some("https://acme.example/ciba".to_owned())
            )
        );
        assert_eq!(
            check_registration(None, None, &[]).unwrap(),
            (DeliveryMode::Poll, None)
        );
        for (mode, endpoint, grants, says) in [
            (
                Some(ping.clone()),
                None,
                &ciba[..],
                "needs `backchannel_client_notification_endpoint`",
            ),
            (None, Some(url.clone()), &ciba[..], "only for ping"),
            (
                Some(serde_json::json!("push")),
                Some(url.clone()),
                &ciba[..],
                "not supported",
            ),
            (
                Some(ping.clone()),
                Some(url.clone()),
                &[][..],
                "needs the `urn:openid:params:grant-type:ciba`",
            ),
            (
                Some(ping.clone()),
                Some(serde_json::json!("ftp://acme.example/x")),
                &ciba[..],
                "https",
            ),
            (
                Some(ping.clone()),
                Some(serde_json::json!("/relative")),
                &ciba[..],
                "absolute",
            ),
        ] {
            let error = check_registration(mode.as_ref(), endpoint.as_ref(), grants).unwrap_err();
            assert_eq!(error.code, ErrorCode::InvalidClientMetadata);
            assert!(error.description.contains(says), "{says}: {error}");
        }
    }
}
