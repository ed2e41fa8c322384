//! The real OAuth server peer: the certified `oidc-provider` (npm) run by
//! `tests/peers/oidc/server.mjs`. One node process per test binary, started on first use; it
//! exits when the test process closes its stdin (i.e. when the test binary ends), and is killed
//! when an owned `OidcPeer` is dropped. Each test registers its own client over HTTP (dynamic
//! client registration), so tests never share a client or a redirect URI.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use serde_json::{json, Value};

pub struct OidcPeer {
    /// `http://127.0.0.1:<port>`: the issuer and base of every endpoint.
    pub issuer: String,
    child: Mutex<Child>,
    _stdin: ChildStdin,
}

/// What the provider did for one client (`OidcPeer::stats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProviderStats {
    pub refresh_grants: u64,
    pub revoked_grants: u64,
}

/// The OAuth client one test uses, as the provider registered it, and where to reach it.
#[derive(Debug, Clone)]
pub struct OAuthClient {
    pub client_id: String,
    pub client_secret: String,
    pub authorization_url: String,
    pub token_url: String,
    pub userinfo_url: String,
    /// Space-separated scopes the integration asks for.
    pub scopes: String,
    /// `client_secret_post` or `client_secret_basic`, enforced by the provider.
    pub token_endpoint_auth_method: String,
}

impl OAuthClient {
    /// Latchkey's name for the client's token endpoint authentication.
    pub fn latchkey_auth_method(&self) -> &'static str {
        match self.token_endpoint_auth_method.as_str() {
            "client_secret_basic" => "basic",
            _ => "body",
        }
    }
}

/// Read at run time (Cargo sets it for `cargo test`), so a test binary built from another
/// checkout sharing the target directory still finds this checkout's peer.
fn peer_dir() -> PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest_dir.join("peers/oidc")
}

/// The node process of this test binary, started on first call.
pub fn oidc_peer() -> &'static OidcPeer {
    static PEER: OnceLock<OidcPeer> = OnceLock::new();
    PEER.get_or_init(OidcPeer::start)
}

impl OidcPeer {
    /// Starts a new provider and waits for its ready line.
    pub fn start() -> OidcPeer {
        let dir = peer_dir();
        assert!(
            dir.join("node_modules/oidc-provider").is_dir(),
            "oidc-provider is not installed: run `npm ci` in {} (tests/steps/20-e2e.sh does)",
            dir.display()
        );
        // Its stderr goes to a log file: under LATCHKEY_TEST_OUTPUT when tests/run set it.
        let log_dir = std::env::var_os("LATCHKEY_TEST_OUTPUT")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        let _ = std::fs::create_dir_all(&log_dir);
        let log = log_dir.join(format!("latchkey-oidc-{}.log", std::process::id()));
        let mut child = Command::new("node")
            .arg("server.mjs")
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("the peer log file opens"))
            .spawn()
            .expect("node starts (Node 20+ must be on PATH)");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).expect("the peer's stdout is readable");
        // Keep the pipe open and drained: a closed stdout would kill node on its next write.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let ready: Value = serde_json::from_str(line.trim())
            .unwrap_or_else(|_| panic!("oidc peer did not start; see {}", log.display()));
        let issuer = ready["issuer"]
            .as_str()
            .expect("the ready line names the issuer")
            .to_owned();
        OidcPeer {
            issuer,
            child: Mutex::new(child),
            _stdin: stdin,
        }
    }

    /// Registers a confidential web client (dynamic client registration) that redirects to
    /// `redirect_uri` and authenticates at the token endpoint with `auth_method`.
    pub async fn register_client(&self, redirect_uri: &str, auth_method: &str) -> OAuthClient {
        let response = reqwest::Client::new()
            .post(format!("{}/reg", self.issuer))
            .json(&json!({
                "redirect_uris": [redirect_uri],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": auth_method,
            }))
            .send()
            .await
            .expect("the provider answers registration");
        assert_eq!(response.status(), 201, "client registration");
        let client: Value = response.json().await.unwrap();
        OAuthClient {
            client_id: client["client_id"].as_str().unwrap().to_owned(),
            client_secret: client["client_secret"].as_str().unwrap().to_owned(),
            authorization_url: format!("{}/auth", self.issuer),
            token_url: format!("{}/token", self.issuer),
            userinfo_url: format!("{}/me", self.issuer),
            scopes: "openid email offline_access".into(),
            token_endpoint_auth_method: auth_method.to_owned(),
        }
    }

    /// What the provider did for `client_id`, counted from its own events: refresh-token grants
    /// it answered, and grants it revoked (a rotated refresh token used again revokes its grant).
    pub async fn stats(&self, client_id: &str) -> ProviderStats {
        let response = reqwest::get(format!("{}/__test/stats/{client_id}", self.issuer))
            .await
            .expect("the provider answers its stats");
        let stats: Value = response.json().await.unwrap();
        ProviderStats {
            refresh_grants: stats["refresh_grants"].as_u64().unwrap(),
            revoked_grants: stats["revoked_grants"].as_u64().unwrap(),
        }
    }

    /// Revokes a token at the provider (RFC 7009): its grant ends, so a refresh with it is refused
    /// (`invalid_grant`).
    pub async fn revoke(&self, client: &OAuthClient, token: &str) {
        let request = reqwest::Client::new().post(format!("{}/token/revocation", self.issuer));
        let request = match client.token_endpoint_auth_method.as_str() {
            "client_secret_basic" => request
                .basic_auth(&client.client_id, Some(&client.client_secret))
                .form(&[("token", token)]),
            _ => request.form(&[
                ("token", token),
                ("client_id", &client.client_id),
                ("client_secret", &client.client_secret),
            ]),
        };
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "revocation");
    }

    /// Calls the provider's userinfo endpoint with an access token: status and body.
    pub async fn userinfo(&self, access_token: &str) -> (u16, Value) {
        let response = reqwest::Client::new()
            .get(format!("{}/me", self.issuer))
            .bearer_auth(access_token)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

impl Drop for OidcPeer {
    fn drop(&mut self) {
        if let Ok(child) = self.child.get_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
