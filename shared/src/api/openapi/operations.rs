//! What each route of the table takes and answers, by method and path: the description's
//! operations. `describe` knows every route of `api::FUNCTIONS` that this crate serves; the
//! test in `openapi` fails for a route added without its line here (and for a line here
//! without its route).

use axum::http::Method;
use serde_json::{json, Map, Value};

use super::schemas::{identifier, schema};
use crate::domain::AuthMode;

/// One operation, built up: its parameters, body and answers.
pub struct Op {
    value: Map<String, Value>,
    responses: Map<String, Value>,
    params: Vec<Value>,
}

fn media(content_type: &str, schema: Value) -> Value {
    json!({ content_type: { "schema": schema } })
}

fn query(name: &str, description: &str, schema: Value) -> Value {
    json!({ "name": name, "in": "query", "required": false, "description": description, "schema": schema })
}

fn flag(name: &str, description: &str) -> Value {
    query(
        name,
        description,
        json!({ "type": "string", "enum": ["true", "false", "1", "0"] }),
    )
}

fn text() -> Value {
    json!({ "type": "string" })
}

/// `{data: <schema>}`, the envelope of the operator routes.
fn data(inner: Value) -> Value {
    json!({ "type": "object", "required": ["data"], "properties": { "data": inner } })
}

/// The query a frontend connect route reads (`api::frontend::parse_connect_query`), beside
/// `public_key` or `connect_session_token` (its security).
fn connect_query() -> Vec<Value> {
    vec![
        query(
            "connection_id",
            "The connection to create or (with hmac) replace.",
            identifier(),
        ),
        query(
            "hmac",
            "HMAC-SHA256 of the public key, integration and connection id with the environment's HMAC key.",
            text(),
        ),
        query(
            "client_nonce",
            "A random base64url value the SDK polls the result by.",
            json!({ "type": "string", "pattern": "^[A-Za-z0-9_-]{22,128}$" }),
        ),
        query("ws_client_id", "The socket the result is sent to.", text()),
        query("user_scope", "User scopes (Slack).", text()),
    ]
}

impl Op {
    fn new(tag: &str, summary: &str) -> Self {
        let mut value = Map::new();
        value.insert("tags".into(), json!([tag]));
        value.insert("summary".into(), json!(summary));
        Self {
            value,
            responses: Map::new(),
            params: Vec::new(),
        }
    }

    fn describe(mut self, text: &str) -> Self {
        self.value.insert("description".into(), json!(text));
        self
    }

    fn param(mut self, p: Value) -> Self {
        self.params.push(p);
        self
    }

    fn params(mut self, ps: Vec<Value>) -> Self {
        self.params.extend(ps);
        self
    }

    /// A JSON body of `schema`.
    fn body(mut self, schema: Value, required: bool) -> Self {
        self.value.insert(
            "requestBody".into(),
            json!({ "required": required, "content": media("application/json", schema) }),
        );
        self.errors(&[400, 413, 415])
    }

    /// A form body (`application/x-www-form-urlencoded`) of `schema`.
    fn form(mut self, schema: Value) -> Self {
        self.value.insert(
            "requestBody".into(),
            json!({ "required": false, "content": media("application/x-www-form-urlencoded", schema) }),
        );
        self
    }

    fn answers(mut self, status: u16, response: Value) -> Self {
        self.responses.insert(status.to_string(), response);
        self
    }

    /// `200` with a JSON body of `schema`.
    fn ok(self, schema: Value) -> Self {
        self.answers(
            200,
            json!({ "description": "OK", "content": media("application/json", schema) }),
        )
    }

    fn file(self, content_type: &str, what: &str) -> Self {
        self.answers(
            200,
            json!({ "description": what, "content": media(content_type, json!({ "type": "string" })) }),
        )
    }

    fn html(self, status: u16, what: &str) -> Self {
        self.answers(
            status,
            json!({ "description": what, "content": media("text/html", json!({ "type": "string" })) }),
        )
    }

    fn redirect(self, status: u16, to: &str) -> Self {
        self.answers(
            status,
            json!({ "description": to, "headers": { "Location": { "schema": { "type": "string" }, "required": true } } }),
        )
    }

    /// Answers `{"error":{"code","message"}}` with each of `statuses`.
    pub fn errors(mut self, statuses: &[u16]) -> Self {
        for s in statuses {
            self.responses
                .entry(s.to_string())
                .or_insert_with(|| json!({ "$ref": "#/components/responses/Error" }));
        }
        self
    }

    /// Answers an HTML page or (for `Accept: application/json`) the JSON error with each of
    /// `statuses`: the console's refusals.
    fn page_errors(mut self, statuses: &[u16]) -> Self {
        for s in statuses {
            self.responses
                .entry(s.to_string())
                .or_insert_with(|| json!({ "$ref": "#/components/responses/PageOrError" }));
        }
        self
    }

    /// The operation object, with `path`'s parameters and `security`.
    pub fn finish(self, path: &str, security: Value) -> Value {
        let Op {
            mut value,
            mut responses,
            params,
        } = self;
        let mut all: Vec<Value> = path_params(path)
            .into_iter()
            .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": path_schema(name) }))
            .collect();
        all.extend(params);
        if !all.is_empty() {
            value.insert("parameters".into(), Value::Array(all));
        }
        responses.sort_keys();
        value.insert("responses".into(), Value::Object(responses));
        value.insert("security".into(), security);
        Value::Object(value)
    }

    fn link(mut self, status: u16, name: &str, operation_id: &str, parameters: Value) -> Self {
        let response = self
            .responses
            .get_mut(&status.to_string())
            .expect("link from a described answer");
        response["links"][name] = json!({ "operationId": operation_id, "parameters": parameters });
        self
    }

    pub fn id(mut self, id: &str) -> Self {
        self.value.insert("operationId".into(), json!(id));
        self
    }
}

/// The `{name}` segments of a path.
pub fn path_params(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .collect()
}

/// What a path parameter holds, by its name.
fn path_schema(name: &str) -> Value {
    match name {
        "id" | "key" | "integration" => identifier(),
        "nonce" => json!({ "type": "string", "pattern": "^[A-Za-z0-9_-]{22,128}$" }),
        "mode" => {
            let segments: Vec<String> = AuthMode::ALL
                .iter()
                .map(|m| m.as_str().replace('_', "-").to_lowercase())
                .collect();
            json!({ "type": "string", "enum": segments })
        }
        _ => json!({ "type": "string", "minLength": 1 }),
    }
}

/// The connection routes' required `provider_config_key`.
fn integration_query() -> Value {
    json!({ "name": "provider_config_key", "in": "query", "required": true, "description": "The integration's unique key.", "schema": identifier() })
}

/// A connection created by a response, for the stateful links.
fn connection_link() -> Value {
    json!({ "id": "$response.body#/connection_id", "provider_config_key": "$response.body#/provider_config_key" })
}

/// The CORS preflight of a frontend route (`api::cors`).
pub fn preflight() -> Op {
    Op::new("frontend", "CORS preflight")
        .describe("From a page of an allowed origin (any, while the environment lists none): the methods and headers it may send.")
        .answers(204, json!({ "description": "Allowed (with Access-Control-Allow-* headers when an Origin was sent)." }))
        .errors(&[403, 503])
}

/// A frontend route that connects with submitted credentials (`api::credentials_auth`).
fn submission(summary: &str, body: Value, required: bool) -> Op {
    Op::new("frontend", summary)
        .params(connect_query())
        .body(body, required)
        .ok(schema("Connected"))
        .errors(&[401, 403, 404, 409, 502, 503])
}

/// The operation of `method path`, or `None` for a route without one here.
pub fn describe(method: &Method, path: &str) -> Option<Op> {
    let m = method.as_str();
    let op = match (m, path) {
        // The frontend's flows.
        ("GET", "/") => Op::new("frontend", "The frontend client's socket, or a redirect")
            .describe("With a WebSocket upgrade: Nango's frontend client socket (greets with connection_ack). Else a redirect: to /connect for the Connect UI's iframe (apiURL in the query), to the console otherwise.")
            .redirect(302, "To /connect or the console.")
            .answers(101, json!({ "description": "Switching to the WebSocket protocol." }))
            .errors(&[400, 403, 503]),
        ("GET", "/oauth/connect/{integration}") => Op::new("frontend", "Start a browser OAuth flow")
            .describe("Sends the browser to the provider with the flow's cookie. Connection config comes as `params[<name>]` query parameters (`params[subdomain]=acme`), extra authorization parameters as `authorization_params[<name>]`. A failure before the provider is the JSON error, or the result page for Accept: text/html; the poller and the socket learn it too.")
            .params(connect_query())
            .redirect(302, "To the provider's authorization page.")
            .errors(&[400, 401, 403, 404, 409, 502, 503]),
        ("GET", "/oauth/callback") => Op::new("frontend", "The OAuth callback")
            .describe("The provider sends the browser back here; the flow's `state` and cookie are the check. Answers the result page (it posts the outcome to the opener) with the outcome's status.")
            .params(vec![
                query("state", "The flow's state.", text()),
                query("code", "The authorization code.", text()),
                query("error", "The provider's OAuth error.", text()),
            ])
            .html(200, "The result page: connected.")
            .html(400, "The result page: the flow failed.")
            .html(401, "The result page: the flow failed.")
            .html(403, "The result page: the flow failed.")
            .html(404, "The result page: the flow failed.")
            .html(409, "The result page: the flow failed.")
            .html(502, "The result page: the provider did not answer.")
            .html(503, "The result page: a service Latchkey needs is unavailable."),
        ("GET", "/oauth/result/{nonce}") => Op::new("frontend", "Poll a browser flow's outcome")
            .describe("Read once: unknown, expired and already-read nonces answer pending.")
            .ok(schema("PollResult"))
            .errors(&[400, 503]),
        ("POST", "/api-auth/api-key/{integration}") => {
            submission("Connect with an API key", schema("ApiKeyCredentials"), true)
        }
        ("POST", "/api-auth/basic/{integration}") => {
            submission("Connect with a user name and password", schema("BasicCredentials"), true)
        }
        ("POST", "/oauth2/auth/{integration}") => {
            submission("Connect with OAuth2 client credentials", schema("ClientCredentials"), false)
                .describe("Without a body the integration's client credentials are used.")
        }
        ("POST", "/auth/unauthenticated/{integration}") => {
            Op::new("frontend", "Connect a provider that takes no credentials (NONE)")
                .describe("No body: the connection holds only its connection config (`params[...]`).")
                .params(connect_query())
                .ok(schema("Connected"))
                .errors(&[400, 401, 403, 404, 409, 503])
        }
        ("POST", "/auth/{mode}/{integration}") => {
            submission("Connect a mode whose body is the catalog's credential fields", schema("ModeCredentials"), true)
                .describe("`mode` is the auth mode's wire name in lowercase with - for _: two-step, jwt, tba (token_id, token_secret), signature, bill, aws-sigv4 (role_arn, region), …")
        }
        ("GET", "/connect") | ("GET", "/connect/") => Op::new("frontend", "The Connect page")
            .describe("What a connect session's connect_link opens and openConnectUI() frames.")
            .html(200, "The page."),
        ("GET", "/connect/session") => Op::new("frontend", "The connect session's offer")
            .describe("Authenticated by `Authorization: Bearer <connect session token>`.")
            .ok(data(schema("ConnectOffer")))
            .errors(&[401, 503]),
        // Connections.
        ("GET", "/connections") => Op::new("connections", "List connections")
            .params(vec![
                query("connectionId", "Only this connection id.", text()),
                query("integrationId", "Comma-separated integration keys.", text()),
                query("endUserId", "Only this end user's.", text()),
                query("search", "A substring of the connection id.", text()),
                query("limit", "1 to 1000 (default 100).", json!({ "type": "integer", "minimum": 1, "maximum": 1000 })),
                query("page", "Page number, from 0.", json!({ "type": "integer", "minimum": 0 })),
            ])
            .ok(schema("ConnectionList"))
            .errors(&[400]),
        ("POST", "/connections") => Op::new("connections", "Import a connection with existing credentials")
            .id("importConnection")
            .body(schema("ImportConnection"), true)
            .ok(schema("Connection"))
            .errors(&[404, 409])
            .link(200, "GetConnection", "getConnection", connection_link())
            .link(200, "PatchConnection", "patchConnection", connection_link())
            .link(200, "DeleteConnection", "deleteConnection", connection_link()),
        ("POST", "/connections/metadata") => Op::new("connections", "Replace connections' metadata")
            .body(schema("MetadataWrite"), true)
            .ok(schema("MetadataWritten"))
            .errors(&[404, 409]),
        ("PATCH", "/connections/metadata") => Op::new("connections", "Merge into connections' metadata")
            .body(schema("MetadataWrite"), true)
            .ok(schema("MetadataWritten"))
            .errors(&[404, 409]),
        ("GET", "/connections/{id}") => Op::new("connections", "Read a connection with fresh credentials")
            .id("getConnection")
            .describe("Refreshes expired (or, with force_refresh, any) OAuth credentials first. 424 when the provider refused the refresh, 502 when it did not answer.")
            .param(integration_query())
            .params(vec![
                flag("refresh_token", "Include the refresh token."),
                flag("force_refresh", "Refresh now."),
                flag("secret_config", "Show connection config fields the provider marks secret."),
            ])
            .ok(schema("Connection"))
            .errors(&[400, 404, 409, 424, 502]),
        ("PATCH", "/connections/{id}") => Op::new("connections", "Change a connection's end user, tags or webhook URL")
            .id("patchConnection")
            .param(integration_query())
            .body(schema("ConnectionPatch"), true)
            .ok(schema("Success"))
            .errors(&[404, 409]),
        ("DELETE", "/connections/{id}") => Op::new("connections", "Delete a connection")
            .id("deleteConnection")
            .param(integration_query())
            .ok(schema("Success"))
            .errors(&[400, 404, 409]),
        // Operators.
        ("GET", "/integrations") => Op::new("integrations", "List integrations").ok(data(json!({ "type": "array", "items": schema("Integration") }))),
        ("POST", "/integrations") => Op::new("integrations", "Create an integration")
            .id("createIntegration")
            .body(schema("CreateIntegration"), true)
            .ok(data(schema("Integration")))
            // 502: an MCP server's registration endpoint did not answer (dynamic registration).
            .errors(&[404, 409, 502])
            .link(200, "GetIntegration", "getIntegration", json!({ "key": "$response.body#/data/unique_key" }))
            .link(200, "UpdateIntegration", "updateIntegration", json!({ "key": "$response.body#/data/unique_key" }))
            .link(200, "DeleteIntegration", "deleteIntegration", json!({ "key": "$response.body#/data/unique_key" })),
        ("GET", "/integrations/{key}") => Op::new("integrations", "Read an integration").id("getIntegration").ok(data(schema("Integration"))).errors(&[404]),
        ("PATCH", "/integrations/{key}") => Op::new("integrations", "Change an integration")
            .id("updateIntegration")
            .body(schema("UpdateIntegration"), true)
            .ok(data(schema("Integration")))
            .errors(&[404, 409]),
        ("DELETE", "/integrations/{key}") => Op::new("integrations", "Delete an integration and its connections")
            .id("deleteIntegration")
            .ok(schema("Success"))
            .errors(&[404, 409]),
        ("GET", "/logs") => Op::new("environment", "Read the activity log, newest first")
            .params(vec![
                query("connection_id", "Only this connection's.", text()),
                query("integration", "Only this integration's.", text()),
                query("attempt_id", "Only this attempt's.", text()),
                query("operation", "Only this operation's (auth, refresh, webhook, …).", text()),
                query("level", "info or error.", json!({ "type": "string", "enum": ["info", "error"] })),
                query("since", "RFC 3339 time.", json!({ "type": "string", "format": "date-time" })),
                query("until", "RFC 3339 time.", json!({ "type": "string", "format": "date-time" })),
                query("cursor", "next_cursor of the previous page.", text()),
                query("limit", "1 to 1000 (default 100).", json!({ "type": "integer", "minimum": 1, "maximum": 1000 })),
            ])
            .ok(schema("ActivityPage"))
            .errors(&[400]),
        ("POST", "/connect/sessions") => Op::new("connect", "Create a connect session")
            .body(schema("CreateConnectSession"), true)
            .ok(data(schema("ConnectSession")))
            .errors(&[404]),
        ("POST", "/connect/sessions/reconnect") => Op::new("connect", "Create a session that re-authorizes a connection")
            .body(schema("ReconnectSession"), true)
            .ok(data(schema("ConnectSession")))
            .errors(&[404]),
        ("GET", "/providers") => Op::new("providers", "The provider catalog")
            .param(query("search", "Case-insensitive substring of the name or display name.", text()))
            .ok(json!({ "type": "object", "required": ["data", "source"], "properties": { "data": { "type": "array", "items": schema("Provider") }, "source": text() } }))
            .errors(&[400]),
        ("GET", "/providers/{name}") => Op::new("providers", "One catalog entry")
            .ok(json!({ "type": "object", "required": ["data", "source"], "properties": { "data": schema("Provider"), "source": text() } }))
            .errors(&[404]),
        ("GET", "/environment") => Op::new("environment", "The environment's settings and public key").ok(data(schema("Environment"))),
        ("PATCH", "/environment") => Op::new("environment", "Change settings, rotate keys")
            .id("updateEnvironment")
            .describe("Rotating keys takes the current secret key (403 key_management_forbidden with the previous one).")
            .body(schema("EnvironmentPatch"), true)
            .ok(data(schema("Environment")))
            .errors(&[403, 409]),
        ("POST", "/environment/test-webhook") => Op::new("environment", "Send one signed test webhook now")
            .ok(data(schema("TestWebhook")))
            .errors(&[400]),
        ("GET", "/openapi.json") => Op::new("meta", "This description").ok(json!({ "type": "object" })),
        // Public files.
        ("GET", "/demo") => Op::new("demo", "The demo page").html(200, "The page."),
        ("GET", "/demo/demo.css") | ("GET", "/console/assets/console.css") => {
            Op::new("files", "A style sheet").file("text/css", "The file.")
        }
        ("GET", "/demo/demo.js") | ("GET", "/demo/latchkey.js") | ("GET", "/console/assets/console.js") => {
            Op::new("files", "A script").file("text/javascript", "The file.")
        }
        // The console: pages for a signed-in operator.
        ("GET", "/console/sign-in") => Op::new("console", "The console's sign-in form")
            .params(vec![query("next", "Where to go after signing in.", text()), query("reason", "Why: required or expired.", text())])
            .html(200, "The form.")
            .page_errors(&[400]),
        ("POST", "/console/sign-in") => Op::new("console", "Sign in with the secret key")
            .describe("From the console's own page (its Origin): the secret key for a session cookie.")
            .form(json!({ "type": "object", "properties": { "secret_key": text(), "next": text() } }))
            .redirect(303, "Signed in: the console, with the session cookie.")
            .page_errors(&[400, 401, 403, 413, 503]),
        (_, p) if p.starts_with("/console") => {
            let op = Op::new("console", if m == "GET" { "A console page" } else { "A console change (a form with the session's CSRF token)" });
            let op = if m == "GET" {
                op.html(200, "The page.").redirect(303, "Not signed in: the sign-in form.")
            } else {
                op.redirect(303, "Done: the page that shows it.")
                    .html(200, "The page again, with what was refused.")
            };
            op.page_errors(&[400, 401, 403, 404, 409, 413, 502, 503])
        }
        _ => return None,
    };
    Some(op)
}
