//! The OAuth2 authorization-code flow over HTTP: `GET /oauth/connect/{integration}` sends the
//! browser to the provider; `GET /oauth/callback` finishes, stores the connection and renders
//! the result page. Every outcome is recorded as activity.

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::auth_result;
use super::error::ApiError;
use super::frontend::{begin_flow, request_origin, wants_html, ConnectQuery, FlowStart};
use super::result_page::{render, Outcome};
use crate::activity::Attempt;
use crate::auth::oauth2::{self, AuthorizationRequest, Grant, TokenRequest};
use crate::auth::pkce;
use crate::connections::{save_connection, NewConnection};
use crate::domain::{AuthMode, ConnectionId, IntegrationKey, Secret};
use crate::error::{Error, ErrorCode};
use crate::integrations::open_client_secret;
use crate::store::{OAuthSession, Upsert};
use crate::{providers, AppState};

pub async fn connect(
    State(state): State<AppState>,
    Path(integration): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let settings = match state.store.get_settings().await {
        Ok(s) => s,
        Err(e) => return ApiError::from(e).into_response(),
    };
    // The page that started the flow must be allowed: it is the only target of the result.
    let requested = request_origin(&headers);
    let origin = requested
        .clone()
        .filter(|o| super::cors::origin_allowed(&state, &settings, o));
    let started = if requested.is_some() && origin.is_none() {
        Err(Error::forbidden(
            ErrorCode::OriginNotAllowed,
            "The page that started this flow is not in the environment's allowed origins.",
        ))
    } else {
        start(&state, &settings, &integration, query.as_deref(), origin.clone()).await
    };
    match started {
        Ok(location) => {
            let mut r = StatusCode::FOUND.into_response();
            r.headers_mut().insert(
                header::LOCATION,
                HeaderValue::from_str(location.as_str()).expect("URLs are valid headers"),
            );
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => {
            let e = ApiError::from(e);
            let outcome = Outcome::Failure {
                error_type: e.code.as_str(),
                description: &e.message,
            };
            // The flow failed before the provider: the poller learns it too.
            if let Some(nonce) = auth_result::nonce_of_query(query.as_deref()) {
                auth_result::record(&state, &auth_result::nonce_hash(&nonce), &outcome).await;
            }
            if wants_html(&headers) {
                render(&outcome, origin.as_deref(), e.status)
            } else {
                e.into_response()
            }
        }
    }
}

async fn start(
    state: &AppState,
    settings: &crate::store::EnvironmentSettings,
    integration: &str,
    raw_query: Option<&str>,
    origin: Option<String>,
) -> Result<url::Url, Error> {
    let query = ConnectQuery::parse(raw_query)?;
    let key = IntegrationKey::parse(integration).map_err(|_| Error::unknown_integration(integration))?;
    let FlowStart {
        caller,
        attempt,
        integration: record,
        connection_config,
    } = begin_flow(state, settings, &query, &key, AuthMode::OAuth2).await?;
    let connection_id = caller.connection_id.clone();

    attempt
        .run(state, async {
            let client_id = record.client_id.clone().ok_or_else(|| {
                Error::invalid(
                    ErrorCode::MissingClientId,
                    format!("Integration '{key}' has no client id configured."),
                )
            })?;
            let endpoints = providers::oauth2_endpoints(&record, &connection_config)?;
            attempt
                .info(
                    state,
                    "started",
                    format!("Authorization started for integration '{key}'."),
                )
                .await;

            let now = state.clock.now();
            let verifier = endpoints.pkce.then(pkce::new_verifier);
            let session = OAuthSession {
                state: Secret::new(crate::crypto::random_token()),
                integration: key.clone(),
                connection_id: connection_id.clone(),
                code_verifier: verifier.clone(),
                redirect_uri: state.config.callback_url.to_string(),
                connection_config,
                origin,
                attempt_id: attempt.id.clone(),
                created_at: now,
                expires_at: now + state.config.oauth_session_ttl,
                result_nonce_hash: query.client_nonce.as_deref().map(auth_result::nonce_hash),
                end_user: caller.end_user.clone(),
            };
            let scopes = record.scopes.clone();
            let user_scope: Option<Vec<String>> = query.user_scope.as_ref().map(|u| {
                u.split([',', ' '])
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            });
            let challenge = verifier.as_ref().map(pkce::s256_challenge);
            let url = oauth2::authorization_url(
                &endpoints,
                &AuthorizationRequest {
                    client_id: &client_id,
                    redirect_uri: &session.redirect_uri,
                    scopes: &scopes,
                    state: &session.state,
                    code_challenge: challenge.as_deref(),
                    extra_params: &query.authorization_params,
                    user_scope: user_scope.as_deref(),
                },
            );
            state.store.put_oauth_session(&session).await?;
            attempt
                .info(
                    state,
                    "redirected",
                    format!("Redirected to {}.", url.host_str().unwrap_or("the provider")),
                )
                .await;
            Ok(url)
        })
        .await
}

pub async fn callback(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let params: std::collections::HashMap<String, String> =
        form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let Some(state_param) = params.get("state").filter(|s| !s.is_empty() && s.len() <= 512) else {
        return fail_unattributed(&state, "The callback has no valid state parameter.").await;
    };
    let session = match state.store.take_oauth_session(state_param).await {
        Ok(Some(s)) => s,
        Ok(None) => return fail_unattributed(&state, "This authorization link is unknown or was already used.").await,
        Err(e) => {
            let e = ApiError::from(e);
            return render(
                &Outcome::Failure {
                    error_type: e.code.as_str(),
                    description: &e.message,
                },
                None,
                e.status,
            );
        }
    };
    let attempt = Attempt::resume(
        session.attempt_id.clone(),
        "auth",
        session.integration.to_string(),
        session.connection_id.to_string(),
    );
    let origin = session.origin.clone();
    let nonce_hash = session.result_nonce_hash.clone();
    let result = attempt
        .run(&state, finish(&state, &attempt, session, &params))
        .await
        .map_err(ApiError::from);
    let (outcome, status) = match &result {
        Ok((key, id)) => (
            Outcome::Success {
                integration: key.as_str(),
                connection_id: id.as_str(),
            },
            StatusCode::OK,
        ),
        Err(e) => (
            Outcome::Failure {
                error_type: e.code.as_str(),
                description: &e.message,
            },
            e.status,
        ),
    };
    if let Some(hash) = nonce_hash {
        auth_result::record(&state, &hash, &outcome).await;
    }
    render(&outcome, origin.as_deref(), status)
}

/// A callback that matches no flow: recorded without integration or connection.
async fn fail_unattributed(state: &AppState, message: &str) -> Response {
    Attempt::new("auth", None, None)
        .failed(state, ErrorCode::StateErr, message)
        .await;
    render(
        &Outcome::Failure {
            error_type: ErrorCode::StateErr.as_str(),
            description: message,
        },
        None,
        StatusCode::BAD_REQUEST,
    )
}

async fn finish(
    state: &AppState,
    attempt: &Attempt,
    session: OAuthSession,
    params: &std::collections::HashMap<String, String>,
) -> Result<(IntegrationKey, ConnectionId), Error> {
    if state.clock.now() > session.expires_at {
        return Err(Error::invalid(
            ErrorCode::StateErr,
            "This authorization expired; start again.",
        ));
    }
    if let Some(error) = params.get("error") {
        let code: String = error
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(64)
            .collect();
        let description = params
            .get("error_description")
            .map(|d| d.chars().filter(|c| !c.is_control()).take(300).collect::<String>())
            .unwrap_or_else(|| "The provider did not grant access.".into());
        let message = format!("The provider returned '{code}': {description}");
        let error_type = if code == ErrorCode::AccessDenied.as_str() {
            ErrorCode::AccessDenied
        } else {
            ErrorCode::ProviderErr
        };
        return Err(Error::provider(false, error_type, message));
    }

    // The page reports Latchkey's own trouble as such, anything else as a failed token step.
    let as_flow = |e: Error| {
        let code = if e.kind.is_internal() {
            ErrorCode::ServerError
        } else {
            ErrorCode::TokenErr
        };
        e.with_code(code)
    };
    let record = state
        .store
        .get_integration(&session.integration)
        .await
        .map_err(|e| as_flow(e.into()))?
        .ok_or_else(|| Error::unknown_integration(session.integration.as_str()).with_code(ErrorCode::TokenErr))?;
    let endpoints = providers::oauth2_endpoints(&record, &session.connection_config).map_err(as_flow)?;
    let code = params
        .get(&endpoints.code_param)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| Error::invalid(ErrorCode::TokenErr, "The provider sent no authorization code."))?;
    let client_id = record.client_id.clone().unwrap_or_default();
    let client_secret = open_client_secret(state, &record).await.map_err(as_flow)?;
    let token = oauth2::request_token(
        &state.http,
        state.config.provider_timeout,
        &TokenRequest {
            endpoints: &endpoints,
            client_id: &client_id,
            client_secret: &client_secret,
            grant: Grant::AuthorizationCode {
                code,
                redirect_uri: &session.redirect_uri,
                code_verifier: session.code_verifier.as_ref(),
            },
        },
    )
    .await
    .map_err(|e| {
        Error::provider(
            e.is_transient(),
            ErrorCode::TokenErr,
            format!("Token exchange failed: {e} [{}]", e.code()),
        )
    })?;
    let expires = token
        .expires_in
        .map(|s| format!(", expires in {s} s"))
        .unwrap_or_default();
    attempt
        .info(
            state,
            "token_received",
            format!(
                "Token received{expires}{}.",
                if token.refresh_token.is_some() {
                    ", with a refresh token"
                } else {
                    ""
                }
            ),
        )
        .await;

    let connection_config = providers::config_from_provider(
        &record.provider,
        session.connection_config,
        &token.metadata,
        &endpoints
            .redirect_uri_metadata
            .iter()
            .filter_map(|k| params.get(k).map(|v| (k.clone(), v.clone())))
            .collect::<Vec<_>>(),
    );
    let credentials = token.into_credentials(state.clock.now());
    let outcome = save_connection(
        state,
        NewConnection {
            integration: &record,
            connection_id: &session.connection_id,
            credentials: &credentials,
            connection_config,
            metadata: Default::default(),
            end_user: session.end_user,
            tags: Default::default(),
        },
    )
    .await
    .map_err(as_flow)?;
    let what = match outcome {
        Upsert::Created => "Connection created.",
        Upsert::Replaced => "Connection re-authorized; earlier credentials replaced.",
    };
    attempt.info(state, "stored", what).await;
    Ok((record.key, session.connection_id))
}
