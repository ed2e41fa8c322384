//! Flow sessions: OAuth sessions, auth results and sockets taken exactly once, connect sessions
//! reusable, console sessions found until signed out.

use super::*;

/// Every test of this file.
pub async fn run(store: &dyn Store) {
    oauth_sessions_are_taken_exactly_once(store).await;
    concurrent_takes_of_one_session_yield_one_winner(store).await;
    connect_sessions_are_found_by_token_hash(store).await;
    auth_results_are_read_once(store).await;
    console_sessions_are_found_until_deleted(store).await;
    sockets_are_found_then_taken_once(store).await;
}

fn session(state: &str) -> OAuthSession {
    OAuthSession {
        state: OAuthState::new(state),
        integration: IntegrationKey::parse("github").unwrap(),
        connection_id: ConnectionId::parse("user-1").unwrap(),
        code_verifier: Some(PkceVerifier::new("verifier")),
        kept: Some(Sealed(vec![5; 24])),
        redirect_uri: "http://127.0.0.1/oauth/callback".into(),
        connection_config: Default::default(),
        secret_config: Some(Sealed(vec![4; 20])),
        vouched_config: Default::default(),
        origin: Some("http://localhost:5173".into()),
        attempt_id: unique("attempt"),
        created_at: now(),
        expires_at: now() + Duration::minutes(10),
        result_nonce_hash: None,
        end_user: None,
        may_replace: true,
        webhook_url_override: Some("https://hooks.example.com/u1".into()),
        socket_hash: Some(crate::signing::sha256_hex(b"ws")),
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
        webhook_url_override: Some("https://hooks.example.com/c1".into()),
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

pub async fn console_sessions_are_found_until_deleted(store: &dyn Store) {
    let session = ConsoleSession {
        token_hash: unique("console"),
        key_fingerprint: "f".repeat(64),
        created_at: now(),
        expires_at: now() + Duration::hours(2),
    };
    store.put_console_session(&session).await.unwrap();
    assert_eq!(store.put_console_session(&session).await, Err(StoreError::Conflict));
    for _ in 0..2 {
        let found = store.get_console_session(&session.token_hash).await.unwrap();
        assert_eq!(found.as_ref(), Some(&session), "reading does not consume it");
    }
    store.delete_console_session(&session.token_hash).await.unwrap();
    assert_eq!(store.get_console_session(&session.token_hash).await.unwrap(), None);
    store.delete_console_session(&session.token_hash).await.unwrap();
    // A new session purges (or lets TTL take) expired ones; a live one is never dropped.
    let live = ConsoleSession {
        token_hash: unique("console"),
        ..session.clone()
    };
    store.put_console_session(&live).await.unwrap();
    let next = ConsoleSession {
        token_hash: unique("console"),
        created_at: now() + Duration::minutes(1),
        ..session
    };
    store.put_console_session(&next).await.unwrap();
    assert!(store.get_console_session(&live.token_hash).await.unwrap().is_some());
}

pub async fn sockets_are_found_then_taken_once(store: &dyn Store) {
    let socket = SocketRecord {
        client_hash: crate::signing::sha256_hex(random_token().as_bytes()),
        connection: unique("conn"),
        origin: "https://app.example.com".into(),
        created_at: now(),
        expires_at: now() + Duration::minutes(15),
    };
    store.put_socket(&socket).await.unwrap();
    assert_eq!(
        store.put_socket(&socket).await,
        Err(StoreError::Conflict),
        "a client id is never reused"
    );
    assert_eq!(
        store.get_socket(&socket.client_hash).await.unwrap(),
        Some(socket.clone())
    );
    let takes = (0..4).map(|_| store.take_socket(&socket.client_hash));
    let winners: Vec<_> = futures::future::join_all(takes)
        .await
        .into_iter()
        .filter_map(|r| r.unwrap())
        .collect();
    assert_eq!(winners, std::slice::from_ref(&socket), "one outcome reaches a socket");
    assert_eq!(store.get_socket(&socket.client_hash).await.unwrap(), None);
    // A new socket purges (or lets TTL take) expired ones; a live one is never dropped.
    let live = SocketRecord {
        client_hash: unique("socket"),
        ..socket.clone()
    };
    store.put_socket(&live).await.unwrap();
    let next = SocketRecord {
        client_hash: unique("socket"),
        created_at: now() + Duration::minutes(1),
        ..socket
    };
    store.put_socket(&next).await.unwrap();
    assert!(store.get_socket(&live.client_hash).await.unwrap().is_some());
}
