//! Integrations: created once, replaced only when present, listed, deleted with their connections.

use super::*;

/// Every test of this file.
pub async fn run(store: &dyn Store) {
    integrations_are_created_once_replaced_listed_and_deleted(store).await;
    deleting_an_integration_deletes_its_connections(store).await;
}

pub async fn integrations_are_created_once_replaced_listed_and_deleted(store: &dyn Store) {
    let key = unique("int");
    let mut rec = integration(&key);
    store.create_integration(&rec).await.unwrap();
    assert_eq!(store.create_integration(&rec).await, Err(StoreError::Conflict));
    assert_eq!(store.get_integration(&rec.key).await.unwrap().as_ref(), Some(&rec));

    rec.scopes = vec!["email".into()];
    assert!(store.replace_integration(&rec).await.unwrap());
    assert_eq!(
        store.get_integration(&rec.key).await.unwrap().unwrap().scopes,
        vec!["email"]
    );
    let missing = integration(&unique("missing"));
    assert!(!store.replace_integration(&missing).await.unwrap());
    assert_eq!(store.get_integration(&missing.key).await.unwrap(), None);

    let after = integration(&format!("{key}-z"));
    store.create_integration(&after).await.unwrap();
    let listed: Vec<IntegrationKey> = store
        .list_integrations()
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.key)
        .collect();
    let position = |k: &IntegrationKey| listed.iter().position(|l| l == k);
    assert!(position(&rec.key).is_some());
    assert!(position(&rec.key) < position(&after.key), "ordered by key");
    assert!(store.delete_integration(&after.key).await.unwrap());
    assert!(store.delete_integration(&rec.key).await.unwrap());
    assert!(!store.delete_integration(&rec.key).await.unwrap());
    assert_eq!(store.get_integration(&rec.key).await.unwrap(), None);
}

pub async fn deleting_an_integration_deletes_its_connections(store: &dyn Store) {
    let key = unique("int");
    let rec = integration(&key);
    store.create_integration(&rec).await.unwrap();
    store.upsert_connection(&connection(&key, "carol")).await.unwrap();
    assert!(store.delete_integration(&rec.key).await.unwrap());
    let carol = ConnectionId::parse("carol").unwrap();
    assert_eq!(store.get_connection(&rec.key, &carol).await.unwrap(), None);
}
