//! One attempt of a webhook delivery (the `DeliverWebhook` job), run by the queue's runner —
//! the `worker` Lambda on AWS, `latchkey serve`'s runner locally.
//!
//! An attempt decides where the webhook goes from the settings and the connection as they are
//! now (`destination`; none any more, or its kind no longer sent: skipped), signs the body
//! (`signing::webhook_signatures`: `X-Nango-Hmac-Sha256`, and `Latchkey-Signature` over a
//! fresh `Latchkey-Timestamp` and the delivery's `Latchkey-Webhook-Id`) and POSTs it through
//! the guarded client, bounded by `WebhookPolicy::timeout`; the answer's body is never read.
//!
//! - 2xx: delivered.
//! - No answer (in time), 408, 429, 5xx: retried — the next attempt is enqueued after the
//!   receiver's `Retry-After` or the policy's backoff (exponential, capped, jittered by the
//!   delivery id), up to `WebhookPolicy::attempts`, then given up.
//! - Any other status (a 3xx: redirects are not followed; a 4xx: the receiver refused this
//!   body, and the same signed body gets the same answer) or a URL Latchkey does not send to:
//!   failed, not retried.
//!
//! Each attempt is one activity entry under the delivery's id (`delivered`, `attempt_failed`,
//! `failed`, `skipped`), with the status or the kind of failure — never the URL, the body or a
//! signature. When the next attempt cannot be enqueued, the job fails and the queue delivers
//! this attempt again (at least once).

use time::{Duration, OffsetDateTime};

use super::{destination, OPERATION};
use crate::activity::Attempt;
use crate::config::WebhookPolicy;
use crate::error::ErrorCode;
use crate::outbound::{Method, OutboundError, Reply, Request, Target};
use crate::queue::{Job, JobError, WebhookDelivery, MAX_DELAY};
use crate::signing::webhook_signatures;
use crate::AppState;

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered(u16),
    /// Worth another attempt: why, and when the receiver asked for it (`Retry-After`).
    Retry {
        why: String,
        retry_after: Option<Duration>,
    },
    /// Not worth another attempt.
    Refused(String),
}

/// What the receiver's answer (or its absence) means.
pub fn outcome(answer: Result<Reply, OutboundError>, now: OffsetDateTime) -> Outcome {
    match answer {
        Ok(reply) if reply.is_success() => Outcome::Delivered(reply.status),
        Ok(reply) if matches!(reply.status, 408 | 429 | 500..=599) => Outcome::Retry {
            why: format!("HTTP {}", reply.status),
            retry_after: reply.headers.get("retry-after").and_then(|v| retry_after(v, now)),
        },
        Ok(reply) if (300..400).contains(&reply.status) => Outcome::Refused(format!(
            "HTTP {} (redirects are not followed; set the final URL)",
            reply.status
        )),
        Ok(reply) => Outcome::Refused(format!("HTTP {}", reply.status)),
        Err(e) if e.is_transient() => Outcome::Retry {
            why: e.to_string(),
            retry_after: None,
        },
        Err(e) => Outcome::Refused(e.to_string()),
    }
}

/// `Retry-After`: seconds, or an HTTP date (RFC 9110 §10.2.3); in the past means now.
pub fn retry_after(value: &str, now: OffsetDateTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u32>() {
        return Some(Duration::seconds(seconds.into()));
    }
    let at = OffsetDateTime::parse(value, &time::format_description::well_known::Rfc2822).ok()?;
    Some((at - now).max(Duration::ZERO))
}

/// The wait before attempt `attempt + 1`: the receiver's wish within `[1 s, max_retry]`, else
/// `first_retry · 2^(attempt-1)` capped at `max_retry`, plus up to a tenth more, chosen by the
/// delivery id (so receivers that come back are not hit by every delivery at once, and a
/// delivery's schedule is the same on every run).
pub fn next_wait(policy: &WebhookPolicy, attempt: u32, retry_after: Option<Duration>, id: &str) -> Duration {
    if let Some(asked) = retry_after {
        return asked.clamp(Duration::seconds(1), policy.max_retry);
    }
    let doubled = policy.first_retry * 2i32.pow(attempt.saturating_sub(1).min(20));
    let wait = doubled.min(policy.max_retry);
    let spread = crate::signing::sha256_hex(format!("{id}:{attempt}").as_bytes());
    let per_mille = u32::from_str_radix(&spread[..4], 16).unwrap_or(0) % 101;
    wait + wait * (f64::from(per_mille) / 1000.0)
}

/// The delivery again, `wait` from now: enqueued with the queue's longest delay at most; what
/// is left is waited out by `not_before`.
async fn enqueue_later(state: &AppState, delivery: WebhookDelivery, wait: Duration) -> Result<(), JobError> {
    let now = state.clock.now();
    let job = Job::DeliverWebhook(WebhookDelivery {
        not_before: Some(now + wait),
        ..delivery
    });
    state.jobs.enqueue(now, &[job], wait.min(MAX_DELAY)).await
}

/// Signs `body` and POSTs it once to `target` as attempt `n` of delivery `id`, bounded by
/// `WebhookPolicy::timeout`; the answer's body is never read.
pub async fn send(state: &AppState, target: Target, id: &str, n: u32, body: &str) -> Result<Reply, OutboundError> {
    let keys = state.keys.current(state.clock.now()).await;
    let now = state.clock.now().unix_timestamp();
    let signatures = webhook_signatures(keys.webhook_signing_key.expose(), id, now, body.as_bytes());
    let request = Request::new(Method::POST, target)
        .bytes("application/json", body.as_bytes().to_vec())
        .header("x-nango-hmac-sha256", signatures.nango)
        .header("latchkey-signature", signatures.latchkey)
        .header("latchkey-timestamp", now.to_string())
        .header("latchkey-webhook-id", id)
        .header("latchkey-webhook-attempt", n.to_string())
        .timeout(state.config.webhooks.timeout)
        .discard_body();
    state.outbound.send(request).await
}

/// Runs one attempt (module doc).
pub async fn run(state: &AppState, delivery: &WebhookDelivery) -> Result<(), JobError> {
    let now = state.clock.now();
    if let Some(at) = delivery.not_before.filter(|at| *at > now) {
        // Woken early (the wait is longer than the queue delays): wait on.
        return enqueue_later(state, delivery.clone(), at - now).await;
    }
    let activity = Attempt::resume(
        delivery.id.clone(),
        OPERATION,
        delivery.integration.to_string(),
        delivery.connection_id.to_string(),
    );
    let n = delivery.attempt;
    let settings = state.store.get_settings().await?;
    if !settings.webhook_events.contains(&delivery.event) {
        let message = format!(
            "Attempt {n}: not sent; the environment no longer sends '{}' webhooks.",
            delivery.event.as_str()
        );
        activity.info(state, "skipped", message).await;
        return Ok(());
    }
    let connection = state
        .store
        .get_connection(&delivery.integration, &delivery.connection_id)
        .await?;
    let webhook_url_override = connection.and_then(|c| c.webhook_url_override);
    let Some(destination) = destination::of(&settings, webhook_url_override.as_deref()) else {
        let message = format!("Attempt {n}: not sent; no webhook URL is set any more.");
        activity.info(state, "skipped", message).await;
        return Ok(());
    };
    let target = match destination.target(state.config.allow_private_addresses) {
        Ok(target) => target,
        Err(e) => {
            let message = format!("Attempt {n}: not sent; {}", e.message);
            activity.failed(state, ErrorCode::WebhookFailed, message).await;
            return Ok(());
        }
    };
    let policy = &state.config.webhooks;
    let answer = send(state, target, &delivery.id, n, &delivery.body).await;
    let to = destination.source.describe();
    match outcome(answer, now) {
        Outcome::Delivered(status) => {
            let message = format!("Attempt {n}: HTTP {status} from {to}; delivered.");
            activity.info(state, "delivered", message).await;
            Ok(())
        }
        Outcome::Refused(why) => {
            let message = format!("Attempt {n}: {why} from {to}; not retried.");
            activity.failed(state, ErrorCode::WebhookFailed, message).await;
            Ok(())
        }
        Outcome::Retry { why, .. } if n >= policy.attempts => {
            let message = format!("Attempt {n}: {why} from {to}; gave up after {n} attempts.");
            activity.failed(state, ErrorCode::WebhookFailed, message).await;
            Ok(())
        }
        Outcome::Retry { why, retry_after } => {
            let wait = next_wait(policy, n, retry_after, &delivery.id);
            let next = WebhookDelivery {
                attempt: n + 1,
                ..delivery.clone()
            };
            if let Err(e) = enqueue_later(state, next, wait).await {
                let message = format!("Attempt {n}: {why} from {to}; the next attempt could not be queued, so this one is repeated later.");
                activity
                    .error(state, "attempt_failed", ErrorCode::WebhookFailed, message)
                    .await;
                return Err(e);
            }
            let message = format!(
                "Attempt {n}: {why} from {to}; attempt {} in {} s.",
                n + 1,
                wait.whole_seconds()
            );
            activity
                .error(state, "attempt_failed", ErrorCode::WebhookFailed, message)
                .await;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn reply(status: u16, headers: &[(&str, &str)]) -> Result<Reply, OutboundError> {
        Ok(Reply {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            body: Vec::new(),
        })
    }

    #[test]
    fn statuses_decide_delivered_retried_or_refused() {
        let now = OffsetDateTime::now_utc();
        assert_eq!(outcome(reply(200, &[]), now), Outcome::Delivered(200));
        assert_eq!(outcome(reply(204, &[]), now), Outcome::Delivered(204));
        for status in [408, 429, 500, 502, 503, 599] {
            assert!(
                matches!(outcome(reply(status, &[]), now), Outcome::Retry { .. }),
                "{status}"
            );
        }
        for status in [301, 308, 400, 401, 403, 404, 410, 422] {
            assert!(
                matches!(outcome(reply(status, &[]), now), Outcome::Refused(_)),
                "{status}"
            );
        }
        assert!(matches!(
            outcome(Err(OutboundError::Timeout), now),
            Outcome::Retry { .. }
        ));
        assert!(matches!(
            outcome(Err(OutboundError::Unreachable), now),
            Outcome::Retry { .. }
        ));
        let refused = OutboundError::AddressNotAllowed {
            field: "webhook_url_override".into(),
            host: "h".into(),
            why: "a private address",
        };
        assert!(matches!(outcome(Err(refused), now), Outcome::Refused(_)));
    }

    #[test]
    fn retry_after_is_seconds_or_a_date() {
        let now = OffsetDateTime::parse(
            "Sun, 06 Nov 1994 08:49:37 GMT",
            &time::format_description::well_known::Rfc2822,
        )
        .unwrap();
        assert_eq!(retry_after("120", now), Some(Duration::seconds(120)));
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:51:37 GMT", now),
            Some(Duration::seconds(120))
        );
        assert_eq!(retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(retry_after("-5", now), None);
        match outcome(reply(503, &[("retry-after", "7")]), now) {
            Outcome::Retry { retry_after, .. } => assert_eq!(retry_after, Some(Duration::seconds(7))),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_wait_doubles_up_to_the_cap_with_a_tenth_of_jitter_and_follows_retry_after() {
        let policy = WebhookPolicy::default();
        let mut previous = Duration::ZERO;
        for attempt in 1..=12 {
            let base = (policy.first_retry * 2i32.pow(attempt - 1)).min(policy.max_retry);
            let wait = next_wait(&policy, attempt, None, "d-1");
            assert!(wait >= base && wait <= base + base / 10, "attempt {attempt}: {wait}");
            assert_eq!(wait, next_wait(&policy, attempt, None, "d-1"), "stable per delivery");
            assert!(wait >= previous || base == policy.max_retry);
            previous = wait;
        }
        assert_ne!(
            next_wait(&policy, 1, None, "d-1"),
            next_wait(&policy, 1, None, "d-2"),
            "spread"
        );
        assert_eq!(
            next_wait(&policy, 1, Some(Duration::seconds(90)), "d"),
            Duration::seconds(90)
        );
        assert_eq!(next_wait(&policy, 1, Some(Duration::ZERO), "d"), Duration::seconds(1));
        assert_eq!(next_wait(&policy, 1, Some(Duration::days(2)), "d"), policy.max_retry);
    }
}
