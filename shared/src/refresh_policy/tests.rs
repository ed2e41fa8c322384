//! The policy's rules, and the table of cases (`bench/policy_cases.json`) that the simulation's
//! mirror is checked against: this test computes every case with the code and fails when the
//! file says otherwise. `LATCHKEY_WRITE_POLICY_CASES=1 cargo test -p latchkey --lib
//! policy_cases` rewrites the file from the code (then `python3 bench/scale_sim.py --check`
//! must still pass, or the mirror has drifted).

use serde_json::{json, Value};

use super::*;
use crate::store::shards::{self, ACTIVITY_SHARDS, GENERATION_COPIES, LISTING_SHARDS, REFRESH_SHARDS};

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;
/// 2030-01-01T00:00:00Z in ms: the cases' origin.
const T0: i64 = 1_893_456_000_000;

fn facts(mode: AuthMode, refresh: bool, provider: &str, expires: Option<i64>, read: Option<i64>) -> RefreshFacts<'_> {
    RefreshFacts {
        auth_mode: mode,
        has_refresh_token: refresh,
        provider,
        expires_at: expires.map(|e| at_ms(T0 + e)),
        last_fetched_at: at_ms(T0),
        last_read_at: read.map(|r| at_ms(T0 + r)),
        hold: Hold::None,
    }
}

fn next_ms(policy: &RefreshPolicy, f: &RefreshFacts<'_>) -> Option<(i64, Reason)> {
    policy.next_proactive(f).map(|p| (ms(p.at) - T0, p.reason))
}

#[test]
fn a_read_connection_is_renewed_before_the_read_margin() {
    let p = RefreshPolicy::default();
    let hot = facts(AuthMode::OAuth2, true, "custom-oauth2", Some(HOUR), Some(10 * MIN));
    assert_eq!(next_ms(&p, &hot), Some((40 * MIN, Reason::Hot)), "60 - 15 - 5 minutes");
    assert_eq!(p.read_margin(&hot), Duration::minutes(15));
    // A 2-minute token: the margin is half its life, and it is never renewed before half of it.
    let short = facts(AuthMode::OAuth2, true, "custom-oauth2", Some(2 * MIN), Some(0));
    assert_eq!(p.read_margin(&short), Duration::minutes(1));
    assert_eq!(next_ms(&p, &short), Some((MIN, Reason::Hot)));
    // Client credentials are re-fetched ahead the same way, and never kept alive.
    let cc = facts(AuthMode::OAuth2Cc, false, "custom-oauth2", Some(HOUR), Some(0));
    assert_eq!(next_ms(&p, &cc), Some((40 * MIN, Reason::Hot)));
    let cc_unread = facts(AuthMode::OAuth2Cc, false, "custom-oauth2", Some(HOUR), None);
    assert_eq!(next_ms(&p, &cc_unread), None, "renewed on read");
    // A Bill session in use is renewed ahead by logging in again; a WSSE value only on read.
    let bill = facts(AuthMode::Bill, false, "bill", Some(35 * MIN), Some(0));
    assert_eq!(
        next_ms(&p, &bill),
        Some((35 * MIN / 2, Reason::Hot)),
        "never before half its life"
    );
    let wsse = facts(AuthMode::Signature, false, "emarsys", Some(5 * MIN), Some(0));
    assert_eq!(next_ms(&p, &wsse), None, "signed on read, asking nobody");
    assert_eq!(p.read_margin(&wsse), Duration::seconds(150));
}

#[test]
fn hot_lasts_hot_lifetimes_token_lifetimes_after_the_last_read() {
    let p = RefreshPolicy::default();
    // Read at 0, 60-minute token: renewals at 40 (hot), and after a renewal at 40 the next at
    // 80 is still within two lifetimes of the read (120); the one after (120 + 40 = 160) isn't.
    let at_80 = RefreshFacts {
        last_fetched_at: at_ms(T0 + 40 * MIN),
        expires_at: Some(at_ms(T0 + 100 * MIN)),
        ..facts(AuthMode::OAuth2, true, "custom-oauth2", None, Some(0))
    };
    assert_eq!(next_ms(&p, &at_80), Some((80 * MIN, Reason::Hot)));
    let at_160 = RefreshFacts {
        last_fetched_at: at_ms(T0 + 120 * MIN),
        expires_at: Some(at_ms(T0 + 180 * MIN)),
        ..at_80.clone()
    };
    assert_eq!(
        next_ms(&p, &at_160),
        Some((120 * MIN + 14 * DAY, Reason::Keepalive)),
        "cold again: only kept alive"
    );
    let off = RefreshPolicy {
        hot_lifetimes: 0,
        ..RefreshPolicy::default()
    };
    let hot = facts(AuthMode::OAuth2, true, "custom-oauth2", Some(HOUR), Some(0));
    assert_eq!(next_ms(&off, &hot).map(|(_, r)| r), Some(Reason::Keepalive));
}

#[test]
fn idle_refresh_tokens_are_kept_alive_per_provider() {
    let p = RefreshPolicy::default();
    let idle = |provider| next_ms(&p, &facts(AuthMode::OAuth2, true, provider, Some(HOUR), None));
    assert_eq!(
        idle("custom-oauth2"),
        Some((14 * DAY, Reason::Keepalive)),
        "the default"
    );
    assert_eq!(
        idle("google-calendar"),
        Some((135 * DAY, Reason::Keepalive)),
        "180 days × 3/4"
    );
    assert_eq!(idle("outlook"), Some((90 * DAY * 3 / 4, Reason::Keepalive)));
    assert_eq!(idle("xero"), Some((45 * DAY, Reason::Keepalive)));
    assert_eq!(idle("quickbooks"), Some((75 * DAY, Reason::Keepalive)));
    assert_eq!(idle("jira"), Some((90 * DAY * 3 / 4, Reason::Keepalive)));
    assert_eq!(
        idle("hubspot"),
        Some((14 * DAY, Reason::Keepalive)),
        "unknown: the default"
    );
    // No expiry at all (some providers send no expires_in): still kept alive.
    let forever = facts(AuthMode::OAuth2, true, "custom-oauth2", None, Some(0));
    assert_eq!(next_ms(&p, &forever), Some((14 * DAY, Reason::Keepalive)));
    // Nothing to keep alive or renew: never scheduled.
    assert_eq!(
        next_ms(&p, &facts(AuthMode::OAuth2, false, "custom-oauth2", None, Some(0))),
        None
    );
    assert_eq!(
        next_ms(&p, &facts(AuthMode::ApiKey, false, "openai", None, Some(0))),
        None
    );
    let verify = RefreshPolicy {
        verify: Some(Duration::days(1)),
        ..RefreshPolicy::default()
    };
    assert_eq!(
        next_ms(&verify, &facts(AuthMode::Basic, false, "jira-basic", None, None)),
        Some((DAY, Reason::Verify))
    );
    for (mode, provider) in [(AuthMode::OAuth1, "trello"), (AuthMode::Tba, "netsuite-tba")] {
        assert_eq!(
            next_ms(&verify, &facts(mode, false, provider, None, None)),
            Some((DAY, Reason::Verify)),
            "{mode}: tokens that do not expire are re-tested"
        );
    }
}

#[test]
fn a_failed_refresh_holds_renewals_off_until_its_next_attempt_or_for_good() {
    let p = RefreshPolicy::default();
    let hot = facts(AuthMode::OAuth2, true, "custom-oauth2", Some(HOUR), Some(0));
    let held = |hold| RefreshFacts { hold, ..hot.clone() };
    assert_eq!(
        next_ms(&p, &held(Hold::Until(at_ms(T0 + 10 * MIN)))),
        Some((40 * MIN, Reason::Hot)),
        "a hold that ends before the renewal changes nothing"
    );
    assert_eq!(
        next_ms(&p, &held(Hold::Until(at_ms(T0 + 50 * MIN)))),
        Some((50 * MIN, Reason::Hot)),
        "not before the next attempt"
    );
    assert_eq!(
        next_ms(&p, &held(Hold::GaveUp)),
        None,
        "given up: only reads with force_refresh"
    );
}

#[test]
fn a_read_writes_only_when_it_moves_the_schedule() {
    let p = RefreshPolicy::default();
    let moves = |f: &RefreshFacts<'_>, at: i64| p.read_moves_schedule(f, at_ms(T0 + at));
    let unread = facts(AuthMode::OAuth2, true, "custom-oauth2", Some(HOUR), None);
    assert!(moves(&unread, 5 * MIN), "the first read makes it hot");
    let read = facts(AuthMode::OAuth2, true, "custom-oauth2", Some(HOUR), Some(5 * MIN));
    assert!(!moves(&read, 30 * MIN), "already hot: no write");
    assert!(!moves(&read, 45 * MIN));
    let api_key = facts(AuthMode::ApiKey, false, "openai", None, None);
    assert!(!moves(&api_key, 0), "never renewed ahead: reads never write");
}

#[test]
fn the_policy_comes_from_the_environment() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
    };
    assert_eq!(RefreshPolicy::from_env(env(&[])).unwrap(), RefreshPolicy::default());
    let set = RefreshPolicy::from_env(env(&[
        ("LATCHKEY_REFRESH_MARGIN_SECS", "600"),
        ("LATCHKEY_REFRESH_LEAD_SECS", "120"),
        ("LATCHKEY_REFRESH_HOT_LIFETIMES", "3"),
        ("LATCHKEY_REFRESH_KEEPALIVE_SECS", "86400"),
        ("LATCHKEY_REFRESH_VERIFY_SECS", "3600"),
    ]))
    .unwrap();
    assert_eq!(
        set,
        RefreshPolicy {
            read_margin: Duration::minutes(10),
            lead: Duration::minutes(2),
            hot_lifetimes: 3,
            keepalive: Duration::days(1),
            verify: Some(Duration::hours(1)),
        }
    );
    let bad = RefreshPolicy::from_env(env(&[("LATCHKEY_REFRESH_LEAD_SECS", "5m")])).unwrap_err();
    assert!(bad.contains("LATCHKEY_REFRESH_LEAD_SECS"), "{bad}");
}

// ------------------------------------------------------------------ the simulation's table

fn mode_name(m: AuthMode) -> &'static str {
    match m {
        AuthMode::OAuth2 => "OAUTH2",
        AuthMode::OAuth2Cc => "OAUTH2_CC",
        AuthMode::ApiKey => "API_KEY",
        AuthMode::Basic => "BASIC",
        _ => "OTHER",
    }
}

fn policy_json(p: &RefreshPolicy) -> Value {
    json!({
        "read_margin_ms": dur_ms(p.read_margin),
        "lead_ms": dur_ms(p.lead),
        "hot_lifetimes": p.hot_lifetimes,
        "keepalive_ms": dur_ms(p.keepalive),
        "verify_ms": p.verify.map(dur_ms),
    })
}

/// Every combination worth checking: modes, refresh tokens, providers (known idle windows,
/// a catalog buffer, unknown), lifetimes from 2 minutes to none, reads from never to late.
fn cases() -> Value {
    let policies = [
        RefreshPolicy::default(),
        RefreshPolicy {
            read_margin: Duration::minutes(5),
            lead: Duration::minutes(10),
            hot_lifetimes: 1,
            keepalive: Duration::days(30),
            verify: Some(Duration::days(7)),
        },
    ];
    let renewable = [
        (AuthMode::OAuth2, true),
        (AuthMode::OAuth2, false),
        (AuthMode::OAuth2Cc, false),
    ];
    let providers = ["custom-oauth2", "google-mail", "xero", "exact-online"];
    let lifetimes = [None, Some(2 * MIN), Some(HOUR), Some(12 * HOUR), Some(60 * DAY)];
    let reads = [None, Some(0), Some(50 * MIN), Some(3 * HOUR)];
    let mut combos = Vec::new();
    for (mode, refresh) in renewable {
        for provider in providers {
            for lifetime in lifetimes {
                for read in reads {
                    combos.push((mode, refresh, provider, lifetime, read));
                }
            }
        }
    }
    for mode in [AuthMode::ApiKey, AuthMode::Basic] {
        for read in [None, Some(0)] {
            combos.push((mode, false, "openai", None, read));
        }
    }
    let mut combos: Vec<_> = combos.into_iter().map(|c| (c, Hold::None)).collect();
    // Failed refreshes: holds that end before, after, and long after the renewal, and given up.
    for hold in [
        Hold::Until(at_ms(T0 + 10 * MIN)),
        Hold::Until(at_ms(T0 + 50 * MIN)),
        Hold::Until(at_ms(T0 + 40 * DAY)),
        Hold::GaveUp,
    ] {
        for read in [None, Some(0)] {
            combos.push(((AuthMode::OAuth2, true, "custom-oauth2", Some(HOUR), read), hold));
            combos.push(((AuthMode::OAuth2Cc, false, "custom-oauth2", Some(HOUR), read), hold));
        }
    }
    let mut out = Vec::new();
    for (pi, policy) in policies.iter().enumerate() {
        for &((mode, refresh, provider, lifetime, read), hold) in &combos {
            {
                let f = RefreshFacts {
                    hold,
                    ..facts(mode, refresh, provider, lifetime, read)
                };
                let next = next_ms(policy, &f).map(|(at, r)| json!({"at_ms": at, "reason": r.as_str()}));
                let read_at = 70 * MIN;
                let mut case_facts = json!({
                    "auth_mode": mode_name(mode),
                    "has_refresh_token": refresh,
                    "provider": provider,
                    "expires_in_ms": lifetime,
                    "last_read_ms": read,
                });
                match hold {
                    Hold::None => {}
                    Hold::Until(t) => case_facts["hold_until_ms"] = json!(ms(t) - T0),
                    Hold::GaveUp => case_facts["gave_up"] = json!(true),
                }
                out.push(json!({
                    "policy": pi,
                    "facts": case_facts,
                    "read_margin_ms": dur_ms(policy.read_margin(&f)),
                    "keepalive_ms": dur_ms(policy.keepalive_for(provider)),
                    "next": next,
                    "read_at_ms": read_at,
                    "read_moves_schedule": policy.read_moves_schedule(&f, at_ms(T0 + read_at)),
                }));
            }
        }
    }
    let ids = [
        "",
        "a",
        "alice",
        "9b2f4c1e-0d5a-4c43-9c53-5d0f1b8a7e21",
        "user-42",
        "CONN#x",
        "zz:top@corp|1+2",
    ];
    let shard_cases: Vec<Value> = ids
        .iter()
        .map(|id| {
            json!({
                "id": id,
                "refresh": shards::shard(id, REFRESH_SHARDS),
                "listing": shards::shard(id, LISTING_SHARDS),
                "activity": shards::shard(id, ACTIVITY_SHARDS),
                "generation_copy": shards::shard(id, GENERATION_COPIES),
            })
        })
        .collect();
    json!({
        "about": "Generated by shared/src/refresh_policy/tests.rs (LATCHKEY_WRITE_POLICY_CASES=1); \
                  checked by that test and by `python3 bench/scale_sim.py --check`. Times are ms \
                  relative to the last fetch at t0 = 2030-01-01T00:00:00Z.",
        "t0_ms": T0,
        "policies": policies.iter().map(policy_json).collect::<Vec<_>>(),
        "idle_revocation_days": IDLE_REVOCATION_DAYS.iter().map(|(h, d)| json!([h, d])).collect::<Vec<_>>(),
        "shard_counts": {
            "refresh": REFRESH_SHARDS,
            "listing": LISTING_SHARDS,
            "activity": ACTIVITY_SHARDS,
            "generation_copies": GENERATION_COPIES,
        },
        "shards": shard_cases,
        "cases": out,
    })
}

/// The table as a diff-friendly file: the header pretty, then one case per line.
fn one_case_a_line(table: &Value) -> String {
    let mut head = table.clone();
    let cases = head["cases"].take();
    head["cases"] = json!([]);
    let head = serde_json::to_string_pretty(&head).unwrap();
    let lines: Vec<String> = cases
        .as_array()
        .unwrap()
        .iter()
        .map(|c| format!("    {}", serde_json::to_string(c).unwrap()))
        .collect();
    let open = head.rfind("[]").expect("the cases placeholder");
    format!("{}[\n{}\n  ]{}\n", &head[..open], lines.join(",\n"), &head[open + 2..])
}

#[test]
fn policy_cases_match_the_simulations_table() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/policy_cases.json");
    let computed = cases();
    if std::env::var("LATCHKEY_WRITE_POLICY_CASES").is_ok_and(|v| v == "1") {
        std::fs::write(&path, one_case_a_line(&computed)).unwrap();
        return;
    }
    let text = std::fs::read_to_string(&path).expect("bench/policy_cases.json exists");
    let committed: Value = serde_json::from_str(&text).unwrap();
    assert!(
        committed == computed,
        "bench/policy_cases.json is not what the code computes: rewrite it with \
         LATCHKEY_WRITE_POLICY_CASES=1 and update bench/scale_sim.py's mirror until \
         `python3 bench/scale_sim.py --check` passes"
    );
}
