//! Latchkey: every rule of the product. Lambda binaries and the local stack only build an
//! `AppState` and serve one of the routers in `api`.

#[cfg(not(any(feature = "sqlite", feature = "aws")))]
compile_error!("latchkey needs a backend: feature `sqlite` (local) or `aws`, or both");

pub mod activity;
pub mod api;
#[cfg(test)]
mod architecture;
pub mod auth;
#[cfg(feature = "aws")]
pub mod aws;
pub mod clock;
pub mod config;
pub mod connections;
pub mod console_sessions;
pub mod credentials;
pub mod crypto;
pub mod domain;
pub mod environment;
pub mod error;
pub mod events;
pub mod flows;
pub mod integrations;
pub mod jobs;
pub mod keys;
#[cfg(feature = "lambda")]
pub mod lambda;
#[cfg(feature = "sqlite")]
pub mod local;
pub mod logs;
pub mod markup;
pub mod metrics;
pub mod outbound;
pub mod providers;
pub mod queue;
pub mod refresh_policy;
pub mod refusals;
pub mod replay;
pub mod runtime;
pub mod signing;
pub mod sockets;
pub mod store;
#[cfg(any(test, feature = "test-support"))]
pub mod test_hold;
pub mod time_fmt;

use std::sync::Arc;

/// Everything a handler needs. Cheap to clone: all fields are shared.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn store::Store>,
    pub sealer: Arc<dyn crypto::Sealer>,
    /// The environment's keys, cached and re-read as `keys::Keys` says.
    pub keys: Arc<keys::Keys>,
    pub config: Arc<config::Config>,
    pub clock: Arc<dyn clock::Clock>,
    /// Every outgoing request: the one guarded HTTP client (`outbound`).
    pub outbound: outbound::Outbound,
    /// Where background work goes (`queue`; `jobs` runs it): SQS on AWS, the store's job table locally.
    pub jobs: Arc<dyn queue::JobQueue>,
    /// How many refusals of unauthenticated requests this process still records this minute.
    pub refusals: Arc<refusals::RefusalLog>,
    /// Where the sockets of Nango's frontend client are held (in-process by default).
    pub sockets: Arc<dyn sockets::SocketTransport>,
}

impl AppState {
    pub fn new(
        store: Arc<dyn store::Store>,
        sealer: Arc<dyn crypto::Sealer>,
        keys: impl Into<keys::Keys>,
        config: config::Config,
    ) -> Self {
        let outbound = outbound::Outbound::new(&config);
        Self {
            store,
            sealer,
            keys: Arc::new(keys.into()),
            refusals: Arc::new(refusals::RefusalLog::new(config.refusals_recorded_per_minute)),
            config: Arc::new(config),
            clock: Arc::new(clock::SystemClock),
            outbound,
            jobs: Arc::new(queue::NoQueue),
            sockets: Arc::new(sockets::LocalSockets::default()),
        }
    }

    /// A state for unit tests: an in-memory SQLite store, a fixed local sealer, fresh keys.
    #[cfg(test)]
    pub(crate) fn for_tests() -> Self {
        Self::new(
            Arc::new(store::sqlite::SqliteStore::in_memory().expect("an in-memory store opens")),
            Arc::new(crypto::local::LocalSealer::from_key([9; 32])),
            config::EnvironmentKeys::generate(),
            config::Config::new("test", "http://127.0.0.1:3003".parse().expect("a URL"), None),
        )
    }

    /// The same state sending through `outbound` (a client with a test's name table).
    pub fn with_outbound(mut self, outbound: outbound::Outbound) -> Self {
        self.outbound = outbound;
        self
    }

    pub fn with_jobs(mut self, jobs: Arc<dyn queue::JobQueue>) -> Self {
        self.jobs = jobs;
        self
    }

    pub fn with_clock(mut self, clock: Arc<dyn clock::Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn with_sockets(mut self, sockets: Arc<dyn sockets::SocketTransport>) -> Self {
        self.sockets = sockets;
        self
    }

    /// What the socket operations (`sockets`) need of this state.
    pub fn hub(&self) -> sockets::Hub<'_> {
        sockets::Hub {
            store: &*self.store,
            transport: &*self.sockets,
            clock: &*self.clock,
            own_origin: self.config.own_origin(),
        }
    }
}

#[cfg(all(test, feature = "sqlite"))]
impl AppState {
    /// A whole state in memory for unit tests: SQLite in memory, a fixed sealing key, fresh
    /// keys, the API at `http://127.0.0.1:3003`.
    pub(crate) fn in_memory() -> Self {
        Self::new(
            Arc::new(store::sqlite::SqliteStore::in_memory().unwrap()),
            Arc::new(crypto::local::LocalSealer::from_key([5; 32])),
            config::EnvironmentKeys::generate(),
            config::Config::new("test", "http://127.0.0.1:3003".parse().unwrap(), None),
        )
    }
}
