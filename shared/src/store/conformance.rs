//! The behaviour every `Store` must have, written once. `run_all` is called by each backend's
//! tests (SQLite in-process, DynamoDB on the emulator). Keys are random per run, so the suite
//! also works on a store that already holds data.

use serde_json::json;
use time::{Duration, OffsetDateTime};

use super::*;
use crate::crypto::random_token;
use crate::domain::{AuthMode, Secret};

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", &random_token()[..10])
}

fn now() -> OffsetDateTime {
    // Whole milliseconds: every backend must round-trip these exactly.
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(t.millisecond() as u32 * 1_000_000).unwrap()
}

pub fn integration(key: &str) -> IntegrationRecord {
    IntegrationRecord {
        key: IntegrationKey::parse(key).unwrap(),
        provider: "custom-oauth2".into(),
        display_name: Some("Test".into()),
        auth_mode: AuthMode::OAuth2,
        client_id: Some("client".into()),
        client_secret: Some(Sealed(vec![1, 2, 3])),
        scopes: vec!["openid".into()],
        custom: Some(CustomOAuth2 {
            authorization_url: "https://id.example.com/auth".into(),
            token_url: "https://id.example.com/token".into(),
            ..Default::default()
        }),
        created_at: now(),
        updated_at: now(),
    }
}

pub fn connection(integration: &str, id: &str) -> ConnectionRecord {
    ConnectionRecord {
        id: uuid::Uuid::new_v4().to_string(),
        integration: IntegrationKey::parse(integration).unwrap(),
        connection_id: ConnectionId::parse(id).unwrap(),
        provider: "custom-oauth2".into(),
        auth_mode: AuthMode::OAuth2,
        credentials: Sealed(vec![9; 40]),
        connection_config: json!({"subdomain": "acme"}).as_object().unwrap().clone(),
        metadata: Default::default(),
        end_user: Some(json!({"id": format!("user-of-{id}")})),
        tags: Default::default(),
        expires_at: Some(now() + Duration::hours(1)),
        created_at: now(),
        updated_at: now(),
        last_fetched_at: now(),
        version: 0,
    }
}

pub async fn run_all(store: &dyn Store) {
    integrations_are_created_once_replaced_listed_and_deleted(store).await;
    oauth_sessions_are_taken_exactly_once(store).await;
    concurrent_takes_of_one_session_yield_one_winner(store).await;
    connections_upsert_keeps_identity_and_bumps_version(store).await;
    conditional_updates_lose_against_a_newer_version(store).await;
    connections_are_listed_with_filters(store).await;
    deleting_an_integration_deletes_its_connections(store).await;
    activity_is_queryable_by_connection_newest_first(store).await;
    connect_sessions_are_found_by_token_hash(store).await;
    auth_results_are_read_once(store).await;
    settings_default_and_round_trip(store).await;
    refresh_leases_are_exclusive_until_they_end(store).await;
    due_connections_come_from_the_index_soonest_first(store).await;
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

    assert!(store
        .list_integrations()
        .await
        .unwrap()
        .iter()
        .any(|i| i.key == rec.key));
    assert!(store.delete_integration(&rec.key).await.unwrap());
    assert!(!store.delete_integration(&rec.key).await.unwrap());
    assert_eq!(store.get_integration(&rec.key).await.unwrap(), None);
}

fn session(state: &str) -> OAuthSession {
    OAuthSession {
        state: Secret::new(state),
        integration: IntegrationKey::parse("github").unwrap(),
        connection_id: ConnectionId::parse("user-1").unwrap(),
        code_verifier: Some(Secret::new("verifier")),
        redirect_uri: "http://127.0.0.1/oauth/callback".into(),
        connection_config: Default::default(),
        origin: Some("http://localhost:5173".into()),
        attempt_id: unique("attempt"),
        created_at: now(),
        expires_at: now() + Duration::minutes(10),
        result_nonce_hash: None,
        end_user: None,
    }
}

pub async fn oauth_sessions_are_taken_exactly_once(store: &dyn Store) {
    let state = random_token();
    let s = session(&state);
    store.put_oauth_session(&s).await.unwrap();
    assert_eq!(
        store.put_oauth_session(&s).await,
        Err(StoreError::Conflict),
        "a state is never reused"
    );
    assert_eq!(store.take_oauth_session(&state).await.unwrap(), Some(s));
    assert_eq!(store.take_oauth_session(&state).await.unwrap(), None);
    assert_eq!(store.take_oauth_session(&random_token()).await.unwrap(), None);
}

pub async fn concurrent_takes_of_one_session_yield_one_winner(store: &dyn Store) {
    let state = random_token();
    store.put_oauth_session(&session(&state)).await.unwrap();
    let takes = (0..8).map(|_| store.take_oauth_session(&state));
    let results = futures::future::join_all(takes).await;
    let winners = results.into_iter().filter(|r| matches!(r, Ok(Some(_)))).count();
    assert_eq!(winners, 1);
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

pub async fn connections_are_listed_with_filters(store: &dyn Store) {
    let (a, b) = (unique("int-a"), unique("int-b"));
    let tag = unique("s");
    for (int, id) in [
        (&a, format!("{tag}-1")),
        (&a, format!("{tag}-2")),
        (&b, format!("{tag}-3")),
    ] {
        let mut rec = connection(int, &id);
        rec.created_at = now();
        store.upsert_connection(&rec).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
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

pub async fn activity_is_queryable_by_connection_newest_first(store: &dyn Store) {
    let conn = unique("conn");
    let attempt = unique("attempt");
    for (i, event) in ["started", "redirected", "stored"].iter().enumerate() {
        store
            .append_activity(&ActivityEntry {
                id: unique("act"),
                attempt_id: attempt.clone(),
                timestamp: now() + Duration::milliseconds(i as i64),
                operation: "auth".into(),
                event: (*event).into(),
                level: ActivityLevel::Info,
                integration: Some("github".into()),
                connection_id: Some(conn.clone()),
                message: format!("step {i}"),
                error_code: None,
            })
            .await
            .unwrap();
    }
    let filter = ActivityFilter {
        connection_id: Some(conn.clone()),
        limit: 10,
        ..Default::default()
    };
    let events: Vec<String> = store
        .list_activity(&filter)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert_eq!(events, ["stored", "redirected", "started"]);
    let limited = ActivityFilter {
        limit: 1,
        ..filter.clone()
    };
    assert_eq!(store.list_activity(&limited).await.unwrap().len(), 1);
    let by_attempt = ActivityFilter {
        attempt_id: Some(attempt),
        limit: 10,
        ..Default::default()
    };
    assert_eq!(store.list_activity(&by_attempt).await.unwrap().len(), 3);
}

pub async fn settings_default_and_round_trip(store: &dyn Store) {
    let before = store.get_settings().await.unwrap();
    let changed = EnvironmentSettings {
        hmac_enabled: !before.hmac_enabled,
        allowed_origins: vec!["https://app.example.com".into()],
    };
    store.put_settings(&changed).await.unwrap();
    assert_eq!(store.get_settings().await.unwrap(), changed);
    store.put_settings(&before).await.unwrap();
}

pub async fn connect_sessions_are_found_by_token_hash(store: &dyn Store) {
    let session = ConnectSession {
        token_hash: crate::signing::sha256_hex(random_token().as_bytes()),
        end_user: json!({"id": "user-1", "email": "u@example.com"}),
        organization: Some(json!({"id": "org-1"})),
        allowed_integrations: Some(vec![IntegrationKey::parse("github").unwrap()]),
        integrations_config_defaults: json!({"zendesk": {"connection_config": {"subdomain": "acme"}}})
            .as_object()
            .unwrap()
            .clone(),
        reconnect: Some((
            IntegrationKey::parse("github").unwrap(),
            ConnectionId::parse("c1").unwrap(),
        )),
        created_at: now(),
        expires_at: now() + Duration::minutes(30),
    };
    store.put_connect_session(&session).await.unwrap();
    assert_eq!(store.put_connect_session(&session).await, Err(StoreError::Conflict));
    assert_eq!(
        store.get_connect_session(&session.token_hash).await.unwrap(),
        Some(session.clone())
    );
    assert_eq!(
        store.get_connect_session(&session.token_hash).await.unwrap(),
        Some(session),
        "sessions are reusable"
    );
    assert_eq!(store.get_connect_session("0000").await.unwrap(), None);
}

pub async fn auth_results_are_read_once(store: &dyn Store) {
    let result = AuthResult {
        nonce_hash: crate::signing::sha256_hex(random_token().as_bytes()),
        body: json!({"status": "success", "connectionId": "c1", "providerConfigKey": "github"}),
        expires_at: now() + Duration::minutes(5),
    };
    store.put_auth_result(&result).await.unwrap();
    assert_eq!(
        store.take_auth_result(&result.nonce_hash).await.unwrap(),
        Some(result.clone())
    );
    assert_eq!(store.take_auth_result(&result.nonce_hash).await.unwrap(), None);
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
