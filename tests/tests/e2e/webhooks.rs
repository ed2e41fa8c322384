//! Auth webhooks end to end, on the stack's own queue (the local runner; SQS on moto with the
//! AWS backend): creation and override from real flows (oidc-provider, an API key, imports),
//! each signed twice and checked by a receiver's own HMAC (refresh failure and recovery from
//! real refreshes: `refresh_webhooks.rs`); where they go (the environment's URL, a connection's override);
//! retries until one success with every attempt in activity; receivers that hang or never end
//! their answer; URLs refused when set and addresses refused when connected to.

use latchkey_tests::receiver::{assert_signed, signing_key, spawn_webhook_app, Reply};
use latchkey_tests::{assert_no_secret, oidc_peer, spawn_app, Browser, ProviderApi, TestApp, WebhookReceiver};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn patch_environment(app: &TestApp, patch: Value) -> (StatusCode, Value) {
    app.backend(Method::PATCH, "/environment", Some(&patch)).await
}

async fn send_webhooks_to(app: &TestApp, url: &str) {
    let (status, v) = patch_environment(app, json!({"webhook_url": url})).await;
    assert_eq!(status, 200, "{v}");
}

/// An API-key integration `oa` (OpenAI's catalog entry) verified by a local provider peer.
async fn openai(app: &TestApp) -> ProviderApi {
    let peer = ProviderApi::start().await;
    app.post_integration(&json!({"provider": "openai", "unique_key": "oa", "custom": {"proxy_base_url": peer.url}}))
        .await;
    peer
}

/// An OAuth2 integration `crm` for imports (its provider is never called).
async fn crm(app: &TestApp) {
    app.post_integration(&json!({
        "provider": "custom-oauth2", "unique_key": "crm",
        "credentials": {"type": "OAUTH2", "client_id": "cid", "client_secret": "csecret"},
        "custom": {"authorization_url": "https://id.example.test/auth", "token_url": "https://id.example.test/token"},
    }))
    .await;
}

/// The webhook activity of a connection, oldest first: (event, message, attempt_id).
async fn webhook_activity(app: &TestApp, connection_id: &str) -> Vec<(String, String, String)> {
    let mut entries: Vec<(String, String, String)> = app
        .activity(Some(connection_id))
        .await
        .into_iter()
        .filter(|e| e["operation"] == "webhook")
        .map(|e| {
            let field = |k: &str| e[k].as_str().unwrap_or("").to_owned();
            (field("event"), field("message"), field("attempt_id"))
        })
        .collect();
    entries.reverse();
    entries
}

#[tokio::test]
async fn an_oauth_connection_created_then_re_authorized_sends_creation_then_override() {
    let app = spawn_webhook_app().await;
    let receiver = WebhookReceiver::start().await;
    send_webhooks_to(&app, &receiver.url).await;
    let client = oidc_peer()
        .register_client(&app.callback_url(), "client_secret_post")
        .await;
    app.create_integration("acme-idp", &client).await;

    let page = Browser::new(&app.callback_url())
        .connect(&app.connect_url("acme-idp", "user-1", ""), &[], "alice")
        .await;
    assert!(page.is_success(), "{:?}", page.message);
    let first = receiver.until(&app, 1).await;

    let (status, session) = app
        .backend(
            Method::POST,
            "/connect/sessions/reconnect",
            Some(&json!({"connection_id": "user-1", "integration_id": "acme-idp"})),
        )
        .await;
    assert_eq!(status, 200, "{session}");
    let token = session["data"]["token"].as_str().unwrap();
    let page = Browser::new(&app.callback_url())
        .connect(
            &app.url(&format!("/oauth/connect/acme-idp?connect_session_token={token}")),
            &[],
            "alice",
        )
        .await;
    assert!(page.is_success(), "{:?}", page.message);
    let got = receiver.until(&app, 2).await;
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].body, first[0].body);

    for (d, operation) in got.iter().zip(["creation", "override"]) {
        assert_eq!(
            d.json(),
            json!({
                "from": "nango", "type": "auth", "connectionId": "user-1", "providerConfigKey": "acme-idp",
                "provider": "custom-oauth2", "authMode": "OAUTH2", "environment": "test",
                "operation": operation, "success": true, "tags": {},
            })
        );
        assert_signed(&app, d);
        assert_eq!(d.header("latchkey-webhook-attempt"), "1");
    }
    assert_ne!(
        got[0].header("latchkey-webhook-id"),
        got[1].header("latchkey-webhook-id")
    );

    let activity = webhook_activity(&app, "user-1").await;
    let events: Vec<&str> = activity.iter().map(|(e, _, _)| e.as_str()).collect();
    assert_eq!(events, ["queued", "delivered", "queued", "delivered"]);
    assert_eq!(
        activity[1].2,
        got[0].header("latchkey-webhook-id"),
        "grouped by the delivery id"
    );
    let text = format!("{activity:?}");
    assert_no_secret(&text, &[&receiver.url, &signing_key(&app), &got[0].body]);
}

#[tokio::test]
async fn api_key_flows_and_imports_go_to_the_connections_override_when_it_has_one() {
    let app = spawn_webhook_app().await;
    let (env, own) = (WebhookReceiver::start().await, WebhookReceiver::start().await);
    send_webhooks_to(&app, &env.url).await;
    let _peer = openai(&app).await;

    // A connect session names where the connection's webhooks go.
    let (status, session) = app
        .backend(
            Method::POST,
            "/connect/sessions",
            Some(&json!({"end_user": {"id": "u-7", "email": "u7@example.test"}, "webhook_url_override": own.url})),
        )
        .await;
    assert_eq!(status, 200, "{session}");
    let token = session["data"]["token"].as_str().unwrap();
    let submit = |token: String| {
        let app = &app;
        async move {
            let url = app.url(&format!("/api-auth/api-key/oa?connect_session_token={token}"));
            let r = app
                .http
                .post(url)
                .json(&json!({"apiKey": "good-key"}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()["connectionId"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let id = submit(token.to_owned()).await;
    let got = own.until(&app, 1).await;
    let body = got[0].json();
    assert_eq!(
        (body["operation"].as_str(), body["authMode"].as_str()),
        (Some("creation"), Some("API_KEY"))
    );
    assert_eq!(body["connectionId"], id.as_str());
    assert_eq!(
        body["endUser"],
        json!({"endUserId": "u-7", "endUserEmail": "u7@example.test", "tags": {}})
    );
    assert_signed(&app, &got[0]);
    let (_, conn) = app.read_connection("oa", &id, "").await;
    assert_eq!(conn["webhook_url_override"], own.url.as_str());

    // Re-authorized through a reconnect session that names none: the override is kept.
    let (_, again) = app
        .backend(
            Method::POST,
            "/connect/sessions/reconnect",
            Some(&json!({"connection_id": id, "integration_id": "oa"})),
        )
        .await;
    submit(again["data"]["token"].as_str().unwrap().to_owned()).await;
    let got = own.until(&app, 2).await;
    assert_eq!(got[1].json()["operation"], "override");

    // Cleared by the backend: the environment's URL again, here for an import over it.
    let path = format!("/connections/{id}?provider_config_key=oa");
    let (status, v) = app
        .backend(Method::PATCH, &path, Some(&json!({"webhook_url_override": null})))
        .await;
    assert_eq!(status, 200, "{v}");
    let import = |id: &str, extra: Value| {
        let mut body = json!({"provider_config_key": "oa", "connection_id": id, "credentials": {"type": "API_KEY", "apiKey": "good-key"}});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    };
    let (status, v) = app
        .backend(Method::POST, "/connections", Some(&import(&id, json!({}))))
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["webhook_url_override"], Value::Null);
    let got = env.until(&app, 1).await;
    assert_eq!(
        (
            got[0].json()["operation"].as_str(),
            got[0].json()["connectionId"].as_str()
        ),
        (Some("override"), Some(id.as_str()))
    );

    // An import may name one; PATCH sets one.
    let (status, v) = app
        .backend(
            Method::POST,
            "/connections",
            Some(&import("imported", json!({"webhook_url_override": own.url}))),
        )
        .await;
    assert_eq!(
        (status, v["webhook_url_override"].as_str()),
        (StatusCode::OK, Some(own.url.as_str())),
        "{v}"
    );
    let got = own.until(&app, 3).await;
    assert_eq!(
        (
            got[2].json()["operation"].as_str(),
            got[2].json()["connectionId"].as_str()
        ),
        (Some("creation"), Some("imported"))
    );
    let (status, _) = app
        .backend(Method::PATCH, &path, Some(&json!({"webhook_url_override": own.url})))
        .await;
    assert_eq!(status, 200);
    let (_, conn) = app.read_connection("oa", &id, "").await;
    assert_eq!(conn["webhook_url_override"], own.url.as_str());
    assert_eq!(
        env.deliveries().len(),
        1,
        "only the one sent while the override was cleared"
    );

    for bad in [
        "not a url",
        "https://user:pw@hooks.example.test/x",
        "ftp://hooks.example.test/x",
    ] {
        let (status, v) = app
            .backend(Method::PATCH, &path, Some(&json!({"webhook_url_override": bad})))
            .await;
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_body")),
            "{bad}: {v}"
        );
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("webhook_url_override"),
            "{v}"
        );
    }
    let (_, conn) = app.read_connection("oa", &id, "").await;
    assert_eq!(conn["webhook_url_override"], own.url.as_str(), "nothing changed");
}

#[tokio::test]
async fn a_receiver_that_fails_twice_then_succeeds_gets_one_success_and_every_attempt_is_recorded() {
    let app = spawn_webhook_app().await;
    let receiver = WebhookReceiver::scripted(&[Reply::Status(500), Reply::RetryAfter(503, 1)]).await;
    send_webhooks_to(&app, &receiver.url).await;
    let _peer = openai(&app).await;
    let (status, v) = app
        .frontend_post(
            "/api-auth/api-key/oa",
            "connection_id=flaky",
            &json!({"apiKey": "good-key"}),
        )
        .await;
    assert_eq!(status, 200, "{v}");

    let got = receiver.until(&app, 3).await;
    for d in &got {
        assert_signed(&app, d);
    }
    // Later runs, hours later, send nothing more.
    for _ in 0..3 {
        app.clock.advance(time::Duration::hours(1));
        app.run_jobs().await;
    }
    let got_later = receiver.deliveries();
    assert_eq!(got_later.len(), 3, "exactly one successful delivery after two failures");
    let id = got[0].header("latchkey-webhook-id").to_owned();
    for (n, d) in got.iter().enumerate() {
        assert_eq!(
            d.header("latchkey-webhook-id"),
            id,
            "one id for a delivery: receivers drop repeats by it"
        );
        assert_eq!(d.header("latchkey-webhook-attempt"), (n + 1).to_string());
        assert_eq!(d.body, got[0].body);
    }
    let activity = webhook_activity(&app, "flaky").await;
    let events: Vec<&str> = activity.iter().map(|(e, _, _)| e.as_str()).collect();
    assert_eq!(events, ["queued", "attempt_failed", "attempt_failed", "delivered"]);
    assert!(activity.iter().all(|(_, _, attempt)| *attempt == id));
    assert!(activity[1].1.starts_with("Attempt 1: HTTP 500"), "{activity:?}");
    assert!(activity[2].1.starts_with("Attempt 2: HTTP 503"), "{activity:?}");
    assert!(activity[3].1.starts_with("Attempt 3: HTTP 200"), "{activity:?}");
    assert_no_secret(
        &format!("{activity:?}"),
        &[&receiver.url, &signing_key(&app), "good-key"],
    );
}

#[tokio::test]
async fn a_receiver_that_hangs_or_never_ends_its_answer_is_bounded() {
    let app = spawn_webhook_app().await;
    let receiver = WebhookReceiver::scripted(&[Reply::Hang, Reply::EndlessBody]).await;
    send_webhooks_to(&app, &receiver.url).await;
    crm(&app).await;
    let (status, v) = app
        .backend(
            Method::POST,
            "/connections",
            Some(&json!({"provider_config_key": "crm", "connection_id": "slow", "credentials": {"type": "OAUTH2", "access_token": "at"}})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    receiver.until(&app, 2).await;
    let activity = webhook_activity(&app, "slow").await;
    let events: Vec<&str> = activity.iter().map(|(e, _, _)| e.as_str()).collect();
    assert_eq!(events, ["queued", "attempt_failed", "delivered"], "{activity:?}");
    assert!(activity[1].1.contains("no answer in time"), "{activity:?}");
    assert!(
        activity[2].1.contains("HTTP 200"),
        "the body is never read: {activity:?}"
    );
}

#[tokio::test]
async fn webhook_urls_are_checked_when_set_and_an_override_never_reaches_a_private_address() {
    let app = spawn_app().await;
    let receiver = WebhookReceiver::start().await;
    for (bad, why) in [
        (receiver.url.as_str(), "https"),
        ("https://hooks.example.test/x#f", "fragment"),
        ("https://user:pw@hooks.example.test/x", "user name"),
        ("hooks.example.test", "absolute"),
    ] {
        let (status, v) = patch_environment(&app, json!({"webhook_url": bad})).await;
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_body")),
            "{bad}: {v}"
        );
        assert!(v["error"]["message"].as_str().unwrap().contains(why), "{bad}: {v}");
    }
    let (status, v) = patch_environment(&app, json!({"webhook_events": ["deletion"]})).await;
    assert_eq!(status, 400, "{v}");
    let (_, env) = app.backend(Method::GET, "/environment", None).await;
    assert_eq!(env["data"]["webhook_url"], Value::Null, "nothing changed: {env}");
    assert_eq!(
        env["data"]["webhook_events"],
        json!(["creation", "override", "refresh_failed", "refresh_recovered"])
    );
    // The operator's own URL may be on a private network (an in-house receiver).
    let (status, v) = patch_environment(&app, json!({"webhook_url": "https://10.0.0.7/hooks"})).await;
    assert_eq!(
        (status, v["data"]["webhook_url"].as_str()),
        (StatusCode::OK, Some("https://10.0.0.7/hooks")),
        "{v}"
    );
    let (status, v) = patch_environment(&app, json!({"webhook_url": null, "webhook_events": []})).await;
    assert_eq!(
        (
            status,
            v["data"]["webhook_url"].clone(),
            v["data"]["webhook_events"].clone()
        ),
        (StatusCode::OK, Value::Null, json!([]))
    );
    patch_environment(&app, json!({"webhook_events": ["creation", "override"]})).await;

    crm(&app).await;
    let import = |id: &str, url: &str| json!({"provider_config_key": "crm", "connection_id": id, "webhook_url_override": url, "credentials": {"type": "OAUTH2", "access_token": "at"}});
    // A connection's override is relayed by the backend, often for its customer: public only.
    for private in [
        "https://10.0.0.7/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "http://hooks.example.test/x",
    ] {
        let (status, v) = app
            .backend(Method::POST, "/connections", Some(&import("c-1", private)))
            .await;
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_body")),
            "{private}: {v}"
        );
        let (status, v) = app
            .backend(
                Method::POST,
                "/connect/sessions",
                Some(&json!({"end_user": {"id": "u"}, "webhook_url_override": private})),
            )
            .await;
        assert_eq!(status, 400, "{private}: {v}");
    }
    app.assert_not_stored("crm", "c-1").await;

    // A public-looking name that leads to this machine: stored, but never connected to.
    let port = receiver.url.split(':').nth(2).unwrap().split('/').next().unwrap();
    app.names
        .insert("hooks.customer.example", format!("127.0.0.1:{port}").parse().unwrap());
    let sneaky = format!("https://hooks.customer.example:{port}/hook");
    let (status, v) = app
        .backend(Method::POST, "/connections", Some(&import("c-2", &sneaky)))
        .await;
    assert_eq!(status, 200, "{v}");
    app.run_jobs().await;
    assert!(receiver.deliveries().is_empty(), "nothing reached the listener");
    let activity = webhook_activity(&app, "c-2").await;
    let (event, message, _) = activity.last().unwrap();
    assert_eq!(event, "failed", "{activity:?}");
    assert!(
        message.contains("loopback") && message.contains("not retried"),
        "{message}"
    );
    app.clock.advance(time::Duration::hours(1));
    app.run_jobs().await;
    assert!(receiver.deliveries().is_empty());
}

#[tokio::test]
async fn an_end_user_cannot_choose_where_a_connections_webhooks_go() {
    let app = spawn_webhook_app().await;
    let (env, attacker) = (WebhookReceiver::start().await, WebhookReceiver::start().await);
    send_webhooks_to(&app, &env.url).await;
    let _peer = openai(&app).await;
    // In the body: refused. In the query: not a parameter of the flow, ignored.
    let (status, v) = app
        .frontend_post(
            "/api-auth/api-key/oa",
            "connection_id=mine",
            &json!({"apiKey": "good-key", "webhook_url_override": attacker.url}),
        )
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_body")),
        "{v}"
    );
    let query = format!("connection_id=mine&webhook_url_override={}", attacker.url);
    let (status, v) = app
        .frontend_post("/api-auth/api-key/oa", &query, &json!({"apiKey": "good-key"}))
        .await;
    assert_eq!(status, 200, "{v}");
    let (_, conn) = app.read_connection("oa", "mine", "").await;
    assert_eq!(conn["webhook_url_override"], Value::Null, "{conn}");
    let got = env.until(&app, 1).await;
    assert_eq!(got[0].json()["connectionId"], "mine");
    assert!(attacker.deliveries().is_empty());
}

#[tokio::test]
async fn a_test_webhook_is_sent_now_and_answers_how_it_went() {
    let app = spawn_webhook_app().await;
    let (status, v) = app.backend(Method::POST, "/environment/test-webhook", None).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_body")),
        "{v}"
    );
    let receiver = WebhookReceiver::scripted(&[Reply::Status(500)]).await;
    send_webhooks_to(&app, &receiver.url).await;
    let (status, v) = app.backend(Method::POST, "/environment/test-webhook", None).await;
    assert_eq!(
        (status, v),
        (
            StatusCode::OK,
            json!({"data": {"delivered": false, "message": "HTTP 500"}})
        )
    );
    let (_, v) = app.backend(Method::POST, "/environment/test-webhook", None).await;
    assert_eq!(v, json!({"data": {"delivered": true, "message": "HTTP 200"}}));
    let got = receiver.deliveries();
    assert_eq!(got.len(), 2, "sent in the request, once each, not retried");
    assert_eq!(
        (got[1].json()["type"].as_str(), got[1].json()["from"].as_str()),
        (Some("test"), Some("nango"))
    );
    assert_signed(&app, &got[1]);
    app.run_jobs().await;
    assert_eq!(receiver.deliveries().len(), 2);
}
