//! The four JWT entries sign what their providers check — algorithm, key id, claims and
//! lifetime — verified here with ring's verifiers and the public half of the key; the token is
//! proven at the entry's verification request (a local peer), signed again on refresh at the
//! clock's new time, and a key that does not sign is refused without being repeated.

use std::sync::{Arc, Mutex};

use axum::Router;
use base64::Engine;
use serde_json::{json, Value};

use super::Jwt;
use crate::auth::{AuthScheme, ModeContext};
use crate::clock::ShiftedClock;
use crate::credentials::Credentials;
use crate::domain::ConnectionConfig;
use crate::error::ErrorCode;
use crate::store::IntegrationRecord;
use crate::AppState;

const RSA_KEY: &str = crate::crypto::keys::tests::RSA_PKCS8;

fn b64d(part: &str) -> Vec<u8> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()
}

/// A fresh P-256 key as PKCS#8 PEM, and its public point.
fn p256_key() -> (String, Vec<u8>) {
    use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
    let rng = ring::rand::SystemRandom::new();
    let der = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let public = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der.as_ref(), &rng)
        .unwrap()
        .public_key()
        .as_ref()
        .to_vec();
    let body = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    (
        format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            lines.join("\n")
        ),
        public,
    )
}

/// The header and payload of a JWT, after checking its signature with `verify`.
fn opened(jwt: &str, verify: impl Fn(&[u8], &[u8]) -> bool) -> (Value, Value) {
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3, "{jwt}");
    assert!(
        verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &b64d(parts[2])),
        "the signature verifies"
    );
    (
        serde_json::from_slice(&b64d(parts[0])).unwrap(),
        serde_json::from_slice(&b64d(parts[1])).unwrap(),
    )
}

/// A verification endpoint that answers 200 and keeps the Authorization headers it got.
async fn peer() -> (String, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let record = seen.clone();
    let app = Router::new().fallback(move |request: axum::extract::Request| {
        let record = record.clone();
        async move {
            let auth = request
                .headers()
                .get("authorization")
                .map(|v| v.to_str().unwrap().to_owned());
            record.lock().unwrap().push(auth.unwrap_or_default());
            axum::Json(json!({"ok": true}))
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, seen)
}

async fn stack(provider: &str, proxy_base_url: Option<&str>) -> (AppState, IntegrationRecord, Arc<ShiftedClock>) {
    let clock = Arc::new(ShiftedClock::default());
    let state = AppState::new(
        Arc::new(crate::store::sqlite::SqliteStore::in_memory().unwrap()),
        Arc::new(crate::crypto::local::LocalSealer::from_key([5; 32])),
        crate::config::EnvironmentKeys::generate(),
        crate::config::Config::new("test", "http://127.0.0.1:3003".parse().unwrap(), None),
    )
    .with_clock(clock.clone());
    let mut body = json!({"provider": provider, "unique_key": "it"});
    if let Some(url) = proxy_base_url {
        body["custom"] = json!({"proxy_base_url": url});
    }
    let integration = crate::integrations::create(&state, serde_json::from_value(body).unwrap())
        .await
        .unwrap();
    (state, integration, clock)
}

async fn submit(
    state: &AppState,
    integration: &IntegrationRecord,
    config: &ConnectionConfig,
    fields: &[(&str, &str)],
) -> Result<crate::auth::Obtained, crate::error::Error> {
    crate::auth::submit_fields(&Jwt, state, integration, config, fields).await
}

fn token_of(c: &Credentials) -> String {
    c.access_token().unwrap().expose().to_owned()
}

#[tokio::test]
async fn app_store_connect_tokens_are_es256_with_the_key_id_issuer_audience_and_a_lifetime_under_twenty_minutes() {
    let (state, integration, clock) = stack("apple-app-store", None).await;
    let (key, public) = p256_key();
    let verify = |msg: &[u8], sig: &[u8]| {
        ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, &public)
            .verify(msg, sig)
            .is_ok()
    };
    let fields = [
        ("issuerId", "57246542-96fe-1a63-e053-0824d011072a"),
        ("privateKeyId", "2X9R4HXF34"),
        ("privateKey", key.as_str()),
    ];
    let config = ConnectionConfig::default();
    let obtained = submit(&state, &integration, &config, &fields).await.unwrap();
    let (header, payload) = opened(&token_of(&obtained.credentials), verify);
    assert_eq!(header, json!({"alg": "ES256", "kid": "2X9R4HXF34", "typ": "JWT"}));
    let now = payload["iat"].as_i64().unwrap();
    assert!((now - state.clock.now().unix_timestamp()).abs() <= 1);
    assert_eq!(
        payload,
        json!({"iss": "57246542-96fe-1a63-e053-0824d011072a", "aud": "appstoreconnect-v1", "iat": now, "exp": now + 900}),
        "the optional scope left out, not sent empty"
    );
    assert_eq!(obtained.credentials.expires_at().unwrap().unix_timestamp(), now + 900);
    assert!(
        !format!("{:?}", obtained.credentials).contains("PRIVATE"),
        "the key never shows"
    );

    let scoped: ConnectionConfig = json!({"scope": "GET /v1/apps"}).as_object().unwrap().clone();
    let obtained = submit(&state, &integration, &scoped, &fields).await.unwrap();
    let (_, payload) = opened(&token_of(&obtained.credentials), verify);
    assert_eq!(payload["scope"], json!(["GET /v1/apps"]));

    // A refresh signs again at the clock's new time, from the sealed fields alone.
    clock.advance(time::Duration::minutes(14));
    let cx = ModeContext {
        state: &state,
        integration: &integration,
        connection_config: &config,
        vouched_config: &Default::default(),
    };
    assert!(Jwt.refresh_on_read(&obtained.credentials, true, false));
    let again = Jwt.refresh(&cx, &obtained.credentials).await.unwrap();
    let (_, payload) = opened(&token_of(&again.credentials), verify);
    assert!(payload["iat"].as_i64().unwrap() >= now + 14 * 60, "{payload}");
    assert_ne!(token_of(&again.credentials), token_of(&obtained.credentials));
}

#[tokio::test]
async fn ghost_admin_keys_sign_hs256_with_the_hex_secret_and_are_proven_at_the_admin_api() {
    let (base, seen) = peer().await;
    let (state, integration, _) = stack("ghost-admin", Some(&format!("{base}/ghost/api/admin"))).await;
    let id = "6489a3e1f1c8b2a4d5e6f708";
    let secret = "a".repeat(32) + &"0123456789abcdef".repeat(2);
    let config: ConnectionConfig = json!({"adminDomain": "blog.example.com", "version": "v5.0"})
        .as_object()
        .unwrap()
        .clone();
    let key = format!("{id}:{secret}");
    let obtained = submit(&state, &integration, &config, &[("privateKey", &key)])
        .await
        .unwrap();
    let token = token_of(&obtained.credentials);
    let hmac = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &hex::decode(&secret).unwrap());
    let (header, payload) = opened(&token, |m, s| ring::hmac::verify(&hmac, m, s).is_ok());
    assert_eq!(header, json!({"alg": "HS256", "kid": id}));
    assert_eq!(payload["aud"], "/admin/");
    assert_eq!(
        payload["exp"].as_i64().unwrap() - payload["iat"].as_i64().unwrap(),
        300,
        "Ghost takes five minutes at most"
    );
    assert_eq!(
        seen.lock().unwrap().as_slice(),
        [format!("Ghost {token}")],
        "the catalog's header carries it"
    );
    assert_eq!(obtained.note, crate::auth::ACCEPTED);

    // A key that is not the catalog's id:hexsecret is refused before anything is signed or sent.
    let err = submit(
        &state,
        &integration,
        &config,
        &[("privateKey", "6489a3e1f1c8b2a4d5e6f708:not-hex-SECRET")],
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidCredentials);
    assert!(!err.message.contains("SECRET"), "{}", err.message);
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn heymarket_signs_with_its_utf8_secret_and_snowflake_names_the_keys_fingerprint() {
    let (base, seen) = peer().await;
    let (state, integration, _) = stack("heymarket", Some(&base)).await;
    let (id, key) = ("a0ee0000-0000-4000-8000-00000000abcd", "Aa0Bb1Cc2Dd3");
    let config = ConnectionConfig::default();
    let obtained = submit(
        &state,
        &integration,
        &config,
        &[("apiSecretId", id), ("apiSecretKey", key)],
    )
    .await
    .unwrap();
    let hmac = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, format!("{id}||{key}").as_bytes());
    let (header, payload) = opened(&token_of(&obtained.credentials), |m, s| {
        ring::hmac::verify(&hmac, m, s).is_ok()
    });
    assert_eq!(
        (header["alg"].as_str(), payload["iss"].as_str()),
        (Some("HS256"), Some(id))
    );
    assert!(seen.lock().unwrap()[0].starts_with("Bearer ey"));

    let (base, _) = peer().await;
    let (state, integration, _) = stack("snowflake-jwt", Some(&base)).await;
    let config: ConnectionConfig = json!({"subdomain": "acme-xy123"}).as_object().unwrap().clone();
    let obtained = submit(
        &state,
        &integration,
        &config,
        &[
            ("accountIdentifier", "ACME-XY123"),
            ("userName", "ANN"),
            ("privateKey", RSA_KEY.trim()),
        ],
    )
    .await
    .unwrap();
    let (_, der) = crate::crypto::keys::pem(RSA_KEY).unwrap();
    let public = ring::signature::RsaKeyPair::from_pkcs8(&der)
        .unwrap()
        .public()
        .as_ref()
        .to_vec();
    let (header, payload) = opened(&token_of(&obtained.credentials), |m, s| {
        ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, &public)
            .verify(m, s)
            .is_ok()
    });
    assert_eq!(header["alg"], "RS256");
    assert_eq!(
        payload["iss"], "ACME-XY123.ANN.SHA256:6HDohG3GmiwRXWgsN0loZ7b8ElokXNx5dxO9Hp2RZmc=",
        "openssl's SHA-256 of the public key info"
    );
    assert_eq!(payload["sub"], "ACME-XY123.ANN");
}

#[tokio::test]
async fn a_key_that_cannot_sign_is_refused_and_an_import_needs_the_fields() {
    let (state, integration, _) = stack("apple-app-store", None).await;
    let config = ConnectionConfig::default();
    let err = submit(
        &state,
        &integration,
        &config,
        &[
            ("issuerId", "i"),
            ("privateKeyId", "k"),
            ("privateKey", "hunter2-SECRET"),
        ],
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidCredentials, "{err:?}");
    assert!(!err.message.contains("SECRET"), "{}", err.message);
    let err = submit(
        &state,
        &integration,
        &config,
        &[("issuerId", "i"), ("privateKeyId", "k")],
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidCredentials);
    assert!(err.message.contains("privateKey"), "{}", err.message);

    let cx = ModeContext {
        state: &state,
        integration: &integration,
        connection_config: &config,
        vouched_config: &Default::default(),
    };
    let bare: Credentials = serde_json::from_value(json!({"type": "JWT", "token": "eyJ.imported"})).unwrap();
    assert_eq!(
        Jwt.verify(&cx, bare).await.unwrap_err().code,
        ErrorCode::InvalidCredentials
    );
    let (key, _) = p256_key();
    let imported: Credentials = serde_json::from_value(
        json!({"type": "JWT", "token": "old", "issuerId": "i", "privateKeyId": "k", "privateKey": key}),
    )
    .unwrap();
    let verified = Jwt.verify(&cx, imported).await.unwrap();
    assert!(
        token_of(&verified).starts_with("eyJ"),
        "an imported token is replaced by one signed now"
    );
}
