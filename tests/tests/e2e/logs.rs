//! `GET /logs`: filters by connection, integration, operation, level and time range, pages
//! newest first through an opaque cursor, and refuses what it cannot parse.

use latchkey::clock::Clock;
use latchkey_tests::spawn_app;
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn logs_filter_by_each_field_and_page_by_cursor() {
    let app = spawn_app().await;
    // Three refused connects (level error, operation auth) and one settings change (info).
    for id in ["c1", "c2", "c1"] {
        let url = format!(
            "{}/oauth/connect/ghost?public_key=lk_pk_wrong&connection_id={id}",
            app.address
        );
        assert_eq!(app.http.get(url).send().await.unwrap().status(), 401);
    }
    let (status, _) = app
        .backend(Method::PATCH, "/environment", Some(&json!({"hmac_enabled": true})))
        .await;
    assert_eq!(status, 200);

    let logs = |query: &str| {
        let app = &app;
        let path = format!("/logs?{query}");
        async move { app.backend(Method::GET, &path, None).await }
    };
    let count = |body: &Value| body["data"].as_array().unwrap().len();
    let (_, all) = logs("").await;
    assert_eq!(count(&all), 4);
    assert_eq!(all["next_cursor"], Value::Null);
    assert_eq!(all["data"][0]["operation"], "environment", "newest first");
    assert_eq!(count(&logs("connection_id=c1").await.1), 2);
    assert_eq!(count(&logs("integration=ghost").await.1), 3);
    assert_eq!(count(&logs("operation=environment").await.1), 1);
    assert_eq!(count(&logs("level=error").await.1), 3);
    assert_eq!(count(&logs("level=info&operation=auth").await.1), 0);

    // Paging: one at a time, the same entries as one page, none twice.
    let mut seen = Vec::new();
    let mut query = "limit=1".to_owned();
    loop {
        let (status, page) = logs(&query).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(page["data"].as_array().unwrap().iter().map(|e| e["id"].clone()));
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("limit=1&cursor={cursor}"),
            None => break,
        }
        assert!(seen.len() <= 5);
    }
    let ids: Vec<Value> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].clone())
        .collect();
    assert_eq!(seen[..4], ids[..], "a full last page may be followed by an empty one");

    // The time range: everything before the newest entry, nothing after a future instant.
    let newest = all["data"][0]["timestamp"].as_str().unwrap();
    let (_, older) = logs(&format!("until={newest}")).await;
    assert!(older["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["operation"] == "auth"));
    let later = app.clock.now() + time::Duration::minutes(1);
    let later = latchkey::time_fmt::rfc3339(later);
    assert_eq!(count(&logs(&format!("since={later}")).await.1), 0);

    for bad in [
        "level=warning",
        "since=yesterday",
        "cursor=not-a-cursor",
        "limit=0",
        "since=2030-01-02T00:00:00Z&until=2030-01-01T00:00:00Z",
    ] {
        let (status, body) = logs(bad).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "invalid_query_params", "{bad}");
    }
}
