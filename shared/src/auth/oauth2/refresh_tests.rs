//! The refresh-token grant of `OAUTH2` against a local token endpoint that records what it was
//! sent: the stored refresh token and the integration's client credentials go out, a response
//! without a refresh token keeps the old one, a rotated one replaces it, and failures say
//! whether retrying can help.

use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};

use super::OAuth2;
use crate::auth::{AuthScheme, ModeContext};
use crate::credentials::Credentials;
use crate::domain::{AccessToken, AuthMode, RefreshToken};
use crate::error::{ErrorCode, ErrorKind};
use crate::store::IntegrationRecord;
use crate::AppState;

/// A token endpoint answering `reply` with `status`, keeping the form it received.
async fn token_endpoint(status: StatusCode, reply: Value) -> (String, Arc<Mutex<Vec<(String, String)>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let app = Router::new().route(
        "/token",
        post(move |body: axum::body::Bytes| {
            let record = record.clone();
            let reply = reply.clone();
            async move {
                *record.lock().unwrap() = form_urlencoded::parse(&body).into_owned().collect();
                (status, axum::Json(reply))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/token"), seen)
}

async fn stack(token_url: &str) -> (AppState, IntegrationRecord) {
    let config = crate::config::Config::new("test", "http://127.0.0.1:3003".parse().unwrap(), None);
    let state = AppState::new(
        Arc::new(crate::store::sqlite::SqliteStore::in_memory().unwrap()),
        Arc::new(crate::crypto::local::LocalSealer::from_key([3; 32])),
        crate::config::EnvironmentKeys::generate(),
        config,
    );
    let integration = crate::integrations::create(
        &state,
        serde_json::from_value(json!({
            "provider": "custom-oauth2",
            "unique_key": "idp",
            "credentials": {"type": "OAUTH2", "client_id": "cid", "client_secret": "csecret"},
            "custom": {"authorization_url": "https://idp.example.test/auth", "token_url": token_url},
        }))
        .unwrap(),
    )
    .await
    .unwrap();
    (state, integration)
}

fn connected(refresh_token: Option<&str>) -> Credentials {
    Credentials::OAuth2 {
        access_token: AccessToken::new("at-old"),
        refresh_token: refresh_token.map(RefreshToken::new),
        expires_at: None,
        raw: Default::default(),
    }
}

async fn refresh(
    state: &AppState,
    integration: &IntegrationRecord,
    current: &Credentials,
) -> Result<Credentials, crate::error::Error> {
    let config = Default::default();
    let cx = ModeContext {
        state,
        integration,
        connection_config: &config,
        vouched_config: &Default::default(),
    };
    OAuth2.refresh(&cx, current).await.map(|o| o.credentials)
}

fn tokens(c: &Credentials) -> (&str, Option<&str>) {
    match c {
        Credentials::OAuth2 {
            access_token,
            refresh_token,
            ..
        } => (access_token.expose(), refresh_token.as_ref().map(RefreshToken::expose)),
        other => panic!("not OAuth2: {other:?}"),
    }
}

#[tokio::test]
async fn a_refresh_sends_the_grant_and_keeps_a_refresh_token_the_provider_did_not_rotate() {
    let (url, seen) = token_endpoint(StatusCode::OK, json!({"access_token": "at-new", "expires_in": 3600})).await;
    let (state, integration) = stack(&url).await;
    let fresh = refresh(&state, &integration, &connected(Some("rt-old"))).await.unwrap();
    assert_eq!(tokens(&fresh), ("at-new", Some("rt-old")));
    assert!(fresh.expires_at().is_some());
    let form = seen.lock().unwrap().clone();
    for pair in [
        ("grant_type", "refresh_token"),
        ("refresh_token", "rt-old"),
        ("client_id", "cid"),
        ("client_secret", "csecret"),
    ] {
        assert!(form.contains(&(pair.0.into(), pair.1.into())), "{pair:?} in {form:?}");
    }
}

#[tokio::test]
async fn a_rotated_refresh_token_replaces_the_old_one() {
    let (url, _) = token_endpoint(StatusCode::OK, json!({"access_token": "at-2", "refresh_token": "rt-2"})).await;
    let (state, integration) = stack(&url).await;
    let fresh = refresh(&state, &integration, &connected(Some("rt-old"))).await.unwrap();
    assert_eq!(tokens(&fresh), ("at-2", Some("rt-2")));
}

#[tokio::test]
async fn a_refused_grant_is_terminal_and_a_failing_endpoint_transient() {
    let (url, _) = token_endpoint(StatusCode::BAD_REQUEST, json!({"error": "invalid_grant"})).await;
    let (state, integration) = stack(&url).await;
    let e = refresh(&state, &integration, &connected(Some("rt-old")))
        .await
        .unwrap_err();
    assert_eq!((e.kind, e.code), (ErrorKind::ProviderRefused, ErrorCode::TokenErr));
    assert!(
        e.message.contains("invalid_grant") && !e.message.contains("rt-old"),
        "{}",
        e.message
    );

    let (url, _) = token_endpoint(StatusCode::SERVICE_UNAVAILABLE, json!({})).await;
    let (state, integration) = stack(&url).await;
    let e = refresh(&state, &integration, &connected(Some("rt-old")))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::ProviderUnavailable);
    assert!(e.kind.is_transient());
}

#[tokio::test]
async fn without_a_refresh_token_nothing_is_sent() {
    let (url, seen) = token_endpoint(StatusCode::OK, json!({"access_token": "x"})).await;
    let (state, integration) = stack(&url).await;
    let e = refresh(&state, &integration, &connected(None)).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidCredentials);
    assert!(seen.lock().unwrap().is_empty(), "no request reached the provider");
}

#[test]
fn a_read_refreshes_a_token_that_expires_or_is_forced_when_there_is_a_refresh_token() {
    let token = |refresh: Option<&str>| Credentials::OAuth2 {
        access_token: AccessToken::new("at"),
        refresh_token: refresh.map(RefreshToken::new),
        expires_at: Some(time::OffsetDateTime::UNIX_EPOCH),
        raw: Default::default(),
    };
    assert!(OAuth2.refresh_on_read(&token(Some("rt")), true, false));
    assert!(OAuth2.refresh_on_read(&token(Some("rt")), false, true));
    assert!(!OAuth2.refresh_on_read(&token(Some("rt")), false, false));
    assert!(
        !OAuth2.refresh_on_read(&token(None), true, true),
        "nothing to refresh with: answered as stored"
    );
    assert_eq!(OAuth2.mode(), AuthMode::OAuth2);
}
