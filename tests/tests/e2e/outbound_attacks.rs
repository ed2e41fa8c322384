//! Where secrets may go, tried as an attacker with only the public key would: an end user's
//! `params[...]` value that fills a URL's host is used only when the integration allows that
//! host, never reaches a loopback, private or metadata address, and its failures tell the end
//! user nothing about the network. Each test stands an `AttackerHost` where the attacker wants
//! the request to go (behind a name in the stack's name table) and proves no byte reached it
//! and nothing was stored. A control with the development switch on, or with the operator's
//! approval, shows the same request would have reached it.

use latchkey_tests::{spawn_app, spawn_app_with, Answer, AttackerHost, StartedFlow, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const CANVAS_SECRET: &str = "canvas-client-secret-never-leaves";

async fn canvas(app: &TestApp, allowed: Option<&[&str]>) {
    let mut body = json!({"provider": "canvas-lms", "unique_key": "canvas",
        "credentials": {"client_id": "canvas-cid", "client_secret": CANVAS_SECRET}});
    if let Some(allowed) = allowed {
        body["allowed_hosts"] = json!(allowed);
    }
    app.post_integration(&body).await;
}

/// `PATCH /integrations/{key}` with Bearer: status and JSON body.
async fn patch_integration(app: &TestApp, key: &str, body: Value) -> (StatusCode, Value) {
    app.backend(Method::PATCH, &format!("/integrations/{key}"), Some(&body))
        .await
}

/// `GET /oauth/connect/...` as a browser without a page: status, `Location`, JSON body.
async fn connect(app: &TestApp, integration: &str, id: &str, extra: &str) -> (StatusCode, Option<String>, Value) {
    let r = app
        .http
        .get(app.connect_url(integration, id, extra))
        .send()
        .await
        .unwrap();
    let location = r.headers().get("location").map(|l| l.to_str().unwrap().to_owned());
    (r.status(), location, r.json().await.unwrap_or(Value::Null))
}

#[track_caller]
fn assert_refused(status: StatusCode, body: &Value, host: &str) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "host_not_allowed", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(!message.contains(host), "the end user is not told the host: {message}");
}

#[tokio::test]
async fn the_connect_url_never_sends_the_browser_to_a_host_the_operator_did_not_allow() {
    let app = spawn_app().await;
    let evil = AttackerHost::start(Answer::Json("{}".into())).await;
    app.names.insert("evil.example", evil.addr);
    canvas(&app, None).await;
    // No allowed hosts: Canvas's template hands the end user the whole host, so none is allowed.
    for host in ["evil.example", "acme.instructure.com", "127.0.0.1", "169.254.169.254"] {
        let (status, location, body) = connect(&app, "canvas", "victim", &format!("params[hostname]={host}")).await;
        assert_eq!(location, None, "no redirect to {host}");
        assert_refused(status, &body, host);
    }
    let failed = app.failed_activity(Some("victim"), "host_not_allowed").await;
    assert!(
        failed["message"].as_str().unwrap().contains("169.254.169.254"),
        "the operator sees which host was refused: {failed}"
    );

    // The operator allows its customers' Canvas instances: those connect, no stranger's does.
    let (status, v) = patch_integration(
        &app,
        "canvas",
        json!({"allowed_hosts": ["*.instructure.com"], "credentials": {"client_secret": CANVAS_SECRET}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["data"]["allowed_hosts"], json!(["*.instructure.com"]));
    for host in [
        "evil.example",
        "acme.instructure.com.evil.example",
        "instructure.com",
        "a.b.instructure.com",
        "evilinstructure.com",
    ] {
        let (status, location, body) = connect(&app, "canvas", "victim", &format!("params[hostname]={host}")).await;
        assert_eq!(location, None, "no redirect to {host}");
        assert_refused(status, &body, host);
    }
    let (status, location, _) = connect(&app, "canvas", "victim", "params[hostname]=acme.instructure.com").await;
    assert_eq!(status, StatusCode::FOUND);
    let location = url::Url::parse(&location.unwrap()).unwrap();
    assert_eq!(location.host_str(), Some("acme.instructure.com"));

    evil.assert_untouched();
    app.assert_not_stored("canvas", "victim").await;
}

#[tokio::test]
async fn the_secret_key_alone_cannot_widen_where_the_client_secret_may_go() {
    let app = spawn_app().await;
    canvas(&app, Some(&["*.instructure.com"])).await;
    // Whoever holds only the secret key could allow its own host, then connect there and
    // receive the client secret with the code exchange: a new pattern needs the secret itself.
    let (status, v) = patch_integration(&app, "canvas", json!({"allowed_hosts": ["*"]})).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("missing_client_secret"))
    );
    assert!(v["error"]["message"].as_str().unwrap().contains("allowed_hosts"), "{v}");
    let (_, v) = app.backend(Method::GET, "/integrations/canvas", None).await;
    assert_eq!(v["data"]["allowed_hosts"], json!(["*.instructure.com"]), "unchanged");
    let (status, _) = patch_integration(&app, "canvas", json!({"allowed_hosts": ["canvas.myuni.edu"]})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "another host is a new one too");
    // Narrowing needs no secret.
    let (status, v) = patch_integration(&app, "canvas", json!({"allowed_hosts": ["acme.instructure.com"]})).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    // Back to the catalog's defaults (`[]`) is a widening where the catalog has some (Zendesk:
    // `*.zendesk.com`); Canvas has none (the end user names the whole host), so there `[]`
    // allows nothing and narrows.
    let zendesk = json!({"provider": "zendesk", "unique_key": "zd-acme", "allowed_hosts": ["acme.zendesk.com"],
        "credentials": {"client_id": "zd-cid", "client_secret": "zd-secret"}});
    app.post_integration(&zendesk).await;
    let (status, v) = patch_integration(&app, "zd-acme", json!({"allowed_hosts": []})).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("missing_client_secret")),
        "{v}"
    );
    let (status, v) = patch_integration(&app, "canvas", json!({"allowed_hosts": []})).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (status, v) = app
        .backend(
            Method::POST,
            "/integrations",
            Some(&json!({"provider": "zendesk", "unique_key": "zd", "allowed_hosts": ["*.com"]})),
        )
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_body")),
        "{v}"
    );
    let (_, zd) = app
        .backend(
            Method::POST,
            "/integrations",
            Some(&json!({"provider": "zendesk", "unique_key": "zd", "credentials": {"client_id": "cid"}})),
        )
        .await;
    assert_eq!(zd["data"]["allowed_hosts"], json!([]));
    assert_eq!(zd["data"]["default_allowed_hosts"], json!(["*.zendesk.com"]));
}

/// Starts a Canvas flow for `host`, whose callback the provider would send with `code=the-code`.
async fn started_flow(app: &TestApp, id: &str, host: &str) -> StartedFlow {
    let flow = app.start_flow("canvas", id, &format!("params[hostname]={host}")).await;
    assert_eq!(flow.location.host_str(), Some(host));
    flow
}

#[tokio::test]
async fn the_callback_never_posts_the_code_or_client_secret_to_a_host_that_leads_to_a_local_address() {
    let app = spawn_app().await;
    let evil = AttackerHost::start(Answer::Json(r#"{"access_token":"stolen"}"#.into())).await;
    // A name the operator's pattern admits, which resolves to the attacker's (local) listener.
    app.names.insert("evil.instructure.com", evil.addr);
    canvas(&app, Some(&["*.instructure.com"])).await;
    let flow = started_flow(&app, "victim", "evil.instructure.com").await;
    let page = app.callback(&flow, "code=the-code").await;
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    let page = page.text().await.unwrap();
    assert!(page.contains("token_err"), "{page}");
    assert!(!page.contains("127.0.0.1") && !page.contains("loopback"), "{page}");
    evil.assert_untouched();
    app.assert_not_stored("canvas", "victim").await;
    let failed = app.failed_activity(Some("victim"), "token_err").await;
    assert!(failed["message"].as_str().unwrap().contains("loopback"), "{failed}");
    latchkey_tests::assert_no_secret(&failed.to_string(), &[CANVAS_SECRET, "the-code"]);
}

#[tokio::test]
async fn the_host_is_decided_again_at_every_request_not_only_at_the_start() {
    // With the development switch on, only the allowed-host rule stands between the flow and
    // the listener.
    let app = spawn_app_with(|c| c.allow_private_addresses = true).await;
    let host = AttackerHost::start(Answer::Json(r#"{"access_token":"at"}"#.into())).await;
    app.names.insert("acme.instructure.com", host.addr);
    canvas(&app, Some(&["*.instructure.com"])).await;
    let first = started_flow(&app, "first", "acme.instructure.com").await;
    let second = started_flow(&app, "second", "acme.instructure.com").await;
    // The operator narrows the list while both flows are at the provider.
    let (status, _) = patch_integration(&app, "canvas", json!({"allowed_hosts": ["other.instructure.com"]})).await;
    assert_eq!(status, StatusCode::OK);
    let page = app.callback(&first, "code=the-code").await.text().await.unwrap();
    assert!(page.contains("token_err"), "{page}");
    host.assert_untouched();
    app.assert_not_stored("canvas", "first").await;

    // Control: allowed again, the other flow's code exchange does reach the host (it speaks
    // plain TCP, so the TLS handshake fails there — but the connection was made).
    let (status, _) = patch_integration(
        &app,
        "canvas",
        json!({"allowed_hosts": ["*.instructure.com"], "credentials": {"client_secret": CANVAS_SECRET}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    app.callback(&second, "code=the-code").await;
    assert_eq!(host.connections(), 1);
}

#[tokio::test]
async fn client_credentials_with_an_empty_body_send_nothing_toward_the_end_users_host() {
    let app = spawn_app().await;
    let evil = AttackerHost::start(Answer::Json(r#"{"access_token":"stolen"}"#.into())).await;
    app.names.insert("evil.example", evil.addr);
    app.names.insert("tenant.acumatica.com", evil.addr);
    app.post_integration(&json!({"provider": "acumatica", "unique_key": "acu",
        "credentials": {"client_id": "acu-cid", "client_secret": "acu-client-secret"}}))
        .await;
    let submit = |host: &str| {
        let query = format!("connection_id=victim&params[instanceUrl]={host}&params[username]=u&params[password]=p");
        let app = &app;
        async move { app.frontend_post("/oauth2/auth/acu", &query, &json!({})).await }
    };
    let (status, v) = submit("evil.example").await;
    assert_refused(status, &v, "evil.example");
    // Allowed by the operator, but leading to a local address: refused at connect time.
    let (status, v) = patch_integration(
        &app,
        "acu",
        json!({"allowed_hosts": ["*.acumatica.com"], "credentials": {"client_secret": "acu-client-secret"}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (status, v) = submit("tenant.acumatica.com").await;
    assert_refused(status, &v, "tenant.acumatica.com");
    evil.assert_untouched();
    app.assert_not_stored("acu", "victim").await;
}

#[tokio::test]
async fn a_host_the_backend_vouched_for_is_used_as_given() {
    let app = spawn_app().await;
    let host = AttackerHost::start(Answer::Json(r#"{"access_token":"cc-token","expires_in":3600}"#.into())).await;
    app.names.insert("erp.internal.example", host.addr);
    canvas(&app, None).await;
    // A connect session's defaults are the backend's: Canvas connects to the host it named.
    let (status, session) = app
        .backend(
            Method::POST,
            "/connect/sessions",
            Some(&json!({"end_user": {"id": "u1"},
                "integrations_config_defaults": {"canvas": {"connection_config": {"hostname": "canvas.myuni.edu"}}}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{session}");
    let token = session["data"]["token"].as_str().unwrap();
    let r = app
        .http
        .get(app.url(&format!("/oauth/connect/canvas?connect_session_token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    let location = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(location.host_str(), Some("canvas.myuni.edu"));

    // An import's config is the backend's too: a re-fetch goes to its host, even a local one.
    app.post_integration(&json!({"provider": "acumatica", "unique_key": "acu",
        "credentials": {"client_id": "acu-cid", "client_secret": "acu-client-secret"}}))
        .await;
    let (status, v) = app
        .backend(
            Method::POST,
            "/connections",
            Some(&json!({"provider_config_key": "acu", "connection_id": "imported",
                "connection_config": {"instanceUrl": format!("erp.internal.example:{}", host.addr.port()), "username": "u", "password": "p"},
                "credentials": {"type": "OAUTH2_CC", "token": "old", "expires_at": "2000-01-01T00:00:00Z"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (status, v) = app.read_connection("acu", "imported", "&force_refresh=true").await;
    // The host speaks plain TCP and the template says https: the connection was made, the
    // handshake failed.
    assert_eq!(host.connections(), 1, "{status} {v}");
}

/// Splunk's `hostname` may carry a port; meilisearch's `instanceUrl` is a whole URL.
async fn verifying(app: &TestApp) {
    app.post_integration(&json!({"provider": "splunk", "unique_key": "splunk", "allowed_hosts": ["*"]}))
        .await;
    app.post_integration(&json!({"provider": "meilisearch", "unique_key": "meili"}))
        .await;
}

#[tokio::test]
async fn api_key_verification_never_reaches_loopback_private_or_metadata_addresses() {
    let app = spawn_app().await;
    let evil = AttackerHost::start(Answer::Json("{}".into())).await;
    let port = evil.addr.port();
    app.names.insert("splunk.intranet.example", evil.addr);
    verifying(&app).await;
    // The operator allows any host for Splunk: only the address rule stands in the way.
    for host in [
        format!("127.0.0.1:{port}"),
        "169.254.169.254".to_owned(),
        "10.0.0.1".to_owned(),
        "100.64.0.1".to_owned(),
        format!("0x7f000001:{port}"),
        "2130706433".to_owned(),
        format!("localhost:{port}"),
        "splunk.intranet.example".to_owned(),
    ] {
        let (status, v) = api_key(&app, "splunk", &format!("params[hostname]={host}")).await;
        assert_refused(status, &v, &host);
    }
    let urls = [
        format!("https://[::1]:{port}"),
        format!("https://[::ffff:127.0.0.1]:{port}"),
        format!("https://[fd00:ec2::254]:{port}"),
        format!("http://127.0.0.1:{port}"),
    ];
    // meilisearch has no allowed hosts at first; with `*` the address rule refuses the same.
    for any_host in [false, true] {
        if any_host {
            let (status, v) = patch_integration(&app, "meili", json!({"allowed_hosts": ["*"]})).await;
            assert_eq!(status, StatusCode::OK, "{v}");
        }
        for url in &urls {
            let (status, v) = api_key(&app, "meili", &format!("params[instanceUrl]={}", urlencode(url))).await;
            assert_refused(status, &v, "127.0.0.1");
            assert_refused(status, &v, "::1");
        }
    }
    evil.assert_untouched();
    app.assert_not_stored("splunk", "victim").await;
    app.assert_not_stored("meili", "victim").await;
}

/// An end user's API key submitted for connection `victim`, with `params` in the query.
async fn api_key(app: &TestApp, integration: &str, params: &str) -> (StatusCode, Value) {
    app.frontend_post(
        &format!("/api-auth/api-key/{integration}"),
        &format!("connection_id=victim&{params}"),
        &json!({"apiKey": "the-end-users-key"}),
    )
    .await
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn with_the_development_switch_the_same_verification_reaches_the_local_host() {
    let app = spawn_app_with(|c| c.allow_private_addresses = true).await;
    let host = AttackerHost::start(Answer::Json("{}".into())).await;
    app.names.insert("splunk.intranet.example", host.addr);
    verifying(&app).await;
    let (status, v) = app
        .frontend_post(
            "/api-auth/api-key/splunk",
            &format!(
                "connection_id=dev&params[hostname]=splunk.intranet.example:{}",
                host.addr.port()
            ),
            &json!({"apiKey": "the-end-users-key"}),
        )
        .await;
    // Reached over https, which the listener does not speak: the test failed, generically.
    assert_eq!(host.connections(), 1);
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"]["code"], "connection_test_failed");
    assert_eq!(
        v["error"]["message"],
        "The credentials could not be verified with the provider."
    );
    // meilisearch over plain http to the local host: the switch allows that too.
    patch_integration(&app, "meili", json!({"allowed_hosts": ["*"]})).await;
    let (status, v) = app
        .frontend_post(
            "/api-auth/api-key/meili",
            &format!("connection_id=dev&params[instanceUrl]={}", urlencode(&host.url())),
            &json!({"apiKey": "the-end-users-key"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    host.ended(2).await;
    assert!(
        host.received().contains("Bearer the-end-users-key"),
        "the key went where the user said"
    );
}

#[tokio::test]
async fn verification_failures_tell_the_end_user_nothing_about_the_network() {
    let app = spawn_app().await;
    let provider = latchkey_tests::ProviderApi::start().await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        url
    };
    app.post_integration(
        &json!({"provider": "openai", "unique_key": "answers", "custom": {"proxy_base_url": provider.url}}),
    )
    .await;
    app.post_integration(&json!({"provider": "openai", "unique_key": "silent", "custom": {"proxy_base_url": closed}}))
        .await;
    let mut messages = Vec::new();
    for (integration, id) in [("answers", "refused"), ("silent", "unreachable")] {
        let (status, v) = app
            .frontend_post(
                &format!("/api-auth/api-key/{integration}"),
                &format!("connection_id={id}"),
                &json!({"apiKey": "wrong-key"}),
            )
            .await;
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("connection_test_failed"))
        );
        messages.push(v["error"]["message"].as_str().unwrap().to_owned());
        app.assert_not_stored(integration, id).await;
    }
    assert_eq!(messages[0], messages[1], "a 401 and a closed port look the same");
    for m in &messages {
        assert!(
            !m.contains("401") && !m.contains("127.0.0.1") && !m.contains("answer"),
            "{m}"
        );
    }
    // The operator sees what happened.
    let refused = app.failed_activity(Some("refused"), "connection_test_failed").await;
    assert!(refused["message"].as_str().unwrap().contains("HTTP 401"), "{refused}");
    let unreachable = app.failed_activity(Some("unreachable"), "connection_test_failed").await;
    assert!(
        unreachable["message"]
            .as_str()
            .unwrap()
            .contains("could not be reached"),
        "{unreachable}"
    );
}
