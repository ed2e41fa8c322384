//! The end of a redirect attempt. An end user sent to the provider may never come back (closed
//! the popup, gave up at the login page); the attempt's flow state then expires and no callback
//! can finish it. So that every attempt in the activity log ends — `stored`, `replaced` or
//! `failed` — the connect route enqueues, with the redirect, a deadline job for just after the
//! state's expiry (`GRACE` later: a callback that took the state in time may still be
//! exchanging the code).
//! The job finds the attempt's entries; without a final one, it writes `failed` with
//! `attempt_expired`. Nothing else changes: the state is expired already, and no connection was
//! written. Safe to run twice (the second run finds the entry the first wrote).

use time::{Duration, OffsetDateTime};

use super::{enqueue, Job, JobError, MAX_DELAY};
use crate::activity::Attempt;
use crate::error::ErrorCode;
use crate::queue::AttemptDeadline;
use crate::store::{ActivityCursor, ActivityFilter};
use crate::AppState;

/// How long after the state's expiry the attempt is judged: longer than any function's timeout
/// (60 s), so a callback that took the state just in time has written its own final entry.
pub const GRACE: Duration = Duration::minutes(2);

/// The entries that end an attempt.
const FINAL: [&str; 3] = ["stored", "replaced", "failed"];

/// When the job is due.
pub fn due_at(deadline: &AttemptDeadline) -> OffsetDateTime {
    deadline.expires_at + GRACE
}

/// Enqueues the deadline of an attempt that just redirected. Best effort: a queue that is down
/// costs the attempt its final entry, never the end user their connect (logged).
pub async fn schedule(state: &AppState, deadline: AttemptDeadline) {
    let wait = due_at(&deadline) - state.clock.now();
    let attempt = deadline.attempt_id.clone();
    if let Err(e) = enqueue(state, &[Job::AttemptDeadline(deadline)], wait.min(MAX_DELAY)).await {
        tracing::warn!(error = %e, attempt, "could not enqueue the attempt's deadline");
    }
}

pub async fn run(state: &AppState, deadline: &AttemptDeadline) -> Result<(), JobError> {
    let now = state.clock.now();
    let due = due_at(deadline);
    if now < due {
        // Early (a state lifetime longer than the queue's longest delay): wait again.
        return enqueue(
            state,
            &[Job::AttemptDeadline(deadline.clone())],
            (due - now).min(MAX_DELAY),
        )
        .await;
    }
    let entries = state
        .store
        .list_activity(&ActivityFilter {
            attempt_id: Some(deadline.attempt_id.clone()),
            since: Some(deadline.started_at),
            before: Some(ActivityCursor::newest(now)),
            limit: 100,
            ..Default::default()
        })
        .await?;
    if entries.iter().any(|e| FINAL.contains(&e.event.as_str())) {
        return Ok(());
    }
    let attempt = Attempt::resume(
        deadline.attempt_id.clone(),
        "auth",
        deadline.integration.to_string(),
        deadline.connection_id.to_string(),
    );
    let minutes = (deadline.expires_at - deadline.started_at).whole_minutes();
    attempt
        .failed(
            state,
            ErrorCode::AttemptExpired,
            format!(
                "Abandoned: the end user did not come back from the provider within {minutes} minutes; nothing was stored."
            ),
        )
        .await;
    Ok(())
}
