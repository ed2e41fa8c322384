//! Catalog providers against the real OAuth server (`oidc-provider`): a catalog OAuth2 entry
//! (Salesforce: default `offline_access` scope, `prompt=consent`, PKCE) whose URLs the
//! integration overrides to point at the peer, and the client-credentials grant (`OAUTH2_CC`,
//! 8x8: Basic client auth) with integration-level and connection-level client credentials.

use latchkey_tests::{oidc_peer, spawn_app, Browser};
use serde_json::{json, Value};

/// Registers a machine client that may only use the client-credentials grant.
async fn register_machine_client() -> (String, String) {
    let response = reqwest::Client::new()
        .post(format!("{}/reg", oidc_peer().issuer))
        .json(&json!({
            "grant_types": ["client_credentials"],
            "response_types": [],
            "redirect_uris": [],
            "token_endpoint_auth_method": "client_secret_basic",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "client registration");
    let client: Value = response.json().await.unwrap();
    (
        client["client_id"].as_str().unwrap().to_owned(),
        client["client_secret"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn a_catalog_oauth2_provider_connects_with_its_quirks_against_a_real_server() {
    let app = spawn_app().await;
    let client = oidc_peer()
        .register_client(&app.callback_url(), "client_secret_post")
        .await;
    app.post_integration(&json!({
        "provider": "salesforce",
        "unique_key": "sf",
        "credentials": {"type": "OAUTH2", "client_id": client.client_id,
                        "client_secret": client.client_secret, "scopes": "openid email"},
        "custom": {"authorization_url": client.authorization_url, "token_url": client.token_url},
    }))
    .await;
    let browser = Browser::new(&app.callback_url());
    let landing = browser.start(&app.connect_url("sf", "acct-1", ""), &[]).await;
    let page = browser.finish(&browser.authorize(landing, "carol").await).await;
    assert!(page.is_success(), "{:?}", page.message);

    let (status, connection) = app.read_connection("sf", "acct-1", "&refresh_token=true").await;
    assert_eq!(status, 200);
    assert_eq!(connection["provider"], "salesforce");
    let credentials = &connection["credentials"];
    assert_eq!(credentials["type"], "OAUTH2");
    assert!(
        credentials["refresh_token"].is_string(),
        "the catalog's default offline_access scope and prompt=consent got a refresh token: {credentials}"
    );
    let (status, me) = oidc_peer()
        .userinfo(credentials["access_token"].as_str().unwrap())
        .await;
    assert_eq!((status, me["sub"].as_str()), (200, Some("carol")));
}

#[tokio::test]
async fn client_credentials_tokens_come_from_the_real_server() {
    let app = spawn_app().await;
    let (id, secret) = register_machine_client().await;
    let token_url = format!("{}/token", oidc_peer().issuer);
    app.post_integration(&json!({
        "provider": "8x8",
        "unique_key": "machine",
        "credentials": {"type": "OAUTH2_CC", "client_id": id, "client_secret": secret},
        "custom": {"token_url": token_url},
    }))
    .await;
    let connect = |query: String, body: Value| {
        let app = &app;
        async move {
            let (status, v) = app.frontend_post("/oauth2/auth/machine", &query, &body).await;
            (status.as_u16(), v)
        }
    };
    let (status, v) = connect("connection_id=svc-1".into(), json!({})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v, json!({"providerConfigKey": "machine", "connectionId": "svc-1"}));
    let (status, connection) = app.read_connection("machine", "svc-1", "").await;
    assert_eq!(status, 200);
    let credentials = &connection["credentials"];
    assert_eq!(credentials["type"], "OAUTH2_CC");
    assert!(credentials["token"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(credentials["expires_at"].is_string(), "{credentials}");
    assert!(credentials.get("client_secret").is_none());

    // A connection may bring its own client; a wrong secret stores nothing.
    let (own_id, own_secret) = register_machine_client().await;
    let (status, _) = connect(
        "connection_id=svc-2".into(),
        json!({"client_id": own_id, "client_secret": own_secret}),
    )
    .await;
    assert_eq!(status, 200);
    let (_, own) = app.read_connection("machine", "svc-2", "").await;
    assert_eq!(own["credentials"]["client_id"], own_id.as_str());
    let (status, v) = connect(
        "connection_id=svc-3".into(),
        json!({"client_id": own_id, "client_secret": "wrong"}),
    )
    .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (400, Some("connection_test_failed"))
    );
    app.assert_not_stored("machine", "svc-3").await;

    // Forced re-fetch on read: a new token from the server.
    let (_, forced) = app.read_connection("machine", "svc-1", "&force_refresh=true").await;
    assert_ne!(forced["credentials"]["token"], credentials["token"]);
}
