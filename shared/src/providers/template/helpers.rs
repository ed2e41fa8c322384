//! The request-time helpers of the catalog's templates, by name: `base64(text)`,
//! `sha256Hex(text)`, `sha256Base64(text)`, `hmacSha1Hex(message, key)`,
//! `ed25519Sign(message, key)`, `awsSigV4(access key, secret key, region, service[, host])` and
//! `fingerprint(private key)` (the public key's `SHA256:…`, Snowflake's key-pair issuer).
//! Arguments are already rendered (helpers nest: an argument may hold another helper's
//! output); the caller checks what a helper returns for the slot it lands in, like any value.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::{aws_sigv4, RequestParts, TemplateError};
use crate::crypto::keys::{self, Algorithm};

/// The helpers Latchkey evaluates.
pub const NAMES: &[&str] = &[
    "fingerprint",
    "base64",
    "sha256Hex",
    "sha256Base64",
    "hmacSha1Hex",
    "ed25519Sign",
    "awsSigV4",
];

fn arity(name: &str, args: &[String], n: std::ops::RangeInclusive<usize>) -> Result<(), TemplateError> {
    if n.contains(&args.len()) {
        Ok(())
    } else {
        Err(TemplateError::Unsupported(format!(
            "{name}(…) with {} arguments",
            args.len()
        )))
    }
}

/// A helper's failure on a value (a key that does not parse): the value's fault, named by the
/// helper, never showing it.
fn bad_input(name: &str, reason: &'static str) -> TemplateError {
    TemplateError::Invalid {
        field: name.to_owned(),
        reason,
        secret: true,
    }
}

/// Evaluates helper `name`. `args` are split at top-level `, ` by the caller: a one-argument
/// helper gets its whole text as one argument.
pub fn call(
    name: &str,
    args: Vec<String>,
    request: Option<&RequestParts>,
    timestamp: &str,
) -> Result<String, TemplateError> {
    let b64 = base64::engine::general_purpose::STANDARD;
    match name {
        "base64" => Ok(b64.encode(args.concat())),
        "sha256Hex" => Ok(hex::encode(Sha256::digest(args.concat()))),
        "sha256Base64" => Ok(b64.encode(Sha256::digest(args.concat()))),
        "hmacSha1Hex" => {
            arity(name, &args, 2..=2)?;
            let mut mac = Hmac::<sha1::Sha1>::new_from_slice(args[1].as_bytes()).expect("HMAC takes any key");
            mac.update(args[0].as_bytes());
            Ok(hex::encode(mac.finalize().into_bytes()))
        }
        "ed25519Sign" => {
            arity(name, &args, 2..=2)?;
            let signature = keys::sign(Algorithm::EdDsa, &args[1], args[0].as_bytes())
                .map_err(|_| bad_input(name, "the signing key is not an Ed25519 private key"))?;
            Ok(b64.encode(signature))
        }
        "awsSigV4" => {
            arity(name, &args, 4..=5)?;
            let request = request.ok_or_else(|| TemplateError::Unsupported("awsSigV4(…) outside a request".into()))?;
            Ok(aws_sigv4::authorization(
                &aws_sigv4::Signing {
                    access_key: &args[0],
                    secret_key: &args[1],
                    region: &args[2],
                    service: &args[3],
                    host: args.get(4).map(String::as_str),
                    amz_date: timestamp,
                    headers: &[],
                },
                request,
            ))
        }
        "fingerprint" => {
            arity(name, &args, 1..=1)?;
            keys::public_key_fingerprint(&args[0]).map_err(|_| bad_input(name, "it is not an RSA or P-256 private key"))
        }
        other => Err(TemplateError::Unsupported(format!("{other}(…)"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(name: &str, arg: &str) -> String {
        call(name, vec![arg.to_owned()], None, "").unwrap()
    }

    #[test]
    fn a_fingerprint_is_the_sha256_of_the_public_key_info() {
        // openssl pkey -in rsa-pkcs8.pem -pubout -outform DER | openssl dgst -sha256 -binary | base64
        let got = one("fingerprint", crate::crypto::keys::tests::RSA_PKCS8);
        assert_eq!(got, "SHA256:6HDohG3GmiwRXWgsN0loZ7b8ElokXNx5dxO9Hp2RZmc=");
        assert_eq!(
            got,
            one("fingerprint", crate::crypto::keys::tests::RSA_PKCS1),
            "either PEM form"
        );
        assert!(call("fingerprint", vec!["hunter2".into()], None, "").is_err());
    }

    #[test]
    fn digests_and_macs_match_their_published_vectors() {
        assert_eq!(one("base64", "u:p w"), "dTpwIHc=");
        assert_eq!(
            one("sha256Hex", "abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(one("sha256Base64", ""), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
        // RFC 2202, test case 2.
        let mac = call(
            "hmacSha1Hex",
            vec!["what do ya want for nothing?".into(), "Jefe".into()],
            None,
            "",
        )
        .unwrap();
        assert_eq!(mac, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
    }

    #[test]
    fn ed25519_signs_rfc_8032_test_1() {
        // RFC 8032 §7.1, TEST 1: the empty message under this seed.
        let seed = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
        let sig = call("ed25519Sign", vec![String::new(), seed.into()], None, "").unwrap();
        assert_eq!(
            hex::encode(base64::engine::general_purpose::STANDARD.decode(sig).unwrap()),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
        let err = call("ed25519Sign", vec!["m".into(), "not-a-key-SECRET".into()], None, "").unwrap_err();
        assert!(!format!("{err:?}").contains("SECRET"));
    }

    #[test]
    fn wrong_arity_and_unknown_helpers_are_unsupported() {
        assert!(matches!(
            call("hmacSha1Hex", vec!["only one".into()], None, ""),
            Err(TemplateError::Unsupported(_))
        ));
        assert!(matches!(
            call("md5", vec![], None, ""),
            Err(TemplateError::Unsupported(_))
        ));
        assert!(matches!(
            call(
                "awsSigV4",
                vec!["a".into(), "b".into(), "r".into(), "s".into()],
                None,
                ""
            ),
            Err(TemplateError::Unsupported(_))
        ));
    }
}
