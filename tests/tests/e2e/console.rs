//! The console's session and CSRF rules over HTTP (on SQLite, and on DynamoDB with
//! `LATCHKEY_TEST_BACKEND=aws`): sign-in only with the secret key and only from the console's
//! own origin; a cookie the page cannot read; changes only with the session's CSRF token from
//! the console's origin; sessions that end at expiry, sign-out or rotation of their key.

use latchkey_tests::{spawn_app, TestApp};
use reqwest::header::{ACCEPT, CONTENT_TYPE, COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// A signed-in console session: its cookie and CSRF token.
struct Session {
    cookie: String,
    csrf: String,
}

async fn sign_in(app: &TestApp, key: &str, origin: Option<&str>) -> reqwest::Response {
    let mut req = app
        .http
        .post(app.url("/console/sign-in"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(format!("secret_key={}", urlencode(key)));
    if let Some(o) = origin {
        req = req.header(ORIGIN, o);
    }
    req.send().await.unwrap()
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn session(app: &TestApp) -> Session {
    let r = sign_in(app, &app.secret_key(), Some(&app.address)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let set = r.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    let cookie = set.split(';').next().unwrap().to_owned();
    let page = app
        .http
        .get(app.url("/console/integrations"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = page
        .split("data-csrf=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();
    Session { cookie, csrf }
}

/// A console form posted from the console's origin with the session's cookie.
/// A console page as the signed-in session sees it.
async fn page(app: &TestApp, s: &Session, path: &str) -> String {
    let r = app
        .http
        .get(app.url(path))
        .header(COOKIE, &s.cookie)
        .send()
        .await
        .unwrap();
    r.text().await.unwrap()
}

async fn post_form(app: &TestApp, s: &Session, path: &str, body: String) -> reqwest::Response {
    app.http
        .post(app.url(path))
        .header(COOKIE, &s.cookie)
        .header(ORIGIN, &app.address)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
}

/// `POST /console/environment` turning HMAC on, as the settings form sends it.
async fn turn_hmac_on(app: &TestApp, s: &Session, csrf: &str, origin: Option<&str>) -> (StatusCode, Value) {
    let mut req = app
        .http
        .post(app.url("/console/environment"))
        .header(COOKIE, &s.cookie)
        .header(ACCEPT, "application/json")
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(format!("csrf={csrf}&hmac_enabled=on"));
    if let Some(o) = origin {
        req = req.header(ORIGIN, o);
    }
    let r = req.send().await.unwrap();
    (r.status(), r.json().await.unwrap_or(Value::Null))
}

async fn hmac_enabled(app: &TestApp) -> bool {
    let (_, env) = app.backend(Method::GET, "/environment", None).await;
    env["data"]["hmac_enabled"].as_bool().unwrap()
}

#[tokio::test]
async fn only_the_secret_key_from_the_consoles_own_page_signs_in() {
    let app = spawn_app().await;
    let r = app.http.get(app.url("/console/environment")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(r.headers()[LOCATION]
        .to_str()
        .unwrap()
        .starts_with("/console/sign-in?reason=required"));
    let r = app
        .http
        .get(app.url("/console/environment"))
        .header(ACCEPT, "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "console_sign_in_required");

    // Login CSRF: a page of another site posting the form is refused, whatever the key.
    let r = sign_in(&app, &app.secret_key(), Some("https://evil.example")).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.headers().get(SET_COOKIE).is_none());
    let r = sign_in(&app, &app.secret_key(), None).await;
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "no Origin, no Sec-Fetch-Site: refused"
    );
    let r = sign_in(&app, "lk_sk_guess", Some(&app.address)).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers().get(SET_COOKIE).is_none());
    let page = r.text().await.unwrap();
    assert!(!page.contains("lk_sk_guess"), "the typed key is not echoed");

    let r = sign_in(&app, &app.secret_key(), Some(&app.address)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/console/integrations");
    let cookie = r.headers()[SET_COOKIE].to_str().unwrap();
    assert!(cookie.starts_with("latchkey_console=lk_cs_"), "{cookie}");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=7200"] {
        assert!(cookie.contains(flag), "{cookie} lacks {flag}");
    }
    assert!(!cookie.contains("Secure"), "plain http locally");
    assert!(!cookie.contains(&app.secret_key()));
}

#[tokio::test]
async fn a_change_needs_the_sessions_csrf_token_from_the_consoles_origin() {
    let app = spawn_app().await;
    let s = session(&app).await;
    let origin = Some(app.address.as_str());
    let (status, body) = turn_hmac_on(&app, &s, "", origin).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("invalid_csrf_token"))
    );
    let other = session(&app).await;
    let (status, _) = turn_hmac_on(&app, &s, &other.csrf, origin).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "another session's token does not do");
    let (status, body) = turn_hmac_on(&app, &s, &s.csrf, Some("https://evil.example")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("cross_origin_request"))
    );
    let (status, _) = turn_hmac_on(&app, &s, &s.csrf, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!hmac_enabled(&app).await, "nothing changed");
    let (status, _) = turn_hmac_on(&app, &s, &s.csrf, origin).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(hmac_enabled(&app).await);
    // The script's requests carry the token in a header instead.
    let r = app
        .http
        .post(app.url("/console/integrations/none/connect/digest"))
        .header(COOKIE, &s.cookie)
        .header(ORIGIN, &app.address)
        .header("x-csrf-token", &s.csrf)
        .header(ACCEPT, "application/json")
        .json(&json!({"connection_id": "u1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::NOT_FOUND,
        "past the guard: no integration 'none'"
    );
}

#[tokio::test]
async fn every_console_page_carries_a_strict_policy() {
    let app = spawn_app().await;
    let s = session(&app).await;
    for path in [
        "/console/sign-in",
        "/console/integrations",
        "/console/catalog",
        "/console/activity",
        "/console/environment",
    ] {
        // Signed in, the sign-in page leads on: it is read without the session.
        let cookie = if path.ends_with("sign-in") {
            ""
        } else {
            s.cookie.as_str()
        };
        let r = app.http.get(app.url(path)).header(COOKIE, cookie).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let h = r.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        for rule in [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "frame-ancestors 'none'",
            "form-action 'self'",
        ] {
            assert!(csp.contains(rule), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe"), "{path}: {csp}");
        assert_eq!(h["cache-control"], "no-store", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        let html = r.text().await.unwrap();
        assert!(
            !html.contains("<script>") && !html.contains("style=\""),
            "{path}: no inline code"
        );
        assert!(!html.contains(&app.secret_key()), "{path}");
    }
}

#[tokio::test]
async fn a_session_ends_at_expiry_at_sign_out_and_when_its_key_is_rotated_out() {
    let app = spawn_app().await;
    let page = |s: &Session| {
        let req = app
            .http
            .get(app.url("/console/connections"))
            .header(COOKIE, s.cookie.clone());
        async move { req.send().await.unwrap() }
    };
    let s = session(&app).await;
    app.clock.advance(time::Duration::hours(2));
    let r = page(&s).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(r.headers()[LOCATION].to_str().unwrap().contains("reason=expired"));
    assert!(
        r.headers()[SET_COOKIE].to_str().unwrap().contains("Max-Age=0"),
        "the cookie is cleared"
    );
    let (status, body) = turn_hmac_on(&app, &s, &s.csrf, Some(&app.address)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    let s = session(&app).await;
    let r = post_form(&app, &s, "/console/sign-out", format!("csrf={}", s.csrf)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(page(&s).await.status(), StatusCode::SEE_OTHER, "signed out everywhere");

    let s = session(&app).await;
    let (status, _) = app
        .backend(
            Method::PATCH,
            "/environment",
            Some(&json!({"rotate_keys": ["secret_key"], "rotation_grace_seconds": 0})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let r = page(&s).await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "its key no longer works, nor does the session"
    );
}

#[tokio::test]
async fn test_connect_of_a_two_step_integration_asks_for_the_entrys_fields_and_connects_without_script() {
    let (app, peer) = latchkey_tests::spawn_two_step_app().await;
    app.post_integration(&json!({"provider": "sellercloud", "unique_key": "sc"}))
        .await;
    let s = session(&app).await;
    let page = page(&app, &s, "/console/integrations/sc/connect").await;
    for (name, kind) in [("teamName", "text"), ("username", "text"), ("password", "password")] {
        assert!(
            page.contains(&format!(r#"name="credentials[{name}]" type="{kind}""#)),
            "{name} ({kind}) is asked for: {page}"
        );
    }
    assert!(page.contains(r#"data-mode="TWO_STEP""#));
    let form: String = latchkey_tests::two_step::SELLERCLOUD
        .iter()
        .map(|(k, v)| format!("&credentials%5B{k}%5D={}", urlencode(v)))
        .collect();
    let body = format!("csrf={}&connection_id=console-1{form}", s.csrf);
    let r = post_form(&app, &s, "/console/integrations/sc/connect", body).await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("Connected:"), "{html}");
    let (_, conn) = app.read_connection("sc", "console-1", "").await;
    assert_eq!(conn["credentials"]["token"], "sc-1");
    assert_eq!(peer.stats().await["sellercloud"], 1);
}

#[tokio::test]
async fn the_integration_form_takes_a_github_apps_id_link_and_key_and_never_shows_the_key() {
    let app = spawn_app().await;
    let s = session(&app).await;
    let form = page(&app, &s, "/console/catalog/github-app-oauth").await;
    for name in ["app_id", "app_link", "private_key", "client_id", "client_secret"] {
        assert!(
            form.contains(&format!(r#"name="{name}""#)),
            "{name} is asked for: {form}"
        );
    }
    let (key, _) = latchkey_tests::github::openssl_rsa();
    let fields = [
        ("csrf", s.csrf.as_str()),
        ("provider", "github-app-oauth"),
        ("unique_key", "gh"),
        ("app_id", "12345"),
        ("app_link", "https://github.com/apps/latchkey-test"),
        ("private_key", key.as_str()),
        ("client_id", "Iv1.console"),
        ("client_secret", "console-client-SECRET"),
    ];
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={}", urlencode(v))).collect();
    let r = post_form(&app, &s, "/console/integrations", body.join("&")).await;
    assert!(r.status().is_redirection() || r.status().is_success(), "{}", r.status());
    let (status, created) = app.backend(Method::GET, "/integrations/gh", None).await;
    assert_eq!(status, 200, "{created}");
    let creds = &created["data"]["credentials"];
    assert_eq!(creds["app_id"], "12345", "{created}");
    assert_eq!(creds["app_link"], "https://github.com/apps/latchkey-test");
    assert_eq!(creds["private_key"], "********");
    assert_eq!(creds["client_id"], "Iv1.console");

    // The edit page shows the id and link, never the key or the secret; an edit that leaves
    // the key empty keeps it.
    let edit = page(&app, &s, "/console/integrations/gh").await;
    assert!(edit.contains("12345"), "{edit}");
    let secrets = latchkey_tests::github::secrets_of(&key);
    latchkey_tests::github::assert_none_of(&edit, &secrets);
    assert!(!edit.contains("console-client-SECRET"));
    let body = format!("csrf={}&app_id=67890&private_key=&client_secret=", s.csrf);
    let r = post_form(&app, &s, "/console/integrations/gh", body).await;
    assert!(r.status().is_redirection() || r.status().is_success(), "{}", r.status());
    let (_, edited) = app.backend(Method::GET, "/integrations/gh", None).await;
    assert_eq!(edited["data"]["credentials"]["app_id"], "67890", "{edited}");
    assert_eq!(edited["data"]["credentials"]["private_key"], "********");

    // A key that is not one is refused with the form again, and nothing changes.
    let body = format!("csrf={}&private_key=not-a-key", s.csrf);
    let r = post_form(&app, &s, "/console/integrations/gh", body).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let (_, unchanged) = app.backend(Method::GET, "/integrations/gh", None).await;
    assert_eq!(unchanged["data"]["credentials"]["app_id"], "67890");
}

#[tokio::test]
async fn the_integration_form_takes_aws_settings_and_never_shows_the_secret_key() {
    let app = spawn_app().await;
    let s = session(&app).await;
    let form = page(&app, &s, "/console/catalog/aws-sigv4").await;
    for name in [
        "aws_service",
        "aws_defaultRegion",
        "aws_awsAccessKeyId",
        "aws_awsSecretAccessKey",
    ] {
        assert!(
            form.contains(&format!(r#"name="{name}""#)),
            "{name} is asked for: {form}"
        );
    }
    let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYconsoleKEY";
    let fields = [
        ("csrf", s.csrf.as_str()),
        ("provider", "aws-sigv4"),
        ("unique_key", "aws"),
        ("aws_service", "s3"),
        ("aws_defaultRegion", "eu-west-1"),
        ("aws_awsAccessKeyId", "AKIAIOSFODNN7EXAMPLE"),
        ("aws_awsSecretAccessKey", secret),
    ];
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={}", urlencode(v))).collect();
    let r = post_form(&app, &s, "/console/integrations", body.join("&")).await;
    assert!(r.status().is_redirection() || r.status().is_success(), "{}", r.status());
    let (status, created) = app.backend(Method::GET, "/integrations/aws", None).await;
    assert_eq!(status, 200, "{created}");
    let config = &created["data"]["integration_config"];
    assert_eq!(config["service"], "s3", "{created}");
    assert_eq!(config["defaultRegion"], "eu-west-1");
    assert_eq!(config["awsSecretAccessKey"], "********");

    // The edit page never shows the secret key; an edit that leaves it empty keeps it.
    let edit = page(&app, &s, "/console/integrations/aws").await;
    assert!(edit.contains("AKIAIOSFODNN7EXAMPLE"), "{edit}");
    assert!(!edit.contains(secret) && !edit.contains("********"), "{edit}");
    let body = format!("csrf={}&aws_service=execute-api&aws_awsSecretAccessKey=", s.csrf);
    let r = post_form(&app, &s, "/console/integrations/aws", body).await;
    assert!(r.status().is_redirection() || r.status().is_success(), "{}", r.status());
    let (_, edited) = app.backend(Method::GET, "/integrations/aws", None).await;
    assert_eq!(
        edited["data"]["integration_config"]["service"], "execute-api",
        "{edited}"
    );
    assert_eq!(
        edited["data"]["integration_config"]["awsAccessKeyId"],
        "AKIAIOSFODNN7EXAMPLE"
    );
}
