//! The activity log: one entry per step of an operation, for the operator. Entries are built
//! from codes and safe messages only, and every text in them is bounded and printable (a
//! refused request's connection id is whatever the caller sent); recording is best effort and
//! never fails the operation. Refusals of requests that never authenticated go through
//! `refusals::RefusalLog`, so a flood of them cannot grow the store without bound.

use std::future::Future;

use crate::error::{Error, ErrorCode};
use time::OffsetDateTime;

use crate::store::{ActivityCursor, ActivityEntry, ActivityFilter, ActivityLevel};
use crate::AppState;

/// One operation (an auth attempt, a refresh) whose steps share an `attempt_id`.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub id: String,
    pub operation: &'static str,
    pub integration: Option<String>,
    pub connection_id: Option<String>,
}

impl Attempt {
    pub fn new(operation: &'static str, integration: Option<String>, connection_id: Option<String>) -> Self {
        crate::logs::record_connection(integration.as_deref(), connection_id.as_deref());
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            operation,
            integration,
            connection_id,
        }
    }

    pub fn resume(id: String, operation: &'static str, integration: String, connection_id: String) -> Self {
        crate::logs::record_connection(Some(&integration), Some(&connection_id));
        Self {
            id,
            operation,
            integration: Some(integration),
            connection_id: Some(connection_id),
        }
    }

    pub async fn info(&self, state: &AppState, event: &str, message: impl Into<String>) {
        self.record(state, event, ActivityLevel::Info, message.into(), None)
            .await;
    }

    /// Records the refusal of a request that did not authenticate (a wrong public key, HMAC
    /// digest or session token; a callback that matches no flow of this browser) — unless this
    /// process recorded its share of refusals this minute already (`refusals::RefusalLog`).
    pub async fn refused(&self, state: &AppState, code: ErrorCode, message: impl Into<String>) {
        let (admitted, dropped) = state.refusals.admit(state.clock.now());
        if let Some(dropped) = dropped {
            let note = Attempt::new(self.operation, None, None);
            let message = format!(
                "{dropped} more refused requests in the previous minute were not recorded (at most {} a minute).",
                state.refusals.per_minute
            );
            note.record(state, "refusals_dropped", ActivityLevel::Error, message, None)
                .await;
        }
        if admitted {
            self.failed(state, code, message).await;
        }
    }

    pub async fn failed(&self, state: &AppState, code: ErrorCode, message: impl Into<String>) {
        self.failed_with(state, code.as_str(), message).await;
    }

    /// A `failed` entry whose code is not one of Latchkey's: what a provider said
    /// (`invalid_grant`), for a refresh.
    pub async fn failed_with(&self, state: &AppState, error_code: &str, message: impl Into<String>) {
        self.error_with(state, "failed", error_code, message).await;
    }

    /// An error entry under `event` (a step that failed without ending the operation, such as
    /// a webhook attempt that is retried).
    pub async fn error(&self, state: &AppState, event: &str, code: ErrorCode, message: impl Into<String>) {
        self.error_with(state, event, code.as_str(), message).await;
    }

    async fn error_with(&self, state: &AppState, event: &str, error_code: &str, message: impl Into<String>) {
        self.record(
            state,
            event,
            ActivityLevel::Error,
            message.into(),
            Some(error_code.to_owned()),
        )
        .await;
    }

    /// Runs a step of the attempt; its failure is recorded as the attempt's `failed` entry
    /// (with the error's code, message and operator detail) and returned. Every flow goes through here, so no
    /// failure of an auth attempt is left out of the activity log.
    pub async fn run<T>(&self, state: &AppState, step: impl Future<Output = Result<T, Error>>) -> Result<T, Error> {
        let result = step.await;
        if let Err(e) = &result {
            self.failed(state, e.code, e.for_operator()).await;
        }
        result
    }

    async fn record(
        &self,
        state: &AppState,
        event: &str,
        level: ActivityLevel,
        message: String,
        error_code: Option<String>,
    ) {
        // Every line logged from here on names the connection; the outcome, if final, is a metric.
        crate::logs::record_connection(self.integration.as_deref(), self.connection_id.as_deref());
        crate::metrics::for_activity(
            &state.config.environment,
            self.operation,
            event,
            error_code.as_deref(),
            self.integration.as_deref(),
        );
        let entry = ActivityEntry {
            id: uuid::Uuid::new_v4().to_string(),
            attempt_id: self.id.clone(),
            timestamp: state.clock.now(),
            operation: self.operation.to_owned(),
            event: event.to_owned(),
            level,
            integration: self.integration.as_deref().map(|t| bounded(t, MAX_NAME)),
            connection_id: self.connection_id.as_deref().map(|t| bounded(t, MAX_NAME)),
            message: bounded(&message, MAX_MESSAGE),
            error_code,
        };
        if let Err(e) = state.store.append_activity(&entry).await {
            tracing::warn!(error = %e, attempt = %self.id, event, "could not record activity");
        }
    }
}

/// The longest integration key or connection id an entry keeps (what a valid one can be).
const MAX_NAME: usize = 255;
/// The longest message an entry keeps.
const MAX_MESSAGE: usize = 1000;

/// `text` without control characters, cut to `max` characters (an ellipsis marks the cut).
fn bounded(text: &str, max: usize) -> String {
    let printable = text.chars().filter(|c| !c.is_control());
    if text.chars().filter(|c| !c.is_control()).count() <= max {
        return printable.collect();
    }
    printable.take(max - 1).chain(std::iter::once('…')).collect()
}

/// Entries matching `filter`, newest first; without a cursor, everything written up to now by
/// the state's clock.
pub async fn list(state: &AppState, filter: &ActivityFilter) -> Result<Vec<ActivityEntry>, Error> {
    if filter.before.is_none() {
        let filter = ActivityFilter {
            before: Some(ActivityCursor::newest(state.clock.now())),
            ..filter.clone()
        };
        return Ok(state.store.list_activity(&filter).await?);
    }
    Ok(state.store.list_activity(filter).await?)
}

/// One page of activity and, when it is full, where the next one starts.
pub struct Page {
    pub entries: Vec<ActivityEntry>,
    pub next: Option<ActivityCursor>,
}

/// A page of `filter.limit` entries, newest first, after `cursor` (a previous page's `next`)
/// and before `until`.
pub async fn page(
    state: &AppState,
    mut filter: ActivityFilter,
    cursor: Option<ActivityCursor>,
    until: Option<OffsetDateTime>,
) -> Result<Page, Error> {
    filter.before = match (cursor, until.map(ActivityCursor::at)) {
        (Some(c), u) => Some(c.min(u)),
        (None, u) => u,
    };
    let entries = list(state, &filter).await?;
    let next = (entries.len() == filter.limit)
        .then(|| entries.last().map(ActivityCursor::after))
        .flatten();
    Ok(Page { entries, next })
}

/// A cursor as the caller holds it: opaque text (base64url of `<unix ns>.<entry id>`).
pub fn cursor_token(cursor: &ActivityCursor) -> String {
    use base64::Engine;
    let raw = format!("{}.{}", cursor.timestamp.unix_timestamp_nanos(), cursor.id);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

/// The cursor of a `cursor_token`; anything else is refused.
pub fn parse_cursor(token: &str) -> Result<ActivityCursor, Error> {
    use base64::Engine;
    let bad = || Error::invalid(ErrorCode::InvalidQueryParams, "cursor is not one this API returned.");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.as_bytes())
        .map_err(|_| bad())?;
    let raw = String::from_utf8(raw).map_err(|_| bad())?;
    let (nanos, id) = raw.split_once('.').ok_or_else(bad)?;
    let timestamp = nanos
        .parse::<i128>()
        .ok()
        .and_then(|n| OffsetDateTime::from_unix_timestamp_nanos(n).ok())
        .ok_or_else(bad)?;
    if id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(bad());
    }
    Ok(ActivityCursor {
        timestamp,
        id: id.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_bounded_and_printable() {
        assert_eq!(bounded("user-1", 255), "user-1");
        assert_eq!(bounded("a\nb\u{0}c\u{1b}[31m", 255), "abc[31m");
        let long = bounded(&"x".repeat(10_000), 255);
        assert_eq!(long.chars().count(), 255);
        assert!(long.ends_with('…'));
        assert_eq!(bounded(&"é".repeat(300), 10).chars().count(), 10);
    }

    #[test]
    fn a_cursor_round_trips_and_nothing_else_parses() {
        let c = ActivityCursor {
            timestamp: time::macros::datetime!(2030-01-02 03:04:05.123456789 UTC),
            id: uuid::Uuid::new_v4().to_string(),
        };
        assert_eq!(parse_cursor(&cursor_token(&c)).unwrap(), c);
        use base64::Engine;
        let enc = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        for bad in [
            "".to_owned(),
            "not base64!".into(),
            enc("12"),
            enc("x.abc"),
            enc("1.a'b"),
            enc(&format!("1.{}", "a".repeat(65))),
        ] {
            let e = parse_cursor(&bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidQueryParams, "{bad}");
        }
    }
}
