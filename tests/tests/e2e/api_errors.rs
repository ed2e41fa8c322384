//! Every error is JSON `{"error":{"code","message"}}` with a fitting status — unknown routes,
//! wrong methods, oversize, malformed or untyped bodies — and the Node client's habit of
//! sending `Content-Type: application/json` on a bodiless GET is not an error.

use latchkey_tests::{spawn_app, TestApp};
use reqwest::{Method, Response};
use serde_json::Value;

async fn error_of(response: Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("errors are JSON");
    let error = &body["error"];
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    (
        status,
        error["code"].as_str().unwrap().to_owned(),
        error["message"].as_str().unwrap().to_owned(),
    )
}

fn integration_body(key: &str) -> String {
    format!(
        r#"{{"provider":"custom-oauth2","unique_key":"{key}","credentials":{{"client_id":"cid"}},"custom":{{"authorization_url":"https://idp.example.test/auth","token_url":"https://idp.example.test/token"}}}}"#
    )
}

async fn post_integration(app: &TestApp, content_type: Option<&str>, body: impl Into<reqwest::Body>) -> Response {
    let mut request = app.bearer(Method::POST, "/integrations").body(body);
    if let Some(ct) = content_type {
        request = request.header("Content-Type", ct);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn an_unknown_route_is_a_json_404() {
    let app = spawn_app().await;
    let (status, code, _) = error_of(app.http.get(app.url("/no/such/route")).send().await.unwrap()).await;
    assert_eq!((status, code.as_str()), (404, "not_found"));
}

#[tokio::test]
async fn a_wrong_method_is_a_json_405() {
    let app = spawn_app().await;
    let response = app.bearer(Method::PUT, "/integrations").send().await.unwrap();
    let (status, code, _) = error_of(response).await;
    assert_eq!((status, code.as_str()), (405, "method_not_allowed"));
}

#[tokio::test]
async fn an_oversize_body_is_a_json_413() {
    let app = spawn_app().await;
    let huge = format!(r#"{{"provider":"{}"}}"#, "x".repeat(300 * 1024));
    let (status, code, _) = error_of(post_integration(&app, Some("application/json"), huge.clone()).await).await;
    assert_eq!((status, code.as_str()), (413, "payload_too_large"));

    let signed = app
        .signed_raw(Method::POST, "/integrations", huge.into_bytes(), app.now_unix())
        .send()
        .await
        .unwrap();
    let (status, code, _) = error_of(signed).await;
    assert_eq!(
        (status, code.as_str()),
        (413, "payload_too_large"),
        "signed requests too"
    );
}

#[tokio::test]
async fn malformed_json_is_a_400_that_does_not_echo_the_input() {
    let app = spawn_app().await;
    let (status, code, message) =
        error_of(post_integration(&app, Some("application/json"), r#"{"provider": "#).await).await;
    assert_eq!((status, code.as_str()), (400, "invalid_body"));

    let wrong_type = r#"{"provider":"custom-oauth2","unique_key":"k","credentials":{"client_secret":12345678}}"#;
    let (status, code, shape) = error_of(post_integration(&app, Some("application/json"), wrong_type).await).await;
    assert_eq!((status, code.as_str()), (400, "invalid_body"));
    assert!(!shape.contains("12345678"), "{shape}");
    assert!(!message.contains("provider"), "{message}");
}

#[tokio::test]
async fn a_body_without_a_json_content_type_is_a_415() {
    let app = spawn_app().await;
    let (status, code, _) = error_of(post_integration(&app, None, integration_body("k")).await).await;
    assert_eq!((status, code.as_str()), (415, "invalid_body"));
    let (status, _, _) = error_of(post_integration(&app, Some("text/plain"), integration_body("k")).await).await;
    assert_eq!(status, 415);
    let created = post_integration(&app, Some("application/json"), integration_body("k")).await;
    assert_eq!(created.status(), 200);
}

#[tokio::test]
async fn a_get_with_a_json_content_type_and_no_body_works() {
    let app = spawn_app().await;
    for path in ["/connections", "/integrations", "/environment", "/logs"] {
        let bearer = app
            .bearer(Method::GET, path)
            .header("Content-Type", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(bearer.status(), 200, "{path}");
        let signed = app
            .signed_request(Method::GET, path, None)
            .header("Content-Type", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(signed.status(), 200, "{path} signed");
    }
    let (status, code, _) = error_of(
        app.bearer(Method::GET, "/connections/u1?provider_config_key=k")
            .header("Content-Type", "application/json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, code.as_str()), (404, "not_found"));
}

#[tokio::test]
async fn a_bad_query_is_a_json_400() {
    let app = spawn_app().await;
    for path in [
        "/connections?limit=zero",
        "/connections/u1",
        "/connections/u1?provider_config_key=k&refresh_token=maybe",
    ] {
        let (status, code, _) = error_of(app.bearer(Method::GET, path).send().await.unwrap()).await;
        assert_eq!((status, code.as_str()), (400, "invalid_query_params"), "{path}");
    }
}

/// Found by the contract run's probing (`tests/steps/55-contract.sh`): axum's own rejections of
/// a path segment that is not UTF-8 and of a repeated console query field were plain text.
#[tokio::test]
async fn undecodable_paths_and_repeated_query_fields_are_json_errors() {
    let app = spawn_app().await;
    for path in [
        "/integrations/%FF",
        "/connections/%FF?provider_config_key=k",
        "/providers/%FF%FE",
        "/oauth/result/%FF",
    ] {
        let response = app.bearer(Method::GET, path).send().await.unwrap();
        let (status, code, message) = error_of(response).await;
        assert_eq!((status, code.as_str()), (404, "not_found"), "{path}");
        assert!(!message.contains("%FF"), "{message}");
    }
    let response = app
        .http
        .post(app.url("/api-auth/api-key/%C3%28"))
        .header("Content-Type", "application/json")
        .body(r#"{"apiKey":"k"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(response).await.1, "not_found");
    let response = app
        .http
        .get(app.url("/console/sign-in?next=/console/a&next=/console/b"))
        .send()
        .await
        .unwrap();
    let (status, code, _) = error_of(response).await;
    assert_eq!((status, code.as_str()), (400, "invalid_query_params"));
}
