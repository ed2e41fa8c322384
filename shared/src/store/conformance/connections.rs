//! Connections: identity kept across re-authorizations, versioned conditional writes, listing
//! filters, refresh leases, the due-connections index.

use super::*;

/// Every test of this file.
pub async fn run(store: &dyn Store) {
    connections_upsert_keeps_identity_and_bumps_version(store).await;
    conditional_updates_lose_against_a_newer_version(store).await;
    concurrent_upserts_each_land_on_their_own_version(store).await;
    connections_are_listed_with_filters(store).await;
    refresh_leases_are_exclusive_until_they_end(store).await;
    due_connections_come_from_the_index_soonest_first(store).await;
}

pub async fn connections_upsert_keeps_identity_and_bumps_version(store: &dyn Store) {
    let key = unique("int");
    let mut first = connection(&key, "alice");
    first.metadata = json!({"crm_id": "42"}).as_object().unwrap().clone();
    assert_eq!(store.upsert_connection(&first).await.unwrap(), (Upsert::Created, 1));
    let stored = store
        .get_connection(&first.integration, &first.connection_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.version, 1);
    assert_eq!(stored.credentials, first.credentials);
    assert_eq!(stored.expires_at, first.expires_at);

    let mut second = connection(&key, "alice");
    second.credentials = Sealed(vec![7; 40]);
    second.created_at = now() + Duration::days(1);
    assert_eq!(store.upsert_connection(&second).await.unwrap(), (Upsert::Replaced, 2));
    let stored = store
        .get_connection(&first.integration, &first.connection_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.id, first.id, "re-authorization keeps the connection's identity");
    assert_eq!(stored.created_at, first.created_at);
    assert_eq!(stored.credentials, Sealed(vec![7; 40]));
    assert_eq!(stored.version, 2);
    assert_eq!(
        stored.metadata, first.metadata,
        "what the new write does not name is kept"
    );

    let other = IntegrationKey::parse(unique("other")).unwrap();
    assert_eq!(store.get_connection(&other, &first.connection_id).await.unwrap(), None);
    assert!(store
        .delete_connection(&first.integration, &first.connection_id)
        .await
        .unwrap());
    assert!(!store
        .delete_connection(&first.integration, &first.connection_id)
        .await
        .unwrap());
}

pub async fn conditional_updates_lose_against_a_newer_version(store: &dyn Store) {
    let key = unique("int");
    let rec = connection(&key, "bob");
    store.upsert_connection(&rec).await.unwrap();
    let mut read = store
        .get_connection(&rec.integration, &rec.connection_id)
        .await
        .unwrap()
        .unwrap();
    read.credentials = Sealed(vec![1; 40]);
    store.update_connection(&read, 1).await.unwrap();
    read.credentials = Sealed(vec![2; 40]);
    assert_eq!(
        store.update_connection(&read, 1).await,
        Err(StoreError::Conflict),
        "stale version loses"
    );
    let now_stored = store
        .get_connection(&rec.integration, &rec.connection_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now_stored.credentials, Sealed(vec![1; 40]));
    assert_eq!(now_stored.version, 2);
    let ghost = connection(&key, "nobody");
    assert_eq!(store.update_connection(&ghost, 0).await, Err(StoreError::Conflict));
}

pub async fn concurrent_upserts_each_land_on_their_own_version(store: &dyn Store) {
    let key = unique("int");
    let writes: Vec<ConnectionRecord> = (0..3u8)
        .map(|i| {
            let mut rec = connection(&key, "erin");
            rec.credentials = Sealed(vec![i; 40]);
            rec
        })
        .collect();
    let outcomes = futures::future::join_all(writes.iter().map(|w| store.upsert_connection(w))).await;
    let mut versions: Vec<u64> = outcomes.into_iter().map(|o| o.unwrap().1).collect();
    versions.sort();
    assert_eq!(versions, [1, 2, 3], "no write is lost or applied twice");
    let stored = store
        .get_connection(&writes[0].integration, &writes[0].connection_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.version, 3);
    assert!(writes.iter().any(|w| w.credentials == stored.credentials));
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
        store.upsert_connection(&rec).await.unwrap();
    }
    let ids = |v: Vec<ConnectionRecord>| v.into_iter().map(|c| c.connection_id.to_string()).collect::<Vec<_>>();
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

pub async fn refresh_leases_are_exclusive_until_they_end(store: &dyn Store) {
    let key = unique("int");
    let mut rec = connection(&key, "dave");
    store.upsert_connection(&rec).await.unwrap();
    let (int, id) = (rec.integration.clone(), rec.connection_id.clone());
    let t = now();
    let until = t + Duration::seconds(30);
    assert!(store.acquire_refresh_lease(&int, &id, "w1", t, until).await.unwrap());
    assert!(
        !store.acquire_refresh_lease(&int, &id, "w2", t, until).await.unwrap(),
        "a held lease is not taken"
    );
    // A write of the record keeps the lease.
    rec.credentials = Sealed(vec![5; 40]);
    store.update_connection(&rec, 1).await.unwrap();
    store.upsert_connection(&rec).await.unwrap();
    assert!(!store
        .acquire_refresh_lease(&int, &id, "w2", t + Duration::seconds(1), until)
        .await
        .unwrap());
    // Releasing someone else's lease does nothing.
    store.release_refresh_lease(&int, &id, "w2").await.unwrap();
    assert!(!store.acquire_refresh_lease(&int, &id, "w3", t, until).await.unwrap());
    // An ended lease is taken over.
    let later = until + Duration::seconds(1);
    assert!(store
        .acquire_refresh_lease(&int, &id, "w2", later, later + Duration::seconds(30))
        .await
        .unwrap());
    store.release_refresh_lease(&int, &id, "w2").await.unwrap();
    assert!(store
        .acquire_refresh_lease(&int, &id, "w3", later, later)
        .await
        .unwrap());
    let ghost = ConnectionId::parse("nobody").unwrap();
    assert!(!store.acquire_refresh_lease(&int, &ghost, "w1", t, until).await.unwrap());
}

pub async fn due_connections_come_from_the_index_soonest_first(store: &dyn Store) {
    let key = unique("int");
    // A window in the past that only this run uses.
    let base = OffsetDateTime::UNIX_EPOCH
        + Duration::days(10_000 + (crate::crypto::random_bytes::<2>()[0] as i64) * 10)
        + Duration::seconds(crate::crypto::random_bytes::<1>()[0] as i64);
    let mut ids = Vec::new();
    for (i, offset) in [3i64, 1, 2, 10].iter().enumerate() {
        let mut rec = connection(&key, &format!("due-{i}"));
        rec.expires_at = Some(base + Duration::seconds(*offset));
        store.upsert_connection(&rec).await.unwrap();
        ids.push(rec.connection_id);
    }
    let mut never = connection(&key, "never");
    never.expires_at = None;
    store.upsert_connection(&never).await.unwrap();

    let mine = |v: Vec<ConnectionRecord>| {
        v.into_iter()
            .filter(|c| c.integration.as_str() == key)
            .map(|c| c.connection_id.to_string())
            .collect::<Vec<_>>()
    };
    let due = store.due_connections(base + Duration::seconds(3), 1000).await.unwrap();
    assert_eq!(mine(due), ["due-1", "due-2"], "strictly before, soonest first");
    assert!(!store
        .due_connections(base + Duration::seconds(3), 1)
        .await
        .unwrap()
        .iter()
        .any(|c| c.connection_id.as_str() == "due-2"));

    // Clearing expires_at takes a connection off the index; moving it moves it.
    let mut first = store
        .get_connection(&never.integration, &ids[1])
        .await
        .unwrap()
        .unwrap();
    first.expires_at = None;
    store.update_connection(&first, first.version).await.unwrap();
    let mut last = store
        .get_connection(&never.integration, &ids[3])
        .await
        .unwrap()
        .unwrap();
    last.expires_at = Some(base);
    store.update_connection(&last, last.version).await.unwrap();
    let due = store.due_connections(base + Duration::seconds(3), 1000).await.unwrap();
    assert_eq!(mine(due), ["due-3", "due-2"]);
}
