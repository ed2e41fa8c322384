//! Failed refreshes end to end: a token endpoint that answers 500, never answers, or answers
//! garbage (a fault peer in front of oidc-provider) leaves the still valid token in place and
//! answers `502 provider_unavailable` once it has expired; a grant the provider revoked
//! (`invalid_grant`, from oidc-provider itself) is `424 connection_refresh_backoff`, listed in
//! the connection's `errors`, recorded as activity with the provider's code, and not asked again
//! during the backoff; a new authorization clears it. Client credentials are re-fetched through
//! the same path: a concurrent metadata edit is kept and a concurrent delete stays a delete.

use latchkey_tests::{
    assert_no_secret, oidc_peer, spawn_app, spawn_app_with, ClientCredentialsPeer, Fault, FaultPeer, TestApp,
};
use reqwest::Method;
use serde_json::{json, Value};
use time::Duration;

const KEY: &str = "idp";

/// A stack whose integration's token endpoint is a fault peer forwarding to oidc-provider, with
/// connection `id` connected through it.
async fn connected(app: TestApp, id: &str) -> (TestApp, FaultPeer, latchkey_tests::OAuthClient) {
    let (fault, client) = FaultPeer::in_front_of_oidc(&app, KEY).await;
    app.connect_through_provider(KEY, id, id).await;
    (app, fault, client)
}

/// The connection's refresh entries in the activity log, newest first.
async fn refresh_activity(app: &TestApp, id: &str) -> Vec<Value> {
    app.activity(Some(id))
        .await
        .into_iter()
        .filter(|e| e["operation"] == "refresh")
        .collect()
}

async fn unavailable_provider(fault: Fault, cause: &str) {
    let app = spawn_app_with(|c| c.provider_timeout = std::time::Duration::from_millis(300)).await;
    let (app, fault_peer, _) = connected(app, "c").await;
    let (before, refresh) = app.tokens(KEY, "c", "").await;
    fault_peer.set(Some(fault));
    // In the read margin, still valid: the old token, and the provider is asked once.
    app.clock.advance(Duration::minutes(50));
    assert_eq!(app.tokens(KEY, "c", "").await.0, before);
    assert_eq!(app.tokens(KEY, "c", "").await.0, before);
    let hits = fault_peer.hits();
    assert_eq!(
        hits, 2,
        "the code exchange, then one refresh: the next waits for its backoff"
    );
    let failed = refresh_activity(&app, "c").await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["event"], "failed");
    assert_eq!(failed[0]["error_code"], cause, "{failed:?}");
    // Expired, still failing: a clear retryable error, never the dead token.
    app.clock.advance(Duration::minutes(11));
    let body = app.assert_read_fails(KEY, "c", "", 502, "provider_unavailable").await;
    assert_no_secret(&body.to_string(), &[&before, refresh.as_deref().unwrap()]);
    // The provider is back: the next read after the wait refreshes.
    fault_peer.set(None);
    app.clock.advance(Duration::minutes(15));
    let (after, _) = app.tokens(KEY, "c", "").await;
    assert_ne!(after, before);
    let (status, _) = oidc_peer().userinfo(&after).await;
    assert_eq!(status, 200);
    let (_, body) = app.read_connection(KEY, "c", "").await;
    assert_eq!(body["errors"], json!([]));
}

#[tokio::test]
async fn a_token_endpoint_answering_500_keeps_the_valid_token_then_answers_502() {
    unavailable_provider(Fault::ServerError, "token_http_error").await;
}

#[tokio::test]
async fn a_token_endpoint_that_never_answers_keeps_the_valid_token_then_answers_502() {
    unavailable_provider(Fault::Hang, "token_timeout").await;
}

#[tokio::test]
async fn a_token_endpoint_answering_garbage_keeps_the_valid_token_then_answers_502() {
    unavailable_provider(Fault::Garbage, "token_malformed").await;
}

#[tokio::test]
async fn a_revoked_grant_is_a_424_with_its_error_listed_until_the_connection_is_authorized_again() {
    let (app, fault, client) = connected(spawn_app().await, "r").await;
    let (_, refresh_token) = app.tokens(KEY, "r", "").await;
    oidc_peer().revoke(&client, refresh_token.as_deref().unwrap()).await;
    app.clock.advance(Duration::minutes(61));

    let body = app
        .assert_read_fails(KEY, "r", "", 424, "connection_refresh_backoff")
        .await;
    assert!(
        body["error"]["message"].as_str().unwrap().contains("invalid_grant"),
        "{body}"
    );
    let failed = refresh_activity(&app, "r").await;
    assert_eq!(failed[0]["error_code"], "invalid_grant", "{failed:?}");
    let (_, list) = app
        .backend(
            Method::GET,
            &format!("/connections?connectionId=r&integrationId={KEY}"),
            None,
        )
        .await;
    assert_eq!(
        list["connections"][0]["errors"],
        json!([{"type": "refresh", "log_id": failed[0]["attempt_id"]}]),
        "{list}"
    );
    let hits = fault.hits();
    for _ in 0..3 {
        app.assert_read_fails(KEY, "r", "", 424, "connection_refresh_backoff")
            .await;
    }
    assert_eq!(fault.hits(), hits, "backing off: the provider is not asked");
    let (status, _) = app.read_connection(KEY, "r", "&force_refresh=true").await;
    assert_eq!(status, 424);
    assert_eq!(fault.hits(), hits + 1, "force_refresh asks anyway");

    app.connect_through_provider(KEY, "r", "r").await;
    let (status, body) = app.read_connection(KEY, "r", "").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["errors"], json!([]), "a new authorization clears the errors");
}

/// A client-credentials integration whose token endpoint is a fault peer in front of `cc`.
async fn client_credentials(app: &TestApp, cc: &ClientCredentialsPeer) -> FaultPeer {
    let fault = FaultPeer::forwarding(&cc.token_url).await;
    app.post_integration(&json!({"provider": "8x8", "unique_key": "cc",
        "credentials": {"client_id": "cc-id", "client_secret": "cc-secret"},
        "custom": {"token_url": fault.token_url}}))
        .await;
    fault
}

#[tokio::test]
async fn a_client_credentials_refetch_keeps_a_concurrent_edit_and_never_undoes_a_delete() {
    let app = spawn_app().await;
    let cc = ClientCredentialsPeer::start().await;
    let fault = client_credentials(&app, &cc).await;
    for id in ["kept", "deleted"] {
        let (status, body) = app
            .frontend_post("/oauth2/auth/cc", &format!("connection_id={id}"), &json!({}))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    // Tokens live 120 s: a read in the last minute re-fetches.
    app.clock.advance(Duration::seconds(70));
    let race = |id: &'static str, meanwhile: Method| {
        let app = &app;
        let fault = &fault;
        async move {
            fault.hold();
            let request = app.bearer(Method::GET, &format!("/connections/{id}?provider_config_key=cc"));
            let read = tokio::spawn(async move {
                let response = request.send().await.unwrap();
                (response.status().as_u16(), response.json::<Value>().await.unwrap())
            });
            fault.arrived().await;
            let (status, body) = match meanwhile {
                Method::DELETE => {
                    app.backend(
                        Method::DELETE,
                        &format!("/connections/{id}?provider_config_key=cc"),
                        None,
                    )
                    .await
                }
                _ => {
                    let edit = json!({"connection_id": id, "provider_config_key": "cc", "metadata": {"team": "a"}});
                    app.backend(Method::POST, "/connections/metadata", Some(&edit)).await
                }
            };
            assert_eq!(status, 200, "{body}");
            fault.let_through();
            read.await.unwrap()
        }
    };
    let (status, body) = race("kept", Method::POST).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["credentials"]["token"], "cc-3", "re-fetched");
    assert_eq!(body["metadata"], json!({"team": "a"}), "the concurrent edit is kept");
    let (status, body) = race("deleted", Method::DELETE).await;
    assert_eq!(status, 404, "{body}");
    app.assert_not_stored("cc", "deleted").await;
    assert_eq!(cc.issued(), 4);
}
