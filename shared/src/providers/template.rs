//! `${…}` templates of the catalog: `${connectionConfig.x}`, `${credentials.x}`, `${apiKey}`, …,
//! the values of a request being made (`${now…}` in `now`, `${random}`, `${stepN.x}` from an
//! earlier step's answer, `${method}`/`${host}`/`${path}`/`${params}`/`${endpoint}`/
//! `${bodyCanonicalParams}` of the request being signed), helpers that nest (`helpers`:
//! `${sha256Hex(${base64(…)})}`, `awsSigV4`, …), and `A || B` fallbacks (use `A` when all its
//! values are present).
//!
//! The rule this module exists for: no value changes a URL beyond the slot its template gives
//! it. Every value is checked against its field's `enum`/`pattern`/`format`, and always against
//! the safe alphabet of where it lands (scheme-and-host prefix, host, path segment, query,
//! header, parameter). A value that fails is refused, never escaped into something else.

pub mod aws_sigv4;
mod checks;
pub mod helpers;
pub mod now;
mod request;

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use url::Url;

use super::schema::{FieldSpec, Fields};
use crate::error::{Error, ErrorCode};
use checks::{check_slot, QUERY_VALUE};
pub use checks::{check_spec, compile_pattern};
pub use request::{Moment, RequestParts};

/// Where a value lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// The template starts with the value: it must be a whole `http(s)://host[/path]`.
    Origin,
    Host,
    Path,
    Query,
    Fragment,
    Header,
    Param,
}

/// Where a value came from: decides the error code and whether a query slot may escape it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Config,
    Secret,
    /// A provider's answer to an earlier step (`${stepN.x}`).
    Provider,
    /// Computed by Latchkey: the moment, a random value, a helper's output, a request part.
    Computed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    /// A value the template needs is absent. Holds the variable name (`connectionConfig.subdomain`).
    Missing(String),
    /// A value is present but may not go where the template puts it.
    Invalid {
        field: String,
        reason: &'static str,
        secret: bool,
    },
    /// The template uses something Latchkey does not evaluate yet (`${now}`, signing helpers).
    Unsupported(String),
    /// The rendered text is not an http(s) URL with a host.
    NotAUrl,
}

impl TemplateError {
    pub fn into_error(self, what: &str) -> Error {
        match self {
            TemplateError::Missing(var) => {
                let (kind, field) = split_var(&var);
                let code = if kind == "connectionConfig" {
                    ErrorCode::MissingConnectionConfig
                } else {
                    ErrorCode::InvalidCredentials
                };
                Error::invalid(
                    code,
                    format!("{what} needs '{field}' ({}), which was not given.", describe(kind)),
                )
            }
            TemplateError::Invalid { field, reason, secret } => {
                let (kind, name) = split_var(&field);
                let code = if secret {
                    ErrorCode::InvalidCredentials
                } else {
                    ErrorCode::InvalidConnectionConfig
                };
                Error::invalid(code, format!("{} '{name}' is not valid: {reason}.", describe(kind)))
            }
            TemplateError::Unsupported(what_) => Error::invalid(
                ErrorCode::UnsupportedProviderTemplate,
                format!("{what} uses '{what_}', which Latchkey does not support yet."),
            ),
            TemplateError::NotAUrl => Error::invalid(
                ErrorCode::InvalidConnectionConfig,
                format!("{what} does not render to an http(s) URL."),
            ),
        }
    }
}

fn split_var(var: &str) -> (&str, &str) {
    match var.split_once('.') {
        Some((k, f)) if k == "connectionConfig" || k == "credentials" => (k, f),
        _ => ("", var),
    }
}

fn describe(kind: &str) -> &'static str {
    match kind {
        "connectionConfig" => "connection config",
        "credentials" => "credential",
        _ => "value",
    }
}

/// The values a template may read, with the field specs that constrain them.
#[derive(Default, Clone)]
pub struct Vars<'a> {
    pub connection_config: Option<&'a Map<String, Value>>,
    pub config_specs: Option<&'a Fields>,
    /// `credentials.x` values.
    pub credentials: BTreeMap<String, String>,
    pub credential_specs: Option<&'a Fields>,
    /// Top-level secrets: `apiKey`, `accessToken`, `clientId`, `clientSecret`, `refresh_token`,
    /// `token` (a signed assertion), …
    pub secrets: BTreeMap<&'static str, String>,
    /// `assertionOption.x` values (a key an assertion is signed with).
    pub assertion_options: BTreeMap<String, String>,
    /// The answers of the earlier steps of a multi-step request: `${stepN.x}` reads `steps[N-1]`.
    pub steps: Vec<Map<String, Value>>,
    /// The request being signed, for `${method}`, `${path}`, … and `awsSigV4`.
    pub request: Option<RequestParts>,
    /// The moment and random value of the request: every template rendered with these vars
    /// (every header of one request) sees the same ones.
    pub moment: Moment,
}

struct Lookup<'s> {
    value: String,
    spec: Option<&'s FieldSpec>,
    source: Source,
}

fn config_value(config: &Map<String, Value>, key: &str) -> Option<String> {
    let found = config.get(key).or_else(|| {
        // Dotted names (`installation.uuid`) may also be nested objects.
        let mut parts = key.split('.');
        let mut cur = config.get(parts.next()?)?;
        for p in parts {
            cur = cur.get(p)?;
        }
        Some(cur)
    })?;
    match found {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl<'a> Vars<'a> {
    pub fn config(config: &'a Map<String, Value>, specs: Option<&'a Fields>) -> Self {
        Self {
            connection_config: Some(config),
            config_specs: specs,
            ..Default::default()
        }
    }

    fn lookup(&self, name: &str) -> Option<Lookup<'a>> {
        if let Some(key) = name.strip_prefix("connectionConfig.") {
            let value = config_value(self.connection_config?, key)?;
            return Some(Lookup {
                value,
                spec: self.config_specs.and_then(|s| s.get(key)),
                source: Source::Config,
            });
        }
        if let Some(key) = name.strip_prefix("credentials.") {
            return Some(Lookup {
                value: self.credentials.get(key)?.clone(),
                spec: self.credential_specs.and_then(|s| s.get(key)),
                source: Source::Secret,
            });
        }
        if let Some(key) = name.strip_prefix("assertionOption.") {
            return Some(Lookup {
                value: self.assertion_options.get(key)?.clone(),
                spec: None,
                source: Source::Secret,
            });
        }
        let computed = |value: String| Lookup {
            value,
            spec: None,
            source: Source::Computed,
        };
        if now::is_now(name) {
            return now::render(name, self.moment.now()).ok().map(computed);
        }
        if name == "random" {
            return Some(computed(self.moment.random().to_owned()));
        }
        if let Some(found) = self.request.as_ref().and_then(|r| r.part(name)) {
            return Some(computed(found));
        }
        if let Some((n, path)) = step_var(name) {
            let answer = self.steps.get(n.checked_sub(1)?)?;
            return Some(Lookup {
                value: config_value(answer, path)?,
                spec: None,
                source: Source::Provider,
            });
        }
        let value = self.secrets.get(name)?.clone();
        let spec = match name {
            "apiKey" => self.credential_specs.and_then(|s| s.get("apiKey")),
            _ => None,
        };
        Some(Lookup {
            value,
            spec,
            source: Source::Secret,
        })
    }
}

/// `stepN.path` → (N, path).
fn step_var(name: &str) -> Option<(usize, &str)> {
    let rest = name.strip_prefix("step")?;
    let (n, path) = rest.split_once('.')?;
    Some((n.parse().ok()?, path))
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Lit(String),
    Var(String),
    Func(String, Vec<Token>),
}

/// Splits a template into literals and placeholders; `${` nests (`${base64(${a}:${b})}`).
fn parse(template: &str) -> Result<Vec<Token>, TemplateError> {
    let mut tokens = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        if start > 0 {
            tokens.push(Token::Lit(rest[..start].to_owned()));
        }
        let body_start = start + 2;
        let bytes = rest.as_bytes();
        let mut depth = 1;
        let mut i = body_start;
        while i < bytes.len() && depth > 0 {
            if bytes[i] == b'$' && bytes.get(i + 1) == Some(&b'{') {
                depth += 1;
                i += 2;
                continue;
            }
            if bytes[i] == b'}' {
                depth -= 1;
            }
            i += 1;
        }
        if depth != 0 {
            return Err(TemplateError::Unsupported("an unclosed ${".into()));
        }
        let inner = rest[body_start..i - 1].trim();
        let is_func = inner
            .find('(')
            .filter(|&p| inner.ends_with(')') && p > 0 && inner[..p].chars().all(|c| c.is_ascii_alphanumeric()));
        match is_func {
            Some(p) => tokens.push(Token::Func(
                inner[..p].to_owned(),
                parse(&inner[p + 1..inner.len() - 1])?,
            )),
            None => tokens.push(Token::Var(inner.to_owned())),
        }
        rest = &rest[i..];
    }
    if !rest.is_empty() {
        tokens.push(Token::Lit(rest.to_owned()));
    }
    Ok(tokens)
}

fn vars_of(tokens: &[Token], out: &mut Vec<String>) {
    for t in tokens {
        match t {
            Token::Var(v) => out.push(v.clone()),
            Token::Func(_, args) => vars_of(args, out),
            Token::Lit(_) => {}
        }
    }
}

/// The variable names a template reads, across all alternatives.
pub fn variables(template: &str) -> Vec<String> {
    let mut out = Vec::new();
    for alt in template.split("||") {
        if let Ok(tokens) = parse(alt.trim()) {
            vars_of(&tokens, &mut out);
        }
    }
    out
}

fn url_slot(before: &str) -> Slot {
    if before.is_empty() {
        return Slot::Origin;
    }
    let after_scheme = match before.find("://") {
        Some(i) => &before[i + 3..],
        None => return if before.contains('?') { Slot::Query } else { Slot::Path },
    };
    if after_scheme.contains('#') {
        Slot::Fragment
    } else if after_scheme.contains('?') {
        Slot::Query
    } else if after_scheme.contains('/') {
        Slot::Path
    } else {
        Slot::Host
    }
}

/// Checks one value for one slot: the field's own constraints, then the slot's alphabet.
fn admit(name: &str, found: &Lookup<'_>, slot: Slot) -> Result<String, TemplateError> {
    let invalid = |reason| match found.source {
        // Latchkey's own value does not fit where the template puts it: the template's fault.
        Source::Computed => TemplateError::Unsupported(format!("${{{name}}} in a {slot:?} slot")),
        source => TemplateError::Invalid {
            field: name.to_owned(),
            reason,
            secret: source != Source::Config,
        },
    };
    if let Some(spec) = found.spec {
        check_spec(spec, &found.value).map_err(invalid)?;
    }
    check_slot(slot, found.source, &found.value).map_err(invalid)
}

/// A value for the template: present, and not empty unless Latchkey computed it (an empty
/// request body is a body).
fn value_of<'a>(vars: &Vars<'a>, name: &str) -> Option<Lookup<'a>> {
    vars.lookup(name)
        .filter(|l| !l.value.is_empty() || l.source == Source::Computed)
}

fn absent(name: &str) -> TemplateError {
    if is_builtin(name) {
        TemplateError::Unsupported(format!("${{{name}}}"))
    } else {
        TemplateError::Missing(name.to_owned())
    }
}

fn present(tokens: &[Token], vars: &Vars<'_>) -> Result<(), String> {
    let mut names = Vec::new();
    vars_of(tokens, &mut names);
    for n in names {
        if value_of(vars, &n).is_none() {
            return Err(n);
        }
    }
    Ok(())
}

/// A helper's arguments, split at the `, ` of its literal text (never inside a value or a
/// nested `${…}`): all of them, only the last (a message, then a key), or none.
fn split_args(name: &str, tokens: &[Token]) -> Vec<Vec<Token>> {
    let mut args: Vec<Vec<Token>> = vec![Vec::new()];
    for t in tokens {
        match t {
            Token::Lit(text) => {
                let pieces: Vec<&str> = text.split(", ").collect();
                for (i, piece) in pieces.iter().enumerate() {
                    if i > 0 {
                        args.push(Vec::new());
                    }
                    if !piece.is_empty() {
                        args.last_mut()
                            .expect("never empty")
                            .push(Token::Lit((*piece).to_owned()));
                    }
                }
            }
            other => args.last_mut().expect("never empty").push(other.clone()),
        }
    }
    let join = |parts: &[Vec<Token>]| -> Vec<Token> {
        let mut out = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                out.push(Token::Lit(", ".into()));
            }
            out.extend(part.iter().cloned());
        }
        out
    };
    match name {
        "awsSigV4" => args,
        "hmacSha1Hex" | "ed25519Sign" if args.len() > 2 => {
            let key = args.pop().expect("more than two");
            vec![join(&args), key]
        }
        "hmacSha1Hex" | "ed25519Sign" => args,
        _ => vec![join(&args)],
    }
}

/// Renders tokens; the names of the variables that landed in a URL's scheme-and-host or host
/// slot are added to `hosts`: they say who chose the host. A helper's arguments are rendered
/// as parameters (any text without control characters: nothing of them reaches a URL or a
/// header but the helper's output), and its output is checked for the slot it lands in.
fn render_tokens(
    tokens: &[Token],
    vars: &Vars<'_>,
    slot_of: &dyn Fn(&str) -> Slot,
    hosts: &mut Vec<String>,
) -> Result<String, TemplateError> {
    let mut out = String::new();
    for t in tokens {
        match t {
            Token::Lit(s) => out.push_str(s),
            Token::Var(name) => {
                let found = value_of(vars, name).ok_or_else(|| absent(name))?;
                let slot = slot_of(&out);
                if matches!(slot, Slot::Origin | Slot::Host) {
                    hosts.push(name.clone());
                }
                out.push_str(&admit(name, &found, slot)?);
            }
            Token::Func(f, args) => {
                let slot = slot_of(&out);
                if matches!(slot, Slot::Origin | Slot::Host) {
                    vars_of(args, hosts);
                }
                let rendered = split_args(f, args)
                    .iter()
                    .map(|arg| render_tokens(arg, vars, &|_| Slot::Param, &mut Vec::new()))
                    .collect::<Result<Vec<_>, _>>()?;
                let amz_date = now::format(vars.moment.now(), "YYYYMMDDTHHmmss[Z]");
                let value = helpers::call(f, rendered, vars.request.as_ref(), &amz_date)?;
                let found = Lookup {
                    value,
                    spec: None,
                    source: Source::Computed,
                };
                out.push_str(&admit(&format!("{f}(…)"), &found, slot)?);
            }
        }
    }
    Ok(out)
}

/// Picks the first alternative whose values are all present (`A || B`).
fn choose(template: &str, vars: &Vars<'_>) -> Result<Vec<Token>, TemplateError> {
    let mut first_missing = None;
    for alt in template.split("||") {
        let tokens = parse(alt.trim())?;
        match present(&tokens, vars) {
            Ok(()) => return Ok(tokens),
            Err(name) => {
                first_missing.get_or_insert(name);
            }
        }
    }
    Err(absent(&first_missing.unwrap_or_default()))
}

/// Values only a request being sent has (its parts, for signing schemes): where none is being
/// sent (an authorization URL, a connect-time check), a template that needs them is not
/// supported there.
fn is_builtin(name: &str) -> bool {
    now::is_now(name)
        || matches!(
            name,
            "random" | "method" | "path" | "host" | "endpoint" | "params" | "bodyCanonicalParams"
        )
}

/// A rendered URL, with the variables that filled its host (`connectionConfig.subdomain`),
/// none when the template fixes the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedUrl {
    pub url: Url,
    pub host_from: Vec<String>,
}

/// Renders a URL template and parses the result.
pub fn render_url(template: &str, vars: &Vars<'_>) -> Result<Url, TemplateError> {
    render_url_traced(template, vars).map(|r| r.url)
}

/// `render_url`, saying which variables chose the host.
pub fn render_url_traced(template: &str, vars: &Vars<'_>) -> Result<RenderedUrl, TemplateError> {
    let tokens = choose(template, vars)?;
    let mut host_from = Vec::new();
    let text = render_tokens(&tokens, vars, &url_slot, &mut host_from)?;
    let url = Url::parse(&text).map_err(|_| TemplateError::NotAUrl)?;
    if !matches!(url.scheme(), "http" | "https")
        || url.host_str().is_none()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(TemplateError::NotAUrl);
    }
    Ok(RenderedUrl { url, host_from })
}

/// Renders a header value or a request parameter.
pub fn render_text(template: &str, vars: &Vars<'_>, slot: Slot) -> Result<String, TemplateError> {
    let tokens = choose(template, vars)?;
    render_tokens(&tokens, vars, &|_| slot, &mut Vec::new())
}

/// A JSON parameter value as text: strings verbatim, other scalars in JSON form.
pub fn param_text(v: &Value) -> String {
    v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())
}

#[cfg(test)]
mod tests;
