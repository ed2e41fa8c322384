//! The environment's settings changed at run time (`GET/PATCH /environment`): whether connect
//! requests need an HMAC digest, which web origins may receive auth results (and embed the
//! Connect page), and the Connect page's theme.

use serde::Deserialize;

use crate::error::Error;
use crate::store::{ConnectUi, EnvironmentSettings};
use crate::AppState;

pub async fn settings(state: &AppState) -> Result<EnvironmentSettings, Error> {
    Ok(state.store.get_settings().await?)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentPatch {
    pub hmac_enabled: Option<bool>,
    pub allowed_origins: Option<Vec<String>>,
    /// Replaces the Connect page's theme whole.
    pub connect_ui: Option<ConnectUi>,
}

/// A theme is put in the Connect page as is: a plain name and a hex colour, nothing else.
fn check_connect_ui(ui: &ConnectUi) -> Result<(), Error> {
    if let Some(name) = &ui.app_name {
        if name.trim().is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
            return Err(Error::invalid_body(
                "connect_ui.app_name must be 1 to 64 characters without control characters.",
            ));
        }
    }
    if let Some(color) = &ui.primary_color {
        let hex = color.strip_prefix('#').unwrap_or("");
        if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::invalid_body(
                "connect_ui.primary_color must be a colour like #5b4cdb.",
            ));
        }
    }
    Ok(())
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
    if let Some(ui) = patch.connect_ui {
        check_connect_ui(&ui)?;
        settings.connect_ui = ui;
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

    #[test]
    fn a_connect_page_theme_holds_only_safe_values() {
        use crate::store::ConnectUi;
        let ui = |name: Option<&str>, color: Option<&str>| ConnectUi {
            app_name: name.map(str::to_owned),
            primary_color: color.map(str::to_owned),
            theme: None,
        };
        assert!(super::check_connect_ui(&ui(Some("Acme <CRM>"), Some("#5B4cdb"))).is_ok());
        for bad in [
            ui(Some(""), None),
            ui(Some(&"x".repeat(65)), None),
            ui(Some("a\nb"), None),
            ui(None, Some("red")),
            ui(None, Some("#12345")),
            ui(None, Some("#123456;}body{display:none")),
        ] {
            assert!(super::check_connect_ui(&bad).is_err(), "{bad:?}");
        }
    }
}
