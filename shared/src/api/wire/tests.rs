//! The wire projections: what each response shows and hides.

use super::*;
use crate::domain::{AccessToken, RefreshToken};
use serde_json::json;

#[test]
fn refresh_tokens_are_shown_only_on_request() {
    let creds = Credentials::OAuth2 {
        access_token: AccessToken::new("at"),
        refresh_token: Some(RefreshToken::new("rt")),
        expires_at: None,
        raw: json!({"access_token": "at", "refresh_token": "rt", "team": "x"})
            .as_object()
            .unwrap()
            .clone()
            .into(),
    };
    assert_eq!(
        credentials(&creds, "custom-oauth2", false),
        json!({"type": "OAUTH2", "access_token": "at", "raw": {"access_token": "at", "team": "x"}})
    );
    assert_eq!(credentials(&creds, "custom-oauth2", true)["refresh_token"], "rt");
    assert_eq!(credentials(&creds, "custom-oauth2", true)["raw"]["refresh_token"], "rt");
}

/// Slack's user token (and its refresh token) sit in `authed_user`; timify names its
/// refresh token `refreshToken`. Neither shows without `refresh_token=true`.
#[test]
fn refresh_tokens_nested_where_the_catalog_says_are_hidden_too() {
    let raw = json!({"access_token": "xoxb", "refresh_token": "rt-bot",
        "authed_user": {"id": "U1", "access_token": "xoxp", "refresh_token": "rt-user"}});
    let slack = Credentials::OAuth2 {
        access_token: AccessToken::new("xoxb"),
        refresh_token: Some(RefreshToken::new("rt-bot")),
        expires_at: None,
        raw: raw.as_object().unwrap().clone().into(),
    };
    let hidden = credentials(&slack, "slack", false);
    assert_eq!(
        hidden["raw"],
        json!({"access_token": "xoxb", "authed_user": {"id": "U1", "access_token": "xoxp"}})
    );
    assert!(!hidden.to_string().contains("rt-"), "{hidden}");
    assert_eq!(
        credentials(&slack, "slack", true)["raw"]["authed_user"]["refresh_token"],
        "rt-user"
    );
    let timify = Credentials::OAuth2 {
        access_token: AccessToken::new("at"),
        refresh_token: Some(RefreshToken::new("rt")),
        expires_at: None,
        raw: json!({"accessToken": "at", "refreshToken": "rt"})
            .as_object()
            .unwrap()
            .clone()
            .into(),
    };
    assert_eq!(
        credentials(&timify, "timify", false)["raw"],
        json!({"accessToken": "at"})
    );
}

#[test]
fn secret_connection_config_is_masked_unless_asked_for() {
    let mut record = crate::store::conformance::connection("it", "c1");
    record.provider = "google-ads".into();
    record.connection_config = json!({"developer_token": "dt-SECRET", "login_customer_id": "123"})
        .as_object()
        .unwrap()
        .clone();
    let creds = Credentials::ApiKey {
        api_key: crate::domain::Secret::new("k"),
    };
    let masked = serde_json::to_value(Connection::new(&record, &creds, Shown::default())).unwrap();
    assert_eq!(
        masked["connection_config"],
        json!({"developer_token": "********", "login_customer_id": "123"})
    );
    let shown = Shown {
        secret_config: true,
        ..Shown::default()
    };
    let revealed = serde_json::to_value(Connection::new(&record, &creds, shown)).unwrap();
    assert_eq!(revealed["connection_config"]["developer_token"], "dt-SECRET");
}

#[test]
fn a_connections_errors_come_from_its_record() {
    let mut record = crate::store::conformance::connection("it", "c1");
    record.errors = vec![ConnectionProblem {
        kind: "refresh".into(),
        log_id: "attempt-1".into(),
    }];
    let creds = Credentials::ApiKey {
        api_key: crate::domain::Secret::new("k"),
    };
    let wire = serde_json::to_value(Connection::new(&record, &creds, Shown::default())).unwrap();
    assert_eq!(wire["errors"], json!([{"type": "refresh", "log_id": "attempt-1"}]));
    let list = serde_json::to_value(ConnectionList::new(std::slice::from_ref(&record.summary()))).unwrap();
    assert_eq!(list["connections"][0]["errors"], wire["errors"]);
    record.errors.clear();
    let wire = serde_json::to_value(Connection::new(&record, &creds, Shown::default())).unwrap();
    assert_eq!(wire["errors"], json!([]));
}

#[test]
fn outcomes_keep_their_wire_shapes() {
    let ok = Outcome::Success {
        integration: "gh",
        connection_id: "u1",
    };
    let err = Outcome::Failure {
        error_type: "access_denied",
        description: "no",
    };
    assert_eq!(
        serde_json::to_value(PollResult::from(&ok)).unwrap(),
        json!({"status": "success", "providerConfigKey": "gh", "connectionId": "u1"})
    );
    assert_eq!(
        serde_json::to_value(PollResult::from(&err)).unwrap(),
        json!({"status": "error", "error_type": "access_denied", "error_desc": "no"})
    );
    assert_eq!(
        serde_json::to_value(PollResult::Pending).unwrap(),
        json!({"status": "pending"})
    );
    assert_eq!(
        serde_json::to_value(ResultMessage::from(&ok)).unwrap(),
        json!({"type": "latchkey:auth:success", "providerConfigKey": "gh", "connectionId": "u1"})
    );
    assert_eq!(
        serde_json::to_value(ResultMessage::from(&err)).unwrap(),
        json!({"type": "latchkey:auth:error", "error_type": "access_denied", "error_desc": "no"})
    );
    assert_eq!(
        serde_json::to_value(NangoCallbackMessage::from(&ok)).unwrap(),
        json!({"type": "nango_oauth_callback_success"})
    );
    assert_eq!(
        serde_json::to_value(NangoCallbackMessage::from(&err)).unwrap(),
        json!({"type": "nango_oauth_callback_error", "payload": {"message": "no", "errorType": "access_denied"}})
    );
    // What `@nangohq/frontend` 0.71 reads (`authModal.js`).
    assert_eq!(
        serde_json::to_value(SocketMessage::ConnectionAck { ws_client_id: "w1" }).unwrap(),
        json!({"message_type": "connection_ack", "ws_client_id": "w1"})
    );
    assert_eq!(
        serde_json::to_value(SocketMessage::from(&ok)).unwrap(),
        json!({"message_type": "success", "provider_config_key": "gh", "connection_id": "u1", "is_pending": false})
    );
    assert_eq!(
        serde_json::to_value(SocketMessage::from(&err)).unwrap(),
        json!({"message_type": "error", "error_type": "access_denied", "error_desc": "no"})
    );
}
