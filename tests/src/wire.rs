//! The wire contract of docs/api.md computed independently of `latchkey::signing`, so a test that
//! passes proves the server speaks the documented scheme, not merely its own.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

fn hmac_hex(key: &str, message: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("any key length");
    mac.update(message.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// `Latchkey-Signature` of a backend request: `v1=` + hex HMAC-SHA256(secret key,
/// `timestamp \n METHOD \n path_and_query \n hex(sha256(body))`).
pub fn request_signature(secret_key: &str, timestamp: i64, method: &str, path_and_query: &str, body: &[u8]) -> String {
    let body_hash = hex::encode(Sha256::digest(body));
    format!(
        "v1={}",
        hmac_hex(
            secret_key,
            &format!("{timestamp}\n{method}\n{path_and_query}\n{body_hash}")
        )
    )
}

/// The connect digest a backend hands its frontend: hex HMAC-SHA256(hmac key,
/// `"<integration>:<connection_id>"`).
pub fn connect_digest(hmac_key: &str, integration: &str, connection_id: &str) -> String {
    hmac_hex(hmac_key, &format!("{integration}:{connection_id}"))
}
