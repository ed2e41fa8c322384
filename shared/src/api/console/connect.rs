//! Test connect: the real flow with the operator's own account, through the public routes and
//! the frontend SDK (`/demo/latchkey.js`) with the environment's public key — a popup for
//! redirect modes, a form for credential modes — ending in the new connection. The connection
//! config inputs come from the catalog's fields, with the rules the server checks (the script
//! checks them as the person types; the server checks them anyway). With HMAC on, the console
//! computes the digest for the connection id (`digest`), as a team's backend would.
//!
//! Without the script the same form still works: for a redirect mode the console checks it and
//! links to the connect URL; for a credential mode it runs the same flow (`flows::submit`).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde::Deserialize;

use super::integrations::record_of;
use super::page::{self, csrf_field, Notice, Tab};
use super::{base, Form, Signed};
use crate::api::extract::ApiPath;
use crate::api::html::{escape, path_segment, query_value};
use crate::api::wire;
use crate::auth::Submission;
use crate::domain::{AuthMode, ConnectionId, IntegrationKey, Secret};
use crate::error::Error;
use crate::flows::start::ConnectRequest;
use crate::providers::schema::FieldSpec;
use crate::store::IntegrationRecord;
use crate::AppState;

/// The credential fields a mode's form asks for: (submitted name, label, input type). Modes
/// whose fields are the catalog's (two-step) ask for the entry's, secret ones hidden.
fn credential_fields(record: &IntegrationRecord) -> Vec<(String, String, &'static str)> {
    let mut fixed: Vec<(&str, &str, &'static str)> = match record.auth_mode {
        AuthMode::ApiKey => vec![("apiKey", "API key", "password")],
        AuthMode::Basic => vec![("username", "User name", "text"), ("password", "Password", "password")],
        AuthMode::Signature => vec![("username", "User name", "text"), ("password", "Secret", "password")],
        AuthMode::Bill => vec![
            ("username", "User name", "text"),
            ("password", "Password", "password"),
            ("organization_id", "Organization id", "text"),
            ("dev_key", "Developer key", "password"),
        ],
        AuthMode::OAuth2Cc => vec![
            ("client_id", "Client id (empty: the integration's own)", "text"),
            ("client_secret", "Client secret", "password"),
        ],
        _ => Vec::new(),
    };
    let scheme = crate::auth::scheme(record.auth_mode);
    if record.auth_mode == AuthMode::OAuth2Cc
        && scheme.is_some_and(|s| s.form_fields(record).contains(&"client_certificate"))
    {
        fixed.extend([
            ("client_certificate", "TLS client certificate (PEM)", "text"),
            ("client_private_key", "TLS client private key (PEM)", "password"),
        ]);
    }
    if !fixed.is_empty() {
        return fixed
            .iter()
            .map(|(n, l, k)| (n.to_string(), l.to_string(), *k))
            .collect();
    }
    let Some(scheme) = scheme else {
        return Vec::new();
    };
    let entry = crate::providers::provider(&record.provider);
    scheme
        .form_fields(record)
        .into_iter()
        .map(|name| {
            let spec = entry.and_then(|p| {
                p.credentials
                    .as_ref()
                    .and_then(|c| c.get(name))
                    .or_else(|| p.assertion_option.as_ref().and_then(|c| c.get(name)))
            });
            let kind = if spec.is_some_and(|s| s.secret == Some(true)) {
                "password"
            } else {
                "text"
            };
            (name.to_owned(), name.to_owned(), kind)
        })
        .collect()
}

fn config_input(name: &str, spec: &FieldSpec) -> String {
    let id = format!("p-{name}");
    let mut data = String::new();
    let mut attr = |k: &str, v: &Option<String>| {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            data += &format!(r#" data-{k}="{}""#, escape(v));
        }
    };
    attr("pattern", &spec.pattern);
    attr("prefix", &spec.prefix);
    attr("suffix", &spec.suffix);
    attr("format", &spec.format.map(|f| format!("{f:?}").to_lowercase()));
    let required = if spec.required() { " required" } else { "" };
    let label = format!("{name}{}", if spec.required() { "" } else { " (optional)" });
    let hint = spec
        .example
        .as_ref()
        .map(|e| format!("For example {e}."))
        .or_else(|| spec.default_value.as_ref().map(|d| format!("Default: {d}.")));
    let described = hint
        .as_ref()
        .map(|_| format!(r#" aria-describedby="{id}-hint""#))
        .unwrap_or_default();
    let hint = hint
        .map(|h| format!(r#"<span class="hint" id="{id}-hint">{}</span>"#, escape(&h)))
        .unwrap_or_default();
    let control = match &spec.allowed {
        Some(values) => {
            let options: String = values
                .iter()
                .map(|v| format!(r#"<option>{}</option>"#, escape(v)))
                .collect();
            format!(
                r#"<select id="{id}" name="params[{n}]"{required}{described}><option value=""></option>{options}</select>"#,
                n = escape(name)
            )
        }
        None => format!(
            r#"<input id="{id}" name="params[{n}]" type="text" autocomplete="off" spellcheck="false"{required}{described}{data} data-config-field>"#,
            n = escape(name)
        ),
    };
    format!(
        r#"<div class="field"><label for="{id}">{}</label>{hint}{control}<span class="error" id="{id}-error" aria-live="polite"></span></div>"#,
        escape(&label)
    )
}

async fn hmac_for(
    state: &AppState,
    integration: &IntegrationKey,
    connection_id: &str,
) -> Result<Option<String>, Error> {
    let settings = crate::environment::settings(state).await?;
    if !settings.hmac_enabled {
        return Ok(None);
    }
    let keys = state.keys.current(state.clock.now()).await;
    Ok(Some(crate::signing::connect_digest(
        keys.hmac_key.expose(),
        integration.as_str(),
        Some(connection_id),
    )))
}

fn test_connection_id() -> String {
    format!("console-test-{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

async fn connect_page(
    state: &AppState,
    signed: &Signed,
    record: &IntegrationRecord,
    result: Option<String>,
    notice: Option<Notice>,
    status: StatusCode,
) -> Response {
    let b = base(state);
    let k = path_segment(record.key.as_str());
    let connection_id = test_connection_id();
    let hmac = match hmac_for(state, &record.key, &connection_id).await {
        Ok(h) => h.unwrap_or_default(),
        Err(e) => return super::refusal(state, &Default::default(), e),
    };
    let keys = state.keys.current(state.clock.now()).await;
    let specs = crate::providers::provider(&record.provider).and_then(|p| p.connection_config.as_ref());
    let config: String = specs
        .into_iter()
        .flatten()
        .filter(|(_, s)| !s.automated.unwrap_or(false))
        .map(|(n, s)| config_input(n, s))
        .collect();
    let config = if config.is_empty() {
        String::new()
    } else {
        format!("<fieldset><legend>Connection config</legend>{config}</fieldset>")
    };
    let creds: String = credential_fields(record)
        .iter()
        .map(|(name, label, kind)| {
            let (name, label) = (escape(name), escape(label));
            let required = if name == "client_id" || record.auth_mode == AuthMode::OAuth2Cc { "" } else { " required" };
            format!(
                r#"<div class="field"><label for="c-{name}">{label}</label><input id="c-{name}" name="credentials[{name}]" type="{kind}" autocomplete="off"{required} data-credential="{name}"></div>"#
            )
        })
        .collect();
    let creds = if creds.is_empty() {
        String::new()
    } else {
        format!("<fieldset><legend>Your credentials</legend>{creds}</fieldset>")
    };
    let redirect = crate::auth::redirect_modes().contains(&record.auth_mode);
    let how = if redirect {
        "A popup opens at the provider: sign in with your own account and allow access. The connection appears below when the provider sends you back."
    } else {
        "Latchkey sends these credentials to the provider's verification call and stores them only when the provider accepts them."
    };
    let host = state.config.public_url.as_str().trim_end_matches('/');
    let body = format!(
        r#"<h1>Test connect: {name}</h1>
<p>{how}</p>
<form method="post" action="{b}/integrations/{k}/connect" class="stack" id="test-connect" novalidate
 data-host="{host}" data-public-key="{pk}" data-integration="{key}" data-mode="{mode}" data-hmac="{hmac}" data-digest-url="{b}/integrations/{k}/connect/digest" data-connection-url="{b}/connections/{k}/">
{csrf}
<div class="field"><label for="connection_id">Connection id</label><span class="hint" id="connection_id-hint">A fresh id for this test; your code usually passes its own user's id.</span><input id="connection_id" name="connection_id" type="text" value="{connection_id}" required maxlength="255" aria-describedby="connection_id-hint" pattern="[A-Za-z0-9._:@|+\-]+"></div>
{config}{creds}
<button type="submit" id="connect-button">Connect</button>
</form>
<div id="connect-result" class="result" aria-live="polite">{result}</div>
<p><a href="{b}/integrations/{k}">Back to the integration</a></p>"#,
        name = escape(record.display_name.as_deref().unwrap_or(record.key.as_str())),
        pk = escape(&keys.public_key),
        key = escape(record.key.as_str()),
        mode = record.auth_mode.as_str(),
        csrf = csrf_field(signed),
        result = result.unwrap_or_default(),
    );
    page::answer(state, signed, Tab::Integrations, "Test connect", body, notice, status)
}

/// `GET /console/integrations/{key}/connect`.
pub async fn page(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
    ApiPath(raw): ApiPath<String>,
) -> Response {
    match record_of(&state, &raw).await {
        Ok(record) => connect_page(&state, &signed, &record, None, None, StatusCode::OK).await,
        Err(e) => super::refusal(&state, &Default::default(), e),
    }
}

#[derive(Deserialize)]
pub struct DigestBody {
    connection_id: String,
}

/// `POST /console/integrations/{key}/connect/digest` (JSON): the HMAC digest for a connection
/// id, when the environment requires one (`null` otherwise).
pub async fn digest(State(state): State<AppState>, ApiPath(raw): ApiPath<String>, body: Bytes) -> Response {
    let result = async {
        let record = record_of(&state, &raw).await?;
        let body: DigestBody =
            serde_json::from_slice(&body).map_err(|_| Error::invalid_body("Send {\"connection_id\": …}."))?;
        let id = ConnectionId::parse(body.connection_id)?;
        hmac_for(&state, &record.key, id.as_str()).await
    }
    .await;
    match result {
        Ok(hmac) => wire::json(serde_json::json!({ "hmac": hmac })),
        Err(e) => crate::api::error::ApiError::from(e).into_response(),
    }
}

fn outcome_html(state: &AppState, integration: &str, connection_id: &str) -> String {
    format!(
        r#"<p class="notice ok" role="status">Connected: <a href="{}/connections/{}/{}">connection {}</a>.</p>"#,
        base(state),
        path_segment(integration),
        path_segment(connection_id),
        escape(connection_id)
    )
}

async fn failed(state: &AppState, signed: &Signed, record: &IntegrationRecord, e: Error) -> Response {
    let (notice, status) = super::failure(&e);
    connect_page(state, signed, record, None, notice, status).await
}

/// `POST /console/integrations/{key}/connect`: the form without the script.
pub async fn submit(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
    ApiPath(raw): ApiPath<String>,
    body: Bytes,
) -> Response {
    let record = match record_of(&state, &raw).await {
        Ok(r) => r,
        Err(e) => return super::refusal(&state, &Default::default(), e),
    };
    let form = Form::parse(&body);
    let connection_id = form.get("connection_id").unwrap_or("").to_owned();
    let hmac = match hmac_for(&state, &record.key, &connection_id).await {
        Ok(h) => h,
        Err(e) => return super::refusal(&state, &Default::default(), e),
    };
    let keys = state.keys.current(state.clock.now()).await;
    let params = form.prefixed("params");
    if crate::auth::redirect_modes().contains(&record.auth_mode) {
        // Checked here so the person learns of a bad field before leaving; the connect route
        // checks it again.
        let config = params
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        if let Err(e) = crate::providers::validate_connection_config(&record.provider, &config) {
            return failed(&state, &signed, &record, e).await;
        }
        let mut url = format!(
            "{}/oauth/connect/{}?public_key={}&connection_id={}",
            state.config.public_url.as_str().trim_end_matches('/'),
            path_segment(record.key.as_str()),
            query_value(&keys.public_key),
            query_value(&connection_id)
        );
        if let Some(h) = &hmac {
            url += &format!("&hmac={h}");
        }
        for (k, v) in &params {
            url += &format!("&params%5B{}%5D={}", query_value(k), query_value(v));
        }
        let link = format!(
            r#"<p>Checked. <a href="{}" target="_blank" rel="opener">Continue at the provider</a> (a new window), then find the connection under <a href="{}/connections?integration={}">Connections</a>.</p>"#,
            escape(&url),
            base(&state),
            query_value(record.key.as_str())
        );
        return connect_page(&state, &signed, &record, Some(link), None, StatusCode::OK).await;
    }
    let mut submission = Submission::default();
    for (name, _, _) in credential_fields(&record) {
        submission = submission.with(&name, form.raw(&format!("credentials[{name}]")).map(Secret::new));
    }
    let request = ConnectRequest {
        connection_id: Some(connection_id),
        public_key: Some(keys.public_key.clone()),
        hmac,
        params,
        ..Default::default()
    };
    let settings = match crate::environment::settings(&state).await {
        Ok(s) => s,
        Err(e) => return failed(&state, &signed, &record, e).await,
    };
    match crate::flows::submit::submit(&state, &settings, &request, &record.key, record.auth_mode, submission).await {
        Ok(connected) => {
            let html = outcome_html(&state, connected.integration.as_str(), connected.connection_id.as_str());
            connect_page(&state, &signed, &record, Some(html), None, StatusCode::OK).await
        }
        Err(e) => failed(&state, &signed, &record, e).await,
    }
}
