//! SIGNATURE end to end: `emarsys` connects through `POST /auth/signature/{integration}` with
//! the body Nango's frontend sends (`{type: "SIGNATURE", username, password}`), verified at
//! Emarsys' settings endpoint as the catalog writes it, against the Python peer that recomputes
//! the WSSE digest with hashlib and refuses a stale `Created` or a reused nonce. The secret is
//! sealed and never read back; the WSSE value a backend reads is signed again when it is about
//! to expire (the test clock) or on a forced refresh; a wrong secret stores nothing.

use latchkey_tests::two_step::{body, EMARSYS};
use latchkey_tests::{assert_no_secret, spawn_sessions_app};
use reqwest::StatusCode;
use serde_json::{json, Value};
use time::Duration;

fn nango_body(fields: &[(&str, &str)]) -> Value {
    let mut b = body(fields);
    b["type"] = json!("SIGNATURE");
    b
}

fn nonce_of(token: &Value) -> String {
    let token = token.as_str().unwrap();
    let start = token.find("Nonce=\"").unwrap() + 7;
    token[start..start + 32].to_owned()
}

#[tokio::test]
async fn emarsys_connects_with_a_wsse_value_the_provider_accepts_and_re_signs_it_on_read() {
    let (app, peer) = spawn_sessions_app().await;
    app.post_integration(&json!({"provider": "emarsys", "unique_key": "em"}))
        .await;
    let (status, v) = app
        .frontend_post("/auth/signature/em", "connection_id=shop", &nango_body(&EMARSYS))
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(
        peer.stats().await["emarsys"],
        1,
        "Emarsys accepted the request's own value"
    );

    let (status, conn) = app.read_connection("em", "shop", "").await;
    assert_eq!(status, 200, "{conn}");
    let credentials = &conn["credentials"];
    assert_eq!(credentials["type"], "SIGNATURE");
    assert_eq!(credentials["username"], EMARSYS[0].1);
    assert!(credentials["token"]
        .as_str()
        .unwrap()
        .starts_with("UsernameToken Username=\"acme001\", PasswordDigest=\""));
    assert!(credentials["expires_at"].is_string(), "{credentials}");
    assert!(
        credentials.get("password").is_none(),
        "the secret is never read back: {credentials}"
    );
    assert_no_secret(&conn.to_string(), &[EMARSYS[1].1]);
    assert_no_secret(&json!(app.activity(Some("shop")).await).to_string(), &[EMARSYS[1].1]);

    let (_, again) = app.read_connection("em", "shop", "").await;
    assert_eq!(
        again["credentials"]["token"], credentials["token"],
        "a fresh value is reused"
    );

    // Five minutes' value, past its read margin: the read signs a new one, asking nobody.
    app.clock.advance(Duration::minutes(4));
    let (_, later) = app.read_connection("em", "shop", "").await;
    assert_ne!(
        nonce_of(&later["credentials"]["token"]),
        nonce_of(&credentials["token"]),
        "{later}"
    );
    let (_, forced) = app.read_connection("em", "shop", "&force_refresh=true").await;
    assert_ne!(forced["credentials"]["token"], later["credentials"]["token"]);
    assert_eq!(peer.stats().await["emarsys"], 1);
    assert_eq!(peer.stats().await["refused"], 0);
}

#[tokio::test]
async fn a_wrong_secret_or_a_malformed_body_stores_nothing_and_answers_json() {
    let (app, peer) = spawn_sessions_app().await;
    app.post_integration(&json!({"provider": "emarsys", "unique_key": "em"}))
        .await;
    let wrong = nango_body(&[EMARSYS[0], ("password", "emarsys-secret-wrong")]);
    let (status, v) = app.frontend_post("/auth/signature/em", "connection_id=a", &wrong).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("connection_test_failed")),
        "{v}"
    );
    assert_no_secret(&v.to_string(), &["emarsys-secret-wrong"]);
    app.assert_not_stored("em", "a").await;
    let failed = app.failed_activity(Some("a"), "connection_test_failed").await;
    assert_no_secret(&failed.to_string(), &["emarsys-secret-wrong"]);
    assert_eq!(peer.stats().await["refused"], 1);

    for (case, code) in [
        (
            nango_body(&[("username", "ann smith"), EMARSYS[1]]),
            "invalid_credentials",
        ),
        (nango_body(&EMARSYS[..1]), "invalid_credentials"),
        (
            json!({"type": "BASIC", "username": "acme001", "password": "x"}),
            "invalid_body",
        ),
        (
            json!({"type": "SIGNATURE", "username": "acme001", "password": 7}),
            "invalid_body",
        ),
    ] {
        let (status, v) = app.frontend_post("/auth/signature/em", "connection_id=b", &case).await;
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some(code)),
            "{case}: {v}"
        );
    }
    app.assert_not_stored("em", "b").await;
    assert_eq!(peer.stats().await["refused"], 1, "none of those reached the provider");
}
