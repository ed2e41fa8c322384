//! Failed refreshes: refused ones are recorded on the connection, back off, give up and are
//! cleared by a success or a new authorization; unavailable providers leave the old token in
//! place while it is valid and are retried after a jittered wait.

use time::Duration;

use super::peer::Reply;
use super::{pair, stack, stack_with};
use crate::connections::failure::{REFRESH_PROBLEM, REFUSED_BACKOFF};
use crate::error::{ErrorCode, ErrorKind};
use crate::store::FailureKind;
use serde_json::json;

fn invalid_grant() -> Reply {
    Reply::Json(
        400,
        json!({"error": "invalid_grant", "error_description": "grant revoked"}),
    )
}

#[tokio::test]
async fn a_refused_refresh_backs_off_then_gives_up_and_force_asks_anyway() {
    let s = stack().await;
    s.connect("c").await;
    s.near_expiry();
    s.peer
        .script([invalid_grant(), invalid_grant(), invalid_grant(), invalid_grant()]);

    let e = s.read("c", false).await.unwrap_err();
    assert_eq!(
        (e.kind, e.code),
        (ErrorKind::ProviderRefused, ErrorCode::ConnectionRefreshBackoff)
    );
    assert!(e.message.contains("invalid_grant"), "{}", e.message);
    let (record, _) = s.stored("c").await.unwrap();
    let failure = record.refresh_failure.clone().unwrap();
    assert_eq!(
        (failure.kind, failure.attempts, failure.cause.as_str()),
        (FailureKind::Refused, 1, "invalid_grant")
    );
    assert_eq!(record.errors.len(), 1);
    assert_eq!(record.errors[0].kind, REFRESH_PROBLEM);
    assert_eq!(
        record.errors[0].log_id, failure.log_id,
        "errors point at the attempt's activity"
    );

    // During the backoff: answered at once, the provider left alone.
    for _ in 0..5 {
        assert_eq!(
            s.read("c", false).await.unwrap_err().code,
            ErrorCode::ConnectionRefreshBackoff
        );
    }
    assert_eq!(s.peer.hits(), 1);

    s.clock.advance(REFUSED_BACKOFF[0]);
    assert_eq!(
        s.read("c", false).await.unwrap_err().code,
        ErrorCode::ConnectionRefreshBackoff
    );
    assert_eq!(s.peer.hits(), 2, "asked again after the backoff");
    s.clock.advance(REFUSED_BACKOFF[1]);
    let e = s.read("c", false).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::ConnectionRefreshExhausted, "{}", e.message);
    s.clock.advance(Duration::days(30));
    assert_eq!(
        s.read("c", false).await.unwrap_err().code,
        ErrorCode::ConnectionRefreshExhausted
    );
    assert_eq!(s.peer.hits(), 3, "given up: no more calls");

    // force_refresh asks anyway; refused again it stays exhausted, granted it recovers.
    assert_eq!(
        s.read("c", true).await.unwrap_err().code,
        ErrorCode::ConnectionRefreshExhausted
    );
    assert_eq!(s.peer.hits(), 4);
    assert_eq!(s.tokens("c", true).await, pair("at-1", "rt-1"));
    let (record, _) = s.stored("c").await.unwrap();
    assert_eq!(
        (record.refresh_failure, record.errors),
        (None, vec![]),
        "a success clears the errors"
    );
    let events: Vec<String> = s.refresh_activity("c").await.into_iter().map(|e| e.event).collect();
    assert_eq!(
        events,
        ["failed", "failed", "failed", "failed", "refreshed", "recovered"]
    );
    let activity = s.refresh_activity("c").await;
    assert!(
        activity[..4]
            .iter()
            .all(|e| e.error_code.as_deref() == Some("invalid_grant")),
        "{activity:?}"
    );
}

#[tokio::test]
async fn a_fresh_token_of_a_failed_connection_is_still_answered_and_listed_with_its_error() {
    let s = stack().await;
    s.connect("c").await;
    s.peer.script([invalid_grant()]);
    assert_eq!(
        s.read("c", true).await.unwrap_err().code,
        ErrorCode::ConnectionRefreshBackoff
    );
    let (record, credentials) = s.read("c", false).await.unwrap();
    assert_eq!(
        super::tokens_of(&credentials),
        pair("at-0", "rt-0"),
        "nothing to refresh yet"
    );
    assert_eq!(record.errors.len(), 1, "but the failure shows");
}

#[tokio::test]
async fn a_new_authorization_clears_a_refused_refresh() {
    let s = stack().await;
    s.connect("c").await;
    s.near_expiry();
    s.peer.script([invalid_grant()]);
    assert!(s.read("c", false).await.is_err());
    s.authorize("c", "at-again", "rt-0").await;
    let (record, credentials) = s.read("c", false).await.unwrap();
    assert_eq!(super::tokens_of(&credentials).0, "at-again");
    assert_eq!((record.refresh_failure, record.errors), (None, vec![]));
}

#[tokio::test]
async fn an_unavailable_provider_leaves_the_valid_token_and_is_retried_after_a_wait() {
    let s = stack().await;
    s.connect("c").await;
    s.near_expiry();
    s.peer
        .script([Reply::Json(503, json!({})), Reply::Garbage, Reply::Json(500, json!({}))]);
    assert_eq!(s.tokens("c", false).await, pair("at-0", "rt-0"), "kept while valid");
    let (record, _) = s.stored("c").await.unwrap();
    let failure = record.refresh_failure.clone().unwrap();
    assert_eq!(
        (failure.kind, failure.cause.as_str()),
        (FailureKind::Unavailable, "token_http_error")
    );
    assert!(
        record.errors.is_empty(),
        "a provider that is down is not the connection's problem"
    );
    let wait = failure.next_attempt_at.unwrap() - failure.last_failure_at;
    assert!(wait >= Duration::seconds(15) && wait <= Duration::seconds(30), "{wait}");
    assert_eq!(s.tokens("c", false).await.0, "at-0");
    assert_eq!(s.peer.hits(), 1, "not before the wait ends");

    // Expired, the provider still failing: a clear retryable error, not the dead token.
    s.clock.advance(Duration::minutes(11));
    let e = s.read("c", false).await.unwrap_err();
    assert_eq!(
        (e.kind, e.code),
        (ErrorKind::ProviderUnavailable, ErrorCode::ProviderUnavailable)
    );
    assert_eq!(
        s.stored("c").await.unwrap().0.refresh_failure.unwrap().cause,
        "token_malformed"
    );
    assert_eq!(
        s.read("c", false).await.unwrap_err().code,
        ErrorCode::ProviderUnavailable
    );
    assert_eq!(s.peer.hits(), 2, "held off again");
    s.clock.advance(Duration::minutes(2));
    assert_eq!(
        s.read("c", false).await.unwrap_err().code,
        ErrorCode::ProviderUnavailable
    );
    let failure = s.stored("c").await.unwrap().0.refresh_failure.unwrap();
    assert_eq!(failure.attempts, 3);
    s.clock.advance(Duration::minutes(3));
    assert_eq!(s.tokens("c", false).await, pair("at-1", "rt-1"), "back: refreshed");
    assert_eq!(s.stored("c").await.unwrap().0.refresh_failure, None);
}

#[tokio::test]
async fn a_provider_that_times_out_is_unavailable_not_refused() {
    let s = stack_with(|c| c.provider_timeout = std::time::Duration::from_millis(200)).await;
    s.connect("c").await;
    s.near_expiry();
    s.peer.hold();
    assert_eq!(s.tokens("c", false).await, pair("at-0", "rt-0"));
    let failure = s.stored("c").await.unwrap().0.refresh_failure.unwrap();
    assert_eq!(
        (failure.kind, failure.cause.as_str()),
        (FailureKind::Unavailable, "token_timeout")
    );
}
