//! Which catalog entries connect: the entry's mode has a module (`scheme`), and every template
//! the entry holds — URLs, token and refresh parameters and headers, authorization parameters,
//! proxy headers, every additional step — renders with sample inputs, so none uses something
//! Latchkey does not evaluate (`TemplateError::Unsupported`). Sample values may not fit a
//! field's pattern; the URL host checks have their own test (`providers::tests`). The count is
//! documented in README.md and docs/known-gaps.md; `tests/steps/30-catalog.sh` prints it.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::scheme;
use crate::domain::AuthMode;
use crate::providers::catalog::catalog;
use crate::providers::schema::Provider;
use crate::providers::template::{render_text, variables, Moment, RequestParts, Slot, TemplateError, Vars};

/// Entries that connect today; raise it when a mode or helper lands.
const CONNECTING: usize = 976;

/// Every template string of an entry, by the key it sits under. The field specs
/// (`credentials`, `connection_config`, …) and documentation hold no templates Latchkey renders.
fn templates_of(p: &Provider) -> Vec<(String, String)> {
    fn walk(key: &str, v: &Value, out: &mut Vec<(String, String)>) {
        match v {
            Value::String(s) if s.contains("${") => out.push((key.to_owned(), s.clone())),
            Value::Array(items) => items.iter().for_each(|i| walk(key, i, out)),
            Value::Object(m) => m.iter().for_each(|(k, i)| walk(&format!("{key}.{k}"), i, out)),
            _ => {}
        }
    }
    let skip = [
        "credentials",
        "connection_config",
        "assertion_option",
        "docs",
        "docs_connect",
        "display_name",
        "categories",
        "post_connection_script",
        "webhook_routing_script",
    ];
    let mut out = Vec::new();
    if let Value::Object(entry) = serde_json::to_value(p).expect("an entry serializes") {
        for (k, v) in entry.iter().filter(|(k, _)| !skip.contains(&k.as_str())) {
            walk(k, v, &mut out);
        }
    }
    out
}

/// Sample values for every variable the templates read: each declared field, the secrets a
/// mode supplies, and earlier steps' answers.
fn sample_vars<'a>(config: &'a Map<String, Value>, templates: &[(String, String)]) -> Vars<'a> {
    let mut vars = Vars {
        moment: Moment::at(time::OffsetDateTime::now_utc()),
        request: Some(RequestParts::of(
            "POST",
            &url::Url::parse("https://api.example.com/v1/x?a=b").unwrap(),
            b"{}",
        )),
        ..Vars::config(config, None)
    };
    for name in [
        "apiKey",
        "accessToken",
        "clientId",
        "clientSecret",
        "refresh_token",
        "token",
    ] {
        vars.secrets.insert(name, "samplevalue".into());
    }
    let mut steps: BTreeMap<usize, Map<String, Value>> = BTreeMap::new();
    for (_, t) in templates {
        for var in variables(t) {
            if let Some(k) = var.strip_prefix("credentials.") {
                vars.credentials.insert(k.to_owned(), "samplevalue".into());
            } else if let Some(k) = var.strip_prefix("assertionOption.") {
                vars.assertion_options.insert(k.to_owned(), "samplevalue".into());
            } else if let Some((n, path)) = var.strip_prefix("step").and_then(|r| r.split_once('.')) {
                if let Ok(n) = n.parse::<usize>() {
                    steps
                        .entry(n)
                        .or_default()
                        .insert(path.to_owned(), "https://step.example.com".into());
                }
            }
        }
    }
    let last = steps.keys().max().copied().unwrap_or(0);
    vars.steps = (1..=last).map(|n| steps.remove(&n).unwrap_or_default()).collect();
    vars
}

/// The templates of `p` that use something Latchkey does not evaluate.
fn unsupported(p: &Provider) -> Vec<String> {
    let templates = templates_of(p);
    let config: Map<String, Value> = p
        .connection_config
        .iter()
        .flatten()
        .map(|(k, _)| (k.clone(), Value::String("example".into())))
        .chain(
            templates
                .iter()
                .flat_map(|(_, t)| variables(t))
                .filter_map(|v| v.strip_prefix("connectionConfig.").map(str::to_owned))
                .map(|k| (k, Value::String("example".into()))),
        )
        .collect();
    let vars = sample_vars(&config, &templates);
    templates
        .iter()
        .filter_map(|(key, t)| match render_text(t, &vars, Slot::Param) {
            Err(TemplateError::Unsupported(what)) => Some(format!("{key}: {what}")),
            _ => None,
        })
        .collect()
}

#[test]
fn every_entry_whose_mode_has_a_module_renders_its_templates_and_the_count_is_documented() {
    let mut by_mode: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut helper_failures = Vec::new();
    let mut connecting = 0;
    for p in catalog().providers() {
        if scheme(p.auth_mode).is_none() {
            *by_mode.entry(p.auth_mode.as_str()).or_default() += 1;
            continue;
        }
        // An MCP entry identified by a client ID metadata document (lovable-mcp).
        if !super::connects(&p.name, p.auth_mode) {
            *by_mode.entry("MCP_OAUTH2 (cimd)").or_default() += 1;
            continue;
        }
        let missing = unsupported(p);
        if missing.is_empty() {
            connecting += 1;
        } else {
            helper_failures.push(format!("{} ({}): {}", p.name, p.auth_mode, missing.join("; ")));
        }
    }
    println!("catalog entries that connect: {connecting} of {}", catalog().len());
    println!("modes without a module: {by_mode:?}");
    for f in &helper_failures {
        println!("unsupported template: {f}");
    }
    assert!(helper_failures.is_empty(), "{helper_failures:#?}");
    assert_eq!(
        connecting, CONNECTING,
        "update CONNECTING, README.md and docs/known-gaps.md"
    );
    assert_eq!(
        catalog()
            .providers()
            .filter(|p| p.auth_mode == AuthMode::TwoStep)
            .count(),
        63,
        "every two-step entry has its module"
    );
}
