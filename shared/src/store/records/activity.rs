//! The activity log's records: entries, and how a listing picks and pages them.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityLevel {
    Info,
    Error,
}

/// One step of an operation (an auth attempt, a refresh), written for the operator. Never holds
/// a secret: messages are built from codes and provider error names, not response bodies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivityEntry {
    pub id: String,
    pub attempt_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub timestamp: OffsetDateTime,
    pub operation: String,
    pub event: String,
    pub level: ActivityLevel,
    pub integration: Option<String>,
    pub connection_id: Option<String>,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
}

/// Which entries `list_activity` returns: every field set must match; newest first.
#[derive(Debug, Clone, Default)]
pub struct ActivityFilter {
    pub integration: Option<String>,
    pub connection_id: Option<String>,
    pub attempt_id: Option<String>,
    pub operation: Option<String>,
    pub level: Option<ActivityLevel>,
    /// Entries at or after this time.
    pub since: Option<OffsetDateTime>,
    /// Only entries older than this position (the last entry of the previous page, or a time:
    /// `ActivityCursor::at`). `None` = from now by the system clock; callers with a clock of
    /// their own pass `ActivityCursor::newest`.
    pub before: Option<ActivityCursor>,
    pub limit: usize,
}

impl ActivityFilter {
    /// Whether `entry` passes every field of the filter: the one statement of the rule, for
    /// backends that filter what their indexes return.
    pub fn matches(&self, entry: &ActivityEntry) -> bool {
        let same = |want: &Option<String>, have: &Option<String>| want.is_none() || want == have;
        same(&self.integration, &entry.integration)
            && same(&self.connection_id, &entry.connection_id)
            && self.attempt_id.as_ref().is_none_or(|a| *a == entry.attempt_id)
            && self.operation.as_ref().is_none_or(|o| *o == entry.operation)
            && self.level.is_none_or(|l| l == entry.level)
            && self.since.is_none_or(|t| entry.timestamp >= t)
            && self.before.as_ref().is_none_or(|c| c.is_after(entry))
    }
}

/// A position in the activity log, newest first: entries order by (timestamp, id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityCursor {
    #[serde(with = "time::serde::rfc3339")]
    pub timestamp: OffsetDateTime,
    pub id: String,
}

impl ActivityCursor {
    /// The position after `entry`: the next page starts with the entry older than it.
    pub fn after(entry: &ActivityEntry) -> Self {
        Self {
            timestamp: entry.timestamp,
            id: entry.id.clone(),
        }
    }

    /// Everything written up to `now` (a second of slack for clocks between processes).
    pub fn newest(now: OffsetDateTime) -> Self {
        Self {
            timestamp: now + time::Duration::seconds(1),
            id: String::new(),
        }
    }

    /// Everything strictly before `t`.
    pub fn at(t: OffsetDateTime) -> Self {
        Self {
            timestamp: t,
            id: String::new(),
        }
    }

    /// Whether `entry` comes after this position (is older, newest first).
    pub fn is_after(&self, entry: &ActivityEntry) -> bool {
        (entry.timestamp, entry.id.as_str()) < (self.timestamp, self.id.as_str())
    }

    /// The earlier of two positions.
    pub fn min(self, other: Option<ActivityCursor>) -> Self {
        match other {
            Some(o) if (o.timestamp, &o.id) < (self.timestamp, &self.id) => o,
            _ => self,
        }
    }
}
