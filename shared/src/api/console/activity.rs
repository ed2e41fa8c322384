//! The Activity tab: entries grouped by attempt (an auth attempt, a console action, a settings
//! change), filtered as `GET /logs` filters them, each failure with its error code and the
//! provider's message, newest first, paged by cursor; links to the connection of an attempt.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Extension;

use super::page::{self, Page, Tab};
use super::{base, Signed};
use crate::api::admin::LogsQuery;
use crate::api::extract::ApiQuery;
use crate::api::html::{escape, path_segment, query_value};
use crate::store::{ActivityEntry, ActivityLevel};
use crate::AppState;

const PAGE_SIZE: usize = 50;

/// The form's `datetime-local` values are UTC without a zone; the API's are RFC 3339.
fn as_rfc3339(value: &Option<String>) -> Option<String> {
    let v = value.as_deref().map(str::trim).filter(|v| !v.is_empty())?;
    if v.ends_with('Z') || v.contains('+') {
        return Some(v.to_owned());
    }
    Some(match v.len() {
        16 => format!("{v}:00Z"),
        _ => format!("{v}Z"),
    })
}

fn select(name: &str, label: &str, current: Option<&str>, options: &[(&str, &str)]) -> String {
    let opts: String = options
        .iter()
        .map(|(value, text)| {
            let sel = if current.unwrap_or("") == *value {
                " selected"
            } else {
                ""
            };
            format!(r#"<option value="{value}"{sel}>{text}</option>"#)
        })
        .collect();
    format!(
        r#"<div class="field"><label for="{name}">{label}</label><select id="{name}" name="{name}">{opts}</select></div>"#
    )
}

fn attempt_html(b: &str, entries: &[&ActivityEntry]) -> String {
    let first = entries[0];
    let failed = entries.iter().any(|e| e.level == ActivityLevel::Error);
    let outcome = if failed {
        r#"<span class="badge err">Failed</span>"#
    } else {
        r#"<span class="badge ok">OK</span>"#
    };
    let about = match (&first.integration, &first.connection_id) {
        (Some(i), Some(c)) => format!(
            r#" · <a href="{b}/connections/{}/{}">{}</a> of {}"#,
            path_segment(i),
            path_segment(c),
            escape(c),
            escape(i)
        ),
        (Some(i), None) => format!(" · {}", escape(i)),
        _ => String::new(),
    };
    let steps: String = entries
        .iter()
        .rev()
        .map(|e| {
            let code = e
                .error_code
                .as_ref()
                .map(|c| format!(r#" <code class="code">{}</code>"#, escape(c)))
                .unwrap_or_default();
            let class = if e.level == ActivityLevel::Error {
                " class=\"err\""
            } else {
                ""
            };
            format!(
                r#"<li{class}>{} <strong>{}</strong>{code}: {}</li>"#,
                page::time_html(e.timestamp),
                escape(&e.event),
                escape(&e.message)
            )
        })
        .collect();
    format!(
        r#"<li class="attempt"><h2 class="h3">{} {outcome}{about}</h2><p class="muted">Attempt <a href="{b}/activity?attempt_id={}"><code>{}</code></a></p><ol class="steps">{steps}</ol></li>"#,
        escape(&first.operation),
        query_value(&first.attempt_id),
        escape(&first.attempt_id),
    )
}

/// Entries of one page grouped by attempt, in the order each attempt first appears.
fn grouped(entries: &[ActivityEntry]) -> Vec<Vec<&ActivityEntry>> {
    let mut groups: Vec<Vec<&ActivityEntry>> = Vec::new();
    for e in entries {
        match groups.iter_mut().find(|g| g[0].attempt_id == e.attempt_id) {
            Some(g) => g.push(e),
            None => groups.push(vec![e]),
        }
    }
    groups
}

/// `GET /console/activity`.
pub async fn page(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
    ApiQuery(q): ApiQuery<LogsQuery>,
) -> Response {
    let b = base(&state);
    let query = LogsQuery {
        since: as_rfc3339(&q.since),
        until: as_rfc3339(&q.until),
        limit: Some(PAGE_SIZE),
        ..q.clone()
    };
    let result = async {
        let request = query.clone().parse()?;
        crate::activity::page(&state, request.filter, request.cursor, request.until).await
    }
    .await;
    let page = match result {
        Ok(p) => p,
        Err(e) => return super::refusal(&state, &HeaderMap::new(), e),
    };
    let value = |v: &Option<String>| escape(v.as_deref().unwrap_or(""));
    let local = |v: &Option<String>| escape(v.as_deref().unwrap_or("").trim_end_matches('Z'));
    let attempt = q
        .attempt_id
        .as_ref()
        .map(|a| format!(r#"<input type="hidden" name="attempt_id" value="{}">"#, escape(a)))
        .unwrap_or_default();
    let groups: String = grouped(&page.entries).iter().map(|g| attempt_html(&b, g)).collect();
    let list = if groups.is_empty() {
        r#"<p class="empty">No activity matches.</p>"#.to_owned()
    } else {
        format!(r#"<ol class="attempts">{groups}</ol>"#)
    };
    let filters = |cursor: Option<&str>| {
        let mut link = format!(
            "{b}/activity?connection_id={}&integration={}&operation={}&level={}&since={}&until={}",
            query_value(q.connection_id.as_deref().unwrap_or("")),
            query_value(q.integration.as_deref().unwrap_or("")),
            query_value(q.operation.as_deref().unwrap_or("")),
            query_value(q.level.as_deref().unwrap_or("")),
            query_value(q.since.as_deref().unwrap_or("")),
            query_value(q.until.as_deref().unwrap_or("")),
        );
        if let Some(a) = &q.attempt_id {
            link += &format!("&attempt_id={}", query_value(a));
        }
        if let Some(c) = cursor {
            link += &format!("&cursor={c}");
        }
        link
    };
    let mut pager = String::new();
    if q.cursor.is_some() {
        pager += &format!(r#"<a href="{}">Newest</a> "#, filters(None));
    }
    if let Some(next) = &page.next {
        pager += &format!(
            r#"<a href="{}" rel="next">Older</a>"#,
            filters(Some(&crate::activity::cursor_token(next)))
        );
    }
    let body = format!(
        r#"<h1>Activity</h1>
<form method="get" action="{b}/activity" class="filters" role="search">{attempt}
<div class="field"><label for="connection_id">Connection id</label><input id="connection_id" name="connection_id" type="text" value="{}"></div>
<div class="field"><label for="integration">Integration</label><input id="integration" name="integration" type="text" value="{}"></div>
{}{}
<div class="field"><label for="since">From (UTC)</label><input id="since" name="since" type="datetime-local" step="1" value="{}"></div>
<div class="field"><label for="until">Until (UTC)</label><input id="until" name="until" type="datetime-local" step="1" value="{}"></div>
<button type="submit">Filter</button>
</form>{list}<nav class="pager" aria-label="Activity pages">{pager}</nav>"#,
        value(&q.connection_id),
        value(&q.integration),
        select(
            "operation",
            "Operation",
            q.operation.as_deref(),
            &[
                ("", "Any"),
                ("auth", "Connect (auth)"),
                ("refresh", "Refresh"),
                ("webhook", "Webhook"),
                ("console", "Console"),
                ("environment", "Environment")
            ]
        ),
        select(
            "level",
            "Status",
            q.level.as_deref(),
            &[("", "Any"), ("error", "Failures"), ("info", "Steps that worked")]
        ),
        local(&q.since),
        local(&q.until),
    );
    page::render(&state, Some(&signed), Page::new("Activity", Tab::Activity, body))
}
