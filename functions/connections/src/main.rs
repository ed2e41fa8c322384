//! Lambda `connections`: serves `latchkey::api::connections`. All behaviour lives in the `latchkey` crate.

#[tokio::main]
async fn main() -> Result<(), latchkey::lambda::Error> {
    latchkey::runtime::init_tracing();
    let state = latchkey::runtime::state_from_env().await?;
    latchkey::lambda::run(latchkey::api::connections(state)).await
}
