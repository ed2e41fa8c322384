//! What someone who captured a backend request, or holds the secret key, still cannot do: replay
//! a signed request that changes something (on any instance), or point an integration's
//! endpoints at a host of theirs to have its never-returned client secret sent there.

use latchkey_tests::spawn_app;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn status_and_code(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_captured_signed_request_that_changes_something_cannot_be_replayed_on_any_instance() {
    let app = spawn_app().await;
    let other = app.another_instance().await;
    let body = serde_json::to_vec(&json!({"provider": "openai", "unique_key": "once"})).unwrap();
    let ts = app.now_unix();

    let (status, created) = status_and_code(
        app.signed_raw(Method::POST, "/integrations", body.clone(), ts)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    // The same bytes again, to another instance and to the first: refused before any handler
    // runs (not `duplicate_integration`), whatever instance receives them.
    for target in [&other, &app] {
        let (status, refused) = status_and_code(
            target
                .signed_raw(Method::POST, "/integrations", body.clone(), ts)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            (status, refused["error"]["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("replayed_signature")),
            "{refused}"
        );
    }
    // Until the timestamp leaves the window; after that the request is stale.
    app.clock.advance(time::Duration::seconds(299));
    let (_, refused) = status_and_code(
        app.signed_raw(Method::POST, "/integrations", body.clone(), ts)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(refused["error"]["code"], "replayed_signature");
    app.clock.advance(time::Duration::seconds(2));
    let (_, stale) = status_and_code(
        app.signed_raw(Method::POST, "/integrations", body.clone(), ts)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(stale["error"]["code"], "expired_signature");

    // A delete is single-use too; a freshly signed request of the same content goes through.
    let path = "/integrations/once";
    let ts = app.now_unix();
    let (status, _) = status_and_code(
        app.signed_raw(Method::DELETE, path, Vec::new(), ts)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, refused) = status_and_code(
        other
            .signed_raw(Method::DELETE, path, Vec::new(), ts)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("replayed_signature"))
    );
    let (status, fresh) = status_and_code(
        app.signed_raw(Method::DELETE, path, Vec::new(), ts + 1)
            .send()
            .await
            .unwrap(),
    )
    .await;
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
