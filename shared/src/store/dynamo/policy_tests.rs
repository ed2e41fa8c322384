//! `template.yaml` grants each function role DynamoDB access by item type: every statement
//! names the partition keys it may touch (`dynamodb:LeadingKeys`), and those must be the
//! partitions `keys.rs` writes. This checks the template against the code, and the few rules
//! the roles exist for: the public functions cannot write the settings (turn HMAC off) or mint
//! connect sessions, and `callback-redirect` touches no table.

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
        assert!(granted.contains(&(true, key.clone())), "no function may query {key}");
    }
}

#[test]
fn the_key_formats_fall_in_the_listed_partitions() {
    let table = keys::table_leading_keys();
    let matches = |pk: &str| {
        table
            .iter()
            .any(|p| p.strip_suffix('*').map_or(pk == p, |prefix| pk.starts_with(prefix)))
    };
    let int = crate::domain::IntegrationKey::parse("i").unwrap();
    let conn = crate::domain::ConnectionId::parse("c").unwrap();
    let pks = [
        keys::integration(&int),
        keys::connection(&int, &conn),
        keys::oauth_session("s"),
        keys::connect_session("h"),
        keys::auth_result("h"),
        keys::nonce("n"),
        keys::settings(),
    ];
    for key in pks {
        let pk = key[super::table::PK].as_s().unwrap();
        assert!(matches(pk), "{pk} is in no listed partition");
    }
    assert!(matches(&keys::attempt_partition("a")));
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

#[test]
fn public_functions_cannot_change_the_settings_or_mint_sessions_and_the_redirect_touches_nothing() {
    let grants = grants();
    for function in ["auth-start", "oauth-callback"] {
        let grants = &grants[function];
        for key in [keys::SETTINGS.to_owned(), format!("{}*", keys::CONNECT_SESSION_PREFIX)] {
            assert!(!grants.iter().any(|g| writes(g, &key)), "{function} may write {key}");
        }
        assert!(
            !grants
                .iter()
                .any(|g| g.actions.iter().any(|a| a == "dynamodb:Query" || a == "dynamodb:Scan")),
            "{function} lists nothing"
        );
    }
    assert!(
        !grants["oauth-callback"]
            .iter()
            .any(|g| g.leading_keys.iter().any(|k| k == keys::SETTINGS)),
        "the callback reads no settings"
    );
    assert!(grants["callback-redirect"].is_empty());
    // Only the operator's function changes the settings.
    let writers: Vec<&String> = grants
        .iter()
        .filter(|(_, gs)| gs.iter().any(|g| writes(g, keys::SETTINGS)))
        .map(|(f, _)| f)
        .collect();
    assert_eq!(writers, ["admin"]);
}
