//! The WSSE value against a digest computed independently, the value Emarsys' verification
//! request gets (signed for it, checked here as Emarsys checks it), the stored value signed
//! again on refresh at the clock's new time, and a submission the catalog refuses never sent.

use std::sync::{Arc, Mutex};

use axum::Router;
use base64::Engine;
use serde_json::json;
use sha1::{Digest, Sha1};
use time::Duration;

use super::{created_at, wsse, Signature};
use crate::auth::{AuthScheme, ModeContext};
use crate::clock::ShiftedClock;
use crate::credentials::Credentials;
use crate::domain::{ConnectionConfig, VouchedKeys};
use crate::error::ErrorCode;
use crate::store::IntegrationRecord;
use crate::AppState;

const USER: &str = "acme001";
const SECRET: &str = "s3cr3t-key";

/// Python's standard library, independently of this module:
/// `base64.b64encode(hashlib.sha1((nonce + created + secret).encode()).hexdigest().encode())`.
#[test]
fn the_digest_is_base64_of_the_hex_sha1_as_nango_computes_it() {
    let value = wsse(
        USER,
        SECRET,
        "d36e316282959a9ed4c89851497a717f",
        "2019-08-15T12:34:56.789Z",
    );
    assert_eq!(
        value,
        r#"UsernameToken Username="acme001", PasswordDigest="ODIzYTVhOWM4NTQ1ODY4MDE0ZjQ3OTNmYWJlYmRiNTg3MWE0ZDQ2MQ==", Nonce="d36e316282959a9ed4c89851497a717f", Created="2019-08-15T12:34:56.789Z""#
    );
}

#[test]
fn created_is_utc_with_three_digits_of_milliseconds() {
    let at = time::macros::datetime!(2019-08-15 14:34:56.789123 +02:00);
    assert_eq!(created_at(at), "2019-08-15T12:34:56.789Z");
    assert_eq!(
        created_at(time::macros::datetime!(2019-08-15 12:34:56 UTC)),
        "2019-08-15T12:34:56.000Z"
    );
}

/// The parts of a UsernameToken.
fn parts(value: &str) -> std::collections::HashMap<String, String> {
    let body = value.strip_prefix("UsernameToken ").expect("a UsernameToken");
    body.split(", ")
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_owned(), v.trim_matches('"').to_owned())
        })
        .collect()
}

/// Whether `value` is a valid token for the test's user, as Emarsys checks it.
fn valid(value: &str) -> bool {
    let p = parts(value);
    let hex = hex::encode(Sha1::digest(format!("{}{}{SECRET}", p["Nonce"], p["Created"])));
    p["Username"] == USER
        && p["Nonce"].len() == 32
        && p["PasswordDigest"] == base64::engine::general_purpose::STANDARD.encode(hex)
}

/// Emarsys' settings endpoint: the X-WSSE and Authorization headers of each request.
async fn peer() -> (String, Arc<Mutex<Vec<(String, Option<String>)>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let record = seen.clone();
    let app = Router::new().fallback(move |request: axum::extract::Request| {
        let record = record.clone();
        async move {
            let header = |n: &str| request.headers().get(n).map(|v| v.to_str().unwrap().to_owned());
            let wsse = header("x-wsse").unwrap_or_default();
            let ok = request.uri().path() == "/api/v2/settings" && valid(&wsse);
            record.lock().unwrap().push((wsse, header("authorization")));
            let status = if ok { 200 } else { 401 };
            (
                axum::http::StatusCode::from_u16(status).unwrap(),
                axum::Json(json!({"replyCode": 0})),
            )
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, seen)
}

async fn stack(base: &str) -> (AppState, IntegrationRecord, Arc<ShiftedClock>) {
    let clock = Arc::new(ShiftedClock::default());
    let state = AppState::for_tests().with_clock(clock.clone());
    let body = json!({"provider": "emarsys", "unique_key": "em", "custom": {"proxy_base_url": base}});
    let integration = crate::integrations::create(&state, serde_json::from_value(body).unwrap())
        .await
        .unwrap();
    (state, integration, clock)
}

#[tokio::test]
async fn emarsys_verifies_a_value_signed_for_the_request_and_refresh_signs_again() {
    let (base, seen) = peer().await;
    let (state, integration, clock) = stack(&base).await;
    let config = ConnectionConfig::default();
    let fields = [("username", USER), ("password", SECRET)];
    let before = state.clock.now();
    let obtained = crate::auth::submit_fields(&Signature, &state, &integration, &config, &fields)
        .await
        .unwrap();
    let Credentials::Signature { token, expires_at, .. } = &obtained.credentials else {
        panic!("{:?}", obtained.credentials)
    };
    assert!(valid(token.expose()), "the stored value is a valid token");
    let lifetime = Duration::minutes(5);
    let expires = expires_at.expect("an expiry");
    assert!(
        before + lifetime <= expires && expires <= state.clock.now() + lifetime,
        "the catalog's expires_in_ms"
    );
    let sent = seen.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert!(valid(&sent[0].0));
    assert_eq!(
        sent[0].1, None,
        "the catalog's X-WSSE carries the signature, nothing else"
    );
    assert_ne!(&sent[0].0, token.expose(), "the request got a value of its own");
    assert!(!format!("{:?}", obtained.credentials).contains(SECRET));

    let wire = crate::api::wire::credentials(&obtained.credentials, "emarsys", false);
    assert_eq!(wire["username"], USER);
    assert!(wire.get("password").is_none(), "the secret is never returned: {wire}");

    clock.advance(Duration::minutes(4));
    let cx = ModeContext {
        state: &state,
        integration: &integration,
        connection_config: &config,
        vouched_config: &VouchedKeys::new(),
    };
    assert!(Signature.refresh_on_read(&obtained.credentials, true, false));
    let before = state.clock.now();
    let again = Signature.refresh(&cx, &obtained.credentials).await.unwrap().credentials;
    let (old, new) = (parts(token.expose()), parts(again.access_token().unwrap().expose()));
    assert_ne!(old["Nonce"], new["Nonce"]);
    assert!(valid(again.access_token().unwrap().expose()));
    let created = time::OffsetDateTime::parse(&new["Created"], &time::format_description::well_known::Rfc3339).unwrap();
    assert!(
        before - Duration::milliseconds(1) <= created && created <= state.clock.now(),
        "signed at the clock's new time"
    );
    let expires = again.expires_at().unwrap();
    assert!(before + lifetime <= expires && expires <= state.clock.now() + lifetime);
    assert_eq!(seen.lock().unwrap().len(), 1, "signing again asks nobody");
}

#[tokio::test]
async fn a_wrong_secret_or_a_value_the_catalog_refuses_stores_nothing_and_is_not_repeated() {
    let (base, seen) = peer().await;
    let (state, integration, _) = stack(&base).await;
    let config = ConnectionConfig::default();
    let submit = |fields: Vec<(&'static str, &'static str)>| {
        let (state, integration, config) = (&state, &integration, &config);
        async move { crate::auth::submit_fields(&Signature, state, integration, config, &fields).await }
    };
    let wrong = submit(vec![("username", USER), ("password", "wrong-secret")])
        .await
        .unwrap_err();
    assert_eq!(wrong.code, ErrorCode::ConnectionTestFailed);
    assert!(!wrong.message.contains("wrong-secret"), "{}", wrong.message);
    assert_eq!(seen.lock().unwrap().len(), 1);
    for fields in [
        vec![("username", "ann smith"), ("password", SECRET)],
        vec![("username", USER), ("password", "has space")],
        vec![("username", USER)],
        vec![
            ("username", USER),
            ("password", SECRET),
            ("token_url", "https://evil.example"),
        ],
    ] {
        let err = submit(fields.clone()).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidCredentials, "{fields:?}");
        assert!(!err.message.contains("has space"), "{}", err.message);
    }
    assert_eq!(seen.lock().unwrap().len(), 1, "none of those reached the provider");
}
