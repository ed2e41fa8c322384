//! The environment's settings changed at run time (`GET/PATCH /environment`, and the console):
//! whether connect requests need an HMAC digest, which web origins may receive auth results
//! (and embed the Connect page), the callback URL sent to providers, where auth webhooks go and
//! which, the Connect page's theme, and key rotation. A patch is checked whole before anything
//! is written. Every change is recorded as activity (`operation: "environment"`), by field
//! name, never by value.

use serde::Deserialize;
use time::Duration;
use url::Url;

use crate::activity::Attempt;
use crate::config::EnvironmentKeys;
use crate::error::{Error, ErrorCode};
use crate::events::destination::{self, Source};
use crate::keys::{KeyName, DEFAULT_GRACE, MAX_GRACE};
use crate::store::{ConnectUi, EnvironmentSettings, WebhookEvent};
use crate::AppState;

pub async fn settings(state: &AppState) -> Result<EnvironmentSettings, Error> {
    Ok(state.store.get_settings().await?)
}

/// The redirect URI providers send the browser back to: the one set at run time, else the
/// deployment's.
pub fn callback_url(state: &AppState, settings: &EnvironmentSettings) -> String {
    settings
        .callback_url
        .clone()
        .unwrap_or_else(|| state.config.callback_url.to_string())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentPatch {
    pub hmac_enabled: Option<bool>,
    pub allowed_origins: Option<Vec<String>>,
    /// `null` goes back to the deployment's callback URL.
    #[serde(default, deserialize_with = "crate::domain::nullable")]
    pub callback_url: Option<Option<String>>,
    /// Where auth webhooks go (`events::destination`'s rule); `null` stops them.
    #[serde(default, deserialize_with = "crate::domain::nullable")]
    pub webhook_url: Option<Option<String>>,
    /// Which auth webhooks are sent (`[]`: none).
    pub webhook_events: Option<Vec<WebhookEvent>>,
    /// Keys to replace with new random ones.
    pub rotate_keys: Option<Vec<KeyName>>,
    /// How long the previous secret key keeps working after `rotate_keys` names the secret
    /// key (default 24 hours, at most 30 days; 0 = not at all).
    pub rotation_grace_seconds: Option<i64>,
    /// Replaces the Connect page's theme whole.
    pub connect_ui: Option<ConnectUi>,
}

/// What a patch did: the settings now, and the keys it rotated (shown once).
pub struct Updated {
    pub settings: EnvironmentSettings,
    pub rotated: Vec<KeyName>,
    pub keys: std::sync::Arc<EnvironmentKeys>,
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
    let bad =
        || Error::invalid_body("allowed_origins holds a value that is not a web origin like https://app.example.com");
    let url = url::Url::parse(raw).map_err(|_| bad())?;
    let origin = url.origin().ascii_serialization();
    if !matches!(url.scheme(), "http" | "https") || origin != raw.trim_end_matches('/') {
        return Err(bad());
    }
    Ok(origin)
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// A URL Latchkey sends people to (the callback URL): absolute https (http only on a loopback
/// host, for local development), without user info or fragment. (Webhook URLs, where requests
/// go, are `events::destination`'s.)
pub fn parse_target_url(raw: &str, field: &str) -> Result<String, Error> {
    let bad = |why: &str| Error::invalid_body(format!("{field} {why}."));
    if raw.len() > 2048 {
        return Err(bad("is longer than 2048 characters"));
    }
    let url = Url::parse(raw.trim()).map_err(|_| bad("is not an absolute URL"))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => return Err(bad("must use https (http only for localhost)")),
        _ => return Err(bad("must be an https URL")),
    }
    if url.host().is_none() || !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must name a host, without user name or password"));
    }
    if url.fragment().is_some() {
        return Err(bad("must not have a fragment"));
    }
    Ok(url.to_string())
}

fn grace(seconds: Option<i64>) -> Result<Duration, Error> {
    let Some(seconds) = seconds else {
        return Ok(DEFAULT_GRACE);
    };
    let grace = Duration::seconds(seconds);
    if seconds < 0 || grace > MAX_GRACE {
        return Err(Error::invalid_body(format!(
            "rotation_grace_seconds must be 0 to {}.",
            MAX_GRACE.whole_seconds()
        )));
    }
    Ok(grace)
}

/// Applies a patch: every value is checked before anything is written. `may_manage_keys` is
/// false for a caller authenticated by the previous secret key (still in its grace period):
/// it may change settings but not rotate keys.
pub async fn update(state: &AppState, patch: EnvironmentPatch, may_manage_keys: bool) -> Result<Updated, Error> {
    let mut settings = settings(state).await?;
    let mut changed = Vec::new();
    if let Some(origins) = patch.allowed_origins {
        settings.allowed_origins = origins.iter().map(|o| parse_origin(o)).collect::<Result<_, _>>()?;
        changed.push("allowed_origins");
    }
    if let Some(on) = patch.hmac_enabled {
        settings.hmac_enabled = on;
        changed.push("hmac_enabled");
    }
    if let Some(ui) = patch.connect_ui {
        check_connect_ui(&ui)?;
        settings.connect_ui = ui;
        changed.push("connect_ui");
    }
    if let Some(url) = patch.callback_url {
        settings.callback_url = url.map(|u| parse_target_url(&u, "callback_url")).transpose()?;
        changed.push("callback_url");
    }
    if let Some(url) = patch.webhook_url {
        let allow_private = state.config.allow_private_addresses;
        settings.webhook_url = url
            .map(|u| destination::parse(&u, Source::Environment, allow_private))
            .transpose()?;
        changed.push("webhook_url");
    }
    if let Some(mut events) = patch.webhook_events {
        events.sort();
        events.dedup();
        settings.webhook_events = events;
        changed.push("webhook_events");
    }
    let mut rotate = patch.rotate_keys.unwrap_or_default();
    rotate.sort_by_key(|k| k.as_str());
    rotate.dedup();
    let grace = grace(patch.rotation_grace_seconds)?;
    if !rotate.is_empty() && !may_manage_keys {
        return Err(Error::forbidden(
            ErrorCode::KeyManagementForbidden,
            "Keys can be rotated only with the current secret key, not the previous one.",
        ));
    }
    let record = Attempt::new("environment", None, None);
    if !changed.is_empty() {
        state.store.put_settings(&settings).await?;
        record
            .info(state, "settings_changed", format!("Changed {}.", changed.join(", ")))
            .await;
    }
    let now = state.clock.now();
    let keys = if rotate.is_empty() {
        state.keys.current(now).await
    } else {
        let keys = state.keys.rotate(&rotate, grace, now).await?;
        let names: Vec<_> = rotate.iter().map(|k| k.as_str()).collect();
        let kept = match keys.previous_secret_key_expires_at {
            Some(until) if rotate.contains(&KeyName::SecretKey) => {
                format!(
                    " The previous secret key works until {}.",
                    crate::time_fmt::rfc3339(until)
                )
            }
            _ => String::new(),
        };
        record
            .info(state, "keys_rotated", format!("Rotated {}.{kept}", names.join(", ")))
            .await;
        keys
    };
    Ok(Updated {
        settings,
        rotated: rotate,
        keys,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_must_be_bare() {
        assert_eq!(
            parse_origin("https://app.example.com").unwrap(),
            "https://app.example.com"
        );
        assert_eq!(parse_origin("http://localhost:5173/").unwrap(), "http://localhost:5173");
        for bad in ["https://app.example.com/path", "ftp://x.com", "app.example.com", "*"] {
            assert!(parse_origin(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_connect_page_theme_holds_only_safe_values() {
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

    #[test]
    fn target_urls_are_https_except_on_loopback() {
        let ok = |u: &str| parse_target_url(u, "callback_url").unwrap();
        assert_eq!(
            ok("https://hooks.example.com/latchkey"),
            "https://hooks.example.com/latchkey"
        );
        assert_eq!(ok("http://127.0.0.1:8080/cb"), "http://127.0.0.1:8080/cb");
        assert_eq!(ok("http://localhost/cb"), "http://localhost/cb");
        for bad in [
            "http://hooks.example.com/x",
            "https://user:pw@hooks.example.com/x",
            "https://hooks.example.com/x#frag",
            "javascript:alert(1)",
            "/relative",
            "ftp://hooks.example.com",
        ] {
            let e = parse_target_url(bad, "callback_url").unwrap_err();
            assert!(e.message.starts_with("callback_url "), "{bad}: {}", e.message);
            assert!(!e.message.contains("hooks.example.com"), "no echo: {}", e.message);
        }
    }

    #[test]
    fn a_patch_tells_null_from_absent() {
        let p: EnvironmentPatch = serde_json::from_str(r#"{"callback_url": null}"#).unwrap();
        assert_eq!(p.callback_url, Some(None));
        assert_eq!(p.webhook_url, None);
        let p: EnvironmentPatch =
            serde_json::from_str(r#"{"webhook_events": ["creation", "refresh_failed"]}"#).unwrap();
        assert_eq!(
            p.webhook_events,
            Some(vec![WebhookEvent::Creation, WebhookEvent::RefreshFailed])
        );
        assert!(serde_json::from_str::<EnvironmentPatch>(r#"{"webhook_events": ["sync"]}"#).is_err());
        assert!(serde_json::from_str::<EnvironmentPatch>(r#"{"rotate_keys": ["master"]}"#).is_err());
    }

    #[test]
    fn settings_of_an_earlier_build_read_with_defaults() {
        let old: EnvironmentSettings = serde_json::from_str(r#"{"hmac_enabled":true,"allowed_origins":[]}"#).unwrap();
        assert_eq!((old.callback_url, old.webhook_url), (None, None));
        assert_eq!(old.webhook_events, WebhookEvent::all());
        assert_eq!(old.connect_ui, ConnectUi::default());
    }

    #[test]
    fn a_grace_period_is_bounded() {
        assert_eq!(grace(None).unwrap(), DEFAULT_GRACE);
        assert_eq!(grace(Some(0)).unwrap(), Duration::ZERO);
        assert!(grace(Some(-1)).is_err());
        assert!(grace(Some(MAX_GRACE.whole_seconds() + 1)).is_err());
    }
}
