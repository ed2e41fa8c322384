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
        allowed_hosts: vec![],
        created_at: now,
        updated_at: now,
        generation: String::new(),
    }
}

fn endpoints_of(integration: &IntegrationRecord, config: &ConnectionConfig) -> Result<OAuth2Endpoints, Error> {
    for_connection(integration, config, &Default::default())
}

#[test]
fn each_url_knows_who_chose_its_host() {
    use crate::outbound::HostChoice;
    let zendesk = integration("zendesk", AuthMode::OAuth2);
    let acme = cfg(&[("subdomain", "acme")]);
    let e = endpoints_of(&zendesk, &acme).unwrap();
    match e.token_url.chosen_by() {
        HostChoice::EndUser { field, allowed } => {
            assert_eq!(field, "subdomain");
            assert!(!allowed.set_by_operator);
            assert_eq!(allowed.patterns[0].as_str(), "*.zendesk.com");
        }
        other => panic!("{other:?}"),
    }
    e.check_hosts().unwrap();
    let vouched: VouchedKeys = ["subdomain".to_owned()].into();
    let e = for_connection(&zendesk, &acme, &vouched).unwrap();
    assert_eq!(e.token_url.chosen_by(), &HostChoice::Backend);
    let sf = endpoints_of(&integration("salesforce", AuthMode::OAuth2), &cfg(&[])).unwrap();
    assert_eq!(sf.token_url.chosen_by(), &HostChoice::Catalog);

    // A whole host from the end user: refused unless the operator allows it.
    let mut canvas = integration("canvas-lms", AuthMode::OAuth2);
    let evil = cfg(&[("hostname", "evil.example")]);
    let e = endpoints_of(&canvas, &evil).unwrap();
    let refused = e.check_hosts().unwrap_err();
    assert_eq!(refused.code, ErrorCode::HostNotAllowed);
    assert!(!refused.message.contains("evil"), "{}", refused.message);
    assert!(
        refused.detail.unwrap().contains("evil.example"),
        "the operator sees the host"
    );
    canvas.allowed_hosts = vec![crate::domain::HostPattern::parse("*.instructure.com").unwrap()];
    assert_eq!(
        endpoints_of(&canvas, &evil).unwrap().check_hosts().unwrap_err().code,
        ErrorCode::HostNotAllowed
    );
    endpoints_of(&canvas, &cfg(&[("hostname", "acme.instructure.com")]))
        .unwrap()
        .check_hosts()
        .unwrap();
}

#[test]
fn endpoints_render_from_the_catalog_with_the_connection_config() {
    let zendesk = endpoints_of(
        &integration("zendesk", AuthMode::OAuth2),
        &cfg(&[("subdomain", "acme")]),
    )
    .unwrap();
    assert_eq!(
        zendesk.authorization_url.url().as_str(),
        "https://acme.zendesk.com/oauth/authorizations/new"
    );
    assert_eq!(
        zendesk.token_url.url().as_str(),
        "https://acme.zendesk.com/oauth/tokens"
    );
    assert!(zendesk.token_params.contains(&("expires_in".into(), "1800".into())));

    let sf = endpoints_of(&integration("salesforce", AuthMode::OAuth2), &cfg(&[])).unwrap();
    assert_eq!(sf.token_url.url().host_str(), Some("login.salesforce.com"));
    assert_eq!(sf.default_scopes, ["offline_access"]);
    assert_eq!(sf.token_shape.metadata, ["instance_url"]);

    let slack = endpoints_of(&integration("slack", AuthMode::OAuth2), &cfg(&[])).unwrap();
    assert_eq!(slack.scope_separator, ",");
    assert!(!slack.pkce);
    assert_eq!(slack.token_shape.alternate_path.as_deref(), Some("authed_user"));

    let tiktok = endpoints_of(&integration("tiktok-accounts", AuthMode::OAuth2), &cfg(&[])).unwrap();
    assert_eq!(
        tiktok.authorization_url_replacements,
        [("client_id".to_owned(), "client_key".to_owned())]
    );

    let cc = endpoints_of(&integration("8x8", AuthMode::OAuth2Cc), &cfg(&[])).unwrap();
    assert_eq!(cc.client_auth, ClientAuth::Basic);

    let hostile = endpoints_of(
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
    let e = endpoints_of(&it, &cfg(&[("subdomain", "acme")])).unwrap();
    assert_eq!(e.authorization_url.url().host_str(), Some("sso.internal.example"));
    assert_eq!(e.token_url.url().path(), "/token");
    assert_eq!(e.client_auth, ClientAuth::Basic);
    assert!(
        e.token_params.contains(&("expires_in".into(), "1800".into())),
        "catalog quirks stay"
    );
}
