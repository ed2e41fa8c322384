//! Who may replace a connection. An end user with only the public key (and HMAC off, the
//! default) may create connections but never replace one: the attack "connect again as
//! `customer-42` and take over its credentials" is refused with `409 connection_exists` before
//! the browser goes to the provider or a credential is verified, and the store's conditional
//! create catches a connection created while a flow was under way. An HMAC digest, a reconnect
//! session or the backend's import replaces as before, and activity records the replacement as
//! its own event.

use latchkey_tests::{oidc_peer, spawn_app, spawn_app_with_oidc, wire, Browser, ProviderApi, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const VICTIM: &str = "customer-42";

/// A stack with an OIDC integration `idp` and `VICTIM` connected through it as `alice`, with
/// metadata the team's backend set.
async fn stack_with_victim() -> TestApp {
    let (app, _) = spawn_app_with_oidc("idp").await;
    let page = Browser::new(&app.callback_url())
        .connect(&app.connect_url("idp", VICTIM, ""), &[], "alice")
        .await;
    assert!(page.is_success(), "{:?}", page.message);
    let (status, _) = app
        .backend(
            Method::POST,
            "/connections/metadata",
            Some(&json!({"connection_id": VICTIM, "provider_config_key": "idp", "metadata": {"crm": "42"}})),
        )
        .await;
    assert_eq!(status, 200);
    app
}

/// The victim's connection as the backend reads it, refresh token included.
async fn victim(app: &TestApp) -> Value {
    let (status, body) = app.read_connection("idp", VICTIM, "&refresh_token=true").await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn userinfo_sub(connection: &Value) -> String {
    let token = connection["credentials"]["access_token"].as_str().unwrap();
    let (status, me) = oidc_peer().userinfo(token).await;
    assert_eq!(status, 200);
    me["sub"].as_str().unwrap().to_owned()
}

fn events(activity: &[Value]) -> Vec<String> {
    activity
        .iter()
        .rev()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_public_key_alone_cannot_replace_a_connection_through_oauth() {
    let app = stack_with_victim().await;
    let before = victim(&app).await;

    // The attacker opens the connect URL for the victim's id: no redirect to the provider.
    let url = app.connect_url("idp", VICTIM, "");
    let response = app.http.get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert!(response.headers().get("location").is_none());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "connection_exists");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("hmac") && message.contains("reconnect"), "{message}");
    // In a popup, the same refusal is the result page's error.
    let page = app
        .http
        .get(&url)
        .header("Accept", "text/html")
        .header("Referer", "https://app.example.test/")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::CONFLICT);
    let page = latchkey_tests::ResultPage::parse(409, page.text().await.unwrap());
    assert_eq!(page.error_type(), "connection_exists");

    assert_eq!(victim(&app).await, before, "nothing changed");
    assert_eq!(userinfo_sub(&before).await, "alice");
    app.failed_activity(Some(VICTIM), "connection_exists").await;
}

#[tokio::test]
async fn an_api_key_submitted_with_the_public_key_cannot_replace_a_connection() {
    let app = spawn_app().await;
    let peer = ProviderApi::start().await;
    app.post_integration(&json!({"provider": "openai", "unique_key": "oa", "custom": {"proxy_base_url": peer.url}}))
        .await;
    let (status, _) = app
        .frontend_post(
            "/api-auth/api-key/oa",
            &format!("connection_id={VICTIM}"),
            &json!({"apiKey": "good-key"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, before) = app.read_connection("oa", VICTIM, "").await;

    // The key is one the provider refuses: the answer is 409, not connection_test_failed, so
    // the refusal came first and the key was never sent to the provider.
    let (status, body) = app
        .frontend_post(
            "/api-auth/api-key/oa",
            &format!("connection_id={VICTIM}"),
            &json!({"apiKey": "attacker-key"}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("connection_exists")),
        "{body}"
    );
    assert!(!body.to_string().contains("attacker-key"));
    let (_, after) = app.read_connection("oa", VICTIM, "").await;
    assert_eq!(after, before, "nothing changed");
    app.failed_activity(Some(VICTIM), "connection_exists").await;

    // With the backend's digest of the id, replacing works as before, recorded as such.
    let digest = wire::connect_digest(&app.hmac_key(), "oa", VICTIM);
    let (status, body) = app
        .frontend_post(
            "/api-auth/api-key/oa",
            &format!("connection_id={VICTIM}&hmac={digest}"),
            &json!({"apiKey": "good-key"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, replaced) = app.read_connection("oa", VICTIM, "").await;
    assert_eq!(
        replaced["id"], before["id"],
        "a replacement keeps the connection's identity"
    );
    let events = events(&app.activity(Some(VICTIM)).await);
    assert_eq!(events.iter().filter(|e| *e == "stored").count(), 1, "{events:?}");
    assert_eq!(events.last().map(String::as_str), Some("replaced"), "{events:?}");
}

#[tokio::test]
async fn of_two_flows_started_for_one_new_id_only_the_first_to_finish_creates_it() {
    let (app, _) = spawn_app_with_oidc("idp").await;
    let url = app.connect_url("idp", "fresh", "");
    // Both start while the id is free, so both pass the check at the start.
    let (first, second) = (Browser::new(&app.callback_url()), Browser::new(&app.callback_url()));
    let first_landing = first.start(&url, &[]).await;
    let second_landing = second.start(&url, &[]).await;
    let first_callback = first.authorize(first_landing, "alice").await;
    let second_callback = second.authorize(second_landing, "mallory").await;

    assert!(first.finish(&first_callback).await.is_success());
    let late = second.finish(&second_callback).await;

    assert_eq!((late.status, late.error_type()), (409, "connection_exists"));
    let (_, stored) = app.read_connection("idp", "fresh", "").await;
    assert_eq!(userinfo_sub(&stored).await, "alice", "the first connection stands");
    app.failed_activity(Some("fresh"), "connection_exists").await;
}

#[tokio::test]
async fn a_reconnect_session_replaces_and_a_plain_session_creates_its_own() {
    let app = stack_with_victim().await;
    let before = victim(&app).await;
    let session = |path: &'static str, body: Value| {
        let app = &app;
        async move {
            let (status, s) = app.backend(Method::POST, path, Some(&body)).await;
            assert_eq!(status, 200, "{s}");
            s["data"]["token"].as_str().unwrap().to_owned()
        }
    };

    let token = session(
        "/connect/sessions/reconnect",
        json!({"connection_id": VICTIM, "integration_id": "idp"}),
    )
    .await;
    let page = Browser::new(&app.callback_url())
        .connect(
            &app.url(&format!("/oauth/connect/idp?connect_session_token={token}")),
            &[],
            "bob",
        )
        .await;
    assert!(page.is_success(), "{:?}", page.message);
    let after = victim(&app).await;
    assert_eq!(after["id"], before["id"]);
    assert_eq!(
        after["metadata"],
        json!({"crm": "42"}),
        "a re-authorization keeps the metadata"
    );
    assert_eq!(userinfo_sub(&after).await, "bob");
    assert_eq!(
        events(&app.activity(Some(VICTIM)).await).last().map(String::as_str),
        Some("replaced")
    );

    let token = session("/connect/sessions", json!({"end_user": {"id": "eu-1"}})).await;
    let page = Browser::new(&app.callback_url())
        .connect(
            &app.url(&format!("/oauth/connect/idp?connect_session_token={token}")),
            &[],
            "carol",
        )
        .await;
    assert!(page.is_success(), "{:?}", page.message);
    let created = page.message["connectionId"].as_str().unwrap().to_owned();
    assert_ne!(created, VICTIM);
    assert_eq!(
        events(&app.activity(Some(&created)).await).last().map(String::as_str),
        Some("stored")
    );
    assert_eq!(
        userinfo_sub(&victim(&app).await).await,
        "bob",
        "the victim is untouched"
    );
}

#[tokio::test]
async fn the_backend_may_replace_a_connection_by_import() {
    let app = stack_with_victim().await;
    let body = json!({
        "connection_id": VICTIM,
        "provider_config_key": "idp",
        "credentials": {"type": "OAUTH2", "access_token": "imported-token"},
    });
    let (status, v) = app.backend(Method::POST, "/connections", Some(&body)).await;
    assert_eq!(status, 200, "{v}");
    let (_, read) = app.read_connection("idp", VICTIM, "").await;
    assert_eq!(read["credentials"]["access_token"], "imported-token");
}
