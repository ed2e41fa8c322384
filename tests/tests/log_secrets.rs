//! What Latchkey logs, captured over whole flows in the format Lambda writes (`logs::JsonLogs`)
//! at the most verbose level of its own targets: an OAuth2 connect through a real provider
//! (`oidc-provider`) and its callback, backend reads with the refresh token, a forced refresh at
//! the provider, an API key
//! connect verified by a provider API (and one refused), a metadata write and a refused connect.
//! Every line is JSON, names its request, names the connection once a flow knows it — and no
//! secret of any of those flows appears in any line or metric.
//!
//! One test per binary: the subscriber is the process's global one.

use latchkey::logs::{Captured, JsonLogs};
use latchkey::metrics::Sink;
use latchkey_tests::{assert_no_secret, oidc_peer, spawn_app, Browser, ProviderApi};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_of_a_full_flow_is_ever_logged() {
    use tracing_subscriber::layer::SubscriberExt;
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new("latchkey=trace,info"))
        .with(JsonLogs::new(move || sink.clone()));
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber of this binary");
    let metrics = Arc::new(Mutex::new(Vec::new()));
    latchkey::metrics::init(Sink::Capture(metrics.clone()));

    let app = spawn_app().await;
    let client = oidc_peer()
        .register_client(&app.callback_url(), "client_secret_post")
        .await;
    app.create_integration("acme-idp", &client).await;
    let browser = Browser::new(&app.callback_url());
    let url = app.connect_url(
        "acme-idp",
        "user-1",
        "params%5Bsubdomain%5D=acme&authorization_params%5Bprompt%5D=consent",
    );
    let page = browser.connect(&url, &[], "alice").await;
    assert!(page.is_success(), "{:?}", page.message);
    let (status, read) = app.read_connection("acme-idp", "user-1", "&refresh_token=true").await;
    assert_eq!(status, 200);
    let access_token = read["credentials"]["access_token"].as_str().unwrap().to_owned();
    let refresh_token = read["credentials"]["refresh_token"].as_str().unwrap().to_owned();
    let signed = app
        .signed_request(Method::GET, "/connections/user-1?provider_config_key=acme-idp", None)
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 200);
    // A refresh at the provider: fresh tokens, which no line may hold either.
    let (status, fresh) = app
        .read_connection("acme-idp", "user-1", "&force_refresh=true&refresh_token=true")
        .await;
    assert_eq!(status, 200, "{fresh}");
    let fresh_access_token = fresh["credentials"]["access_token"].as_str().unwrap().to_owned();
    let fresh_refresh_token = fresh["credentials"]["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_ne!(fresh_access_token, access_token, "the forced read refreshed");

    // An API key connect the provider accepts, and one it refuses (nothing stored).
    let peer = ProviderApi::start().await;
    let integration = json!({"provider": "openai", "unique_key": "oa", "custom": {"proxy_base_url": peer.url}});
    app.post_integration(&integration).await;
    for (id, key, expected) in [
        ("good", "good-key", StatusCode::OK),
        ("bad", "wrong-key", StatusCode::BAD_REQUEST),
    ] {
        let query = format!("connection_id={id}");
        let (status, v) = app
            .frontend_post("/api-auth/api-key/oa", &query, &json!({"apiKey": key}))
            .await;
        assert_eq!(status, expected, "{id}: {v}");
    }
    // A JWT connect (the key signs the token) and one with a key that cannot sign.
    let ec = std::process::Command::new("openssl")
        .args(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"])
        .output()
        .expect("openssl runs");
    let pem = String::from_utf8(ec.stdout).unwrap();
    let pem_body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    app.post_integration(&json!({"provider": "apple-app-store", "unique_key": "asc"}))
        .await;
    for (id, key, expected) in [
        ("jwt-good", pem.as_str(), StatusCode::OK),
        ("jwt-bad", "not-a-key-JWTSECRET", StatusCode::BAD_REQUEST),
    ] {
        let body = json!({"type": "JWT", "issuerId": "iss-1", "privateKeyId": "kid-1", "privateKey": key});
        let (status, v) = app
            .frontend_post("/auth/jwt/asc", &format!("connection_id={id}"), &body)
            .await;
        assert_eq!(status, expected, "{id}: {v}");
    }
    let (_, jwt_read) = app.read_connection("asc", "jwt-good", "&force_refresh=true").await;
    let jwt_token = jwt_read["credentials"]["token"].as_str().unwrap().to_owned();

    let meta = json!({"connection_id": "good", "provider_config_key": "oa", "metadata": {"plan": "pro"}});
    let r = app
        .signed_request(Method::POST, "/connections/metadata", Some(&meta))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let refused = format!(
        "{}/oauth/connect/acme-idp?public_key=lk_pk_wrong&connection_id=x",
        app.address
    );
    assert_eq!(app.http.get(refused).send().await.unwrap().status(), 401);

    let text = captured.text();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(lines.len() >= 9, "the flows logged: {text}");
    let ours: Vec<&Value> = lines.iter().filter(|l| l.get("method").is_some()).collect();
    assert!(!ours.is_empty(), "lines inside a request carry its span: {text}");
    assert!(
        ours.iter()
            .all(|l| l.get("path").is_some() && l["path"].as_str().is_some_and(|p| !p.contains('?'))),
        "a request's path is logged without its query: {text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["connection_id"] == "user-1" && l["integration"] == "acme-idp"),
        "the OAuth flow's lines name its connection: {text}"
    );
    assert!(
        lines
            .iter()
            .filter(|l| l["path"] == "/connections/user-1")
            .all(|l| l["connection_id"] == "user-1" && l["integration"] == "acme-idp"),
        "a backend read names its connection: {text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["connection_id"] == "good" && l["integration"] == "oa"),
        "the API key connect's lines name its connection: {text}"
    );

    let metrics = metrics.lock().unwrap().join("\n");
    assert!(metrics.contains("\"AuthSucceeded\":1"), "{metrics}");
    assert!(metrics.contains("\"AuthFailed\":1"), "{metrics}");
    assert!(metrics.contains("\"RefreshSucceeded\":1"), "{metrics}");

    let keys = app.keys();
    let secrets = [
        access_token.as_str(),
        refresh_token.as_str(),
        fresh_access_token.as_str(),
        client.client_secret.as_str(),
        keys.secret_key.expose(),
        keys.hmac_key.expose(),
        keys.webhook_signing_key.expose(),
        "good-key",
        "wrong-key",
        &pem_body[..48],
        &pem_body[pem_body.len() - 48..],
        "JWTSECRET",
        jwt_token.as_str(),
    ];
    let secrets: Vec<&str> = secrets
        .into_iter()
        .chain(Some(fresh_refresh_token.as_str()).filter(|t| !t.is_empty()))
        .collect();
    assert_no_secret(&text, &secrets);
    assert_no_secret(&metrics, &secrets);
}
