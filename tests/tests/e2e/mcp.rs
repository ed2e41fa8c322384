//! The MCP modes end to end against the certified `oidc-provider` as an MCP server's
//! authorization server (`tests/peers/oidc/mcp.mjs`): over TLS for the names the catalog or the
//! end user uses (the stack trusts the peer's test CA and leads the names to it), with dynamic
//! client registration, resource indicators (RFC 8707), PKCE required, and the MCP server's
//! protected-resource metadata (RFC 9728). The peer reports what it saw (registrations,
//! authorization requests, grants) and introspects the tokens it issued, so the tests check
//! what the server received, not what Latchkey says it sent.
//!
//! Covered: `MCP_OAUTH2` with a dynamic client (sanity-mcp: registered when the integration is
//! created, then connect with PKCE and `resource`, then refresh, then an import), a static one
//! (asana-mcp: the operator's confidential client), a failed registration (a JSON error, no
//! integration); `MCP_OAUTH2_GENERIC` (cloudflare-mcp: discovery, a client registered
//! per connection, connect, refresh from what was kept); and the attacks: an `mcp_server_url`
//! over http, at an address literal or leading to a private address refused before any request
//! reaches it, discovery naming a private token endpoint, an issuer mismatch.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};

use latchkey_tests::{spawn_app_with, Answer, AttackerHost, Browser, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

struct McpPeer {
    addr: SocketAddr,
    ca: String,
    issuer: String,
    hosts: Vec<String>,
    child: Child,
    _stdin: ChildStdin,
}

impl Drop for McpPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl McpPeer {
    /// The peer with `issuer`, the certificate's `hosts` and further settings (`RESOURCE`,
    /// `ROUTES`, `METADATA`, …).
    fn start(issuer: &str, hosts: &[&str], env: &[(&str, &str)]) -> McpPeer {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("peers/oidc");
        assert!(
            dir.join("node_modules/oidc-provider").is_dir(),
            "oidc-provider is not installed: run `npm ci` in {} (tests/steps/20-e2e.sh does)",
            dir.display()
        );
        let mut child = Command::new("node")
            .arg("mcp.mjs")
            .current_dir(&dir)
            .env("ISSUER", issuer)
            .env("HOSTS", hosts.join(","))
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node starts");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let ready: Value = serde_json::from_str(line.trim()).expect("the MCP peer started (node, openssl)");
        McpPeer {
            addr: SocketAddr::from(([127, 0, 0, 1], ready["port"].as_u64().unwrap() as u16)),
            ca: ready["ca"].as_str().unwrap().to_owned(),
            issuer: issuer.to_owned(),
            hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
            child,
            _stdin: stdin,
        }
    }

    fn client(&self) -> reqwest::Client {
        let host = url::Url::parse(&self.issuer).unwrap().host_str().unwrap().to_owned();
        reqwest::Client::builder()
            .resolve(&host, self.addr)
            .add_root_certificate(reqwest::Certificate::from_pem(self.ca.as_bytes()).unwrap())
            .build()
            .unwrap()
    }

    /// What the peer saw (`/__test/seen`).
    async fn seen(&self) -> Value {
        let r = self
            .client()
            .get(format!("{}/__test/seen", self.origin()))
            .send()
            .await
            .unwrap();
        r.json().await.unwrap()
    }

    /// The peer's word on an access token: whether it issued it, for which audience and client.
    async fn introspect(&self, token: &str) -> Value {
        let r = self
            .client()
            .post(format!("{}/__test/introspect", self.origin()))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        r.json().await.unwrap()
    }

    fn origin(&self) -> String {
        let u = url::Url::parse(&self.issuer).unwrap();
        format!("https://{}", u.host_str().unwrap())
    }

    /// A stack that trusts the peer's CA and reaches its names at it; `private` lifts the
    /// private-address rule (the names lead to 127.0.0.1).
    async fn app(&self, private: bool) -> TestApp {
        let ca = self.ca.clone();
        let app = spawn_app_with(|config| {
            config.extra_root_certificates = Some(ca);
            config.allow_private_addresses = private;
        })
        .await;
        for host in &self.hosts {
            app.names.insert(host, self.addr);
        }
        app
    }

    fn browser(&self, app: &TestApp) -> Browser {
        let names: Vec<&str> = self.hosts.iter().map(String::as_str).collect();
        Browser::with_tls_names(&app.callback_url(), &names, self.addr, &self.ca)
    }
}

fn encode(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

const SANITY: &str = "https://mcp.sanity.io";

fn sanity_peer(registration_route: &str) -> McpPeer {
    let routes = json!({"authorization": "/authorize", "token": "/token", "registration": registration_route});
    McpPeer::start(
        SANITY,
        &["mcp.sanity.io"],
        &[
            ("ROUTES", &routes.to_string()),
            ("RESOURCE", SANITY),
            ("RESOURCE_SCOPES", "global"),
        ],
    )
}

#[tokio::test]
async fn a_dynamic_mcp_integration_registers_at_creation_connects_with_pkce_and_resource_and_refreshes() {
    let peer = sanity_peer("/register");
    let app = peer.app(true).await;
    let created = app
        .post_integration(&json!({"provider": "sanity-mcp", "unique_key": "sanity"}))
        .await;
    assert_eq!(created["auth_mode"], "MCP_OAUTH2");
    let seen = peer.seen().await;
    let registration = &seen["registrations"][0];
    assert_eq!(seen["registrations"].as_array().unwrap().len(), 1, "{seen}");
    assert_eq!(created["credentials"]["client_id"], registration["client_id"]);
    assert_eq!(created["credentials"]["client_secret"], Value::Null, "a public client");
    assert_eq!(registration["token_endpoint_auth_method"], "none");
    assert_eq!(registration["redirect_uris"], json!([app.callback_url()]));
    assert_eq!(
        registration["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );

    let page = peer
        .browser(&app)
        .connect(&app.connect_url("sanity", "acct-1", ""), &[], "dana")
        .await;
    assert!(page.is_success(), "{:?}", page.message);
    let seen = peer.seen().await;
    let authorization = &seen["authorizations"][0];
    assert_eq!(authorization["resource"], SANITY, "{seen}");
    assert_eq!(authorization["code_challenge_method"], "S256");
    assert_eq!(authorization["scope"], "global", "the catalog's default scope");
    let code_grant = &seen["grants"][0];
    assert_eq!(code_grant["grant_type"], "authorization_code");
    assert_eq!(code_grant["resource"], SANITY);
    assert_eq!(code_grant["code_verifier"], true);

    let (status, connection) = app.read_connection("sanity", "acct-1", "&refresh_token=true").await;
    assert_eq!(status, 200, "{connection}");
    let credentials = &connection["credentials"];
    assert_eq!(credentials["type"], "OAUTH2");
    let first = credentials["access_token"].as_str().unwrap().to_owned();
    assert!(credentials["refresh_token"].is_string(), "{credentials}");
    let token = peer.introspect(&first).await;
    assert_eq!(token["active"], true);
    assert_eq!(token["aud"], SANITY, "a token for the MCP server's resource");

    let (status, refreshed) = app.read_connection("sanity", "acct-1", "&force_refresh=true").await;
    assert_eq!(status, 200, "{refreshed}");
    let second = refreshed["credentials"]["access_token"].as_str().unwrap();
    assert_ne!(second, first);
    assert_eq!(peer.introspect(second).await["active"], true);
    let seen = peer.seen().await;
    let refresh = seen["grants"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(refresh["grant_type"], "refresh_token");
    assert_eq!(refresh["resource"], SANITY);

    // An import takes the OAUTH2 shape, and the connection keeps the integration's mode.
    let (status, imported) = app
        .backend(
            Method::POST,
            "/connections",
            Some(&json!({"provider_config_key": "sanity", "connection_id": "imported",
                "credentials": {"type": "OAUTH2", "access_token": second}})),
        )
        .await;
    assert_eq!(status, 200, "{imported}");
    let (status, list) = app.backend(Method::GET, "/connections", None).await;
    assert_eq!(status, 200);
    let modes: Vec<&Value> = list["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["auth_mode"])
        .collect();
    assert_eq!(modes, [&json!("MCP_OAUTH2"), &json!("MCP_OAUTH2")], "{list}");
}

/// A static entry (asana-mcp): the operator's confidential client, registered at the server
/// by the test as an operator would, authenticates with its secret; PKCE and the catalog's
/// `resource` are sent as for a dynamic one.
#[tokio::test]
async fn a_static_mcp_integration_uses_the_operators_client_with_pkce_and_resource() {
    const ASANA_RESOURCE: &str = "https://mcp.asana.com/v2";
    let routes = json!({"authorization": "/-/oauth_authorize", "token": "/-/oauth_token", "registration": "/reg"});
    let peer = McpPeer::start(
        "https://app.asana.com",
        &["app.asana.com"],
        &[
            ("ROUTES", &routes.to_string()),
            ("RESOURCE", ASANA_RESOURCE),
            ("RESOURCE_SCOPES", "default"),
        ],
    );
    let app = peer.app(true).await;
    let registered: Value = peer
        .client()
        .post("https://app.asana.com/reg")
        .json(
            &json!({"redirect_uris": [app.callback_url()], "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"], "token_endpoint_auth_method": "client_secret_post"}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (status, body) = app
        .backend(
            Method::POST,
            "/integrations",
            Some(&json!({"provider": "asana-mcp", "unique_key": "asana"})),
        )
        .await;
    assert_eq!(status, 400, "a static entry needs the operator's client: {body}");
    assert_eq!(body["error"]["code"], "missing_client_id");
    app.post_integration(&json!({"provider": "asana-mcp", "unique_key": "asana",
        "credentials": {"client_id": registered["client_id"], "client_secret": registered["client_secret"]}}))
        .await;
    assert_eq!(
        peer.seen().await["registrations"].as_array().unwrap().len(),
        1,
        "Latchkey registered nothing"
    );

    let page = peer
        .browser(&app)
        .connect(&app.connect_url("asana", "acct-2", ""), &[], "finn")
        .await;
    assert!(page.is_success(), "{:?}", page.message);
    let seen = peer.seen().await;
    assert_eq!(seen["authorizations"][0]["resource"], ASANA_RESOURCE, "{seen}");
    assert_eq!(seen["authorizations"][0]["code_challenge_method"], "S256");
    assert_eq!(seen["grants"][0]["resource"], ASANA_RESOURCE);
    let (status, connection) = app.read_connection("asana", "acct-2", "&force_refresh=true").await;
    assert_eq!(status, 200, "{connection}");
    let token = connection["credentials"]["access_token"].as_str().unwrap();
    assert_eq!(peer.introspect(token).await["aud"], ASANA_RESOURCE);
    let seen = peer.seen().await;
    assert_eq!(
        seen["grants"].as_array().unwrap().last().unwrap()["grant_type"],
        "refresh_token"
    );
}

#[tokio::test]
async fn a_failed_registration_is_a_json_error_and_no_integration_is_stored() {
    // The server registers at another path: the catalog's registration URL is not found.
    let peer = sanity_peer("/elsewhere");
    let app = peer.app(true).await;
    let (status, body) = app
        .backend(
            Method::POST,
            "/integrations",
            Some(&json!({"provider": "sanity-mcp", "unique_key": "sanity"})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "client_registration_failed", "{body}");
    assert!(
        peer.seen().await["requests"].as_u64().unwrap() >= 1,
        "the server was asked"
    );
    let (status, _) = app.backend(Method::GET, "/integrations/sanity", None).await;
    assert_eq!(status, 404, "nothing was stored");
}

const AUTH: &str = "https://auth.mcp-peer.test";
const MCP_SERVER: &str = "https://mcp.mcp-peer.test/mcp";

fn generic_peer(metadata: Option<Value>) -> McpPeer {
    let metadata = metadata.map(|m| m.to_string()).unwrap_or_else(|| "{}".into());
    McpPeer::start(
        AUTH,
        &["auth.mcp-peer.test", "mcp.mcp-peer.test"],
        &[
            ("RESOURCE", MCP_SERVER),
            ("RESOURCE_SCOPES", "mcp:tools"),
            ("METADATA", &metadata),
        ],
    )
}

async fn cloudflare(app: &TestApp) {
    app.post_integration(&json!({"provider": "cloudflare-mcp", "unique_key": "cf"}))
        .await;
}

/// `GET /oauth/connect` for `cf` with `server` as the MCP server URL: status and JSON body.
async fn connect_generic(app: &TestApp, id: &str, server: &str) -> (u16, Value) {
    let extra = format!("params%5Bmcp_server_url%5D={}", encode(server));
    let r = app.http.get(app.connect_url("cf", id, &extra)).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_generic_mcp_server_is_discovered_registered_per_connection_connected_and_refreshed() {
    let peer = generic_peer(None);
    let app = peer.app(true).await;
    cloudflare(&app).await;
    let extra = format!("params%5Bmcp_server_url%5D={}", encode(MCP_SERVER));
    let page = peer
        .browser(&app)
        .connect(&app.connect_url("cf", "acct-9", &extra), &[], "erin")
        .await;
    assert!(page.is_success(), "{:?}", page.message);
    let seen = peer.seen().await;
    let registration = &seen["registrations"][0];
    assert_eq!(registration["token_endpoint_auth_method"], "none", "{seen}");
    assert_eq!(registration["redirect_uris"], json!([app.callback_url()]));
    let authorization = &seen["authorizations"][0];
    assert_eq!(authorization["client_id"], registration["client_id"]);
    assert_eq!(
        authorization["resource"], MCP_SERVER,
        "the resource the server published"
    );
    assert_eq!(authorization["code_challenge_method"], "S256");
    assert_eq!(authorization["scope"], "mcp:tools", "the resource's scopes");
    assert_eq!(seen["grants"][0]["resource"], MCP_SERVER);

    let (status, connection) = app.read_connection("cf", "acct-9", "").await;
    assert_eq!(status, 200, "{connection}");
    assert_eq!(connection["credentials"]["type"], "OAUTH2");
    let config = &connection["connection_config"];
    assert_eq!(config["mcp_server_url"], MCP_SERVER);
    assert_eq!(config["oauth_resource_url"], MCP_SERVER);
    let metadata: Value = serde_json::from_str(config["oauth_metadata"].as_str().unwrap()).unwrap();
    assert_eq!(metadata["token_endpoint"], format!("{AUTH}/token"));
    let client: Value = serde_json::from_str(config["oauth_client_info"].as_str().unwrap()).unwrap();
    assert_eq!(client["client_id"], registration["client_id"]);
    let first = connection["credentials"]["access_token"].as_str().unwrap().to_owned();
    assert_eq!(peer.introspect(&first).await["aud"], MCP_SERVER);

    let requests = peer.seen().await["requests"].as_u64().unwrap();
    let (status, refreshed) = app.read_connection("cf", "acct-9", "&force_refresh=true").await;
    assert_eq!(status, 200, "{refreshed}");
    let second = refreshed["credentials"]["access_token"].as_str().unwrap();
    assert_ne!(second, first);
    assert_eq!(peer.introspect(second).await["active"], true);
    let seen = peer.seen().await;
    assert_eq!(
        seen["requests"].as_u64().unwrap(),
        requests + 1,
        "one token request, no rediscovery"
    );
    let refresh = seen["grants"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(refresh["grant_type"], "refresh_token");
    assert_eq!(refresh["resource"], MCP_SERVER);
}

#[tokio::test]
async fn an_mcp_server_url_over_http_at_an_address_or_leading_to_a_private_address_is_refused_before_any_request() {
    let peer = generic_peer(None);
    // The stack's default rules: end users' hosts must be public.
    let app = peer.app(false).await;
    cloudflare(&app).await;
    let attacker = AttackerHost::start(Answer::Json("{}".into())).await;
    let literal = format!("https://{}/mcp", attacker.addr);
    for (server, code) in [
        ("http://mcp.mcp-peer.test/mcp", "invalid_connection_config"),
        (literal.as_str(), "invalid_connection_config"),
        ("https://localhost/mcp", "invalid_connection_config"),
        // A public-looking name that leads to 127.0.0.1: refused on the address connected to.
        (MCP_SERVER, "host_not_allowed"),
    ] {
        let (status, body) = connect_generic(&app, "victim", server).await;
        assert_eq!(status, 400, "{server}: {body}");
        assert_eq!(body["error"]["code"], code, "{server}: {body}");
        assert!(!body.to_string().contains("127.0.0.1"), "{body}");
    }
    attacker.assert_untouched();
    assert_eq!(peer.seen().await["requests"], 0, "no request reached the server");
    app.assert_not_stored("cf", "victim").await;
}

#[tokio::test]
async fn discovery_naming_a_private_token_endpoint_or_another_issuer_is_refused_before_registration() {
    for metadata in [
        json!({"token_endpoint": "https://127.0.0.1:9/token"}),
        json!({"token_endpoint": "https://localhost/token"}),
        json!({"issuer": "https://evil.mcp-peer.test"}),
    ] {
        let peer = generic_peer(Some(metadata.clone()));
        let app = peer.app(true).await;
        cloudflare(&app).await;
        let (status, body) = connect_generic(&app, "victim", MCP_SERVER).await;
        assert_eq!(status, 400, "{metadata}: {body}");
        assert_eq!(body["error"]["code"], "mcp_discovery_failed", "{metadata}: {body}");
        assert!(
            !body.to_string().contains("evil") && !body.to_string().contains("127.0.0.1"),
            "{body}"
        );
        let seen = peer.seen().await;
        assert_eq!(seen["registrations"], json!([]), "no client was registered: {seen}");
        app.assert_not_stored("cf", "victim").await;
    }
}
