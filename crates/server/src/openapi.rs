//! The OpenAPI document, generated from the handlers themselves: a route
//! registered through [`api`] is documented, and `openapi/openapi.json` is
//! this document, checked for drift by a test.

use utoipa::OpenApi;
use utoipa_actix_web::AppExt;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::problem::Problem;
use crate::routes::{
    activity, catalogue, data, export, health, inbox, ledger, me, messages, money, notifications,
    oauth, payouts, receipts, requests, session, uses, webhook,
};

/// Document-level information; paths come from [`api`].
#[derive(OpenApi)]
#[openapi(
    info(
        title = "apiome",
        description = "The API of Me: a person decides which facts about them companies may have, \
                       for what, for how long and at what price; every grant, disclosure and payment \
                       is written to a verifiable ledger. Errors are RFC 9457 problem details \
                       (`application/problem+json`) whose `type` is a stable `{server}/docs/problems#<kind>`, described on that page.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    components(schemas(
        Problem,
        crate::routes::webhook_events::RequestEvent,
        crate::routes::webhook_events::GrantEvent,
        crate::routes::webhook_events::WalletEvent,
        crate::routes::webhook_events::PingEvent,
        crate::routes::schema::AttributeKeyName,
        crate::routes::schema::CompanyIdText,
        crate::routes::schema::BucketName,
        crate::routes::schema::SharingDefaultName,
        crate::routes::schema::EffectName,
        crate::routes::schema::ChannelName,
        crate::routes::schema::TimeOfDayText,
        crate::routes::schema::IsoDuration,
        crate::routes::schema::ClientRegistration,
        crate::routes::schema::OneClickBody,
        crate::routes::schema::AttributeValue,
        crate::routes::schema::TokenForm,
        crate::routes::schema::RevocationForm,
        crate::routes::schema::IntrospectionForm,
        crate::routes::schema::PushedAuthorizationForm,
        crate::routes::schema::BackchannelAuthenticationForm,
        crate::routes::schema::RuleBody,
        crate::routes::schema::NoticeKinds,
        crate::routes::schema::NoticeKindOrAll,
    )),
    tags(
        (name = "operations", description = "Health and operations"),
        (name = "catalogue", description = "The vocabulary of requests and rules"),
        (name = "people", description = "Sign-up, sign-in and the person's own data: attributes, buckets, preferences, rules, blocked companies, passkeys"),
        (name = "ledger", description = "The transparency log: signed checkpoints, its public key, inclusion and consistency proofs (RFC 9162, C2SP tlog-checkpoint)"),
        (name = "oauth", description = "The OAuth 2 authorization server (RFC 6749, 8414, 7591, 7662, 7009, 9068, 9126, 9396); errors are RFC 6749 error objects"),
        (name = "companies", description = "What companies call with access tokens: the granted data and asynchronous requests"),
        (name = "webhooks", description = "What apiome calls on a company's webhook URL, signed per Standard Webhooks"),
    ),
    modifiers(&SecuritySchemes)
)]
struct ApiDoc;

/// The bearer schemes the company endpoints name.
struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("An RFC 9068 access token from /oauth/token"))
                    .build(),
            ),
        );
        // utoipa's HTTP schemes have no `DPoP`; as an API key it names the
        // header and says what goes in it.
        components.add_security_scheme(
            "dpop",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "`DPoP <access token>` (RFC 9449): a DPoP-bound token from /oauth/token, \
                 sent with a `DPoP` proof header for this method, URL and token",
            ))),
        );
        components.add_security_scheme(
            "initial_access_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An initial access token from `apiome company registration-token`",
                    ))
                    .build(),
            ),
        );
    }
}

/// Registers every documented JSON endpoint.
pub fn api(config: &mut ServiceConfig) {
    // actix tries routes in the order they are registered, and a route with
    // a path parameter is a regex match: the routes companies and auditors
    // call on every page view come first, so they meet no regex (`perf`
    // put the regexes of the `{id}` routes before them at ~3 % of the
    // server's CPU on the token and introspection endpoints).
    config
        .service(oauth::token_endpoint)
        .service(oauth::introspect)
        .service(data::data)
        .service(requests::create)
        .service(ledger::inclusion_proof)
        .service(health::healthz)
        .service(health::livez)
        .service(health::readyz)
        .service(catalogue::catalogue)
        .service(ledger::checkpoint)
        .service(ledger::public_key)
        .service(ledger::consistency_proof)
        .service(ledger::entries)
        .service(session::sign_up)
        .service(session::finish_sign_up)
        .service(session::sign_in)
        .service(session::start_passkey_sign_in)
        .service(session::finish_passkey_sign_in)
        .service(session::sign_out)
        .service(session::sign_out_everywhere)
        .service(session::sign_out_others)
        .service(session::start_add_passkey)
        .service(session::finish_add_passkey)
        .service(me::me)
        .service(me::list_attributes)
        .service(me::put_attribute)
        .service(me::delete_attribute)
        .service(me::get_preferences)
        .service(me::put_preferences)
        .service(me::list_rules)
        .service(me::add_rule)
        .service(me::reorder_rules)
        .service(me::delete_rule)
        .service(me::list_blocked)
        .service(me::block)
        .service(me::unblock)
        .service(me::list_passkeys)
        .service(me::rename_passkey)
        .service(me::remove_passkey)
        .service(me::new_recovery_codes)
        .service(me::erase_account)
        .service(inbox::list_requests)
        .service(inbox::approve)
        .service(inbox::decline)
        .service(inbox::counter)
        .service(inbox::list_grants)
        .service(inbox::revoke)
        .service(receipts::list)
        .service(receipts::show)
        .service(oauth::server_metadata)
        .service(oauth::openid_configuration)
        .service(data::userinfo)
        .service(oauth::jwks)
        .service(oauth::revoke)
        .service(oauth::register)
        .service(oauth::par)
        .service(oauth::bc_authorize)
        .service(requests::show)
        .service(requests::accept_counter)
        .service(receipts::of_grant)
        .service(uses::report)
        .service(messages::send)
        .service(messages::list)
        .service(messages::unsubscribe)
        .service(money::wallet)
        .service(money::earnings)
        .service(payouts::create)
        .service(payouts::list)
        .service(payouts::show)
        .service(activity::activity)
        .service(export::export)
        .service(webhook::set)
        .service(webhook::show)
        .service(webhook::remove)
        .service(webhook::rotate_secret)
        .service(webhook::ping)
        .service(webhook::list_deliveries)
        .service(webhook::delivery)
        .service(webhook::redeliver)
        .service(notifications::get_settings)
        .service(notifications::put_address)
        .service(notifications::verify)
        .service(notifications::put_choices)
        .service(notifications::unsubscribe);
}

/// The document's info, tags and shared schemas, before paths are added.
pub fn document_base() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The OpenAPI document of the JSON API.
pub fn document() -> utoipa::openapi::OpenApi {
    let (_, mut document) = actix_web::App::new()
        .into_utoipa_app()
        .openapi(document_base())
        .configure(api)
        .split_for_parts();
    finish(&mut document, DEFAULT_SERVER);
    document
}

/// The server the checked-in document names: `apiome serve` on its default
/// address. A running server names its own `--public-url` instead.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";

/// What the handlers' annotations cannot say: the answers every operation
/// can give ([`complete_responses`]), the server, and the webhook calls.
pub fn finish(document: &mut utoipa::openapi::OpenApi, server: &str) {
    complete_responses(document);
    document.servers = Some(vec![
        utoipa::openapi::ServerBuilder::new()
            .url(server.trim_end_matches('/'))
            .description(Some("This apiome server"))
            .build(),
    ]);
    document.webhooks = Some(crate::routes::webhook_events::webhooks());
}

/// Documents the answers every operation can give whether or not its
/// handler says so — found missing by schemathesis' status-code check:
/// `400` (a body, query or path that does not parse), `401` (when it takes a
/// credential), `404` (when its path names something), `413` (a body over
/// the limit) and `422` (input that parses but is refused). Problem
/// documents on the JSON API, OAuth error bodies under `/oauth/`. An answer
/// the handler documents itself is left as it is.
pub fn complete_responses(document: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};

    for (path, item) in &mut document.paths.paths {
        let oauth = path.starts_with("/oauth/");
        let named = path.contains('{');
        let operations = [
            item.get.as_mut(),
            item.put.as_mut(),
            item.post.as_mut(),
            item.delete.as_mut(),
            item.patch.as_mut(),
        ];
        for operation in operations.into_iter().flatten() {
            let has_body = operation.request_body.is_some();
            let has_input =
                has_body || named || operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
            let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
            let wanted = [
                (
                    "400",
                    true,
                    "Malformed: a body, query or path that does not parse",
                ),
                ("401", secured, "No or an invalid credential"),
                ("404", named, "Nothing with that id (for this caller)"),
                ("413", has_body, "The body is over the size limit"),
                (
                    "422",
                    has_input && !oauth,
                    "Input that parses but is refused; `field` names it",
                ),
            ];
            for (status, applies, description) in wanted {
                if !applies || operation.responses.responses.contains_key(status) {
                    continue;
                }
                let (content_type, schema) = if oauth {
                    ("application/json", "OAuthErrorBody")
                } else {
                    ("application/problem+json", "Problem")
                };
                let response = ResponseBuilder::new()
                    .description(description)
                    .content(
                        content_type,
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name(schema)))
                            .build(),
                    )
                    .build();
                operation
                    .responses
                    .responses
                    .insert(status.to_owned(), RefOr::T(response));
            }
        }
    }
}

/// The document as `apiome openapi` prints it and `openapi/openapi.json`
/// holds it: pretty JSON with a final newline.
pub fn document_json() -> String {
    let mut text = document()
        .to_pretty_json()
        .expect("an OpenAPI document always serialises");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// Every `$ref` names a schema the document holds: a schema built by hand
    /// (`routes::schema`) and named only in a parameter is registered in
    /// `components` or a generator stops at it.
    #[test]
    fn every_reference_resolves() {
        fn refs<'a>(value: &'a serde_json::Value, out: &mut Vec<&'a str>) {
            match value {
                serde_json::Value::Object(map) => {
                    if let Some(serde_json::Value::String(target)) = map.get("$ref") {
                        out.push(target);
                    }
                    map.values().for_each(|v| refs(v, out));
                }
                serde_json::Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        let document: serde_json::Value = serde_json::from_str(&super::document_json()).unwrap();
        let mut found = Vec::new();
        refs(&document, &mut found);
        assert!(!found.is_empty());
        for target in found {
            let pointer = target.strip_prefix('#').expect("a local reference");
            assert!(
                document.pointer(pointer).is_some(),
                "{target} does not resolve"
            );
        }
    }

    /// What a client generator needs of every operation: a unique
    /// `resource_verb` operationId, a one-line summary of at most 80
    /// characters, a description, and a description on every response;
    /// and no Rust doc link leaking into the text.
    #[test]
    fn every_operation_is_named_summarised_described_and_answered() {
        let document: serde_json::Value = serde_json::from_str(&super::document_json()).unwrap();
        let mut ids = BTreeSet::new();
        let mut sections = vec![("paths", &document["paths"])];
        sections.push(("webhooks", &document["webhooks"]));
        for (section, items) in sections {
            for (path, item) in items.as_object().unwrap() {
                for (method, op) in item.as_object().unwrap() {
                    let at = format!("{section} {method} {path}");
                    let id = op["operationId"]
                        .as_str()
                        .unwrap_or_else(|| panic!("{at}: no operationId"));
                    let words: Vec<&str> = id.split('_').collect();
                    assert!(
                        words.len() >= 2
                            && words.iter().all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase())),
                        "{at}: operationId {id:?} is not resource_verb"
                    );
                    assert!(
                        ids.insert(id.to_owned()),
                        "{at}: operationId {id:?} used twice"
                    );
                    let summary = op["summary"].as_str().unwrap_or_default();
                    assert!(
                        !summary.is_empty()
                            && summary.chars().count() <= 80
                            && !summary.contains('\n'),
                        "{at}: summary {summary:?} must be one line of at most 80 characters"
                    );
                    let description = op["description"].as_str().unwrap_or_default();
                    assert!(!description.is_empty(), "{at}: no description");
                    for (status, response) in op["responses"].as_object().unwrap() {
                        assert!(
                            response["description"]
                                .as_str()
                                .is_some_and(|d| !d.is_empty()),
                            "{at}: response {status} has no description"
                        );
                    }
                }
            }
        }
        let text = super::document_json();
        assert!(
            !text.contains("[`"),
            "a Rust doc link leaks into the document"
        );
        assert!(document["servers"][0]["url"].is_string());
        assert!(ids.len() > 60);
    }
    /// The example of each request body a handler reads with serde is one
    /// that handler accepts: `openapi/examples.py` checks examples against
    /// the schemas, this checks them against the types the schemas stand for
    /// (unknown members refused, enums, custom parsing).
    #[test]
    fn request_body_examples_are_what_the_handlers_read() {
        use crate::routes::{inbox, me, messages, notifications, requests, session, webhook};

        fn reads<T: serde::de::DeserializeOwned>(schemas: &serde_json::Value, name: &str) -> usize {
            let schema = &schemas[name];
            let examples: Vec<serde_json::Value> =
                match (schema.get("example"), schema.get("examples")) {
                    (Some(one), _) => vec![one.clone()],
                    (None, Some(serde_json::Value::Array(many))) => many.clone(),
                    _ => panic!("{name} has no example"),
                };
            for example in &examples {
                if let Err(error) = serde_json::from_value::<T>(example.clone()) {
                    panic!("{name}'s example {example} is refused: {error}");
                }
            }
            examples.len()
        }

        let document: serde_json::Value = serde_json::from_str(&super::document_json()).unwrap();
        let schemas = &document["components"]["schemas"];
        let read = [
            reads::<session::SignUp>(schemas, "SignUp"),
            reads::<session::SignIn>(schemas, "SignIn"),
            reads::<session::PasskeyAnswer>(schemas, "PasskeyAnswer"),
            reads::<session::StartPasskeySignIn>(schemas, "StartPasskeySignIn"),
            reads::<me::PutAttribute>(schemas, "PutAttribute"),
            reads::<me::Preferences>(schemas, "Preferences"),
            reads::<me::RuleOrder>(schemas, "RuleOrder"),
            reads::<me::RenamePasskey>(schemas, "RenamePasskey"),
            reads::<me::EraseAccount>(schemas, "EraseAccount"),
            reads::<consent_policy::Rule>(schemas, "RuleBody"),
            reads::<inbox::Approval>(schemas, "Approval"),
            reads::<inbox::CounterOffer>(schemas, "CounterOffer"),
            reads::<consent_policy::Money>(schemas, "MoneyBody"),
            reads::<notifications::PutAddress>(schemas, "PutAddress"),
            reads::<notifications::VerifyAddress>(schemas, "VerifyAddress"),
            reads::<notifications::PutChoices>(schemas, "PutChoices"),
            reads::<requests::NewRequest>(schemas, "NewRequest"),
            reads::<messages::NewMessage>(schemas, "NewMessage"),
            reads::<webhook::WebhookSetting>(schemas, "WebhookSetting"),
            reads::<consent_policy::RawRequest>(schemas, "DataDetail"),
        ];
        assert!(read.iter().all(|n| *n > 0));
    }
}
