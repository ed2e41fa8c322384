//! Activity entries: one item per entry in its attempt's partition (`ACT#<attempt>`), listed
//! through GSI1 (the environment) and GSI2 (one connection), expired by TTL after the store's
//! activity retention.

use async_trait::async_trait;

use super::keys::{self, CONNECTION_ID, INTEGRATION};
use super::table::retained;
use super::{record_item, s, DynamoStore, Query, GSI1, GSI2};
use crate::store::{ActivityEntry, ActivityFilter, ActivityStore, StoreResult};

#[async_trait]
impl ActivityStore for DynamoStore {
    async fn append_activity(&self, entry: &ActivityEntry) -> StoreResult<()> {
        let mut attributes = keys::activity_attributes(entry);
        attributes.extend(retained(entry.timestamp, self.activity_retention));
        self.put(record_item(keys::activity(entry), entry, attributes)).await
    }

    async fn list_activity(&self, filter: &ActivityFilter) -> StoreResult<Vec<ActivityEntry>> {
        if filter.limit == 0 {
            return Ok(Vec::new());
        }
        // The narrowest partition the filter names: one attempt, one connection, or all.
        let mut q = match (&filter.attempt_id, &filter.connection_id) {
            (Some(attempt), conn) => {
                let mut q = Query::partition(None, keys::attempt_partition(attempt));
                if let Some(conn) = conn {
                    q.filter_equals(CONNECTION_ID, s(conn));
                }
                q
            }
            (None, Some(conn)) => Query::partition(Some(&GSI2), keys::connection_activity_partition(conn)),
            (None, None) => Query::partition(Some(&GSI1), keys::ACTIVITY.into()),
        }
        .newest_first();
        if let Some(int) = &filter.integration {
            q.filter_equals(INTEGRATION, s(int));
        }
        self.query(&q, filter.limit).await
    }
}
