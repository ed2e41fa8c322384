//! PKCE (RFC 7636), S256 only: a 43-character verifier from 32 random bytes.

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::domain::PkceVerifier;

pub fn new_verifier() -> PkceVerifier {
    PkceVerifier::new(crate::crypto::random_token())
}

pub fn s256_challenge(verifier: &PkceVerifier) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.expose().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_matches_the_rfc_7636_example() {
        let verifier = PkceVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        assert_eq!(s256_challenge(&verifier), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }

    #[test]
    fn verifiers_are_fresh_and_within_rfc_bounds() {
        let (a, b) = (new_verifier(), new_verifier());
        assert_ne!(a, b);
        let len = a.expose().len();
        assert!((43..=128).contains(&len));
        assert!(a
            .expose()
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c)));
    }
}
