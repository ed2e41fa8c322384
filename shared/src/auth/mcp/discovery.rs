//! Where an MCP server's OAuth lives, found from its URL alone (`MCP_OAUTH2_GENERIC`): the
//! protected-resource metadata (RFC 9728) names its authorization server and resource
//! identifier; the authorization server's metadata (RFC 8414, with the OpenID Connect discovery
//! document as the fallback) names its endpoints. The end user gives the server URL, so every
//! URL here — theirs and each one a document names — is held to the same rules: https, a domain
//! name (no address literal, no `localhost`), no user info or fragment (`check_url`), and sent
//! through the guarded client as a host the end user chose (`HostChoice::Relayed`: https and
//! public addresses only, checked on the address connected to).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use url::Url;

use crate::error::{Error, ErrorCode};
use crate::outbound::{HostChoice, Method, Outbound, Request, Target};

/// The connection-config field naming the MCP server.
pub const SERVER_URL_FIELD: &str = "mcp_server_url";

/// The longest URL Latchkey keeps from a document.
const MAX_URL: usize = 2048;
/// At most this many scopes are registered and asked for.
const MAX_SCOPES: usize = 50;

/// What discovery found, kept with the connection so refresh needs no rediscovery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct McpMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_endpoint: Option<String>,
    /// The scopes to ask for: the resource's `scopes_supported`, else the server's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// The resource indicator (RFC 8707) of the MCP server, when it published one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}

fn refused(message: impl Into<String>) -> Error {
    Error::invalid(ErrorCode::McpDiscoveryFailed, message)
}

/// The URL rule of every URL of an MCP server's OAuth: https, a domain name (not an address
/// literal, not `localhost`), no user info, no fragment, at most `MAX_URL` long. `what` names
/// the URL in the message; the URL itself is never repeated.
pub fn check_url(what: &str, value: &str) -> Result<Url, Error> {
    let bad = |why: &str| refused(format!("{what} {why}"));
    if value.len() > MAX_URL {
        return Err(bad("is too long."));
    }
    let url = Url::parse(value).map_err(|_| bad("is not an absolute URL."))?;
    if url.scheme() != "https" {
        return Err(bad("must be an https URL."));
    }
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        return Err(bad("may not carry user info or a fragment."));
    }
    match url.host() {
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if name == "localhost" || name.ends_with(".localhost") || !name.contains('.') {
                return Err(bad("must name a public host."));
            }
        }
        Some(_) => return Err(bad("must name a host, not an address.")),
        None => return Err(bad("has no host.")),
    }
    Ok(url)
}

/// A URL of the end user's MCP server (or one its documents name), as a request target: the
/// guarded client's rules for hosts an end user chose apply to it.
pub fn target(url: Url) -> Target {
    Target::new(
        url,
        HostChoice::Relayed {
            field: SERVER_URL_FIELD.into(),
        },
    )
}

/// `https://host/.well-known/<name>` with the URL's path after it (RFC 8414 section 3.1, RFC
/// 9728 section 3.1): no trailing slash, no query.
fn well_known(base: &Url, name: &str) -> Url {
    let mut url = base.clone();
    let path = base.path().trim_end_matches('/');
    url.set_path(&format!("/.well-known/{name}{path}"));
    url.set_query(None);
    url
}

/// Where the protected-resource metadata of `server` may be: under its path, then at the root
/// (the MCP spec's fallback).
pub fn protected_resource_urls(server: &Url) -> Vec<Url> {
    let mut urls = vec![well_known(server, "oauth-protected-resource")];
    let root = well_known(
        &server.join("/").expect("a root path joins"),
        "oauth-protected-resource",
    );
    if !urls.contains(&root) {
        urls.push(root);
    }
    urls
}

/// Where an authorization server's metadata may be: RFC 8414's path, then OpenID Connect's —
/// inserted after the host, then appended to the issuer's path (OpenID Connect Discovery 1.0).
pub fn authorization_server_urls(issuer: &Url) -> Vec<Url> {
    let mut urls = vec![
        well_known(issuer, "oauth-authorization-server"),
        well_known(issuer, "openid-configuration"),
    ];
    let mut appended = issuer.clone();
    appended.set_path(&format!(
        "{}/.well-known/openid-configuration",
        issuer.path().trim_end_matches('/')
    ));
    appended.set_query(None);
    if !urls.contains(&appended) {
        urls.push(appended);
    }
    urls
}

fn text<'a>(doc: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    doc.get(key).and_then(Value::as_str)
}

fn strings(doc: &Map<String, Value>, key: &str) -> Vec<String> {
    doc.get(key)
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default()
}

/// Two URLs name the same thing when they differ at most by a trailing slash.
fn same_url(a: &Url, b: &Url) -> bool {
    let strip = |u: &Url| u.as_str().trim_end_matches('/').to_owned();
    strip(a) == strip(b)
}

/// The protected-resource metadata read: the resource must be the server's (same origin, and
/// the server's URL under its path), and its first authorization server is the one used.
pub fn read_resource_metadata(
    server: &Url,
    doc: &Map<String, Value>,
) -> Result<(Option<Url>, Url, Vec<String>), Error> {
    let resource = match text(doc, "resource") {
        Some(r) => {
            let r = check_url("The MCP server's resource", r)?;
            let under = server.path().starts_with(r.path().trim_end_matches('/'));
            if r.origin() != server.origin() || !under {
                return Err(refused("The MCP server's metadata names another server's resource."));
            }
            Some(r)
        }
        None => None,
    };
    let issuer = match strings(doc, "authorization_servers").first() {
        Some(a) => check_url("The MCP server's authorization server", a)?,
        None => server.join("/").expect("a root path joins"),
    };
    Ok((resource, issuer, strings(doc, "scopes_supported")))
}

/// The authorization server's metadata read: its `issuer` must be the URL it was looked up
/// by (RFC 8414 section 3.3), each endpoint must pass `check_url`, and it must offer PKCE S256.
pub fn read_server_metadata(issuer: &Url, doc: &Map<String, Value>) -> Result<McpMetadata, Error> {
    let stated = text(doc, "issuer").ok_or_else(|| refused("The authorization server's metadata has no issuer."))?;
    let stated = check_url("The authorization server's issuer", stated)?;
    if !same_url(&stated, issuer) {
        return Err(refused(
            "The authorization server's metadata names another issuer than the one it was found by.",
        ));
    }
    let endpoint = |key: &str, what: &str| -> Result<String, Error> {
        let value =
            text(doc, key).ok_or_else(|| refused(format!("The authorization server's metadata has no {key}.")))?;
        Ok(check_url(what, value)?.to_string())
    };
    let methods = strings(doc, "code_challenge_methods_supported");
    if !methods.iter().any(|m| m == "S256") {
        return Err(refused("The authorization server does not offer PKCE with S256."));
    }
    Ok(McpMetadata {
        issuer: stated.to_string(),
        authorization_endpoint: endpoint("authorization_endpoint", "The authorization endpoint")?,
        token_endpoint: endpoint("token_endpoint", "The token endpoint")?,
        registration_endpoint: text(doc, "registration_endpoint")
            .map(|r| check_url("The registration endpoint", r).map(|u| u.to_string()))
            .transpose()?,
        scopes: strings(doc, "scopes_supported"),
        resource: None,
    })
}

/// The first of `urls` that answers with a JSON object; `None` when none does (each answered
/// with an error status). A refused host or an unreachable one ends the search.
async fn first_document(outbound: &Outbound, urls: Vec<Url>) -> Result<Option<Map<String, Value>>, Error> {
    for url in urls {
        let request = Request::new(Method::GET, target(url)).header("accept", "application/json");
        let reply = outbound
            .send(request)
            .await
            .map_err(|e| e.into_error(ErrorCode::McpDiscoveryFailed, "MCP discovery failed"))?;
        if !reply.is_success() {
            continue;
        }
        return match serde_json::from_slice::<Value>(&reply.body) {
            Ok(Value::Object(doc)) => Ok(Some(doc)),
            _ => Err(refused("An MCP metadata document is not a JSON object.")),
        };
    }
    Ok(None)
}

/// Discovery from the end user's server URL to the authorization server's endpoints.
pub async fn discover(outbound: &Outbound, server_url: &str) -> Result<McpMetadata, Error> {
    let server = check_url("mcp_server_url", server_url)
        .map_err(|e| Error::invalid(ErrorCode::InvalidConnectionConfig, e.message))?;
    // RFC 9728 is optional for a server: without it, its origin is its authorization server.
    let (resource, issuer, resource_scopes) = match first_document(outbound, protected_resource_urls(&server)).await? {
        Some(doc) => read_resource_metadata(&server, &doc)?,
        None => (None, server.join("/").expect("a root path joins"), Vec::new()),
    };
    let doc = first_document(outbound, authorization_server_urls(&issuer))
        .await?
        .ok_or_else(|| refused("The MCP server's authorization server publishes no metadata."))?;
    let mut metadata = read_server_metadata(&issuer, &doc)?;
    if !resource_scopes.is_empty() {
        metadata.scopes = resource_scopes;
    }
    metadata.scopes.truncate(MAX_SCOPES);
    metadata
        .scopes
        .retain(|s| !s.is_empty() && s.len() <= 200 && s.chars().all(|c| c.is_ascii_graphic()));
    metadata.resource = resource.map(|r| r.to_string());
    Ok(metadata)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn doc(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn well_known_urls_put_the_path_after_the_well_known_segment() {
        let strs = |urls: Vec<Url>| urls.into_iter().map(String::from).collect::<Vec<_>>();
        assert_eq!(
            strs(protected_resource_urls(&url("https://mcp.example.com/v1/mcp?x=1"))),
            [
                "https://mcp.example.com/.well-known/oauth-protected-resource/v1/mcp",
                "https://mcp.example.com/.well-known/oauth-protected-resource"
            ]
        );
        assert_eq!(
            strs(protected_resource_urls(&url("https://mcp.example.com/"))),
            ["https://mcp.example.com/.well-known/oauth-protected-resource"]
        );
        assert_eq!(
            strs(authorization_server_urls(&url("https://auth.example.com/tenant1"))),
            [
                "https://auth.example.com/.well-known/oauth-authorization-server/tenant1",
                "https://auth.example.com/.well-known/openid-configuration/tenant1",
                "https://auth.example.com/tenant1/.well-known/openid-configuration"
            ]
        );
        assert_eq!(
            strs(authorization_server_urls(&url("https://auth.example.com"))),
            [
                "https://auth.example.com/.well-known/oauth-authorization-server",
                "https://auth.example.com/.well-known/openid-configuration"
            ]
        );
    }

    #[test]
    fn urls_must_be_https_domain_names_without_user_info() {
        assert!(check_url("u", "https://mcp.example.com/mcp").is_ok());
        for bad in [
            "http://mcp.example.com/mcp",
            "https://127.0.0.1/mcp",
            "https://10.0.0.8/token",
            "https://[::1]/mcp",
            "https://localhost/mcp",
            "https://api.localhost/mcp",
            "https://intranet/mcp",
            "https://user:pw@mcp.example.com/",
            "https://mcp.example.com/#frag",
            "mcp.example.com",
        ] {
            let e = check_url("The token endpoint", bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::McpDiscoveryFailed, "{bad}");
            assert!(e.message.starts_with("The token endpoint"), "{}", e.message);
            assert!(!e.message.contains(bad), "the URL is not repeated: {}", e.message);
        }
        assert!(check_url("u", &format!("https://a.example.com/{}", "p".repeat(MAX_URL))).is_err());
    }

    fn server_doc() -> Value {
        json!({
            "issuer": "https://auth.example.com",
            "authorization_endpoint": "https://auth.example.com/auth",
            "token_endpoint": "https://auth.example.com/token",
            "registration_endpoint": "https://auth.example.com/reg",
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["openid", "mcp"],
        })
    }

    #[test]
    fn server_metadata_is_read_and_its_issuer_checked() {
        let issuer = url("https://auth.example.com/");
        let m = read_server_metadata(&issuer, &doc(server_doc())).unwrap();
        assert_eq!(m.token_endpoint, "https://auth.example.com/token");
        assert_eq!(m.registration_endpoint.as_deref(), Some("https://auth.example.com/reg"));
        assert_eq!(m.scopes, ["openid", "mcp"]);

        let mut other = server_doc();
        other["issuer"] = json!("https://evil.example.net");
        let e = read_server_metadata(&issuer, &doc(other)).unwrap_err();
        assert_eq!(e.code, ErrorCode::McpDiscoveryFailed);
        assert!(e.message.contains("another issuer"), "{}", e.message);

        let mut private = server_doc();
        private["token_endpoint"] = json!("https://10.0.0.8/token");
        let e = read_server_metadata(&issuer, &doc(private)).unwrap_err();
        assert!(e.message.starts_with("The token endpoint"), "{}", e.message);

        let mut no_pkce = server_doc();
        no_pkce
            .as_object_mut()
            .unwrap()
            .remove("code_challenge_methods_supported");
        assert!(
            read_server_metadata(&issuer, &doc(no_pkce)).is_err(),
            "PKCE S256 is required"
        );
        let mut http = server_doc();
        http["authorization_endpoint"] = json!("http://auth.example.com/auth");
        assert!(read_server_metadata(&issuer, &doc(http)).is_err());
    }

    #[test]
    fn resource_metadata_must_name_the_servers_own_resource() {
        let server = url("https://mcp.example.com/v1/mcp");
        let (resource, issuer, scopes) = read_resource_metadata(
            &server,
            &doc(
                json!({"resource": "https://mcp.example.com/v1", "authorization_servers": ["https://auth.example.com"],
                        "scopes_supported": ["mcp:tools"]}),
            ),
        )
        .unwrap();
        assert_eq!(resource.unwrap().as_str(), "https://mcp.example.com/v1");
        assert_eq!(issuer.as_str(), "https://auth.example.com/");
        assert_eq!(scopes, ["mcp:tools"]);
        for bad in [
            json!({"resource": "https://other.example.com/v1/mcp"}),
            json!({"resource": "https://mcp.example.com/v2"}),
            json!({"resource": "https://mcp.example.com/v1", "authorization_servers": ["https://127.0.0.1"]}),
        ] {
            assert!(read_resource_metadata(&server, &doc(bad.clone())).is_err(), "{bad}");
        }
        let (resource, issuer, _) = read_resource_metadata(&server, &doc(json!({}))).unwrap();
        assert!(resource.is_none());
        assert_eq!(issuer.as_str(), "https://mcp.example.com/");
    }
}
