//! Persistence. The store is one trait per domain — `IntegrationStore`, `ConnectionStore`,
//! `FlowSessionStore`, `ActivityStore`, `SettingsStore`, each stating its invariants — and
//! `Store`, their union, the seam between the domain and a backend: `sqlite` (embedded, the
//! local default) and `dynamo` (AWS). Records (`records.rs`) are plain data; secrets inside
//! them are already sealed. One conformance suite (`conformance`) runs against every backend.
//!
//! Callers hold an `Arc<dyn Store>` and call any method on it; code that holds a concrete
//! store imports the traits with `use crate::store::prelude::*`.
//!
//! A new domain (e.g. a queue) is a trait here, added to `Store`'s bounds, its blanket impl and
//! `prelude`; a file implementing it in `sqlite/` and in `dynamo/` (keys in `dynamo/keys.rs`, a
//! table in a new SQLite migration); and a file of tests in `conformance/`.

#[cfg(any(test, feature = "test-support"))]
pub mod conformance;
#[cfg(feature = "aws")]
pub mod dynamo;
#[cfg(feature = "sqlite")]
pub mod sqlite;

mod records;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::domain::{ConnectionId, IntegrationKey};
pub use records::*;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    /// A conditional write lost: the record exists already, or changed since it was read.
    #[error("conditional write failed")]
    Conflict,
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("corrupt record: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

impl From<StoreError> for crate::error::Error {
    fn from(e: StoreError) -> Self {
        use crate::error::{Error, ErrorCode};
        match e {
            StoreError::Conflict => Error::conflict(ErrorCode::Conflict, "The record was changed concurrently; retry."),
            StoreError::Unavailable(detail) => {
                tracing::error!(%detail, "store unavailable");
                Error::unavailable("The store")
            }
            StoreError::Corrupt(detail) => {
                tracing::error!(%detail, "corrupt record in store");
                Error::internal()
            }
        }
    }
}

/// Integrations: one record per integration key.
#[async_trait]
pub trait IntegrationStore: Send + Sync {
    /// Creates the integration; `Conflict` when the key is taken (never overwrites).
    async fn create_integration(&self, record: &IntegrationRecord) -> StoreResult<()>;
    /// Replaces an existing integration; `Ok(false)` when there is none (never creates).
    async fn replace_integration(&self, record: &IntegrationRecord) -> StoreResult<bool>;
    async fn get_integration(&self, key: &IntegrationKey) -> StoreResult<Option<IntegrationRecord>>;
    /// Ordered by key.
    async fn list_integrations(&self) -> StoreResult<Vec<IntegrationRecord>>;
    /// Deletes the integration and all its connections; `Ok(false)` when there was none.
    async fn delete_integration(&self, key: &IntegrationKey) -> StoreResult<bool>;
}

/// Connections: one record per (integration, connection id), with its credentials sealed.
///
/// - Every write stores `version` = the previous version + 1 (1 when created); the record's own
///   `version` field is never trusted on input.
/// - Reads see every write that returned before them (consistent reads).
/// - A connection may carry a refresh lease, which is not part of the record: writes of the
///   record keep it, and only `acquire_refresh_lease` / `release_refresh_lease` change it.
#[async_trait]
pub trait ConnectionStore: Send + Sync {
    /// Writes the connection; one it replaces passes on what `ConnectionRecord::replacing`
    /// keeps. Stores and returns `version` = previous + 1 (1 when created). Concurrent upserts
    /// of one connection serialize, each on its own version; a backend that retries a lost
    /// race a bounded number of times answers `Conflict` when it runs out.
    async fn upsert_connection(&self, record: &ConnectionRecord) -> StoreResult<(Upsert, u64)>;
    /// Writes only if the stored version is still `expected_version`, and stores
    /// `expected_version + 1`; else `Conflict` (also when the connection is gone: an update
    /// never recreates a deleted connection).
    async fn update_connection(&self, record: &ConnectionRecord, expected_version: u64) -> StoreResult<()>;
    async fn get_connection(
        &self,
        integration: &IntegrationKey,
        connection_id: &ConnectionId,
    ) -> StoreResult<Option<ConnectionRecord>>;
    /// Ordered by creation time, newest first.
    async fn list_connections(&self, filter: &ConnectionFilter) -> StoreResult<Vec<ConnectionRecord>>;
    /// `Ok(false)` when there was none.
    async fn delete_connection(&self, integration: &IntegrationKey, connection_id: &ConnectionId) -> StoreResult<bool>;

    /// Takes the refresh lease of a connection for `owner` until `until`, if it is free or its
    /// holder's lease ended at or before `now` (a conditional write: of concurrent takers at
    /// most one wins). `Ok(false)`: someone else holds it, or there is no such connection.
    async fn acquire_refresh_lease(
        &self,
        integration: &IntegrationKey,
        connection_id: &ConnectionId,
        owner: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> StoreResult<bool>;
    /// Gives the lease back if `owner` still holds it; otherwise does nothing.
    async fn release_refresh_lease(
        &self,
        integration: &IntegrationKey,
        connection_id: &ConnectionId,
        owner: &str,
    ) -> StoreResult<()>;
    /// Connections whose `expires_at` is strictly before `before`, soonest first, at most
    /// `limit`. Connections without `expires_at` are never due. Served by an index, not a scan.
    async fn due_connections(&self, before: OffsetDateTime, limit: usize) -> StoreResult<Vec<ConnectionRecord>>;
}

/// The short-lived records of browser flows. Each carries its own expiry, which the caller
/// checks: a backend may keep an expired record for a while (DynamoDB's TTL deletes lazily).
#[async_trait]
pub trait FlowSessionStore: Send + Sync {
    /// `Conflict` when the state exists already: a state is never reused.
    async fn put_oauth_session(&self, session: &OAuthSession) -> StoreResult<()>;
    /// Removes and returns the session: of two concurrent takes, exactly one gets it.
    async fn take_oauth_session(&self, state: &str) -> StoreResult<Option<OAuthSession>>;

    /// `Conflict` when the token hash exists already.
    async fn put_connect_session(&self, session: &ConnectSession) -> StoreResult<()>;
    /// Reusable until it expires: reading does not consume it.
    async fn get_connect_session(&self, token_hash: &str) -> StoreResult<Option<ConnectSession>>;

    /// Writes (or overwrites) the result for a nonce.
    async fn put_auth_result(&self, result: &AuthResult) -> StoreResult<()>;
    /// Removes and returns the result: readable once, like `take_oauth_session`.
    async fn take_auth_result(&self, nonce_hash: &str) -> StoreResult<Option<AuthResult>>;

    /// `Conflict` when the client hash exists already.
    async fn put_socket(&self, socket: &SocketRecord) -> StoreResult<()>;
    /// Reading does not consume it: a flow binds to it at its start.
    async fn get_socket(&self, client_hash: &str) -> StoreResult<Option<SocketRecord>>;
    /// Removes and returns the socket: a flow's outcome is sent once.
    async fn take_socket(&self, client_hash: &str) -> StoreResult<Option<SocketRecord>>;
}

/// The activity log: entries are appended, never changed.
#[async_trait]
pub trait ActivityStore: Send + Sync {
    async fn append_activity(&self, entry: &ActivityEntry) -> StoreResult<()>;
    /// Newest first, at most `filter.limit`.
    async fn list_activity(&self, filter: &ActivityFilter) -> StoreResult<Vec<ActivityEntry>>;
}

/// The environment's run-time settings: one record, written whole.
#[async_trait]
pub trait SettingsStore: Send + Sync {
    /// The defaults until settings are first written.
    async fn get_settings(&self) -> StoreResult<EnvironmentSettings>;
    async fn put_settings(&self, settings: &EnvironmentSettings) -> StoreResult<()>;
}

/// The whole store: every domain's trait. Implemented for every type that implements them
/// all, so a backend implements the domain traits and `Arc<dyn Store>` serves everything.
pub trait Store: IntegrationStore + ConnectionStore + FlowSessionStore + ActivityStore + SettingsStore {}

impl<T> Store for T where
    T: IntegrationStore + ConnectionStore + FlowSessionStore + ActivityStore + SettingsStore + ?Sized
{
}

/// The traits a caller needs in scope to call store methods on a concrete store (methods on
/// `dyn Store` need no import): `use latchkey::store::prelude::*;`.
pub mod prelude {
    pub use super::{ActivityStore, ConnectionStore, FlowSessionStore, IntegrationStore, SettingsStore, Store};
}
