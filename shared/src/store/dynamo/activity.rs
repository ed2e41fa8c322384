//! Activity entries: one item per entry in its attempt's partition (`ACT#<attempt>`), listed
//! through GSI1 (the environment) and GSI2 (one connection), expired by TTL.

use async_trait::async_trait;

use super::keys::{self, INTEGRATION};
use super::table::retained;
use super::{record_item, s, DynamoStore, Query, GSI1, GSI2};
use crate::store::{ActivityEntry, ActivityFilter, ActivityStore, StoreResult};

#[async_trait]
impl ActivityStore for DynamoStore {
    async fn append_activity(&self, entry: &ActivityEntry) -> StoreResult<()> {
        let mut attributes = keys::activity_attributes(entry);
        attributes.extend(retained(entry.timestamp));
        self.put(record_item(keys::activity(entry), entry, attributes)).await
    }

    async fn list_activity(&self, filter: &ActivityFilter) -> StoreResult<Vec<ActivityEntry>> {
        if filter.limit == 0 {
            return Ok(Vec::new());
        }
        // The narrowest partition the filter names: one attempt, one connection, or all.
        let q = match (&filter.attempt_id, &filter.connection_id) {
            (Some(attempt), _) => Query::partition(None, keys::attempt_partition(attempt)),
            (None, Some(conn)) => Query::partition(Some(&GSI2), keys::connection_activity_partition(conn)),
            (None, None) => Query::partition(Some(&GSI1), keys::ACTIVITY.into()),
        };
        // The time range as a sort key condition; the cursor's own entry (its bound, included
        // by BETWEEN) and the other fields are left to `ActivityFilter::matches`.
        let upper = filter.before.as_ref().map(keys::activity_bound);
        let mut q = match (filter.since.map(keys::activity_lower_bound), upper) {
            (Some(low), Some(high)) => q.sort_between(low, high),
            (Some(low), None) => q.sort_between(low, keys::ACTIVITY_SORT_MAX.into()),
            (None, Some(high)) => q.sort_before(high),
            (None, None) => q,
        }
        .newest_first();
        if let Some(int) = &filter.integration {
            q.filter_equals(INTEGRATION, s(int));
        }
        self.query_kept(&q, filter.limit, |e| filter.matches(e)).await
    }
}
