//! Activity: appended, listed newest first by (timestamp, id) — for the environment, one
//! connection or one attempt — and paged with a cursor, across days.

use super::*;

/// Every test of this file.
pub async fn run(store: &dyn Store) {
    activity_is_queryable_by_connection_newest_first(store).await;
    activity_pages_with_a_cursor_across_days(store).await;
}

fn entry(attempt: &str, conn: &str, integration: &str, at: OffsetDateTime, event: &str) -> ActivityEntry {
    ActivityEntry {
        attempt_id: attempt.to_owned(),
        event: event.into(),
        integration: Some(integration.into()),
        connection_id: Some(conn.to_owned()),
        message: format!("{event} step"),
        ..activity_entry(&unique("act"), at)
    }
}

pub async fn activity_is_queryable_by_connection_newest_first(store: &dyn Store) {
    let conn = unique("conn");
    let attempt = unique("attempt");
    for (i, event) in ["started", "redirected", "stored"].iter().enumerate() {
        let at = now() + Duration::milliseconds(i as i64);
        store
            .append_activity(&entry(&attempt, &conn, "github", at, event))
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

pub async fn activity_pages_with_a_cursor_across_days(store: &dyn Store) {
    // A window years ahead that only this run writes to, spanning three calendar days.
    let base = now() + Duration::days(2000 + crate::crypto::random_bytes::<1>()[0] as i64);
    let (conn, attempt, int) = (unique("conn"), unique("attempt"), unique("int"));
    let mut written = Vec::new();
    for i in 0..10 {
        let e = entry(&attempt, &conn, &int, base + Duration::hours(7 * i), &format!("e{i}"));
        store.append_activity(&e).await.unwrap();
        written.push(e);
    }
    written.reverse();
    let pages = |filter: ActivityFilter| async move {
        let mut pages = Vec::new();
        let mut before = filter.before.clone();
        for _ in 0..3 {
            let page = store
                .list_activity(&ActivityFilter {
                    before: before.clone(),
                    ..filter.clone()
                })
                .await
                .unwrap();
            before = page.last().map(ActivityCursor::after).or(before);
            pages.push(page);
        }
        pages
    };
    let newest = Some(ActivityCursor::newest(base + Duration::days(3)));
    for (what, filter) in [
        (
            "environment",
            ActivityFilter {
                limit: 5,
                before: newest.clone(),
                ..Default::default()
            },
        ),
        (
            "integration",
            ActivityFilter {
                integration: Some(int.clone()),
                limit: 5,
                before: newest.clone(),
                ..Default::default()
            },
        ),
        (
            "connection",
            ActivityFilter {
                connection_id: Some(conn.clone()),
                limit: 5,
                before: newest.clone(),
                ..Default::default()
            },
        ),
        (
            "attempt",
            ActivityFilter {
                attempt_id: Some(attempt.clone()),
                limit: 5,
                before: newest.clone(),
                ..Default::default()
            },
        ),
    ] {
        let got = pages(filter).await;
        assert_eq!(got[0], written[..5], "{what}: first page");
        assert_eq!(got[1], written[5..], "{what}: second page, from the cursor");
        assert!(
            !got[2].iter().any(|e| e.attempt_id == attempt),
            "{what}: nothing after the oldest"
        );
    }
    // A cursor in the middle of a day starts right after its entry.
    let from_middle = ActivityFilter {
        connection_id: Some(conn.clone()),
        limit: 2,
        before: Some(ActivityCursor::after(&written[3])),
        ..Default::default()
    };
    assert_eq!(store.list_activity(&from_middle).await.unwrap(), written[4..6]);
}
