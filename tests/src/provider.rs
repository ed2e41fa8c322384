//! Local stand-ins for a catalog provider's own endpoints, where the certified OAuth server
//! has nothing to offer: an API that verifies API keys and Basic logins the way the catalog's
//! verification calls reach it, a client-credentials token endpoint that counts what it
//! issues, and a token endpoint shaped like Salesforce's. Each checks what the real provider
//! checks (the credentials, the grant, the code) and nothing more.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;

use crate::local_peer::LocalPeer;

fn authorization(headers: &HeaderMap) -> &str {
    headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// A provider API that accepts exactly one API key, `good-key` (as a Bearer token), and one
/// Basic login, `ann@example.com` / `pw`, at OpenAI's (`/v1/models`) and Jira's
/// (`/rest/api/3/myself`) verification endpoints — until `revoke` (the customer revoked them
/// at the provider). Counts the verification calls. Point an integration's
/// `custom.proxy_base_url` at `url`.
pub struct ProviderApi {
    pub url: String,
    revoked: Arc<AtomicBool>,
    calls: Arc<AtomicUsize>,
    _server: LocalPeer,
}

impl ProviderApi {
    pub async fn start() -> ProviderApi {
        let revoked = Arc::new(AtomicBool::new(false));
        let calls = Arc::new(AtomicUsize::new(0));
        let (is_revoked, counter) = (revoked.clone(), calls.clone());
        let check = move |headers: HeaderMap| {
            let (revoked, calls) = (is_revoked.clone(), counter.clone());
            async move {
                calls.fetch_add(1, Ordering::SeqCst);
                // "Basic YW5u…" is ann@example.com:pw.
                match authorization(&headers) {
                    "Bearer good-key" | "Basic YW5uQGV4YW1wbGUuY29tOnB3" if !revoked.load(Ordering::SeqCst) => {
                        (StatusCode::OK, "{}")
                    }
                    _ => (StatusCode::UNAUTHORIZED, "{\"error\":\"nope\"}"),
                }
            }
        };
        let app = Router::new()
            .route("/v1/models", get(check.clone()))
            .route("/rest/api/3/myself", get(check));
        let server = LocalPeer::start(app).await;
        ProviderApi {
            url: server.url.clone(),
            revoked,
            calls,
            _server: server,
        }
    }

    /// From now on the key and the login are refused.
    pub fn revoke(&self) {
        self.revoked.store(true, Ordering::SeqCst);
    }

    /// Verification calls received.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

/// A client-credentials token endpoint (`token_url`) for client `cc-id` / `cc-secret` (HTTP
/// Basic client authentication): tokens `cc-1`, `cc-2`… valid for 120 s (`expires_in` as a
/// string, as some providers send it).
pub struct ClientCredentialsPeer {
    pub token_url: String,
    issued: Arc<AtomicUsize>,
    _server: LocalPeer,
}

impl ClientCredentialsPeer {
    pub async fn start() -> ClientCredentialsPeer {
        let issued = Arc::new(AtomicUsize::new(0));
        let counter = issued.clone();
        let token = move |headers: HeaderMap, body: String| {
            let counter = counter.clone();
            async move {
                // "Basic Y2Mt…" is cc-id:cc-secret.
                if authorization(&headers) != "Basic Y2MtaWQ6Y2Mtc2VjcmV0"
                    || !body.contains("grant_type=client_credentials")
                {
                    return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "invalid_client"})));
                }
                let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                (
                    StatusCode::OK,
                    axum::Json(json!({"access_token": format!("cc-{n}"), "expires_in": "120"})),
                )
            }
        };
        let server = LocalPeer::start(Router::new().route("/token", post(token))).await;
        ClientCredentialsPeer {
            token_url: format!("{}/token", server.url),
            issued,
            _server: server,
        }
    }

    /// How many tokens it issued.
    pub fn issued(&self) -> usize {
        self.issued.load(Ordering::SeqCst)
    }
}

/// A token endpoint shaped like Salesforce's: `instance_url` beside the token, `expires_in` as
/// a string, and it insists on the code it was given, `the-code`.
pub struct SalesforceLikeTokenPeer {
    pub token_url: String,
    _server: LocalPeer,
}

impl SalesforceLikeTokenPeer {
    pub async fn start() -> SalesforceLikeTokenPeer {
        let token = |body: String| async move {
            let pairs: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
            if pairs.get("code").map(String::as_str) != Some("the-code") {
                return (StatusCode::BAD_REQUEST, axum::Json(json!({"error": "invalid_grant"})));
            }
            (
                StatusCode::OK,
                axum::Json(json!({"access_token": "at-1", "expires_in": "7200",
                    "instance_url": "https://acme.my.salesforce.com", "id": "https://login/id/1"})),
            )
        };
        let server = LocalPeer::start(Router::new().route("/token", post(token))).await;
        SalesforceLikeTokenPeer {
            token_url: format!("{}/token", server.url),
            _server: server,
        }
    }
}
