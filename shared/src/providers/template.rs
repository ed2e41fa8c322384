//! `${…}` templates of the catalog: `${connectionConfig.x}`, `${credentials.x}`, `${apiKey}`, …,
//! `${base64(…)}` in headers, and `A || B` fallbacks (use `A` when all its values are present).
//!
//! The rule this module exists for: no value changes a URL beyond the slot its template gives
//! it. Every value is checked against its field's `enum`/`pattern`/`format`, and always against
//! the safe alphabet of where it lands (scheme-and-host prefix, host, path segment, query,
//! header, parameter). A value that fails is refused, never escaped into something else.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, LazyLock, RwLock};

use serde_json::{Map, Value};
use url::Url;

use super::schema::{FieldFormat, FieldSpec, Fields};
use crate::error::{Error, ErrorCode};

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
    /// Top-level secrets: `apiKey`, `accessToken`, `clientId`, `clientSecret`, `refresh_token`, …
    pub secrets: BTreeMap<&'static str, String>,
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

fn is_unreserved(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~')
}

/// A host, or part of one: labels of `[A-Za-z0-9_-]` joined by single dots, optionally `:port`.
fn valid_host_part(v: &str) -> bool {
    let (host, port) = match v.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (v, None),
    };
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.chars().all(|c| c.is_ascii_digit()));
    let host_ok = !host.is_empty()
        && host
            .split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    port_ok && host_ok
}

/// A whole `http(s)://host[:port][/path]` prefix: nothing that re-targets, re-scopes or smuggles.
fn valid_origin(v: &str) -> bool {
    if !v.chars().all(|c| c.is_ascii_graphic()) || v.contains(['%', '\\', '@', '?', '#']) {
        return false;
    }
    match Url::parse(v) {
        Ok(u) => {
            matches!(u.scheme(), "http" | "https")
                && u.host_str().is_some()
                && u.username().is_empty()
                && u.password().is_none()
                && u.query().is_none()
                && u.fragment().is_none()
                && !u.path().split('/').any(|s| s == "." || s == "..")
        }
        Err(_) => false,
    }
}

fn check_format(format: FieldFormat, v: &str) -> bool {
    match format {
        FieldFormat::Hostname => valid_host_part(v) && !v.contains(':'),
        FieldFormat::Uuid => uuid::Uuid::parse_str(v).is_ok() && v.len() == 36,
        FieldFormat::Email => {
            let mut parts = v.split('@');
            let (local, domain) = (parts.next(), parts.next());
            parts.next().is_none()
                && local.is_some_and(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_graphic()))
                && domain.is_some_and(|d| valid_host_part(d) && d.contains('.'))
        }
        FieldFormat::Uri => valid_origin(v.trim_end_matches('/')) || Url::parse(v).is_ok_and(|u| u.scheme() == "https"),
    }
}

/// A field's own constraints from the catalog. Patterns are compiled per check; they are small
/// and the check runs once per connect, not per read.
pub fn check_spec(spec: &FieldSpec, v: &str) -> Result<(), &'static str> {
    if let Some(allowed) = &spec.allowed {
        if !allowed.iter().any(|a| a == v) {
            return Err("it must be one of the values the provider lists");
        }
        return Ok(());
    }
    if let Some(pattern) = &spec.pattern {
        let re = cached_pattern(pattern).ok_or("the provider's pattern cannot be evaluated")?;
        if !re.is_match(v).unwrap_or(false) {
            return Err("it does not match the provider's pattern");
        }
    }
    if let Some(format) = spec.format {
        if !check_format(format, v) {
            return Err(match format {
                FieldFormat::Hostname => "it must be a host name",
                FieldFormat::Uuid => "it must be a UUID",
                FieldFormat::Email => "it must be an email address",
                FieldFormat::Uri => "it must be an https URL",
            });
        }
    }
    Ok(())
}

pub fn compile_pattern(pattern: &str) -> Result<fancy_regex::Regex, Box<fancy_regex::Error>> {
    fancy_regex::Regex::new(pattern).map_err(Box::new)
}

/// Compiled field patterns, by pattern text. Patterns come only from the embedded catalog
/// (a few hundred distinct ones), so the cache is bounded; compiling costs far more than a match.
fn cached_pattern(pattern: &str) -> Option<Arc<fancy_regex::Regex>> {
    static CACHE: LazyLock<RwLock<HashMap<String, Arc<fancy_regex::Regex>>>> = LazyLock::new(Default::default);
    if let Some(re) = CACHE.read().ok()?.get(pattern) {
        return Some(re.clone());
    }
    let re = Arc::new(compile_pattern(pattern).ok()?);
    CACHE.write().ok()?.insert(pattern.to_owned(), re.clone());
    Some(re)
}

/// The safe alphabet of a slot. Returns the text to insert (query secrets are escaped).
fn check_slot(slot: Slot, source: Source, v: &str) -> Result<String, &'static str> {
    let no_controls = || !v.chars().any(char::is_control);
    match slot {
        Slot::Origin if valid_origin(v) => Ok(v.trim_end_matches('/').to_owned()),
        Slot::Origin => Err("it must be an http(s) URL without user info, query or fragment"),
        Slot::Host if valid_host_part(v) => Ok(v.to_owned()),
        Slot::Host => Err("only letters, digits, '-', '_' and single dots may form a host name"),
        Slot::Path | Slot::Fragment if !v.is_empty() && v != "." && v != ".." && v.chars().all(is_unreserved) => {
            Ok(v.to_owned())
        }
        Slot::Path | Slot::Fragment => Err("only letters, digits, '-', '.', '_' and '~' may form a URL path segment"),
        Slot::Query if source == Source::Secret && no_controls() => {
            Ok(percent_encoding::utf8_percent_encode(v, QUERY_VALUE).to_string())
        }
        Slot::Query if v != "." && v != ".." && v.chars().all(is_unreserved) => Ok(v.to_owned()),
        Slot::Query => Err("only letters, digits, '-', '.', '_' and '~' may go into a query value"),
        Slot::Header if v.chars().all(|c| c == ' ' || c.is_ascii_graphic()) => Ok(v.to_owned()),
        Slot::Header => Err("header values may hold printable ASCII only"),
        Slot::Param if no_controls() => Ok(v.to_owned()),
        Slot::Param => Err("control characters are not allowed"),
    }
}

const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Checks one value for one slot: the field's own constraints, then the slot's alphabet.
fn admit(name: &str, found: &Lookup<'_>, slot: Slot) -> Result<String, TemplateError> {
    let invalid = |reason| TemplateError::Invalid {
        field: name.to_owned(),
        reason,
        secret: found.source == Source::Secret,
    };
    if let Some(spec) = found.spec {
        check_spec(spec, &found.value).map_err(invalid)?;
    }
    check_slot(slot, found.source, &found.value).map_err(invalid)
}

fn present(tokens: &[Token], vars: &Vars<'_>) -> Result<(), String> {
    let mut names = Vec::new();
    vars_of(tokens, &mut names);
    for n in names {
        if vars.lookup(&n).is_none_or(|l| l.value.is_empty()) {
            return Err(n);
        }
    }
    Ok(())
}

/// Renders tokens; the names of the variables that landed in a URL's scheme-and-host or host
/// slot are added to `hosts`: they say who chose the host.
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
                let found = vars.lookup(name).filter(|l| !l.value.is_empty()).ok_or_else(|| {
                    if is_builtin(name) {
                        TemplateError::Unsupported(format!("${{{name}}}"))
                    } else {
                        TemplateError::Missing(name.clone())
                    }
                })?;
                let slot = slot_of(&out);
                if matches!(slot, Slot::Origin | Slot::Host) {
                    hosts.push(name.clone());
                }
                out.push_str(&admit(name, &found, slot)?);
            }
            Token::Func(f, args) if f == "base64" && slot_of("") == Slot::Header => {
                use base64::Engine;
                let inner = render_tokens(args, vars, slot_of, hosts)?;
                out.push_str(&base64::engine::general_purpose::STANDARD.encode(inner));
            }
            Token::Func(f, _) => return Err(TemplateError::Unsupported(format!("{f}(…)"))),
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
    let name = first_missing.unwrap_or_default();
    Err(if is_builtin(&name) {
        TemplateError::Unsupported(format!("${{{name}}}"))
    } else {
        TemplateError::Missing(name)
    })
}

/// Values computed at request time (`${now:…}`, `${random}`, request parts used by signing
/// schemes): not evaluated yet.
fn is_builtin(name: &str) -> bool {
    name == "now"
        || name.starts_with("now:")
        || name.starts_with("now+")
        || matches!(
            name,
            "random" | "method" | "path" | "host" | "endpoint" | "params" | "bodyCanonicalParams"
        )
        || name.starts_with("step")
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
