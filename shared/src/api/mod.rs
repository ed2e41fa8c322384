//! HTTP. The route table below holds every route of every Lambda function, once, in one block
//! per function (`FUNCTIONS`): who may call it, method, path, handler. Each function's router
//! (`router`) and the local stack's (`local`, all of them) are built from it, and a test checks
//! `template.yaml` against it (`template_routes.rs`). Every router is finished by `finish`:
//! JSON 404/405, body limit.

pub mod admin;
pub mod auth_result;
pub mod backend_auth;
pub mod connect_page;
pub mod connect_sessions;
pub mod connections;
pub mod console;
pub mod cookies;
pub mod cors;
pub mod credentials_auth;
pub mod demo;
pub mod error;
pub mod extract;
pub mod frontend;
pub mod html;
pub mod import;
pub mod oauth;
pub mod openapi;
pub mod providers;
pub mod result_page;
pub mod sockets;
pub mod wire;

use std::collections::HashSet;

use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{MethodFilter, MethodRouter};
use axum::{middleware, Router};

use crate::error::{Error, ErrorCode};
use crate::AppState;
use error::ApiError;

#[cfg(test)]
mod template_routes;

/// A Lambda function of `template.yaml` and its block of the route table. A function's binary
/// names only its own block (`lambda::serve(api::ADMIN)`), so it links only its own handlers.
#[derive(Clone, Copy)]
pub struct Function {
    /// The function's crate and folder under `functions/` (its `CodeUri` in `template.yaml`).
    pub name: &'static str,
    pub routes: fn() -> Vec<Route>,
}

pub const AUTH_START: Function = Function {
    name: "auth-start",
    routes: table::auth_start,
};
pub const OAUTH_CALLBACK: Function = Function {
    name: "oauth-callback",
    routes: table::oauth_callback,
};
pub const CONNECTIONS: Function = Function {
    name: "connections",
    routes: table::connections,
};
pub const ADMIN: Function = Function {
    name: "admin",
    routes: table::admin,
};
/// The callback domain's own API (`CallbackDomainName`): a bare `lambda_http` binary that
/// answers every path with `308` to the API's `/oauth/callback`. Its route is in the table for
/// the template check; this crate serves none of it (locally, the callback URL is the API's own
/// `/oauth/callback`).
pub const CALLBACK_REDIRECT: Function = Function {
    name: "callback-redirect",
    routes: table::callback_redirect,
};

/// The WebSocket API's function: the socket of Nango's frontend client on AWS. Its routes are
/// the API's route keys; `lambda::websocket` serves them (locally the socket is `GET /`
/// upgraded, in `AUTH_START`).
pub const WEBSOCKET: Function = Function {
    name: "websocket",
    routes: table::websocket,
};

/// Every function: the whole route table.
pub const FUNCTIONS: [Function; 6] = [
    AUTH_START,
    OAUTH_CALLBACK,
    CONNECTIONS,
    ADMIN,
    CALLBACK_REDIRECT,
    WEBSOCKET,
];

/// Who may call a route. The router puts the guard in front of the handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The end user's browser, through the SDK: CORS by the environment's allowed origins
    /// (`cors`) and an `OPTIONS` preflight route on the same path, which `template.yaml`
    /// declares too. The handler authenticates the request (public key + HMAC, or a connect
    /// session token).
    Frontend,
    /// The team's backend: a Bearer secret key or a signed request (`backend_auth`), checked
    /// before the handler. In `template.yaml` these routes carry
    /// `AuthorizationType: !If [UseIam, AWS_IAM, NONE]`.
    Backend,
    /// No guard: the OAuth callback (its `state` is the check) and public files.
    Public,
    /// The operator console's pages and changes: a console session (cookie), and for a change
    /// its CSRF token from the console's own origin (`console::guard`). Not behind the IAM
    /// switch: a browser signs no request.
    Console,
    /// A route of the WebSocket API: `path` is its route key (`$connect`, `$disconnect`,
    /// `$default`), the method unused. Served outside the routers (`lambda::websocket`).
    Socket,
}

/// One line of the route table.
pub struct Route {
    pub access: Access,
    pub method: Method,
    /// axum syntax: `{name}` is one segment, `{*name}` the rest of the path.
    pub path: &'static str,
    /// `None` when the route is served outside this crate (`CALLBACK_REDIRECT`).
    handler: Option<MethodRouter<AppState>>,
}

impl Route {
    /// The methods API Gateway routes for this path: the route's own, and `OPTIONS` for a
    /// frontend route's preflight.
    pub fn gateway_methods(&self) -> Vec<Method> {
        match self.access {
            Access::Frontend => vec![self.method.clone(), Method::OPTIONS],
            Access::Backend | Access::Public | Access::Console => vec![self.method.clone()],
            Access::Socket => Vec::new(),
        }
    }
}

fn route<H, T>(access: Access, method: Method, path: &'static str, handler: H) -> Route
where
    H: Handler<T, AppState>,
    T: 'static,
{
    let filter = MethodFilter::try_from(method.clone()).expect("the table uses standard methods");
    Route {
        access,
        method,
        path,
        handler: Some(axum::routing::on(filter, handler)),
    }
}

/// A route of the WebSocket API, by its route key.
fn socket(route_key: &'static str) -> Route {
    external(Access::Socket, Method::GET, route_key)
}

/// A route this crate does not serve (`CALLBACK_REDIRECT`), listed for the template check.
fn external(access: Access, method: Method, path: &'static str) -> Route {
    Route {
        access,
        method,
        path,
        handler: None,
    }
}

/// The route table, one block per function. A new route is one line in its function's block
/// and its `AWS::ApiGatewayV2::Route` in `template.yaml` (with its `OPTIONS` twin for a frontend
/// route); the `template_routes` test fails until both agree. Routes of one path and access
/// merge into one method router, in this order.
mod table {
    use super::*;
    use Access::{Backend, Console, Frontend, Public};
    const GET: Method = Method::GET;
    const POST: Method = Method::POST;
    const PATCH: Method = Method::PATCH;
    const DELETE: Method = Method::DELETE;

    /// The public auth routes a frontend calls. `GET /` is the socket of Nango's frontend
    /// client when upgraded (locally; on AWS the WebSocket API's, `websocket`), else a redirect.
    #[rustfmt::skip]
    pub(super) fn auth_start() -> Vec<Route> {
        vec![
            route(Public,   GET,    "/",                               sockets::root),
            route(Frontend, GET,    "/oauth/connect/{integration}",    oauth::connect),
            route(Frontend, GET,    "/oauth/result/{nonce}",           auth_result::poll),
            route(Frontend, POST,   "/api-auth/api-key/{integration}", credentials_auth::api_key),
            route(Frontend, POST,   "/api-auth/basic/{integration}",   credentials_auth::basic),
            route(Frontend, POST,   "/oauth2/auth/{integration}",      credentials_auth::client_credentials),
            route(Public,   GET,    "/connect",                        connect_page::page),
            route(Public,   GET,    "/connect/",                       connect_page::page),
            route(Frontend, GET,    "/connect/session",                connect_page::session),
            route(Frontend, POST,   "/auth/unauthenticated/{integration}", credentials_auth::unauthenticated),
            route(Frontend, POST,   "/auth/{mode}/{integration}",      credentials_auth::by_mode),
        ]
    }

    #[rustfmt::skip]
    pub(super) fn oauth_callback() -> Vec<Route> {
        vec![
            route(Public,   GET,    "/oauth/callback",                 oauth::callback),
        ]
    }

    /// The backend's connection routes.
    #[rustfmt::skip]
    pub(super) fn connections() -> Vec<Route> {
        vec![
            route(Backend,  GET,    "/connections",                    connections::list),
            route(Backend,  POST,   "/connections",                    import::import),
            route(Backend,  POST,   "/connections/metadata",           connections::set_metadata),
            route(Backend,  PATCH,  "/connections/metadata",           connections::update_metadata),
            route(Backend,  GET,    "/connections/{id}",               connections::get_connection),
            route(Backend,  PATCH,  "/connections/{id}",               connections::patch),
            route(Backend,  DELETE, "/connections/{id}",               connections::delete),
        ]
    }

    /// The operator's routes, the API's description (`/openapi.json`), the demo page with the SDK
    /// file it loads (public, no secrets), and the console (`GET /` of `auth_start` leads there).
    #[rustfmt::skip]
    pub(super) fn admin() -> Vec<Route> {
        vec![
            route(Backend,  GET,    "/integrations",                   admin::list_integrations),
            route(Backend,  POST,   "/integrations",                   admin::create_integration),
            route(Backend,  GET,    "/integrations/{key}",             admin::get_integration),
            route(Backend,  PATCH,  "/integrations/{key}",             admin::update_integration),
            route(Backend,  DELETE, "/integrations/{key}",             admin::delete_integration),
            route(Backend,  GET,    "/logs",                           admin::logs),
            route(Backend,  POST,   "/connect/sessions",               connect_sessions::create),
            route(Backend,  POST,   "/connect/sessions/reconnect",     connect_sessions::reconnect),
            route(Backend,  GET,    "/providers",                      providers::list),
            route(Backend,  GET,    "/providers/{name}",               providers::get),
            route(Backend,  GET,    "/environment",                    admin::get_environment),
            route(Backend,  PATCH,  "/environment",                    admin::update_environment),
            route(Backend,  POST,   "/environment/test-webhook",       admin::test_webhook),
            route(Public,   GET,    "/openapi.json",                   openapi::serve),
            route(Public,   GET,    "/demo",                           demo::page),
            route(Public,   GET,    "/demo/demo.css",                  demo::style),
            route(Public,   GET,    "/demo/demo.js",                   demo::script),
            route(Public,   GET,    "/demo/latchkey.js",               demo::sdk),
            route(Console,  GET,    "/console",                        console::home),
            route(Public,   GET,    "/console/sign-in",                console::session::sign_in_form),
            route(Public,   POST,   "/console/sign-in",                console::session::sign_in),
            route(Console,  POST,   "/console/sign-out",               console::session::sign_out),
            route(Public,   GET,    "/console/assets/console.css",     console::assets::style),
            route(Public,   GET,    "/console/assets/console.js",      console::assets::script),
            route(Console,  GET,    "/console/integrations",           console::integrations::list),
            route(Console,  POST,   "/console/integrations",           console::integrations::create),
            route(Console,  GET,    "/console/catalog",                console::catalog::page),
            route(Console,  GET,    "/console/catalog/{provider}",     console::integrations::new_form),
            route(Console,  GET,    "/console/integrations/{key}",     console::integrations::show),
            route(Console,  POST,   "/console/integrations/{key}",     console::integrations::update),
            route(Console,  POST,   "/console/integrations/{key}/delete", console::integrations::delete),
            route(Console,  GET,    "/console/integrations/{key}/connect", console::connect::page),
            route(Console,  POST,   "/console/integrations/{key}/connect", console::connect::submit),
            route(Console,  POST,   "/console/integrations/{key}/connect/digest", console::connect::digest),
            route(Console,  GET,    "/console/connections",            console::connections::list),
            route(Console,  GET,    "/console/connections/{integration}/{id}", console::connections::show),
            route(Console,  POST,   "/console/connections/{integration}/{id}/reveal", console::connections::reveal),
            route(Console,  POST,   "/console/connections/{integration}/{id}/refresh", console::connections::refresh),
            route(Console,  POST,   "/console/connections/{integration}/{id}/delete", console::connections::delete),
            route(Console,  GET,    "/console/activity",               console::activity::page),
            route(Console,  GET,    "/console/environment",            console::environment::show),
            route(Console,  POST,   "/console/environment",            console::environment::save),
            route(Console,  POST,   "/console/environment/reveal",     console::environment::reveal),
            route(Console,  POST,   "/console/environment/rotate",     console::environment::rotate),
        ]
    }

    /// The callback domain: every path, answered by `functions/callback-redirect`.
    #[rustfmt::skip]
    pub(super) fn callback_redirect() -> Vec<Route> {
        vec![
            external(Public, GET, "/{*path}"),
        ]
    }

    /// The WebSocket API's route keys, answered by `functions/websocket`.
    #[rustfmt::skip]
    pub(super) fn websocket() -> Vec<Route> {
        vec![
            socket("$connect"),
            socket("$disconnect"),
            socket("$default"),
        ]
    }
}

type Group = Vec<(&'static str, MethodRouter<AppState>)>;

fn group(routes: Group) -> Router<AppState> {
    routes
        .into_iter()
        .fold(Router::new(), |router, (path, handler)| router.route(path, handler))
}

/// The router of `routes`, each access group behind its guard, merged. Routes served outside
/// this crate are left out.
fn build(state: &AppState, routes: impl IntoIterator<Item = Route>) -> Router<AppState> {
    let (mut frontend, mut backend, mut public, mut console) = (Group::new(), Group::new(), Group::new(), Group::new());
    let mut preflighted = HashSet::new();
    for route in routes {
        let Some(handler) = route.handler else {
            continue;
        };
        match route.access {
            // A frontend path answers preflights once, whatever its methods.
            Access::Frontend if preflighted.insert(route.path) => frontend.push((route.path, cors::public(handler))),
            Access::Frontend => frontend.push((route.path, handler)),
            Access::Backend => backend.push((route.path, handler)),
            Access::Public | Access::Socket => public.push((route.path, handler)),
            Access::Console => console.push((route.path, handler)),
        }
    }
    let mut router = group(public);
    if !frontend.is_empty() {
        let guard = middleware::from_fn_with_state(state.clone(), cors::frontend_cors);
        router = router.merge(group(frontend).layer(guard));
    }
    if !backend.is_empty() {
        let guard = middleware::from_fn_with_state(state.clone(), backend_auth::require_backend_auth);
        router = router.merge(group(backend).route_layer(guard));
    }
    if !console.is_empty() {
        let guard = middleware::from_fn_with_state(state.clone(), console::guard);
        router = router.merge(group(console).route_layer(guard));
    }
    router
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

/// Wraps every request of a router (Lambda and local alike) in its `logs::request_span`, with
/// the ids `lambda.rs` put in the request's extensions (none locally), and ends it with one
/// `served` line: status and duration, the access log.
async fn span_requests(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    use tracing::Instrument;
    let ids = req
        .extensions()
        .get::<crate::logs::RequestIds>()
        .cloned()
        .unwrap_or_default();
    let span = crate::logs::request_span(req.method().as_str(), req.uri().path(), &ids);
    async move {
        let started = std::time::Instant::now();
        let response = next.run(req).await;
        let status = response.status().as_u16();
        let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
        if response.status().is_server_error() {
            tracing::error!(status, duration_ms, "served");
        } else {
            tracing::info!(status, duration_ms, "served");
        }
        response
    }
    .instrument(span)
    .await
}

/// What every served router gets, Lambda or local.
pub fn finish(routes: Router<AppState>, state: AppState) -> Router {
    let limit = state.config.body_limit;
    routes
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn(span_requests))
        .with_state(state)
}

/// The router of one Lambda function: its block of the route table.
pub fn router(function: Function, state: AppState) -> Router {
    finish(build(&state, (function.routes)()), state)
}

/// The whole API on one router: the local stack and the end-to-end tests serve this.
pub fn local(state: AppState) -> Router {
    finish(build(&state, FUNCTIONS.iter().flat_map(|f| (f.routes)())), state)
}
