//! Connections: the one path that writes credentials (every auth mode goes through
//! `save_connection`), the reads for the backend, and the edits of what a connection carries
//! besides its credentials (end user, tags, metadata), conditional on its version. Keeping
//! credentials fresh is `refresh` (the read that refreshes first, the scheduler's renewal, the
//! refresh lease), with its failures in `failure`.

pub mod failure;
mod lease;
pub mod refresh;

pub use refresh::{read_fresh_connection, refresh_due, Renewal};

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::credentials::Credentials;
use crate::crypto::SealContext;
use crate::domain::limits;
use crate::domain::{ConnectionConfig, ConnectionId, IntegrationKey, VouchedKeys};
use crate::error::{Error, ErrorCode};
use crate::store::{
    ConnectionFilter, ConnectionRecord, ConnectionSummary, IntegrationRecord, Sealed, StoreError, Upsert,
};
use crate::AppState;

/// Whether a write may replace an existing connection of the same id. Replacing takes proof
/// that the team's backend stands behind the write: its own request (import, refresh), an HMAC
/// digest of the connection id, or a reconnect connect session. A public-key flow without one
/// may only create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    CreateOnly,
    CreateOrReplace,
}

/// `connection_exists`: what a create-only write of an existing connection answers.
pub fn connection_exists(integration: &IntegrationKey, connection_id: &ConnectionId) -> Error {
    Error::conflict(
        ErrorCode::ConnectionExists,
        format!(
            "Connection '{connection_id}' of integration '{integration}' exists already; the public key alone may \
             create connections, not replace them. Re-authorize it with an hmac digest from your backend, or \
             with a reconnect connect session (POST /connect/sessions/reconnect)."
        ),
    )
}

pub struct NewConnection<'a> {
    pub integration: &'a IntegrationRecord,
    pub connection_id: &'a ConnectionId,
    pub credentials: &'a Credentials,
    pub connection_config: ConnectionConfig,
    /// The keys of `connection_config` the team's backend set.
    pub vouched_config: VouchedKeys,
    pub metadata: Map<String, Value>,
    pub end_user: Option<Value>,
    pub tags: Map<String, Value>,
    pub write: WriteMode,
    /// Where the connection's webhooks go instead of the environment's URL (already checked by
    /// `events::destination`); `None` keeps an earlier authorization's.
    pub webhook_url_override: Option<String>,
}

impl<'a> NewConnection<'a> {
    /// Credentials alone, written as the team's backend writes them (creating or replacing): no
    /// connection config, metadata, end user, tags or webhook override.
    pub fn bare(
        integration: &'a IntegrationRecord,
        connection_id: &'a ConnectionId,
        credentials: &'a Credentials,
    ) -> Self {
        Self {
            integration,
            connection_id,
            credentials,
            connection_config: Default::default(),
            vouched_config: Default::default(),
            metadata: Map::new(),
            end_user: None,
            tags: Map::new(),
            write: WriteMode::CreateOrReplace,
            webhook_url_override: None,
        }
    }
}

fn seal_context(state: &AppState, integration: &IntegrationKey, connection_id: &ConnectionId) -> SealContext {
    SealContext::connection(&state.config.environment, integration.as_str(), connection_id.as_str())
}

/// Takes the provider's secret fields out of `config` and seals them (as one JSON object) to
/// `ctx`: what a record stores beside the rest of the config. `None` when there are none.
pub async fn seal_secret_config(
    state: &AppState,
    provider: &str,
    config: ConnectionConfig,
    ctx: &SealContext,
) -> Result<(ConnectionConfig, Option<Sealed>), Error> {
    let (plain, secret) = crate::providers::split_secret_config(provider, config);
    if secret.is_empty() {
        return Ok((plain, None));
    }
    let bytes = serde_json::to_vec(&secret).expect("a config serializes");
    Ok((plain, Some(Sealed(state.sealer.seal(&bytes, ctx).await?))))
}

/// Puts the sealed secret fields back into `config`, for templates and for the backend.
pub async fn open_secret_config(
    state: &AppState,
    sealed: Option<&Sealed>,
    ctx: &SealContext,
    config: &mut ConnectionConfig,
) -> Result<(), Error> {
    let Some(sealed) = sealed else {
        return Ok(());
    };
    let plain = state.sealer.open(&sealed.0, ctx).await?;
    let secret: ConnectionConfig = serde_json::from_slice(&plain).map_err(|e| {
        tracing::error!(category = ?e.classify(), "sealed connection config is not a JSON object");
        Error::internal()
    })?;
    config.extend(secret);
    Ok(())
}

/// The parts of a connection besides its credentials, each within its bound (`domain::limits`),
/// so that the stored item is too. Every path that brings them checks here before it calls a
/// provider or writes.
pub fn check_parts(
    connection_config: &ConnectionConfig,
    metadata: &Map<String, Value>,
    end_user: Option<&Value>,
    tags: &Map<String, Value>,
) -> Result<(), Error> {
    limits::check("connection_config", connection_config, limits::CONNECTION_CONFIG)?;
    limits::check("metadata", metadata, limits::METADATA)?;
    if let Some(end_user) = end_user {
        check_end_user(end_user)?;
    }
    check_tags(tags)
}

/// Credentials sealed to one connection, within their bound: how every path that stores
/// credentials (a new authorization, a refresh) seals them.
pub async fn seal_credentials(
    state: &AppState,
    integration: &IntegrationKey,
    connection_id: &ConnectionId,
    credentials: &Credentials,
) -> Result<Sealed, Error> {
    let plain = serde_json::to_vec(credentials).expect("credentials serialize");
    if plain.len() > limits::CREDENTIALS {
        return Err(Error::invalid(
            ErrorCode::InvalidCredentials,
            format!(
                "The credentials are larger than Latchkey stores ({} KiB as JSON).",
                limits::CREDENTIALS / 1024
            ),
        ));
    }
    let ctx = seal_context(state, integration, connection_id);
    Ok(Sealed(state.sealer.seal(&plain, &ctx).await?))
}

/// The credentials a stored connection holds, opened.
pub async fn open_credentials(state: &AppState, record: &ConnectionRecord) -> Result<Credentials, Error> {
    let plain = state
        .sealer
        .open(
            &record.credentials.0,
            &seal_context(state, &record.integration, &record.connection_id),
        )
        .await?;
    serde_json::from_slice(&plain).map_err(|e| {
        // Not `%e`: serde's message may quote part of the (secret) value.
        tracing::error!(category = ?e.classify(), line = e.line(), column = e.column(), "sealed credentials are not valid credentials JSON");
        Error::internal()
    })
}

/// Seals the credentials (and the provider's secret config fields) to this connection and
/// writes it: created, or (when `write` allows) replacing an earlier authorization of the same
/// connection id, which clears its refresh failures. A create-only write of a connection that
/// exists — also one a concurrent flow created a moment ago — is refused with
/// `connection_exists` by the store's conditional create.
pub async fn save_connection(state: &AppState, new: NewConnection<'_>) -> Result<Upsert, Error> {
    check_parts(&new.connection_config, &new.metadata, new.end_user.as_ref(), &new.tags)?;
    let sealed = seal_credentials(state, &new.integration.key, new.connection_id, new.credentials).await?;
    let ctx = seal_context(state, &new.integration.key, new.connection_id);
    let (connection_config, secret_config) =
        seal_secret_config(state, &new.integration.provider, new.connection_config, &ctx).await?;
    let now = state.clock.now();
    let record = ConnectionRecord {
        id: uuid::Uuid::new_v4().to_string(),
        integration: new.integration.key.clone(),
        connection_id: new.connection_id.clone(),
        provider: new.integration.provider.clone(),
        // The integration's: an MCP connection's credentials are OAuth2-shaped (`type: OAUTH2`).
        auth_mode: new.integration.auth_mode,
        credentials: sealed,
        connection_config,
        secret_config,
        vouched_config: new.vouched_config,
        metadata: new.metadata,
        end_user: new.end_user,
        tags: new.tags,
        expires_at: new.credentials.expires_at(),
        created_at: now,
        updated_at: now,
        last_fetched_at: now,
        version: 0,
        has_refresh_token: new.credentials.refresh_token().is_some(),
        last_read_at: None,
        errors: Vec::new(),
        refresh_failure: None,
        webhook_url_override: new.webhook_url_override,
    };
    match new.write {
        WriteMode::CreateOrReplace => Ok(state.store.upsert_connection(&record).await?.0),
        WriteMode::CreateOnly => match state.store.create_connection(&record).await {
            Ok(_) => Ok(Upsert::Created),
            Err(StoreError::Conflict) => Err(connection_exists(&new.integration.key, new.connection_id)),
            Err(e) => Err(e.into()),
        },
    }
}

/// `not_found`, naming the connection asked for.
pub fn connection_not_found(integration: &IntegrationKey, connection_id: &ConnectionId) -> Error {
    Error::not_found(
        ErrorCode::NotFound,
        format!("No connection '{connection_id}' for integration '{integration}'."),
    )
}

/// A warm read: one store read and one open of the sealed blob (two for a provider with
/// secret connection config, under the same context: with KMS, one data key). The store records
/// the read when it changes the connection's refresh schedule
/// (`ConnectionStore::read_connection`). The record comes back with its whole connection
/// config, secret fields included, so it is for reading: writes go through `save_connection`
/// (which seals them again) or `edit_connection`.
pub async fn read_connection(
    state: &AppState,
    integration: &IntegrationKey,
    connection_id: &ConnectionId,
) -> Result<(ConnectionRecord, Credentials), Error> {
    let record = state
        .store
        .read_connection(integration, connection_id, state.clock.now())
        .await?
        .ok_or_else(|| connection_not_found(integration, connection_id))?;
    open_connection(state, record).await
}

/// A stored connection opened for reading: its credentials, and its secret connection config
/// put back into `connection_config` (`secret_config` taken). For answers and provider calls,
/// never to be written back (writes seal the secret fields again).
pub(crate) async fn open_connection(
    state: &AppState,
    record: ConnectionRecord,
) -> Result<(ConnectionRecord, Credentials), Error> {
    let credentials = open_credentials(state, &record).await?;
    Ok((reveal_secret_config(state, record).await?, credentials))
}

/// A stored connection with its secret config fields put back into `connection_config`
/// (`secret_config` taken): for reading, like `open_connection`.
pub(crate) async fn reveal_secret_config(
    state: &AppState,
    mut record: ConnectionRecord,
) -> Result<ConnectionRecord, Error> {
    let ctx = seal_context(state, &record.integration, &record.connection_id);
    open_secret_config(
        state,
        record.secret_config.take().as_ref(),
        &ctx,
        &mut record.connection_config,
    )
    .await?;
    Ok(record)
}

/// The connection as stored now (no open, no recorded read); `not_found` when it is gone.
pub(crate) async fn stored_connection(
    state: &AppState,
    integration: &IntegrationKey,
    connection_id: &ConnectionId,
) -> Result<ConnectionRecord, Error> {
    state
        .store
        .get_connection(integration, connection_id)
        .await?
        .ok_or_else(|| connection_not_found(integration, connection_id))
}

/// Changes what a connection carries besides its credentials (end user, tags, metadata) with a
/// conditional write on its version, read again and retried when a concurrent write won — so
/// a refresh or re-authorization running at the same time is never overwritten. An edit that
/// fails (a merge grown past its bound) writes nothing.
pub async fn edit_connection(
    state: &AppState,
    integration: &IntegrationKey,
    connection_id: &ConnectionId,
    edit: impl Fn(&mut ConnectionRecord) -> Result<(), Error>,
) -> Result<ConnectionRecord, Error> {
    const ATTEMPTS: usize = 5;
    for _ in 0..ATTEMPTS {
        let mut record = stored_connection(state, integration, connection_id).await?;
        let version = record.version;
        edit(&mut record)?;
        record.updated_at = state.clock.now();
        match state.store.update_connection(&record, version).await {
            Ok(()) => {
                record.version = version + 1;
                return Ok(record);
            }
            Err(StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::conflict(
        ErrorCode::Conflict,
        "The connection kept changing while it was being updated; retry.",
    ))
}

pub async fn delete_connection(
    state: &AppState,
    integration: &IntegrationKey,
    connection_id: &ConnectionId,
) -> Result<(), Error> {
    if state.store.delete_connection(integration, connection_id).await? {
        Ok(())
    } else {
        Err(connection_not_found(integration, connection_id))
    }
}

/// Ordered by creation time, newest first.
pub async fn list_connections(state: &AppState, filter: &ConnectionFilter) -> Result<Vec<ConnectionSummary>, Error> {
    Ok(state.store.list_connections(filter).await?)
}

/// What the team's backend may change on a connection (`PATCH /connections/{id}`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionPatch {
    pub end_user: Option<Value>,
    pub tags: Option<Map<String, Value>>,
    /// Where its webhooks go (`events::destination`'s rule); `null` goes back to the
    /// environment's URL.
    #[serde(default, deserialize_with = "crate::domain::nullable")]
    pub webhook_url_override: Option<Option<String>>,
}

/// A `webhook_url_override` the backend sent, checked (and normalized) by the webhook URL rule.
pub fn check_webhook_url_override(state: &AppState, raw: Option<&str>) -> Result<Option<String>, Error> {
    use crate::events::destination::{parse, Source};
    raw.map(|url| parse(url, Source::Connection, state.config.allow_private_addresses))
        .transpose()
}

/// An end user is an object with a string `id` (and whatever else the team keeps on it, within
/// its bound).
fn check_end_user(end_user: &Value) -> Result<(), Error> {
    match end_user.get("id").and_then(Value::as_str) {
        Some(id) if end_user.is_object() && !id.is_empty() && id.len() <= 255 => {
            limits::check("end_user", end_user, limits::END_USER)
        }
        _ => Err(Error::invalid_body(
            "end_user must be an object with a non-empty string id.",
        )),
    }
}

fn check_tags(tags: &Map<String, Value>) -> Result<(), Error> {
    let fits = |v: &Value| v.as_str().is_some_and(|s| s.len() <= 255);
    if tags.len() > 64 || tags.iter().any(|(k, v)| k.is_empty() || k.len() > 64 || !fits(v)) {
        return Err(Error::invalid_body(
            "tags must be at most 64 string values of up to 255 characters under keys of 1 to 64 characters.",
        ));
    }
    limits::check("tags", tags, limits::TAGS)
}

/// Applies a patch: checked first, then one conditional edit.
pub async fn patch_connection(
    state: &AppState,
    integration: &IntegrationKey,
    connection_id: &ConnectionId,
    patch: ConnectionPatch,
) -> Result<ConnectionRecord, Error> {
    if let Some(end_user) = &patch.end_user {
        check_end_user(end_user)?;
    }
    if let Some(tags) = &patch.tags {
        check_tags(tags)?;
    }
    let webhook_url_override = patch
        .webhook_url_override
        .as_ref()
        .map(|url| check_webhook_url_override(state, url.as_deref()))
        .transpose()?;
    edit_connection(state, integration, connection_id, |record| {
        if let Some(end_user) = &patch.end_user {
            record.end_user = Some(end_user.clone());
        }
        if let Some(tags) = &patch.tags {
            record.tags = tags.clone();
        }
        if let Some(url) = &webhook_url_override {
            record.webhook_url_override = url.clone();
        }
        Ok(())
    })
    .await
}

/// Whether new metadata replaces a connection's or merges into it (top-level keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataWrite {
    Replace,
    Merge,
}

/// Writes metadata on several connections. Every one must exist before any is changed: a
/// typo changes nothing.
pub async fn write_metadata(
    state: &AppState,
    integration: &IntegrationKey,
    connection_ids: &[ConnectionId],
    metadata: &Map<String, Value>,
    how: MetadataWrite,
) -> Result<(), Error> {
    limits::check("metadata", metadata, limits::METADATA)?;
    let merged = |record: &ConnectionRecord| {
        let mut merged = match how {
            MetadataWrite::Merge => record.metadata.clone(),
            MetadataWrite::Replace => Map::new(),
        };
        merged.extend(metadata.clone());
        merged
    };
    for id in connection_ids {
        let record = stored_connection(state, integration, id).await?;
        limits::check("metadata", &merged(&record), limits::METADATA)?;
    }
    for id in connection_ids {
        edit_connection(state, integration, id, |record| {
            let metadata = merged(record);
            // Checked again: a concurrent merge may have grown it since.
            limits::check("metadata", &metadata, limits::METADATA)?;
            record.metadata = metadata;
            Ok(())
        })
        .await?;
    }
    Ok(())
}
