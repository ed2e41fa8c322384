//! The refresh scheduler and the worker end to end: a run finds the connections the sharded
//! refresh index says are due (hot ones before the read margin, idle refresh tokens after the
//! keepalive, API keys on the verify cadence), the jobs renew each once through the refresh
//! path (counted at the provider), and nothing that is not due is touched. On DynamoDB (40-aws)
//! the connections fall into several of the index's shards and the jobs go through SQS to the
//! worker's handler.

use latchkey_tests::{oidc_peer, spawn_app_with, spawn_app_with_oidc, ProviderApi, ProviderStats, TestApp};
use serde_json::{json, Value};
use time::Duration;

const KEY: &str = "idp";

async fn refreshes_of(app: &TestApp, id: &str) -> Vec<Value> {
    app.activity(Some(id))
        .await
        .into_iter()
        .filter(|e| e["operation"] == "refresh")
        .collect()
}

#[tokio::test]
async fn due_connections_are_renewed_once_each_and_nothing_else_is_touched() {
    let (app, client) = spawn_app_with_oidc(KEY).await;
    let hot: Vec<String> = (0..8).map(|i| format!("hot-{i}")).collect();
    let idle: Vec<String> = (0..4).map(|i| format!("idle-{i}")).collect();
    for id in hot.iter().chain(&idle) {
        app.connect_through_provider(KEY, id, id).await;
    }
    let mut before = Vec::new();
    for id in &hot {
        before.push(app.tokens(KEY, id, "").await.0); // a read: the connection is hot
    }
    assert_eq!(app.run_scheduler().await.due, 0, "nothing due yet");

    // The connect attempts' deadlines (`jobs::deadline`) pass: each attempt ended, nothing to do
    // (locally they run now; on SQS their delay is real time, after this test).
    app.clock.advance(Duration::minutes(13));
    app.run_jobs().await;
    assert!(app
        .activity(None)
        .await
        .iter()
        .all(|e| e["error_code"] != "attempt_expired"));
    // An hour's token of a connection read recently is renewed 15 + 5 minutes before expiry.
    app.clock.advance(Duration::minutes(28));
    let report = app.run_scheduler().await;
    assert_eq!((report.due, report.enqueued), (8, 8), "{report:?}");
    assert_eq!(app.run_jobs().await, 8);
    assert_eq!(
        oidc_peer().stats(&client.client_id).await,
        ProviderStats {
            refresh_grants: 8,
            revoked_grants: 0
        }
    );
    for (id, old) in hot.iter().zip(&before) {
        let entries = refreshes_of(&app, id).await;
        assert_eq!(entries.len(), 1, "{id}: {entries:?}");
        assert!(entries[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("Renewed ahead of reads (hot)"));
        let (now, _) = app.tokens(KEY, id, "").await;
        assert_ne!(&now, old, "{id} was renewed");
        assert_eq!(oidc_peer().userinfo(&now).await.0, 200);
    }
    for id in &idle {
        assert!(refreshes_of(&app, id).await.is_empty(), "{id} was not due");
    }
    assert_eq!(app.run_scheduler().await.due, 0, "each once");
    assert_eq!(
        oidc_peer().stats(&client.client_id).await.refresh_grants,
        8,
        "reads did not refresh"
    );

    // Two weeks on, every refresh token is kept alive before the provider could revoke it idle.
    app.clock.advance(Duration::days(14));
    let report = app.run_scheduler().await;
    assert_eq!(report.enqueued, 12, "{report:?}");
    assert_eq!(app.run_jobs().await, 12);
    assert_eq!(
        oidc_peer().stats(&client.client_id).await,
        ProviderStats {
            refresh_grants: 20,
            revoked_grants: 0
        }
    );
    for id in &idle {
        let entries = refreshes_of(&app, id).await;
        assert_eq!(entries.len(), 1, "{id}: {entries:?}");
        assert!(entries[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("Renewed ahead of reads (keepalive)"));
    }
    assert_eq!(app.run_scheduler().await.due, 0);
}

#[tokio::test]
async fn api_keys_are_re_tested_on_the_verify_cadence_and_a_revoked_one_is_recorded() {
    let app = spawn_app_with(|c| c.refresh.verify = Some(Duration::days(1))).await;
    let peer = ProviderApi::start().await;
    app.post_integration(&json!({"provider": "openai", "unique_key": "oa", "custom": {"proxy_base_url": peer.url}}))
        .await;
    let (status, body) = app
        .frontend_post(
            "/api-auth/api-key/oa",
            "connection_id=key",
            &json!({"apiKey": "good-key"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(peer.calls(), 1);
    assert_eq!(app.run_scheduler().await.due, 0);

    app.clock.advance(Duration::days(1) + Duration::minutes(1));
    assert_eq!(app.run_scheduler().await.enqueued, 1);
    app.run_jobs().await;
    assert_eq!(peer.calls(), 2, "re-tested with the provider");
    let entries = refreshes_of(&app, "key").await;
    assert!(
        entries[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("Re-tested on schedule (verify)"),
        "{entries:?}"
    );

    peer.revoke();
    app.clock.advance(Duration::days(1) + Duration::minutes(1));
    app.run_scheduler().await;
    app.run_jobs().await;
    let entries = refreshes_of(&app, "key").await;
    assert_eq!(entries[0]["event"], "failed", "{entries:?}");
    assert_eq!(entries[0]["error_code"], "verification_http_401");
    let (status, body) = app.read_connection("oa", "key", "").await;
    assert_eq!(status, 200, "a key is answered as stored");
    assert_eq!(
        body["errors"],
        json!([{"type": "refresh", "log_id": entries[0]["attempt_id"]}])
    );
    // Backing off: the next runs leave the provider alone.
    app.clock.advance(Duration::minutes(5));
    assert_eq!(app.run_scheduler().await.due, 0);
    assert_eq!(peer.calls(), 3);
}
