//! The allowed hosts a provider's templates imply, for integrations whose operator set none.
//! Where a template fixes the domain and leaves labels to the end user
//! (`https://${connectionConfig.subdomain}.zendesk.com/…`), the default admits that shape and
//! nothing else: each variable label becomes `*`, exactly one label (`*.zendesk.com`). Where a
//! template hands the end user the whole host (`https://${connectionConfig.hostname}/…`) or the
//! whole URL (`${connectionConfig.instance_url}`), or leaves fewer than two fixed labels
//! (`api.${connectionConfig.domain}.com`), it implies none: the operator decides
//! (`allowed_hosts`). Domains where anyone can publish a page under a subdomain of their own
//! (cloud hosting) never get a default: a default there would admit a stranger's server.

use std::collections::HashMap;
use std::sync::{LazyLock, RwLock};

use super::schema::Provider;
use super::{provider, templates};
use crate::domain::HostPattern;

/// Hosting domains (the last two labels) where anyone can serve content at a subdomain.
const SHARED_HOSTING: &[&str] = &[
    "amazonaws.com",
    "on.aws",
    "cloudfront.net",
    "windows.net",
    "azurewebsites.net",
    "cloudapp.net",
    "appspot.com",
    "googleusercontent.com",
    "run.app",
    "web.app",
    "firebaseapp.com",
    "herokuapp.com",
    "vercel.app",
    "netlify.app",
    "github.io",
    "pages.dev",
    "workers.dev",
    "ngrok.io",
    "ngrok-free.app",
    "onrender.com",
    "fly.dev",
];

/// The host part of one URL template alternative: `None` when a variable starts the URL (the
/// end user gives scheme and host) or the text is not an absolute URL.
fn host_part(template: &str) -> Option<&str> {
    let rest = template.strip_prefix("https://").or(template.strip_prefix("http://"))?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let host = &rest[..end];
    // A literal `:port` after the host is not part of it.
    Some(match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    })
}

/// The pattern one host template implies: `Some(None)` for a fixed host (no end-user value in
/// it), `Some(Some(p))` for a shape with a fixed domain, `None` when the end user chooses.
fn pattern_of(host: &str) -> Option<Option<HostPattern>> {
    if !host.contains("${") {
        return Some(None);
    }
    // Variable names have dots of their own (`connectionConfig.subdomain`): mark them first.
    let mut marked = String::new();
    let mut rest = host;
    while let Some(start) = rest.find("${") {
        marked.push_str(&rest[..start]);
        marked.push('\0');
        rest = rest[start..].find('}').map_or("", |end| &rest[start + end + 1..]);
    }
    marked.push_str(rest);
    let labels: Vec<&str> = marked
        .split('.')
        .map(|l| if l.contains('\0') { "*" } else { l })
        .collect();
    if labels.first() == Some(&"*") && labels.len() == 1 {
        return None;
    }
    let domain = labels[labels.len().saturating_sub(2)..].join(".");
    if SHARED_HOSTING.contains(&domain.as_str()) {
        return None;
    }
    HostPattern::from_labels(&labels).map(Some)
}

/// The default allowed hosts of one catalog entry, from all of its URL templates.
pub fn implied_by(p: &Provider) -> Vec<HostPattern> {
    let mut out: Vec<HostPattern> = Vec::new();
    for (_, template, is_url) in templates(p) {
        if !is_url {
            continue;
        }
        for alternative in template.split("||") {
            let implied = host_part(alternative.trim()).and_then(pattern_of).flatten();
            if let Some(pattern) = implied.filter(|p| !out.contains(p)) {
                out.push(pattern);
            }
        }
    }
    out
}

/// The default allowed hosts of a provider (none for `custom-oauth2` or an unknown name).
/// Computed once per entry and kept: the catalog is fixed, so the cache is bounded by it.
pub fn default_allowed_hosts(provider_name: &str) -> Vec<HostPattern> {
    static CACHE: LazyLock<RwLock<HashMap<String, Vec<HostPattern>>>> = LazyLock::new(Default::default);
    let Some(p) = provider(provider_name) else {
        return Vec::new();
    };
    if let Some(found) = CACHE.read().ok().and_then(|c| c.get(&p.name).cloned()) {
        return found;
    }
    let implied = implied_by(p);
    if let Ok(mut cache) = CACHE.write() {
        cache.insert(p.name.clone(), implied.clone());
    }
    implied
}

/// Whether some template of the entry lets an end user's value fill a host.
pub fn takes_hosts_from_end_users(p: &Provider) -> bool {
    templates(p).iter().filter(|(_, _, is_url)| *is_url).any(|(_, t, _)| {
        t.split("||").any(|alt| {
            let alt = alt.trim();
            alt.starts_with("${") || host_part(alt).is_some_and(|h| h.contains("${"))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::catalog;

    fn defaults(name: &str) -> Vec<String> {
        default_allowed_hosts(name).iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn a_fixed_domain_becomes_a_default_and_a_whole_host_does_not() {
        assert_eq!(defaults("zendesk"), ["*.zendesk.com"]);
        assert_eq!(
            defaults("okta-cc"),
            ["*.okta.com"],
            "hostname || subdomain: the second shape"
        );
        assert_eq!(defaults("aws"), ["*.auth.*.amazoncognito.com"]);
        assert_eq!(
            defaults("commercetools"),
            ["auth.*.*.commercetools.com", "api.*.*.commercetools.com"]
        );
        assert!(defaults("canvas-lms").is_empty(), "https://${{hostname}}/…");
        assert!(defaults("acumatica").is_empty());
        assert!(
            defaults("salesforce").is_empty(),
            "an optional whole host, and login.salesforce.com"
        );
        assert!(
            defaults("perimeter81").is_empty(),
            "api.${{domain}}.com leaves one fixed label"
        );
        assert!(defaults("metabase").is_empty());
        assert!(
            defaults("aws-multi-service").is_empty(),
            "amazonaws.com hosts anyone's content"
        );
        assert!(
            defaults("azure-blob-storage").is_empty(),
            "so does blob.core.windows.net"
        );
        assert!(defaults("github").is_empty(), "fixed hosts need no pattern");
        assert!(defaults("custom-oauth2").is_empty());
    }

    /// What the catalog's templates imply, counted: of the entries whose templates take a host
    /// from an end user, how many are covered by defaults for every such template, for some of
    /// them (`hostname || subdomain`), or need the operator's `allowed_hosts` for all.
    #[test]
    fn the_catalog_splits_into_defaults_and_operator_choices() {
        let taking: Vec<&Provider> = catalog()
            .providers()
            .filter(|p| takes_hosts_from_end_users(p))
            .collect();
        let operator_shape = |p: &Provider| {
            templates(p).iter().filter(|(_, _, u)| *u).any(|(_, t, _)| {
                t.split("||")
                    .any(|a| host_part(a.trim()).is_none_or(|h| pattern_of(h).is_none()))
            })
        };
        let (mut fully, mut partly, mut operator_only) = (0, 0, 0);
        for p in &taking {
            match (!implied_by(p).is_empty(), operator_shape(p)) {
                (true, false) => fully += 1,
                (true, true) => partly += 1,
                (false, _) => operator_only += 1,
            }
        }
        assert_eq!(
            (catalog().len(), taking.len(), fully, partly, operator_only),
            (978, 321, 122, 13, 186),
            "entries; taking a host from an end user; covered by defaults fully, partly; operator only"
        );
    }
}
