//! Signatures with a private key an operator or end user gave: JWT assertions (RS256, PS256,
//! ES256), the `ed25519Sign` template helper (EdDSA) and OAuth 1.0a's RSA-SHA1. Keys arrive as
//! PEM text — PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1 (`BEGIN RSA PRIVATE KEY`), with real or
//! escaped (`\n`) line breaks, as pasted from a service-account file — and, for Ed25519, also
//! as a base64 or hex seed. ring signs everything but RSA-SHA1, which it refuses to create;
//! that legacy algorithm is signed by the `rsa` crate with blinding (`docs/security.md`).
//! Errors never include key material.

use base64::Engine;

/// What can sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PSS with SHA-256.
    Ps256,
    /// ECDSA P-256 with SHA-256, the fixed `r || s` form JWTs use.
    Es256,
    /// Ed25519.
    EdDsa,
    /// RSASSA-PKCS1-v1_5 with SHA-1 (OAuth 1.0a `RSA-SHA1`).
    RsaSha1,
}

impl Algorithm {
    /// The algorithm of a JWT `alg` header.
    pub fn from_jwt(alg: &str) -> Option<Self> {
        match alg {
            "RS256" => Some(Self::Rs256),
            "PS256" => Some(Self::Ps256),
            "ES256" => Some(Self::Es256),
            "EdDSA" => Some(Self::EdDsa),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the private key is not PEM (or, for Ed25519, a base64 or hex seed)")]
    NotPem,
    #[error("the private key does not fit the algorithm {0:?}")]
    Unusable(Algorithm),
}

/// The DER bytes and label of a PEM block. Line breaks may be real or escaped (`\n`).
pub fn pem(text: &str) -> Result<(String, Vec<u8>), KeyError> {
    let text = text.trim().replace("\\n", "\n").replace("\\r", "");
    let begin = text.find("-----BEGIN ").ok_or(KeyError::NotPem)?;
    let after_begin = &text[begin + 11..];
    let label_end = after_begin.find("-----").ok_or(KeyError::NotPem)?;
    let label = after_begin[..label_end].to_owned();
    let body_start = &after_begin[label_end + 5..];
    let end = body_start
        .find(&format!("-----END {label}-----"))
        .ok_or(KeyError::NotPem)?;
    let b64: String = body_start[..end].chars().filter(|c| !c.is_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| KeyError::NotPem)?;
    Ok((label, der))
}

/// An Ed25519 seed given without PEM: 32 bytes (or 64, seed then public key) as base64 or hex.
fn ed25519_seed(text: &str) -> Option<[u8; 32]> {
    let t = text.trim();
    let bytes = hex::decode(t)
        .ok()
        .or_else(|| base64::engine::general_purpose::STANDARD.decode(t).ok())
        .or_else(|| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(t).ok())?;
    match bytes.len() {
        32 | 64 => bytes[..32].try_into().ok(),
        _ => None,
    }
}

fn rsa_ring(label: &str, der: &[u8], alg: Algorithm) -> Result<ring::signature::RsaKeyPair, KeyError> {
    let parsed = if label == "RSA PRIVATE KEY" {
        ring::signature::RsaKeyPair::from_der(der)
    } else {
        ring::signature::RsaKeyPair::from_pkcs8(der)
    };
    parsed.map_err(|_| KeyError::Unusable(alg))
}

fn rsa_private(label: &str, der: &[u8]) -> Option<rsa::RsaPrivateKey> {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    use rsa::pkcs8::DecodePrivateKey;
    if label == "RSA PRIVATE KEY" {
        rsa::RsaPrivateKey::from_pkcs1_der(der).ok()
    } else {
        rsa::RsaPrivateKey::from_pkcs8_der(der).ok()
    }
}

fn rsa_sha1(label: &str, der: &[u8], message: &[u8]) -> Result<Vec<u8>, KeyError> {
    use rsa::signature::{RandomizedSigner, SignatureEncoding};
    let key = rsa_private(label, der).ok_or(KeyError::Unusable(Algorithm::RsaSha1))?;
    let signer = rsa::pkcs1v15::SigningKey::<sha1::Sha1>::new(key);
    Ok(signer.sign_with_rng(&mut rsa::rand_core::OsRng, message).to_vec())
}

/// The SubjectPublicKeyInfo of a P-256 key, up to its uncompressed point (RFC 5480).
const P256_SPKI_PREFIX: &[u8] = &[
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
    0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// The fingerprint of an RSA or P-256 private key's public half, as Snowflake names a key:
/// `SHA256:` and the base64 SHA-256 of its SubjectPublicKeyInfo (DER).
pub fn public_key_fingerprint(key_text: &str) -> Result<String, KeyError> {
    use rsa::pkcs8::EncodePublicKey;
    use sha2::Digest;
    let (label, der) = pem(key_text)?;
    let spki = match rsa_private(&label, &der) {
        Some(key) => key
            .to_public_key()
            .to_public_key_der()
            .map_err(|_| KeyError::Unusable(Algorithm::Rs256))?
            .as_bytes()
            .to_vec(),
        None => {
            let pair = ring::signature::EcdsaKeyPair::from_pkcs8(
                &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                &der,
                &ring::rand::SystemRandom::new(),
            )
            .map_err(|_| KeyError::Unusable(Algorithm::Es256))?;
            use ring::signature::KeyPair;
            [P256_SPKI_PREFIX, pair.public_key().as_ref()].concat()
        }
    };
    Ok(format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(spki))
    ))
}

/// Signs `message` with the key in `key_text`.
pub fn sign(alg: Algorithm, key_text: &str, message: &[u8]) -> Result<Vec<u8>, KeyError> {
    let rng = ring::rand::SystemRandom::new();
    let unusable = |_: ring::error::KeyRejected| KeyError::Unusable(alg);
    let failed = |_: ring::error::Unspecified| KeyError::Unusable(alg);
    if alg == Algorithm::EdDsa {
        let pair = match pem(key_text) {
            Ok((_, der)) => ring::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der).map_err(unusable)?,
            Err(_) => {
                let seed = ed25519_seed(key_text).ok_or(KeyError::NotPem)?;
                ring::signature::Ed25519KeyPair::from_seed_unchecked(&seed).map_err(unusable)?
            }
        };
        return Ok(pair.sign(message).as_ref().to_vec());
    }
    let (label, der) = pem(key_text)?;
    match alg {
        Algorithm::Rs256 | Algorithm::Ps256 => {
            let pair = rsa_ring(&label, &der, alg)?;
            let padding: &dyn ring::signature::RsaEncoding = if alg == Algorithm::Rs256 {
                &ring::signature::RSA_PKCS1_SHA256
            } else {
                &ring::signature::RSA_PSS_SHA256
            };
            let mut out = vec![0; pair.public().modulus_len()];
            pair.sign(padding, &rng, message, &mut out).map_err(failed)?;
            Ok(out)
        }
        Algorithm::Es256 => {
            let pair = ring::signature::EcdsaKeyPair::from_pkcs8(
                &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                &der,
                &rng,
            )
            .map_err(unusable)?;
            Ok(pair.sign(&rng, message).map_err(failed)?.as_ref().to_vec())
        }
        Algorithm::RsaSha1 => rsa_sha1(&label, &der, message),
        Algorithm::EdDsa => unreachable!("handled above"),
    }
}

/// `der` as a PEM block of `label`, in lines of 64 characters.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
        .collect();
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use ring::signature::{self as sig, KeyPair, UnparsedPublicKey};

    /// A fresh PKCS#8 key of each kind ring can generate, as PEM with escaped line breaks.
    pub fn pem_of(label: &str, der: &[u8]) -> String {
        pem_encode(label, der).replace('\n', "\\n")
    }

    #[test]
    fn ed25519_and_es256_keys_sign_what_their_public_keys_verify() {
        let rng = ring::rand::SystemRandom::new();
        let ed = sig::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let ed_pub = sig::Ed25519KeyPair::from_pkcs8(ed.as_ref())
            .unwrap()
            .public_key()
            .as_ref()
            .to_vec();
        let text = pem_of("PRIVATE KEY", ed.as_ref());
        let s = sign(Algorithm::EdDsa, &text, b"msg").unwrap();
        UnparsedPublicKey::new(&sig::ED25519, &ed_pub)
            .verify(b"msg", &s)
            .unwrap();

        let seed = [7u8; 32];
        let from_seed = sig::Ed25519KeyPair::from_seed_unchecked(&seed).unwrap();
        for given in [
            hex::encode(seed),
            base64::engine::general_purpose::STANDARD.encode(seed),
        ] {
            let s = sign(Algorithm::EdDsa, &given, b"m").unwrap();
            UnparsedPublicKey::new(&sig::ED25519, from_seed.public_key().as_ref())
                .verify(b"m", &s)
                .unwrap();
        }

        let ec = sig::EcdsaKeyPair::generate_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let ec_pub = sig::EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, ec.as_ref(), &rng)
            .unwrap()
            .public_key()
            .as_ref()
            .to_vec();
        let s = sign(Algorithm::Es256, &pem_of("PRIVATE KEY", ec.as_ref()), b"jwt").unwrap();
        assert_eq!(s.len(), 64, "r || s");
        UnparsedPublicKey::new(&sig::ECDSA_P256_SHA256_FIXED, &ec_pub)
            .verify(b"jwt", &s)
            .unwrap();
    }

    pub const RSA_PKCS8: &str = include_str!("testdata/rsa-pkcs8.pem");
    pub const RSA_PKCS1: &str = include_str!("testdata/rsa-pkcs1.pem");

    #[test]
    fn rsa_keys_in_either_pem_form_sign_every_rsa_algorithm() {
        let (_, der) = pem(RSA_PKCS8).unwrap();
        let public = ring::signature::RsaKeyPair::from_pkcs8(&der)
            .unwrap()
            .public()
            .as_ref()
            .to_vec();
        let checks: [(Algorithm, &dyn sig::VerificationAlgorithm); 3] = [
            (Algorithm::Rs256, &sig::RSA_PKCS1_2048_8192_SHA256),
            (Algorithm::Ps256, &sig::RSA_PSS_2048_8192_SHA256),
            (Algorithm::RsaSha1, &sig::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY),
        ];
        for key in [RSA_PKCS8, RSA_PKCS1, &RSA_PKCS8.replace('\n', "\\n")] {
            for (alg, verifier) in checks {
                let s = sign(alg, key, b"base string").unwrap();
                UnparsedPublicKey::new(verifier, &public)
                    .verify(b"base string", &s)
                    .unwrap_or_else(|_| panic!("{alg:?}"));
            }
        }
    }

    #[test]
    fn bad_keys_fail_without_echoing_them() {
        let err = sign(Algorithm::Rs256, "not a key SECRET", b"m").unwrap_err();
        assert_eq!(err, KeyError::NotPem);
        let rng = ring::rand::SystemRandom::new();
        let ec = sig::EcdsaKeyPair::generate_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let err = sign(Algorithm::Rs256, &pem_of("PRIVATE KEY", ec.as_ref()), b"m").unwrap_err();
        assert_eq!(err, KeyError::Unusable(Algorithm::Rs256));
        assert!(!err.to_string().contains("SECRET"));
    }
}
