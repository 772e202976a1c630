//! Schemas of wire shapes whose Rust type is checked elsewhere (in
//! `consent-policy`), written out for the OpenAPI document from the same
//! vocabulary, so a generated client types them exactly.

use std::borrow::Cow;

use consent_policy::{Currency, MAX_ATTRIBUTE_KEY_LEN, MAX_ATTRIBUTES_PER_REQUEST, Purpose};
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, ObjectBuilder, Schema, SchemaFormat, Type,
};
use utoipa::openapi::{KnownFormat, RefOr};

/// One RFC 9396 `authorization_details` entry of type `apiome_data`: what a
/// company asks for, at the authorization endpoint, in a pushed request,
/// in `POST /v1/requests`, and what a token response says was granted.
pub struct DataDetail;

impl utoipa::ToSchema for DataDetail {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("DataDetail")
    }
}

fn closed() -> Option<AdditionalProperties<Schema>> {
    Some(AdditionalProperties::FreeForm(false))
}

impl utoipa::PartialSchema for DataDetail {
    fn schema() -> RefOr<Schema> {
        let kind = ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some([consent_policy::REQUEST_TYPE]))
            .description(Some("Always `apiome_data`."));
        let key = ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(attribute_key_pattern()))
            .max_length(Some(MAX_ATTRIBUTE_KEY_LEN))
            .description(Some(
                "A key from `GET /v1/catalogue`, or a custom key `x-…`.",
            ));
        let attributes = ArrayBuilder::new()
            .items(key)
            .min_items(Some(1))
            .max_items(Some(MAX_ATTRIBUTES_PER_REQUEST))
            .unique_items(true)
            .description(Some("The attributes asked for, in the order wanted."));
        let purpose = ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(Purpose::ALL.iter().map(|p| p.as_str())))
            .description(Some("What the data is for; see `GET /v1/catalogue`."));
        let duration = ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Duration)))
            .description(Some(
                "How long access lasts, an ISO 8601 duration such as `P30D`.",
            ));
        let offer = money().description(Some(
            "What the company pays the person if they agree; reserved from its wallet.",
        ));
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property("type", kind)
            .required("type")
            .property("attributes", attributes)
            .required("attributes")
            .property("purpose", purpose)
            .required("purpose")
            .property("duration", duration)
            .required("duration")
            .property("offer", offer)
            .additional_properties(closed())
            .description(Some(
                "An RFC 9396 `authorization_details` entry of type `apiome_data`.",
            ))
            .examples([serde_json::json!({
                "type": "apiome_data",
                "attributes": ["display_name", "email"],
                "purpose": "marketing",
                "duration": "P30D",
                "offer": {"amount_micros": 50000, "currency": "EUR"}
            })])
            .into()
    }
}

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn one_of_strings<'a>(values: impl IntoIterator<Item = &'a str>) -> ObjectBuilder {
    string().enum_values(Some(values))
}

/// A named schema whose body is built by an expression: a wire type whose
/// Rust type lives in a crate that knows nothing of OpenAPI.
macro_rules! wire_schema {
    ($(#[$doc:meta])* $name:ident => $body:expr) => {
        $(#[$doc])*
        pub struct $name;

        impl utoipa::ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                $body.into()
            }
        }
    };
}

/// The regular expression of every attribute key: a catalogue key, or `x-`
/// and lower-case words joined by single hyphens.
#[must_use]
pub fn attribute_key_pattern() -> String {
    let catalogue: Vec<&str> = consent_policy::catalogue_entries()
        .iter()
        .map(|e| e.key)
        .collect();
    format!("^(?:{}|x-[a-z0-9]+(?:-[a-z0-9]+)*)$", catalogue.join("|"))
}

wire_schema!(
    /// An attribute key: from `GET /v1/catalogue`, or a person's own `x-…`.
    AttributeKeyName => string()
        .pattern(Some(attribute_key_pattern()))
        .max_length(Some(2 + consent_policy::MAX_CUSTOM_SUFFIX_LEN))
        .description(Some("A key from `GET /v1/catalogue`, or a custom key: `x-` and 1 to 60 of a-z, 0-9 and single inner hyphens."))
        .examples([serde_json::json!("email")])
);

wire_schema!(
    /// An amount of money, the API's one money shape.
    MoneyBody => money()
        .examples([serde_json::json!({"amount_micros": 75000, "currency": "EUR", "display": "0.075 EUR"})])
);

wire_schema!(
    /// A company's id (its OAuth `client_id`).
    CompanyIdText => string()
        .pattern(Some("^[!-~]+$"))
        .min_length(Some(1))
        .max_length(Some(consent_policy::MAX_COMPANY_ID_LEN))
        .description(Some("A company's id, its OAuth `client_id`: 1 to 128 printable ASCII characters without spaces."))
        .examples([serde_json::json!("c_3kTq9w")])
);

wire_schema!(
    /// Where an attribute lives.
    BucketName => one_of_strings(consent_policy::Bucket::ALL.iter().map(|b| b.as_str()))
        .description(Some("`private` never leaves; `semi_private` only with consent or a rule; `public` to any company that asks."))
);

wire_schema!(
    /// What happens where no rule speaks.
    SharingDefaultName => one_of_strings(consent_policy::SharingDefault::ALL.iter().map(|d| d.as_str()))
        .description(Some("Share everything that is not private, ask the person, or share nothing."))
);

wire_schema!(
    /// What a rule decides when it matches.
    EffectName => one_of_strings(consent_policy::Effect::ALL.iter().map(|e| e.as_str()))
);

wire_schema!(
    /// A way a company may contact the person.
    ChannelName => one_of_strings(consent_policy::ContactChannel::ALL.iter().map(|c| c.as_str()))
);

wire_schema!(
    /// A time of day in the person's local time.
    TimeOfDayText => string()
        .pattern(Some("^(?:[01][0-9]|2[0-3]):[0-5][0-9]$"))
        .description(Some("`HH:MM`, 00:00 to 23:59."))
        .examples([serde_json::json!("09:00")])
);

fn duration() -> ObjectBuilder {
    string()
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Duration)))
        .description(Some(
            "An ISO 8601 duration such as `P30D`: years, months, weeks, days, hours, minutes, seconds in whole numbers; more than zero, at most ten years.",
        ))
}

wire_schema!(
    /// How long something lasts.
    IsoDuration => duration().examples([serde_json::json!("P30D")])
);

/// A type or `null` (OpenAPI 3.1): an optional field the server writes out
/// as `null` when it is not set.
fn nullable(of: Type) -> utoipa::openapi::schema::SchemaType {
    utoipa::openapi::schema::SchemaType::from_iter([of, Type::Null])
}

fn money() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property(
            "amount_micros",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                .minimum(Some(0))
                .description(Some("Millionths of the currency unit: 50000 is 0.05.")),
        )
        .required("amount_micros")
        .property(
            "currency",
            string().enum_values(Some(Currency::ALL.iter().map(|c| c.code()))),
        )
        .required("currency")
        .property(
            "display",
            string().description(Some(
                "The amount in words (`0.05 EUR`): always written, optional and ignored on input.",
            )),
        )
        .additional_properties(closed())
        .description(Some(
            "The API's one money shape: integer millionths of an ISO 4217 currency.",
        ))
}

wire_schema!(
    /// One of the person's standing rules.
    RuleBody => {
        let company = RefOr::from(Schema::from(
            utoipa::openapi::schema::OneOfBuilder::new()
                .item(one_of_strings(["any"]))
                .item(
                    ObjectBuilder::new()
                        .schema_type(Type::Object)
                        .property("only", CompanyIdText::schema())
                        .required("only")
                        .additional_properties(closed()),
                )
                .description(Some("`\"any\"`, or `{\"only\": company_id}`.")),
        ));
        let purposes = utoipa::openapi::schema::OneOfBuilder::new()
            .item(one_of_strings(["any"]))
            .item(
                ArrayBuilder::new()
                    .items(one_of_strings(Purpose::ALL.iter().map(|p| p.as_str())))
                    .min_items(Some(1))
                    .max_items(Some(Purpose::ALL.len()))
                    .unique_items(true),
            )
            .description(Some(
                "`\"any\"` (every purpose but resale), or a list that must name `resale` to cover it.",
            ));
        let attributes = utoipa::openapi::schema::OneOfBuilder::new()
            .item(one_of_strings(["any"]))
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .property(
                        "keys",
                        ArrayBuilder::new()
                            .items(AttributeKeyName::schema())
                            .min_items(Some(1))
                            .max_items(Some(consent_policy::MAX_KEYS_PER_RULE))
                            .unique_items(true),
                    )
                    .required("keys")
                    .additional_properties(closed()),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .property("bucket", BucketName::schema())
                    .required("bucket")
                    .additional_properties(closed()),
            )
            .description(Some("`\"any\"`, `{\"keys\": [...]}` or `{\"bucket\": ...}`."));
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property("company", company)
            .required("company")
            .property("purposes", purposes)
            .required("purposes")
            .property("attributes", attributes)
            .required("attributes")
            .property(
                "min_offer",
                money()
                    .schema_type(nullable(Type::Object))
                    .description(Some("Matches only offers of at least this, in this currency; `null` or absent: any offer.")),
            )
            .property(
                "max_duration",
                duration()
                    .schema_type(nullable(Type::String))
                    .description(Some("Matches only requests for at most this long; `null` or absent: any duration.")),
            )
            .property("effect", EffectName::schema())
            .required("effect")
            .additional_properties(closed())
            .description(Some("A standing rule: for these companies, purposes and attributes, allow, ask or deny."))
            .examples([serde_json::json!({
                "company": {"only": "c_3kTq9w"},
                "purposes": ["marketing"],
                "attributes": {"keys": ["email", "interests"]},
                "min_offer": {"amount_micros": 50000, "currency": "EUR"},
                "max_duration": "P90D",
                "effect": "allow"
            })])
    }
);

wire_schema!(
    /// Each kind of notice, on (`true`) or off (`false`).
    NoticeKinds => {
        let mut kinds = ObjectBuilder::new().schema_type(Type::Object);
        for kind in store::NoticeKind::ALL {
            kinds = kinds.property(kind.as_str(), ObjectBuilder::new().schema_type(Type::Boolean));
        }
        kinds
            .additional_properties(closed())
            .description(Some("`request_waiting`: a request waits for an answer; `expiring`: a grant or request ends in 3 days; `first_use`: a grant was used for the first time."))
            .examples([serde_json::json!({"request_waiting": true, "expiring": true, "first_use": false})])
    }
);

wire_schema!(
    /// A kind of notice, or `all` of them.
    NoticeKindOrAll => one_of_strings(
        store::NoticeKind::ALL.iter().map(|k| k.as_str()).chain(["all"]),
    )
);

fn redirect_uris(what: &'static str) -> ArrayBuilder {
    ArrayBuilder::new()
        .items(
            string()
                .format(Some(SchemaFormat::Custom("uri".into())))
                .max_length(Some(authz::client::MAX_REDIRECT_URI_LEN))
                .pattern(Some(
                    "^(https://|http://(localhost|127\\.0\\.0\\.1|\\[::1\\])[:/?]?)[!-\"$-~]*$",
                )),
        )
        .min_items(Some(1))
        .max_items(Some(authz::client::MAX_REDIRECT_URIS))
        .unique_items(true)
        .description(Some(what))
}

wire_schema!(
    /// An RFC 7591 / OIDC Dynamic Client Registration request.
    ClientRegistration => ObjectBuilder::new()
        .schema_type(Type::Object)
        .property(
            "client_name",
            string()
                .min_length(Some(1))
                .description(Some("The name the consent screen shows: 1 to 100 characters, not only spaces.")),
        )
        .required("client_name")
        .property(
            "redirect_uris",
            redirect_uris("1 to 10 redirect URIs, matched exactly: https, or http on localhost, 127.0.0.1 or [::1]; no fragment, no user info."),
        )
        .required("redirect_uris")
        .property(
            "token_endpoint_auth_method",
            one_of_strings(authz::AuthMethod::ALL.iter().map(|m| m.as_str()))
                .schema_type(nullable(Type::String))
                .description(Some("How the client authenticates (default `client_secret_basic`); `private_key_jwt` needs `jwks`.")),
        )
        .property(
            "grant_types",
            ArrayBuilder::new()
                .schema_type(nullable(Type::Array))
                .items(one_of_strings(authz::GrantType::ALL.iter().map(|g| g.as_str())))
                .min_items(Some(1))
                .description(Some("Default `[\"authorization_code\"]`.")),
        )
        .property(
            "response_types",
            ArrayBuilder::new()
                .schema_type(nullable(Type::Array))
                .items(one_of_strings(["code"]))
                .description(Some("`[\"code\"]` exactly when `grant_types` has `authorization_code` (the default), else `[]`.")),
        )
        .property(
            "jwks",
            ObjectBuilder::new()
                .schema_type(nullable(Type::Object))
                .description(Some("The client's public keys (a JWK set), only with `private_key_jwt`.")),
        )
        .property(
            "id_token_signed_response_alg",
            one_of_strings(authz::IdTokenAlg::ALL.iter().map(|a| a.as_str()))
                .schema_type(nullable(Type::String)).description(Some("How ID tokens are signed; default RS256.")),
        )
        .property(
            "post_logout_redirect_uris",
            redirect_uris("Where RP-initiated logout may return to, matched exactly.")
                .schema_type(nullable(Type::Array)),
        )
        .property(
            "backchannel_token_delivery_mode",
            one_of_strings(authz::DeliveryMode::ALL.iter().map(|m| m.as_str()))
                .schema_type(nullable(Type::String))
                .description(Some("CIBA: `poll` (the default) or `ping`; needs the `urn:openid:params:grant-type:ciba` grant type.")),
        )
        .property(
            "backchannel_client_notification_endpoint",
            string()
                .schema_type(nullable(Type::String))
                .description(Some("CIBA ping mode only, and then required: the https URL called with `{\"auth_req_id\"}` and `Authorization: Bearer <client_notification_token>`; a global address, as a webhook's.")),
        )
        .description(Some("Client metadata (RFC 7591 §2); members this server does not know are ignored."))
        .examples([serde_json::json!({
            "client_name": "Acme",
            "redirect_uris": ["https://acme.example/callback"],
            "token_endpoint_auth_method": "client_secret_basic",
            "grant_types": ["authorization_code", "refresh_token"]
        })])
);

wire_schema!(
    /// The body of an RFC 8058 one-click unsubscribe POST.
    OneClickBody => ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("List-Unsubscribe", one_of_strings(["One-Click"]))
        .required("List-Unsubscribe")
        .description(Some("`List-Unsubscribe=One-Click`, as a mail client sends it (RFC 8058)."))
);

/// The client-authentication members any OAuth form may carry (RFC 6749
/// §2.3.1 `client_secret_post`, RFC 7523 `private_key_jwt`); with HTTP Basic
/// they are left out — a request may use one method only.
fn with_client_auth(form: ObjectBuilder) -> ObjectBuilder {
    form.property(
        "client_id",
        string().description(Some("With `client_secret_post` or `private_key_jwt`.")),
    )
    .property(
        "client_secret",
        string().description(Some("With `client_secret_post`.")),
    )
    .property(
        "client_assertion_type",
        one_of_strings(["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"]),
    )
    .property(
        "client_assertion",
        string().description(Some(
            "With `private_key_jwt`: a JWT signed by one of the client's registered keys.",
        )),
    )
}

wire_schema!(
    /// A token request (RFC 6749 §4.1.3, §4.4.2, §6; OpenID CIBA §10.1).
    TokenForm => with_client_auth(
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property(
                "grant_type",
                one_of_strings(authz::GrantType::ALL.iter().map(|g| g.as_str())),
            )
            .required("grant_type")
            .property("code", string().description(Some("`authorization_code`: the code from the redirect.")))
            .property("redirect_uri", string().description(Some("`authorization_code`: the redirect URI of the authorization request, exactly.")))
            .property("code_verifier", string().description(Some("`authorization_code`: the PKCE verifier (S256), 43 to 128 of `A-Z a-z 0-9 - . _ ~`.")))
            .property("refresh_token", string().description(Some("`refresh_token`: the refresh token; it is rotated.")))
            .property("auth_req_id", string().description(Some("CIBA: the asynchronous request's id.")))
            .property("scope", string().description(Some("`client_credentials`: space-separated scopes (`ledger:read` for auditors).")))
    )
    .description(Some("Form members by `grant_type`; others are ignored."))
    .examples([serde_json::json!({"grant_type": "client_credentials"})])
);

wire_schema!(
    /// A revocation request (RFC 7009).
    RevocationForm => with_client_auth(
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property("token", string().description(Some("The access or refresh token to revoke.")))
            .required("token")
            .property("token_type_hint", string().description(Some("`access_token` or `refresh_token`; a hint, so another value is ignored (RFC 7009 §2.1).")))
    )
    .examples([serde_json::json!({"token": "rt_…", "token_type_hint": "refresh_token"})])
);

wire_schema!(
    /// An introspection request (RFC 7662).
    IntrospectionForm => with_client_auth(
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property("token", string().description(Some("The token to describe.")))
            .required("token")
            .property("token_type_hint", string().description(Some("`access_token` or `refresh_token`; a hint, so another value is ignored (RFC 7009 §2.1).")))
    )
    .examples([serde_json::json!({"token": "at_…"})])
);

wire_schema!(
    /// A pushed authorization request (RFC 9126): the authorization request's
    /// members, sent by the authenticated client.
    PushedAuthorizationForm => with_client_auth(
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property("response_type", one_of_strings(["code"]))
            .required("response_type")
            .property("redirect_uri", string().description(Some("One of the client's registered redirect URIs, exactly.")))
            .required("redirect_uri")
            .property("code_challenge", string().pattern(Some("^[A-Za-z0-9_-]{43}$")).description(Some("PKCE: BASE64URL(SHA-256(verifier)).")))
            .required("code_challenge")
            .property("code_challenge_method", one_of_strings(["S256"]))
            .required("code_challenge_method")
            .property("state", string().description(Some("Returned unchanged with the code.")))
            .property("scope", string().description(Some("`openid` for a sign-in; other scopes as registered.")))
            .property("authorization_details", string().description(Some("RFC 9396: a JSON array of `DataDetail` entries, as a string.")))
            .property("nonce", string().description(Some("OIDC: echoed in the ID token.")))
            .property("prompt", string().description(Some("OIDC: `none`, `login`, `consent`.")))
            .property("max_age", string().pattern(Some("^[0-9]{0,10}$")).description(Some("OIDC: seconds since the last sign-in.")))
            .property("login_hint", string().description(Some("OIDC: the handle to sign in as.")))
    )
    .examples([serde_json::json!({
        "response_type": "code",
        "redirect_uri": "https://acme.example/callback",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
        "state": "af0ifjsldkj",
        "authorization_details": "[{\"type\":\"apiome_data\",\"attributes\":[\"email\"],\"purpose\":\"marketing\",\"duration\":\"P30D\"}]"
    })])
);

wire_schema!(
    /// A CIBA backchannel authentication request (CIBA Core 1.0 §7.1).
    BackchannelAuthenticationForm => with_client_auth(
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property("login_hint", string().max_length(Some(authz::ciba::MAX_LOGIN_HINT_LEN)).description(Some("The person's handle, or the pairwise `sub` this client knows them by. Exactly one hint; `login_hint_token` and `id_token_hint` are not supported.")))
            .required("login_hint")
            .property("scope", string().description(Some("`openid` may be given; attribute keys ask for them when `authorization_details` is absent.")))
            .property("authorization_details", string().description(Some("RFC 9396: a JSON array with one `DataDetail` entry, as a string.")))
            .property("binding_message", string().max_length(Some(authz::ciba::MAX_BINDING_MESSAGE_CHARS)).description(Some("Plain text shown to the person beside the request.")))
            .property("requested_expiry", string().pattern(Some("^[0-9]{0,6}$")).description(Some("Seconds the person has to answer, 1 to 604800 (default 604800); empty is as if left out (RFC 6749 §3.1).")))
            .property("client_notification_token", string().pattern(Some("^([A-Za-z0-9._~+/-]+=*)?$")).max_length(Some(authz::ciba::MAX_NOTIFICATION_TOKEN_LEN)).description(Some("Ping-mode clients only, and then required: the bearer token apiome sends to the notification endpoint.")))
    )
    .examples([serde_json::json!({
        "scope": "openid",
        "login_hint": "grace_poll",
        "authorization_details": "[{\"type\":\"apiome_data\",\"attributes\":[\"email\"],\"purpose\":\"marketing\",\"duration\":\"P30D\"}]",
        "binding_message": "Order 4711",
        "requested_expiry": "600"
    })])
);

wire_schema!(
    /// Any JSON value but `null`: an attribute's value, whose shape depends on its key.
    AttributeValue => ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
            Type::String,
            Type::Number,
            Type::Integer,
            Type::Boolean,
            Type::Array,
            Type::Object,
        ]))
        .description(Some("The value; its shape depends on the key (see `GET /v1/catalogue`)."))
        .examples([serde_json::json!("ada@example.org")])
);
