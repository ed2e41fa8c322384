//! The JWTs the catalog describes, signed with the end user's key: a two-step token request's
//! `assertion` (`type: jwt`; the value of `${credentials.assertion}`, e.g. an OAuth client
//! assertion) and `token` (the value of `${token}`, e.g. Google's JWT-bearer grant), and a
//! `JWT` connection's own token (`auth::jwt`). Header and payload are the catalog's templates
//! rendered with the connection's values; `iat` and `exp` come from the request's moment and the
//! catalog's lifetime. A claim whose value the end user left out (an optional field) is left
//! out, and so is an array claim left empty. `HS256` signs with a shared secret: hex-decoded
//! (Ghost's Admin API secret) unless the entry says `hmac_secret_encoding: utf8`.

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
    /// How an `HS256` secret is turned into key bytes.
    pub hmac_secret: HmacSecret,
}

/// The bytes of an `HS256` secret: its text hex-decoded, or its UTF-8 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HmacSecret {
    Hex,
    Utf8,
}

impl HmacSecret {
    /// As the entry's `signature.hmac_secret_encoding` says (hex when it says nothing).
    pub fn of(signature: Option<&Value>) -> Self {
        match signature
            .and_then(|s| s.get("hmac_secret_encoding"))
            .and_then(Value::as_str)
        {
            Some("utf8") => Self::Utf8,
            _ => Self::Hex,
        }
    }
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
            hmac_secret: HmacSecret::Hex,
        })
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

type Render<'r> = dyn Fn(&str) -> Result<Option<String>, TemplateError> + 'r;

/// Renders one claim: strings through `render`, arrays and objects member by member; `None`
/// when it is left out (a missing optional value, an array left empty).
fn render_value(value: &Value, render: &Render<'_>) -> Result<Option<Value>, TemplateError> {
    Ok(match value {
        Value::String(t) => render(t)?.map(Value::String),
        Value::Array(items) => {
            let mut out = Vec::new();
            for item in items {
                out.extend(render_value(item, render)?);
            }
            (!out.is_empty()).then_some(Value::Array(out))
        }
        Value::Object(members) => Some(Value::Object(render_object(members, render)?)),
        other => Some(other.clone()),
    })
}

/// Renders a header or payload.
fn render_object(object: &Map<String, Value>, render: &Render<'_>) -> Result<Map<String, Value>, TemplateError> {
    let mut out = Map::new();
    for (k, v) in object {
        if let Some(value) = render_value(v, render)? {
            out.insert(k.clone(), value);
        }
    }
    Ok(out)
}

/// The bytes of an HMAC secret, or `None` when it is not in the entry's encoding.
fn hmac_key(secret: &str, encoding: HmacSecret) -> Option<Vec<u8>> {
    match encoding {
        HmacSecret::Hex => hex::decode(secret.trim()).ok().filter(|k| !k.is_empty()),
        HmacSecret::Utf8 => (!secret.is_empty()).then(|| secret.as_bytes().to_vec()),
    }
}

/// Renders and signs `spec` at unix time `now`. `render` renders one template (a missing
/// optional value is `None`); the key is rendered as a whole value.
pub fn sign(spec: &JwtSpec<'_>, now: i64, render: &Render<'_>) -> Result<String, TemplateError> {
    let header = render_object(spec.header, render)?;
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or_default().to_owned();
    let algorithm = match Algorithm::from_jwt(&alg) {
        Some(a) => Some(a),
        None if alg == "HS256" => None,
        None => return Err(TemplateError::Unsupported(format!("the JWT algorithm '{alg}'"))),
    };
    let mut payload = render_object(spec.payload, render)?;
    payload.insert("iat".into(), now.into());
    payload.insert("exp".into(), (now + spec.lifetime_seconds).into());
    let key = render(spec.key)?.ok_or_else(|| TemplateError::Missing(spec.key.trim_matches(['$', '{', '}']).into()))?;
    let signing_input = format!(
        "{}.{}",
        b64(&serde_json::to_vec(&header).expect("JSON serializes")),
        b64(&serde_json::to_vec(&payload).expect("JSON serializes"))
    );
    let refused = |reason| TemplateError::Invalid {
        field: spec.key.trim_matches(['$', '{', '}']).into(),
        reason,
        secret: true,
    };
    let signature = match algorithm {
        Some(algorithm) => keys::sign(algorithm, &key, signing_input.as_bytes())
            .map_err(|_| refused("it is not a private key for the provider's signing algorithm"))?,
        None => {
            let bytes =
                hmac_key(&key, spec.hmac_secret).ok_or_else(|| refused("it is not the secret the provider issued"))?;
            let tag = ring::hmac::sign(
                &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &bytes),
                signing_input.as_bytes(),
            );
            tag.as_ref().to_vec()
        }
    };
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
