//! The use cases of connecting an account, free of HTTP: typed inputs in, typed outcomes and
//! domain errors out. The API's handlers parse a request, call one of these and render the
//! result; a worker or a WebSocket handler calls the same functions without a request.
//!
//! - `start`: what every public flow begins with (authenticate the caller, load the
//!   integration, check its mode, validate the connection config).
//! - `redirect`: browser flows — start one, finish its callback.
//! - `submit`: credentials the end user submits (API key, Basic, client credentials).
//! - `connect_session`: sessions the backend creates for its frontend, and what they allow.
//! - `connect_offer`: what a session offers its end user on the Connect page.
//! - `import`: connections the backend brings with their credentials.
//! - `poll`: a browser flow's outcome kept for the SDK's polling fallback.
//!
//! Each step of an auth attempt runs through `Attempt::run`, so every failure is recorded.

pub mod connect_offer;
pub mod connect_session;
pub mod import;
pub mod poll;
pub mod redirect;
pub mod start;
pub mod submit;

use serde_json::Value;

use crate::auth::{self, AuthScheme, Obtained};
use crate::connections::{save_connection, NewConnection};
use crate::domain::{ConnectionId, IntegrationKey, VouchedKeys};
use crate::error::{Error, ErrorCode};
use crate::store::{IntegrationRecord, Upsert};
use crate::AppState;

/// A flow that ended with a stored connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connected {
    pub integration: IntegrationKey,
    pub connection_id: ConnectionId,
}

/// The module of the integration's mode. Integrations exist only for supported modes, so a
/// miss means the record was written by a newer version.
fn scheme_of(integration: &IntegrationRecord) -> Result<&'static dyn AuthScheme, Error> {
    auth::scheme(integration.auth_mode).ok_or_else(|| {
        Error::invalid(
            ErrorCode::UnsupportedAuthMode,
            format!(
                "Integration '{}' uses {}, which Latchkey does not support.",
                integration.key, integration.auth_mode
            ),
        )
    })
}

/// Stores what an end user's flow obtained, on the connection the flow names.
async fn store_obtained(
    state: &AppState,
    integration: &IntegrationRecord,
    connection_id: &ConnectionId,
    obtained: Obtained,
    vouched_config: VouchedKeys,
    end_user: Option<Value>,
) -> Result<Upsert, Error> {
    save_connection(
        state,
        NewConnection {
            integration,
            connection_id,
            credentials: &obtained.credentials,
            connection_config: obtained.connection_config,
            vouched_config,
            metadata: Default::default(),
            end_user,
            tags: Default::default(),
        },
    )
    .await
}
