//! AWS Signature Version 4, in one place: the `Authorization` header over a request, for the
//! catalog's `awsSigV4(access key, secret key, region, service[, host])` helper (which signs
//! `host` and `x-amz-date`, the catalog setting `x-amz-date` from the same moment,
//! `${now:YYYYMMDDTHHmmss[Z]}`) and for the `AWS_SIGV4` mode (`auth::aws_sigv4`), which signs
//! every header of the request with its session token and payload hash.

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
    /// Headers signed beside `host` and `x-amz-date`, by lowercase name (`x-amz-security-token`,
    /// `x-amz-content-sha256`, `content-type`).
    pub headers: &'a [(&'a str, &'a str)],
}

/// The hex SHA-256 of a body: SigV4's payload hash (`x-amz-content-sha256`).
pub fn payload_hash(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
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

/// The signed headers, sorted by name, values trimmed with inner runs of spaces collapsed.
fn signed_headers(s: &Signing<'_>, r: &RequestParts) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = vec![
        ("host".into(), s.host.unwrap_or(&r.host).to_owned()),
        ("x-amz-date".into(), s.amz_date.to_owned()),
    ];
    for (name, value) in s.headers {
        let name = name.to_ascii_lowercase();
        if name != "host" && name != "x-amz-date" && name != "authorization" {
            headers.push((name, value.split_whitespace().collect::<Vec<_>>().join(" ")));
        }
    }
    headers.sort();
    headers.dedup_by(|a, b| a.0 == b.0);
    headers
}

/// The canonical request of SigV4. The path is the one sent, encoded once more for every
/// service but S3 (AWS's rule); the query is sorted after encoding.
fn canonical_request(s: &Signing<'_>, r: &RequestParts, headers: &[(String, String)]) -> String {
    let path = if r.path.is_empty() { "/" } else { &r.path };
    let path = if s.service == "s3" {
        path.to_owned()
    } else {
        encode(path, true)
    };
    let mut query: Vec<(String, String)> = r
        .query
        .iter()
        .map(|(k, v)| (encode(k, false), encode(v, false)))
        .collect();
    query.sort();
    let query: Vec<String> = query.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    let canonical: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let names: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    format!(
        "{}\n{path}\n{}\n{canonical}\n{}\n{}",
        r.method,
        query.join("&"),
        names.join(";"),
        payload_hash(&r.body)
    )
}

/// The `Authorization` header value.
pub fn authorization(s: &Signing<'_>, r: &RequestParts) -> String {
    let headers = signed_headers(s, r);
    let date = s.amz_date.get(..8).unwrap_or(s.amz_date);
    let scope = format!("{date}/{}/{}/aws4_request", s.region, s.service);
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{}\n{scope}\n{}",
        s.amz_date,
        hex::encode(Sha256::digest(canonical_request(s, r, &headers)))
    );
    let mut key = hmac(format!("AWS4{}", s.secret_key).as_bytes(), date);
    for part in [s.region, s.service, "aws4_request"] {
        key = hmac(&key, part);
    }
    let names: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={}, Signature={}",
        s.access_key,
        names.join(";"),
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
                headers: &[],
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

    /// Requests signed with a session token by botocore's `SigV4Auth` (STS, a form body) and
    /// `S3SigV4Auth` (S3: the path is not encoded again), at the same moment: the same headers.
    #[test]
    fn session_token_requests_sign_as_botocore_signs_them() {
        let creds = |region, service, headers| Signing {
            access_key: "AKIDEXAMPLE",
            secret_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            region,
            service,
            host: None,
            amz_date: "20261202T191513Z",
            headers,
        };
        let url = url::Url::parse("https://sts.eu-west-1.amazonaws.com/").unwrap();
        let body = b"Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2FCustomer&Version=2011-06-15";
        let sts = authorization(
            &creds(
                "eu-west-1",
                "sts",
                &[
                    ("content-type", "application/x-www-form-urlencoded"),
                    ("x-amz-security-token", "session-TOKEN/+="),
                ],
            ),
            &RequestParts::of("POST", &url, body),
        );
        assert_eq!(sts, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261202/eu-west-1/sts/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature=05713d63e9ed6ccafb459c07cbc6dbe4d2785fea956f5613b3e597524527207d");
        let url =
            url::Url::parse("https://s3.us-east-1.amazonaws.com/my%20bucket/a%2Fb?list-type=2&prefix=x%20y").unwrap();
        let empty = payload_hash(b"");
        let s3 = authorization(
            &creds(
                "us-east-1",
                "s3",
                &[
                    ("x-amz-content-sha256", &empty),
                    ("x-amz-security-token", "session-TOKEN/+="),
                ],
            ),
            &RequestParts::of("GET", &url, b""),
        );
        assert_eq!(s3, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261202/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature=6796916aa6da861ff8752a8137687d7842c7d2ec4027f2db71b4509291fe54b2");
    }
}
