//! The Integrations tab: the list, the searchable catalog, the create and edit form (client id,
//! write-only client secret, scopes, custom URLs, any other field of the integration's wire
//! form as JSON), the callback URL to register, and delete with confirmation.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::page::{self, copyable, csrf_field, input, notice_of, Notice, Page, Tab};
use super::{base, see_other, Form, Signed};
use crate::api::html::{escape, path_segment, query_value};
use crate::api::wire;
use crate::domain::{AuthMode, IntegrationKey};
use crate::error::Error;
use crate::integrations;
use crate::providers::{self, catalog, schema::Provider, CUSTOM_OAUTH2};
use crate::store::IntegrationRecord;
use crate::AppState;

const CATALOG_PAGE: usize = 48;

#[derive(Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

fn key_of(raw: &str) -> Result<IntegrationKey, Error> {
    IntegrationKey::parse(raw).map_err(|_| Error::unknown_integration(raw))
}

fn mode_label(mode: AuthMode) -> &'static str {
    match mode {
        AuthMode::OAuth2 => "OAuth 2.0",
        AuthMode::OAuth2Cc => "OAuth 2.0 client credentials",
        AuthMode::ApiKey => "API key",
        AuthMode::Basic => "Basic (user name and password)",
        other => other.as_str(),
    }
}

/// Modes whose integration carries a client id and secret.
fn has_client(mode: AuthMode) -> bool {
    matches!(mode, AuthMode::OAuth2 | AuthMode::OAuth2Cc)
}

/// `GET /console/integrations`.
pub async fn list(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
    Query(q): Query<NoticeQuery>,
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

#[derive(Deserialize)]
pub struct CatalogQuery {
    q: Option<String>,
    category: Option<String>,
    page: Option<usize>,
}

fn matches(p: &Provider, needle: &str, category: &str) -> bool {
    (needle.is_empty() || p.name.to_lowercase().contains(needle) || p.display_name.to_lowercase().contains(needle))
        && (category.is_empty() || p.categories.iter().any(|c| c == category))
}

/// `GET /console/catalog`: the catalog, searched and filtered on the server (the
/// script re-runs the same search as the person types).
pub async fn catalog_page(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
    Query(q): Query<CatalogQuery>,
) -> Response {
    let b = base(&state);
    let needle = q.q.clone().unwrap_or_default().trim().to_lowercase();
    let category = q.category.clone().unwrap_or_default();
    let found: Vec<&Provider> = catalog()
        .providers
        .iter()
        .filter(|p| matches(p, &needle, &category))
        .collect();
    let page_no = q.page.unwrap_or(0);
    let shown = found.iter().skip(page_no * CATALOG_PAGE).take(CATALOG_PAGE);
    let cards: String = shown
        .map(|p| {
            let supported = crate::auth::scheme(p.auth_mode).is_some();
            let action = if supported {
                format!(r#"<a href="{b}/catalog/{}">Configure<span class="sr-only"> {}</span></a>"#, path_segment(&p.name), escape(&p.display_name))
            } else {
                r#"<span class="muted">Not supported yet</span>"#.to_owned()
            };
            format!(
                r#"<li class="card"><h2 class="h3">{}</h2><p class="muted"><code>{}</code> · {}</p><p class="muted">{}</p>{action}</li>"#,
                escape(&p.display_name),
                escape(&p.name),
                mode_label(p.auth_mode),
                escape(&p.categories.join(", ")),
            )
        })
        .collect();
    let mut categories: Vec<&str> = catalog()
        .providers
        .iter()
        .flat_map(|p| p.categories.iter().map(String::as_str))
        .collect();
    categories.sort_unstable();
    categories.dedup();
    let options: String = std::iter::once(r#"<option value="">All categories</option>"#.to_owned())
        .chain(categories.iter().map(|c| {
            let sel = if *c == category { " selected" } else { "" };
            format!(r#"<option value="{0}"{sel}>{0}</option>"#, escape(c))
        }))
        .collect();
    let pages = found.len().div_ceil(CATALOG_PAGE);
    let link = |n: usize| {
        format!(
            "{b}/catalog?q={}&category={}&page={n}",
            query_value(&needle),
            query_value(&category)
        )
    };
    let mut pager = String::new();
    if page_no > 0 {
        pager += &format!(r#"<a href="{}" rel="prev">Previous</a> "#, link(page_no - 1));
    }
    if page_no + 1 < pages {
        pager += &format!(r#"<a href="{}" rel="next">Next</a>"#, link(page_no + 1));
    }
    let body = format!(
        r#"<h1>Add an integration</h1>
<form method="get" action="{b}/catalog" class="filters" role="search" data-live-search="catalog-results">
<div class="field"><label for="q">Search the catalog</label><input id="q" name="q" type="search" value="{}" autocomplete="off"></div>
<div class="field"><label for="category">Category</label><select id="category" name="category">{options}</select></div>
<button type="submit">Search</button>
</form>
<p><a href="{b}/catalog/{CUSTOM_OAUTH2}">Your own OAuth 2.0 server</a> (<code>{CUSTOM_OAUTH2}</code>: you give its authorization and token URLs).</p>
<div id="catalog-results" aria-live="polite"><p class="muted">{} of {} APIs{}</p><ul class="cards">{cards}</ul><nav class="pager" aria-label="Catalog pages">{pager}</nav></div>"#,
        escape(&needle),
        found.len(),
        catalog().providers.len(),
        if pages > 1 {
            format!(", page {} of {pages}", page_no + 1)
        } else {
            String::new()
        },
    );
    page::render(
        &state,
        Some(&signed),
        Page::new("Add an integration", Tab::Integrations, body),
    )
}

/// What the provider asks of each connection: the connection config fields (with the rules
/// the server checks) and the credential fields of its mode.
pub fn needs(provider: Option<&Provider>) -> String {
    let Some(p) = provider else {
        return "<p>Each connection needs only the OAuth authorization.</p>".to_owned();
    };
    let describe = |name: &str, spec: &crate::providers::schema::FieldSpec| {
        let mut rules = Vec::new();
        if let Some(pattern) = &spec.pattern {
            rules.push(format!("pattern <code>{}</code>", escape(pattern)));
        }
        if let Some(format) = spec.format {
            rules.push(format!("format {}", escape(&format!("{format:?}").to_lowercase())));
        }
        if let Some(values) = &spec.allowed {
            rules.push(format!("one of {}", escape(&values.join(", "))));
        }
        if let Some(example) = &spec.example {
            rules.push(format!("e.g. <code>{}</code>", escape(example)));
        }
        let required = if spec.required() { "required" } else { "optional" };
        format!(
            "<li><code>{}</code> ({required}){}{}</li>",
            escape(name),
            if rules.is_empty() { "" } else { ": " },
            rules.join("; ")
        )
    };
    let list = |fields: Option<&crate::providers::schema::Fields>, automated: bool| -> String {
        fields
            .into_iter()
            .flatten()
            .filter(|(_, s)| s.automated.unwrap_or(false) == automated)
            .map(|(n, s)| describe(n, s))
            .collect()
    };
    let config = list(p.connection_config.as_ref(), false);
    let creds = list(p.credentials.as_ref(), false);
    let mut out = String::new();
    out += &if config.is_empty() {
        "<p>No connection config: every connection uses the same URLs.</p>".to_owned()
    } else {
        format!("<p>Connection config each end user gives (checked before anything is stored or redirected):</p><ul>{config}</ul>")
    };
    if !creds.is_empty() {
        out += &format!("<p>Credential fields:</p><ul>{creds}</ul>");
    }
    out
}

/// The form's current values: from the record being edited, or what was submitted.
#[derive(Default)]
struct Values {
    unique_key: String,
    display_name: String,
    client_id: String,
    scopes: String,
    custom: Map<String, Value>,
    extra: String,
    has_secret: bool,
}

impl Values {
    fn of(record: &IntegrationRecord) -> Self {
        let wire = serde_json::to_value(wire::Integration::new(record)).expect("wire objects serialize");
        Values {
            unique_key: record.key.to_string(),
            display_name: record.display_name.clone().unwrap_or_default(),
            client_id: record.client_id.clone().unwrap_or_default(),
            scopes: record.scopes.join(","),
            custom: wire["custom"].as_object().cloned().unwrap_or_default(),
            extra: extra_fields(&wire),
            has_secret: record.client_secret.is_some(),
        }
    }
}

/// The fields this form has inputs for; any other field of the wire form is edited as JSON.
const KNOWN: &[&str] = &[
    "unique_key",
    "provider",
    "display_name",
    "auth_mode",
    "created_at",
    "updated_at",
    "credentials",
    "custom",
];

fn extra_fields(wire: &Value) -> String {
    let other: Map<String, Value> = wire
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| !KNOWN.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if other.is_empty() {
        String::new()
    } else {
        serde_json::to_string_pretty(&other).expect("JSON serializes")
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn form_html(state: &AppState, signed: &Signed, provider: &str, mode: AuthMode, v: &Values, editing: bool) -> String {
    let b = base(state);
    let action = if editing {
        format!("{b}/integrations/{}", path_segment(&v.unique_key))
    } else {
        format!("{b}/integrations")
    };
    let key_field = if editing {
        format!(
            r#"<p><strong>Unique key</strong>: <code>{}</code> (connections are bound to it; it cannot change)</p>"#,
            escape(&v.unique_key)
        )
    } else {
        input(
            "unique_key",
            "Unique key",
            &v.unique_key,
            "text",
            Some("Letters, digits and . _ - : @ | +; what your code passes as the integration."),
            r#"required maxlength="255" pattern="[A-Za-z0-9._:@|+\-]+""#,
        )
    };
    let default_scopes = providers::provider(provider)
        .and_then(|p| p.default_scopes.as_ref())
        .map(|s| format!("The catalog asks for {} by default.", s.join(", ")));
    let client = if has_client(mode) {
        let secret_hint = if v.has_secret {
            "Set. Leave empty to keep it; it is never shown again."
        } else {
            "Write-only: stored sealed, never shown again."
        };
        format!(
            "<fieldset><legend>OAuth client</legend>{}{}{}</fieldset>",
            input(
                "client_id",
                "Client id",
                &v.client_id,
                "text",
                None,
                r#"autocomplete="off" maxlength="1024""#
            ),
            input(
                "client_secret",
                "Client secret",
                "",
                "password",
                Some(secret_hint),
                r#"autocomplete="new-password" maxlength="4096""#
            ),
            input(
                "scopes",
                "Scopes",
                &v.scopes,
                "text",
                Some(default_scopes.as_deref().unwrap_or("Comma- or space-separated.")),
                ""
            ),
        )
    } else {
        String::new()
    };
    let custom = |name: &str| v.custom.get(name).map(text).unwrap_or_default();
    let custom_required = provider == CUSTOM_OAUTH2;
    let required = if custom_required { "required" } else { "" };
    let method = custom("token_request_auth_method");
    let opt = |value: &str, label: &str| {
        let sel = if method == value { " selected" } else { "" };
        format!(r#"<option value="{value}"{sel}>{label}</option>"#)
    };
    let json = |name: &str| {
        v.custom
            .get(name)
            .map(|x| serde_json::to_string(x).expect("JSON serializes"))
            .unwrap_or_default()
    };
    let pkce = if v.custom.get("disable_pkce") == Some(&Value::Bool(true)) {
        " checked"
    } else {
        ""
    };
    let urls = format!(
        r#"{}{}{}{}<div class="field"><label for="f-token_request_auth_method">Token request client authentication</label><select id="f-token_request_auth_method" name="custom_token_request_auth_method">{}{}{}</select></div>{}{}<div class="field check"><input id="f-disable_pkce" name="custom_disable_pkce" type="checkbox"{pkce}><label for="f-disable_pkce">Disable PKCE</label></div>"#,
        input(
            "custom_authorization_url",
            "Authorization URL",
            &custom("authorization_url"),
            "url",
            None,
            required
        ),
        input(
            "custom_token_url",
            "Token URL",
            &custom("token_url"),
            "url",
            None,
            required
        ),
        input(
            "custom_userinfo_url",
            "User info URL",
            &custom("userinfo_url"),
            "url",
            None,
            ""
        ),
        input(
            "custom_proxy_base_url",
            "API base URL",
            &custom("proxy_base_url"),
            "url",
            Some("Where credentials are verified; replaces the catalog's."),
            ""
        ),
        opt("", "The catalog's (or body)"),
        opt("body", "In the body"),
        opt("basic", "HTTP Basic"),
        input(
            "custom_authorization_params",
            "Extra authorization parameters (JSON object)",
            &json("authorization_params"),
            "text",
            None,
            ""
        ),
        input(
            "custom_token_params",
            "Extra token parameters (JSON object)",
            &json("token_params"),
            "text",
            None,
            ""
        ),
    );
    let custom_block = if custom_required {
        format!("<fieldset><legend>Your OAuth server</legend>{urls}</fieldset>")
    } else if has_client(mode) || mode == AuthMode::ApiKey || mode == AuthMode::Basic {
        let open = if v.custom.is_empty() { "" } else { " open" };
        format!("<details{open}><summary>Override the catalog's URLs</summary><p class=\"hint\">Empty fields keep the catalog's.</p>{urls}</details>")
    } else {
        String::new()
    };
    let extra = format!(
        r#"<details{}><summary>Other settings (JSON)</summary><div class="field"><label for="f-extra">Other fields of the integration, as JSON</label><span class="hint" id="f-extra-hint">Any field of the API's integration object this form has no input for.</span><textarea id="f-extra" name="extra" rows="4" aria-describedby="f-extra-hint" spellcheck="false">{}</textarea></div></details>"#,
        if v.extra.is_empty() { "" } else { " open" },
        escape(&v.extra)
    );
    format!(
        r#"<form method="post" action="{action}" class="stack" novalidate data-validate>{}<input type="hidden" name="provider" value="{}">{key_field}{}{client}{custom_block}{extra}<button type="submit">{}</button></form>"#,
        csrf_field(signed),
        escape(provider),
        input(
            "display_name",
            "Display name",
            &v.display_name,
            "text",
            None,
            r#"maxlength="255""#
        ),
        if editing { "Save" } else { "Create integration" },
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
    page::render(
        state,
        Some(signed),
        Page::new("New integration", Tab::Integrations, body)
            .notice(notice)
            .status(status),
    )
}

/// `GET /console/catalog/{provider}`: the new integration's form.
pub async fn new_form(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
    Path(provider): Path<String>,
) -> Response {
    let values = Values {
        unique_key: provider.clone(),
        ..Default::default()
    };
    new_page(&state, &signed, &provider, values, None, StatusCode::OK).await
}

/// The API's body for the submitted form: the same `POST`/`PATCH /integrations` body a
/// backend would send, so the same checks apply.
fn body_of(form: &Form, mode: AuthMode, editing: bool) -> Result<Value, Error> {
    let mut body = match form.get("extra") {
        Some(extra) => match serde_json::from_str::<Value>(extra) {
            Ok(Value::Object(m)) => m,
            _ => return Err(Error::invalid_body("Other settings must be a JSON object.")),
        },
        None => Map::new(),
    };
    if !editing {
        body.insert("provider".into(), json!(form.get("provider").unwrap_or("")));
        body.insert("unique_key".into(), json!(form.get("unique_key").unwrap_or("")));
    }
    if let Some(name) = form.get("display_name") {
        body.insert("display_name".into(), json!(name));
    }
    if has_client(mode) {
        let mut creds = Map::new();
        if let Some(id) = form.get("client_id") {
            creds.insert("client_id".into(), json!(id));
        }
        if let Some(secret) = form.raw("client_secret") {
            creds.insert("client_secret".into(), json!(secret));
        }
        creds.insert("scopes".into(), json!(form.get("scopes").unwrap_or("")));
        body.insert("credentials".into(), Value::Object(creds));
    }
    let mut custom = Map::new();
    for name in [
        "authorization_url",
        "token_url",
        "userinfo_url",
        "proxy_base_url",
        "token_request_auth_method",
    ] {
        if let Some(v) = form.get(&format!("custom_{name}")) {
            custom.insert(name.into(), json!(v));
        }
    }
    for name in ["authorization_params", "token_params"] {
        if let Some(v) = form.get(&format!("custom_{name}")) {
            match serde_json::from_str::<Value>(v) {
                Ok(o @ Value::Object(_)) => {
                    custom.insert(name.into(), o);
                }
                _ => return Err(Error::invalid_body(format!("{name} must be a JSON object."))),
            }
        }
    }
    if form.checked("custom_disable_pkce") {
        custom.insert("disable_pkce".into(), json!(true));
    }
    if !custom.is_empty() || (editing && form.get("had_custom").is_some()) {
        body.insert("custom".into(), Value::Object(custom));
    }
    Ok(Value::Object(body))
}

fn submitted(form: &Form) -> Values {
    let custom = form
        .0
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("custom_")?.to_owned(), Value::String(v.clone()))))
        .collect();
    Values {
        unique_key: form.get("unique_key").unwrap_or("").to_owned(),
        display_name: form.get("display_name").unwrap_or("").to_owned(),
        client_id: form.get("client_id").unwrap_or("").to_owned(),
        scopes: form.get("scopes").unwrap_or("").to_owned(),
        custom,
        extra: form.get("extra").unwrap_or("").to_owned(),
        has_secret: false,
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: Value) -> Result<T, Error> {
    serde_json::from_value(body).map_err(|e| Error::invalid_body(format!("The form does not fit an integration: {e}")))
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
        Ok(record) => see_other(&format!(
            "{}/integrations/{}?notice=created",
            base(&state),
            path_segment(record.key.as_str())
        )),
        Err(e) => {
            let status = crate::api::error::status_of(e.kind, e.code);
            new_page(
                &state,
                &signed,
                &provider,
                submitted(&form),
                Some(Notice::Failed(e.message)),
                status,
            )
            .await
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
    page::render(
        state,
        Some(signed),
        Page::new(record.key.to_string(), Tab::Integrations, body)
            .notice(notice)
            .status(status),
    )
}

/// `GET /console/integrations/{key}`.
pub async fn show(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
    Path(raw): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let record = match async { integrations::get(&state, &key_of(&raw)?).await }.await {
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
    Path(raw): Path<String>,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body);
    let record = match async { integrations::get(&state, &key_of(&raw)?).await }.await {
        Ok(r) => r,
        Err(e) => return super::refusal(&state, &Default::default(), e),
    };
    let result = match body_of(&form, record.auth_mode, true).and_then(parse) {
        Ok(input) => integrations::update(&state, &record.key, input).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(saved) => see_other(&format!(
            "{}/integrations/{}?notice=updated",
            base(&state),
            path_segment(saved.key.as_str())
        )),
        Err(e) => {
            let status = crate::api::error::status_of(e.kind, e.code);
            let mut values = submitted(&form);
            values.unique_key = record.key.to_string();
            values.has_secret = record.client_secret.is_some();
            edit_page(
                &state,
                &signed,
                &record,
                values,
                Some(Notice::Failed(e.message)),
                status,
            )
            .await
        }
    }
}

/// `POST /console/integrations/{key}/delete`: only with the key typed again.
pub async fn delete(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
    Path(raw): Path<String>,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body);
    let record = match async { integrations::get(&state, &key_of(&raw)?).await }.await {
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
