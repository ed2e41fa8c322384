//! Lambda `auth-start`: serves the routes of `latchkey::api::routes()` marked `Function::AuthStart`. All
//! behaviour lives in the `latchkey` crate.

#[tokio::main]
async fn main() -> Result<(), latchkey::lambda::Error> {
    latchkey::lambda::serve(latchkey::api::Function::AuthStart).await
}
