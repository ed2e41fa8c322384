//! Input an attacker chooses, sent to the whole stack: parameters smuggled through a provider's
//! renames, and header values at the edges of their types. Each is refused with a JSON error
//! (never a panic, never a redirect with the attacker's value) and changes nothing.

use latchkey_tests::spawn_app;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// printful renames `redirect_uri` to `redirect_url`: `authorization_params[redirect_url]`
/// would put a second redirect target in the provider URL. It is refused, as are the names a
/// rename maps onto a reserved one, before the browser is sent anywhere.
#[tokio::test]
async fn a_redirect_target_smuggled_through_a_providers_rename_is_refused() {
    let app = spawn_app().await;
    app.post_integration(&json!({"provider": "printful", "unique_key": "pf",
        "credentials": {"client_id": "cid", "client_secret": "cs"}}))
        .await;
    for name in ["redirect_url", "redirect_uri", "state", "client_id"] {
        let url = app.connect_url(
            "pf",
            "u1",
            &format!("authorization_params%5B{name}%5D=https%3A%2F%2Fevil.example%2Fcb"),
        );
        let response = app.http.get(&url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{name}");
        assert!(response.headers().get("location").is_none(), "{name}: not redirected");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_query_params", "{name}: {body}");
        assert!(!body.to_string().contains("evil.example"), "the value is not echoed");
    }
    app.failed_activity(Some("u1"), "invalid_query_params").await;

    // The same connect without the smuggled parameter: exactly one redirect target, ours.
    let response = app
        .http
        .get(app.connect_url("pf", "u1", "authorization_params%5Bfoo%5D=bar"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    let targets: Vec<String> = location
        .query_pairs()
        .filter(|(k, _)| k == "redirect_url" || k == "redirect_uri")
        .map(|(_, v)| v.into_owned())
        .collect();
    assert_eq!(targets, [app.callback_url()]);
}

/// `Latchkey-Timestamp` (and the other headers a signed request carries) at the edges of an
/// i64 and beyond: each is a 401 with a JSON error, never a panic (a debug build panics on
/// arithmetic overflow, and this suite runs one) and never a success.
#[tokio::test]
async fn extreme_header_values_are_refused_without_a_panic() {
    let app = spawn_app().await;
    let now = app.now_unix();
    let mut timestamps: Vec<String> = [
        i64::MIN,
        i64::MIN + 1,
        -1,
        0,
        i64::MAX,
        i64::MAX - 1,
        now - 301,
        now + 301,
    ]
    .iter()
    .map(i64::to_string)
    .collect();
    timestamps.extend(
        [
            "-9223372036854775809",
            "9223372036854775808",
            "1e9",
            " ",
            "0x10",
            "+1",
            "99999999999999999999999",
        ]
        .map(String::from),
    );
    for ts in &timestamps {
        let signature = latchkey_tests::wire::request_signature(&app.secret_key(), 0, "GET", "/connections", b"");
        let response = app
            .http
            .get(app.url("/connections"))
            .header("Latchkey-Timestamp", ts)
            .header("Latchkey-Signature", &signature)
            .send()
            .await
            .expect("the server answers (no panic)");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "timestamp {ts:?}");
        let body: Value = response.json().await.unwrap();
        let code = body["error"]["code"].as_str().unwrap();
        assert!(
            ["expired_signature", "malformed_auth_header", "invalid_signature"].contains(&code),
            "{ts:?}: {body}"
        );
    }
    // A signature computed for an extreme timestamp is stale too, not an overflow.
    for ts in [i64::MIN, i64::MAX] {
        let response = app
            .signed_raw(Method::GET, "/connections", Vec::new(), ts)
            .send()
            .await
            .expect("the server answers (no panic)");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{ts}");
        assert_eq!(
            response.json::<Value>().await.unwrap()["error"]["code"],
            "expired_signature"
        );
    }
    for (name, value) in [
        ("Latchkey-Signature", "v1=".to_owned() + &"f".repeat(4096)),
        ("Authorization", "Bearer ".to_owned() + &"x".repeat(4096)),
        ("Authorization", "Basic abc".to_owned()),
    ] {
        let response = app
            .http
            .get(app.url("/connections"))
            .header("Latchkey-Timestamp", now.to_string())
            .header(name, value)
            .send()
            .await
            .expect("the server answers (no panic)");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{name}");
    }
    // Still serving: the next honest request works.
    let response = app
        .signed_request(Method::GET, "/connections", None)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

/// A flood of refused, unauthenticated requests, each carrying an attacker-sized connection id
/// full of control characters: the activity log keeps a bounded number of entries a minute,
/// each bounded and printable, and notes how many it left out.
#[tokio::test]
async fn a_flood_of_refused_requests_writes_a_bounded_number_of_bounded_entries() {
    let app = latchkey_tests::spawn_app_with(|c| c.refusals_recorded_per_minute = 20).await;
    app.post_integration(&json!({"provider": "openai", "unique_key": "oa"}))
        .await;
    let hostile = format!("{}%0A%0D%1B%5B31m%00{}", "x".repeat(3000), "y".repeat(3000));
    for i in 0..60 {
        let url = app.url(&format!(
            "/oauth/connect/oa?connection_id={hostile}{i}&public_key=lk_pk_wrong"
        ));
        let response = app.http.get(url).send().await.unwrap();
        assert!(response.status().is_client_error(), "{}", response.status());
        let callback = app.url(&format!("/oauth/callback?state={}&code=x", "s".repeat(400)));
        assert_eq!(
            app.http.get(callback).send().await.unwrap().status(),
            StatusCode::BAD_REQUEST
        );
    }
    let all = || async {
        let (status, body) = app.backend(Method::GET, "/logs?limit=1000", None).await;
        assert_eq!(status, StatusCode::OK);
        body["data"].as_array().unwrap().clone()
    };
    let entries = all().await;
    assert_eq!(entries.len(), 20, "at most the minute's share of 120 refusals");
    for e in &entries {
        for field in ["connection_id", "message", "integration"] {
            if let Some(text) = e[field].as_str() {
                assert!(text.chars().count() <= 1000, "{field} is bounded");
                assert!(!text.chars().any(char::is_control), "{field} is printable: {text:?}");
            }
        }
        if let Some(id) = e["connection_id"].as_str() {
            assert!(id.chars().count() <= 255, "{}", id.len());
        }
    }

    // The next minute's first refusal notes what was left out.
    app.clock.advance(time::Duration::seconds(61));
    let url = app.url("/oauth/connect/oa?connection_id=u1&public_key=lk_pk_wrong");
    assert_eq!(
        app.http.get(url).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let entries = all().await;
    assert_eq!(entries.len(), 22);
    let note = entries
        .iter()
        .find(|e| e["event"] == "refusals_dropped")
        .expect("a note of the dropped");
    assert!(
        note["message"]
            .as_str()
            .unwrap()
            .starts_with("100 more refused requests"),
        "{note}"
    );
}

/// Error messages name what was validated (a key, an id, a catalog name), never text that
/// failed its check: a hostile integration key, connection id, provider name or filter comes
/// back as a code and a message without it.
#[tokio::test]
async fn errors_do_not_echo_hostile_values() {
    let app = spawn_app().await;
    app.post_integration(&json!({"provider": "zendesk", "unique_key": "zd",
        "credentials": {"client_id": "cid", "client_secret": "cs"}}))
        .await;
    let hostile = "<img src=x onerror=alert(1)>\u{202e}evil";
    let encoded: String = url::form_urlencoded::byte_serialize(hostile.as_bytes()).collect();
    let path_encoded = encoded.replace('+', "%20");
    let check = |what: &str, status: StatusCode, body: &Value, code: &str| {
        assert_eq!(body["error"]["code"], code, "{what}: {body}");
        assert!(status.is_client_error(), "{what}: {status}");
        let text = body.to_string();
        assert!(!text.contains("img") && !text.contains("evil"), "{what} echoed: {text}");
    };
    for (what, url) in [
        ("integration", app.connect_url(&path_encoded, "u1", "")),
        ("connection id", app.connect_url("zd", &encoded, "")),
    ] {
        let r = app.http.get(&url).send().await.unwrap();
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        let code = if what == "integration" {
            "unknown_provider_config"
        } else {
            "invalid_connection_id"
        };
        check(what, status, &body, code);
    }
    let (status, body) = app
        .backend(
            Method::POST,
            "/integrations",
            Some(&json!({"provider": hostile, "unique_key": "x"})),
        )
        .await;
    check("provider", status, &body, "unknown_provider");
    let (status, body) = app
        .backend(Method::GET, &format!("/providers/{path_encoded}"), None)
        .await;
    check("catalog name", status, &body, "not_found");
    let (status, body) = app
        .backend(Method::GET, &format!("/integrations/{path_encoded}"), None)
        .await;
    check("integration key", status, &body, "unknown_provider_config");
    let (status, body) = app
        .backend(Method::GET, &format!("/connections?tags%5B{path_encoded}%5D=1"), None)
        .await;
    check("filter", status, &body, "invalid_query_params");
    let (status, body) = app
        .backend(
            Method::PATCH,
            "/environment",
            Some(&json!({"allowed_origins": [hostile]})),
        )
        .await;
    check("origin", status, &body, "invalid_body");
}
