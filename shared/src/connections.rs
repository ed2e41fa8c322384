//! Connections: the one path that writes credentials (every auth mode goes through
//! `save_connection`) and the one that reads them back for the backend.

use serde_json::{json, Map, Value};

use crate::auth::client_credentials;
use crate::credentials::Credentials;
use crate::crypto::SealContext;
use crate::domain::{ConnectionConfig, ConnectionId, IntegrationKey};
use crate::error::ApiError;
use crate::store::{ConnectionRecord, ConnectionSummary, IntegrationRecord, Sealed, Upsert};
use crate::time_fmt::rfc3339;
use crate::AppState;

pub struct NewConnection<'a> {
    pub integration: &'a IntegrationRecord,
    pub connection_id: &'a ConnectionId,
    pub credentials: &'a Credentials,
    pub connection_config: ConnectionConfig,
    pub metadata: Map<String, Value>,
    pub end_user: Option<Value>,
    pub tags: Map<String, Value>,
}

fn seal_context(state: &AppState, integration: &IntegrationKey, connection_id: &ConnectionId) -> SealContext {
    SealContext::connection(&state.config.environment, integration.as_str(), connection_id.as_str())
}

/// Seals the credentials to this connection and writes it, replacing an earlier authorization
/// of the same connection id.
pub async fn save_connection(state: &AppState, new: NewConnection<'_>) -> Result<Upsert, ApiError> {
    let plain = serde_json::to_vec(new.credentials).expect("credentials serialize");
    let ctx = seal_context(state, &new.integration.key, new.connection_id);
    let sealed = state.sealer.seal(&plain, &ctx).await?;
    let now = state.clock.now();
    let record = ConnectionRecord {
        id: uuid::Uuid::new_v4().to_string(),
        integration: new.integration.key.clone(),
        connection_id: new.connection_id.clone(),
        provider: new.integration.provider.clone(),
        auth_mode: new.credentials.auth_mode(),
        credentials: Sealed(sealed),
        connection_config: new.connection_config,
        metadata: new.metadata,
        end_user: new.end_user,
        tags: new.tags,
        expires_at: new.credentials.expires_at(),
        created_at: now,
        updated_at: now,
        last_fetched_at: now,
        version: 0,
        has_refresh_token: matches!(
            new.credentials,
            Credentials::OAuth2 {
                refresh_token: Some(_),
                ..
            }
        ),
        last_read_at: None,
    };
    let (outcome, _version) = state.store.upsert_connection(&record).await?;
    Ok(outcome)
}

fn not_found(integration: &IntegrationKey, connection_id: &ConnectionId) -> ApiError {
    ApiError::not_found(
        "not_found",
        format!("No connection '{connection_id}' for integration '{integration}'."),
    )
}

/// A warm read: one store read and one open of the sealed blob. (The store records the read
/// when it changes the connection's refresh schedule: `ConnectionStore::read_connection`.)
pub async fn read_connection(
    state: &AppState,
    integration: &IntegrationKey,
    connection_id: &ConnectionId,
) -> Result<(ConnectionRecord, Credentials), ApiError> {
    let record = state
        .store
        .read_connection(integration, connection_id, state.clock.now())
        .await?
        .ok_or_else(|| not_found(integration, connection_id))?;
    let plain = state
        .sealer
        .open(&record.credentials.0, &seal_context(state, integration, connection_id))
        .await?;
    let credentials: Credentials = serde_json::from_slice(&plain).map_err(|e| {
        // Not `%e`: serde's message may quote part of the (secret) value.
        tracing::error!(category = ?e.classify(), line = e.line(), column = e.column(), "sealed credentials are not valid credentials JSON");
        ApiError::server_error()
    })?;
    Ok((record, credentials))
}

/// A backend read: `read_connection`, plus a new client-credentials token first when the stored
/// one expires within the margin (or `force`). A warm read stays one store read and one open;
/// only a re-fetch reads the integration and writes the connection.
pub async fn read_fresh_connection(
    state: &AppState,
    integration: &IntegrationKey,
    connection_id: &ConnectionId,
    force: bool,
) -> Result<(ConnectionRecord, Credentials), ApiError> {
    let (record, credentials) = read_connection(state, integration, connection_id).await?;
    if !client_credentials::needs_refetch(&credentials, state.clock.now(), force) {
        return Ok((record, credentials));
    }
    let Credentials::OAuth2Cc {
        client_id,
        client_secret,
        ..
    } = &credentials
    else {
        return Ok((record, credentials));
    };
    let integration_record = state
        .store
        .get_integration(integration)
        .await?
        .ok_or_else(|| ApiError::unknown_integration(integration.as_str()))?;
    let own = client_id.clone().zip(client_secret.clone());
    let (fresh, metadata) = client_credentials::fetch(state, &integration_record, &record.connection_config, own)
        .await
        .map_err(|e| {
            if e.status.is_server_error() {
                e
            } else {
                ApiError::bad_request("invalid_credentials", e.message)
            }
        })?;
    let config = crate::providers::config_from_provider(
        &integration_record.provider,
        record.connection_config.clone(),
        &metadata,
        &[],
    );
    save_connection(
        state,
        NewConnection {
            integration: &integration_record,
            connection_id,
            credentials: &fresh,
            connection_config: config,
            metadata: record.metadata.clone(),
            end_user: record.end_user.clone(),
            tags: record.tags.clone(),
        },
    )
    .await?;
    read_connection(state, integration, connection_id).await
}

/// Changes what a connection carries besides its credentials (end user, tags, metadata) with a
/// conditional write on its version, read again and retried when a concurrent write won — so
/// a refresh or re-authorization running at the same time is never overwritten.
pub async fn edit_connection(
    state: &AppState,
    integration: &IntegrationKey,
    connection_id: &ConnectionId,
    edit: impl Fn(&mut ConnectionRecord),
) -> Result<ConnectionRecord, ApiError> {
    const ATTEMPTS: usize = 5;
    for _ in 0..ATTEMPTS {
        let mut record = state
            .store
            .get_connection(integration, connection_id)
            .await?
            .ok_or_else(|| not_found(integration, connection_id))?;
        let version = record.version;
        edit(&mut record);
        record.updated_at = state.clock.now();
        match state.store.update_connection(&record, version).await {
            Ok(()) => {
                record.version = version + 1;
                return Ok(record);
            }
            Err(crate::store::StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::conflict(
        "conflict",
        "The connection kept changing while it was being updated; retry.",
    ))
}

pub async fn delete_connection(
    state: &AppState,
    integration: &IntegrationKey,
    connection_id: &ConnectionId,
) -> Result<(), ApiError> {
    if state.store.delete_connection(integration, connection_id).await? {
        Ok(())
    } else {
        Err(not_found(integration, connection_id))
    }
}

/// The connection object of API.md.
pub fn to_wire(record: &ConnectionRecord, credentials: &Credentials, include_refresh_token: bool) -> Value {
    json!({
        "id": record.id,
        "connection_id": record.connection_id,
        "provider_config_key": record.integration,
        "provider": record.provider,
        "created_at": rfc3339(record.created_at),
        "updated_at": rfc3339(record.updated_at),
        "last_fetched_at": rfc3339(record.last_fetched_at),
        "metadata": record.metadata,
        "connection_config": record.connection_config,
        "end_user": record.end_user,
        "tags": record.tags,
        "errors": [],
        "credentials": credentials.to_wire(include_refresh_token),
    })
}

/// The list item of `GET /connections`: no credentials.
pub fn to_list_item(record: &ConnectionSummary) -> Value {
    json!({
        "id": record.id,
        "connection_id": record.connection_id,
        "provider_config_key": record.integration,
        "provider": record.provider,
        "auth_mode": record.auth_mode,
        "created": rfc3339(record.created_at),
        "metadata": record.metadata,
        "errors": [],
        "end_user": record.end_user,
        "tags": record.tags,
    })
}
