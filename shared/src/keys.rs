//! The environment's keys at run time. They live in a `KeySource` (the data directory's keys
//! file locally, the Secrets Manager secret on AWS) and every process caches them (`Keys`):
//!
//! - a cached copy older than `max_age` is read again on the next use, so a rotation done by
//!   one process (or by hand) reaches every Lambda instance within `max_age`, with no redeploy;
//! - a caller that presents a key the cache does not know (a backend already on the new secret
//!   key) makes the process read the source again at once — at most once per `RELOAD_GAP`, so
//!   a flood of wrong keys cannot turn into a flood of Secrets Manager calls;
//! - when the source cannot be read, the cached keys keep serving (logged): an outage of the
//!   key service does not lock every caller out.
//!
//! `rotate` replaces keys in the source: a new secret key keeps the previous one working for a
//! grace period (`EnvironmentKeys::previous_secret_key_expires_at`); the public, HMAC and
//! webhook signing keys are replaced at once.

use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::config::{
    new_key, EnvironmentKeys, HMAC_KEY_PREFIX, PUBLIC_KEY_PREFIX, SECRET_KEY_PREFIX, WEBHOOK_KEY_PREFIX,
};
use crate::domain::Secret;
use crate::error::Error;

/// How long a process uses its copy of the keys before reading them again.
pub const DEFAULT_MAX_AGE: Duration = Duration::minutes(5);
/// The shortest time between two reads forced by an unknown key.
pub const RELOAD_GAP: Duration = Duration::seconds(5);
/// How long the previous secret key keeps working after a rotation, unless the caller says.
pub const DEFAULT_GRACE: Duration = Duration::hours(24);
/// The longest grace period a rotation may give.
pub const MAX_GRACE: Duration = Duration::days(30);

/// Where the keys are kept.
#[async_trait]
pub trait KeySource: Send + Sync {
    async fn load(&self) -> Result<EnvironmentKeys, Error>;
    /// Replaces the stored keys whole.
    async fn save(&self, keys: &EnvironmentKeys) -> Result<(), Error>;
}

/// Keys held in memory only (tests; a deployment whose keys never change at run time).
pub struct FixedKeys(std::sync::Mutex<EnvironmentKeys>);

impl FixedKeys {
    pub fn new(keys: EnvironmentKeys) -> Self {
        Self(std::sync::Mutex::new(keys))
    }
}

#[async_trait]
impl KeySource for FixedKeys {
    async fn load(&self) -> Result<EnvironmentKeys, Error> {
        Ok(self.0.lock().expect("not poisoned").clone())
    }
    async fn save(&self, keys: &EnvironmentKeys) -> Result<(), Error> {
        *self.0.lock().expect("not poisoned") = keys.clone();
        Ok(())
    }
}

impl From<EnvironmentKeys> for Keys {
    fn from(keys: EnvironmentKeys) -> Self {
        Keys::fixed(keys)
    }
}

/// One of the four keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyName {
    SecretKey,
    PublicKey,
    HmacKey,
    WebhookSigningKey,
}

impl KeyName {
    pub const ALL: [KeyName; 4] = [
        KeyName::SecretKey,
        KeyName::PublicKey,
        KeyName::HmacKey,
        KeyName::WebhookSigningKey,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            KeyName::SecretKey => "secret_key",
            KeyName::PublicKey => "public_key",
            KeyName::HmacKey => "hmac_key",
            KeyName::WebhookSigningKey => "webhook_signing_key",
        }
    }

    fn fresh(self) -> String {
        let prefix = match self {
            KeyName::SecretKey => SECRET_KEY_PREFIX,
            KeyName::PublicKey => PUBLIC_KEY_PREFIX,
            KeyName::HmacKey => HMAC_KEY_PREFIX,
            KeyName::WebhookSigningKey => WEBHOOK_KEY_PREFIX,
        };
        new_key(prefix)
    }
}

/// `keys` with each of `names` replaced by a new random key. A new secret key keeps the old
/// one as `previous_secret_key` until `now + grace` (a grace of zero drops it).
pub fn rotated(keys: &EnvironmentKeys, names: &[KeyName], grace: Duration, now: OffsetDateTime) -> EnvironmentKeys {
    let mut next = keys.clone();
    for name in names {
        match name {
            KeyName::SecretKey => {
                let old = std::mem::replace(&mut next.secret_key, Secret::new(name.fresh()));
                let keep = grace > Duration::ZERO;
                next.previous_secret_key = keep.then_some(old);
                next.previous_secret_key_expires_at = keep.then_some(now + grace);
            }
            KeyName::PublicKey => next.public_key = name.fresh(),
            KeyName::HmacKey => next.hmac_key = Secret::new(name.fresh()),
            KeyName::WebhookSigningKey => next.webhook_signing_key = Secret::new(name.fresh()),
        }
    }
    next
}

struct Cached {
    keys: Arc<EnvironmentKeys>,
    loaded_at: OffsetDateTime,
    /// When an unknown key last forced a read.
    forced_at: Option<OffsetDateTime>,
}

/// A process's view of the keys (`AppState::keys`).
pub struct Keys {
    source: Arc<dyn KeySource>,
    cached: RwLock<Cached>,
    max_age: Duration,
    /// One rotation at a time in this process (two at once would both keep the same previous
    /// key and lose one of the new ones).
    rotating: tokio::sync::Mutex<()>,
}

impl Keys {
    /// Keys already read from `source` (at start) at `loaded_at`.
    pub fn new(source: Arc<dyn KeySource>, keys: EnvironmentKeys, loaded_at: OffsetDateTime) -> Self {
        Self {
            source,
            cached: RwLock::new(Cached {
                keys: Arc::new(keys),
                loaded_at,
                forced_at: None,
            }),
            max_age: DEFAULT_MAX_AGE,
            rotating: tokio::sync::Mutex::new(()),
        }
    }

    /// Keys that never change at run time, kept in memory.
    pub fn fixed(keys: EnvironmentKeys) -> Self {
        Self::new(Arc::new(FixedKeys::new(keys.clone())), keys, OffsetDateTime::now_utc())
    }

    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// The keys this process holds now, without reading the source.
    pub fn cached(&self) -> Arc<EnvironmentKeys> {
        self.cached.read().expect("not poisoned").keys.clone()
    }

    /// The keys to use at `now`: the cached copy, read again first when it is older than
    /// `max_age`.
    pub async fn current(&self, now: OffsetDateTime) -> Arc<EnvironmentKeys> {
        let stale = {
            let c = self.cached.read().expect("not poisoned");
            now - c.loaded_at >= self.max_age || now < c.loaded_at - self.max_age
        };
        if stale {
            self.reload(now).await;
        }
        self.cached()
    }

    /// A caller presented a key the cached copy does not know: the keys read again, when no
    /// other forced read happened within `RELOAD_GAP`. `Some` only when they changed.
    pub async fn reload_for_unknown_key(&self, now: OffsetDateTime) -> Option<Arc<EnvironmentKeys>> {
        {
            let mut c = self.cached.write().expect("not poisoned");
            if c.forced_at.is_some_and(|at| now - at < RELOAD_GAP && now >= at) {
                return None;
            }
            c.forced_at = Some(now);
        }
        let before = self.cached();
        let after = self.reload(now).await;
        (after != before).then_some(after)
    }

    /// `check` against the keys: the cached ones, and when they fail it, once more against
    /// the source's (`reload_for_unknown_key`). The keys that passed come back with the result.
    pub async fn check<T, E>(
        &self,
        now: OffsetDateTime,
        check: impl Fn(&EnvironmentKeys) -> Result<T, E>,
    ) -> Result<(T, Arc<EnvironmentKeys>), E> {
        let keys = self.current(now).await;
        match check(&keys) {
            Ok(t) => Ok((t, keys)),
            Err(first) => match self.reload_for_unknown_key(now).await {
                Some(fresh) => check(&fresh).map(|t| (t, fresh)),
                None => Err(first),
            },
        }
    }

    async fn reload(&self, now: OffsetDateTime) -> Arc<EnvironmentKeys> {
        match self.source.load().await {
            Ok(keys) => self.install(keys, now),
            Err(e) => {
                tracing::warn!(error = %e, "could not read the environment keys; keeping the cached ones");
                // Try again after another `max_age`, not on every request.
                self.cached.write().expect("not poisoned").loaded_at = now;
                self.cached()
            }
        }
    }

    fn install(&self, keys: EnvironmentKeys, now: OffsetDateTime) -> Arc<EnvironmentKeys> {
        let mut c = self.cached.write().expect("not poisoned");
        if *c.keys != keys {
            c.keys = Arc::new(keys);
        }
        c.loaded_at = now;
        c.keys.clone()
    }

    /// Replaces `names` in the source (read afresh first, so a rotation by another process is
    /// kept) and in this process's copy. Other processes see it within `max_age`, or at once
    /// when a caller presents a new key.
    pub async fn rotate(
        &self,
        names: &[KeyName],
        grace: Duration,
        now: OffsetDateTime,
    ) -> Result<Arc<EnvironmentKeys>, Error> {
        let _one = self.rotating.lock().await;
        let stored = self.source.load().await?;
        let next = rotated(&stored, names, grace, now);
        self.source.save(&next).await?;
        Ok(self.install(next, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes: i64) -> OffsetDateTime {
        time::macros::datetime!(2030-01-01 00:00 UTC) + Duration::minutes(minutes)
    }

    /// A source whose reads are counted and which another process may change behind our back.
    struct Shared {
        keys: std::sync::Mutex<EnvironmentKeys>,
        reads: std::sync::atomic::AtomicUsize,
        down: std::sync::atomic::AtomicBool,
    }

    #[async_trait]
    impl KeySource for Shared {
        async fn load(&self) -> Result<EnvironmentKeys, Error> {
            self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if self.down.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(Error::unavailable("The key service"));
            }
            Ok(self.keys.lock().unwrap().clone())
        }
        async fn save(&self, keys: &EnvironmentKeys) -> Result<(), Error> {
            *self.keys.lock().unwrap() = keys.clone();
            Ok(())
        }
    }

    fn shared() -> (Arc<Shared>, EnvironmentKeys) {
        let keys = EnvironmentKeys::generate();
        let source = Arc::new(Shared {
            keys: std::sync::Mutex::new(keys.clone()),
            reads: Default::default(),
            down: Default::default(),
        });
        (source, keys)
    }

    #[test]
    fn a_rotated_secret_key_keeps_the_old_one_for_the_grace_period_only() {
        let keys = EnvironmentKeys::generate();
        let next = rotated(&keys, &[KeyName::SecretKey], Duration::hours(24), at(0));
        assert_ne!(next.secret_key, keys.secret_key);
        assert!(next.secret_key.expose().starts_with("lk_sk_"));
        assert_eq!((&next.public_key, &next.hmac_key), (&keys.public_key, &keys.hmac_key));
        let old = keys.secret_key.expose();
        assert_eq!(next.accepted_secret_keys(at(60)), [next.secret_key.expose(), old]);
        assert_eq!(next.accepted_secret_keys(at(24 * 60)), [next.secret_key.expose()]);
        let now = rotated(&keys, &[KeyName::SecretKey], Duration::ZERO, at(0));
        assert_eq!(now.accepted_secret_keys(at(0)), [now.secret_key.expose()]);
        assert_eq!(now.previous_secret_key, None);
        let others = rotated(
            &keys,
            &[KeyName::PublicKey, KeyName::HmacKey],
            Duration::hours(1),
            at(0),
        );
        assert_eq!(others.secret_key, keys.secret_key);
        assert!(others.previous_secret_key.is_none());
        assert!(others.public_key.starts_with("lk_pk_") && others.public_key != keys.public_key);
        assert_ne!(others.hmac_key, keys.hmac_key);
    }

    #[tokio::test]
    async fn another_processs_rotation_is_seen_after_max_age_or_on_an_unknown_key() {
        let (source, keys) = shared();
        let this = Keys::new(source.clone(), keys.clone(), at(0));
        let other = Keys::new(source.clone(), keys.clone(), at(0));
        let new = other
            .rotate(&[KeyName::SecretKey], Duration::hours(1), at(1))
            .await
            .unwrap();
        assert_eq!(this.current(at(2)).await.secret_key, keys.secret_key, "still cached");
        let seen = this.reload_for_unknown_key(at(2)).await.expect("changed");
        assert_eq!(seen.secret_key, new.secret_key);
        // Forced reads are spaced out; the cache's age brings the next change anyway.
        let reads = source.reads.load(std::sync::atomic::Ordering::SeqCst);
        other
            .rotate(&[KeyName::PublicKey], Duration::ZERO, at(3))
            .await
            .unwrap();
        assert!(this
            .reload_for_unknown_key(at(2) + Duration::seconds(1))
            .await
            .is_none());
        assert_eq!(
            source.reads.load(std::sync::atomic::Ordering::SeqCst),
            reads + 1,
            "only the rotation read"
        );
        assert_ne!(this.current(at(2) + DEFAULT_MAX_AGE).await.public_key, keys.public_key);
    }

    #[tokio::test]
    async fn an_unreadable_source_keeps_the_cached_keys() {
        let (source, keys) = shared();
        let this = Keys::new(source.clone(), keys.clone(), at(0));
        source.down.store(true, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(*this.current(at(10)).await, keys);
        assert!(this.rotate(&[KeyName::SecretKey], DEFAULT_GRACE, at(10)).await.is_err());
        assert_eq!(*this.cached(), keys, "a failed rotation changes nothing");
    }
}
