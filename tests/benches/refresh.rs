//! Benchmarks of the refresh path on the local stack (`latchkey::local::open`: SQLite, the
//! key-file sealer, the store-backed job queue), numbers in docs/benchmarks.md ("Refresh"):
//!
//! 1. Refreshes per second of the worker path: refresh jobs run through `jobs::run` (as the
//!    local runner and the `worker` Lambda run them), each taking the lease, reading the
//!    connection again, calling a token endpoint on loopback (axum, rotating refresh tokens),
//!    sealing and writing conditionally — with the default per-provider bound (2 at once per
//!    process) and with a wide one (the path's own cost).
//! 2. The scheduler's time to find and enqueue N due connections (100 000 under `--bench`):
//!    `jobs::schedule::schedule` over the SQLite refresh index and the store-backed queue, with
//!    the per-provider bound lifted (all enqueued) and with the default one.
//!
//! Run with `cargo bench -p latchkey-tests --bench refresh` (`BENCH_REFRESHES`, `BENCH_DUE`).
//! `cargo test --benches` runs it as a short smoke run.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::routing::post;
use axum::{Form, Json, Router};
use futures::StreamExt;
use latchkey::clock::{Clock, ShiftedClock};
use latchkey::config::Config;
use latchkey::connections::{save_connection, NewConnection};
use latchkey::credentials::Credentials;
use latchkey::domain::{AccessToken, ConnectionId, IntegrationKey, RefreshToken};
use latchkey::jobs::schedule::schedule;
use latchkey::jobs::{Job, RefreshJob};
use latchkey::refresh_policy::RefreshLimits;
use latchkey::AppState;
use latchkey_tests::LocalPeer;
use serde_json::{json, Value};
use time::Duration;

const PROVIDER: &str = "custom-oauth2";

/// A token endpoint that answers every refresh grant with a new access and refresh token.
async fn token_endpoint(grants: Arc<AtomicU64>) -> LocalPeer {
    let app = Router::new().route(
        "/token",
        post(move |Form(form): Form<std::collections::HashMap<String, String>>| {
            let grants = grants.clone();
            async move {
                assert_eq!(form.get("grant_type").map(String::as_str), Some("refresh_token"));
                let n = grants.fetch_add(1, Ordering::Relaxed);
                Json(json!({
                    "access_token": format!("at-{n}-{}", "a".repeat(40)),
                    "refresh_token": format!("rt-{n}-{}", "r".repeat(40)),
                    "token_type": "Bearer", "expires_in": 3600, "scope": "openid email offline_access",
                }))
            }
        }),
    );
    LocalPeer::start(app).await
}

/// The local stack in `dir` on a clock the bench moves, with `count` OAuth2 connections of one
/// integration whose token endpoint is `token_url`, stored `fetched` ago by that clock.
async fn stack(
    dir: &std::path::Path,
    token_url: &str,
    count: usize,
    configure: impl FnOnce(&mut Config),
) -> (AppState, Arc<ShiftedClock>) {
    let mut config = Config::new("bench", "http://127.0.0.1:3003".parse().unwrap(), None);
    config.allow_private_addresses = true;
    configure(&mut config);
    let mut state = latchkey::local::open(dir, config).unwrap().state;
    let clock = Arc::new(ShiftedClock::default());
    state.clock = clock.clone();
    let integration = latchkey::integrations::create(
        &state,
        serde_json::from_value(json!({
            "provider": PROVIDER, "unique_key": "bench-idp",
            "credentials": {"type": "OAUTH2", "client_id": "cid", "client_secret": "csecret", "scopes": "openid email"},
            "custom": {"authorization_url": "https://idp.example.test/auth", "token_url": token_url},
        }))
        .unwrap(),
    )
    .await
    .unwrap();
    let raw: Value = json!({"access_token": "at-0", "refresh_token": "rt-0", "expires_in": 3600});
    for i in 0..count {
        let credentials = Credentials::OAuth2 {
            access_token: AccessToken::new("at-0"),
            refresh_token: Some(RefreshToken::new("rt-0")),
            expires_at: Some(clock.now() + Duration::hours(1)),
            raw: raw.as_object().unwrap().clone().into(),
        };
        let connection_id = ConnectionId::parse(format!("user-{i}")).unwrap();
        save_connection(&state, NewConnection::bare(&integration, &connection_id, &credentials))
            .await
            .unwrap();
    }
    (state, clock)
}

/// The refresh job of connection `i`. The worker bounds jobs by the provider they name, with a
/// semaphore per provider name sized when first used in the process: each run names its own
/// (`<provider>/<bound>`), so each gets the bound it measures.
fn refresh_job(i: usize, bound: usize) -> Job {
    Job::RefreshConnection(RefreshJob {
        integration: IntegrationKey::parse("bench-idp").unwrap(),
        connection_id: ConnectionId::parse(format!("user-{i}")).unwrap(),
        provider: format!("{PROVIDER}/{bound}"),
    })
}

/// Part 1: `n` refresh jobs, `in_flight` at once, under a per-provider bound of `bound`.
async fn worker_path(n: usize, bound: usize, in_flight: usize) {
    let dir = tempfile::tempdir().unwrap();
    let grants = Arc::new(AtomicU64::new(0));
    let peer = token_endpoint(grants.clone()).await;
    let (state, clock) = stack(dir.path(), &format!("{}/token", peer.url), n, |c| {
        c.refresh_limits.provider_concurrency = bound;
    })
    .await;
    // Never read: due for the keepalive renewal after 14 days.
    clock.advance(Duration::days(15));
    let start = Instant::now();
    let failed = futures::stream::iter(0..n)
        .map(|i| {
            let state = state.clone();
            async move { latchkey::jobs::run(&state, &refresh_job(i, bound)).await.is_err() }
        })
        .buffer_unordered(in_flight)
        .filter(|failed| std::future::ready(*failed))
        .count()
        .await;
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(failed, 0);
    assert_eq!(grants.load(Ordering::Relaxed), n as u64, "one grant per connection");
    let integration = IntegrationKey::parse("bench-idp").unwrap();
    let mut again = 0;
    for i in 0..n.min(20) {
        let id = ConnectionId::parse(format!("user-{i}")).unwrap();
        let renewal = latchkey::connections::refresh_due(&state, &integration, &id)
            .await
            .unwrap();
        again += usize::from(renewal != latchkey::connections::Renewal::NotDue);
    }
    assert_eq!(again, 0, "renewed connections are not due again");
    println!("| {n} | {bound} | {in_flight} | {secs:.2} | {:.0} |", n as f64 / secs);
}

/// Part 2: the scheduler over `n` due connections, with `limits`.
async fn scheduler(state: &AppState, clock: &ShiftedClock, n: usize, label: &str, limits: &RefreshLimits) {
    let start = Instant::now();
    let report = schedule(state.store.as_ref(), state.jobs.as_ref(), clock.now(), limits)
        .await
        .unwrap();
    let secs = start.elapsed().as_secs_f64();
    if limits.per_provider_per_run >= n {
        assert_eq!((report.due, report.enqueued), (n, n), "every due connection, once");
    }
    println!(
        "| {label} | {} | {} | {} | {:.2} | {:.0} |",
        report.due,
        report.enqueued,
        report.deferred,
        secs,
        report.due as f64 / secs
    );
}

fn count(var: &str, bench: usize, smoke: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if std::env::args().any(|a| a == "--bench") {
            bench
        } else {
            smoke
        })
}

fn main() {
    let refreshes = count("BENCH_REFRESHES", 2_000, 40);
    let due = count("BENCH_DUE", 100_000, 300);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        println!("worker path: refresh jobs through jobs::run, SQLite + key-file sealer, token endpoint on loopback");
        println!("| refreshes | per-provider bound | jobs at once | seconds | refreshes/s |");
        println!("|---|---|---|---|---|");
        worker_path(refreshes, 2, 16).await;
        worker_path(refreshes, 16, 16).await;

        println!();
        println!("scheduler: {due} due connections (never read, after 15 days), SQLite refresh index + store-backed job queue");
        let dir = tempfile::tempdir().unwrap();
        let seeding = Instant::now();
        let (state, clock) = stack(dir.path(), "https://idp.example.test/token", due, |_| {}).await;
        println!("(seeded in {:.1} s)", seeding.elapsed().as_secs_f64());
        clock.advance(Duration::days(15));
        println!("| limits | due | enqueued | deferred | seconds | due connections/s |");
        println!("|---|---|---|---|---|---|");
        let default = RefreshLimits::default();
        scheduler(&state, &clock, due, "default (1 000 per provider per run)", &default).await;
        let lifted = RefreshLimits {
            per_provider_per_run: usize::MAX,
            per_shard_per_run: usize::MAX,
            ..default
        };
        scheduler(&state, &clock, due, "per-provider bound lifted", &lifted).await;
    });
}
