//! Building an `AppState` from the process environment, for the Lambda binaries (and any
//! deployment that is configured by variables rather than flags).
//!
//! `LATCHKEY_BACKEND` picks the store, sealer and key source:
//! - `local`: the data directory of `LATCHKEY_DATA_DIR` (SQLite, key file, keys file).

use crate::config::Config;
use crate::AppState;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Deployment configuration from `LATCHKEY_ENVIRONMENT`, `LATCHKEY_PUBLIC_URL` and
/// `LATCHKEY_CALLBACK_URL`.
pub fn config_from_env() -> Result<Config, BoxError> {
    let environment = var("LATCHKEY_ENVIRONMENT").unwrap_or_else(|| "dev".into());
    let public_url = var("LATCHKEY_PUBLIC_URL")
        .ok_or("LATCHKEY_PUBLIC_URL is required")?
        .parse()?;
    let callback_url = var("LATCHKEY_CALLBACK_URL").map(|u| u.parse()).transpose()?;
    Ok(Config::new(environment, public_url, callback_url))
}

pub async fn state_from_env() -> Result<AppState, BoxError> {
    let config = config_from_env()?;
    match var("LATCHKEY_BACKEND").as_deref().unwrap_or("local") {
        "local" => {
            let dir = var("LATCHKEY_DATA_DIR").unwrap_or_else(|| ".latchkey".into());
            Ok(crate::local::open(std::path::Path::new(&dir), config)?.state)
        }
        other => Err(format!("LATCHKEY_BACKEND '{other}' is not one of: local").into()),
    }
}

/// Structured logs for Lambda (CloudWatch): no colours, level from `RUST_LOG` (default info).
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_ansi(false)
        .without_time()
        .try_init();
}
