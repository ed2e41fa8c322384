//! Lambda `connections`: serves its block of the route table, `latchkey::api::CONNECTIONS`. All behaviour
//! lives in the `latchkey` crate.

#[tokio::main]
async fn main() -> Result<(), latchkey::lambda::Error> {
    latchkey::lambda::serve(latchkey::api::CONNECTIONS).await
}
