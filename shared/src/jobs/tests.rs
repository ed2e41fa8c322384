//! The purge job and the local queue, end to end on the local stack (SQLite), with a clock the
//! tests move: a deleted integration's connections are gone at once and purged by the jobs,
//! its shards swept once more after `LATE_WRITES`; a purge enqueued for an integration that was
//! not deleted touches nothing; failing and malformed jobs back off and end in the dead-letter
//! state.

use std::sync::Arc;

use time::Duration;

use super::local::Runner;
use super::purge::{self, LATE_WRITES, SETTLE};
use super::Purge;
use super::{enqueue, Job};
use crate::clock::ShiftedClock;
use crate::config::Config;
use crate::domain::{ConnectionId, IntegrationKey};
use crate::queue::local::{backoff, MAX_ATTEMPTS};
use crate::store::conformance::{connection, live_integration};
use crate::store::prelude::*;
use crate::store::sqlite::SqliteStore;
use crate::store::ConnectionFilter;
use crate::AppState;

struct Stack {
    state: AppState,
    runner: Runner,
    queue: Arc<SqliteStore>,
    clock: Arc<ShiftedClock>,
    _dir: tempfile::TempDir,
}

fn stack() -> Stack {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::new("test", "http://127.0.0.1:3003".parse().unwrap(), None);
    let local = crate::local::open(dir.path(), config).unwrap();
    let clock = Arc::new(ShiftedClock::default());
    let state = local.state.with_clock(clock.clone());
    let queue = Arc::new(SqliteStore::open(&dir.path().join(crate::local::STORE_FILE)).unwrap());
    Stack {
        runner: local.jobs.with_state(state.clone()),
        state,
        queue,
        clock,
        _dir: dir,
    }
}

async fn claimable(s: &Stack) -> usize {
    let now = s.state.clock.now();
    let jobs = s.queue.claim_jobs(now, Duration::seconds(1), 100).await.unwrap();
    for j in &jobs {
        s.queue.retry_job(&j.id, &j.claim, now, "peeked").await.unwrap();
    }
    jobs.len()
}

#[tokio::test]
async fn a_deleted_integration_is_gone_at_once_and_purged_by_the_jobs() {
    let s = stack();
    let store = s.state.store.as_ref();
    let key = IntegrationKey::parse("big").unwrap();
    let old = live_integration(store, "big").await;
    for i in 0..450 {
        store
            .upsert_connection(&connection("big", &format!("c-{i}")))
            .await
            .unwrap();
    }
    assert!(purge::delete_integration(&s.state, &key).await.unwrap());
    let c0 = ConnectionId::parse("c-0").unwrap();
    assert_eq!(store.get_connection(&key, &c0).await.unwrap(), None, "at once");
    let filter = ConnectionFilter {
        integrations: vec![key.clone()],
        limit: 10,
        ..Default::default()
    };
    assert!(store.list_connections(&filter).await.unwrap().is_empty());
    assert!(!purge::delete_integration(&s.state, &key).await.unwrap(), "gone");

    // The fan-out, then steps of `STEP` until the shard is empty: 450 / 200 → 3 steps + 1.
    let report = s.runner.drain(100).await;
    assert_eq!((report.retried, report.buried), (0, 0), "{report:?}");
    assert!(report.done >= 5, "{report:?}");
    assert_eq!(
        store
            .purge_connections(&key, &old.generation, 0, 10)
            .await
            .unwrap()
            .examined,
        0,
        "every connection deleted"
    );
    assert_eq!(claimable(&s).await, 0, "the late-write sweep waits");
    s.clock.advance(LATE_WRITES);
    assert_eq!(s.runner.drain(100).await.done, 1, "one sweep per shard, then done");
    s.clock.advance(Duration::days(1));
    assert_eq!(claimable(&s).await, 0, "nothing left");
    assert!(s.queue.dead_jobs(10).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_purge_for_an_integration_that_was_not_deleted_changes_nothing() {
    let s = stack();
    let store = s.state.store.as_ref();
    let live = live_integration(store, "kept").await;
    store.upsert_connection(&connection("kept", "alice")).await.unwrap();
    // As if the delete after the enqueue had failed.
    let job = Job::PurgeIntegration(Purge {
        integration: live.key.clone(),
        generation: live.generation.clone(),
        shard: None,
        requested_at: s.state.clock.now(),
    });
    enqueue(&s.state, &[job], Duration::ZERO).await.unwrap();
    assert_eq!(s.runner.drain(10).await.done, 1, "it waits for the delete to commit");
    s.clock.advance(SETTLE);
    let report = s.runner.drain(10).await;
    assert_eq!(report.done, 1, "then gives up: {report:?}");
    s.clock.advance(Duration::days(1));
    assert_eq!(s.runner.drain(10).await.total(), 0);
    let alice = ConnectionId::parse("alice").unwrap();
    assert!(store.get_connection(&live.key, &alice).await.unwrap().is_some());
    // And a shard step on a live generation is refused, never run.
    assert_eq!(
        store.purge_connections(&live.key, &live.generation, 0, 10).await,
        Err(crate::store::StoreError::Conflict)
    );
}

#[tokio::test]
async fn failing_jobs_back_off_and_end_in_the_dead_letter_state() {
    let s = stack();
    let live = live_integration(s.state.store.as_ref(), "live").await;
    // A shard step for a live generation: the store refuses it every time.
    let job = Job::PurgeIntegration(Purge {
        integration: live.key.clone(),
        generation: live.generation.clone(),
        shard: Some(0),
        requested_at: s.state.clock.now(),
    });
    enqueue(&s.state, &[job], Duration::ZERO).await.unwrap();
    for attempt in 1..MAX_ATTEMPTS {
        assert_eq!(s.runner.run_once().await.retried, 1, "attempt {attempt}");
        assert_eq!(s.runner.run_once().await.total(), 0, "not before its backoff");
        s.clock.advance(backoff(attempt));
    }
    assert_eq!(s.runner.run_once().await.buried, 1, "the last attempt buries it");
    s.clock.advance(Duration::days(1));
    assert_eq!(s.runner.run_once().await.total(), 0);
    let dead = s.queue.dead_jobs(10).await.unwrap();
    assert_eq!((dead.len(), dead[0].attempts), (1, MAX_ATTEMPTS));
    assert!(
        dead[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("conditional write failed"),
        "{dead:?}"
    );

    // A message that is not a job can never succeed: buried at once.
    s.queue
        .push_jobs(
            &[("not-a-job".into(), r#"{"kind":"nope"}"#.into())],
            s.state.clock.now(),
        )
        .await
        .unwrap();
    assert_eq!(s.runner.run_once().await.buried, 1);
    assert_eq!(backoff(1), Duration::seconds(30));
    assert_eq!(backoff(3), Duration::minutes(2));
    assert_eq!(backoff(MAX_ATTEMPTS + 20), super::MAX_DELAY);
}
