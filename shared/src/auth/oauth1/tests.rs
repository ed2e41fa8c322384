use std::collections::HashMap;

use serde_json::json;
use time::OffsetDateTime;

use super::*;
use crate::domain::{ClientSecret, ConnectionConfig, IntegrationKey, VouchedKeys};
use crate::store::IntegrationRecord;
use crate::AppState;

async fn integration(state: &AppState, provider: &str, secret: &str) -> IntegrationRecord {
    let now = OffsetDateTime::UNIX_EPOCH;
    let key = IntegrationKey::parse(provider).unwrap();
    let sealed = super::super::seal_client_secret(state, &key, &ClientSecret::new(secret))
        .await
        .unwrap();
    IntegrationRecord {
        key,
        provider: provider.into(),
        display_name: None,
        auth_mode: AuthMode::OAuth1,
        client_id: Some("consumer-key".into()),
        client_secret: Some(sealed),
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

fn credentials() -> Credentials {
    Credentials::OAuth1 {
        oauth_token: Secret::new("at"),
        oauth_token_secret: Secret::new("ats-SECRET"),
        raw: RawResponse::default(),
    }
}

#[test]
fn oauth1_credentials_have_nangos_wire_shape_and_debug_hides_the_secret() {
    let creds: Credentials = serde_json::from_value(json!({
        "type": "OAUTH1", "oauth_token": "at", "oauth_token_secret": "ats-SECRET",
        "raw": {"oauth_token": "at", "oauth_token_secret": "ats-SECRET", "screen_name": "ann"}
    }))
    .unwrap();
    assert_eq!(creds.auth_mode(), AuthMode::OAuth1);
    assert!(!format!("{creds:?}").contains("ats-SECRET"), "{creds:?}");
    assert_eq!(
        serde_json::to_value(credentials()).unwrap(),
        json!({"type": "OAUTH1", "oauth_token": "at", "oauth_token_secret": "ats-SECRET", "raw": {}})
    );
    assert_eq!(creds.access_token(), None, "no bearer token: requests are signed");
}

#[tokio::test]
async fn apply_signs_method_url_query_and_form_body_with_the_consumer_and_token() {
    let state = AppState::for_tests();
    let record = integration(&state, "trello", "cs-SECRET").await;
    let config = ConnectionConfig::default();
    let cx = ModeContext {
        state: &state,
        integration: &record,
        connection_config: &config,
        vouched_config: &VouchedKeys::new(),
    };
    let url = Url::parse("https://api.trello.com/1/members/me?fields=all").unwrap();
    let mut request = ProviderRequest::new(Method::POST, Target::catalog(url.clone()))
        .form(&[("name".to_owned(), "a b".to_owned())])
        .header("authorization", "Bearer from-somewhere");
    OAuth1.apply(&cx, &credentials(), &mut request).await.unwrap();
    let header = request.headers["authorization"].clone();
    assert!(
        header.starts_with("OAuth oauth_consumer_key=\"consumer-key\""),
        "{header}"
    );
    assert!(header.contains("oauth_token=\"at\"") && header.contains("oauth_signature_method=\"HMAC-SHA1\""));
    assert!(!header.contains("SECRET") && !format!("{request:?}").contains("SECRET"));
    // Recompute the signature over what the header says was signed.
    let fields: BTreeMap<String, String> = header
        .trim_start_matches("OAuth ")
        .split(", ")
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap();
            let v = percent_encoding::percent_decode_str(v.trim_matches('"'))
                .decode_utf8()
                .unwrap();
            (k.to_owned(), v.into_owned())
        })
        .collect();
    let mut covered: Vec<(String, String)> = vec![("fields".into(), "all".into()), ("name".into(), "a b".into())];
    covered.extend(
        fields
            .iter()
            .filter(|(k, _)| *k != "oauth_signature")
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    let base = signing::base_string("POST", &url, &covered);
    let signer = Signer {
        method: SignatureMethod::HmacSha1,
        consumer_key: "consumer-key",
        consumer_secret: "cs-SECRET",
        token: Some("at"),
        token_secret: "ats-SECRET",
        realm: None,
    };
    assert_eq!(fields["oauth_signature"], signing::signature(&signer, &base).unwrap());
    assert_eq!(
        fields["oauth_timestamp"],
        state.clock.now().unix_timestamp().to_string()
    );
}

#[tokio::test]
async fn the_catalogs_method_signs_unless_the_client_secret_is_an_rsa_key() {
    let state = AppState::for_tests();
    let config = ConnectionConfig::default();
    let vouched = VouchedKeys::new();
    for (provider, secret, method) in [
        ("trello", "cs", SignatureMethod::HmacSha1),
        ("smugmug", "cs", SignatureMethod::Plaintext),
        (
            "garmin",
            crate::crypto::keys::tests::RSA_PKCS1,
            SignatureMethod::RsaSha1,
        ),
    ] {
        let record = integration(&state, provider, secret).await;
        let cx = ModeContext {
            state: &state,
            integration: &record,
            connection_config: &config,
            vouched_config: &vouched,
        };
        let p = provider_of(&cx).unwrap();
        assert_eq!(
            consumer(&cx, catalog_method(p).unwrap()).await.unwrap().method,
            method,
            "{provider}"
        );
    }
}

#[tokio::test]
async fn a_callback_with_another_oauth_token_or_no_verifier_is_refused_before_any_request() {
    let state = AppState::for_tests();
    let record = integration(&state, "trello", "cs").await;
    let config = ConnectionConfig::default();
    let cx = ModeContext {
        state: &state,
        integration: &record,
        connection_config: &config,
        vouched_config: &VouchedKeys::new(),
    };
    let kept = Kept {
        values: BTreeMap::from([
            (TOKEN.to_owned(), Secret::new("request-token")),
            (TOKEN_SECRET.to_owned(), Secret::new("rts")),
        ]),
        ..Default::default()
    };
    let finish = |params: &[(&str, &str)]| {
        let params: HashMap<String, String> = params.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        let kept = &kept;
        let cx = &cx;
        async move {
            OAuth1
                .finish(
                    cx,
                    &Callback {
                        params: &params,
                        redirect_uri: "https://latchkey.test/oauth/callback",
                        kept,
                    },
                )
                .await
                .unwrap_err()
        }
    };
    let tampered = finish(&[("oauth_token", "another-token"), ("oauth_verifier", "v")]).await;
    assert_eq!(tampered.code, ErrorCode::StateErr);
    assert_eq!(
        finish(&[("oauth_token", "request-token")]).await.code,
        ErrorCode::ProviderErr
    );
    let long = "v".repeat(MAX_VALUE + 1);
    assert_eq!(
        finish(&[("oauth_token", "request-token"), ("oauth_verifier", &long)])
            .await
            .code,
        ErrorCode::ProviderErr
    );
}

#[tokio::test]
async fn an_import_needs_both_token_and_secret() {
    let state = AppState::for_tests();
    let record = integration(&state, "trello", "cs").await;
    let config = ConnectionConfig::default();
    let cx = ModeContext {
        state: &state,
        integration: &record,
        connection_config: &config,
        vouched_config: &VouchedKeys::new(),
    };
    assert!(
        OAuth1.verify(&cx, credentials()).await.is_ok(),
        "trello names no verification request"
    );
    for (token, secret) in [("", "s"), ("t", ""), ("t\n", "s")] {
        let bad = Credentials::OAuth1 {
            oauth_token: Secret::new(token),
            oauth_token_secret: Secret::new(secret),
            raw: RawResponse::default(),
        };
        assert_eq!(
            OAuth1.verify(&cx, bad).await.unwrap_err().code,
            ErrorCode::InvalidCredentials
        );
    }
    let basic = Credentials::Basic {
        username: "u".into(),
        password: Secret::new("p"),
    };
    assert_eq!(
        OAuth1.verify(&cx, basic).await.unwrap_err().code,
        ErrorCode::InvalidBody
    );
}
