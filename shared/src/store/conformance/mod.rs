//! The behaviour every `Store` must have, written once. `run_all` is called by each backend's
//! tests (SQLite in-process, DynamoDB on the emulator). Keys are random per run, so the suite
//! also works on a store that already holds data. One file per domain trait, each with its
//! `run`; a test that needs two domains (deleting an integration deletes its connections) lives
//! with the one it is about.

mod activity;
mod connections;
mod flow_sessions;
mod integrations;
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
        allowed_hosts: vec![crate::outbound::HostPattern::parse("*.example.com").unwrap()],
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
        vouched_config: ["subdomain".to_owned()].into(),
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

pub async fn run_all(store: &dyn Store) {
    integrations::run(store).await;
    connections::run(store).await;
    flow_sessions::run(store).await;
    activity::run(store).await;
    settings::run(store).await;
}
