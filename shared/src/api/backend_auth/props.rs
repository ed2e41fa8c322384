//! Properties of the backend's auth headers (`presented`): any header bytes are read or
//! refused with a clear code, never a panic; a `Latchkey-Timestamp` formatted from a time and a
//! `Latchkey-Signature` read back are the values that were sent.

use axum::http::HeaderValue;
use proptest::prelude::*;

use super::*;

/// What a header value may hold on the wire (visible ASCII, space, tab and obs-text).
fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(prop_oneof![0x20u8..0x7f, Just(b'\t'), 0x80u8..=0xff], 0..60)
}

fn request(headers: &[(&'static str, &[u8])]) -> Request {
    let mut req = Request::new(Body::empty());
    for (name, value) in headers {
        req.headers_mut().insert(*name, HeaderValue::from_bytes(value).unwrap());
    }
    req
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_header_bytes_are_read_or_refused_with_a_code(
        authorization in proptest::option::of(header_bytes()),
        timestamp in header_bytes(),
        signature in proptest::option::of(header_bytes()),
    ) {
        let mut headers: Vec<(&'static str, &[u8])> = vec![(TIMESTAMP_HEADER, &timestamp)];
        if let Some(a) = &authorization {
            headers.push(("authorization", a));
        }
        if let Some(s) = &signature {
            headers.push((SIGNATURE_HEADER, s));
        }
        if let Err(e) = presented(&request(&headers)) {
            prop_assert!(matches!(e.code, ErrorCode::MalformedAuthHeader | ErrorCode::MissingAuthHeader));
        }
    }

    #[test]
    fn a_signed_requests_headers_round_trip(
        timestamp in any::<i64>(),
        pad in proptest::sample::select(&["", " ", "  ", "\t"][..]),
        signature in "[0-9a-f]{64}",
    ) {
        let formatted = format!("{pad}{timestamp}{pad}");
        let headers = [(TIMESTAMP_HEADER, formatted.as_bytes()), (SIGNATURE_HEADER, signature.as_bytes())];
        match presented(&request(&headers)).unwrap() {
            Presented::Signed { timestamp: t, signature: s } => {
                prop_assert_eq!(t, timestamp);
                prop_assert_eq!(s, signature);
            }
            Presented::Bearer(_) => prop_assert!(false, "read as a Bearer token"),
        }
    }

    #[test]
    fn a_bearer_token_round_trips_and_wins_over_a_signature(token in "[A-Za-z0-9_.~+/=-]{1,80}") {
        let authorization = format!("Bearer {token}");
        let headers = [("authorization", authorization.as_bytes()), (TIMESTAMP_HEADER, b"1".as_slice())];
        match presented(&request(&headers)).unwrap() {
            Presented::Bearer(t) => prop_assert_eq!(t, token),
            Presented::Signed { .. } => prop_assert!(false, "read as a signed request"),
        }
    }
}
