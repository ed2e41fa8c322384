//! The socket of Nango's frontend client on the local stack (`GET /` upgraded): the greeting
//! with a `ws_client_id`, the outcome of the flow that page started, and the ways someone else
//! could try to use that id — to read another page's outcome, or to send it a forged one.

use futures::{SinkExt, StreamExt};
use latchkey_tests::{spawn_app, spawn_app_with_oidc, Browser, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const APP: &str = "http://app.example.test:5173";
const EVIL: &str = "http://evil.example.test";

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A socket opened by a page of `origin`, as a browser opens it (`Origin` header).
async fn open_socket(app: &TestApp, origin: &str) -> Socket {
    let mut request = app.address.replace("http://", "ws://").into_client_request().unwrap();
    request.headers_mut().insert("Origin", origin.parse().unwrap());
    tokio_tungstenite::connect_async(request)
        .await
        .expect("the socket opens")
        .0
}

/// The next JSON message on the socket (`None` once the server closed it).
async fn next_message(socket: &mut Socket) -> Option<Value> {
    loop {
        match socket.next().await? {
            Ok(Message::Text(text)) => return Some(serde_json::from_str(&text).unwrap()),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

async fn greeted(socket: &mut Socket) -> String {
    let ack = next_message(socket).await.expect("a greeting");
    assert_eq!(ack["message_type"], "connection_ack", "{ack}");
    ack["ws_client_id"].as_str().unwrap().to_owned()
}

async fn stack() -> TestApp {
    spawn_app_with_oidc("idp").await.0
}

#[tokio::test]
async fn a_page_gets_the_outcome_of_the_flow_it_started_on_its_socket_once() {
    let app = stack().await;
    let mut socket = open_socket(&app, APP).await;
    let id = greeted(&mut socket).await;
    // The client never needs to speak; if it does, the socket still waits for its outcome.
    socket
        .send(Message::Text(r#"{"action":"hello"}"#.into()))
        .await
        .unwrap();
    let url = app.connect_url("idp", "user-ws", &format!("ws_client_id={id}"));
    let page = Browser::new(&app.callback_url())
        .connect(&url, &[("Referer", &format!("{APP}/settings"))], "alice")
        .await;
    assert!(page.is_success(), "{:?}", page.message);
    assert_eq!(
        next_message(&mut socket).await,
        Some(
            json!({"message_type": "success", "provider_config_key": "idp", "connection_id": "user-ws", "is_pending": false})
        )
    );
    assert_eq!(
        next_message(&mut socket).await,
        None,
        "one outcome, then the server closes"
    );
    // The id was used: a second flow cannot bind to it.
    let (status, body) = connect_json(
        &app,
        &app.connect_url("idp", "user-ws-2", &format!("ws_client_id={id}")),
        APP,
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_query_params"))
    );
}

/// `GET /oauth/connect` as `fetch` would send it from a page of `origin`: the JSON error.
async fn connect_json(app: &TestApp, url: &str, origin: &str) -> (u16, Value) {
    let r = app.http.get(url).header("Origin", origin).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn someone_elses_client_id_neither_receives_nor_sends_an_outcome() {
    let app = stack().await;
    let mut victim = open_socket(&app, APP).await;
    let id = greeted(&mut victim).await;
    let with_id = |who: &str| app.connect_url("idp", who, &format!("ws_client_id={id}"));

    // Another site starts a flow with the victim's id: refused, nothing stored or sent.
    let (status, body) = connect_json(&app, &with_id("attacker"), EVIL).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("another page"),
        "{body}"
    );
    // A link with the victim's id opened from nowhere (mail, chat: no Referer) is refused too.
    let r = app.http.get(with_id("attacker")).send().await.unwrap();
    assert_eq!(r.status(), 400);
    // A guessed id names no socket.
    let (status, _) = connect_json(
        &app,
        &app.connect_url("idp", "x", &format!("ws_client_id={}", "A".repeat(43))),
        APP,
    )
    .await;
    assert_eq!(status, 400);

    // The victim's own flow: its socket's first message is its own outcome, nothing forged before.
    let page = Browser::new(&app.callback_url())
        .connect(&with_id("victim"), &[("Referer", APP)], "bob")
        .await;
    assert!(page.is_success());
    let first = next_message(&mut victim).await.unwrap();
    assert_eq!(first["connection_id"], "victim", "{first}");
    let (status, _) = app.read_connection("idp", "attacker", "").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_refused_start_reaches_the_socket_and_an_unlisted_origin_is_told_why() {
    let app = stack().await;
    let mut socket = open_socket(&app, APP).await;
    let id = greeted(&mut socket).await;
    let url = format!(
        "{}/oauth/connect/idp?connection_id=u1&public_key=lk_pk_wrong&ws_client_id={id}",
        app.address
    );
    let (status, _) = connect_json(&app, &url, APP).await;
    assert_eq!(status, 401);
    let message = next_message(&mut socket).await.unwrap();
    assert_eq!(message["message_type"], "error");
    assert_eq!(message["error_type"], "invalid_auth_token");

    let (status, _) = app
        .backend(Method::PATCH, "/environment", Some(&json!({"allowed_origins": [APP]})))
        .await;
    assert_eq!(status, 200);
    let mut other = open_socket(&app, EVIL).await;
    let refused = next_message(&mut other).await.unwrap();
    assert_eq!(
        (refused["message_type"].as_str(), refused["error_type"].as_str()),
        (Some("error"), Some("origin_not_allowed"))
    );
    assert_eq!(next_message(&mut other).await, None, "and closed");
}

#[tokio::test]
async fn a_plain_get_of_the_root_redirects_the_connect_ui_iframe_and_everything_else() {
    let app = spawn_app().await;
    let r = app
        .http
        .get(app.url("/?apiURL=https%3A%2F%2Fx&detectClosedAuthWindow=true"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(
        r.headers()["location"],
        "connect?apiURL=https%3A%2F%2Fx&detectClosedAuthWindow=true"
    );
    let r = app.http.get(app.url("/")).send().await.unwrap();
    assert_eq!(
        (r.status().as_u16(), r.headers()["location"].to_str().unwrap()),
        (302, "console")
    );
}
