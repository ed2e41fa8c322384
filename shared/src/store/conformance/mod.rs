//! The behaviour every `Store` must have, written once. `run_all` is called by each backend's
//! tests (SQLite in-process, DynamoDB on the emulator). Keys are random per run, so the suite
//! also works on a store that already holds data. One file per domain trait, each with its
//! `run`; a test that needs two domains (deleting an integration deletes its connections) lives
//! with the one it is about.

mod activity;
mod connections;
mod flow_sessions;
mod integrations;
mod nonces;
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
        secret_config: Some(Sealed(vec![8; 24])),
        metadata: Default::default(),
        end_user: Some(json!({"id": format!("user-of-{id}")})),
        tags: Default::default(),
        expires_at: Some(now() + Duration::hours(1)),
        created_at: now(),
        updated_at: now(),
        last_fetched_at: now(),
        version: 0,
        errors: Vec::new(),
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
    flow_sessions::run(store).await;
    activity::run(store).await;
    settings::run(store).await;
    nonces::run(store).await;
}
