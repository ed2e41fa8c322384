//! Activity entries: one item per entry in its attempt's partition (`ACT#<attempt>`), listed
//! through `ActivityByTime` (the environment: a partition per day and shard, read newest day
//! first and merged across shards) and `ActivityByConnection`, expired by TTL after the store's
//! activity retention. Both indexes project the entry's `body` (which never holds a secret).

use async_trait::async_trait;
use time::OffsetDateTime;

use super::keys;
use super::table::{retained, ACTIVITY_BY_CONNECTION, ACTIVITY_BY_TIME};
use super::{body, record_item, DynamoStore, Query};
use crate::store::shards::ACTIVITY_SHARDS;
use crate::store::{ActivityCursor, ActivityEntry, ActivityFilter, ActivityStore, StoreResult};

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
        let cursor = filter
            .before
            .clone()
            .unwrap_or_else(|| ActivityCursor::newest(OffsetDateTime::now_utc()));
        let bound = keys::activity_bound(&cursor);
        // The partition and the time range come from the keys; every other field (and `since`
        // within the first day read) is the one rule of `ActivityFilter::matches`.
        let keep = |item: &super::Item| -> StoreResult<Option<ActivityEntry>> {
            let entry: ActivityEntry = body(item)?;
            Ok(filter.matches(&entry).then_some(entry))
        };
        // The narrowest partition the filter names: one attempt, one connection, or the days.
        let single = match (&filter.attempt_id, &filter.connection_id) {
            (Some(attempt), _) => Some(Query::partition(None, keys::attempt_partition(attempt))),
            (None, Some(conn)) => Some(Query::partition(
                Some(&ACTIVITY_BY_CONNECTION),
                keys::connection_activity_partition(conn),
            )),
            (None, None) => None,
        };
        if let Some(q) = single {
            let q = match filter.since {
                Some(since) => q.sort_between(keys::activity_lower_bound(since), bound),
                None => q.sort_before(bound),
            }
            .newest_first();
            return self.merge(std::slice::from_ref(&q), filter.limit, keep).await;
        }
        // Day by day, from the cursor's back to the retention horizon (older entries are gone
        // or going: TTL).
        let mut out = Vec::new();
        let mut day = cursor.timestamp;
        let retained_from = cursor.timestamp - self.activity_retention - time::Duration::days(1);
        let horizon = filter.since.map_or(retained_from, |since| since.max(retained_from));
        while out.len() < filter.limit && day >= horizon {
            let name = keys::day(day);
            let queries: Vec<Query> = (0..ACTIVITY_SHARDS)
                .map(|shard| {
                    let q = Query::partition(Some(&ACTIVITY_BY_TIME), keys::activity_day_partition(&name, shard));
                    match filter.since {
                        Some(since) => q.sort_between(keys::activity_lower_bound(since), bound.clone()),
                        None => q.sort_before(bound.clone()),
                    }
                    .newest_first()
                })
                .collect();
            out.extend(self.merge(&queries, filter.limit - out.len(), keep).await?);
            day -= time::Duration::days(1);
        }
        Ok(out)
    }
}
