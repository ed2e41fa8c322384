//! The integration form of the console (create and edit): its inputs, and the API body it
//! becomes — the same `POST`/`PATCH /integrations` body a backend sends, so the same checks
//! apply. Fields of the integration's wire form without an input are edited as JSON, so a new
//! field of the API needs no change here.

use serde_json::{json, Map, Value};

use super::page::{csrf_field, input};
use super::{base, Form, Signed};
use crate::api::html::{escape, path_segment};
use crate::api::wire;
use crate::domain::AuthMode;
use crate::error::Error;
use crate::providers::{self, CUSTOM_OAUTH2};
use crate::store::IntegrationRecord;
use crate::AppState;

/// Modes whose integration carries a client id and secret.
pub(super) fn has_client(mode: AuthMode) -> bool {
    // MCP_OAUTH2: the operator's client (static entries), or none for Latchkey to register.
    matches!(
        mode,
        AuthMode::OAuth2 | AuthMode::OAuth2Cc | AuthMode::McpOAuth2 | AuthMode::Custom
    )
}

/// Modes whose integration holds a GitHub App (its id, public link and private key).
pub(super) fn has_app(mode: AuthMode) -> bool {
    matches!(mode, AuthMode::App | AuthMode::Custom)
}

/// The form's current values: from the record being edited, or what was submitted.
#[derive(Default)]
pub(super) struct Values {
    pub(super) unique_key: String,
    pub(super) display_name: String,
    pub(super) client_id: String,
    pub(super) scopes: String,
    pub(super) custom: Map<String, Value>,
    pub(super) extra: String,
    pub(super) has_secret: bool,
    pub(super) app_id: String,
    pub(super) app_link: String,
    pub(super) has_private_key: bool,
    /// An `AWS_SIGV4` integration's settings, by their API names (never the secret key).
    pub(super) aws: Map<String, Value>,
    pub(super) has_aws_secret: bool,
}

impl Values {
    pub(super) fn of(record: &IntegrationRecord) -> Self {
        let wire = serde_json::to_value(wire::Integration::new(record)).expect("wire objects serialize");
        Values {
            unique_key: record.key.to_string(),
            display_name: record.display_name.clone().unwrap_or_default(),
            client_id: record.client_id.clone().unwrap_or_default(),
            scopes: record.scopes.join(","),
            custom: wire["custom"].as_object().cloned().unwrap_or_default(),
            extra: extra_fields(&wire),
            has_secret: record.client_secret.is_some(),
            app_id: record.app.as_ref().map(|a| a.app_id.clone()).unwrap_or_default(),
            app_link: record.app.as_ref().map(|a| a.app_link.clone()).unwrap_or_default(),
            has_private_key: record.app.is_some(),
            aws: wire["integration_config"].as_object().cloned().unwrap_or_default(),
            has_aws_secret: record.aws_sigv4.is_some(),
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
    "integration_config",
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

pub(super) fn form_html(
    state: &AppState,
    signed: &Signed,
    provider: &str,
    mode: AuthMode,
    v: &Values,
    editing: bool,
) -> String {
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
    let app = if has_app(mode) { app_fieldset(v) } else { String::new() };
    let app = if mode == AuthMode::AwsSigV4 {
        aws_fieldset(v)
    } else {
        app
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
        r#"<form method="post" action="{action}" class="stack" novalidate data-validate>{}<input type="hidden" name="provider" value="{}">{key_field}{}{app}{client}{custom_block}{extra}<button type="submit">{}</button></form>"#,
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

/// The API's body for the submitted form: the same `POST`/`PATCH /integrations` body a
/// backend would send, so the same checks apply.
pub(super) fn body_of(form: &Form, mode: AuthMode, editing: bool) -> Result<Value, Error> {
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
    let mut creds = Map::new();
    if has_client(mode) {
        if let Some(id) = form.get("client_id") {
            creds.insert("client_id".into(), json!(id));
        }
        if let Some(secret) = form.raw("client_secret") {
            creds.insert("client_secret".into(), json!(secret));
        }
        creds.insert("scopes".into(), json!(form.get("scopes").unwrap_or("")));
    }
    if has_app(mode) {
        // Empty fields keep what the integration holds (the key is never shown to be re-sent).
        for name in ["app_id", "app_link"] {
            if let Some(v) = form.get(name) {
                creds.insert(name.into(), json!(v));
            }
        }
        if let Some(key) = form.raw("private_key") {
            creds.insert("private_key".into(), json!(key));
        }
    }
    if !creds.is_empty() {
        body.insert("credentials".into(), Value::Object(creds));
    }
    if mode == AuthMode::AwsSigV4 {
        // Empty fields keep what the integration holds; the secret key is taken as typed.
        let mut config = Map::new();
        for name in AWS_FIELDS {
            if let Some(v) = form.get(&format!("aws_{name}")) {
                config.insert(name.into(), json!(v));
            }
        }
        if let Some(secret) = form.raw("aws_awsSecretAccessKey") {
            config.insert("awsSecretAccessKey".into(), json!(secret));
        }
        body.insert("integration_config".into(), Value::Object(config));
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

pub(super) fn submitted(form: &Form) -> Values {
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
        app_id: form.get("app_id").unwrap_or("").to_owned(),
        app_link: form.get("app_link").unwrap_or("").to_owned(),
        has_private_key: false,
        aws: AWS_FIELDS
            .iter()
            .filter_map(|n| Some((n.to_string(), json!(form.get(&format!("aws_{n}"))?))))
            .collect(),
        has_aws_secret: false,
    }
}

/// An `AWS_SIGV4` integration's settings the form shows (its secret key is write-only).
const AWS_FIELDS: [&str; 3] = ["service", "defaultRegion", "awsAccessKeyId"];

/// The `AWS_SIGV4` inputs: the service signed for, the default region, and the IAM access key
/// that assumes the customers' roles.
fn aws_fieldset(v: &Values) -> String {
    let value = |name: &str| v.aws.get(name).and_then(Value::as_str).unwrap_or("").to_owned();
    let secret_hint = if v.has_aws_secret {
        "Set. Leave empty to keep it; it is never shown again."
    } else {
        "Write-only: stored sealed, never shown again."
    };
    format!(
        "<fieldset><legend>AWS</legend>{}{}{}{}</fieldset>",
        input(
            "aws_service",
            "Service",
            &value("service"),
            "text",
            Some("The signing name of the AWS service requests go to (s3, execute-api)."),
            r#"pattern="[a-z0-9-]{1,64}" maxlength="64""#
        ),
        input(
            "aws_defaultRegion",
            "Default region",
            &value("defaultRegion"),
            "text",
            Some("For connections that name none (us-east-1)."),
            r#"maxlength="32""#
        ),
        input(
            "aws_awsAccessKeyId",
            "Access key id",
            &value("awsAccessKeyId"),
            "text",
            Some("The IAM user's key that calls sts:AssumeRole on your customers' roles."),
            r#"maxlength="128" autocomplete="off""#
        ),
        input(
            "aws_awsSecretAccessKey",
            "Secret access key",
            "",
            "password",
            Some(secret_hint),
            r#"maxlength="128" autocomplete="off""#
        ),
    )
}

/// The GitHub App's inputs: its id, its public link, and its private key (write-only, in a
/// textarea: a PEM has line breaks).
fn app_fieldset(v: &Values) -> String {
    let key_hint = if v.has_private_key {
        "Set. Leave empty to keep it; it is never shown again."
    } else {
        "The PEM GitHub generated for the app. Write-only: stored sealed, never shown again."
    };
    format!(
        r#"<fieldset><legend>GitHub App</legend>{}{}<div class="field"><label for="f-private_key">Private key</label><span class="hint" id="f-private_key-hint">{key_hint}</span><textarea id="f-private_key" name="private_key" rows="4" aria-describedby="f-private_key-hint" spellcheck="false" autocomplete="off"></textarea></div></fieldset>"#,
        input(
            "app_id",
            "App id",
            &v.app_id,
            "text",
            Some("The numeric id on the app's settings page."),
            r#"inputmode="numeric" pattern="[0-9]{1,20}" maxlength="20""#
        ),
        input(
            "app_link",
            "Public link",
            &v.app_link,
            "url",
            Some("https://github.com/apps/<slug>: the browser installs the app under it."),
            r#"maxlength="2048""#
        ),
    )
}

pub(super) fn parse<T: serde::de::DeserializeOwned>(body: Value) -> Result<T, Error> {
    serde_json::from_value(body).map_err(|e| Error::invalid_body(format!("The form does not fit an integration: {e}")))
}
