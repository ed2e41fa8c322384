//! Connect sessions: the team's backend asks for a short-lived token (`create`, `reconnect`),
//! hands it to its frontend, and the frontend starts auth flows with it instead of the public
//! key. The session fixes the end user, the integrations it may use and their config defaults;
//! the connection id is chosen by the server. Only the SHA-256 of the token is stored.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use url::Url;

use super::start::Caller;
use crate::connections::{check_webhook_url_override, WriteMode};
use crate::domain::{ConnectionConfig, ConnectionId, IntegrationKey, Secret};
use crate::error::{Error, ErrorCode};
use crate::signing::sha256_hex;
use crate::store::ConnectSession;
use crate::AppState;

pub const TOKEN_PREFIX: &str = "lk_cst_";

/// The end user a session is for, stored on the connections it makes as sent (optional fields
/// left out).
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EndUser {
    id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tags: Option<Map<String, Value>>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Organization {
    id: String,
    #[serde(default)]
    display_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateSession {
    end_user: EndUser,
    #[serde(default)]
    organization: Option<Organization>,
    #[serde(default)]
    allowed_integrations: Option<Vec<String>>,
    #[serde(default)]
    integrations_config_defaults: Option<Map<String, Value>>,
    /// Where the auth webhooks of the connections it makes go, instead of the environment's URL.
    #[serde(default)]
    webhook_url_override: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReconnectSession {
    connection_id: String,
    integration_id: String,
    #[serde(default)]
    end_user: Option<EndUser>,
    #[serde(default)]
    organization: Option<Organization>,
    #[serde(default)]
    integrations_config_defaults: Option<Map<String, Value>>,
    /// Replaces the connection's `webhook_url_override` (absent: kept).
    #[serde(default)]
    webhook_url_override: Option<String>,
}

fn short_text(field: &str, value: &str) -> Result<(), Error> {
    if value.trim().is_empty() || value.len() > 255 || value.chars().any(char::is_control) {
        return Err(Error::invalid_body(format!(
            "{field} must be 1 to 255 characters without control characters."
        )));
    }
    Ok(())
}

fn end_user_value(user: EndUser) -> Result<Value, Error> {
    short_text("end_user.id", &user.id)?;
    for (field, value) in [
        ("end_user.email", &user.email),
        ("end_user.display_name", &user.display_name),
    ] {
        if let Some(v) = value {
            short_text(field, v)?;
        }
    }
    Ok(serde_json::to_value(user).expect("an end user serializes"))
}

fn organization_value(org: Organization) -> Result<Value, Error> {
    short_text("organization.id", &org.id)?;
    if let Some(name) = &org.display_name {
        short_text("organization.display_name", name)?;
    }
    Ok(serde_json::to_value(org).expect("an organization serializes"))
}

fn integration_key(raw: &str) -> Result<IntegrationKey, Error> {
    IntegrationKey::parse(raw).map_err(|e| Error::invalid_body(e.message))
}

/// `{"<integration>": {"connection_config": {"<name>": "<value>"}}}`: checked now, so a bad
/// default fails the backend's request rather than the end user's flow.
fn config_defaults(raw: Option<Map<String, Value>>) -> Result<Map<String, Value>, Error> {
    let raw = raw.unwrap_or_default();
    crate::domain::limits::check(
        "integrations_config_defaults",
        &raw,
        crate::domain::limits::CONFIG_DEFAULTS,
    )?;
    for (integration, defaults) in &raw {
        integration_key(integration)?;
        let Some(defaults) = defaults.as_object() else {
            return Err(Error::invalid_body(format!(
                "integrations_config_defaults.{integration} must be an object."
            )));
        };
        if let Some(config) = defaults.get("connection_config") {
            let Some(config) = config.as_object() else {
                return Err(Error::invalid_body(format!(
                    "integrations_config_defaults.{integration}.connection_config must be an object."
                )));
            };
            for (name, value) in config {
                let ok_name = !name.is_empty()
                    && name.len() <= 64
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
                if !ok_name || !(value.is_string() || value.is_number() || value.is_boolean()) {
                    return Err(Error::invalid_body(format!(
                        "integrations_config_defaults.{integration}.connection_config.{name} must be a plain value under a simple name."
                    )));
                }
            }
        }
    }
    Ok(raw)
}

/// A session's token, handed out once, and where it leads.
#[derive(Debug)]
pub struct IssuedSession {
    pub token: Secret,
    pub connect_link: Url,
    pub expires_at: OffsetDateTime,
}

/// Issues a token for `session` (whose `token_hash` is filled in here).
async fn issue(state: &AppState, mut session: ConnectSession) -> Result<IssuedSession, Error> {
    let token = format!("{TOKEN_PREFIX}{}", crate::crypto::random_token());
    session.token_hash = sha256_hex(token.as_bytes());
    state.store.put_connect_session(&session).await?;
    // The Connect page, under the public URL's own path (a stage or base path is kept).
    let mut connect_link = state.config.public_url.clone();
    let path = format!("{}/connect", connect_link.path().trim_end_matches('/'));
    connect_link.set_path(&path);
    connect_link.query_pairs_mut().append_pair("session_token", &token);
    Ok(IssuedSession {
        token: Secret::new(token),
        connect_link,
        expires_at: session.expires_at,
    })
}

pub async fn create(state: &AppState, input: CreateSession) -> Result<IssuedSession, Error> {
    let now = state.clock.now();
    let allowed = input
        .allowed_integrations
        .map(|list| list.iter().map(|k| integration_key(k)).collect::<Result<Vec<_>, _>>())
        .transpose()?;
    let session = ConnectSession {
        token_hash: String::new(),
        end_user: end_user_value(input.end_user)?,
        organization: input.organization.map(organization_value).transpose()?,
        allowed_integrations: allowed,
        integrations_config_defaults: config_defaults(input.integrations_config_defaults)?,
        reconnect: None,
        webhook_url_override: check_webhook_url_override(state, input.webhook_url_override.as_deref())?,
        created_at: now,
        expires_at: now + state.config.connect_session_ttl,
    };
    issue(state, session).await
}

/// A session that may re-authorize one existing connection, and only it.
pub async fn reconnect(state: &AppState, input: ReconnectSession) -> Result<IssuedSession, Error> {
    let integration = integration_key(&input.integration_id)?;
    let connection_id = ConnectionId::parse(input.connection_id).map_err(|e| Error::invalid_body(e.message))?;
    let existing = state
        .store
        .get_connection(&integration, &connection_id)
        .await?
        .ok_or_else(|| crate::connections::connection_not_found(&integration, &connection_id))?;
    // Without a new end user, the connection keeps the one it has.
    let end_user = match input.end_user {
        Some(user) => end_user_value(user)?,
        None => existing.end_user.clone().unwrap_or(Value::Null),
    };
    let now = state.clock.now();
    let session = ConnectSession {
        token_hash: String::new(),
        end_user,
        organization: input.organization.map(organization_value).transpose()?,
        allowed_integrations: Some(vec![integration.clone()]),
        integrations_config_defaults: config_defaults(input.integrations_config_defaults)?,
        reconnect: Some((integration, connection_id)),
        webhook_url_override: check_webhook_url_override(state, input.webhook_url_override.as_deref())?,
        created_at: now,
        expires_at: now + state.config.connect_session_ttl,
    };
    issue(state, session).await
}

/// The live session behind a token. Unknown and expired tokens are told apart so the team sees
/// why a link stopped working; neither reveals anything about other sessions.
pub async fn find(state: &AppState, token: &str) -> Result<ConnectSession, Error> {
    let unknown = || {
        Error::unauthorized(
            ErrorCode::UnknownConnectSessionToken,
            "The connect session token is not valid.",
        )
    };
    if token.len() > 256 {
        return Err(unknown());
    }
    let session = state
        .store
        .get_connect_session(&sha256_hex(token.as_bytes()))
        .await?
        .ok_or_else(unknown)?;
    if state.clock.now() > session.expires_at {
        return Err(Error::unauthorized(
            ErrorCode::ExpiredConnectSessionToken,
            "The connect session token has expired; ask the backend for a new one.",
        ));
    }
    Ok(session)
}

/// What a session allows for `integration`. A connection id from the browser is refused unless
/// it is the session's reconnect target: with a session the server names connections. Only a
/// reconnect session replaces a connection; any other writes one of its own new ids.
pub fn authorize(
    session: &ConnectSession,
    integration: &IntegrationKey,
    requested_id: Option<ConnectionId>,
) -> Result<Caller, Error> {
    let not_allowed = || {
        Error::forbidden(
            ErrorCode::IntegrationNotAllowed,
            format!("This connect session does not allow integration '{integration}'."),
        )
    };
    if let Some(allowed) = &session.allowed_integrations {
        if !allowed.contains(integration) {
            return Err(not_allowed());
        }
    }
    let (connection_id, write) = match &session.reconnect {
        Some((key, id)) if key == integration => (id.clone(), WriteMode::CreateOrReplace),
        Some(_) => return Err(not_allowed()),
        None => (ConnectionId::generate(), WriteMode::CreateOnly),
    };
    if requested_id.is_some_and(|id| id != connection_id) {
        return Err(Error::invalid(
            ErrorCode::InvalidQueryParams,
            "With a connect session token the server chooses the connection id; leave connection_id out.",
        ));
    }
    let mut end_user = Some(session.end_user.clone()).filter(|u| !u.is_null());
    if let (Some(Value::Object(user)), Some(org)) = (end_user.as_mut(), &session.organization) {
        user.insert("organization".into(), org.clone());
    }
    let config_defaults: ConnectionConfig = session
        .integrations_config_defaults
        .get(integration.as_str())
        .and_then(|d| d.get("connection_config"))
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(_) => v.clone(),
                        other => Value::String(other.to_string()),
                    };
                    (k.clone(), v)
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Caller {
        connection_id,
        end_user,
        config_defaults,
        write,
        webhook_url_override: session.webhook_url_override.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn session(allowed: Option<Vec<&str>>, reconnect: Option<(&str, &str)>) -> ConnectSession {
        let now = time::OffsetDateTime::now_utc();
        ConnectSession {
            token_hash: "x".into(),
            end_user: json!({"id": "u1"}),
            organization: Some(json!({"id": "org-1", "display_name": null})),
            allowed_integrations: allowed.map(|l| l.into_iter().map(|k| IntegrationKey::parse(k).unwrap()).collect()),
            integrations_config_defaults: config_defaults(Some(
                json!({"zendesk": {"connection_config": {"subdomain": "acme", "n": 3}}})
                    .as_object()
                    .unwrap()
                    .clone(),
            ))
            .unwrap(),
            reconnect: reconnect.map(|(i, c)| (IntegrationKey::parse(i).unwrap(), ConnectionId::parse(c).unwrap())),
            webhook_url_override: Some("https://hooks.example.com/c".into()),
            created_at: now,
            expires_at: now + time::Duration::minutes(30),
        }
    }

    fn key(k: &str) -> IntegrationKey {
        IntegrationKey::parse(k).unwrap()
    }

    #[test]
    fn a_session_names_the_connection_and_carries_its_end_user_and_defaults() {
        let auth = authorize(&session(Some(vec!["zendesk"]), None), &key("zendesk"), None).unwrap();
        assert_eq!(auth.end_user.unwrap()["organization"]["id"], "org-1");
        assert_eq!(auth.config_defaults["subdomain"], "acme");
        assert_eq!(auth.config_defaults["n"], "3");
        assert_eq!(
            auth.webhook_url_override.as_deref(),
            Some("https://hooks.example.com/c")
        );
        let again = authorize(&session(None, None), &key("zendesk"), None).unwrap();
        assert_ne!(auth.connection_id, again.connection_id);
        assert_eq!(auth.write, WriteMode::CreateOnly, "a plain session only creates");
    }

    #[test]
    fn a_session_refuses_other_integrations_and_client_chosen_ids() {
        let e = authorize(&session(Some(vec!["zendesk"]), None), &key("github"), None).unwrap_err();
        assert_eq!(e.code, ErrorCode::IntegrationNotAllowed);
        let e = authorize(
            &session(None, None),
            &key("github"),
            Some(ConnectionId::parse("mine").unwrap()),
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidQueryParams);
    }

    #[test]
    fn a_reconnect_session_writes_only_its_connection() {
        let s = session(Some(vec!["github"]), Some(("github", "conn-7")));
        let caller = authorize(&s, &key("github"), None).unwrap();
        assert_eq!(
            (caller.connection_id.as_str(), caller.write),
            ("conn-7", WriteMode::CreateOrReplace)
        );
        assert_eq!(
            authorize(&s, &key("github"), Some(ConnectionId::parse("conn-7").unwrap()))
                .unwrap()
                .connection_id
                .as_str(),
            "conn-7"
        );
        assert_eq!(
            authorize(&s, &key("other"), None).unwrap_err().code,
            ErrorCode::IntegrationNotAllowed
        );
    }

    #[test]
    fn bad_defaults_fail_the_backend_request() {
        for bad in [
            json!({"zendesk": "x"}),
            json!({"zendesk": {"connection_config": {"a b": "x"}}}),
            json!({"zendesk": {"connection_config": {"sub": {"nested": 1}}}}),
            json!({"bad key!": {}}),
        ] {
            assert!(
                config_defaults(Some(bad.as_object().unwrap().clone())).is_err(),
                "{bad}"
            );
        }
    }
}
