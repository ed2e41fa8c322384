//! The end user's Connect page (`GET /connect`) and the read it makes (`GET /connect/session`).
//!
//! The page is one HTML document with its style, the frontend SDK and its script inline, under a
//! per-response nonce: no other origin's resource, no inline handler, nothing else may run. It
//! is what a connect session's `connect_link` opens and what `openConnectUI()` of
//! `@nangohq/frontend` embeds (its iframe and `postMessage` contract is in
//! `assets/connect/connect.js`). It may be framed only by the environment's allowed origins —
//! stricter than the other channels' rule, where an empty list allows every origin: with no
//! origin listed, only the API's own pages may frame it, so no site can lay it under its own
//! UI before the team names its app.
//!
//! `GET /connect/session` answers the session's offer (`flows::connect_offer`), authenticated
//! by `Authorization: Bearer <connect session token>`.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::error::ApiError;
use super::html::{escape as escape_html, script_json};
use super::result_page::html_page;
use super::wire;
use crate::error::{Error, ErrorCode};
use crate::flows::connect_offer;
use crate::store::{ConnectTheme, EnvironmentSettings};
use crate::AppState;

const PAGE: &str = include_str!("../../assets/connect/index.html");
const STYLE: &str = include_str!("../../assets/connect/connect.css");
const SCRIPT: &str = include_str!("../../assets/connect/connect.js");
const SDK: &str = include_str!("../../assets/demo/latchkey.js");

/// Buttons when the team sets no colour.
const DEFAULT_PRIMARY: &str = "#3454d1";

/// Black or white text on `hex` (`#rrggbb`, checked when it was set), whichever reads better
/// (WCAG relative luminance).
fn text_on(hex: &str) -> &'static str {
    let channel = |i: usize| {
        let c = f64::from(u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0)) / 255.0;
        if c <= 0.03928 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let luminance = 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
    // Contrast with white is (1.05)/(L+0.05), with black (L+0.05)/0.05: equal at L ≈ 0.179.
    if luminance > 0.179 {
        "#111111"
    } else {
        "#ffffff"
    }
}

/// `template` with each `{name}` of it replaced by its value, in one pass: what a value holds
/// (the script's own braces) is never read as a placeholder.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + values.iter().map(|(_, v)| v.len()).sum::<usize>());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after.find('}').and_then(|close| {
            values
                .iter()
                .find(|(name, _)| *name == &after[..close])
                .map(|(_, v)| (close, v))
        });
        match value {
            Some((close, v)) => {
                out.push_str(v);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Who may frame the page: the allowed origins, or only the API's own pages.
fn frame_ancestors(settings: &EnvironmentSettings, own_origin: &str) -> Vec<String> {
    let mut origins = vec![own_origin.to_owned()];
    origins.extend(settings.allowed_origins.iter().filter(|o| *o != own_origin).cloned());
    origins
}

pub async fn page(State(state): State<AppState>) -> Result<Response, ApiError> {
    let settings = crate::environment::settings(&state).await?;
    let own = state.config.own_origin();
    let ancestors = frame_ancestors(&settings, &own);
    let ui = &settings.connect_ui;
    let primary = ui.primary_color.as_deref().unwrap_or(DEFAULT_PRIMARY);
    let theme = match ui.theme {
        Some(ConnectTheme::Light) => "light",
        Some(ConnectTheme::Dark) => "dark",
        Some(ConnectTheme::System) | None => "system",
    };
    let title = match &ui.app_name {
        Some(name) => format!("Connect an account to {name}"),
        None => "Connect an account".to_owned(),
    };
    let config = json!({
        "api": state.config.public_url.as_str().trim_end_matches('/'),
        "appName": ui.app_name,
        "parentOrigins": ancestors,
    });
    let nonce = crate::crypto::random_token();
    let html = fill(
        PAGE,
        &[
            ("style", STYLE),
            ("sdk", SDK),
            ("script", SCRIPT),
            ("config", &script_json(&config)),
            ("title", &escape_html(&title)),
            ("theme", theme),
            ("primary", primary),
            ("on_primary", text_on(primary)),
            ("nonce", &nonce),
        ],
    );
    let csp = format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; img-src data:; \
         connect-src {own}; base-uri 'none'; form-action 'none'; frame-ancestors {}",
        ancestors.join(" ")
    );
    // Only the origin ever leaves as a Referer: the page's URL may hold the session token.
    Ok(html_page(StatusCode::OK, html, &csp, "strict-origin"))
}

/// The connect session token of `Authorization: Bearer <token>`.
fn session_token(headers: &HeaderMap) -> Result<&str, Error> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            Error::unauthorized(
                ErrorCode::MissingAuthToken,
                "Send the connect session token as 'Authorization: Bearer <token>'.",
            )
        })
}

pub async fn session(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let offer = connect_offer::offer(&state, session_token(&headers)?).await?;
    let mut response = wire::json(wire::Data {
        data: wire::ConnectOffer::new(&offer),
    });
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_once_and_values_are_not_read_again() {
        assert_eq!(
            fill("a{x}b{y}c{unknown}d{", &[("x", "{y}"), ("y", "2")]),
            "a{y}b2c{unknown}d{"
        );
    }

    #[test]
    fn button_text_stays_readable_on_the_teams_colour() {
        assert_eq!(text_on("#3454d1"), "#ffffff");
        assert_eq!(text_on("#ffe066"), "#111111");
        assert_eq!(text_on("#000000"), "#ffffff");
        assert_eq!(text_on("#ffffff"), "#111111");
    }

    #[test]
    fn only_listed_origins_and_the_api_itself_may_frame_the_page() {
        let own = "https://auth.example.com";
        assert_eq!(frame_ancestors(&EnvironmentSettings::default(), own), [own]);
        let listed = EnvironmentSettings {
            allowed_origins: vec!["https://app.example.com".into(), own.into()],
            ..Default::default()
        };
        assert_eq!(frame_ancestors(&listed, own), [own, "https://app.example.com"]);
    }
}
