//! Lambda `worker`: runs the background jobs SQS delivers (`latchkey::lambda::serve_worker`),
//! reporting partial batch failures. All behaviour lives in the `latchkey` crate.

#[tokio::main]
async fn main() -> Result<(), latchkey::lambda::Error> {
    latchkey::lambda::serve_worker().await
}
