//! Mutual TLS end to end: the catalog's `adp` entry (`require_client_certificate`) connects
//! through `POST /oauth2/auth/{integration}` with the end user's client id and secret and their
//! TLS client certificate and key, at ADP's token URL exactly as the catalog writes it, against
//! `tests/peers/two_step/mtls.py`: Python's `ssl` (OpenSSL) requires a client certificate signed
//! by the CA in the handshake, and the endpoint issues a token only to that client's
//! certificate. The key is sealed and never read back; the token is fetched again on a read
//! after expiry with the same certificate; a missing, malformed or stranger's certificate
//! stores nothing and answers JSON.

use latchkey_tests::two_step::TwoStepPeer;
use latchkey_tests::{assert_no_secret, spawn_app_with, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use time::Duration;

async fn adp() -> (TestApp, TwoStepPeer, Value) {
    let (peer, ready) = TwoStepPeer::start_script("mtls.py");
    let ca = peer.ca.clone();
    let app = spawn_app_with(|config| config.extra_root_certificates = Some(ca)).await;
    app.names.insert("accounts.adp.com", peer.addr);
    app.post_integration(&json!({"provider": "adp", "unique_key": "adp"}))
        .await;
    (app, peer, ready)
}

fn body(certificate: &Value, key: &Value) -> Value {
    json!({
        "client_id": "adp-client",
        "client_secret": "adp secret",
        "client_certificate": certificate,
        "client_private_key": key,
    })
}

#[tokio::test]
async fn adp_connects_with_its_client_certificate_and_refetches_with_it() {
    let (app, peer, ready) = adp().await;
    let key = ready["client_private_key"].as_str().unwrap();
    // As a frontend often sends a pasted PEM: line breaks escaped.
    let escaped = json!(key.replace('\n', "\\n"));
    let (status, v) = app
        .frontend_post(
            "/oauth2/auth/adp",
            "connection_id=payroll",
            &body(&ready["client_certificate"], &escaped),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");

    let (status, conn) = app.read_connection("adp", "payroll", "").await;
    assert_eq!(status, 200, "{conn}");
    let credentials = &conn["credentials"];
    assert_eq!(
        (credentials["type"].as_str(), credentials["token"].as_str()),
        (Some("OAUTH2_CC"), Some("adp-1"))
    );
    assert_eq!(
        credentials["client_certificate"], ready["client_certificate"],
        "the certificate is public"
    );
    assert!(credentials.get("client_private_key").is_none(), "{credentials}");
    let body_of_key = key.lines().nth(1).unwrap();
    assert_no_secret(&conn.to_string(), &[body_of_key, "adp secret"]);
    assert_no_secret(
        &json!(app.activity(Some("payroll")).await).to_string(),
        &[body_of_key, "adp secret", "adp-1"],
    );

    app.clock.advance(Duration::minutes(59));
    let (_, later) = app.read_connection("adp", "payroll", "").await;
    assert_eq!(
        later["credentials"]["token"], "adp-2",
        "fetched again, presenting the sealed certificate"
    );
    let stats = peer.stats().await;
    assert_eq!(
        (stats["issued"].as_u64(), stats["refused"].as_u64()),
        (Some(2), Some(0)),
        "{stats}"
    );
}

#[tokio::test]
async fn without_the_clients_certificate_nothing_is_stored() {
    let (app, peer, ready) = adp().await;
    let refused = |status: StatusCode, v: &Value| {
        assert!(status.is_client_error() || status.is_server_error(), "{status} {v}");
        assert!(
            v["error"]["code"].is_string() && v["error"]["message"].is_string(),
            "{v}"
        );
    };
    // No certificate at all: the provider asks for one.
    let (status, v) = app
        .frontend_post(
            "/oauth2/auth/adp",
            "connection_id=c1",
            &json!({"client_id": "adp-client", "client_secret": "adp secret"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("mutual TLS"), "{v}");
    // Half of the pair.
    let (status, v) = app
        .frontend_post(
            "/oauth2/auth/adp",
            "connection_id=c1",
            &json!({"client_certificate": ready["client_certificate"]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    // Not PEM, and a key that is not the certificate's: refused before any request.
    let (status, v) = app
        .frontend_post(
            "/oauth2/auth/adp",
            "connection_id=c1",
            &body(&json!("MIIB-not-pem"), &ready["client_private_key"]),
        )
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_credentials")),
        "{v}"
    );
    let (status, v) = app
        .frontend_post(
            "/oauth2/auth/adp",
            "connection_id=c1",
            &body(&ready["client_certificate"], &ready["stranger_private_key"]),
        )
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_credentials")),
        "{v}"
    );
    assert_no_secret(
        &v.to_string(),
        &[ready["stranger_private_key"].as_str().unwrap().lines().nth(1).unwrap()],
    );
    assert_eq!(peer.stats().await["issued"], 0);
    // A certificate of another CA: the provider's handshake refuses it.
    let (status, v) = app
        .frontend_post(
            "/oauth2/auth/adp",
            "connection_id=c1",
            &body(&ready["stranger_certificate"], &ready["stranger_private_key"]),
        )
        .await;
    refused(status, &v);
    assert_eq!(
        v["error"]["code"], "connection_test_failed",
        "the pair itself is usable; the provider's handshake refused it: {v}"
    );
    assert_eq!(peer.stats().await["issued"], 0);
    let (status, _) = app.read_connection("adp", "c1", "").await;
    assert_eq!(status, 404, "nothing was stored");
}

#[tokio::test]
async fn an_import_keeps_the_certificate_for_the_refetch_and_never_returns_the_key() {
    let (app, peer, ready) = adp().await;
    let import = |credentials: Value| json!({"provider_config_key": "adp", "connection_id": "imported", "credentials": credentials});
    let mut credentials = json!({
        "type": "OAUTH2_CC", "token": "brought", "expires_at": "2000-01-01T00:00:00Z",
        "client_id": "adp-client", "client_secret": "adp secret",
        "client_certificate": ready["client_certificate"],
    });
    let (status, v) = app
        .backend(
            reqwest::Method::POST,
            "/connections",
            Some(&import(credentials.clone())),
        )
        .await;
    assert_eq!(status, 400, "half of the pair: {v}");
    credentials["client_private_key"] = ready["client_private_key"].clone();
    let (status, v) = app
        .backend(reqwest::Method::POST, "/connections", Some(&import(credentials)))
        .await;
    assert_eq!(status, 200, "{v}");
    assert!(v["credentials"].get("client_private_key").is_none(), "{v}");
    let (_, conn) = app.read_connection("adp", "imported", "").await;
    assert_eq!(
        conn["credentials"]["token"], "adp-1",
        "expired: fetched with the imported certificate"
    );
    assert_eq!(peer.stats().await["issued"], 1);
}
