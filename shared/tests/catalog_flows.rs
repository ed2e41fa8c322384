//! The catalog's routes and the auth modes it enables, over HTTP against the whole local
//! router: `GET /providers`, a Zendesk-style OAuth2 connect with `params[subdomain]`, API key
//! and Basic connects verified by a local provider peer, client credentials re-fetched when
//! expired, and imports read back through `GET /connections/{id}`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use latchkey::clock::ShiftedClock;
use latchkey::config::{Config, EnvironmentKeys};
use latchkey::crypto::local::LocalSealer;
use latchkey::store::sqlite::SqliteStore;
use latchkey::AppState;
use serde_json::{json, Value};

struct Stack {
    base: String,
    keys: EnvironmentKeys,
    clock: Arc<ShiftedClock>,
    http: reqwest::Client,
}

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

async fn stack() -> Stack {
    let keys = EnvironmentKeys::generate();
    let clock = Arc::new(ShiftedClock::default());
    let config = Config::new("test", "http://127.0.0.1:9".parse().unwrap(), None);
    let state = AppState::new(
        Arc::new(SqliteStore::in_memory().unwrap()),
        Arc::new(LocalSealer::from_key([7; 32])),
        keys.clone(),
        config,
    )
    .with_clock(clock.clone());
    let base = serve(latchkey::api::local(state)).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Stack {
        base,
        keys,
        clock,
        http,
    }
}

impl Stack {
    async fn backend(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(self.keys.secret_key.expose());
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = StatusCode::from_u16(r.status().as_u16()).unwrap();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn integration(&self, body: Value) {
        let (status, v) = self.backend(reqwest::Method::POST, "/integrations", Some(body)).await;
        assert_eq!(status, StatusCode::OK, "{v}");
    }

    async fn frontend_post(&self, path: &str, query: &str, body: Value) -> (StatusCode, Value) {
        let r = self
            .http
            .post(format!(
                "{}{path}?public_key={}&{query}",
                self.base, self.keys.public_key
            ))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = StatusCode::from_u16(r.status().as_u16()).unwrap();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn connection(&self, integration: &str, id: &str) -> (StatusCode, Value) {
        self.backend(
            reqwest::Method::GET,
            &format!("/connections/{id}?provider_config_key={integration}"),
            None,
        )
        .await
    }
}

#[tokio::test]
async fn providers_are_listed_and_shown_to_the_backend_only() {
    let s = stack().await;
    let (status, list) = s.backend(reqwest::Method::GET, "/providers", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["data"].as_array().unwrap().len(), 978);
    assert!(list["source"].as_str().unwrap().contains("Nango"));
    let (_, one) = s.backend(reqwest::Method::GET, "/providers/zendesk", None).await;
    assert_eq!(one["data"]["auth_mode"], "OAUTH2");
    assert_eq!(one["data"]["supported"], true);
    let (_, two_step) = s.backend(reqwest::Method::GET, "/providers/3cx", None).await;
    assert_eq!(two_step["data"]["supported"], false);
    let (status, missing) = s.backend(reqwest::Method::GET, "/providers/nope", None).await;
    assert_eq!(
        (status, missing["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let anon = s.http.get(format!("{}/providers", s.base)).send().await.unwrap();
    assert_eq!(anon.status(), 401);
    // A provider whose mode has no flow can't get an integration, so it can't connect.
    let (status, v) = s
        .backend(
            reqwest::Method::POST,
            "/integrations",
            Some(json!({"provider": "3cx", "unique_key": "x"})),
        )
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unsupported_auth_mode"))
    );
}

#[tokio::test]
async fn zendesk_connects_with_its_subdomain_and_refuses_hostile_ones() {
    let s = stack().await;
    s.integration(json!({"provider": "zendesk", "unique_key": "zd",
        "credentials": {"client_id": "cid", "client_secret": "cs", "scopes": "read"}}))
        .await;
    let connect = |q: String| {
        let url = format!(
            "{}/oauth/connect/zd?public_key={}&connection_id=u1&{q}",
            s.base, s.keys.public_key
        );
        let http = s.http.clone();
        async move { http.get(url).send().await.unwrap() }
    };
    let ok = connect("params%5Bsubdomain%5D=acme".into()).await;
    assert_eq!(ok.status(), 302);
    let location = url::Url::parse(ok.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(location.host_str(), Some("acme.zendesk.com"));
    assert_eq!(location.path(), "/oauth/authorizations/new");

    for bad in [
        "evil.com/x?",
        "evil.com%2Fx",
        "a%40evil.com",
        "a%23b",
        "a%252Fb",
        "a%0D%0Ab",
        "%D0%B0cme",
        "acme.evil.com",
    ] {
        let r = connect(format!("params[subdomain]={bad}")).await;
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        let code = body["error"]["code"].as_str().unwrap().to_owned();
        assert_eq!(status, 400, "{bad}");
        assert!(
            code == "invalid_connection_config" || code == "invalid_query_params",
            "{bad}: {code}"
        );
    }
    let missing: Value = connect(String::new()).await.json().await.unwrap();
    assert_eq!(missing["error"]["code"], "missing_connection_config");
    assert!(missing["error"]["message"].as_str().unwrap().contains("subdomain"));
}

/// A provider API that accepts exactly one API key and one Basic login.
async fn provider_peer() -> String {
    let check = |headers: HeaderMap| {
        let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
        // "good-key" as a Bearer token, or Basic "ann@example.com:pw".
        if auth == "Bearer good-key" || auth == "Basic YW5uQGV4YW1wbGUuY29tOnB3" {
            (StatusCode::OK, "{}")
        } else {
            (StatusCode::UNAUTHORIZED, "{\"error\":\"nope\"}")
        }
    };
    let app = Router::new()
        .route("/v1/models", get(move |h: HeaderMap| async move { check(h) }))
        .route("/rest/api/3/myself", get(move |h: HeaderMap| async move { check(h) }));
    serve(app).await
}

#[tokio::test]
async fn api_keys_are_verified_before_they_are_stored() {
    let s = stack().await;
    let peer = provider_peer().await;
    s.integration(json!({"provider": "openai", "unique_key": "oa", "custom": {"proxy_base_url": peer}}))
        .await;
    let (status, v) = s
        .frontend_post(
            "/api-auth/api-key/oa",
            "connection_id=good",
            json!({"apiKey": "good-key"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v, json!({"providerConfigKey": "oa", "connectionId": "good"}));
    let (_, conn) = s.connection("oa", "good").await;
    assert_eq!(conn["credentials"], json!({"type": "API_KEY", "apiKey": "good-key"}));

    let (status, v) = s
        .frontend_post(
            "/api-auth/api-key/oa",
            "connection_id=bad",
            json!({"apiKey": "wrong-key"}),
        )
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("connection_test_failed"))
    );
    assert!(!v.to_string().contains("wrong-key"));
    assert_eq!(
        s.connection("oa", "bad").await.0,
        StatusCode::NOT_FOUND,
        "nothing stored"
    );
}

#[tokio::test]
async fn basic_credentials_are_verified_with_connection_config() {
    let s = stack().await;
    let peer = provider_peer().await;
    s.integration(json!({"provider": "jira-basic", "unique_key": "jira", "custom": {"proxy_base_url": peer}}))
        .await;
    let (status, v) = s
        .frontend_post(
            "/api-auth/basic/jira",
            "connection_id=ann&params[subdomain]=acme",
            json!({"username": "ann@example.com", "password": "pw"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (_, conn) = s.connection("jira", "ann").await;
    assert_eq!(
        conn["credentials"],
        json!({"type": "BASIC", "username": "ann@example.com", "password": "pw"})
    );
    assert_eq!(conn["connection_config"], json!({"subdomain": "acme"}));

    let (status, v) = s
        .frontend_post(
            "/api-auth/basic/jira",
            "connection_id=bob&params[subdomain]=acme",
            json!({"username": "ann@example.com", "password": "wrong"}),
        )
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("connection_test_failed"))
    );
    let (status, v) = s
        .frontend_post(
            "/api-auth/basic/jira",
            "connection_id=bob&params[subdomain]=evil.com%2Fx%3F",
            json!({"username": "ann@example.com", "password": "pw"}),
        )
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_connection_config"))
    );
    let (_, v) = s
        .frontend_post(
            "/api-auth/basic/jira",
            "connection_id=bob&params[subdomain]=acme",
            json!({"username": "not-an-email", "password": "pw"}),
        )
        .await;
    assert_eq!(
        v["error"]["code"], "invalid_credentials",
        "the catalog says username is an email"
    );
}

/// A client-credentials token endpoint that counts its tokens and checks Basic client auth.
async fn cc_peer() -> (String, Arc<AtomicUsize>) {
    let issued = Arc::new(AtomicUsize::new(0));
    let counter = issued.clone();
    let app = Router::new().route(
        "/token",
        post(move |headers: HeaderMap, body: String| {
            let counter = counter.clone();
            async move {
                let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
                // Basic cc-id:cc-secret
                if auth != "Basic Y2MtaWQ6Y2Mtc2VjcmV0" || !body.contains("grant_type=client_credentials") {
                    return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "invalid_client"})));
                }
                let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                (
                    StatusCode::OK,
                    axum::Json(json!({"access_token": format!("cc-{n}"), "expires_in": "120"})),
                )
            }
        }),
    );
    (format!("{}/token", serve(app).await), issued)
}

#[tokio::test]
async fn client_credentials_are_fetched_and_refetched_when_expired() {
    let s = stack().await;
    let (token_url, issued) = cc_peer().await;
    s.integration(json!({"provider": "8x8", "unique_key": "cc",
        "credentials": {"client_id": "cc-id", "client_secret": "cc-secret"},
        "custom": {"token_url": token_url}}))
        .await;
    let (status, v) = s.frontend_post("/oauth2/auth/cc", "connection_id=svc", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (_, conn) = s.connection("cc", "svc").await;
    assert_eq!(conn["credentials"]["type"], "OAUTH2_CC");
    assert_eq!(conn["credentials"]["token"], "cc-1");
    let (_, again) = s.connection("cc", "svc").await;
    assert_eq!(again["credentials"]["token"], "cc-1", "a fresh token is reused");
    s.clock.advance(time::Duration::seconds(90));
    let (_, later) = s.connection("cc", "svc").await;
    assert_eq!(
        later["credentials"]["token"], "cc-2",
        "an expiring token is fetched again on read"
    );
    assert_eq!(issued.load(Ordering::SeqCst), 2);

    let (status, v) = s
        .frontend_post(
            "/oauth2/auth/cc",
            "connection_id=other",
            json!({"client_id": "cc-id", "client_secret": "wrong"}),
        )
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("connection_test_failed"))
    );
    assert_eq!(s.connection("cc", "other").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn imports_of_every_credentials_type_read_back() {
    let s = stack().await;
    let peer = provider_peer().await;
    let (token_url, _) = cc_peer().await;
    s.integration(json!({"provider": "salesforce", "unique_key": "sf"}))
        .await;
    s.integration(json!({"provider": "8x8", "unique_key": "cc", "custom": {"token_url": token_url}}))
        .await;
    s.integration(json!({"provider": "openai", "unique_key": "oa", "custom": {"proxy_base_url": peer}}))
        .await;
    s.integration(json!({"provider": "jira-basic", "unique_key": "jira", "custom": {"proxy_base_url": peer}}))
        .await;
    let cases = [
        (
            json!({"provider_config_key": "sf", "connection_id": "i1",
                "credentials": {"type": "OAUTH2", "access_token": "at", "refresh_token": "rt", "expires_at": "2030-01-01T00:00:00Z"},
                "connection_config": {"instance_url": "https://acme.my.salesforce.com"}, "metadata": {"plan": "pro"}}),
            "sf",
            json!({"type": "OAUTH2", "access_token": "at", "expires_at": "2030-01-01T00:00:00Z", "raw": {}}),
        ),
        (
            json!({"provider_config_key": "cc", "connection_id": "i2",
                "credentials": {"type": "OAUTH2_CC", "token": "tok", "expires_at": "2030-01-01T00:00:00Z", "client_id": "id", "client_secret": "sec"}}),
            "cc",
            json!({"type": "OAUTH2_CC", "token": "tok", "expires_at": "2030-01-01T00:00:00Z", "client_id": "id", "raw": {}}),
        ),
        (
            json!({"provider_config_key": "oa", "connection_id": "i3", "credentials": {"type": "API_KEY", "apiKey": "good-key"}}),
            "oa",
            json!({"type": "API_KEY", "apiKey": "good-key"}),
        ),
        (
            json!({"provider_config_key": "jira", "connection_id": "i4", "connection_config": {"subdomain": "acme"},
                "credentials": {"type": "BASIC", "username": "ann@example.com", "password": "pw"}}),
            "jira",
            json!({"type": "BASIC", "username": "ann@example.com", "password": "pw"}),
        ),
    ];
    for (body, key, expected) in cases {
        let id = body["connection_id"].as_str().unwrap().to_owned();
        let (status, v) = s.backend(reqwest::Method::POST, "/connections", Some(body)).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        let (status, conn) = s.connection(key, &id).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(conn["credentials"], expected, "{key}");
    }
    let (_, sf) = s.connection("sf", "i1").await;
    assert_eq!(
        sf["connection_config"]["instance_url"],
        "https://acme.my.salesforce.com"
    );
    assert_eq!(sf["metadata"]["plan"], "pro");

    // Verification applies to imports too, and a type must match the integration.
    let (status, v) = s
        .backend(
            reqwest::Method::POST,
            "/connections",
            Some(json!({"provider_config_key": "oa", "connection_id": "i5", "credentials": {"type": "API_KEY", "apiKey": "wrong"}})),
        )
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("connection_test_failed"))
    );
    let (status, _) = s
        .backend(
            reqwest::Method::POST,
            "/connections",
            Some(json!({"provider_config_key": "oa", "credentials": {"type": "BASIC", "username": "u", "password": "p"}})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
