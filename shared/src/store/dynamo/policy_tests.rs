//! `template.yaml` grants each function role DynamoDB access by item type: every statement
//! names the partition keys it may touch (`dynamodb:LeadingKeys`), and those must be the
//! partitions `keys.rs` writes. This checks the template against the code, and the rules the
//! roles exist for: the public functions cannot write the settings (turn HMAC off), mint connect
//! or console sessions or write an integration; only the operator's function writes
//! integrations, settings and sessions; the worker writes connections (purges, refreshes) and
//! activity and nothing else; the refresh scheduler writes nothing; `callback-redirect` touches
//! no table.

use std::collections::{BTreeMap, BTreeSet};

use serde_norway::Value;

use super::keys;

/// One DynamoDB statement of a function's role: actions, whether on the indexes, and the
/// partition keys it is limited to.
#[derive(Debug)]
struct Grant {
    actions: Vec<String>,
    on_index: bool,
    leading_keys: Vec<String>,
}

fn template() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
    serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Sequence(items) => items.iter().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

/// Whether a statement's `Resource` is the table's indexes (`!Sub "${Table.Arn}/index/*"`).
fn on_index(resource: &Value) -> bool {
    let text = format!("{resource:?}");
    assert!(text.contains("Table"), "a DynamoDB statement on something else: {text}");
    text.contains("/index/")
}

/// The DynamoDB grants of every function, by its `CodeUri` (`auth-start`, …).
fn grants() -> BTreeMap<String, Vec<Grant>> {
    let template = template();
    let mut out = BTreeMap::new();
    for (_, resource) in template["Resources"].as_mapping().unwrap() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let name = resource["Properties"]["CodeUri"]
            .as_str()
            .unwrap()
            .trim_start_matches("functions/")
            .to_owned();
        let mut found = Vec::new();
        for policy in resource["Properties"]["Policies"].as_sequence().into_iter().flatten() {
            for statement in policy["Statement"].as_sequence().into_iter().flatten() {
                let actions = strings(&statement["Action"]);
                if !actions.iter().any(|a| a.starts_with("dynamodb:")) {
                    continue;
                }
                assert!(
                    actions.iter().all(|a| a.starts_with("dynamodb:")),
                    "{name}: {actions:?}"
                );
                let condition = &statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"];
                let leading_keys = strings(condition);
                assert!(
                    !leading_keys.is_empty(),
                    "{name}: every DynamoDB statement is limited by dynamodb:LeadingKeys: {actions:?}"
                );
                found.push(Grant {
                    actions,
                    on_index: on_index(&statement["Resource"]),
                    leading_keys,
                });
            }
        }
        out.insert(name, found);
    }
    out
}

#[test]
fn every_granted_partition_is_one_the_code_writes_and_every_one_is_granted() {
    let (table, index): (BTreeSet<String>, BTreeSet<String>) = (
        keys::table_leading_keys().into_iter().collect(),
        keys::index_leading_keys().into_iter().collect(),
    );
    let mut granted = BTreeSet::new();
    for (function, grants) in grants() {
        for g in grants {
            let known = if g.on_index { &index } else { &table };
            for key in &g.leading_keys {
                assert!(
                    known.contains(key),
                    "{function}: {key} is no partition of the {} in keys.rs ({known:?})",
                    if g.on_index { "indexes" } else { "table" }
                );
                granted.insert((g.on_index, key.clone()));
            }
        }
    }
    for key in &table {
        assert!(granted.contains(&(false, key.clone())), "no function may touch {key}");
    }
    for key in &index {
        assert!(granted.contains(&(true, key.clone())), "no function queries {key}");
    }
}

/// Whether `pk` falls in one of the `dynamodb:LeadingKeys` patterns.
fn matches(patterns: &[String], pk: &str) -> bool {
    patterns
        .iter()
        .any(|p| p.strip_suffix('*').map_or(pk == p, |prefix| pk.starts_with(prefix)))
}

#[test]
fn the_key_formats_fall_in_the_listed_partitions() {
    use super::table::PK;
    let (table, index) = (keys::table_leading_keys(), keys::index_leading_keys());
    let int = crate::domain::IntegrationKey::parse("i").unwrap();
    let conn = crate::domain::ConnectionId::parse("c").unwrap();
    let items = [
        keys::integration(&int),
        keys::generation_copy(&int, 3),
        keys::connection(&int, &conn),
        keys::oauth_session("s"),
        keys::connect_session("h"),
        keys::auth_result("h"),
        keys::console_session("h"),
        keys::socket("h"),
        keys::nonce("n"),
        keys::settings(),
    ];
    for key in items {
        let pk = key[PK].as_s().unwrap();
        assert!(matches(&table, pk), "{pk} is in no listed partition of the table");
    }
    assert!(matches(&table, &keys::attempt_partition("a")));
    // Every index partition a write places an item in, and every one a query reads.
    let entry = crate::store::conformance::activity_entry("e", time::OffsetDateTime::now_utc());
    let entry = crate::store::ActivityEntry {
        connection_id: Some("c".into()),
        ..entry
    };
    let placement = keys::ConnectionPlacement {
        id: "id",
        integration: &int,
        generation: Some("g"),
        created_at: time::OffsetDateTime::now_utc(),
        end_user_id: Some("u"),
        next_refresh: Some(time::OffsetDateTime::now_utc()),
    };
    let written: Vec<String> = keys::connection_index_attributes(&placement)
        .into_iter()
        .chain(keys::activity_attributes(&entry))
        .chain(keys::integration_attributes(&int, "g"))
        .filter(|(attr, _)| super::INDEXES.iter().any(|i| i.pk == *attr))
        .map(|(attr, value)| value.unwrap_or_else(|| panic!("{attr} unset")).as_s().unwrap().clone())
        .collect();
    assert_eq!(written.len(), 7, "every index's partition key: {written:?}");
    let read = [
        keys::INTEGRATIONS_PARTITION.to_owned(),
        keys::integration_listing(&int, "g", 0),
        keys::environment_listing(0),
        keys::end_user_listing("u"),
        keys::end_user_listing(&"u".repeat(600)),
        keys::refresh_partition(0),
        keys::activity_day_partition("20260101", 0),
        keys::connection_activity_partition("c"),
    ];
    for pk in written.iter().chain(read.iter()) {
        assert!(matches(&index, pk), "{pk} is in no listed partition of the indexes");
    }
}

/// Whether `grant` allows a write action on partition `key` of the table.
fn writes(grant: &Grant, key: &str) -> bool {
    let write = [
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:BatchWriteItem",
    ];
    !grant.on_index
        && grant.actions.iter().any(|a| write.contains(&a.as_str()))
        && grant.leading_keys.iter().any(|k| k == key)
}

/// The functions that may write (put, update or delete) items of partition pattern `key`.
fn writers(grants: &BTreeMap<String, Vec<Grant>>, key: &str) -> Vec<String> {
    grants
        .iter()
        .filter(|(_, gs)| gs.iter().any(|g| writes(g, key)))
        .map(|(f, _)| f.clone())
        .collect()
}

#[test]
fn public_functions_cannot_change_the_settings_or_mint_sessions_and_the_redirect_touches_nothing() {
    let grants = grants();
    let pattern = |prefix: &str| format!("{prefix}*");
    for function in ["auth-start", "oauth-callback", "websocket"] {
        let grants = &grants[function];
        for key in [
            keys::SETTINGS.to_owned(),
            pattern(keys::CONNECT_SESSION_PREFIX),
            pattern(keys::CONSOLE_SESSION_PREFIX),
            pattern(keys::INTEGRATION_PREFIX),
            pattern(keys::GENERATION_COPY_PREFIX),
        ] {
            assert!(!grants.iter().any(|g| writes(g, &key)), "{function} may write {key}");
        }
        // No listing of connections or activity: at most the integrations (the Connect page's
        // offer, `auth-start` only), and nothing on the table itself.
        for g in grants
            .iter()
            .filter(|g| g.actions.iter().any(|a| a == "dynamodb:Query" || a == "dynamodb:Scan"))
        {
            assert!(
                function == "auth-start" && g.on_index && g.leading_keys == [keys::INTEGRATIONS_PARTITION],
                "{function} lists {g:?}"
            );
        }
    }
    // The callback reads the settings only for the webhook of what it stored (where it goes).
    for g in grants["oauth-callback"]
        .iter()
        .filter(|g| g.leading_keys.iter().any(|k| k == keys::SETTINGS))
    {
        assert_eq!(
            g.actions,
            ["dynamodb:GetItem"],
            "the callback only reads the settings: {g:?}"
        );
    }
    assert!(grants["callback-redirect"].is_empty());
    // The websocket function touches only the settings (read) and its sockets.
    for g in &grants["websocket"] {
        let allowed: &[String] = match g.actions.as_slice() {
            [a] if a == "dynamodb:GetItem" => &[keys::SETTINGS.to_owned()],
            [a] if a == "dynamodb:PutItem" => &[pattern(keys::SOCKET_PREFIX)],
            _ => panic!("websocket: {g:?}"),
        };
        assert_eq!(g.leading_keys, allowed, "websocket: {g:?}");
    }
    // Only the operator's function changes the settings, the integrations and the sessions that
    // stand for the operator (connect sessions, console sessions).
    for key in [
        keys::SETTINGS.to_owned(),
        pattern(keys::INTEGRATION_PREFIX),
        pattern(keys::GENERATION_COPY_PREFIX),
        pattern(keys::CONNECT_SESSION_PREFIX),
        pattern(keys::CONSOLE_SESSION_PREFIX),
    ] {
        assert_eq!(writers(&grants, &key), ["admin"], "{key}");
    }
    // Nothing but the console's function reads console sessions.
    for (function, gs) in &grants {
        let reads = gs
            .iter()
            .any(|g| g.leading_keys.contains(&pattern(keys::CONSOLE_SESSION_PREFIX)));
        assert_eq!(reads, function == "admin", "{function}: console sessions");
    }
    // Connections are written by the functions that connect, serve the backend or run the
    // console (`admin`: refresh, delete, test connects); the worker deletes them (purges) and
    // renews them (refreshes: the lease, the conditional write), and writes nothing else but
    // the activity of its attempts.
    assert_eq!(
        writers(&grants, &pattern(keys::CONNECTION_PREFIX)),
        ["admin", "auth-start", "connections", "oauth-callback", "worker"]
    );
    let reading = |g: &Grant| {
        g.actions
            .iter()
            .all(|a| ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"].contains(&a.as_str()))
    };
    for g in grants["worker"].iter().filter(|g| !reading(g)) {
        let allowed = match g.actions.as_slice() {
            [a] if a == "dynamodb:PutItem" => [pattern(keys::ATTEMPT_PREFIX)],
            _ if g
                .actions
                .iter()
                .all(|a| a == "dynamodb:UpdateItem" || a == "dynamodb:DeleteItem") =>
            {
                [pattern(keys::CONNECTION_PREFIX)]
            }
            _ => panic!("worker: {g:?}"),
        };
        assert_eq!(g.leading_keys, allowed, "worker: {g:?}");
    }
    // The refresh scheduler reads the refresh index and the integrations, and writes nothing
    // (it sends to the queue).
    for g in &grants["refresh-scheduler"] {
        assert!(reading(g), "refresh-scheduler: {g:?}");
        let allowed = [
            pattern(keys::REFRESH_PREFIX),
            keys::INTEGRATIONS_PARTITION.to_owned(),
            pattern(keys::INTEGRATION_PREFIX),
        ];
        assert!(
            g.leading_keys.iter().all(|k| allowed.contains(k)),
            "refresh-scheduler: {g:?}"
        );
    }
    // Nobody scans the table.
    for (function, gs) in &grants {
        assert!(
            !gs.iter().any(|g| g.actions.iter().any(|a| a == "dynamodb:Scan")),
            "{function} may scan"
        );
    }
}
