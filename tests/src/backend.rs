//! Which store and sealer the stack under test runs on, chosen by `LATCHKEY_TEST_BACKEND`:
//! `sqlite` (default: the local stack's SQLite store and key-file sealer in a temp directory).
//! Every backend is built here and nowhere else, so a new one (e.g. `aws`: DynamoDB and KMS on
//! moto) is one more arm of `build_state`.

use std::path::Path;

use latchkey::AppState;
use latchkey::config::Config;

pub const BACKEND_ENV: &str = "LATCHKEY_TEST_BACKEND";

/// The backend named by `LATCHKEY_TEST_BACKEND`, `sqlite` when unset.
pub fn selected_backend() -> String {
    std::env::var(BACKEND_ENV)
        .ok()
        .filter(|b| !b.trim().is_empty())
        .unwrap_or_else(|| "sqlite".into())
}

/// Builds the `AppState` of the selected backend. `data_dir` is private to one test.
pub async fn build_state(data_dir: &Path, config: Config) -> AppState {
    match selected_backend().as_str() {
        "sqlite" => {
            latchkey::local::open(data_dir, config)
                .expect("the local data directory opens")
                .state
        }
        other => panic!("{BACKEND_ENV}={other:?} is not a known test backend; use \"sqlite\" (the default)"),
    }
}
