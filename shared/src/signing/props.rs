//! Properties of the signatures: what `request_signature` / `webhook_signatures` make verifies,
//! any change to what is signed does not, and any timestamp — however far from the clock —
//! is judged (`Stale`) rather than overflowing.

use proptest::prelude::*;

use super::*;

fn text() -> impl Strategy<Value = String> {
    "\\PC{0,24}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn a_signed_request_verifies_and_any_change_does_not(
        key in "lk_sk_[a-z0-9]{8,32}",
        other_key in "lk_sk_[a-z0-9]{8,32}",
        timestamp in -10_000_000_000i64..10_000_000_000,
        skew in -SIGNATURE_WINDOW_SECS..=SIGNATURE_WINDOW_SECS,
        method in proptest::sample::select(&["GET", "POST", "PATCH", "DELETE", "PUT"][..]),
        path in "/[a-z0-9/?=&%_.-]{0,40}",
        body in proptest::collection::vec(any::<u8>(), 0..64),
        flip in any::<prop::sample::Index>(),
    ) {
        let signature = request_signature(&key, timestamp, method, &path, &body);
        let req = SignedRequest { timestamp, signature: &signature, method, path_and_query: &path, body: &body };
        prop_assert_eq!(verify_request(&req, &[&key], timestamp + skew), SignatureCheck::Valid);
        prop_assert_eq!(verify_request(&req, &[&other_key, &key], timestamp), SignatureCheck::Valid, "a rotation's keys");
        if other_key != key {
            prop_assert_eq!(verify_request(&req, &[&other_key], timestamp), SignatureCheck::Mismatch);
        }
        let mut changed = body.clone();
        if changed.is_empty() {
            changed.push(b'x');
        } else {
            let i = flip.index(changed.len());
            changed[i] ^= 1;
        }
        let tampered = SignedRequest { body: &changed, ..req };
        prop_assert_eq!(verify_request(&tampered, &[&key], timestamp), SignatureCheck::Mismatch);
        let moved = SignedRequest { path_and_query: "/elsewhere", ..req };
        if path != "/elsewhere" {
            prop_assert_eq!(verify_request(&moved, &[&key], timestamp), SignatureCheck::Mismatch);
        }
    }

    #[test]
    fn any_timestamp_and_signature_is_judged_without_panic(
        timestamp in any::<i64>(),
        now in any::<i64>(),
        signature in text(),
        webhook_id in text(),
    ) {
        let req = SignedRequest { timestamp, signature: &signature, method: "GET", path_and_query: "/", body: b"" };
        let check = verify_request(&req, &["k"], now);
        prop_assert!(check != SignatureCheck::Valid);
        let check = verify_webhook("k", &webhook_id, timestamp, &signature, b"{}", now);
        prop_assert!(check != SignatureCheck::Valid);
        if now.abs_diff(timestamp) > SIGNATURE_WINDOW_SECS.unsigned_abs() {
            prop_assert_eq!(check, SignatureCheck::Stale);
        }
    }

    #[test]
    fn a_webhook_signature_verifies_within_the_window_only_for_its_id_time_and_body(
        key in "lk_wk_[a-z0-9]{8,32}",
        id in "[a-z0-9-]{1,36}",
        timestamp in 0i64..10_000_000_000,
        skew in -SIGNATURE_WINDOW_SECS..=SIGNATURE_WINDOW_SECS,
        body in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let sigs = webhook_signatures(&key, &id, timestamp, &body);
        prop_assert_eq!(&sigs.nango, &hmac_sha256_hex(key.as_bytes(), &body));
        let header = sigs.latchkey.strip_prefix("v1=").unwrap();
        prop_assert!(header.len() == 64 && header.bytes().all(|b| b.is_ascii_hexdigit()));
        prop_assert_eq!(verify_webhook(&key, &id, timestamp, &sigs.latchkey, &body, timestamp + skew), SignatureCheck::Valid);
        prop_assert_eq!(verify_webhook(&key, &format!("{id}x"), timestamp, &sigs.latchkey, &body, timestamp), SignatureCheck::Mismatch);
        prop_assert_eq!(verify_webhook(&key, &id, timestamp + 1, &sigs.latchkey, &body, timestamp), SignatureCheck::Mismatch);
        prop_assert_eq!(
            verify_webhook(&key, &id, timestamp, &sigs.latchkey, &body, timestamp + SIGNATURE_WINDOW_SECS + 1),
            SignatureCheck::Stale
        );
    }
}
