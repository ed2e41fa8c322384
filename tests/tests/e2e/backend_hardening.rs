//! What someone who captured a backend request, or holds the secret key, still cannot do: replay
//! a signed request that changes something (on any instance), or point an integration's
//! endpoints at a host of theirs to have its never-returned client secret sent there.

use latchkey_tests::{spawn_app, Answer, AttackerHost, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// A request signed at `ts` (the same bytes, so the same signature, each time), sent to
/// `target`: its status and JSON body.
async fn signed_at(target: &TestApp, method: Method, path: &str, body: &[u8], ts: i64) -> (StatusCode, Value) {
    let response = target.signed_raw(method, path, body.to_vec(), ts).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_captured_signed_request_that_changes_something_cannot_be_replayed_on_any_instance() {
    let app = spawn_app().await;
    let other = app.another_instance().await;
    let body = serde_json::to_vec(&json!({"provider": "openai", "unique_key": "once"})).unwrap();
    let ts = app.now_unix();

    let (status, created) = signed_at(&app, Method::POST, "/integrations", &body, ts).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    // The same bytes again, to another instance and to the first: refused before any handler
    // runs (not `duplicate_integration`), whatever instance receives them.
    for target in [&other, &app] {
        let (status, refused) = signed_at(target, Method::POST, "/integrations", &body, ts).await;
        assert_eq!(
            (status, refused["error"]["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("replayed_signature")),
            "{refused}"
        );
    }
    // Until the timestamp leaves the window; after that the request is stale.
    app.clock.advance(time::Duration::seconds(299));
    let (_, refused) = signed_at(&app, Method::POST, "/integrations", &body, ts).await;
    assert_eq!(refused["error"]["code"], "replayed_signature");
    app.clock.advance(time::Duration::seconds(2));
    let (_, stale) = signed_at(&app, Method::POST, "/integrations", &body, ts).await;
    assert_eq!(stale["error"]["code"], "expired_signature");

    // A delete is single-use too; a freshly signed request of the same content goes through.
    let path = "/integrations/once";
    let ts = app.now_unix();
    let (status, _) = signed_at(&app, Method::DELETE, path, &[], ts).await;
    assert_eq!(status, StatusCode::OK);
    let (status, refused) = signed_at(&other, Method::DELETE, path, &[], ts).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("replayed_signature"))
    );
    let (status, fresh) = signed_at(&app, Method::DELETE, path, &[], ts + 1).await;
    assert_eq!(
        (status, fresh["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_provider_config"))
    );
}

#[tokio::test]
async fn a_signed_read_may_be_repeated() {
    let app = spawn_app().await;
    let ts = app.now_unix();
    for _ in 0..3 {
        let response = app
            .signed_raw(Method::GET, "/integrations", Vec::new(), ts)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn the_secret_key_cannot_repoint_an_integration_to_collect_its_client_secret() {
    let app = spawn_app().await;
    let cc = latchkey_tests::ClientCredentialsPeer::start().await;
    let attacker = AttackerHost::start(Answer::Json("{}".into())).await;
    app.post_integration(&json!({"provider": "8x8", "unique_key": "cc",
        "credentials": {"client_id": "cc-id", "client_secret": "cc-secret"},
        "custom": {"token_url": cc.token_url}}))
        .await;
    let (_, before) = app.backend(Method::GET, "/integrations/cc", None).await;

    for custom in [
        json!({"token_url": format!("{}/token", attacker.url())}),
        json!({"token_url": cc.token_url, "proxy_base_url": attacker.url()}),
        json!({"token_url": cc.token_url, "authorization_url": format!("{}/auth", attacker.url())}),
        json!({}),
    ] {
        let (status, refused) = app
            .backend(Method::PATCH, "/integrations/cc", Some(&json!({"custom": custom})))
            .await;
        assert_eq!(
            (status, refused["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("missing_client_secret")),
            "{custom}: {refused}"
        );
        assert!(refused["error"]["message"].as_str().unwrap().contains("client_secret"));
    }
    // Nor can it swap the provider, whose catalog URLs would receive the secret.
    let (status, refused) = app
        .backend(
            Method::PATCH,
            "/integrations/cc",
            Some(&json!({"provider": "acumatica"})),
        )
        .await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_body"))
    );
    let (_, after) = app.backend(Method::GET, "/integrations/cc", None).await;
    assert_eq!(after, before, "nothing changed");

    // The next token request still goes to the configured endpoint; the attacker's host saw
    // no connection at all.
    let (status, v) = app
        .frontend_post("/oauth2/auth/cc", "connection_id=svc", &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(cc.issued(), 1);
    assert_eq!(attacker.connections(), 0);

    // Edits that move no endpoint need no secret; moving one with the secret sent again works.
    let same = json!({"display_name": "CC", "custom": {"token_url": cc.token_url, "token_params": {"audience": "x"}}});
    let (status, v) = app.backend(Method::PATCH, "/integrations/cc", Some(&same)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let moved = json!({"custom": {"token_url": format!("{}/token", attacker.url())},
        "credentials": {"client_secret": "the-operators-own-new-secret"}});
    let (status, v) = app.backend(Method::PATCH, "/integrations/cc", Some(&moved)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["data"]["custom"]["token_url"], format!("{}/token", attacker.url()));
}
