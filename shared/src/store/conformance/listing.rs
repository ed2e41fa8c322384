//! Listings: newest first, filtered by integration, end user, connection id and search, paged;
//! only summaries (no credentials); connections of a deleted integration are not listed.

use super::*;

/// Every test of this file.
pub async fn run(store: &dyn Store) {
    connections_are_listed_with_filters(store).await;
    listings_merge_every_partition_newest_first_and_page(store).await;
    listings_show_what_the_record_says(store).await;
}

pub async fn connections_are_listed_with_filters(store: &dyn Store) {
    let (a, b) = (unique("int-a"), unique("int-b"));
    let tag = unique("s");
    // Created a millisecond apart, in this order.
    let start = now();
    for (i, (int, id)) in [
        (&a, format!("{tag}-1")),
        (&a, format!("{tag}-2")),
        (&b, format!("{tag}-3")),
    ]
    .into_iter()
    .enumerate()
    {
        let mut rec = connection(int, &id);
        rec.created_at = start + Duration::milliseconds(i as i64);
        stored(store, &rec).await;
    }
    let ids = |v: Vec<ConnectionSummary>| v.into_iter().map(|c| c.connection_id.to_string()).collect::<Vec<_>>();
    let keys = |ks: &[&String]| ks.iter().map(|k| IntegrationKey::parse(k.as_str()).unwrap()).collect();

    let all = ConnectionFilter {
        integrations: keys(&[&a, &b]),
        limit: 100,
        ..Default::default()
    };
    assert_eq!(
        ids(store.list_connections(&all).await.unwrap()),
        [format!("{tag}-3"), format!("{tag}-2"), format!("{tag}-1")]
    );
    let only_a = ConnectionFilter {
        integrations: keys(&[&a]),
        limit: 100,
        ..Default::default()
    };
    assert_eq!(store.list_connections(&only_a).await.unwrap().len(), 2);
    let paged = ConnectionFilter {
        limit: 1,
        offset: 1,
        ..all.clone()
    };
    assert_eq!(ids(store.list_connections(&paged).await.unwrap()), [format!("{tag}-2")]);
    let by_user = ConnectionFilter {
        end_user_id: Some(format!("user-of-{tag}-3")),
        limit: 100,
        ..Default::default()
    };
    assert_eq!(
        ids(store.list_connections(&by_user).await.unwrap()),
        [format!("{tag}-3")]
    );
    let by_id = ConnectionFilter {
        connection_id: Some(ConnectionId::parse(format!("{tag}-1")).unwrap()),
        limit: 100,
        ..Default::default()
    };
    assert_eq!(ids(store.list_connections(&by_id).await.unwrap()), [format!("{tag}-1")]);
    let search = ConnectionFilter {
        search: Some(tag.to_uppercase()),
        limit: 100,
        ..all.clone()
    };
    assert_eq!(
        store.list_connections(&search).await.unwrap().len(),
        3,
        "search ignores case"
    );
    let wildcard = ConnectionFilter {
        search: Some("%".into()),
        limit: 100,
        ..all.clone()
    };
    assert_eq!(
        store.list_connections(&wildcard).await.unwrap().len(),
        0,
        "search is literal"
    );
    // A connection with an active problem, then without it again.
    let mut failing = store
        .get_connection(
            &IntegrationKey::parse(a.as_str()).unwrap(),
            &ConnectionId::parse(format!("{tag}-2")).unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    failing.errors = vec![ConnectionProblem {
        kind: "refresh".into(),
        log_id: "attempt-9".into(),
    }];
    store.update_connection(&failing, failing.version).await.unwrap();
    let with_errors = ConnectionFilter {
        with_errors: true,
        ..all.clone()
    };
    assert_eq!(
        ids(store.list_connections(&with_errors).await.unwrap()),
        [format!("{tag}-2")]
    );
    failing.errors.clear();
    store.update_connection(&failing, failing.version + 1).await.unwrap();
    assert!(store.list_connections(&with_errors).await.unwrap().is_empty());
}

/// Enough connections that every listing shard holds some: one order, however they are spread.
pub async fn listings_merge_every_partition_newest_first_and_page(store: &dyn Store) {
    let key = unique("int-many");
    live_integration(store, &key).await;
    let start = now() + Duration::days(3650);
    let mut expected = Vec::new();
    for i in 0..40 {
        let mut rec = connection(&key, &format!("m-{i:02}"));
        rec.created_at = start + Duration::milliseconds(i * 7);
        store.upsert_connection(&rec).await.unwrap();
        expected.push(rec.connection_id.to_string());
    }
    expected.reverse();
    let ids = |v: Vec<ConnectionSummary>| v.into_iter().map(|c| c.connection_id.to_string()).collect::<Vec<_>>();
    let int = vec![IntegrationKey::parse(&key).unwrap()];
    let page = |limit, offset| ConnectionFilter {
        integrations: int.clone(),
        limit,
        offset,
        ..Default::default()
    };
    assert_eq!(ids(store.list_connections(&page(100, 0)).await.unwrap()), expected);
    let mut paged = Vec::new();
    for p in 0..4 {
        paged.extend(ids(store.list_connections(&page(12, p * 12)).await.unwrap()));
    }
    assert_eq!(paged, expected, "pages of 12 add up to the whole, in order");
    // The environment-wide listing (no filter) starts with the newest of all: these, since
    // they were created ten years ahead.
    let everything = ConnectionFilter {
        limit: 5,
        ..Default::default()
    };
    assert_eq!(ids(store.list_connections(&everything).await.unwrap()), expected[..5]);
}

pub async fn listings_show_what_the_record_says(store: &dyn Store) {
    let key = unique("int");
    let mut rec = connection(&key, "shown");
    rec.metadata = json!({"plan": "pro"}).as_object().unwrap().clone();
    rec.tags = json!({"team": "a"}).as_object().unwrap().clone();
    let saved = stored(store, &rec).await;
    let by_id = ConnectionFilter {
        connection_id: Some(rec.connection_id.clone()),
        integrations: vec![rec.integration.clone()],
        limit: 10,
        ..Default::default()
    };
    let listed = store.list_connections(&by_id).await.unwrap();
    assert_eq!(listed, [saved.summary()]);

    // A refresh (new credentials and expiry) leaves the listing as it was; an edit shows.
    let mut refreshed = saved.clone();
    refreshed.credentials = Sealed(vec![3; 40]);
    refreshed.expires_at = Some(now() + Duration::hours(2));
    refreshed.last_fetched_at = now();
    store.update_connection(&refreshed, saved.version).await.unwrap();
    assert_eq!(store.list_connections(&by_id).await.unwrap(), [saved.summary()]);
    refreshed.tags = json!({"team": "b"}).as_object().unwrap().clone();
    store.update_connection(&refreshed, saved.version + 1).await.unwrap();
    let listed = store.list_connections(&by_id).await.unwrap();
    assert_eq!(listed[0].tags, refreshed.tags);
}
