//! Signing in and out. The session token lives in one cookie: HttpOnly (no script reads it),
//! SameSite=Strict (no other site's request carries it), `Secure` and `__Host-` prefixed when
//! the console is served over https. The secret key itself is posted once and never kept by
//! the browser (the field has `autocomplete="off"`; nothing is stored client-side).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Extension;
use serde::Deserialize;

use super::page::{self, Notice, Page, Tab};
use super::{base, refusal, same_origin, see_other, Form, Signed};
use crate::api::extract::ApiQuery;
use crate::console_sessions;
use crate::error::{Error, ErrorCode};
use crate::AppState;

fn secure(state: &AppState) -> bool {
    state.config.is_https()
}

fn cookie_name(state: &AppState) -> &'static str {
    if secure(state) {
        "__Host-latchkey_console"
    } else {
        "latchkey_console"
    }
}

fn cookie(state: &AppState, value: &str, max_age: i64) -> HeaderValue {
    let secure = if secure(state) { "; Secure" } else { "" };
    let text = format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}",
        cookie_name(state)
    );
    HeaderValue::from_str(&text).expect("cookie values are tokens")
}

pub fn clear_cookie(state: &AppState) -> HeaderValue {
    cookie(state, "", 0)
}

/// The session token the browser sent, if any.
pub fn token_of(state: &AppState, headers: &HeaderMap) -> Option<String> {
    crate::api::cookies::cookie(headers, cookie_name(state))
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

#[derive(Deserialize)]
pub struct SignInQuery {
    reason: Option<String>,
    next: Option<String>,
}

/// Where to go after signing in: a console path only (never another site).
fn next_path(state: &AppState, next: Option<&str>) -> String {
    let b = base(state);
    match next {
        Some(n) if n.starts_with(&format!("{b}/")) && !n.contains("//") && !n.contains('\\') => n.to_owned(),
        _ => format!("{b}/integrations"),
    }
}

fn sign_in_page(state: &AppState, next: &str, notice: Option<Notice>, status: StatusCode) -> Response {
    let b = base(state);
    let body = format!(
        r#"<div class="narrow"><h1>Sign in</h1>
<p>Sign in with this environment's <strong>secret key</strong> (<code>lk_sk_…</code>; <code>latchkey keys</code> prints it). It is exchanged for a session that ends after {hours} hours or when you sign out; your browser does not keep the key.</p>
<form method="post" action="{b}/sign-in" class="stack">
<input type="hidden" name="next" value="{next}">
<div class="field"><label for="secret_key">Secret key</label><input id="secret_key" name="secret_key" type="password" autocomplete="off" spellcheck="false" required autofocus></div>
<button type="submit">Sign in</button>
</form></div>"#,
        hours = state.config.console_session_ttl.whole_hours().max(1),
        next = crate::api::html::escape(next),
    );
    page::render(
        state,
        None,
        Page::new("Sign in", Tab::None, body).notice(notice).status(status),
    )
}

/// `GET /console/sign-in`.
pub async fn sign_in_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<SignInQuery>,
) -> Response {
    let next = next_path(&state, q.next.as_deref());
    if let Some(token) = token_of(&state, &headers) {
        if console_sessions::find(&state, &token).await.is_ok() {
            return see_other(&next);
        }
    }
    let notice = match q.reason.as_deref() {
        Some("expired") => Some(Notice::Failed("Your session has ended. Sign in again.".into())),
        Some("required") => Some(Notice::Failed("Sign in to continue.".into())),
        Some("signed_out") => Some(Notice::Done("Signed out.")),
        _ => None,
    };
    sign_in_page(&state, &next, notice, StatusCode::OK)
}

/// `POST /console/sign-in`: the secret key for a session cookie.
pub async fn sign_in(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    // A page of another site must not sign this browser in (login CSRF).
    if !same_origin(&state, &headers) {
        let e = Error::forbidden(ErrorCode::CrossOriginRequest, "Sign in from the console's own page.");
        return refusal(&state, &headers, e);
    }
    let form = Form::parse(&body);
    let next = next_path(&state, form.get("next"));
    match console_sessions::sign_in(&state, form.raw("secret_key").unwrap_or("")).await {
        Ok((token, _)) => {
            let mut r = see_other(&next);
            let max_age = state.config.console_session_ttl.whole_seconds();
            r.headers_mut()
                .insert(header::SET_COOKIE, cookie(&state, &token, max_age));
            page::secure(r)
        }
        Err(e) => {
            let status = crate::api::error::status_of(e.kind, e.code);
            sign_in_page(&state, &next, Some(Notice::Failed(e.message)), status)
        }
    }
}

/// `POST /console/sign-out`.
pub async fn sign_out(State(state): State<AppState>, headers: HeaderMap, Extension(_): Extension<Signed>) -> Response {
    if let Some(token) = token_of(&state, &headers) {
        if let Err(e) = console_sessions::sign_out(&state, &token).await {
            return refusal(&state, &headers, e);
        }
    }
    let mut r = see_other(&format!("{}/sign-in?reason=signed_out", base(&state)));
    r.headers_mut().insert(header::SET_COOKIE, clear_cookie(&state));
    page::secure(r)
}
