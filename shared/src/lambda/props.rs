//! Properties of the API Gateway HTTP API (v2) event translation: an event read by
//! `lambda_http` and passed through `strip_stage` reaches the axum router with the method, the
//! path (stage prefix removed, the client's path kept as `ClientPath`), the raw query, the
//! headers, the cookies (one `Cookie` header) and the body (base64 decoded) the event holds.

use std::sync::LazyLock;

use axum::extract::Request;
use axum::routing;
use axum::Router;
use base64::Engine;
use proptest::prelude::*;
use serde_json::{json, Value};
use tower::ServiceExt;

use super::*;

/// What the router saw of a request.
#[derive(Debug, PartialEq)]
struct Seen {
    method: String,
    path: String,
    query: Option<String>,
    headers: Vec<(String, String)>,
    client_path: Option<String>,
    body: Vec<u8>,
}

async fn see(req: Request) -> axum::Json<Value> {
    let client_path = req.extensions().get::<ClientPath>().map(|c| c.0.clone());
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    axum::Json(json!({
        "method": parts.method.as_str(),
        "path": parts.uri.path(),
        "query": parts.uri.query(),
        "headers": parts.headers.iter().map(|(k, v)| (k.as_str(), v.to_str().unwrap())).collect::<Vec<_>>(),
        "client_path": client_path,
        "body": body.to_vec(),
    }))
}

fn through_the_adapter(event: &Value) -> Seen {
    static RUNTIME: LazyLock<tokio::runtime::Runtime> =
        LazyLock::new(|| tokio::runtime::Builder::new_current_thread().build().unwrap());
    let req = lambda_http::request::from_str(&event.to_string()).expect("an HTTP API event");
    let router = Router::new()
        .route("/{*rest}", routing::any(see))
        .route("/", routing::any(see));
    let res = RUNTIME.block_on(router.oneshot(strip_stage(req))).unwrap();
    let bytes = RUNTIME
        .block_on(axum::body::to_bytes(res.into_body(), usize::MAX))
        .unwrap();
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    Seen {
        method: v["method"].as_str().unwrap().to_owned(),
        path: v["path"].as_str().unwrap().to_owned(),
        query: v["query"].as_str().map(str::to_owned),
        headers: serde_json::from_value(v["headers"].clone()).unwrap(),
        client_path: v["client_path"].as_str().map(str::to_owned),
        body: serde_json::from_value(v["body"].clone()).unwrap(),
    }
}

/// A path as API Gateway passes it: segments of unreserved characters and percent-escapes.
/// Not a dot segment (`%2E`, `.%2E`, …): `lambda_http` reads the path as a URL, and the URL
/// standard resolves those (`/%2E` is `/`), as a browser would before sending it.
fn path() -> impl Strategy<Value = String> {
    proptest::collection::vec("([A-Za-z0-9_~-]|%[0-9A-F]{2}){1,10}", 0..5)
        .prop_filter("a dot segment is resolved, not kept", |segments| {
            segments
                .iter()
                .all(|s| !matches!(s.replace("%2E", ".").as_str(), "." | ".."))
        })
        .prop_map(|segments| format!("/{}", segments.join("/")))
}

fn query() -> impl Strategy<Value = Vec<(String, String)>> {
    proptest::collection::vec(("\\PC{1,10}", "\\PC{0,16}"), 0..5)
}

fn headers() -> impl Strategy<Value = Vec<(String, String)>> {
    proptest::collection::btree_map("x-[a-z0-9-]{1,12}", "[!-~]([ -~]{0,28}[!-~])?", 0..5)
        .prop_map(|m| m.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn an_http_api_event_reaches_the_router_as_it_was_sent(
        method in proptest::sample::select(&["GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS"][..]),
        stage in "\\$default|[a-z]{1,8}",
        path in path(),
        pairs in query(),
        headers in headers(),
        cookies in proptest::collection::vec("[a-z]{1,8}=[A-Za-z0-9%._-]{0,16}", 0..4),
        body in proptest::collection::vec(any::<u8>(), 0..200),
        text in "\\PC{0,100}",
        binary in any::<bool>(),
    ) {
        let raw_query = form_urlencoded::Serializer::new(String::new()).extend_pairs(&pairs).finish();
        let raw_path = if stage == "$default" { path.clone() } else { format!("/{stage}{path}") };
        let mut event_headers = serde_json::Map::from_iter(headers.iter().map(|(k, v)| (k.clone(), json!(v))));
        event_headers.insert("host".into(), json!("abc123.execute-api.eu-west-1.amazonaws.com"));
        let (sent_body, event_body) = if binary {
            (body.clone(), base64::engine::general_purpose::STANDARD.encode(&body))
        } else {
            (text.clone().into_bytes(), text.clone())
        };
        let mut event = json!({
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": raw_path,
            "rawQueryString": raw_query,
            "headers": event_headers,
            "isBase64Encoded": binary,
            "body": event_body,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "abc123",
                "domainName": "abc123.execute-api.eu-west-1.amazonaws.com",
                "http": {"method": method, "path": raw_path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "t"},
                "requestId": "r-1",
                "routeKey": "$default",
                "stage": stage,
                "time": "06/May/2020:22:36:55 +0000",
                "timeEpoch": 1588804615616u64
            }
        });
        if !cookies.is_empty() {
            event["cookies"] = json!(cookies);
        }
        let seen = through_the_adapter(&event);
        prop_assert_eq!(&seen.method, method);
        prop_assert_eq!(&seen.path, &path, "the stage prefix is gone, the rest is kept");
        let query = (!raw_query.is_empty()).then(|| raw_query.clone());
        prop_assert_eq!(&seen.query, &query, "the raw query, still percent-encoded");
        let read_back: Vec<(String, String)> =
            form_urlencoded::parse(seen.query.as_deref().unwrap_or("").as_bytes()).into_owned().collect();
        prop_assert_eq!(read_back, pairs);
        let client_path = match &query {
            Some(q) => format!("{raw_path}?{q}"),
            None => raw_path.clone(),
        };
        if stage == "$default" {
            prop_assert_eq!(seen.client_path, None);
        } else {
            prop_assert_eq!(seen.client_path, Some(client_path), "what a signature covers");
        }
        for (k, v) in &headers {
            prop_assert!(seen.headers.contains(&(k.clone(), v.clone())), "{k}: {v} in {:?}", seen.headers);
        }
        let cookie = seen.headers.iter().find(|(k, _)| k == "cookie").map(|(_, v)| v.clone());
        prop_assert_eq!(cookie, (!cookies.is_empty()).then(|| cookies.join("; ")));
        prop_assert_eq!(seen.body, sent_body);
    }

    #[test]
    fn any_stage_and_path_is_routed_or_left_alone_without_panic(
        stage in "\\PC{0,8}",
        raw_path in "/\\PC{0,30}",
    ) {
        let event = json!({
            "version": "2.0",
            "rawPath": raw_path,
            "rawQueryString": "",
            "headers": {},
            "isBase64Encoded": false,
            "requestContext": {"http": {"method": "GET", "path": raw_path}, "stage": stage}
        });
        // `lambda_http`'s reading refuses or reads; what it reads, `strip_stage` must take.
        if let Ok(req) = lambda_http::request::from_str(&event.to_string()) {
            let _ = strip_stage(req);
        }
    }
}
