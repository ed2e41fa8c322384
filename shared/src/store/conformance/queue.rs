//! The local job queue (`QueueStore`): claims are exclusive for their lease and count attempts,
//! an ended lease makes a job claimable again, only the current claim finishes, retries or
//! buries a job, buried jobs are kept aside.

use super::*;

/// Every test of this file.
pub async fn run(store: &dyn QueueStore) {
    jobs_are_claimed_once_per_lease_and_finished_by_their_claim(store).await;
    failed_jobs_come_back_later_or_rest_dead(store).await;
}

/// A window of its own: claims only see jobs visible at the time they ask.
fn window() -> OffsetDateTime {
    now() + Duration::days(20_000 + crate::crypto::random_bytes::<1>()[0] as i64 * 100)
}

pub async fn jobs_are_claimed_once_per_lease_and_finished_by_their_claim(store: &dyn QueueStore) {
    let t = window();
    let (a, b, later) = (unique("job"), unique("job"), unique("job"));
    let job = |id: &str, body: &str| (id.to_owned(), body.to_owned());
    store
        .push_jobs(&[job(&a, r#"{"n":1}"#), job(&b, r#"{"n":2}"#)], t)
        .await
        .unwrap();
    store
        .push_jobs(&[job(&later, r#"{"n":3}"#)], t + Duration::minutes(5))
        .await
        .unwrap();
    store.push_jobs(&[], t).await.unwrap();
    let lease = Duration::seconds(30);
    let claimed = store.claim_jobs(t, lease, 10).await.unwrap();
    let ids: Vec<&str> = claimed.iter().map(|j| j.id.as_str()).collect();
    assert!(ids.contains(&a.as_str()) && ids.contains(&b.as_str()), "{ids:?}");
    assert!(!ids.contains(&later.as_str()), "not visible yet");
    let first = claimed.iter().find(|j| j.id == a).unwrap().clone();
    assert_eq!((first.attempts, first.body.as_str()), (1, r#"{"n":1}"#));
    assert!(
        !store.claim_jobs(t, lease, 10).await.unwrap().iter().any(|j| j.id == a),
        "claimed jobs are invisible for their lease"
    );
    // The lease ends without a finish (the claimer died): claimable again, a second attempt.
    let retaken = store.claim_jobs(t + lease, lease, 10).await.unwrap();
    let again = retaken.iter().find(|j| j.id == a).expect("visible again").clone();
    assert_eq!(again.attempts, 2);
    store.finish_job(&a, &first.claim).await.unwrap();
    let after = t + lease * 2;
    assert!(
        store
            .claim_jobs(after, lease, 10)
            .await
            .unwrap()
            .iter()
            .any(|j| j.id == a),
        "an old claim finishes nothing"
    );
    let mine = store.claim_jobs(after + lease, lease, 10).await.unwrap();
    for job in &mine {
        store.finish_job(&job.id, &job.claim).await.unwrap();
    }
    let left = store.claim_jobs(after + lease * 3, lease, 10).await.unwrap();
    assert!(
        !left.iter().any(|j| [&a, &b, &later].contains(&&j.id)),
        "finished: {left:?}"
    );
}

pub async fn failed_jobs_come_back_later_or_rest_dead(store: &dyn QueueStore) {
    let t = window();
    let id = unique("job");
    store.push_jobs(&[(id.clone(), "{}".into())], t).await.unwrap();
    let lease = Duration::seconds(30);
    let id = &id;
    let claim = |at| async move {
        store
            .claim_jobs(at, lease, 10)
            .await
            .unwrap()
            .into_iter()
            .find(|j| &j.id == id)
    };
    let job = claim(t).await.unwrap();
    store
        .retry_job(&job.id, &job.claim, t + Duration::minutes(2), "provider_unavailable")
        .await
        .unwrap();
    assert!(claim(t + lease).await.is_none(), "not before the retry time");
    let job = claim(t + Duration::minutes(2)).await.unwrap();
    assert_eq!(
        (job.attempts, job.last_error.as_deref()),
        (2, Some("provider_unavailable"))
    );
    store.bury_job(&job.id, "not-the-claim", "x").await.unwrap();
    assert!(
        store.dead_jobs(1000).await.unwrap().iter().all(|j| &j.id != id),
        "only the claim buries"
    );
    store.bury_job(&job.id, &job.claim, "gave_up").await.unwrap();
    assert!(
        claim(t + Duration::days(1)).await.is_none(),
        "dead jobs are never claimed"
    );
    let dead = store.dead_jobs(1000).await.unwrap();
    let buried = dead.iter().find(|j| &j.id == id).expect("kept aside");
    assert_eq!((buried.attempts, buried.last_error.as_deref()), (2, Some("gave_up")));
}
