//! The Connections tab: the list (search; filters by integration, end user and errors;
//! paging), and one connection: its config, metadata, end user, tags and problems, its
//! credential fields masked — revealing them is a change of its own, recorded as activity —
//! refresh now, and delete.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Extension;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::page::{self, csrf_field, notice_of, Notice, Page, Tab};
use super::{base, see_other, wants_json, Signed};
use crate::activity::Attempt;
use crate::api::extract::{ApiPath, ApiQuery};
use crate::api::html::{escape, path_segment, query_value};
use crate::api::wire;
use crate::connections::{delete_connection, list_connections, read_connection, read_fresh_connection};
use crate::domain::{ConnectionId, IntegrationKey};
use crate::error::{Error, ErrorCode};
use crate::store::{ConnectionFilter, ConnectionSummary};
use crate::AppState;

const PAGE_SIZE: usize = 50;

#[derive(Deserialize)]
pub struct ListQuery {
    integration: Option<String>,
    end_user: Option<String>,
    q: Option<String>,
    errors: Option<String>,
    page: Option<usize>,
    notice: Option<String>,
}

fn filled(v: &Option<String>) -> Option<String> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
}

/// `GET /console/connections`.
pub async fn list(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Response {
    let b = base(&state);
    let integration = filled(&q.integration);
    let end_user = filled(&q.end_user);
    let search = filled(&q.q);
    let with_errors = q.errors.is_some();
    let page_no = q.page.unwrap_or(0);
    let result = async {
        let integrations = crate::integrations::list(&state).await?;
        let keys = integration
            .iter()
            .map(|k| {
                IntegrationKey::parse(k.as_str()).map_err(|e| Error::invalid(ErrorCode::InvalidQueryParams, e.message))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let filter = ConnectionFilter {
            integrations: keys,
            end_user_id: end_user.clone(),
            search: search.clone(),
            with_errors,
            // One more than shown, to know whether there is a next page.
            limit: PAGE_SIZE + 1,
            offset: page_no * PAGE_SIZE,
            ..Default::default()
        };
        Ok::<_, Error>((integrations, list_connections(&state, &filter).await?))
    }
    .await;
    let (integrations, mut records) = match result {
        Ok(r) => r,
        Err(e) => return super::refusal(&state, &HeaderMap::new(), e),
    };
    let more = records.len() > PAGE_SIZE;
    records.truncate(PAGE_SIZE);
    let options: String = std::iter::once(r#"<option value="">All integrations</option>"#.to_owned())
        .chain(integrations.iter().map(|i| {
            let sel = if integration.as_deref() == Some(i.key.as_str()) {
                " selected"
            } else {
                ""
            };
            format!(r#"<option value="{0}"{sel}>{0}</option>"#, escape(i.key.as_str()))
        }))
        .collect();
    let rows: String = records.iter().map(|r| row(&b, r)).collect();
    let table = if records.is_empty() {
        r#"<p class="empty">No connection matches. Connect one from an integration's Test connect page.</p>"#.to_owned()
    } else {
        format!(
            r#"<div class="table-wrap" role="region" aria-label="Connections" tabindex="0"><table><thead><tr><th scope="col">Connection</th><th scope="col">Integration</th><th scope="col">End user</th><th scope="col">Created</th><th scope="col">Status</th></tr></thead><tbody>{rows}</tbody></table></div>"#
        )
    };
    let link = |n: usize| {
        format!(
            "{b}/connections?integration={}&end_user={}&q={}{}&page={n}",
            query_value(integration.as_deref().unwrap_or("")),
            query_value(end_user.as_deref().unwrap_or("")),
            query_value(search.as_deref().unwrap_or("")),
            if with_errors { "&errors=on" } else { "" }
        )
    };
    let mut pager = String::new();
    if page_no > 0 {
        pager += &format!(r#"<a href="{}" rel="prev">Previous</a> "#, link(page_no - 1));
    }
    if more {
        pager += &format!(r#"<a href="{}" rel="next">Next</a>"#, link(page_no + 1));
    }
    let body = format!(
        r#"<h1>Connections</h1>
<form method="get" action="{b}/connections" class="filters" role="search">
<div class="field"><label for="q">Connection id contains</label><input id="q" name="q" type="search" value="{}"></div>
<div class="field"><label for="integration">Integration</label><select id="integration" name="integration">{options}</select></div>
<div class="field"><label for="end_user">End user id</label><input id="end_user" name="end_user" type="text" value="{}"></div>
<div class="field check"><input id="errors" name="errors" type="checkbox"{}><label for="errors">Only with errors</label></div>
<button type="submit">Filter</button>
</form>{table}<nav class="pager" aria-label="Connection pages">{pager}</nav>"#,
        escape(search.as_deref().unwrap_or("")),
        escape(end_user.as_deref().unwrap_or("")),
        if with_errors { " checked" } else { "" },
    );
    page::render(
        &state,
        Some(&signed),
        Page::new("Connections", Tab::Connections, body).notice(notice_of(q.notice.as_deref())),
    )
}

fn detail_path(b: &str, integration: &IntegrationKey, connection_id: &ConnectionId) -> String {
    format!(
        "{b}/connections/{}/{}",
        path_segment(integration.as_str()),
        path_segment(connection_id.as_str())
    )
}

fn end_user_id(end_user: &Option<Value>) -> &str {
    end_user
        .as_ref()
        .and_then(|u| u.get("id"))
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn row(b: &str, r: &ConnectionSummary) -> String {
    let status = if r.errors.is_empty() {
        r#"<span class="badge ok">OK</span>"#.to_owned()
    } else {
        format!(
            r#"<span class="badge err">{} error{}</span>"#,
            r.errors.len(),
            if r.errors.len() == 1 { "" } else { "s" }
        )
    };
    format!(
        r#"<tr><th scope="row"><a href="{}">{}</a></th><td>{}</td><td>{}</td><td>{}</td><td>{status}</td></tr>"#,
        detail_path(b, &r.integration, &r.connection_id),
        escape(r.connection_id.as_str()),
        escape(r.integration.as_str()),
        escape(end_user_id(&r.end_user)),
        page::time_html(r.created_at),
    )
}

fn ids(integration: &str, id: &str) -> Result<(IntegrationKey, ConnectionId), Error> {
    let key = IntegrationKey::from_path(integration)?;
    Ok((key, ConnectionId::parse(id)?))
}

fn json_block(value: &Value) -> String {
    format!(
        "<pre>{}</pre>",
        escape(&serde_json::to_string_pretty(value).expect("JSON serializes"))
    )
}

fn object_table(caption: &str, map: &Map<String, Value>) -> String {
    if map.is_empty() {
        return format!(r#"<p class="muted">No {}.</p>"#, caption.to_lowercase());
    }
    let rows: String = map
        .iter()
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            format!(
                r#"<tr><th scope="row"><code>{}</code></th><td>{}</td></tr>"#,
                escape(k),
                escape(&v)
            )
        })
        .collect();
    format!(r#"<table class="kv"><caption>{caption}</caption><tbody>{rows}</tbody></table>"#)
}

/// The credential fields with values masked, or shown (`revealed`).
fn credentials_table(creds: &Value, revealed: bool) -> String {
    let rows: String = creds
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| k.as_str() != "type")
        .map(|(k, v)| {
            let shown = match (k.as_str(), v) {
                ("expires_at", Value::String(s)) => escape(s),
                (_, v) if revealed => {
                    let text = match v {
                        Value::String(s) => s.clone(),
                        other => serde_json::to_string(other).expect("JSON serializes"),
                    };
                    format!("<code class=\"secret\">{}</code>", escape(&text))
                }
                ("raw", Value::Object(m)) => format!("<span class=\"masked\">{} fields hidden</span>", m.len()),
                _ => r#"<span class="masked" aria-label="hidden">••••••••</span>"#.to_owned(),
            };
            format!(
                r#"<tr><th scope="row"><code>{}</code></th><td data-field="{}">{shown}</td></tr>"#,
                escape(k),
                escape(k)
            )
        })
        .collect();
    format!(
        r#"<table class="kv" id="credentials"><caption>Credentials ({})</caption><tbody>{rows}</tbody></table>"#,
        escape(creds["type"].as_str().unwrap_or(""))
    )
}

async fn detail_page(
    state: &AppState,
    signed: &Signed,
    integration: &str,
    id: &str,
    revealed: bool,
    notice: Option<Notice>,
) -> Response {
    let b = base(state);
    let result = async {
        let (key, id) = ids(integration, id)?;
        read_connection(state, &key, &id).await
    }
    .await;
    let (record, creds) = match result {
        Ok(r) => r,
        Err(e) => return super::refusal(state, &HeaderMap::new(), e),
    };
    let path = detail_path(&b, &record.integration, &record.connection_id);
    let wire_creds = wire::credentials(&creds, &record.provider, revealed);
    let problems: String = record
        .errors
        .iter()
        .map(|p| {
            format!(
                r#"<li>{}: <a href="{b}/activity?attempt_id={}">what happened</a></li>"#,
                escape(&p.kind),
                query_value(&p.log_id)
            )
        })
        .collect();
    let problems = if problems.is_empty() {
        r#"<p class="muted">No active problem.</p>"#.to_owned()
    } else {
        format!("<ul>{problems}</ul>")
    };
    let end_user = record
        .end_user
        .as_ref()
        .map(json_block)
        .unwrap_or_else(|| r#"<p class="muted">No end user.</p>"#.into());
    let reveal = if revealed {
        r#"<p class="hint">Shown once for you; this reveal is in the activity log. Reload to hide them.</p>"#.to_owned()
    } else {
        format!(
            r#"<form method="post" action="{path}/reveal" class="inline" data-reveal="credentials">{}<button type="submit">Reveal credentials</button> <span class="hint">Recorded in the activity log.</span></form>"#,
            csrf_field(signed)
        )
    };
    let body = format!(
        r#"<h1>Connection <code>{}</code></h1>
<p class="muted">Integration <a href="{b}/integrations/{ik}">{}</a> · {} · {} · <a href="{b}/activity?connection_id={cq}&integration={iq}">Activity</a></p>
<dl class="facts"><div><dt>Created</dt><dd>{}</dd></div><div><dt>Updated</dt><dd>{}</dd></div><div><dt>Credentials obtained</dt><dd>{}</dd></div></dl>
<div class="columns"><div>
<section aria-labelledby="creds-h"><h2 id="creds-h">Credentials</h2>{}{reveal}</section>
<section aria-labelledby="cfg-h"><h2 id="cfg-h">Connection config</h2>{}</section>
<section aria-labelledby="meta-h"><h2 id="meta-h">Metadata</h2>{}</section>
</div><aside>
<section aria-labelledby="user-h"><h2 id="user-h">End user</h2>{end_user}</section>
<section aria-labelledby="tags-h"><h2 id="tags-h">Tags</h2>{}</section>
<section aria-labelledby="err-h"><h2 id="err-h">Problems</h2>{problems}</section>
<section aria-labelledby="act-h"><h2 id="act-h">Actions</h2>
<form method="post" action="{path}/refresh" class="inline">{csrf}<button type="submit">Refresh now</button></form>
<form method="post" action="{path}/delete" class="inline" data-confirm="Delete this connection? Its credentials are gone for good.">{csrf}<button type="submit" class="danger">Delete connection</button></form>
</section></aside></div>"#,
        escape(record.connection_id.as_str()),
        escape(record.integration.as_str()),
        escape(&record.provider),
        record.auth_mode.as_str(),
        page::time_html(record.created_at),
        page::time_html(record.updated_at),
        page::time_html(record.last_fetched_at),
        credentials_table(&wire_creds, revealed),
        object_table("Connection config", &wire::connection_config(&record, revealed)),
        if record.metadata.is_empty() {
            r#"<p class="muted">No metadata.</p>"#.to_owned()
        } else {
            json_block(&Value::Object(record.metadata.clone()))
        },
        object_table("Tags", &record.tags),
        ik = path_segment(record.integration.as_str()),
        iq = query_value(record.integration.as_str()),
        cq = query_value(record.connection_id.as_str()),
        csrf = csrf_field(signed),
    );
    page::render(
        state,
        Some(signed),
        Page::new(format!("Connection {}", record.connection_id), Tab::Connections, body).notice(notice),
    )
}

#[derive(Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

/// `GET /console/connections/{integration}/{id}`.
pub async fn show(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
    ApiPath((integration, id)): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<NoticeQuery>,
) -> Response {
    detail_page(
        &state,
        &signed,
        &integration,
        &id,
        false,
        notice_of(q.notice.as_deref()),
    )
    .await
}

/// `POST /console/connections/{integration}/{id}/reveal`: the credentials, once, recorded.
pub async fn reveal(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
    headers: HeaderMap,
    ApiPath((integration, id)): ApiPath<(String, String)>,
) -> Response {
    let result = async {
        let (key, cid) = ids(&integration, &id)?;
        let (record, creds) = read_connection(&state, &key, &cid).await?;
        Attempt::new("console", Some(key.to_string()), Some(cid.to_string()))
            .info(&state, "credentials_revealed", "Credentials revealed in the console.")
            .await;
        Ok::<_, Error>((record, creds))
    }
    .await;
    match result {
        Ok((record, creds)) if wants_json(&headers) => crate::api::admin::no_store(wire::json(
            serde_json::json!({"credentials": wire::credentials(&creds, &record.provider, true)}),
        )),
        Ok(_) => detail_page(&state, &signed, &integration, &id, true, None).await,
        Err(e) => super::refusal(&state, &headers, e),
    }
}

/// `POST /console/connections/{integration}/{id}/refresh`: the backend's read with
/// `force_refresh`.
pub async fn refresh(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
    ApiPath((integration, id)): ApiPath<(String, String)>,
) -> Response {
    let result = async {
        let (key, cid) = ids(&integration, &id)?;
        let (before, _) = read_connection(&state, &key, &cid).await?;
        let (after, _) = read_fresh_connection(&state, &key, &cid, true).await?;
        Ok::<_, Error>((after.last_fetched_at > before.last_fetched_at, after))
    }
    .await;
    match result {
        Ok((refreshed, record)) => {
            let notice = if refreshed { "refreshed" } else { "not_refreshed" };
            see_other(&format!(
                "{}?notice={notice}",
                detail_path(&base(&state), &record.integration, &record.connection_id)
            ))
        }
        Err(e) if e.kind == crate::error::ErrorKind::NotFound => super::refusal(&state, &HeaderMap::new(), e),
        Err(e) => {
            let text = format!("The refresh failed: {} ({})", e.message, e.code);
            detail_page(&state, &signed, &integration, &id, false, Some(Notice::Failed(text))).await
        }
    }
}

/// `POST /console/connections/{integration}/{id}/delete`.
pub async fn delete(State(state): State<AppState>, ApiPath((integration, id)): ApiPath<(String, String)>) -> Response {
    let result = async {
        let (key, cid) = ids(&integration, &id)?;
        delete_connection(&state, &key, &cid).await
    }
    .await;
    match result {
        Ok(()) => see_other(&format!("{}/connections?notice=connection_deleted", base(&state))),
        Err(e) => super::refusal(&state, &HeaderMap::new(), e),
    }
}
