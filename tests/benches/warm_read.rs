//! Benchmark of the warm read path, `GET /connections/{id}`, in-process: the local router
//! (`latchkey::api::local`) called with `tower::ServiceExt::oneshot`, no socket, over the real
//! SQLite store and key-file sealer. Counting wrappers (here, not in the product) report how
//! many store and sealer calls one read costs. Plain `Instant` timing; run with
//! `cargo bench -p latchkey-tests --bench warm_read` (`BENCH_ITERATIONS` to change N).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::body::Body;
use axum::http::Request;
use latchkey::config::{Config, EnvironmentKeys};
use latchkey::connections::{save_connection, NewConnection, WriteMode};
use latchkey::credentials::Credentials;
use latchkey::crypto::local::LocalSealer;
use latchkey::crypto::{SealContext, SealError, Sealer};
use latchkey::domain::{AccessToken, ConnectionId, IntegrationKey, RefreshToken};
use latchkey::store::sqlite::SqliteStore;
use latchkey::store::*;
use latchkey::AppState;
use time::OffsetDateTime;
use tower::ServiceExt;

#[derive(Default)]
struct Counts {
    store: AtomicU64,
    seal: AtomicU64,
    open: AtomicU64,
}

impl Counts {
    fn take(&self) -> (u64, u64, u64) {
        (
            self.store.swap(0, Ordering::SeqCst),
            self.seal.swap(0, Ordering::SeqCst),
            self.open.swap(0, Ordering::SeqCst),
        )
    }
}

struct CountingStore {
    inner: SqliteStore,
    counts: Arc<Counts>,
}

impl CountingStore {
    fn hit(&self) {
        self.counts.store.fetch_add(1, Ordering::Relaxed);
    }
}

/// Every async method counts one call, then delegates to the real store: one impl per domain
/// trait, so `CountingStore` is a `Store` through the blanket impl. (`sync fn`s answer a
/// constant without I/O and count nothing. The impls are generated, so that `async_trait` sees
/// plain methods.)
macro_rules! counting_store {
    ($( impl $trait:ident {
        $( fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty; )*
        $( sync fn $sync:ident(&self) -> $sret:ty; )*
    } )*) => {
        $(
            #[async_trait]
            impl $trait for CountingStore {
                $( async fn $name(&self $(, $arg: $ty)*) -> $ret {
                    self.hit();
                    self.inner.$name($($arg),*).await
                } )*
                $( fn $sync(&self) -> $sret {
                    self.inner.$sync()
                } )*
            }
        )*
    };
}

counting_store! {
    impl IntegrationStore {
        fn create_integration(&self, record: &IntegrationRecord) -> StoreResult<()>;
        fn replace_integration(&self, record: &IntegrationRecord) -> StoreResult<bool>;
        fn get_integration(&self, key: &IntegrationKey) -> StoreResult<Option<IntegrationRecord>>;
        fn list_integrations(&self) -> StoreResult<Vec<IntegrationRecord>>;
        fn delete_integration(&self, key: &IntegrationKey, generation: &str) -> StoreResult<bool>;
        fn purge_connections(&self, integration: &IntegrationKey, generation: &str, shard: u32, limit: usize) -> StoreResult<Purged>;
        sync fn purge_shards(&self) -> u32;
    }
    impl ConnectionStore {
        fn upsert_connection(&self, record: &ConnectionRecord) -> StoreResult<(Upsert, u64)>;
        fn create_connection(&self, record: &ConnectionRecord) -> StoreResult<u64>;
        fn update_connection(&self, record: &ConnectionRecord, expected_version: u64) -> StoreResult<()>;
        fn finish_refresh(&self, record: &ConnectionRecord, expected_version: u64) -> StoreResult<()>;
        fn get_connection(&self, integration: &IntegrationKey, connection_id: &ConnectionId) -> StoreResult<Option<ConnectionRecord>>;
        fn read_connection(&self, integration: &IntegrationKey, connection_id: &ConnectionId, at: OffsetDateTime) -> StoreResult<Option<ConnectionRecord>>;
        fn list_connections(&self, filter: &ConnectionFilter) -> StoreResult<Vec<ConnectionSummary>>;
        fn delete_connection(&self, integration: &IntegrationKey, connection_id: &ConnectionId) -> StoreResult<bool>;
        fn acquire_refresh_lease(&self, integration: &IntegrationKey, connection_id: &ConnectionId, owner: &str, now: OffsetDateTime, until: OffsetDateTime) -> StoreResult<bool>;
        fn release_refresh_lease(&self, integration: &IntegrationKey, connection_id: &ConnectionId, owner: &str) -> StoreResult<()>;
        fn due_connections(&self, shard: u32, before: OffsetDateTime, limit: usize) -> StoreResult<Vec<DueConnection>>;
        sync fn refresh_shards(&self) -> u32;
    }
    impl FlowSessionStore {
        fn put_oauth_session(&self, session: &OAuthSession) -> StoreResult<()>;
        fn take_oauth_session(&self, state: &str) -> StoreResult<Option<OAuthSession>>;
        fn put_connect_session(&self, session: &ConnectSession) -> StoreResult<()>;
        fn get_connect_session(&self, token_hash: &str) -> StoreResult<Option<ConnectSession>>;
        fn put_auth_result(&self, result: &AuthResult) -> StoreResult<()>;
        fn take_auth_result(&self, nonce_hash: &str) -> StoreResult<Option<AuthResult>>;
        fn put_console_session(&self, session: &ConsoleSession) -> StoreResult<()>;
        fn get_console_session(&self, token_hash: &str) -> StoreResult<Option<ConsoleSession>>;
        fn delete_console_session(&self, token_hash: &str) -> StoreResult<()>;
        fn put_socket(&self, socket: &SocketRecord) -> StoreResult<()>;
        fn get_socket(&self, client_hash: &str) -> StoreResult<Option<SocketRecord>>;
        fn take_socket(&self, client_hash: &str) -> StoreResult<Option<SocketRecord>>;
    }
    impl ActivityStore {
        fn append_activity(&self, entry: &ActivityEntry) -> StoreResult<()>;
        fn list_activity(&self, filter: &ActivityFilter) -> StoreResult<Vec<ActivityEntry>>;
    }
    impl SettingsStore {
        fn get_settings(&self) -> StoreResult<EnvironmentSettings>;
        fn put_settings(&self, settings: &EnvironmentSettings) -> StoreResult<()>;
    }
    impl NonceStore {
        fn claim_nonce(&self, nonce: &str, now: OffsetDateTime, expires_at: OffsetDateTime) -> StoreResult<bool>;
    }
}

struct CountingSealer {
    inner: LocalSealer,
    counts: Arc<Counts>,
}

#[async_trait]
impl Sealer for CountingSealer {
    async fn seal(&self, plaintext: &[u8], context: &SealContext) -> Result<Vec<u8>, SealError> {
        self.counts.seal.fetch_add(1, Ordering::Relaxed);
        self.inner.seal(plaintext, context).await
    }
    async fn open(&self, blob: &[u8], context: &SealContext) -> Result<Vec<u8>, SealError> {
        self.counts.open.fetch_add(1, Ordering::Relaxed);
        self.inner.open(blob, context).await
    }
}

const INTEGRATION: &str = "bench-idp";
const CONNECTION: &str = "user-42";
const PATH: &str = "/connections/user-42?provider_config_key=bench-idp";

async fn seeded_state(dir: &std::path::Path, counts: Arc<Counts>) -> AppState {
    let store = CountingStore {
        inner: SqliteStore::open(&dir.join("bench.sqlite3")).unwrap(),
        counts: counts.clone(),
    };
    let sealer = CountingSealer {
        inner: LocalSealer::open_or_create(&dir.join("sealing.key")).unwrap(),
        counts,
    };
    let config = Config::new("bench", "http://127.0.0.1:3003".parse().unwrap(), None);
    let state = AppState::new(Arc::new(store), Arc::new(sealer), EnvironmentKeys::generate(), config);
    let integration = latchkey::integrations::create(
        &state,
        serde_json::from_value(serde_json::json!({
            "provider": "custom-oauth2",
            "unique_key": INTEGRATION,
            "credentials": {"type": "OAUTH2", "client_id": "cid", "client_secret": "csecret", "scopes": "openid email"},
            "custom": {"authorization_url": "https://idp.example.test/auth", "token_url": "https://idp.example.test/token"},
        }))
        .unwrap(),
    )
    .await
    .unwrap();
    let raw = serde_json::json!({
        "access_token": "at-0123456789abcdef0123456789abcdef", "refresh_token": "rt-0123456789abcdef",
        "token_type": "Bearer", "expires_in": 3600, "scope": "openid email offline_access",
        "id_token": "x".repeat(800),
    });
    let credentials = Credentials::OAuth2 {
        access_token: AccessToken::new("at-0123456789abcdef0123456789abcdef"),
        refresh_token: Some(RefreshToken::new("rt-0123456789abcdef")),
        expires_at: Some(state.clock.now() + time::Duration::hours(1)),
        raw: raw.as_object().unwrap().clone().into(),
    };
    save_connection(
        &state,
        NewConnection {
            integration: &integration,
            connection_id: &ConnectionId::parse(CONNECTION).unwrap(),
            credentials: &credentials,
            connection_config: [("subdomain".to_owned(), serde_json::json!("acme"))]
                .into_iter()
                .collect(),
            vouched_config: Default::default(),
            metadata: Default::default(),
            end_user: None,
            tags: Default::default(),
            write: WriteMode::CreateOnly,
            webhook_url_override: None,
        },
    )
    .await
    .unwrap();
    state
}

#[derive(Clone, Copy, Debug)]
enum Auth {
    Bearer,
    Signed,
}

fn request(state: &AppState, auth: Auth) -> Request<Body> {
    let builder = Request::get(PATH);
    let builder = match auth {
        Auth::Bearer => builder.header(
            "Authorization",
            format!("Bearer {}", state.keys.cached().secret_key.expose()),
        ),
        Auth::Signed => {
            let ts = state.clock.now().unix_timestamp();
            let signature =
                latchkey_tests::wire::request_signature(state.keys.cached().secret_key.expose(), ts, "GET", PATH, b"");
            builder
                .header("Latchkey-Timestamp", ts.to_string())
                .header("Latchkey-Signature", signature)
        }
    };
    builder.body(Body::empty()).unwrap()
}

async fn read_once(router: &axum::Router, state: &AppState, auth: Auth) -> Duration {
    let req = request(state, auth);
    let start = Instant::now();
    let response = router.clone().oneshot(req).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    let elapsed = start.elapsed();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    elapsed
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() {
    // `cargo test --benches` runs this binary too: keep that a quick smoke run.
    let n: usize = std::env::var("BENCH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if std::env::args().any(|a| a == "--bench") {
            20_000
        } else {
            200
        });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let counts = Arc::new(Counts::default());
        let state = seeded_state(dir.path(), counts.clone()).await;
        let router = latchkey::api::local(state.clone());
        println!(
            "warm read GET /connections/{{id}}: {n} reads per mode, in-process (tower oneshot), SQLite + local sealer"
        );
        println!("| auth | p50 µs | p99 µs | mean µs | reads/s | store calls/read | sealer opens/read | seals/read |");
        println!("|---|---|---|---|---|---|---|---|");
        for auth in [Auth::Bearer, Auth::Signed] {
            for _ in 0..(n / 10).max(50) {
                read_once(&router, &state, auth).await;
            }
            counts.take();
            let mut samples = Vec::with_capacity(n);
            let total = Instant::now();
            for _ in 0..n {
                samples.push(read_once(&router, &state, auth).await);
            }
            let wall = total.elapsed();
            let (store, seal, open) = counts.take();
            samples.sort();
            let mean = samples.iter().sum::<Duration>() / n as u32;
            println!(
                "| {auth:?} | {:.1} | {:.1} | {:.1} | {:.0} | {} | {} | {} |",
                micros(percentile(&samples, 0.5)),
                micros(percentile(&samples, 0.99)),
                micros(mean),
                n as f64 / wall.as_secs_f64(),
                store as f64 / n as f64,
                open as f64 / n as f64,
                seal as f64 / n as f64,
            );
        }
    });
}
