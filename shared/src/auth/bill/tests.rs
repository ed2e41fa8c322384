//! Bill's login against a local peer that checks what Bill checks (the JSON body's four
//! fields, by Bill's names), the session it answers applied as Bill's API reads it, a new
//! login on refresh with the sealed password, and a refused login that repeats nothing.

use std::sync::{Arc, Mutex};

use axum::Router;
use serde_json::{json, Value};
use time::Duration;

use super::Bill;
use crate::auth::{AuthScheme, ModeContext, ProviderRequest};
use crate::clock::ShiftedClock;
use crate::credentials::Credentials;
use crate::domain::{ConnectionConfig, VouchedKeys};
use crate::error::ErrorCode;
use crate::outbound::{Method, Target};
use crate::store::IntegrationRecord;
use crate::AppState;

const LOGIN: [(&str, &str); 4] = [
    ("username", "ann@example.com"),
    ("password", "bill pw"),
    ("organization_id", "00801ABCDEFGHIJ"),
    ("dev_key", "dev-key-1"),
];

/// Bill's login endpoint: a session (`s-<n>`) for the right body, 400 otherwise.
async fn peer() -> (String, Arc<Mutex<Vec<Value>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let record = seen.clone();
    let app = Router::new().fallback(move |request: axum::extract::Request| {
        let record = record.clone();
        async move {
            let json_sent = request
                .headers()
                .get("content-type")
                .is_some_and(|v| v == "application/json");
            let path = request.uri().path().to_owned();
            let body = axum::body::to_bytes(request.into_body(), 1 << 16).await.unwrap();
            let body: Value = serde_json::from_slice(&body).unwrap_or_default();
            let expected = json!({"username": LOGIN[0].1, "password": LOGIN[1].1,
                "organizationId": LOGIN[2].1, "devKey": LOGIN[3].1});
            let n = {
                let mut seen = record.lock().unwrap();
                seen.push(body.clone());
                seen.len()
            };
            if path != "/connect/v3/login" || !json_sent || body != expected {
                return (
                    axum::http::StatusCode::BAD_REQUEST,
                    axum::Json(json!([{"code": "BDC_1109", "message": "invalid login"}])),
                );
            }
            (
                axum::http::StatusCode::OK,
                axum::Json(json!({"sessionId": format!("s-{n}"), "organizationId": LOGIN[2].1, "userId": "006U1"})),
            )
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, seen)
}

async fn stack(base: &str) -> (AppState, IntegrationRecord, Arc<ShiftedClock>) {
    let clock = Arc::new(ShiftedClock::default());
    let state = AppState::for_tests().with_clock(clock.clone());
    let body = json!({"provider": "bill-sandbox", "unique_key": "bill",
        "custom": {"token_url": format!("{base}/connect/v3/login")}});
    let integration = crate::integrations::create(&state, serde_json::from_value(body).unwrap())
        .await
        .unwrap();
    (state, integration, clock)
}

#[tokio::test]
async fn a_login_opens_a_session_that_requests_carry_and_refresh_logs_in_again() {
    let (base, seen) = peer().await;
    let (state, integration, clock) = stack(&base).await;
    let config = ConnectionConfig::default();
    let session = Duration::minutes(35);
    let before = state.clock.now();
    let obtained = crate::auth::submit_fields(&Bill, &state, &integration, &config, &LOGIN)
        .await
        .unwrap();
    let c = &obtained.credentials;
    assert_eq!(c.access_token().unwrap().expose(), "s-1");
    let expires = c.expires_at().unwrap();
    assert!(
        before + session <= expires && expires <= state.clock.now() + session,
        "Bill's idle limit"
    );
    assert!(!format!("{c:?}").contains("bill pw"));
    let wire = crate::api::wire::credentials(c, "bill-sandbox", false);
    assert_eq!(
        (
            &wire["session_id"],
            &wire["user_id"],
            &wire["organization_id"],
            &wire["dev_key"]
        ),
        (&json!("s-1"), &json!("006U1"), &json!(LOGIN[2].1), &json!(LOGIN[3].1)),
        "{wire}"
    );
    assert!(wire.get("password").is_none(), "the password is never returned: {wire}");

    let cx = ModeContext {
        state: &state,
        integration: &integration,
        connection_config: &config,
        vouched_config: &VouchedKeys::new(),
    };
    let mut request = ProviderRequest::new(
        Method::GET,
        Target::catalog("https://gateway.stage.bill.com/connect/v3/vendors".parse().unwrap()),
    );
    Bill.apply(&cx, c, &mut request).await.unwrap();
    assert_eq!(request.headers.get("sessionid").map(String::as_str), Some("s-1"));
    assert_eq!(request.headers.get("devkey").map(String::as_str), Some(LOGIN[3].1));
    assert!(!request.headers.contains_key("authorization"));

    clock.advance(Duration::minutes(30));
    assert!(Bill.refresh_on_read(c, true, false));
    let before = state.clock.now();
    let again = Bill.refresh(&cx, c).await.unwrap().credentials;
    assert_eq!(again.access_token().unwrap().expose(), "s-2");
    let expires = again.expires_at().unwrap();
    assert!(before + session <= expires && expires <= state.clock.now() + session);
    assert_eq!(
        seen.lock().unwrap().len(),
        2,
        "the sealed login was sent again, as Bill checks it"
    );
}

#[tokio::test]
async fn a_refused_or_incomplete_login_stores_nothing_and_is_not_repeated() {
    let (base, seen) = peer().await;
    let (state, integration, _) = stack(&base).await;
    let config = ConnectionConfig::default();
    let mut wrong = LOGIN;
    wrong[1] = ("password", "wrong pw");
    let err = crate::auth::submit_fields(&Bill, &state, &integration, &config, &wrong)
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::ConnectionTestFailed);
    assert!(!format!("{err:?}").contains("wrong pw"), "{err:?}");
    assert!(
        !err.message.contains("BDC_1109"),
        "Bill's answer is not repeated: {}",
        err.message
    );
    assert_eq!(seen.lock().unwrap().len(), 1);
    let missing = crate::auth::submit_fields(&Bill, &state, &integration, &config, &LOGIN[..3])
        .await
        .unwrap_err();
    assert_eq!(missing.code, ErrorCode::InvalidCredentials);
    let mut extra = LOGIN.to_vec();
    extra.push(("token_url", "https://evil.example/"));
    let err = crate::auth::submit_fields(&Bill, &state, &integration, &config, &extra)
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidCredentials);
    assert_eq!(seen.lock().unwrap().len(), 1, "nothing else reached Bill");
    let imported = Credentials::Bill {
        username: LOGIN[0].1.into(),
        password: crate::domain::Secret::new(LOGIN[1].1),
        organization_id: LOGIN[2].1.into(),
        dev_key: crate::domain::Secret::new(LOGIN[3].1),
        session_id: Default::default(),
        user_id: None,
        expires_at: None,
        raw: Default::default(),
    };
    let cx = ModeContext {
        state: &state,
        integration: &integration,
        connection_config: &config,
        vouched_config: &VouchedKeys::new(),
    };
    let verified = Bill.verify(&cx, imported).await.unwrap();
    assert_eq!(
        verified.access_token().unwrap().expose(),
        "s-2",
        "an import opens its session"
    );
}
