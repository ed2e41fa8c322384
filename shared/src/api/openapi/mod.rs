//! The OpenAPI 3.1 description of the API, made from the route table (`api::FUNCTIONS`): every
//! route this crate serves is a path and method of it (a frontend route's `OPTIONS` preflight
//! too, as API Gateway routes it), with who may call it (`Access` → its security), what it
//! takes and what it answers (`operations`, `schemas`). Served at
//! `GET /openapi.json` and committed as `docs/openapi.json`; a test fails when either drifts
//! from the code: a route without a description, a description without a route, or a committed
//! file that is not the generated one (`LATCHKEY_WRITE_OPENAPI=1 cargo test -p latchkey --lib
//! openapi` rewrites it).

mod operations;
mod schemas;

use std::sync::OnceLock;

use axum::http::{header, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use super::{Access, Route, FUNCTIONS};

/// The routes the description covers: every route this crate serves over HTTP (not the
/// callback domain's redirect nor the WebSocket API's route keys, which are other APIs).
fn described_routes() -> Vec<Route> {
    FUNCTIONS
        .iter()
        .flat_map(|f| (f.routes)())
        .filter(|r| r.handler.is_some() && r.access != Access::Socket)
        .collect()
}

/// Who may call a route, as the description's security requirements.
fn security(access: Access, path: &str) -> Value {
    match access {
        Access::Backend => json!([{ "secretKey": [] }, { "signatureTimestamp": [], "signature": [] }]),
        Access::Frontend if path == "/connect/session" => json!([{ "connectSessionBearer": [] }]),
        Access::Frontend => json!([{ "publicKey": [] }, { "connectSessionToken": [] }]),
        Access::Console => json!([{ "consoleSession": [] }]),
        Access::Public | Access::Socket => json!([]),
    }
}

fn security_schemes() -> Value {
    json!({
        "secretKey": {
            "type": "http",
            "scheme": "bearer",
            "description": "The environment's secret key: `Authorization: Bearer <secret key>`. During a rotation's grace period the previous key works too.",
        },
        "signatureTimestamp": {
            "type": "apiKey",
            "in": "header",
            "name": "Latchkey-Timestamp",
            "description": "A signed request instead of the bearer key: Unix seconds, within 300 s of the server's clock.",
        },
        "signature": {
            "type": "apiKey",
            "in": "header",
            "name": "Latchkey-Signature",
            "description": "`v1=` + lowercase hex HMAC-SHA256(secret key, timestamp + \"\\n\" + METHOD + \"\\n\" + path_and_query + \"\\n\" + hex(sha256(body))) (docs/api.md, \"Authenticating the backend\"). A signed change is accepted once.",
        },
        "publicKey": {
            "type": "apiKey",
            "in": "query",
            "name": "public_key",
            "description": "The environment's public key, from the end user's browser (with `hmac` when HMAC is required).",
        },
        "connectSessionToken": {
            "type": "apiKey",
            "in": "query",
            "name": "connect_session_token",
            "description": "A connect session's token, which the team's backend created (`POST /connect/sessions`).",
        },
        "connectSessionBearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "A connect session's token: `Authorization: Bearer <token>`.",
        },
        "consoleSession": {
            "type": "apiKey",
            "in": "cookie",
            "name": "latchkey_console",
            "description": "The console's session, set by signing in with the secret key (`__Host-latchkey_console` over https). A change also takes the session's CSRF token (`csrf` form field or `X-CSRF-Token`) from the console's own origin.",
        },
    })
}

/// The whole description.
pub fn document() -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for route in described_routes() {
        for method in route.gateway_methods() {
            let op = if method == Method::OPTIONS {
                operations::preflight()
            } else {
                let op = operations::describe(&method, route.path)
                    .unwrap_or_else(|| panic!("{method} {} has no description in api::openapi", route.path));
                // What the guard in front of the handler answers (and a store that is down).
                op.errors(match route.access {
                    Access::Backend => &[401, 503],
                    Access::Frontend => &[401, 403, 503],
                    Access::Public | Access::Console | Access::Socket => &[],
                })
            };
            let security = match method {
                Method::OPTIONS => json!([]),
                _ => security(route.access, route.path),
            };
            let item = paths.entry(route.path).or_insert_with(|| json!({}));
            item[method.as_str().to_lowercase()] = op.finish(route.path, security);
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Latchkey",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "A self-hosted auth broker with Nango's wire contract. Every failure is `{\"error\":{\"code\",\"message\"}}` (the `Error` schema) unless a route answers a page. Generated from the route table: docs/api.md.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas::all(),
            "responses": {
                "Error": {
                    "description": "The request failed; `code` says why.",
                    "content": { "application/json": { "schema": schemas::schema("Error") } },
                },
                "PageOrError": {
                    "description": "A page saying why (the JSON error for `Accept: application/json`).",
                    "content": {
                        "text/html": { "schema": { "type": "string" } },
                        "application/json": { "schema": schemas::schema("Error") },
                    },
                },
            },
            "securitySchemes": security_schemes(),
        },
    })
}

/// The description as served and committed: pretty JSON with a final newline.
pub fn text() -> String {
    let mut text = serde_json::to_string_pretty(&document()).expect("the description serializes");
    text.push('\n');
    text
}

/// `GET /openapi.json`.
pub async fn serve() -> Response {
    static TEXT: OnceLock<String> = OnceLock::new();
    let mut r = TEXT.get_or_init(text).as_str().into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every described path and method is a route of the table (with a frontend route's
    /// preflight), and every route is described.
    #[test]
    fn the_description_is_the_route_table() {
        let doc = document();
        let described: std::collections::BTreeSet<(String, String)> = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, item)| {
                item.as_object()
                    .unwrap()
                    .keys()
                    .map(move |m| (m.to_uppercase(), path.clone()))
            })
            .collect();
        let routes: std::collections::BTreeSet<(String, String)> = described_routes()
            .iter()
            .flat_map(|r| {
                r.gateway_methods()
                    .into_iter()
                    .map(|m| (m.to_string(), r.path.to_owned()))
            })
            .collect();
        assert_eq!(described, routes);
        assert!(routes.contains(&("GET".into(), "/openapi.json".into())));
    }

    /// Each `$ref` names a component that exists, each path parameter is declared, and every
    /// error code of the code is in the error schema.
    #[test]
    fn references_resolve_and_the_error_codes_are_the_codes() {
        let doc = document();
        fn refs(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::Object(m) => {
                    if let Some(Value::String(r)) = m.get("$ref") {
                        out.push(r.clone());
                    }
                    m.values().for_each(|v| refs(v, out));
                }
                Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        let mut all = Vec::new();
        refs(&doc, &mut all);
        for r in all {
            let pointer = r.strip_prefix('#').expect("local references");
            assert!(doc.pointer(pointer).is_some(), "{r} resolves");
        }
        let codes = doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"]
            .as_array()
            .unwrap()
            .len();
        assert_eq!(codes, crate::error::ErrorCode::ALL.len());
        let links = doc.pointer("/paths/~1connections/post/responses/200/links").unwrap();
        for link in links.as_object().unwrap().values() {
            let id = link["operationId"].as_str().unwrap();
            let found = doc["paths"]
                .as_object()
                .unwrap()
                .values()
                .flat_map(|item| item.as_object().unwrap().values())
                .any(|op| op["operationId"] == id);
            assert!(found, "link target {id}");
        }
    }

    /// `docs/openapi.json` is the generated description. `LATCHKEY_WRITE_OPENAPI=1` rewrites it.
    #[test]
    fn the_committed_description_is_the_generated_one() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json");
        let generated = text();
        if std::env::var_os("LATCHKEY_WRITE_OPENAPI").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "docs/openapi.json is not the description the code makes: run \
             LATCHKEY_WRITE_OPENAPI=1 cargo test -p latchkey --lib openapi"
        );
    }
}
