//! The console's layout (`shared/assets/console/layout.html`) and the headers of every page:
//! a strict Content-Security-Policy (scripts and styles from this origin only, no inline code,
//! no framing), no caching, no referrer beyond this origin.

use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{base, Signed};
use crate::api::html::escape;
use crate::AppState;

const LAYOUT: &str = include_str!("../../../assets/console/layout.html");

/// `connect-src 'self'`: the script's own calls and the SDK's (`/api-auth/…`, polling).
/// `form-action 'self'`: forms post to the console only. The OAuth popup of a test connect is a
/// window of its own, outside this page's policy.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Integrations,
    Connections,
    Activity,
    Environment,
    None,
}

/// A message shown once at the top of a page: after a redirect (`?notice=<code>`), or beside a
/// refused form.
#[derive(Debug, Clone)]
pub enum Notice {
    Done(&'static str),
    Failed(String),
}

/// The text of a `?notice=` code; unknown codes show nothing (no text comes from the URL).
pub fn notice_of(code: Option<&str>) -> Option<Notice> {
    let text = match code? {
        "created" => "Integration created.",
        "updated" => "Integration saved.",
        "deleted" => "Integration deleted, with its connections.",
        "connection_deleted" => "Connection deleted.",
        "refreshed" => "Credentials refreshed from the provider.",
        "not_refreshed" => "Nothing to refresh: this connection's credentials are read as stored (OAuth2 refresh comes with automatic refresh).",
        "saved" => "Settings saved.",
        "rotated" => "Keys rotated. Copy the new values now: they are not shown again.",
        _ => return None,
    };
    Some(Notice::Done(text))
}

pub struct Page {
    pub title: String,
    pub tab: Tab,
    pub body: String,
    pub notice: Option<Notice>,
    pub status: StatusCode,
}

impl Page {
    pub fn new(title: impl Into<String>, tab: Tab, body: String) -> Self {
        Self {
            title: title.into(),
            tab,
            body,
            notice: None,
            status: StatusCode::OK,
        }
    }
    pub fn notice(mut self, notice: Option<Notice>) -> Self {
        self.notice = notice;
        self
    }
    pub fn status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }
}

fn nav(state: &AppState, current: Tab) -> String {
    let b = base(state);
    [
        (Tab::Integrations, "integrations", "Integrations"),
        (Tab::Connections, "connections", "Connections"),
        (Tab::Activity, "activity", "Activity"),
        (Tab::Environment, "environment", "Environment"),
    ]
    .iter()
    .map(|(tab, path, label)| {
        let here = if *tab == current { r#" aria-current="page""# } else { "" };
        format!(r#"<a href="{b}/{path}"{here}>{label}</a>"#)
    })
    .collect()
}

fn notice_html(notice: &Option<Notice>) -> String {
    match notice {
        None => String::new(),
        Some(Notice::Done(text)) => format!(r#"<p class="notice ok" role="status">{}</p>"#, escape(text)),
        Some(Notice::Failed(text)) => format!(r#"<p class="notice err" role="alert">{}</p>"#, escape(text)),
    }
}

/// Sets the headers every console answer carries.
pub fn secure(mut r: Response) -> Response {
    let h = r.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, name: HeaderName, value: &'static str| {
        h.insert(name, HeaderValue::from_static(value));
    };
    set(h, header::CONTENT_SECURITY_POLICY, CSP);
    set(h, header::CACHE_CONTROL, "no-store");
    set(h, header::REFERRER_POLICY, "same-origin");
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    // The test-connect popup stays reachable (`allow-popups`), other windows are kept apart.
    set(
        h,
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin-allow-popups",
    );
    r
}

/// The page inside the layout. `signed` is `None` on the sign-in page (no navigation).
pub fn render(state: &AppState, signed: Option<&Signed>, page: Page) -> Response {
    let b = base(state);
    let (nav, signout, csrf) = match signed {
        Some(s) => (
            nav(state, page.tab),
            format!(
                r#"<form method="post" action="{b}/sign-out" class="signout"><input type="hidden" name="csrf" value="{}"><button type="submit" class="link">Sign out</button></form>"#,
                s.csrf
            ),
            s.csrf.clone(),
        ),
        None => (String::new(), String::new(), String::new()),
    };
    let html = LAYOUT
        .replace("{{title}}", &escape(&page.title))
        .replace("{{base}}", &b)
        .replace("{{csrf}}", &csrf)
        .replace("{{environment}}", &escape(&state.config.environment))
        .replace("{{nav}}", &nav)
        .replace("{{signout}}", &signout)
        .replace("{{notice}}", &notice_html(&page.notice))
        .replace("{{main}}", &page.body);
    let mut r = (page.status, html).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure(r)
}

/// A signed-in page with an outcome: the notice of a form's result and its status.
pub fn answer(
    state: &AppState,
    signed: &Signed,
    tab: Tab,
    title: impl Into<String>,
    body: String,
    notice: Option<Notice>,
    status: StatusCode,
) -> Response {
    render(
        state,
        Some(signed),
        Page::new(title, tab, body).notice(notice).status(status),
    )
}

/// A date as the console shows it: UTC to the second.
pub fn when(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// A `<time>` element with the machine-readable date.
pub fn time_html(t: time::OffsetDateTime) -> String {
    format!(r#"<time datetime="{}">{}</time>"#, crate::time_fmt::rfc3339(t), when(t))
}

/// A labelled text input. `hint` goes under the label (`aria-describedby`).
pub fn input(name: &str, label: &str, value: &str, kind: &str, hint: Option<&str>, extra: &str) -> String {
    let id = format!("f-{}", name.replace(['[', ']'], "-"));
    let (hint_html, described) = match hint {
        Some(h) => (
            format!(r#"<span class="hint" id="{id}-hint">{}</span>"#, escape(h)),
            format!(r#" aria-describedby="{id}-hint""#),
        ),
        None => (String::new(), String::new()),
    };
    format!(
        r#"<div class="field"><label for="{id}">{}</label>{hint_html}<input id="{id}" name="{}" type="{kind}" value="{}"{described} {extra}></div>"#,
        escape(label),
        escape(name),
        escape(value)
    )
}

/// The hidden CSRF field of a form.
pub fn csrf_field(signed: &Signed) -> String {
    format!(r#"<input type="hidden" name="csrf" value="{}">"#, signed.csrf)
}

/// A value with a copy button (the script copies `data-copy`'s target).
pub fn copyable(id: &str, value: &str) -> String {
    format!(
        r#"<span class="copyable"><code id="{id}">{}</code> <button type="button" class="small" data-copy="{id}">Copy</button></span>"#,
        escape(value)
    )
}
