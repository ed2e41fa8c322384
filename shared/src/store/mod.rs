//! Persistence. `Store` is the seam between the domain and a backend: `sqlite` (embedded, the
//! local default) and DynamoDB (AWS). Records are plain data; secrets inside them are already
//! sealed. One conformance suite (`conformance`) runs against every implementation.

#[cfg(any(test, feature = "test-support"))]
pub mod conformance;
#[cfg(feature = "aws")]
pub mod dynamo;
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

#[async_trait]
pub trait Store: Send + Sync {
    /// Creates the integration; `Conflict` when the key is taken.
    async fn create_integration(&self, record: &IntegrationRecord) -> StoreResult<()>;
    /// Replaces an existing integration; `Ok(false)` when there is none.
    async fn replace_integration(&self, record: &IntegrationRecord) -> StoreResult<bool>;
    async fn get_integration(&self, key: &IntegrationKey) -> StoreResult<Option<IntegrationRecord>>;
    async fn list_integrations(&self) -> StoreResult<Vec<IntegrationRecord>>;
    /// Deletes the integration and all its connections; `Ok(false)` when there was none.
    async fn delete_integration(&self, key: &IntegrationKey) -> StoreResult<bool>;

    async fn put_oauth_session(&self, session: &OAuthSession) -> StoreResult<()>;
    /// Removes and returns the session: of two concurrent takes, exactly one gets it. Expiry is
    /// the caller's to check.
    async fn take_oauth_session(&self, state: &str) -> StoreResult<Option<OAuthSession>>;

    /// Writes the connection; one it replaces passes on what `ConnectionRecord::replacing`
    /// keeps. Stores and returns `version` = previous + 1 (1 when created).
    async fn upsert_connection(&self, record: &ConnectionRecord) -> StoreResult<(Upsert, u64)>;
    /// Writes only if the stored version is still `expected_version`; else `Conflict`.
    async fn update_connection(&self, record: &ConnectionRecord, expected_version: u64) -> StoreResult<()>;
    async fn get_connection(
        &self,
        integration: &IntegrationKey,
        connection_id: &ConnectionId,
    ) -> StoreResult<Option<ConnectionRecord>>;
    /// Ordered by creation time, newest first.
    async fn list_connections(&self, filter: &ConnectionFilter) -> StoreResult<Vec<ConnectionRecord>>;
    async fn delete_connection(&self, integration: &IntegrationKey, connection_id: &ConnectionId) -> StoreResult<bool>;

    async fn append_activity(&self, entry: &ActivityEntry) -> StoreResult<()>;
    /// Newest first.
    async fn list_activity(&self, filter: &ActivityFilter) -> StoreResult<Vec<ActivityEntry>>;

    /// `Conflict` when the token hash exists already.
    async fn put_connect_session(&self, session: &ConnectSession) -> StoreResult<()>;
    /// Expiry is the caller's to check.
    async fn get_connect_session(&self, token_hash: &str) -> StoreResult<Option<ConnectSession>>;

    /// Writes (or overwrites) the result for a nonce.
    async fn put_auth_result(&self, result: &AuthResult) -> StoreResult<()>;
    /// Removes and returns the result: readable once. Expiry is the caller's to check.
    async fn take_auth_result(&self, nonce_hash: &str) -> StoreResult<Option<AuthResult>>;

    async fn get_settings(&self) -> StoreResult<EnvironmentSettings>;
    async fn put_settings(&self, settings: &EnvironmentSettings) -> StoreResult<()>;

    /// Takes the refresh lease of a connection for `owner` until `until`, if it is free or its
    /// holder's lease ended at or before `now`. `Ok(false)`: someone else holds it, or there
    /// is no such connection. The lease is not part of the record: writes of the record keep it.
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
