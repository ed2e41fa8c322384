//! The token request of every grant (authorization code, refresh token, client credentials),
//! and a lenient reading of token responses as real providers send them. Provider quirks
//! (JSON bodies, Basic client auth, nested tokens, odd expiry units) are data in
//! `OAuth2Endpoints`.

use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::endpoints::{ClientAuth, OAuth2Endpoints, TokenBody, TokenShape};
use crate::credentials::{Credentials, RawResponse};
use crate::domain::{AccessToken, ClientSecret, PkceVerifier, RefreshToken};
use crate::outbound::{Method, Outbound, OutboundError, Request};

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
    /// A failure status without an OAuth error. The status is for the operator (`detail`).
    #[error("the token endpoint answered with an error")]
    Status(u16),
    #[error("the token response could not be read: {0}")]
    Malformed(&'static str),
    /// Not sent (a host the integration does not allow), not answered, or answered too long.
    #[error("{0}")]
    Outbound(OutboundError),
}

impl TokenError {
    /// Worth retrying: the endpoint did not answer, or failed on its side — an answer that is
    /// no token response at all (an error page under 200) counts as its failure too: it refused
    /// nothing.
    pub fn is_transient(&self) -> bool {
        match self {
            TokenError::Outbound(e) => e.is_transient(),
            TokenError::Status(status) => *status >= 500,
            TokenError::Malformed(_) => true,
            TokenError::Provider { .. } => false,
        }
    }

    /// What the provider said, as a machine code for activity entries: its OAuth `error`
    /// (`invalid_grant`; printable, at most `limits::FAILURE_CAUSE` characters), else `code`.
    pub fn cause(&self) -> String {
        match self {
            TokenError::Provider { error, .. } => error
                .chars()
                .map(|c| if c.is_ascii_graphic() { c } else { '_' })
                .take(crate::domain::limits::FAILURE_CAUSE)
                .collect(),
            other => other.code().to_owned(),
        }
    }

    /// A short machine code for activity entries.
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::Provider { .. } => "token_error_response",
            TokenError::Status(_) => "token_http_error",
            TokenError::Malformed(_) => "token_malformed",
            TokenError::Outbound(OutboundError::Timeout) => "token_timeout",
            TokenError::Outbound(OutboundError::TooLarge { .. }) => "token_too_large",
            TokenError::Outbound(OutboundError::Unreachable) => "token_unreachable",
            TokenError::Outbound(_) => "token_host_refused",
        }
    }
}

/// A successful token response, read leniently. `Debug` shows no token.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenResponse {
    pub access_token: AccessToken,
    pub refresh_token: Option<RefreshToken>,
    /// Seconds, after unit conversion: the provider's own lifetime (how long before it a token
    /// is renewed is the refresh policy's read margin, which a catalog entry's
    /// `token_expiration_buffer` sets).
    pub expires_in: Option<i64>,
    pub raw: RawResponse,
    /// The fields named by `TokenShape::metadata`, keyed by their path.
    pub metadata: Map<String, Value>,
}

impl TokenResponse {
    /// When the token expires, in whole seconds (what providers count in, and what the wire shows).
    pub fn expires_at(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        let now = now.replace_nanosecond(0).unwrap_or(now);
        // Checked: a provider may state any lifetime; one past the calendar means "none known".
        self.expires_in
            .and_then(|s| now.checked_add(time::Duration::seconds(s)))
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
        code_verifier: Option<&'a PkceVerifier>,
    },
    RefreshToken {
        refresh_token: &'a RefreshToken,
    },
    ClientCredentials {
        scopes: &'a [String],
    },
}

pub struct TokenRequest<'a> {
    pub endpoints: &'a OAuth2Endpoints,
    pub client_id: &'a str,
    /// `None`: a public client, identified by its id in the body whatever `client_auth` says.
    pub client_secret: Option<&'a ClientSecret>,
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
    fn nonempty(v: Option<&Value>) -> Option<&str> {
        v.and_then(Value::as_str).filter(|t| !t.is_empty())
    }
    // The top level, or the alternate object when the top level carries no token.
    let (scope, token) = match nonempty(at_path(&raw, token_path)).map(AccessToken::new) {
        Some(t) => (None, t),
        None => {
            let alt = shape
                .alternate_path
                .as_deref()
                .and_then(|p| at_path(&raw, p))
                .and_then(Value::as_object);
            match alt.and_then(|a| nonempty(a.get("access_token")).map(|t| (a, AccessToken::new(t)))) {
                Some((a, t)) => (Some(a), t),
                None => return Err(TokenError::Malformed("no access_token")),
            }
        }
    };
    let within = scope.unwrap_or(&raw);
    let refresh_path = shape.refresh_token_path.as_deref().unwrap_or("refresh_token");
    let refresh_token = nonempty(at_path(within, refresh_path)).map(RefreshToken::new);
    let expires_path = shape.expires_in_path.as_deref().unwrap_or("expires_in");
    let expires_in = read_expires_in(at_path(within, expires_path))?
        .map(|n| if shape.expires_in_ms { n / 1000.0 } else { n } as i64)
        .filter(|s| *s > 0)
        .or(shape.default_expires_in);
    let metadata = shape
        .metadata
        .iter()
        .filter_map(|p| {
            at_path(&raw, p)
                .filter(|v| !v.is_null())
                .map(|v| (p.clone(), v.clone()))
        })
        .collect();
    // What is kept of the answer must fit the stored connection, whatever the read limit.
    if crate::domain::limits::stored_size(&raw) > crate::domain::limits::RAW {
        return Err(TokenError::Outbound(OutboundError::TooLarge {
            limit: crate::domain::limits::RAW,
        }));
    }
    Ok(TokenResponse {
        access_token: token,
        refresh_token,
        expires_in,
        raw: raw.into(),
        metadata,
    })
}

fn form_encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Sends the token request of `req.grant` through the guarded client and reads the answer.
pub async fn request_token(outbound: &Outbound, req: &TokenRequest<'_>) -> Result<TokenResponse, TokenError> {
    let endpoints = req.endpoints;
    let mut form: Vec<(String, String)> = Vec::new();
    let mut target = &endpoints.token_url;
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
                target = u;
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
    let secret = req.client_secret.map(ClientSecret::expose);
    match (endpoints.client_auth, secret) {
        (ClientAuth::Body, Some(secret)) => {
            form.push(("client_id".into(), req.client_id.into()));
            form.push(("client_secret".into(), secret.into()));
        }
        (_, None) => form.push(("client_id".into(), req.client_id.into())),
        (ClientAuth::Basic, Some(_)) => {}
    }
    let mut url = target.url().clone();
    if endpoints.token_body == TokenBody::Query {
        url.query_pairs_mut().extend_pairs(&form);
    }
    let mut request = Request::new(Method::POST, target.with_url(url)).header("accept", "application/json");
    request.client_identity = endpoints.client_identity.clone();
    for (k, v) in &endpoints.token_headers {
        request = request.header(k, v.as_str());
    }
    if let (ClientAuth::Basic, Some(secret)) = (endpoints.client_auth, secret) {
        use base64::Engine;
        let pair = format!("{}:{}", form_encode(req.client_id), form_encode(secret));
        request = request.header(
            "authorization",
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair)),
        );
    }
    request = match endpoints.token_body {
        TokenBody::Form => request.form(&form),
        TokenBody::Json => request.json(&Value::Object(
            form.into_iter().map(|(k, v)| (k, Value::String(v))).collect(),
        )),
        TokenBody::Query => request,
    };
    let reply = outbound.send(request).await.map_err(|e| {
        tracing::warn!(host = ?endpoints.token_url.url().host_str(), error = %e, "token request failed to complete");
        TokenError::Outbound(e)
    })?;
    parse_token_response_with(reply.status, &reply.body, &endpoints.token_shape)
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
        assert_eq!(t.raw.0["team"], json!({"id": "T1"}));
    }

    #[test]
    fn a_token_response_never_prints_its_tokens() {
        let t = parse(
            200,
            r#"{"access_token":"at-SECRET","refresh_token":"rt-SECRET","id_token":"id-SECRET","expires_in":60}"#,
        )
        .unwrap();
        let debug = format!("{t:?}");
        assert!(!debug.contains("SECRET"), "{debug}");
        assert!(debug.contains("id_token"), "the raw response names its fields: {debug}");
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
    fn a_response_larger_than_a_stored_raw_is_refused() {
        let limit = crate::domain::limits::RAW;
        let body = json!({"access_token": "at", "padding": "p".repeat(limit)}).to_string();
        assert_eq!(
            parse(200, &body),
            Err(TokenError::Outbound(OutboundError::TooLarge { limit }))
        );
        let fits = json!({"access_token": "at", "padding": "p".repeat(limit - 100)}).to_string();
        assert!(parse(200, &fits).is_ok());
    }

    #[test]
    fn form_encoded_bodies_are_read_too() {
        let t = parse(200, "access_token=gho_x&scope=repo&token_type=bearer").unwrap();
        assert_eq!(t.access_token.expose(), "gho_x");
        assert_eq!(t.raw.0["scope"], "repo");
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
}
