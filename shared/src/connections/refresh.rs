//! Keeping a connection's credentials fresh: the one path every mode's `AuthScheme::refresh`
//! runs in.
//!
//! - A backend read (`read_fresh_connection`) refreshes first when the credentials expire
//!   within the read margin (`RefreshPolicy::read_margin`: 15 minutes, or a catalog entry's
//!   `token_expiration_buffer`, never more than half the token's lifetime) or the caller forces
//!   it, and the mode can (`AuthScheme::refresh_on_read`). A warm read of fresh credentials
//!   stays one store read and one open.
//! - The scheduler's job (`refresh_due`) renews a connection the refresh index says is due
//!   (`RefreshPolicy::next_proactive`: hot, keepalive, verify).
//!
//! Both take the lease (`lease`) with a conditional write, read the connection again under it
//! (another instance may have refreshed it, or recorded a failure, meanwhile: then that is the
//! answer), call the provider through the mode, store what it issued with a write conditional
//! on the version read, and give the lease back. Readers that find the lease taken wait for the
//! holder's write (polling, bounded) and use it rather than refresh.
//!
//! What a provider issued is stored before it is handed out, so a rotated refresh token is
//! either written or the read fails. A write lost to a concurrent one looks at what won: an
//! edit of what else the connection carries (metadata, tags, end user) is kept and the
//! credentials are written on top of it; a new authorization wins (its grant is the newer); a
//! delete stays a delete. A store (or key service) that stays unavailable through the write's
//! retries fails the read with 503 and the lease is kept until it ends, so no other instance
//! sends the old refresh token meanwhile. A response without a refresh token keeps the old one
//! (the OAuth2 mode's `refresh`).
//!
//! Failures are `failure`'s: a refused refresh backs off and gives up, an unavailable provider
//! leaves the old credentials in place and is retried.

use time::OffsetDateTime;

use super::failure::{self, Recorded};
use super::lease::{Lease, Waiting};
use super::{
    connection_not_found, open_connection, open_credentials, open_secret_config, read_connection, reveal_secret_config,
    seal_context, seal_credentials, seal_secret_config, stored_connection,
};
use crate::activity::Attempt;
use crate::auth::{self, ModeContext, Obtained};
use crate::credentials::Credentials;
use crate::domain::{ConnectionConfig, ConnectionId, IntegrationKey};
use crate::error::{Error, ErrorCode, ErrorKind};
use crate::refresh_policy::{Reason, RefreshFacts};
use crate::store::{ConnectionRecord, FailureKind, RefreshFailure, Sealed, StoreError};
use crate::AppState;

/// The `operation` of a refresh's activity entries.
pub const OPERATION: &str = "refresh";

/// A backend read asking for the credentials: whether it forces a refresh, and when it asked.
#[derive(Debug, Clone, Copy)]
struct Ask {
    force: bool,
    at: OffsetDateTime,
}

/// Why a refresh runs.
#[derive(Debug, Clone, Copy)]
enum Trigger {
    Read(Ask),
    Scheduled,
}

/// What a read needs of the connection as it is now.
enum Need {
    /// The stored credentials answer it (fresh, or nothing can refresh them).
    Nothing,
    Refresh,
    /// A refresh, but a failed one holds the provider off: the failure answers.
    HeldOff(RefreshFailure),
}

fn need(state: &AppState, record: &ConnectionRecord, credentials: &Credentials, ask: Ask, now: OffsetDateTime) -> Need {
    let Some(scheme) = auth::scheme(record.auth_mode) else {
        return Need::Nothing;
    };
    // A refresh that completed after the read asked is the one it forced.
    let force = ask.force && record.last_fetched_at < ask.at;
    let margin = state.config.refresh.read_margin(&RefreshFacts::from(record));
    let expiring = credentials.expires_at().is_some_and(|t| t - margin <= now);
    if !scheme.refresh_on_read(credentials, expiring, force) {
        return Need::Nothing;
    }
    match &record.refresh_failure {
        // A forced read asks the provider anyway, unless the failure is one recorded since it
        // asked (by the holder it waited for).
        Some(f) if failure::holds(f, now) && (!force || f.last_failure_at >= ask.at) => Need::HeldOff(f.clone()),
        _ => Need::Refresh,
    }
}

/// A backend read (`GET /connections/{id}`): the connection, refreshed first when it needs it
/// (see the module doc). `force`: `force_refresh=true`.
pub async fn read_fresh_connection(
    state: &AppState,
    integration: &IntegrationKey,
    connection_id: &ConnectionId,
    force: bool,
) -> Result<(ConnectionRecord, Credentials), Error> {
    let (mut record, mut credentials) = read_connection(state, integration, connection_id).await?;
    let ask = Ask {
        force,
        at: state.clock.now(),
    };
    let mut waiting: Option<Waiting> = None;
    loop {
        let now = state.clock.now();
        match need(state, &record, &credentials, ask, now) {
            Need::Nothing => return Ok((record, credentials)),
            Need::HeldOff(f) => return failure::answer_held_off(record, credentials, &f, ask.force, now),
            Need::Refresh => {}
        }
        if let Some(lease) = Lease::try_take(state, &record).await? {
            let done = under_lease(state, &lease, Trigger::Read(ask)).await;
            let done = settle(state, lease, done).await?;
            let (record, credentials) = answer(done, ask, state.clock.now())?;
            // What was done is the connection as stored: its secret config opened for the answer.
            return Ok((reveal_secret_config(state, record).await?, credentials));
        }
        // Another instance is refreshing it: wait for what it writes, and decide again on that.
        let waiting = waiting.get_or_insert_with(|| Waiting::start(state));
        if !waiting.next(state).await {
            return gave_up_waiting(record, credentials, ask, state.clock.now());
        }
        let latest = stored_connection(state, integration, connection_id).await?;
        if latest.version != record.version {
            (record, credentials) = open_connection(state, latest).await?;
        }
    }
}

/// The holder did not finish in time: the old credentials while they are valid (unless forced),
/// else a retryable error.
fn gave_up_waiting(
    record: ConnectionRecord,
    credentials: Credentials,
    ask: Ask,
    now: OffsetDateTime,
) -> Result<(ConnectionRecord, Credentials), Error> {
    if !ask.force && credentials.expires_at().is_none_or(|t| now < t) {
        return Ok((record, credentials));
    }
    Err(Error::new(
        ErrorKind::Unavailable,
        ErrorCode::ServiceUnavailable,
        "A refresh of this connection is in progress and has not finished yet; retry in a moment.",
    ))
}

/// What the scheduler's refresh job did with one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renewal {
    /// Deleted (or its integration was).
    Gone,
    /// Not due any more: a read refreshed it, it was authorized again, or a failure holds it off.
    NotDue,
    /// Another instance holds its lease (it is being refreshed right now).
    Busy,
    Refreshed,
    Failed(FailureKind),
    /// Authorized again while it was being refreshed: the new authorization stands.
    Superseded,
}

/// The scheduler's job for one connection: renews it if the refresh index was right that it is
/// due (`RefreshPolicy::next_proactive` at or before now), through the same lease and write as
/// a read. Never waits for another holder.
pub async fn refresh_due(
    state: &AppState,
    integration: &IntegrationKey,
    connection_id: &ConnectionId,
) -> Result<Renewal, Error> {
    let Some(record) = state.store.get_connection(integration, connection_id).await? else {
        return Ok(Renewal::Gone);
    };
    if due(state, &record, state.clock.now()).is_none() {
        return Ok(Renewal::NotDue);
    }
    let Some(lease) = Lease::try_take(state, &record).await? else {
        return Ok(Renewal::Busy);
    };
    let done = under_lease(state, &lease, Trigger::Scheduled).await;
    Ok(match settle(state, lease, done).await {
        Ok(Done::Refreshed(..)) => Renewal::Refreshed,
        Ok(Done::Superseded(..)) => Renewal::Superseded,
        Ok(Done::Failed(_, _, f)) => Renewal::Failed(f.kind),
        Ok(Done::Current(..) | Done::HeldOff(..)) => Renewal::NotDue,
        Err(e) if e.kind == ErrorKind::NotFound => Renewal::Gone,
        Err(e) => return Err(e),
    })
}

/// Why the connection is due for renewal ahead of reads at `now`, if it is.
fn due(state: &AppState, record: &ConnectionRecord, now: OffsetDateTime) -> Option<Reason> {
    state
        .config
        .refresh
        .next_proactive(&RefreshFacts::from(record))
        .filter(|p| p.at <= now)
        .map(|p| p.reason)
}

/// What happened under the lease.
enum Done {
    /// Nothing needed doing: this is the connection (refreshed by another instance meanwhile).
    Current(ConnectionRecord, Credentials),
    /// A failure recorded meanwhile answers (no provider call).
    HeldOff(ConnectionRecord, Credentials, RefreshFailure),
    Refreshed(ConnectionRecord, Credentials),
    /// The refresh failed; the connection carries the failure and its old credentials.
    Failed(ConnectionRecord, Credentials, RefreshFailure),
    /// Authorized again while being refreshed: the new authorization.
    Superseded(ConnectionRecord, Credentials),
}

/// How a failure under the lease leaves it.
enum Broken {
    Release(Error),
    /// The provider issued credentials that could not be stored: the lease is kept until it
    /// ends (see the module doc).
    KeepLease(Error),
}

impl From<Error> for Broken {
    fn from(e: Error) -> Self {
        Broken::Release(e)
    }
}

impl From<StoreError> for Broken {
    fn from(e: StoreError) -> Self {
        Broken::Release(e.into())
    }
}

/// Gives the lease back (or keeps it) once the work under it is done. Stored credentials gave
/// it back already (`ConnectionStore::finish_refresh`).
async fn settle(state: &AppState, lease: Lease, done: Result<Done, Broken>) -> Result<Done, Error> {
    match done {
        Ok(done @ Done::Refreshed(..)) => Ok(done),
        Ok(done) => {
            lease.release(state).await;
            Ok(done)
        }
        Err(Broken::Release(e)) => {
            lease.release(state).await;
            Err(e)
        }
        Err(Broken::KeepLease(e)) => {
            lease.keep();
            Err(e)
        }
    }
}

/// A read's answer from what was done.
fn answer(done: Done, ask: Ask, now: OffsetDateTime) -> Result<(ConnectionRecord, Credentials), Error> {
    match done {
        Done::Current(r, c) | Done::Refreshed(r, c) | Done::Superseded(r, c) => Ok((r, c)),
        Done::HeldOff(r, c, f) | Done::Failed(r, c, f) => failure::answer_held_off(r, c, &f, ask.force, now),
    }
}

/// Under the lease: read again, decide again, and refresh if still needed.
async fn under_lease(state: &AppState, lease: &Lease, trigger: Trigger) -> Result<Done, Broken> {
    let now = state.clock.now();
    let latest = stored_connection(state, &lease.integration, &lease.connection_id).await?;
    let credentials = open_credentials(state, &latest).await?;
    let why = match trigger {
        Trigger::Read(ask) => match need(state, &latest, &credentials, ask, now) {
            Need::Nothing => return Ok(Done::Current(latest, credentials)),
            Need::HeldOff(f) => return Ok(Done::HeldOff(latest, credentials, f)),
            Need::Refresh if ask.force => "Refreshed on read (force_refresh)".to_owned(),
            Need::Refresh => "Refreshed on read".to_owned(),
        },
        Trigger::Scheduled => match due(state, &latest, now) {
            None => return Ok(Done::Current(latest, credentials)),
            Some(Reason::Verify) => "Re-tested on schedule (verify)".to_owned(),
            Some(reason) => format!("Renewed ahead of reads ({})", reason.as_str()),
        },
    };
    if !lease.covers_a_refresh(state, now) {
        return Err(Broken::Release(Error::unavailable("The refresh lease")));
    }
    attempt(state, latest, credentials, &why).await
}

/// One refresh at the provider, its outcome stored and recorded as activity.
async fn attempt(state: &AppState, seen: ConnectionRecord, current: Credentials, why: &str) -> Result<Done, Broken> {
    let Some(scheme) = auth::scheme(seen.auth_mode) else {
        return Ok(Done::Current(seen, current));
    };
    let log = Attempt::new(
        OPERATION,
        Some(seen.integration.to_string()),
        Some(seen.connection_id.to_string()),
    );
    // Deleted since the connection was read: so is the connection.
    let integration = state
        .store
        .get_integration(&seen.integration)
        .await?
        .ok_or_else(|| connection_not_found(&seen.integration, &seen.connection_id))?;
    // The mode sees the whole config, secret fields included (`store_fresh` seals them again).
    let mut connection_config = seen.connection_config.clone();
    let ctx = seal_context(state, &seen.integration, &seen.connection_id);
    open_secret_config(state, seen.secret_config.as_ref(), &ctx, &mut connection_config).await?;
    let cx = ModeContext {
        state,
        integration: &integration,
        connection_config: &connection_config,
        vouched_config: &seen.vouched_config,
    };
    let obtained = match scheme.refresh(&cx, &current).await {
        Ok(obtained) => obtained,
        Err(e) => return failed(state, seen, current, &e, &log).await,
    };
    let note = obtained.note.clone();
    match store_fresh(state, &seen, &current, obtained).await {
        Ok(Stored::Written {
            record,
            credentials,
            cleared,
        }) => {
            log.info(state, "refreshed", format!("{why}. {note}")).await;
            if let Some(cleared) = cleared.filter(|f| f.kind == FailureKind::Refused) {
                failure::record_recovery(state, &record, &cleared, &log).await;
            }
            Ok(Done::Refreshed(record, *credentials))
        }
        Ok(Stored::Superseded(record)) => {
            log.info(
                state,
                "superseded",
                "The connection was authorized again while it was refreshed; the new authorization stands.",
            )
            .await;
            let credentials = open_credentials(state, &record).await?;
            Ok(Done::Superseded(record, credentials))
        }
        Err(e) => {
            log.failed(
                state,
                e.code,
                format!(
                    "The provider issued fresh credentials, but they could not be stored: {}",
                    e.for_operator()
                ),
            )
            .await;
            Err(if e.kind == ErrorKind::Unavailable {
                Broken::KeepLease(e)
            } else {
                Broken::Release(e)
            })
        }
    }
}

/// The provider call failed: recorded on the connection when it says something about it.
async fn failed(
    state: &AppState,
    seen: ConnectionRecord,
    current: Credentials,
    e: &Error,
    log: &Attempt,
) -> Result<Done, Broken> {
    let recorded = match failure::kind_of(e) {
        // Latchkey's own trouble: nothing about the connection to record.
        None => {
            log.failed(state, e.code, e.for_operator()).await;
            return Err(Broken::Release(e.clone()));
        }
        Some(FailureKind::Refused) => failure::record_failure(state, &seen, e, log).await?,
        Some(FailureKind::Unavailable) => failure::record_unavailable(state, &seen, e, log).await?,
    };
    Ok(match recorded {
        Recorded::Written(record) => {
            let f = record.refresh_failure.clone().expect("a failure was just written");
            Done::Failed(record, current, f)
        }
        Recorded::Superseded(record) => {
            let credentials = open_credentials(state, &record).await?;
            Done::Superseded(record, credentials)
        }
    })
}

/// What storing refreshed credentials found.
enum Stored {
    Written {
        record: ConnectionRecord,
        /// Boxed: the other variant is a record alone.
        credentials: Box<Credentials>,
        /// The failure the refresh cleared, if there was one.
        cleared: Option<RefreshFailure>,
    },
    /// A new authorization (or another refresh) replaced the credentials meanwhile.
    Superseded(ConnectionRecord),
}

/// How often storing refreshed credentials is tried, and the first wait between tries (doubling):
/// about 3 s in all, well within `lease::WRITE_BUDGET`.
const WRITE_ATTEMPTS: u32 = 6;
const FIRST_WRITE_RETRY: std::time::Duration = std::time::Duration::from_millis(100);

/// Stores what the provider issued on the connection as `seen` under the lease (see the module
/// doc for lost writes). Unavailable stores and key services are retried; a delete is
/// `not_found`.
async fn store_fresh(
    state: &AppState,
    seen: &ConnectionRecord,
    previous: &Credentials,
    obtained: Obtained,
) -> Result<Stored, Error> {
    // A re-test returns the credentials it was given: nothing new to seal.
    let unchanged = serde_json::to_vec(&obtained.credentials).ok() == serde_json::to_vec(previous).ok();
    let mut sealed: Option<Sealed> = unchanged.then(|| seen.credentials.clone());
    // The config as the mode left it, its secret fields sealed again (never stored in the clear).
    let ctx = seal_context(state, &seen.integration, &seen.connection_id);
    let config = seal_secret_config(state, &seen.provider, obtained.connection_config.clone(), &ctx).await?;
    let mut base = seen.clone();
    let mut wait = FIRST_WRITE_RETRY;
    let mut last = Error::unavailable("The store");
    for _ in 0..WRITE_ATTEMPTS {
        match write_fresh(state, seen, &mut base, &mut sealed, &config, &obtained).await {
            Ok(Some(stored)) => return Ok(stored),
            // Another write came first; `base` is now what it wrote: write on top of it.
            Ok(None) => continue,
            Err(e) if e.kind == ErrorKind::Unavailable => {
                tracing::warn!(integration = %seen.integration, "refreshed credentials not stored yet; retrying");
                last = e;
                state.clock.sleep(wait).await;
                wait *= 2;
            }
            Err(e) => return Err(e),
        }
    }
    Err(last)
}

/// One try of `store_fresh`: `Ok(None)` when a concurrent write to what else the connection
/// carries won (then `base` is that write).
async fn write_fresh(
    state: &AppState,
    seen: &ConnectionRecord,
    base: &mut ConnectionRecord,
    sealed: &mut Option<Sealed>,
    config: &(ConnectionConfig, Option<Sealed>),
    obtained: &Obtained,
) -> Result<Option<Stored>, Error> {
    let blob = match sealed {
        Some(blob) => blob.clone(),
        None => sealed
            .insert(seal_credentials(state, &seen.integration, &seen.connection_id, &obtained.credentials).await?)
            .clone(),
    };
    let record = renewed(base.clone(), obtained, blob.clone(), config, state.clock.now());
    let written = |record: ConnectionRecord, cleared| Stored::Written {
        record,
        credentials: Box::new(obtained.credentials.clone()),
        cleared,
    };
    // The last write under the lease: it gives the lease back too.
    match state.store.finish_refresh(&record, base.version).await {
        Ok(()) => {
            let cleared = base.refresh_failure.clone();
            let mut record = record;
            record.version = base.version + 1;
            return Ok(Some(written(record, cleared)));
        }
        Err(StoreError::Conflict) => {}
        Err(e) => return Err(e.into()),
    }
    let latest = stored_connection(state, &seen.integration, &seen.connection_id).await?;
    if latest.credentials == blob && blob != seen.credentials {
        // Our write landed; only its answer was lost.
        let cleared = base.refresh_failure.clone();
        return Ok(Some(written(latest, cleared)));
    }
    if latest.credentials != seen.credentials {
        return Ok(Some(Stored::Superseded(latest)));
    }
    *base = latest;
    Ok(None)
}

/// `base` with the refreshed credentials and config (its secret fields sealed), and its refresh
/// failures cleared.
fn renewed(
    mut base: ConnectionRecord,
    obtained: &Obtained,
    sealed: Sealed,
    (connection_config, secret_config): &(ConnectionConfig, Option<Sealed>),
    now: OffsetDateTime,
) -> ConnectionRecord {
    base.credentials = sealed;
    base.expires_at = obtained.credentials.expires_at();
    base.has_refresh_token = obtained.credentials.refresh_token().is_some();
    base.connection_config = connection_config.clone();
    base.secret_config = secret_config.clone();
    base.last_fetched_at = now;
    base.updated_at = now;
    base.refresh_failure = None;
    base.errors.retain(|e| e.kind != failure::REFRESH_PROBLEM);
    base
}

#[cfg(test)]
mod tests;
