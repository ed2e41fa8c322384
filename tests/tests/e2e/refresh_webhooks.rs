//! The refresh path's auth webhooks end to end, against oidc-provider behind a fault peer that
//! refuses refreshes on demand (`invalid_grant`, as a revoked grant does, without revoking the
//! real one): a refused refresh sends `refresh_failed` (`operation: "refresh"`, `success:
//! false`, the error a read now answers), on a read and from the scheduler's worker job; the
//! next success sends `refresh_recovered` (`success: true`) once; backing off and plain
//! refreshes send nothing. Each webhook is checked by the receiver's own HMAC; the attempts and
//! deliveries are in the activity log, filtered by `GET /logs`. On SQLite (20-e2e) and on DynamoDB + SQS on moto (40-aws).

use latchkey_tests::receiver::{assert_signed, spawn_webhook_app};
use latchkey_tests::{assert_no_secret, oidc_peer, Fault, FaultPeer, TestApp, WebhookReceiver};
use reqwest::Method;
use serde_json::{json, Value};
use time::Duration;

const KEY: &str = "idp";

/// A stack sending every event to a receiver, with connection `id` (tagged) connected through
/// a fault peer in front of oidc-provider's token endpoint; its creation webhook delivered.
async fn connected(id: &str) -> (TestApp, WebhookReceiver, FaultPeer) {
    let app = spawn_webhook_app().await;
    let receiver = WebhookReceiver::start().await;
    let (status, v) = app
        .backend(
            Method::PATCH,
            "/environment",
            Some(&json!({"webhook_url": receiver.url})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let (fault, _) = FaultPeer::in_front_of_oidc(&app, KEY).await;
    app.connect_through_provider(KEY, id, id).await;
    let (status, v) = app
        .backend(
            Method::PATCH,
            &format!("/connections/{id}?provider_config_key={KEY}"),
            Some(&json!({"tags": {"plan": "team"}})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let got = receiver.until(&app, 1).await;
    assert_eq!(got[0].json()["operation"], "creation");
    (app, receiver, fault)
}

/// What every auth webhook of connection `id` carries.
fn common(id: &str) -> Value {
    json!({
        "from": "nango", "type": "auth", "connectionId": id, "providerConfigKey": KEY,
        "provider": "custom-oauth2", "authMode": "OAUTH2", "environment": "test",
        "operation": "refresh", "tags": {"plan": "team"},
    })
}

fn with(mut base: Value, extra: Value) -> Value {
    base.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    base
}

/// Checks a `refresh_failed` webhook: Nango's body with the error a read answers now.
fn assert_refresh_failed(app: &TestApp, delivery: &latchkey_tests::Delivery, id: &str, code: &str) {
    assert_signed(app, delivery);
    let mut body = delivery.json();
    let description = body["error"]["description"].as_str().unwrap_or_default().to_owned();
    assert!(description.contains("invalid_grant"), "{body}");
    body["error"]["description"] = json!("…");
    assert_eq!(
        body,
        with(
            common(id),
            json!({"success": false, "error": {"type": code, "description": "…"}})
        )
    );
}

/// The connection's activity entries of `operation`: (event, error_code).
async fn entries(app: &TestApp, id: &str, operation: &str) -> Vec<(String, String)> {
    app.activity(Some(id))
        .await
        .into_iter()
        .filter(|e| e["operation"] == operation)
        .map(|e| {
            let field = |k: &str| e[k].as_str().unwrap_or("").to_owned();
            (field("event"), field("error_code"))
        })
        .collect()
}

#[tokio::test]
async fn a_refused_refresh_on_read_sends_refresh_failed_and_the_next_success_refresh_recovered() {
    let (app, receiver, fault) = connected("w").await;
    let (before, refresh_token) = app.tokens(KEY, "w", "").await;

    // The provider refuses: the read answers 424, and the webhook says what reads now answer.
    fault.set(Some(Fault::ErrorIn200));
    app.clock.advance(Duration::minutes(61));
    app.assert_read_fails(KEY, "w", "", 424, "connection_refresh_backoff")
        .await;
    let got = receiver.until(&app, 2).await;
    assert_refresh_failed(&app, &got[1], "w", "connection_refresh_backoff");
    assert_no_secret(&got[1].body, &[&before, refresh_token.as_deref().unwrap()]);

    // Backing off, nothing new is asked or announced.
    let hits = fault.hits();
    assert_eq!(app.read_connection(KEY, "w", "").await.0, 424);
    app.run_jobs().await;
    assert_eq!((fault.hits(), receiver.deliveries().len()), (hits, 2));

    // The provider accepts again: a forced read refreshes, and the connection has recovered.
    fault.set(None);
    let (after, _) = app.tokens(KEY, "w", "&force_refresh=true").await;
    assert_ne!(after, before);
    assert_eq!(oidc_peer().userinfo(&after).await.0, 200);
    let got = receiver.until(&app, 3).await;
    assert_signed(&app, &got[2]);
    assert_eq!(got[2].json(), with(common("w"), json!({"success": true})));
    assert_ne!(
        got[1].header("latchkey-webhook-id"),
        got[2].header("latchkey-webhook-id")
    );

    // A refresh that clears no failure announces nothing.
    app.tokens(KEY, "w", "&force_refresh=true").await;
    app.run_jobs().await;
    assert_eq!(receiver.deliveries().len(), 3);

    let mut refreshes = entries(&app, "w", "refresh").await;
    refreshes.sort();
    let entry = |event: &str, code: &str| (event.to_owned(), code.to_owned());
    assert_eq!(
        refreshes,
        [
            entry("failed", "invalid_grant"),
            entry("recovered", ""),
            entry("refreshed", ""),
            entry("refreshed", ""),
        ]
    );
    // GET /logs filters them: the failed refresh alone, and the webhooks' deliveries.
    let (status, page) = app
        .backend(Method::GET, "/logs?connection_id=w&operation=refresh&level=error", None)
        .await;
    assert_eq!(status, 200, "{page}");
    let failed: Vec<(&str, &str)> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["event"].as_str().unwrap(), e["error_code"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(failed, [("failed", "invalid_grant")], "{page}");
    let (_, page) = app
        .backend(Method::GET, "/logs?connection_id=w&operation=webhook", None)
        .await;
    assert!(page["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["operation"] == "webhook"));
    let webhooks = entries(&app, "w", "webhook").await;
    let delivered = webhooks.iter().filter(|(event, _)| event == "delivered").count();
    let queued = webhooks.iter().filter(|(event, _)| event == "queued").count();
    assert_eq!((queued, delivered), (3, 3), "{webhooks:?}");
}

#[tokio::test]
async fn the_schedulers_refresh_job_announces_a_refusal_and_then_gives_up_with_exhausted() {
    let (app, receiver, fault) = connected("s").await;
    app.tokens(KEY, "s", "").await; // a read: the connection is hot, renewed ahead of reads
    fault.set(Some(Fault::ErrorIn200));
    app.clock.advance(Duration::minutes(41));
    assert_eq!(app.run_scheduler().await.enqueued, 1);
    app.run_jobs().await;
    let got = receiver.until(&app, 2).await;
    assert_refresh_failed(&app, &got[1], "s", "connection_refresh_backoff");

    // Each refusal is announced; the last one says Latchkey stopped asking.
    for n in 3..=4 {
        app.clock.advance(Duration::minutes(70));
        let (status, _) = app.read_connection(KEY, "s", "").await;
        assert_eq!(status, 424);
        let got = receiver.until(&app, n).await;
        assert_eq!(got.len(), n);
    }
    let got = receiver.deliveries();
    assert_refresh_failed(&app, &got[3], "s", "connection_refresh_exhausted");
    app.clock.advance(Duration::days(1));
    assert_eq!(app.run_scheduler().await.due, 0, "given up: not due again");
    app.run_jobs().await;
    assert_eq!(receiver.deliveries().len(), 4);
}
