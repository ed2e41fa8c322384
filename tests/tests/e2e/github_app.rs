//! The `github-app` catalog entry (APP) end to end against `tests/peers/github_app/server.py`, a
//! stand-in for github.com's installation page and api.github.com's installation token endpoint,
//! served over TLS for those names (the stack trusts its test CA and leads the names to it, so
//! the catalog's URLs are used as written). The stand-in verifies the app JWT with npm `jose`
//! against the PUBLIC half of a key made by `openssl` (RS256, `iss`, `exp` at the test clock's
//! time) and GitHub's own rules on `iat`/`exp`, and only then issues an hour's token.
//!
//! Covered: the popup flow (connect → installation page → Setup URL callback), the read, a read
//! after expiry minting a new token (test clock), import, the private key never in any answer
//! or activity entry, crafted installation ids refused before any request (JSON and result
//! page, nothing stored), an installation awaiting approval, a JWT signed with another key
//! refused by the stand-in, and an end user's `appPublicLink` never choosing the browser's host.

use latchkey_tests::github::{assert_none_of, install, openssl_rsa, secrets_of, setup, APP_ID, APP_LINK, INSTALLATION};
use latchkey_tests::{ResultPage, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use time::Duration;

async fn create_app_integration(app: &TestApp, key: &str, private_key: &str) -> Value {
    app.post_integration(&json!({"provider": "github-app", "unique_key": key,
        "credentials": {"type": "APP", "app_id": APP_ID, "app_link": APP_LINK, "private_key": private_key}}))
        .await
}

#[tokio::test]
async fn an_installation_in_a_popup_connects_and_its_token_is_minted_again_after_an_hour() {
    let (key, public) = openssl_rsa();
    let (app, peer) = setup(&public).await;
    let created = create_app_integration(&app, "gh", &key).await;
    assert_eq!(created["credentials"]["type"], "APP");
    assert_eq!(created["credentials"]["app_id"], APP_ID);
    assert_eq!(created["credentials"]["app_link"], APP_LINK);
    assert_eq!(created["credentials"]["private_key"], "********");

    let page = install(&app, &peer, "gh", "acme-org").await;
    assert!(page.is_success(), "{:?} {}", page.message, page.html);

    let (status, conn) = app.read_connection("gh", "acme-org", "").await;
    assert_eq!(status, 200, "{conn}");
    let credentials = &conn["credentials"];
    assert_eq!(credentials["type"], "APP", "{credentials}");
    assert_eq!(credentials["access_token"], "ghs_peer1");
    assert_eq!(credentials["raw"]["permissions"]["contents"], "read");
    let expires = time::OffsetDateTime::parse(
        credentials["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let lifetime = expires.unix_timestamp() - app.now_unix();
    assert!((3590..=3600).contains(&lifetime), "an hour's token: {lifetime}");
    assert_eq!(conn["connection_config"]["installation_id"], INSTALLATION);
    assert_eq!(conn["connection_config"]["appPublicLink"], APP_LINK);
    let stats = peer.stats().await;
    assert_eq!(
        (stats["issued"].as_u64(), stats["refused"].as_u64()),
        (Some(1), Some(0)),
        "{stats}"
    );

    // A fresh token is answered as is.
    let (_, again) = app.read_connection("gh", "acme-org", "").await;
    assert_eq!(again["credentials"]["access_token"], "ghs_peer1");

    // An hour later it has expired: the read mints another with a new app JWT.
    app.clock.advance(Duration::minutes(61));
    peer.set_now(&app).await;
    let (status, later) = app.read_connection("gh", "acme-org", "").await;
    assert_eq!(status, 200, "{later}");
    assert_eq!(later["credentials"]["access_token"], "ghs_peer2");
    let stats = peer.stats().await;
    assert_eq!(
        (stats["issued"].as_u64(), stats["refused"].as_u64()),
        (Some(2), Some(0)),
        "{stats}"
    );
    let activity = app.activity(Some("acme-org")).await;
    assert_eq!(
        activity.iter().filter(|e| e["operation"] == "refresh").count(),
        1,
        "{activity:?}"
    );

    let secrets = secrets_of(&key);
    let (_, integration) = app.backend(Method::GET, "/integrations/gh", None).await;
    let (_, list) = app.backend(Method::GET, "/integrations", None).await;
    for text in [
        conn.to_string(),
        later.to_string(),
        created.to_string(),
        integration.to_string(),
        list.to_string(),
        json!(app.activity(None).await).to_string(),
        page.html,
    ] {
        assert_none_of(&text, &secrets);
    }
}

#[tokio::test]
async fn an_import_mints_a_token_and_crafted_installation_ids_never_reach_the_token_url() {
    let (key, public) = openssl_rsa();
    let (app, peer) = setup(&public).await;
    create_app_integration(&app, "gh", &key).await;
    let import = |id: &str, installation: Value| {
        json!({"provider_config_key": "gh", "connection_id": id,
            "credentials": {"type": "APP"}, "connection_config": {"installation_id": installation}})
    };
    let (status, v) = app
        .backend(
            Method::POST,
            "/connections",
            Some(&import("imported", json!(INSTALLATION))),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let (_, conn) = app.read_connection("gh", "imported", "").await;
    assert_eq!(conn["credentials"]["access_token"], "ghs_peer1", "{conn}");
    assert_none_of(&conn.to_string(), &secrets_of(&key));

    for (n, crafted) in ["1/../../x", "1?x=1", "1#x", "..", "1%2F..%2Fx"]
        .into_iter()
        .enumerate()
    {
        let id = format!("crafted-{n}");
        let (status, v) = app
            .backend(Method::POST, "/connections", Some(&import(&id, json!(crafted))))
            .await;
        // Refused by the config's path-segment rule or by the mode's digits-only rule.
        assert_eq!(status, StatusCode::BAD_REQUEST, "{crafted}: {v}");
        assert!(
            matches!(
                v["error"]["code"].as_str(),
                Some("invalid_connection_config" | "invalid_credentials")
            ),
            "{crafted}: {v}"
        );
        app.assert_not_stored("gh", &id).await;
    }

    // The same through the callback: GitHub's redirect is forgeable, so its id is checked too.
    for (n, crafted) in ["1%2F..%2F..%2Fx", "1%3Fx%3D1", "abc"].into_iter().enumerate() {
        let id = format!("popup-{n}");
        let flow = app.start_flow("gh", &id, "").await;
        let r = app
            .callback(&flow, &format!("installation_id={crafted}&setup_action=install"))
            .await;
        let page = ResultPage::parse(r.status().as_u16(), r.text().await.unwrap());
        assert!(!page.is_success(), "{crafted}");
        assert_eq!(page.error_type(), "token_err", "{:?}", page.message);
        app.assert_not_stored("gh", &id).await;
    }

    // An installation an organization owner has yet to approve: nothing to connect yet.
    let flow = app.start_flow("gh", "pending", "").await;
    let r = app
        .callback(&flow, &format!("installation_id={INSTALLATION}&setup_action=request"))
        .await;
    let page = ResultPage::parse(r.status().as_u16(), r.text().await.unwrap());
    assert!(!page.is_success());
    assert!(page.html.contains("approval"), "{}", page.html);
    app.assert_not_stored("gh", "pending").await;

    let stats = peer.stats().await;
    assert_eq!(
        (stats["issued"].as_u64(), stats["refused"].as_u64()),
        (Some(1), Some(0)),
        "no crafted id reached the stand-in: {stats}"
    );
}

#[tokio::test]
async fn a_jwt_signed_with_another_key_is_refused_by_github_and_nothing_is_stored() {
    let (_, public) = openssl_rsa();
    let (other_key, _) = openssl_rsa();
    let (app, peer) = setup(&public).await;
    create_app_integration(&app, "gh", &other_key).await;

    let page = install(&app, &peer, "gh", "wrong-key").await;
    assert!(!page.is_success());
    assert_eq!(page.error_type(), "token_err", "{:?}", page.message);
    assert!(
        page.message["error_description"]
            .as_str()
            .unwrap_or_default()
            .contains("app id and private key")
            || page.html.contains("app id and private key"),
        "{}",
        page.html
    );
    app.assert_not_stored("gh", "wrong-key").await;

    let (status, v) = app
        .backend(
            Method::POST,
            "/connections",
            Some(&json!({"provider_config_key": "gh", "connection_id": "imp",
                "credentials": {"type": "APP"}, "connection_config": {"installation_id": INSTALLATION}})),
        )
        .await;
    assert!(status.is_client_error() || status.is_server_error(), "{status} {v}");
    assert_eq!(v["error"]["code"], "token_err", "{v}");
    app.assert_not_stored("gh", "imp").await;

    let stats = peer.stats().await;
    assert_eq!(stats["issued"], 0, "{stats}");
    let reasons = stats["reasons"].as_array().unwrap();
    assert_eq!(reasons.len(), 2, "{stats}");
    assert!(
        reasons.iter().all(|r| r.as_str().unwrap().starts_with("jose:")),
        "jose refused the signature: {stats}"
    );
    let secrets = secrets_of(&other_key);
    assert_none_of(&json!(app.activity(None).await).to_string(), &secrets);
    assert_none_of(&v.to_string(), &secrets);
}

#[tokio::test]
async fn an_end_users_app_link_never_chooses_where_the_browser_goes() {
    let (key, public) = openssl_rsa();
    let (app, peer) = setup(&public).await;
    create_app_integration(&app, "gh", &key).await;
    let r = app
        .http
        .get(app.connect_url(
            "gh",
            "steered",
            "params%5BappPublicLink%5D=https%3A%2F%2Fevil.example%2Fapps%2Fx",
        ))
        .send()
        .await
        .unwrap();
    if r.status() == 302 {
        let to = r.headers()["location"].to_str().unwrap();
        assert!(to.starts_with(&format!("{APP_LINK}/installations/new?")), "{to}");
    } else {
        let status = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        assert!(status.is_client_error(), "{status} {v}");
        assert!(v["error"]["code"].is_string(), "{v}");
    }
    // And a popup that went through anyway records the integration's link.
    let page = install(&app, &peer, "gh", "steered-2").await;
    assert!(page.is_success(), "{:?}", page.message);
    let (_, conn) = app.read_connection("gh", "steered-2", "").await;
    assert_eq!(conn["connection_config"]["appPublicLink"], APP_LINK);
}

#[tokio::test]
async fn an_app_integration_needs_the_whole_app_and_a_real_key() {
    let (key, public) = openssl_rsa();
    let (app, _peer) = setup(&public).await;
    let attempt =
        |credentials: Value| json!({"provider": "github-app", "unique_key": "gh", "credentials": credentials});
    let cases = [
        json!({"type": "APP", "app_id": APP_ID, "app_link": APP_LINK}),
        json!({"type": "APP", "app_id": "12a", "app_link": APP_LINK, "private_key": key}),
        json!({"type": "APP", "app_id": APP_ID, "app_link": "http://github.com/apps/x", "private_key": key}),
        json!({"type": "APP", "app_id": APP_ID, "app_link": APP_LINK, "private_key": "-----BEGIN RSA PRIVATE KEY-----\nnope\n-----END RSA PRIVATE KEY-----"}),
    ];
    for credentials in cases {
        let (status, v) = app
            .backend(Method::POST, "/integrations", Some(&attempt(credentials.clone())))
            .await;
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_body")),
            "{credentials}: {v}"
        );
        assert_none_of(&v.to_string(), &secrets_of(&key));
    }
    let (status, v) = app
        .backend(
            Method::POST,
            "/integrations",
            Some(&json!({"provider": "github-app", "unique_key": "gh"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    let (status, v) = app
        .backend(
            Method::POST,
            "/integrations",
            Some(&json!({"provider": "github", "unique_key": "oauth",
                "credentials": {"client_id": "c", "app_id": APP_ID, "app_link": APP_LINK, "private_key": key}})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "app fields are for APP integrations: {v}"
    );
    let (status, list) = app.backend(Method::GET, "/integrations", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        list["data"].as_array().map(Vec::len),
        Some(0),
        "nothing was created: {list}"
    );
}
