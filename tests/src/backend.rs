//! Which store and sealer the stack under test runs on, chosen by `LATCHKEY_TEST_BACKEND`:
//! `sqlite` (default: the local stack's SQLite store and key-file sealer in a temp directory)
//! or `aws` (DynamoDB, KMS and Secrets Manager on moto). Every backend is built here and nowhere
//! else; `reopen` opens one again, as another process or Lambda instance would.

use std::path::{Path, PathBuf};

use latchkey::config::Config;
use latchkey::AppState;

pub const BACKEND_ENV: &str = "LATCHKEY_TEST_BACKEND";

/// The backend named by `LATCHKEY_TEST_BACKEND`, `sqlite` when unset.
pub fn selected_backend() -> String {
    std::env::var(BACKEND_ENV)
        .ok()
        .filter(|b| !b.trim().is_empty())
        .unwrap_or_else(|| "sqlite".into())
}

/// Where a test's backend lives: enough to open it again, as a second process or Lambda
/// instance would (`reopen`).
#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite(PathBuf),
    Aws {
        table: String,
        key_id: String,
        secret_id: String,
    },
}

/// Builds the `AppState` of the selected backend. `data_dir` is private to one test.
pub async fn build_state(data_dir: &Path, config: Config) -> (AppState, Backend) {
    let backend = match selected_backend().as_str() {
        "sqlite" => Backend::Sqlite(data_dir.to_owned()),
        "aws" => create_aws_backend().await,
        other => panic!("{BACKEND_ENV}={other:?} is not a known test backend; use \"sqlite\" (the default) or \"aws\""),
    };
    (reopen(&backend, config).await, backend)
}

/// A new `AppState` over an existing backend: its own store client and sealer, the same data.
pub async fn reopen(backend: &Backend, config: Config) -> AppState {
    match backend {
        Backend::Sqlite(dir) => {
            latchkey::local::open(dir, config)
                .expect("the local data directory opens")
                .state
        }
        Backend::Aws {
            table,
            key_id,
            secret_id,
        } => aws_state(table, key_id, secret_id, config).await,
    }
}

/// DynamoDB, KMS and Secrets Manager on the moto server of `AWS_ENDPOINT_URL` (started by
/// `tests/steps/40-aws.sh`): a table, a key and a secret of its own per test.
async fn create_aws_backend() -> Backend {
    use latchkey::aws;
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok(),
        "{BACKEND_ENV}=aws needs AWS_ENDPOINT_URL (a moto server; tests/steps/40-aws.sh starts one)"
    );
    let sdk = aws::sdk_config().await;
    let suffix = latchkey::crypto::random_token()[..12].replace(['-', '_'], "x");
    let table = format!("e2e-{suffix}");
    let store = latchkey::store::dynamo::DynamoStore::new(aws::dynamodb_client(&sdk), &table);
    store.create_table().await.expect("the test table is created");
    let key = aws::kms_client(&sdk)
        .create_key()
        .send()
        .await
        .expect("the test key is created");
    let key_id = key.key_metadata().expect("key metadata").key_id().to_owned();
    let secret_id = format!("latchkey/e2e/{suffix}");
    let generated = latchkey::config::EnvironmentKeys::generate();
    aws::secrets_client(&sdk)
        .create_secret()
        .name(&secret_id)
        .secret_string(serde_json::to_string(&generated).expect("keys serialize"))
        .send()
        .await
        .expect("the test secret is created");
    Backend::Aws {
        table,
        key_id,
        secret_id,
    }
}

async fn aws_state(table: &str, key_id: &str, secret_id: &str, config: Config) -> AppState {
    use latchkey::aws;
    use std::sync::Arc;
    let sdk = aws::sdk_config().await;
    let store = latchkey::store::dynamo::DynamoStore::new(aws::dynamodb_client(&sdk), table)
        .with_activity_retention(config.activity_retention);
    let keys = aws::environment_keys(&aws::secrets_client(&sdk), secret_id)
        .await
        .expect("the keys are read");
    let sealer = latchkey::crypto::kms::KmsSealer::new(
        aws::kms_client(&sdk),
        key_id.to_owned(),
        latchkey::crypto::kms::CacheLimits::default(),
    );
    AppState::new(Arc::new(store), Arc::new(sealer), keys, config)
}
