//! Connections the team's backend imports with existing credentials (migrating from another
//! broker): checked by the integration's mode — API keys and Basic credentials proven with the
//! provider first, as on the frontend — then stored like any other authorization (and
//! announced: a creation or override webhook).

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::auth::ModeContext;
use crate::connections::{read_connection, NewConnection, WriteMode};
use crate::credentials::Credentials;
use crate::domain::{ConnectionId, IntegrationKey};
use crate::error::Error;
use crate::store::ConnectionRecord;
use crate::AppState;

/// `POST /connections`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Import {
    connection_id: Option<String>,
    provider_config_key: String,
    credentials: Credentials,
    #[serde(default)]
    connection_config: Map<String, Value>,
    #[serde(default)]
    metadata: Map<String, Value>,
    end_user: Option<Value>,
    #[serde(default)]
    tags: Map<String, Value>,
    /// Where the connection's webhooks go instead of the environment's URL.
    webhook_url_override: Option<String>,
}

/// Stores the imported connection and reads it back as stored.
pub async fn import(state: &AppState, input: Import) -> Result<(ConnectionRecord, Credentials), Error> {
    let key = IntegrationKey::parse(input.provider_config_key)?;
    let connection_id = match input.connection_id {
        Some(id) => ConnectionId::parse(id)?,
        None => ConnectionId::generate(),
    };
    let integration = crate::integrations::get(state, &key).await?;
    if !input.credentials.fits(integration.auth_mode) {
        return Err(Error::invalid_body(format!(
            "credentials.type is {} but integration '{key}' uses {}.",
            input.credentials.auth_mode(),
            integration.auth_mode
        )));
    }
    let scheme = super::scheme_of(&integration)?;
    // Every part within its bound before the provider is asked or anything is written.
    crate::domain::limits::check("credentials", &input.credentials, crate::domain::limits::CREDENTIALS)?;
    crate::connections::check_parts(
        &input.connection_config,
        &input.metadata,
        input.end_user.as_ref(),
        &input.tags,
    )?;
    let webhook_url_override =
        crate::connections::check_webhook_url_override(state, input.webhook_url_override.as_deref())?;
    // The backend vouches for what it imports: it may set the fields the provider fills in.
    let connection_config =
        crate::providers::validate_imported_connection_config(&integration.provider, &input.connection_config)?;
    // Every key of it is the backend's: so are the hosts it fills.
    let vouched_config = connection_config.keys().cloned().collect();
    let cx = ModeContext {
        state,
        integration: &integration,
        connection_config: &connection_config,
        vouched_config: &vouched_config,
    };
    let credentials = scheme.verify(&cx, input.credentials).await?;
    super::store(
        state,
        NewConnection {
            integration: &integration,
            connection_id: &connection_id,
            credentials: &credentials,
            connection_config,
            vouched_config,
            metadata: input.metadata,
            end_user: input.end_user,
            tags: input.tags,
            // The team's backend owns every connection id: an import may replace.
            write: WriteMode::CreateOrReplace,
            webhook_url_override,
        },
    )
    .await?;
    read_connection(state, &key, &connection_id).await
}
