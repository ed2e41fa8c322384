//! The refresh path against a local rotating token endpoint (`peer`), on the SQLite store: one
//! grant for many concurrent reads, the rotated token stored before it is handed out, writes
//! lost to concurrent edits, deletes and re-authorizations, a store that fails the write, a
//! lease holder that died. Failures and their backoff: `failure_tests.rs`.

mod failure_tests;
mod peer;

use std::sync::Arc;

use serde_json::{json, Map, Value};
use time::Duration;

use super::super::lease::LEASE;
use super::super::{save_connection, write_metadata, MetadataWrite, NewConnection};
use super::read_fresh_connection;
use crate::clock::{Clock, ShiftedClock};
use crate::credentials::Credentials;
use crate::crypto::{SealContext, SealError, Sealer};
use crate::domain::{AccessToken, ConnectionId, IntegrationKey, RefreshToken};
use crate::error::{Error, ErrorCode};
use crate::store::{ConnectionRecord, IntegrationRecord};
use crate::AppState;
use peer::TokenPeer;

/// A sealer that fails its next `fail` seals as an unreachable key service would.
struct FlakySealer {
    inner: crate::crypto::local::LocalSealer,
    fail: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl Sealer for FlakySealer {
    async fn seal(&self, plaintext: &[u8], context: &SealContext) -> Result<Vec<u8>, SealError> {
        use std::sync::atomic::Ordering;
        if self
            .fail
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(SealError::Unavailable("injected".into()));
        }
        self.inner.seal(plaintext, context).await
    }
    async fn open(&self, blob: &[u8], context: &SealContext) -> Result<Vec<u8>, SealError> {
        self.inner.open(blob, context).await
    }
}

pub(super) struct Stack {
    pub state: AppState,
    pub clock: Arc<ShiftedClock>,
    pub peer: TokenPeer,
    pub integration: IntegrationRecord,
    sealer: Arc<FlakySealer>,
}

pub(super) const KEY: &str = "idp";

pub(super) async fn stack() -> Stack {
    stack_with(|_| {}).await
}

pub(super) async fn stack_with(configure: impl FnOnce(&mut crate::config::Config)) -> Stack {
    let peer = TokenPeer::start().await;
    let mut config = crate::config::Config::new("test", "http://127.0.0.1:3003".parse().unwrap(), None);
    configure(&mut config);
    let clock = Arc::new(ShiftedClock::default());
    let sealer = Arc::new(FlakySealer {
        inner: crate::crypto::local::LocalSealer::from_key([5; 32]),
        fail: Default::default(),
    });
    let state = AppState::new(
        Arc::new(crate::store::sqlite::SqliteStore::in_memory().unwrap()),
        sealer.clone(),
        crate::config::EnvironmentKeys::generate(),
        config,
    )
    .with_clock(clock.clone());
    let integration = crate::integrations::create(
        &state,
        serde_json::from_value(json!({
            "provider": "custom-oauth2",
            "unique_key": KEY,
            "credentials": {"type": "OAUTH2", "client_id": "cid", "client_secret": "csecret"},
            "custom": {"authorization_url": "https://idp.example.test/auth", "token_url": peer.url},
        }))
        .unwrap(),
    )
    .await
    .unwrap();
    Stack {
        state,
        clock,
        peer,
        integration,
        sealer,
    }
}

pub(super) fn id(name: &str) -> ConnectionId {
    ConnectionId::parse(name).unwrap()
}

pub(super) fn key() -> IntegrationKey {
    IntegrationKey::parse(KEY).unwrap()
}

impl Stack {
    /// Stores connection `name` holding `at-0` and the peer's `rt-0`, expiring in an hour.
    pub async fn connect(&self, name: &str) {
        self.authorize(name, "at-0", "rt-0").await;
    }

    /// A (new) authorization of `name` with these tokens, expiring in an hour.
    pub async fn authorize(&self, name: &str, access: &str, refresh: &str) {
        self.authorize_for(name, access, refresh, Duration::hours(1)).await;
    }

    /// A (new) authorization of `name` with these tokens, expiring after `lifetime`.
    pub async fn authorize_for(&self, name: &str, access: &str, refresh: &str, lifetime: Duration) {
        let credentials = Credentials::OAuth2 {
            access_token: AccessToken::new(access),
            refresh_token: Some(RefreshToken::new(refresh)),
            expires_at: Some(self.clock.now().replace_nanosecond(0).unwrap() + lifetime),
            raw: Default::default(),
        };
        let connection_id = id(name);
        save_connection(
            &self.state,
            NewConnection::bare(&self.integration, &connection_id, &credentials),
        )
        .await
        .unwrap();
    }

    pub async fn read(&self, name: &str, force: bool) -> Result<(ConnectionRecord, Credentials), Error> {
        read_fresh_connection(&self.state, &key(), &id(name), force).await
    }

    /// The tokens a read answers.
    pub async fn tokens(&self, name: &str, force: bool) -> (String, Option<String>) {
        tokens_of(&self.read(name, force).await.unwrap().1)
    }

    /// The tokens stored, without a backend read.
    pub async fn stored(&self, name: &str) -> Option<(ConnectionRecord, (String, Option<String>))> {
        let record = self.state.store.get_connection(&key(), &id(name)).await.unwrap()?;
        let credentials = super::super::open_credentials(&self.state, &record).await.unwrap();
        Some((record, tokens_of(&credentials)))
    }

    /// Moves the clock into the read margin of an hour's token (15 minutes).
    pub fn near_expiry(&self) {
        self.clock.advance(Duration::minutes(50));
    }

    /// The activity entries of the connection's refreshes, oldest first.
    pub async fn refresh_activity(&self, name: &str) -> Vec<crate::store::ActivityEntry> {
        let filter = crate::store::ActivityFilter {
            connection_id: Some(name.into()),
            limit: 100,
            before: Some(crate::store::ActivityCursor::newest(
                self.clock.now() + Duration::days(400),
            )),
            ..Default::default()
        };
        let mut entries = self.state.store.list_activity(&filter).await.unwrap();
        entries.retain(|e| e.operation == super::OPERATION);
        entries.reverse();
        entries
    }
}

pub(super) fn tokens_of(credentials: &Credentials) -> (String, Option<String>) {
    (
        credentials.access_token().unwrap().expose().to_owned(),
        credentials.refresh_token().map(|t| t.expose().to_owned()),
    )
}

fn pair(at: &str, rt: &str) -> (String, Option<String>) {
    (at.to_owned(), Some(rt.to_owned()))
}

#[tokio::test]
async fn a_fresh_token_is_answered_as_stored_and_force_refreshes() {
    let s = stack().await;
    s.connect("c").await;
    for _ in 0..3 {
        assert_eq!(s.tokens("c", false).await, pair("at-0", "rt-0"));
    }
    assert_eq!(s.peer.hits(), 0, "outside the margin: no provider call");
    assert_eq!(
        s.tokens("c", true).await,
        pair("at-1", "rt-1"),
        "force_refresh refreshes"
    );
    assert_eq!(s.tokens("c", false).await, pair("at-1", "rt-1"));
    assert_eq!(s.peer.granted(), 1);
    let activity = s.refresh_activity("c").await;
    assert_eq!(activity.len(), 1, "{activity:?}");
    assert_eq!(activity[0].event, "refreshed");
    assert!(
        activity[0].message.starts_with("Refreshed on read (force_refresh)"),
        "{}",
        activity[0].message
    );
    assert!(!activity[0].message.contains("at-1") && !activity[0].message.contains("rt-"));
}

#[tokio::test]
async fn concurrent_reads_in_the_margin_cause_one_grant_and_all_get_the_stored_token() {
    let s = stack().await;
    s.connect("c").await;
    s.near_expiry();
    let reads = futures::future::join_all((0..20).map(|_| s.tokens("c", false))).await;
    assert!(reads.iter().all(|t| *t == pair("at-1", "rt-1")), "{reads:?}");
    assert_eq!((s.peer.granted(), s.peer.reused()), (1, 0));
    assert_eq!(
        s.stored("c").await.unwrap().1,
        pair("at-1", "rt-1"),
        "the rotated token is stored"
    );
    // Reads in a loop after the refresh: nothing more until it is due again.
    for _ in 0..10 {
        s.tokens("c", false).await;
    }
    assert_eq!(s.peer.hits(), 1);
    s.near_expiry();
    assert_eq!(s.tokens("c", false).await, pair("at-2", "rt-2"), "due again");
}

#[tokio::test]
async fn concurrent_forced_reads_share_one_refresh() {
    let s = stack().await;
    s.connect("c").await;
    let reads = futures::future::join_all((0..10).map(|_| s.tokens("c", true))).await;
    assert!(reads.iter().all(|t| *t == pair("at-1", "rt-1")), "{reads:?}");
    assert_eq!(
        s.peer.granted(),
        1,
        "a refresh after the read asked is the one it forced"
    );
}

#[tokio::test]
async fn a_response_without_a_refresh_token_keeps_the_old_one() {
    let s = stack().await;
    s.peer.keep_refresh_token();
    s.connect("c").await;
    s.near_expiry();
    assert_eq!(s.tokens("c", false).await, pair("at-1", "rt-0"));
    assert_eq!(s.stored("c").await.unwrap().1, pair("at-1", "rt-0"));
    s.near_expiry();
    assert_eq!(s.tokens("c", false).await, pair("at-2", "rt-0"), "and it still works");
}

#[tokio::test]
async fn a_short_token_is_refreshed_in_the_second_half_of_its_life_only() {
    let s = stack().await;
    s.authorize_for("short", "at-0", "rt-0", Duration::minutes(2)).await;
    s.clock.advance(Duration::seconds(50));
    assert_eq!(
        s.tokens("short", false).await.0,
        "at-0",
        "not on every read of a 2-minute token"
    );
    s.clock.advance(Duration::seconds(20));
    assert_eq!(
        s.tokens("short", false).await.0,
        "at-1",
        "within half its life of expiry"
    );
}

/// Holds the refresh at the provider, runs `meanwhile`, lets the provider answer: what the read
/// answered.
async fn refresh_racing(
    s: &Stack,
    meanwhile: impl std::future::Future<Output = ()>,
) -> Result<(String, Option<String>), Error> {
    s.near_expiry();
    s.peer.hold();
    let read = s.read("c", false);
    let race = async {
        s.peer.arrived().await;
        meanwhile.await;
        s.peer.let_through();
    };
    let (read, ()) = tokio::join!(read, race);
    read.map(|(_, c)| tokens_of(&c))
}

#[tokio::test]
async fn a_write_lost_to_a_metadata_edit_keeps_the_edit_and_the_rotated_token() {
    let s = stack().await;
    s.connect("c").await;
    let metadata: Map<String, Value> = json!({"plan": "pro"}).as_object().unwrap().clone();
    let read = refresh_racing(&s, async {
        write_metadata(&s.state, &key(), &[id("c")], &metadata, MetadataWrite::Merge)
            .await
            .unwrap();
    })
    .await;
    assert_eq!(read.unwrap(), pair("at-1", "rt-1"));
    let (record, stored) = s.stored("c").await.unwrap();
    assert_eq!(
        stored,
        pair("at-1", "rt-1"),
        "the rotated token was written on top of the edit"
    );
    assert_eq!(record.metadata, metadata, "the edit was kept");
    s.near_expiry();
    assert_eq!(s.tokens("c", false).await, pair("at-2", "rt-2"));
    assert_eq!(s.peer.reused(), 0, "no refresh token was lost");
}

#[tokio::test]
async fn a_connection_deleted_during_its_refresh_stays_deleted() {
    let s = stack().await;
    s.connect("c").await;
    let read = refresh_racing(&s, async {
        assert!(s.state.store.delete_connection(&key(), &id("c")).await.unwrap());
    })
    .await;
    assert_eq!(read.unwrap_err().code, ErrorCode::NotFound);
    assert!(s.stored("c").await.is_none(), "nothing deleted comes back");
    assert!(s.read("c", false).await.is_err());
}

#[tokio::test]
async fn an_authorization_during_a_refresh_wins_over_it() {
    let s = stack().await;
    s.connect("c").await;
    let read = refresh_racing(&s, s.authorize("c", "at-new-grant", "rt-new-grant")).await;
    assert_eq!(read.unwrap(), pair("at-new-grant", "rt-new-grant"));
    assert_eq!(s.stored("c").await.unwrap().1, pair("at-new-grant", "rt-new-grant"));
    let activity = s.refresh_activity("c").await;
    assert_eq!(activity.last().unwrap().event, "superseded", "{activity:?}");
}

#[tokio::test]
async fn a_key_service_that_fails_the_first_tries_still_gets_the_rotated_token_stored() {
    let s = stack().await;
    s.connect("c").await;
    s.near_expiry();
    s.clock.set_virtual_waits(true);
    s.sealer.fail.store(3, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(s.tokens("c", false).await, pair("at-1", "rt-1"));
    assert_eq!(s.stored("c").await.unwrap().1, pair("at-1", "rt-1"));
    assert_eq!(s.peer.granted(), 1);
}

#[tokio::test]
async fn rotated_credentials_that_cannot_be_stored_are_never_handed_out_and_the_lease_is_kept() {
    let s = stack().await;
    s.connect("c").await;
    s.near_expiry();
    s.clock.set_virtual_waits(true);
    s.sealer.fail.store(usize::MAX, std::sync::atomic::Ordering::SeqCst);
    let e = s.read("c", true).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::ServiceUnavailable);
    assert_eq!(s.peer.granted(), 1);
    assert_eq!(
        s.stored("c").await.unwrap().1,
        pair("at-0", "rt-0"),
        "nothing half-written"
    );
    // While the lease lasts no other read sends the old refresh token: the still valid token is
    // answered instead.
    s.sealer.fail.store(0, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(s.tokens("c", false).await, pair("at-0", "rt-0"));
    assert_eq!((s.peer.hits(), s.peer.reused()), (1, 0));
    let activity = s.refresh_activity("c").await;
    assert!(
        activity.iter().any(|e| e.message.contains("could not be stored")),
        "{activity:?}"
    );
}

#[tokio::test]
async fn a_lease_holder_that_died_holds_readers_off_until_its_lease_ends() {
    let s = stack().await;
    s.connect("c").await;
    s.clock.advance(Duration::minutes(61));
    let now = s.clock.now();
    assert!(s
        .state
        .store
        .acquire_refresh_lease(&key(), &id("c"), "a-holder-that-died", now, now + LEASE)
        .await
        .unwrap());
    // The token has expired: readers wait for the holder (moving the clock, not taking time),
    // then give up with a retryable error rather than refresh beside it.
    s.clock.set_virtual_waits(true);
    let e = s.read("c", false).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::ServiceUnavailable);
    assert_eq!(s.peer.hits(), 0);
    // Once its lease ends, the next read takes it and refreshes.
    s.clock.advance(LEASE);
    assert_eq!(s.tokens("c", false).await, pair("at-1", "rt-1"));
    assert_eq!((s.peer.granted(), s.peer.reused()), (1, 0));
}

#[tokio::test]
async fn a_reader_that_finds_the_lease_taken_answers_the_old_token_while_it_is_valid() {
    let s = stack().await;
    s.connect("c").await;
    s.near_expiry();
    let now = s.clock.now();
    s.state
        .store
        .acquire_refresh_lease(&key(), &id("c"), "slow-holder", now, now + LEASE)
        .await
        .unwrap();
    s.clock.set_virtual_waits(true);
    assert_eq!(s.tokens("c", false).await, pair("at-0", "rt-0"));
    assert_eq!(s.peer.hits(), 0);
}

#[tokio::test]
async fn the_scheduled_renewal_refreshes_what_is_due_and_nothing_else() {
    use super::{refresh_due, Renewal};
    let s = stack().await;
    s.connect("c").await;
    s.tokens("c", false).await; // read: the connection is hot
    assert_eq!(refresh_due(&s.state, &key(), &id("c")).await.unwrap(), Renewal::NotDue);
    s.clock.advance(Duration::minutes(41));
    let now = s.clock.now();
    s.state
        .store
        .acquire_refresh_lease(&key(), &id("c"), "a-reader", now, now + Duration::seconds(5))
        .await
        .unwrap();
    assert_eq!(
        refresh_due(&s.state, &key(), &id("c")).await.unwrap(),
        Renewal::Busy,
        "never waits"
    );
    s.clock.advance(Duration::seconds(5));
    assert_eq!(
        refresh_due(&s.state, &key(), &id("c")).await.unwrap(),
        Renewal::Refreshed
    );
    assert_eq!(s.stored("c").await.unwrap().1, pair("at-1", "rt-1"));
    assert_eq!(
        refresh_due(&s.state, &key(), &id("c")).await.unwrap(),
        Renewal::NotDue,
        "once"
    );
    assert_eq!(
        s.tokens("c", false).await,
        pair("at-1", "rt-1"),
        "the read did not wait on the provider"
    );
    assert_eq!(s.peer.granted(), 1);
    let activity = s.refresh_activity("c").await;
    assert!(
        activity[0].message.starts_with("Renewed ahead of reads (hot)"),
        "{activity:?}"
    );
    assert_eq!(refresh_due(&s.state, &key(), &id("gone")).await.unwrap(), Renewal::Gone);
}
