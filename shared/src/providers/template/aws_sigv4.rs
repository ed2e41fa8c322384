//! `awsSigV4(access key, secret key, region, service[, host])`: the `Authorization` header of
//! AWS Signature Version 4 over the request being sent, signing `host` and `x-amz-date` (the
//! catalog sets `x-amz-date` from the same moment, `${now:YYYYMMDDTHHmmss[Z]}`).

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::RequestParts;

pub struct Signing<'a> {
    pub access_key: &'a str,
    pub secret_key: &'a str,
    pub region: &'a str,
    pub service: &'a str,
    /// The `host` header signed, when not the request's own.
    pub host: Option<&'a str>,
    /// `YYYYMMDDTHHMMSSZ`.
    pub amz_date: &'a str,
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// RFC 3986 encoding as SigV4 wants it: unreserved characters kept, the rest `%XX` (uppercase).
fn encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b'/' if keep_slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The canonical request of SigV4 (every service but S3: the sent path is encoded once more).
fn canonical_request(s: &Signing<'_>, r: &RequestParts) -> String {
    let path = if r.path.is_empty() { "/" } else { &r.path };
    let mut query: Vec<(String, String)> = r
        .query
        .iter()
        .map(|(k, v)| (encode(k, false), encode(v, false)))
        .collect();
    query.sort();
    let query: Vec<String> = query.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    let host = s.host.unwrap_or(&r.host);
    format!(
        "{}\n{}\n{}\nhost:{host}\nx-amz-date:{}\n\nhost;x-amz-date\n{}",
        r.method,
        encode(path, true),
        query.join("&"),
        s.amz_date,
        hex::encode(Sha256::digest(&r.body))
    )
}

/// The `Authorization` header value.
pub fn authorization(s: &Signing<'_>, r: &RequestParts) -> String {
    let date = s.amz_date.get(..8).unwrap_or(s.amz_date);
    let scope = format!("{date}/{}/{}/aws4_request", s.region, s.service);
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{}\n{scope}\n{}",
        s.amz_date,
        hex::encode(Sha256::digest(canonical_request(s, r)))
    );
    let mut key = hmac(format!("AWS4{}", s.secret_key).as_bytes(), date);
    for part in [s.region, s.service, "aws4_request"] {
        key = hmac(&key, part);
    }
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders=host;x-amz-date, Signature={}",
        s.access_key,
        hex::encode(hmac(&key, &to_sign))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(path: &str, query: &[(&str, &str)]) -> String {
        let request = RequestParts {
            method: "GET".into(),
            host: "example.amazonaws.com".into(),
            path: path.into(),
            query: query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            body: Vec::new(),
        };
        authorization(
            &Signing {
                access_key: "AKIDEXAMPLE",
                secret_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                region: "us-east-1",
                service: "service",
                host: None,
                amz_date: "20150830T123600Z",
            },
            &request,
        )
    }

    /// AWS's Signature Version 4 test suite: `get-vanilla` and `get-vanilla-query-order-key-case`.
    #[test]
    fn the_aws_test_suite_requests_sign_as_published() {
        assert_eq!(
            sign("/", &[]),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
        assert!(sign("/", &[("Param2", "value2"), ("Param1", "value1")])
            .ends_with("Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"));
    }
}
