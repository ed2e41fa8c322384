//! Properties of the catalog's templates through their public functions (`variables`,
//! `render_url`, `render_text`, `check_spec`): any template and any value are rendered or
//! refused, never a panic; and the rule the module exists for — no value moves a URL beyond the
//! slot its template gives it: a host part stays under its domain, a path segment stays one
//! segment, a query value stays one value of its own parameter.

use proptest::prelude::*;
use serde_json::{Map, Value};

use super::schema::FieldSpec;
use super::template::{check_spec, render_text, render_url, variables, Slot, Vars};

/// Hostile text: the characters that re-target or re-scope a URL, mixed with ordinary ones.
fn hostile() -> impl Strategy<Value = String> {
    "([a-z0-9]{0,6}|[/?#@:%\\\\.\\[\\] \\t\\r\\n&=+;,]|%2[eEfF]|\\.\\.|\\p{L}){0,8}"
}

fn config(key: &str, value: &str) -> Map<String, Value> {
    Map::from_iter([(key.to_owned(), Value::String(value.to_owned()))])
}

fn slot() -> impl Strategy<Value = Slot> {
    proptest::sample::select(vec![
        Slot::Origin,
        Slot::Host,
        Slot::Path,
        Slot::Query,
        Slot::Fragment,
        Slot::Header,
        Slot::Param,
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_template_and_value_is_rendered_or_refused_without_panic(
        template in "(\\$\\{|\\}|\\|\\||[a-zA-Z.]{1,12}|base64\\(|\\)|https://|[/?#:]|\\PC){0,16}",
        value in hostile(),
        slot in slot(),
    ) {
        let _ = variables(&template);
        let c = config("x", &value);
        let mut vars = Vars::config(&c, None);
        vars.secrets.insert("apiKey", value.clone());
        vars.credentials.insert("x".into(), value.clone());
        let _ = render_url(&template, &vars);
        let _ = render_text(&template, &vars, slot);
    }

    #[test]
    fn a_host_value_stays_under_its_domain(value in hostile()) {
        let c = config("subdomain", &value);
        if let Ok(url) = render_url("https://${connectionConfig.subdomain}.example.com/api/v1", &Vars::config(&c, None)) {
            prop_assert!(url.host_str().unwrap().ends_with(".example.com"), "{url}");
            prop_assert_eq!(url.path(), "/api/v1");
            prop_assert!(url.username().is_empty() && url.query().is_none() && url.fragment().is_none());
        }
    }

    #[test]
    fn a_path_value_stays_one_segment(value in hostile()) {
        let c = config("id", &value);
        if let Ok(url) = render_url("https://api.example.com/v1/${connectionConfig.id}/items", &Vars::config(&c, None)) {
            prop_assert_eq!(url.host_str(), Some("api.example.com"));
            let segments: Vec<_> = url.path_segments().unwrap().collect();
            prop_assert_eq!(segments, vec!["v1", value.as_str(), "items"]);
            prop_assert!(url.query().is_none() && url.fragment().is_none());
        }
    }

    #[test]
    fn a_query_value_stays_its_parameters_value(value in hostile(), secret in hostile()) {
        let c = config("site", &value);
        let mut vars = Vars::config(&c, None);
        vars.secrets.insert("apiKey", secret.clone());
        if let Ok(url) = render_url("https://api.example.com/x?site=${connectionConfig.site}&fixed=1", &vars) {
            prop_assert_eq!(url.host_str(), Some("api.example.com"));
            prop_assert_eq!(url.path(), "/x");
            let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
            prop_assert_eq!(pairs, vec![("site".into(), value.clone()), ("fixed".into(), "1".into())]);
        }
        // A secret in a query is escaped, not refused: it comes back as itself.
        if let Ok(url) = render_url("https://api.example.com/x?key=${apiKey}&fixed=1", &vars) {
            let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
            prop_assert_eq!(pairs, vec![("key".into(), secret.clone()), ("fixed".into(), "1".into())]);
        } else {
            prop_assert!(secret.is_empty() || secret.chars().any(char::is_control));
        }
    }

    #[test]
    fn an_origin_value_keeps_the_templates_path_and_brings_no_user_info_query_or_fragment(
        scheme in "https?|ftp|javascript|",
        host in "([a-z0-9]{1,8}|[@:%?#/\\\\.])+",
        rest in hostile(),
    ) {
        let value = format!("{scheme}://{host}{rest}");
        let c = config("base", &value);
        if let Ok(url) = render_url("${connectionConfig.base}/api/v2", &Vars::config(&c, None)) {
            prop_assert!(matches!(url.scheme(), "http" | "https"));
            prop_assert!(url.path().ends_with("/api/v2"), "{url}");
            prop_assert!(url.username().is_empty() && url.password().is_none());
            prop_assert!(url.query().is_none() && url.fragment().is_none());
            prop_assert!(!url.path().split('/').any(|s| s == ".."));
        }
    }

    #[test]
    fn a_header_or_param_is_printable_or_refused(value in hostile()) {
        let mut vars = Vars::default();
        vars.secrets.insert("apiKey", value.clone());
        match render_text("Bearer ${apiKey}", &vars, Slot::Header) {
            Ok(h) => {
                prop_assert_eq!(&h, &format!("Bearer {value}"));
                prop_assert!(h.chars().all(|c| c == ' ' || c.is_ascii_graphic()));
            }
            Err(_) => prop_assert!(value.is_empty() || !value.chars().all(|c| c == ' ' || c.is_ascii_graphic())),
        }
        if let Ok(p) = render_text("${apiKey}", &vars, Slot::Param) {
            prop_assert!(!p.chars().any(char::is_control));
        }
    }

    #[test]
    fn an_enum_admits_exactly_its_values(
        allowed in proptest::collection::btree_set("\\PC{1,8}", 1..5),
        value in "\\PC{0,8}",
    ) {
        let spec = FieldSpec { allowed: Some(allowed.iter().cloned().collect()), ..Default::default() };
        prop_assert_eq!(check_spec(&spec, &value).is_ok(), allowed.contains(&value));
        let first = allowed.iter().next().unwrap();
        prop_assert!(check_spec(&spec, first).is_ok());
    }
}

#[test]
fn the_variables_of_a_template_are_what_it_reads() {
    let names = variables("https://${connectionConfig.a}.x.com/${connectionConfig.b}?k=${apiKey}||https://y.com");
    for n in ["connectionConfig.a", "connectionConfig.b", "apiKey"] {
        assert!(names.iter().any(|v| v == n), "{n} in {names:?}");
    }
}
