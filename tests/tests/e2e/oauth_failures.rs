//! Every way an OAuth flow can fail ends in an error (page or JSON), stores nothing, and leaves
//! a `failed` activity entry without a secret in it.

use std::time::Duration;

use latchkey::clock::Clock;
use latchkey::domain::{ConnectionId, IntegrationKey};
use latchkey::queue::{AttemptDeadline, Job};
use latchkey_tests::backend::Backend;
use latchkey_tests::{
    assert_no_secret, oidc_peer, spawn_app_with, spawn_app_with_oidc, Browser, Fault, FaultPeer, TestApp,
};
use serde_json::Value;

/// Status and JSON error body of a connect request that must not redirect.
async fn connect_error(app: &TestApp, url: &str) -> (u16, Value) {
    let response = app.http.get(url).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON error"))
}

#[tokio::test]
async fn a_callback_replayed_with_a_used_state_changes_nothing() {
    let (app, _) = spawn_app_with_oidc("idp").await;
    let browser = Browser::new(&app.callback_url());
    let landing = browser.start(&app.connect_url("idp", "u1", ""), &[]).await;
    let callback = browser.authorize(landing, "alice").await;
    assert!(browser.finish(&callback).await.is_success());
    let (_, before) = app.read_connection("idp", "u1", "").await;

    let replay = browser.finish(&callback).await;

    assert_eq!(replay.status, 400);
    assert_eq!(replay.error_type(), "state_err");
    let (_, after) = app.read_connection("idp", "u1", "").await;
    assert_eq!(after, before, "the stored connection is untouched");
    let failed = app.failed_activity(None, "state_err").await;
    assert!(
        failed["connection_id"].is_null(),
        "an unknown state names no connection"
    );
}

#[tokio::test]
async fn a_state_older_than_ten_minutes_is_refused() {
    let (app, _) = spawn_app_with_oidc("idp").await;
    let browser = Browser::new(&app.callback_url());
    let landing = browser.start(&app.connect_url("idp", "u1", ""), &[]).await;
    app.clock
        .advance(time::Duration::minutes(10) + time::Duration::seconds(1));

    let page = browser.finish(&browser.authorize(landing, "alice").await).await;

    assert_eq!(page.error_type(), "state_err");
    assert!(page.message["error_desc"].as_str().unwrap().contains("expired"));
    app.assert_not_stored("idp", "u1").await;
    app.failed_activity(Some("u1"), "state_err").await;
}

#[tokio::test]
async fn with_hmac_enabled_a_wrong_or_missing_digest_is_refused_and_the_right_one_works() {
    let (app, _) = spawn_app_with_oidc("idp").await;
    app.set_hmac(true).await;

    let (status, missing) = connect_error(&app, &app.connect_url("idp", "u1", "")).await;
    assert_eq!((status, missing["error"]["code"].as_str()), (401, Some("missing_hmac")));
    app.failed_activity(Some("u1"), "missing_hmac").await;

    let wrong = latchkey_tests::wire::connect_digest(&app.hmac_key(), "idp", "someone-else");
    let (status, body) = connect_error(&app, &app.connect_url("idp", "u1", &format!("hmac={wrong}"))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("invalid_hmac")));
    assert_no_secret(&body.to_string(), &[&app.hmac_key(), &wrong]);
    app.failed_activity(Some("u1"), "invalid_hmac").await;
    app.assert_not_stored("idp", "u1").await;

    let right = latchkey_tests::wire::connect_digest(&app.hmac_key(), "idp", "u1");
    let page = Browser::new(&app.callback_url())
        .connect(&app.connect_url("idp", "u1", &format!("hmac={right}")), &[], "alice")
        .await;
    assert!(page.is_success(), "{:?}", page.message);
}

#[tokio::test]
async fn a_connect_request_without_the_public_key_is_refused() {
    let (app, _) = spawn_app_with_oidc("idp").await;
    let url = app.url("/oauth/connect/idp?connection_id=u1");
    let (status, body) = connect_error(&app, &url).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("missing_auth_token"))
    );
    app.assert_not_stored("idp", "u1").await;
    app.failed_activity(Some("u1"), "missing_auth_token").await;
}

#[tokio::test]
async fn a_connect_request_with_another_environments_public_key_is_refused() {
    let (app, _) = spawn_app_with_oidc("idp").await;
    let url = app.url("/oauth/connect/idp?connection_id=u1&public_key=lk_pk_not-this-one");
    let (status, body) = connect_error(&app, &url).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("invalid_auth_token"))
    );
    app.failed_activity(Some("u1"), "invalid_auth_token").await;

    // A popup (Accept: text/html) gets the same refusal as a result page for its opener.
    let response = app
        .http
        .get(&url)
        .header("Accept", "text/html")
        .header("Referer", "https://app.example.test/x")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let page = latchkey_tests::ResultPage::parse(401, response.text().await.unwrap());
    assert_eq!(page.error_type(), "invalid_auth_token");
    assert_eq!(page.target.as_deref(), Some("https://app.example.test"));
    app.assert_not_stored("idp", "u1").await;
}

#[tokio::test]
async fn a_connect_request_for_an_unknown_integration_is_refused() {
    let (app, _) = spawn_app_with_oidc("idp").await;
    let (status, body) = connect_error(&app, &app.connect_url("nope", "u1", "")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("unknown_provider_config"))
    );
    app.failed_activity(Some("u1"), "unknown_provider_config").await;
    app.assert_not_stored("idp", "u1").await;
}

#[tokio::test]
async fn a_user_who_denies_access_at_the_provider_gets_an_access_denied_page() {
    let (app, _) = spawn_app_with_oidc("idp").await;
    let browser = Browser::new(&app.callback_url());
    let landing = browser
        .start(
            &app.connect_url("idp", "u1", ""),
            &[("Origin", "https://app.example.test")],
        )
        .await;

    let page = browser.finish(&browser.deny(landing).await).await;

    assert_eq!(page.status, 400);
    assert_eq!(page.error_type(), "access_denied");
    assert_eq!(page.message["type"], "latchkey:auth:error");
    assert_eq!(page.target.as_deref(), Some("https://app.example.test"));
    app.assert_not_stored("idp", "u1").await;
    // The provider's own words (its error_description, which anyone can put in a callback URL)
    // are the operator's: the activity entry has them, the page and the app's message do not.
    assert_eq!(
        page.message["error_desc"],
        "The provider did not grant access ('access_denied')."
    );
    let failed = app.failed_activity(Some("u1"), "access_denied").await;
    assert!(
        failed["message"].as_str().unwrap().contains("the provider said: "),
        "{failed}"
    );
}

/// Authorizes at the real provider, then exchanges the code at a failing token endpoint.
async fn flow_against_a_faulty_token_endpoint(fault: Fault, expected_status: u16) {
    let app = spawn_app_with(|c| c.provider_timeout = Duration::from_millis(700)).await;
    let client = oidc_peer()
        .register_client(&app.callback_url(), "client_secret_post")
        .await;
    let peer = FaultPeer::start(fault).await;
    app.create_integration("idp", &peer.client(&client)).await;
    let browser = Browser::new(&app.callback_url());

    let page = browser.connect(&app.connect_url("idp", "u1", ""), &[], "alice").await;

    assert_eq!(peer.hits(), 1, "{fault:?}: one token request, no retry storm");
    assert_eq!(page.status, expected_status, "{fault:?}: {}", page.html);
    assert_eq!(page.error_type(), "token_err", "{fault:?}");
    app.assert_not_stored("idp", "u1").await;
    let failed = app.failed_activity(Some("u1"), "token_err").await;
    let everything = format!(
        "{}{}",
        page.html,
        serde_json::to_string(&app.activity(None).await).unwrap()
    );
    assert_no_secret(&everything, &[&client.client_secret, &app.secret_key()]);
    assert!(
        !failed["message"].as_str().unwrap().contains("upstream exploded"),
        "no response body"
    );
}

#[tokio::test]
async fn a_token_endpoint_answering_500_ends_in_an_error_page() {
    flow_against_a_faulty_token_endpoint(Fault::ServerError, 502).await;
}

#[tokio::test]
async fn a_token_endpoint_that_never_answers_times_out_into_an_error_page() {
    flow_against_a_faulty_token_endpoint(Fault::Hang, 502).await;
}

#[tokio::test]
async fn a_token_endpoint_answering_200_with_an_error_body_is_a_failure() {
    flow_against_a_faulty_token_endpoint(Fault::ErrorIn200, 400).await;
}

/// An end user sent to the provider who never comes back (closed the popup): once the flow's
/// state has expired, the attempt gets its final entry — `failed`, `attempt_expired` — and an
/// attempt that finished gets none. By the test clock: no waiting. (Locally the job queue
/// follows that clock; SQS delays are real time, so on moto the due jobs are run as the worker
/// would once they are visible.)
#[tokio::test]
async fn an_abandoned_attempt_ends_with_an_expired_entry_and_a_finished_one_does_not() {
    let (app, _) = spawn_app_with_oidc("idp").await;
    let _abandoned = app.start_flow("idp", "gone", "").await;
    app.connect_through_provider("idp", "done", "alice").await;
    let attempt_of = |entries: &[Value]| entries.last().unwrap()["attempt_id"].as_str().unwrap().to_owned();
    let started = app.clock.now();
    let deadline = |attempt_id: String, connection: &str| {
        Job::AttemptDeadline(AttemptDeadline {
            attempt_id,
            integration: IntegrationKey::parse("idp").unwrap(),
            connection_id: ConnectionId::parse(connection).unwrap(),
            started_at: started - time::Duration::seconds(5),
            expires_at: started + time::Duration::minutes(10),
        })
    };
    let jobs = [
        deadline(attempt_of(&app.activity(Some("gone")).await), "gone"),
        deadline(attempt_of(&app.activity(Some("done")).await), "done"),
    ];
    let local = matches!(app.backend, Backend::Sqlite(_));
    if local {
        assert_eq!(app.run_jobs().await, 0, "nothing is due while the state lives");
        app.clock.advance(time::Duration::minutes(11));
        assert_eq!(
            app.run_jobs().await,
            0,
            "a callback that took the state in time may still be finishing"
        );
        app.clock.advance(time::Duration::minutes(2));
        assert_eq!(app.run_jobs().await, 2, "both attempts' deadlines");
    } else {
        app.clock.advance(time::Duration::minutes(13));
        for job in &jobs {
            latchkey::jobs::run(&app.state, job).await.unwrap();
        }
    }

    let entries = app.activity(Some("gone")).await;
    let last = &entries[0];
    assert_eq!(
        (&last["event"], &last["error_code"]),
        (&"failed".into(), &"attempt_expired".into()),
        "{entries:?}"
    );
    assert!(last["message"].as_str().unwrap().starts_with("Abandoned"), "{last}");
    assert_eq!(
        last["attempt_id"], entries[1]["attempt_id"],
        "the attempt's own entry: {entries:?}"
    );
    app.assert_not_stored("idp", "gone").await;
    let finished = app.activity(Some("done")).await;
    assert!(
        finished.iter().all(|e| e["error_code"] != "attempt_expired"),
        "{finished:?}"
    );
    // A job delivered again (at least once): still one final entry.
    latchkey::jobs::run(&app.state, &jobs[0]).await.unwrap();
    let again = app.activity(Some("gone")).await;
    assert_eq!(
        again.iter().filter(|e| e["error_code"] == "attempt_expired").count(),
        1,
        "{again:?}"
    );
}
