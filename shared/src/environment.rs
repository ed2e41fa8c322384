//! The environment's settings changed at run time (`GET/PATCH /environment`): whether connect
//! requests need an HMAC digest, which web origins may receive auth results, and where auth
//! webhooks go and which are sent.

use serde::Deserialize;

use crate::error::Error;
use crate::events::destination::{self, Source};
use crate::store::{EnvironmentSettings, WebhookEvent};
use crate::AppState;

pub async fn settings(state: &AppState) -> Result<EnvironmentSettings, Error> {
    Ok(state.store.get_settings().await?)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentPatch {
    pub hmac_enabled: Option<bool>,
    pub allowed_origins: Option<Vec<String>>,
    /// Where auth webhooks go (`events::destination`'s rule); `null` stops them.
    #[serde(default, deserialize_with = "crate::domain::nullable")]
    pub webhook_url: Option<Option<String>>,
    /// Which auth webhooks are sent (`[]`: none).
    pub webhook_events: Option<Vec<WebhookEvent>>,
}

/// An allowed origin is exactly `scheme://host[:port]`, as browsers serialize it.
fn parse_origin(raw: &str) -> Result<String, Error> {
    let bad = || Error::invalid_body(format!("'{raw}' is not a web origin like https://app.example.com"));
    let url = url::Url::parse(raw).map_err(|_| bad())?;
    let origin = url.origin().ascii_serialization();
    if !matches!(url.scheme(), "http" | "https") || origin != raw.trim_end_matches('/') {
        return Err(bad());
    }
    Ok(origin)
}

/// Applies a patch: every value is checked before anything is written.
pub async fn update(state: &AppState, patch: EnvironmentPatch) -> Result<EnvironmentSettings, Error> {
    let mut settings = settings(state).await?;
    if let Some(origins) = patch.allowed_origins {
        settings.allowed_origins = origins.iter().map(|o| parse_origin(o)).collect::<Result<_, _>>()?;
    }
    if let Some(on) = patch.hmac_enabled {
        settings.hmac_enabled = on;
    }
    if let Some(url) = patch.webhook_url {
        let allow_private = state.config.allow_private_addresses;
        settings.webhook_url = url
            .map(|u| destination::parse(&u, Source::Environment, allow_private))
            .transpose()?;
    }
    if let Some(mut events) = patch.webhook_events {
        events.sort();
        events.dedup();
        settings.webhook_events = events;
    }
    state.store.put_settings(&settings).await?;
    Ok(settings)
}

#[cfg(test)]
mod tests {
    #[test]
    fn origins_must_be_bare() {
        assert_eq!(
            super::parse_origin("https://app.example.com").unwrap(),
            "https://app.example.com"
        );
        assert_eq!(
            super::parse_origin("http://localhost:5173/").unwrap(),
            "http://localhost:5173"
        );
        for bad in ["https://app.example.com/path", "ftp://x.com", "app.example.com", "*"] {
            assert!(super::parse_origin(bad).is_err(), "{bad}");
        }
    }
}
