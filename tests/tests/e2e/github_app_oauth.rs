//! The `github-app-oauth` catalog entry (CUSTOM: a GitHub App that authorizes the user who
//! installs it) end to end against `tests/peers/github_app/server.py`, the TLS stand-in for
//! github.com and api.github.com that `github_app.rs` uses too. The stand-in verifies the app JWT
//! with npm `jose`, and checks the user authorization as GitHub does: the app's OAuth client id
//! and secret, one-time codes that expire, the redirect URI, rotating refresh tokens.
//!
//! Covered: the popup (installation page → Setup URL callback with `installation_id` and the
//! user's `code`) storing both tokens in Nango's shape; the user's refresh token shown only when
//! asked; the installation token minted again after an hour while the user's eight-hour token
//! is kept; both renewed after eight hours (the refresh token rotated); an installation update
//! without a code; a forged code, a callback without a code, and a wrong client secret refused
//! with nothing stored; import; the app key and client secret never in any answer or activity.

use latchkey_tests::github::{
    assert_none_of, install, openssl_rsa, secrets_of, setup, GitHubPeer, APP_ID, APP_LINK, INSTALLATION,
};
use latchkey_tests::{ResultPage, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use time::Duration;

const CLIENT_ID: &str = "Iv1.latchkeytest";
const CLIENT_SECRET: &str = "gh-client-secret-SECRET";

/// The stand-in's app, which requests user authorization during installation.
async fn setup_oauth(public: &str) -> (TestApp, GitHubPeer) {
    let (app, peer) = setup(public).await;
    peer.post(
        "/_config",
        json!({"oauth": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}}),
    )
    .await;
    (app, peer)
}

async fn create_integration(app: &TestApp, private_key: &str, client_secret: &str) -> Value {
    app.post_integration(&json!({"provider": "github-app-oauth", "unique_key": "gh",
        "credentials": {"type": "CUSTOM", "client_id": CLIENT_ID, "client_secret": client_secret,
            "app_id": APP_ID, "app_link": APP_LINK, "private_key": private_key}}))
        .await
}

fn counts(stats: &Value) -> (u64, u64, u64, u64) {
    let n = |k: &str| stats[k].as_u64().unwrap_or(u64::MAX);
    (n("issued"), n("refused"), n("user_issued"), n("user_refused"))
}

#[tokio::test]
async fn an_installation_with_user_authorization_keeps_both_tokens_and_renews_each_on_its_schedule() {
    let (key, public) = openssl_rsa();
    let (app, peer) = setup_oauth(&public).await;
    let created = create_integration(&app, &key, CLIENT_SECRET).await;
    assert_eq!(created["credentials"]["type"], "CUSTOM", "{created}");
    assert_eq!(created["credentials"]["private_key"], "********");

    let page = install(&app, &peer, "gh", "acme-org").await;
    assert!(page.is_success(), "{:?} {}", page.message, page.html);
    let (status, conn) = app.read_connection("gh", "acme-org", "").await;
    assert_eq!(status, 200, "{conn}");
    let credentials = &conn["credentials"];
    assert_eq!(credentials["type"], "CUSTOM", "{credentials}");
    assert_eq!(credentials["app"]["type"], "APP");
    assert_eq!(credentials["app"]["access_token"], "ghs_peer1");
    assert_eq!(credentials["raw"]["repository_selection"], "all");
    assert_eq!(credentials["user"]["type"], "OAUTH2");
    assert_eq!(credentials["user"]["access_token"], "ghu_peer1");
    assert!(
        credentials["user"].get("refresh_token").is_none() && !conn.to_string().contains("ghr_peer"),
        "the user's refresh token only when asked: {conn}"
    );
    assert_eq!(conn["connection_config"]["installation_id"], INSTALLATION);
    assert_eq!(conn["connection_config"]["appPublicLink"], APP_LINK);
    let (_, asked) = app.read_connection("gh", "acme-org", "&refresh_token=true").await;
    assert_eq!(asked["credentials"]["user"]["refresh_token"], "ghr_peer1", "{asked}");
    assert_eq!(counts(&peer.stats().await), (1, 0, 1, 0));

    // An hour later the installation token has expired: minted again; the user's is kept.
    app.clock.advance(Duration::minutes(61));
    peer.set_now(&app).await;
    let (status, later) = app.read_connection("gh", "acme-org", "").await;
    assert_eq!(status, 200, "{later}");
    assert_eq!(later["credentials"]["app"]["access_token"], "ghs_peer2");
    assert_eq!(later["credentials"]["user"]["access_token"], "ghu_peer1");
    assert_eq!(counts(&peer.stats().await), (2, 0, 1, 0));

    // Near the user token's eight hours, the read renews both; GitHub rotates the refresh token.
    app.clock.advance(Duration::hours(7));
    peer.set_now(&app).await;
    let (status, renewed) = app.read_connection("gh", "acme-org", "&refresh_token=true").await;
    assert_eq!(status, 200, "{renewed}");
    assert_eq!(renewed["credentials"]["app"]["access_token"], "ghs_peer3");
    assert_eq!(renewed["credentials"]["user"]["access_token"], "ghu_peer2");
    assert_eq!(renewed["credentials"]["user"]["refresh_token"], "ghr_peer2");
    assert_eq!(counts(&peer.stats().await), (3, 0, 2, 0));

    let mut secrets = secrets_of(&key);
    secrets.push(CLIENT_SECRET.to_owned());
    let (_, integration) = app.backend(Method::GET, "/integrations/gh", None).await;
    for text in [
        conn.to_string(),
        later.to_string(),
        renewed.to_string(),
        created.to_string(),
        integration.to_string(),
        json!(app.activity(None).await).to_string(),
        page.html,
    ] {
        assert_none_of(&text, &secrets);
    }
}

#[tokio::test]
async fn forged_or_missing_codes_and_a_wrong_client_secret_store_nothing() {
    let (key, public) = openssl_rsa();
    let (app, peer) = setup_oauth(&public).await;
    create_integration(&app, &key, CLIENT_SECRET).await;
    let installed = format!("installation_id={INSTALLATION}");

    // A code GitHub never issued.
    let flow = app.start_flow("gh", "forged", "").await;
    let r = app
        .callback(&flow, &format!("{installed}&setup_action=install&code=forged"))
        .await;
    let page = ResultPage::parse(r.status().as_u16(), r.text().await.unwrap());
    assert!(!page.is_success());
    assert_eq!(page.error_type(), "token_err", "{:?}", page.message);
    app.assert_not_stored("gh", "forged").await;

    // A new installation without a code: the app does not request user authorization.
    let flow = app.start_flow("gh", "no-code", "").await;
    let r = app.callback(&flow, &format!("{installed}&setup_action=install")).await;
    let page = ResultPage::parse(r.status().as_u16(), r.text().await.unwrap());
    assert!(!page.is_success());
    assert!(page.html.contains("Request user authorization"), "{}", page.html);
    app.assert_not_stored("gh", "no-code").await;
    let stats = peer.stats().await;
    assert_eq!(
        counts(&stats),
        (0, 0, 0, 1),
        "no installation token for a refused callback: {stats}"
    );
    assert_eq!(stats["user_reasons"], json!(["bad_verification_code"]));

    // An installation whose permissions changed comes back without a code: the app's token only.
    let flow = app.start_flow("gh", "updated", "").await;
    let r = app.callback(&flow, &format!("{installed}&setup_action=update")).await;
    let page = ResultPage::parse(r.status().as_u16(), r.text().await.unwrap());
    assert!(page.is_success(), "{:?}", page.message);
    let (_, conn) = app.read_connection("gh", "updated", "").await;
    assert_eq!(conn["credentials"]["app"]["access_token"], "ghs_peer1", "{conn}");
    assert_eq!(conn["credentials"]["user"], Value::Null);

    // An integration holding the wrong client secret: GitHub refuses the exchange.
    let (status, v) = app
        .backend(
            Method::PATCH,
            "/integrations/gh",
            Some(&json!({"credentials": {"type": "CUSTOM", "client_secret": "not-the-secret"}})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let page = install(&app, &peer, "gh", "wrong-secret").await;
    assert!(!page.is_success());
    assert_eq!(page.error_type(), "token_err", "{:?}", page.message);
    app.assert_not_stored("gh", "wrong-secret").await;
    let stats = peer.stats().await;
    assert_eq!(stats["user_refused"], 2, "{stats}");
    assert_eq!(stats["user_reasons"][1], "incorrect_client_credentials", "{stats}");
    assert_none_of(&json!(app.activity(None).await).to_string(), &secrets_of(&key));
}

#[tokio::test]
async fn an_import_mints_the_installation_token_and_keeps_the_users() {
    let (key, public) = openssl_rsa();
    let (app, peer) = setup_oauth(&public).await;
    create_integration(&app, &key, CLIENT_SECRET).await;
    let user = json!({"type": "OAUTH2", "access_token": "ghu_imported", "refresh_token": "ghr_imported",
        "expires_at": "2099-01-01T00:00:00Z"});
    let (status, v) = app
        .backend(
            Method::POST,
            "/connections",
            Some(&json!({"provider_config_key": "gh", "connection_id": "imported",
                "credentials": {"type": "CUSTOM", "user": user},
                "connection_config": {"installation_id": INSTALLATION}})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let (_, conn) = app.read_connection("gh", "imported", "").await;
    assert_eq!(conn["credentials"]["app"]["access_token"], "ghs_peer1", "{conn}");
    assert_eq!(conn["credentials"]["user"]["access_token"], "ghu_imported");
    assert_eq!(counts(&peer.stats().await), (1, 0, 0, 0));

    let (status, v) = app
        .backend(
            Method::POST,
            "/connections",
            Some(&json!({"provider_config_key": "gh", "connection_id": "bad-user",
                "credentials": {"type": "CUSTOM", "user": {"type": "API_KEY", "apiKey": "k"}},
                "connection_config": {"installation_id": INSTALLATION}})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["error"]["code"].is_string(), "{v}");
    app.assert_not_stored("gh", "bad-user").await;

    // A CUSTOM integration needs its GitHub App as well as its OAuth client.
    let (status, v) = app
        .backend(
            Method::POST,
            "/integrations",
            Some(&json!({"provider": "github-app-oauth", "unique_key": "half",
                "credentials": {"type": "CUSTOM", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}})),
        )
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_body")),
        "{v}"
    );
}
