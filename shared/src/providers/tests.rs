//! The catalog as data: every entry parses into the schema and back unchanged, every pattern
//! compiles, every URL renders on the expected host with the entry's example values.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::catalog::{catalog, CATALOG_JSON};
use super::schema::Provider;
use super::template::{compile_pattern, render_url, variables, Vars};
use super::*;

#[test]
fn every_catalog_entry_round_trips_through_the_schema() {
    let file: Value = serde_json::from_str(CATALOG_JSON).unwrap();
    let entries = file["providers"].as_array().unwrap();
    assert_eq!(entries.len(), 978);
    for raw in entries {
        let name = raw["name"].as_str().unwrap();
        let parsed: Provider = serde_json::from_value(raw.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            &serde_json::to_value(&parsed).unwrap(),
            raw,
            "{name} changes on a round trip"
        );
    }
    // The compiled table is the file: the same names, sorted, each entry parsing to the same.
    let c = catalog();
    assert_eq!(c.len(), 978);
    assert_eq!(c.source, file["source"].as_str().unwrap());
    assert!(c.source.contains("Nango") && c.source.contains("Elastic License 2.0"));
    let names: Vec<&str> = c.names().collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(names, sorted, "names are unique and sorted");
    for raw in entries {
        let name = raw["name"].as_str().unwrap();
        let compiled = c
            .get(name)
            .unwrap_or_else(|| panic!("{name} is not in the compiled table"));
        assert_eq!(
            &serde_json::to_value(compiled).unwrap(),
            raw,
            "{name} differs from the file"
        );
    }
    assert!(c.get("no-such-provider").is_none());
}

#[test]
fn aliases_are_resolved_and_modes_counted() {
    let c = catalog();
    let aliases: Vec<&Provider> = c.providers().filter(|p| p.alias_of.is_some()).collect();
    assert_eq!(aliases.len(), 67);
    for a in aliases {
        assert!(
            a.proxy.is_some() || a.authorization_url.is_some() || a.token_url.is_some(),
            "{} carries its base entry's keys",
            a.name
        );
    }
    let count = |m| c.providers().filter(|p| p.auth_mode == m).count();
    assert_eq!(count(AuthMode::OAuth2), 344);
    assert_eq!(count(AuthMode::ApiKey), 322);
    assert_eq!(count(AuthMode::OAuth2Cc), 110);
    assert_eq!(count(AuthMode::Basic), 97);
}

#[test]
fn every_field_pattern_compiles() {
    for p in catalog().providers() {
        for fields in [&p.connection_config, &p.credentials, &p.assertion_option]
            .into_iter()
            .flatten()
        {
            for (k, spec) in fields {
                if let Some(pattern) = &spec.pattern {
                    compile_pattern(pattern).unwrap_or_else(|e| panic!("{}.{k}: {e}", p.name));
                }
            }
        }
    }
}

#[test]
fn every_provider_has_its_catalog_mode() {
    assert!(provider("3cx").is_some());
    assert_eq!(auth_mode("3cx").unwrap(), AuthMode::TwoStep);
    assert_eq!(auth_mode("zendesk").unwrap(), AuthMode::OAuth2);
    assert_eq!(auth_mode("openai").unwrap(), AuthMode::ApiKey);
    assert_eq!(auth_mode("8x8").unwrap(), AuthMode::OAuth2Cc);
    assert_eq!(auth_mode("jira-basic").unwrap(), AuthMode::Basic);
    assert_eq!(auth_mode(CUSTOM_OAUTH2).unwrap(), AuthMode::OAuth2);
    assert_eq!(auth_mode("no-such-api").unwrap_err().code, ErrorCode::UnknownProvider);
}

/// An example value for a field: its default, its example, its first allowed value, or a
/// plain word, with the prefix/suffix a user might have typed along taken off.
fn example_for(spec: &schema::FieldSpec) -> String {
    let raw = spec
        .default_value
        .clone()
        .filter(|d| !d.is_empty())
        .or_else(|| spec.allowed.as_ref().and_then(|a| a.first().cloned()))
        .or_else(|| spec.example.clone())
        .unwrap_or_else(|| "example".into());
    let mut v = raw.as_str();
    if let Some(p) = spec.prefix.as_deref() {
        v = v.strip_prefix(p).unwrap_or(v);
    }
    if let Some(s) = spec.suffix.as_deref() {
        v = v.strip_suffix(s).unwrap_or(v);
    }
    v.to_owned()
}

fn uses_helpers(t: &str) -> bool {
    variables(t)
        .iter()
        .any(|v| !(v.starts_with("connectionConfig.") || v.starts_with("credentials.") || v == "apiKey"))
}

#[test]
fn every_url_renders_with_example_config_on_the_expected_host() {
    let mut rendered = 0;
    let mut failures = Vec::new();
    for p in catalog().providers() {
        let specs = p.connection_config.clone().unwrap_or_default();
        let credentials: BTreeMap<String, String> = p
            .credentials
            .iter()
            .flatten()
            .map(|(k, _)| (k.clone(), "secretvalue".to_owned()))
            .collect();
        for (field, template, is_url) in templates(p) {
            if !is_url || uses_helpers(template) {
                continue;
            }
            let mut config: Map<String, Value> = specs
                .iter()
                .map(|(k, s)| (k.clone(), Value::String(example_for(s))))
                .collect();
            // Some catalog examples don't fit their slot (a path in a host slot, `***` masks)
            // or automated fields have none: substitute a plain value and try again.
            let mut result = Err(template::TemplateError::NotAUrl);
            for _ in 0..6 {
                // Example values are illustrations; specs are not applied here (their own tests
                // cover them), the host check is what matters.
                let vars = Vars {
                    credentials: credentials.clone(),
                    secrets: [("apiKey", "secretvalue".to_owned())].into_iter().collect(),
                    ..Vars::config(&config, None)
                };
                result = render_url(template, &vars);
                let field = match &result {
                    Err(template::TemplateError::Invalid { field, .. })
                    | Err(template::TemplateError::Missing(field)) => {
                        field.strip_prefix("connectionConfig.").map(str::to_owned)
                    }
                    _ => None,
                };
                let Some(field) = field else { break };
                let next = match config.get(&field).and_then(Value::as_str) {
                    None => "example",
                    Some("example") => "https://example.com",
                    Some(_) if template.trim_start().starts_with("${") => "https://example.com",
                    Some(_) => "example",
                };
                config.insert(field, Value::String(next.into()));
            }
            // The expected URL: the first complete alternative with values pasted in as text.
            let alt = template
                .split("||")
                .map(str::trim)
                .find(|a| {
                    variables(a).iter().all(|v| {
                        v.strip_prefix("connectionConfig.")
                            .is_none_or(|k| config.contains_key(k))
                            && v.strip_prefix("credentials.")
                                .is_none_or(|k| credentials.contains_key(k))
                    })
                })
                .unwrap_or(template);
            let mut naive = alt.to_owned();
            for (k, v) in &config {
                naive = naive.replace(&format!("${{connectionConfig.{k}}}"), v.as_str().unwrap());
            }
            for k in credentials.keys() {
                naive = naive.replace(&format!("${{credentials.{k}}}"), "secretvalue");
            }
            naive = naive.replace("${apiKey}", "secretvalue");
            let expected = url::Url::parse(&naive)
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned));
            match (result, expected) {
                (Ok(url), Some(host)) if url.host_str() == Some(host.as_str()) => rendered += 1,
                (got, expected) => failures.push(format!("{} {field}: {got:?} expected host {expected:?}", p.name)),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} URLs failed:\n{}",
        failures.len(),
        rendered + failures.len(),
        failures.join("\n")
    );
    assert!(rendered > 1500, "{rendered}");
}

/// Connection config from name/value pairs.
pub(crate) fn cfg(pairs: &[(&str, &str)]) -> ConnectionConfig {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect()
}

#[test]
fn zendesk_config_is_validated_before_use() {
    let ok = validate_connection_config("zendesk", &cfg(&[("subdomain", "acme")])).unwrap();
    assert_eq!(ok["subdomain"], "acme");
    let typed_whole =
        validate_connection_config("zendesk", &cfg(&[("subdomain", "https://acme.zendesk.com")])).unwrap();
    assert_eq!(
        typed_whole["subdomain"], "acme",
        "prefix and suffix typed along are taken off"
    );
    for bad in ["evil.com/x?", "a@b", "a#b", "a%2Fb", "a\r\nb", "аcme", "ACME", "a.b"] {
        let err = validate_connection_config("zendesk", &cfg(&[("subdomain", bad)])).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidConnectionConfig, "{bad:?}");
    }
    let missing = validate_connection_config("zendesk", &cfg(&[])).unwrap_err();
    assert_eq!(missing.code, ErrorCode::MissingConnectionConfig);
    assert!(missing.message.contains("subdomain"), "{}", missing.message);
    let unknown = validate_connection_config("zendesk", &cfg(&[("subdomain", "a"), ("host", "evil.com")])).unwrap_err();
    assert_eq!(unknown.code, ErrorCode::InvalidConnectionConfig);
    // Values the provider fills in can't be forced by the user (they become the API base URL).
    let forced = validate_connection_config("salesforce", &cfg(&[("instance_url", "https://evil.com")])).unwrap_err();
    assert_eq!(forced.code, ErrorCode::InvalidConnectionConfig);
}
