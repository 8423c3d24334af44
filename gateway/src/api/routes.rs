//! The routes: which handler answers what.

use axum::Router;
use axum::routing::{get, post};

use super::ApiState;

/// The API's routes.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/api/alarms", get(super::alarms::alarms))
        .route("/api/alarms/{id}/{action}", post(super::alarms::act))
        .route(
            "/api/maintenance",
            post(super::maintenance::set).get(super::maintenance::list),
        )
        .route("/api/rejects", get(super::alarms::rejects))
        .route("/api/login", post(super::auth::login))
        .route("/api/logout", post(super::auth::logout))
        .route("/api/me", get(super::auth::me))
        .route("/api/users", post(super::auth::add_user))
        .route("/api/tokens", post(super::auth::add_token))
        .route(
            "/api/devices",
            get(super::views::devices).post(super::devices::register),
        )
        .route("/api/site", get(super::views::site))
        .route("/api/kpi", get(super::views::kpi))
        .route("/api/audit", get(super::views::audit))
        .route("/api/quarantine", get(super::views::quarantine))
        .route("/api/orders", get(super::orders::list))
        .route("/api/orders/{id}/{action}", post(super::orders::act))
        .route("/api/events", get(super::live::events))
        .route("/api/openapi.json", get(super::openapi::json))
        .route("/api/docs", get(super::openapi::docs))
        .route("/metrics", get(super::metrics::metrics))
        .merge(super::console::routes())
        .merge(super::reports::routes())
        .merge(super::access::routes())
        .route("/healthz", get(super::alarms::healthz))
        .with_state(state)
}
