//! Properties of token-response parsing (`parse_token_response`): any status and body is read
//! or refused as a `TokenError`, never a panic; a response written as JSON or as a form comes
//! back with the tokens and lifetime it holds; a provider's `error` is a refusal whose text is
//! printable and bounded, whatever the status.

use proptest::prelude::*;
use serde_json::{json, Map, Value};

use super::endpoints::TokenShape;
use super::token::{parse_token_response, parse_token_response_with, TokenError};

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._~+/=-]{1,80}"
}

/// A plausible response: tokens, a lifetime (number, numeric string or absent) and extras.
#[derive(Debug, Clone)]
struct Sent {
    access: String,
    refresh: Option<String>,
    expires_in: Option<i64>,
    as_string: bool,
    extras: Vec<(String, String)>,
}

fn sent() -> impl Strategy<Value = Sent> {
    (
        token(),
        proptest::option::of(token()),
        proptest::option::of(1i64..100_000_000),
        any::<bool>(),
        // Distinct names: a repeated field is one field in JSON and a form alike (the last wins).
        proptest::collection::btree_map("[a-z]{1,10}_x", "\\PC{0,20}", 0..4),
    )
        .prop_map(|(access, refresh, expires_in, as_string, extras)| Sent {
            access,
            refresh,
            expires_in,
            as_string,
            extras: extras.into_iter().collect(),
        })
}

fn fields(s: &Sent) -> Vec<(String, String)> {
    let mut f = vec![
        ("access_token".to_owned(), s.access.clone()),
        ("token_type".into(), "bearer".into()),
    ];
    if let Some(r) = &s.refresh {
        f.push(("refresh_token".into(), r.clone()));
    }
    if let Some(e) = s.expires_in {
        f.push(("expires_in".into(), e.to_string()));
    }
    f.extend(s.extras.iter().cloned());
    f
}

fn as_json(s: &Sent) -> Vec<u8> {
    let mut map: Map<String, Value> = fields(s).into_iter().map(|(k, v)| (k, Value::String(v))).collect();
    if let (Some(e), false) = (s.expires_in, s.as_string) {
        map.insert("expires_in".into(), json!(e));
    }
    serde_json::to_vec(&map).unwrap()
}

fn as_form(s: &Sent) -> Vec<u8> {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields(s))
        .finish()
        .into_bytes()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_body_is_read_or_refused_without_panic(
        status in any::<u16>(),
        body in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let _ = parse_token_response(status, &body);
    }

    #[test]
    fn any_json_value_is_read_or_refused_without_panic(
        status in 100u16..600,
        value in json_value(),
        ms in any::<bool>(),
    ) {
        let body = serde_json::to_vec(&value).unwrap();
        let shape = TokenShape {
            token_path: Some("a.b".into()),
            alternate_path: Some("access_token".into()),
            expires_in_path: Some("expires_in".into()),
            expires_in_ms: ms,
            metadata: vec!["a".into(), "a.b".into(), "expires_in".into()],
            ..Default::default()
        };
        let _ = parse_token_response(status, &body);
        let _ = parse_token_response_with(status, &body, &shape);
    }

    #[test]
    fn json_and_form_responses_round_trip(s in sent(), form in any::<bool>()) {
        let body = if form { as_form(&s) } else { as_json(&s) };
        let got = parse_token_response(200, &body).unwrap();
        prop_assert_eq!(got.access_token.expose(), s.access.as_str());
        prop_assert_eq!(got.refresh_token.as_ref().map(|r| r.expose()), s.refresh.as_deref());
        prop_assert_eq!(got.expires_in, s.expires_in);
        for (k, v) in &s.extras {
            prop_assert_eq!(got.raw.0.get(k), Some(&Value::String(v.clone())), "extras are kept in raw");
        }
    }

    #[test]
    fn a_provider_error_is_a_bounded_printable_refusal_under_any_status(
        status in 100u16..600,
        error in "\\PC{0,300}|[\\x00-\\x1f]{1,10}",
        description in proptest::option::of("\\PC{0,600}|.*[\\x00-\\x1f\\x7f].*"),
        form in any::<bool>(),
    ) {
        let mut pairs = vec![("error", error.clone()), ("access_token", "t".into())];
        if let Some(d) = &description {
            pairs.push(("error_description", d.clone()));
        }
        let body = if form {
            form_urlencoded::Serializer::new(String::new()).extend_pairs(&pairs).finish().into_bytes()
        } else {
            serde_json::to_vec(&pairs.iter().cloned().collect::<std::collections::BTreeMap<_, _>>()).unwrap()
        };
        match parse_token_response(status, &body) {
            Err(e @ TokenError::Provider { .. }) => {
                let TokenError::Provider { error: said, description: why, status: s } = &e else { unreachable!() };
                prop_assert_eq!(*s, status);
                prop_assert!(said.chars().count() <= 100 && !said.chars().any(char::is_control));
                if let Some(why) = why {
                    prop_assert!(why.chars().count() <= 300 && !why.chars().any(char::is_control));
                }
                let cause = e.cause();
                prop_assert!(cause.chars().all(|c| c.is_ascii_graphic()));
                prop_assert!(!e.is_transient());
            }
            other => prop_assert!(false, "not a provider refusal: {other:?}"),
        }
    }
}

/// Any JSON value, a few levels deep, with the keys a token response uses among others.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        "\\PC{0,16}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("access_token".to_owned()),
                    Just("refresh_token".to_owned()),
                    Just("expires_in".to_owned()),
                    Just("error".to_owned()),
                    Just("a".to_owned()),
                    Just("b".to_owned()),
                    "[a-z]{1,6}",
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}
