//! Sockets that wait for a browser flow's outcome: the WebSocket protocol of Nango's published
//! frontend client (`@nangohq/frontend`). The client opens a socket, is told its
//! `ws_client_id` (`open`), puts it in the popup's connect URL, and waits for one message with
//! the flow's outcome.
//!
//! - A client id is 256 random bits; only its SHA-256 is stored (`SocketRecord`), with the
//!   origin of the page that opened the socket and where the socket is held.
//! - A flow binds to a socket when it starts (`bind`), never at its callback: the id must name
//!   a live socket opened by the same web origin as the page that started the flow. Another
//!   page can neither receive a flow's outcome nor send one to someone else's socket.
//! - The outcome is delivered once (`deliver` takes the record) through a `SocketTransport`:
//!   in-process for `latchkey serve` (`local`), the API Gateway Management API on AWS
//!   (`api_gateway`, where a WebSocket API holds the sockets and any Lambda instance may
//!   finish the flow).

#[cfg(feature = "aws")]
pub mod api_gateway;
pub mod local;

use async_trait::async_trait;

use crate::clock::Clock;
use crate::error::{Error, ErrorCode};
use crate::signing::sha256_hex;
use crate::store::{SocketRecord, Store};

pub use local::{HeldSocket, LocalSockets};

/// How long a socket may wait for its flow: longer than a flow session lives.
pub const SOCKET_TTL: time::Duration = time::Duration::minutes(15);

/// Where sockets are held, and how a frame reaches one.
#[async_trait]
pub trait SocketTransport: Send + Sync {
    /// Sends one text frame to the socket held on `connection`. `Ok(false)`: it is gone.
    async fn send(&self, connection: &str, text: &str) -> Result<bool, Error>;

    /// A socket held by this process (the local server's WebSocket route), or `None` where
    /// sockets are held elsewhere (API Gateway).
    fn hold(&self) -> Option<HeldSocket> {
        None
    }
}

/// What the socket operations need: the store (the records), the transport, the clock and the
/// API's own origin (always allowed). `AppState::hub` builds one; the WebSocket Lambda, which
/// holds no environment keys, builds its own.
pub struct Hub<'a> {
    pub store: &'a dyn Store,
    pub transport: &'a dyn SocketTransport,
    pub clock: &'a dyn Clock,
    pub own_origin: String,
}

/// A client id as the connect query carries it: the base64url of 32 random bytes.
pub fn parse_client_id(raw: &str) -> Result<String, Error> {
    let ok =
        (22..=128).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !ok {
        return Err(Error::invalid(
            ErrorCode::InvalidQueryParams,
            "ws_client_id is not a client id this server issued.",
        ));
    }
    Ok(raw.to_owned())
}

/// Registers a socket opened by the page of `origin` and held on `connection`; its new
/// client id. Refused (`origin_not_allowed`) without an origin (not a web page) or with one the
/// environment does not allow.
pub async fn open(hub: &Hub<'_>, origin: Option<&str>, connection: &str) -> Result<String, Error> {
    let settings = hub.store.get_settings().await?;
    let origin = origin
        .filter(|o| settings.allows_origin(&hub.own_origin, o))
        .ok_or_else(|| {
            Error::forbidden(
                ErrorCode::OriginNotAllowed,
                "This web origin is not in the environment's allowed origins.",
            )
        })?;
    let client_id = crate::crypto::random_token();
    let now = hub.clock.now();
    let record = SocketRecord {
        client_hash: sha256_hex(client_id.as_bytes()),
        connection: connection.to_owned(),
        origin: origin.to_owned(),
        created_at: now,
        expires_at: now + SOCKET_TTL,
    };
    hub.store.put_socket(&record).await?;
    Ok(client_id)
}

/// Binds a starting flow to the socket named by `client_id`: the hash its outcome goes to. The
/// flow's `origin` (the page that opened the popup) must be the socket's: a link with someone
/// else's client id, opened from another page or from no page at all, is refused.
pub async fn bind(hub: &Hub<'_>, client_id: &str, origin: Option<&str>) -> Result<String, Error> {
    let hash = sha256_hex(client_id.as_bytes());
    let refused = |why: &str| Error::invalid(ErrorCode::InvalidQueryParams, format!("ws_client_id {why}."));
    let socket = hub
        .store
        .get_socket(&hash)
        .await?
        .filter(|s| hub.clock.now() <= s.expires_at)
        .ok_or_else(|| refused("names no open socket (unknown, expired or already used)"))?;
    if origin != Some(socket.origin.as_str()) {
        return Err(refused(
            "belongs to a socket opened by another page than the one that opened this window",
        ));
    }
    Ok(hash)
}

/// Sends `message` to the socket bound as `client_hash`, once. Best effort, like the result
/// page's other channels: a socket that closed, or a transport that fails, is logged.
pub async fn deliver(hub: &Hub<'_>, client_hash: &str, message: &str) {
    let socket = match hub.store.take_socket(client_hash).await {
        Ok(Some(s)) if hub.clock.now() <= s.expires_at => s,
        Ok(_) => return,
        Err(e) => {
            tracing::warn!(error = %e, "could not read the socket of a flow");
            return;
        }
    };
    match hub.transport.send(&socket.connection, message).await {
        Ok(true) => {}
        Ok(false) => tracing::info!("the socket of a flow closed before its outcome"),
        Err(e) => tracing::warn!(error = %e.message, "could not send a flow's outcome to its socket"),
    }
}

#[cfg(test)]
mod tests;
