//! Connect sessions over HTTP: `POST /connect/sessions` and `/connect/sessions/reconnect`
//! (`flows::connect_session`), answering `{data: {token, connect_link, expires_at}}`.

use axum::extract::State;
use axum::response::Response;

use super::error::ApiError;
use super::extract::ApiJson;
use super::wire;
use crate::flows::connect_session::{self, CreateSession, IssuedSession, ReconnectSession};
use crate::AppState;

fn issued(session: &IssuedSession) -> Response {
    wire::json(wire::Data {
        data: wire::ConnectSession {
            token: session.token.expose(),
            connect_link: session.connect_link.as_str(),
            expires_at: session.expires_at,
        },
    })
}

pub async fn create(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateSession>,
) -> Result<Response, ApiError> {
    Ok(issued(&connect_session::create(&state, body).await?))
}

pub async fn reconnect(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<ReconnectSession>,
) -> Result<Response, ApiError> {
    Ok(issued(&connect_session::reconnect(&state, body).await?))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{header, Request, StatusCode};
    use serde_json::{json, Value};
    use tower::ServiceExt;

    use crate::flows::connect_session::TOKEN_PREFIX;
    use crate::signing::sha256_hex;

    async fn json_of(r: axum::response::Response) -> Value {
        serde_json::from_slice(&axum::body::to_bytes(r.into_body(), usize::MAX).await.unwrap()).unwrap()
    }

    #[tokio::test]
    async fn a_token_is_stored_hashed_and_its_limits_reach_the_poller() {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::config::Config::new("dev", "http://127.0.0.1:3003".parse().unwrap(), None);
        let state = crate::local::open(dir.path(), config).unwrap().state;
        let app = crate::api::local(state.clone());
        let create = Request::post("/connect/sessions")
            .header(
                header::AUTHORIZATION,
                format!("Bearer {}", state.keys.cached().secret_key.expose()),
            )
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                r#"{"end_user":{"id":"u1"},"allowed_integrations":["github"]}"#,
            ))
            .unwrap();
        let r = app.clone().oneshot(create).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let token = json_of(r).await["data"]["token"].as_str().unwrap().to_owned();
        assert!(token.starts_with(TOKEN_PREFIX));
        assert!(state.store.get_connect_session(&token).await.unwrap().is_none());
        assert!(state
            .store
            .get_connect_session(&sha256_hex(token.as_bytes()))
            .await
            .unwrap()
            .is_some());

        let nonce = crate::crypto::random_token();
        let connect = Request::get(format!(
            "/oauth/connect/gitlab?connect_session_token={token}&client_nonce={nonce}"
        ))
        .body(Body::empty())
        .unwrap();
        let r = app.clone().oneshot(connect).await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let poll = || {
            Request::get(format!("/oauth/result/{nonce}"))
                .body(Body::empty())
                .unwrap()
        };
        let result = json_of(app.clone().oneshot(poll()).await.unwrap()).await;
        assert_eq!(result["status"], "error");
        assert_eq!(result["error_type"], "integration_not_allowed");
        let again = json_of(app.oneshot(poll()).await.unwrap()).await;
        assert_eq!(again, json!({"status": "pending"}), "read once");
    }
}
