//! The refresh lease: one refresh at a time per connection, across every process and Lambda
//! instance. Taken with a conditional write on the connection (`acquire_refresh_lease`: free,
//! or its holder's time is up), given back when the refresh is done. A holder that dies leaves
//! it to expire after `LEASE`.
//!
//! `LEASE` is longer than anything a holder does while it holds it — a re-read, the
//! integration, the provider (bounded by `Config::provider_timeout`, 10 s), sealing and the
//! write with its retries (`WRITE_BUDGET`) — so a lease never runs out under a live holder,
//! and the refresh token it sends is never sent by a second holder at the same time (which a
//! rotating provider would answer by revoking the grant). A holder checks that what is left of
//! its lease covers the provider call before it makes one. Instances whose clocks differ by
//! less than `LEASE` minus that work are safe.

use time::{Duration, OffsetDateTime};

use crate::domain::{ConnectionId, IntegrationKey};
use crate::error::Error;
use crate::store::ConnectionRecord;
use crate::AppState;

/// How long a refresh lease lasts.
pub const LEASE: Duration = Duration::seconds(60);
/// What a holder needs after the provider answered: sealing, and the write with its retries.
pub const WRITE_BUDGET: Duration = Duration::seconds(10);

/// A refresh lease this process holds on one connection.
pub struct Lease {
    pub integration: IntegrationKey,
    pub connection_id: ConnectionId,
    owner: String,
    until: OffsetDateTime,
}

impl Lease {
    /// Takes the lease of `record`'s connection if it is free (or its holder's time is up);
    /// `None` when another holds it (or the connection is gone).
    pub async fn try_take(state: &AppState, record: &ConnectionRecord) -> Result<Option<Lease>, Error> {
        let owner = crate::crypto::random_token();
        let now = state.clock.now();
        let until = now + LEASE;
        let taken = state
            .store
            .acquire_refresh_lease(&record.integration, &record.connection_id, &owner, now, until)
            .await?;
        Ok(taken.then(|| Lease {
            integration: record.integration.clone(),
            connection_id: record.connection_id.clone(),
            owner,
            until,
        }))
    }

    /// Whether what is left of the lease at `now` covers a provider call and the write after it.
    pub fn covers_a_refresh(&self, state: &AppState, now: OffsetDateTime) -> bool {
        let provider = Duration::try_from(state.config.provider_timeout).unwrap_or(Duration::MAX);
        now + provider + WRITE_BUDGET <= self.until
    }

    /// Gives the lease back. Best effort: a lease that could not be given back ends by itself.
    pub async fn release(self, state: &AppState) {
        if let Err(e) = state
            .store
            .release_refresh_lease(&self.integration, &self.connection_id, &self.owner)
            .await
        {
            tracing::warn!(error = %e, integration = %self.integration, "could not give a refresh lease back; it ends by itself");
        }
    }

    /// Keeps the lease until it ends: after a provider issued credentials that could not be
    /// stored, no other instance should refresh with the old refresh token while it lasts.
    pub fn keep(self) {
        tracing::error!(integration = %self.integration, until = %self.until, "refreshed credentials could not be stored; the refresh lease is kept until it ends");
    }
}

/// How a reader that finds the lease taken waits for its holder's write: polls the store at
/// growing intervals (through the clock, so tests move time instead of taking it), for at most
/// the provider's timeout and a little more.
pub struct Waiting {
    deadline: OffsetDateTime,
    next: std::time::Duration,
}

/// The first poll, and the longest wait between two.
const FIRST_POLL: std::time::Duration = std::time::Duration::from_millis(25);
const LONGEST_POLL: std::time::Duration = std::time::Duration::from_millis(400);

impl Waiting {
    pub fn start(state: &AppState) -> Self {
        let budget = state.config.provider_timeout + std::time::Duration::from_secs(2);
        Self {
            deadline: state.clock.now() + Duration::try_from(budget).unwrap_or(LEASE),
            next: FIRST_POLL,
        }
    }

    /// Waits until the next poll; `false` when the time to wait is over.
    pub async fn next(&mut self, state: &AppState) -> bool {
        if state.clock.now() >= self.deadline {
            return false;
        }
        state.clock.sleep(self.next).await;
        self.next = (self.next * 2).min(LONGEST_POLL);
        true
    }
}
