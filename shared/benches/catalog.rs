//! Provider catalog costs: parsing the embedded JSON (once per process, at router build) and
//! what a request pays afterwards (lookup, config validation, endpoint rendering).
//! Run: `cargo bench -p latchkey --bench catalog`. Plain `Instant` timing, medians of runs.

use std::hint::black_box;
use std::time::{Duration, Instant};

use latchkey::domain::{AuthMode, IntegrationKey};
use latchkey::providers::{self, catalog::Catalog, catalog::CATALOG_JSON};
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

fn main() {
    let first = Instant::now();
    let n = providers::catalog().providers.len();
    let first_use = first.elapsed();
    println!("catalog: {n} providers, {} bytes embedded", CATALOG_JSON.len());
    println!("first use (parse + index, in this process): {first_use:?}");
    println!(
        "parse + index:                     {:?} (median of 30)",
        measure(30, 1, || {
            black_box(Catalog::parse(black_box(CATALOG_JSON)).unwrap());
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
