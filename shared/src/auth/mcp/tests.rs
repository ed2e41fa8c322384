//! `MCP_OAUTH2` over the OAuth2 module: which entries register their own client, and the MCP
//! rules (PKCE always, the resource indicator in every request) on catalog endpoints.

use super::*;
use crate::domain::{ConnectionConfig, IntegrationKey};
use crate::error::ErrorCode;

fn integration(provider: &str) -> IntegrationRecord {
    let now = time::OffsetDateTime::UNIX_EPOCH;
    IntegrationRecord {
        key: IntegrationKey::parse("it").unwrap(),
        provider: provider.into(),
        display_name: None,
        auth_mode: AuthMode::McpOAuth2,
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

#[test]
fn the_catalog_says_how_each_entry_gets_its_client() {
    assert_eq!(client_registration("linear-mcp"), Some(ClientRegistration::Dynamic));
    assert_eq!(client_registration("asana-mcp"), Some(ClientRegistration::Static));
    assert_eq!(client_registration("lovable-mcp"), Some(ClientRegistration::Cimd));
    assert_eq!(client_registration("github"), None, "not an MCP entry");
    assert!(registers_own_client("linear-mcp", AuthMode::McpOAuth2));
    assert!(!registers_own_client("asana-mcp", AuthMode::McpOAuth2));
    assert!(registers_own_client("cloudflare-mcp", AuthMode::McpOAuth2Generic));
}

#[test]
fn mcp_endpoints_always_use_pkce_and_send_the_resource_with_every_grant() {
    let record = integration("sanity-mcp");
    let mut e = endpoints::for_connection(&record, &ConnectionConfig::default(), &Default::default()).unwrap();
    apply_mcp_rules(&mut e);
    assert!(e.pkce);
    let resource = ("resource".to_owned(), "https://mcp.sanity.io".to_owned());
    assert!(
        e.authorization_params.contains(&resource),
        "{:?}",
        e.authorization_params
    );
    assert!(e.token_params.contains(&resource), "{:?}", e.token_params);
    assert!(e.refresh_params.contains(&resource), "{:?}", e.refresh_params);
    assert_eq!(e.default_scopes, ["global"]);

    let record = integration("linear-mcp");
    let mut e = endpoints::for_connection(&record, &ConnectionConfig::default(), &Default::default()).unwrap();
    apply_mcp_rules(&mut e);
    assert!(e.pkce);
    assert!(
        !e.token_params.iter().any(|(k, _)| k == "resource"),
        "none when the catalog names none"
    );
}

#[tokio::test]
async fn an_entry_identified_by_a_client_id_metadata_document_is_refused_at_creation() {
    let state = AppState::for_tests();
    let e = crate::auth::provider_scheme("lovable-mcp").err().unwrap();
    assert_eq!(e.code, ErrorCode::UnsupportedAuthMode);
    assert!(e.message.contains("lovable-mcp"), "{}", e.message);
    // A static entry needs nothing more than OAUTH2's checks; one with the operator's own
    // client id is not registered again.
    let mut asana = integration("asana-mcp");
    prepare_integration(&state, &mut asana).await.unwrap();
    let mut own = integration("linear-mcp");
    prepare_integration(&state, &mut own).await.unwrap();
    assert_eq!(own.client_id.as_deref(), Some("cid"));
}
