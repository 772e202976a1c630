//! Probes for an orchestrator. `/livez`: the process serves HTTP (restart
//! it if not); `/readyz`: it can serve requests, the database answered
//! just now (send it no traffic if not; restarting would not help a
//! database that is down). `/healthz` is `/readyz` under its older name.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::problem::Problem;
use crate::startup::AppState;

/// The server's health.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"status": "ok", "database": "sqlite"}))]
pub struct Health {
    /// Always `ok` on a 200.
    #[schema(example = "ok")]
    pub status: &'static str,
    /// `sqlite` or `postgres`.
    #[schema(example = "sqlite")]
    pub database: &'static str,
}

/// Whether the server can serve
///
/// Answers 200 when the database answered a query just now, 503 otherwise. Kept
/// for load balancers that predate `/livez` and `/readyz`.
#[utoipa::path(
    operation_id = "health_get",
    tag = "operations",
    responses(
        (status = 200, description = "The server and its database are up", body = Health),
        (status = 503, description = "The database does not answer", body = Problem,
            content_type = "application/problem+json"),
    )
)]
#[get("/healthz")]
pub async fn healthz(state: web::Data<AppState>) -> Result<HttpResponse, Problem> {
    database_answers(&state).await
}

/// Whether the server should get traffic
///
/// Readiness: 200 when the database answered a query just now, 503 otherwise. A
/// load balancer stops sending traffic on 503 without restarting the process.
#[utoipa::path(
    operation_id = "readiness_get",
    tag = "operations",
    responses(
        (status = 200, description = "Ready: the database answers", body = Health),
        (status = 503, description = "Not ready: the database does not answer", body = Problem,
            content_type = "application/problem+json"),
    )
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, Problem> {
    database_answers(&state).await
}

/// Whether the process is alive
///
/// Liveness: the process answers HTTP. It asks nothing of the database, so a
/// database outage never has the server restarted.
#[utoipa::path(
    operation_id = "liveness_get",
    tag = "operations",
    responses(
        (status = 200, description = "The process serves HTTP", body = Liveness),
    )
)]
#[get("/livez")]
pub async fn livez() -> HttpResponse {
    HttpResponse::Ok().json(Liveness { status: "ok" })
}

/// The process's liveness.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"status": "ok"}))]
pub struct Liveness {
    /// Always `ok`.
    #[schema(example = "ok")]
    pub status: &'static str,
}

async fn database_answers(state: &AppState) -> Result<HttpResponse, Problem> {
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
