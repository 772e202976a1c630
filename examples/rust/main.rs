//! "Sign in with apiome" from Rust with the `openidconnect` crate, as its
//! documentation shows: discovery, the authorization code flow with PKCE
//! and a nonce, the ID token validated (signature from the JWKS, `iss`,
//! `aud`, `exp`, `nonce`, `at_hash`), then UserInfo.
//!
//! Its dependencies in a company's own `Cargo.toml`:
//!
//! ```toml
//! openidconnect = { version = "4.1", default-features = false, features = ["reqwest", "rustls-tls"] }
//! tokio = { version = "1", features = ["macros", "rt-multi-thread"] }
//! serde_json = "1"
//! ```
//!
//! Here it is a binary of the `apiome-tests` package (on the crates the
//! workspace already builds) that `tests/tests/examples.rs` runs against
//! the live server, with APIOME_URL, APIOME_CLIENT_ID,
//! APIOME_CLIENT_SECRET and APIOME_REDIRECT_URI set (`apiome company
//! create` prints the client). It prints the URL to send the person's
//! browser to and reads the URL they land on from standard input.

use std::error::Error;

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse as _, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse as _, reqwest,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let env = |name: &str| std::env::var(name).map_err(|_| format!("set {name}"));
    // An HTTP client that does not follow redirects (RFC 9700 §4.11).
    let http = reqwest::ClientBuilder::new()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;

    // Discovery: /.well-known/openid-configuration and the JWKS.
    let issuer = IssuerUrl::new(env("APIOME_URL")?)?;
    let provider = CoreProviderMetadata::discover_async(issuer, &http).await?;
    let client = CoreClient::from_provider_metadata(
        provider,
        ClientId::new(env("APIOME_CLIENT_ID")?),
        Some(ClientSecret::new(env("APIOME_CLIENT_SECRET")?)),
    )
    .set_redirect_uri(RedirectUrl::new(env("APIOME_REDIRECT_URI")?)?);

    // The authorization URL: scope `openid` plus the attributes wanted,
    // a PKCE S256 challenge, a state (CSRF token) and a nonce.
    let (pkce_challenge, pkce_verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, csrf_token, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".to_owned()))
        .add_scope(Scope::new("display_name".to_owned()))
        .set_pkce_challenge(pkce_challenge)
        .url();

    // The person signs in (a passkey) and consents; their browser lands on
    // the redirect URI with the code and our state.
    println!("authorize: {auth_url}");
    let mut landed = String::new();
    std::io::stdin().read_line(&mut landed)?;
    let landed = reqwest::Url::parse(landed.trim())?;
    let param = |name: &str| {
        landed
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .ok_or(format!("no {name} in {landed}"))
    };
    if param("state")? != *csrf_token.secret() {
        return Err("the state does not match".into());
    }

    // The code and the PKCE verifier for tokens.
    let token_response = client
        .exchange_code(AuthorizationCode::new(param("code")?))?
        .set_pkce_verifier(pkce_verifier)
        .request_async(&http)
        .await?;

    // The ID token, validated by the library: signature, issuer, audience,
    // expiry, our nonce; then the access token's hash it carries.
    let id_token = token_response.id_token().ok_or("no ID token")?;
    let id_token_verifier = client.id_token_verifier();
    let claims = id_token.claims(&id_token_verifier, &nonce)?;
    if let Some(expected_access_token_hash) = claims.access_token_hash() {
        let actual_access_token_hash = AccessTokenHash::from_token(
            token_response.access_token(),
            id_token.signing_alg()?,
            id_token.signing_key(&id_token_verifier)?,
        )?;
        if actual_access_token_hash != *expected_access_token_hash {
            return Err("the access token's hash does not match".into());
        }
    }

    // UserInfo: the claims the person granted, for the same subject.
    let userinfo: CoreUserInfoClaims = client
        .user_info(
            token_response.access_token().to_owned(),
            Some(claims.subject().clone()),
        )?
        .request_async(&http)
        .await?;
    println!("{}", serde_json::json!({"id_token": claims}));
    println!("{}", serde_json::json!({"userinfo": userinfo}));
    Ok(())
}
