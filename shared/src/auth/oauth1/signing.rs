//! OAuth 1.0a request signing (RFC 5849 §3), written once for every mode that signs this way
//! (`OAUTH1`, NetSuite's `TBA`): the parameters a signature covers (the URL's query, the
//! protocol parameters, a form body), their normalisation, the signature base string, the
//! signature (HMAC-SHA1, HMAC-SHA256, RSA-SHA1, PLAINTEXT) and the `Authorization: OAuth …`
//! header that carries them. Nothing here logs or returns a secret: errors name the method only.

use base64::Engine;
use hmac::{Hmac, Mac};
use url::Url;

use crate::crypto::keys::{self, Algorithm, KeyError};

/// How a request is signed (`oauth_signature_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureMethod {
    HmacSha1,
    HmacSha256,
    RsaSha1,
    Plaintext,
}

impl SignatureMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureMethod::HmacSha1 => "HMAC-SHA1",
            SignatureMethod::HmacSha256 => "HMAC-SHA256",
            SignatureMethod::RsaSha1 => "RSA-SHA1",
            SignatureMethod::Plaintext => "PLAINTEXT",
        }
    }

    /// The method a catalog entry names (`signature_method`).
    pub fn parse(name: &str) -> Option<Self> {
        [Self::HmacSha1, Self::HmacSha256, Self::RsaSha1, Self::Plaintext]
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(name))
    }
}

/// RFC 5849 §3.6: every byte but the unreserved characters (`ALPHA DIGIT - . _ ~`) as `%XX`.
pub fn encode(value: &str) -> String {
    const RESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(value, RESERVED).to_string()
}

/// RFC 5849 §3.4.1.2: scheme and host lowercase, the port only when it is not the scheme's
/// default, the path; no query or fragment.
pub fn base_string_uri(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let port = match url.port() {
        Some(p) => format!(":{p}"),
        None => String::new(),
    };
    format!("{}://{host}{port}{}", url.scheme(), url.path())
}

/// RFC 5849 §3.4.1.3.2: each name and value encoded, sorted by name then value, joined as
/// `name=value` with `&`.
pub fn normalized_parameters(params: &[(String, String)]) -> String {
    let mut encoded: Vec<(String, String)> = params.iter().map(|(k, v)| (encode(k), encode(v))).collect();
    encoded.sort();
    encoded
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// RFC 5849 §3.4.1.1: `METHOD&uri&parameters`, each part encoded.
pub fn base_string(method: &str, url: &Url, params: &[(String, String)]) -> String {
    format!(
        "{}&{}&{}",
        encode(&method.to_ascii_uppercase()),
        encode(&base_string_uri(url)),
        encode(&normalized_parameters(params))
    )
}

/// Who signs: the client (consumer key and secret: an RSA private key, PEM, for RSA-SHA1) and
/// the token the request is made with, if any (a request token at the access token step).
pub struct Signer<'a> {
    pub method: SignatureMethod,
    pub consumer_key: &'a str,
    pub consumer_secret: &'a str,
    pub token: Option<&'a str>,
    pub token_secret: &'a str,
    /// `realm` of the header: not signed (§3.4.1.3.1).
    pub realm: Option<&'a str>,
}

/// What makes each signature unique: `oauth_nonce` and `oauth_timestamp`.
pub struct Freshness {
    pub nonce: String,
    pub timestamp: i64,
}

impl Freshness {
    /// A random nonce (30 hex digits: letters and digits only, within the lengths providers
    /// accept) at unix time `now`.
    pub fn at(now: i64) -> Self {
        Self {
            nonce: hex::encode(crate::crypto::random_bytes::<15>()),
            timestamp: now,
        }
    }
}

/// The signature of `base` (§3.4.2 – §3.4.4), base64 (PLAINTEXT: the key itself).
pub fn signature(signer: &Signer<'_>, base: &str) -> Result<String, KeyError> {
    let key = format!("{}&{}", encode(signer.consumer_secret), encode(signer.token_secret));
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    Ok(match signer.method {
        SignatureMethod::HmacSha1 => {
            let mut mac = Hmac::<sha1::Sha1>::new_from_slice(key.as_bytes()).expect("HMAC takes any key");
            mac.update(base.as_bytes());
            b64(&mac.finalize().into_bytes())
        }
        SignatureMethod::HmacSha256 => {
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes any key");
            mac.update(base.as_bytes());
            b64(&mac.finalize().into_bytes())
        }
        SignatureMethod::RsaSha1 => b64(&keys::sign(
            Algorithm::RsaSha1,
            signer.consumer_secret,
            base.as_bytes(),
        )?),
        SignatureMethod::Plaintext => key,
    })
}

/// A request to sign: its method, URL (the query is signed) and form body pairs, if its body is
/// `application/x-www-form-urlencoded` (§3.4.1.3.1); `extra` protocol parameters join the
/// header (`oauth_callback`, `oauth_verifier`).
pub struct ToSign<'a> {
    pub method: &'a str,
    pub url: &'a Url,
    pub form: &'a [(String, String)],
    pub extra: &'a [(&'a str, &'a str)],
}

/// The `Authorization` header value of a signed request: `OAuth realm="…", oauth_…="…"`.
pub fn authorization(signer: &Signer<'_>, request: &ToSign<'_>, fresh: &Freshness) -> Result<String, KeyError> {
    let mut protocol: Vec<(String, String)> = vec![
        ("oauth_consumer_key".into(), signer.consumer_key.into()),
        ("oauth_nonce".into(), fresh.nonce.clone()),
        ("oauth_signature_method".into(), signer.method.as_str().into()),
        ("oauth_timestamp".into(), fresh.timestamp.to_string()),
        ("oauth_version".into(), "1.0".into()),
    ];
    if let Some(token) = signer.token {
        protocol.push(("oauth_token".into(), token.into()));
    }
    protocol.extend(request.extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let mut covered: Vec<(String, String)> = request.url.query_pairs().into_owned().collect();
    covered.extend(request.form.iter().cloned());
    covered.extend(protocol.iter().cloned());
    let base = base_string(request.method, request.url, &covered);
    protocol.push(("oauth_signature".into(), signature(signer, &base)?));
    let mut parts: Vec<String> = signer
        .realm
        .map(|r| format!("realm=\"{}\"", encode(r)))
        .into_iter()
        .collect();
    parts.extend(protocol.iter().map(|(k, v)| format!("{}=\"{}\"", encode(k), encode(v))));
    Ok(format!("OAuth {}", parts.join(", ")))
}

#[cfg(test)]
#[path = "signing_tests.rs"]
mod tests;
