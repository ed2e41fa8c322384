//! Runs the local queue (`queue::local`): `Runner` claims what is visible, runs each job
//! (`jobs::run`) and records its outcome — on a timer inside `latchkey serve`, or step by step
//! in tests (`drain`).

use std::sync::Arc;

use crate::queue::local::{backoff, LEASE, MAX_ATTEMPTS};
use crate::queue::{Job, JobError};
use crate::store::QueueStore;
use crate::AppState;

/// Jobs claimed per round.
const BATCH: usize = 10;

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunReport {
    pub done: usize,
    pub retried: usize,
    pub buried: usize,
}

impl RunReport {
    fn add(&mut self, other: RunReport) {
        self.done += other.done;
        self.retried += other.retried;
        self.buried += other.buried;
    }
    pub fn total(&self) -> usize {
        self.done + self.retried + self.buried
    }
}

/// Runs the local queue's jobs with the state they need.
#[derive(Clone)]
pub struct Runner {
    state: AppState,
    store: Arc<dyn QueueStore>,
}

impl Runner {
    pub fn new(state: AppState, store: Arc<dyn QueueStore>) -> Self {
        Self { state, store }
    }

    /// The same queue, run with `state` (e.g. one with a clock of its own).
    pub fn with_state(self, state: AppState) -> Self {
        Self { state, ..self }
    }

    /// Claims the jobs visible now (the state's clock) and runs them.
    pub async fn run_once(&self) -> RunReport {
        let now = self.state.clock.now();
        let claimed = match self.store.claim_jobs(now, LEASE, BATCH).await {
            Ok(jobs) => jobs,
            Err(e) => {
                tracing::warn!(error = %e, "could not claim jobs");
                return RunReport::default();
            }
        };
        let mut report = RunReport::default();
        for queued in claimed {
            let outcome = match Job::from_json(&queued.body) {
                Ok(job) => super::run(&self.state, &job).await.map_err(|e| (job.describe(), e)),
                Err(e) => Err(("?".to_owned(), e)),
            };
            let result = match outcome {
                Ok(()) => {
                    report.done += 1;
                    self.store.finish_job(&queued.id, &queued.claim).await
                }
                Err((what, e)) if queued.attempts < MAX_ATTEMPTS && !matches!(e, JobError::Malformed(_)) => {
                    tracing::warn!(job = %what, attempts = queued.attempts, error = %e, "job failed; retried later");
                    report.retried += 1;
                    let at = now + backoff(queued.attempts);
                    self.store
                        .retry_job(&queued.id, &queued.claim, at, &e.to_string())
                        .await
                }
                Err((what, e)) => {
                    tracing::error!(job = %what, attempts = queued.attempts, error = %e, "job buried in the dead-letter state");
                    report.buried += 1;
                    self.store.bury_job(&queued.id, &queued.claim, &e.to_string()).await
                }
            };
            if let Err(e) = result {
                tracing::warn!(error = %e, "could not record a job's outcome; it runs again after its lease");
            }
        }
        report
    }

    /// Rounds until one finds nothing to do (at most `rounds`): everything visible now, and
    /// what it enqueued without delay, is done.
    pub async fn drain(&self, rounds: usize) -> RunReport {
        let mut report = RunReport::default();
        for _ in 0..rounds {
            let round = self.run_once().await;
            if round.total() == 0 {
                break;
            }
            report.add(round);
        }
        report
    }

    /// Runs forever, a round every `period` (and at once again while rounds find work).
    pub async fn run_every(self, period: std::time::Duration) {
        loop {
            if self.run_once().await.total() == 0 {
                tokio::time::sleep(period).await;
            }
        }
    }
}
