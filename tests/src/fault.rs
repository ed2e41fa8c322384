//! A token endpoint that fails on purpose (the only hand-written peer: real servers don't fail
//! on demand). `start(fault)` always answers the fault: authorization still happens at the
//! real provider, only the code exchange lands here. `forwarding(token_url)` passes requests
//! to a real token endpoint (oidc-provider) until a fault is armed (`set`), and can hold
//! requests until the test lets them through (`hold`), so a test can change the connection
//! while its refresh is in flight.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use latchkey::test_hold::Hold;

use crate::local_peer::LocalPeer;
use crate::oidc::OAuthClient;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// HTTP 500 with a plain-text body.
    ServerError,
    /// Never answers (well past any test's `provider_timeout`).
    Hang,
    /// HTTP 200 whose JSON body is an OAuth error.
    ErrorIn200,
    /// HTTP 200 whose body is no token response at all (an HTML page).
    Garbage,
}

struct PeerState {
    fault: Mutex<Option<Fault>>,
    forward_to: Option<String>,
    hits: AtomicUsize,
    gate: Hold,
}

pub struct FaultPeer {
    pub token_url: String,
    state: Arc<PeerState>,
    _server: LocalPeer,
}

impl FaultPeer {
    /// A token endpoint that always answers `fault`.
    pub async fn start(fault: Fault) -> FaultPeer {
        Self::serve(Some(fault), None).await
    }

    /// A token endpoint in front of `token_url`: requests pass through until `set` arms a fault.
    pub async fn forwarding(token_url: &str) -> FaultPeer {
        Self::serve(None, Some(token_url.to_owned())).await
    }

    /// A forwarding peer in front of oidc-provider's token endpoint, and integration `key` of
    /// `app` on a fresh oidc-provider client whose token requests go through it.
    pub async fn in_front_of_oidc(app: &crate::TestApp, key: &str) -> (FaultPeer, OAuthClient) {
        let fault = Self::forwarding(&format!("{}/token", crate::oidc_peer().issuer)).await;
        let client = crate::oidc_peer()
            .register_client(&app.callback_url(), "client_secret_post")
            .await;
        app.create_integration(key, &fault.client(&client)).await;
        (fault, client)
    }

    async fn serve(fault: Option<Fault>, forward_to: Option<String>) -> FaultPeer {
        let state = Arc::new(PeerState {
            fault: Mutex::new(fault),
            forward_to,
            hits: AtomicUsize::new(0),
            gate: Hold::default(),
        });
        let shared = state.clone();
        let app = Router::new().route(
            "/token",
            post(move |headers: HeaderMap, body: Bytes| {
                let state = shared.clone();
                async move { answer(&state, headers, body).await }
            }),
        );
        let server = LocalPeer::start(app).await;
        FaultPeer {
            token_url: format!("{}/token", server.url),
            state,
            _server: server,
        }
    }

    /// `client` with its token endpoint moved here.
    pub fn client(&self, client: &OAuthClient) -> OAuthClient {
        OAuthClient {
            token_url: self.token_url.clone(),
            ..client.clone()
        }
    }

    /// How many token requests arrived.
    pub fn hits(&self) -> usize {
        self.state.hits.load(Ordering::SeqCst)
    }

    /// Answers `fault` from now on (`None`: pass requests through again).
    pub fn set(&self, fault: Option<Fault>) {
        *self.state.fault.lock().unwrap() = fault;
    }

    /// Requests from now on wait until `let_through`.
    pub fn hold(&self) {
        self.state.gate.hold();
    }

    /// Waits until a request is held (since `hold`).
    pub async fn arrived(&self) {
        self.state.gate.arrived().await;
    }

    /// Stops holding requests from now on; one already held stays held.
    pub fn stop_holding(&self) {
        self.state.gate.stop_holding();
    }

    /// Lets one held request through, and stops holding.
    pub fn let_through(&self) {
        self.state.gate.let_through();
    }
}

async fn answer(state: &PeerState, headers: HeaderMap, body: Bytes) -> Response {
    state.hits.fetch_add(1, Ordering::SeqCst);
    state.gate.pass().await;
    let fault = *state.fault.lock().unwrap();
    match (fault, &state.forward_to) {
        (Some(Fault::ServerError), _) => (StatusCode::INTERNAL_SERVER_ERROR, "upstream exploded").into_response(),
        (Some(Fault::Hang), _) => {
            tokio::time::sleep(Duration::from_secs(120)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        (Some(Fault::ErrorIn200), _) => (
            StatusCode::OK,
            [("content-type", "application/json")],
            r#"{"error":"invalid_grant","error_description":"The code has expired."}"#,
        )
            .into_response(),
        (Some(Fault::Garbage), _) => (
            StatusCode::OK,
            [("content-type", "text/html")],
            "<html><body>Down for maintenance</body></html>",
        )
            .into_response(),
        (None, Some(to)) => forward(to, headers, body).await,
        (None, None) => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The request as it came (body, content type, client authentication), answered by `to`.
async fn forward(to: &str, headers: HeaderMap, body: Bytes) -> Response {
    let mut request = reqwest::Client::new().post(to).body(body);
    for name in ["content-type", "authorization", "accept"] {
        if let Some(v) = headers.get(name).and_then(|v| v.to_str().ok()) {
            request = request.header(name, v);
        }
    }
    let answer = request.send().await.expect("the real token endpoint answers");
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
    let content_type = answer
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_owned();
    let body = answer.bytes().await.unwrap();
    (status, [("content-type", content_type)], body).into_response()
}
