//! Which store, sealer and job queue the stack under test runs on, chosen by
//! `LATCHKEY_TEST_BACKEND`: `sqlite` (default: the local stack's SQLite store, key-file sealer
//! and store-backed job queue in a temp directory) or `aws` (DynamoDB, KMS, Secrets Manager and
//! SQS on moto). Every backend is built here and nowhere else, so a new one is one more arm of
//! `Backend`; `reopen` opens one again, as another process or Lambda instance would.

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
        queue_url: String,
    },
}

/// How a test runs the background jobs its requests enqueued: the way the backend's own
/// runner does (the local runner; the worker's SQS handler on messages received from moto).
pub enum Jobs {
    Local(latchkey::jobs::local::Runner),
    Sqs { client: aws_sdk_sqs::Client, url: String },
}

impl Jobs {
    /// Runs every job visible now on `state` (its clock decides what is visible locally),
    /// including the ones those jobs enqueue without delay. Returns how many ran.
    pub async fn run(&self, state: &AppState) -> usize {
        match self {
            Jobs::Local(runner) => runner.clone().with_state(state.clone()).drain(1000).await.total(),
            Jobs::Sqs { client, url } => latchkey::jobs::sqs::receive_and_run(state, client, url, 1000)
                .await
                .expect("the queue answers"),
        }
    }
}

/// Builds the `AppState` of the selected backend, what runs its jobs, and where it lives.
/// `data_dir` is private to one test.
pub async fn build_state(data_dir: &Path, config: Config) -> (AppState, Jobs, Backend) {
    let backend = match selected_backend().as_str() {
        "sqlite" => Backend::Sqlite(data_dir.to_owned()),
        "aws" => create_aws_backend().await,
        other => panic!("{BACKEND_ENV}={other:?} is not a known test backend; use \"sqlite\" (the default) or \"aws\""),
    };
    let (state, jobs) = reopen(&backend, config).await;
    (state, jobs, backend)
}

/// A new `AppState` over an existing backend (its own store client, sealer and queue client,
/// the same data), and what runs its jobs.
pub async fn reopen(backend: &Backend, config: Config) -> (AppState, Jobs) {
    match backend {
        Backend::Sqlite(dir) => {
            let stack = latchkey::local::open(dir, config).expect("the local data directory opens");
            (stack.state, Jobs::Local(stack.jobs))
        }
        Backend::Aws {
            table,
            key_id,
            secret_id,
            queue_url,
        } => aws_state(table, key_id, secret_id, queue_url, config).await,
    }
}

/// DynamoDB, KMS, Secrets Manager and SQS on the moto server of `AWS_ENDPOINT_URL` (started by
/// `tests/steps/40-aws.sh`): a table, a key, a secret and a queue of its own per test.
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
    let queue_url = aws::sqs_client(&sdk)
        .create_queue()
        .queue_name(format!("e2e-{suffix}"))
        .send()
        .await
        .expect("the test queue is created")
        .queue_url
        .expect("a queue URL");
    Backend::Aws {
        table,
        key_id,
        secret_id,
        queue_url,
    }
}

async fn aws_state(table: &str, key_id: &str, secret_id: &str, queue_url: &str, config: Config) -> (AppState, Jobs) {
    use latchkey::aws;
    use std::sync::Arc;
    let sdk = aws::sdk_config().await;
    let store = latchkey::store::dynamo::DynamoStore::new(aws::dynamodb_client(&sdk), table)
        .with_activity_retention(config.activity_retention)
        .with_refresh_policy(config.refresh.clone());
    let secrets = aws::secrets_client(&sdk);
    let keys = aws::environment_keys(&secrets, secret_id)
        .await
        .expect("the keys are read");
    // Every state over this backend reads the same secret: a rotation by one is seen by the
    // others (another instance's keys are re-read on an unknown key).
    let source = aws::SecretsManagerKeys {
        client: secrets,
        secret_id: secret_id.to_owned(),
    };
    let keys = latchkey::keys::Keys::new(Arc::new(source), keys, time::OffsetDateTime::now_utc());
    let sealer = latchkey::crypto::kms::KmsSealer::new(
        aws::kms_client(&sdk),
        key_id.to_owned(),
        latchkey::crypto::kms::CacheLimits::default(),
    );
    let sqs = aws::sqs_client(&sdk);
    let queue = latchkey::queue::sqs::SqsQueue::new(sqs.clone(), queue_url.to_owned());
    let state = AppState::new(Arc::new(store), Arc::new(sealer), keys, config).with_jobs(Arc::new(queue));
    (
        state,
        Jobs::Sqs {
            client: sqs,
            url: queue_url.to_owned(),
        },
    )
}
