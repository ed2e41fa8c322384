//! A browser flow is bound to the browser that started it: `/oauth/connect` sets a cookie
//! holding the SHA-256 of the flow's state, and the callback requires it. The attack is login
//! CSRF: an attacker starts a flow for a connection id of their choosing and has a victim's
//! browser finish it, so the victim's account lands on the attacker's connection. A callback
//! opened in another browser is refused (`state_err`), stores nothing, and leaves the flow for
//! the browser that started it. (`tests/browser/binding.browser.test.mjs` plays the same in
//! Chromium, through a custom callback domain's redirect too.)

use latchkey_tests::{spawn_app_with_oidc, Browser, TestApp};
use serde_json::Value;

async fn stack() -> TestApp {
    spawn_app_with_oidc("idp").await.0
}

#[tokio::test]
async fn a_callback_opened_in_another_browser_is_refused_and_the_flow_survives() {
    let app = stack().await;
    let attacker = Browser::new(&app.callback_url());
    let victim = Browser::new(&app.callback_url());
    let provider_url = attacker.begin(&app.connect_url("idp", "attackers-conn", ""), &[]).await;

    // The victim is lured to the provider's authorization URL and signs in with their account:
    // the provider sends the victim's browser to the callback.
    let landing = victim.visit(&provider_url).await;
    let callback = victim.authorize(landing, "victim").await;
    let page = victim.finish(&callback).await;
    assert_eq!((page.status, page.error_type()), (400, "state_err"));
    let description = page.message["error_desc"].as_str().unwrap();
    assert!(description.contains("another browser"), "{description}");
    app.assert_not_stored("idp", "attackers-conn").await;
    let refused = app.failed_activity(None, "state_err").await;
    assert!(refused["connection_id"].is_null(), "{refused}");

    // The same for a callback URL the attacker completed and forwarded (login CSRF proper).
    let landing = attacker.visit(&provider_url).await;
    let forwarded = attacker.authorize(landing, "mallory").await;
    assert_eq!(victim.finish(&forwarded).await.error_type(), "state_err");
    app.assert_not_stored("idp", "attackers-conn").await;

    // Neither refusal spent the flow: in the browser that started it, it completes.
    let page = attacker.finish(&forwarded).await;
    assert!(page.is_success(), "{:?}", page.message);
}

#[tokio::test]
async fn the_flow_cookie_is_http_only_lax_scoped_to_the_callback_and_lives_as_long_as_the_flow() {
    let app = stack().await;
    let response = app.http.get(app.connect_url("idp", "u1", "")).send().await.unwrap();
    assert_eq!(response.status(), 302);
    let location = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    let state: String = location
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let cookies: Vec<&str> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    let attributes: Vec<&str> = cookies[0].split("; ").collect();
    let hash = latchkey::signing::sha256_hex(state.as_bytes());
    assert_eq!(
        attributes[0],
        format!("latchkey_flow_{}={hash}", &hash[..16]),
        "a hash of the state, never the state"
    );
    assert!(!cookies[0].contains(&state));
    for expected in ["Path=/oauth/callback", "Max-Age=600", "HttpOnly", "SameSite=Lax"] {
        assert!(attributes.contains(&expected), "{expected} in {cookies:?}");
    }
    assert!(
        !attributes.contains(&"Secure"),
        "plain http locally; https deployments add Secure"
    );
}

#[tokio::test]
async fn flows_started_side_by_side_in_one_browser_each_keep_their_cookie() {
    let app = stack().await;
    let browser = Browser::new(&app.callback_url());
    let first = browser.start(&app.connect_url("idp", "tab-1", ""), &[]).await;
    let second = browser.start(&app.connect_url("idp", "tab-2", ""), &[]).await;
    let first = browser.authorize(first, "alice").await;
    let second = browser.authorize(second, "alice").await;
    // Finished in the other order: each callback finds its own cookie.
    let pages = [browser.finish(&second).await, browser.finish(&first).await];
    let ids: Vec<&Value> = pages.iter().map(|p| &p.message["connectionId"]).collect();
    assert_eq!(
        ids,
        ["tab-2", "tab-1"],
        "{:?}",
        pages.iter().map(|p| &p.message).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_cookie_of_another_flow_does_not_open_this_one() {
    let app = stack().await;
    let attacker = Browser::new(&app.callback_url());
    // The attacker's own flow gives a cookie the attacker knows; it names the other flow.
    attacker.begin(&app.connect_url("idp", "own", ""), &[]).await;
    let provider_url = attacker.begin(&app.connect_url("idp", "target", ""), &[]).await;
    let victim = Browser::new(&app.callback_url());
    let landing = victim.visit(&provider_url).await;
    let callback = victim.authorize(landing, "victim").await;
    // A cookie header copied from elsewhere, under the right name but the other flow's value.
    let state: String = url::Url::parse(&callback)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let hash = latchkey::signing::sha256_hex(state.as_bytes());
    let forged = format!(
        "latchkey_flow_{}={}",
        &hash[..16],
        latchkey::signing::sha256_hex(b"own")
    );
    let response = app.http.get(&callback).header("Cookie", forged).send().await.unwrap();
    assert_eq!(response.status(), 400);
    let page = latchkey_tests::ResultPage::parse(400, response.text().await.unwrap());
    assert_eq!(page.error_type(), "state_err");
    app.assert_not_stored("idp", "target").await;
}
