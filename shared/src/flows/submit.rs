//! Credentials an end user submits instead of a browser redirect (API key, Basic, client
//! credentials): started like every public flow, proven by the integration's mode with the
//! provider, and stored only when the provider accepted them.

use super::start::{begin, ConnectRequest, FlowStart};
use super::{store_obtained, Connected, Target, Vouched};
use crate::auth::{ModeContext, Submission};
use crate::domain::{AuthMode, IntegrationKey};
use crate::error::Error;
use crate::store::EnvironmentSettings;
use crate::AppState;

/// Connects `integration` (of `mode`) with what the end user submitted.
pub async fn submit(
    state: &AppState,
    settings: &EnvironmentSettings,
    request: &ConnectRequest,
    key: &IntegrationKey,
    mode: AuthMode,
    submission: Submission,
) -> Result<Connected, Error> {
    let FlowStart {
        caller,
        attempt,
        integration,
        connection_config,
        vouched_config,
    } = begin(state, settings, request, key, &[mode]).await?;
    attempt
        .run(state, async {
            let scheme = super::scheme_of(&integration)?;
            let cx = ModeContext {
                state,
                integration: &integration,
                connection_config: &connection_config,
                vouched_config: &vouched_config,
            };
            let obtained = scheme.submit(&cx, submission).await?;
            attempt.info(state, "verified", obtained.note.clone()).await;
            let target = Target {
                integration: &integration,
                connection_id: &caller.connection_id,
                write: caller.write,
                vouched: Vouched {
                    config: vouched_config.clone(),
                    end_user: caller.end_user.clone(),
                    webhook_url_override: caller.webhook_url_override.clone(),
                },
            };
            store_obtained(state, &attempt, target, obtained).await?;
            Ok(Connected {
                integration: integration.key.clone(),
                connection_id: caller.connection_id.clone(),
            })
        })
        .await
}
