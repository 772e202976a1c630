//! OpenID Connect RP-initiated logout (OpenID RP-Initiated Logout 1.0): a
//! company sends the person's browser to the end-session endpoint with the
//! ID token it holds, and gets them back at a registered address.
//!
//! | rule | why |
//! |---|---|
//! | `id_token_hint` is required and must be one of our ID tokens (expired is fine) | the endpoint is a GET any page can cause: without the hint, a third-party page could sign anyone out |
//! | `client_id`, when sent, must be the hint's audience | a company cannot speak for another |
//! | `post_logout_redirect_uri` must equal one the client registered | no open redirect |
//! | the session ends only when the hint names its person (the pairwise subject of the hint's company) | a company's old ID token for someone else signs nobody out |
//!
//! Every refusal is `invalid_request`, shown to the person, never redirected.

use authz::{ClientId, OAuthError, UnixTime};
use store::{PersonId, Store};

use crate::BrokerError;
use crate::token::Issuer;

/// What a logout request carries.
#[derive(Debug, Clone, Copy)]
pub struct EndSession<'a> {
    /// The ID token the company holds for the person.
    pub id_token_hint: Option<&'a str>,
    /// The client, if it says.
    pub client_id: Option<&'a str>,
    /// Where to send the person afterwards (registered, exact match).
    pub post_logout_redirect_uri: Option<&'a str>,
    /// Echoed on that redirect.
    pub state: Option<&'a str>,
}

/// The signed-in session the browser carries, if any.
#[derive(Debug, Clone, Copy)]
pub struct Session<'a> {
    /// Whose.
    pub person: &'a PersonId,
    /// SHA-256 of the session token.
    pub session_hash: &'a str,
}

/// What a logout did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedOut {
    /// Whether the browser's session ended.
    pub ended: bool,
    /// Where to send the person, when the company asked for it.
    pub redirect: Option<String>,
}

/// Ends `session` when `ask` is a valid logout for its person.
///
/// # Errors
/// [`BrokerError::OAuth`] (`invalid_request`) for a missing or bad hint, a
/// `client_id` that is not the hint's, or an unregistered redirect; the
/// store's.
pub async fn end_session(
    store: &Store,
    issuer: &impl Issuer,
    session: Option<Session<'_>>,
    ask: EndSession<'_>,
    now: UnixTime,
) -> Result<LoggedOut, BrokerError> {
    let hint = ask.id_token_hint.ok_or_else(|| {
        OAuthError::invalid_request("`id_token_hint` is required: send the ID token you hold")
    })?;
    let claims = issuer.verify_id_token_hint(hint, now).map_err(|e| {
        OAuthError::invalid_request(format!("`id_token_hint` is not an ID token of ours: {e}"))
    })?;
    if ask.client_id.is_some_and(|c| c != claims.aud) {
        return Err(OAuthError::invalid_request(
            "`client_id` is not the audience of `id_token_hint`",
        )
        .into());
    }
    let client_id = ClientId::parse(&claims.aud)?;
    let redirect = match ask.post_logout_redirect_uri {
        None => None,
        Some(presented) => {
            let client = store.client(&client_id).await?.ok_or_else(|| {
                OAuthError::invalid_request("the client of `id_token_hint` is gone")
            })?;
            let registered = client
                .record
                .metadata
                .post_logout_redirect_uris
                .iter()
                .find(|u| u.matches(presented))
                .ok_or_else(|| {
                    OAuthError::invalid_request(
                        "`post_logout_redirect_uri` is not registered for this client (exact match required)",
                    )
                })?;
            let mut url = url::Url::parse(registered.as_str())
                .map_err(|_| OAuthError::server_error("a registered URI does not parse"))?;
            if let Some(state) = ask.state {
                url.query_pairs_mut().append_pair("state", state);
            }
            Some(String::from(url))
        }
    };
    let company = client_id.to_company_id();
    let ended = match session {
        Some(s) if issuer.subject(&company, s.person).as_str() == claims.sub => {
            store.delete_session(s.session_hash).await?;
            true
        }
        _ => false,
    };
    Ok(LoggedOut { ended, redirect })
}
