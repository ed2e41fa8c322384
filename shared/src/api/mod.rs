//! HTTP routers, one per Lambda function group (DESIGN.md). A Lambda binary serves one of
//! `auth_start`, `oauth_callback`, `connections`, `admin`; the local stack serves `local`, all
//! of them merged. Each is finished by `finish`: JSON 404/405, body limit.

pub mod admin;
pub mod auth_result;
pub mod backend_auth;
pub mod connect_sessions;
pub mod connections;
pub mod cors;
pub mod credentials_auth;
pub mod demo;
pub mod error;
pub mod extract;
pub mod frontend;
pub mod import;
pub mod oauth;
pub mod providers;
pub mod result_page;
pub mod wire;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::{middleware, Router};

use crate::error::{Error, ErrorCode};
use crate::AppState;
use error::ApiError;

/// The public routes a frontend calls. Add new ones here, each wrapped in `cors::public` (it
/// answers CORS preflights); `auth_start_routes` puts them all behind the rules of `cors`.
fn public_auth_routes() -> Router<AppState> {
    Router::new()
        .route("/oauth/connect/{integration}", cors::public(get(oauth::connect)))
        .route("/oauth/result/{nonce}", cors::public(get(auth_result::poll)))
        .route(
            "/api-auth/api-key/{integration}",
            cors::public(post(credentials_auth::api_key)),
        )
        .route(
            "/api-auth/basic/{integration}",
            cors::public(post(credentials_auth::basic)),
        )
        .route(
            "/oauth2/auth/{integration}",
            cors::public(post(credentials_auth::client_credentials)),
        )
}

fn auth_start_routes(state: &AppState) -> Router<AppState> {
    public_auth_routes().layer(middleware::from_fn_with_state(state.clone(), cors::frontend_cors))
}

/// The demo page and the SDK file it loads: public, no secrets.
fn demo_routes() -> Router<AppState> {
    Router::new()
        .route("/demo", get(demo::page))
        .route("/demo/demo.css", get(demo::style))
        .route("/demo/demo.js", get(demo::script))
        .route("/demo/latchkey.js", get(demo::sdk))
}

fn oauth_callback_routes() -> Router<AppState> {
    Router::new().route("/oauth/callback", get(oauth::callback))
}

fn connections_routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/connections", get(connections::list).post(import::import))
        .route(
            "/connections/metadata",
            post(connections::set_metadata).patch(connections::update_metadata),
        )
        .route(
            "/connections/{id}",
            get(connections::get_connection)
                .patch(connections::patch)
                .delete(connections::delete),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            backend_auth::require_backend_auth,
        ))
}

fn admin_routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/integrations",
            get(admin::list_integrations).post(admin::create_integration),
        )
        .route(
            "/integrations/{key}",
            get(admin::get_integration)
                .patch(admin::update_integration)
                .delete(admin::delete_integration),
        )
        .route("/logs", get(admin::logs))
        .route("/connect/sessions", post(connect_sessions::create))
        .route("/connect/sessions/reconnect", post(connect_sessions::reconnect))
        .route("/providers", get(providers::list))
        .route("/providers/{name}", get(providers::get))
        .route(
            "/environment",
            get(admin::get_environment).patch(admin::update_environment),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            backend_auth::require_backend_auth,
        ))
}

async fn not_found() -> ApiError {
    Error::not_found(ErrorCode::NotFound, "No such route.").into()
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::MethodNotAllowed,
        "This route does not take that method.",
    )
}

/// What every served router gets, Lambda or local.
pub fn finish(routes: Router<AppState>, state: AppState) -> Router {
    let limit = state.config.body_limit;
    // Parse the provider catalog while the router is built (Lambda init), not in a request.
    crate::providers::warm();
    routes
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

pub fn auth_start(state: AppState) -> Router {
    finish(auth_start_routes(&state), state)
}

pub fn oauth_callback(state: AppState) -> Router {
    finish(oauth_callback_routes(), state)
}

pub fn connections(state: AppState) -> Router {
    finish(connections_routes(&state), state)
}

pub fn admin(state: AppState) -> Router {
    finish(admin_routes(&state).merge(demo_routes()), state)
}

/// The whole API on one router: the local stack and the end-to-end tests serve this.
pub fn local(state: AppState) -> Router {
    let routes = auth_start_routes(&state)
        .merge(oauth_callback_routes())
        .merge(connections_routes(&state))
        .merge(admin_routes(&state))
        .merge(demo_routes());
    finish(routes, state)
}
