//! The public vocabulary: attribute keys, buckets, defaults, purposes and
//! currencies that requests, rules and preferences are written in.

use actix_web::{HttpResponse, get};
use consent_policy::{Bucket, Currency, Purpose, SharingDefault, ValueShape, catalogue_entries};
use serde::Serialize;
use utoipa::ToSchema;

/// Everything a request or rule may name.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "attributes": [
        {
            "key": "birth_date",
            "label": "date of birth",
            "default_bucket": "private",
            "shape": "date"
        },
        {
            "key": "display_name",
            "label": "display name",
            "default_bucket": "public",
            "shape": "text"
        },
        {
            "key": "email",
            "label": "email address",
            "default_bucket": "semi_private",
            "shape": "email"
        },
        {"key": "gender", "label": "gender", "default_bucket": "private", "shape": "text"},
        {
            "key": "household_size",
            "label": "household size",
            "default_bucket": "semi_private",
            "shape": "integer"
        },
        {
            "key": "interests",
            "label": "interests",
            "default_bucket": "public",
            "shape": "text_list"
        },
        {"key": "language", "label": "language", "default_bucket": "public", "shape": "text"},
        {
            "key": "location_city",
            "label": "city",
            "default_bucket": "semi_private",
            "shape": "text"
        },
        {
            "key": "occupation",
            "label": "occupation",
            "default_bucket": "semi_private",
            "shape": "text"
        },
        {
            "key": "phone",
            "label": "phone number",
            "default_bucket": "semi_private",
            "shape": "phone"
        },
        {
            "key": "postal_address",
            "label": "postal address",
            "default_bucket": "private",
            "shape": "postal_address"
        },
        {
            "key": "purchase_history",
            "label": "purchase history",
            "default_bucket": "private",
            "shape": "json"
        }
    ],
    "buckets": ["private", "semi_private", "public"],
    "defaults": ["share_everything", "ask_me", "share_nothing"],
    "purposes": [
        {
            "purpose": "service_provision",
            "description": "provide the service you asked them for"
        },
        {"purpose": "personalisation", "description": "tailor what they show you"},
        {"purpose": "marketing", "description": "send you advertising and offers"},
        {"purpose": "analytics", "description": "measure how their service is used"},
        {"purpose": "research", "description": "do research and develop their products"},
        {"purpose": "fraud_prevention", "description": "detect and prevent fraud"},
        {"purpose": "legal_obligation", "description": "meet a legal obligation"},
        {"purpose": "resale", "description": "sell or pass your data on to third parties"}
    ],
    "currencies": [
        "AUD",
        "BRL",
        "CAD",
        "CHF",
        "CNY",
        "CZK",
        "DKK",
        "EUR",
        "GBP",
        "HKD",
        "HUF",
        "ILS",
        "INR",
        "JPY",
        "KRW",
        "MXN",
        "NOK",
        "NZD",
        "PLN",
        "SEK",
        "SGD",
        "USD",
        "ZAR"
    ]
}))]
pub struct Catalogue {
    /// Known attribute keys. Custom keys start with `x-` and default to `private`.
    pub attributes: Vec<CatalogueAttribute>,
    /// The three buckets, from most to least private.
    #[schema(value_type = Vec<String>, example = json!(["private", "semi_private", "public"]))]
    pub buckets: Vec<Bucket>,
    /// The three sharing defaults.
    #[schema(value_type = Vec<String>, example = json!(["share_everything", "ask_me", "share_nothing"]))]
    pub defaults: Vec<SharingDefault>,
    /// The closed purpose vocabulary.
    pub purposes: Vec<CataloguePurpose>,
    /// ISO 4217 codes accepted in offers; amounts are integer micro-units.
    #[schema(value_type = Vec<String>, example = json!(["USD", "EUR"]))]
    pub currencies: Vec<Currency>,
}

/// One known attribute.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"key": "email", "label": "email address", "default_bucket": "semi_private", "shape": "email"}))]
pub struct CatalogueAttribute {
    /// The key on the wire.
    #[schema(example = "email")]
    pub key: &'static str,
    /// A name for people.
    #[schema(example = "email address")]
    pub label: &'static str,
    /// Its bucket until the person moves it.
    #[schema(value_type = String, example = "semi_private")]
    pub default_bucket: Bucket,
    /// What a value looks like.
    #[schema(value_type = String, example = "email")]
    pub shape: ValueShape,
}

/// One purpose.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"purpose": "marketing", "description": "send you advertising and offers"}))]
pub struct CataloguePurpose {
    /// The purpose on the wire.
    #[schema(value_type = String, example = "marketing")]
    pub purpose: Purpose,
    /// What it means, in plain words.
    pub description: &'static str,
}

/// The vocabulary of requests, rules and preferences
///
/// Every attribute (key, label, default bucket, value shape), bucket, sharing
/// default, purpose (with its meaning) and currency the server knows. Companies
/// build requests from it; people's rules use the same words. Needs no
/// credential.
#[utoipa::path(
    operation_id = "catalogue_get",
    tag = "catalogue",
    responses((status = 200, description = "The vocabulary", body = Catalogue))
)]
#[get("/v1/catalogue")]
pub async fn catalogue() -> HttpResponse {
    HttpResponse::Ok().json(Catalogue {
        attributes: catalogue_entries()
            .iter()
            .map(|entry| CatalogueAttribute {
                key: entry.key,
                label: entry.label,
                default_bucket: entry.default_bucket,
                shape: entry.shape,
            })
            .collect(),
        buckets: Bucket::ALL.to_vec(),
        defaults: SharingDefault::ALL.to_vec(),
        purposes: Purpose::ALL
            .iter()
            .map(|&purpose| CataloguePurpose {
                purpose,
                description: purpose.plain_words(),
            })
            .collect(),
        currencies: Currency::ALL.to_vec(),
    })
}
