//! Activity: appended, listed newest first by (timestamp, id) — for the environment, one
//! connection or one attempt — and paged with a cursor, across days.

use super::*;

/// Every test of this file.
pub async fn run(store: &dyn Store) {
    activity_is_queryable_by_connection_newest_first(store).await;
    activity_pages_with_a_cursor_across_days(store).await;
    activity_filters_by_every_field_and_pages_by_cursor(store).await;
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

/// Six entries of one integration (two connections, two operations, both levels, two of them
/// at the same instant): each filter alone, the time range, and paging two at a time by cursor
/// from every partition the backends read (the environment, one connection, one attempt).
pub async fn activity_filters_by_every_field_and_pages_by_cursor(store: &dyn Store) {
    let integration = unique("int");
    let (a, b) = (unique("conn-a"), unique("conn-b"));
    let attempt = unique("attempt");
    let t0 = now();
    let rows = [
        (0, &a, "auth", ActivityLevel::Info),
        (1, &a, "auth", ActivityLevel::Error),
        (2, &b, "refresh", ActivityLevel::Info),
        (2, &b, "refresh", ActivityLevel::Error),
        (3, &a, "console", ActivityLevel::Info),
        (4, &b, "auth", ActivityLevel::Info),
    ];
    let mut written = Vec::new();
    for (ms, conn, operation, level) in rows {
        let entry = ActivityEntry {
            id: uuid::Uuid::new_v4().to_string(),
            attempt_id: attempt.clone(),
            timestamp: t0 + Duration::milliseconds(ms),
            operation: operation.into(),
            event: "step".into(),
            level,
            integration: Some(integration.clone()),
            connection_id: Some(conn.clone()),
            message: "m".into(),
            error_code: None,
        };
        store.append_activity(&entry).await.unwrap();
        written.push(entry);
    }
    // Newest first; entries of one instant by id, descending.
    written.sort_by(|x, y| (y.timestamp, &y.id).cmp(&(x.timestamp, &x.id)));
    let base = ActivityFilter {
        integration: Some(integration.clone()),
        limit: 100,
        ..Default::default()
    };
    let ids = |entries: Vec<ActivityEntry>| entries.into_iter().map(|e| e.id).collect::<Vec<_>>();
    let expect = |f: &ActivityFilter| ids(written.iter().filter(|e| f.matches(e)).cloned().collect());
    let filters = [
        base.clone(),
        ActivityFilter {
            connection_id: Some(a.clone()),
            ..base.clone()
        },
        ActivityFilter {
            operation: Some("refresh".into()),
            ..base.clone()
        },
        ActivityFilter {
            level: Some(ActivityLevel::Error),
            ..base.clone()
        },
        ActivityFilter {
            since: Some(t0 + Duration::milliseconds(2)),
            ..base.clone()
        },
        ActivityFilter {
            before: Some(ActivityCursor::at(t0 + Duration::milliseconds(3))),
            ..base.clone()
        },
        ActivityFilter {
            since: Some(t0 + Duration::milliseconds(1)),
            before: Some(ActivityCursor::at(t0 + Duration::milliseconds(4))),
            connection_id: Some(b.clone()),
            ..base.clone()
        },
        ActivityFilter {
            attempt_id: Some(attempt.clone()),
            operation: Some("auth".into()),
            level: Some(ActivityLevel::Info),
            ..base.clone()
        },
    ];
    for filter in &filters {
        let got = ids(store.list_activity(filter).await.unwrap());
        assert_eq!(got, expect(filter), "{filter:?}");
        assert!(!got.is_empty(), "every filter here matches something: {filter:?}");
    }
    assert_eq!(expect(&filters[0]).len(), 6);

    for partition in [
        base.clone(),
        ActivityFilter {
            connection_id: Some(b.clone()),
            ..base.clone()
        },
        ActivityFilter {
            attempt_id: Some(attempt.clone()),
            ..base.clone()
        },
    ] {
        let mut paged = Vec::new();
        let mut before = None;
        loop {
            let page = store
                .list_activity(&ActivityFilter {
                    limit: 2,
                    before: before.clone(),
                    ..partition.clone()
                })
                .await
                .unwrap();
            if page.is_empty() {
                break;
            }
            before = page.last().map(ActivityCursor::after);
            paged.extend(ids(page));
            assert!(paged.len() <= 6, "paging ends");
        }
        assert_eq!(paged, expect(&partition), "{partition:?}");
    }
}
