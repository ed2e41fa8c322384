//! Two real `latchkey serve` processes on one data directory (one SQLite file) behind one
//! oidc-provider client: 50 concurrent reads of an expired connection, split between them,
//! cause exactly one refresh grant at the provider and no revoked grant, and every reader gets
//! the token the provider issued. The lease and the conditional writes hold across processes,
//! as across Lambda instances on DynamoDB (`refresh.rs` runs the same on two instances in one
//! process, on both backends). The binary is the local stack: this runs on SQLite only.

use std::collections::HashSet;

use latchkey_tests::served::serve;
use latchkey_tests::{backend, oidc_peer, Browser, ProviderStats};
use serde_json::{json, Value};

#[tokio::test]
async fn fifty_concurrent_reads_on_two_processes_cause_one_refresh_grant() {
    if backend::selected_backend() != "sqlite" {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let one = serve(&data_dir).await;
    let two = serve(&data_dir).await;
    let keys: Value = serde_json::from_slice(&std::fs::read(data_dir.join("environment-keys.json")).unwrap()).unwrap();
    let secret = keys["secret_key"].as_str().unwrap().to_owned();
    let http = reqwest::Client::new();
    let backend = |base: &str, method: reqwest::Method, path: &str| {
        http.request(method, format!("{base}{path}")).bearer_auth(&secret)
    };

    let callback = format!("{}/oauth/callback", one.address);
    let client = oidc_peer().register_client(&callback, "client_secret_post").await;
    let created = backend(&one.address, reqwest::Method::POST, "/integrations")
        .json(&json!({
            "provider": "custom-oauth2", "unique_key": "idp",
            "credentials": {"type": "OAUTH2", "client_id": client.client_id, "client_secret": client.client_secret,
                            "scopes": client.scopes},
            "custom": {"authorization_url": client.authorization_url, "token_url": client.token_url},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200);
    let connect = format!(
        "{}/oauth/connect/idp?connection_id=shared&public_key={}&authorization_params%5Bprompt%5D=consent",
        one.address,
        keys["public_key"].as_str().unwrap()
    );
    let page = Browser::new(&callback).connect(&connect, &[], "shared").await;
    assert!(page.is_success(), "{}", page.html);

    // The processes' clocks can't be moved: the connection is imported again with the
    // provider's tokens and an expiry in the past, so every read needs a refresh.
    let read = |base: &str, query: &str| {
        backend(
            base,
            reqwest::Method::GET,
            &format!("/connections/shared?provider_config_key=idp{query}"),
        )
        .send()
    };
    let stored: Value = read(&one.address, "&refresh_token=true")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let imported = backend(&one.address, reqwest::Method::POST, "/connections")
        .json(&json!({
            "provider_config_key": "idp", "connection_id": "shared",
            "credentials": {"type": "OAUTH2", "access_token": stored["credentials"]["access_token"],
                            "refresh_token": stored["credentials"]["refresh_token"],
                            "expires_at": "2020-01-01T00:00:00Z"},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(imported.status(), 200);

    let mut reads = tokio::task::JoinSet::new();
    for i in 0..50 {
        let base = if i % 2 == 0 { &one.address } else { &two.address };
        let request = read(base, "");
        reads.spawn(async move {
            let response = request.await.unwrap();
            (response.status().as_u16(), response.json::<Value>().await.unwrap())
        });
    }
    let mut tokens = HashSet::new();
    while let Some(answer) = reads.join_next().await {
        let (status, body) = answer.unwrap();
        assert_eq!(status, 200, "{body}");
        tokens.insert(body["credentials"]["access_token"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        oidc_peer().stats(&client.client_id).await,
        ProviderStats {
            refresh_grants: 1,
            revoked_grants: 0
        }
    );
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    let token = tokens.into_iter().next().unwrap();
    assert_ne!(token, stored["credentials"]["access_token"].as_str().unwrap());
    assert_eq!(oidc_peer().userinfo(&token).await.0, 200);
}
