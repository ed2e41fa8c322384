//! Properties of the connect query (`parse_connect_query`): any query is read or refused with a
//! clear code, never a panic; `params[...]` and `authorization_params[...]`, with their
//! brackets literal or percent-encoded, come back as the map that was encoded.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

/// A name `check_param` admits, and a value it admits (any text without control characters).
fn name() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_.-]{1,64}"
}

fn value() -> impl Strategy<Value = String> {
    "[^\\p{Cc}]{0,40}"
}

fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `prefix[name]` with its brackets as a browser or a client library may send them.
fn key(prefix: &str, name: &str, style: u8) -> String {
    match style % 3 {
        0 => format!("{prefix}[{name}]"),
        1 => format!("{prefix}%5B{}%5D", encode(name)),
        _ => format!("{prefix}%5b{}%5d", encode(name)),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_query_is_read_or_refused_without_panic(raw in "\\PC{0,200}") {
        let _ = parse_connect_query(Some(&raw));
    }

    #[test]
    fn any_bytes_percent_encoded_are_read_or_refused(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
        let raw: String = bytes.iter().map(|b| format!("%{b:02X}")).collect();
        let _ = parse_connect_query(Some(&format!("params%5B{raw}%5D={raw}&{raw}={raw}")));
    }

    #[test]
    fn bracketed_params_round_trip(
        params in proptest::collection::btree_map(name(), value(), 0..6),
        extras in proptest::collection::btree_map(name(), value(), 0..4),
        styles in proptest::collection::vec(any::<u8>(), 10),
        connection_id in "[A-Za-z0-9._:@|+-]{1,40}",
    ) {
        // The names Latchkey sets itself are refused, not overridden (another property).
        let extras: BTreeMap<_, _> = extras
            .into_iter()
            .filter(|(n, _)| !RESERVED_AUTHORIZATION_PARAMS.contains(&n.as_str()))
            .collect();
        let mut parts = vec![format!("connection_id={}", encode(&connection_id)), "cache=1".to_owned()];
        for (i, (n, v)) in params.iter().enumerate() {
            parts.push(format!("{}={}", key("params", n, styles[i % 10]), encode(v)));
        }
        for (i, (n, v)) in extras.iter().enumerate() {
            parts.push(format!("{}={}", key("authorization_params", n, styles[(i + 5) % 10]), encode(v)));
        }
        let q = parse_connect_query(Some(&parts.join("&"))).unwrap();
        prop_assert_eq!(q.connection_id.as_deref(), Some(connection_id.as_str()));
        prop_assert_eq!(q.params.into_iter().collect::<BTreeMap<_, _>>(), params);
        prop_assert_eq!(q.authorization_params.into_iter().collect::<BTreeMap<_, _>>(), extras);
    }

    #[test]
    fn a_repeated_param_keeps_its_last_value(n in name(), first in value(), last in value()) {
        let raw = format!("params[{n}]={}&params%5B{n}%5D={}", encode(&first), encode(&last));
        let q = parse_connect_query(Some(&raw)).unwrap();
        prop_assert_eq!(q.params, vec![(n, last)]);
    }

    #[test]
    fn reserved_and_hostile_names_are_refused_and_not_echoed(
        reserved in proptest::sample::select(RESERVED_AUTHORIZATION_PARAMS),
        // `zq`: text no message holds, so an echo is seen (a lone "," is in any sentence).
        hostile in "zq[A-Za-z0-9]{0,8}[^A-Za-z0-9_.\\-\\[\\]&=#%+]{1,4}[A-Za-z0-9]{0,8}",
        v in value(),
    ) {
        let e = parse_connect_query(Some(&format!("authorization_params%5B{reserved}%5D={}", encode(&v)))).unwrap_err();
        prop_assert_eq!(e.code, ErrorCode::InvalidQueryParams);
        let e = parse_connect_query(Some(&format!("params%5B{}%5D=1", encode(&hostile)))).unwrap_err();
        prop_assert_eq!(e.code, ErrorCode::InvalidQueryParams);
        prop_assert!(!e.message.contains(hostile.as_str()), "{}", e.message);
    }

    #[test]
    fn control_characters_and_overlong_values_are_refused(
        n in name(),
        before in value(),
        control in "\\p{Cc}",
        len in (MAX_VALUE_LEN + 1)..(MAX_VALUE_LEN + 64),
    ) {
        let smuggled = format!("{before}{control}");
        let e = parse_connect_query(Some(&format!("params[{n}]={}", encode(&smuggled)))).unwrap_err();
        prop_assert_eq!(e.code, ErrorCode::InvalidQueryParams);
        let e = parse_connect_query(Some(&format!("params[{n}]={}", "a".repeat(len)))).unwrap_err();
        prop_assert_eq!(e.code, ErrorCode::InvalidQueryParams);
    }
}
