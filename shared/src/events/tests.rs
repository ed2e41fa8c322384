//! Events and their delivery on the local stack (SQLite, the store-backed queue and its
//! runner), against a receiver on a loopback port, with a clock the tests move: what is sent
//! and signed, when nothing is, the retry schedule (backoff, `Retry-After`, waits longer than
//! the queue's delays), refusals, giving up, and a queue that is down when the event happens.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use time::Duration;

use super::*;
use crate::clock::ShiftedClock;
use crate::config::Config;
use crate::jobs::local::Runner;
use crate::signing::{hmac_sha256_hex, verify_webhook, SignatureCheck};
use crate::store::{ActivityFilter, ConnectionRecord, EnvironmentSettings};

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    body: String,
}

/// What the receiver answers next: a status and, maybe, a `Retry-After`.
type Script = Arc<Mutex<VecDeque<(u16, Option<String>)>>>;

/// Answers each request with the next status of its script (200 once the script is done),
/// with a `Retry-After` where one is given.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    async fn start(script: &[(u16, Option<&str>)]) -> Receiver {
        let got = Arc::new(Mutex::new(Vec::new()));
        let script: Script = Arc::new(Mutex::new(
            script.iter().map(|(s, r)| (*s, r.map(str::to_owned))).collect(),
        ));
        let (log, next) = (got.clone(), script.clone());
        let app = Router::new().route(
            "/hook",
            post(move |headers: HeaderMap, body: String| {
                let (log, next) = (log.clone(), next.clone());
                async move {
                    log.lock().unwrap().push(Received { headers, body });
                    let (status, retry_after) = next.lock().unwrap().pop_front().unwrap_or((200, None));
                    let mut answer = HeaderMap::new();
                    if let Some(r) = retry_after {
                        answer.insert("retry-after", r.parse().unwrap());
                    }
                    (StatusCode::from_u16(status).unwrap(), answer, "ok")
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { url, got }
    }
    fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}

struct Stack {
    state: AppState,
    runner: Runner,
    clock: Arc<ShiftedClock>,
    _dir: tempfile::TempDir,
}

fn stack(configure: impl FnOnce(&mut Config)) -> Stack {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new("test", "http://127.0.0.1:3003".parse().unwrap(), None);
    config.allow_private_addresses = true;
    configure(&mut config);
    let local = crate::local::open(dir.path(), config).unwrap();
    let clock = Arc::new(ShiftedClock::default());
    let state = local.state.with_clock(clock.clone());
    Stack {
        runner: local.jobs.with_state(state.clone()),
        state,
        clock,
        _dir: dir,
    }
}

impl Stack {
    async fn send_to(&self, url: Option<&str>, events: Vec<WebhookEvent>) {
        let settings = EnvironmentSettings {
            webhook_url: url.map(str::to_owned),
            webhook_events: events,
            ..Default::default()
        };
        self.state.store.put_settings(&settings).await.unwrap();
    }
    async fn run(&self) -> usize {
        self.runner.drain(100).await.total()
    }
    /// Moves the clock by `by`, runs what is due, and says how many requests `receiver` got.
    async fn after(&self, by: Duration, receiver: &Receiver) -> usize {
        self.clock.advance(by);
        self.run().await;
        receiver.got().len()
    }
    async fn webhook_activity(&self) -> Vec<(String, String)> {
        let filter = ActivityFilter {
            limit: 100,
            before: Some(crate::store::ActivityCursor::newest(self.state.clock.now())),
            ..Default::default()
        };
        let mut entries: Vec<_> = crate::activity::list(&self.state, &filter)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.operation == OPERATION)
            .collect();
        entries.reverse();
        entries.into_iter().map(|e| (e.event, e.message)).collect()
    }
}

fn record(end_user: Option<Value>) -> ConnectionRecord {
    let mut record = crate::store::conformance::connection("crm", "c-1");
    record.end_user = end_user;
    record.tags = json!({"plan": "team"}).as_object().unwrap().clone();
    record
}

fn header<'a>(r: &'a Received, name: &str) -> &'a str {
    r.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

#[tokio::test]
async fn an_event_is_delivered_signed_with_nangos_body() {
    let s = stack(|_| {});
    let receiver = Receiver::start(&[]).await;
    s.send_to(Some(&receiver.url), WebhookEvent::all()).await;
    let end_user = json!({"id": "u-1", "email": "u1@example.com", "organization": {"id": "org-9"}});
    emit(
        &s.state,
        ConnectionEvent::stored(&record(Some(end_user)), Upsert::Created),
    )
    .await;
    assert_eq!(receiver.got().len(), 0, "sent by the job, not by the emitting request");
    assert_eq!(s.run().await, 1);

    let got = receiver.got();
    assert_eq!(got.len(), 1);
    let r = &got[0];
    let body: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        body,
        json!({
            "from": "nango", "type": "auth", "connectionId": "c-1", "providerConfigKey": "crm",
            "provider": "custom-oauth2", "authMode": "OAUTH2", "environment": "test",
            "operation": "creation", "success": true,
            "endUser": {"endUserId": "u-1", "organizationId": "org-9", "endUserEmail": "u1@example.com", "tags": {}},
            "tags": {"plan": "team"},
        })
    );
    let keys = s.state.keys.cached();
    let key = keys.webhook_signing_key.expose();
    assert_eq!(header(r, "content-type"), "application/json");
    assert_eq!(
        header(r, "x-nango-hmac-sha256"),
        hmac_sha256_hex(key.as_bytes(), r.body.as_bytes())
    );
    let ts: i64 = header(r, "latchkey-timestamp").parse().unwrap();
    let id = header(r, "latchkey-webhook-id");
    assert_eq!(header(r, "latchkey-webhook-attempt"), "1");
    let sig = header(r, "latchkey-signature");
    let now = s.state.clock.now().unix_timestamp();
    assert_eq!(
        verify_webhook(key, id, ts, sig, r.body.as_bytes(), now),
        SignatureCheck::Valid
    );
    assert_eq!(
        verify_webhook(key, id, ts, sig, r.body.as_bytes(), now + 301),
        SignatureCheck::Stale,
        "replayed after the window"
    );
    assert!(header(r, "user-agent").starts_with("latchkey/"));

    let events: Vec<String> = s.webhook_activity().await.into_iter().map(|(e, _)| e).collect();
    assert_eq!(events, ["queued", "delivered"]);
    let text = format!("{:?}", s.webhook_activity().await);
    assert!(
        !text.contains(&receiver.url) && !text.contains("127.0.0.1"),
        "never the URL: {text}"
    );
}

#[tokio::test]
async fn nothing_is_queued_without_a_url_or_for_an_event_not_sent() {
    let s = stack(|_| {});
    let receiver = Receiver::start(&[]).await;
    emit(&s.state, ConnectionEvent::stored(&record(None), Upsert::Created)).await;
    s.send_to(Some(&receiver.url), vec![WebhookEvent::RefreshFailed]).await;
    emit(&s.state, ConnectionEvent::stored(&record(None), Upsert::Replaced)).await;
    assert_eq!(s.run().await, 0);
    assert!(s.webhook_activity().await.is_empty());

    let failed = crate::error::Error::invalid(ErrorCode::InvalidCredentials, "The refresh token was revoked.");
    emit(&s.state, ConnectionEvent::refresh_failed(&record(None), &failed)).await;
    emit(&s.state, ConnectionEvent::refresh_recovered(&record(None))).await;
    assert_eq!(s.run().await, 1, "only the kind the environment sends");
    let body: Value = serde_json::from_str(&receiver.got()[0].body).unwrap();
    assert_eq!(
        (body["operation"].as_str(), body["success"].as_bool()),
        (Some("refresh"), Some(false))
    );
    assert_eq!(
        body["error"],
        json!({"type": "invalid_credentials", "description": "The refresh token was revoked."})
    );
    assert!(body.get("endUser").is_none());
}

#[tokio::test]
async fn a_failing_receiver_is_retried_with_backoff_and_retry_after_until_one_success() {
    let s = stack(|_| {});
    let receiver = Receiver::start(&[(500, None), (503, Some("120"))]).await;
    s.send_to(Some(&receiver.url), WebhookEvent::all()).await;
    emit(&s.state, ConnectionEvent::refresh_recovered(&record(None))).await;
    s.run().await;
    assert_eq!(receiver.got().len(), 1);

    // The first retry waits 30 s plus at most a tenth; then the receiver asked for 120 s.
    assert_eq!(
        s.after(Duration::seconds(29), &receiver).await,
        1,
        "not before the backoff"
    );
    assert_eq!(s.after(Duration::seconds(5), &receiver).await, 2);
    assert_eq!(
        s.after(Duration::seconds(100), &receiver).await,
        2,
        "Retry-After is respected"
    );
    assert_eq!(s.after(Duration::seconds(21), &receiver).await, 3);
    assert_eq!(s.after(Duration::hours(2), &receiver).await, 3);

    let got = receiver.got();
    assert_eq!(got.len(), 3, "exactly one successful delivery");
    let ids: Vec<&str> = got.iter().map(|r| header(r, "latchkey-webhook-id")).collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "one id for every attempt: {ids:?}");
    let attempts: Vec<&str> = got.iter().map(|r| header(r, "latchkey-webhook-attempt")).collect();
    assert_eq!(attempts, ["1", "2", "3"]);
    assert!(got.iter().all(|r| r.body == got[0].body), "the same bytes every time");
    assert_ne!(
        header(&got[0], "latchkey-timestamp"),
        header(&got[2], "latchkey-timestamp")
    );

    let activity = s.webhook_activity().await;
    let events: Vec<&str> = activity.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(events, ["queued", "attempt_failed", "attempt_failed", "delivered"]);
    assert!(activity[1].1.starts_with("Attempt 1: HTTP 500"), "{activity:?}");
    assert!(
        activity[2].1.contains("HTTP 503") && activity[2].1.contains("attempt 3 in 120 s"),
        "{activity:?}"
    );
    assert!(activity[3].1.starts_with("Attempt 3: HTTP 200"), "{activity:?}");
}

#[tokio::test]
async fn a_refusal_is_not_retried_and_a_receiver_that_keeps_failing_is_given_up() {
    let s = stack(|c| c.webhooks.attempts = 3);
    let refusing = Receiver::start(&[(404, None)]).await;
    s.send_to(Some(&refusing.url), WebhookEvent::all()).await;
    emit(&s.state, ConnectionEvent::stored(&record(None), Upsert::Created)).await;
    s.run().await;
    s.clock.advance(Duration::hours(3));
    s.run().await;
    assert_eq!(refusing.got().len(), 1, "a 404 is the receiver's answer");
    let activity = s.webhook_activity().await;
    assert_eq!(activity.last().unwrap().0, "failed");
    assert!(activity.last().unwrap().1.contains("HTTP 404") && activity.last().unwrap().1.contains("not retried"));

    let s = stack(|c| c.webhooks.attempts = 3);
    let down = Receiver::start(&[(500, None), (502, None), (500, None), (500, None)]).await;
    s.send_to(Some(&down.url), WebhookEvent::all()).await;
    emit(&s.state, ConnectionEvent::stored(&record(None), Upsert::Created)).await;
    for _ in 0..6 {
        s.run().await;
        s.clock.advance(Duration::hours(1));
    }
    assert_eq!(down.got().len(), 3, "attempts are bounded");
    let (event, message) = s.webhook_activity().await.pop().unwrap();
    assert_eq!(event, "failed");
    assert!(message.contains("gave up after 3 attempts"), "{message}");
}

#[tokio::test]
async fn a_wait_longer_than_the_queues_delays_is_waited_out() {
    let s = stack(|c| c.webhooks.first_retry = Duration::minutes(40));
    let receiver = Receiver::start(&[(500, None)]).await;
    s.send_to(Some(&receiver.url), WebhookEvent::all()).await;
    emit(&s.state, ConnectionEvent::stored(&record(None), Upsert::Created)).await;
    s.run().await;
    // Visible after the queue's 15 minutes, then waits on; sent after 40 (+ jitter).
    s.clock.advance(Duration::minutes(16));
    assert_eq!(s.run().await, 1, "woken, and re-enqueued");
    assert_eq!(
        s.after(Duration::minutes(16), &receiver).await,
        1,
        "not before its time"
    );
    assert_eq!(s.after(Duration::minutes(16), &receiver).await, 2);
}

#[tokio::test]
async fn settings_changed_meanwhile_decide_each_attempt() {
    let s = stack(|_| {});
    let first = Receiver::start(&[(500, None)]).await;
    let second = Receiver::start(&[]).await;
    s.send_to(Some(&first.url), WebhookEvent::all()).await;
    emit(&s.state, ConnectionEvent::stored(&record(None), Upsert::Created)).await;
    s.run().await;
    // The operator fixes the URL: the retry goes to the new one.
    s.send_to(Some(&second.url), WebhookEvent::all()).await;
    s.clock.advance(Duration::minutes(1));
    s.run().await;
    assert_eq!((first.got().len(), second.got().len()), (1, 1));

    // Removed, or no longer sent: skipped.
    emit(&s.state, ConnectionEvent::stored(&record(None), Upsert::Created)).await;
    s.send_to(None, WebhookEvent::all()).await;
    s.run().await;
    assert_eq!(second.got().len(), 1);
    assert_eq!(s.webhook_activity().await.last().unwrap().0, "skipped");
}

#[tokio::test]
async fn an_event_whose_job_cannot_be_queued_is_recorded_and_the_operation_goes_on() {
    let s = stack(|_| {});
    let receiver = Receiver::start(&[]).await;
    s.send_to(Some(&receiver.url), WebhookEvent::all()).await;
    let no_queue = s.state.clone().with_jobs(Arc::new(crate::queue::NoQueue));
    emit(&no_queue, ConnectionEvent::stored(&record(None), Upsert::Created)).await;
    let filter = ActivityFilter {
        limit: 10,
        before: Some(crate::store::ActivityCursor::newest(s.state.clock.now())),
        ..Default::default()
    };
    let entries = crate::activity::list(&s.state, &filter).await.unwrap();
    let failed = entries.iter().find(|e| e.operation == OPERATION).unwrap();
    assert_eq!(failed.event, "failed");
    assert_eq!(failed.error_code.as_deref(), Some("service_unavailable"));
    assert!(failed.message.contains("not sent"), "{}", failed.message);
    assert_eq!(s.run().await, 0);
}
