//! `spawn_app()`: the whole local API (`latchkey::api::local`) served in-process on
//! 127.0.0.1:0 with a fresh data directory, a clock the test can move, and a name table the
//! test can fill (`app.names`), so a public-looking name can lead to a local listener.

use std::sync::Arc;
use std::time::Duration;

use latchkey::clock::{Clock, ShiftedClock};
use latchkey::config::{Config, EnvironmentKeys};
use latchkey::outbound::{NameTable, Outbound};
use latchkey::AppState;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};

use crate::oidc::OAuthClient;
use crate::wire;

pub struct TestApp {
    /// `http://127.0.0.1:<port>`, no trailing slash.
    pub address: String,
    pub state: AppState,
    /// Latchkey's clock: advance it to expire states and signatures.
    pub clock: Arc<ShiftedClock>,
    /// Where Latchkey's outgoing requests look names up: `app.names.insert("evil.example", addr)`
    /// makes that name lead to `addr` (other names go to the system resolver).
    pub names: Arc<NameTable>,
    /// A plain client: no cookies, no redirects followed.
    pub http: reqwest::Client,
    /// What runs the background jobs the stack enqueues (`run_jobs`).
    pub jobs: crate::backend::Jobs,
    /// Where its data lives (`another_instance` starts another instance on it).
    pub backend: crate::backend::Backend,
    _data_dir: Arc<tempfile::TempDir>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Starts the stack with the default configuration.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// A stack with a `custom-oauth2` integration `key` for a client registered at the OAuth peer
/// just for it (client secret in the token request's body).
pub async fn spawn_app_with_oidc(key: &str) -> (TestApp, OAuthClient) {
    let app = spawn_app().await;
    let client = crate::oidc::oidc_peer()
        .register_client(&app.callback_url(), "client_secret_post")
        .await;
    app.create_integration(key, &client).await;
    (app, client)
}

/// Starts the stack after `configure` adjusted its `Config` (e.g. a short `provider_timeout`).
pub async fn spawn_app_with(configure: impl FnOnce(&mut Config)) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port is free");
    let address = format!("http://{}", listener.local_addr().unwrap());
    let mut config = Config::new("test", address.parse().unwrap(), None);
    configure(&mut config);
    let data_dir = tempfile::tempdir().expect("a temp dir");
    let clock = Arc::new(ShiftedClock::default());
    let names = Arc::new(NameTable::default());
    let (state, jobs, backend) = crate::backend::build_state(data_dir.path(), config).await;
    serve(
        listener,
        Instance {
            state,
            jobs,
            backend,
            data_dir: Arc::new(data_dir),
            clock,
            names,
        },
    )
}

/// A browser flow `TestApp::start_flow` started.
pub struct StartedFlow {
    /// Where the browser was sent (the provider's authorization URL).
    pub location: url::Url,
    pub state: String,
    /// The flow cookie (`name=value`) the callback needs.
    pub cookie: String,
}

/// What one served stack is made of.
struct Instance {
    state: AppState,
    jobs: crate::backend::Jobs,
    backend: crate::backend::Backend,
    data_dir: Arc<tempfile::TempDir>,
    clock: Arc<ShiftedClock>,
    names: Arc<NameTable>,
}

fn serve(listener: tokio::net::TcpListener, instance: Instance) -> TestApp {
    let Instance {
        state,
        jobs,
        backend,
        data_dir,
        clock,
        names,
    } = instance;
    let address = format!("http://{}", listener.local_addr().unwrap());
    let outbound = Outbound::with_lookup(&state.config, names.clone());
    let state = state.with_clock(clock.clone()).with_outbound(outbound);
    let router = latchkey::api::local(state.clone());
    let server = tokio::spawn(async move {
        axum::serve(listener, router).await.expect("the test server runs");
    });
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    TestApp {
        address,
        state,
        clock,
        names,
        http,
        jobs,
        backend,
        _data_dir: data_dir,
        server,
    }
}

impl TestApp {
    /// The files of the local data directory (the SQLite store and its `-wal`/`-shm`, key
    /// files) on the SQLite backend; none on AWS.
    pub fn data_files(&self) -> Vec<std::path::PathBuf> {
        match &self.backend {
            crate::backend::Backend::Sqlite(dir) => std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.is_file())
                .collect(),
            crate::backend::Backend::Aws { .. } => Vec::new(),
        }
    }

    /// A second stack over the same backend (its own store client, sealer and port, the same
    /// data and clock): what another process or Lambda instance sees.
    pub async fn another_instance(&self) -> TestApp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port is free");
        let (state, jobs) = crate::backend::reopen(&self.backend, (*self.state.config).clone()).await;
        serve(
            listener,
            Instance {
                state,
                jobs,
                backend: self.backend.clone(),
                data_dir: self._data_dir.clone(),
                clock: self.clock.clone(),
                names: self.names.clone(),
            },
        )
    }

    /// One run of the refresh scheduler at Latchkey's time (the jobs it enqueues run with
    /// `run_jobs`).
    pub async fn run_scheduler(&self) -> latchkey::jobs::schedule::ScheduleReport {
        latchkey::jobs::schedule::schedule_now(&self.state)
            .await
            .expect("the scheduler runs")
    }

    /// Runs the background jobs visible now (by Latchkey's clock, locally), as the stack's
    /// runner or worker would. Returns how many ran.
    pub async fn run_jobs(&self) -> usize {
        self.jobs.run(&self.state).await
    }

    /// The keys the stack holds now (a rotation replaces them).
    pub fn keys(&self) -> Arc<EnvironmentKeys> {
        self.state.keys.cached()
    }
    pub fn secret_key(&self) -> String {
        self.keys().secret_key.expose().to_owned()
    }
    pub fn public_key(&self) -> String {
        self.keys().public_key.clone()
    }
    pub fn hmac_key(&self) -> String {
        self.keys().hmac_key.expose().to_owned()
    }
    pub fn callback_url(&self) -> String {
        format!("{}/oauth/callback", self.address)
    }
    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.address)
    }
    /// Unix seconds on Latchkey's (possibly advanced) clock.
    pub fn now_unix(&self) -> i64 {
        self.clock.now().unix_timestamp()
    }

    /// A request authenticated with `Authorization: Bearer <secret key>`.
    pub fn bearer(&self, method: Method, path_and_query: &str) -> RequestBuilder {
        self.http
            .request(method, self.url(path_and_query))
            .bearer_auth(self.secret_key())
    }

    /// A signed request (docs/api.md, "Authenticating the backend") stamped with Latchkey's clock. A
    /// body is sent as JSON.
    pub fn signed_request(&self, method: Method, path_and_query: &str, body: Option<&Value>) -> RequestBuilder {
        let bytes = body.map(|b| serde_json::to_vec(b).unwrap()).unwrap_or_default();
        self.signed_raw(method, path_and_query, bytes, self.now_unix())
    }

    /// A signed request with an explicit timestamp and raw body (signature over exactly them).
    pub fn signed_raw(&self, method: Method, path_and_query: &str, body: Vec<u8>, timestamp: i64) -> RequestBuilder {
        let signature = wire::request_signature(&self.secret_key(), timestamp, method.as_str(), path_and_query, &body);
        let mut req = self
            .http
            .request(method, self.url(path_and_query))
            .header("Latchkey-Timestamp", timestamp.to_string())
            .header("Latchkey-Signature", signature);
        if !body.is_empty() {
            req = req.header("Content-Type", "application/json").body(body);
        }
        req
    }

    /// Creates a `custom-oauth2` integration for `client` and returns its wire form.
    pub async fn create_integration(&self, key: &str, client: &OAuthClient) -> Value {
        let body = json!({
            "provider": "custom-oauth2",
            "unique_key": key,
            "credentials": {
                "type": "OAUTH2",
                "client_id": client.client_id,
                "client_secret": client.client_secret,
                "scopes": client.scopes,
            },
            "custom": {
                "authorization_url": client.authorization_url,
                "token_url": client.token_url,
                "userinfo_url": client.userinfo_url,
                "token_request_auth_method": client.latchkey_auth_method(),
            },
        });
        self.post_integration(&body).await
    }

    /// `POST /integrations` with `body`; asserts it was created and returns its wire form.
    pub async fn post_integration(&self, body: &Value) -> Value {
        let (status, created) = self.backend(Method::POST, "/integrations", Some(body)).await;
        assert_eq!(status, 200, "creating integration {body}: {created}");
        created["data"].clone()
    }

    /// A backend call with Bearer (`body` sent as JSON): status and JSON body (`Null` when the
    /// body is not JSON).
    pub async fn backend(&self, method: Method, path_and_query: &str, body: Option<&Value>) -> (StatusCode, Value) {
        let mut req = self.bearer(method, path_and_query);
        if let Some(body) = body {
            req = req.json(body);
        }
        let response = req.send().await.unwrap();
        (response.status(), response.json().await.unwrap_or(Value::Null))
    }

    /// A frontend `POST {path}?public_key=…&{query}` with a JSON body (the API key, Basic and
    /// client-credentials connects): status and JSON body.
    pub async fn frontend_post(&self, path: &str, query: &str, body: &Value) -> (StatusCode, Value) {
        let url = format!("{}{path}?public_key={}&{query}", self.address, self.public_key());
        let response = self.http.post(url).json(body).send().await.unwrap();
        (response.status(), response.json().await.unwrap_or(Value::Null))
    }

    /// The connect URL a frontend opens: public key and connection id, plus `extra` (already
    /// encoded, e.g. `params%5Bsubdomain%5D=acme`).
    pub fn connect_url(&self, integration: &str, connection_id: &str, extra: &str) -> String {
        let mut url = format!(
            "{}/oauth/connect/{integration}?connection_id={connection_id}&public_key={}",
            self.address,
            self.public_key()
        );
        if !extra.is_empty() {
            url.push('&');
            url.push_str(extra);
        }
        url
    }

    /// Starts a browser flow (`GET` of `connect_url`), which must answer 302: the provider URL
    /// the browser was sent to, the flow's `state`, and the flow cookie the browser was given.
    pub async fn start_flow(&self, integration: &str, connection_id: &str, extra: &str) -> StartedFlow {
        let r = self
            .http
            .get(self.connect_url(integration, connection_id, extra))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 302, "{}", r.text().await.unwrap());
        let location = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
        let state = location
            .query_pairs()
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.into_owned())
            .expect("the provider URL carries the state");
        let cookie = r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .expect("the flow cookie")
            .to_owned();
        StartedFlow {
            location,
            state,
            cookie,
        }
    }

    /// The provider sending the browser that started `flow` back: `GET /oauth/callback` with
    /// the flow's state, `query` (`code=…`) and its cookie.
    pub async fn callback(&self, flow: &StartedFlow, query: &str) -> reqwest::Response {
        self.http
            .get(format!("{}?state={}&{query}", self.callback_url(), flow.state))
            .header(reqwest::header::COOKIE, &flow.cookie)
            .send()
            .await
            .unwrap()
    }

    /// Connects `connection_id` through `integration`'s provider (oidc-provider: logs in as
    /// `user` and consents, so a refresh token is issued) and asserts it was stored.
    pub async fn connect_through_provider(&self, integration: &str, connection_id: &str, user: &str) {
        let browser = crate::Browser::new(&self.callback_url());
        // Vouched by the backend's HMAC digest, so it may also re-authorize (replace) the
        // connection: the public key alone only creates.
        let digest = wire::connect_digest(&self.hmac_key(), integration, connection_id);
        let extra = format!("authorization_params%5Bprompt%5D=consent&hmac={digest}");
        let url = self.connect_url(integration, connection_id, &extra);
        let page = browser.connect(&url, &[], user).await;
        assert!(
            page.is_success(),
            "connecting {connection_id}: {:?} {}",
            page.message,
            page.html
        );
    }

    /// The access (and refresh) token a read answers; panics unless it answered 200.
    pub async fn tokens(&self, integration: &str, connection_id: &str, query: &str) -> (String, Option<String>) {
        let (status, body) = self
            .read_connection(integration, connection_id, &format!("&refresh_token=true{query}"))
            .await;
        assert_eq!(status, 200, "{body}");
        let credentials = &body["credentials"];
        (
            credentials["access_token"].as_str().unwrap().to_owned(),
            credentials["refresh_token"].as_str().map(str::to_owned),
        )
    }

    /// `GET /connections/{id}` with Bearer; returns status and JSON body.
    pub async fn read_connection(&self, integration: &str, connection_id: &str, query: &str) -> (u16, Value) {
        let path = format!("/connections/{connection_id}?provider_config_key={integration}{query}");
        let response = self.bearer(Method::GET, &path).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// Reads the connection, asserting the read fails with `status` and error `code`; the body.
    pub async fn assert_read_fails(
        &self,
        integration: &str,
        connection_id: &str,
        query: &str,
        status: u16,
        code: &str,
    ) -> Value {
        let (got, body) = self.read_connection(integration, connection_id, query).await;
        assert_eq!((got, body["error"]["code"].as_str()), (status, Some(code)), "{body}");
        body
    }

    /// Activity entries (`GET /logs`) for a connection id, or all when `None`; newest first.
    pub async fn activity(&self, connection_id: Option<&str>) -> Vec<Value> {
        let path = match connection_id {
            Some(id) => format!("/logs?connection_id={id}"),
            None => "/logs".to_owned(),
        };
        let response = self.bearer(Method::GET, &path).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        body["data"].as_array().cloned().unwrap_or_default()
    }

    /// Asserts that no connection `connection_id` exists for `integration`.
    pub async fn assert_not_stored(&self, integration: &str, connection_id: &str) {
        let (status, body) = self.read_connection(integration, connection_id, "").await;
        assert_eq!(status, 404, "nothing may be stored, found {body}");
        let list = self.bearer(Method::GET, "/connections").send().await.unwrap();
        let list: Value = list.json().await.unwrap();
        assert!(
            !list["connections"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["connection_id"] == connection_id),
            "{list}"
        );
    }

    /// The newest `failed` activity entry (of `connection_id`, or of any when `None`); panics
    /// when there is none. Its error code is checked against `code`.
    pub async fn failed_activity(&self, connection_id: Option<&str>, code: &str) -> Value {
        let entries = self.activity(connection_id).await;
        let failed = entries
            .iter()
            .find(|e| e["event"] == "failed")
            .unwrap_or_else(|| panic!("no failed activity entry among {entries:?}"))
            .clone();
        assert_eq!(failed["level"], "error", "{failed}");
        assert_eq!(failed["error_code"], code, "{failed}");
        failed
    }

    /// Turns HMAC checking of connect requests on or off.
    pub async fn set_hmac(&self, enabled: bool) {
        let response = self
            .bearer(Method::PATCH, "/environment")
            .json(&json!({"hmac_enabled": enabled}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
}

/// Asserts that none of `secrets` appears anywhere in `text` (an error body, activity JSON, a
/// page).
#[track_caller]
pub fn assert_no_secret(text: &str, secrets: &[&str]) {
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        assert!(!text.contains(secret), "a secret leaked into: {text}");
    }
}
