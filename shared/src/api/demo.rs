//! `/demo`: a page to try `auth()` of the frontend SDK against this stack — the "test the
//! authorization" step of a new integration. Public, like the SDK itself: the person types the
//! environment's public key (or opens a connect session's `connect_link`); no secret is ever in
//! the page. The SDK file is the built `sdk/frontend/dist/index.js`, copied into
//! `shared/assets/demo/` by the SDK's build and embedded here, so Lambda serves it too.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

const PAGE: &str = include_str!("../../assets/demo/index.html");
const STYLE: &str = include_str!("../../assets/demo/demo.css");
const SCRIPT: &str = include_str!("../../assets/demo/demo.js");
const SDK: &str = include_str!("../../assets/demo/latchkey.js");

/// A public file of this crate (the demo's, the console's): its type, no sniffing, revalidated.
pub(super) fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

pub async fn page() -> Response {
    let mut r = asset("text/html; charset=utf-8", PAGE);
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    r
}

pub async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

pub async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

/// Also importable from other origins (`import … from '<host>/demo/latchkey.js'`): a module
/// script is fetched with CORS. A public static file, read without credentials.
pub async fn sdk() -> Response {
    let mut r = asset("text/javascript; charset=utf-8", SDK);
    r.headers_mut()
        .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    r
}
