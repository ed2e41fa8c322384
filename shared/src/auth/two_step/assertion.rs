//! The JWTs a two-step token request carries, signed with the end user's private key: the
//! catalog's `assertion` (`type: jwt`; the value of `${credentials.assertion}`, e.g. an OAuth
//! client assertion) and its `token` (`signature.protocol: RSA`; the value of `${token}`, e.g.
//! Google's JWT-bearer grant). Header and payload are the catalog's templates rendered with the
//! connection's values; `iat` and `exp` come from the request's moment and the catalog's
//! lifetime. A claim whose value the end user left out (an optional field) is left out.

use base64::Engine;
use serde_json::{Map, Value};

use crate::crypto::keys::{self, Algorithm};
use crate::providers::template::TemplateError;

/// One JWT to sign, read from the catalog.
pub struct JwtSpec<'a> {
    pub header: &'a Map<String, Value>,
    pub payload: &'a Map<String, Value>,
    /// The key's template (`${credentials.privateKey}`).
    pub key: &'a str,
    pub lifetime_seconds: i64,
}

impl<'a> JwtSpec<'a> {
    /// The catalog's `assertion` block, when it is a JWT.
    pub fn assertion(block: &'a Value) -> Option<Result<Self, TemplateError>> {
        let kind = block.get("type").and_then(Value::as_str).unwrap_or("jwt");
        if kind != "jwt" {
            return Some(Err(TemplateError::Unsupported(format!("a {kind} assertion"))));
        }
        let lifetime = match block.get("lifetimeInSeconds") {
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) => s.parse().ok(),
            _ => Some(3600),
        };
        Some(Self::from_parts(block, "key", lifetime))
    }

    /// The catalog's `token` block (`signature.protocol: RSA`).
    pub fn token(block: &'a Value) -> Option<Result<Self, TemplateError>> {
        let lifetime = block.get("expires_in_ms").and_then(Value::as_i64).map(|ms| ms / 1000);
        Some(Self::from_parts(block, "signing_key", lifetime))
    }

    fn from_parts(block: &'a Value, key_field: &str, lifetime: Option<i64>) -> Result<Self, TemplateError> {
        let bad = || TemplateError::Unsupported("a JWT block without header, payload or key".into());
        Ok(Self {
            header: block.get("header").and_then(Value::as_object).ok_or_else(bad)?,
            payload: block.get("payload").and_then(Value::as_object).ok_or_else(bad)?,
            key: block.get(key_field).and_then(Value::as_str).ok_or_else(bad)?,
            lifetime_seconds: lifetime.filter(|l| *l > 0).unwrap_or(3600),
        })
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Renders a header or payload: strings through `render` (`None`: left out), others kept.
fn render_object(
    object: &Map<String, Value>,
    render: &dyn Fn(&str) -> Result<Option<String>, TemplateError>,
) -> Result<Map<String, Value>, TemplateError> {
    let mut out = Map::new();
    for (k, v) in object {
        let value = match v {
            Value::String(t) => match render(t)? {
                Some(text) => Value::String(text),
                None => continue,
            },
            other => other.clone(),
        };
        out.insert(k.clone(), value);
    }
    Ok(out)
}

/// Renders and signs `spec` at unix time `now`. `render` renders one template (a missing
/// optional value is `None`); the key is rendered as a whole value.
pub fn sign(
    spec: &JwtSpec<'_>,
    now: i64,
    render: &dyn Fn(&str) -> Result<Option<String>, TemplateError>,
) -> Result<String, TemplateError> {
    let header = render_object(spec.header, render)?;
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or_default().to_owned();
    let algorithm =
        Algorithm::from_jwt(&alg).ok_or_else(|| TemplateError::Unsupported(format!("the JWT algorithm '{alg}'")))?;
    let mut payload = render_object(spec.payload, render)?;
    payload.insert("iat".into(), now.into());
    payload.insert("exp".into(), (now + spec.lifetime_seconds).into());
    let key = render(spec.key)?.ok_or_else(|| TemplateError::Missing(spec.key.trim_matches(['$', '{', '}']).into()))?;
    let signing_input = format!(
        "{}.{}",
        b64(&serde_json::to_vec(&header).expect("JSON serializes")),
        b64(&serde_json::to_vec(&payload).expect("JSON serializes"))
    );
    let signature = keys::sign(algorithm, &key, signing_input.as_bytes()).map_err(|_| TemplateError::Invalid {
        field: spec.key.trim_matches(['$', '{', '}']).into(),
        reason: "it is not a private key for the provider's signing algorithm",
        secret: true,
    })?;
    Ok(format!("{signing_input}.{}", b64(&signature)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_google_style_token_is_signed_with_lifetime_and_without_empty_claims() {
        let block = json!({"expires_in_ms": 3600000, "header": {"alg": "RS256", "typ": "JWT"},
            "payload": {"aud": "https://oauth2.googleapis.com/token", "iss": "${iss}", "sub": "${sub}"},
            "signing_key": "${key}"});
        let spec = JwtSpec::token(&block).unwrap().unwrap();
        let key = crate::crypto::keys::tests::RSA_PKCS8;
        let jwt = sign(&spec, 1000, &|t| {
            Ok(match t {
                "${iss}" => Some("sa@p.iam.gserviceaccount.com".into()),
                "${sub}" => None,
                "${key}" => Some(key.into()),
                other => Some(other.into()),
            })
        })
        .unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        let payload: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(parts[1])
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            payload,
            json!({"aud": "https://oauth2.googleapis.com/token", "iss": "sa@p.iam.gserviceaccount.com", "iat": 1000, "exp": 4600})
        );
        let (_, der) = crate::crypto::keys::pem(key).unwrap();
        let public = ring::signature::RsaKeyPair::from_pkcs8(&der)
            .unwrap()
            .public()
            .as_ref()
            .to_vec();
        ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, public)
            .verify(
                format!("{}.{}", parts[0], parts[1]).as_bytes(),
                &base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(parts[2])
                    .unwrap(),
            )
            .unwrap();
    }

    #[test]
    fn saml_assertions_and_unknown_algorithms_are_unsupported() {
        assert!(matches!(
            JwtSpec::assertion(&json!({"type": "saml"})),
            Some(Err(TemplateError::Unsupported(_)))
        ));
        let block = json!({"header": {"alg": "HS999"}, "payload": {}, "key": "k"});
        let spec = JwtSpec::assertion(&block).unwrap().unwrap();
        assert!(matches!(
            sign(&spec, 0, &|t| Ok(Some(t.into()))),
            Err(TemplateError::Unsupported(_))
        ));
    }
}
