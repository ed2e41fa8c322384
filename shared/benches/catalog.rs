//! Provider catalog costs: the first lookup of an entry in a fresh process (the entry is
//! deserialized from the compiled table), every entry (a listing), the whole file parsed at once
//! (what every process paid at start before the table), and what a request pays afterwards
//! (lookup, config validation, endpoint rendering).
//! Run: `cargo bench -p latchkey --bench catalog`. Plain `Instant` timing, medians of runs.

use std::hint::black_box;
use std::time::{Duration, Instant};

use latchkey::domain::{AuthMode, IntegrationKey};
use latchkey::providers::schema::Provider;
use latchkey::providers::{self, catalog::CATALOG_JSON};
use latchkey::store::IntegrationRecord;
use serde_json::{json, Map, Value};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Median time per call of `f`, over `runs` runs of `per_run` calls.
fn measure(runs: usize, per_run: u32, mut f: impl FnMut()) -> Duration {
    f();
    let samples = (0..runs)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..per_run {
                f();
            }
            t.elapsed() / per_run
        })
        .collect();
    median(samples)
}

/// The catalog file parsed whole into the schema, as every process did at start before the
/// build-time table.
#[derive(serde::Deserialize)]
struct WholeFile {
    #[allow(dead_code)]
    source: String,
    providers: Vec<Provider>,
}

fn main() {
    let catalog = providers::catalog();
    println!(
        "catalog: {} providers, {} bytes in the file",
        catalog.len(),
        CATALOG_JSON.len()
    );
    assert_eq!(catalog.parsed(), 0, "nothing is parsed before it is asked for");
    let first = Instant::now();
    black_box(providers::provider(black_box("zendesk")).unwrap());
    println!(
        "first lookup of one entry (zendesk) in this process: {:?}",
        first.elapsed()
    );
    assert_eq!(catalog.parsed(), 1);
    let all = Instant::now();
    let n = catalog.providers().count();
    println!(
        "first listing of every entry ({n}) in this process:   {:?}",
        all.elapsed()
    );
    println!(
        "whole file parsed at once (the former start-up cost): {:?} (median of 30)",
        measure(30, 1, || {
            let file: WholeFile = serde_json::from_str(black_box(CATALOG_JSON)).unwrap();
            black_box(file.providers.len());
        })
    );
    let names = ["zendesk", "salesforce", "slack", "openai", "zoom", "no-such-provider"];
    println!(
        "lookup by name:                    {:?} (median, {} names)",
        measure(50, 20_000, || {
            for n in names {
                black_box(providers::provider(black_box(n)));
            }
        }) / names.len() as u32,
        names.len()
    );
    let config: Map<String, Value> = json!({"subdomain": "acme"}).as_object().unwrap().clone();
    println!(
        "validate zendesk connection config: {:?}",
        measure(50, 2_000, || {
            black_box(providers::validate_connection_config("zendesk", black_box(&config)).unwrap());
        })
    );
    let now = time::OffsetDateTime::UNIX_EPOCH;
    let record = IntegrationRecord {
        key: IntegrationKey::parse("zd").unwrap(),
        provider: "zendesk".into(),
        display_name: None,
        auth_mode: AuthMode::OAuth2,
        client_id: Some("cid".into()),
        client_secret: None,
        scopes: vec![],
        custom: None,
        allowed_hosts: vec![],
        app: None,
        aws_sigv4: None,
        created_at: now,
        updated_at: now,
        generation: String::new(),
    };
    println!(
        "render zendesk OAuth2 endpoints:   {:?}",
        measure(50, 2_000, || {
            black_box(
                latchkey::auth::oauth2::endpoints::for_connection(black_box(&record), &config, &Default::default())
                    .unwrap(),
            );
        })
    );
}
