//! OAuth sessions, connect sessions, auth results, console sessions and sockets: one item each
//! (`OAUTH#`, `CONNECT#`, `RESULT#`, `CONSOLE#`, `SOCKET#` + its key, SK `-`) with a TTL; taken
//! with a conditional delete.

use async_trait::async_trait;

use super::table::expiring;
use super::{keys, record_item, DynamoStore};
use crate::store::{
    AuthResult, ConnectSession, ConsoleSession, FlowSessionStore, OAuthSession, SocketRecord, StoreResult,
};

#[async_trait]
impl FlowSessionStore for DynamoStore {
    async fn put_oauth_session(&self, session: &OAuthSession) -> StoreResult<()> {
        let key = keys::oauth_session(session.state.expose());
        self.put_new(record_item(key, session, expiring(session.expires_at)))
            .await
    }

    async fn take_oauth_session(&self, state: &str) -> StoreResult<Option<OAuthSession>> {
        self.take(keys::oauth_session(state)).await
    }

    async fn put_connect_session(&self, session: &ConnectSession) -> StoreResult<()> {
        let key = keys::connect_session(&session.token_hash);
        self.put_new(record_item(key, session, expiring(session.expires_at)))
            .await
    }

    async fn get_connect_session(&self, token_hash: &str) -> StoreResult<Option<ConnectSession>> {
        self.get(keys::connect_session(token_hash)).await
    }

    async fn put_auth_result(&self, result: &AuthResult) -> StoreResult<()> {
        let key = keys::auth_result(&result.nonce_hash);
        self.put(record_item(key, result, expiring(result.expires_at))).await
    }

    async fn take_auth_result(&self, nonce_hash: &str) -> StoreResult<Option<AuthResult>> {
        self.take(keys::auth_result(nonce_hash)).await
    }

    async fn put_console_session(&self, session: &ConsoleSession) -> StoreResult<()> {
        let key = keys::console_session(&session.token_hash);
        self.put_new(record_item(key, session, expiring(session.expires_at)))
            .await
    }

    async fn get_console_session(&self, token_hash: &str) -> StoreResult<Option<ConsoleSession>> {
        self.get(keys::console_session(token_hash)).await
    }

    async fn delete_console_session(&self, token_hash: &str) -> StoreResult<()> {
        self.delete(keys::console_session(token_hash)).await
    }

    async fn put_socket(&self, socket: &SocketRecord) -> StoreResult<()> {
        let key = keys::socket(&socket.client_hash);
        self.put_new(record_item(key, socket, expiring(socket.expires_at)))
            .await
    }

    async fn get_socket(&self, client_hash: &str) -> StoreResult<Option<SocketRecord>> {
        self.get(keys::socket(client_hash)).await
    }

    async fn take_socket(&self, client_hash: &str) -> StoreResult<Option<SocketRecord>> {
        self.take(keys::socket(client_hash)).await
    }
}
