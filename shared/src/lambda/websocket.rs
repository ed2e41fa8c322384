//! The WebSocket API's function (`functions/websocket`): the socket of Nango's frontend client
//! on AWS, where API Gateway holds the connection and any Lambda instance may finish the flow.
//!
//! - `$connect`: registers the socket (`sockets::open`: the page's `Origin` checked, the
//!   client id's hash and the API Gateway connection id stored with a TTL) and accepts it. A
//!   socket can't be written to until `$connect` has returned, so the greeting
//!   (`connection_ack` with the client id, or the `error` that refused it) is sent by a second,
//!   asynchronous invocation of this same function, which retries while the connection is not
//!   open yet.
//! - `$disconnect`: nothing to do; an outcome for a closed socket is dropped, its record expires.
//! - `$default`: the client sends nothing in this protocol; a message is ignored.
//!
//! The outcome itself is sent by whichever function ends the flow (`oauth-callback`, or
//! `auth-start` for a refused start), through `sockets::api_gateway`. This function holds no
//! environment keys and seals nothing: its role reads settings and writes socket records only.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use lambda_http::aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use lambda_http::{service_fn, Error, LambdaEvent};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::clock::SystemClock;
use crate::runtime::var;
use crate::sockets::api_gateway::ApiGatewaySockets;
use crate::sockets::{self, Hub, SocketTransport};
use crate::store::dynamo::DynamoStore;

/// What the function works with, built once per container.
struct Socketry {
    store: DynamoStore,
    transport: ApiGatewaySockets,
    clock: SystemClock,
    own_origin: String,
    lambda: aws_sdk_lambda::Client,
    /// This function's name: the greeting is an invocation of itself.
    function: String,
}

impl Socketry {
    fn hub(&self) -> Hub<'_> {
        Hub {
            store: &self.store,
            transport: &self.transport,
            clock: &self.clock,
            own_origin: self.own_origin.clone(),
        }
    }
}

/// The payload of the greeting invocation.
#[derive(Debug, Serialize, Deserialize)]
struct Greeting {
    connection_id: String,
    text: String,
}

/// How long a greeting waits for `$connect` to complete: a few attempts, doubling from 20 ms.
const GREETING_ATTEMPTS: u32 = 8;

pub async fn serve() -> Result<(), Error> {
    super::init_telemetry();
    let config = crate::runtime::config_from_env()?;
    let endpoint = var("LATCHKEY_WEBSOCKET_ENDPOINT").ok_or("LATCHKEY_WEBSOCKET_ENDPOINT is required")?;
    let function = var("AWS_LAMBDA_FUNCTION_NAME").ok_or("AWS_LAMBDA_FUNCTION_NAME is required")?;
    let sdk = crate::aws::sdk_config().await;
    let socketry = Arc::new(Socketry {
        store: crate::runtime::aws_store(&sdk, &config)?,
        transport: ApiGatewaySockets::new(&sdk, &endpoint),
        clock: SystemClock,
        own_origin: config.own_origin(),
        lambda: aws_sdk_lambda::Client::new(&sdk),
        function,
    });
    super::log_init_calls();
    lambda_http::lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let socketry = socketry.clone();
        // The invocation's span: every line names the Lambda request, API Gateway's request id
        // and the route key (a greeting invocation has neither).
        let context = event.payload.get("requestContext");
        let field = |name: &str| {
            context
                .and_then(|c| c.get(name))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let ids = crate::logs::RequestIds {
            aws_request_id: Some(event.context.request_id.clone()),
            api_request_id: field("requestId"),
            xray_trace_id: event.context.xray_trace_id.clone(),
        };
        let route = field("routeKey").unwrap_or_else(|| "greeting".into());
        let span = crate::logs::request_span("WEBSOCKET", &route, &ids);
        tracing::Instrument::instrument(async move { handle(&socketry, event.payload).await }, span)
    }))
    .await
}

async fn handle(s: &Socketry, payload: Value) -> Result<Value, Error> {
    if let Some(greeting) = payload.get("latchkey_greeting") {
        let greeting: Greeting = serde_json::from_value(greeting.clone())?;
        greet(s, &greeting).await;
        return Ok(json!({}));
    }
    let event: ApiGatewayWebsocketProxyRequest = serde_json::from_value(payload)?;
    let context = &event.request_context;
    let connection = context
        .connection_id
        .clone()
        .ok_or("a WebSocket event without a connection id")?;
    // $disconnect and $default have nothing to do.
    if context.event_type.as_deref() == Some("CONNECT") {
        let origin = event.headers.get("origin").and_then(|v| v.to_str().ok());
        connect(s, origin, connection).await?;
    }
    Ok(json!({ "statusCode": 200 }))
}

/// Registers the socket and has its greeting sent. Accepted even when refused: the client then
/// reads why, instead of waiting on a socket that never opened.
async fn connect(s: &Socketry, origin: Option<&str>, connection: String) -> Result<(), Error> {
    let opened = sockets::open(&s.hub(), origin, &connection).await;
    if let Err(e) = &opened {
        tracing::info!(code = e.code.as_str(), "socket refused");
    }
    let greeting = Greeting {
        connection_id: connection,
        text: crate::api::sockets::greeting(&opened),
    };
    let payload = serde_json::to_vec(&json!({ "latchkey_greeting": greeting }))?;
    s.lambda
        .invoke()
        .function_name(&s.function)
        .invocation_type(InvocationType::Event)
        .payload(Blob::new(payload))
        .send()
        .await
        .map_err(|e| {
            format!(
                "invoking the greeting: {}",
                aws_sdk_lambda::error::DisplayErrorContext(&e)
            )
        })?;
    Ok(())
}

/// Sends the greeting, once `$connect` has completed: until then API Gateway answers "gone".
async fn greet(s: &Socketry, greeting: &Greeting) {
    let mut wait = Duration::from_millis(20);
    for _ in 0..GREETING_ATTEMPTS {
        match s.transport.send(&greeting.connection_id, &greeting.text).await {
            Ok(true) => return,
            Ok(false) => {
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
            Err(e) => {
                tracing::warn!(error = %e.message, "greeting a socket failed");
                return;
            }
        }
    }
    tracing::info!("the socket closed before its greeting");
}
