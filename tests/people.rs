//! The person's side: an account made through `POST /v1/accounts`, as a
//! person makes one, and the session it comes back signed in with.

use serde_json::{Value, json};
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs_proto::CreationChallengeResponse;

use crate::{TestApp, set_cookie};

/// The password every test person signs up with.
pub const PASSWORD: &str = "correct horse battery staple";

/// A signed-up person, signed in: what `POST /v1/accounts` answered.
#[derive(Clone, Debug)]
pub struct Person {
    /// The handle they signed up with.
    pub handle: String,
    /// The session token, for `Authorization: Bearer`.
    pub token: String,
    /// The session cookie's `name=value`, as a browser sends it back.
    pub cookie: String,
    /// The session's CSRF token, for the pages' forms.
    pub csrf: String,
    /// The recovery codes shown once at sign-up.
    pub recovery_codes: Vec<String>,
}

impl TestApp {
    /// `handle` signed up (with [`PASSWORD`]) and signed in, holding no
    /// attribute yet.
    ///
    /// # Panics
    /// When the sign-up is not answered `201` with a token, a cookie and a
    /// CSRF token.
    pub async fn person(&self, handle: &str) -> Person {
        let response = self
            .http
            .post(self.url("/v1/accounts"))
            .json(&json!({"handle": handle, "password": PASSWORD}))
            .send()
            .await
            .expect("the server answers");
        assert_eq!(response.status(), 201, "the sign-up of {handle}");
        let cookie = set_cookie(&response);
        let body: Value = response.json().await.expect("a JSON body");
        let text = |name: &str| {
            body[name]
                .as_str()
                .unwrap_or_else(|| panic!("a sign-up answers a {name}"))
                .to_owned()
        };
        Person {
            handle: handle.to_owned(),
            token: text("token"),
            csrf: text("csrf_token"),
            cookie,
            recovery_codes: serde_json::from_value(body["recovery_codes"].clone())
                .expect("a sign-up answers its recovery codes"),
        }
    }

    /// [`TestApp::person`], then each `(key, value, bucket)` of
    /// `attributes` put through `PUT /v1/me/attributes/{key}`, in order.
    pub async fn person_with(&self, handle: &str, attributes: &[(&str, &str, &str)]) -> Person {
        let person = self.person(handle).await;
        for (key, value, bucket) in attributes {
            person.put_attribute(self, key, json!(value), bucket).await;
        }
        person
    }
}

impl Person {
    /// Adds a new software passkey to this person's account
    /// (`POST /v1/me/passkeys`, then `/finish`); the passkey.
    ///
    /// # Panics
    /// When the server does not offer a ceremony or does not answer `201`.
    pub async fn add_passkey(&self, app: &TestApp) -> SoftPasskey {
        let mut key = SoftPasskey::new(true);
        let start: Value = app
            .http
            .post(app.url("/v1/me/passkeys"))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("the server answers")
            .json()
            .await
            .expect("a JSON body");
        let options: CreationChallengeResponse =
            serde_json::from_value(start["options"].clone()).expect("creation options");
        let origin = url::Url::parse(&app.base_url).expect("the base URL");
        let credential = key
            .do_registration(origin, options)
            .expect("the authenticator registers");
        let added = app
            .http
            .post(app.url("/v1/me/passkeys/finish"))
            .bearer_auth(&self.token)
            .json(&json!({"ceremony_id": start["ceremony_id"], "credential": credential}))
            .send()
            .await
            .expect("the server answers");
        assert_eq!(added.status(), 201, "the passkey is added");
        key
    }

    /// Puts `value` as attribute `key` in `bucket` through the API.
    ///
    /// # Panics
    /// When the server does not answer `200`.
    pub async fn put_attribute(&self, app: &TestApp, key: &str, value: Value, bucket: &str) {
        let response = app
            .http
            .put(app.url(&format!("/v1/me/attributes/{key}")))
            .bearer_auth(&self.token)
            .json(&json!({"value": value, "bucket": bucket}))
            .send()
            .await
            .expect("the server answers");
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert_eq!(status, 200, "PUT /v1/me/attributes/{key}: {body}");
    }
}

impl TestApp {
    /// A company (its access token `company_token`) asks `handle` for
    /// `details` (`POST /v1/requests`) and the person (their session
    /// `person_token`) approves the whole request from their inbox; the
    /// grant's id.
    ///
    /// # Panics
    /// When the request has no id or the approval is not answered `201`.
    pub async fn grant(
        &self,
        company_token: &str,
        person_token: &str,
        handle: &str,
        details: Value,
    ) -> String {
        let asked: Value = self
            .http
            .post(self.url("/v1/requests"))
            .bearer_auth(company_token)
            .json(&json!({"person": {"handle": handle}, "authorization_details": details}))
            .send()
            .await
            .expect("the server answers")
            .json()
            .await
            .expect("a JSON body");
        let id = asked["request_id"]
            .as_str()
            .unwrap_or_else(|| panic!("a request id in {asked}"));
        let approved = self
            .http
            .post(self.url(&format!("/v1/me/requests/{id}/approve")))
            .bearer_auth(person_token)
            .send()
            .await
            .expect("the server answers");
        assert_eq!(approved.status(), 201, "the approval of {id}");
        approved.json::<Value>().await.expect("a JSON body")["id"]
            .as_str()
            .expect("the grant's id")
            .to_owned()
    }
}
