//! Properties of the auth webhook body (`render`): whatever a connection holds (any text in its
//! provider, tags, end user or error), the body is one JSON object a receiver parses back to
//! the same values, in Nango's field names.

use proptest::prelude::*;
use serde_json::{json, Map, Value};

use super::*;
use crate::domain::{AuthMode, ConnectionId, IntegrationKey};

fn id() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._:@|+-]{1,40}"
}

fn text() -> impl Strategy<Value = String> {
    "\\PC{0,24}|[\\x00-\\x1f\"\\\\\u{2028}\u{2029}]{1,6}"
}

fn tags() -> impl Strategy<Value = Map<String, Value>> {
    proptest::collection::btree_map(text(), text().prop_map(Value::String), 0..4).prop_map(|m| m.into_iter().collect())
}

fn event() -> impl Strategy<Value = ConnectionEvent> {
    (
        proptest::sample::select(WebhookEvent::all()),
        (id(), id(), text()),
        proptest::sample::select(AuthMode::ALL),
        proptest::option::of((id(), proptest::option::of(text()), proptest::option::of(text()), tags())),
        tags(),
        proptest::option::of((text(), text())),
    )
        .prop_map(
            |(kind, (integration, connection, provider), auth_mode, end_user, tags, error)| {
                ConnectionEvent {
            kind,
            integration: IntegrationKey::parse(integration).unwrap(),
            connection_id: ConnectionId::parse(connection).unwrap(),
            provider,
            auth_mode,
            end_user: end_user.map(|(id, org, email, tags)| {
                json!({"id": id, "organization": org.map(|o| json!({"id": o})), "email": email, "tags": tags})
            }),
            tags,
            webhook_url_override: None,
            error: error.map(|(kind, description)| EventError { kind, description }),
        }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_webhook_body_parses_back_to_its_event(environment in text(), e in event()) {
        let body: Value = serde_json::from_str(&render(&environment, &e)).unwrap();
        let (operation, success) = match e.kind {
            WebhookEvent::Creation => ("creation", true),
            WebhookEvent::Override => ("override", true),
            WebhookEvent::RefreshFailed => ("refresh", false),
            WebhookEvent::RefreshRecovered => ("refresh", true),
        };
        prop_assert_eq!(&body["from"], "nango");
        prop_assert_eq!(&body["type"], "auth");
        prop_assert_eq!(body["connectionId"].as_str(), Some(e.connection_id.as_str()));
        prop_assert_eq!(body["providerConfigKey"].as_str(), Some(e.integration.as_str()));
        prop_assert_eq!(body["provider"].as_str(), Some(e.provider.as_str()));
        prop_assert_eq!(body["authMode"].as_str(), Some(e.auth_mode.as_str()));
        prop_assert_eq!(body["environment"].as_str(), Some(environment.as_str()));
        prop_assert_eq!(&body["operation"], operation);
        prop_assert_eq!(&body["success"], success);
        prop_assert_eq!(&body["tags"], &Value::Object(e.tags.clone()));
        match &e.error {
            Some(err) => {
                prop_assert_eq!(body["error"]["type"].as_str(), Some(err.kind.as_str()));
                prop_assert_eq!(body["error"]["description"].as_str(), Some(err.description.as_str()));
            }
            None => prop_assert!(body.get("error").is_none()),
        }
        match &e.end_user {
            Some(u) => {
                let got = &body["endUser"];
                prop_assert_eq!(&got["endUserId"], &u["id"]);
                prop_assert_eq!(got.get("organizationId"), u.pointer("/organization/id"));
                prop_assert_eq!(got.get("endUserEmail"), u.get("email").filter(|e| !e.is_null()));
                prop_assert_eq!(&got["tags"], &u["tags"]);
            }
            None => prop_assert!(body.get("endUser").is_none()),
        }
    }

    #[test]
    fn the_test_body_parses_for_any_environment(environment in text()) {
        let body: Value = serde_json::from_str(&render_test(&environment)).unwrap();
        prop_assert_eq!(&body["type"], "test");
        prop_assert_eq!(body["environment"].as_str(), Some(environment.as_str()));
    }
}
