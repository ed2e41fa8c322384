//! OAuth sessions, connect sessions, auth results, console sessions and sockets: a table each,
//! keyed by state, token hash, nonce hash, token hash and client hash, with the row's expiry
//! (`expires_ns`) for purging (expired console sessions and sockets are also purged when one is
//! made). Taking is one `DELETE … RETURNING`, so of two takes one gets the row.

use async_trait::async_trait;
use rusqlite::params;

use super::{execute, insert_new, nanos, one, to_json, SqliteStore};
use crate::store::{
    AuthResult, ConnectSession, ConsoleSession, FlowSessionStore, OAuthSession, SocketRecord, StoreResult,
};

#[async_trait]
impl FlowSessionStore for SqliteStore {
    async fn put_oauth_session(&self, session: &OAuthSession) -> StoreResult<()> {
        self.with(|c| {
            insert_new(
                c,
                "INSERT INTO oauth_sessions (state, body, expires_ns) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                params![session.state.expose(), to_json(session), nanos(session.expires_at)],
            )
        })
    }

    async fn take_oauth_session(&self, state: &str) -> StoreResult<Option<OAuthSession>> {
        self.with(|c| one(c, "DELETE FROM oauth_sessions WHERE state = ?1 RETURNING body", [state]))
    }

    async fn put_connect_session(&self, session: &ConnectSession) -> StoreResult<()> {
        self.with(|c| {
            insert_new(
                c,
                "INSERT INTO connect_sessions (token_hash, body, expires_ns) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                params![session.token_hash, to_json(session), nanos(session.expires_at)],
            )
        })
    }

    async fn get_connect_session(&self, token_hash: &str) -> StoreResult<Option<ConnectSession>> {
        self.with(|c| {
            one(
                c,
                "SELECT body FROM connect_sessions WHERE token_hash = ?1",
                [token_hash],
            )
        })
    }

    async fn put_auth_result(&self, result: &AuthResult) -> StoreResult<()> {
        self.with(|c| {
            execute(
                c,
                "INSERT OR REPLACE INTO auth_results (nonce_hash, body, expires_ns) VALUES (?1, ?2, ?3)",
                params![result.nonce_hash, to_json(result), nanos(result.expires_at)],
            )
            .map(drop)
        })
    }

    async fn take_auth_result(&self, nonce_hash: &str) -> StoreResult<Option<AuthResult>> {
        self.with(|c| {
            one(
                c,
                "DELETE FROM auth_results WHERE nonce_hash = ?1 RETURNING body",
                [nonce_hash],
            )
        })
    }

    async fn put_console_session(&self, session: &ConsoleSession) -> StoreResult<()> {
        self.with(|c| {
            execute(
                c,
                "DELETE FROM console_sessions WHERE expires_ns < ?1",
                [nanos(session.created_at)],
            )?;
            insert_new(
                c,
                "INSERT INTO console_sessions (token_hash, expires_ns, body) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                params![session.token_hash, nanos(session.expires_at), to_json(session)],
            )
        })
    }

    async fn get_console_session(&self, token_hash: &str) -> StoreResult<Option<ConsoleSession>> {
        self.with(|c| {
            one(
                c,
                "SELECT body FROM console_sessions WHERE token_hash = ?1",
                [token_hash],
            )
        })
    }

    async fn delete_console_session(&self, token_hash: &str) -> StoreResult<()> {
        self.with(|c| execute(c, "DELETE FROM console_sessions WHERE token_hash = ?1", [token_hash]).map(drop))
    }

    async fn put_socket(&self, socket: &SocketRecord) -> StoreResult<()> {
        self.with(|c| {
            execute(
                c,
                "DELETE FROM sockets WHERE expires_ns < ?1",
                [nanos(socket.created_at)],
            )?;
            insert_new(
                c,
                "INSERT INTO sockets (client_hash, expires_ns, body) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                params![socket.client_hash, nanos(socket.expires_at), to_json(socket)],
            )
        })
    }

    async fn get_socket(&self, client_hash: &str) -> StoreResult<Option<SocketRecord>> {
        self.with(|c| one(c, "SELECT body FROM sockets WHERE client_hash = ?1", [client_hash]))
    }

    async fn take_socket(&self, client_hash: &str) -> StoreResult<Option<SocketRecord>> {
        self.with(|c| {
            one(
                c,
                "DELETE FROM sockets WHERE client_hash = ?1 RETURNING body",
                [client_hash],
            )
        })
    }
}
