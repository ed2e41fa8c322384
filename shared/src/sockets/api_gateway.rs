//! Sockets held by an API Gateway WebSocket API: any Lambda instance sends to one through the
//! API Gateway Management API (`PostToConnection` on the stage's endpoint,
//! `https://<api>.execute-api.<region>.amazonaws.com/<stage>`), which the template lets only the
//! functions that report outcomes call.

use async_trait::async_trait;
use aws_sdk_apigatewaymanagement::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_apigatewaymanagement::primitives::Blob;

use super::SocketTransport;
use crate::error::Error;

pub struct ApiGatewaySockets {
    client: aws_sdk_apigatewaymanagement::Client,
}

impl ApiGatewaySockets {
    /// A client of the stage's management endpoint (`LATCHKEY_WEBSOCKET_ENDPOINT`).
    pub fn new(config: &aws_config::SdkConfig, endpoint: &str) -> Self {
        let conf = aws_sdk_apigatewaymanagement::config::Builder::from(config)
            .endpoint_url(endpoint)
            .build();
        Self {
            client: aws_sdk_apigatewaymanagement::Client::from_conf(conf),
        }
    }
}

#[async_trait]
impl SocketTransport for ApiGatewaySockets {
    async fn send(&self, connection: &str, text: &str) -> Result<bool, Error> {
        let sent = self
            .client
            .post_to_connection()
            .connection_id(connection)
            .data(Blob::new(text.as_bytes()))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(true),
            // The socket closed (or, right after $connect, is not open yet).
            Err(e) if e.code() == Some("GoneException") => Ok(false),
            Err(e) => {
                tracing::warn!(error = %DisplayErrorContext(&e), "PostToConnection failed");
                Err(Error::unavailable("The WebSocket API"))
            }
        }
    }
}
