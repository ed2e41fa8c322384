//! What a team's backend changes on a connection besides its credentials: end user and tags
//! (`PATCH /connections/{id}`), metadata (`POST` replaces, `PATCH` merges), and what a
//! re-import keeps of the connection it replaces.

use latchkey_tests::{spawn_app, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

async fn app_with_connection(id: &str) -> TestApp {
    let app = spawn_app().await;
    let integration = json!({"provider": "custom-oauth2", "unique_key": "idp",
        "credentials": {"client_id": "cid"},
        "custom": {"authorization_url": "https://idp.example.test/auth", "token_url": "https://idp.example.test/token"}});
    let r = app
        .signed_request(Method::POST, "/integrations", Some(&integration))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    import(&app, id, json!({})).await;
    app
}

async fn import(app: &TestApp, id: &str, extra: Value) {
    let mut body = json!({"connection_id": id, "provider_config_key": "idp",
        "credentials": {"type": "OAUTH2", "access_token": "at-1"}});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let r = app
        .signed_request(Method::POST, "/connections", Some(&body))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

async fn patch(app: &TestApp, id: &str, body: &Value) -> reqwest::Response {
    let path = format!("/connections/{id}?provider_config_key=idp");
    app.signed_request(Method::PATCH, &path, Some(body))
        .send()
        .await
        .unwrap()
}

async fn metadata(app: &TestApp, method: Method, body: &Value) -> reqwest::Response {
    app.signed_request(method, "/connections/metadata", Some(body))
        .send()
        .await
        .unwrap()
}

async fn connection(app: &TestApp, id: &str) -> Value {
    let (status, body) = app.read_connection("idp", id, "").await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn patch_sets_end_user_and_tags_and_nothing_else() {
    let app = app_with_connection("alice").await;
    let change = json!({"end_user": {"id": "u-1", "email": "a@example.com"}, "tags": {"plan": "pro"}});
    let r = patch(&app, "alice", &change).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"success": true}));
    let c = connection(&app, "alice").await;
    assert_eq!(c["end_user"]["id"], "u-1");
    assert_eq!(c["tags"], json!({"plan": "pro"}));
    assert_eq!(c["credentials"]["access_token"], "at-1");
    let listed = app
        .bearer(Method::GET, "/connections?endUserId=u-1")
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(listed["connections"][0]["connection_id"], "alice");
}

#[tokio::test]
async fn bad_patches_change_nothing() {
    let app = app_with_connection("alice").await;
    for (body, code) in [
        (json!({"end_user": {"email": "no-id@example.com"}}), "invalid_body"),
        (json!({"tags": {"plan": 3}}), "invalid_body"),
        (json!({"credentials": {"access_token": "x"}}), "invalid_body"),
    ] {
        let r = patch(&app, "alice", &body).await;
        assert_eq!(r.status(), 400, "{body}");
        assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], code);
    }
    let r = patch(&app, "bob", &json!({"tags": {}})).await;
    assert_eq!(r.status(), 404);
    let c = connection(&app, "alice").await;
    assert_eq!((c["end_user"].clone(), c["tags"].clone()), (Value::Null, json!({})));
}

#[tokio::test]
async fn metadata_post_replaces_and_patch_merges_for_one_or_many_connections() {
    let app = app_with_connection("alice").await;
    import(&app, "bob", json!({})).await;
    let set =
        json!({"connection_id": ["alice", "bob"], "provider_config_key": "idp", "metadata": {"a": 1, "b": {"c": 2}}});
    let r = metadata(&app, Method::POST, &set).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap(), set, "the three fields are echoed");

    let merge = json!({"connection_id": "alice", "provider_config_key": "idp", "metadata": {"b": "x", "d": true}});
    let r = metadata(&app, Method::PATCH, &merge).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        connection(&app, "alice").await["metadata"],
        json!({"a": 1, "b": "x", "d": true})
    );
    assert_eq!(
        connection(&app, "bob").await["metadata"],
        json!({"a": 1, "b": {"c": 2}})
    );

    let replace = json!({"connection_id": "alice", "provider_config_key": "idp", "metadata": {"z": 0}});
    metadata(&app, Method::POST, &replace).await;
    assert_eq!(connection(&app, "alice").await["metadata"], json!({"z": 0}));
}

#[tokio::test]
async fn metadata_for_a_missing_connection_changes_none() {
    let app = app_with_connection("alice").await;
    let body = json!({"connection_id": ["alice", "ghost"], "provider_config_key": "idp", "metadata": {"a": 1}});
    let r = metadata(&app, Method::POST, &body).await;
    assert_eq!(r.status(), 404);
    assert_eq!(connection(&app, "alice").await["metadata"], json!({}));
    let not_object = json!({"connection_id": "alice", "provider_config_key": "idp", "metadata": [1]});
    let r = metadata(&app, Method::POST, &not_object).await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn a_re_authorization_keeps_metadata_end_user_and_tags_it_does_not_name() {
    let app = app_with_connection("alice").await;
    let change = json!({"end_user": {"id": "u-1"}, "tags": {"plan": "pro"}});
    patch(&app, "alice", &change).await;
    let meta = json!({"connection_id": "alice", "provider_config_key": "idp", "metadata": {"crm_id": "42"}});
    metadata(&app, Method::POST, &meta).await;
    let before = connection(&app, "alice").await;

    import(
        &app,
        "alice",
        json!({"credentials": {"type": "OAUTH2", "access_token": "at-2"}}),
    )
    .await;
    let after = connection(&app, "alice").await;
    assert_eq!(after["credentials"]["access_token"], "at-2");
    assert_eq!(after["metadata"], json!({"crm_id": "42"}));
    assert_eq!(after["end_user"]["id"], "u-1");
    assert_eq!(after["tags"], json!({"plan": "pro"}));
    assert_eq!(
        (after["id"].clone(), after["created_at"].clone()),
        (before["id"].clone(), before["created_at"].clone())
    );

    import(
        &app,
        "alice",
        json!({"end_user": {"id": "u-2"}, "metadata": {"new": true}}),
    )
    .await;
    let named = connection(&app, "alice").await;
    assert_eq!(named["end_user"]["id"], "u-2", "what the new authorization names wins");
    assert_eq!(named["metadata"], json!({"new": true}));
}
