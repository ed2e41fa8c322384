//! The team's backend authenticates with `Authorization: Bearer <secret key>` or a signed
//! request (docs/api.md). Signatures are computed here from the documented scheme, independently of
//! the server's code; a request that is late, early, or changed after signing is refused.

use latchkey_tests::{assert_no_secret, spawn_app, TestApp};
use reqwest::{Method, Response};
use serde_json::{json, Value};

const PATH: &str = "/connections?limit=5";

async fn error_of(response: Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("errors are JSON");
    (status, body["error"]["code"].as_str().unwrap().to_owned())
}

fn expect(status: u16, code: &str) -> (u16, String) {
    (status, code.to_owned())
}

#[tokio::test]
async fn the_secret_key_as_bearer_token_is_accepted() {
    let app = spawn_app().await;
    let response = app.bearer(Method::GET, PATH).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["connections"], json!([]));
}

#[tokio::test]
async fn a_wrong_bearer_token_is_refused_without_echoing_it() {
    let app = spawn_app().await;
    let response = app
        .http
        .get(app.url(PATH))
        .bearer_auth("lk_sk_guessed")
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(status, 401);
    assert!(text.contains("invalid_secret_key"), "{text}");
    assert_no_secret(&text, &["lk_sk_guessed", &app.secret_key()]);

    let basic = app
        .http
        .get(app.url(PATH))
        .basic_auth("u", Some("p"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(basic).await, expect(401, "malformed_auth_header"));
}

#[tokio::test]
async fn a_request_without_credentials_is_refused() {
    let app = spawn_app().await;
    let response = app.http.get(app.url(PATH)).send().await.unwrap();
    assert_eq!(error_of(response).await, expect(401, "missing_auth_header"));
}

#[tokio::test]
async fn a_signed_request_is_accepted_with_and_without_a_body() {
    let app = spawn_app().await;
    let response = app.signed_request(Method::GET, PATH, None).send().await.unwrap();
    assert_eq!(response.status(), 200);

    let body = json!({"hmac_enabled": false});
    let response = app
        .signed_request(Method::PATCH, "/environment", Some(&body))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

#[tokio::test]
async fn a_signed_request_replayed_after_the_window_is_refused() {
    let app = spawn_app().await;
    let late = app.now_unix() - 301;
    let response = app.signed_raw(Method::GET, PATH, vec![], late).send().await.unwrap();
    assert_eq!(error_of(response).await, expect(401, "expired_signature"));

    // A request captured now stops working once the server's clock has moved on.
    let captured = app.signed_raw(Method::GET, PATH, vec![], app.now_unix());
    app.clock.advance(time::Duration::seconds(301));
    assert_eq!(
        error_of(captured.send().await.unwrap()).await,
        expect(401, "expired_signature")
    );
}

#[tokio::test]
async fn a_signed_request_from_the_future_is_refused() {
    let app = spawn_app().await;
    let early = app.now_unix() + 301;
    let response = app.signed_raw(Method::GET, PATH, vec![], early).send().await.unwrap();
    assert_eq!(error_of(response).await, expect(401, "expired_signature"));
}

/// A request signed for (method, path, body) but sent with one of them changed.
async fn tampered(
    app: &TestApp,
    method: Method,
    path: &str,
    body: &[u8],
    signed_for: (Method, &str, &[u8]),
) -> (u16, String) {
    let ts = app.now_unix();
    let signature = latchkey_tests::wire::request_signature(
        &app.secret_key(),
        ts,
        signed_for.0.as_str(),
        signed_for.1,
        signed_for.2,
    );
    let response = app
        .http
        .request(method, app.url(path))
        .header("Latchkey-Timestamp", ts.to_string())
        .header("Latchkey-Signature", signature)
        .header("Content-Type", "application/json")
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    error_of(response).await
}

#[tokio::test]
async fn a_signed_request_changed_after_signing_is_refused() {
    let app = spawn_app().await;
    let body = br#"{"hmac_enabled":false}"#;
    let refused = expect(401, "invalid_signature");

    let other_path = tampered(&app, Method::GET, "/connections?limit=6", b"", (Method::GET, PATH, b"")).await;
    assert_eq!(other_path, refused, "path or query changed");
    let other_body = tampered(
        &app,
        Method::PATCH,
        "/environment",
        br#"{"hmac_enabled":true}"#,
        (Method::PATCH, "/environment", body),
    )
    .await;
    assert_eq!(other_body, refused, "body changed");
    let other_method = tampered(
        &app,
        Method::DELETE,
        "/connections/u1?provider_config_key=x",
        b"",
        (Method::GET, "/connections/u1?provider_config_key=x", b""),
    )
    .await;
    assert_eq!(other_method, refused, "method changed");

    let environment: Value = app
        .bearer(Method::GET, "/environment")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        environment["data"]["hmac_enabled"], false,
        "the tampered PATCH changed nothing"
    );
}

#[tokio::test]
async fn a_signed_request_without_its_signature_header_is_refused() {
    let app = spawn_app().await;
    let response = app
        .http
        .get(app.url(PATH))
        .header("Latchkey-Timestamp", app.now_unix().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(response).await, expect(401, "malformed_auth_header"));

    let response = app
        .http
        .get(app.url(PATH))
        .header("Latchkey-Timestamp", "yesterday")
        .header("Latchkey-Signature", "v1=00")
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(response).await, expect(401, "malformed_auth_header"));
}

#[tokio::test]
async fn a_signature_made_with_another_key_is_refused() {
    let app = spawn_app().await;
    let ts = app.now_unix();
    let signature = latchkey_tests::wire::request_signature("lk_sk_other", ts, "GET", PATH, b"");
    let response = app
        .http
        .get(app.url(PATH))
        .header("Latchkey-Timestamp", ts.to_string())
        .header("Latchkey-Signature", signature)
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(response).await, expect(401, "invalid_signature"));
}
