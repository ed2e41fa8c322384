//! The local stack's data directory: SQLite store, sealing key file and environment keys, all
//! created on first start with owner-only permissions. The store also holds the job queue;
//! `LocalStack::jobs` runs it (`latchkey serve` on a timer).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::{Config, EnvironmentKeys};
use crate::crypto::local::LocalSealer;
use crate::crypto::write_private_file;
use crate::store::sqlite::SqliteStore;
use crate::AppState;

pub const STORE_FILE: &str = "latchkey.sqlite3";
pub const SEALING_KEY_FILE: &str = "sealing.key";
pub const KEYS_FILE: &str = "environment-keys.json";

pub struct LocalStack {
    pub state: AppState,
    /// Runs the queued background jobs (`jobs::local`).
    pub jobs: crate::jobs::local::Runner,
    /// True when this start created the data directory's keys: print them once.
    pub first_start: bool,
    pub data_dir: PathBuf,
}

fn io_context(path: &Path, e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(format!("{}: {e}", path.display()))
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
    let store = SqliteStore::open(&store_path)
        .map_err(|e| io_context(&store_path, e))?
        .with_refresh_policy(config.refresh.clone());
    let store = Arc::new(store);
    let state = AppState::new(store.clone(), Arc::new(sealer), keys, config)
        .with_jobs(Arc::new(crate::queue::local::StoreQueue::new(store.clone())));
    Ok(LocalStack {
        jobs: crate::jobs::local::Runner::new(state.clone(), store),
        state,
        first_start,
        data_dir: data_dir.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_start_creates_keys_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::new("dev", "http://127.0.0.1:3003".parse().unwrap(), None);
        let first = open(dir.path(), config.clone()).unwrap();
        assert!(first.first_start);
        let again = open(dir.path(), config).unwrap();
        assert!(!again.first_start);
        assert_eq!(first.state.keys, again.state.keys);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for f in [KEYS_FILE, SEALING_KEY_FILE] {
                let mode = std::fs::metadata(dir.path().join(f)).unwrap().permissions().mode();
                assert_eq!(mode & 0o777, 0o600, "{f}");
            }
        }
    }
}
