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
        app: None,
        aws_sigv4: None,
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

/// The authorization URL of a catalog entry for the integration's scopes.
fn authorization_url_of(provider: &str, config: &ConnectionConfig, scopes: &[&str]) -> Url {
    let mut it = integration(provider, AuthMode::OAuth2);
    it.scopes = scopes.iter().map(|s| s.to_string()).collect();
    authorization_url_for(&it, config)
}

/// The authorization URL of `it` for one connection's config.
fn authorization_url_for(it: &IntegrationRecord, config: &ConnectionConfig) -> Url {
    let e = endpoints_of(it, config).unwrap();
    let state = crate::domain::OAuthState::new("st");
    super::super::authorize::authorization_url(
        &e,
        &super::super::authorize::AuthorizationRequest {
            client_id: "cid",
            redirect_uri: "https://latchkey.example/oauth/callback",
            scopes: &it.scopes,
            state: &state,
            code_challenge: None,
            extra_params: &[],
            user_scope: None,
        },
    )
    .unwrap()
}

/// Pennylane joins scopes with `+` and reads them unencoded (`authorization_url_skip_encode`):
/// a `+` encoded as `%2B` would be one scope of that name. What would end the parameter is
/// still encoded.
#[test]
fn skip_encode_scopes_sends_the_scope_list_as_written() {
    let url = authorization_url_of("pennylane", &cfg(&[]), &["customers:readonly", "invoices:all"]);
    let query = url.query().unwrap();
    assert!(query.ends_with("&scope=customers:readonly+invoices:all"), "{url}");
    let scope: Vec<String> = url
        .query_pairs()
        .filter(|(k, _)| k == "scope")
        .map(|(_, v)| v.into_owned())
        .collect();
    assert_eq!(
        scope,
        ["customers:readonly invoices:all"],
        "the provider reads + as the separator"
    );
    let hostile = authorization_url_of("pennylane", &cfg(&[]), &["a&redirect_uri=https://evil.example#x"]);
    let names: Vec<String> = hostile.query_pairs().map(|(k, _)| k.into_owned()).collect();
    assert_eq!(names.iter().filter(|k| *k == "redirect_uri").count(), 1, "{hostile}");
    assert_eq!(hostile.fragment(), None);
    let plain = authorization_url_of("zendesk", &cfg(&[("subdomain", "acme")]), &["read", "write"]);
    assert!(
        plain.query().unwrap().contains("scope=read+write"),
        "others encode as a form: {plain}"
    );
}

/// Apollo and Shopline read the request from the fragment of a single-page app.
#[test]
fn authorization_url_fragment_moves_the_query_behind_it() {
    let url = authorization_url_of("apollo-oauth", &cfg(&[]), &["read_user_profile"]);
    assert_eq!(url.query(), None, "{url}");
    let fragment = url.fragment().unwrap();
    assert!(fragment.starts_with("oauth/authorize?"), "{url}");
    assert!(
        fragment.contains("client_id=cid") && fragment.contains("state=st"),
        "{url}"
    );
    assert!(
        url.as_str().starts_with("https://app.apollo.io/#oauth/authorize?"),
        "{url}"
    );
    let shopline = authorization_url_of("shopline-oauth", &cfg(&[("handle", "open001")]), &[]);
    let fragment = shopline.fragment().unwrap();
    assert!(fragment.starts_with("/oauth/authorize?"), "{shopline}");
    assert!(
        fragment.contains("appKey=cid") && fragment.contains("customField=st"),
        "renames apply: {shopline}"
    );
}

/// `authorization_url_skip_empty` leaves out parameters with nothing in them.
#[test]
fn skip_empty_drops_empty_parameters() {
    let with_empty = |provider: &str| {
        let mut it = integration(provider, AuthMode::OAuth2);
        it.custom = Some(crate::store::CustomOAuth2 {
            authorization_params: serde_json::from_value(serde_json::json!({"empty": "", "kept": "v"})).unwrap(),
            ..Default::default()
        });
        authorization_url_for(&it, &cfg(&[]))
    };
    let skipping = with_empty("pipedrive");
    let names: Vec<String> = skipping.query_pairs().map(|(k, _)| k.into_owned()).collect();
    assert!(
        !names.contains(&"empty".to_owned()) && names.contains(&"kept".to_owned()),
        "{skipping}"
    );
    let keeping = with_empty("hubspot");
    assert!(keeping.query_pairs().any(|(k, _)| k == "empty"), "{keeping}");
}

/// `authorization_method: header` (Notion, Airtable, Reddit, …) is Nango's way of saying the
/// client authenticates with HTTP Basic at the token endpoint.
#[test]
fn authorization_method_header_is_basic_client_auth() {
    for provider in ["notion", "airtable", "reddit", "fitbit"] {
        let e = endpoints_of(&integration(provider, AuthMode::OAuth2), &cfg(&[])).unwrap();
        assert_eq!(e.client_auth, ClientAuth::Basic, "{provider}");
    }
    let e = endpoints_of(&integration("hubspot", AuthMode::OAuth2), &cfg(&[])).unwrap();
    assert_eq!(e.client_auth, ClientAuth::Body);
}

/// bing-webmasters names its refresh parameters `refresh_token_params`.
#[test]
fn refresh_token_params_stand_for_refresh_params_where_an_entry_has_only_those() {
    let e = endpoints_of(&integration("bing-webmasters", AuthMode::OAuth2), &cfg(&[])).unwrap();
    assert_eq!(
        e.refresh_params,
        [("grant_type".to_owned(), "refresh_token".to_owned())]
    );
    assert_eq!(
        e.refresh_url.unwrap().url().as_str(),
        "https://www.bing.com/webmasters/token"
    );
}
