//! CORS for the public auth routes the SDK calls with `fetch` (credential POSTs, result polling).
//!
//! An origin may call when the environment's `allowed_origins` names it, or when that list is
//! empty (a fresh environment and local development: these routes carry no cookies and are
//! authenticated by the public key + HMAC or a session token, so an open list leaks nothing).
//! The API's own origin (the demo page) is always allowed. The allowed origin is echoed, never
//! `*`, and credentials are never allowed. A request whose `Origin` is not allowed is refused
//! with `origin_not_allowed` before any handler runs, preflight included.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;

use super::error::ApiError;
use crate::error::{Error, ErrorCode};
use crate::store::EnvironmentSettings;
use crate::AppState;

/// The allow-list rule (`EnvironmentSettings::allows_origin`) with this API's own origin.
pub fn origin_allowed(state: &AppState, settings: &EnvironmentSettings, origin: &str) -> bool {
    settings.allows_origin(&state.config.own_origin(), origin)
}

fn allow(headers: &mut HeaderMap, origin: &str) {
    if let Ok(value) = HeaderValue::from_str(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    }
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
}

/// A public route that answers preflights. `frontend_cors` replies to them before any handler
/// runs; the OPTIONS method only has to exist so routing reaches the middleware.
pub fn public(route: MethodRouter<AppState>) -> MethodRouter<AppState> {
    route.options(|| async { StatusCode::NO_CONTENT })
}

pub async fn frontend_cors(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(origin) = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
    else {
        // Navigations and non-browser clients: nothing to negotiate.
        return next.run(req).await;
    };
    let settings = match crate::environment::settings(&state).await {
        Ok(s) => s,
        Err(e) => return ApiError::from(e).into_response(),
    };
    if !origin_allowed(&state, &settings, &origin) {
        return ApiError::from(Error::forbidden(
            ErrorCode::OriginNotAllowed,
            "This web origin is not in the environment's allowed origins.",
        ))
        .into_response();
    }
    let preflight =
        req.method() == Method::OPTIONS && req.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut response = if preflight {
        let mut r = StatusCode::NO_CONTENT.into_response();
        let h = r.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, OPTIONS"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            // `authorization`: the connect session token of `GET /connect/session`.
            HeaderValue::from_static("content-type, authorization"),
        );
        h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        r
    } else {
        next.run(req).await
    };
    allow(response.headers_mut(), &origin);
    response
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{header, Method, Request, StatusCode};
    use tower::ServiceExt;

    fn stack() -> (tempfile::TempDir, crate::AppState) {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::config::Config::new("dev", "http://127.0.0.1:3003".parse().unwrap(), None);
        let state = crate::local::open(dir.path(), config).unwrap().state;
        (dir, state)
    }

    fn preflight(origin: &str) -> Request<Body> {
        Request::builder()
            .method(Method::OPTIONS)
            .uri("/oauth/result/aaaaaaaaaaaaaaaaaaaaaaaaaaaa")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
            .body(Body::empty())
            .unwrap()
    }

    #[tokio::test]
    async fn preflights_echo_allowed_origins_and_refuse_others() {
        let (_dir, state) = stack();
        let app = crate::api::local(state.clone());
        let r = app.clone().oneshot(preflight("https://app.example.com")).await.unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        assert_eq!(
            r.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://app.example.com"
        );
        assert!(r.headers().get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS).is_none());
        assert_eq!(
            r.headers()[header::ACCESS_CONTROL_ALLOW_HEADERS],
            "content-type, authorization"
        );

        let mut settings = state.store.get_settings().await.unwrap();
        settings.allowed_origins = vec!["https://app.example.com".into()];
        state.store.put_settings(&settings).await.unwrap();
        let r = app.clone().oneshot(preflight("https://evil.example")).await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert!(r.headers().get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
        let get = Request::get("/oauth/result/aaaaaaaaaaaaaaaaaaaaaaaaaaaa")
            .header(header::ORIGIN, "https://evil.example")
            .body(Body::empty())
            .unwrap();
        assert_eq!(app.clone().oneshot(get).await.unwrap().status(), StatusCode::FORBIDDEN);
        let r = app.oneshot(preflight("https://app.example.com")).await.unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
    }

    #[test]
    fn null_and_unlisted_origins_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::config::Config::new("dev", "http://127.0.0.1:3003".parse().unwrap(), None);
        let state = crate::local::open(dir.path(), config).unwrap().state;
        let open = super::EnvironmentSettings::default();
        assert!(super::origin_allowed(&state, &open, "https://a.com"));
        assert!(!super::origin_allowed(&state, &open, "null"));
        let strict = super::EnvironmentSettings {
            allowed_origins: vec!["https://a.com".into()],
            ..Default::default()
        };
        assert!(!super::origin_allowed(&state, &strict, "https://b.com"));
        assert!(super::origin_allowed(&state, &strict, "https://a.com"));
        assert!(super::origin_allowed(&state, &strict, "http://127.0.0.1:3003"));
    }
}
