//! The socket protocol of Nango's frontend client over HTTP, and `GET /`.
//!
//! `GET /` with a WebSocket upgrade is the client's socket (`host` + `websocketsPath`, `/` by
//! default): the server greets it with `{"message_type": "connection_ack", "ws_client_id"}`
//! (or an `error` message, and closes), the client opens the popup with that id, and the flow's
//! outcome arrives as one `success` or `error` message (`notify`). Locally the socket is held by
//! this process; on AWS by the WebSocket API (`lambda::websocket`), whose greeting is the same.
//!
//! `GET /` without an upgrade is a browser: the Connect UI's iframe of `openConnectUI({ baseURL:
//! <this host> })` (its query carries `apiURL`) goes to the Connect page, anything else to the
//! operator console.

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::result_page::Outcome;
use super::wire::SocketMessage;
use crate::error::Error;
use crate::sockets;
use crate::AppState;

/// The greeting of a new socket: its client id, or why it may not wait here.
pub fn greeting(opened: &Result<String, Error>) -> String {
    match opened {
        Ok(id) => SocketMessage::ConnectionAck { ws_client_id: id },
        Err(e) => SocketMessage::Error {
            error_type: e.code.as_str(),
            error_desc: &e.message,
        },
    }
    .text()
}

/// Sends a flow's outcome to the socket it was bound to at its start, once.
pub async fn notify(state: &AppState, socket_hash: &str, outcome: &Outcome<'_>) {
    sockets::deliver(&state.hub(), socket_hash, &SocketMessage::from(outcome).text()).await;
}

/// The socket of a connect query, read leniently: a flow that failed before it parsed still
/// tells its page, once the socket is shown to be that page's (`sockets::bind`).
pub async fn bound_socket(state: &AppState, raw_query: Option<&str>, origin: Option<&str>) -> Option<String> {
    let id = form_urlencoded::parse(raw_query.unwrap_or("").as_bytes())
        .find(|(k, _)| k == "ws_client_id")
        .and_then(|(_, v)| sockets::parse_client_id(&v).ok())?;
    sockets::bind(&state.hub(), &id, origin).await.ok()
}

pub async fn root(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    match upgrade {
        Ok(upgrade) => {
            let origin = headers
                .get(header::ORIGIN)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            upgrade
                .max_message_size(4096)
                .on_upgrade(move |socket| hold(state, origin, socket))
        }
        Err(_) => {
            // Relative, so a base path (an API Gateway stage) is kept.
            let location = match query.as_deref() {
                Some(q) if form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == "apiURL") => format!("connect?{q}"),
                _ => "console".to_owned(),
            };
            let mut r = StatusCode::FOUND.into_response();
            r.headers_mut().insert(
                header::LOCATION,
                HeaderValue::from_str(&location).expect("a query string is a valid header value"),
            );
            r
        }
    }
}

/// Holds one socket until its outcome is sent, the client leaves, or it expires.
async fn hold(state: AppState, origin: Option<String>, mut socket: WebSocket) {
    let Some(mut held) = state.sockets.hold() else {
        return;
    };
    let opened = sockets::open(&state.hub(), origin.as_deref(), &held.connection).await;
    if socket.send(Message::Text(greeting(&opened).into())).await.is_err() || opened.is_err() {
        let _ = socket.send(Message::Close(None)).await;
        return;
    }
    let ttl = std::time::Duration::try_from(sockets::SOCKET_TTL).expect("a positive duration");
    let wait = async {
        loop {
            tokio::select! {
                frame = held.frames.recv() => {
                    if let Some(text) = frame {
                        let _ = socket.send(Message::Text(text.into())).await;
                    }
                    return;
                }
                incoming = socket.recv() => match incoming {
                    // The client says nothing in this protocol; pings are answered by the library.
                    Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                    Some(Ok(_)) => continue,
                },
            }
        }
    };
    let _ = tokio::time::timeout(ttl, wait).await;
    let _ = socket.send(Message::Close(None)).await;
}
