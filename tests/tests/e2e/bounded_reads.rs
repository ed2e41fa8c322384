//! Bounded reads and bounded items, as attacks: a provider (or whoever answers at its URL) that
//! sends 40 MB is read only up to the limit — counted by the host that sends it — and nothing is
//! stored; a backend that sends metadata, tags, an end user or connect-session defaults larger
//! than a stored item can hold is refused with `invalid_body` before anything is asked or
//! written, and the connection stays as it was.

use latchkey_tests::{spawn_app, spawn_app_with, Answer, AttackerHost, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const FORTY_MB: usize = 40 * 1024 * 1024;
/// What may pass between the two ends beyond the limit: the HTTP client's read buffer and the
/// sockets' buffers on loopback. Far below the 40 MB offered.
const SLACK: usize = 1024 * 1024;

async fn huge_token_endpoint(content_length: bool) -> AttackerHost {
    AttackerHost::start(Answer::Huge {
        bytes: FORTY_MB,
        content_length,
    })
    .await
}

/// A client-credentials connect (`svc`) whose token endpoint, set by the operator, is `host`.
async fn client_credentials_from(app: &TestApp, host: &AttackerHost) -> (StatusCode, Value) {
    app.post_integration(&json!({"provider": "8x8", "unique_key": "cc",
        "credentials": {"client_id": "cc-id", "client_secret": "cc-secret"},
        "custom": {"token_url": format!("{}/token", host.url())}}))
        .await;
    app.frontend_post("/oauth2/auth/cc", "connection_id=svc", &json!({}))
        .await
}

#[tokio::test]
async fn a_forty_megabyte_client_credentials_answer_is_cut_at_the_limit_and_nothing_stored() {
    for content_length in [false, true] {
        let app = spawn_app().await;
        let host = huge_token_endpoint(content_length).await;
        let (status, v) = client_credentials_from(&app, &host).await;
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("connection_test_failed")),
            "{v}"
        );
        assert!(v["error"]["message"].as_str().unwrap().contains("too large"), "{v}");
        host.ended(1).await;
        let sent = host.bytes_sent();
        assert!(
            sent <= app.state.config.provider_response_limit + SLACK,
            "{sent} bytes left the host (chunked: {})",
            !content_length
        );
        app.assert_not_stored("cc", "svc").await;
    }
}

#[tokio::test]
async fn a_forty_megabyte_answer_to_the_code_exchange_is_cut_at_the_limit_and_nothing_stored() {
    let app = spawn_app().await;
    let host = huge_token_endpoint(false).await;
    app.post_integration(&json!({"provider": "custom-oauth2", "unique_key": "idp",
        "credentials": {"client_id": "cid", "client_secret": "cs"},
        "custom": {"authorization_url": "https://idp.example.test/auth", "token_url": format!("{}/token", host.url())}}))
        .await;
    let flow = app.start_flow("idp", "u1", "").await;
    let page = app.callback(&flow, "code=c").await;
    let page = page.text().await.unwrap();
    assert!(page.contains("token_err") && page.contains("too large"), "{page}");
    host.ended(1).await;
    assert!(
        host.bytes_sent() <= app.state.config.provider_response_limit + SLACK,
        "{}",
        host.bytes_sent()
    );
    app.assert_not_stored("idp", "u1").await;
}

#[tokio::test]
async fn the_response_limit_is_the_configured_one() {
    let padded = json!({"access_token": "at", "expires_in": 3600, "padding": "p".repeat(10_000)}).to_string();
    for (limit, stored) in [(4096, false), (latchkey::config::DEFAULT_PROVIDER_RESPONSE_LIMIT, true)] {
        let app = spawn_app_with(|c| c.provider_response_limit = limit).await;
        let host = AttackerHost::start(Answer::Json(padded.clone())).await;
        let (status, v) = client_credentials_from(&app, &host).await;
        assert_eq!(status == StatusCode::OK, stored, "limit {limit}: {v}");
    }
}

/// A connection imported by the backend, with `metadata`.
async fn imported(app: &TestApp, id: &str, metadata: Value) {
    app.post_integration(&json!({"provider": "custom-oauth2", "unique_key": "idp",
        "credentials": {"client_id": "cid"},
        "custom": {"authorization_url": "https://idp.example.test/auth", "token_url": "https://idp.example.test/token"}}))
        .await;
    let (status, v) = app
        .backend(
            Method::POST,
            "/connections",
            Some(
                &json!({"provider_config_key": "idp", "connection_id": id, "metadata": metadata,
                "credentials": {"type": "OAUTH2", "access_token": "at"}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
}

/// `POST` (replace) or `PATCH` (merge) `/connections/metadata` of connection `c1`.
async fn write_metadata(app: &TestApp, method: Method, metadata: Value) -> (StatusCode, Value) {
    let body = json!({"connection_id": "c1", "provider_config_key": "idp", "metadata": metadata});
    app.backend(method, "/connections/metadata", Some(&body)).await
}

fn blob(bytes: usize) -> Value {
    json!({"blob": "b".repeat(bytes)})
}

#[track_caller]
fn assert_invalid_body(status: StatusCode, v: &Value) {
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_body")),
        "{v}"
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("larger than Latchkey stores"),
        "{v}"
    );
}

#[tokio::test]
async fn metadata_over_the_limit_is_refused_and_nothing_changes() {
    let app = spawn_app().await;
    imported(&app, "c1", json!({"plan": "pro"})).await;
    let before = app.read_connection("idp", "c1", "").await.1;
    for method in [Method::POST, Method::PATCH] {
        let (status, v) = write_metadata(&app, method, blob(70 * 1024)).await;
        assert_invalid_body(status, &v);
    }
    // Each merge fits; their sum would not.
    let (status, _) = write_metadata(&app, Method::PATCH, json!({"a": "a".repeat(40 * 1024)})).await;
    assert_eq!(status, StatusCode::OK);
    let grown = app.read_connection("idp", "c1", "").await.1;
    let (status, v) = write_metadata(&app, Method::PATCH, json!({"b": "b".repeat(30 * 1024)})).await;
    assert_invalid_body(status, &v);
    assert_eq!(
        app.read_connection("idp", "c1", "").await.1["metadata"],
        grown["metadata"],
        "unchanged"
    );

    for patch in [
        json!({"tags": {"t": "x".repeat(300)}}),
        json!({"end_user": {"id": "u", "notes": "n".repeat(9 * 1024)}}),
    ] {
        let (status, v) = app
            .backend(Method::PATCH, "/connections/c1?provider_config_key=idp", Some(&patch))
            .await;
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_body")),
            "{v}"
        );
    }
    let after = app.read_connection("idp", "c1", "").await.1;
    assert_eq!(
        (&after["tags"], &after["end_user"]),
        (&before["tags"], &before["end_user"])
    );
}

#[tokio::test]
async fn an_import_too_large_to_store_is_refused_before_the_provider_is_asked() {
    let app = spawn_app().await;
    let provider = AttackerHost::start(Answer::Json("{}".into())).await;
    app.post_integration(
        &json!({"provider": "openai", "unique_key": "oa", "custom": {"proxy_base_url": provider.url()}}),
    )
    .await;
    for (part, value) in [
        ("metadata", blob(70 * 1024)),
        ("end_user", json!({"id": "u", "notes": "n".repeat(9 * 1024)})),
        ("tags", json!({"t": "x".repeat(300)})),
    ] {
        let mut body = json!({"provider_config_key": "oa", "connection_id": "big",
            "credentials": {"type": "API_KEY", "apiKey": "k"}});
        body[part] = value;
        let (status, v) = app.backend(Method::POST, "/connections", Some(&body)).await;
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_body")),
            "{part}: {v}"
        );
    }
    provider.assert_untouched();
    app.assert_not_stored("oa", "big").await;

    let (status, v) = app
        .backend(
            Method::POST,
            "/connect/sessions",
            Some(&json!({"end_user": {"id": "u1"},
                "integrations_config_defaults": {"oa": {"connection_config": {"x": "x".repeat(40 * 1024)}}}})),
        )
        .await;
    assert_invalid_body(status, &v);
}
