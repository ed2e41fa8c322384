//! Lambda `auth-start`: serves its block of the route table, `latchkey::api::AUTH_START`. All behaviour
//! lives in the `latchkey` crate.

#[tokio::main]
async fn main() -> Result<(), latchkey::lambda::Error> {
    latchkey::lambda::serve(latchkey::api::AUTH_START).await
}
