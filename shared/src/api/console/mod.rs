//! The operator console: server-rendered pages at `/console…`, enhanced by one small script,
//! with no build chain and nothing loaded from elsewhere. Pages are split by tab
//! (`integrations`, `connect`, `connections`, `activity`, `environment`); `session` signs in
//! and out and guards every other route; `page` renders the layout; `assets` serves the CSS
//! and JS of `shared/assets/console/`.
//!
//! Every console route is `Access::Console` in the route table: `guard` finds the session
//! from its cookie (else: sign-in), and a change (any method but GET) must come from the
//! console's own origin (`Origin`, or `Sec-Fetch-Site: same-origin`) and carry the session's
//! CSRF token (the form field `csrf`, or the `X-CSRF-Token` header of the script's requests).
//! Handlers call the same domain functions as the API: everything the console changes, the
//! API can change.

pub mod activity;
pub mod assets;
pub mod catalog;
pub mod connect;
pub mod connections;
pub mod environment;
pub mod integration_form;
pub mod integrations;
pub mod page;
pub mod session;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use crate::console_sessions::{self, Operator};
use crate::error::{Error, ErrorCode, ErrorKind};
use crate::AppState;
pub use page::{Notice, Page, Tab};

/// The signed-in operator of a request (an extension set by `guard`).
#[derive(Clone)]
pub struct Signed {
    pub operator: Operator,
    /// What forms and the script send back with every change.
    pub csrf: String,
}

/// The console's path prefix as the browser sees it: the public URL's path (an API Gateway
/// stage, say) + `/console`.
pub fn base(state: &AppState) -> String {
    format!("{}/console", state.config.public_url.path().trim_end_matches('/'))
}

/// The web origin the console is served from; changes must come from it.
fn own_origin(state: &AppState) -> String {
    state.config.public_url.origin().ascii_serialization()
}

/// Whether a request that changes something came from the console's own pages.
pub fn same_origin(state: &AppState, headers: &HeaderMap) -> bool {
    match headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) {
        Some(origin) => origin == own_origin(state),
        None => headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) == Some("same-origin"),
    }
}

/// The console's script asks for JSON; forms and links get pages.
pub fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.starts_with("application/json"))
}

/// A `303 See Other` to `to` (a path under the public URL).
pub fn see_other(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    r.headers_mut().insert(
        header::LOCATION,
        HeaderValue::from_str(to).expect("paths are valid headers"),
    );
    r
}

/// A refused console request: a JSON error for the script, a page for a person.
pub fn refusal(state: &AppState, headers: &HeaderMap, e: Error) -> Response {
    if wants_json(headers) {
        return ApiError::from(e).into_response();
    }
    let status = super::error::status_of(e.kind, e.code);
    let sign_in = matches!(e.kind, ErrorKind::Unauthorized);
    let link = if sign_in {
        format!(r#"<p><a href="{}/sign-in">Sign in</a></p>"#, base(state))
    } else {
        r#"<p>Go back, reload the page and try again.</p>"#.to_owned()
    };
    let body = format!(
        "<h1>{}</h1><p>{}</p><p class=\"muted\">Error code: <code>{}</code></p>{link}",
        if sign_in { "Signed out" } else { "Request refused" },
        super::html::escape(&e.message),
        e.code
    );
    let mut r = page::render(state, None, Page::new("Request refused", Tab::None, body));
    *r.status_mut() = status;
    r
}

/// A refused form's notice and status: the error's message and code, and the status the API
/// would answer.
pub fn failure(e: &Error) -> (Option<Notice>, StatusCode) {
    (
        Some(Notice::Failed(format!("{} ({})", e.message, e.code))),
        super::error::status_of(e.kind, e.code),
    )
}

/// The form fields of a body (`application/x-www-form-urlencoded`), in order.
pub struct Form(pub Vec<(String, String)>);

impl Form {
    pub fn parse(body: &[u8]) -> Self {
        Form(form_urlencoded::parse(body).into_owned().collect())
    }
    /// The first value of `name`, trimmed; `None` when absent or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }
    /// The untrimmed value of `name` (a secret is taken as typed).
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
    pub fn checked(&self, name: &str) -> bool {
        self.0
            .iter()
            .any(|(k, v)| k == name && (v == "on" || v == "true" || v == "1"))
    }
    /// Every value of `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
    /// Fields named `<prefix>[<key>]`, as `(key, value)`, non-empty values only.
    pub fn prefixed(&self, prefix: &str) -> Vec<(String, String)> {
        self.0
            .iter()
            .filter_map(|(k, v)| {
                let key = k.strip_prefix(prefix)?.strip_prefix('[')?.strip_suffix(']')?;
                (!v.trim().is_empty()).then(|| (key.to_owned(), v.trim().to_owned()))
            })
            .collect()
    }
}

fn session_error(state: &AppState, headers: &HeaderMap, method: &Method, path: &str, e: Error) -> Response {
    let expired = e.code == ErrorCode::ConsoleSessionExpired;
    let mut r = if *method == Method::GET && !wants_json(headers) {
        let reason = if expired { "expired" } else { "required" };
        see_other(&format!(
            "{}/sign-in?reason={reason}&next={}",
            base(state),
            super::html::query_value(path)
        ))
    } else {
        refusal(state, headers, e)
    };
    if expired {
        r.headers_mut().insert(header::SET_COOKIE, session::clear_cookie(state));
    }
    r
}

/// In front of every console route: the session, then (for a change) origin and CSRF token.
pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    let Some(token) = session::token_of(&state, &parts.headers) else {
        let e = Error::unauthorized(
            ErrorCode::ConsoleSignInRequired,
            "Sign in to the console with the environment's secret key.",
        );
        return session_error(&state, &parts.headers, &parts.method, &path, e);
    };
    let operator = match console_sessions::find(&state, &token).await {
        Ok(o) => o,
        Err(e) if e.kind == ErrorKind::Unauthorized => {
            return session_error(&state, &parts.headers, &parts.method, &path, e)
        }
        Err(e) => return refusal(&state, &parts.headers, e),
    };
    let mut body = Body::new(body);
    if parts.method != Method::GET {
        if !same_origin(&state, &parts.headers) {
            let e = Error::forbidden(
                ErrorCode::CrossOriginRequest,
                format!("Console changes are accepted only from {}.", own_origin(&state)),
            );
            return refusal(&state, &parts.headers, e);
        }
        let bytes: Bytes = match axum::body::to_bytes(body, state.config.body_limit).await {
            Ok(b) => b,
            Err(_) => return super::extract::payload_too_large().into_response(),
        };
        let presented = parts
            .headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or_else(|| Form::parse(&bytes).get("csrf").map(str::to_owned))
            .unwrap_or_default();
        if !console_sessions::csrf_matches(&token, &presented) {
            let e = Error::forbidden(
                ErrorCode::InvalidCsrfToken,
                "This form has expired or did not come from the console. Reload the page and try again.",
            );
            return refusal(&state, &parts.headers, e);
        }
        body = Body::from(bytes);
    }
    let mut req = Request::from_parts(parts, body);
    req.extensions_mut().insert(Signed {
        operator,
        csrf: console_sessions::csrf_token(&token),
    });
    next.run(req).await
}

/// `GET /console`: the first tab.
pub async fn home(State(state): State<AppState>) -> Response {
    see_other(&format!("{}/integrations", base(&state)))
}
