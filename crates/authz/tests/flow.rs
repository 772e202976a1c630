//! The whole code flow as the server will wire it, on in-memory "tables".

#![allow(
    clippy::unwrap_used,
    reason = "helpers outside #[test] fns; a failed unwrap is a failed test"
)]

use authz::code::CodeError;
use authz::introspection::IntrospectionResponse;
use authz::metadata::ServerMetadata;
use authz::refresh::RefreshError;
use authz::{
    AssertionAudience, AuthorizationRequest, ClientMetadata, ClientRecord, CodeChallenge,
    CodeRecord, ErrorCode, KeySet, PairwiseSubject, Params, PredictableRandom,
    PresentedCredentials, PushedRequest, RefreshRecord, RequestUri, ServerKey, TokenHash,
    TokenRequest, TokenResponse, TokenSettings, UnixTime,
};
use base64::Engine as _;
use serde_json::json;

const ISSUER: &str = "https://apiome.example";
const API: &str = "https://apiome.example/v1";
const REDIRECT: &str = "https://acme.example/cb";
const VERIFIER: &str = "a-verifier-of-at-least-forty-three-characters-long";

fn form(pairs: &[(&str, &str)]) -> Params {
    Params::from_pairs(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    )
    .unwrap()
}

#[test]
fn par_code_token_refresh_and_replays() {
    let mut rng = PredictableRandom::new(2026);
    let server_key = ServerKey::generate(&mut rng).unwrap();
    let keys = KeySet::generate(&mut rng, UnixTime::from_secs(0)).unwrap();
    let settings = TokenSettings::new(ISSUER, API, 600).unwrap();
    let meta = ServerMetadata::for_issuer(ISSUER);
    let audience = AssertionAudience {
        issuer: ISSUER,
        token_endpoint: &meta.token_endpoint,
    };
    let mut now = UnixTime::from_secs(1_800_000_000);

    // `apiome company create` / dynamic registration.
    let metadata = ClientMetadata::parse(&json!({
        "client_name": "Acme", "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"],
    }))
    .unwrap();
    let (client, secret) = ClientRecord::register(metadata, &server_key, &mut rng, now).unwrap();
    let secret = secret.unwrap();
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            client.client_id,
            secret.expose()
        ))
    );
    let authenticate = |params: &Params, now| {
        let creds = PresentedCredentials::parse(Some(&basic), params)?;
        assert_eq!(creds.client_id(), &client.client_id);
        creds.verify(Some(&client), &server_key, &audience, now)
    };

    // PAR.
    let challenge = CodeChallenge::for_verifier(VERIFIER);
    let details = json!([{"type": "apiome_data", "attributes": ["email", "interests"],
                          "purpose": "marketing", "duration": "P30D",
                          "offer": {"amount_micros": 50000, "currency": "USD"}}])
    .to_string();
    let par = form(&[
        ("response_type", "code"),
        ("client_id", client.client_id.as_str()),
        ("redirect_uri", REDIRECT),
        ("state", "s1"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("authorization_details", &details),
    ]);
    authenticate(&par, now).unwrap();
    let request = AuthorizationRequest::parse_pushed(&par, &client).unwrap();
    let (pushed, response) = PushedRequest::new(request, &mut rng, now).unwrap();

    // Authorize with the request_uri.
    let authorize = form(&[
        ("client_id", client.client_id.as_str()),
        ("request_uri", &response.request_uri),
    ]);
    let uri = RequestUri::from_params(&authorize).unwrap().unwrap();
    assert_eq!(uri.hash(), pushed.request_uri_hash);
    let client_id = authz::request::requested_client_id(&authorize).unwrap();
    let request = PushedRequest::redeem(Some(&pushed), &client_id, now).unwrap();
    let pushed = PushedRequest {
        used: true,
        ..pushed
    };
    assert!(PushedRequest::redeem(Some(&pushed), &client_id, now).is_err());

    // The person approves only email.
    let approved = consent_policy::DataRequest::new(
        vec![consent_policy::AttributeKey::parse("email").unwrap()],
        request.data_request.purpose(),
        request.data_request.duration().clone(),
        request.data_request.offer().cloned(),
    )
    .unwrap();
    let (code, code_record) =
        CodeRecord::issue(&request, "person-1", "grant-1", &mut rng, now).unwrap();
    let redirect = request.success_redirect(&code, ISSUER);
    assert!(
        redirect.starts_with(&format!("{REDIRECT}?code=")) && redirect.contains("&state=s1&iss=")
    );

    // Token request.
    now = now.plus_secs(5);
    let token_form = form(&[
        ("grant_type", "authorization_code"),
        ("code", code.expose()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ]);
    let who = authenticate(&token_form, now).unwrap();
    let TokenRequest::AuthorizationCode {
        code: presented,
        redirect_uri,
        code_verifier,
    } = TokenRequest::parse(&token_form).unwrap()
    else {
        panic!("authorization_code");
    };
    let stored = (code_record.code_hash == TokenHash::of(&presented)).then_some(&code_record);
    let redeemed = CodeRecord::redeem(
        stored,
        &who.client_id,
        redirect_uri.as_deref(),
        code_verifier.as_deref(),
        now,
    )
    .unwrap();
    let subject = PairwiseSubject::derive(
        &server_key,
        &client.client_id.to_company_id(),
        &redeemed.person_id,
    );
    let claims = settings
        .grant_claims(
            subject.as_str(),
            &who.client_id,
            &redeemed.grant_id,
            &approved,
            now,
            &mut rng,
        )
        .unwrap();
    let access = keys.sign(&claims).unwrap();
    let (refresh, refresh_record) = RefreshRecord::issue_family(
        &who.client_id,
        &redeemed.grant_id,
        now.plus_secs(30 * 86_400),
        &mut rng,
    )
    .unwrap();
    let code_record = code_record.mark_used(now, Some(refresh_record.family_id));
    let body = serde_json::to_value(TokenResponse::new(
        access.clone(),
        &claims,
        Some(refresh.expose().to_owned()),
    ))
    .unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(
        body["authorization_details"][0]["attributes"],
        json!(["email"])
    );

    // The API reads with it; introspection sees it.
    let verified = keys.verify(&access, &settings, now).unwrap();
    assert_eq!(verified.sub, subject.as_str());
    assert!(IntrospectionResponse::for_access_token(&verified, &who.client_id).is_active());

    // The code again: replay, naming the family to revoke.
    let replay = CodeRecord::redeem(
        Some(&code_record),
        &who.client_id,
        Some(REDIRECT),
        Some(VERIFIER),
        now,
    )
    .unwrap_err();
    assert_eq!(
        replay,
        CodeError::Replayed {
            grant_id: "grant-1".into(),
            family_id: Some(refresh_record.family_id)
        }
    );
    assert_eq!(
        authz::OAuthError::from(replay).code,
        ErrorCode::InvalidGrant
    );

    // Refresh rotates; the old refresh token again is reuse.
    let rotation =
        RefreshRecord::rotate(Some(&refresh_record), &who.client_id, now, &mut rng).unwrap();
    let reuse =
        RefreshRecord::rotate(Some(&rotation.consumed), &who.client_id, now, &mut rng).unwrap_err();
    assert_eq!(
        reuse,
        RefreshError::Reused {
            family_id: refresh_record.family_id
        }
    );
    let revoked = rotation.issued.revoked();
    assert_eq!(
        RefreshRecord::rotate(Some(&revoked), &who.client_id, now, &mut rng).unwrap_err(),
        RefreshError::Revoked
    );

    // After ten minutes the access token is dead whatever happens.
    assert!(keys.verify(&access, &settings, now.plus_secs(600)).is_err());
}
