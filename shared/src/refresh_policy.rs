//! When a connection's credentials are renewed before anyone asks for them. One function,
//! `RefreshPolicy::next_proactive`, decides it from what the record carries; the stores index
//! connections by its answer (the sparse, sharded refresh index) and the scheduler reads that
//! index. Everything it does not schedule is renewed on read.
//!
//! Two things are worth doing ahead of a read (docs/scale.md, "Refresh policy"):
//! - **hot**: a connection read within the last `hot_lifetimes` lifetimes of its token is
//!   renewed `lead` before the read path's margin, so its reads never wait on the provider;
//! - **keepalive**: a refresh token not used for a while is refreshed before its provider
//!   revokes idle grants (the provider's known window × 3/4, `keepalive` otherwise).
//!
//! (`verify`, off by default, re-checks API keys, Basic logins, OAuth 1.0a and TBA tokens on a cadence.) A connection
//! whose last refresh failed is not renewed before its failure's next attempt, and never once
//! Latchkey gave up on it (`Hold`, set by `connections::refresh`). All times are
//! whole milliseconds, so the simulation's mirror (`bench/scale_mirror.py`) computes exactly the
//! same answers; `bench/policy_cases.json` is the table both are tested against.

use time::{Duration, OffsetDateTime};

use crate::domain::AuthMode;

/// The policy's settings (`Config::refresh`). Defaults: `RefreshPolicy::default()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshPolicy {
    /// A read renews credentials that expire within this margin (a catalog entry's
    /// `token_expiration_buffer` replaces it), never more than half the token's lifetime.
    pub read_margin: Duration,
    /// How much earlier than the read margin a hot connection is renewed: at least the
    /// scheduler's period plus the queue's delay.
    pub lead: Duration,
    /// A connection is hot while its last read is at most this many token lifetimes before its
    /// next renewal. 0 turns hot renewal off.
    pub hot_lifetimes: u32,
    /// Refresh tokens of providers whose idle revocation is unknown are refreshed after this
    /// long without a refresh.
    pub keepalive: Duration,
    /// API keys and Basic logins are re-checked after this long; `None` = never.
    pub verify: Option<Duration>,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        Self {
            read_margin: Duration::minutes(15),
            lead: Duration::minutes(5),
            hot_lifetimes: 2,
            keepalive: Duration::days(14),
            verify: None,
        }
    }
}

/// Why a connection is renewed ahead of a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    Hot,
    Keepalive,
    Verify,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Hot => "hot",
            Reason::Keepalive => "keepalive",
            Reason::Verify => "verify",
        }
    }
}

/// The next renewal ahead of a read: when, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proactive {
    pub at: OffsetDateTime,
    pub reason: Reason,
}

/// What the policy reads of a connection (all of it non-secret and on the record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshFacts<'a> {
    pub auth_mode: AuthMode,
    pub has_refresh_token: bool,
    pub provider: &'a str,
    pub expires_at: Option<OffsetDateTime>,
    /// When the credentials were last obtained from the provider.
    pub last_fetched_at: OffsetDateTime,
    /// The last read the store recorded (at most one write per schedule change, see
    /// `RefreshPolicy::read_moves_schedule`).
    pub last_read_at: Option<OffsetDateTime>,
    /// Whether a failed refresh holds the provider off.
    pub hold: Hold,
}

/// What a failed refresh says about the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// No failure: renew when the policy says.
    None,
    /// Not before this time (the failure's backoff).
    Until(OffsetDateTime),
    /// Never ahead of a read: Latchkey gave up (the refresh was refused too often).
    GaveUp,
}

fn ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos().div_euclid(1_000_000)) as i64
}

fn at_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::UNIX_EPOCH + Duration::milliseconds(ms)
}

fn dur_ms(d: Duration) -> i64 {
    d.whole_milliseconds() as i64
}

impl RefreshPolicy {
    /// How long before expiry a read renews this connection's credentials.
    pub fn read_margin(&self, facts: &RefreshFacts<'_>) -> Duration {
        let lifetime = facts
            .expires_at
            .map(|e| (ms(e) - ms(facts.last_fetched_at)).max(0))
            .unwrap_or(0);
        Duration::milliseconds(self.read_margin_ms(facts.provider, lifetime))
    }

    fn read_margin_ms(&self, provider: &str, lifetime_ms: i64) -> i64 {
        let margin = catalog_buffer(provider).map(dur_ms).unwrap_or(dur_ms(self.read_margin));
        margin.min(lifetime_ms / 2)
    }

    /// How long a refresh token of `provider` may sit unused before it is refreshed.
    pub fn keepalive_for(&self, provider: &str) -> Duration {
        idle_revocation(provider)
            .map(|window| Duration::milliseconds(dur_ms(window) * 3 / 4))
            .unwrap_or(self.keepalive)
    }

    /// When this connection is next renewed ahead of a read, or `None` when it never is (its
    /// reads renew it, or nothing can).
    pub fn next_proactive(&self, facts: &RefreshFacts<'_>) -> Option<Proactive> {
        let fetched = ms(facts.last_fetched_at);
        let refreshable = matches!(
            facts.auth_mode,
            AuthMode::OAuth2 | AuthMode::McpOAuth2 | AuthMode::McpOAuth2Generic
        ) && facts.has_refresh_token;
        // Client credentials and two-step tokens are renewed by asking again (with the sealed
        // credentials), Bill sessions by logging in again, AWS roles by assuming them again,
        // and JWTs by signing again, so they are renewable whether or not the provider issued
        // a refresh token. A WSSE value
        // (SIGNATURE) lives five minutes and is signed on read without asking anyone: renewing
        // it ahead would only write the connection every few minutes.
        let renewable = refreshable
            || matches!(
                facts.auth_mode,
                AuthMode::OAuth2Cc | AuthMode::TwoStep | AuthMode::Jwt | AuthMode::Bill | AuthMode::AwsSigV4
            );
        let mut candidates: Vec<(i64, Reason)> = Vec::new();
        if let (true, Some(expires), Some(read)) = (renewable, facts.expires_at, facts.last_read_at) {
            let expires = ms(expires);
            let lifetime = (expires - fetched).max(0);
            let due = (expires - self.read_margin_ms(facts.provider, lifetime) - dur_ms(self.lead))
                .max(fetched + lifetime / 2);
            if due <= ms(read) + i64::from(self.hot_lifetimes) * lifetime && self.hot_lifetimes > 0 {
                candidates.push((due, Reason::Hot));
            }
        }
        if refreshable {
            candidates.push((fetched + dur_ms(self.keepalive_for(facts.provider)), Reason::Keepalive));
        }
        // Credentials that do not expire are re-tested with the provider on the verify cadence.
        let retested = matches!(
            facts.auth_mode,
            AuthMode::ApiKey | AuthMode::Basic | AuthMode::OAuth1 | AuthMode::Tba
        );
        if let (true, Some(every)) = (retested, self.verify) {
            candidates.push((fetched + dur_ms(every), Reason::Verify));
        }
        let (at, reason) = candidates.into_iter().min()?;
        let at = match facts.hold {
            Hold::None => at,
            Hold::Until(until) => at.max(ms(until)),
            Hold::GaveUp => return None,
        };
        Some(Proactive { at: at_ms(at), reason })
    }

    /// Whether a read at `now` changes when the connection is next renewed — the only time a
    /// read writes (it records `last_read_at`). A connection read steadily writes about once per
    /// `hot_lifetimes` token lifetimes; one that is never renewed ahead never writes.
    pub fn read_moves_schedule(&self, facts: &RefreshFacts<'_>, now: OffsetDateTime) -> bool {
        let read = RefreshFacts {
            last_read_at: Some(now),
            ..facts.clone()
        };
        self.next_proactive(&read) != self.next_proactive(facts)
    }

    /// The policy from `LATCHKEY_REFRESH_*` variables (seconds; `_HOT_LIFETIMES` a count,
    /// `_VERIFY_SECS` 0 or unset = off), each defaulting to `RefreshPolicy::default()`.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let d = Self::default();
        let secs = |name: &str, default: Duration| -> Result<Duration, String> {
            match var(name) {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse::<u32>()
                    .map(|s| Duration::seconds(s.into()))
                    .map_err(|_| format!("{name} must be a whole number of seconds, not '{v}'")),
            }
        };
        let hot_lifetimes = match var("LATCHKEY_REFRESH_HOT_LIFETIMES") {
            None => d.hot_lifetimes,
            Some(v) => v
                .trim()
                .parse()
                .map_err(|_| format!("LATCHKEY_REFRESH_HOT_LIFETIMES must be a whole number, not '{v}'"))?,
        };
        let verify = secs("LATCHKEY_REFRESH_VERIFY_SECS", Duration::ZERO)?;
        Ok(Self {
            read_margin: secs("LATCHKEY_REFRESH_MARGIN_SECS", d.read_margin)?,
            lead: secs("LATCHKEY_REFRESH_LEAD_SECS", d.lead)?,
            hot_lifetimes,
            keepalive: secs("LATCHKEY_REFRESH_KEEPALIVE_SECS", d.keepalive)?,
            verify: (verify > Duration::ZERO).then_some(verify).or(d.verify),
        })
    }
}

/// How fast renewals ahead of reads go, per provider (`Config::refresh_limits`,
/// `LATCHKEY_REFRESH_*`): what one scheduler run enqueues, and what one worker process runs at
/// once. Reads are never limited: a connection the scheduler leaves for its next run is still
/// refreshed by the read that needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshLimits {
    /// Refresh jobs one scheduler run enqueues per provider at most (soonest due first); the
    /// rest wait for the next run.
    pub per_provider_per_run: usize,
    /// Due connections one scheduler run reads per shard of the refresh index at most.
    pub per_shard_per_run: usize,
    /// Refreshes of one provider a worker process runs at once.
    pub provider_concurrency: usize,
}

impl Default for RefreshLimits {
    fn default() -> Self {
        Self {
            per_provider_per_run: 1000,
            per_shard_per_run: 20_000,
            provider_concurrency: 2,
        }
    }
}

impl RefreshLimits {
    /// From `LATCHKEY_REFRESH_PER_PROVIDER` (jobs per provider per run) and
    /// `LATCHKEY_REFRESH_PROVIDER_CONCURRENCY` (per worker process), each at least 1.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let d = Self::default();
        let count = |name: &str, default: usize| -> Result<usize, String> {
            match var(name) {
                None => Ok(default),
                Some(v) => match v.trim().parse::<usize>() {
                    Ok(n) if n >= 1 => Ok(n),
                    _ => Err(format!("{name} must be a whole number of at least 1, not '{v}'")),
                },
            }
        };
        Ok(Self {
            per_provider_per_run: count("LATCHKEY_REFRESH_PER_PROVIDER", d.per_provider_per_run)?,
            per_shard_per_run: d.per_shard_per_run,
            provider_concurrency: count("LATCHKEY_REFRESH_PROVIDER_CONCURRENCY", d.provider_concurrency)?,
        })
    }
}

/// How long providers let a refresh token sit unused before they revoke it, by the host of
/// their token endpoint (from each provider's documentation):
/// - Google: a refresh token unused for six months is revoked.
/// - Microsoft identity platform: refresh tokens expire after 90 days of inactivity.
/// - Atlassian (rotating refresh tokens): 90 days of inactivity.
/// - Intuit (QuickBooks): a refresh token lives 100 days; each refresh issues a new one.
/// - Xero and Box: an unused refresh token expires after 60 days.
pub const IDLE_REVOCATION_DAYS: &[(&str, i64)] = &[
    ("oauth2.googleapis.com", 180),
    ("accounts.google.com", 180),
    ("www.googleapis.com", 180),
    ("login.microsoftonline.com", 90),
    ("auth.atlassian.com", 90),
    ("oauth.platform.intuit.com", 100),
    ("identity.xero.com", 60),
    ("api.box.com", 60),
];

/// The host of an `https://host/…` URL (a template host such as `${connectionConfig.x}` is
/// kept as written; it matches nothing in the table).
fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    Some(rest.split(['/', '?']).next().unwrap_or(rest))
}

/// The idle revocation window of a catalog provider's refresh tokens, where it is known: the
/// first of its token URLs whose host is in the table. Reads only that provider's entry.
pub fn idle_revocation(provider: &str) -> Option<Duration> {
    use crate::providers::schema::TokenUrl;
    let p = crate::providers::provider(provider)?;
    let urls: Vec<&str> = match &p.token_url {
        Some(TokenUrl::Single(u)) => vec![u.as_str()],
        Some(TokenUrl::ByMode(m)) => m.values().map(String::as_str).collect(),
        None => Vec::new(),
    };
    urls.iter().filter_map(|u| url_host(u)).find_map(|host| {
        IDLE_REVOCATION_DAYS
            .iter()
            .find(|(h, _)| *h == host)
            .map(|(_, days)| Duration::days(*days))
    })
}

/// A catalog entry's `token_expiration_buffer`, the read margin it asks for.
fn catalog_buffer(provider: &str) -> Option<Duration> {
    crate::providers::provider(provider)?
        .token_expiration_buffer
        .filter(|s| *s > 0)
        .map(Duration::seconds)
}

#[cfg(test)]
mod tests;
