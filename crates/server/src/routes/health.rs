//! Liveness that means something: 200 only when the database answers.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::problem::Problem;
use crate::startup::AppState;

/// The server's health.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// Always `ok` on a 200.
    #[schema(example = "ok")]
    pub status: &'static str,
    /// `sqlite` or `postgres`.
    #[schema(example = "sqlite")]
    pub database: &'static str,
}

/// Whether the server can serve: the database answered a query just now.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "The server and its database are up", body = Health),
        (status = 503, description = "The database does not answer", body = Problem,
            content_type = "application/problem+json"),
    )
)]
#[get("/healthz")]
pub async fn healthz(state: web::Data<AppState>) -> Result<HttpResponse, Problem> {
    state.store.ping().await.map_err(|e| {
        tracing::warn!(error = %e, "health check: database does not answer");
        Problem::database_unavailable()
    })?;
    let database = match state.store.backend() {
        store::Backend::Sqlite => "sqlite",
        store::Backend::Postgres => "postgres",
    };
    Ok(HttpResponse::Ok().json(Health {
        status: "ok",
        database,
    }))
}
