//! Lambda `websocket`: the WebSocket API's `$connect`, `$disconnect` and `$default` routes (the
//! socket of Nango's frontend client), `latchkey::lambda::websocket`. All behaviour lives in the
//! `latchkey` crate.

#[tokio::main]
async fn main() -> Result<(), latchkey::lambda::Error> {
    latchkey::lambda::websocket::serve().await
}
