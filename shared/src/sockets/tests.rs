use std::sync::Arc;

use super::*;
use crate::clock::ShiftedClock;
use crate::store::EnvironmentSettings;
use crate::AppState;

const APP: &str = "https://app.example.com";

fn stack() -> (AppState, Arc<ShiftedClock>) {
    let clock = Arc::new(ShiftedClock::default());
    let state = AppState::in_memory().with_clock(clock.clone());
    (state, clock)
}

#[tokio::test]
async fn a_socket_needs_an_allowed_web_origin() {
    let (state, _) = stack();
    let hub = state.hub();
    assert_eq!(
        open(&hub, None, "c1").await.unwrap_err().code,
        ErrorCode::OriginNotAllowed
    );
    let id = open(&hub, Some(APP), "c1").await.unwrap();
    assert_eq!(parse_client_id(&id).unwrap(), id, "ids survive the connect query");
    state
        .store
        .put_settings(&EnvironmentSettings {
            allowed_origins: vec!["https://other.example.com".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        open(&hub, Some(APP), "c2").await.unwrap_err().code,
        ErrorCode::OriginNotAllowed
    );
    assert!(
        open(&hub, Some("http://127.0.0.1:3003"), "c3").await.is_ok(),
        "the API's own pages may"
    );
}

#[tokio::test]
async fn a_flow_binds_only_to_a_live_socket_of_its_own_origin() {
    let (state, clock) = stack();
    let hub = state.hub();
    let id = open(&hub, Some(APP), "c1").await.unwrap();
    let e = bind(&hub, &id, Some("https://evil.example")).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidQueryParams);
    assert!(e.message.contains("another page"), "{}", e.message);
    assert!(bind(&hub, &id, None).await.is_err(), "a page that hid its origin");
    assert!(bind(&hub, "forged-forged-forged-forged", Some(APP)).await.is_err());
    assert_eq!(bind(&hub, &id, Some(APP)).await.unwrap(), sha256_hex(id.as_bytes()));
    clock.advance(SOCKET_TTL + time::Duration::seconds(1));
    assert!(bind(&hub, &id, Some(APP)).await.is_err(), "expired");
}

#[tokio::test]
async fn an_outcome_reaches_its_socket_once() {
    let (state, _) = stack();
    let hub = state.hub();
    let mut held = state.sockets.hold().unwrap();
    let id = open(&hub, Some(APP), &held.connection).await.unwrap();
    let hash = bind(&hub, &id, Some(APP)).await.unwrap();
    deliver(&hub, &hash, "first").await;
    deliver(&hub, &hash, "second").await;
    assert_eq!(held.frames.recv().await.as_deref(), Some("first"));
    assert!(held.frames.try_recv().is_err(), "the record was taken by the first");

    // A socket that closed is simply gone.
    let closed = state.sockets.hold().unwrap();
    let id = open(&hub, Some(APP), &closed.connection).await.unwrap();
    let hash = bind(&hub, &id, Some(APP)).await.unwrap();
    let connection = closed.connection.clone();
    drop(closed);
    assert!(!state.sockets.send(&connection, "x").await.unwrap());
    deliver(&hub, &hash, "late").await;
}

#[test]
fn client_ids_are_checked_at_the_edge() {
    for bad in [
        "",
        "short",
        "a b c d e f g h i j k l m n o",
        &"x".repeat(129),
        "../../etc/passwd/aaaaaaaaaaaa",
    ] {
        assert!(parse_client_id(bad).is_err(), "{bad}");
    }
}
