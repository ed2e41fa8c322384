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

use crate::activity::Attempt;
use crate::auth::{self, AuthScheme, Obtained};
use crate::connections::{save_connection, NewConnection, WriteMode};
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

/// What the team's backend set for an end user's flow (a connect session): the connection
/// config keys it vouched for, the end user, where the connection's webhooks go.
pub struct Vouched {
    pub config: VouchedKeys,
    pub end_user: Option<Value>,
    pub webhook_url_override: Option<String>,
}

/// Where an end user's flow stores what it obtained: the connection it names, how (create
/// only, or replace too), and what the team's backend set for it.
struct Target<'a> {
    integration: &'a IntegrationRecord,
    connection_id: &'a ConnectionId,
    write: WriteMode,
    vouched: Vouched,
}

/// Stores what an end user's flow obtained and records how: `stored` (a new connection) or
/// `replaced` (a re-authorization: its own event, so an operator sees every replacement).
async fn store_obtained(
    state: &AppState,
    attempt: &Attempt,
    target: Target<'_>,
    obtained: Obtained,
) -> Result<Upsert, Error> {
    let stored = store(
        state,
        NewConnection {
            integration: target.integration,
            connection_id: target.connection_id,
            credentials: &obtained.credentials,
            connection_config: obtained.connection_config,
            vouched_config: target.vouched.config,
            metadata: Default::default(),
            end_user: target.vouched.end_user,
            tags: Default::default(),
            write: target.write,
            webhook_url_override: target.vouched.webhook_url_override,
        },
    )
    .await?;
    let (event, message) = match stored {
        Upsert::Created => ("stored", "Connection created."),
        Upsert::Replaced => ("replaced", "Connection re-authorized; earlier credentials replaced."),
    };
    attempt.info(state, event, message).await;
    Ok(stored)
}

/// Stores an authorization (an end user's flow, or an import) and announces it: the creation
/// or override event (`events`), after the write.
async fn store(state: &AppState, new: NewConnection<'_>) -> Result<Upsert, Error> {
    let (integration, connection_id) = (new.integration.key.clone(), new.connection_id.clone());
    let stored = save_connection(state, new).await?;
    crate::events::connection_stored(state, &integration, &connection_id, stored).await;
    Ok(stored)
}
