//! `GET /v1/data`: what a company reads under a grant. Exactly the
//! grant's attributes the person has now, at their current values, and
//! only while the grant is live: a revoked or expired grant is refused on
//! the very next call, whatever the token's own expiry. Every read is a
//! disclosure on the ledger.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::oauth_server::{BearerRejection, bearer_claims, live_grant};
use crate::problem::Problem;
use crate::startup::AppState;

/// The granted data.
#[derive(Serialize, ToSchema)]
pub struct DataBody {
    /// The person's pairwise subject for this company.
    #[schema(example = "q3Xr1p0m9Vb2yHcJx3lQ0w")]
    pub subject: String,
    /// The grant read under.
    pub grant_id: String,
    /// Granted attributes the person has, by key, with current values.
    #[schema(value_type = Object, example = json!({"display_name": "Ada", "email": "ada@example.org"}))]
    pub attributes: BTreeMap<String, serde_json::Value>,
    /// Granted keys the person has no value for now.
    pub withheld: Vec<String>,
}

/// The attributes the bearer token's grant allows, nothing else.
#[utoipa::path(
    tag = "companies",
    responses(
        (status = 200, description = "The granted attributes", body = DataBody),
        (status = 401, description = "No token, a bad or expired token, or a grant that was revoked or has expired (`WWW-Authenticate: Bearer error=\"invalid_token\"`)",
            body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A token without a grant (client credentials)", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/v1/data")]
pub async fn data(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<web::Json<DataBody>, BearerRejection> {
    let store = &state.store;
    let claims = bearer_claims(store, &state.oauth, &req).await?;
    let grant_id = claims.grant_id.as_deref().ok_or_else(|| {
        BearerRejection::forbidden("this token carries no grant; get one through an authorization")
    })?;
    let grant = live_grant(store, grant_id, &claims.client_id)
        .await?
        .ok_or_else(|| BearerRejection::invalid("the grant was revoked or has expired"))?;
    // The token's subject must be this grant's person for this company:
    // a token never reads anyone else's data.
    let subject = state.oauth.subject(&grant.company_id, &grant.person_id);
    if subject.as_str() != claims.sub {
        return Err(BearerRejection::invalid(
            "the token's subject does not match its grant",
        ));
    }
    let current = store.attributes(&grant.person_id).await?;
    let mut attributes = BTreeMap::new();
    let mut withheld = Vec::new();
    let mut disclosed = Vec::new();
    for key in &grant.attributes {
        match current.iter().find(|a| &a.key == key) {
            Some(attribute) => {
                attributes.insert(key.to_string(), attribute.value.clone());
                disclosed.push(key.clone());
            }
            None => withheld.push(key.to_string()),
        }
    }
    debug_assert!(
        attributes
            .keys()
            .all(|k| grant.attributes.iter().any(|g| g.as_str() == k)),
        "only granted attributes leave"
    );
    if !disclosed.is_empty() {
        store.record_disclosure(&grant, &disclosed).await?;
    }
    Ok(web::Json(DataBody {
        subject: claims.sub,
        grant_id: grant.id,
        attributes,
        withheld,
    }))
}
