//! Lambda `refresh-scheduler`: on each EventBridge scheduled event, finds the connections due for
//! renewal in the refresh index and enqueues their refresh jobs for the worker
//! (`latchkey::lambda::serve_scheduler`). All behaviour lives in the `latchkey` crate.

#[tokio::main]
async fn main() -> Result<(), latchkey::lambda::Error> {
    latchkey::lambda::serve_scheduler().await
}
