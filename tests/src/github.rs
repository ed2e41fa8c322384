//! The stand-in for GitHub's side of a GitHub App (`tests/peers/github_app/server.py`: the
//! installation page, the installation token endpoint, and the user authorization token
//! endpoint), over TLS for github.com and api.github.com, and what the GitHub App tests share.

use std::process::Command;

use serde_json::json;

use crate::python_peer::PythonPeer;
use crate::{assert_no_secret, spawn_app_with, ResultPage, TestApp};

pub const APP_ID: &str = "12345";
pub const APP_LINK: &str = "https://github.com/apps/latchkey-test";
pub const INSTALLATION: &str = "38631545";

/// The GitHub stand-in (`tests/peers/github_app/server.py`), with `post` to its control port.
pub struct GitHubPeer(PythonPeer);

impl std::ops::Deref for GitHubPeer {
    type Target = PythonPeer;
    fn deref(&self) -> &PythonPeer {
        &self.0
    }
}

impl GitHubPeer {
    pub fn start() -> GitHubPeer {
        GitHubPeer(PythonPeer::start(
            "python3",
            "github_app",
            "server.py",
            "python3, openssl",
        ))
    }

    /// Tells the stand-in the test clock's time (what `exp`/`iat` are checked against).
    pub async fn set_now(&self, app: &TestApp) {
        self.post("/_now", json!({"now": app.now_unix()})).await;
    }
}

/// An RSA key as GitHub hands it out (PKCS#1 PEM), and its public half, made by openssl.
pub fn openssl_rsa() -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.pem");
    let run = |args: &[&str]| {
        let out = Command::new("openssl").args(args).output().expect("openssl runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let key = run(&["genrsa", "-traditional", "2048"]);
    std::fs::write(&path, &key).unwrap();
    let public = run(&["rsa", "-in", path.to_str().unwrap(), "-pubout"]);
    assert!(key.starts_with("-----BEGIN RSA PRIVATE KEY-----"), "{key}");
    (key, public)
}

/// A browser that reaches github.com at the stand-in (and trusts its CA), keeping cookies.
pub fn browser(peer: &GitHubPeer) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .resolve("github.com", peer.addr)
        .add_root_certificate(reqwest::Certificate::from_pem(peer.ca.as_bytes()).unwrap())
        .build()
        .unwrap()
}

pub fn location(r: &reqwest::Response) -> String {
    assert_eq!(r.status(), 302, "{r:?}");
    r.headers()["location"].to_str().unwrap().to_owned()
}

pub fn secrets_of(key: &str) -> Vec<String> {
    let body: String = key.lines().filter(|l| !l.starts_with("-----")).collect();
    vec![
        key.to_owned(),
        body[..48].to_owned(),
        body[body.len() - 48..].to_owned(),
    ]
}

pub fn assert_none_of(text: &str, secrets: &[String]) {
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    assert_no_secret(text, &secrets);
}

/// A stack that trusts the stand-in and reaches github.com and api.github.com at it; the
/// stand-in knows the app by `public_key` and sends installations back to the stack.
pub async fn setup(public_key: &str) -> (TestApp, GitHubPeer) {
    let peer = GitHubPeer::start();
    let ca = peer.ca.clone();
    let app = spawn_app_with(|config| config.extra_root_certificates = Some(ca)).await;
    for host in ["github.com", "api.github.com"] {
        app.names.insert(host, peer.addr);
    }
    peer.post(
        "/_config",
        json!({"app_id": APP_ID, "public_key": public_key, "setup_url": app.callback_url(),
            "installations": [INSTALLATION]}),
    )
    .await;
    peer.set_now(&app).await;
    (app, peer)
}

/// The popup: connect, the installation page, the Setup URL callback; the result page.
pub async fn install(app: &TestApp, peer: &GitHubPeer, integration: &str, connection_id: &str) -> ResultPage {
    let browser = browser(peer);
    let connect = browser
        .get(app.connect_url(integration, connection_id, ""))
        .send()
        .await
        .unwrap();
    let installation_page = location(&connect);
    assert!(
        installation_page.starts_with(&format!("{APP_LINK}/installations/new?state=")),
        "{installation_page}"
    );
    let installed = browser.get(&installation_page).send().await.unwrap();
    let callback = location(&installed);
    assert!(callback.starts_with(&app.callback_url()), "{callback}");
    assert!(
        callback.contains(&format!("installation_id={INSTALLATION}")),
        "{callback}"
    );
    let page = browser.get(&callback).send().await.unwrap();
    let status = page.status().as_u16();
    ResultPage::parse(status, page.text().await.unwrap())
}
