//! Allowed-host patterns: which hosts an end user may name for an integration. A pattern is a
//! host name whose labels are literal or `*` (exactly one label: `*.instructure.com` admits
//! `acme.instructure.com`, not `instructure.com` or `a.b.instructure.com`), or `*` alone for any
//! host (still public addresses only). Matching ignores case and a trailing dot; an IP address
//! matches only a pattern that spells it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One allowed-host pattern, kept in its normalized text (lowercase, no trailing dot).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostPattern(String);

/// Why a pattern is not one.
pub const PATTERN_RULE: &str =
    "an allowed host is a host name whose labels are letters, digits and '-', or '*' for exactly one label (e.g. '*.instructure.com'), or '*' alone for any host";

impl HostPattern {
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let text = text.trim().trim_end_matches('.').to_ascii_lowercase();
        if text == "*" {
            return Ok(Self(text));
        }
        if text.is_empty() || text.len() > 253 {
            return Err(PATTERN_RULE);
        }
        let labels: Vec<&str> = text.split('.').collect();
        let valid_label = |l: &str| {
            l == "*"
                || (!l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        };
        if !labels.iter().all(|l| valid_label(l)) {
            return Err(PATTERN_RULE);
        }
        // `*.com`, `*.*`: a pattern names at least a domain of its own.
        let literal_tail = labels.iter().rev().take_while(|l| **l != "*").count();
        if labels.contains(&"*") && literal_tail < 2 {
            return Err("an allowed host with '*' must end in at least two fixed labels (e.g. '*.example.com')");
        }
        Ok(Self(text))
    }

    /// A pattern computed from the catalog; the caller has built it from valid labels.
    pub(crate) fn from_labels(labels: &[&str]) -> Option<Self> {
        Self::parse(&labels.join(".")).ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `host` (a name or an address as the URL parser wrote it) is one this admits.
    pub fn matches(&self, host: &str) -> bool {
        if self.0 == "*" {
            return true;
        }
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if host.starts_with('[') || host.parse::<std::net::IpAddr>().is_ok() {
            return self.0 == host;
        }
        let mut want = self.0.split('.');
        let mut have = host.split('.');
        loop {
            match (want.next(), have.next()) {
                (None, None) => return true,
                (Some("*"), Some(label)) if !label.is_empty() => continue,
                (Some(w), Some(h)) if w == h => continue,
                _ => return false,
            }
        }
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for HostPattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for HostPattern {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        HostPattern::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The hosts an end user may name for one integration: the operator's patterns when it set
/// any, else the defaults the catalog's templates imply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedHosts {
    pub patterns: Vec<HostPattern>,
    /// Whether these are the operator's own (`allowed_hosts`) or the catalog's defaults.
    pub set_by_operator: bool,
}

impl AllowedHosts {
    pub fn admits(&self, host: &str) -> bool {
        self.patterns.iter().any(|p| p.matches(host))
    }

    /// Whether every host `pattern` admits is admitted already: a literal host one of these
    /// matches, or a pattern listed as is (or `*`). Anything else widens the list.
    pub fn covers(&self, pattern: &HostPattern) -> bool {
        let wildcard = pattern.0 == "*" || pattern.0.split('.').any(|l| l == "*");
        self.patterns
            .iter()
            .any(|p| p == pattern || p.0 == "*" || (!wildcard && p.matches(&pattern.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> HostPattern {
        HostPattern::parse(text).unwrap()
    }

    #[test]
    fn a_star_is_exactly_one_label() {
        let canvas = p("*.instructure.com");
        assert!(canvas.matches("acme.instructure.com"));
        assert!(canvas.matches("ACME.Instructure.com."));
        assert!(!canvas.matches("instructure.com"));
        assert!(!canvas.matches("a.b.instructure.com"));
        assert!(!canvas.matches("acme.instructure.com.evil.example"));
        assert!(!canvas.matches("evilinstructure.com"));
        assert!(!canvas.matches("acme.instructure.co"));
        let sap = p("*.authentication.*.hana.ondemand.com");
        assert!(sap.matches("acme.authentication.eu10.hana.ondemand.com"));
        assert!(!sap.matches("acme.x.authentication.eu10.hana.ondemand.com"));
        assert!(p("canvas.myuni.edu").matches("canvas.myuni.edu"));
        assert!(!p("canvas.myuni.edu").matches("x.canvas.myuni.edu"));
        assert!(p("*").matches("anything.example"));
        assert!(p("127.0.0.1").matches("127.0.0.1"));
        assert!(
            !p("*.0.0.1").matches("127.0.0.1"),
            "a star never stands for part of an address"
        );
    }

    #[test]
    fn a_list_covers_what_it_already_admits() {
        let list = AllowedHosts {
            patterns: vec![p("*.instructure.com"), p("canvas.myuni.edu")],
            set_by_operator: true,
        };
        assert!(list.covers(&p("acme.instructure.com")));
        assert!(list.covers(&p("*.instructure.com")));
        assert!(list.covers(&p("canvas.myuni.edu")));
        assert!(!list.covers(&p("evil.example")));
        assert!(!list.covers(&p("*.myuni.edu")));
        assert!(!list.covers(&p("*.*.instructure.com")));
        assert!(!list.covers(&p("*")));
        let any = AllowedHosts {
            patterns: vec![p("*")],
            set_by_operator: true,
        };
        assert!(any.covers(&p("*.example.com")));
    }

    #[test]
    fn patterns_that_are_not_hosts_or_too_broad_are_refused() {
        for bad in [
            "",
            "*.com",
            "*.*",
            "a.*",
            "**.example.com",
            "https://x.example.com",
            "x.example.com/path",
            "x.example.com:443",
            "-x.example.com",
            "x..example.com",
            "a b.example.com",
            "*x.example.com",
        ] {
            assert!(HostPattern::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(p(" *.Example.COM. ").as_str(), "*.example.com");
        let json: Vec<HostPattern> = serde_json::from_str(r#"["*.zendesk.com"]"#).unwrap();
        assert_eq!(serde_json::to_string(&json).unwrap(), r#"["*.zendesk.com"]"#);
        assert!(serde_json::from_str::<HostPattern>(r#""*.com""#).is_err());
    }

    /// Property: a host built from a pattern by filling each star with any label matches it, and
    /// adding or removing a label, or changing a fixed one, never does.
    #[test]
    fn filled_patterns_match_and_altered_ones_do_not() {
        let mut x: u32 = 7;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        let alphabet: Vec<char> = "abcdefghijklmnopqrstuvwxyz0123456789-".chars().collect();
        for pattern in ["*.zendesk.com", "*.auth.*.amazoncognito.com", "api.*.example.co.uk"] {
            let pat = p(pattern);
            for _ in 0..2_000 {
                let label: String = (0..1 + next() % 20)
                    .map(|_| alphabet[(next() as usize) % alphabet.len()])
                    .collect();
                let filled = pattern.replace('*', &label);
                assert!(pat.matches(&filled), "{filled} ~ {pattern}");
                assert!(!pat.matches(&format!("{label}.{filled}")), "one label too many");
                assert!(!pat.matches(filled.split_once('.').unwrap().1), "one label too few");
                assert!(!pat.matches(&format!("{filled}x")), "a fixed label changed");
            }
        }
    }
}
