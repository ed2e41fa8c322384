use std::collections::HashMap;

use base64::Engine;
use serde_json::json;

use super::*;
use crate::crypto::keys::tests::{RSA_PKCS1, RSA_PKCS8};

fn integration(app_link: &str) -> IntegrationRecord {
    let now = OffsetDateTime::UNIX_EPOCH;
    IntegrationRecord {
        key: crate::domain::IntegrationKey::parse("gh").unwrap(),
        provider: "github-app".into(),
        display_name: None,
        auth_mode: AuthMode::App,
        client_id: None,
        client_secret: None,
        scopes: vec![],
        custom: None,
        allowed_hosts: vec![],
        app: Some(GitHubApp {
            app_id: "12345".into(),
            app_link: app_link.into(),
            private_key: Sealed(vec![1, 2, 3]),
        }),
        aws_sigv4: None,
        created_at: now,
        updated_at: now,
        generation: String::new(),
    }
}

fn part(jwt: &str, i: usize) -> Value {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(jwt.split('.').nth(i).unwrap())
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[test]
fn the_app_jwt_is_rs256_issued_by_the_app_a_minute_ago_and_lives_under_ten_minutes() {
    for key in [RSA_PKCS1, RSA_PKCS8] {
        let jwt = app_jwt("12345", key, 1_000_000).unwrap();
        assert_eq!(part(&jwt, 0), json!({"alg": "RS256", "typ": "JWT"}));
        assert_eq!(
            part(&jwt, 1),
            json!({"iss": "12345", "iat": 1_000_000 - 60, "exp": 1_000_000 + 540})
        );
    }
    let err = app_jwt("12345", "not a key", 0).unwrap_err();
    assert!(!err.message.contains("not a key"), "{}", err.message);
    assert!(check_private_key(&Secret::new(RSA_PKCS1)).is_ok());
    let garbage = "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n";
    assert_eq!(
        check_private_key(&Secret::new(garbage)).unwrap_err().code,
        ErrorCode::InvalidBody
    );
}

#[test]
fn installation_ids_are_digits_only() {
    assert_eq!(installation_id(Some("38631545")).unwrap(), "38631545");
    for bad in [
        None,
        Some(""),
        Some("1/../../x"),
        Some("1?x=1"),
        Some("1#x"),
        Some("%31"),
        Some(" 1"),
        Some("-1"),
        Some("123456789012345678901"),
    ] {
        let err = installation_id(bad).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidCredentials, "{bad:?}");
    }
}

#[test]
fn the_installation_page_is_under_the_integrations_app_link_and_the_token_url_is_the_catalogs() {
    let record = integration("https://github.com/apps/latchkey-test/");
    let url = installation_url(&record, "st-1").unwrap();
    assert_eq!(
        url.as_str(),
        "https://github.com/apps/latchkey-test/installations/new?state=st-1"
    );
    let target = token_url(&record, "38631545").unwrap();
    assert_eq!(
        target.url().as_str(),
        "https://api.github.com/app/installations/38631545/access_tokens"
    );
    assert_eq!(*target.chosen_by(), crate::outbound::HostChoice::Catalog);
    let none = IntegrationRecord { app: None, ..record };
    assert_eq!(
        installation_url(&none, "s").unwrap_err().code,
        ErrorCode::InvalidIntegration
    );
}

#[test]
fn app_fields_are_checked() {
    assert!(check_app_id("12345").is_ok());
    for bad in ["", "12a", "1 2", "123456789012345678901"] {
        assert!(check_app_id(bad).is_err(), "{bad}");
    }
    assert!(check_app_link("https://github.com/apps/my-app").is_ok());
    for bad in [
        "http://github.com/apps/x",
        "https://github.com/apps/x?y=1",
        "https://u:p@github.com/apps/x",
        "github.com/apps/x",
        "javascript:alert(1)",
    ] {
        assert!(check_app_link(bad).is_err(), "{bad}");
    }
}

#[test]
fn githubs_answer_becomes_app_credentials_and_refusals_say_why() {
    let body = json!({"token": "ghs_abc", "expires_at": "2030-01-01T01:00:00Z",
        "permissions": {"contents": "read"}, "repository_selection": "all"});
    let creds = read_installation_token(201, body.to_string().as_bytes()).unwrap();
    assert_eq!(creds.auth_mode(), AuthMode::App);
    assert_eq!(creds.access_token().unwrap().expose(), "ghs_abc");
    assert_eq!(
        creds.expires_at(),
        Some(OffsetDateTime::parse("2030-01-01T01:00:00Z", &Rfc3339).unwrap())
    );
    assert!(!format!("{creds:?}").contains("ghs_abc"));
    let wire = serde_json::to_value(&creds).unwrap();
    assert_eq!(wire["type"], "APP");
    assert_eq!(wire["access_token"], "ghs_abc");
    assert_eq!(wire["expires_at"], "2030-01-01T01:00:00Z");
    assert_eq!(wire["raw"]["permissions"]["contents"], "read");

    let refused = read_installation_token(401, br#"{"message":"A JSON web token could not be decoded"}"#).unwrap_err();
    assert_eq!(refused.code, ErrorCode::TokenErr);
    assert!(
        refused.message.contains("app id and private key"),
        "{}",
        refused.message
    );
    assert!(
        !refused.message.contains("JSON web token"),
        "GitHub's words are not the end user's"
    );
    assert!(!read_installation_token(404, b"{}").unwrap_err().kind.is_transient());
    assert!(read_installation_token(502, b"").unwrap_err().kind.is_transient());
    assert_eq!(
        read_installation_token(201, b"{}").unwrap_err().code,
        ErrorCode::TokenErr
    );
}

#[test]
fn a_callback_awaiting_approval_is_refused_and_tokens_are_minted_again_when_expiring() {
    let kept = Kept::default();
    let params: HashMap<String, String> = [("installation_id", "7"), ("setup_action", "request")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let callback = Callback {
        params: &params,
        redirect_uri: "http://x/cb",
        kept: &kept,
    };
    assert_eq!(
        callback_installation(&callback).unwrap_err().code,
        ErrorCode::AccessDenied
    );
    let mut params = params;
    params.insert("setup_action".into(), "install".into());
    let callback = Callback {
        params: &params,
        redirect_uri: "http://x/cb",
        kept: &kept,
    };
    assert_eq!(callback_installation(&callback).unwrap(), "7");

    let creds = Credentials::App {
        access_token: AccessToken::new("t"),
        expires_at: None,
        raw: RawResponse::default(),
    };
    assert!(App.refresh_on_read(&creds, true, false));
    assert!(App.refresh_on_read(&creds, false, true));
    assert!(!App.refresh_on_read(&creds, false, false));
    assert!(!App.refresh_on_read(&Credentials::Unauthenticated, true, true));
}
