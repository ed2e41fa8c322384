//! Metrics, as CloudWatch's embedded metric format (EMF): one JSON line per data point on
//! standard output, which CloudWatch Logs turns into metrics of the namespace `Latchkey` — no
//! `PutMetricData` call, no permission, no latency. One function per metric; each is called
//! where the outcome it counts is final. Every flow records its end as an activity entry
//! (`activity::Attempt`), so `Attempt` calls `for_activity`, the one mapping from an entry to a
//! metric: a new operation gets its metric by a line there.
//!
//! | metric | counted when | dimensions |
//! |---|---|---|
//! | `AuthSucceeded` | an auth attempt stored its connection (`auth`/`stored`) | `Environment` |
//! | `AuthFailed` | an auth attempt failed (`auth`/`failed`) | `Environment`; `Environment, ErrorCode` |
//! | `RefreshSucceeded` | a refresh stored fresh credentials (`refresh`/`refreshed`) | `Environment` |
//! | `RefreshFailed` | a refresh failed (`refresh`/`failed`) | `Environment`; `Environment, ErrorCode` |
//! | `WebhookDelivered` | a webhook was accepted (`webhook`/`delivered`) | `Environment` |
//! | `WebhookRetried` | a webhook attempt failed and another is queued (`webhook`/`attempt_failed`) | `Environment` |
//! | `WebhookFailed` | a webhook was given up on (`webhook`/`failed`) | `Environment`; `Environment, ErrorCode` |
//!
//! Each line also carries `integration` and the error code as plain properties (`error_code`),
//! which Logs Insights can filter on without making them dimensions (each dimension value is a
//! metric of its own, billed). So the `ErrorCode` dimension is one of Latchkey's own codes
//! (`ErrorCode::ALL`); a code a provider chose (a refresh's `invalid_grant`, or anything a
//! hostile provider invents) counts as `provider_error` and cannot mint metrics. Off unless `init` turned it on: `lambda::serve` does; `latchkey serve` and
//! the tests do not (a test installs a `Sink::Capture`).

use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{json, Value};

/// The CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "Latchkey";

/// Where metric lines go.
#[derive(Clone)]
pub enum Sink {
    /// Standard output, one line each (Lambda: CloudWatch Logs extracts the metrics).
    Stdout,
    /// Kept in memory, for tests.
    Capture(Arc<Mutex<Vec<String>>>),
}

static SINK: OnceLock<Sink> = OnceLock::new();

/// Turns metrics on for this process (the first call wins).
pub fn init(sink: Sink) {
    let _ = SINK.set(sink);
}

/// The outcome of an operation recorded as an activity entry, as a metric (module doc).
pub fn for_activity(environment: &str, operation: &str, event: &str, code: Option<&str>, integration: Option<&str>) {
    match (operation, event) {
        ("auth", "stored") => auth_succeeded(environment, integration),
        ("auth", "failed") => auth_failed(environment, integration, code.unwrap_or("unknown")),
        ("refresh", "refreshed") => refresh_succeeded(environment, integration),
        ("refresh", "failed") => refresh_failed(environment, integration, code.unwrap_or("unknown")),
        ("webhook", "delivered") => webhook_delivered(environment, integration),
        ("webhook", "attempt_failed") => webhook_retried(environment, integration),
        ("webhook", "failed") => webhook_failed(environment, integration, code.unwrap_or("unknown")),
        _ => {}
    }
}

pub fn auth_succeeded(environment: &str, integration: Option<&str>) {
    count("AuthSucceeded", environment, integration, None);
}

pub fn auth_failed(environment: &str, integration: Option<&str>, code: &str) {
    count("AuthFailed", environment, integration, Some(code));
}

pub fn refresh_succeeded(environment: &str, integration: Option<&str>) {
    count("RefreshSucceeded", environment, integration, None);
}

pub fn refresh_failed(environment: &str, integration: Option<&str>, code: &str) {
    count("RefreshFailed", environment, integration, Some(code));
}

pub fn webhook_delivered(environment: &str, integration: Option<&str>) {
    count("WebhookDelivered", environment, integration, None);
}

pub fn webhook_retried(environment: &str, integration: Option<&str>) {
    count("WebhookRetried", environment, integration, None);
}

pub fn webhook_failed(environment: &str, integration: Option<&str>, code: &str) {
    count("WebhookFailed", environment, integration, Some(code));
}

/// One EMF line counting 1 of `name`; failures (with a code) also by `ErrorCode`.
fn count(name: &str, environment: &str, integration: Option<&str>, code: Option<&str>) {
    let Some(sink) = SINK.get() else { return };
    let line = emf_line(name, environment, integration, code, now_ms()).to_string();
    match sink {
        Sink::Stdout => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
        }
        Sink::Capture(lines) => lines.lock().expect("metric buffer").push(line),
    }
}

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// The `ErrorCode` dimension of `code`: Latchkey's own codes are a bounded set, any other
/// string is the provider's.
fn dimension_code(code: &str) -> &str {
    match crate::error::ErrorCode::ALL.iter().find(|c| c.as_str() == code) {
        Some(known) => known.as_str(),
        None => "provider_error",
    }
}

fn emf_line(name: &str, environment: &str, integration: Option<&str>, code: Option<&str>, timestamp_ms: i64) -> Value {
    let dimensions = match code {
        Some(_) => json!([["Environment"], ["Environment", "ErrorCode"]]),
        None => json!([["Environment"]]),
    };
    let mut line = json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": dimensions,
                "Metrics": [{"Name": name, "Unit": "Count"}],
            }],
        },
        "Environment": environment,
        name: 1,
    });
    if let Some(code) = code {
        line["ErrorCode"] = Value::from(dimension_code(code));
        line["error_code"] = Value::from(code);
    }
    if let Some(integration) = integration {
        line["integration"] = Value::from(integration);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_is_an_emf_line_with_its_code_as_a_dimension() {
        let line = emf_line(
            "AuthFailed",
            "prod",
            Some("github"),
            Some("token_err"),
            1_700_000_000_000,
        );
        assert_eq!(
            line,
            json!({
                "_aws": {
                    "Timestamp": 1_700_000_000_000i64,
                    "CloudWatchMetrics": [{
                        "Namespace": "Latchkey",
                        "Dimensions": [["Environment"], ["Environment", "ErrorCode"]],
                        "Metrics": [{"Name": "AuthFailed", "Unit": "Count"}],
                    }],
                },
                "Environment": "prod",
                "ErrorCode": "token_err",
                "error_code": "token_err",
                "integration": "github",
                "AuthFailed": 1,
            })
        );
        // Every dimension a directive names is a member of the line, as EMF requires.
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        for set in directive["Dimensions"].as_array().unwrap() {
            for d in set.as_array().unwrap() {
                assert!(line.get(d.as_str().unwrap()).is_some(), "{d}");
            }
        }
    }

    #[test]
    fn a_code_the_provider_chose_is_no_dimension_value_of_its_own() {
        for invented in ["invalid_grant", "x-9f3a1c", &"z".repeat(500)] {
            let line = emf_line("RefreshFailed", "prod", None, Some(invented), 1);
            assert_eq!(line["ErrorCode"], "provider_error");
            assert_eq!(line["error_code"], *invented);
        }
    }

    #[test]
    fn a_success_has_the_environment_only() {
        let line = emf_line("RefreshSucceeded", "dev", None, None, 1);
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Environment"]])
        );
        assert_eq!(line["RefreshSucceeded"], 1);
        assert!(line.get("integration").is_none() && line.get("ErrorCode").is_none());
    }
}
