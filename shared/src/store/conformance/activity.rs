//! Activity: appended, listed newest first by connection and by attempt.

use super::*;

/// Every test of this file.
pub async fn run(store: &dyn Store) {
    activity_is_queryable_by_connection_newest_first(store).await;
}

pub async fn activity_is_queryable_by_connection_newest_first(store: &dyn Store) {
    let conn = unique("conn");
    let attempt = unique("attempt");
    for (i, event) in ["started", "redirected", "stored"].iter().enumerate() {
        store
            .append_activity(&ActivityEntry {
                attempt_id: attempt.clone(),
                event: (*event).into(),
                integration: Some("github".into()),
                connection_id: Some(conn.clone()),
                message: format!("step {i}"),
                ..activity_entry(&unique("act"), now() + Duration::milliseconds(i as i64))
            })
            .await
            .unwrap();
    }
    let filter = ActivityFilter {
        connection_id: Some(conn.clone()),
        limit: 10,
        ..Default::default()
    };
    let events: Vec<String> = store
        .list_activity(&filter)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert_eq!(events, ["stored", "redirected", "started"]);
    let limited = ActivityFilter {
        limit: 1,
        ..filter.clone()
    };
    assert_eq!(store.list_activity(&limited).await.unwrap().len(), 1);
    let by_attempt = ActivityFilter {
        attempt_id: Some(attempt),
        limit: 10,
        ..Default::default()
    };
    assert_eq!(store.list_activity(&by_attempt).await.unwrap().len(), 3);
}
