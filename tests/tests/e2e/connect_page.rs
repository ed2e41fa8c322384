//! The end user's Connect page and its read: what a session token shows (and nothing without
//! one), who may frame the page, and that the team's theme can't inject anything.

use latchkey_tests::spawn_app;
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn a_session_token_reads_its_offer_and_nothing_else_does() {
    let app = spawn_app().await;
    app.post_integration(&json!({"provider": "freshdesk", "unique_key": "helpdesk", "display_name": "Help desk"}))
        .await;
    app.post_integration(&json!({"provider": "openai", "unique_key": "ai"}))
        .await;
    let (_, issued) = app
        .backend(
            Method::POST,
            "/connect/sessions",
            Some(
                &json!({"end_user": {"id": "u1", "email": "secret@example.com"}, "allowed_integrations": ["helpdesk"]}),
            ),
        )
        .await;
    let token = issued["data"]["token"].as_str().unwrap().to_owned();
    assert!(issued["data"]["connect_link"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/connect?session_token={token}")));

    let read = |auth: Option<String>| {
        let mut r = app.http.get(app.url("/connect/session"));
        if let Some(a) = auth {
            r = r.header("Authorization", a);
        }
        async move {
            let r = r.send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = read(Some(format!("Bearer {token}"))).await;
    assert_eq!(status, 200, "{body}");
    let offer = &body["data"];
    assert_eq!(offer["is_reconnecting"], false);
    assert_eq!(
        offer["integrations"].as_array().unwrap().len(),
        1,
        "only what the session allows"
    );
    let helpdesk = &offer["integrations"][0];
    assert_eq!(
        (
            helpdesk["unique_key"].as_str(),
            helpdesk["display_name"].as_str(),
            helpdesk["flow"].as_str()
        ),
        (Some("helpdesk"), Some("Help desk"), Some("form"))
    );
    assert_eq!(helpdesk["path"], "api-auth/basic");
    assert_eq!(helpdesk["fields"][0]["name"], "subdomain");
    assert_eq!(helpdesk["fields"][0]["pattern"], "^[a-z0-9_-]+$");
    assert!(
        !body.to_string().contains("secret@example.com"),
        "no end user data: {body}"
    );

    for (auth, code) in [
        (None, "missing_auth_token"),
        (Some("Bearer lk_cst_guess".to_owned()), "unknown_connect_session_token"),
        (
            Some(format!("Bearer {}", app.secret_key())),
            "unknown_connect_session_token",
        ),
    ] {
        let (status, body) = read(auth).await;
        assert_eq!((status, body["error"]["code"].as_str()), (401, Some(code)));
    }
    app.clock.advance(time::Duration::minutes(31));
    let (status, body) = read(Some(format!("Bearer {token}"))).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("expired_connect_session_token"))
    );
}

#[tokio::test]
async fn only_allowed_origins_may_frame_the_page_and_the_theme_is_inert() {
    let app = spawn_app().await;
    let page = app.http.get(app.url("/connect")).send().await.unwrap();
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.ends_with(&format!("frame-ancestors {}", app.address)), "{csp}");
    assert!(!csp.contains("unsafe-inline") && !csp.contains('*'), "{csp}");

    let theme = json!({"allowed_origins": ["https://app.example.com"],
                       "connect_ui": {"app_name": "Acme</script><script>alert(1)</script>", "primary_color": "#5b4cdb", "theme": "dark"}});
    let (status, body) = app.backend(Method::PATCH, "/environment", Some(&theme)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["connect_ui"]["theme"], "dark");
    for bad in [
        json!({"primary_color": "red;}"}),
        json!({"app_name": ""}),
        json!({"font": "x"}),
    ] {
        let (status, body) = app
            .backend(Method::PATCH, "/environment", Some(&json!({"connect_ui": bad})))
            .await;
        assert_eq!(
            (status.as_u16(), body["error"]["code"].as_str()),
            (400, Some("invalid_body")),
            "{bad}"
        );
    }
    let page = app.http.get(app.url("/connect/")).send().await.unwrap();
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(
        csp.ends_with(&format!("frame-ancestors {} https://app.example.com", app.address)),
        "{csp}"
    );
    let html = page.text().await.unwrap();
    assert!(!html.contains("<script>alert(1)"), "the name is escaped everywhere");
    assert!(html.contains(r#"data-theme="dark""#));
    assert!(html.contains("--primary:#5b4cdb;--on-primary:#ffffff"));

    // CORS of the read: an unlisted origin is refused before the handler.
    let r = app
        .http
        .get(app.url("/connect/session"))
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}
