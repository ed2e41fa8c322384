//! Sockets held by this process: the local server's WebSocket route (`GET /` with an upgrade)
//! holds each one while it is open. `send` finds the socket by its connection id and queues the
//! frame for the route to write; a socket that closed is gone from the map.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::sync::mpsc;

use super::SocketTransport;
use crate::error::Error;

type Senders = Arc<Mutex<HashMap<String, mpsc::UnboundedSender<String>>>>;

#[derive(Default)]
pub struct LocalSockets {
    senders: Senders,
}

/// A socket held by this process: its connection id and the frames sent to it. Dropping it
/// (the socket closed) removes it.
pub struct HeldSocket {
    pub connection: String,
    pub frames: mpsc::UnboundedReceiver<String>,
    senders: Senders,
}

impl Drop for HeldSocket {
    fn drop(&mut self) {
        self.senders
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.connection);
    }
}

#[async_trait]
impl SocketTransport for LocalSockets {
    async fn send(&self, connection: &str, text: &str) -> Result<bool, Error> {
        let senders = self.senders.lock().unwrap_or_else(|p| p.into_inner());
        Ok(senders.get(connection).is_some_and(|s| s.send(text.to_owned()).is_ok()))
    }

    fn hold(&self) -> Option<HeldSocket> {
        let (tx, frames) = mpsc::unbounded_channel();
        let connection = uuid::Uuid::new_v4().to_string();
        self.senders
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(connection.clone(), tx);
        Some(HeldSocket {
            connection,
            frames,
            senders: self.senders.clone(),
        })
    }
}
