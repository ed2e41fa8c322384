//! Which store and sealer the stack under test runs on, chosen by `LATCHKEY_TEST_BACKEND`:
//! `sqlite` (default: the local stack's SQLite store and key-file sealer in a temp directory).
//! Every backend is built here and nowhere else, so a new one (e.g. `aws`: DynamoDB and KMS on
//! moto) is one more arm of `build_state`.

use std::path::Path;

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

/// Builds the `AppState` of the selected backend. `data_dir` is private to one test.
pub async fn build_state(data_dir: &Path, config: Config) -> AppState {
    match selected_backend().as_str() {
        "sqlite" => {
            latchkey::local::open(data_dir, config)
                .expect("the local data directory opens")
                .state
        }
        "aws" => aws_state(config).await,
        other => panic!("{BACKEND_ENV}={other:?} is not a known test backend; use \"sqlite\" (the default) or \"aws\""),
    }
}

/// DynamoDB, KMS and Secrets Manager on the moto server of `AWS_ENDPOINT_URL` (started by
/// `tests/steps/40-aws.sh`): a table, a key and a secret of its own per test.
async fn aws_state(config: Config) -> AppState {
    use latchkey::aws;
    use std::sync::Arc;
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok(),
        "{BACKEND_ENV}=aws needs AWS_ENDPOINT_URL (a moto server; tests/steps/40-aws.sh starts one)"
    );
    let sdk = aws::sdk_config().await;
    let suffix = latchkey::crypto::random_token()[..12].replace(['-', '_'], "x");
    let store = latchkey::store::dynamo::DynamoStore::new(aws::dynamodb_client(&sdk), format!("e2e-{suffix}"));
    store.create_table().await.expect("the test table is created");
    let kms = aws::kms_client(&sdk);
    let key = kms.create_key().send().await.expect("the test key is created");
    let key_id = key.key_metadata().expect("key metadata").key_id().to_owned();
    let secrets = aws::secrets_client(&sdk);
    let secret_id = format!("latchkey/e2e/{suffix}");
    let generated = latchkey::config::EnvironmentKeys::generate();
    secrets
        .create_secret()
        .name(&secret_id)
        .secret_string(serde_json::to_string(&generated).expect("keys serialize"))
        .send()
        .await
        .expect("the test secret is created");
    let keys = aws::environment_keys(&secrets, &secret_id)
        .await
        .expect("the keys are read");
    let source = aws::SecretsManagerKeys {
        client: secrets,
        secret_id,
    };
    let keys = latchkey::keys::Keys::new(Arc::new(source), keys, time::OffsetDateTime::now_utc());
    let sealer = latchkey::crypto::kms::KmsSealer::new(kms, key_id, latchkey::crypto::kms::CacheLimits::default());
    AppState::new(Arc::new(store), Arc::new(sealer), keys, config)
}
