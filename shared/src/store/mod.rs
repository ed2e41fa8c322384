//! Persistence. The store is one trait per domain — `IntegrationStore`, `ConnectionStore`,
//! `FlowSessionStore`, `ActivityStore`, `SettingsStore`, `NonceStore`, each stating its
//! invariants — and
//! `Store`, their union, the seam between the domain and a backend: `sqlite` (embedded, the
//! local default) and `dynamo` (AWS). Records (`records.rs`) are plain data; secrets inside
//! them are already sealed. One conformance suite (`conformance`) runs against every backend.
//!
//! Callers hold an `Arc<dyn Store>` and call any method on it; code that holds a concrete
//! store imports the traits with `use crate::store::prelude::*`.
//!
//! A new domain is a trait here, added to `Store`'s bounds, its blanket impl and `prelude`; a
//! file implementing it in `sqlite/` and in `dynamo/` (keys in `dynamo/keys.rs`, a table in a
//! new SQLite migration); and a file of tests in `conformance/`. One trait is outside `Store`:
//! `QueueStore`, the persistence of the local job queue, which only SQLite implements (on AWS
//! the queue is SQS, `jobs::sqs`).
//!
//! Connection writes index each connection by `RefreshPolicy::next_proactive`, computed by the
//! store from the record with the policy it was built with (`with_refresh_policy`), so the
//! refresh index and the policy are one rule. `shards.rs` holds the DynamoDB layout's shard
//! counts and hash (the SQLite store has one partition of everything).

#[cfg(any(test, feature = "test-support"))]
pub mod conformance;
#[cfg(feature = "aws")]
pub mod dynamo;
#[cfg(feature = "sqlite")]
pub mod sqlite;

mod records;
pub mod shards;

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

/// How long an expired short-lived row (a session, a result, a nonce) is kept before it is
/// deleted — by DynamoDB's TTL, or the local stack's purge — so that a caller finding it still
/// says "expired" rather than "unknown".
pub const EXPIRED_ROWS_KEPT: time::Duration = time::Duration::hours(1);

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

/// Integrations: one record per integration key, each in a generation.
///
/// - `create_integration` assigns a new `generation` (the record's own is ignored); replacing
///   keeps it. A connection belongs to the generation its integration had when it was written.
/// - Deleting an integration ends its generation at once: from then on its connections are not
///   read, listed, due or written (`ConnectionStore`), and they are removed later, a bounded step
///   at a time, by `purge_connections` (the `jobs::purge` job drives it).
#[async_trait]
pub trait IntegrationStore: Send + Sync {
    /// Creates the integration; `Conflict` when the key is taken (never overwrites).
    async fn create_integration(&self, record: &IntegrationRecord) -> StoreResult<()>;
    /// Replaces an existing integration, keeping its generation; `Ok(false)` when there is none
    /// (never creates).
    async fn replace_integration(&self, record: &IntegrationRecord) -> StoreResult<bool>;
    async fn get_integration(&self, key: &IntegrationKey) -> StoreResult<Option<IntegrationRecord>>;
    /// Ordered by key.
    async fn list_integrations(&self) -> StoreResult<Vec<IntegrationRecord>>;
    /// Deletes the integration if it is still in `generation`; `Ok(false)` when there is none
    /// (or another generation: deleted and created again meanwhile). Its connections stay
    /// invisible until purged.
    async fn delete_integration(&self, key: &IntegrationKey, generation: &str) -> StoreResult<bool>;
    /// Into how many shards `purge_connections` divides a generation (steps of different shards
    /// may run at the same time).
    fn purge_shards(&self) -> u32;
    /// Deletes up to `limit` connections of `integration` in the ended `generation`, in
    /// `shard`. `examined` = 0 means the shard is empty. Refuses (`Conflict`) while the
    /// generation is the integration's current one: a purge never touches a live integration.
    async fn purge_connections(
        &self,
        integration: &IntegrationKey,
        generation: &str,
        shard: u32,
        limit: usize,
    ) -> StoreResult<Purged>;
}

/// Connections: one record per (integration, connection id), with its credentials sealed.
///
/// - Every write stores `version` = the previous version + 1 (1 when created); the record's own
///   `version` field is never trusted on input.
/// - Reads see every write that returned before them (consistent reads).
/// - Only connections of their integration's current generation exist for reads and listings
///   (`IntegrationStore`). A write that read the connection before its integration was deleted
///   (`update_connection`, a lease) may land in the ended generation: nothing reads it there,
///   and the purge removes it.
/// - A connection may carry a refresh lease, which is not part of the record: writes of the
///   record keep it, and only `acquire_refresh_lease` / `release_refresh_lease` change it.
///   `last_read_at` is kept the same way by `read_connection`.
/// - Every write indexes the connection by `RefreshPolicy::next_proactive` (none: not in the
///   refresh index).
#[async_trait]
pub trait ConnectionStore: Send + Sync {
    /// Writes the connection into its integration's current generation; one it replaces
    /// passes on what `ConnectionRecord::replacing` keeps. Stores and returns `version` =
    /// previous + 1 (1 when created; a leftover of an ended generation counts as absent).
    /// Concurrent upserts of one connection serialize, each on its own version; a backend that
    /// retries a lost race a bounded number of times answers `Conflict` when it runs out.
    /// `Conflict` also when the integration does not exist (deleted since the caller read it).
    async fn upsert_connection(&self, record: &ConnectionRecord) -> StoreResult<(Upsert, u64)>;
    /// Writes the connection into its integration's current generation only if none exists
    /// there under its (integration, connection id) — a leftover of an ended generation counts
    /// as absent — with `version` 1; `Conflict` when one does, which is left as it was, and
    /// when the integration does not exist. Of concurrent creators of one connection exactly one
    /// wins: the write itself is conditional, not a read before it.
    async fn create_connection(&self, record: &ConnectionRecord) -> StoreResult<u64>;
    /// Writes only if the stored version is still `expected_version`, and stores
    /// `expected_version + 1`; else `Conflict` (also when the connection is gone: an update
    /// never recreates a deleted connection).
    async fn update_connection(&self, record: &ConnectionRecord, expected_version: u64) -> StoreResult<()>;
    async fn get_connection(
        &self,
        integration: &IntegrationKey,
        connection_id: &ConnectionId,
    ) -> StoreResult<Option<ConnectionRecord>>;
    /// A backend read at `at`: `get_connection`, and when the read moves the connection's next
    /// renewal (`RefreshPolicy::read_moves_schedule`) one more write that records
    /// `last_read_at = at` (no version bump; skipped if the record changed meanwhile). The
    /// returned record carries the recorded value.
    async fn read_connection(
        &self,
        integration: &IntegrationKey,
        connection_id: &ConnectionId,
        at: OffsetDateTime,
    ) -> StoreResult<Option<ConnectionRecord>>;
    /// Ordered by creation time, newest first.
    async fn list_connections(&self, filter: &ConnectionFilter) -> StoreResult<Vec<ConnectionSummary>>;
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
    /// The last write of a refresh: `update_connection`, giving the refresh lease back in the
    /// same write (whoever holds it: a holder's lease outlasts its work, see
    /// `connections::lease`), so a refresh costs one write less.
    async fn finish_refresh(&self, record: &ConnectionRecord, expected_version: u64) -> StoreResult<()>;
    /// Gives the lease back if `owner` still holds it; otherwise does nothing.
    async fn release_refresh_lease(
        &self,
        integration: &IntegrationKey,
        connection_id: &ConnectionId,
        owner: &str,
    ) -> StoreResult<()>;
    /// How many shards the refresh index has: `due_connections` reads one at a time.
    fn refresh_shards(&self) -> u32;
    /// Connections of `shard` whose next proactive renewal (`RefreshPolicy::next_proactive`,
    /// as of their last write) is strictly before `before`, soonest first, at most `limit`.
    /// Served by the sparse refresh index, not a scan; connections of ended generations may
    /// appear until purged (their reads answer `None`).
    async fn due_connections(
        &self,
        shard: u32,
        before: OffsetDateTime,
        limit: usize,
    ) -> StoreResult<Vec<DueConnection>>;
}

/// The short-lived records of browser flows, and the console's sessions. Each carries its own
/// expiry, which the caller checks: a backend may keep an expired record for a while
/// (DynamoDB's TTL deletes lazily).
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

    /// `Conflict` when the token hash exists already. A backend may drop sessions that
    /// expired (SQLite does it here; DynamoDB by TTL).
    async fn put_console_session(&self, session: &ConsoleSession) -> StoreResult<()>;
    async fn get_console_session(&self, token_hash: &str) -> StoreResult<Option<ConsoleSession>>;
    /// Signing out: the session is gone for every instance. Deleting none is not an error.
    async fn delete_console_session(&self, token_hash: &str) -> StoreResult<()>;

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
    /// Newest first by (timestamp, id), older than `filter.before`, at most `filter.limit`;
    /// the next page starts `before: Some(ActivityCursor::after(last))`.
    async fn list_activity(&self, filter: &ActivityFilter) -> StoreResult<Vec<ActivityEntry>>;
}

/// The environment's run-time settings: one record, written whole.
#[async_trait]
pub trait SettingsStore: Send + Sync {
    /// The defaults until settings are first written.
    async fn get_settings(&self) -> StoreResult<EnvironmentSettings>;
    async fn put_settings(&self, settings: &EnvironmentSettings) -> StoreResult<()>;
}

/// Single-use markers that expire, such as the hash of a signed request's signature: each may
/// be claimed once while it lives, whichever process or Lambda instance claims it.
#[async_trait]
pub trait NonceStore: Send + Sync {
    /// Claims `nonce` until `expires_at`: `Ok(true)` when it was free (never claimed, or its
    /// claim ended at or before `now`), `Ok(false)` while an earlier claim lives. A conditional
    /// write: of concurrent claims of one nonce exactly one wins.
    async fn claim_nonce(&self, nonce: &str, now: OffsetDateTime, expires_at: OffsetDateTime) -> StoreResult<bool>;
}

/// The local job queue's persistence (`jobs::local`): at-least-once delivery with a
/// visibility timeout, attempts and a dead-letter state, like SQS. Not part of `Store`: only the
/// SQLite store implements it.
#[async_trait]
pub trait QueueStore: Send + Sync {
    /// Adds a job (`attempts` 0), claimable from `visible_at`.
    async fn push_job(&self, id: &str, body: &str, visible_at: OffsetDateTime) -> StoreResult<()>;
    /// Claims up to `limit` jobs visible at `now`, oldest first: each becomes invisible until
    /// `now + lease`, its `attempts` grows by one and it gets a new `claim`. Of concurrent
    /// claimers, each job goes to one.
    async fn claim_jobs(&self, now: OffsetDateTime, lease: time::Duration, limit: usize)
        -> StoreResult<Vec<QueuedJob>>;
    /// Removes a job done under `claim`; nothing when the claim is no longer current.
    async fn finish_job(&self, id: &str, claim: &str) -> StoreResult<()>;
    /// Makes a job claimed under `claim` visible again at `visible_at`, recording `error`.
    async fn retry_job(&self, id: &str, claim: &str, visible_at: OffsetDateTime, error: &str) -> StoreResult<()>;
    /// Moves a job claimed under `claim` to the dead-letter state (never claimed again).
    async fn bury_job(&self, id: &str, claim: &str, error: &str) -> StoreResult<()>;
    /// Dead jobs, oldest first, at most `limit`.
    async fn dead_jobs(&self, limit: usize) -> StoreResult<Vec<QueuedJob>>;
}

/// The whole store: every domain's trait. Implemented for every type that implements them
/// all, so a backend implements the domain traits and `Arc<dyn Store>` serves everything.
pub trait Store:
    IntegrationStore + ConnectionStore + FlowSessionStore + ActivityStore + SettingsStore + NonceStore
{
}

impl<T> Store for T where
    T: IntegrationStore + ConnectionStore + FlowSessionStore + ActivityStore + SettingsStore + NonceStore + ?Sized
{
}

/// The traits a caller needs in scope to call store methods on a concrete store (methods on
/// `dyn Store` need no import): `use latchkey::store::prelude::*;`.
pub mod prelude {
    pub use super::{
        ActivityStore, ConnectionStore, FlowSessionStore, IntegrationStore, NonceStore, QueueStore, SettingsStore,
        Store,
    };
}
