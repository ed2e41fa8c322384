//! The Environment tab: the keys (the public key shown; the secret, HMAC and webhook signing
//! keys revealed on request, recorded as activity), "require HMAC", the callback URL, the
//! webhook URL and events, the allowed origins — saved through the same
//! `environment::update` as `PATCH /environment` — and key rotation.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Extension;
use serde::Deserialize;

use super::page::{self, copyable, csrf_field, input, notice_of, Notice, Tab};
use super::{base, see_other, Form, Signed};
use crate::activity::Attempt;
use crate::api::extract::ApiQuery;
use crate::api::html::escape;
use crate::config::EnvironmentKeys;
use crate::environment::{self, EnvironmentPatch};
use crate::error::{Error, ErrorCode};
use crate::keys::KeyName;
use crate::store::{EnvironmentSettings, WebhookEvent};
use crate::AppState;

#[derive(Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

/// What the page shows of the keys beside the public key.
enum Shown<'a> {
    Masked,
    Revealed(&'a EnvironmentKeys),
    /// Just rotated: these, once.
    Rotated(&'a EnvironmentKeys, &'a [KeyName]),
}

fn key_row(label: &str, id: &str, value: Option<&str>) -> String {
    let shown = match value {
        Some(v) => copyable(id, v),
        None => r#"<span class="masked" aria-label="hidden">••••••••</span>"#.to_owned(),
    };
    format!(r#"<tr><th scope="row">{label}</th><td>{shown}</td></tr>"#)
}

fn keys_html(state: &AppState, signed: &Signed, keys: &EnvironmentKeys, shown: &Shown<'_>) -> String {
    let b = base(state);
    let value = |name: KeyName| -> Option<String> {
        let k = match shown {
            Shown::Masked => return None,
            Shown::Revealed(k) => k,
            Shown::Rotated(k, names) if names.contains(&name) => k,
            Shown::Rotated(..) => return None,
        };
        Some(match name {
            KeyName::SecretKey => k.secret_key.expose().to_owned(),
            KeyName::HmacKey => k.hmac_key.expose().to_owned(),
            KeyName::WebhookSigningKey => k.webhook_signing_key.expose().to_owned(),
            KeyName::PublicKey => k.public_key.clone(),
        })
    };
    let grace = match keys
        .previous_secret_key
        .as_ref()
        .and(keys.previous_secret_key_expires_at)
    {
        Some(until) => format!(
            r#"<p class="hint">The previous secret key keeps working until {}.</p>"#,
            page::time_html(until)
        ),
        None => String::new(),
    };
    let reveal = if matches!(shown, Shown::Masked) {
        format!(
            r#"<form method="post" action="{b}/environment/reveal" class="inline">{}<button type="submit">Reveal keys</button> <span class="hint">Recorded in the activity log.</span></form>"#,
            csrf_field(signed)
        )
    } else {
        r#"<p class="hint">Shown for this page only. Reload to hide them.</p>"#.to_owned()
    };
    format!(
        r#"<section aria-labelledby="keys-h"><h2 id="keys-h">Keys</h2><table class="kv"><tbody>{}{}{}{}</tbody></table>{grace}{reveal}</section>"#,
        key_row("Public key", "public-key", Some(&keys.public_key)),
        key_row("Secret key", "secret-key", value(KeyName::SecretKey).as_deref()),
        key_row("HMAC key", "hmac-key", value(KeyName::HmacKey).as_deref()),
        key_row(
            "Webhook signing key",
            "webhook-key",
            value(KeyName::WebhookSigningKey).as_deref()
        ),
    )
}

fn settings_html(state: &AppState, signed: &Signed, settings: &EnvironmentSettings) -> String {
    let b = base(state);
    let events: String = WebhookEvent::all()
        .into_iter()
        .map(|e| {
            let on = if settings.webhook_events.contains(&e) { " checked" } else { "" };
            let name = e.as_str();
            format!(r#"<div class="field check"><input id="ev-{name}" name="webhook_events" value="{name}" type="checkbox"{on}><label for="ev-{name}">{name}</label></div>"#)
        })
        .collect();
    let hmac = if settings.hmac_enabled { " checked" } else { "" };
    format!(
        r#"<section aria-labelledby="set-h"><h2 id="set-h">Settings</h2>
<form method="post" action="{b}/environment" class="stack">{csrf}
<div class="field check"><input id="hmac_enabled" name="hmac_enabled" type="checkbox"{hmac} aria-describedby="hmac-hint"><label for="hmac_enabled">Require HMAC on connect requests</label></div>
<p class="hint" id="hmac-hint">Frontends then need a digest from your backend (HMAC key) to start a connection with the public key.</p>
{callback}
{webhook}
<fieldset><legend>Webhook events</legend>{events}</fieldset>
<div class="field"><label for="allowed_origins">Allowed origins</label><span class="hint" id="origins-hint">One per line, like https://app.example.com. Empty: any origin may start a flow.</span><textarea id="allowed_origins" name="allowed_origins" rows="3" aria-describedby="origins-hint" spellcheck="false">{origins}</textarea></div>
<button type="submit">Save settings</button>
</form></section>"#,
        csrf = csrf_field(signed),
        callback = input(
            "callback_url",
            "Callback URL",
            settings.callback_url.as_deref().unwrap_or(""),
            "url",
            Some(&format!(
                "The redirect URI sent to providers. Empty: {}",
                state.config.callback_url
            )),
            ""
        ),
        webhook = input(
            "webhook_url",
            "Webhook URL",
            settings.webhook_url.as_deref().unwrap_or(""),
            "url",
            Some("Where auth webhooks go (https). Empty: none are sent."),
            ""
        ),
        origins = escape(&settings.allowed_origins.join("\n")),
    )
}

fn rotate_html(state: &AppState, signed: &Signed) -> String {
    let b = base(state);
    let boxes: String = KeyName::ALL
        .iter()
        .map(|k| {
            let name = k.as_str();
            let on = if *k == KeyName::SecretKey { " checked" } else { "" };
            format!(r#"<div class="field check"><input id="rot-{name}" name="rotate" value="{name}" type="checkbox"{on}><label for="rot-{name}">{name}</label></div>"#)
        })
        .collect();
    format!(
        r#"<section aria-labelledby="rot-h" class="danger"><h2 id="rot-h">Rotate keys</h2>
<p>New random keys replace the chosen ones. The previous <strong>secret key</strong> keeps working for the grace period, so backends can move over; the public, HMAC and webhook keys change at once. Every instance sees the new keys within minutes (at once when a caller presents one). If a key leaked, use a grace of 0.</p>
<form method="post" action="{b}/environment/rotate" class="stack" data-confirm="Rotate the chosen keys now?">{}
<fieldset><legend>Keys to rotate</legend>{boxes}</fieldset>
{}
<button type="submit" class="danger">Rotate</button></form></section>"#,
        csrf_field(signed),
        input(
            "grace_hours",
            "Grace period for the previous secret key (hours)",
            "24",
            "number",
            None,
            r#"min="0" max="720" step="1" required"#
        ),
    )
}

async fn environment_page(
    state: &AppState,
    signed: &Signed,
    shown: Shown<'_>,
    notice: Option<Notice>,
    status: StatusCode,
) -> Response {
    let result = environment::settings(state).await;
    let settings = match result {
        Ok(s) => s,
        Err(e) => return super::refusal(state, &HeaderMap::new(), e),
    };
    let keys = state.keys.current(state.clock.now()).await;
    let current = environment::callback_url(state, &settings);
    let body = format!(
        r#"<h1>Environment <code>{}</code></h1><p>Callback URL now: {}</p><div class="columns"><div>{}{}</div><aside>{}</aside></div>"#,
        escape(&state.config.environment),
        copyable("callback-now", &current),
        keys_html(state, signed, &keys, &shown),
        settings_html(state, signed, &settings),
        rotate_html(state, signed),
    );
    page::answer(state, signed, Tab::Environment, "Environment", body, notice, status)
}

/// `GET /console/environment`.
pub async fn show(
    State(state): State<AppState>,
    Extension(signed): Extension<Signed>,
    ApiQuery(q): ApiQuery<NoticeQuery>,
) -> Response {
    environment_page(
        &state,
        &signed,
        Shown::Masked,
        notice_of(q.notice.as_deref()),
        StatusCode::OK,
    )
    .await
}

fn failed(e: &Error) -> Option<Notice> {
    super::failure(e).0
}

/// `POST /console/environment`: the settings form, as one `PATCH /environment`.
pub async fn save(State(state): State<AppState>, Extension(signed): Extension<Signed>, body: Bytes) -> Response {
    let form = Form::parse(&body);
    let events: Result<Vec<WebhookEvent>, _> = form
        .all("webhook_events")
        .into_iter()
        .map(|e| serde_json::from_value(serde_json::Value::String(e.to_owned())))
        .collect();
    let patch = match events {
        Ok(events) => EnvironmentPatch {
            hmac_enabled: Some(form.checked("hmac_enabled")),
            allowed_origins: Some(
                form.get("allowed_origins")
                    .unwrap_or("")
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect(),
            ),
            callback_url: Some(form.get("callback_url").map(str::to_owned)),
            webhook_url: Some(form.get("webhook_url").map(str::to_owned)),
            webhook_events: Some(events),
            ..Default::default()
        },
        Err(_) => {
            let e = Error::invalid_body("Unknown webhook event.");
            return environment_page(&state, &signed, Shown::Masked, failed(&e), StatusCode::BAD_REQUEST).await;
        }
    };
    match environment::update(&state, patch, false).await {
        Ok(_) => see_other(&format!("{}/environment?notice=saved", base(&state))),
        Err(e) => {
            let (notice, status) = super::failure(&e);
            environment_page(&state, &signed, Shown::Masked, notice, status).await
        }
    }
}

fn key_management_forbidden() -> Error {
    Error::forbidden(
        ErrorCode::KeyManagementForbidden,
        "You signed in with the previous secret key: sign in with the current one to reveal or rotate keys.",
    )
}

/// `POST /console/environment/reveal`: the keys, for this page, recorded.
pub async fn reveal(State(state): State<AppState>, Extension(signed): Extension<Signed>) -> Response {
    if !signed.operator.key_is_current {
        let e = key_management_forbidden();
        return environment_page(&state, &signed, Shown::Masked, failed(&e), StatusCode::FORBIDDEN).await;
    }
    Attempt::new("console", None, None)
        .info(&state, "keys_revealed", "Environment keys revealed in the console.")
        .await;
    let keys = state.keys.current(state.clock.now()).await;
    environment_page(&state, &signed, Shown::Revealed(&keys), None, StatusCode::OK).await
}

/// `POST /console/environment/rotate`: as `PATCH /environment {"rotate_keys", …}`; the new
/// keys are shown this once.
pub async fn rotate(State(state): State<AppState>, Extension(signed): Extension<Signed>, body: Bytes) -> Response {
    let form = Form::parse(&body);
    let names: Result<Vec<KeyName>, _> = form
        .all("rotate")
        .into_iter()
        .map(|k| serde_json::from_value(serde_json::Value::String(k.to_owned())))
        .collect();
    let hours: Option<i64> = form.get("grace_hours").and_then(|h| h.parse().ok());
    let (Ok(names), Some(hours)) = (names, hours) else {
        let e = Error::invalid_body("Choose keys to rotate and a grace period in whole hours.");
        return environment_page(&state, &signed, Shown::Masked, failed(&e), StatusCode::BAD_REQUEST).await;
    };
    if names.is_empty() {
        let e = Error::invalid_body("Choose at least one key to rotate.");
        return environment_page(&state, &signed, Shown::Masked, failed(&e), StatusCode::BAD_REQUEST).await;
    }
    let patch = EnvironmentPatch {
        rotate_keys: Some(names),
        rotation_grace_seconds: Some(hours.saturating_mul(3600)),
        ..Default::default()
    };
    match environment::update(&state, patch, signed.operator.key_is_current).await {
        Ok(updated) => {
            let shown = Shown::Rotated(&updated.keys, &updated.rotated);
            environment_page(&state, &signed, shown, notice_of(Some("rotated")), StatusCode::OK).await
        }
        Err(e) => {
            let (notice, status) = super::failure(&e);
            environment_page(&state, &signed, Shown::Masked, notice, status).await
        }
    }
}
