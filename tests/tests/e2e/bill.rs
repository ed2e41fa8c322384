//! BILL end to end: `bill-sandbox` connects through `POST /auth/bill/{integration}` with the
//! body Nango's frontend sends (`{username, password, organization_id, dev_key}`), logging in at
//! the catalog's token URL as written, against the Python peer that checks Bill's login body
//! and opens sessions. The session a backend reads works at Bill's API with the developer key;
//! it is renewed by logging in again when it nears Bill's 35 idle minutes (on read, by the
//! scheduler, or forced); the password is sealed and never read back; a refused login stores
//! nothing; an import opens its own session.

use latchkey_tests::two_step::{body, BILL};
use latchkey_tests::{assert_no_secret, spawn_sessions_app, TestApp, TwoStepPeer};
use reqwest::StatusCode;
use serde_json::{json, Value};
use time::Duration;

async fn connect(app: &TestApp, id: &str, fields: &Value) -> (StatusCode, Value) {
    app.frontend_post("/auth/bill/bill", &format!("connection_id={id}"), fields)
        .await
}

/// Bill's API as a backend calls it with the credentials it read: the status of a vendors list.
async fn vendors(peer: &TwoStepPeer, credentials: &Value) -> u16 {
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(peer.ca.as_bytes()).unwrap())
        .resolve("gateway.stage.bill.com", peer.addr)
        .build()
        .unwrap();
    let url = format!("https://gateway.stage.bill.com:{}/connect/v3/vendors", peer.addr.port());
    let response = client
        .get(url)
        .header("sessionId", credentials["session_id"].as_str().unwrap())
        .header("devKey", credentials["dev_key"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    response.status().as_u16()
}

#[tokio::test]
async fn bill_opens_a_session_a_backend_can_use_and_renews_it_by_logging_in_again() {
    let (app, peer) = spawn_sessions_app().await;
    app.post_integration(&json!({"provider": "bill-sandbox", "unique_key": "bill"}))
        .await;
    let (status, v) = connect(&app, "ap", &body(&BILL)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(
        (v["providerConfigKey"].as_str(), v["connectionId"].as_str()),
        (Some("bill"), Some("ap"))
    );

    let (status, conn) = app.read_connection("bill", "ap", "").await;
    assert_eq!(status, 200, "{conn}");
    let credentials = &conn["credentials"];
    assert_eq!(credentials["type"], "BILL");
    assert_eq!(credentials["session_id"], "bill-1");
    assert_eq!(credentials["user_id"], "006UAAAAAAAAAAA");
    assert_eq!(credentials["organization_id"], BILL[2].1);
    assert_eq!(
        credentials["raw"]["sessionId"], "bill-1",
        "Bill's answer, as Nango keeps it"
    );
    assert!(credentials.get("password").is_none(), "{credentials}");
    assert_no_secret(&conn.to_string(), &[BILL[1].1]);
    assert_no_secret(&json!(app.activity(Some("ap")).await).to_string(), &[BILL[1].1]);
    assert_eq!(
        vendors(&peer, credentials).await,
        200,
        "the session works at Bill's API"
    );

    let (_, again) = app.read_connection("bill", "ap", "").await;
    assert_eq!(again["credentials"]["session_id"], "bill-1", "a live session is reused");
    app.clock.advance(Duration::minutes(25));
    let (_, later) = app.read_connection("bill", "ap", "").await;
    assert_eq!(later["credentials"]["session_id"], "bill-2", "{later}");
    let (_, forced) = app.read_connection("bill", "ap", "&force_refresh=true").await;
    assert_eq!(forced["credentials"]["session_id"], "bill-3");
    assert_eq!(peer.stats().await["bill"], 3);
    assert_eq!(peer.stats().await["refused"], 0, "every login sent what Bill checks");

    // A session in use is renewed by the scheduler before Bill would end it.
    app.clock.advance(Duration::minutes(25));
    let report = app.run_scheduler().await;
    assert_eq!((report.due, report.enqueued), (1, 1), "{report:?}");
    assert_eq!(app.run_jobs().await, 1);
    assert_eq!(peer.stats().await["bill"], 4);
}

#[tokio::test]
async fn a_refused_login_or_a_malformed_body_stores_nothing_and_an_import_logs_in() {
    let (app, peer) = spawn_sessions_app().await;
    app.post_integration(&json!({"provider": "bill-sandbox", "unique_key": "bill"}))
        .await;
    let wrong = body(&[BILL[0], ("password", "wrong bill pw"), BILL[2], BILL[3]]);
    let (status, v) = connect(&app, "a", &wrong).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("connection_test_failed")),
        "{v}"
    );
    assert_no_secret(&v.to_string(), &["wrong bill pw", "BDC_1109"]);
    app.assert_not_stored("bill", "a").await;
    let failed = app.failed_activity(Some("a"), "connection_test_failed").await;
    assert_no_secret(&failed.to_string(), &["wrong bill pw"]);
    assert_eq!(peer.stats().await["refused"], 1);

    for (case, code) in [
        (body(&BILL[..3]), "invalid_credentials"),
        (
            body(&[
                BILL[0],
                BILL[1],
                BILL[2],
                BILL[3],
                ("token_url", "https://evil.example/"),
            ]),
            "invalid_credentials",
        ),
        (json!({"username": "ann", "password": ["x"]}), "invalid_body"),
    ] {
        let (status, v) = connect(&app, "b", &case).await;
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some(code)),
            "{case}: {v}"
        );
    }
    app.assert_not_stored("bill", "b").await;
    assert_eq!(peer.stats().await["refused"], 1, "none of those reached Bill");

    let mut imported = body(&BILL);
    imported["type"] = json!("BILL");
    imported["session_id"] = json!("from-elsewhere");
    let (status, v) = app
        .backend(
            reqwest::Method::POST,
            "/connections",
            Some(&json!({"provider_config_key": "bill", "connection_id": "imp", "credentials": imported})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let (_, conn) = app.read_connection("bill", "imp", "").await;
    assert_eq!(
        conn["credentials"]["session_id"], "bill-1",
        "the import opened its own session"
    );
    assert!(conn["credentials"].get("password").is_none());
}
