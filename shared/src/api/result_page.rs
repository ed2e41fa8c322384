//! The page that ends every browser flow (the OAuth callback, and connect errors shown in the
//! popup). It tells the opener the outcome by `postMessage` — only to the origin recorded when
//! the flow started, never `*` — and on `BroadcastChannel`, in Latchkey's form
//! (`latchkey:auth:*`, channel `latchkey-auth`) and in Nango's (`nango_oauth_callback_*`,
//! channel `nango-oauth-callback`), and shows a readable result to the person.
//!
//! Like Nango's page, a popup closes itself 500 ms after a success (an error stays readable),
//! or at once when a listener answers `{type: "nango_oauth_callback_ack"}` — from the recorded
//! origin, or on the channel. A `BroadcastChannel` reaches only pages of this API's own origin
//! in the same browser (and storage partition), so no app page ever hears it; its messages hold
//! no credential, and nothing that reads them should treat them as proof of a connection.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::html::{escape as escape_html, script_json};
use super::wire::{NangoCallbackMessage, ResultMessage};

pub enum Outcome<'a> {
    Success {
        integration: &'a str,
        connection_id: &'a str,
    },
    Failure {
        error_type: &'a str,
        description: &'a str,
    },
}

/// What the person who sees a failed flow can do about it, by the flow's code: what happened in
/// their words, and the one thing that helps — start again (they declined, or the attempt
/// expired), check what they entered, wait for the provider, or ask the app's team (the app is
/// misconfigured: retrying cannot help). The code stays in sight (what to tell support) and the
/// developer's message below it, folded; the messages to the app (`postMessage`, socket, polling) are
/// unchanged.
fn advice(error_type: &str) -> (&'static str, &'static str) {
    const ASK_THE_APP: (&str, &str) = (
        "The app could not start this connection.",
        "Close this window and let the app's support team know: trying again will not help until they fix it.",
    );
    match error_type {
        "access_denied" => (
            "Access was not granted.",
            "Close this window. To connect, start again from the app and allow access when the provider asks.",
        ),
        "state_err" => (
            "This connection attempt has expired or was already used.",
            "Close this window and start connecting again from the app, in this same browser.",
        ),
        "invalid_connection_config" | "missing_connection_config" | "invalid_credentials" | "host_not_allowed"
        | "connection_test_failed" => (
            "The details given for this connection were not accepted.",
            "Close this window, check what you entered in the app, and start again.",
        ),
        "provider_err" | "token_err" | "provider_unavailable" | "service_unavailable" | "server_error" => (
            "The connection could not be completed.",
            "Close this window and try again from the app in a few minutes. If it keeps failing, contact the app's support team.",
        ),
        _ => ASK_THE_APP,
    }
}

pub fn render(outcome: &Outcome<'_>, target_origin: Option<&str>, status: StatusCode) -> Response {
    let nonce = crate::crypto::random_token();
    let (title, body) = match outcome {
        Outcome::Success { integration, connection_id } => (
            "Connected",
            format!(
                "<p>Your <strong>{}</strong> account is connected (connection <code>{}</code>).</p><p>You can close this window.</p>",
                escape_html(integration),
                escape_html(connection_id)
            ),
        ),
        Outcome::Failure { error_type, description } => {
            let (what, then) = advice(error_type);
            (
                "Connection failed",
                format!(
                    "<p><strong>{what}</strong></p><p>{then}</p><p class=\"code\">Error: <code>{}</code></p><details><summary>Details for the app's developers</summary><p>{}</p></details>",
                    escape_html(error_type),
                    escape_html(description)
                ),
            )
        }
    };
    let payload = script_json(&serde_json::to_value(ResultMessage::from(outcome)).expect("wire objects serialize"));
    let nango =
        script_json(&serde_json::to_value(NangoCallbackMessage::from(outcome)).expect("wire objects serialize"));
    let target = script_json(&json!(target_origin));
    let succeeded = matches!(outcome, Outcome::Success { .. });
    let html = format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{title} · Latchkey</title>
<style nonce="{nonce}">
body{{font-family:system-ui,-apple-system,Segoe UI,sans-serif;background:#f5f6f8;color:#1d2430;display:flex;min-height:100vh;margin:0;align-items:center;justify-content:center}}
main{{background:#fff;border-radius:12px;box-shadow:0 2px 12px rgba(0,0,0,.08);padding:2rem 2.5rem;max-width:32rem}}
h1{{font-size:1.4rem;margin:0 0 1rem}} .ok{{color:#137333}} .err{{color:#b3261e}} code{{background:#f0f1f4;padding:.1rem .3rem;border-radius:4px}}
.code{{color:#5f6673;font-size:.9rem}}
</style></head>
<body><main><h1 class="{class}">{title}</h1>{body}</main>
<script nonce="{nonce}">
(function () {{
  var message = {payload};
  var nango = {nango};
  var target = {target};
  var succeeded = {succeeded};
  var popup = !!window.opener;
  function close() {{ try {{ window.close(); }} catch (e) {{}} }}
  function acked(data) {{ return data && data.type === "nango_oauth_callback_ack"; }}
  try {{
    if (popup && target) {{
      window.opener.postMessage(message, target);
      window.opener.postMessage(nango, target);
    }}
  }} catch (e) {{}}
  window.addEventListener("message", function (e) {{
    if (target && e.origin === target && e.source === window.opener && acked(e.data)) close();
  }});
  try {{
    if (typeof BroadcastChannel === "function") {{
      new BroadcastChannel("latchkey-auth").postMessage(message);
      var channel = new BroadcastChannel("nango-oauth-callback");
      channel.onmessage = function (e) {{ if (acked(e.data)) close(); }};
      channel.postMessage(nango);
    }}
  }} catch (e) {{}}
  if (succeeded && popup) setTimeout(close, 500);
}})();
</script></body></html>"#,
        class = if succeeded { "ok" } else { "err" },
    );
    let csp = format!("default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    html_page(status, html, &csp, "no-referrer")
}

/// An HTML page of ours: never cached or sniffed, under its content security policy and
/// referrer policy.
pub(super) fn html_page(status: StatusCode, html: String, csp: &str, referrer_policy: &'static str) -> Response {
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static(referrer_policy));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_str(csp).expect("a CSP of ASCII origins and nonces"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(r: Response) -> String {
        String::from_utf8(axum::body::to_bytes(r.into_body(), usize::MAX).await.unwrap().to_vec()).unwrap()
    }

    #[tokio::test]
    async fn hostile_text_cannot_break_out_of_the_page() {
        let evil = "</script><script>alert(1)</script><img src=x onerror=alert(2)>";
        let r = render(
            &Outcome::Failure {
                error_type: "access_denied",
                description: evil,
            },
            Some("https://app.example.com"),
            StatusCode::BAD_REQUEST,
        );
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let csp = r.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_owned();
        let html = body_of(r).await;
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(!html.contains("<img"));
        assert!(html.contains("&lt;/script&gt;"));
        assert!(csp.contains("script-src 'nonce-"));
        assert!(html.contains(r#"var target = "https://app.example.com";"#));
    }

    #[tokio::test]
    async fn a_failure_page_tells_the_person_what_helps_and_keeps_the_code_for_developers() {
        let page = |error_type| async move {
            let r = render(
                &Outcome::Failure {
                    error_type,
                    description: "The connect session token is invalid or expired.",
                },
                Some("https://app.example.com"),
                StatusCode::UNAUTHORIZED,
            );
            body_of(r).await
        };
        // A misconfigured app: retrying cannot help, so the page does not say "try again".
        let html = page("invalid_auth_token").await;
        assert!(html.contains("let the app's support team know"), "{html}");
        assert!(!html.contains("try again"), "{html}");
        assert!(
            html.contains("<code>invalid_auth_token</code>"),
            "the code stays for the developer"
        );
        assert!(
            html.contains(
                r#"var message = {"error_desc":"The connect session token is invalid or expired.","error_type":"invalid_auth_token","type":"latchkey:auth:error"};"#
            ),
            "the app's message is unchanged: {html}"
        );
        assert!(page("access_denied")
            .await
            .contains("start again from the app and allow access"));
        assert!(page("state_err").await.contains("in this same browser"));
        assert!(page("provider_unavailable")
            .await
            .contains("try again from the app in a few minutes"));
        assert!(page("invalid_connection_config")
            .await
            .contains("check what you entered"));
    }

    #[tokio::test]
    async fn without_a_recorded_origin_nothing_is_posted_to_the_opener() {
        let r = render(
            &Outcome::Success {
                integration: "github",
                connection_id: "u1",
            },
            None,
            StatusCode::OK,
        );
        let html = body_of(r).await;
        assert!(html.contains("var target = null;"));
        assert!(!html.contains("\"*\""));
        assert!(html.contains(r#""type":"latchkey:auth:success""#));
        assert!(html.contains(r#"var nango = {"type":"nango_oauth_callback_success"};"#));
        assert!(html.contains("var succeeded = true;"));
    }
}
