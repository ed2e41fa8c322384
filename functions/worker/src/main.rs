//! Lambda `worker`: runs the background jobs SQS delivers (`latchkey::jobs::sqs::serve`),
//! reporting partial batch failures. All behaviour lives in the `latchkey` crate.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    latchkey::runtime::init_tracing();
    let state = latchkey::runtime::state_from_env().await?;
    latchkey::jobs::sqs::serve(state).await
}
