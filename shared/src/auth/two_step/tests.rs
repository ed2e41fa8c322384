//! Two-step entries against a local peer that records each request and answers by path: what
//! each kind of step sends (JSON, form, XML, GET with a query, signed headers, a JWT
//! assertion), chained steps reading earlier answers, the token read where the catalog says,
//! the fields kept sealed but never shown, and refresh by repeating the steps.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{OriginalUri, Request};
use axum::Router;
use serde_json::{json, Value};

use super::TwoStep;
use crate::auth::{AuthScheme, ModeContext};
use crate::credentials::Credentials;
use crate::domain::ConnectionConfig;
use crate::error::ErrorCode;
use crate::store::IntegrationRecord;
use crate::AppState;

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    query: String,
    headers: HashMap<String, String>,
    body: String,
}

type Answers = Arc<Mutex<HashMap<String, (u16, String)>>>;

/// A peer answering `answers[path]` (status, body; `{base}` replaced by its own URL).
async fn peer(answers: &[(&str, u16, &str)]) -> (String, Arc<Mutex<Vec<Seen>>>, Answers) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let table: Answers = Arc::new(Mutex::new(
        answers
            .iter()
            .map(|(p, s, b)| (p.to_string(), (*s, b.to_string())))
            .collect(),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (record, lookup, me) = (seen.clone(), table.clone(), base.clone());
    let app = Router::new().fallback(move |OriginalUri(uri): OriginalUri, request: Request| {
        let (record, lookup, me) = (record.clone(), lookup.clone(), me.clone());
        async move {
            let method = request.method().to_string();
            let headers = request
                .headers()
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
                .collect();
            let body = axum::body::to_bytes(request.into_body(), 1 << 20).await.unwrap();
            record.lock().unwrap().push(Seen {
                method,
                path: uri.path().to_owned(),
                query: uri.query().unwrap_or_default().to_owned(),
                headers,
                body: String::from_utf8_lossy(&body).into_owned(),
            });
            let (status, body) = lookup
                .lock()
                .unwrap()
                .get(uri.path())
                .cloned()
                .unwrap_or((404, "{}".into()));
            (
                axum::http::StatusCode::from_u16(status).unwrap(),
                [
                    ("content-type", "application/json"),
                    ("set-cookie", "B1SESSION=s1; path=/"),
                ],
                body.replace("{base}", &me),
            )
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, seen, table)
}

async fn stack(provider: &str, token_url: &str) -> (AppState, IntegrationRecord) {
    let state = AppState::new(
        Arc::new(crate::store::sqlite::SqliteStore::in_memory().unwrap()),
        Arc::new(crate::crypto::local::LocalSealer::from_key([4; 32])),
        crate::config::EnvironmentKeys::generate(),
        crate::config::Config::new("test", "http://127.0.0.1:3003".parse().unwrap(), None),
    );
    let integration = crate::integrations::create(
        &state,
        serde_json::from_value(json!({"provider": provider, "unique_key": "it",
            "credentials": {"client_id": "int-id", "client_secret": "int-secret"},
            "custom": {"token_url": token_url}}))
        .unwrap(),
    )
    .await
    .unwrap();
    (state, integration)
}

async fn submit(
    state: &AppState,
    integration: &IntegrationRecord,
    config: &ConnectionConfig,
    fields: &[(&str, &str)],
) -> Result<crate::auth::Obtained, crate::error::Error> {
    crate::auth::submit_fields(&TwoStep, state, integration, config, fields).await
}

fn token_of(c: &Credentials) -> &str {
    c.access_token().unwrap().expose()
}

#[tokio::test]
async fn a_json_login_stores_the_token_and_keeps_the_fields_sealed_only() {
    let (base, seen, _) = peer(&[("/login", 200, r#"{"jwt": "t-1"}"#)]).await;
    let (state, integration) = stack("agencyzoom", &format!("{base}/login")).await;
    let config = ConnectionConfig::default();
    let obtained = submit(
        &state,
        &integration,
        &config,
        &[("username", "ann"), ("password", "pw SECRET")],
    )
    .await
    .unwrap();
    assert_eq!(token_of(&obtained.credentials), "t-1");
    let sent = seen.lock().unwrap()[0].clone();
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/login"));
    assert_eq!(sent.headers["content-type"], "application/json");
    assert_eq!(
        serde_json::from_str::<Value>(&sent.body).unwrap(),
        json!({"username": "ann", "password": "pw SECRET"})
    );
    let wire = crate::api::wire::credentials(&obtained.credentials, "agencyzoom", true);
    assert_eq!(wire, json!({"type": "TWO_STEP", "token": "t-1", "raw": {"jwt": "t-1"}}));
    let sealed = serde_json::to_value(&obtained.credentials).unwrap();
    assert_eq!(sealed["password"], "pw SECRET", "kept to repeat the steps");
    assert!(!format!("{:?}", obtained.credentials).contains("SECRET"));

    let err = submit(&state, &integration, &config, &[("username", "ann")])
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidCredentials, "{}", err.message);
    let err = submit(
        &state,
        &integration,
        &config,
        &[("username", "a"), ("password", "p"), ("host", "x")],
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidCredentials);
    assert!(err.message.contains("'host'"), "{}", err.message);
}

#[tokio::test]
async fn a_get_step_then_a_step_at_the_url_the_first_answer_named() {
    let (base, seen, _) = peer(&[
        ("/server-by-team/", 200, r#"{"restApiEndpoint": "{base}/rest"}"#),
        (
            "/rest/api/token",
            200,
            r#"{"access_token": "sc-1", "expires_in": 3600}"#,
        ),
    ])
    .await;
    let (state, integration) = stack("sellercloud", &format!("{base}/server-by-team/?team=acme")).await;
    let obtained = submit(
        &state,
        &integration,
        &ConnectionConfig::default(),
        &[("teamName", "acme"), ("username", "u"), ("password", "p")],
    )
    .await
    .unwrap();
    assert_eq!(token_of(&obtained.credentials), "sc-1");
    assert!(obtained.credentials.expires_at().is_some());
    assert_eq!(
        obtained.connection_config["restApiEndpoint"],
        format!("{base}/rest"),
        "token_response_metadata reads every step's answer"
    );
    let seen = seen.lock().unwrap().clone();
    assert_eq!((seen[0].method.as_str(), seen[0].query.as_str()), ("GET", "team=acme"));
    assert_eq!(seen[1].path, "/rest/api/token");
    assert_eq!(
        serde_json::from_str::<Value>(&seen[1].body).unwrap(),
        json!({"Username": "u", "Password": "p"})
    );
}

#[tokio::test]
async fn a_provider_refusal_or_an_answer_without_a_token_stores_nothing_and_says_little() {
    let (base, _, answers) = peer(&[("/login", 401, r#"{"error": "bad password SECRET"}"#)]).await;
    let (state, integration) = stack("agencyzoom", &format!("{base}/login")).await;
    let config = ConnectionConfig::default();
    let err = submit(&state, &integration, &config, &[("username", "a"), ("password", "p")])
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::ConnectionTestFailed);
    assert!(!err.kind.is_transient());
    assert!(!format!("{err:?}").contains("SECRET"));
    answers
        .lock()
        .unwrap()
        .insert("/login".into(), (200, r#"{"token": "wrong place"}"#.into()));
    let err = submit(&state, &integration, &config, &[("username", "a"), ("password", "p")])
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::ConnectionTestFailed);
    answers.lock().unwrap().insert("/login".into(), (503, "{}".into()));
    let err = submit(&state, &integration, &config, &[("username", "a"), ("password", "p")])
        .await
        .unwrap_err();
    assert!(
        err.kind.is_transient(),
        "a provider failing on its side is worth retrying"
    );
}

#[tokio::test]
async fn signed_headers_and_xml_bodies_are_sent_as_the_catalog_writes_them() {
    let (base, seen, _) = peer(&[
        ("/auth", 200, r#""bare-token""#),
        (
            "/xml",
            200,
            "<response><operation><result><data><api><sessionid>sess-1</sessionid></api></data></result><authentication><sessiontimeout>2099-01-01T00:00:00Z</sessiontimeout></authentication></operation></response>",
        ),
    ])
    .await;
    let (state, integration) = stack("avanan", &format!("{base}/auth")).await;
    let config: ConnectionConfig = serde_json::from_value(json!({"subdomain": "smart-api-production-1-us"})).unwrap();
    let obtained = submit(
        &state,
        &integration,
        &config,
        &[("appId", "app1"), ("secretKey", "sk1")],
    )
    .await
    .unwrap();
    assert_eq!(
        token_of(&obtained.credentials),
        "bare-token",
        "an empty token path reads the whole body"
    );
    let sent = seen.lock().unwrap()[0].clone();
    assert_eq!(sent.method, "GET");
    let (id, date) = (&sent.headers["x-av-req-id"], &sent.headers["x-av-date"]);
    use base64::Engine;
    use sha2::Digest;
    let expected = hex::encode(sha2::Sha256::digest(
        base64::engine::general_purpose::STANDARD.encode(format!("{id}app1{date}sk1")),
    ));
    assert_eq!(sent.headers["x-av-sig"], expected);

    let (state, integration) = stack("sage-intacct", &format!("{base}/xml")).await;
    let fields = [
        ("companyId", "c"),
        ("senderId", "s"),
        ("senderPassword", "sp"),
        ("userId", "u"),
        ("userPassword", "a<b"),
    ];
    let obtained = submit(&state, &integration, &ConnectionConfig::default(), &fields)
        .await
        .unwrap();
    assert_eq!(token_of(&obtained.credentials), "sess-1");
    assert_eq!(obtained.credentials.expires_at().unwrap().year(), 2099);
    let sent = seen.lock().unwrap()[1].clone();
    assert_eq!(sent.headers["content-type"], "application/xml");
    assert!(sent.body.contains("<password>a&lt;b</password>"), "{}", sent.body);
    assert!(
        sent.body.contains("<function controlid=\"{{$guid}}\">"),
        "{}",
        sent.body
    );
}

#[tokio::test]
async fn a_jwt_assertion_is_signed_with_the_end_users_key() {
    let (base, seen, _) = peer(&[(
        "/oauth_token.do",
        200,
        r#"{"access_token": "sn-1", "expires_in": 1800}"#,
    )])
    .await;
    let (state, integration) = stack("servicenow-jwt", &format!("{base}/oauth_token.do")).await;
    let config: ConnectionConfig = serde_json::from_value(json!({"hostname": "dev1.service-now.com"})).unwrap();
    let key = crate::crypto::keys::tests::RSA_PKCS1;
    let fields = [
        ("clientId", "cid"),
        ("clientSecret", "cs"),
        ("keyId", "kid-1"),
        ("privateKey", key),
        ("userIdentifier", "ann"),
    ];
    let obtained = submit(&state, &integration, &config, &fields).await.unwrap();
    assert_eq!(token_of(&obtained.credentials), "sn-1");
    let form: HashMap<String, String> = form_urlencoded::parse(seen.lock().unwrap()[0].body.as_bytes())
        .into_owned()
        .collect();
    assert_eq!(form["grant_type"], "urn:ietf:params:oauth:grant-type:jwt-bearer");
    let parts: Vec<&str> = form["assertion"].split('.').collect();
    use base64::Engine;
    let decode = |p: &str| -> Value {
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap()
    };
    assert_eq!(decode(parts[0]), json!({"alg": "RS256", "kid": "kid-1", "typ": "JWT"}));
    let claims = decode(parts[1]);
    assert_eq!(
        (claims["iss"].as_str(), claims["sub"].as_str()),
        (Some("cid"), Some("ann"))
    );
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 300);
    assert_eq!(
        uuid::Uuid::parse_str(claims["jti"].as_str().unwrap())
            .unwrap()
            .get_version_num(),
        4
    );
}

#[tokio::test]
async fn the_steps_are_repeated_when_the_token_expires() {
    let (base, seen, answers) = peer(&[("/login", 200, r#"{"jwt": "t-1"}"#)]).await;
    let (state, integration) = stack("agencyzoom", &format!("{base}/login")).await;
    let config = ConnectionConfig::default();
    let obtained = submit(
        &state,
        &integration,
        &config,
        &[("username", "ann"), ("password", "pw")],
    )
    .await
    .unwrap();
    let now = state.clock.now();
    assert!(
        !TwoStep.refresh_on_read(&obtained.credentials, false, false),
        "not expiring"
    );
    assert!(TwoStep.refresh_on_read(&obtained.credentials, false, true), "forced");
    answers
        .lock()
        .unwrap()
        .insert("/login".into(), (200, r#"{"jwt": "t-2"}"#.into()));
    let cx = ModeContext {
        state: &state,
        integration: &integration,
        connection_config: &config,
        vouched_config: &Default::default(),
    };
    let again = TwoStep.refresh(&cx, &obtained.credentials).await.unwrap();
    assert_eq!(token_of(&again.credentials), "t-2");
    assert_eq!(seen.lock().unwrap().len(), 2);
    assert_eq!(
        serde_json::from_str::<Value>(&seen.lock().unwrap()[1].body).unwrap(),
        json!({"username": "ann", "password": "pw"}),
        "the sealed fields sent again"
    );
    let expiring = Credentials::TwoStep {
        token: crate::domain::AccessToken::new("t"),
        refresh_token: None,
        expires_at: Some(now + time::Duration::seconds(30)),
        raw: Default::default(),
        headers: Default::default(),
        fields: Default::default(),
    };
    assert!(TwoStep.refresh_on_read(&expiring, true, false));
    let err = TwoStep.refresh(&cx, &expiring).await.unwrap_err();
    assert_eq!(
        err.code,
        ErrorCode::InvalidCredentials,
        "an import without fields can't be renewed"
    );
}
