//! Browser flows: `start` sends the browser to the provider (a flow session is kept under a
//! random state, for ten minutes) and binds the flow to that browser; `finish` takes the
//! provider's callback — only from the browser that started it — turns it into credentials
//! through the integration's mode and stores the connection. Every outcome is recorded as
//! activity.

use std::collections::{BTreeMap, HashMap};

use url::Url;

use super::start::{begin, ConnectRequest, FlowStart};
use super::{store_obtained, Connected, Target, Vouched};
use crate::activity::Attempt;
use crate::auth::{self, Callback, Kept, ModeContext, RedirectStart};
use crate::connections::WriteMode;
use crate::crypto::SealContext;
use crate::domain::{IntegrationKey, OAuthState, Secret};
use crate::error::{Error, ErrorCode};
use crate::signing::{constant_time_eq, sha256_hex};
use crate::store::{EnvironmentSettings, OAuthSession, Sealed};
use crate::AppState;

/// The browser binding of a flow: the SHA-256 (hex) of its state. The browser that starts the
/// flow is handed it (the API sets it as a cookie) and must present it at the callback, so a
/// flow started in one browser cannot be completed in another (login CSRF: a victim's account
/// landing on the attacker's connection).
pub fn browser_binding(flow_state: &str) -> String {
    sha256_hex(flow_state.as_bytes())
}

/// A started browser flow: where the browser goes, and the binding it must bring back.
pub struct Redirected {
    pub url: Url,
    pub binding: String,
}

/// Starts a browser flow for `integration`: where to send the browser. `origin` is the page
/// that started it (already allowed), the only target of the result message; a
/// `ws_client_id` binds the flow to that page's socket (`sockets::bind`).
pub async fn start(
    state: &AppState,
    settings: &EnvironmentSettings,
    request: &ConnectRequest,
    key: &IntegrationKey,
    origin: Option<String>,
) -> Result<Redirected, Error> {
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
            let binding = browser_binding(flow_state.expose());
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
            // The provider's secret fields are sealed in the session too, bound to the
            // integration: the callback opens integration secrets, not connections'.
            let (session_config, secret_config) = crate::connections::seal_secret_config(
                state,
                &integration.provider,
                connection_config.clone(),
                &session_context(state, key),
            )
            .await?;
            let session = OAuthSession {
                state: flow_state,
                integration: key.clone(),
                connection_id: caller.connection_id.clone(),
                code_verifier: redirect.kept.code_verifier,
                kept: seal_kept(state, &redirect.kept.values, &session_context(state, key)).await?,
                redirect_uri,
                connection_config: session_config,
                secret_config,
                vouched_config: vouched_config.clone(),
                origin,
                attempt_id: attempt.id.clone(),
                created_at: now,
                expires_at: now + state.config.oauth_session_ttl,
                result_nonce_hash: request.result_nonce_hash.clone(),
                end_user: caller.end_user.clone(),
                may_replace: caller.write == WriteMode::CreateOrReplace,
                webhook_url_override: caller.webhook_url_override.clone(),
                socket_hash,
            };
            state.store.put_oauth_session(&session).await?;
            crate::jobs::deadline::schedule(
                state,
                crate::queue::AttemptDeadline {
                    attempt_id: attempt.id.clone(),
                    integration: key.clone(),
                    connection_id: caller.connection_id.clone(),
                    started_at: now,
                    expires_at: now + state.config.oauth_session_ttl,
                },
            )
            .await;
            attempt
                .info(
                    state,
                    "redirected",
                    format!("Redirected to {}.", redirect.url.host_str().unwrap_or("the provider")),
                )
                .await;
            Ok(Redirected {
                url: redirect.url,
                binding,
            })
        })
        .await
}

/// What a flow session's secret connection config is sealed to.
fn session_context(state: &AppState, key: &IntegrationKey) -> SealContext {
    SealContext::integration(&state.config.environment, key.as_str())
}

/// Seals what a mode keeps for its callback (`Kept::values`); nothing when it keeps nothing.
async fn seal_kept(
    state: &AppState,
    values: &BTreeMap<String, Secret>,
    ctx: &SealContext,
) -> Result<Option<Sealed>, Error> {
    if values.is_empty() {
        return Ok(None);
    }
    let plain: BTreeMap<&str, &str> = values.iter().map(|(k, v)| (k.as_str(), v.expose())).collect();
    let bytes = serde_json::to_vec(&plain).expect("a map of strings serializes");
    Ok(Some(Sealed(state.sealer.seal(&bytes, ctx).await?)))
}

/// Opens what `seal_kept` sealed.
async fn open_kept(
    state: &AppState,
    sealed: Option<&Sealed>,
    ctx: &SealContext,
) -> Result<BTreeMap<String, Secret>, Error> {
    let Some(sealed) = sealed else {
        return Ok(BTreeMap::new());
    };
    let plain = state.sealer.open(&sealed.0, ctx).await?;
    let values: BTreeMap<String, String> = serde_json::from_slice(&plain).map_err(|e| {
        tracing::error!(category = ?e.classify(), "a flow session's kept values are not a JSON object of strings");
        Error::internal()
    })?;
    Ok(values.into_iter().map(|(k, v)| (k, Secret::new(v))).collect())
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

/// Finishes a browser flow from the provider's callback parameters and the binding the
/// browser presented (`None`: it brought none). A callback from another browser is refused
/// before its flow is looked at, so it neither completes nor spends the flow: the browser that
/// started it can still finish.
pub async fn finish(state: &AppState, params: &HashMap<String, String>, presented: Option<&str>) -> Finished {
    let Some(state_param) = params.get("state").filter(|s| !s.is_empty() && s.len() <= 512) else {
        return Finished::unattributed(Err(
            unattributed(state, "The callback has no valid state parameter.").await
        ));
    };
    if !presented.is_some_and(|b| constant_time_eq(b, &browser_binding(state_param))) {
        let message = "This authorization was started in another browser, or this browser did not keep its \
                       cookie; start again from the app.";
        return Finished::unattributed(Err(unattributed(state, message).await));
    }
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

/// A callback that matches no flow (of this browser): recorded without integration or
/// connection, within the refusal log's bounds.
async fn unattributed(state: &AppState, message: &str) -> Error {
    Attempt::new("auth", None, None)
        .refused(state, ErrorCode::StateErr, message)
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
    // The provider's own words (from the callback URL, which anyone can forge) are the
    // operator's: the activity entry's detail, never the message the browser and the app read.
    let description = params
        .get("error_description")
        .map(|d| d.chars().filter(|c| !c.is_control()).take(300).collect::<String>());
    let error_type = if code == ErrorCode::AccessDenied.as_str() {
        ErrorCode::AccessDenied
    } else {
        ErrorCode::ProviderErr
    };
    let refused = Error::provider(
        false,
        error_type,
        format!("The provider did not grant access ('{code}')."),
    );
    Some(match description {
        Some(said) => refused.with_detail(format!("the provider said: {said}")),
        None => refused,
    })
}

async fn complete(
    state: &AppState,
    attempt: &Attempt,
    mut session: OAuthSession,
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
    crate::connections::open_secret_config(
        state,
        session.secret_config.take().as_ref(),
        &session_context(state, &session.integration),
        &mut session.connection_config,
    )
    .await
    .map_err(as_outcome)?;
    let cx = ModeContext {
        state,
        integration: &integration,
        connection_config: &session.connection_config,
        vouched_config: &session.vouched_config,
    };
    let kept = Kept {
        code_verifier: session.code_verifier.clone(),
        values: open_kept(
            state,
            session.kept.take().as_ref(),
            &session_context(state, &session.integration),
        )
        .await
        .map_err(as_outcome)?,
    };
    let callback = Callback {
        params,
        redirect_uri: &session.redirect_uri,
        kept: &kept,
    };
    let obtained = scheme.finish(&cx, &callback).await.map_err(as_outcome)?;
    attempt.info(state, "token_received", obtained.note.clone()).await;
    let target = Target {
        integration: &integration,
        connection_id: &session.connection_id,
        write: if session.may_replace {
            WriteMode::CreateOrReplace
        } else {
            WriteMode::CreateOnly
        },
        vouched: Vouched {
            config: session.vouched_config,
            end_user: session.end_user,
            webhook_url_override: session.webhook_url_override,
        },
    };
    // A connection created since the flow started is not replaced: the page says so as such.
    store_obtained(state, attempt, target, obtained)
        .await
        .map_err(|e| match e.code {
            ErrorCode::ConnectionExists => e,
            _ => as_outcome(e),
        })?;
    Ok(Connected {
        integration: integration.key,
        connection_id: session.connection_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn kept_values_are_sealed_to_the_integration_and_open_unchanged() {
        let state = AppState::for_tests();
        let key = IntegrationKey::parse("trello").unwrap();
        let ctx = session_context(&state, &key);
        assert_eq!(seal_kept(&state, &BTreeMap::new(), &ctx).await.unwrap(), None);
        let values = BTreeMap::from([
            ("oauth_token".to_owned(), Secret::new("rt")),
            ("oauth_token_secret".to_owned(), Secret::new("rts-SECRET")),
        ]);
        let sealed = seal_kept(&state, &values, &ctx).await.unwrap().unwrap();
        assert!(!String::from_utf8_lossy(&sealed.0).contains("rts-SECRET"));
        let opened = open_kept(&state, Some(&sealed), &ctx).await.unwrap();
        assert_eq!(opened["oauth_token_secret"].expose(), "rts-SECRET");
        assert_eq!(opened.len(), 2);
        let other = session_context(&state, &IntegrationKey::parse("twitter").unwrap());
        assert!(
            open_kept(&state, Some(&sealed), &other).await.is_err(),
            "another integration's session cannot open them"
        );
    }
}
