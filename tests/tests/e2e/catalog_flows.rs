//! The catalog's routes and the auth modes it enables, over HTTP against the whole local
//! stack (`spawn_app`): `GET /providers`, a Zendesk-style OAuth2 connect with
//! `params[subdomain]`, API key and Basic connects verified by a local provider API, client
//! credentials re-fetched when expired, callback quirks of catalog providers, and imports read
//! back through `GET /connections/{id}`.

use latchkey_tests::{spawn_app, ClientCredentialsPeer, ProviderApi, SalesforceLikeTokenPeer, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[tokio::test]
async fn providers_are_listed_and_shown_to_the_backend_only() {
    let app = spawn_app().await;
    let (status, list) = app.backend(Method::GET, "/providers", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["data"].as_array().unwrap().len(), 978);
    assert!(list["source"].as_str().unwrap().contains("Nango"));
    let (_, one) = app.backend(Method::GET, "/providers/zendesk", None).await;
    assert_eq!(one["data"]["auth_mode"], "OAUTH2");
    assert_eq!(one["data"]["supported"], true);
    let (_, two_step) = app.backend(Method::GET, "/providers/3cx", None).await;
    assert_eq!(two_step["data"]["supported"], true);
    let (_, jwt) = app.backend(Method::GET, "/providers/ghost-admin", None).await;
    assert_eq!(jwt["data"]["supported"], true);
    let (_, oauth1) = app.backend(Method::GET, "/providers/trello", None).await;
    assert_eq!(oauth1["data"]["supported"], true);
    let (_, mcp) = app.backend(Method::GET, "/providers/amplitude-mcp", None).await;
    assert_eq!(mcp["data"]["supported"], true);
    // An MCP entry identified by a client ID metadata document: listed, not supported.
    let (_, cimd) = app.backend(Method::GET, "/providers/lovable-mcp", None).await;
    assert_eq!(
        (cimd["data"]["auth_mode"].as_str(), cimd["data"]["supported"].as_bool()),
        (Some("MCP_OAUTH2"), Some(false))
    );
    let (status, missing) = app.backend(Method::GET, "/providers/nope", None).await;
    assert_eq!(
        (status, missing["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let anon = app.http.get(app.url("/providers")).send().await.unwrap();
    assert_eq!(anon.status(), 401);
    // A provider Latchkey does not connect can't get an integration.
    let (status, v) = app
        .backend(
            Method::POST,
            "/integrations",
            Some(&json!({"provider": "lovable-mcp", "unique_key": "x"})),
        )
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unsupported_auth_mode"))
    );
}

#[tokio::test]
async fn an_oauth_integration_without_a_client_id_is_refused_when_created_not_at_connect() {
    let app = spawn_app().await;
    for body in [
        json!({"provider": "zendesk", "unique_key": "zd"}),
        json!({"provider": "zendesk", "unique_key": "zd", "credentials": {"client_secret": "cs", "scopes": "read"}}),
    ] {
        let (status, v) = app.backend(Method::POST, "/integrations", Some(&body)).await;
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("missing_client_id")),
            "{body}"
        );
    }
    let (_, list) = app.backend(Method::GET, "/integrations", None).await;
    assert_eq!(list["data"], json!([]), "nothing was created");
    // Modes that need no app at the provider (API key, Basic) are created without one.
    let (status, _) = app
        .backend(
            Method::POST,
            "/integrations",
            Some(&json!({"provider": "openai", "unique_key": "openai"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn zendesk_connects_with_its_subdomain_and_refuses_hostile_ones() {
    let app = spawn_app().await;
    app.post_integration(&json!({"provider": "zendesk", "unique_key": "zd",
        "credentials": {"client_id": "cid", "client_secret": "cs", "scopes": "read"}}))
        .await;
    let connect = |q: String| {
        let url = app.connect_url("zd", "u1", &q);
        let http = app.http.clone();
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

#[tokio::test]
async fn api_keys_are_verified_before_they_are_stored() {
    let app = spawn_app().await;
    let peer = ProviderApi::start().await;
    app.post_integration(&json!({"provider": "openai", "unique_key": "oa", "custom": {"proxy_base_url": peer.url}}))
        .await;
    let (status, v) = app
        .frontend_post(
            "/api-auth/api-key/oa",
            "connection_id=good",
            &json!({"apiKey": "good-key"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v, json!({"providerConfigKey": "oa", "connectionId": "good"}));
    let (_, conn) = app.read_connection("oa", "good", "").await;
    assert_eq!(conn["credentials"], json!({"type": "API_KEY", "apiKey": "good-key"}));

    let (status, v) = app
        .frontend_post(
            "/api-auth/api-key/oa",
            "connection_id=bad",
            &json!({"apiKey": "wrong-key"}),
        )
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("connection_test_failed"))
    );
    assert!(!v.to_string().contains("wrong-key"));
    assert_eq!(
        app.read_connection("oa", "bad", "").await.0,
        StatusCode::NOT_FOUND,
        "nothing stored"
    );
}

#[tokio::test]
async fn basic_credentials_are_verified_with_connection_config() {
    let app = spawn_app().await;
    let peer = ProviderApi::start().await;
    app.post_integration(
        &json!({"provider": "jira-basic", "unique_key": "jira", "custom": {"proxy_base_url": peer.url}}),
    )
    .await;
    let (status, v) = app
        .frontend_post(
            "/api-auth/basic/jira",
            "connection_id=ann&params[subdomain]=acme",
            &json!({"username": "ann@example.com", "password": "pw"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (_, conn) = app.read_connection("jira", "ann", "").await;
    assert_eq!(
        conn["credentials"],
        json!({"type": "BASIC", "username": "ann@example.com", "password": "pw"})
    );
    assert_eq!(conn["connection_config"], json!({"subdomain": "acme"}));

    let (status, v) = app
        .frontend_post(
            "/api-auth/basic/jira",
            "connection_id=bob&params[subdomain]=acme",
            &json!({"username": "ann@example.com", "password": "wrong"}),
        )
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("connection_test_failed"))
    );
    let (status, v) = app
        .frontend_post(
            "/api-auth/basic/jira",
            "connection_id=bob&params[subdomain]=evil.com%2Fx%3F",
            &json!({"username": "ann@example.com", "password": "pw"}),
        )
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_connection_config"))
    );
    let (_, v) = app
        .frontend_post(
            "/api-auth/basic/jira",
            "connection_id=bob&params[subdomain]=acme",
            &json!({"username": "not-an-email", "password": "pw"}),
        )
        .await;
    assert_eq!(
        v["error"]["code"], "invalid_credentials",
        "the catalog says username is an email"
    );
}

#[tokio::test]
async fn client_credentials_are_fetched_and_refetched_when_expired() {
    let app = spawn_app().await;
    let cc = ClientCredentialsPeer::start().await;
    app.post_integration(&json!({"provider": "8x8", "unique_key": "cc",
        "credentials": {"client_id": "cc-id", "client_secret": "cc-secret"},
        "custom": {"token_url": cc.token_url}}))
        .await;
    let (status, v) = app
        .frontend_post("/oauth2/auth/cc", "connection_id=svc", &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (_, conn) = app.read_connection("cc", "svc", "").await;
    assert_eq!(conn["credentials"]["type"], "OAUTH2_CC");
    assert_eq!(conn["credentials"]["token"], "cc-1");
    let (_, again) = app.read_connection("cc", "svc", "").await;
    assert_eq!(again["credentials"]["token"], "cc-1", "a fresh token is reused");
    app.clock.advance(time::Duration::seconds(90));
    let (_, later) = app.read_connection("cc", "svc", "").await;
    assert_eq!(
        later["credentials"]["token"], "cc-2",
        "an expiring token is fetched again on read"
    );
    assert_eq!(cc.issued(), 2);

    let (status, v) = app
        .frontend_post(
            "/oauth2/auth/cc",
            "connection_id=other",
            &json!({"client_id": "cc-id", "client_secret": "wrong"}),
        )
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("connection_test_failed"))
    );
    assert_eq!(app.read_connection("cc", "other", "").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn imports_of_every_credentials_type_read_back() {
    let app = spawn_app().await;
    let peer = ProviderApi::start().await;
    let cc = ClientCredentialsPeer::start().await;
    app.post_integration(&json!({"provider": "salesforce", "unique_key": "sf", "credentials": {"client_id": "cid"}}))
        .await;
    app.post_integration(&json!({"provider": "8x8", "unique_key": "cc", "custom": {"token_url": cc.token_url}}))
        .await;
    app.post_integration(&json!({"provider": "openai", "unique_key": "oa", "custom": {"proxy_base_url": peer.url}}))
        .await;
    app.post_integration(
        &json!({"provider": "jira-basic", "unique_key": "jira", "custom": {"proxy_base_url": peer.url}}),
    )
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
        let (status, v) = app.backend(Method::POST, "/connections", Some(&body)).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        let (status, conn) = app.read_connection(key, &id, "").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(conn["credentials"], expected, "{key}");
    }
    let (_, sf) = app.read_connection("sf", "i1", "").await;
    assert_eq!(
        sf["connection_config"]["instance_url"],
        "https://acme.my.salesforce.com"
    );
    assert_eq!(sf["metadata"]["plan"], "pro");

    // Verification applies to imports too, and a type must match the integration.
    let (status, v) = app
        .backend(
            Method::POST,
            "/connections",
            Some(&json!({"provider_config_key": "oa", "connection_id": "i5", "credentials": {"type": "API_KEY", "apiKey": "wrong"}})),
        )
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("connection_test_failed"))
    );
    let (status, _) = app
        .backend(
            Method::POST,
            "/connections",
            Some(&json!({"provider_config_key": "oa", "credentials": {"type": "BASIC", "username": "u", "password": "p"}})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// Connects, then plays the provider's redirect back to the callback with `callback_query`.
async fn callback_round(
    app: &TestApp,
    integration: &str,
    connect_extra: &str,
    callback_query: &str,
) -> reqwest::Response {
    let flow = app.start_flow(integration, "c1", connect_extra).await;
    app.callback(&flow, callback_query).await
}

#[tokio::test]
async fn callback_quirks_fill_connection_config_from_the_provider() {
    let app = spawn_app().await;
    let peer = SalesforceLikeTokenPeer::start().await;
    let custom = json!({"authorization_url": "https://auth.example.test/authorize", "token_url": peer.token_url});
    for (provider, key) in [
        ("salesforce", "sf"),
        ("quickbooks", "qb"),
        ("amazon-selling-partner", "amz"),
    ] {
        app.post_integration(&json!({"provider": provider, "unique_key": key,
            "credentials": {"client_id": "cid", "client_secret": "cs"}, "custom": custom}))
            .await;
    }

    // Salesforce: `instance_url` from the token response lands in the connection config.
    let page = callback_round(&app, "sf", "", "code=the-code").await;
    assert_eq!(page.status(), 200);
    let (_, sf) = app.read_connection("sf", "c1", "").await;
    assert_eq!(
        sf["connection_config"]["instance_url"],
        "https://acme.my.salesforce.com"
    );
    assert_eq!(sf["credentials"]["access_token"], "at-1");
    assert!(sf["credentials"]["expires_at"].is_string(), "expires_in as a string");

    // QuickBooks: `realmId` from the callback query is kept; a value failing its pattern is not.
    callback_round(&app, "qb", "", "code=the-code&realmId=9341453474484455").await;
    let (_, qb) = app.read_connection("qb", "c1", "").await;
    assert_eq!(qb["connection_config"]["realmId"], "9341453474484455");
    // (A second connection: with the public key alone, a flow creates and never replaces.)
    let digest = latchkey_tests::wire::connect_digest(&app.hmac_key(), "qb", "c1");
    callback_round(
        &app,
        "qb",
        &format!("hmac={digest}"),
        "code=the-code&realmId=evil.com%2F",
    )
    .await;
    let (_, qb) = app.read_connection("qb", "c1", "").await;
    assert!(
        qb["connection_config"].get("realmId").is_none(),
        "{}",
        qb["connection_config"]
    );

    // Amazon SP-API: the code arrives as `spapi_oauth_code`; `application_id` comes from config.
    let amz = "params[domain]=sellercentral.amazon.com&params[applicationId]=amzn1.app.1&params[region]=na&params[subdomain]=sellingpartnerapi";
    let page = callback_round(&app, "amz", amz, "spapi_oauth_code=the-code&selling_partner_id=A1B2").await;
    assert_eq!(page.status(), 200);
    let (_, conn) = app.read_connection("amz", "c1", "").await;
    assert_eq!(conn["connection_config"]["selling_partner_id"], "A1B2");
    assert_eq!(conn["connection_config"]["region"], "na");
}

#[tokio::test]
async fn the_generic_credentials_route_submits_to_the_integrations_mode() {
    let app = spawn_app().await;
    let peer = ProviderApi::start().await;
    app.post_integration(
        &json!({"provider": "jira-basic", "unique_key": "jira", "custom": {"proxy_base_url": peer.url}}),
    )
    .await;
    let (status, v) = app
        .frontend_post(
            "/auth/basic/jira",
            "connection_id=ann&params[subdomain]=acme",
            &json!({"username": "ann@example.com", "password": "pw"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v, json!({"providerConfigKey": "jira", "connectionId": "ann"}));
    let (_, conn) = app.read_connection("jira", "ann", "").await;
    assert_eq!(
        conn["credentials"],
        json!({"type": "BASIC", "username": "ann@example.com", "password": "pw"})
    );

    // Another mode than the integration's, a mode that does not exist, a body that is not
    // strings: refused, nothing stored.
    for (path, body, code) in [
        ("/auth/two-step/jira", json!({"username": "a@b.c"}), "invalid_auth_mode"),
        ("/auth/no-such-mode/jira", json!({}), "not_found"),
        ("/auth/basic/jira", json!({"username": 7}), "invalid_body"),
        ("/auth/basic/jira", json!({"user name": "x"}), "invalid_body"),
    ] {
        let (status, v) = app.frontend_post(path, "connection_id=bob", &body).await;
        assert_eq!(v["error"]["code"], code, "{path}: {status} {v}");
    }
    assert_eq!(app.read_connection("jira", "bob", "").await.0, StatusCode::NOT_FOUND);
}
