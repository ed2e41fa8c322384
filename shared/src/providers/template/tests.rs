use serde_json::{json, Map, Value};

use super::*;
use crate::providers::schema::{FieldFormat, FieldSpec};

fn config(pairs: &[(&str, &str)]) -> Map<String, Value> {
    pairs.iter().map(|(k, v)| (k.to_string(), json!(v))).collect()
}

/// Values that try to leave their slot: another host, user info, a fragment, an encoded
/// slash, header splitting, and look-alike characters.
const HOSTILE: &[&str] = &[
    "evil.com/x?",
    "evil.com/",
    "evil.com#",
    "evil.com?a=",
    "user@evil.com",
    "@evil.com",
    "a#b",
    "a%2Fb",
    "a%2fb",
    "..",
    "a/../b",
    "a\r\nHost: evil.com",
    "a\nb",
    "a\0b",
    "acme\u{2024}com",
    "аcme",
    "acme\u{ff0e}evil",
    "a b",
    "a\\b",
    "https://evil.com",
];

/// One template per URL slot a connection config value can land in.
const SLOTS: &[(&str, &str)] = &[
    (
        "host (subdomain)",
        "https://${connectionConfig.v}.zendesk.com/oauth/tokens",
    ),
    ("host (whole)", "https://${connectionConfig.v}/oauth/token"),
    ("host (suffix)", "https://api.${connectionConfig.v}/2.0/token"),
    (
        "host (fallback)",
        "https://${connectionConfig.v}/services/oauth2/token || https://login.salesforce.com/services/oauth2/token",
    ),
    (
        "path",
        "https://login.microsoftonline.com/${connectionConfig.v}/oauth2/v2.0/token",
    ),
    (
        "query",
        "https://apis.paycor.com/sts/v1/common/token?subscription-key=${connectionConfig.v}",
    ),
    ("origin", "${connectionConfig.v}/services/data"),
];

#[test]
fn hostile_values_are_refused_in_every_url_slot() {
    for (slot, template) in SLOTS {
        for bad in HOSTILE {
            if *slot == "origin" && *bad == "https://evil.com" {
                continue; // a whole-origin slot takes a URL by definition; its field pattern limits it
            }
            let cfg = config(&[("v", bad)]);
            let err = render_url(template, &Vars::config(&cfg, None)).unwrap_err();
            assert!(
                matches!(err, TemplateError::Invalid { ref field, .. } if field == "connectionConfig.v"),
                "{slot}: {bad:?} gave {err:?}"
            );
            let api = err.into_error("test");
            assert_eq!(api.code, ErrorCode::InvalidConnectionConfig, "{slot}: {bad:?}");
            assert!(
                !api.message.contains("evil"),
                "the value is not echoed: {}",
                api.message
            );
        }
    }
}

#[test]
fn benign_values_land_in_their_slot() {
    let cases = [
        (SLOTS[0].1, "acme", "acme.zendesk.com", "/oauth/tokens"),
        (SLOTS[1].1, "acme.example.com", "acme.example.com", "/oauth/token"),
        (SLOTS[2].1, "box.com", "api.box.com", "/2.0/token"),
        (
            SLOTS[3].1,
            "acme.my.salesforce.com",
            "acme.my.salesforce.com",
            "/services/oauth2/token",
        ),
        (
            SLOTS[4].1,
            "common",
            "login.microsoftonline.com",
            "/common/oauth2/v2.0/token",
        ),
        (SLOTS[5].1, "k-1", "apis.paycor.com", "/sts/v1/common/token"),
        (
            SLOTS[6].1,
            "https://acme.my.salesforce.com/",
            "acme.my.salesforce.com",
            "/services/data",
        ),
    ];
    for (template, value, host, path) in cases {
        let cfg = config(&[("v", value)]);
        let url = render_url(template, &Vars::config(&cfg, None)).unwrap();
        assert_eq!((url.host_str(), url.path()), (Some(host), path), "{template}");
    }
}

#[test]
fn fallback_is_used_only_when_the_value_is_absent() {
    let t = SLOTS[3].1;
    let url = render_url(t, &Vars::config(&Map::new(), None)).unwrap();
    assert_eq!(url.host_str(), Some("login.salesforce.com"));
    let cfg = config(&[("v", "")]);
    assert_eq!(
        render_url(t, &Vars::config(&cfg, None)).unwrap().host_str(),
        Some("login.salesforce.com")
    );
    // A present but invalid value is an error, never a silent fallback.
    let cfg = config(&[("v", "evil.com/x?")]);
    assert!(matches!(
        render_url(t, &Vars::config(&cfg, None)),
        Err(TemplateError::Invalid { .. })
    ));
}

#[test]
fn missing_values_name_the_field() {
    let err = render_url(SLOTS[0].1, &Vars::config(&Map::new(), None)).unwrap_err();
    assert_eq!(err, TemplateError::Missing("connectionConfig.v".into()));
    let api = err.into_error("Provider 'zendesk'");
    assert_eq!(api.code, ErrorCode::MissingConnectionConfig);
    assert!(api.message.contains("'v'"), "{}", api.message);
}

#[test]
fn field_patterns_enums_and_formats_apply_before_the_slot() {
    let pattern = FieldSpec {
        pattern: Some("^[a-z0-9_-]+$".into()),
        ..Default::default()
    };
    let allowed = FieldSpec {
        allowed: Some(vec!["eu".into(), "us".into()]),
        ..Default::default()
    };
    let host = FieldSpec {
        format: Some(FieldFormat::Hostname),
        ..Default::default()
    };
    let uuid = FieldSpec {
        format: Some(FieldFormat::Uuid),
        ..Default::default()
    };
    assert!(check_spec(&pattern, "acme").is_ok());
    assert!(check_spec(&pattern, "Acme").is_err());
    assert!(check_spec(&allowed, "eu").is_ok());
    assert!(check_spec(&allowed, "eu.evil.com").is_err());
    assert!(check_spec(&host, "a.b.example.com").is_ok());
    assert!(check_spec(&host, "a.b.example.com/x").is_err());
    assert!(check_spec(&uuid, "5ab87915-2deb-429c-a1e2-8b0495900f45").is_ok());
    assert!(check_spec(&uuid, "5ab87915").is_err());
    // Lookahead patterns from the catalog (Salesforce) evaluate.
    let sf = FieldSpec {
        pattern: Some(r"^(?!(?:.*\.)?lightning\.force\.com$)[a-z0-9.]+$".into()),
        ..Default::default()
    };
    assert!(check_spec(&sf, "acme.my.salesforce.com").is_ok());
    assert!(check_spec(&sf, "acme.lightning.force.com").is_err());
}

#[test]
fn headers_take_printable_values_and_base64() {
    let mut vars = Vars::default();
    vars.credentials.insert("username".into(), "u".into());
    vars.credentials.insert("password".into(), "p w".into());
    vars.secrets.insert("apiKey", "k-1".into());
    assert_eq!(
        render_text("Bearer ${apiKey}", &vars, Slot::Header).unwrap(),
        "Bearer k-1"
    );
    assert_eq!(
        render_text(
            "Basic ${base64(${credentials.username}:${credentials.password})}",
            &vars,
            Slot::Header
        )
        .unwrap(),
        "Basic dTpwIHc="
    );
    vars.secrets.insert("apiKey", "k\r\nX-Evil: 1".into());
    let err = render_text("Bearer ${apiKey}", &vars, Slot::Header).unwrap_err();
    assert_eq!(err.into_error("t").code, ErrorCode::InvalidCredentials);
    assert!(
        matches!(
            render_text("${method} ${path}", &vars, Slot::Header),
            Err(TemplateError::Unsupported(_))
        ),
        "request parts exist only for a request being sent"
    );
    assert!(
        matches!(
            render_text("${sha256Hex(${apiKey})}", &vars, Slot::Header),
            Err(TemplateError::Invalid { .. })
        ),
        "a helper's argument is checked too"
    );
}

#[test]
fn secrets_in_query_slots_are_escaped_not_spliced() {
    let mut vars = Vars::default();
    vars.credentials.insert("secret".into(), "a&b=c#d".into());
    let url = render_url("https://api.leapsome.com/v1/token?secret=${credentials.secret}", &vars).unwrap();
    let q: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    assert_eq!(q, [("secret".to_owned(), "a&b=c#d".to_owned())]);
    assert_eq!(url.fragment(), None);
}

#[path = "property_tests.rs"]
mod property_tests;
#[path = "request_tests.rs"]
mod request_tests;
