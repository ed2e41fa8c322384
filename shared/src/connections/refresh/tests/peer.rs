//! A token endpoint for the refresh path's unit tests that checks what a rotating provider
//! checks: it answers the refresh-token grant only for the refresh token it issued last, and
//! rotates it with every answer (`at-<n>`, `rt-<n>`), so a reused or lost refresh token shows
//! as a refused grant. It counts grants and reuses, can be told to answer otherwise for the
//! next requests (`script`), and can hold requests until the test lets them through (`hold`).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::test_hold::Hold;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};

/// An answer other than the grant.
#[derive(Debug, Clone)]
pub enum Reply {
    Json(u16, Value),
    /// 200 with a body that is no token response.
    Garbage,
}

pub struct PeerState {
    /// Requests received.
    pub hits: AtomicUsize,
    /// Refresh grants answered with tokens.
    pub granted: AtomicUsize,
    /// Grants refused because the refresh token was not the last one issued.
    pub reused: AtomicUsize,
    latest: Mutex<String>,
    /// Whether a grant rotates the refresh token (a provider that doesn't omits it).
    keeps_refresh_token: AtomicBool,
    script: Mutex<VecDeque<Reply>>,
    gate: Hold,
}

pub struct TokenPeer {
    pub url: String,
    pub state: Arc<PeerState>,
}

impl TokenPeer {
    /// A provider whose current refresh token is `rt-0`.
    pub async fn start() -> TokenPeer {
        let state = Arc::new(PeerState {
            hits: AtomicUsize::new(0),
            granted: AtomicUsize::new(0),
            reused: AtomicUsize::new(0),
            latest: Mutex::new("rt-0".into()),
            keeps_refresh_token: AtomicBool::new(false),
            script: Mutex::new(VecDeque::new()),
            gate: Hold::default(),
        });
        let shared = state.clone();
        let app = Router::new().route(
            "/token",
            post(move |body: axum::body::Bytes| {
                let state = shared.clone();
                async move { answer(&state, &body).await }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/token", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        TokenPeer { url, state }
    }

    pub fn hits(&self) -> usize {
        self.state.hits.load(Ordering::SeqCst)
    }
    pub fn granted(&self) -> usize {
        self.state.granted.load(Ordering::SeqCst)
    }
    pub fn reused(&self) -> usize {
        self.state.reused.load(Ordering::SeqCst)
    }
    /// The next requests get these answers, in order; then grants again.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.script.lock().unwrap().extend(replies);
    }
    /// Grants stop rotating the refresh token (the response carries none).
    pub fn keep_refresh_token(&self) {
        self.state.keeps_refresh_token.store(true, Ordering::SeqCst);
    }
    /// Requests from now on wait until `let_through`.
    pub fn hold(&self) {
        self.state.gate.hold();
    }
    /// Waits until a request is held (since `hold`).
    pub async fn arrived(&self) {
        self.state.gate.arrived().await;
    }
    /// Lets one held request through, and stops holding.
    pub fn let_through(&self) {
        self.state.gate.let_through();
    }
}

async fn answer(state: &PeerState, body: &[u8]) -> Response {
    state.hits.fetch_add(1, Ordering::SeqCst);
    state.gate.pass().await;
    let scripted = state.script.lock().unwrap().pop_front();
    match scripted {
        Some(Reply::Json(status, body)) => {
            return (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response();
        }
        Some(Reply::Garbage) => return (StatusCode::OK, "<html>maintenance</html>").into_response(),
        None => {}
    }
    let form: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let mut latest = state.latest.lock().unwrap();
    let grant = field("grant_type");
    if grant.as_deref() == Some("refresh_token") && field("refresh_token").as_deref() != Some(latest.as_str()) {
        state.reused.fetch_add(1, Ordering::SeqCst);
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "invalid_grant", "error_description": "refresh token reused or unknown"})),
        )
            .into_response();
    }
    let n = state.granted.fetch_add(1, Ordering::SeqCst) + 1;
    let mut reply = json!({"access_token": format!("at-{n}"), "token_type": "Bearer", "expires_in": 3600});
    if !state.keeps_refresh_token.load(Ordering::SeqCst) {
        *latest = format!("rt-{n}");
        reply["refresh_token"] = json!(latest.clone());
    }
    (StatusCode::OK, axum::Json(reply)).into_response()
}
