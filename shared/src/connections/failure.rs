//! What a failed refresh leaves on a connection (`RefreshFailure`), how long it holds the
//! provider off, and how reads are answered meanwhile.
//!
//! - **Refused** (the provider said no: `invalid_grant`, a revoked grant, any client error, or
//!   a configuration it can't be sent with): the connection lists the failure in `errors`
//!   (`{type: "refresh", log_id}`); reads that need a refresh answer `424
//!   connection_refresh_backoff` without calling the provider, until the backoff ends
//!   (`REFUSED_BACKOFF`: 10 minutes, then an hour); after `REFUSED_ATTEMPTS` refusals in a row
//!   Latchkey gives up (`424 connection_refresh_exhausted`) until `force_refresh=true` or a new
//!   authorization.
//! - **Unavailable** (5xx, a timeout, no answer, an answer that is no token response): the old
//!   credentials are kept and answered while they are valid (`502 provider_unavailable` once
//!   they have expired); the next attempt waits 30 s, doubling to at most 15 minutes, each
//!   with jitter (so the instances and connections of a provider that is down don't retry in
//!   step). Never given up.
//!
//! A successful refresh or a re-authorization clears both. The two places where a connection's
//! state changes for its owner — `record_failure` (a refusal) and `record_recovery` (the first
//! success after one) — emit the `refresh_failed` and `refresh_recovered` auth webhooks
//! (`events`). An unavailable provider emits none: nothing is wrong with the connection.

use time::{Duration, OffsetDateTime};

use super::stored_connection;
use crate::activity::Attempt;
use crate::credentials::Credentials;
use crate::error::{Error, ErrorCode};
use crate::events::{self, ConnectionEvent};
use crate::store::{ConnectionProblem, ConnectionRecord, FailureKind, RefreshFailure, StoreError};
use crate::time_fmt::rfc3339;
use crate::AppState;

/// The `type` of the problem a refused refresh adds to a connection's `errors`.
pub const REFRESH_PROBLEM: &str = "refresh";
/// Refusals in a row after which Latchkey stops asking.
pub const REFUSED_ATTEMPTS: u32 = 3;
/// The wait after the first and the second refusal.
pub const REFUSED_BACKOFF: [Duration; 2] = [Duration::minutes(10), Duration::hours(1)];
/// The wait after the first unavailable attempt, doubled after each, and its ceiling.
pub const UNAVAILABLE_BACKOFF: Duration = Duration::seconds(30);
pub const UNAVAILABLE_CEILING: Duration = Duration::minutes(15);

/// How a failed refresh counts, by what kind of failure it was; `None` for Latchkey's own
/// trouble (the store or the key service down, a bug), which says nothing about the connection.
pub fn kind_of(e: &Error) -> Option<FailureKind> {
    if e.kind.is_internal() {
        None
    } else if e.kind.is_transient() {
        Some(FailureKind::Unavailable)
    } else {
        Some(FailureKind::Refused)
    }
}

/// A random factor in [low, 1] (per mille), so retries spread out.
fn jittered(d: Duration, low_per_mille: u32) -> Duration {
    let r = u32::from(u16::from_le_bytes(crate::crypto::random_bytes::<2>())) % 1001;
    let per_mille = low_per_mille + r * (1000 - low_per_mille) / 1000;
    d * f64::from(per_mille) / 1000.0
}

/// The failure state after one more failure of `kind` at `now`.
pub fn next_failure(
    previous: Option<&RefreshFailure>,
    kind: FailureKind,
    now: OffsetDateTime,
    cause: &str,
    log_id: &str,
) -> RefreshFailure {
    let attempts = match previous {
        Some(p) if p.kind == kind => p.attempts.saturating_add(1),
        _ => 1,
    };
    let wait = match kind {
        FailureKind::Refused => REFUSED_BACKOFF
            .get(attempts as usize - 1)
            .filter(|_| attempts < REFUSED_ATTEMPTS)
            .map(|d| jittered(*d, 900)),
        FailureKind::Unavailable => {
            let doubled = UNAVAILABLE_BACKOFF * 2i32.pow(attempts.saturating_sub(1).min(10));
            Some(jittered(doubled.min(UNAVAILABLE_CEILING), 500))
        }
    };
    RefreshFailure {
        kind,
        attempts,
        last_failure_at: now,
        next_attempt_at: wait.map(|w| now + w),
        cause: cause.chars().take(crate::domain::limits::FAILURE_CAUSE).collect(),
        log_id: log_id.to_owned(),
    }
}

/// Whether the failure keeps the provider from being asked at `now`.
pub fn holds(failure: &RefreshFailure, now: OffsetDateTime) -> bool {
    failure.next_attempt_at.is_none_or(|t| now < t)
}

/// How a read that needs fresh credentials is answered while `failure` holds the provider off
/// (or right after the attempt that recorded it): a refusal is a 424; an unavailable provider
/// leaves the old credentials, answered while they are valid unless the caller forced a refresh.
pub fn answer_held_off(
    record: ConnectionRecord,
    credentials: Credentials,
    failure: &RefreshFailure,
    force: bool,
    now: OffsetDateTime,
) -> Result<(ConnectionRecord, Credentials), Error> {
    match failure.kind {
        FailureKind::Refused => Err(refused(failure)),
        FailureKind::Unavailable => {
            let valid = credentials.expires_at().is_none_or(|t| now < t);
            if valid && !force {
                return Ok((record, credentials));
            }
            let cause = &failure.cause;
            let retry = failure
                .next_attempt_at
                .map(|t| format!(" Latchkey retries after {}.", rfc3339(t)));
            Err(Error::provider(
                true,
                ErrorCode::ProviderUnavailable,
                format!(
                    "The provider did not answer the refresh ({cause}) and the connection's access token has expired.{} Retry later.",
                    retry.unwrap_or_default()
                ),
            ))
        }
    }
}

/// What a refused connection answers while `failure` holds the provider off (HTTP 424), and
/// what its `refresh_failed` webhook says: backing off until the next attempt, or given up.
pub fn refused(failure: &RefreshFailure) -> Error {
    let cause = &failure.cause;
    match failure.next_attempt_at {
        Some(next) => Error::provider(
            false,
            ErrorCode::ConnectionRefreshBackoff,
            format!(
                "Refreshing this connection failed: the provider refused ({cause}). Latchkey asks again after {}; force_refresh=true asks now. If it keeps refusing, the connection must be authorized again.",
                rfc3339(next)
            ),
        ),
        None => Error::provider(
            false,
            ErrorCode::ConnectionRefreshExhausted,
            format!(
                "Refreshing this connection was refused {} times in a row (last: {cause}); Latchkey stopped asking. Authorize the connection again, or retry with force_refresh=true.",
                failure.attempts
            ),
        ),
    }
}

/// What writing a failure found.
pub enum Recorded {
    /// The connection now carries the failure.
    Written(ConnectionRecord),
    /// Its credentials changed meanwhile (a new authorization, another refresh): the failure
    /// is moot, and this is the connection now.
    Superseded(ConnectionRecord),
}

/// Writes `failure` on the connection `seen` was read as (conditional on its version, read
/// again and retried when only what else it carries changed meanwhile). A deleted connection
/// stays deleted (`not_found`).
async fn write_failure(
    state: &AppState,
    seen: &ConnectionRecord,
    failure: RefreshFailure,
    problem: Option<ConnectionProblem>,
) -> Result<Recorded, Error> {
    const ATTEMPTS: usize = 5;
    let mut base = seen.clone();
    for _ in 0..ATTEMPTS {
        let mut record = base.clone();
        record.refresh_failure = Some(failure.clone());
        if let Some(problem) = &problem {
            record.errors.retain(|e| e.kind != REFRESH_PROBLEM);
            record.errors.push(problem.clone());
        }
        record.updated_at = failure.last_failure_at;
        match state.store.update_connection(&record, base.version).await {
            Ok(()) => {
                record.version = base.version + 1;
                return Ok(Recorded::Written(record));
            }
            Err(StoreError::Conflict) => {}
            Err(e) => return Err(e.into()),
        }
        let latest = stored_connection(state, &seen.integration, &seen.connection_id).await?;
        if latest.credentials != seen.credentials {
            return Ok(Recorded::Superseded(latest));
        }
        base = latest;
    }
    Err(Error::conflict(
        ErrorCode::Conflict,
        "The connection kept changing while its refresh failure was recorded; retry.",
    ))
}

/// A refresh of `seen` was refused: records it (the failure with its backoff, and the problem
/// in `errors`) and the attempt's `failed` activity entry, and emits the `refresh_failed` auth
/// webhook (`operation: "refresh"`, `success: false`, `error` as a read of the connection now
/// answers: `connection_refresh_backoff` or `connection_refresh_exhausted`). The one place a
/// connection's refresh fails for good — what its owner must hear about. A failure that lost to
/// a new authorization (`Superseded`) announces nothing: that authorization's `override` does.
pub async fn record_failure(
    state: &AppState,
    seen: &ConnectionRecord,
    error: &Error,
    attempt: &Attempt,
) -> Result<Recorded, Error> {
    let (failure, cause) = one_more(state, seen, FailureKind::Refused, error, attempt);
    let problem = ConnectionProblem {
        kind: REFRESH_PROBLEM.into(),
        log_id: attempt.id.clone(),
    };
    let given_up = failure.next_attempt_at.is_none();
    let recorded = write_failure(state, seen, failure, Some(problem)).await?;
    let what = if given_up {
        format!(" Refused {REFUSED_ATTEMPTS} times in a row: Latchkey stopped asking.")
    } else {
        String::new()
    };
    attempt
        .failed_with(state, &cause, format!("{}{what}", error.for_operator()))
        .await;
    if let Recorded::Written(record) = &recorded {
        let failure = record.refresh_failure.as_ref().expect("a failure was just written");
        events::emit(state, ConnectionEvent::refresh_failed(record, &refused(failure))).await;
    }
    Ok(recorded)
}

/// A refresh of `seen` found the provider unavailable: records when to try again (the old
/// credentials stay) and the attempt's `failed` activity entry.
pub async fn record_unavailable(
    state: &AppState,
    seen: &ConnectionRecord,
    error: &Error,
    attempt: &Attempt,
) -> Result<Recorded, Error> {
    let (failure, cause) = one_more(state, seen, FailureKind::Unavailable, error, attempt);
    let recorded = write_failure(state, seen, failure, None).await?;
    attempt.failed_with(state, &cause, error.for_operator()).await;
    Ok(recorded)
}

/// The first successful refresh after `cleared`, a refusal: the connection works again. The
/// one place a failed connection recovers — what its owner must hear about: records it and emits
/// the `refresh_recovered` auth webhook (`operation: "refresh"`, `success: true`). (The
/// refresh's own entry is written by the refresh path; this adds the recovery.)
pub async fn record_recovery(state: &AppState, record: &ConnectionRecord, cleared: &RefreshFailure, attempt: &Attempt) {
    tracing::info!(integration = %record.integration, "a connection whose refresh was refused works again");
    attempt
        .info(
            state,
            "recovered",
            format!(
                "The connection works again after {} refused refresh{} (last: {}).",
                cleared.attempts,
                if cleared.attempts == 1 { "" } else { "es" },
                cleared.cause
            ),
        )
        .await;
    events::emit(state, ConnectionEvent::refresh_recovered(record)).await;
}

/// The failure state `seen` has after `error`, one more of `kind` now, and the cause it records.
fn one_more(
    state: &AppState,
    seen: &ConnectionRecord,
    kind: FailureKind,
    error: &Error,
    attempt: &Attempt,
) -> (RefreshFailure, String) {
    let cause = cause_of(error);
    let failure = next_failure(
        seen.refresh_failure.as_ref(),
        kind,
        state.clock.now(),
        &cause,
        &attempt.id,
    );
    (failure, cause)
}

/// The code the activity entry of a failed refresh carries: what the provider or the
/// transport said, else Latchkey's own code.
fn cause_of(error: &Error) -> String {
    error.cause.clone().unwrap_or_else(|| error.code.as_str().to_owned())
}
