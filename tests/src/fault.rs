//! A token endpoint that fails on purpose (the only hand-written peer: real servers don't fail
//! on demand). Authorization still happens at the real provider; only the code exchange lands
//! here.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;

use crate::local_peer::LocalPeer;
use crate::oidc::OAuthClient;

#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// HTTP 500 with a plain-text body.
    ServerError,
    /// Never answers (well past any test's `provider_timeout`).
    Hang,
    /// HTTP 200 whose JSON body is an OAuth error.
    ErrorIn200,
}

pub struct FaultPeer {
    pub token_url: String,
    hits: Arc<AtomicUsize>,
    _server: LocalPeer,
}

impl FaultPeer {
    pub async fn start(fault: Fault) -> FaultPeer {
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let app = Router::new().route(
            "/token",
            post(move || {
                let counter = counter.clone();
                async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    answer(fault).await
                }
            }),
        );
        let server = LocalPeer::start(app).await;
        FaultPeer {
            token_url: format!("{}/token", server.url),
            hits,
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
        self.hits.load(Ordering::SeqCst)
    }
}

async fn answer(fault: Fault) -> Response {
    match fault {
        Fault::ServerError => (StatusCode::INTERNAL_SERVER_ERROR, "upstream exploded").into_response(),
        Fault::Hang => {
            tokio::time::sleep(Duration::from_secs(120)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        Fault::ErrorIn200 => (
            StatusCode::OK,
            [("content-type", "application/json")],
            r#"{"error":"invalid_grant","error_description":"The code has expired."}"#,
        )
            .into_response(),
    }
}
