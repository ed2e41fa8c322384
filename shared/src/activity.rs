//! The activity log: one entry per step of an operation, for the operator. Entries are built
//! from codes and safe messages only; recording is best effort and never fails the operation.

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

    pub async fn failed(&self, state: &AppState, code: ErrorCode, message: impl Into<String>) {
        self.record(
            state,
            "failed",
            ActivityLevel::Error,
            message.into(),
            Some(code.as_str().to_owned()),
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
            integration: self.integration.clone(),
            connection_id: self.connection_id.clone(),
            message,
            error_code,
        };
        if let Err(e) = state.store.append_activity(&entry).await {
            tracing::warn!(error = %e, attempt = %self.id, event, "could not record activity");
        }
    }
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
