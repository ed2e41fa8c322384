//! Every HMAC of the product, in one place: the frontend's connect digest, the backend's signed
//! requests, and the signatures of outgoing webhooks. All comparisons are constant-time.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Requests signed further than this from the server's clock are refused (replay window).
pub const SIGNATURE_WINDOW_SECS: i64 = 300;

pub fn hmac_sha256_hex(key: &[u8], message: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The digest a team's backend computes to let its frontend start a connect flow:
/// `hex(HMAC-SHA256(hmac_key, "<integration>:<connection_id>"))`, or of `"<integration>"`.
pub fn connect_digest(hmac_key: &str, integration: &str, connection_id: Option<&str>) -> String {
    let message = match connection_id {
        Some(id) => format!("{integration}:{id}"),
        None => integration.to_owned(),
    };
    hmac_sha256_hex(hmac_key.as_bytes(), message.as_bytes())
}

pub fn verify_connect_digest(hmac_key: &str, integration: &str, connection_id: Option<&str>, given: &str) -> bool {
    constant_time_eq(
        &connect_digest(hmac_key, integration, connection_id),
        &given.to_ascii_lowercase(),
    )
}

/// `v1=<hex>` over `timestamp \n METHOD \n path_and_query \n hex(sha256(body))`.
pub fn request_signature(secret_key: &str, timestamp: i64, method: &str, path_and_query: &str, body: &[u8]) -> String {
    let message = format!(
        "{timestamp}\n{}\n{path_and_query}\n{}",
        method.to_ascii_uppercase(),
        sha256_hex(body)
    );
    format!("v1={}", hmac_sha256_hex(secret_key.as_bytes(), message.as_bytes()))
}

/// A signed request's single-use nonce: the SHA-256 of its signature (which covers its
/// timestamp, method, path, query and body), and when it may be forgotten — the moment its
/// timestamp leaves the window, after which the request is refused as stale anyway.
pub fn request_nonce(signature: &str, timestamp: i64) -> (String, i64) {
    let forget_at = timestamp.saturating_add(SIGNATURE_WINDOW_SECS + 1);
    (sha256_hex(signature.as_bytes()), forget_at)
}

#[derive(Debug, PartialEq, Eq)]
pub enum SignatureCheck {
    Valid,
    /// The timestamp is outside the window: too old (a replay) or too far ahead.
    Stale,
    Mismatch,
}

pub struct SignedRequest<'a> {
    pub timestamp: i64,
    pub signature: &'a str,
    pub method: &'a str,
    pub path_and_query: &'a str,
    pub body: &'a [u8],
}

/// Checks a signed request against each accepted secret key (the current one, and during a
/// rotation the previous one).
pub fn verify_request(req: &SignedRequest<'_>, secret_keys: &[&str], now_unix: i64) -> SignatureCheck {
    // `abs_diff`: any two i64 have a distance (a plain subtraction overflows on extreme values).
    if now_unix.abs_diff(req.timestamp) > SIGNATURE_WINDOW_SECS.unsigned_abs() {
        return SignatureCheck::Stale;
    }
    let mut ok = false;
    for key in secret_keys {
        let expected = request_signature(key, req.timestamp, req.method, req.path_and_query, req.body);
        ok |= constant_time_eq(&expected, req.signature);
    }
    if ok {
        SignatureCheck::Valid
    } else {
        SignatureCheck::Mismatch
    }
}

/// The signature headers of one webhook delivery attempt (docs/security.md, "Webhook
/// signatures"), all under the environment's webhook signing key:
/// - `nango`: `X-Nango-Hmac-Sha256`, lowercase hex `HMAC-SHA256(key, raw_body)` — what
///   `@nangohq/node`'s `verifyIncomingWebhookRequest` checks. It has no time in it, so a
///   captured delivery verifies forever;
/// - `latchkey`: `Latchkey-Signature`, `v1=<hex>` of `HMAC-SHA256(key, timestamp + "\n" +
///   webhook_id + "\n" + raw_body)`, with `Latchkey-Timestamp` and `Latchkey-Webhook-Id`: a
///   receiver refuses it outside ±300 s (`SIGNATURE_WINDOW_SECS`) and drops an id it has seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSignatures {
    pub nango: String,
    pub latchkey: String,
}

pub fn webhook_signatures(signing_key: &str, webhook_id: &str, timestamp: i64, body: &[u8]) -> WebhookSignatures {
    WebhookSignatures {
        nango: hmac_sha256_hex(signing_key.as_bytes(), body),
        latchkey: latchkey_webhook_signature(signing_key, webhook_id, timestamp, body),
    }
}

fn latchkey_webhook_signature(signing_key: &str, webhook_id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut message = format!("{timestamp}\n{webhook_id}\n").into_bytes();
    message.extend_from_slice(body);
    format!("v1={}", hmac_sha256_hex(signing_key.as_bytes(), &message))
}

/// What a receiver checks of `Latchkey-Signature` (the reference for docs/security.md's
/// verifier, and for Rust receivers): the timestamp within the window, then the signature.
pub fn verify_webhook(
    signing_key: &str,
    webhook_id: &str,
    timestamp: i64,
    signature: &str,
    body: &[u8],
    now_unix: i64,
) -> SignatureCheck {
    // `abs_diff`, as in `verify_request`: a subtraction overflows on extreme timestamps.
    if now_unix.abs_diff(timestamp) > SIGNATURE_WINDOW_SECS.unsigned_abs() {
        return SignatureCheck::Stale;
    }
    let expected = latchkey_webhook_signature(signing_key, webhook_id, timestamp, body);
    if constant_time_eq(&expected, signature) {
        SignatureCheck::Valid
    } else {
        SignatureCheck::Mismatch
    }
}

#[cfg(test)]
mod props;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_signatures_cover_the_body_and_latchkeys_also_time_and_id() {
        let body = br#"{"type":"auth"}"#;
        let sigs = webhook_signatures("lk_wk_k", "d-1", 1_000_000, body);
        assert_eq!(
            sigs.nango,
            hmac_sha256_hex(b"lk_wk_k", body),
            "what verifyIncomingWebhookRequest checks"
        );
        assert_eq!(
            sigs.latchkey,
            format!(
                "v1={}",
                hmac_sha256_hex(b"lk_wk_k", b"1000000\nd-1\n{\"type\":\"auth\"}")
            )
        );
        let check =
            |id: &str, ts: i64, sig: &str, body: &[u8], now: i64| verify_webhook("lk_wk_k", id, ts, sig, body, now);
        assert_eq!(
            check("d-1", 1_000_000, &sigs.latchkey, body, 1_000_300),
            SignatureCheck::Valid
        );
        assert_eq!(
            check("d-1", 1_000_000, &sigs.latchkey, body, 1_000_301),
            SignatureCheck::Stale,
            "a replay"
        );
        assert_eq!(
            check("d-2", 1_000_000, &sigs.latchkey, body, 1_000_000),
            SignatureCheck::Mismatch
        );
        assert_eq!(
            check("d-1", 1_000_001, &sigs.latchkey, body, 1_000_000),
            SignatureCheck::Mismatch
        );
        assert_eq!(
            check("d-1", 1_000_000, &sigs.latchkey, b"{}", 1_000_000),
            SignatureCheck::Mismatch
        );
        assert_eq!(
            verify_webhook("other", "d-1", 1_000_000, &sigs.latchkey, body, 1_000_000),
            SignatureCheck::Mismatch
        );
    }

    #[test]
    fn hmac_matches_the_published_test_vector() {
        // RFC 4231, test case 2.
        assert_eq!(
            hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn connect_digest_covers_integration_and_connection() {
        let d = connect_digest("k", "github", Some("user-1"));
        assert_eq!(d, hmac_sha256_hex(b"k", b"github:user-1"));
        assert_eq!(connect_digest("k", "github", None), hmac_sha256_hex(b"k", b"github"));
        assert!(verify_connect_digest("k", "github", Some("user-1"), &d));
        assert!(verify_connect_digest("k", "github", Some("user-1"), &d.to_uppercase()));
        assert!(!verify_connect_digest("k", "github", Some("user-2"), &d));
        assert!(!verify_connect_digest("other", "github", Some("user-1"), &d));
        assert!(!verify_connect_digest("k", "github", Some("user-1"), ""));
    }

    fn signed<'a>(sig: &'a str, ts: i64, body: &'a [u8]) -> SignedRequest<'a> {
        SignedRequest {
            timestamp: ts,
            signature: sig,
            method: "GET",
            path_and_query: "/connections/a?x=1",
            body,
        }
    }

    #[test]
    fn a_signed_request_verifies_inside_the_window_only() {
        let sig = request_signature("sk", 1_000_000, "get", "/connections/a?x=1", b"");
        assert_eq!(
            verify_request(&signed(&sig, 1_000_000, b""), &["sk"], 1_000_100),
            SignatureCheck::Valid
        );
        assert_eq!(
            verify_request(&signed(&sig, 1_000_000, b""), &["sk"], 1_000_301),
            SignatureCheck::Stale
        );
        assert_eq!(
            verify_request(&signed(&sig, 1_000_000, b""), &["sk"], 999_600),
            SignatureCheck::Stale
        );
    }

    /// Extreme timestamps (a header is any i64 the client sends) are stale, never a panic, on
    /// any clock.
    #[test]
    fn extreme_timestamps_are_stale_and_never_overflow() {
        let extremes = [i64::MIN, i64::MIN + 1, -1, 0, 1, i64::MAX - 1, i64::MAX];
        let clocks = [i64::MIN, -SIGNATURE_WINDOW_SECS, 0, 1_700_000_000, i64::MAX];
        for ts in extremes {
            for now in clocks {
                let sig = request_signature("sk", ts, "POST", "/x", b"");
                let check = verify_request(&signed(&sig, ts, b""), &["sk"], now);
                let distance = (now as i128 - ts as i128).abs();
                let expected = if distance > SIGNATURE_WINDOW_SECS as i128 {
                    SignatureCheck::Stale
                } else {
                    SignatureCheck::Mismatch // signed for POST, checked as GET
                };
                assert_eq!(check, expected, "timestamp {ts} at {now}");
            }
        }
    }

    #[test]
    fn any_change_to_a_signed_request_breaks_it() {
        let sig = request_signature("sk", 1_000_000, "GET", "/connections/a?x=1", b"{}");
        let now = 1_000_000;
        assert_eq!(
            verify_request(&signed(&sig, now, b"{}"), &["sk"], now),
            SignatureCheck::Valid
        );
        assert_eq!(
            verify_request(&signed(&sig, now, b"{ }"), &["sk"], now),
            SignatureCheck::Mismatch
        );
        assert_eq!(
            verify_request(&signed(&sig, now + 1, b"{}"), &["sk"], now),
            SignatureCheck::Mismatch
        );
        let other_path = SignedRequest {
            path_and_query: "/connections/b?x=1",
            ..signed(&sig, now, b"{}")
        };
        assert_eq!(verify_request(&other_path, &["sk"], now), SignatureCheck::Mismatch);
        let other_method = SignedRequest {
            method: "DELETE",
            ..signed(&sig, now, b"{}")
        };
        assert_eq!(verify_request(&other_method, &["sk"], now), SignatureCheck::Mismatch);
        assert_eq!(
            verify_request(&signed(&sig, now, b"{}"), &["wrong"], now),
            SignatureCheck::Mismatch
        );
        assert_eq!(
            verify_request(&signed(&sig, now, b"{}"), &["new", "sk"], now),
            SignatureCheck::Valid,
            "previous key during rotation"
        );
    }
}
