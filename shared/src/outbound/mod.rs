//! Every request Latchkey sends — token, refresh and verification requests, webhooks; the proxy
//! and MCP discovery later — goes through `Outbound::send`, the crate's only HTTP client
//! (`architecture.rs` fails when another module names `reqwest`). Each request says who chose
//! its host (`HostChoice`), and that decides what it may reach:
//!
//! - the catalog (a template with a fixed host), the operator (an integration's custom URLs, the
//!   environment's webhook URL) or the team's backend (connect-session defaults, imports): sent
//!   as is, private networks included — these parties are trusted with configuration;
//! - an end user (a `params[...]` value that fills a URL's host): only when the integration's
//!   allowed hosts admit it (`hosts`), over https, and only to public addresses, checked on the
//!   resolved address the connection is made to (`resolve`, `address`). `allow_private` (the
//!   `--allow-private-addresses` switch, for local development) lifts the last two;
//! - a URL the team's backend relays for one connection (`webhook_url_override`, often an
//!   endpoint of its own customer's): any host, but like an end user's over https and only to
//!   public addresses (`Target::preflight` checks what can be checked before a lookup).
//!
//! No redirect is followed (a token endpoint that redirects is misconfigured, and following it
//! could carry the client secret elsewhere), no proxy from the environment is used (it would
//! resolve the host instead of us), every header value is marked sensitive, and every answer is
//! read as a stream up to `response_limit` bytes: a longer one is dropped with `TooLarge`
//! before more of it is read. Errors name the failure, never the answer's body.

pub mod address;
pub mod identity;
pub mod resolve;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::config::Config;
pub use crate::domain::{AllowedHosts, HostPattern};
use crate::error::{Error, ErrorCode};
pub use identity::{ClientIdentity, IdentityError};
pub use resolve::{Lookup, NameTable, SystemLookup};

/// The method of an outgoing request.
pub use reqwest::Method;

/// Who chose the host a request goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostChoice {
    /// The catalog's template fixes the host.
    Catalog,
    /// The operator set it: an integration's custom URLs, the environment's webhook URL.
    Operator,
    /// The team's backend vouched for it: connect-session config defaults, an import.
    Backend,
    /// A value from an end user (`params[<field>]`, or a value a provider sent back about the end
    /// user's account) filled the host: used only where `allowed` admits it.
    EndUser { field: String, allowed: AllowedHosts },
    /// The team's backend relayed it for one connection (a `webhook_url_override`), often an
    /// endpoint its own customer named: any host, but over https and to public addresses only,
    /// like an end user's.
    Relayed { field: String },
}

/// Where a request goes, and who chose its host. `Debug` shows the host and path only: query
/// strings may carry credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Target {
    url: Url,
    chosen_by: HostChoice,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("host", &self.url.host_str())
            .field("path", &self.url.path())
            .field("chosen_by", &self.chosen_by)
            .finish()
    }
}

impl Target {
    pub fn new(url: Url, chosen_by: HostChoice) -> Self {
        Self { url, chosen_by }
    }
    pub fn catalog(url: Url) -> Self {
        Self::new(url, HostChoice::Catalog)
    }
    pub fn operator(url: Url) -> Self {
        Self::new(url, HostChoice::Operator)
    }
    pub fn url(&self) -> &Url {
        &self.url
    }
    pub fn chosen_by(&self) -> &HostChoice {
        &self.chosen_by
    }
    /// Another URL on the same host, chosen by the same party (a path under a base URL).
    pub fn with_url(&self, url: Url) -> Self {
        Self::new(url, self.chosen_by.clone())
    }

    /// The allowed-host rule, decided before anything is sent (and before a browser is sent
    /// anywhere): a host an end user chose must be admitted by the integration's allowed hosts.
    pub fn check(&self) -> Result<(), OutboundError> {
        match &self.chosen_by {
            HostChoice::EndUser { field, allowed } => {
                let host = self.url.host_str().unwrap_or_default();
                if allowed.admits(host) {
                    Ok(())
                } else {
                    Err(OutboundError::HostNotAllowed {
                        field: field.clone(),
                        host: host.to_owned(),
                        operator_set: allowed.set_by_operator,
                    })
                }
            }
            _ => Ok(()),
        }
    }

    /// The field that named a host Latchkey reaches over https and at public addresses only
    /// (an end user's, or one the backend relayed); `None` for the trusted parties' hosts.
    fn public_only_field(&self) -> Option<&str> {
        match &self.chosen_by {
            HostChoice::EndUser { field, .. } | HostChoice::Relayed { field } => Some(field),
            _ => None,
        }
    }

    /// What can be decided before a lookup: the allowed-host rule, then, for a host that must
    /// be public (unless `allow_private`), https and an address written in the URL. `send`
    /// decides by it; a setting that stores such a URL checks it up front the same way.
    pub fn preflight(&self, allow_private: bool) -> Result<(), OutboundError> {
        self.check()?;
        let Some(field) = self.public_only_field().filter(|_| !allow_private) else {
            return Ok(());
        };
        if self.url.scheme() != "https" {
            return Err(OutboundError::NotHttps {
                field: field.to_owned(),
            });
        }
        let literal = match self.url.host() {
            Some(url::Host::Ipv4(ip)) => Some(std::net::IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(std::net::IpAddr::V6(ip)),
            _ => None,
        };
        // An address in the URL is connected to without a lookup: judged here.
        match literal.and_then(address::non_public) {
            Some(why) => Err(OutboundError::AddressNotAllowed {
                field: field.to_owned(),
                host: self.url.host_str().unwrap_or_default().to_owned(),
                why,
            }),
            None => Ok(()),
        }
    }
}

/// An outgoing request. Header names are lowercase; `Debug` shows no header value and no body.
pub struct Request {
    pub method: Method,
    pub target: Target,
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
    /// A bound of its own for this request, below the client's (`Config::provider_timeout`).
    pub timeout: Option<Duration>,
    /// Only the status and headers matter (a webhook receiver's answer): the body is never read.
    pub discard_body: bool,
    /// The TLS client certificate to present (mutual TLS), if the provider asks for one.
    pub client_identity: Option<ClientIdentity>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("target", &self.target)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("body_bytes", &self.body.len())
            .field("client_identity", &self.client_identity.is_some())
            .finish()
    }
}

impl Request {
    pub fn new(method: Method, target: Target) -> Self {
        Self {
            method,
            target,
            headers: BTreeMap::new(),
            body: Vec::new(),
            timeout: None,
            discard_body: false,
            client_identity: None,
        }
    }
    /// Bounds this request by `timeout` (never beyond the client's own bound).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
    /// Reads only the status and headers of the answer; its body is dropped unread, however
    /// long it is or however slowly it comes.
    pub fn discard_body(mut self) -> Self {
        self.discard_body = true;
        self
    }
    /// Raw bytes as the body, sent exactly as given (a signed webhook body).
    pub fn bytes(mut self, content_type: &str, body: Vec<u8>) -> Self {
        self.body = body;
        self.header("content-type", content_type)
    }
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.insert(name.to_ascii_lowercase(), value.into());
        self
    }
    /// A form-encoded body (`application/x-www-form-urlencoded`).
    pub fn form(mut self, pairs: &[(String, String)]) -> Self {
        self.body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
            .into_bytes();
        self.header("content-type", "application/x-www-form-urlencoded")
    }
    /// A JSON body.
    pub fn json(mut self, value: &serde_json::Value) -> Self {
        self.body = serde_json::to_vec(value).expect("JSON values serialize");
        self.header("content-type", "application/json")
    }
}

/// An answer, read whole within the response limit. `Debug` shows no body.
pub struct Reply {
    pub status: u16,
    /// By lowercase name; a repeated header's values joined by `, ` (as HTTP lists them), where
    /// they are text.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

impl Reply {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Why a request failed. `HostNotAllowed`, `AddressNotAllowed`, `NotHttps` and `InvalidRequest`
/// mean nothing was sent. `Display` is for the operator (it may name the host), never for the
/// end user: `into_error` gives the caller's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    #[error("the host '{host}' of '{field}' is not admitted by the integration's {}", if *.operator_set { "allowed_hosts" } else { "default allowed hosts" })]
    HostNotAllowed {
        field: String,
        host: String,
        operator_set: bool,
    },
    #[error("the host '{host}' of '{field}' leads to {why}")]
    AddressNotAllowed {
        field: String,
        host: String,
        why: &'static str,
    },
    #[error("the URL of '{field}' is not https")]
    NotHttps { field: String },
    #[error("the request could not be built: {0}")]
    InvalidRequest(&'static str),
    #[error("no answer in time")]
    Timeout,
    #[error("the host could not be reached")]
    Unreachable,
    #[error("the answer is larger than {limit} bytes")]
    TooLarge { limit: usize },
}

impl OutboundError {
    /// Worth retrying: the host did not answer (in time).
    pub fn is_transient(&self) -> bool {
        matches!(self, OutboundError::Timeout | OutboundError::Unreachable)
    }

    /// The host was refused (not allowed, not public, not https): the caller's to fix.
    pub fn is_refused_host(&self) -> bool {
        matches!(
            self,
            OutboundError::HostNotAllowed { .. }
                | OutboundError::AddressNotAllowed { .. }
                | OutboundError::NotHttps { .. }
        )
    }

    /// The domain error. A refused host is the caller's input (`host_not_allowed`, naming the
    /// field, never the host); any other failure is the provider's, under `code`, as `what`
    /// ("Token exchange failed") plus the kind of failure. The operator's detail (the host, the
    /// kind of address) goes to the activity log only.
    pub fn into_error(self, code: ErrorCode, what: &str) -> Error {
        let detail = self.to_string();
        let error = match &self {
            OutboundError::HostNotAllowed { field, .. } => Error::invalid(
                ErrorCode::HostNotAllowed,
                format!(
                    "The host given in '{field}' is not allowed for this integration. The operator can allow it (allowed_hosts), or the team's backend can set it (connect session)."
                ),
            ),
            OutboundError::AddressNotAllowed { field, .. } | OutboundError::NotHttps { field } => Error::invalid(
                ErrorCode::HostNotAllowed,
                format!("The host given in '{field}' is not one Latchkey sends requests to."),
            ),
            OutboundError::InvalidRequest(_) => Error::provider(false, code, format!("{what}: the request could not be built.")),
            OutboundError::Timeout => Error::provider(true, code, format!("{what}: the provider did not answer in time.")),
            OutboundError::Unreachable => Error::provider(true, code, format!("{what}: the provider could not be reached.")),
            OutboundError::TooLarge { .. } => Error::provider(false, code, format!("{what}: the provider's answer is too large.")),
        };
        error.with_detail(detail)
    }
}

/// The one HTTP client. Cheap to clone.
#[derive(Clone)]
pub struct Outbound {
    /// For hosts the catalog, the operator or the backend chose.
    trusted: reqwest::Client,
    /// For hosts an end user chose: its resolver keeps public addresses only.
    guarded: reqwest::Client,
    allow_private: bool,
    response_limit: usize,
    timeout: Duration,
    /// What every client is built from, for the clients of client identities.
    lookup: Arc<dyn Lookup>,
    extra_roots: Arc<Vec<reqwest::Certificate>>,
    identity_clients: Arc<identity::IdentityClients>,
}

impl Outbound {
    pub fn new(config: &Config) -> Self {
        Self::with_lookup(config, Arc::new(SystemLookup))
    }

    /// A client whose names are looked up by `lookup` (a test's `NameTable`).
    pub fn with_lookup(config: &Config, lookup: Arc<dyn Lookup>) -> Self {
        let extra_roots = match &config.extra_root_certificates {
            Some(pem) => parse_roots(pem).expect("the extra root certificates were checked when read"),
            None => Vec::new(),
        };
        let mut outbound = Self {
            trusted: reqwest::Client::new(),
            guarded: reqwest::Client::new(),
            allow_private: config.allow_private_addresses,
            response_limit: config.provider_response_limit,
            timeout: config.provider_timeout,
            lookup,
            extra_roots: Arc::new(extra_roots),
            identity_clients: Arc::default(),
        };
        outbound.trusted = outbound.client(false, None);
        outbound.guarded = outbound.client(!config.allow_private_addresses, None);
        outbound
    }

    /// A client with this one's rules: no redirects, no proxy, the resolver (public addresses
    /// only, or not), the extra roots, and a client certificate when given.
    fn client(&self, public_only: bool, identity: Option<&ClientIdentity>) -> reqwest::Client {
        let mut builder = reqwest::Client::builder();
        for root in self.extra_roots.iter() {
            builder = builder.add_root_certificate(root.clone());
        }
        if let Some(identity) = identity {
            builder = builder.identity(identity.identity());
        }
        builder
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(self.timeout)
            .user_agent(concat!("latchkey/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(resolve::Resolver {
                lookup: self.lookup.clone(),
                public_only,
            }))
            .build()
            .expect("the HTTP client builds")
    }

    pub fn response_limit(&self) -> usize {
        self.response_limit
    }

    /// Sends `request` after the allowed-host rule, and reads the answer within the limit.
    pub async fn send(&self, request: Request) -> Result<Reply, OutboundError> {
        let Request {
            method,
            target,
            headers,
            body,
            timeout,
            discard_body,
            client_identity,
        } = request;
        target.preflight(self.allow_private)?;
        let public_only_field = target.public_only_field().map(str::to_owned);
        let url = target.url;
        let host = url.host_str().unwrap_or_default().to_owned();
        let public_only = public_only_field.is_some() && !self.allow_private;
        let with_identity;
        let client = match &client_identity {
            Some(identity) => {
                with_identity = self
                    .identity_clients
                    .get(identity, public_only, |i| self.client(public_only, Some(i)));
                &with_identity
            }
            None if public_only => &self.guarded,
            None => &self.trusted,
        };
        let timeout = timeout.map_or(self.timeout, |t| t.min(self.timeout));
        let mut builder = client.request(method, url).timeout(timeout);
        for (name, value) in &headers {
            let (Ok(name), Ok(mut value)) = (
                reqwest::header::HeaderName::from_bytes(name.as_bytes()),
                reqwest::header::HeaderValue::from_str(value),
            ) else {
                return Err(OutboundError::InvalidRequest("a header is not valid"));
            };
            value.set_sensitive(true);
            builder = builder.header(name, value);
        }
        if !body.is_empty() {
            builder = builder.body(body);
        }
        let failed = |e: reqwest::Error| -> OutboundError {
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
            while let Some(s) = source {
                if let Some(refused) = s.downcast_ref::<resolve::AddressRefused>() {
                    return OutboundError::AddressNotAllowed {
                        field: public_only_field.clone().unwrap_or_default(),
                        host: host.clone(),
                        why: refused.0,
                    };
                }
                source = s.source();
            }
            if e.is_timeout() {
                OutboundError::Timeout
            } else {
                OutboundError::Unreachable
            }
        };
        let mut answer = builder.send().await.map_err(&failed)?;
        let limit = self.response_limit;
        if !discard_body && answer.content_length().is_some_and(|n| n > limit as u64) {
            return Err(OutboundError::TooLarge { limit });
        }
        let status = answer.status().as_u16();
        let mut reply_headers = BTreeMap::new();
        for (name, value) in answer.headers() {
            if let Ok(text) = value.to_str() {
                reply_headers
                    .entry(name.as_str().to_owned())
                    .and_modify(|v: &mut String| {
                        v.push_str(", ");
                        v.push_str(text);
                    })
                    .or_insert_with(|| text.to_owned());
            }
        }
        let mut body = Vec::new();
        if discard_body {
            // Dropping the answer closes the connection: none of the body is read.
            return Ok(Reply {
                status,
                headers: reply_headers,
                body,
            });
        }
        while let Some(chunk) = answer.chunk().await.map_err(&failed)? {
            if body.len() + chunk.len() > limit {
                // Dropping the answer closes the connection: the rest is never read.
                return Err(OutboundError::TooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Reply {
            status,
            headers: reply_headers,
            body,
        })
    }
}

fn parse_roots(pem: &str) -> Result<Vec<reqwest::Certificate>, String> {
    let roots = reqwest::Certificate::from_pem_bundle(pem.as_bytes()).map_err(|_| "not PEM certificates".to_owned())?;
    if roots.is_empty() {
        return Err("no certificate in it".into());
    }
    // The certificates themselves are parsed when a client takes them.
    let mut builder = reqwest::Client::builder();
    for root in &roots {
        builder = builder.add_root_certificate(root.clone());
    }
    builder.build().map_err(|_| "not valid certificates".to_owned())?;
    Ok(roots)
}

/// Reads `LATCHKEY_EXTRA_CA_FILE` (`Config::extra_root_certificates`): PEM certificates of a
/// certificate authority the operator runs, trusted besides the public roots for every request.
pub fn read_extra_roots(path: &std::path::Path) -> Result<String, String> {
    let pem = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_roots(&pem).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(pem)
}

#[cfg(test)]
mod tests;
