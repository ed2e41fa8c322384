//! Where a connection's auth webhooks go, and the one rule every webhook URL is checked by —
//! when it is set (`PATCH /environment`, a connect session, an import, `PATCH /connections`)
//! and again before each attempt, under the configuration of that moment:
//!
//! - at most 2048 characters, an absolute URL with a host, without user name, password or
//!   fragment;
//! - https; plain http only with the development switch (`--allow-private-addresses`);
//! - the environment's `webhook_url` is the operator's (`HostChoice::Operator`): it may be on a
//!   private network (an in-house receiver);
//! - a connection's `webhook_url_override` is relayed by the team's backend, often for its own
//!   customer (`HostChoice::Relayed`): public addresses only, checked on what is connected to
//!   (and an address written in the URL refused when it is set).

use url::Url;

use crate::error::Error;
use crate::outbound::{HostChoice, Target};
use crate::store::EnvironmentSettings;

pub const MAX_URL_LEN: usize = 2048;

/// Who set a webhook URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The environment's `webhook_url` (the operator).
    Environment,
    /// A connection's `webhook_url_override` (the team's backend).
    Connection,
}

impl Source {
    /// The field that holds it, as callers name it.
    pub fn field(self) -> &'static str {
        match self {
            Source::Environment => "webhook_url",
            Source::Connection => "webhook_url_override",
        }
    }

    /// For activity entries, which never show the URL (its path or query may be a secret).
    pub fn describe(self) -> &'static str {
        match self {
            Source::Environment => "the environment's webhook_url",
            Source::Connection => "the connection's webhook_url_override",
        }
    }
}

/// A webhook URL and who set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Destination<'a> {
    pub url: &'a str,
    pub source: Source,
}

/// Where a connection's webhooks go: its override, else the environment's URL; `None` when
/// neither is set.
pub fn of<'a>(settings: &'a EnvironmentSettings, webhook_url_override: Option<&'a str>) -> Option<Destination<'a>> {
    match (webhook_url_override, settings.webhook_url.as_deref()) {
        (Some(url), _) => Some(Destination {
            url,
            source: Source::Connection,
        }),
        (None, Some(url)) => Some(Destination {
            url,
            source: Source::Environment,
        }),
        (None, None) => None,
    }
}

impl Destination<'_> {
    /// Where an attempt goes, if the URL still passes the rule.
    pub fn target(&self, allow_private: bool) -> Result<Target, Error> {
        target(self.url, self.source, allow_private)
    }
}

/// The rule (module doc): the URL as a request target, or `invalid_body` naming the field.
pub fn target(raw: &str, source: Source, allow_private: bool) -> Result<Target, Error> {
    let field = source.field();
    let bad = |why: &str| Error::invalid_body(format!("{field} {why}."));
    if raw.len() > MAX_URL_LEN {
        return Err(bad(&format!("is longer than {MAX_URL_LEN} characters")));
    }
    let url = Url::parse(raw.trim()).map_err(|_| bad("is not an absolute URL"))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        "http" => {
            return Err(bad(
                "must use https (plain http only on a stack started with --allow-private-addresses)",
            ))
        }
        _ => return Err(bad("must be an https URL")),
    }
    if url.host_str().is_none_or(str::is_empty) || !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must name a host, without user name or password"));
    }
    if url.fragment().is_some() {
        return Err(bad("must not have a fragment"));
    }
    let chosen_by = match source {
        Source::Environment => HostChoice::Operator,
        Source::Connection => HostChoice::Relayed {
            field: field.to_owned(),
        },
    };
    let target = Target::new(url, chosen_by);
    target
        .preflight(allow_private)
        .map_err(|e| bad(&format!("must lead to a public address ({e})")))?;
    Ok(target)
}

/// A webhook URL as it is stored: checked by the rule and normalized.
pub fn parse(raw: &str, source: Source, allow_private: bool) -> Result<String, Error> {
    Ok(target(raw, source, allow_private)?.url().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: Option<&str>) -> EnvironmentSettings {
        EnvironmentSettings {
            webhook_url: url.map(str::to_owned),
            ..Default::default()
        }
    }

    #[test]
    fn a_connections_override_wins_over_the_environments_url() {
        let env = settings(Some("https://hooks.example.com/env"));
        assert_eq!(
            of(&env, Some("https://c.example.com/x")),
            Some(Destination {
                url: "https://c.example.com/x",
                source: Source::Connection
            })
        );
        assert_eq!(of(&env, None).unwrap().source, Source::Environment);
        assert_eq!(of(&settings(None), None), None);
        assert_eq!(
            of(&settings(None), Some("https://c.example.com/x")).unwrap().source,
            Source::Connection
        );
    }

    #[test]
    fn webhook_urls_are_https_absolute_and_without_credentials() {
        let ok = |raw: &str, source| parse(raw, source, false).unwrap();
        assert_eq!(
            ok("https://hooks.example.com/latchkey?team=1", Source::Environment),
            "https://hooks.example.com/latchkey?team=1"
        );
        assert_eq!(
            ok(" https://Hooks.Example.com", Source::Connection),
            "https://hooks.example.com/"
        );
        for bad in [
            "http://hooks.example.com/x",
            "ftp://hooks.example.com/x",
            "/relative",
            "hooks.example.com",
            "https://user:pw@hooks.example.com/",
            "https://hooks.example.com/#frag",
            "",
        ] {
            for source in [Source::Environment, Source::Connection] {
                let e = parse(bad, source, false).unwrap_err();
                assert_eq!(e.code, crate::error::ErrorCode::InvalidBody, "{bad}");
                assert!(e.message.starts_with(source.field()), "{bad}: {}", e.message);
            }
        }
        let long = format!("https://hooks.example.com/{}", "a".repeat(MAX_URL_LEN));
        assert!(parse(&long, Source::Environment, false).is_err());
    }

    #[test]
    fn the_operators_url_may_be_private_an_override_only_public() {
        for private in [
            "https://10.0.0.7/hook",
            "https://127.0.0.1:8443/hook",
            "https://169.254.169.254/latest",
            "https://[::1]/hook",
            "https://[::ffff:10.0.0.1]/hook",
        ] {
            assert!(parse(private, Source::Environment, false).is_ok(), "{private}");
            let e = parse(private, Source::Connection, false).unwrap_err();
            assert!(e.message.contains("public address"), "{private}: {}", e.message);
            assert!(
                parse(private, Source::Connection, true).is_ok(),
                "the development switch"
            );
        }
        assert!(parse("http://127.0.0.1:9000/hook", Source::Environment, true).is_ok());
        assert!(parse("http://127.0.0.1:9000/hook", Source::Connection, true).is_ok());
    }
}
