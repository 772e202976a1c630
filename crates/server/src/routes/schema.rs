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
        let offer = ObjectBuilder::new()
            .schema_type(Type::Object)
            .property(
                "amount",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                    .minimum(Some(0))
                    .description(Some(
                        "Micro-units (millionths) of the currency: 50000 is 0.05.",
                    )),
            )
            .required("amount")
            .property(
                "currency",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(Currency::ALL.iter().map(|c| c.code()))),
            )
            .required("currency")
            .additional_properties(closed())
            .description(Some(
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
                "offer": {"amount": 50000, "currency": "EUR"}
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

fn money() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property(
            "amount_micros",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                .minimum(Some(0))
                .description(Some(
                    "Millionths of the currency unit: 50000 is 0.05.",
                )),
        )
        .required("amount_micros")
        .property(
            "currency",
            string().enum_values(Some(Currency::ALL.iter().map(|c| c.code()))),
        )
        .required("currency")
        .additional_properties(closed())
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
                money().description(Some("Matches only offers of at least this, in this currency.")),
            )
            .property(
                "max_duration",
                duration().description(Some("Matches only requests for at most this long.")),
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
