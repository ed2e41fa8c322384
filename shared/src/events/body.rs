//! The body of an auth webhook: Nango's (`NangoAuthWebhookBody` of `@nangohq/types` 0.71), so
//! a receiver written for Nango reads it unchanged —
//! `{from, type: "auth", connectionId, providerConfigKey, provider, authMode, environment,
//! operation, success, error?: {type, description}, endUser?, tags}`.
//!
//! `from` is `"nango"`: receivers written for Nango may route on it, and Latchkey's own
//! headers (`Latchkey-Webhook-Id`, `Latchkey-Signature`, its `User-Agent`) say who sent it.
//! `operation` is `creation`, `override`, or `refresh` with `success: false` (a failure) or
//! `success: true` (recovered; Nango sends no such webhook).

use serde::Serialize;
use serde_json::{Map, Value};

use super::{ConnectionEvent, EventError};
use crate::store::WebhookEvent;

/// What the body's `from` says.
pub const FROM: &str = "nango";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AuthWebhook<'a> {
    from: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    connection_id: &'a str,
    provider_config_key: &'a str,
    provider: &'a str,
    auth_mode: &'a str,
    environment: &'a str,
    operation: &'static str,
    success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a EventError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_user: Option<EndUser<'a>>,
    tags: &'a Map<String, Value>,
}

/// Nango's `endUser`, from the end user stored on the connection (a connect session's, or the
/// one the backend set): `{endUserId, organizationId?, endUserEmail?, tags}`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EndUser<'a> {
    end_user_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    organization_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_user_email: Option<&'a str>,
    tags: Map<String, Value>,
}

fn end_user(value: &Value) -> Option<EndUser<'_>> {
    Some(EndUser {
        end_user_id: value.get("id")?.as_str()?,
        organization_id: value.pointer("/organization/id").and_then(Value::as_str),
        end_user_email: value.get("email").and_then(Value::as_str),
        tags: value
            .get("tags")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
    })
}

/// The body of a test webhook (`POST /environment/test-webhook`): `type: "test"`, which no
/// auth handler acts on.
pub fn render_test(environment: &str) -> String {
    serde_json::json!({
        "from": FROM,
        "type": "test",
        "environment": environment,
        "message": "A test webhook from Latchkey: your receiver got it and can verify its signatures.",
    })
    .to_string()
}

/// The JSON text of `event`'s webhook in `environment`.
pub fn render(environment: &str, event: &ConnectionEvent) -> String {
    let (operation, success) = match event.kind {
        WebhookEvent::Creation => ("creation", true),
        WebhookEvent::Override => ("override", true),
        WebhookEvent::RefreshFailed => ("refresh", false),
        WebhookEvent::RefreshRecovered => ("refresh", true),
    };
    let body = AuthWebhook {
        from: FROM,
        kind: "auth",
        connection_id: event.connection_id.as_str(),
        provider_config_key: event.integration.as_str(),
        provider: &event.provider,
        auth_mode: event.auth_mode.as_str(),
        environment,
        operation,
        success,
        error: event.error.as_ref(),
        end_user: event.end_user.as_ref().and_then(end_user),
        tags: &event.tags,
    };
    serde_json::to_string(&body).expect("a webhook body serializes")
}

#[cfg(test)]
mod props;
