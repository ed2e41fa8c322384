//! Dynamic client registration (RFC 7591) at an MCP server's authorization server: Latchkey
//! registers itself as a public client (`token_endpoint_auth_method: none`, PKCE) that
//! redirects to the callback URL. `MCP_OAUTH2` does it once, when the operator creates the
//! integration (the catalog's `registration_url`); `MCP_OAUTH2_GENERIC` once per connection, at
//! the registration endpoint discovery found.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::domain::ClientSecret;
use crate::error::{Error, ErrorCode};
use crate::outbound::{Method, Outbound, Request, Target};

/// The longest client id and secret Latchkey keeps (an integration's own bounds).
pub const MAX_CLIENT_ID: usize = 1024;
pub const MAX_CLIENT_SECRET: usize = 4096;

/// What Latchkey asks to be registered as.
pub struct ClientMetadata<'a> {
    pub redirect_uri: &'a str,
    pub client_name: &'a str,
    /// The catalog's `registration_params.grant_types` / `response_types` (MCP_OAUTH2), or
    /// the code and refresh grants (GENERIC). Empty: the server's defaults.
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    /// Space-separated scopes to register (GENERIC: what discovery found).
    pub scope: Option<&'a str>,
}

impl ClientMetadata<'_> {
    pub fn body(&self) -> Value {
        let mut body = Map::new();
        body.insert("redirect_uris".into(), json!([self.redirect_uri]));
        body.insert("token_endpoint_auth_method".into(), json!("none"));
        body.insert("client_name".into(), json!(self.client_name));
        if !self.grant_types.is_empty() {
            body.insert("grant_types".into(), json!(self.grant_types));
        }
        if !self.response_types.is_empty() {
            body.insert("response_types".into(), json!(self.response_types));
        }
        if let Some(scope) = self.scope.filter(|s| !s.is_empty()) {
            body.insert("scope".into(), json!(scope));
        }
        Value::Object(body)
    }
}

/// The catalog's `registration_params`: only its `grant_types` and `response_types` are sent
/// (as Nango does), each a list of short names.
pub fn catalog_params(params: Option<&Value>) -> (Vec<String>, Vec<String>) {
    let list = |key: &str| -> Vec<String> {
        params
            .and_then(|p| p.get(key))
            .and_then(Value::as_array)
            .map(|items| items.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default()
    };
    (list("grant_types"), list("response_types"))
}

/// A registered client: its id, and a secret when the server issued one anyway. `Debug` hides
/// the secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisteredClient {
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<ClientSecret>,
}

fn refused(message: &str) -> Error {
    failed(false, message)
}

fn failed(transient: bool, message: &str) -> Error {
    Error::provider(
        transient,
        ErrorCode::ClientRegistrationFailed,
        format!("The MCP server did not register Latchkey's client: {message}"),
    )
}

/// Reads a registration answer (RFC 7591 section 3.2.1): a 2xx JSON object with a printable
/// `client_id` within `MAX_CLIENT_ID` and, when present, a `client_secret` within
/// `MAX_CLIENT_SECRET`. The body (already bounded by the guarded client) is never echoed; an
/// RFC 7591 `error` code is named, as an OAuth error is.
pub fn parse_answer(status: u16, body: &[u8]) -> Result<RegisteredClient, Error> {
    let fields = serde_json::from_slice::<Value>(body).ok();
    let field = |k: &str| fields.as_ref().and_then(|f| f.get(k)).and_then(Value::as_str);
    if !(200..300).contains(&status) {
        let code: Option<String> = field("error").map(|e| {
            e.chars()
                .filter(|c| c.is_ascii_graphic())
                .take(crate::domain::limits::FAILURE_CAUSE)
                .collect()
        });
        let transient = status >= 500;
        return Err(match code {
            Some(code) => failed(transient, &format!("it answered {code}.")).with_cause(code),
            None => failed(transient, "it answered with an error.").with_detail(format!("HTTP {status}")),
        });
    }
    let client_id = field("client_id")
        .filter(|id| !id.is_empty() && id.len() <= MAX_CLIENT_ID && id.chars().all(|c| !c.is_control()))
        .ok_or_else(|| refused("its answer has no usable client_id."))?;
    let client_secret = match fields.as_ref().and_then(|f| f.get("client_secret")) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) if s.len() <= MAX_CLIENT_SECRET => Some(ClientSecret::new(s.clone())),
        Some(_) => return Err(refused("its answer's client_secret is not usable.")),
    };
    Ok(RegisteredClient {
        client_id: client_id.to_owned(),
        client_secret,
    })
}

/// Registers `metadata` at `endpoint` through the guarded client.
pub async fn register(
    outbound: &Outbound,
    endpoint: Target,
    metadata: &ClientMetadata<'_>,
) -> Result<RegisteredClient, Error> {
    let request = Request::new(Method::POST, endpoint)
        .header("accept", "application/json")
        .json(&metadata.body());
    let reply = outbound
        .send(request)
        .await
        .map_err(|e| e.into_error(ErrorCode::ClientRegistrationFailed, "Client registration failed"))?;
    parse_answer(reply.status, &reply.body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_is_a_public_client_with_the_catalogs_grant_and_response_types() {
        let params =
            json!({"grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"], "scope": "x"});
        let (grant_types, response_types) = catalog_params(Some(&params));
        let body = ClientMetadata {
            redirect_uri: "https://latchkey.example/oauth/callback",
            client_name: "Latchkey",
            grant_types,
            response_types,
            scope: None,
        }
        .body();
        assert_eq!(
            body,
            json!({"redirect_uris": ["https://latchkey.example/oauth/callback"], "token_endpoint_auth_method": "none",
                   "client_name": "Latchkey", "grant_types": ["authorization_code", "refresh_token"],
                   "response_types": ["code"]}),
            "only grant_types and response_types come from the catalog"
        );
        let (g, r) = catalog_params(None);
        assert!(g.is_empty() && r.is_empty());
    }

    #[test]
    fn an_answer_is_read_within_its_bounds() {
        let ok = parse_answer(
            201,
            br#"{"client_id":"c1","client_secret":"s-SECRET","redirect_uris":[]}"#,
        )
        .unwrap();
        assert_eq!(ok.client_id, "c1");
        assert_eq!(ok.client_secret.as_ref().unwrap().expose(), "s-SECRET");
        assert!(!format!("{ok:?}").contains("SECRET"));
        let public = parse_answer(200, br#"{"client_id":"c2","client_secret":null}"#).unwrap();
        assert!(public.client_secret.is_none());

        let long_id = format!(r#"{{"client_id":"{}"}}"#, "a".repeat(MAX_CLIENT_ID + 1));
        let long_secret = format!(
            r#"{{"client_id":"c","client_secret":"{}"}}"#,
            "s".repeat(MAX_CLIENT_SECRET + 1)
        );
        for body in [
            "{}",
            "not json",
            r#"{"client_id":""}"#,
            r#"{"client_id":7}"#,
            r#"{"client_id":"a\nb"}"#,
            r#"{"client_id":"c","client_secret":5}"#,
            long_id.as_str(),
            long_secret.as_str(),
        ] {
            let e = parse_answer(201, body.as_bytes()).unwrap_err();
            assert_eq!(e.code, ErrorCode::ClientRegistrationFailed, "{body}");
            assert!(
                !e.message.contains("aaaa") && !e.message.contains("ssss"),
                "{}",
                e.message
            );
        }
    }

    #[test]
    fn a_refusal_names_the_servers_error_code_never_its_description() {
        let e = parse_answer(
            400,
            br#"{"error":"invalid_redirect_uri","error_description":"SECRET words"}"#,
        )
        .unwrap_err();
        assert!(e.message.contains("invalid_redirect_uri"), "{}", e.message);
        assert!(!format!("{e:?}").contains("SECRET"));
        assert!(!e.kind.is_transient());
        let e = parse_answer(503, b"<html>down</html>").unwrap_err();
        assert!(e.kind.is_transient(), "a server failing on its side may be asked again");
        assert!(!e.message.contains("down"));
    }
}
