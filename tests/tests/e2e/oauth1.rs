//! `OAUTH1` (`trello`, HMAC-SHA1; `garmin` with an RSA-SHA1 consumer key) and `TBA`
//! (`netsuite-tba`, HMAC-SHA256) end to end against `tests/peers/oauth1/server.py`, the provider
//! side built on PyPI `oauthlib`'s server endpoints, which verify every signature (and the
//! timestamp, and that no nonce repeats). The peer is served over TLS for the providers' own
//! names (the stack trusts its test CA and leads the names to it), so the catalog's URLs are used
//! as written. oauthlib comes from the venv `tests/lib/oauth1.bash` makes; the step scripts
//! export its interpreter as `LATCHKEY_OAUTH1_PYTHON`.
//!
//! Covered: the popup flow (connect → request token → the user approves → callback → access
//! token stored), the catalog's authorization parameters, a replayed callback and a tampered
//! `oauth_token` refused with nothing stored, the token secret only in the credentials read
//! (not in the page, the list, activity or logs), an import, RSA-SHA1, and TBA's signed
//! verification (accepted; a wrong token secret refused with nothing stored).

use std::process::Command;

use latchkey_tests::python_peer::PythonPeer;
use latchkey_tests::{assert_no_secret, spawn_app_with, ResultPage, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const HOSTS: [&str; 5] = [
    "trello.com",
    "api.trello.com",
    "connectapi.garmin.com",
    "connect.garmin.com",
    "1234567-sb1.suitetalk.api.netsuite.com",
];
const TRELLO_KEY: &str = "trelloConsumerKey000001";
const TRELLO_SECRET: &str = "trello-consumer-SECRET";
const GARMIN_KEY: &str = "garminConsumerKey000001";
const NETSUITE_KEY: &str = "a3f1c0ffee5e4d2b9b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f";
const NETSUITE_SECRET: &str = "netsuite-consumer-SECRET";
const TOKEN_ID: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
const TOKEN_SECRET: &str = "netsuite-token-SECRET";

/// The oauthlib peer (`tests/peers/oauth1/server.py`), under the venv's Python.
struct OAuth1Peer(PythonPeer);

impl std::ops::Deref for OAuth1Peer {
    type Target = PythonPeer;
    fn deref(&self) -> &PythonPeer {
        &self.0
    }
}

impl OAuth1Peer {
    fn start() -> OAuth1Peer {
        let python = std::env::var("LATCHKEY_OAUTH1_PYTHON").unwrap_or_else(|_| {
            panic!(
                "LATCHKEY_OAUTH1_PYTHON is not set: the OAuth 1.0a peer needs Python with oauthlib. Run \
                 `source tests/lib/oauth1.bash && oauth1_venv_setup` (tests/steps/20-e2e.sh does) first."
            )
        });
        OAuth1Peer(PythonPeer::start(
            &python,
            "oauth1",
            "server.py",
            "is oauthlib installed?",
        ))
    }

    async fn configure(&self, body: Value) {
        self.post("/_config", body).await;
    }

    /// The browser of an end user: reaches the providers at the peer, keeps cookies, follows
    /// no redirect by itself.
    fn browser(&self) -> reqwest::Client {
        let mut builder = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .add_root_certificate(reqwest::Certificate::from_pem(self.ca.as_bytes()).unwrap());
        for host in HOSTS {
            builder = builder.resolve(host, self.addr);
        }
        builder.build().unwrap()
    }
}

/// An RSA key made by openssl (PKCS#1 PEM), and its public half.
fn openssl_rsa() -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("consumer.pem");
    let run = |args: &[&str]| {
        let out = Command::new("openssl").args(args).output().expect("openssl runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let key = run(&["genrsa", "-traditional", "2048"]);
    std::fs::write(&path, &key).unwrap();
    let public = run(&["rsa", "-in", path.to_str().unwrap(), "-pubout"]);
    (key, public)
}

/// A stack that trusts the peer and reaches the providers' names at it; the peer knows the
/// consumers (the garmin one by `garmin_public_key`) and our callback.
async fn setup(garmin_public_key: &str) -> (TestApp, OAuth1Peer) {
    let peer = OAuth1Peer::start();
    let ca = peer.ca.clone();
    let app = spawn_app_with(|config| config.extra_root_certificates = Some(ca)).await;
    for host in HOSTS {
        app.names.insert(host, peer.addr);
    }
    peer.configure(json!({
        "callback": app.callback_url(),
        "consumers": {
            TRELLO_KEY: {"secret": TRELLO_SECRET, "method": "HMAC-SHA1"},
            GARMIN_KEY: {"rsa_public_key": garmin_public_key, "method": "RSA-SHA1"},
            NETSUITE_KEY: {"secret": NETSUITE_SECRET, "method": "HMAC-SHA256", "realm": "1234567_SB1"},
        },
        "tba_tokens": {TOKEN_ID: TOKEN_SECRET},
    }))
    .await;
    (app, peer)
}

async fn create_trello(app: &TestApp) {
    app.post_integration(&json!({"provider": "trello", "unique_key": "trello",
        "credentials": {"type": "OAUTH1", "client_id": TRELLO_KEY, "client_secret": TRELLO_SECRET,
            "scopes": "read,write"}}))
        .await;
}

fn location(r: &reqwest::Response) -> String {
    assert_eq!(r.status(), 302, "{r:?}");
    r.headers()["location"].to_str().unwrap().to_owned()
}

/// The popup up to the provider's callback: connect (Latchkey fetches a request token), the
/// authorization page (the user approves). Answers the callback URL the provider sent back.
async fn authorize(app: &TestApp, browser: &reqwest::Client, integration: &str, connection_id: &str) -> String {
    let connect = browser
        .get(app.connect_url(integration, connection_id, ""))
        .send()
        .await
        .unwrap();
    let authorization_page = location(&connect);
    let approved = browser.get(&authorization_page).send().await.unwrap();
    let callback = location(&approved);
    assert!(
        callback.starts_with(&format!("{}?state=", app.callback_url())),
        "{callback}"
    );
    assert!(callback.contains("oauth_verifier="), "{callback}");
    callback
}

async fn finish(browser: &reqwest::Client, callback: &str) -> ResultPage {
    let page = browser.get(callback).send().await.unwrap();
    let status = page.status().as_u16();
    ResultPage::parse(status, page.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trello_connects_in_a_popup_and_its_token_secret_is_only_in_the_credentials_read() {
    use tracing_subscriber::layer::SubscriberExt;
    let captured = latchkey::logs::Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new("latchkey=trace,info"))
        .with(latchkey::logs::JsonLogs::new(move || sink.clone()));
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber of this binary");

    let (app, peer) = setup("").await;
    create_trello(&app).await;
    let browser = peer.browser();
    let callback = authorize(&app, &browser, "trello", "board").await;
    let stats = peer.stats().await;
    let asked = &stats["authorizations"][0];
    assert_eq!(
        asked["expiration"],
        json!(["never"]),
        "the catalog's authorization_params: {asked}"
    );
    assert_eq!(
        asked["scope"],
        json!(["read,write"]),
        "scopes joined by the catalog's separator"
    );
    let page = finish(&browser, &callback).await;
    assert!(page.is_success(), "{:?} {}", page.message, page.html);

    let (status, conn) = app.read_connection("trello", "board", "").await;
    assert_eq!(status, 200, "{conn}");
    let credentials = &conn["credentials"];
    assert_eq!(credentials["type"], "OAUTH1", "{credentials}");
    let token = credentials["oauth_token"].as_str().unwrap().to_owned();
    let secret = credentials["oauth_token_secret"].as_str().unwrap().to_owned();
    assert!(token.len() >= 20 && secret.len() >= 20, "{credentials}");
    assert_eq!(credentials["raw"]["oauth_token"], token.as_str());
    let stats = peer.stats().await;
    assert_eq!(
        (&stats["request_tokens"], &stats["access_tokens"], &stats["refused"]),
        (&json!(1), &json!(1), &json!([])),
        "oauthlib verified both signed token requests: {stats}"
    );

    // The provider's callback again (a replay from the browser's history): the flow is spent.
    let replayed = finish(&browser, &callback).await;
    assert!(!replayed.is_success());
    assert_eq!(replayed.error_type(), "state_err", "{:?}", replayed.message);
    assert_eq!(peer.stats().await["access_tokens"], 1, "no second exchange");

    let (_, list) = app.backend(Method::GET, "/connections", None).await;
    let (_, integration) = app.backend(Method::GET, "/integrations/trello", None).await;
    let secrets = [secret.as_str(), TRELLO_SECRET];
    for text in [
        list.to_string(),
        integration.to_string(),
        json!(app.activity(None).await).to_string(),
        page.html,
        replayed.html,
        captured.text(),
    ] {
        assert_no_secret(&text, &secrets);
    }
}

#[tokio::test]
async fn a_tampered_oauth_token_at_the_callback_is_refused_and_nothing_is_stored() {
    let (app, peer) = setup("").await;
    create_trello(&app).await;
    let browser = peer.browser();
    let callback = authorize(&app, &browser, "trello", "tampered").await;
    let mut url = url::Url::parse(&callback).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "oauth_token" {
                "anotherRequestToken0000001".to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(&pairs);
    let page = finish(&browser, url.as_str()).await;
    assert!(!page.is_success(), "{}", page.html);
    assert_eq!(page.error_type(), "token_err", "{:?}", page.message);
    app.assert_not_stored("trello", "tampered").await;
    assert_eq!(peer.stats().await["access_tokens"], 0, "no exchange was tried");
}

#[tokio::test]
async fn an_rsa_sha1_consumer_signs_with_the_integrations_private_key() {
    let (key, public) = openssl_rsa();
    let (app, peer) = setup(&public).await;
    let created = app
        .post_integration(&json!({"provider": "garmin", "unique_key": "garmin",
            "credentials": {"type": "OAUTH1", "client_id": GARMIN_KEY, "client_secret": key}}))
        .await;
    let browser = peer.browser();
    let callback = authorize(&app, &browser, "garmin", "runner").await;
    let page = finish(&browser, &callback).await;
    assert!(page.is_success(), "{:?} {}", page.message, page.html);
    let (status, conn) = app.read_connection("garmin", "runner", "").await;
    assert_eq!(status, 200, "{conn}");
    assert_eq!(conn["credentials"]["type"], "OAUTH1");
    let stats = peer.stats().await;
    assert_eq!(
        (&stats["access_tokens"], &stats["refused"]),
        (&json!(1), &json!([])),
        "{stats}"
    );
    let body: String = key.lines().filter(|l| !l.starts_with("-----")).collect();
    assert_no_secret(&created.to_string(), &[&body[..48]]);
}

#[tokio::test]
async fn an_imported_oauth1_token_is_stored_and_read_back() {
    let (app, _peer) = setup("").await;
    create_trello(&app).await;
    let import = |id: &str, secret: &str| {
        json!({"provider_config_key": "trello", "connection_id": id,
            "credentials": {"type": "OAUTH1", "oauth_token": "importedToken", "oauth_token_secret": secret}})
    };
    let (status, v) = app
        .backend(
            Method::POST,
            "/connections",
            Some(&import("imported", "imported-SECRET")),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let (_, conn) = app.read_connection("trello", "imported", "").await;
    assert_eq!(conn["credentials"]["oauth_token"], "importedToken", "{conn}");
    assert_eq!(conn["credentials"]["oauth_token_secret"], "imported-SECRET");
    let (status, v) = app
        .backend(Method::POST, "/connections", Some(&import("empty", "")))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"]["code"], "invalid_credentials");
    app.assert_not_stored("trello", "empty").await;
}

/// A NetSuite account's REST record API, at the peer.
const NETSUITE_API: &str = "https://1234567-sb1.suitetalk.api.netsuite.com/services/rest/record/v1";

#[tokio::test]
async fn netsuite_tba_is_verified_by_a_signed_request_and_a_wrong_token_secret_stores_nothing() {
    let (app, peer) = setup("").await;
    // The end user names the account (`params[accountId]`): a host Latchkey reaches at public
    // addresses only, so the operator points the integration's API at the peer's name.
    app.post_integration(&json!({"provider": "netsuite-tba", "unique_key": "ns",
        "credentials": {"type": "TBA", "client_id": NETSUITE_KEY, "client_secret": NETSUITE_SECRET},
        "custom": {"proxy_base_url": NETSUITE_API}}))
        .await;
    let connect = |id: &str, body: Value| {
        let query = format!("connection_id={id}&params%5BaccountId%5D=1234567-sb1");
        let app = &app;
        async move { app.frontend_post("/auth/tba/ns", &query, &body).await }
    };
    let (status, v) = connect("books", json!({"token_id": TOKEN_ID, "token_secret": TOKEN_SECRET})).await;
    assert_eq!(status, 200, "{v}");
    let stats = peer.stats().await;
    assert_eq!(
        (&stats["resources"], &stats["refused"]),
        (&json!(1), &json!([])),
        "{stats}"
    );
    let (_, conn) = app.read_connection("ns", "books", "").await;
    assert_eq!(
        conn["credentials"],
        json!({"type": "TBA", "token_id": TOKEN_ID, "token_secret": TOKEN_SECRET})
    );
    assert_eq!(conn["connection_config"]["accountId"], "1234567-sb1");

    let (status, v) = connect(
        "wrong",
        json!({"token_id": TOKEN_ID, "token_secret": "not-the-token-SECRET"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"]["code"], "connection_test_failed", "{v}");
    app.assert_not_stored("ns", "wrong").await;
    let refused = peer.stats().await["refused"].clone();
    assert_eq!(
        refused.as_array().unwrap().len(),
        1,
        "the peer refused the signature: {refused}"
    );
    let (status, v) = connect(
        "override",
        json!({"token_id": TOKEN_ID, "token_secret": TOKEN_SECRET, "oauth_client_id_override": "x"}),
    )
    .await;
    assert_eq!(
        (status, &v["error"]["code"]),
        (StatusCode::BAD_REQUEST, &json!("invalid_body")),
        "{v}"
    );
    app.assert_not_stored("ns", "override").await;
    assert_no_secret(
        &json!(app.activity(None).await).to_string(),
        &[TOKEN_SECRET, "not-the-token-SECRET", NETSUITE_SECRET],
    );
}

#[tokio::test]
async fn a_tba_import_is_proven_at_the_accounts_own_host() {
    let (app, peer) = setup("").await;
    app.post_integration(&json!({"provider": "netsuite-tba", "unique_key": "ns",
        "credentials": {"type": "TBA", "client_id": NETSUITE_KEY, "client_secret": NETSUITE_SECRET}}))
        .await;
    // The backend names the account: the catalog's URL for it is used as written.
    let import = |id: &str, secret: &str| {
        json!({"provider_config_key": "ns", "connection_id": id, "connection_config": {"accountId": "1234567-sb1"},
            "credentials": {"type": "TBA", "token_id": TOKEN_ID, "token_secret": secret}})
    };
    let (status, v) = app
        .backend(Method::POST, "/connections", Some(&import("imported", TOKEN_SECRET)))
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(peer.stats().await["resources"], 1);
    let (status, v) = app
        .backend(Method::POST, "/connections", Some(&import("bad", "bad-SECRET")))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"]["code"], "connection_test_failed", "{v}");
    app.assert_not_stored("ns", "bad").await;
}

#[tokio::test]
async fn a_consumer_secret_the_provider_does_not_know_gets_no_request_token() {
    let (app, peer) = setup("").await;
    app.post_integration(&json!({"provider": "trello", "unique_key": "trello",
        "credentials": {"type": "OAUTH1", "client_id": TRELLO_KEY, "client_secret": "another-SECRET"}}))
        .await;
    let r = peer
        .browser()
        .get(app.connect_url("trello", "nope", ""))
        .send()
        .await
        .unwrap();
    assert_ne!(r.status(), 302, "no authorization page without a request token");
    let body = r.text().await.unwrap();
    assert_no_secret(&body, &["another-SECRET"]);
    let stats = peer.stats().await;
    assert_eq!(stats["request_tokens"], 0, "{stats}");
    assert_eq!(
        stats["refused"].as_array().unwrap().len(),
        1,
        "oauthlib refused the signature: {stats}"
    );
}
