//! Secrets Latchkey holds stay sealed at rest and off the wire unless asked for: connection
//! config fields the catalog marks `secret` (a jobvite `secretKey`, an absorb-lms
//! `restApiKey`), refresh tokens nested in a provider's raw response (Slack's
//! `authed_user.refresh_token`), and the local data files, which only their owner can read.

use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::Router;
use latchkey_tests::{assert_no_secret, oidc_peer, spawn_app, spawn_app_with_oidc, Browser, LocalPeer, TestApp};
use reqwest::Method;
use serde_json::json;

/// Asserts that no byte of the store holds `secret`: the record as the store returns it, and
/// on SQLite every data file (deleted rows linger in free pages and the WAL).
async fn assert_sealed_at_rest(app: &TestApp, integration: &str, connection_id: &str, secret: &str) {
    let record = app
        .state
        .store
        .get_connection(
            &latchkey::domain::IntegrationKey::parse(integration).unwrap(),
            &latchkey::domain::ConnectionId::parse(connection_id).unwrap(),
        )
        .await
        .unwrap()
        .expect("stored");
    assert!(
        record.secret_config.is_some(),
        "the secret fields are sealed beside the config"
    );
    assert_no_secret(&serde_json::to_string(&record).unwrap(), &[secret]);
    for file in app.data_files() {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{} holds the secret in plain text",
            file.display()
        );
    }
}

/// jobvite's verification endpoint: accepts the API key `good-key` with the secret key
/// `sc-SECRET` (its `x-jvi-sc` header comes from the connection config's `secretKey`).
async fn jobvite() -> LocalPeer {
    let check = |headers: HeaderMap| async move {
        let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        if header("x-jvi-api") == "good-key" && header("x-jvi-sc") == "sc-SECRET" {
            (StatusCode::OK, "{}")
        } else {
            (StatusCode::UNAUTHORIZED, "{}")
        }
    };
    LocalPeer::start(Router::new().route("/v2/candidate", get(check))).await
}

#[tokio::test]
async fn a_secret_config_field_is_used_in_requests_but_sealed_at_rest_and_masked_on_the_wire() {
    let app = spawn_app().await;
    let peer = jobvite().await;
    app.post_integration(&json!({"provider": "jobvite", "unique_key": "jv", "custom": {"proxy_base_url": peer.url}}))
        .await;
    let (status, v) = app
        .frontend_post(
            "/api-auth/api-key/jv",
            "connection_id=u1&params%5BsecretKey%5D=sc-SECRET",
            &json!({"apiKey": "good-key"}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the verification request carried the secret field: {v}"
    );

    let (_, masked) = app.read_connection("jv", "u1", "").await;
    assert_eq!(masked["connection_config"], json!({"secretKey": "********"}));
    assert_no_secret(&masked.to_string(), &["sc-SECRET"]);
    let (_, shown) = app.read_connection("jv", "u1", "&secret_config=true").await;
    assert_eq!(shown["connection_config"]["secretKey"], "sc-SECRET");
    let (status, bad) = app.read_connection("jv", "u1", "&secret_config=maybe").await;
    assert_eq!(
        (status, bad["error"]["code"].as_str()),
        (400, Some("invalid_query_params"))
    );

    assert_sealed_at_rest(&app, "jv", "u1", "sc-SECRET").await;
    assert_no_secret(
        &serde_json::to_string(&app.activity(None).await).unwrap(),
        &["sc-SECRET"],
    );
}

/// absorb-lms (OAUTH2) takes a secret `restApiKey` in the connect URL: it waits in the flow's
/// session sealed too, and ends on the connection sealed.
#[tokio::test]
async fn a_secret_config_field_of_a_browser_flow_is_sealed_in_its_session_and_on_the_connection() {
    let app = spawn_app().await;
    let client = oidc_peer()
        .register_client(&app.callback_url(), "client_secret_post")
        .await;
    app.post_integration(&json!({"provider": "absorb-lms", "unique_key": "absorb",
        "credentials": {"client_id": client.client_id, "client_secret": client.client_secret, "scopes": client.scopes},
        "custom": {"authorization_url": client.authorization_url, "token_url": client.token_url}}))
        .await;
    let url = app.connect_url(
        "absorb",
        "u1",
        // (consent: oidc-provider issues a refresh token, refreshed below)
        "params%5BportalRoute%5D=acme.myabsorb.com&params%5BrestApiKey%5D=rk-SECRET&authorization_params%5Bprompt%5D=consent",
    );
    let browser = Browser::new(&app.callback_url());
    let landing = browser.start(&url, &[]).await;
    for file in app.data_files() {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !bytes.windows(9).any(|w| w == b"rk-SECRET"),
            "{} mid-flow",
            file.display()
        );
    }
    let page = browser.finish(&browser.authorize(landing, "alice").await).await;
    assert!(page.is_success(), "{:?}", page.message);

    let (_, masked) = app.read_connection("absorb", "u1", "").await;
    assert_eq!(masked["connection_config"]["restApiKey"], "********");
    assert_eq!(masked["connection_config"]["portalRoute"], "acme.myabsorb.com");
    let (_, shown) = app.read_connection("absorb", "u1", "&secret_config=true").await;
    assert_eq!(shown["connection_config"]["restApiKey"], "rk-SECRET");
    assert_sealed_at_rest(&app, "absorb", "u1", "rk-SECRET").await;

    // A refresh writes the connection again: the secret field is sealed again (never written in
    // the clear), kept, and the refreshed answer still masks it or shows it as asked.
    let (status, refreshed) = app
        .read_connection("absorb", "u1", "&force_refresh=true&secret_config=true")
        .await;
    assert_eq!(status, 200, "{refreshed}");
    assert_ne!(
        refreshed["credentials"]["access_token"], shown["credentials"]["access_token"],
        "refreshed"
    );
    assert_eq!(refreshed["connection_config"]["restApiKey"], "rk-SECRET");
    let (status, masked) = app.read_connection("absorb", "u1", "&force_refresh=true").await;
    assert_eq!(status, 200, "{masked}");
    assert_eq!(masked["connection_config"]["restApiKey"], "********");
    assert_no_secret(&masked.to_string(), &["rk-SECRET"]);
    assert_sealed_at_rest(&app, "absorb", "u1", "rk-SECRET").await;
}

/// Slack's user token and its refresh token arrive under `authed_user`: a backend that did not
/// ask for refresh tokens sees neither refresh token, not even inside `raw`.
#[tokio::test]
async fn a_refresh_token_nested_in_the_raw_response_is_hidden_unless_asked_for() {
    let app = spawn_app().await;
    app.post_integration(&json!({"provider": "slack", "unique_key": "slack",
        "credentials": {"client_id": "cid", "client_secret": "cs"}}))
        .await;
    let raw = json!({"ok": true, "access_token": "xoxb-1", "refresh_token": "xoxe-bot-SECRET",
        "authed_user": {"id": "U1", "access_token": "xoxp-1", "refresh_token": "xoxe-user-SECRET"}});
    let import = json!({"connection_id": "team-1", "provider_config_key": "slack",
        "credentials": {"type": "OAUTH2", "access_token": "xoxb-1", "refresh_token": "xoxe-bot-SECRET", "raw": raw}});
    let (status, imported) = app.backend(Method::POST, "/connections", Some(&import)).await;
    assert_eq!(status, StatusCode::OK, "{imported}");
    assert_no_secret(&imported.to_string(), &["xoxe-bot-SECRET", "xoxe-user-SECRET"]);

    let (_, read) = app.read_connection("slack", "team-1", "").await;
    assert_no_secret(&read.to_string(), &["xoxe-bot-SECRET", "xoxe-user-SECRET"]);
    assert_eq!(
        read["credentials"]["raw"]["authed_user"]["access_token"], "xoxp-1",
        "the rest of raw is kept"
    );
    let (_, asked) = app.read_connection("slack", "team-1", "&refresh_token=true").await;
    assert_eq!(
        asked["credentials"]["raw"]["authed_user"]["refresh_token"],
        "xoxe-user-SECRET"
    );
    assert_eq!(asked["credentials"]["refresh_token"], "xoxe-bot-SECRET");
}

/// Everything the local stack writes is readable by its owner only, the SQLite store's `-wal`
/// and `-shm` (created by SQLite as it writes) included.
#[cfg(unix)]
#[tokio::test]
async fn every_local_data_file_is_owner_only_after_a_flow() {
    use std::os::unix::fs::PermissionsExt;
    let (app, _) = spawn_app_with_oidc("idp").await;
    let page = Browser::new(&app.callback_url())
        .connect(&app.connect_url("idp", "u1", ""), &[], "alice")
        .await;
    assert!(page.is_success());
    let files = app.data_files();
    if latchkey_tests::backend::selected_backend() == "sqlite" {
        let names: Vec<String> = files
            .iter()
            .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().any(|n| n.ends_with("-wal")), "{names:?}");
    }
    for file in files {
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", file.display());
    }
}
