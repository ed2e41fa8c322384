//! The alphabet of each slot a value may land in, and a catalog field's own constraints
//! (`enum`, `pattern`, `format`). A value that fails is refused, never escaped into something
//! else — except a secret in a query value, which is percent-encoded whole.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};

use url::Url;

use super::{Slot, Source};
use crate::providers::schema::{FieldFormat, FieldSpec};

pub(super) fn is_unreserved(c: char) -> bool {
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
pub(super) fn check_slot(slot: Slot, source: Source, v: &str) -> Result<String, &'static str> {
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
        Slot::Query if source != Source::Config && no_controls() => {
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

pub(super) const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
