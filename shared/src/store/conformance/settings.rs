//! Settings: defaults until written, then what was written.

use super::*;

/// Every test of this file.
pub async fn run(store: &dyn Store) {
    settings_default_and_round_trip(store).await;
}

pub async fn settings_default_and_round_trip(store: &dyn Store) {
    let before = store.get_settings().await.unwrap();
    let changed = EnvironmentSettings {
        hmac_enabled: !before.hmac_enabled,
        allowed_origins: vec!["https://app.example.com".into()],
        callback_url: Some("https://auth.example.com/oauth/callback".into()),
        webhook_url: Some("https://hooks.example.com/latchkey".into()),
        webhook_events: vec![WebhookEvent::Creation, WebhookEvent::RefreshFailed],
        connect_ui: ConnectUi {
            app_name: Some("Acme".into()),
            primary_color: Some("#5b4cdb".into()),
            theme: Some(ConnectTheme::Dark),
        },
    };
    store.put_settings(&changed).await.unwrap();
    assert_eq!(store.get_settings().await.unwrap(), changed);
    store.put_settings(&before).await.unwrap();
}
