//! `GET /providers` and `GET /providers/{name}`: the embedded catalog, as operators browse it.
//! Each entry carries `supported`: whether Latchkey can connect it yet.

use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;

use super::error::ApiError;
use super::extract::{ApiPath, ApiQuery};
use super::wire::{self, ProviderEntry};
use crate::error::{Error, ErrorCode};
use crate::providers::{self, catalog, schema::Provider};
use crate::AppState;

fn entry(p: &Provider) -> ProviderEntry<'_> {
    ProviderEntry {
        provider: p,
        supported: crate::auth::connects(&p.name, p.auth_mode),
    }
}

#[derive(Deserialize)]
pub struct ListQuery {
    /// Case-insensitive substring of the name or display name.
    search: Option<String>,
}

pub async fn list(State(_): State<AppState>, ApiQuery(q): ApiQuery<ListQuery>) -> Result<Response, ApiError> {
    let c = catalog();
    let needle = q.search.unwrap_or_default().to_lowercase();
    let data: Vec<ProviderEntry<'_>> = c
        .providers()
        .filter(|p| {
            needle.is_empty()
                || p.name.to_lowercase().contains(&needle)
                || p.display_name.to_lowercase().contains(&needle)
        })
        .map(entry)
        .collect();
    Ok(wire::json(wire::Catalog { data, source: c.source }))
}

pub async fn get(State(_): State<AppState>, ApiPath(name): ApiPath<String>) -> Result<Response, ApiError> {
    let p = providers::provider(&name).ok_or_else(|| {
        let name = crate::domain::nameable(&name)
            .map(|n| format!(" '{n}'"))
            .unwrap_or_default();
        Error::not_found(ErrorCode::NotFound, format!("No provider{name} in the catalog."))
    })?;
    Ok(wire::json(wire::Catalog {
        data: entry(p),
        source: catalog().source,
    }))
}
