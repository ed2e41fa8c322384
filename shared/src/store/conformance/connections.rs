//! Connections: identity kept across re-authorizations, versioned conditional writes, sealed
//! credentials kept apart from the record and returned whole, refresh leases.

use super::*;

/// Every test of this file.
pub async fn run(store: &dyn Store) {
    connections_upsert_keeps_identity_and_bumps_version(store).await;
    conditional_updates_lose_against_a_newer_version(store).await;
    concurrent_upserts_each_land_on_their_own_version(store).await;
    a_create_never_replaces_and_one_of_concurrent_creates_wins(store).await;
    a_create_takes_the_place_of_an_ended_generation_only(store).await;
    refresh_leases_are_exclusive_until_they_end(store).await;
    finishing_a_refresh_is_conditional_and_gives_the_lease_back(store).await;
    connections_need_a_live_integration(store).await;
}

pub async fn connections_upsert_keeps_identity_and_bumps_version(store: &dyn Store) {
    let key = unique("int");
    live_integration(store, &key).await;
    let mut first = connection(&key, "alice");
    first.metadata = json!({"crm_id": "42"}).as_object().unwrap().clone();
    first.webhook_url_override = Some("https://hooks.example.com/alice".into());
    assert_eq!(store.upsert_connection(&first).await.unwrap(), (Upsert::Created, 1));
    let stored = store
        .get_connection(&first.integration, &first.connection_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.version, 1);
    assert_eq!(
        stored.credentials, first.credentials,
        "the sealed bytes come back whole"
    );
    assert_eq!(
        stored.secret_config, first.secret_config,
        "so does the sealed secret config"
    );
    assert_eq!(stored.expires_at, first.expires_at);
    assert_eq!(stored.has_refresh_token, first.has_refresh_token);
    assert_eq!(stored.webhook_url_override, first.webhook_url_override);

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
    assert_eq!(stored.webhook_url_override, first.webhook_url_override);

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

pub async fn a_create_never_replaces_and_one_of_concurrent_creates_wins(store: &dyn Store) {
    let key = unique("int");
    live_integration(store, &key).await;
    let first = connection(&key, "alice");
    assert_eq!(store.create_connection(&first).await.unwrap(), 1);
    let mut second = connection(&key, "alice");
    second.credentials = Sealed(vec![7; 40]);
    assert_eq!(store.create_connection(&second).await, Err(StoreError::Conflict));
    let stored = store
        .get_connection(&first.integration, &first.connection_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (stored.id, stored.credentials, stored.version),
        (first.id, first.credentials, 1)
    );

    // Created by an upsert, it is taken all the same.
    let upserted = connection(&key, "bob");
    store.upsert_connection(&upserted).await.unwrap();
    assert_eq!(store.create_connection(&upserted).await, Err(StoreError::Conflict));

    let racers: Vec<ConnectionRecord> = (0..8u8)
        .map(|i| {
            let mut r = connection(&key, "carol");
            r.credentials = Sealed(vec![i; 40]);
            r
        })
        .collect();
    let results = futures::future::join_all(racers.iter().map(|r| store.create_connection(r))).await;
    let winners: Vec<usize> = (0..racers.len()).filter(|i| results[*i] == Ok(1)).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert!(results.iter().all(|r| matches!(r, Ok(1) | Err(StoreError::Conflict))));
    let stored = store
        .get_connection(&racers[0].integration, &racers[0].connection_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.credentials, racers[winners[0]].credentials,
        "the winner's write is the one kept"
    );
}

/// A create needs a live integration, and a connection left in an ended generation (deleted
/// integration, created again) is no obstacle: it is replaced whole.
pub async fn a_create_takes_the_place_of_an_ended_generation_only(store: &dyn Store) {
    let key = unique("int");
    let rec = connection(&key, "dave");
    assert_eq!(
        store.create_connection(&rec).await,
        Err(StoreError::Conflict),
        "no integration, no connection"
    );
    let old = live_integration(store, &key).await;
    let mut leftover = rec.clone();
    leftover.secret_config = None;
    store.create_connection(&leftover).await.unwrap();
    let now = rec.created_at;
    assert!(store
        .acquire_refresh_lease(
            &rec.integration,
            &rec.connection_id,
            "w1",
            now,
            now + Duration::minutes(5)
        )
        .await
        .unwrap());
    assert!(store.delete_integration(&old.key, &old.generation).await.unwrap());
    live_integration(store, &key).await;

    let mut fresh = connection(&key, "dave");
    fresh.credentials = Sealed(vec![5; 40]);
    assert_eq!(store.create_connection(&fresh).await, Ok(1));
    let stored = store
        .get_connection(&rec.integration, &rec.connection_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (&stored.id, &stored.credentials, &stored.secret_config),
        (&fresh.id, &fresh.credentials, &fresh.secret_config)
    );
    assert!(
        store
            .acquire_refresh_lease(
                &rec.integration,
                &rec.connection_id,
                "w2",
                now,
                now + Duration::minutes(5)
            )
            .await
            .unwrap(),
        "the ended generation's lease went with it"
    );
    assert_eq!(store.create_connection(&fresh).await, Err(StoreError::Conflict));
}

pub async fn conditional_updates_lose_against_a_newer_version(store: &dyn Store) {
    let key = unique("int");
    let rec = connection(&key, "bob");
    stored(store, &rec).await;
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
    live_integration(store, &key).await;
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

pub async fn refresh_leases_are_exclusive_until_they_end(store: &dyn Store) {
    let key = unique("int");
    let mut rec = connection(&key, "dave");
    stored(store, &rec).await;
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

/// `finish_refresh`: the refresh's write (conditional on the version read, never bringing a
/// deleted connection back) and the lease's end in one write.
pub async fn finishing_a_refresh_is_conditional_and_gives_the_lease_back(store: &dyn Store) {
    let key = unique("int");
    let held = stored(store, &connection(&key, "frank")).await;
    let (int, id) = (held.integration.clone(), held.connection_id.clone());
    let t = now();
    let lease = |owner: &'static str, at: OffsetDateTime| {
        store.acquire_refresh_lease(&int, &id, owner, at, at + Duration::seconds(30))
    };
    assert!(lease("w1", t).await.unwrap());

    let mut fresh = held.clone();
    fresh.credentials = Sealed(vec![3; 40]);
    fresh.expires_at = Some(t + Duration::hours(2));
    fresh.metadata = json!({"kept": true}).as_object().unwrap().clone();
    assert_eq!(
        store.finish_refresh(&fresh, held.version + 1).await,
        Err(StoreError::Conflict),
        "on the version read"
    );
    assert!(!lease("w2", t).await.unwrap(), "a lost write keeps the lease");
    let untouched = store.get_connection(&int, &id).await.unwrap().unwrap();
    assert_eq!(
        (untouched.version, &untouched.credentials),
        (held.version, &held.credentials)
    );

    store.finish_refresh(&fresh, held.version).await.unwrap();
    let after = store.get_connection(&int, &id).await.unwrap().unwrap();
    assert_eq!(after.version, held.version + 1);
    assert_eq!(after.credentials, fresh.credentials, "the sealed bytes come back whole");
    assert_eq!((after.expires_at, &after.metadata), (fresh.expires_at, &fresh.metadata));
    assert!(lease("w2", t).await.unwrap(), "the lease was given back with the write");
    assert_eq!(
        store.finish_refresh(&fresh, held.version).await,
        Err(StoreError::Conflict),
        "a second write on the same version loses"
    );

    // A connection deleted under the lease stays deleted.
    assert!(store.delete_connection(&int, &id).await.unwrap());
    assert_eq!(
        store.finish_refresh(&fresh, after.version).await,
        Err(StoreError::Conflict)
    );
    assert_eq!(
        store.get_connection(&int, &id).await.unwrap(),
        None,
        "nothing deleted comes back"
    );
}

pub async fn connections_need_a_live_integration(store: &dyn Store) {
    let key = unique("int");
    let orphan = connection(&key, "nobody-home");
    assert_eq!(
        store.upsert_connection(&orphan).await,
        Err(StoreError::Conflict),
        "no connection is written under an integration that does not exist"
    );
    assert_eq!(
        store
            .get_connection(&orphan.integration, &orphan.connection_id)
            .await
            .unwrap(),
        None
    );
    live_integration(store, &key).await;
    assert_eq!(store.upsert_connection(&orphan).await.unwrap(), (Upsert::Created, 1));
}
