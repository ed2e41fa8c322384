use super::*;

fn url(s: &str) -> Url {
    Url::parse(s).unwrap()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// The `oauth_signature` of a header, decoded.
fn signature_of(header: &str) -> String {
    let value = header
        .split(", ")
        .find_map(|p| p.strip_prefix("oauth_signature=\""))
        .unwrap()
        .trim_end_matches('"');
    percent_encoding::percent_decode_str(value)
        .decode_utf8()
        .unwrap()
        .into_owned()
}

#[test]
fn the_base_string_of_rfc_5849_section_3_4_1_1() {
    // The request of §3.4.1.1: query and form parameters, repeated names, encoded values.
    let request = url("http://EXAMPLE.COM:80/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b");
    let mut params: Vec<(String, String)> = request.query_pairs().into_owned().collect();
    params.extend(pairs(&[
        ("c2", ""),
        ("a3", "2 q"),
        ("oauth_consumer_key", "9djdj82h48djs9d2"),
        ("oauth_token", "kkk9d7dh3k39sjv7"),
        ("oauth_signature_method", "HMAC-SHA1"),
        ("oauth_timestamp", "137131201"),
        ("oauth_nonce", "7d8f3e4a"),
    ]));
    assert_eq!(
        base_string("post", &request, &params),
        "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26\
         c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26\
         oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7"
    );
    assert_eq!(
        base_string_uri(&url("https://www.example.net:8080/?q=1")),
        "https://www.example.net:8080/"
    );
    assert_eq!(
        base_string_uri(&url("HTTPS://Example.com:443/r%20v/X?id=123")),
        "https://example.com/r%20v/X"
    );
}

#[test]
fn percent_encoding_leaves_only_the_unreserved_characters() {
    assert_eq!(encode("Ladies + Gentlemen"), "Ladies%20%2B%20Gentlemen");
    assert_eq!(encode("An encoded string!"), "An%20encoded%20string%21");
    assert_eq!(encode("Dogs, Cats & Mice"), "Dogs%2C%20Cats%20%26%20Mice");
    assert_eq!(encode("☃"), "%E2%98%83");
    assert_eq!(encode("a-b.c_d~e"), "a-b.c_d~e");
}

#[test]
fn hmac_sha1_matches_the_oauth_1_0_appendix_a_example() {
    let signer = Signer {
        method: SignatureMethod::HmacSha1,
        consumer_key: "dpf43f3p2l4k3l03",
        consumer_secret: "kd94hf93k423kf44",
        token: Some("nnch734d00sl2jdk"),
        token_secret: "pfkkdhi9sl3r4s00",
        realm: Some("http://photos.example.net/"),
    };
    let request = url("http://photos.example.net/photos?file=vacation.jpg&size=original");
    let header = authorization(
        &signer,
        &ToSign {
            method: "GET",
            url: &request,
            form: &[],
            extra: &[],
        },
        &Freshness {
            nonce: "kllo9940pd9333jh".into(),
            timestamp: 1191242096,
        },
    )
    .unwrap();
    assert_eq!(signature_of(&header), "tR3+Ty81lMeYAr/Fid0kMTYa/WM=");
    assert!(
        header
            .starts_with("OAuth realm=\"http%3A%2F%2Fphotos.example.net%2F\", oauth_consumer_key=\"dpf43f3p2l4k3l03\""),
        "{header}"
    );
    assert!(header.contains("oauth_token=\"nnch734d00sl2jdk\""), "{header}");
    assert!(!header.contains("pfkkdhi9sl3r4s00") && !header.contains("kd94hf93k423kf44"));
}

#[test]
fn hmac_sha1_signs_query_and_form_body_as_twitters_documented_example() {
    let signer = Signer {
        method: SignatureMethod::HmacSha1,
        consumer_key: "xvz1evFS4wEEPTGEFPHBog",
        consumer_secret: "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
        token: Some("370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb"),
        token_secret: "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE",
        realm: None,
    };
    let request = url("https://api.twitter.com/1.1/statuses/update.json?include_entities=true");
    let header = authorization(
        &signer,
        &ToSign {
            method: "POST",
            url: &request,
            form: &pairs(&[("status", "Hello Ladies + Gentlemen, a signed OAuth request!")]),
            extra: &[],
        },
        &Freshness {
            nonce: "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg".into(),
            timestamp: 1318622958,
        },
    )
    .unwrap();
    assert_eq!(signature_of(&header), "hCtSmYh+iHYCEqBWrE7C7hYmtUk=");
    assert!(
        !header.contains("status"),
        "form parameters are signed, not sent in the header"
    );
}

#[test]
fn plaintext_is_the_encoded_key_and_hmac_sha256_a_sha256_mac() {
    let mut signer = Signer {
        method: SignatureMethod::Plaintext,
        consumer_key: "k",
        consumer_secret: "djr9rjt0jd78jf88",
        token: None,
        token_secret: "",
        realm: None,
    };
    // RFC 5849 §3.4.4 and its §1.2 example: `consumer_secret&token_secret`, each encoded.
    assert_eq!(signature(&signer, "ignored").unwrap(), "djr9rjt0jd78jf88&");
    signer.token_secret = "jjd99$tj88uiths3";
    assert_eq!(
        signature(&signer, "ignored").unwrap(),
        "djr9rjt0jd78jf88&jjd99%24tj88uiths3"
    );
    signer.method = SignatureMethod::HmacSha256;
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"djr9rjt0jd78jf88&jjd99%24tj88uiths3").unwrap();
    mac.update(b"base");
    assert_eq!(
        signature(&signer, "base").unwrap(),
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    );
    assert_eq!(SignatureMethod::parse("hmac-sha256"), Some(SignatureMethod::HmacSha256));
    assert_eq!(SignatureMethod::parse("RSA-SHA1"), Some(SignatureMethod::RsaSha1));
    assert_eq!(SignatureMethod::parse("MD5"), None);
}

#[test]
fn rsa_sha1_signatures_verify_with_the_public_key() {
    use ring::signature::{UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY};
    let pem = crate::crypto::keys::tests::RSA_PKCS8;
    let (_, der) = keys::pem(pem).unwrap();
    let public = ring::signature::RsaKeyPair::from_pkcs8(&der)
        .unwrap()
        .public()
        .as_ref()
        .to_vec();
    let signer = Signer {
        method: SignatureMethod::RsaSha1,
        consumer_key: "ck",
        consumer_secret: pem,
        token: Some("t"),
        token_secret: "ignored by RSA-SHA1",
        realm: None,
    };
    let request = url("https://api.example.test/1/me?fields=all");
    let fresh = Freshness::at(1_700_000_000);
    let header = authorization(
        &signer,
        &ToSign {
            method: "GET",
            url: &request,
            form: &[],
            extra: &[("oauth_verifier", "v 1")],
        },
        &fresh,
    )
    .unwrap();
    let covered = pairs(&[
        ("fields", "all"),
        ("oauth_consumer_key", "ck"),
        ("oauth_nonce", &fresh.nonce),
        ("oauth_signature_method", "RSA-SHA1"),
        ("oauth_timestamp", "1700000000"),
        ("oauth_version", "1.0"),
        ("oauth_token", "t"),
        ("oauth_verifier", "v 1"),
    ]);
    let base = base_string("GET", &request, &covered);
    let sig = base64::engine::general_purpose::STANDARD
        .decode(signature_of(&header))
        .unwrap();
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY, &public)
        .verify(base.as_bytes(), &sig)
        .expect("the public key verifies the signature over the base string");
    assert!(header.contains("oauth_verifier=\"v%201\""), "{header}");
    assert_eq!(fresh.nonce.len(), 30);
    assert!(fresh.nonce.bytes().all(|b| b.is_ascii_alphanumeric()));
    let bad = Signer {
        consumer_secret: "not a key",
        ..signer
    };
    assert!(signature(&bad, "b").is_err());
}
