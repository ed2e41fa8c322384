//! Lambda `oauth-callback`: serves its block of the route table, `latchkey::api::OAUTH_CALLBACK`. All behaviour
//! lives in the `latchkey` crate.

#[tokio::main]
async fn main() -> Result<(), latchkey::lambda::Error> {
    latchkey::lambda::serve(latchkey::api::OAUTH_CALLBACK).await
}
