//! The wire of the browser-facing channels Nango's clients speak, and the Connect page's read:
//! the popup socket's messages, the callback page's Nango messages, a connect session's offer.

use serde::Serialize;
use time::OffsetDateTime;

use super::date;
use crate::api::result_page::Outcome;
use crate::auth::Obtain;
use crate::domain::{AuthMode, IntegrationKey};
use crate::flows::connect_offer::{FieldGroup, Offer, Offered};
use crate::providers::schema::FieldSpec;

/// The result page's message in Nango's form, for clients that listen for Nango's callback
/// page (to the opener and on `BroadcastChannel("nango-oauth-callback")`).
#[derive(Debug, Serialize)]
#[serde(tag = "type")]
pub enum NangoCallbackMessage<'a> {
    #[serde(rename = "nango_oauth_callback_success")]
    Success,
    #[serde(rename = "nango_oauth_callback_error")]
    Error { payload: NangoCallbackError<'a> },
}

#[derive(Debug, Serialize)]
pub struct NangoCallbackError<'a> {
    message: &'a str,
    #[serde(rename = "errorType")]
    error_type: &'a str,
}

impl<'a> From<&Outcome<'a>> for NangoCallbackMessage<'a> {
    fn from(outcome: &Outcome<'a>) -> Self {
        match *outcome {
            Outcome::Success { .. } => NangoCallbackMessage::Success,
            Outcome::Failure {
                error_type,
                description,
            } => NangoCallbackMessage::Error {
                payload: NangoCallbackError {
                    message: description,
                    error_type,
                },
            },
        }
    }
}

/// A message on the socket of Nango's frontend client (`GET /` upgraded, or the WebSocket API):
/// the greeting with the socket's client id, then one outcome.
#[derive(Debug, Serialize)]
#[serde(tag = "message_type", rename_all = "snake_case")]
pub enum SocketMessage<'a> {
    ConnectionAck {
        ws_client_id: &'a str,
    },
    Success {
        provider_config_key: &'a str,
        connection_id: &'a str,
        /// Nango's flows that finish later (asynchronous installs); Latchkey's never do.
        is_pending: bool,
    },
    Error {
        error_type: &'a str,
        error_desc: &'a str,
    },
}

impl<'a> From<&Outcome<'a>> for SocketMessage<'a> {
    fn from(outcome: &Outcome<'a>) -> Self {
        match *outcome {
            Outcome::Success {
                integration,
                connection_id,
            } => SocketMessage::Success {
                provider_config_key: integration,
                connection_id,
                is_pending: false,
            },
            Outcome::Failure {
                error_type,
                description,
            } => SocketMessage::Error {
                error_type,
                error_desc: description,
            },
        }
    }
}

impl SocketMessage<'_> {
    pub fn text(&self) -> String {
        serde_json::to_string(self).expect("wire objects serialize")
    }
}

/// What a connect session offers its end user (`GET /connect/session`): no secret, nothing
/// about the end user, only what the Connect page shows and where each flow goes.
#[derive(Debug, Serialize)]
pub struct ConnectOffer<'a> {
    #[serde(serialize_with = "date")]
    expires_at: OffsetDateTime,
    is_reconnecting: bool,
    integrations: Vec<OfferedIntegration<'a>>,
}

#[derive(Debug, Serialize)]
struct OfferedIntegration<'a> {
    unique_key: &'a IntegrationKey,
    display_name: &'a str,
    provider: &'a str,
    auth_mode: AuthMode,
    /// `popup` (a redirect mode: `GET <path>/<key>` in a popup) or `form` (`POST <path>/<key>`
    /// with the credential fields as JSON).
    flow: &'static str,
    /// The route of the flow, relative to the API's URL.
    path: &'static str,
    fields: Vec<OfferedFieldWire<'a>>,
}

#[derive(Debug, Serialize)]
struct OfferedFieldWire<'a> {
    name: &'a str,
    /// `connection_config` (sent as `params[<name>]`) or `credentials` (the JSON body).
    group: &'static str,
    required: bool,
    /// The catalog's rules: `type`, `format`, `pattern`, `enum`, `example`, `prefix`,
    /// `suffix`, `secret`, …
    #[serde(flatten)]
    spec: &'a FieldSpec,
}

impl<'a> ConnectOffer<'a> {
    pub fn new(offer: &'a Offer) -> Self {
        let integration = |o: &'a Offered| {
            let (flow, path) = match (o.obtains, o.integration.auth_mode) {
                (Obtain::Redirect, _) => ("popup", "oauth/connect"),
                (Obtain::Submission, AuthMode::ApiKey) => ("form", "api-auth/api-key"),
                (Obtain::Submission, AuthMode::Basic) => ("form", "api-auth/basic"),
                (Obtain::Submission, AuthMode::TwoStep) => ("form", "auth/two-step"),
                (Obtain::Submission, AuthMode::Jwt) => ("form", "auth/jwt"),
                (Obtain::Submission, AuthMode::None) => ("form", "auth/unauthenticated"),
                (Obtain::Submission, AuthMode::Signature) => ("form", "auth/signature"),
                (Obtain::Submission, AuthMode::Bill) => ("form", "auth/bill"),
                (Obtain::Submission, _) => ("form", "oauth2/auth"),
            };
            OfferedIntegration {
                unique_key: &o.integration.key,
                display_name: &o.display_name,
                provider: &o.integration.provider,
                auth_mode: o.integration.auth_mode,
                flow,
                path,
                fields: o
                    .fields
                    .iter()
                    .map(|f| OfferedFieldWire {
                        name: &f.name,
                        group: match f.group {
                            FieldGroup::ConnectionConfig => "connection_config",
                            FieldGroup::Credentials => "credentials",
                        },
                        required: f.required,
                        spec: &f.spec,
                    })
                    .collect(),
            }
        };
        Self {
            expires_at: offer.expires_at,
            is_reconnecting: offer.reconnect,
            integrations: offer.integrations.iter().map(integration).collect(),
        }
    }
}
