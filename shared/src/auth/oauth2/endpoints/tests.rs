//! Endpoints rendered from catalog entries and overridden by an integration's custom block.

use super::*;
use crate::providers::tests::cfg;

fn integration(provider: &str, mode: AuthMode) -> IntegrationRecord {
    let now = time::OffsetDateTime::UNIX_EPOCH;
    IntegrationRecord {
        key: crate::domain::IntegrationKey::parse("it").unwrap(),
        provider: provider.into(),
        display_name: None,
        auth_mode: mode,
        client_id: Some("cid".into()),
        client_secret: None,
        scopes: vec![],
        custom: None,
        created_at: now,
        updated_at: now,
        generation: String::new(),
    }
}

#[test]
fn endpoints_render_from_the_catalog_with_the_connection_config() {
    let zendesk = for_connection(
        &integration("zendesk", AuthMode::OAuth2),
        &cfg(&[("subdomain", "acme")]),
    )
    .unwrap();
    assert_eq!(
        zendesk.authorization_url.as_str(),
        "https://acme.zendesk.com/oauth/authorizations/new"
    );
    assert_eq!(zendesk.token_url.as_str(), "https://acme.zendesk.com/oauth/tokens");
    assert!(zendesk.token_params.contains(&("expires_in".into(), "1800".into())));

    let sf = for_connection(&integration("salesforce", AuthMode::OAuth2), &cfg(&[])).unwrap();
    assert_eq!(sf.token_url.host_str(), Some("login.salesforce.com"));
    assert_eq!(sf.default_scopes, ["offline_access"]);
    assert_eq!(sf.token_shape.metadata, ["instance_url"]);

    let slack = for_connection(&integration("slack", AuthMode::OAuth2), &cfg(&[])).unwrap();
    assert_eq!(slack.scope_separator, ",");
    assert!(!slack.pkce);
    assert_eq!(slack.token_shape.alternate_path.as_deref(), Some("authed_user"));

    let tiktok = for_connection(&integration("tiktok-accounts", AuthMode::OAuth2), &cfg(&[])).unwrap();
    assert_eq!(
        tiktok.authorization_url_replacements,
        [("client_id".to_owned(), "client_key".to_owned())]
    );

    let cc = for_connection(&integration("8x8", AuthMode::OAuth2Cc), &cfg(&[])).unwrap();
    assert_eq!(cc.client_auth, ClientAuth::Basic);

    let hostile = for_connection(
        &integration("zendesk", AuthMode::OAuth2),
        &cfg(&[("subdomain", "evil.com/x?")]),
    )
    .unwrap_err();
    assert_eq!(hostile.code, ErrorCode::InvalidConnectionConfig);
}

#[test]
fn an_integration_may_override_a_catalog_entrys_urls() {
    let mut it = integration("zendesk", AuthMode::OAuth2);
    it.custom = Some(crate::store::CustomOAuth2 {
        authorization_url: "https://sso.internal.example/authorize".into(),
        token_url: "https://sso.internal.example/token".into(),
        token_request_auth_method: Some("basic".into()),
        ..Default::default()
    });
    let e = for_connection(&it, &cfg(&[("subdomain", "acme")])).unwrap();
    assert_eq!(e.authorization_url.host_str(), Some("sso.internal.example"));
    assert_eq!(e.token_url.path(), "/token");
    assert_eq!(e.client_auth, ClientAuth::Basic);
    assert!(
        e.token_params.contains(&("expires_in".into(), "1800".into())),
        "catalog quirks stay"
    );
}
