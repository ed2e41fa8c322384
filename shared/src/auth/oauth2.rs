//! OAuth 2.0 grants (authorization code, refresh token, client credentials): the authorization
//! URL, the token request, and a lenient reading of token responses as real providers send them.
//! Provider quirks (scope separators, renamed parameters, JSON bodies, nested tokens, odd expiry
//! units) are data in `OAuth2Endpoints`, filled from the catalog by `providers::oauth2_endpoints`.

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

/// How the token request's parameters travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenBody {
    #[default]
    Form,
    Json,
    /// In the token URL's query, with an empty body.
    Query,
}

/// How to read a token response that is not the standard shape.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TokenShape {
    /// Dotted path to the access token (default `access_token`).
    pub token_path: Option<String>,
    pub refresh_token_path: Option<String>,
    pub expires_in_path: Option<String>,
    /// Where the tokens are when the top level has none (Slack's `authed_user`).
    pub alternate_path: Option<String>,
    /// `expires_in` is in milliseconds, not seconds.
    pub expires_in_ms: bool,
    /// Lifetime to assume when the response states none, in seconds.
    pub default_expires_in: Option<i64>,
    /// Seconds taken off the lifetime so a token is refreshed before the provider drops it.
    pub expiration_buffer: i64,
    /// Response fields (dotted paths) copied into the connection config (Salesforce `instance_url`).
    pub metadata: Vec<String>,
}

/// A provider's OAuth2 endpoints and quirks, resolved for one integration and connection.
#[derive(Debug, Clone)]
pub struct OAuth2Endpoints {
    pub authorization_url: Url,
    pub token_url: Url,
    /// Where refresh requests go, when not the token URL.
    pub refresh_url: Option<Url>,
    pub authorization_params: Vec<(String, String)>,
    /// Parameter renames in the authorization URL (`client_id` → `client_key`); an empty
    /// target drops the parameter.
    pub authorization_url_replacements: Vec<(String, String)>,
    pub token_params: Vec<(String, String)>,
    pub refresh_params: Vec<(String, String)>,
    pub token_headers: Vec<(String, String)>,
    pub scope_separator: String,
    pub default_scopes: Vec<String>,
    pub client_auth: ClientAuth,
    pub token_body: TokenBody,
    pub pkce: bool,
    pub token_shape: TokenShape,
    /// Callback query values kept in the connection config (QuickBooks `realmId`).
    pub redirect_uri_metadata: Vec<String>,
    /// The callback parameter holding the code (default `code`).
    pub code_param: String,
}

impl OAuth2Endpoints {
    /// Standard OAuth2 at these two URLs; quirks are set field by field.
    pub fn new(authorization_url: Url, token_url: Url) -> Self {
        Self {
            authorization_url,
            token_url,
            refresh_url: None,
            authorization_params: Vec::new(),
            authorization_url_replacements: Vec::new(),
            token_params: Vec::new(),
            refresh_params: Vec::new(),
            token_headers: Vec::new(),
            scope_separator: " ".into(),
            default_scopes: Vec::new(),
            client_auth: ClientAuth::Body,
            token_body: TokenBody::Form,
            pkce: true,
            token_shape: TokenShape::default(),
            redirect_uri_metadata: Vec::new(),
            code_param: "code".into(),
        }
    }
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
    /// `user_scope` of the connect URL (Slack user-token scopes), sent as its own parameter.
    pub user_scope: Option<&'a [String]>,
}

/// The integration's scopes, then the provider's defaults not already among them.
pub fn effective_scopes(endpoints: &OAuth2Endpoints, configured: &[String]) -> Vec<String> {
    let mut scopes = configured.to_vec();
    for s in &endpoints.default_scopes {
        if !scopes.contains(s) {
            scopes.push(s.clone());
        }
    }
    scopes
}

pub fn authorization_url(endpoints: &OAuth2Endpoints, req: &AuthorizationRequest<'_>) -> Url {
    let mut pairs: Vec<(String, String)> = vec![
        ("response_type".into(), "code".into()),
        ("client_id".into(), req.client_id.into()),
        ("redirect_uri".into(), req.redirect_uri.into()),
    ];
    let scopes = effective_scopes(endpoints, req.scopes);
    if !scopes.is_empty() {
        pairs.push(("scope".into(), scopes.join(&endpoints.scope_separator)));
    }
    pairs.push(("state".into(), req.state.expose().into()));
    if let Some(challenge) = req.code_challenge {
        pairs.push(("code_challenge".into(), challenge.into()));
        pairs.push(("code_challenge_method".into(), "S256".into()));
    }
    if let Some(user_scope) = req.user_scope.filter(|s| !s.is_empty()) {
        pairs.push(("user_scope".into(), user_scope.join(&endpoints.scope_separator)));
    }
    let mut extras: Vec<(String, String)> = endpoints.authorization_params.clone();
    for (k, v) in req.extra_params {
        extras.retain(|(ek, _)| ek != k);
        extras.push((k.clone(), v.clone()));
    }
    for (k, v) in extras {
        pairs.retain(|(pk, _)| *pk != k);
        pairs.push((k, v));
    }
    for (from, to) in &endpoints.authorization_url_replacements {
        let (from, to) = (from.trim_end_matches('='), to.trim_end_matches('='));
        if to.is_empty() {
            pairs.retain(|(k, _)| k != from);
        } else {
            for (k, _) in pairs.iter_mut().filter(|(k, _)| k == from) {
                *k = to.to_owned();
            }
        }
    }
    let mut url = endpoints.authorization_url.clone();
    url.query_pairs_mut().extend_pairs(pairs);
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
    /// Worth retrying: the endpoint did not answer, or failed on its side.
    pub fn is_transient(&self) -> bool {
        match self {
            TokenError::Timeout | TokenError::Unreachable => true,
            TokenError::Status(status) => *status >= 500,
            TokenError::Provider { .. } | TokenError::Malformed(_) => false,
        }
    }

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
    /// Seconds, after unit conversion and the provider's expiration buffer.
    pub expires_in: Option<i64>,
    pub raw: Map<String, Value>,
    /// The fields named by `TokenShape::metadata`, keyed by their path.
    pub metadata: Map<String, Value>,
}

impl TokenResponse {
    /// When the token expires, in whole seconds (what providers count in, and what the wire shows).
    pub fn expires_at(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        let now = now.replace_nanosecond(0).unwrap_or(now);
        self.expires_in.map(|s| now + time::Duration::seconds(s))
    }

    pub fn into_credentials(self, now: OffsetDateTime) -> Credentials {
        Credentials::OAuth2 {
            expires_at: self.expires_at(now),
            access_token: self.access_token,
            refresh_token: self.refresh_token,
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
    RefreshToken {
        refresh_token: &'a Secret,
    },
    ClientCredentials {
        scopes: &'a [String],
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

/// A value at a dotted path (`authed_user.access_token`).
pub fn at_path<'v>(root: &'v Map<String, Value>, path: &str) -> Option<&'v Value> {
    if let Some(v) = root.get(path) {
        return Some(v);
    }
    let mut parts = path.split('.');
    let mut cur = root.get(parts.next()?)?;
    for p in parts {
        cur = cur.get(p)?;
    }
    Some(cur)
}

fn read_expires_in(value: Option<&Value>) -> Result<Option<f64>, TokenError> {
    Ok(match value {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(
            s.trim()
                .parse::<f64>()
                .map_err(|_| TokenError::Malformed("expires_in is not a number"))?,
        ),
        Some(_) => return Err(TokenError::Malformed("expires_in is not a number")),
    })
}

/// Reads a token endpoint's answer. Accepts JSON or form-encoded bodies, `expires_in` as a
/// number or a numeric string, a missing `token_type`, and treats an `error` field as a
/// failure even under HTTP 200. Unknown fields are kept in `raw`.
pub fn parse_token_response(status: u16, body: &[u8]) -> Result<TokenResponse, TokenError> {
    parse_token_response_with(status, body, &TokenShape::default())
}

/// `parse_token_response` for a provider whose response has its own shape.
pub fn parse_token_response_with(status: u16, body: &[u8], shape: &TokenShape) -> Result<TokenResponse, TokenError> {
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
    let token_path = shape
        .token_path
        .as_deref()
        .filter(|p| !p.is_empty())
        .unwrap_or("access_token");
    let nonempty = |v: Option<&Value>| v.and_then(Value::as_str).filter(|t| !t.is_empty()).map(Secret::new);
    // The top level, or the alternate object when the top level carries no token.
    let (scope, token) = match nonempty(at_path(&raw, token_path)) {
        Some(t) => (None, t),
        None => {
            let alt = shape
                .alternate_path
                .as_deref()
                .and_then(|p| at_path(&raw, p))
                .and_then(Value::as_object);
            match alt.and_then(|a| nonempty(a.get("access_token")).map(|t| (a, t))) {
                Some((a, t)) => (Some(a), t),
                None => return Err(TokenError::Malformed("no access_token")),
            }
        }
    };
    let within = scope.unwrap_or(&raw);
    let refresh_path = shape.refresh_token_path.as_deref().unwrap_or("refresh_token");
    let refresh_token = nonempty(at_path(within, refresh_path));
    let expires_path = shape.expires_in_path.as_deref().unwrap_or("expires_in");
    let expires_in = read_expires_in(at_path(within, expires_path))?
        .map(|n| if shape.expires_in_ms { n / 1000.0 } else { n } as i64)
        .filter(|s| *s > 0)
        .or(shape.default_expires_in)
        .map(|s| (s - shape.expiration_buffer).max(1));
    let metadata = shape
        .metadata
        .iter()
        .filter_map(|p| {
            at_path(&raw, p)
                .filter(|v| !v.is_null())
                .map(|v| (p.clone(), v.clone()))
        })
        .collect();
    Ok(TokenResponse {
        access_token: token,
        refresh_token,
        expires_in,
        raw,
        metadata,
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
    let endpoints = req.endpoints;
    let mut form: Vec<(String, String)> = Vec::new();
    let mut url = endpoints.token_url.clone();
    let provider_params = match &req.grant {
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
            &endpoints.token_params
        }
        Grant::RefreshToken { refresh_token } => {
            form.push(("grant_type".into(), "refresh_token".into()));
            form.push(("refresh_token".into(), refresh_token.expose().into()));
            if let Some(u) = &endpoints.refresh_url {
                url = u.clone();
            }
            &endpoints.refresh_params
        }
        Grant::ClientCredentials { scopes } => {
            form.push(("grant_type".into(), "client_credentials".into()));
            if !scopes.is_empty() {
                form.push(("scope".into(), scopes.join(&endpoints.scope_separator)));
            }
            &endpoints.token_params
        }
    };
    for (k, v) in provider_params {
        form.retain(|(fk, _)| fk != k);
        form.push((k.clone(), v.clone()));
    }
    if endpoints.client_auth == ClientAuth::Body {
        form.push(("client_id".into(), req.client_id.into()));
        form.push(("client_secret".into(), req.client_secret.expose().into()));
    }
    if endpoints.token_body == TokenBody::Query {
        url.query_pairs_mut().extend_pairs(&form);
    }
    let mut builder = http.post(url).timeout(timeout).header("Accept", "application/json");
    for (k, v) in &endpoints.token_headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    if endpoints.client_auth == ClientAuth::Basic {
        builder = builder.basic_auth(
            form_encode(req.client_id),
            Some(form_encode(req.client_secret.expose())),
        );
    }
    builder = match endpoints.token_body {
        TokenBody::Form => builder.form(&form),
        TokenBody::Json => builder.json(
            &form
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect::<Map<String, Value>>(),
        ),
        TokenBody::Query => builder,
    };
    let response = builder.send().await.map_err(|e| {
        tracing::warn!(url = %endpoints.token_url, timeout = e.is_timeout(), "token request failed to complete");
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
    parse_token_response_with(status, &body, &endpoints.token_shape)
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
            authorization_params: vec![("prompt".into(), "consent".into())],
            ..OAuth2Endpoints::new(
                Url::parse("https://id.example.com/auth?audience=api").unwrap(),
                Url::parse("https://id.example.com/token").unwrap(),
            )
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
                user_scope: None,
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

#[cfg(test)]
mod quirk_tests;
