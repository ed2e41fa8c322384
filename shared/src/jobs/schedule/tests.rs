//! The scheduler on the SQLite store (one shard; the sharded index is covered by the store
//! conformance suite and the end-to-end scheduler test on DynamoDB): what is due is enqueued
//! once, soonest first and bounded per provider; what is not due, held off or given up is not.

use std::sync::Mutex;

use async_trait::async_trait;
use time::{Duration, OffsetDateTime};

use super::{schedule, ScheduleReport};
use crate::queue::{Job, JobError, JobQueue, RefreshJob};
use crate::refresh_policy::RefreshLimits;
use crate::store::conformance::{connection, live_integration};
use crate::store::prelude::*;
use crate::store::sqlite::SqliteStore;
use crate::store::{FailureKind, RefreshFailure};

/// A queue that keeps what it is given.
#[derive(Default)]
struct Recorded(Mutex<Vec<Job>>);

#[async_trait]
impl JobQueue for Recorded {
    async fn enqueue(&self, _now: OffsetDateTime, jobs: &[Job], _delay: Duration) -> Result<(), JobError> {
        self.0.lock().unwrap().extend_from_slice(jobs);
        Ok(())
    }
}

impl Recorded {
    fn names(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|j| match j {
                Job::RefreshConnection(RefreshJob { connection_id, .. }) => connection_id.to_string(),
                other => panic!("{other:?}"),
            })
            .collect()
    }
}

/// Connection `name` of integration `key`, its refresh token last refreshed `age` ago (kept
/// alive after 14 days by the default policy).
async fn idle(store: &SqliteStore, key: &str, name: &str, age: Duration, failure: Option<RefreshFailure>) {
    let now = OffsetDateTime::now_utc();
    let mut record = connection(key, name);
    if key == "google" {
        record.provider = "google-mail".into();
    }
    record.last_fetched_at = now - age;
    record.expires_at = Some(now - age + Duration::hours(1));
    record.refresh_failure = failure;
    store.upsert_connection(&record).await.unwrap();
}

fn held(until: Option<OffsetDateTime>) -> Option<RefreshFailure> {
    Some(RefreshFailure {
        kind: FailureKind::Refused,
        attempts: 1,
        last_failure_at: OffsetDateTime::now_utc(),
        next_attempt_at: until,
        cause: "invalid_grant".into(),
        log_id: "a".into(),
    })
}

#[tokio::test]
async fn a_run_enqueues_what_is_due_once_soonest_first_bounded_per_provider() {
    let store = SqliteStore::in_memory().unwrap();
    let mut google = crate::store::conformance::integration("google");
    google.provider = "google-mail".into();
    store.create_integration(&google).await.unwrap();
    live_integration(&store, "idp").await;
    let day = Duration::days(1);
    for (name, age) in [("a-15d", 15), ("b-20d", 20), ("c-16d", 16), ("d-17d", 17)] {
        idle(&store, "idp", name, day * age, None).await;
    }
    idle(&store, "idp", "fresh", day, None).await;
    let soon = OffsetDateTime::now_utc() + Duration::minutes(10);
    idle(&store, "idp", "held-off", day * 30, held(Some(soon))).await;
    idle(&store, "idp", "given-up", day * 30, held(None)).await;
    idle(&store, "google", "g-136d", day * 136, None).await;
    idle(&store, "google", "g-100d", day * 100, None).await;

    let queue = Recorded::default();
    let limits = RefreshLimits {
        per_provider_per_run: 3,
        ..RefreshLimits::default()
    };
    let now = OffsetDateTime::now_utc();
    let report = schedule(&store, &queue, now, &limits).await.unwrap();
    assert_eq!(
        report,
        ScheduleReport {
            due: 5,
            enqueued: 4,
            deferred: 1,
            orphaned: 0
        }
    );
    assert_eq!(
        queue.names(),
        ["b-20d", "d-17d", "c-16d", "g-136d"],
        "soonest due first; the custom provider's fourth waits for the next run; Google's 100-day-old \
         token is not due (it revokes after 180 days)"
    );
    let later = schedule(&store, &queue, now + Duration::minutes(11), &limits)
        .await
        .unwrap();
    assert_eq!(later.due, 6, "the held-off connection is due once its backoff ends");
}
