//! The local stack's data directory: SQLite store, sealing key file and environment keys, all
//! created on first start with owner-only permissions, and checked on every start: a file
//! someone else may read (left by an older build, or copied in) is made owner-only again. The
//! store also holds the job queue; `LocalStack::jobs` runs it (`latchkey serve` on a timer).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::{Config, EnvironmentKeys};
use crate::crypto::local::LocalSealer;
use crate::crypto::write_private_file;
use crate::error::Error;
use crate::keys::{KeySource, Keys};
use crate::store::sqlite::SqliteStore;
use crate::AppState;

pub const STORE_FILE: &str = "latchkey.sqlite3";
pub const SEALING_KEY_FILE: &str = "sealing.key";
pub const KEYS_FILE: &str = "environment-keys.json";

pub struct LocalStack {
    pub state: AppState,
    /// The same store as `state.store`, for what only the local stack does (`purge`).
    pub sqlite: Arc<SqliteStore>,
    /// Runs the queued background jobs (`jobs::local`).
    pub jobs: crate::jobs::local::Runner,
    /// True when this start created the data directory's keys: print them once.
    pub first_start: bool,
    pub data_dir: PathBuf,
}

fn io_context(path: &Path, e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(format!("{}: {e}", path.display()))
}

/// Makes every file in the data directory owner-only (0600), saying so for each it changes.
pub fn make_files_private(data_dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for entry in std::fs::read_dir(data_dir)? {
            let entry = entry?;
            let metadata = entry.metadata()?;
            let mode = metadata.permissions().mode();
            if metadata.is_file() && mode & 0o077 != 0 {
                tracing::warn!(file = %entry.path().display(), mode = format!("{:o}", mode & 0o777), "data file was readable by others; made owner-only (0600)");
                std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(0o600))?;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = data_dir;
    Ok(())
}

/// The data directory's keys file. A rotation writes a new file beside it and renames it over
/// the old one, so a reader sees the old keys or the new ones, never half of either; every
/// `latchkey serve` on the directory sees the change within `keys::DEFAULT_MAX_AGE`.
pub struct KeysFile(pub PathBuf);

#[async_trait::async_trait]
impl KeySource for KeysFile {
    async fn load(&self) -> Result<EnvironmentKeys, Error> {
        let bytes = std::fs::read(&self.0).map_err(|e| {
            tracing::error!(path = %self.0.display(), error = %e, "cannot read the keys file");
            Error::unavailable("The keys file")
        })?;
        serde_json::from_slice(&bytes).map_err(|e| {
            tracing::error!(path = %self.0.display(), line = e.line(), "the keys file is not keys JSON");
            Error::internal()
        })
    }

    async fn save(&self, keys: &EnvironmentKeys) -> Result<(), Error> {
        let fresh = self.0.with_extension(format!("json.{}", uuid::Uuid::new_v4()));
        let written = write_private_file(&fresh, &serde_json::to_vec_pretty(keys).expect("keys serialize"))
            .and_then(|()| std::fs::rename(&fresh, &self.0));
        written.map_err(|e| {
            let _ = std::fs::remove_file(&fresh);
            tracing::error!(path = %self.0.display(), error = %e, "cannot write the keys file");
            Error::unavailable("The keys file")
        })
    }
}

/// Opens (or creates) the data directory and builds the local `AppState`.
pub fn open(data_dir: &Path, config: Config) -> std::io::Result<LocalStack> {
    std::fs::create_dir_all(data_dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700))?;
    }
    let keys_path = data_dir.join(KEYS_FILE);
    let (keys, first_start) = match std::fs::read(&keys_path) {
        Ok(bytes) => (
            serde_json::from_slice::<EnvironmentKeys>(&bytes).map_err(|e| io_context(&keys_path, e))?,
            false,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let keys = EnvironmentKeys::generate();
            write_private_file(&keys_path, &serde_json::to_vec_pretty(&keys).expect("keys serialize"))?;
            (keys, true)
        }
        Err(e) => return Err(io_context(&keys_path, e)),
    };
    let sealer = LocalSealer::open_or_create(&data_dir.join(SEALING_KEY_FILE))?;
    let store_path = data_dir.join(STORE_FILE);
    // Before and after opening: the files SQLite creates (`-wal`, `-shm`) exist only after.
    make_files_private(data_dir)?;
    let store = SqliteStore::open(&store_path)
        .map_err(|e| io_context(&store_path, e))?
        .with_refresh_policy(config.refresh.clone());
    let store = Arc::new(store);
    make_files_private(data_dir)?;
    let keys = Keys::new(Arc::new(KeysFile(keys_path)), keys, time::OffsetDateTime::now_utc());
    let state = AppState::new(store.clone(), Arc::new(sealer), keys, config)
        .with_jobs(Arc::new(crate::queue::local::StoreQueue::new(store.clone())));
    let stack = LocalStack {
        jobs: crate::jobs::local::Runner::new(state.clone(), store.clone()),
        state,
        sqlite: store,
        first_start,
        data_dir: data_dir.to_owned(),
    };
    stack.purge().map_err(|e| io_context(&store_path, e))?;
    Ok(stack)
}

/// How often `latchkey serve` purges expired rows.
pub const PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(10 * 60);

impl LocalStack {
    /// Deletes expired sessions, results and nonces, and activity older than the configured
    /// retention (on AWS, DynamoDB's TTL does this). Done at every start and, in `latchkey
    /// serve`, every `PURGE_EVERY`.
    pub fn purge(&self) -> crate::store::StoreResult<usize> {
        let now = self.state.clock.now();
        let removed = self.sqlite.purge_expired(
            now,
            crate::store::EXPIRED_ROWS_KEPT,
            now - self.state.config.activity_retention,
        )?;
        if removed > 0 {
            tracing::info!(removed, "purged expired rows");
        }
        Ok(removed)
    }

    /// Purges every `every`, for as long as the returned future runs.
    pub async fn purge_periodically(&self, every: std::time::Duration) {
        let mut ticks = tokio::time::interval(every);
        ticks.tick().await; // the first tick is now: `open` purged already
        loop {
            ticks.tick().await;
            if let Err(e) = self.purge() {
                tracing::warn!(error = %e, "could not purge expired rows");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file of the data directory, the ones SQLite creates once it writes (`-wal`,
    /// `-shm`) included, and files an older build left readable by others.
    #[cfg(unix)]
    #[tokio::test]
    async fn every_data_file_is_owner_only_even_those_sqlite_creates_later() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let config = Config::new("dev", "http://127.0.0.1:3003".parse().unwrap(), None);
        let mode = |name: &str| std::fs::metadata(dir.path().join(name)).unwrap().permissions().mode() & 0o777;
        {
            let stack = open(dir.path(), config.clone()).unwrap();
            let mut settings = stack.state.store.get_settings().await.unwrap();
            settings.hmac_enabled = true;
            stack.state.store.put_settings(&settings).await.unwrap();
            for name in [
                STORE_FILE,
                "latchkey.sqlite3-wal",
                "latchkey.sqlite3-shm",
                KEYS_FILE,
                SEALING_KEY_FILE,
            ] {
                assert_eq!(mode(name), 0o600, "{name}");
            }
        }
        // An older build's files, readable by everyone: the next start makes them private.
        for name in [STORE_FILE, KEYS_FILE, SEALING_KEY_FILE] {
            std::fs::set_permissions(dir.path().join(name), std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        let again = open(dir.path(), config).unwrap();
        assert!(again.state.store.get_settings().await.unwrap().hmac_enabled);
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let entry = entry.unwrap();
            assert_eq!(
                entry.metadata().unwrap().permissions().mode() & 0o777,
                0o600,
                "{:?}",
                entry.path()
            );
        }
    }

    /// What expired while the stack was down is gone after the next start.
    #[tokio::test]
    async fn a_start_purges_what_expired() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::new("dev", "http://127.0.0.1:3003".parse().unwrap(), None);
        let long_ago = time::OffsetDateTime::now_utc() - time::Duration::days(40);
        {
            let stack = open(dir.path(), config.clone()).unwrap();
            let entry = crate::store::conformance::activity_entry("old", long_ago);
            stack.state.store.append_activity(&entry).await.unwrap();
            assert!(stack.state.store.claim_nonce("n", long_ago, long_ago).await.unwrap());
        }
        let stack = open(dir.path(), config).unwrap();
        let filter = crate::store::ActivityFilter {
            limit: 10,
            ..Default::default()
        };
        assert!(stack.state.store.list_activity(&filter).await.unwrap().is_empty());
        assert_eq!(stack.purge().unwrap(), 0, "nothing left to purge");
    }

    #[test]
    fn first_start_creates_keys_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::new("dev", "http://127.0.0.1:3003".parse().unwrap(), None);
        let first = open(dir.path(), config.clone()).unwrap();
        assert!(first.first_start);
        let again = open(dir.path(), config).unwrap();
        assert!(!again.first_start);
        assert_eq!(first.state.keys.cached(), again.state.keys.cached());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for f in [KEYS_FILE, SEALING_KEY_FILE] {
                let mode = std::fs::metadata(dir.path().join(f)).unwrap().permissions().mode();
                assert_eq!(mode & 0o777, 0o600, "{f}");
            }
        }
    }

    #[tokio::test]
    async fn a_rotation_rewrites_the_keys_file_for_every_process_on_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::new("dev", "http://127.0.0.1:3003".parse().unwrap(), None);
        let one = open(dir.path(), config.clone()).unwrap().state;
        let two = open(dir.path(), config).unwrap().state;
        let now = time::OffsetDateTime::now_utc();
        let old = one.keys.cached();
        let new = one
            .keys
            .rotate(&[crate::keys::KeyName::SecretKey], time::Duration::hours(1), now)
            .await
            .unwrap();
        let on_disk: EnvironmentKeys =
            serde_json::from_slice(&std::fs::read(dir.path().join(KEYS_FILE)).unwrap()).unwrap();
        assert_eq!(on_disk, *new);
        assert_eq!(on_disk.previous_secret_key, Some(old.secret_key.clone()));
        let seen = two
            .keys
            .reload_for_unknown_key(now)
            .await
            .expect("the other process sees it");
        assert_eq!(seen.secret_key, new.secret_key);
        let leftovers = std::fs::read_dir(dir.path()).unwrap().filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("environment-keys.json.")
        });
        assert_eq!(leftovers.count(), 0, "no temporary file left");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEYS_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
