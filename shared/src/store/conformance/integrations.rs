//! Integrations: created once, replaced only when present, listed, deleted by generation; a
//! deleted integration's connections are gone at once for reads, listings, writes and the
//! refresh index, stay gone when the key is created again, and are purged in bounded steps.

use super::*;

/// Every test of this file.
pub async fn run(store: &dyn Store) {
    integrations_are_created_once_replaced_listed_and_deleted(store).await;
    deleting_an_integration_ends_its_connections_at_once(store).await;
    a_new_integration_under_the_same_key_starts_empty(store).await;
    purges_remove_an_ended_generation_in_steps(store).await;
}

pub async fn integrations_are_created_once_replaced_listed_and_deleted(store: &dyn Store) {
    let key = unique("int");
    let mut rec = integration(&key);
    rec.generation = "chosen-by-the-caller".into();
    store.create_integration(&rec).await.unwrap();
    assert_eq!(store.create_integration(&rec).await, Err(StoreError::Conflict));
    let created = store.get_integration(&rec.key).await.unwrap().unwrap();
    assert!(!created.generation.is_empty());
    assert_ne!(created.generation, rec.generation, "the store assigns the generation");
    rec.generation = created.generation.clone();
    assert_eq!(created, rec);

    rec.scopes = vec!["email".into()];
    rec.generation = "another".into();
    assert!(store.replace_integration(&rec).await.unwrap());
    let replaced = store.get_integration(&rec.key).await.unwrap().unwrap();
    assert_eq!(replaced.scopes, vec!["email"]);
    assert_eq!(
        replaced.generation, created.generation,
        "replacing keeps the generation"
    );
    let missing = integration(&unique("missing"));
    assert!(!store.replace_integration(&missing).await.unwrap());
    assert_eq!(store.get_integration(&missing.key).await.unwrap(), None);

    let after = live_integration(store, &format!("{key}-z")).await;
    let listed: Vec<IntegrationRecord> = store.list_integrations().await.unwrap();
    let position = |k: &IntegrationKey| listed.iter().position(|l| &l.key == k);
    assert!(position(&rec.key) < position(&after.key), "ordered by key");
    assert_eq!(
        listed[position(&after.key).unwrap()],
        after,
        "listed whole, generation included"
    );
    assert!(store.delete_integration(&after.key, &after.generation).await.unwrap());
    assert!(
        !store.delete_integration(&rec.key, "not-its-generation").await.unwrap(),
        "a delete names the generation it saw"
    );
    assert!(store.get_integration(&rec.key).await.unwrap().is_some());
    assert!(store.delete_integration(&rec.key, &created.generation).await.unwrap());
    assert!(!store.delete_integration(&rec.key, &created.generation).await.unwrap());
    assert_eq!(store.get_integration(&rec.key).await.unwrap(), None);
}

/// Purges every shard of `ended`'s generation in steps of `step`; how many were deleted.
async fn purge_all(store: &dyn Store, ended: &IntegrationRecord, step: usize) -> usize {
    let (mut deleted, mut steps) = (0, 0);
    for shard in 0..store.purge_shards() {
        loop {
            let done = store
                .purge_connections(&ended.key, &ended.generation, shard, step)
                .await
                .unwrap();
            assert!(done.examined <= step && done.deleted <= done.examined, "{done:?}");
            deleted += done.deleted;
            steps += 1;
            assert!(steps < 1000, "a purge ends");
            if done.examined == 0 {
                break;
            }
        }
    }
    deleted
}

fn filter_of(key: &IntegrationKey) -> ConnectionFilter {
    ConnectionFilter {
        integrations: vec![key.clone()],
        limit: 100,
        ..Default::default()
    }
}

pub async fn deleting_an_integration_ends_its_connections_at_once(store: &dyn Store) {
    let key = unique("int");
    let live = live_integration(store, &key).await;
    let mut carol = connection(&key, "carol");
    carol.last_read_at = Some(now());
    let carol = stored(store, &carol).await;
    let everyone = ConnectionFilter {
        end_user_id: Some("user-of-carol".into()),
        limit: 100,
        ..Default::default()
    };
    let in_everyone = |v: Vec<ConnectionSummary>| v.iter().any(|s| s.integration == live.key);
    assert!(in_everyone(store.list_connections(&everyone).await.unwrap()));

    assert!(store.delete_integration(&live.key, &live.generation).await.unwrap());
    let id = &carol.connection_id;
    assert_eq!(store.get_connection(&live.key, id).await.unwrap(), None);
    assert_eq!(store.read_connection(&live.key, id, now()).await.unwrap(), None);
    assert!(store.list_connections(&filter_of(&live.key)).await.unwrap().is_empty());
    assert!(!in_everyone(store.list_connections(&everyone).await.unwrap()));
    let by_id = ConnectionFilter {
        connection_id: Some(id.clone()),
        limit: 100,
        ..Default::default()
    };
    assert!(!in_everyone(store.list_connections(&by_id).await.unwrap()));
    assert_eq!(
        store.upsert_connection(&carol).await,
        Err(StoreError::Conflict),
        "no new write under a deleted integration"
    );
    assert!(!store.delete_connection(&live.key, id).await.unwrap());
    // A write racing the delete (it read the connection before): refused, or written into
    // the ended generation, which nothing reads; either way the connection stays gone.
    let t = now();
    let _ = store.update_connection(&carol, carol.version).await;
    let _ = store
        .acquire_refresh_lease(&live.key, id, "w1", t, t + Duration::seconds(30))
        .await
        .unwrap();
    assert_eq!(store.get_connection(&live.key, id).await.unwrap(), None);
    assert!(store.list_connections(&filter_of(&live.key)).await.unwrap().is_empty());
}

pub async fn a_new_integration_under_the_same_key_starts_empty(store: &dyn Store) {
    let key = unique("int");
    let old = live_integration(store, &key).await;
    let mut dan = connection(&key, "dan");
    dan.metadata = json!({"from": "the old integration"}).as_object().unwrap().clone();
    let old_dan = stored(store, &dan).await;
    stored(store, &connection(&key, "erin")).await;
    store
        .acquire_refresh_lease(
            &old.key,
            &dan.connection_id,
            "old-worker",
            now(),
            now() + Duration::hours(1),
        )
        .await
        .unwrap();
    assert!(store.delete_integration(&old.key, &old.generation).await.unwrap());

    let new = live_integration(store, &key).await;
    assert_ne!(new.generation, old.generation);
    assert_eq!(
        store.get_connection(&new.key, &dan.connection_id).await.unwrap(),
        None,
        "nothing resurrected"
    );
    assert!(store.list_connections(&filter_of(&new.key)).await.unwrap().is_empty());

    // The same connection id connected again is a new connection, whatever the old one left.
    let mut again = connection(&key, "dan");
    again.metadata = Default::default();
    assert_eq!(store.upsert_connection(&again).await.unwrap(), (Upsert::Created, 1));
    let new_dan = store
        .get_connection(&new.key, &dan.connection_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(new_dan.id, again.id);
    assert_ne!(new_dan.id, old_dan.id);
    assert!(new_dan.metadata.is_empty(), "nothing of the old connection is kept");
    assert!(
        store
            .acquire_refresh_lease(&new.key, &dan.connection_id, "w1", now(), now() + Duration::seconds(30))
            .await
            .unwrap(),
        "not even the old connection's lease"
    );

    // Purging the old generation leaves the new connection alone.
    assert_eq!(
        store.purge_connections(&new.key, &new.generation, 0, 100).await,
        Err(StoreError::Conflict),
        "a live generation is never purged"
    );
    let purged = purge_all(store, &old, 100).await;
    assert_eq!(purged, 1, "erin; the old dan was replaced by the new one");
    assert_eq!(
        store
            .get_connection(&new.key, &dan.connection_id)
            .await
            .unwrap()
            .map(|c| c.id),
        Some(again.id)
    );
    assert_eq!(store.list_connections(&filter_of(&new.key)).await.unwrap().len(), 1);
}

pub async fn purges_remove_an_ended_generation_in_steps(store: &dyn Store) {
    let key = unique("int");
    let live = live_integration(store, &key).await;
    for i in 0..30 {
        store
            .upsert_connection(&connection(&key, &format!("p-{i}")))
            .await
            .unwrap();
    }
    assert!(store.delete_integration(&live.key, &live.generation).await.unwrap());
    let deleted = purge_all(store, &live, 4).await;
    assert_eq!(deleted, 30, "each connection once");
    // Created again, the integration shows none of them, and a second purge finds nothing.
    let again = live_integration(store, &key).await;
    assert!(store.list_connections(&filter_of(&again.key)).await.unwrap().is_empty());
    for shard in 0..store.purge_shards() {
        let step = store
            .purge_connections(&live.key, &live.generation, shard, 100)
            .await
            .unwrap();
        assert_eq!(step, Purged::default());
    }
}
