//! A team's webhook receiver on a loopback port: it keeps every request it gets (headers and
//! the raw body, as a receiver must verify it) and answers from a script — a status (with a
//! `Retry-After`), or the faults a real receiver has: one that never answers, one that sends a
//! body without end. Beside it, the checks a receiver makes, written apart from Latchkey's
//! code: HMAC-SHA256 from its definition (RFC 2104, on `sha2`), the Nango header and
//! Latchkey's timestamped signature with its replay window.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use sha2::{Digest, Sha256};

use crate::local_peer::LocalPeer;
use crate::TestApp;

/// What the receiver does with one request.
#[derive(Debug, Clone)]
pub enum Reply {
    Status(u16),
    /// A status and `Retry-After: <seconds>`.
    RetryAfter(u16, u64),
    /// Reads the request and never answers.
    Hang,
    /// `200` at once, then a body that never ends.
    EndlessBody,
}

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub headers: HeaderMap,
    pub body: String,
}

impl Delivery {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("a webhook body is JSON")
    }
}

pub struct WebhookReceiver {
    /// `http://127.0.0.1:<port>/hook`.
    pub url: String,
    got: Arc<Mutex<Vec<Delivery>>>,
    _server: LocalPeer,
}

impl WebhookReceiver {
    /// Answers `200` to everything.
    pub async fn start() -> WebhookReceiver {
        Self::scripted(&[]).await
    }

    /// Answers the first requests as `script` says, then `200`.
    pub async fn scripted(script: &[Reply]) -> WebhookReceiver {
        let got = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(script.iter().cloned().collect::<VecDeque<_>>()));
        let log = got.clone();
        let app = Router::new().route(
            "/hook",
            post(move |headers: HeaderMap, body: String| {
                let (log, script) = (log.clone(), script.clone());
                async move {
                    log.lock().unwrap().push(Delivery { headers, body });
                    let next = script.lock().unwrap().pop_front().unwrap_or(Reply::Status(200));
                    answer(next).await
                }
            }),
        );
        let server = LocalPeer::start(app).await;
        WebhookReceiver {
            url: format!("{}/hook", server.url),
            got,
            _server: server,
        }
    }

    /// Every request so far, oldest first.
    /// Runs `app`'s jobs, moving its clock past each retry's wait, until this receiver got `n`
    /// requests (SQS on moto honours its delays in real time: polled, not waited for).
    pub async fn until(&self, app: &TestApp, n: usize) -> Vec<Delivery> {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            app.run_jobs().await;
            let got = self.deliveries();
            if got.len() >= n {
                return got;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{} of {n} deliveries arrived",
                got.len()
            );
            app.clock.advance(time::Duration::seconds(3));
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.got.lock().unwrap().clone()
    }
}

async fn answer(reply: Reply) -> Response {
    match reply {
        Reply::Status(s) => (StatusCode::from_u16(s).unwrap(), "ok").into_response(),
        Reply::RetryAfter(s, secs) => (
            StatusCode::from_u16(s).unwrap(),
            [("retry-after", secs.to_string())],
            "later",
        )
            .into_response(),
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(600)).await;
            StatusCode::OK.into_response()
        }
        Reply::EndlessBody => {
            let chunks = futures::stream::unfold((), |()| async {
                tokio::time::sleep(Duration::from_millis(2)).await;
                Some((Ok::<_, std::io::Error>(vec![b'x'; 64 * 1024]), ()))
            });
            (StatusCode::OK, Body::from_stream(chunks)).into_response()
        }
    }
}

/// HMAC-SHA256 as RFC 2104 defines it, on a plain SHA-256: not the `hmac` crate Latchkey signs
/// with.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new().chain_update(pad(0x36)).chain_update(message).finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// What `@nangohq/node`'s `verifyIncomingWebhookRequest` checks: `X-Nango-Hmac-Sha256` is the
/// lowercase hex HMAC of the raw body.
pub fn nango_signature_valid(signing_key: &str, delivery: &Delivery) -> bool {
    delivery.header("x-nango-hmac-sha256") == hex::encode(hmac_sha256(signing_key.as_bytes(), delivery.body.as_bytes()))
}

/// A receiver's check of `Latchkey-Signature` at `now_unix`: the timestamp within 300 s, then
/// `v1=<hex HMAC of "<timestamp>\n<webhook id>\n<body>">`.
pub fn latchkey_signature_valid(signing_key: &str, delivery: &Delivery, now_unix: i64) -> bool {
    let Ok(timestamp) = delivery.header("latchkey-timestamp").parse::<i64>() else {
        return false;
    };
    if (now_unix - timestamp).abs() > 300 {
        return false;
    }
    let message = format!(
        "{timestamp}\n{}\n{}",
        delivery.header("latchkey-webhook-id"),
        delivery.body
    );
    let expected = format!(
        "v1={}",
        hex::encode(hmac_sha256(signing_key.as_bytes(), message.as_bytes()))
    );
    delivery.header("latchkey-signature") == expected
}

/// A stack whose webhooks reach receivers on this machine (the development switch), retried
/// after 1 s, 2 s, 2 s… and bounded at 1 s an attempt.
pub async fn spawn_webhook_app() -> TestApp {
    crate::spawn_app_with(|c| {
        c.allow_private_addresses = true;
        c.webhooks.first_retry = time::Duration::seconds(1);
        c.webhooks.max_retry = time::Duration::seconds(2);
        c.webhooks.timeout = Duration::from_secs(1);
    })
    .await
}

/// The environment's webhook signing key.
pub fn signing_key(app: &TestApp) -> String {
    app.keys().webhook_signing_key.expose().to_owned()
}

/// Both signatures hold, and Latchkey's refuses the same delivery replayed later or changed.
pub fn assert_signed(app: &TestApp, d: &Delivery) {
    let key = &signing_key(app);
    let now = app.now_unix();
    assert!(nango_signature_valid(key, d), "X-Nango-Hmac-Sha256 of {}", d.body);
    assert!(latchkey_signature_valid(key, d, now), "Latchkey-Signature");
    assert!(
        !latchkey_signature_valid(key, d, now + 301),
        "a replay after the window"
    );
    let changed = Delivery {
        body: format!("{} ", d.body),
        ..d.clone()
    };
    assert!(!nango_signature_valid(key, &changed) && !latchkey_signature_valid(key, &changed, now));
    assert_eq!(d.header("content-type"), "application/json");
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_hmac_is_the_published_one() {
        // RFC 4231, test cases 2 and 6 (a key longer than the block).
        assert_eq!(
            hex::encode(super::hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex::encode(super::hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }
}
