//! A two-step token request as the catalog describes it: step 1 is the entry's own
//! `token_url`/`token_request_method`/`token_headers`/`token_params`/`body_format`, each of
//! `additional_steps` another request that may read earlier answers (`${stepN.x}`, N from 1),
//! and the last answer holds the token (`token_response`). Each step's URL is a `Target`
//! checked before anything is sent; a host named in an answer is chosen by whoever chose the
//! host that answered (an answer from the catalog's host is the provider's word; an answer from
//! a host the end user named is the end user's).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::body;
use crate::auth::ModeContext;
use crate::error::{Error, ErrorCode};
use crate::outbound::{HostChoice, Method, Reply, Request, Target};
use crate::providers::schema::{BodyFormat, Provider};
use crate::providers::template::{render_url_traced, RenderedUrl, RequestParts, Slot, TemplateError, Vars};

/// One request of the chain.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub token_url: String,
    #[serde(default)]
    pub token_request_method: Option<String>,
    #[serde(default)]
    pub token_headers: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub token_params: Option<Map<String, Value>>,
    #[serde(default)]
    pub body_format: Option<BodyFormat>,
}

/// The entry's steps: its own request, then `additional_steps`.
pub fn of(p: &Provider) -> Result<Vec<Step>, Error> {
    let first = Step {
        token_url: p.token_url_for(p.auth_mode).unwrap_or_default().to_owned(),
        token_request_method: p.token_request_method.clone(),
        token_headers: p.token_headers.clone(),
        token_params: p.token_params.clone(),
        body_format: p.body_format,
    };
    let more: Vec<Step> = match &p.additional_steps {
        None => Vec::new(),
        Some(v) => serde_json::from_value(v.clone()).map_err(|_| {
            Error::invalid(
                ErrorCode::UnsupportedProviderTemplate,
                format!("Provider '{}' has additional steps Latchkey cannot read.", p.name),
            )
        })?,
    };
    Ok(std::iter::once(first).chain(more).collect())
}

/// What a run of the steps answered last.
pub struct Answer {
    pub reply: Reply,
    /// Its body as fields (JSON, XML or form), empty for a bare token.
    pub fields: Map<String, Value>,
    /// Every answer's fields, in order (for `token_response_metadata`).
    pub all: Vec<Map<String, Value>>,
}

/// The end user is told one thing whatever the provider answered; the operator's activity
/// entry has the step and the status.
pub const NOT_ISSUED: &str = "The provider did not issue a token for these credentials.";

pub fn not_issued(transient: bool, detail: String) -> Error {
    Error::provider(transient, ErrorCode::ConnectionTestFailed, NOT_ISSUED).with_detail(detail)
}

/// A template failure: the end user's value (refused, or a required one missing), or an
/// answer of the provider that lacks what the next step needs.
pub fn template_failure(e: TemplateError, what: &str) -> Error {
    let from_answer = |name: &str| name.starts_with("step");
    match &e {
        TemplateError::Missing(name) | TemplateError::Invalid { field: name, .. } if from_answer(name) => {
            not_issued(false, format!("the provider's answer has no usable '{name}'"))
        }
        _ => e.into_error(what),
    }
}

/// Who chose a step URL's host: the end user when any value they gave filled it (or the
/// answer of a host they chose), else the least trusted of the others.
fn chooser(cx: &ModeContext<'_>, rendered: RenderedUrl, answered_by: &[HostChoice]) -> Target {
    let (from_steps, others): (Vec<String>, Vec<String>) =
        rendered.host_from.iter().cloned().partition(|v| v.starts_with("step"));
    let base = crate::auth::target_of(
        cx.integration,
        cx.vouched_config,
        RenderedUrl {
            url: rendered.url.clone(),
            host_from: others.clone(),
        },
    );
    let inherited = from_steps.iter().filter_map(|v| {
        let n: usize = v.strip_prefix("step")?.split('.').next()?.parse().ok()?;
        answered_by.get(n.checked_sub(1)?)
    });
    let mut choice = if others.is_empty() && !from_steps.is_empty() {
        HostChoice::Catalog
    } else {
        base.chosen_by().clone()
    };
    for c in inherited {
        choice = match (&choice, c) {
            (HostChoice::EndUser { .. }, _) => choice,
            (_, end_user @ HostChoice::EndUser { .. }) => end_user.clone(),
            (HostChoice::Catalog, other) => other.clone(),
            (mine, _) => mine.clone(),
        };
    }
    Target::new(rendered.url, choice)
}

/// Renders a header or parameter; `None` when it needs an optional value the end user left out.
pub type RenderOptional<'a> = dyn Fn(&str, &Vars<'_>, Slot) -> Result<Option<String>, TemplateError> + Send + Sync + 'a;

/// Runs `steps` with `vars`; step 1 goes to `first_url` when the operator set one.
pub async fn run(
    cx: &ModeContext<'_>,
    steps: &[Step],
    vars: &mut Vars<'_>,
    first_url: Option<Target>,
    render: &RenderOptional<'_>,
    what: &str,
) -> Result<Answer, Error> {
    let mut answered_by: Vec<HostChoice> = Vec::new();
    let mut all = Vec::new();
    let mut last = None;
    for (i, step) in steps.iter().enumerate() {
        let target = match (&first_url, i) {
            (Some(operator), 0) => operator.clone(),
            _ => {
                let rendered = render_url_traced(&step.token_url, vars).map_err(|e| template_failure(e, what))?;
                chooser(cx, rendered, &answered_by)
            }
        };
        // Before any credential is put into a request: the host must be one the integration allows.
        target
            .check()
            .map_err(|e| e.into_error(ErrorCode::ConnectionTestFailed, NOT_ISSUED))?;
        let method = match step.token_request_method.as_deref() {
            Some(m) if m.eq_ignore_ascii_case("GET") => Method::GET,
            _ => Method::POST,
        };
        let params = body::render_params(step.token_params.as_ref().unwrap_or(&Map::new()), &|t| {
            render(t, vars, Slot::Param)
        })
        .map_err(|e| template_failure(e, what))?;
        let mut url = target.url().clone();
        let content_type = step
            .token_headers
            .iter()
            .flatten()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            .map(|(_, v)| v.as_str());
        let format = body::format_of(step.body_format, content_type);
        let body = match (method == Method::GET, format) {
            (true, _) | (false, BodyFormat::Query) => {
                if !params.is_empty() {
                    url.query_pairs_mut().extend_pairs(body::pairs(&params));
                }
                None
            }
            (false, BodyFormat::Form) => Some((
                form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(body::pairs(&params))
                    .finish(),
                "application/x-www-form-urlencoded",
            )),
            (false, BodyFormat::Xml) => Some((body::xml(&params), "application/xml")),
            (false, BodyFormat::Json) => Some((Value::Object(params).to_string(), "application/json")),
        };
        let bytes = body.as_ref().map(|(b, _)| b.as_bytes()).unwrap_or_default();
        let header_vars = Vars {
            request: Some(RequestParts::of(method.as_str(), &url, bytes)),
            ..vars.clone()
        };
        let mut request = Request::new(method, target.with_url(url)).header("accept", "application/json");
        if let Some((text, kind)) = &body {
            request.body = text.clone().into_bytes();
            request = request.header("content-type", *kind);
        }
        for (k, v) in step.token_headers.iter().flatten() {
            if let Some(value) = render(v, &header_vars, Slot::Header).map_err(|e| template_failure(e, what))? {
                request = request.header(k, value);
            }
        }
        let reply = cx.state.outbound.send(request).await.map_err(|e| {
            if e.is_refused_host() {
                e.into_error(ErrorCode::ConnectionTestFailed, NOT_ISSUED)
            } else {
                not_issued(e.is_transient(), format!("step {}: {e}", i + 1))
            }
        })?;
        if !reply.is_success() {
            let status = reply.status;
            return Err(not_issued(
                status >= 500 || status == 429,
                format!("step {} answered HTTP {status}", i + 1),
            ));
        }
        let fields = body::parse_answer(&reply.body).unwrap_or_default();
        vars.steps.push(fields.clone());
        all.push(fields.clone());
        answered_by.push(target.chosen_by().clone());
        last = Some((reply, fields));
    }
    let (reply, fields) = last.ok_or_else(|| not_issued(false, "the provider has no token request".into()))?;
    Ok(Answer { reply, fields, all })
}
