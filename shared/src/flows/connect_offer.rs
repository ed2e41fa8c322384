//! What a connect session offers its end user on the Connect page (`GET /connect/session`,
//! read with the session's token): the integrations it allows, each with how it connects
//! (a popup, or a form) and every field the end user fills in — the provider's connection
//! config that the session's defaults don't already set (never a field the provider fills in
//! itself), then a credentials mode's own fields, each with the catalog's rules. The server
//! checks the same rules again when the flow starts (`start::begin`, the mode's `submit`).

use time::OffsetDateTime;

use super::connect_session;
use crate::auth::{self, Obtain};
use crate::error::{Error, ErrorKind};
use crate::providers::schema::FieldSpec;
use crate::store::{ConnectSession, IntegrationRecord};
use crate::AppState;

/// What one session offers.
pub struct Offer {
    pub expires_at: OffsetDateTime,
    /// A reconnect session: it re-authorizes one existing connection.
    pub reconnect: bool,
    pub integrations: Vec<Offered>,
}

/// One integration the end user may connect.
pub struct Offered {
    pub integration: IntegrationRecord,
    /// The integration's name, else its provider's, else its key.
    pub display_name: String,
    pub obtains: Obtain,
    pub fields: Vec<OfferedField>,
}

/// Where a field's value goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldGroup {
    /// `params[<name>]` of the connect query.
    ConnectionConfig,
    /// The credentials body of a credentials route.
    Credentials,
}

pub struct OfferedField {
    pub name: String,
    pub group: FieldGroup,
    pub spec: FieldSpec,
    pub required: bool,
}

/// The offer of the session behind `token`: unknown and expired tokens are refused as every
/// flow refuses them. Integrations the session names that no longer exist are left out.
pub async fn offer(state: &AppState, token: &str) -> Result<Offer, Error> {
    let session = connect_session::find(state, token).await?;
    let records = match &session.allowed_integrations {
        None => crate::integrations::list(state).await?,
        Some(keys) => {
            let mut records = Vec::with_capacity(keys.len());
            for key in keys {
                match crate::integrations::get(state, key).await {
                    Ok(record) => records.push(record),
                    Err(e) if e.kind == ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                }
            }
            records
        }
    };
    let integrations = records
        .into_iter()
        .filter_map(|record| offered(&session, record))
        .collect();
    Ok(Offer {
        expires_at: session.expires_at,
        reconnect: session.reconnect.is_some(),
        integrations,
    })
}

fn offered(session: &ConnectSession, integration: IntegrationRecord) -> Option<Offered> {
    let scheme = auth::scheme(integration.auth_mode)?;
    let provider = crate::providers::provider(&integration.provider);
    let defaults = session
        .integrations_config_defaults
        .get(integration.key.as_str())
        .and_then(|d| d.get("connection_config"))
        .and_then(|c| c.as_object());
    let mut fields: Vec<OfferedField> = provider
        .and_then(|p| p.connection_config.as_ref())
        .into_iter()
        .flatten()
        .filter(|(name, spec)| spec.automated != Some(true) && !defaults.is_some_and(|d| d.contains_key(*name)))
        .map(|(name, spec)| OfferedField {
            name: name.clone(),
            group: FieldGroup::ConnectionConfig,
            required: spec.required(),
            spec: spec.clone(),
        })
        .collect();
    let credential_specs = provider.and_then(|p| p.credentials.as_ref());
    for name in scheme.form_fields(&integration) {
        let spec = credential_specs.and_then(|c| c.get(name)).cloned().unwrap_or_default();
        // A field with a catalog default (Freshdesk's password `X`) is the server's to fill.
        if spec.default_value.is_some() {
            continue;
        }
        fields.push(OfferedField {
            name: name.to_owned(),
            group: FieldGroup::Credentials,
            required: !spec.optional.unwrap_or(false),
            spec,
        });
    }
    let display_name = integration
        .display_name
        .clone()
        .or_else(|| provider.map(|p| p.display_name.clone()))
        .unwrap_or_else(|| integration.key.to_string());
    Some(Offered {
        display_name,
        obtains: scheme.obtains(),
        fields,
        integration,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    async fn stack() -> AppState {
        let state = AppState::in_memory();
        for body in [
            json!({"provider": "zendesk", "unique_key": "zendesk", "credentials": {"type": "OAUTH2", "client_id": "c", "client_secret": "s"}}),
            json!({"provider": "freshdesk", "unique_key": "freshdesk"}),
            json!({"provider": "salesforce", "unique_key": "sf", "display_name": "CRM", "credentials": {"type": "OAUTH2", "client_id": "c", "client_secret": "s"}}),
        ] {
            crate::integrations::create(&state, serde_json::from_value(body).unwrap())
                .await
                .unwrap();
        }
        state
    }

    async fn session(state: &AppState, body: serde_json::Value) -> String {
        let issued = connect_session::create(state, serde_json::from_value(body).unwrap())
            .await
            .unwrap();
        issued.token.expose().to_owned()
    }

    fn names(o: &Offered) -> Vec<(&str, FieldGroup, bool)> {
        o.fields
            .iter()
            .map(|f| (f.name.as_str(), f.group, f.required))
            .collect()
    }

    #[tokio::test]
    async fn a_session_offers_its_integrations_with_the_fields_the_end_user_fills_in() {
        let state = stack().await;
        let token = session(
            &state,
            json!({"end_user": {"id": "u1"}, "allowed_integrations": ["freshdesk", "sf", "gone"],
                   "integrations_config_defaults": {"sf": {"connection_config": {"hostname": "acme.my.salesforce.com"}}}}),
        )
        .await;
        let offer = offer(&state, &token).await.unwrap();
        assert!(!offer.reconnect);
        let keys: Vec<&str> = offer.integrations.iter().map(|o| o.integration.key.as_str()).collect();
        assert_eq!(
            keys,
            ["freshdesk", "sf"],
            "an integration that no longer exists is left out"
        );
        let freshdesk = &offer.integrations[0];
        assert_eq!(freshdesk.display_name, "FreshDesk");
        assert_eq!(freshdesk.obtains, Obtain::Submission);
        assert_eq!(
            names(freshdesk),
            [
                ("subdomain", FieldGroup::ConnectionConfig, true),
                ("username", FieldGroup::Credentials, true),
            ],
            "the password has a catalog default"
        );
        assert_eq!(freshdesk.fields[0].spec.suffix.as_deref(), Some(".freshdesk.com"));
        let sf = &offer.integrations[1];
        assert_eq!(sf.display_name, "CRM");
        assert_eq!(sf.obtains, Obtain::Redirect);
        assert!(
            names(sf).is_empty(),
            "the session set the hostname; instance_url comes from the provider"
        );
    }

    #[tokio::test]
    async fn without_a_list_every_integration_is_offered_and_bad_tokens_are_refused() {
        let state = stack().await;
        let token = session(&state, json!({"end_user": {"id": "u1"}})).await;
        assert_eq!(offer(&state, &token).await.unwrap().integrations.len(), 3);
        let e = offer(&state, "lk_cst_nope").await.err().unwrap();
        assert_eq!(e.code, crate::error::ErrorCode::UnknownConnectSessionToken);
    }
}
