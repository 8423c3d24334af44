//! The API described as OpenAPI 3, generated from the handlers'
//! annotations (`utoipa`), at `/api/openapi.json`, with a plain docs page
//! at `/api/docs` that reads it (no script from elsewhere).

use axum::Json;
use axum::response::Html;
use utoipa::OpenApi;

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(title = "GridSense gateway API", description = "Operators' console, machines and residents. Errors are application/problem+json; log in with POST /api/login (session cookie) or send `Authorization: Bearer TOKEN`."),
    paths(
        super::auth::login, super::auth::me,
        super::alarms::alarms, super::alarms::act, super::alarms::rejects, super::alarms::healthz,
        super::maintenance::set, super::maintenance::list,
        super::views::devices, super::views::site, super::views::kpi, super::views::audit, super::views::quarantine,
        super::orders::list, super::orders::act,
        super::live::events, super::metrics::metrics,
        super::reports::form, super::reports::submit, super::reports::status,
        super::devices::register,
        super::access::events, super::access::doors, super::access::visitor, super::access::revoke,
    ),
    components(schemas(super::auth::Login, super::auth::NewUser, super::orders::OrderAction,
        super::reports::Report, super::devices::NewDevice,
        super::access::NewVisitor, super::access::Revoke)),
    tags((name = "auth"), (name = "alarms"), (name = "orders"), (name = "site"), (name = "maintenance"),
         (name = "live"), (name = "audit"), (name = "reports", description = "Public: residents' reports"),
         (name = "access", description = "Access events, door lists, visitor passes"),
         (name = "health"))
)]
#[derive(Debug)]
pub struct ApiDoc;

/// `GET /api/openapi.json`.
pub(super) async fn json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// `GET /api/docs`: every path, method and description, from the document.
pub(super) async fn docs() -> Html<&'static str> {
    Html(include_str!("../../console/docs.html"))
}
