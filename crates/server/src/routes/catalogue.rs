//! The public vocabulary: attribute keys, buckets, defaults, purposes and
//! currencies that requests, rules and preferences are written in.

use actix_web::{HttpResponse, get};
use consent_policy::{Bucket, Currency, Purpose, SharingDefault, ValueShape, catalogue_entries};
use serde::Serialize;
use utoipa::ToSchema;

/// Everything a request or rule may name.
#[derive(Serialize, ToSchema)]
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
