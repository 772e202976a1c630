//! The company's side: a company made by the operator, and the `oauth2`
//! crate as its OAuth client.

use oauth2::basic::BasicClient;
use oauth2::{AuthUrl, EndpointNotSet, EndpointSet, RedirectUrl, TokenResponse as _, TokenUrl};

use crate::TestApp;

/// The redirect URI companies register unless a test says otherwise.
pub const REDIRECT: &str = "http://localhost:9/callback";

/// A company's client credentials.
#[derive(Clone, Debug)]
pub struct Company {
    /// The `client_id`.
    pub id: String,
    /// The `client_secret`.
    pub secret: String,
}

/// A company's `oauth2` client: authorization and token endpoints set.
pub type OAuthClient =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// An HTTP client for the `oauth2` crate that does not follow redirects
/// (RFC 9700 §4.11: an authorization server's redirect is the answer).
pub fn oauth_http() -> oauth2::reqwest::Client {
    oauth2::reqwest::Client::builder()
        .redirect(oauth2::reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client")
}

impl TestApp {
    /// A company made the way the operator makes one (`apiome company
    /// create`), registering [`REDIRECT`].
    pub async fn company(&self, name: &str) -> Company {
        let key = server::admin::server_key(&self.data_dir()).expect("the server key");
        let made = server::admin::create_company(self.store(), &key, name, &[REDIRECT.to_owned()])
            .await
            .expect("the company is made");
        Company {
            id: made.client_id,
            secret: made.client_secret,
        }
    }

    /// `company`'s OAuth client, redirecting to [`REDIRECT`].
    pub fn oauth_client(&self, company: &Company) -> OAuthClient {
        BasicClient::new(oauth2::ClientId::new(company.id.clone()))
            .set_client_secret(oauth2::ClientSecret::new(company.secret.clone()))
            .set_auth_uri(AuthUrl::new(self.url("/oauth/authorize")).expect("a URL"))
            .set_token_uri(TokenUrl::new(self.url("/oauth/token")).expect("a URL"))
            .set_redirect_uri(RedirectUrl::new(REDIRECT.to_owned()).expect("a URL"))
    }

    /// Dynamic client registration (RFC 7591) of `metadata` with a fresh
    /// initial access token the operator issued; the server's answer.
    pub async fn register(&self, metadata: serde_json::Value) -> reqwest::Response {
        let token = server::admin::issue_registration_token(self.store())
            .await
            .expect("an initial access token")
            .initial_access_token;
        self.http
            .post(self.url("/oauth/register"))
            .bearer_auth(token)
            .json(&metadata)
            .send()
            .await
            .expect("the server answers")
    }

    /// `form` posted to the token endpoint with `company`'s basic
    /// credentials: the status and the JSON body.
    pub async fn token_form(
        &self,
        company: &Company,
        form: &[(&str, &str)],
    ) -> (u16, serde_json::Value) {
        let response = self
            .http
            .post(self.url("/oauth/token"))
            .basic_auth(&company.id, Some(&company.secret))
            .form(form)
            .send()
            .await
            .expect("the server answers");
        let status = response.status().as_u16();
        (status, response.json().await.expect("a JSON body"))
    }

    /// A `client_credentials` access token of `company`, through `oauth2`.
    pub async fn company_token(&self, company: &Company) -> String {
        self.oauth_client(company)
            .exchange_client_credentials()
            .request_async(&oauth_http())
            .await
            .expect("a client_credentials token")
            .access_token()
            .secret()
            .clone()
    }
}

/// The `name=value` of a response's `Set-Cookie`.
pub fn set_cookie(response: &reqwest::Response) -> String {
    let header = response.headers()["set-cookie"]
        .to_str()
        .expect("a text Set-Cookie");
    header.split(';').next().unwrap_or_default().to_owned()
}

/// The value of `name` in `url`'s query.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .expect("an absolute URL")
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}
