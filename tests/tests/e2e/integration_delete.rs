//! Deleting an integration with many connections, over HTTP: the connections answer
//! `not_found` and leave every listing from the moment the delete returns, an integration
//! created again under the same key starts empty, and the background jobs (the local runner,
//! or the worker's SQS handler on the AWS backend) delete the old connections.

use latchkey::domain::IntegrationKey;
use latchkey_tests::app::{spawn_app, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const N: usize = 60;

async fn create(app: &TestApp, key: &str) {
    app.post_integration(&json!({
        "provider": "custom-oauth2",
        "unique_key": key,
        "credentials": {"type": "OAUTH2", "client_id": "cid", "client_secret": "csecret"},
        "custom": {"authorization_url": "https://id.example.test/auth", "token_url": "https://id.example.test/token"},
    }))
    .await;
}

async fn import(app: &TestApp, key: &str, id: &str, token: &str) {
    let body = json!({
        "provider_config_key": key, "connection_id": id,
        "end_user": {"id": format!("user-{id}")},
        "credentials": {"type": "OAUTH2", "access_token": token, "refresh_token": "rt", "expires_at": "2030-01-01T00:00:00Z"},
    });
    let (status, v) = app.backend(Method::POST, "/connections", Some(&body)).await;
    assert_eq!(status, 200, "{v}");
}

async fn listed(app: &TestApp, query: &str) -> Vec<String> {
    let (status, v) = app.backend(Method::GET, &format!("/connections?{query}"), None).await;
    assert_eq!(status, 200, "{v}");
    v["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["connection_id"].as_str().unwrap().to_owned())
        .collect()
}

fn error_code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn a_deleted_integrations_connections_are_gone_at_once_and_purged_in_the_background() {
    let app = spawn_app().await;
    create(&app, "crm").await;
    create(&app, "other").await;
    for i in 0..N {
        import(&app, "crm", &format!("c-{i}"), "old-token").await;
    }
    import(&app, "other", "c-0", "other-token").await;
    let (status, _) = app.read_connection("crm", "c-7", "").await;
    assert_eq!(status, 200);
    let old = app
        .state
        .store
        .get_integration(&IntegrationKey::parse("crm").unwrap())
        .await
        .unwrap()
        .unwrap();

    let (status, v) = app.backend(Method::DELETE, "/integrations/crm", None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    // From this moment: not found, not listed, whichever way one looks.
    let (status, v) = app.read_connection("crm", "c-7", "").await;
    assert_eq!((status, error_code(&v)), (404, "not_found"), "{v}");
    assert!(listed(&app, "integrationId=crm").await.is_empty());
    assert_eq!(listed(&app, "connectionId=c-0").await, ["c-0"], "only other's c-0");
    assert!(listed(&app, "endUserId=user-c-3").await.is_empty());
    assert_eq!(listed(&app, "limit=1000").await, ["c-0"]);
    let (status, v) = app
        .backend(Method::DELETE, "/connections/c-7?provider_config_key=crm", None)
        .await;
    assert_eq!(status, 404, "{v}");
    let (status, v) = app.backend(Method::DELETE, "/integrations/crm", None).await;
    assert_eq!(
        (status.as_u16(), error_code(&v)),
        (404, "unknown_provider_config"),
        "{v}"
    );

    // Created again: empty, and the same connection ids are new connections.
    create(&app, "crm").await;
    let (status, _) = app.read_connection("crm", "c-7", "").await;
    assert_eq!(status, 404, "nothing resurrected");
    assert!(listed(&app, "integrationId=crm").await.is_empty());
    import(&app, "crm", "c-7", "new-token").await;

    // The background purge deletes the old generation and leaves the new connection alone.
    assert!(app.run_jobs().await > 0, "the purge ran");
    let store = &app.state.store;
    for shard in 0..store.purge_shards() {
        let left = store
            .purge_connections(&old.key, &old.generation, shard, 10)
            .await
            .unwrap();
        assert_eq!(left.examined, 0, "shard {shard} purged");
    }
    let (status, v) = app.read_connection("crm", "c-7", "").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["credentials"]["access_token"], "new-token");
    assert_eq!(listed(&app, "integrationId=crm").await, ["c-7"]);
    let (status, v) = app.read_connection("other", "c-0", "").await;
    assert_eq!(
        (status, v["credentials"]["access_token"].as_str()),
        (200, Some("other-token"))
    );
}
