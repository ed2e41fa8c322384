//! How Latchkey logs. One `tracing` span per request (`request_span`, opened by `api::finish` for every router) carries the request's ids
//! — Lambda's `aws_request_id`, API Gateway's `api_request_id`, the X-Ray trace — and, once a
//! flow or a read knows them, the `integration` and `connection_id` (`record_connection`), so
//! every line logged while the request is served says which request and which connection it is
//! about. On Lambda each line is one JSON object (`JsonLogs`): the event's fields and those of
//! the enclosing Latchkey spans at the top level, ready for CloudWatch Logs Insights
//! (`filter connection_id = "…"`); locally the lines are `tracing`'s human-readable format.
//!
//! Nothing secret is ever a field: ids, codes, counts and safe messages only (secret types print
//! `[redacted]` even through `Debug`). `tests/tests/log_secrets.rs` captures every line of full
//! flows and finds none of their secrets.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Span, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// The ids a request arrives with, from the Lambda runtime and API Gateway (`lambda.rs` reads
/// them from the event); empty locally.
#[derive(Debug, Clone, Default)]
pub struct RequestIds {
    pub aws_request_id: Option<String>,
    pub api_request_id: Option<String>,
    pub xray_trace_id: Option<String>,
}

/// The span of one request. `path` is the path only: a query string can carry a connect
/// session token or an HMAC digest, so it is never logged.
pub fn request_span(method: &str, path: &str, ids: &RequestIds) -> Span {
    tracing::info_span!(
        "request",
        method,
        path,
        aws_request_id = ids.aws_request_id.as_deref(),
        api_request_id = ids.api_request_id.as_deref(),
        xray_trace_id = ids.xray_trace_id.as_deref(),
        integration = tracing::field::Empty,
        connection_id = tracing::field::Empty,
    )
}

/// Names the connection the current request (or job) is about, for every line logged from here
/// on. A no-op outside a request span.
pub fn record_connection(integration: Option<&str>, connection_id: Option<&str>) {
    let span = Span::current();
    if let Some(integration) = integration {
        span.record("integration", integration);
    }
    if let Some(connection_id) = connection_id {
        span.record("connection_id", connection_id);
    }
}

/// Which format `init` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line (CloudWatch).
    Json,
    /// `tracing`'s human-readable lines.
    Text,
}

impl Format {
    /// `LATCHKEY_LOG_FORMAT` (`json` or `text`), else JSON on Lambda (`AWS_LAMBDA_FUNCTION_NAME`
    /// is set) and text elsewhere.
    pub fn from_env() -> Self {
        match std::env::var("LATCHKEY_LOG_FORMAT").ok().as_deref() {
            Some("json") => Format::Json,
            Some("text") => Format::Text,
            _ if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() => Format::Json,
            _ => Format::Text,
        }
    }
}

/// The process's subscriber: level from `RUST_LOG` (default `info`), lines to standard output.
pub fn init(format: Format) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match format {
        Format::Json => registry.with(JsonLogs::new(std::io::stdout)).try_init(),
        Format::Text => registry
            .with(tracing_subscriber::fmt::layer().with_ansi(false))
            .try_init(),
    };
}

/// A `tracing` layer writing one JSON object per event: `timestamp` (RFC 3339, UTC), `level`,
/// `target`, `message`, the event's fields, and the fields of every enclosing span of this
/// crate (outermost first; the AWS SDK's and the Lambda runtime's own spans are left out).
pub struct JsonLogs<W> {
    make_writer: W,
}

impl<W: Fn() -> O + 'static, O: Write> JsonLogs<W> {
    pub fn new(make_writer: W) -> Self {
        Self { make_writer }
    }
}

/// Lines kept in memory (tests read what was logged).
#[derive(Clone, Default)]
pub struct Captured(pub Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A span's fields as JSON, kept in its extensions.
struct SpanFields(Map<String, Value>);

struct Fields<'a>(&'a mut Map<String, Value>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().to_owned(), Value::from(format!("{value:?}")));
    }
}

fn ours(target: &str) -> bool {
    target == "latchkey" || target.starts_with("latchkey::")
}

impl<S, W, O> Layer<S> for JsonLogs<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: Fn() -> O + 'static,
    O: Write,
{
    fn on_new_span(&self, attrs: &tracing::span::Attributes<'_>, id: &tracing::span::Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        if !ours(span.metadata().target()) {
            return;
        }
        let mut fields = Map::new();
        attrs.record(&mut Fields(&mut fields));
        span.extensions_mut().insert(SpanFields(fields));
    }

    fn on_record(&self, id: &tracing::span::Id, values: &tracing::span::Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(SpanFields(fields)) = extensions.get_mut::<SpanFields>() {
            values.record(&mut Fields(fields));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        let mut line = Map::new();
        let now = time::OffsetDateTime::now_utc();
        let stamp = now
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        line.insert("timestamp".into(), Value::from(stamp));
        line.insert("level".into(), Value::from(meta.level().as_str()));
        line.insert("target".into(), Value::from(meta.target()));
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(SpanFields(fields)) = span.extensions().get::<SpanFields>() {
                    line.extend(fields.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
            }
        }
        event.record(&mut Fields(&mut line));
        let mut text = Value::Object(line).to_string();
        text.push('\n');
        // One write per line, so lines of concurrent requests never interleave.
        let _ = (self.make_writer)().write_all(text.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn a_line_carries_the_request_and_the_connection_it_is_about() {
        let captured = Captured::default();
        let sink = captured.clone();
        let subscriber = tracing_subscriber::registry().with(JsonLogs::new(move || sink.clone()));
        tracing::subscriber::with_default(subscriber, || {
            let ids = RequestIds {
                aws_request_id: Some("aws-1".into()),
                api_request_id: Some("api-1".into()),
                xray_trace_id: None,
            };
            let span = request_span("GET", "/connections/c-1", &ids);
            let _entered = span.enter();
            tracing::info!("before");
            record_connection(Some("github"), Some("c-1"));
            tracing::warn!(status = 502u64, "after");
        });
        let lines: Vec<Value> = captured
            .text()
            .lines()
            .map(|l| serde_json::from_str(l).expect("each line is JSON"))
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["message"], "before");
        assert_eq!(lines[0]["aws_request_id"], "aws-1");
        assert_eq!(lines[0]["api_request_id"], "api-1");
        assert_eq!(lines[0]["path"], "/connections/c-1");
        assert!(lines[0].get("integration").is_none() && lines[0].get("xray_trace_id").is_none());
        assert_eq!(lines[1]["level"], "WARN");
        assert_eq!(lines[1]["integration"], "github");
        assert_eq!(lines[1]["connection_id"], "c-1");
        assert_eq!(lines[1]["status"], 502);
        assert!(lines[1]["timestamp"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn spans_of_other_crates_add_nothing() {
        let captured = Captured::default();
        let sink = captured.clone();
        let subscriber = tracing_subscriber::registry().with(JsonLogs::new(move || sink.clone()));
        tracing::subscriber::with_default(subscriber, || {
            let outer = tracing::info_span!(target: "aws_smithy_runtime", "invoke", service = "DynamoDB");
            let _entered = outer.enter();
            tracing::info!("inside");
        });
        let line: Value = serde_json::from_str(captured.text().trim()).unwrap();
        assert!(line.get("service").is_none(), "{line}");
    }
}
