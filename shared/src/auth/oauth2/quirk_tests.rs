//! Provider quirks against small local token endpoints that answer the way real providers do:
//! JSON request bodies, Basic client auth, nested and renamed tokens, `expires_in` as a string or
//! in milliseconds, and metadata in the response.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::Router;
use serde_json::json;
use url::Url;

use super::authorize::*;
use super::endpoints::*;
use super::token::*;
use crate::domain::{ClientSecret, OAuthState};
use crate::outbound::{Outbound, Target};

#[derive(Debug, Clone, Default)]
struct Seen {
    content_type: String,
    authorization: Option<String>,
    custom_header: Option<String>,
    body: String,
    query: Option<String>,
}

/// A token endpoint that records the request and answers with `reply`.
async fn token_peer(reply: serde_json::Value) -> (Url, Arc<Mutex<Seen>>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let record = seen.clone();
    let app = Router::new().route(
        "/token",
        post(move |uri: axum::http::Uri, headers: HeaderMap, body: Bytes| {
            let record = record.clone();
            let reply = reply.clone();
            async move {
                let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(str::to_owned);
                *record.lock().unwrap() = Seen {
                    content_type: h("content-type").unwrap_or_default(),
                    authorization: h("authorization"),
                    custom_header: h("x-api-version"),
                    body: String::from_utf8_lossy(&body).into_owned(),
                    query: uri.query().map(str::to_owned),
                };
                axum::Json(reply)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (Url::parse(&format!("http://{addr}/token")).unwrap(), seen)
}

fn endpoints(token_url: Url) -> OAuth2Endpoints {
    OAuth2Endpoints::new(
        Target::operator(Url::parse("https://id.example.com/auth").unwrap()),
        Target::operator(token_url),
    )
}

fn outbound() -> Outbound {
    let mut config = crate::config::Config::new("test", "http://127.0.0.1:3003".parse().unwrap(), None);
    config.provider_timeout = Duration::from_secs(5);
    Outbound::new(&config)
}

async fn exchange(e: &OAuth2Endpoints) -> Result<TokenResponse, TokenError> {
    request_token(
        &outbound(),
        &TokenRequest {
            endpoints: e,
            client_id: "cid",
            client_secret: Some(&ClientSecret::new("s3cret:/")),
            grant: Grant::AuthorizationCode {
                code: "the-code",
                redirect_uri: "http://127.0.0.1/cb",
                code_verifier: None,
            },
        },
    )
    .await
}

/// A public client (an MCP server's registered client has no secret): its id in the body and
/// no Authorization header, whatever the endpoints' client auth says.
#[tokio::test]
async fn a_public_client_sends_its_id_in_the_body_and_no_secret() {
    for client_auth in [ClientAuth::Body, ClientAuth::Basic] {
        let (url, seen) = token_peer(json!({"access_token": "at"})).await;
        let e = OAuth2Endpoints {
            client_auth,
            ..endpoints(url)
        };
        request_token(
            &outbound(),
            &TokenRequest {
                endpoints: &e,
                client_id: "public-cid",
                client_secret: None,
                grant: Grant::AuthorizationCode {
                    code: "the-code",
                    redirect_uri: "http://127.0.0.1/cb",
                    code_verifier: None,
                },
            },
        )
        .await
        .unwrap();
        let seen = seen.lock().unwrap().clone();
        let form: Vec<(String, String)> = form_urlencoded::parse(seen.body.as_bytes()).into_owned().collect();
        assert!(form.contains(&("client_id".into(), "public-cid".into())), "{form:?}");
        assert!(!form.iter().any(|(k, _)| k == "client_secret"), "{form:?}");
        assert_eq!(seen.authorization, None);
    }
}

#[tokio::test]
async fn json_body_with_basic_client_auth_and_token_headers() {
    let (url, seen) = token_peer(json!({"access_token": "at", "expires_in": "3600"})).await;
    let e = OAuth2Endpoints {
        client_auth: ClientAuth::Basic,
        token_body: TokenBody::Json,
        token_headers: vec![("x-api-version".into(), "2".into())],
        token_params: vec![("audience".into(), "api".into())],
        ..endpoints(url)
    };
    let t = exchange(&e).await.unwrap();
    assert_eq!(t.expires_in, Some(3600), "expires_in as a string");
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.content_type.starts_with("application/json"),
        "{}",
        seen.content_type
    );
    let body: serde_json::Value = serde_json::from_str(&seen.body).unwrap();
    assert_eq!(body["grant_type"], "authorization_code");
    assert_eq!(body["code"], "the-code");
    assert_eq!(body["audience"], "api");
    assert!(
        body.get("client_secret").is_none(),
        "the secret travels only in the Basic header"
    );
    use base64::Engine;
    let expected = base64::engine::general_purpose::STANDARD.encode("cid:s3cret%3A%2F");
    assert_eq!(seen.authorization, Some(format!("Basic {expected}")));
    assert_eq!(seen.custom_header.as_deref(), Some("2"));
}

#[tokio::test]
async fn form_body_with_client_secret_post_by_default() {
    let (url, seen) = token_peer(json!({"access_token": "at"})).await;
    exchange(&endpoints(url)).await.unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.content_type, "application/x-www-form-urlencoded");
    assert!(seen.body.contains("client_secret=s3cret%3A%2F"), "{}", seen.body);
    assert_eq!(seen.authorization, None);
}

#[tokio::test]
async fn query_body_format_sends_parameters_in_the_url() {
    let (url, seen) = token_peer(json!({"access_token": "at"})).await;
    let e = OAuth2Endpoints {
        token_body: TokenBody::Query,
        ..endpoints(url)
    };
    exchange(&e).await.unwrap();
    let seen = seen.lock().unwrap().clone();
    assert!(seen.query.unwrap_or_default().contains("code=the-code"));
    assert!(seen.body.is_empty());
}

#[tokio::test]
async fn nested_token_response_and_metadata() {
    let (url, _) = token_peer(json!({
        "ok": true,
        "team": {"id": "T1"},
        "authed_user": {"id": "U1", "access_token": "xoxp-user", "refresh_token": "r1", "expires_in": 43200},
        "instance_url": "https://acme.my.salesforce.com"
    }))
    .await;
    let e = OAuth2Endpoints {
        token_shape: TokenShape {
            alternate_path: Some("authed_user".into()),
            metadata: vec!["team.id".into(), "instance_url".into(), "absent".into()],
            ..Default::default()
        },
        ..endpoints(url)
    };
    let t = exchange(&e).await.unwrap();
    assert_eq!(t.access_token.expose(), "xoxp-user");
    assert_eq!(t.refresh_token.unwrap().expose(), "r1");
    assert_eq!(t.expires_in, Some(43200));
    assert_eq!(
        serde_json::Value::Object(t.metadata),
        json!({"team.id": "T1", "instance_url": "https://acme.my.salesforce.com"})
    );
}

#[test]
fn renamed_tokens_millisecond_lifetimes_and_default_lifetimes() {
    let body = br#"{"Token":"at","RefreshToken":"rt","data":{"ttl":"7200000"}}"#;
    let shape = TokenShape {
        token_path: Some("Token".into()),
        refresh_token_path: Some("RefreshToken".into()),
        expires_in_path: Some("data.ttl".into()),
        expires_in_ms: true,
        ..Default::default()
    };
    let t = parse_token_response_with(200, body, &shape).unwrap();
    assert_eq!(t.access_token.expose(), "at");
    assert_eq!(t.refresh_token.unwrap().expose(), "rt");
    assert_eq!(
        t.expires_in,
        Some(7200),
        "the provider's lifetime as it said; the catalog's buffer is the read margin"
    );
    let fixed = TokenShape {
        default_expires_in: Some(3600),
        ..Default::default()
    };
    assert_eq!(
        parse_token_response_with(200, br#"{"access_token":"a"}"#, &fixed)
            .unwrap()
            .expires_in,
        Some(3600)
    );
}

#[test]
fn authorization_url_quirks() {
    let e = OAuth2Endpoints {
        scope_separator: ",".into(),
        default_scopes: vec!["offline_access".into()],
        authorization_params: vec![("prompt".into(), "consent".into())],
        authorization_url_replacements: vec![
            ("client_id".into(), "client_key".into()),
            ("response_type=".into(), "".into()),
        ],
        pkce: false,
        ..endpoints(Url::parse("https://t.example/token").unwrap())
    };
    let state = OAuthState::new("st");
    let url = authorization_url(
        &e,
        &AuthorizationRequest {
            client_id: "cid",
            redirect_uri: "http://127.0.0.1/cb",
            scopes: &["read".into(), "offline_access".into()],
            state: &state,
            code_challenge: None,
            extra_params: &[],
            user_scope: Some(&["chat:write".into(), "users:read".into()]),
        },
    )
    .unwrap();
    let q: std::collections::BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q.get("client_key").map(String::as_str), Some("cid"));
    assert!(!q.contains_key("client_id") && !q.contains_key("response_type"));
    assert_eq!(
        q["scope"], "read,offline_access",
        "defaults joined once, with the provider's separator"
    );
    assert_eq!(q["user_scope"], "chat:write,users:read");
    assert_eq!(q["prompt"], "consent");
}
