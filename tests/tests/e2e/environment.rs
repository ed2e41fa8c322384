//! `GET/PATCH /environment`: the callback URL set at run time reaches providers, webhook
//! settings are kept, bad values change nothing, and keys rotate with a grace period for the
//! previous secret key (on SQLite with the keys file, on AWS with the Secrets Manager secret).

use latchkey_tests::{assert_no_secret, spawn_app, spawn_app_with_oidc, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

async fn patch(app: &TestApp, body: Value) -> (u16, Value) {
    let (status, body) = app.backend(Method::PATCH, "/environment", Some(&body)).await;
    (status.as_u16(), body)
}

fn redirect_uri_of(location: &str) -> String {
    let url = url::Url::parse(location).unwrap();
    url.query_pairs()
        .find(|(k, _)| k == "redirect_uri")
        .map(|(_, v)| v.into_owned())
        .expect("the authorization URL has a redirect_uri")
}

#[tokio::test]
async fn the_callback_url_set_at_run_time_is_what_providers_get_and_null_resets_it() {
    let (app, _) = spawn_app_with_oidc("idp").await;
    let (_, before) = app.backend(Method::GET, "/environment", None).await;
    assert_eq!(before["data"]["callback_url"], app.callback_url());
    assert_eq!(before["data"]["default_callback_url"], app.callback_url());

    let custom = "https://auth.example.com/oauth/callback";
    let (status, after) = patch(&app, json!({"callback_url": custom})).await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["data"]["callback_url"], custom);
    let r = app.http.get(app.connect_url("idp", "u1", "")).send().await.unwrap();
    assert_eq!(r.status(), 302);
    let location = r.headers()["location"].to_str().unwrap();
    assert_eq!(redirect_uri_of(location), custom);

    let (_, reset) = patch(&app, json!({"callback_url": null})).await;
    assert_eq!(reset["data"]["callback_url"], app.callback_url());
    let r = app.http.get(app.connect_url("idp", "u2", "")).send().await.unwrap();
    assert_eq!(
        redirect_uri_of(r.headers()["location"].to_str().unwrap()),
        app.callback_url()
    );
}

#[tokio::test]
async fn webhook_settings_are_kept_and_a_bad_value_changes_nothing() {
    let app = spawn_app().await;
    let (_, fresh) = app.backend(Method::GET, "/environment", None).await;
    assert_eq!(fresh["data"]["webhook_url"], Value::Null);
    assert_eq!(
        fresh["data"]["webhook_events"],
        json!(["creation", "override", "refresh_failed", "refresh_recovered"])
    );
    let (status, set) = patch(
        &app,
        json!({"webhook_url": "https://hooks.example.com/latchkey", "webhook_events": ["refresh_failed", "creation", "creation"]}),
    )
    .await;
    assert_eq!(status, 200, "{set}");
    assert_eq!(set["data"]["webhook_url"], "https://hooks.example.com/latchkey");
    assert_eq!(set["data"]["webhook_events"], json!(["creation", "refresh_failed"]));

    for bad in [
        json!({"hmac_enabled": true, "webhook_url": "http://hooks.example.com/plain"}),
        json!({"hmac_enabled": true, "callback_url": "https://u:p@auth.example.com/cb"}),
        json!({"hmac_enabled": true, "webhook_events": ["sync"]}),
        json!({"hmac_enabled": true, "rotation_grace_seconds": -5}),
        json!({"hmac_enabled": true, "rotate_keys": ["root_key"]}),
    ] {
        let (status, body) = patch(&app, bad.clone()).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("invalid_body")),
            "{bad}: {body}"
        );
    }
    let (_, now) = app.backend(Method::GET, "/environment", None).await;
    assert_eq!(
        now["data"]["hmac_enabled"], false,
        "nothing of a refused patch was written"
    );
    assert_eq!(now["data"]["webhook_url"], "https://hooks.example.com/latchkey");
    let changes: Vec<Value> = app
        .activity(None)
        .await
        .into_iter()
        .filter(|e| e["operation"] == "environment")
        .collect();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["message"], "Changed webhook_url, webhook_events.");
}

#[tokio::test]
async fn a_rotated_secret_key_replaces_the_old_one_after_its_grace_period() {
    let app = spawn_app().await;
    let old = app.secret_key();
    let (status, body) = patch(
        &app,
        json!({"rotate_keys": ["secret_key"], "rotation_grace_seconds": 3600}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let new = body["data"]["rotated_keys"]["secret_key"].as_str().unwrap().to_owned();
    assert!(new.starts_with("lk_sk_") && new != old);
    assert_eq!(body["data"]["rotated_keys"].as_object().unwrap().len(), 1);
    assert!(body["data"]["previous_secret_key_expires_at"].is_string());

    let read = |key: String| {
        let app = &app;
        async move {
            let r = app
                .http
                .get(app.url("/environment"))
                .bearer_auth(key)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.text().await.unwrap())
        }
    };
    let (status, shown) = read(new.clone()).await;
    assert_eq!(status, 200);
    assert_no_secret(&shown, &[&new, &old]);
    assert_eq!(
        read(old.clone()).await.0,
        200,
        "the previous key works during the grace period"
    );
    assert_eq!(app.secret_key(), new, "this process uses the new key");

    // The previous key may still call the API, but not mint the keys that replace it.
    let r = app
        .http
        .patch(app.url("/environment"))
        .bearer_auth(&old)
        .json(&json!({"rotate_keys": ["secret_key"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let refused: Value = r.json().await.unwrap();
    assert_eq!(refused["error"]["code"], "key_management_forbidden");

    app.clock.advance(time::Duration::hours(1));
    let (status, body) = read(old.clone()).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("invalid_secret_key"));
    assert_eq!(read(new.clone()).await.0, 200);

    let rotated: Vec<Value> = app
        .activity(None)
        .await
        .into_iter()
        .filter(|e| e["event"] == "keys_rotated")
        .collect();
    assert_eq!(rotated.len(), 1);
    assert_no_secret(&rotated[0].to_string(), &[&new, &old]);
}

#[tokio::test]
async fn rotating_without_grace_and_rotating_the_frontend_keys_take_effect_at_once() {
    let app = spawn_app().await;
    let (old_secret, old_public, old_hmac) = (app.secret_key(), app.public_key(), app.hmac_key());
    let (status, body) = patch(
        &app,
        json!({"rotate_keys": ["secret_key", "public_key", "hmac_key"], "rotation_grace_seconds": 0}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let rotated = &body["data"]["rotated_keys"];
    assert_eq!(body["data"]["previous_secret_key_expires_at"], Value::Null);
    assert_eq!(body["data"]["public_key"], rotated["public_key"]);
    let r = app
        .http
        .get(app.url("/environment"))
        .bearer_auth(&old_secret)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_ne!(app.public_key(), old_public);
    assert_ne!(app.hmac_key(), old_hmac);
    // A connect request with the old public key is refused; with the new one it is not.
    let old_url = format!(
        "{}/oauth/connect/none?public_key={old_public}&connection_id=u1",
        app.address
    );
    let r = app.http.get(old_url).send().await.unwrap();
    let refused: Value = r.json().await.unwrap();
    assert_eq!(refused["error"]["code"], "invalid_auth_token");
    let r = app.http.get(app.connect_url("none", "u1", "")).send().await.unwrap();
    let unknown: Value = r.json().await.unwrap();
    assert_eq!(
        unknown["error"]["code"], "unknown_provider_config",
        "the new key passed"
    );
}
