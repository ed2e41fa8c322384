//! The guarded client against local listeners: what reaches them and what does not.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::routing::get;
use axum::Router;

use super::*;

/// A loopback listener that counts the connections it accepts and answers `200 ok` to each.
struct Counting {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
}

impl Counting {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let mut buf = [0u8; 4096];
                    let _ = socket.read(&mut buf).await;
                    let _ = socket
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
                        .await;
                });
            }
        });
        Self { addr, accepted }
    }
    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

fn config(allow_private: bool) -> Config {
    let mut config = Config::new("test", "http://127.0.0.1:3003".parse().unwrap(), None);
    config.allow_private_addresses = allow_private;
    config.provider_timeout = Duration::from_secs(5);
    config
}

/// What an operator's `allowed_hosts: [pattern]` allows.
fn allowing(pattern: &str) -> AllowedHosts {
    AllowedHosts {
        patterns: vec![HostPattern::parse(pattern).unwrap()],
        set_by_operator: true,
    }
}

fn any_host() -> AllowedHosts {
    allowing("*")
}

fn end_user(url: &str, allowed: AllowedHosts) -> Request {
    let target = Target::new(
        Url::parse(url).unwrap(),
        HostChoice::EndUser {
            field: "hostname".into(),
            allowed,
        },
    );
    Request::new(Method::POST, target).header("authorization", "Bearer secret-token")
}

#[tokio::test]
async fn an_end_users_host_that_resolves_to_loopback_is_never_connected_to() {
    let attacker = Counting::start().await;
    let names = Arc::new(NameTable::default());
    names.insert("evil.instructure.com", attacker.addr);
    let allowed = allowing("*.instructure.com");
    let guarded = Outbound::with_lookup(&config(false), names.clone());
    let e = guarded
        .send(end_user(
            "https://evil.instructure.com/login/oauth2/token",
            allowed.clone(),
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(e, OutboundError::AddressNotAllowed { why, .. } if why.contains("loopback")),
        "{e:?}"
    );
    assert_eq!(attacker.accepted(), 0, "no connection reached the listener");

    // The same request with the development switch on does reach it: the refusal above was the
    // guard's, not a network failure.
    let open = Outbound::with_lookup(&config(true), names);
    let reply = open
        .send(end_user(
            &format!("http://evil.instructure.com:{}/x", attacker.addr.port()),
            allowed,
        ))
        .await
        .unwrap();
    assert_eq!((reply.status, reply.body.as_slice()), (200, &b"ok"[..]));
    assert_eq!(attacker.accepted(), 1);
}

#[tokio::test]
async fn addresses_in_the_url_are_judged_before_connecting() {
    let attacker = Counting::start().await;
    let port = attacker.addr.port();
    let outbound = Outbound::new(&config(false));
    for host in [
        "127.0.0.1".to_owned(),
        "0x7f000001".to_owned(),
        "2130706433".to_owned(),
        "0177.0.0.1".to_owned(),
        "[::1]".to_owned(),
        "[::ffff:127.0.0.1]".to_owned(),
        "169.254.169.254".to_owned(),
        "10.1.2.3".to_owned(),
        "100.64.0.1".to_owned(),
        "0.0.0.0".to_owned(),
        "localhost".to_owned(),
    ] {
        let e = outbound
            .send(end_user(&format!("https://{host}:{port}/x"), any_host()))
            .await
            .unwrap_err();
        assert!(matches!(e, OutboundError::AddressNotAllowed { .. }), "{host}: {e:?}");
        let error = e.into_error(ErrorCode::ConnectionTestFailed, "x");
        assert_eq!(error.code, ErrorCode::HostNotAllowed);
        assert!(
            !error.message.contains(&host) && !error.message.contains("127"),
            "{}",
            error.message
        );
    }
    let e = outbound
        .send(end_user(&format!("http://127.0.0.1:{port}/x"), any_host()))
        .await
        .unwrap_err();
    assert_eq!(
        e,
        OutboundError::NotHttps {
            field: "hostname".into()
        }
    );
    assert_eq!(attacker.accepted(), 0);
}

#[tokio::test]
async fn a_host_the_integration_does_not_allow_is_refused_before_lookup() {
    let attacker = Counting::start().await;
    let names = Arc::new(NameTable::default());
    names.insert("evil.example", attacker.addr);
    let outbound = Outbound::with_lookup(&config(true), names);
    let canvas = allowing("*.instructure.com");
    let e = outbound
        .send(end_user(
            &format!("http://evil.example:{}/x", attacker.addr.port()),
            canvas,
        ))
        .await
        .unwrap_err();
    assert!(matches!(e, OutboundError::HostNotAllowed { .. }), "{e:?}");
    let error = e.into_error(ErrorCode::TokenErr, "Token exchange failed");
    assert_eq!(error.code, ErrorCode::HostNotAllowed);
    assert!(!error.message.contains("evil"), "{}", error.message);
    assert!(error.detail.unwrap().contains("evil.example"));
    let none = AllowedHosts::default();
    let e = outbound
        .send(end_user(
            &format!("http://evil.example:{}/x", attacker.addr.port()),
            none,
        ))
        .await
        .unwrap_err();
    assert!(matches!(e, OutboundError::HostNotAllowed { .. }));
    assert_eq!(attacker.accepted(), 0, "even with the development switch on");
}

#[tokio::test]
async fn hosts_the_operator_chose_may_be_local_and_redirects_are_not_followed() {
    let elsewhere = Counting::start().await;
    let to = format!("http://{}/stolen", elsewhere.addr);
    let app = Router::new()
        .route(
            "/moved",
            get(move || {
                let to = to.clone();
                async move { (axum::http::StatusCode::FOUND, [(axum::http::header::LOCATION, to)], "") }
            }),
        )
        .route("/big", get(|| async { "x".repeat(100_000) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let outbound = Outbound::new(&config(false));
    let operator = |path: &str| {
        Request::new(
            Method::GET,
            Target::operator(Url::parse(&format!("http://{addr}{path}")).unwrap()),
        )
    };
    let reply = outbound.send(operator("/moved")).await.unwrap();
    assert_eq!(reply.status, 302);
    assert_eq!(elsewhere.accepted(), 0, "the redirect was not followed");
    let e = outbound.send(operator("/big")).await.unwrap_err();
    assert_eq!(e, OutboundError::TooLarge { limit: 64 * 1024 });
    let e = e.into_error(ErrorCode::TokenErr, "Token exchange failed");
    assert_eq!(e.kind, crate::error::ErrorKind::ProviderRefused);
    assert_eq!(e.message, "Token exchange failed: the provider's answer is too large.");
}

#[test]
fn requests_and_replies_print_no_secret() {
    let request = end_user("https://acme.example.com/x?key=k-SECRET", any_host())
        .form(&[("client_secret".into(), "cs-SECRET".into())]);
    let printed = format!("{request:?}");
    assert!(!printed.contains("SECRET"), "{printed}");
    assert!(printed.contains("acme.example.com"));
    let reply = Reply {
        status: 200,
        headers: Default::default(),
        body: b"access_token=at-SECRET".to_vec(),
    };
    assert!(!format!("{reply:?}").contains("SECRET"));
}

/// A name whose answers change between lookups (DNS rebinding): public when someone checks,
/// loopback when the connection is made. The guard is the resolver the connection uses, so every
/// answer it hands the connector is filtered, whatever came before.
struct Rebinding {
    calls: AtomicUsize,
    local: SocketAddr,
}

impl Lookup for Rebinding {
    fn lookup(&self, _host: String) -> futures::future::BoxFuture<'static, std::io::Result<Vec<SocketAddr>>> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        let answer = match n {
            0 => vec!["93.184.216.34:0".parse().unwrap()],
            1 => vec![self.local],
            _ => vec![self.local, "93.184.216.34:0".parse().unwrap()],
        };
        Box::pin(async move { Ok(answer) })
    }
}

#[tokio::test]
async fn every_answer_the_connector_gets_is_filtered_so_rebinding_gains_nothing() {
    use reqwest::dns::Resolve;
    let local: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let resolver = resolve::Resolver {
        lookup: Arc::new(Rebinding {
            calls: AtomicUsize::new(0),
            local,
        }),
        public_only: true,
    };
    let resolve = |name: &str| resolver.resolve(name.parse().unwrap());
    let first: Vec<SocketAddr> = resolve("rebind.example").await.unwrap().collect();
    assert_eq!(first, ["93.184.216.34:0".parse::<SocketAddr>().unwrap()]);
    let second = resolve("rebind.example").await.err().expect("loopback is refused");
    assert!(second.to_string().contains("loopback"), "{second}");
    let mixed: Vec<SocketAddr> = resolve("rebind.example").await.unwrap().collect();
    assert!(
        !mixed.contains(&local),
        "a mixed answer keeps only its public addresses: {mixed:?}"
    );
}

fn relayed(url: &str) -> Request {
    let target = Target::new(
        Url::parse(url).unwrap(),
        HostChoice::Relayed {
            field: "webhook_url_override".into(),
        },
    );
    Request::new(Method::POST, target).json(&serde_json::json!({"type": "auth"}))
}

#[tokio::test]
async fn a_host_the_backend_relays_is_reached_over_https_at_public_addresses_only() {
    let attacker = Counting::start().await;
    let names = Arc::new(NameTable::default());
    names.insert("hooks.customer.example", attacker.addr);
    let port = attacker.addr.port();
    let guarded = Outbound::with_lookup(&config(false), names.clone());
    for url in [
        format!("https://hooks.customer.example:{port}/hook"),
        format!("https://127.0.0.1:{port}/hook"),
        format!("https://[::ffff:169.254.169.254]:{port}/hook"),
    ] {
        let e = guarded.send(relayed(&url)).await.unwrap_err();
        assert!(matches!(e, OutboundError::AddressNotAllowed { .. }), "{url}: {e:?}");
    }
    let e = guarded
        .send(relayed(&format!("http://hooks.customer.example:{port}/hook")))
        .await
        .unwrap_err();
    assert!(matches!(e, OutboundError::NotHttps { .. }), "{e:?}");
    assert_eq!(attacker.accepted(), 0, "no connection reached the listener");
    // What decides it is the kind of host: with the development switch it is reached.
    let open = Outbound::with_lookup(&config(true), names);
    let reply = open
        .send(relayed(&format!("http://hooks.customer.example:{port}/hook")))
        .await
        .unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(attacker.accepted(), 1);
}

/// A listener that answers `200` with headers at once and then a body that never ends, or
/// nothing at all.
async fn endless(headers_too: bool) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                if !headers_too {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    return;
                }
                let head = b"HTTP/1.1 200 OK\r\ncontent-length: 1000000000\r\n\r\n";
                if socket.write_all(head).await.is_err() {
                    return;
                }
                let chunk = vec![b'x'; 64 * 1024];
                while socket.write_all(&chunk).await.is_ok() {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn an_answer_whose_body_is_discarded_is_never_read_and_a_silent_host_times_out() {
    let outbound = Outbound::new(&config(false));
    let operator = |addr: SocketAddr| {
        Request::new(
            Method::POST,
            Target::operator(Url::parse(&format!("http://{addr}/hook")).unwrap()),
        )
    };
    let huge = endless(true).await;
    let e = outbound.send(operator(huge)).await.unwrap_err();
    assert_eq!(e, OutboundError::TooLarge { limit: 64 * 1024 }, "read, it is refused");
    let reply = outbound.send(operator(huge).discard_body()).await.unwrap();
    assert_eq!((reply.status, reply.body.len()), (200, 0), "not read at all");

    let silent = endless(false).await;
    let e = outbound
        .send(operator(silent).timeout(Duration::from_millis(300)))
        .await
        .unwrap_err();
    assert_eq!(e, OutboundError::Timeout, "the request's own bound");
}

#[test]
fn extra_root_certificates_must_be_pem_certificates() {
    const CA: &str = "-----BEGIN CERTIFICATE-----
MIIBjjCCATOgAwIBAgIUNlVvvNVZZeaxJ6spavkTs7kbNkcwCgYIKoZIzj0EAwIw
GzEZMBcGA1UEAwwQTGF0Y2hrZXkgdGVzdCBDQTAgFw0yNjEyMDEyMDU0MTFaGA8y
MTI2MTEwNzIwNTQxMVowGzEZMBcGA1UEAwwQTGF0Y2hrZXkgdGVzdCBDQTBZMBMG
ByqGSM49AgEGCCqGSM49AwEHA0IABG/Zga269XeMRhAGYgK6tVsgGgoQIWwWT5mQ
lASkU8j2H18lMUHRtP7SMmpEIgqwcXMpSKAWdycbt+AkVNRk5FKjUzBRMB0GA1Ud
DgQWBBQPF2nJs1zwlYkolFUVjH0AAu6GBjAfBgNVHSMEGDAWgBQPF2nJs1zwlYko
lFUVjH0AAu6GBjAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0kAMEYCIQD2
ZG9mxjjd/zBuGdy/IoqHf+eLnNOgM01fzNbukdl46wIhAPVYpX/Sc1ScisNif8Bc
IMicZ4Fz4c9fyR21fy0VvI1M
-----END CERTIFICATE-----
";
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let pem = read_extra_roots(&file("ca.pem", CA)).unwrap();
    let mut with_roots = config(false);
    with_roots.extra_root_certificates = Some(pem);
    let _client = Outbound::new(&with_roots);
    for bad in [
        "",
        "not a certificate",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    ] {
        assert!(read_extra_roots(&file("bad.pem", bad)).is_err(), "{bad:?}");
    }
    assert!(read_extra_roots(&dir.path().join("missing.pem")).is_err());
}
