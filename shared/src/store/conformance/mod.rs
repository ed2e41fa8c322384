//! The behaviour every `Store` must have, written once. `run_all` is called by each backend's
//! tests (SQLite in-process, DynamoDB on the emulator). Keys are random per run, so the suite
//! also works on a store that already holds data. One file per domain trait, each with its
//! `run`; a test that needs two domains (deleting an integration ends its connections) lives
//! with the one it is about. The stores under test use the default `RefreshPolicy`.
//! `queue` is not in `run_all`: only the stores that implement `QueueStore` run it.

mod activity;
mod connections;
mod flow_sessions;
mod integrations;
mod listing;
mod nonces;
pub mod queue;
mod refresh;
mod settings;

use serde_json::json;
use time::{Duration, OffsetDateTime};

use super::*;
use crate::crypto::random_token;
use crate::domain::{AuthMode, OAuthState, PkceVerifier};

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
        // Kept through every write: which hosts end users may name.
        allowed_hosts: vec![crate::domain::HostPattern::parse("*.example.com").unwrap()],
        app: None,
        aws_sigv4: None,
        created_at: now(),
        updated_at: now(),
        generation: String::new(),
    }
}

/// Creates integration `key` (unless it exists) and returns it as stored, generation included.
pub async fn live_integration(store: &dyn Store, key: &str) -> IntegrationRecord {
    let record = integration(key);
    match store.create_integration(&record).await {
        Ok(()) | Err(StoreError::Conflict) => {}
        Err(e) => panic!("creating integration {key}: {e}"),
    }
    store.get_integration(&record.key).await.unwrap().unwrap()
}

/// Creates the integration if needed and upserts the connection: the connection as stored.
pub async fn stored(store: &dyn Store, record: &ConnectionRecord) -> ConnectionRecord {
    live_integration(store, record.integration.as_str()).await;
    store.upsert_connection(record).await.unwrap();
    store
        .get_connection(&record.integration, &record.connection_id)
        .await
        .unwrap()
        .unwrap()
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
        secret_config: Some(Sealed(vec![8; 24])),
        vouched_config: ["subdomain".to_owned()].into(),
        metadata: Default::default(),
        end_user: Some(json!({"id": format!("user-of-{id}")})),
        tags: Default::default(),
        expires_at: Some(now() + Duration::hours(1)),
        created_at: now(),
        updated_at: now(),
        last_fetched_at: now(),
        version: 0,
        has_refresh_token: true,
        last_read_at: None,
        errors: Vec::new(),
        refresh_failure: None,
        webhook_url_override: None,
    }
}

/// An activity entry `id` of its own attempt at `timestamp` (`started`, no connection).
pub fn activity_entry(id: &str, timestamp: OffsetDateTime) -> ActivityEntry {
    ActivityEntry {
        id: id.into(),
        attempt_id: id.into(),
        timestamp,
        operation: "auth".into(),
        event: "started".into(),
        level: ActivityLevel::Info,
        integration: None,
        connection_id: None,
        message: String::new(),
        error_code: None,
    }
}

pub async fn run_all(store: &dyn Store) {
    integrations::run(store).await;
    connections::run(store).await;
    listing::run(store).await;
    refresh::run(store).await;
    flow_sessions::run(store).await;
    activity::run(store).await;
    settings::run(store).await;
    nonces::run(store).await;
}
