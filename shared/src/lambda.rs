//! The Lambda adapter: API Gateway HTTP API (v2) events in, the same axum routers as the local
//! stack. `lambda_http` turns an event into a request (raw query string kept percent-encoded,
//! base64 bodies decoded, `cookies` joined into one `Cookie` header, comma-joined multi-value
//! headers); this module adds the stage rule:
//!
//! - On a named stage (`/prod/...`) the stage prefix is stripped before routing, so routes are
//!   the same on every stage and on a custom domain.
//! - A signed backend request is verified against the path the client sent, stage prefix
//!   included (the URL the client called), carried as `ClientPath`.

#[cfg(feature = "websocket")]
pub mod websocket;

#[cfg(test)]
mod props;

use axum::Router;
use lambda_http::request::RequestContext;
use lambda_http::RequestExt;
use tower::ServiceExt;

use crate::api::backend_auth::ClientPath;

/// The stage of a v2 event, if it is a named one (not `$default`).
fn named_stage(req: &lambda_http::Request) -> Option<String> {
    match req.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => ctx.stage.clone().filter(|s| s != "$default" && !s.is_empty()),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// Strips `/<stage>` from the path of a request that carries it, keeping the query exactly.
pub fn strip_stage(mut req: lambda_http::Request) -> lambda_http::Request {
    let Some(stage) = named_stage(&req) else {
        return req;
    };
    let prefix = format!("/{stage}");
    let uri = req.uri().clone();
    let path = uri.path();
    let rest = match path.strip_prefix(&prefix) {
        Some("") => "/",
        Some(rest) if rest.starts_with('/') => rest,
        _ => return req,
    };
    let original = uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| path.to_owned());
    let new_pq = match uri.query() {
        Some(q) => format!("{rest}?{q}"),
        None => rest.to_owned(),
    };
    let mut parts = uri.into_parts();
    match new_pq.parse() {
        Ok(pq) => parts.path_and_query = Some(pq),
        Err(_) => return req,
    }
    if let Ok(new_uri) = axum::http::Uri::from_parts(parts) {
        *req.uri_mut() = new_uri;
        req.extensions_mut().insert(ClientPath(original));
    }
    req
}

pub use lambda_http::Error;

/// The ids of an invocation, for its request span (`logs::span_requests`): Lambda's request id
/// and X-Ray trace from the runtime, API Gateway's request id from the event.
fn request_ids(req: &lambda_http::Request) -> crate::logs::RequestIds {
    let context = req.lambda_context_ref();
    let api_request_id = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.clone(),
        #[allow(unreachable_patterns)]
        _ => None,
    };
    crate::logs::RequestIds {
        aws_request_id: context.map(|c| c.request_id.clone()),
        api_request_id,
        xray_trace_id: context.and_then(|c| c.xray_trace_id.clone()),
    }
}

/// What every function does first: JSON logs (`logs::Format::from_env`, JSON on Lambda) and EMF
/// metrics on standard output.
fn init_telemetry() {
    crate::logs::init(crate::logs::Format::from_env());
    crate::metrics::init(crate::metrics::Sink::Stdout);
}

/// Logs the AWS calls of the container's start (the benchmarks read the line).
fn log_init_calls() {
    #[cfg(feature = "aws")]
    Calls::now().log("aws_calls init");
}

/// A function's whole `main`: logs and metrics, the state from the environment, and the router
/// of the function's block of the route table, served.
pub async fn serve(function: crate::api::Function) -> Result<(), Error> {
    init_telemetry();
    let state = crate::runtime::state_from_env().await?;
    run(crate::api::router(function, state)).await
}

/// The `worker` function's whole `main`: SQS batches of jobs in (`jobs::sqs::handle`), partial
/// batch failures out. Logs the AWS calls of the container's start and of each batch.
#[cfg(feature = "aws")]
pub async fn serve_worker() -> Result<(), Error> {
    use crate::jobs::sqs::handle;
    use crate::queue::sqs::SqsEvent;
    use lambda_http::lambda_runtime::{self, LambdaEvent};
    init_telemetry();
    let state = crate::runtime::state_from_env().await?;
    log_init_calls();
    lambda_runtime::run(lambda_runtime::service_fn(move |event: LambdaEvent<SqsEvent>| {
        let state = state.clone();
        // The batch's span: every job's line names the invocation (and, once a job knows it,
        // its connection).
        let ids = crate::logs::RequestIds {
            aws_request_id: Some(event.context.request_id.clone()),
            api_request_id: None,
            xray_trace_id: event.context.xray_trace_id.clone(),
        };
        let span = crate::logs::request_span("SQS", "/jobs", &ids);
        let invocation = async move {
            let before = Calls::now();
            let records = event.payload.records.len();
            let response = handle(&state, event.payload).await;
            Calls::now().since(before).log("aws_calls invocation");
            tracing::info!(records, failed = response.batch_item_failures.len(), "worker batch");
            Ok::<_, Error>(response)
        };
        tracing::Instrument::instrument(invocation, span)
    }))
    .await
}

/// The `refresh-scheduler` function's whole `main`: each EventBridge scheduled event is one run
/// of `jobs::schedule::schedule` (the event's content is not needed: the time is the clock's).
/// Logs the AWS calls of the container's start and of each run.
#[cfg(feature = "aws")]
pub async fn serve_scheduler() -> Result<(), Error> {
    use lambda_http::lambda_runtime::{self, LambdaEvent};
    init_telemetry();
    let seams = std::sync::Arc::new(crate::runtime::scheduler_seams_from_env().await?);
    log_init_calls();
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: LambdaEvent<serde_json::Value>| {
            let seams = seams.clone();
            // The run's span: every line names the invocation.
            let ids = crate::logs::RequestIds {
                aws_request_id: Some(event.context.request_id.clone()),
                api_request_id: None,
                xray_trace_id: event.context.xray_trace_id.clone(),
            };
            let span = crate::logs::request_span("SCHEDULE", "/refresh", &ids);
            let run = async move {
                let before = Calls::now();
                let now = time::OffsetDateTime::now_utc();
                let report =
                    crate::jobs::schedule::schedule(seams.store.as_ref(), seams.queue.as_ref(), now, &seams.limits)
                        .await?;
                Calls::now().since(before).log("aws_calls invocation");
                Ok::<_, Error>(serde_json::json!({
                    "due": report.due,
                    "enqueued": report.enqueued,
                    "deferred": report.deferred,
                    "orphaned": report.orphaned,
                }))
            };
            tracing::Instrument::instrument(run, span)
        },
    ))
    .await
}

/// The AWS calls this process made, per service (`aws::call_counts`, `aws::sqs_calls`): logged
/// as `<what> dynamodb=… kms=… secretsmanager=… sqs=…` at a container's start and after each
/// invocation (`tests/lambda/runtime_test.py` reads these lines).
#[cfg(feature = "aws")]
#[derive(Debug, Clone, Copy)]
struct Calls([u64; 4]);

#[cfg(feature = "aws")]
impl Calls {
    fn now() -> Self {
        let (d, k, s) = crate::aws::call_counts();
        Self([d, k, s, crate::aws::sqs_calls()])
    }

    fn since(self, before: Calls) -> Calls {
        Calls(std::array::from_fn(|i| self.0[i] - before.0[i]))
    }

    fn log(self, what: &str) {
        let [dynamodb, kms, secretsmanager, sqs] = self.0;
        tracing::info!(dynamodb, kms, secretsmanager, sqs, "{what}");
    }
}

/// Serves one router as a Lambda function. With the AWS backend, logs the AWS calls of the
/// container's start and of each invocation (a Lambda process serves one invocation at a time,
/// so the deltas are exact).
pub async fn run(router: Router) -> Result<(), Error> {
    log_init_calls();
    lambda_http::run(tower::service_fn(move |mut req: lambda_http::Request| {
        let router = router.clone();
        let ids = request_ids(&req);
        let aws_request_id = ids.aws_request_id.clone().unwrap_or_default();
        req.extensions_mut().insert(ids);
        async move {
            #[cfg(feature = "aws")]
            let before = Calls::now();
            let res = router.oneshot(strip_stage(req)).await;
            #[cfg(feature = "aws")]
            tracing::info_span!("invocation", aws_request_id)
                .in_scope(|| Calls::now().since(before).log("aws_calls invocation"));
            res
        }
    }))
    .await
}
