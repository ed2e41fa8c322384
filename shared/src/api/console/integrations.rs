//! The Integrations tab: the list, the create and edit form (client id,
//! write-only client secret, scopes, custom URLs, any other field of the integration's wire
//! form as JSON), the callback URL to register, and delete with confirmation.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use serde::Deserialize;

use super::catalog::{mode_label, needs};
use super::integration_form::{body_of, form_html, parse, submitted, Values};
use super::page::{self, copyable, csrf_field, notice_of, Notice, Page, Tab};
use super::{base, see_other, Form, Signed};
use crate::api::extract::{ApiPath, ApiQuery};
use crate::api::html::{escape, path_segment, query_value};
use crate::domain::IntegrationKey;
use crate::error::Error;
use crate::integrations;
use crate::providers;
use crate::store::IntegrationRecord;
use crate::AppState;

#[derive(Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

/// The integration of a console path (`{key}`).
pub(super) async fn record_of(state: &AppState, raw: &str) -> Result<IntegrationRecord, Error> {
    let key = IntegrationKey::from_path(raw)?;
    integrations::get(state, &key).await
}

/// The integration's page, with a notice.
fn page_of(state: &AppState, key: &IntegrationKey, notice: &str) -> Response {
    see_other(&format!(
        "{}/integrations/{}?notice={notice}",
        base(state),
        path_segment(key.as_str())
    ))
}

/// `GET /console/integrations`.
pub async fn list(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
    ApiQuery(q): ApiQuery<NoticeQuery>,
) -> Response {
    let b = base(&state);
    let all = match integrations::list(&state).await {
        Ok(all) => all,
        Err(e) => return super::refusal(&state, &Default::default(), e),
    };
    let rows: String = all
        .iter()
        .map(|i| {
            let k = path_segment(i.key.as_str());
            format!(
                r#"<tr><th scope="row"><a href="{b}/integrations/{k}">{}</a><div class="muted">{}</div></th><td>{}</td><td>{}</td><td>{}</td><td><a href="{b}/integrations/{k}/connect">Test connect</a></td></tr>"#,
                escape(i.display_name.as_deref().unwrap_or(i.key.as_str())),
                escape(i.key.as_str()),
                escape(&i.provider),
                mode_label(i.auth_mode),
                page::time_html(i.created_at),
            )
        })
        .collect();
    let table = if all.is_empty() {
        r#"<p class="empty">No integration yet. Pick an API from the catalog to start.</p>"#.to_owned()
    } else {
        format!(
            r#"<div class="table-wrap" role="region" aria-label="Integrations" tabindex="0"><table><thead><tr><th scope="col">Integration</th><th scope="col">Provider</th><th scope="col">Auth mode</th><th scope="col">Created</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead><tbody>{rows}</tbody></table></div>"#
        )
    };
    let body = format!(
        r#"<div class="head"><h1>Integrations</h1><a class="button" href="{b}/catalog">Add an integration</a></div>{table}"#
    );
    page::render(
        &state,
        Some(&signed),
        Page::new("Integrations", Tab::Integrations, body).notice(notice_of(q.notice.as_deref())),
    )
}

fn callback_html(state: &AppState, settings_callback: &str) -> String {
    let _ = state;
    format!(
        r#"<section aria-labelledby="cb"><h2 id="cb">Callback URL</h2><p>Register this redirect URI with the provider:</p><p>{}</p></section>"#,
        copyable("callback-url", settings_callback)
    )
}

async fn callback_url(state: &AppState) -> String {
    match crate::environment::settings(state).await {
        Ok(s) => crate::environment::callback_url(state, &s),
        Err(_) => state.config.callback_url.to_string(),
    }
}

fn provider_title(provider: &str) -> String {
    providers::provider(provider)
        .map(|p| p.display_name.clone())
        .unwrap_or_else(|| "Your own OAuth 2.0 server".into())
}

async fn new_page(
    state: &AppState,
    signed: &Signed,
    provider: &str,
    values: Values,
    notice: Option<Notice>,
    status: StatusCode,
) -> Response {
    let mode = match providers::auth_mode(provider) {
        Ok(m) => m,
        Err(e) => return super::refusal(state, &Default::default(), e),
    };
    let body = format!(
        r#"<h1>New integration: {}</h1><p class="muted"><code>{}</code> · {}</p><div class="columns"><div>{}</div><aside><h2>What each connection needs</h2>{}{}</aside></div>"#,
        escape(&provider_title(provider)),
        escape(provider),
        mode_label(mode),
        form_html(state, signed, provider, mode, &values, false),
        needs(providers::provider(provider)),
        callback_html(state, &callback_url(state).await),
    );
    page::answer(
        state,
        signed,
        Tab::Integrations,
        "New integration",
        body,
        notice,
        status,
    )
}

/// `GET /console/catalog/{provider}`: the new integration's form.
pub async fn new_form(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
    ApiPath(provider): ApiPath<String>,
) -> Response {
    let values = Values {
        unique_key: provider.clone(),
        ..Default::default()
    };
    new_page(&state, &signed, &provider, values, None, StatusCode::OK).await
}

/// `POST /console/integrations`.
pub async fn create(State(state): State<AppState>, Extension(signed): Extension<Signed>, body: Bytes) -> Response {
    let form = Form::parse(&body);
    let provider = form.get("provider").unwrap_or("").to_owned();
    let mode = match providers::auth_mode(&provider) {
        Ok(m) => m,
        Err(e) => return super::refusal(&state, &Default::default(), e),
    };
    let result = match body_of(&form, mode, false).and_then(parse) {
        Ok(input) => integrations::create(&state, input).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(record) => page_of(&state, &record.key, "created"),
        Err(e) => {
            let (notice, status) = super::failure(&e);
            new_page(&state, &signed, &provider, submitted(&form), notice, status).await
        }
    }
}

async fn edit_page(
    state: &AppState,
    signed: &Signed,
    record: &IntegrationRecord,
    values: Values,
    notice: Option<Notice>,
    status: StatusCode,
) -> Response {
    let b = base(state);
    let k = path_segment(record.key.as_str());
    let had_custom = if record.custom.is_some() {
        r#"<input type="hidden" name="had_custom" value="1">"#
    } else {
        ""
    };
    let form = form_html(state, signed, &record.provider, record.auth_mode, &values, true).replacen(
        "<input type=\"hidden\" name=\"provider\"",
        &format!("{had_custom}<input type=\"hidden\" name=\"provider\""),
        1,
    );
    let body = format!(
        r#"<div class="head"><h1>{}</h1><a class="button" href="{b}/integrations/{k}/connect">Test connect</a></div>
<p class="muted"><code>{}</code> · {} · {} · <a href="{b}/connections?integration={q}">Connections</a> · <a href="{b}/activity?integration={q}">Activity</a></p>
<div class="columns"><div><h2>Settings</h2>{form}</div><aside>{}<h2>What each connection needs</h2>{}</aside></div>
<section class="danger" aria-labelledby="del"><h2 id="del">Delete</h2><p>Deleting the integration deletes every connection of it. Type its unique key to confirm.</p>
<form method="post" action="{b}/integrations/{k}/delete" class="inline" data-confirm="Delete this integration and all its connections?">{}<div class="field"><label for="confirm">Unique key</label><input id="confirm" name="confirm" type="text" autocomplete="off" required></div><button type="submit" class="danger">Delete integration</button></form></section>"#,
        escape(record.display_name.as_deref().unwrap_or(record.key.as_str())),
        escape(record.key.as_str()),
        escape(&record.provider),
        mode_label(record.auth_mode),
        callback_html(state, &callback_url(state).await),
        needs(providers::provider(&record.provider)),
        csrf_field(signed),
        q = query_value(record.key.as_str()),
    );
    page::answer(
        state,
        signed,
        Tab::Integrations,
        record.key.to_string(),
        body,
        notice,
        status,
    )
}

/// `GET /console/integrations/{key}`.
pub async fn show(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
    ApiPath(raw): ApiPath<String>,
    ApiQuery(q): ApiQuery<NoticeQuery>,
) -> Response {
    let record = match record_of(&state, &raw).await {
        Ok(r) => r,
        Err(e) => return super::refusal(&state, &Default::default(), e),
    };
    edit_page(
        &state,
        &signed,
        &record,
        Values::of(&record),
        notice_of(q.notice.as_deref()),
        StatusCode::OK,
    )
    .await
}

/// `POST /console/integrations/{key}`.
pub async fn update(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
    ApiPath(raw): ApiPath<String>,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body);
    let record = match record_of(&state, &raw).await {
        Ok(r) => r,
        Err(e) => return super::refusal(&state, &Default::default(), e),
    };
    let result = match body_of(&form, record.auth_mode, true).and_then(parse) {
        Ok(input) => integrations::update(&state, &record.key, input).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(saved) => page_of(&state, &saved.key, "updated"),
        Err(e) => {
            let (notice, status) = super::failure(&e);
            let mut values = submitted(&form);
            values.unique_key = record.key.to_string();
            values.has_secret = record.client_secret.is_some();
            edit_page(&state, &signed, &record, values, notice, status).await
        }
    }
}

/// `POST /console/integrations/{key}/delete`: only with the key typed again.
pub async fn delete(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
    ApiPath(raw): ApiPath<String>,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body);
    let record = match record_of(&state, &raw).await {
        Ok(r) => r,
        Err(e) => return super::refusal(&state, &Default::default(), e),
    };
    if form.get("confirm") != Some(record.key.as_str()) {
        let notice = Notice::Failed("Type the integration's unique key to confirm the delete.".into());
        return edit_page(
            &state,
            &signed,
            &record,
            Values::of(&record),
            Some(notice),
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    match integrations::delete(&state, &record.key).await {
        Ok(()) => see_other(&format!("{}/integrations?notice=deleted", base(&state))),
        Err(e) => super::refusal(&state, &Default::default(), e),
    }
}
