//! JWT and NONE end to end. Real catalog entries connect through `POST /auth/jwt/{integration}`
//! (the body `@nangohq/frontend` sends) and `POST /connections`: `apple-app-store` (ES256, no
//! verification request), `ghost-admin` (HS256 with the hex half of `id:secret`, sent as
//! `{id, secret}`) and `snowflake-jwt` (RS256, the key's fingerprint in `iss`) proven at a stand-in
//! for their APIs that accepts only a token npm `jose` verifies (`tests/peers/oidc/verify_jwt.mjs`,
//! with the public half of a key made by `openssl`). The key is sealed and never read back, in
//! reads, activity or errors; the token is signed again on a read after expiry (the test clock,
//! no sleeps); a bad key answers JSON and stores nothing. NONE connects through
//! `POST /auth/unauthenticated/{integration}` with its config only.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode as PeerStatus};
use axum::Router;
use latchkey_tests::{assert_no_secret, spawn_app, LocalPeer, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use time::Duration;

fn peers_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("peers/oidc")
}

/// `jose`'s verdict on `jwt` (see `verify_jwt.mjs` for `check`'s fields).
async fn jose(jwt: &str, check: Value) -> Value {
    let mut input = check;
    input["jwt"] = json!(jwt);
    let mut child = tokio::process::Command::new("node")
        .arg(peers_dir().join("verify_jwt.mjs"))
        .current_dir(peers_dir())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("node runs (tests/peers/oidc installed)");
    use tokio::io::AsyncWriteExt;
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.to_string().as_bytes()).await.unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stdout)))
}

/// A private key made by openssl (`EC` P-256 or `RSA`), as PKCS#8 PEM.
fn openssl_key(kind: &str) -> String {
    let opt = if kind == "EC" {
        "ec_paramgen_curve:P-256"
    } else {
        "rsa_keygen_bits:2048"
    };
    let out = std::process::Command::new("openssl")
        .args(["genpkey", "-algorithm", kind, "-pkeyopt", opt])
        .output()
        .expect("openssl runs");
    String::from_utf8(out.stdout).unwrap()
}

/// What Snowflake names a key: openssl's SHA-256 of the public key info, base64.
fn openssl_fingerprint(key: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.pem");
    std::fs::write(&path, key).unwrap();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "openssl pkey -in {} -pubout -outform DER | openssl dgst -sha256 -binary | base64",
            path.display()
        ))
        .output()
        .unwrap();
    format!("SHA256:{}", String::from_utf8(out.stdout).unwrap().trim())
}

/// A provider's API that answers 200 only to a token `jose` accepts under `check`, after
/// stripping the scheme (`Ghost `, `Bearer `); keeps each verdict.
async fn provider_api(
    check: Value,
    clock_now: Arc<dyn Fn() -> i64 + Send + Sync>,
) -> (LocalPeer, Arc<Mutex<Vec<Value>>>) {
    let verdicts = Arc::new(Mutex::new(Vec::new()));
    let kept = verdicts.clone();
    let app = Router::new().fallback(move |headers: HeaderMap| {
        let (check, kept, now) = (check.clone(), kept.clone(), clock_now.clone());
        async move {
            let auth = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let token = auth.split_once(' ').map(|(_, t)| t).unwrap_or_default();
            let mut check = check;
            check["now"] = json!(now());
            let verdict = jose(token, check).await;
            let ok = verdict.get("error").is_none();
            kept.lock()
                .unwrap()
                .push(json!({"scheme": auth.split(' ').next(), "verdict": verdict}));
            if ok {
                (PeerStatus::OK, axum::Json(json!({"ok": true})))
            } else {
                (
                    PeerStatus::UNAUTHORIZED,
                    axum::Json(json!({"errors": [{"message": "Invalid token"}]})),
                )
            }
        }
    });
    (LocalPeer::start(app).await, verdicts)
}

fn clock_of(app: &TestApp) -> Arc<dyn Fn() -> i64 + Send + Sync> {
    let clock = app.clock.clone();
    Arc::new(move || latchkey::clock::Clock::now(&*clock).unix_timestamp())
}

#[tokio::test]
async fn app_store_connect_tokens_verify_with_jose_and_are_signed_again_on_read_after_expiry() {
    let app = spawn_app().await;
    app.post_integration(&json!({"provider": "apple-app-store", "unique_key": "asc"}))
        .await;
    let key = openssl_key("EC");
    let body = json!({"type": "JWT", "issuerId": "57246542-96fe-1a63-e053-0824d011072a",
        "privateKeyId": "2X9R4HXF34", "privateKey": key});
    let (status, v) = app.frontend_post("/auth/jwt/asc", "connection_id=shop", &body).await;
    assert_eq!(status, StatusCode::OK, "{v}");

    let (status, conn) = app.read_connection("asc", "shop", "").await;
    assert_eq!(status, 200, "{conn}");
    let credentials = &conn["credentials"];
    assert_eq!(credentials["type"], "JWT");
    for field in ["privateKey", "issuerId", "privateKeyId"] {
        assert!(
            credentials.get(field).is_none(),
            "{field} is sealed, never read back: {credentials}"
        );
    }
    let token = credentials["token"].as_str().unwrap().to_owned();
    let check = json!({"alg": "ES256", "key": key, "audience": "appstoreconnect-v1",
        "issuer": "57246542-96fe-1a63-e053-0824d011072a", "now": app.now_unix()});
    let verified = jose(&token, check.clone()).await;
    assert_eq!(
        verified["header"],
        json!({"alg": "ES256", "kid": "2X9R4HXF34", "typ": "JWT"}),
        "{verified}"
    );
    let payload = &verified["payload"];
    assert_eq!(
        payload["exp"].as_i64().unwrap() - payload["iat"].as_i64().unwrap(),
        900,
        "{payload}"
    );
    assert!(
        payload.get("scope").is_none(),
        "the optional scope is left out: {payload}"
    );

    let key_body: String = key.lines().filter(|l| !l.starts_with("-----")).collect();
    let secrets = [key.as_str(), &key_body[..40]];
    assert_no_secret(&conn.to_string(), &secrets);
    assert_no_secret(&json!(app.activity(Some("shop")).await).to_string(), &secrets);

    let (_, again) = app.read_connection("asc", "shop", "").await;
    assert_eq!(again["credentials"]["token"], token, "a fresh token is reused");

    // Fifteen minutes' token, past its end: the read signs a new one.
    app.clock.advance(Duration::minutes(16));
    let before = app.now_unix();
    let (_, later) = app.read_connection("asc", "shop", "").await;
    let renewed = later["credentials"]["token"].as_str().unwrap();
    assert_ne!(renewed, token);
    let mut check = check;
    check["now"] = json!(app.now_unix());
    let verified = jose(renewed, check.clone()).await;
    let iat = verified["payload"]["iat"].as_i64().unwrap();
    assert!(
        (before..=app.now_unix()).contains(&iat),
        "signed at the read's time: {verified}"
    );
    let stale = jose(&token, check).await;
    assert!(
        stale["error"].as_str().unwrap().contains("exp"),
        "the old one has expired: {stale}"
    );
    let refreshes = app
        .activity(Some("shop"))
        .await
        .into_iter()
        .filter(|e| e["operation"] == "refresh")
        .count();
    assert_eq!(refreshes, 1);
}

#[tokio::test]
async fn ghost_admin_keys_are_proven_at_the_admin_api_and_a_bad_key_stores_nothing() {
    let app = spawn_app().await;
    let (id, secret) = (
        "6489a3e1f1c8b2a4d5e6f708",
        "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0",
    );
    let (peer, verdicts) = provider_api(
        json!({"alg": "HS256", "key": secret, "hmac": "hex", "audience": "/admin/"}),
        clock_of(&app),
    )
    .await;
    app.post_integration(&json!({"provider": "ghost-admin", "unique_key": "ghost",
        "custom": {"proxy_base_url": format!("{}/ghost/api/admin", peer.url)}}))
        .await;
    let query = "connection_id=blog&params%5BadminDomain%5D=blog.example.com&params%5Bversion%5D=v5.0";
    // As Nango's frontend passes Ghost's key: {id, secret}.
    let body = json!({"type": "JWT", "privateKey": {"id": id, "secret": secret}});
    let (status, v) = app.frontend_post("/auth/jwt/ghost", query, &body).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let seen = verdicts.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0]["scheme"], "Ghost", "the catalog's Authorization scheme");
    assert_eq!(seen[0]["verdict"]["header"]["kid"], id, "{seen:?}");
    let (_, conn) = app.read_connection("ghost", "blog", "").await;
    assert!(conn["credentials"].get("privateKey").is_none(), "{conn}");
    assert_no_secret(&conn.to_string(), &[secret]);
    assert_no_secret(&json!(app.activity(Some("blog")).await).to_string(), &[secret]);

    // The right shape, the wrong secret: the provider refuses, nothing is stored, the answer is JSON.
    let wrong = "1".repeat(64);
    let body = json!({"type": "JWT", "privateKey": format!("{id}:{wrong}")});
    let (status, v) = app
        .frontend_post("/auth/jwt/ghost", &query.replace("blog", "other"), &body)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"]["code"], "connection_test_failed", "{v}");
    app.assert_not_stored("ghost", "other").await;

    // Not the catalog's id:hexsecret: refused before anything is signed or sent.
    for bad in [json!("not-a-key-SECRET"), json!({"id": id}), json!(7)] {
        let (status, v) = app
            .frontend_post(
                "/auth/jwt/ghost",
                &query.replace("blog", "bad"),
                &json!({"privateKey": bad}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
        assert!(v["error"]["code"].is_string(), "{v}");
        assert_no_secret(&v.to_string(), &["SECRET"]);
    }
    app.assert_not_stored("ghost", "bad").await;
    assert_eq!(
        verdicts.lock().unwrap().len(),
        2,
        "malformed keys never reach the provider"
    );
}

#[tokio::test]
async fn snowflake_imports_sign_rs256_naming_the_keys_fingerprint() {
    let app = spawn_app().await;
    let key = openssl_key("RSA");
    let fingerprint = openssl_fingerprint(&key);
    let issuer = format!("ACME-XY123.ANN.{fingerprint}");
    let (peer, verdicts) = provider_api(json!({"alg": "RS256", "key": key, "issuer": issuer}), clock_of(&app)).await;
    app.post_integration(&json!({"provider": "snowflake-jwt", "unique_key": "sf",
        "custom": {"proxy_base_url": peer.url}}))
        .await;
    let import = |id: &str, credentials: Value| {
        json!({"provider_config_key": "sf", "connection_id": id,
            "connection_config": {"subdomain": "acme-xy123"}, "credentials": credentials})
    };
    let fields = json!({"type": "JWT", "accountIdentifier": "ACME-XY123", "userName": "ANN", "privateKey": key});
    let (status, v) = app
        .backend(reqwest::Method::POST, "/connections", Some(&import("wh", fields)))
        .await;
    assert_eq!(status, 200, "{v}");
    let seen = verdicts.lock().unwrap().clone();
    assert_eq!(seen[0]["verdict"]["payload"]["sub"], "ACME-XY123.ANN", "{seen:?}");
    assert_eq!(seen[0]["scheme"], "Bearer");
    let (_, conn) = app.read_connection("sf", "wh", "").await;
    assert_eq!(conn["credentials"]["type"], "JWT");
    assert!(conn["credentials"].get("privateKey").is_none(), "{conn}");

    // A token without the fields cannot be signed again: refused, nothing stored.
    let (status, v) = app
        .backend(
            reqwest::Method::POST,
            "/connections",
            Some(&import("bare", json!({"type": "JWT", "token": "eyJ.x.y"}))),
        )
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_credentials")),
        "{v}"
    );
    app.assert_not_stored("sf", "bare").await;
}

#[tokio::test]
async fn a_none_connection_holds_its_config_only() {
    let app = spawn_app().await;
    app.post_integration(&json!({"provider": "youcanbook-me-public", "unique_key": "ycb"}))
        .await;
    let url = format!(
        "{}/auth/unauthenticated/ycb?public_key={}&connection_id=pub&params%5Bsubdomain%5D=acme",
        app.address,
        app.public_key()
    );
    // As `create()` of Nango's frontend sends it: JSON content type, no body.
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let (status, conn) = app.read_connection("ycb", "pub", "").await;
    assert_eq!(status, 200, "{conn}");
    assert_eq!(conn["credentials"], json!({"type": "NONE"}));
    assert_eq!(conn["connection_config"]["subdomain"], "acme");
    let (status, v) = app
        .frontend_post("/auth/none/ycb", "connection_id=other", &json!({"apiKey": "k"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a credential NONE does not take: {v}");
    app.assert_not_stored("ycb", "other").await;
}
