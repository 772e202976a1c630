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
