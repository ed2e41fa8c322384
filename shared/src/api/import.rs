//! `POST /connections`: import a connection with existing credentials (`flows::import`).
//! Answers the connection object.

use axum::extract::State;
use axum::response::Response;

use super::error::ApiError;
use super::extract::ApiJson;
use super::wire;
use crate::flows::import::{import as import_connection, Import};
use crate::AppState;

pub async fn import(State(state): State<AppState>, ApiJson(body): ApiJson<Import>) -> Result<Response, ApiError> {
    let (stored, credentials) = import_connection(&state, body).await?;
    Ok(wire::json(wire::Connection::new(
        &stored,
        &credentials,
        wire::Shown::default(),
    )))
}
