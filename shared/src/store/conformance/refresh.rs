//! The refresh schedule: every write indexes a connection by `RefreshPolicy::next_proactive`
//! (default policy), `due_connections` reads that index shard by shard, and a read writes only
//! when it moves the schedule.

use super::*;
use crate::refresh_policy::{RefreshFacts, RefreshPolicy};

/// Every test of this file.
pub async fn run(store: &dyn Store) {
    due_connections_follow_the_refresh_policy(store).await;
    reads_are_recorded_only_when_they_move_the_schedule(store).await;
}

/// A window in the past that only this run uses.
fn private_epoch() -> OffsetDateTime {
    let t = OffsetDateTime::UNIX_EPOCH
        // 256 windows 40 days apart between 1997 and 2025: in the past, and within SQLite's
        // nanosecond timestamps (up to 2262; 400-day steps reached 2249 + 30 years).
        + Duration::days(10_000 + (crate::crypto::random_bytes::<2>()[0] as i64) * 40)
        + Duration::seconds(crate::crypto::random_bytes::<1>()[0] as i64);
    t.replace_nanosecond(0).unwrap()
}

/// Due connections of integration `key` across every shard, soonest first.
async fn due_of(store: &dyn Store, key: &str, before: OffsetDateTime) -> Vec<(String, OffsetDateTime)> {
    let mut due = Vec::new();
    for shard in 0..store.refresh_shards() {
        let page = store.due_connections(shard, before, 1000).await.unwrap();
        assert!(
            page.windows(2).all(|w| w[0].due_at <= w[1].due_at),
            "each shard is soonest first"
        );
        due.extend(
            page.into_iter()
                .filter(|d| d.integration.as_str() == key)
                .map(|d| (d.connection_id.to_string(), d.due_at)),
        );
    }
    due.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    due
}

pub async fn due_connections_follow_the_refresh_policy(store: &dyn Store) {
    let key = unique("int-due");
    live_integration(store, &key).await;
    let base = private_epoch();
    let at = |name: &str, mode: AuthMode, provider: &str, refresh: bool, expires: Option<Duration>, read: bool| {
        let mut rec = connection(&key, name);
        rec.auth_mode = mode;
        rec.provider = provider.into();
        rec.has_refresh_token = refresh;
        rec.last_fetched_at = base;
        rec.created_at = base;
        rec.expires_at = expires.map(|d| base + d);
        rec.last_read_at = read.then_some(base);
        rec
    };
    let hour = Some(Duration::hours(1));
    let records = [
        at("hot", AuthMode::OAuth2, "custom-oauth2", true, hour, true),
        at("idle", AuthMode::OAuth2, "custom-oauth2", true, hour, false),
        at("no-refresh-token", AuthMode::OAuth2, "custom-oauth2", false, None, true),
        at("api-key", AuthMode::ApiKey, "openai", false, None, true),
        at(
            "client-credentials",
            AuthMode::OAuth2Cc,
            "custom-oauth2",
            false,
            hour,
            true,
        ),
        at("google", AuthMode::OAuth2, "google-calendar", true, hour, false),
    ];
    for rec in &records {
        store.upsert_connection(rec).await.unwrap();
    }
    let policy = RefreshPolicy::default();
    for rec in &records {
        let stored = store
            .get_connection(&rec.integration, &rec.connection_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            stored.last_read_at, rec.last_read_at,
            "a record write stores the read it carries"
        );
    }
    let hot = base + Duration::minutes(40);
    assert_eq!(
        policy.next_proactive(&RefreshFacts::from(&records[0])).map(|p| p.at),
        Some(hot),
        "1 h token: 15 min read margin + 5 min lead"
    );
    let names = |due: Vec<(String, OffsetDateTime)>| due.into_iter().map(|(n, _)| n).collect::<Vec<_>>();
    assert_eq!(
        names(due_of(store, &key, hot).await),
        Vec::<String>::new(),
        "strictly before"
    );
    assert_eq!(
        due_of(store, &key, hot + Duration::milliseconds(1)).await,
        [("client-credentials".to_owned(), hot), ("hot".to_owned(), hot)]
    );
    let idle = base + Duration::days(14);
    assert_eq!(
        names(due_of(store, &key, idle + Duration::milliseconds(1)).await),
        ["client-credentials", "hot", "idle"],
        "an unread refresh token is kept alive after 14 days"
    );
    let google = base + Duration::days(135);
    assert_eq!(
        names(due_of(store, &key, google + Duration::milliseconds(1)).await),
        ["client-credentials", "hot", "idle", "google"],
        "Google revokes after 6 months idle: kept alive after 3/4 of that"
    );

    // A refresh moves a connection along; clearing what made it due takes it off the index.
    let mut refreshed = store
        .get_connection(&records[0].integration, &records[0].connection_id)
        .await
        .unwrap()
        .unwrap();
    refreshed.last_fetched_at = base + Duration::minutes(40);
    refreshed.expires_at = Some(base + Duration::minutes(100));
    store.update_connection(&refreshed, refreshed.version).await.unwrap();
    let mut gone = store
        .get_connection(&records[4].integration, &records[4].connection_id)
        .await
        .unwrap()
        .unwrap();
    gone.expires_at = None;
    store.update_connection(&gone, gone.version).await.unwrap();
    assert_eq!(
        due_of(store, &key, base + Duration::minutes(81)).await,
        [("hot".to_owned(), base + Duration::minutes(80))],
        "read at 0, lifetime 60 min: still hot at 80 min (within 2 lifetimes)"
    );
}

pub async fn reads_are_recorded_only_when_they_move_the_schedule(store: &dyn Store) {
    let key = unique("int-read");
    let t = now();
    let mut rec = connection(&key, "reader");
    rec.last_fetched_at = t;
    rec.expires_at = Some(t + Duration::hours(1));
    let saved = stored(store, &rec).await;
    assert_eq!(saved.last_read_at, None);

    // Never read, the connection is only kept alive; the first read makes it hot: one write.
    let first = store
        .read_connection(&rec.integration, &rec.connection_id, t)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.last_read_at, Some(t));
    assert_eq!(first.version, saved.version, "recording a read is not a record write");
    let again = store
        .read_connection(&rec.integration, &rec.connection_id, t + Duration::minutes(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        again.last_read_at,
        Some(t),
        "a read that changes nothing writes nothing"
    );
    let now_stored = store
        .get_connection(&rec.integration, &rec.connection_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now_stored.last_read_at, Some(t));

    // After a renewal two lifetimes on, the old read no longer covers the next one: the next
    // read is recorded again.
    let mut renewed = now_stored.clone();
    renewed.last_fetched_at = t + Duration::hours(2);
    renewed.expires_at = Some(t + Duration::hours(3));
    store.update_connection(&renewed, renewed.version).await.unwrap();
    let later = t + Duration::hours(2) + Duration::minutes(1);
    let read = store
        .read_connection(&rec.integration, &rec.connection_id, later)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.last_read_at, Some(later));
    let ghost = ConnectionId::parse("nobody").unwrap();
    assert_eq!(
        store.read_connection(&rec.integration, &ghost, later).await.unwrap(),
        None
    );
}
