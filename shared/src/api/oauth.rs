//! The browser flows over HTTP: `GET /oauth/connect/{integration}` sends the browser to the
//! provider with the flow's cookie (`cookies`); `GET /oauth/callback` reads it back, finishes
//! and renders the result page. The outcome also goes to the poller (`auth_result`) and to the
//! socket bound at the start (`sockets`). The flows themselves are `flows::redirect`; here the
//! request is parsed and the outcome rendered.

use std::collections::HashMap;

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::cookies::{clear_flow_cookie, cookie, flow_cookie_name, set_flow_cookie};
use super::error::{status_of, ApiError};
use super::extract::ApiPath;
use super::frontend::{parse_connect_query, request_origin, wants_html};
use super::result_page::{render, Outcome};
use super::{auth_result, sockets};
use crate::domain::IntegrationKey;
use crate::error::{Error, ErrorCode};
use crate::flows::redirect;
use crate::store::EnvironmentSettings;
use crate::AppState;

pub async fn connect(
    State(state): State<AppState>,
    ApiPath(integration): ApiPath<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let settings = match crate::environment::settings(&state).await {
        Ok(s) => s,
        Err(e) => return ApiError::from(e).into_response(),
    };
    // The page that started the flow must be allowed: it is the only target of the result.
    let requested = request_origin(&headers);
    let origin = requested
        .clone()
        .filter(|o| super::cors::origin_allowed(&state, &settings, o));
    let started = if requested.is_some() && origin.is_none() {
        Err(Error::forbidden(
            ErrorCode::OriginNotAllowed,
            "The page that started this flow is not in the environment's allowed origins.",
        ))
    } else {
        start(&state, &settings, &integration, query.as_deref(), origin.clone()).await
    };
    match started {
        Ok(redirected) => {
            let mut r = StatusCode::FOUND.into_response();
            let headers = r.headers_mut();
            headers.insert(
                header::LOCATION,
                HeaderValue::from_str(redirected.url.as_str()).expect("URLs are valid headers"),
            );
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            headers.append(header::SET_COOKIE, set_flow_cookie(&state.config, &redirected.binding));
            r
        }
        Err(e) => {
            let e = ApiError::from(e);
            let outcome = Outcome::Failure {
                error_type: e.code.as_str(),
                description: &e.message,
            };
            // The flow failed before the provider: the poller and the page's socket learn it too.
            if let Some(nonce) = auth_result::nonce_of_query(query.as_deref()) {
                auth_result::record(&state, &crate::flows::poll::nonce_hash(&nonce), &outcome).await;
            }
            if let Some(socket) = sockets::bound_socket(&state, query.as_deref(), origin.as_deref()).await {
                sockets::notify(&state, &socket, &outcome).await;
            }
            if wants_html(&headers) {
                render(&outcome, origin.as_deref(), e.status)
            } else {
                e.into_response()
            }
        }
    }
}

async fn start(
    state: &AppState,
    settings: &EnvironmentSettings,
    integration: &str,
    raw_query: Option<&str>,
    origin: Option<String>,
) -> Result<redirect::Redirected, Error> {
    let request = parse_connect_query(raw_query)?;
    let key = IntegrationKey::from_path(integration)?;
    redirect::start(state, settings, &request, &key, origin).await
}

pub async fn callback(State(state): State<AppState>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    let params: HashMap<String, String> = form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    // The flow's cookie, found by the binding its state names.
    let binding = params.get("state").map(|s| redirect::browser_binding(s));
    let presented = binding
        .as_deref()
        .and_then(|b| cookie(&headers, &flow_cookie_name(&state.config, b)));
    let finished = redirect::finish(&state, &params, presented).await;
    let (outcome, status) = match &finished.result {
        Ok(connected) => (
            Outcome::Success {
                integration: connected.integration.as_str(),
                connection_id: connected.connection_id.as_str(),
            },
            StatusCode::OK,
        ),
        Err(e) => (
            Outcome::Failure {
                error_type: e.code.as_str(),
                description: &e.message,
            },
            status_of(e.kind, e.code),
        ),
    };
    if let Some(hash) = &finished.result_nonce_hash {
        auth_result::record(&state, hash, &outcome).await;
    }
    if let Some(socket) = &finished.socket_hash {
        sockets::notify(&state, socket, &outcome).await;
    }
    let mut page = render(&outcome, finished.origin.as_deref(), status);
    if let (Some(binding), Some(_)) = (&binding, presented) {
        page.headers_mut()
            .append(header::SET_COOKIE, clear_flow_cookie(&state.config, binding));
    }
    page
}
