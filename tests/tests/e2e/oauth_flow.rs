//! The OAuth2 authorization-code flow end to end against a real provider (`oidc-provider`):
//! connect → provider login and consent → callback → the connection is stored, sealed, and
//! readable by a signed or Bearer backend request, and its access token works at the provider.

use latchkey_tests::{assert_no_secret, oidc_peer, spawn_app, Browser, TestApp};
use reqwest::Method;
use serde_json::Value;

const ORIGIN: &str = "http://app.example.test:5173";

/// A fresh stack with an integration `key` for a client registered just for it.
async fn app_with_integration(key: &str, auth_method: &str) -> (TestApp, latchkey_tests::OAuthClient) {
    let app = spawn_app().await;
    let client = oidc_peer().register_client(&app.callback_url(), auth_method).await;
    app.create_integration(key, &client).await;
    (app, client)
}

#[tokio::test]
async fn an_account_connected_through_the_provider_is_stored_and_readable_by_a_signed_backend() {
    let (app, client) = app_with_integration("acme-idp", "client_secret_post").await;
    let browser = Browser::new(&app.callback_url());
    let url = app.connect_url(
        "acme-idp",
        "user-1",
        "params%5Bsubdomain%5D=acme&authorization_params%5Bprompt%5D=consent",
    );
    let referer = format!("{ORIGIN}/settings/integrations");

    let page = browser.connect(&url, &[("Referer", &referer)], "alice").await;

    assert_eq!(page.status, 200, "{}", page.html);
    assert!(page.is_success(), "{:?}", page.message);
    assert_eq!(page.message["providerConfigKey"], "acme-idp");
    assert_eq!(page.message["connectionId"], "user-1");
    assert_eq!(
        page.target.as_deref(),
        Some(ORIGIN),
        "posted only to the page that started it"
    );

    let path = "/connections/user-1?provider_config_key=acme-idp";
    let response = app.signed_request(Method::GET, path, None).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let connection: Value = response.json().await.unwrap();
    assert_eq!(connection["connection_id"], "user-1");
    assert_eq!(connection["provider_config_key"], "acme-idp");
    assert_eq!(connection["provider"], "custom-oauth2");
    assert_eq!(connection["connection_config"]["subdomain"], "acme");
    let credentials = &connection["credentials"];
    assert_eq!(credentials["type"], "OAUTH2");
    assert!(credentials["expires_at"].is_string(), "{credentials}");
    assert!(credentials.get("refresh_token").is_none(), "hidden unless asked for");
    assert!(
        credentials["raw"].get("refresh_token").is_none(),
        "hidden inside raw too"
    );
    let access_token = credentials["access_token"].as_str().unwrap().to_owned();

    let (status, me) = oidc_peer().userinfo(&access_token).await;
    assert_eq!(status, 200, "the stored access token works at the provider");
    assert_eq!(me["sub"], "alice");
    assert_eq!(me["email"], "alice@example.test");

    let (status, by_bearer) = app.read_connection("acme-idp", "user-1", "").await;
    assert_eq!(status, 200);
    assert_eq!(by_bearer["credentials"]["access_token"], access_token.as_str());

    let (_, with_refresh) = app.read_connection("acme-idp", "user-1", "&refresh_token=true").await;
    let refresh_token = with_refresh["credentials"]["refresh_token"]
        .as_str()
        .expect("asked for");
    assert_eq!(with_refresh["credentials"]["raw"]["refresh_token"], refresh_token);

    let activity = app.activity(Some("user-1")).await;
    let events: Vec<&str> = activity.iter().rev().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["started", "redirected", "token_received", "stored"]);
    assert!(activity.iter().all(|e| e["attempt_id"] == activity[0]["attempt_id"]));
    assert_no_secret(
        &serde_json::to_string(&activity).unwrap(),
        &[&access_token, refresh_token, &client.client_secret, &app.secret_key()],
    );
}

#[tokio::test]
async fn a_second_authorization_of_the_same_connection_overrides_it_and_keeps_its_identity() {
    let (app, client) = app_with_integration("acme-idp", "client_secret_basic").await;
    let browser = Browser::new(&app.callback_url());
    let first = browser
        .connect(
            &app.connect_url("acme-idp", "user-2", "params[subdomain]=old"),
            &[],
            "alice",
        )
        .await;
    assert!(first.is_success(), "{:?}", first.message);
    let (_, before) = app.read_connection("acme-idp", "user-2", "").await;

    // Replacing takes the backend's word: an HMAC digest of the connection id.
    let digest = latchkey_tests::wire::connect_digest(&app.hmac_key(), "acme-idp", "user-2");
    let second = Browser::new(&app.callback_url())
        .connect(
            &app.connect_url(
                "acme-idp",
                "user-2",
                &format!("params%5Bsubdomain%5D=new&hmac={digest}"),
            ),
            &[],
            "bob",
        )
        .await;
    assert!(second.is_success(), "{:?}", second.message);
    let (_, after) = app.read_connection("acme-idp", "user-2", "").await;

    assert_eq!(after["id"], before["id"]);
    assert_eq!(after["created_at"], before["created_at"]);
    assert_eq!(after["connection_config"]["subdomain"], "new");
    assert_ne!(
        after["credentials"]["access_token"],
        before["credentials"]["access_token"]
    );
    let (_, me) = oidc_peer()
        .userinfo(after["credentials"]["access_token"].as_str().unwrap())
        .await;
    assert_eq!(me["sub"], "bob", "the new grant is the one stored");

    let list = app.bearer(Method::GET, "/connections").send().await.unwrap();
    let list: Value = list.json().await.unwrap();
    assert_eq!(list["connections"].as_array().unwrap().len(), 1);
    let stored = app.activity(Some("user-2")).await;
    let events: Vec<&str> = stored.iter().rev().filter_map(|e| e["event"].as_str()).collect();
    assert_eq!(
        events
            .iter()
            .filter(|e| ["stored", "replaced"].contains(e))
            .collect::<Vec<_>>(),
        [&"stored", &"replaced"],
        "a replacement is its own event"
    );
    assert_no_secret(&serde_json::to_string(&stored).unwrap(), &[&client.client_secret]);
}

#[tokio::test]
async fn without_an_origin_the_result_page_posts_to_no_opener() {
    let (app, _) = app_with_integration("acme-idp", "client_secret_post").await;
    let browser = Browser::new(&app.callback_url());
    let page = browser
        .connect(&app.connect_url("acme-idp", "user-3", ""), &[], "carol")
        .await;
    assert!(page.is_success(), "{:?}", page.message);
    assert_eq!(page.target, None);
    assert!(!page.html.contains(r#""*""#), "never a wildcard target");
}

#[tokio::test]
async fn the_origin_header_wins_over_the_referer_as_the_message_target() {
    let (app, _) = app_with_integration("acme-idp", "client_secret_post").await;
    let browser = Browser::new(&app.callback_url());
    let headers = [
        ("Origin", "https://dash.example.test"),
        ("Referer", "https://other.example.test/x"),
    ];
    let page = browser
        .connect(&app.connect_url("acme-idp", "user-4", ""), &headers, "dave")
        .await;
    assert!(page.is_success(), "{:?}", page.message);
    assert_eq!(page.target.as_deref(), Some("https://dash.example.test"));
}

#[tokio::test]
async fn connect_sends_the_browser_to_the_provider_with_state_pkce_and_scopes() {
    let (app, client) = app_with_integration("acme-idp", "client_secret_post").await;
    let response = app
        .http
        .get(app.connect_url("acme-idp", "user-5", ""))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    let location = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    assert!(location.as_str().starts_with(&client.authorization_url));
    let query: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["client_id"], client.client_id);
    assert_eq!(query["redirect_uri"], app.callback_url());
    assert_eq!(query["scope"], "openid email offline_access");
    assert_eq!(query["code_challenge_method"], "S256");
    assert!(query["state"].len() >= 32);
    assert!(!location.as_str().contains(&client.client_secret));
}

#[tokio::test]
async fn a_connection_deleted_by_a_signed_request_is_gone() {
    let (app, _) = app_with_integration("acme-idp", "client_secret_post").await;
    let page = Browser::new(&app.callback_url())
        .connect(&app.connect_url("acme-idp", "user-6", ""), &[], "erin")
        .await;
    assert!(page.is_success(), "{:?}", page.message);

    let path = "/connections/user-6?provider_config_key=acme-idp";
    let response = app.signed_request(Method::DELETE, path, None).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["success"], true);

    app.assert_not_stored("acme-idp", "user-6").await;
    // A new signature (signed requests that change something are single-use).
    app.clock.advance(time::Duration::seconds(1));
    let again = app.signed_request(Method::DELETE, path, None).send().await.unwrap();
    assert_eq!(again.status(), 404);
}
