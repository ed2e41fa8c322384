//! What a template knows of the request being made: its parts (for signing schemes) and its
//! moment and random value (fixed once, so every header of one request agrees).

use std::sync::OnceLock;

use time::OffsetDateTime;
use url::Url;

use super::QUERY_VALUE;

/// The parts of a request that signing templates read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestParts {
    pub method: String,
    /// The host, with `:port` when the URL names one.
    pub host: String,
    /// The path as sent (percent-encoded).
    pub path: String,
    /// The query, decoded.
    pub query: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RequestParts {
    pub fn of(method: &str, url: &Url, body: &[u8]) -> Self {
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            _ => String::new(),
        };
        Self {
            method: method.to_ascii_uppercase(),
            host,
            path: url.path().to_owned(),
            query: url.query_pairs().into_owned().collect(),
            body: body.to_vec(),
        }
    }

    /// `${params}`: the query sorted, RFC 3986-encoded, `k=v` joined by `&`.
    pub(super) fn canonical_params(&self) -> String {
        let enc = |t: &str| percent_encoding::utf8_percent_encode(t, QUERY_VALUE).to_string();
        let mut pairs: Vec<(String, String)> = self.query.iter().map(|(k, v)| (enc(k), enc(v))).collect();
        pairs.sort();
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    }

    pub(super) fn part(&self, name: &str) -> Option<String> {
        Some(match name {
            "method" => self.method.clone(),
            "host" => self.host.clone(),
            "path" => self.path.clone(),
            "params" => self.canonical_params(),
            "endpoint" if self.query.is_empty() => self.path.clone(),
            "endpoint" => format!("{}?{}", self.path, self.canonical_params()),
            "bodyCanonicalParams" => String::from_utf8_lossy(&self.body).into_owned(),
            _ => return None,
        })
    }
}

/// The moment of a request and its random value (a UUID), each fixed on first use.
#[derive(Debug, Clone, Default)]
pub struct Moment {
    now: OnceLock<OffsetDateTime>,
    random: OnceLock<String>,
}

impl Moment {
    /// A moment at `now` (the state's clock).
    pub fn at(now: OffsetDateTime) -> Self {
        let moment = Self::default();
        let _ = moment.now.set(now);
        moment
    }
    pub fn now(&self) -> OffsetDateTime {
        *self.now.get_or_init(OffsetDateTime::now_utc)
    }
    pub fn random(&self) -> &str {
        self.random.get_or_init(|| uuid::Uuid::new_v4().to_string())
    }
}
