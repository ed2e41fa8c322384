//! OAuth 2.0 authorization-code grant: the authorization URL, the token request, and a lenient
//! reading of token responses as real providers send them.

use std::time::Duration;

use serde_json::{Map, Value};
use time::OffsetDateTime;
use url::Url;

use crate::credentials::Credentials;
use crate::domain::Secret;

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// `client_id` and `client_secret` in the form body (`client_secret_post`).
    Body,
    /// HTTP Basic with the form-encoded id and secret (`client_secret_basic`).
    Basic,
}

/// A provider's OAuth2 endpoints and quirks, resolved for one integration.
#[derive(Debug, Clone)]
pub struct OAuth2Endpoints {
    pub authorization_url: Url,
    pub token_url: Url,
    pub authorization_params: Vec<(String, String)>,
    pub token_params: Vec<(String, String)>,
    pub scope_separator: String,
    pub client_auth: ClientAuth,
    pub pkce: bool,
}

/// Query parameters the flow itself sets; callers may not override them.
pub const RESERVED_AUTHORIZATION_PARAMS: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "code_challenge",
    "code_challenge_method",
];

pub struct AuthorizationRequest<'a> {
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub scopes: &'a [String],
    pub state: &'a Secret,
    pub code_challenge: Option<&'a str>,
    /// Per-request extras (`authorization_params[...]`), applied after the provider's own.
    pub extra_params: &'a [(String, String)],
}

pub fn authorization_url(endpoints: &OAuth2Endpoints, req: &AuthorizationRequest<'_>) -> Url {
    let mut url = endpoints.authorization_url.clone();
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code");
        q.append_pair("client_id", req.client_id);
        q.append_pair("redirect_uri", req.redirect_uri);
        if !req.scopes.is_empty() {
            q.append_pair("scope", &req.scopes.join(&endpoints.scope_separator));
        }
        q.append_pair("state", req.state.expose());
        if let Some(challenge) = req.code_challenge {
            q.append_pair("code_challenge", challenge);
            q.append_pair("code_challenge_method", "S256");
        }
    }
    let mut extras: Vec<(String, String)> = endpoints.authorization_params.clone();
    for (k, v) in req.extra_params {
        extras.retain(|(ek, _)| ek != k);
        extras.push((k.clone(), v.clone()));
    }
    if !extras.is_empty() {
        let mut q = url.query_pairs_mut();
        for (k, v) in &extras {
            q.append_pair(k, v);
        }
    }
    url
}

/// Why a token request failed. `Display` is safe to show: it never includes a response body.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// The provider answered with an OAuth error (`error` field), whatever the HTTP status.
    #[error("the provider refused the token request: {error}{}", .description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Provider {
        error: String,
        description: Option<String>,
        status: u16,
    },
    #[error("the token endpoint answered HTTP {0}")]
    Status(u16),
    #[error("the token response could not be read: {0}")]
    Malformed(&'static str),
    #[error("the token endpoint did not answer in time")]
    Timeout,
    #[error("the token endpoint could not be reached")]
    Unreachable,
}

impl TokenError {
    /// A short machine code for activity entries.
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::Provider { .. } => "token_error_response",
            TokenError::Status(_) => "token_http_error",
            TokenError::Malformed(_) => "token_malformed",
            TokenError::Timeout => "token_timeout",
            TokenError::Unreachable => "token_unreachable",
        }
    }
}

/// A successful token response, read leniently.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenResponse {
    pub access_token: Secret,
    pub refresh_token: Option<Secret>,
    pub expires_in: Option<i64>,
    pub raw: Map<String, Value>,
}

impl TokenResponse {
    pub fn into_credentials(self, now: OffsetDateTime) -> Credentials {
        Credentials::OAuth2 {
            access_token: self.access_token,
            refresh_token: self.refresh_token,
            expires_at: self.expires_in.map(|s| now + time::Duration::seconds(s)),
            raw: self.raw,
        }
    }
}

pub enum Grant<'a> {
    AuthorizationCode {
        code: &'a str,
        redirect_uri: &'a str,
        code_verifier: Option<&'a Secret>,
    },
}

pub struct TokenRequest<'a> {
    pub endpoints: &'a OAuth2Endpoints,
    pub client_id: &'a str,
    pub client_secret: &'a Secret,
    pub grant: Grant<'a>,
}

/// Provider text that reaches activity entries and error pages: printable, bounded.
fn sanitize(text: &str, max: usize) -> String {
    text.chars().filter(|c| !c.is_control()).take(max).collect()
}

/// Reads a token endpoint's answer. Accepts JSON or form-encoded bodies, `expires_in` as a
/// number or a numeric string, a missing `token_type`, and treats an `error` field as a
/// failure even under HTTP 200. Unknown fields are kept in `raw`.
pub fn parse_token_response(status: u16, body: &[u8]) -> Result<TokenResponse, TokenError> {
    let fields: Option<Map<String, Value>> = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Some(map),
        Ok(_) => None,
        Err(_) => {
            let text = std::str::from_utf8(body).unwrap_or("");
            let pairs: Map<String, Value> = form_urlencoded::parse(text.trim().as_bytes())
                .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                .collect();
            (!text.trim().is_empty() && text.contains('=') && !text.trim_start().starts_with('<')).then_some(pairs)
        }
    };
    if let Some(error) = fields.as_ref().and_then(|f| f.get("error")).filter(|e| !e.is_null()) {
        let error = match error {
            Value::String(s) => sanitize(s, 100),
            Value::Object(o) => o
                .get("message")
                .or(o.get("code"))
                .and_then(Value::as_str)
                .map(|s| sanitize(s, 100))
                .unwrap_or_else(|| "error".into()),
            other => sanitize(&other.to_string(), 100),
        };
        let description = fields
            .as_ref()
            .and_then(|f| f.get("error_description"))
            .and_then(Value::as_str)
            .map(|d| sanitize(d, 300));
        return Err(TokenError::Provider {
            error,
            description,
            status,
        });
    }
    if !(200..300).contains(&status) {
        return Err(TokenError::Status(status));
    }
    let raw = fields.ok_or(TokenError::Malformed("not a JSON object or form"))?;
    let access_token = match raw.get("access_token") {
        Some(Value::String(t)) if !t.is_empty() => Secret::new(t.clone()),
        _ => return Err(TokenError::Malformed("no access_token")),
    };
    let refresh_token = raw
        .get("refresh_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(Secret::new);
    let expires_in = match raw.get("expires_in") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(
            s.trim()
                .parse::<f64>()
                .map_err(|_| TokenError::Malformed("expires_in is not a number"))? as i64,
        ),
        Some(_) => return Err(TokenError::Malformed("expires_in is not a number")),
    };
    Ok(TokenResponse {
        access_token,
        refresh_token,
        expires_in: expires_in.filter(|s| *s > 0),
        raw,
    })
}

fn form_encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

pub async fn request_token(
    http: &reqwest::Client,
    timeout: Duration,
    req: &TokenRequest<'_>,
) -> Result<TokenResponse, TokenError> {
    let mut form: Vec<(String, String)> = Vec::new();
    match &req.grant {
        Grant::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
        } => {
            form.push(("grant_type".into(), "authorization_code".into()));
            form.push(("code".into(), (*code).into()));
            form.push(("redirect_uri".into(), (*redirect_uri).into()));
            if let Some(v) = code_verifier {
                form.push(("code_verifier".into(), v.expose().into()));
            }
        }
    }
    for (k, v) in &req.endpoints.token_params {
        form.retain(|(fk, _)| fk != k);
        form.push((k.clone(), v.clone()));
    }
    let mut builder = http
        .post(req.endpoints.token_url.clone())
        .timeout(timeout)
        .header("Accept", "application/json");
    match req.endpoints.client_auth {
        ClientAuth::Body => {
            form.push(("client_id".into(), req.client_id.into()));
            form.push(("client_secret".into(), req.client_secret.expose().into()));
        }
        ClientAuth::Basic => {
            builder = builder.basic_auth(
                form_encode(req.client_id),
                Some(form_encode(req.client_secret.expose())),
            );
        }
    }
    let response = builder.form(&form).send().await.map_err(|e| {
        tracing::warn!(url = %req.endpoints.token_url, timeout = e.is_timeout(), "token request failed to complete");
        if e.is_timeout() {
            TokenError::Timeout
        } else {
            TokenError::Unreachable
        }
    })?;
    let status = response.status().as_u16();
    let body = response.bytes().await.map_err(|e| {
        if e.is_timeout() {
            TokenError::Timeout
        } else {
            TokenError::Unreachable
        }
    })?;
    parse_token_response(status, &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(status: u16, body: &str) -> Result<TokenResponse, TokenError> {
        parse_token_response(status, body.as_bytes())
    }

    #[test]
    fn reads_a_standard_response_and_keeps_extra_fields() {
        let t = parse(
            200,
            r#"{"access_token":"at","token_type":"Bearer","expires_in":3600,"refresh_token":"rt","team":{"id":"T1"}}"#,
        )
        .unwrap();
        assert_eq!(t.access_token.expose(), "at");
        assert_eq!(t.refresh_token.unwrap().expose(), "rt");
        assert_eq!(t.expires_in, Some(3600));
        assert_eq!(t.raw["team"], json!({"id": "T1"}));
    }

    #[test]
    fn expires_in_may_be_a_string_or_missing_and_token_type_optional() {
        assert_eq!(
            parse(200, r#"{"access_token":"a","expires_in":"7200"}"#)
                .unwrap()
                .expires_in,
            Some(7200)
        );
        assert_eq!(
            parse(200, r#"{"access_token":"a","expires_in":" 60.0 "}"#)
                .unwrap()
                .expires_in,
            Some(60)
        );
        assert_eq!(parse(200, r#"{"access_token":"a"}"#).unwrap().expires_in, None);
        assert_eq!(
            parse(200, r#"{"access_token":"a","expires_in":null}"#)
                .unwrap()
                .expires_in,
            None
        );
        assert_eq!(
            parse(200, r#"{"access_token":"a","expires_in":0}"#).unwrap().expires_in,
            None
        );
        assert_eq!(
            parse(200, r#"{"access_token":"a","expires_in":"soon"}"#),
            Err(TokenError::Malformed("expires_in is not a number"))
        );
    }

    #[test]
    fn an_error_body_fails_even_with_http_200() {
        let err = parse(200, r#"{"ok":false,"error":"invalid_code"}"#).unwrap_err();
        assert_eq!(
            err,
            TokenError::Provider {
                error: "invalid_code".into(),
                description: None,
                status: 200
            }
        );
        let err = parse(400, r#"{"error":"invalid_grant","error_description":"code expired\n"}"#).unwrap_err();
        assert_eq!(
            err,
            TokenError::Provider {
                error: "invalid_grant".into(),
                description: Some("code expired".into()),
                status: 400
            }
        );
        assert_eq!(
            err.to_string(),
            "the provider refused the token request: invalid_grant (code expired)"
        );
    }

    #[test]
    fn form_encoded_bodies_are_read_too() {
        let t = parse(200, "access_token=gho_x&scope=repo&token_type=bearer").unwrap();
        assert_eq!(t.access_token.expose(), "gho_x");
        assert_eq!(t.raw["scope"], "repo");
        let err = parse(200, "error=bad_verification_code&error_description=The+code+is+wrong").unwrap_err();
        assert!(matches!(err, TokenError::Provider { ref error, .. } if error == "bad_verification_code"));
    }

    #[test]
    fn http_failures_and_garbage_are_errors_without_the_body() {
        assert_eq!(
            parse(502, "<html>bad gateway secret-ish</html>"),
            Err(TokenError::Status(502))
        );
        assert_eq!(
            parse(200, "<html>login</html>"),
            Err(TokenError::Malformed("not a JSON object or form"))
        );
        assert_eq!(
            parse(200, r#"{"token":"x"}"#),
            Err(TokenError::Malformed("no access_token"))
        );
        assert_eq!(
            parse(200, r#"["a"]"#),
            Err(TokenError::Malformed("not a JSON object or form"))
        );
        assert!(!TokenError::Status(500).to_string().contains("secret"));
    }

    #[test]
    fn the_authorization_url_carries_pkce_state_and_extras() {
        let endpoints = OAuth2Endpoints {
            authorization_url: Url::parse("https://id.example.com/auth?audience=api").unwrap(),
            token_url: Url::parse("https://id.example.com/token").unwrap(),
            authorization_params: vec![("prompt".into(), "consent".into())],
            token_params: vec![],
            scope_separator: " ".into(),
            client_auth: ClientAuth::Body,
            pkce: true,
        };
        let state = Secret::new("st");
        let url = authorization_url(
            &endpoints,
            &AuthorizationRequest {
                client_id: "cid",
                redirect_uri: "http://127.0.0.1:3003/oauth/callback",
                scopes: &["openid".into(), "email".into()],
                state: &state,
                code_challenge: Some("chal"),
                extra_params: &[("prompt".into(), "login".into()), ("login_hint".into(), "a@b.c".into())],
            },
        );
        let q: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let get = |k: &str| {
            q.iter()
                .filter(|(qk, _)| qk == k)
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(url.host_str(), Some("id.example.com"));
        assert_eq!(get("audience"), ["api"]);
        assert_eq!(get("scope"), ["openid email"]);
        assert_eq!(get("state"), ["st"]);
        assert_eq!(get("code_challenge_method"), ["S256"]);
        assert_eq!(
            get("prompt"),
            ["login"],
            "a request's extra replaces the provider default"
        );
        assert_eq!(get("login_hint"), ["a@b.c"]);
    }
}
