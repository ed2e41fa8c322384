//! Browser flows: `start` sends the browser to the provider (a flow session is kept under a
//! random state, for ten minutes), `finish` takes the provider's callback, turns it into
//! credentials through the integration's mode and stores the connection. Every outcome is
//! recorded as activity.

use std::collections::HashMap;

use url::Url;

use super::start::{begin, ConnectRequest, FlowStart};
use super::{store_obtained, Connected};
use crate::activity::Attempt;
use crate::auth::{self, Callback, Kept, ModeContext, RedirectStart};
use crate::domain::{IntegrationKey, OAuthState};
use crate::error::{Error, ErrorCode};
use crate::store::{EnvironmentSettings, OAuthSession, Upsert};
use crate::AppState;

/// Starts a browser flow for `integration`: where to send the browser. `origin` is the page
/// that started it (already allowed), the only target of the result message; a
/// `ws_client_id` binds the flow to that page's socket (`sockets::bind`).
pub async fn start(
    state: &AppState,
    settings: &EnvironmentSettings,
    request: &ConnectRequest,
    key: &IntegrationKey,
    origin: Option<String>,
) -> Result<Url, Error> {
    let FlowStart {
        caller,
        attempt,
        integration,
        connection_config,
        vouched_config,
    } = begin(state, settings, request, key, &auth::redirect_modes()).await?;
    attempt
        .run(state, async {
            let scheme = super::scheme_of(&integration)?;
            let socket_hash = match &request.ws_client_id {
                Some(id) => Some(crate::sockets::bind(&state.hub(), id, origin.as_deref()).await?),
                None => None,
            };
            let flow_state = OAuthState::new(crate::crypto::random_token());
            let redirect_uri = crate::environment::callback_url(state, settings);
            let cx = ModeContext {
                state,
                integration: &integration,
                connection_config: &connection_config,
                vouched_config: &vouched_config,
            };
            let redirect = scheme
                .start(
                    &cx,
                    &RedirectStart {
                        state: &flow_state,
                        redirect_uri: &redirect_uri,
                        authorization_params: &request.authorization_params,
                        user_scope: request.user_scope.as_deref(),
                    },
                )
                .await?;
            attempt
                .info(
                    state,
                    "started",
                    format!("Authorization started for integration '{key}'."),
                )
                .await;
            let now = state.clock.now();
            let session = OAuthSession {
                state: flow_state,
                integration: key.clone(),
                connection_id: caller.connection_id.clone(),
                code_verifier: redirect.kept.code_verifier,
                redirect_uri,
                connection_config: connection_config.clone(),
                vouched_config: vouched_config.clone(),
                origin,
                attempt_id: attempt.id.clone(),
                created_at: now,
                expires_at: now + state.config.oauth_session_ttl,
                result_nonce_hash: request.result_nonce_hash.clone(),
                end_user: caller.end_user.clone(),
                socket_hash,
            };
            state.store.put_oauth_session(&session).await?;
            attempt
                .info(
                    state,
                    "redirected",
                    format!("Redirected to {}.", redirect.url.host_str().unwrap_or("the provider")),
                )
                .await;
            Ok(redirect.url)
        })
        .await
}

/// How a callback ended, with where its result goes: the origin the flow recorded, the
/// poller's nonce hash and the socket bound at the start (all unknown when the callback matches
/// no flow: a callback's own parameters never choose where a result goes).
pub struct Finished {
    pub origin: Option<String>,
    pub result_nonce_hash: Option<String>,
    pub socket_hash: Option<String>,
    /// A failure's code is the page's `error_type`: `state_err`, `access_denied`,
    /// `provider_err`, `token_err` or `server_error`.
    pub result: Result<Connected, Error>,
}

impl Finished {
    fn unattributed(result: Result<Connected, Error>) -> Self {
        Self {
            origin: None,
            result_nonce_hash: None,
            socket_hash: None,
            result,
        }
    }
}

/// Finishes a browser flow from the provider's callback parameters.
pub async fn finish(state: &AppState, params: &HashMap<String, String>) -> Finished {
    let Some(state_param) = params.get("state").filter(|s| !s.is_empty() && s.len() <= 512) else {
        return Finished::unattributed(Err(
            unattributed(state, "The callback has no valid state parameter.").await
        ));
    };
    let session = match state.store.take_oauth_session(state_param).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            let e = unattributed(state, "This authorization link is unknown or was already used.").await;
            return Finished::unattributed(Err(e));
        }
        Err(e) => return Finished::unattributed(Err(e.into())),
    };
    let attempt = Attempt::resume(
        session.attempt_id.clone(),
        "auth",
        session.integration.to_string(),
        session.connection_id.to_string(),
    );
    let origin = session.origin.clone();
    let result_nonce_hash = session.result_nonce_hash.clone();
    let socket_hash = session.socket_hash.clone();
    let result = attempt.run(state, complete(state, &attempt, session, params)).await;
    Finished {
        origin,
        result_nonce_hash,
        socket_hash,
        result,
    }
}

/// A callback that matches no flow: recorded without integration or connection.
async fn unattributed(state: &AppState, message: &str) -> Error {
    Attempt::new("auth", None, None)
        .failed(state, ErrorCode::StateErr, message)
        .await;
    Error::invalid(ErrorCode::StateErr, message)
}

/// The provider's own error parameter (RFC 6749 §4.1.2.1), bounded and printable.
fn provider_refusal(params: &HashMap<String, String>) -> Option<Error> {
    let error = params.get("error")?;
    let code: String = error
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(64)
        .collect();
    let description = params
        .get("error_description")
        .map(|d| d.chars().filter(|c| !c.is_control()).take(300).collect::<String>())
        .unwrap_or_else(|| "The provider did not grant access.".into());
    let error_type = if code == ErrorCode::AccessDenied.as_str() {
        ErrorCode::AccessDenied
    } else {
        ErrorCode::ProviderErr
    };
    Some(Error::provider(
        false,
        error_type,
        format!("The provider returned '{code}': {description}"),
    ))
}

async fn complete(
    state: &AppState,
    attempt: &Attempt,
    session: OAuthSession,
    params: &HashMap<String, String>,
) -> Result<Connected, Error> {
    if state.clock.now() > session.expires_at {
        return Err(Error::invalid(
            ErrorCode::StateErr,
            "This authorization expired; start again.",
        ));
    }
    if let Some(refusal) = provider_refusal(params) {
        return Err(refusal);
    }
    // The page reports Latchkey's own trouble as such, anything else as a failed token step.
    let as_outcome = |e: Error| {
        let code = if e.kind.is_internal() {
            ErrorCode::ServerError
        } else {
            ErrorCode::TokenErr
        };
        e.with_code(code)
    };
    let integration = crate::integrations::get(state, &session.integration)
        .await
        .map_err(as_outcome)?;
    let scheme = super::scheme_of(&integration).map_err(as_outcome)?;
    let cx = ModeContext {
        state,
        integration: &integration,
        connection_config: &session.connection_config,
        vouched_config: &session.vouched_config,
    };
    let kept = Kept {
        code_verifier: session.code_verifier.clone(),
    };
    let callback = Callback {
        params,
        redirect_uri: &session.redirect_uri,
        kept: &kept,
    };
    let obtained = scheme.finish(&cx, &callback).await.map_err(as_outcome)?;
    attempt.info(state, "token_received", obtained.note.clone()).await;
    let stored = store_obtained(
        state,
        &integration,
        &session.connection_id,
        obtained,
        session.vouched_config,
        session.end_user,
    )
    .await
    .map_err(as_outcome)?;
    let what = match stored {
        Upsert::Created => "Connection created.",
        Upsert::Replaced => "Connection re-authorized; earlier credentials replaced.",
    };
    attempt.info(state, "stored", what).await;
    Ok(Connected {
        integration: integration.key,
        connection_id: session.connection_id,
    })
}
