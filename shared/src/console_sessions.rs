//! The operator console's sessions: the environment's secret key, typed once into the sign-in
//! form, is exchanged for a random session token (held by the browser in an HttpOnly cookie;
//! only its SHA-256 is stored, so every instance finds it and a leaked table holds no live
//! token). A session ends when it expires (`Config::console_session_ttl`), when it is signed
//! out (deleted for every instance), or when the secret key it was signed in with is no longer
//! accepted (rotated out). Changes made through a session carry a CSRF token derived from the
//! session token, so a page of another site cannot make them.

use crate::activity::Attempt;
use crate::error::{Error, ErrorCode};
use crate::signing::{constant_time_eq, hmac_sha256_hex, sha256_hex};
use crate::store::ConsoleSession;
use crate::AppState;

pub const TOKEN_PREFIX: &str = "lk_cs_";

/// A session the caller proved it holds.
#[derive(Debug, Clone)]
pub struct Operator {
    pub session: ConsoleSession,
    /// Signed in with the current secret key (not the previous one in its grace period): may
    /// reveal and rotate keys.
    pub key_is_current: bool,
}

fn fingerprint(secret_key: &str) -> String {
    sha256_hex(secret_key.as_bytes())
}

fn audit() -> Attempt {
    Attempt::new("console", None, None)
}

/// Exchanges the secret key for a new session: the token (give it to the browser once) and the
/// stored session.
pub async fn sign_in(state: &AppState, presented: &str) -> Result<(String, ConsoleSession), Error> {
    let now = state.clock.now();
    let accepted = |keys: &crate::config::EnvironmentKeys| {
        let ok = keys
            .accepted_secret_keys(now)
            .into_iter()
            .fold(false, |ok, key| ok | constant_time_eq(presented, key));
        ok.then_some(()).ok_or(())
    };
    if state.keys.check(now, accepted).await.is_err() {
        // Anyone can post a guess: recorded within the refusal cap, like every refusal of an
        // unauthenticated request.
        audit()
            .refused(
                state,
                ErrorCode::InvalidSecretKey,
                "Console sign-in refused: not the secret key.",
            )
            .await;
        return Err(Error::unauthorized(
            ErrorCode::InvalidSecretKey,
            "That is not this environment's secret key.",
        ));
    }
    let token = format!("{TOKEN_PREFIX}{}", crate::crypto::random_token());
    let session = ConsoleSession {
        token_hash: sha256_hex(token.as_bytes()),
        key_fingerprint: fingerprint(presented),
        created_at: now,
        expires_at: now + state.config.console_session_ttl,
    };
    state.store.put_console_session(&session).await?;
    audit().info(state, "signed_in", "Signed in to the console.").await;
    Ok((token, session))
}

/// The live session of `token`.
pub async fn find(state: &AppState, token: &str) -> Result<Operator, Error> {
    let gone = || {
        Error::unauthorized(
            ErrorCode::ConsoleSignInRequired,
            "Sign in to the console with the environment's secret key.",
        )
    };
    if !token.starts_with(TOKEN_PREFIX) || token.len() > 128 {
        return Err(gone());
    }
    let hash = sha256_hex(token.as_bytes());
    let session = state.store.get_console_session(&hash).await?.ok_or_else(gone)?;
    let now = state.clock.now();
    let keys = state.keys.current(now).await;
    let key_is_current = session.key_fingerprint == fingerprint(keys.secret_key.expose());
    let key_accepted = key_is_current
        || keys
            .previous_secret_key_at(now)
            .is_some_and(|k| session.key_fingerprint == fingerprint(k.expose()));
    if now >= session.expires_at || !key_accepted {
        state.store.delete_console_session(&hash).await?;
        return Err(Error::unauthorized(
            ErrorCode::ConsoleSessionExpired,
            "Your console session has ended; sign in again.",
        ));
    }
    Ok(Operator {
        session,
        key_is_current,
    })
}

/// Ends the session of `token` everywhere.
pub async fn sign_out(state: &AppState, token: &str) -> Result<(), Error> {
    state
        .store
        .delete_console_session(&sha256_hex(token.as_bytes()))
        .await?;
    audit().info(state, "signed_out", "Signed out of the console.").await;
    Ok(())
}

/// The CSRF token of a session: what every change made through it must carry.
pub fn csrf_token(session_token: &str) -> String {
    hmac_sha256_hex(session_token.as_bytes(), b"latchkey console csrf v1")
}

pub fn csrf_matches(session_token: &str, presented: &str) -> bool {
    !presented.is_empty() && constant_time_eq(&csrf_token(session_token), presented)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ShiftedClock;
    use std::sync::Arc;

    fn stack() -> (AppState, Arc<ShiftedClock>) {
        let clock = Arc::new(ShiftedClock::default());
        let state = AppState::new(
            Arc::new(crate::store::sqlite::SqliteStore::in_memory().unwrap()),
            Arc::new(crate::crypto::local::LocalSealer::from_key([7; 32])),
            crate::config::EnvironmentKeys::generate(),
            crate::config::Config::new("test", "http://127.0.0.1:3003".parse().unwrap(), None),
        )
        .with_clock(clock.clone());
        (state, clock)
    }

    #[tokio::test]
    async fn only_the_secret_key_signs_in_and_only_a_hash_is_stored() {
        let (state, _) = stack();
        let e = sign_in(&state, "lk_sk_guess").await.unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidSecretKey);
        let secret = state.keys.cached().secret_key.expose().to_owned();
        let (token, session) = sign_in(&state, &secret).await.unwrap();
        assert!(token.starts_with(TOKEN_PREFIX));
        assert_ne!(session.token_hash, token);
        assert!(state.store.get_console_session(&token).await.unwrap().is_none());
        let operator = find(&state, &token).await.unwrap();
        assert!(operator.key_is_current);
        let entries = crate::activity::list(
            &state,
            &crate::store::ActivityFilter {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let text = serde_json::to_string(&entries).unwrap();
        assert!(!text.contains(&secret) && !text.contains(&token) && !text.contains("lk_sk_guess"));
        assert_eq!(entries.len(), 2, "the refusal and the sign-in are recorded");
    }

    #[tokio::test]
    async fn a_session_ends_at_its_expiry_at_sign_out_and_when_its_key_is_rotated_out() {
        let (state, clock) = stack();
        let secret = state.keys.cached().secret_key.expose().to_owned();
        let (token, _) = sign_in(&state, &secret).await.unwrap();
        clock.advance(state.config.console_session_ttl - time::Duration::seconds(1));
        assert!(find(&state, &token).await.is_ok());
        clock.advance(time::Duration::seconds(1));
        assert_eq!(
            find(&state, &token).await.unwrap_err().code,
            ErrorCode::ConsoleSessionExpired
        );
        assert_eq!(
            find(&state, &token).await.unwrap_err().code,
            ErrorCode::ConsoleSignInRequired,
            "deleted"
        );

        let (token, _) = sign_in(&state, &secret).await.unwrap();
        sign_out(&state, &token).await.unwrap();
        assert_eq!(
            find(&state, &token).await.unwrap_err().code,
            ErrorCode::ConsoleSignInRequired
        );
        assert_eq!(
            find(&state, "lk_cs_forged").await.unwrap_err().code,
            ErrorCode::ConsoleSignInRequired
        );

        let (token, _) = sign_in(&state, &secret).await.unwrap();
        let now = state.clock.now();
        state
            .keys
            .rotate(&[crate::keys::KeyName::SecretKey], time::Duration::hours(1), now)
            .await
            .unwrap();
        let during = find(&state, &token).await.unwrap();
        assert!(
            !during.key_is_current,
            "signed in with the previous key: no key management"
        );
        clock.advance(time::Duration::hours(1));
        assert_eq!(
            find(&state, &token).await.unwrap_err().code,
            ErrorCode::ConsoleSessionExpired
        );
    }

    #[test]
    fn the_csrf_token_is_bound_to_its_session() {
        let (a, b) = ("lk_cs_a", "lk_cs_b");
        assert!(csrf_matches(a, &csrf_token(a)));
        assert!(!csrf_matches(b, &csrf_token(a)));
        assert!(!csrf_matches(a, ""));
        assert_ne!(csrf_token(a), a);
    }
}
