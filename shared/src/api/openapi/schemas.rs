//! The description's `components/schemas`: every body the API reads or answers, written once
//! beside the wire objects they describe (`api::wire`, the handlers' request types). Enums come
//! from the code's own lists (`ErrorCode::ALL`, `AuthMode::ALL`, …), so a new code is described
//! the moment it exists.

use serde_json::{json, Map, Value};

use crate::domain::AuthMode;
use crate::error::ErrorCode;
use crate::keys::KeyName;
use crate::store::WebhookEvent;

/// `{"$ref": "#/components/schemas/<name>"}`.
pub fn schema(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// An integration's unique key or a connection id (`domain::check_identifier`).
pub fn identifier() -> Value {
    json!({ "type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[A-Za-z0-9._:@|+-]+$" })
}

fn nullable(schema: Value) -> Value {
    json!({ "oneOf": [schema, { "type": "null" }] })
}

fn string() -> Value {
    json!({ "type": "string" })
}

fn date_time() -> Value {
    json!({ "type": "string", "format": "date-time" })
}

fn object() -> Value {
    json!({ "type": "object" })
}

fn boolean() -> Value {
    json!({ "type": "boolean" })
}

fn array(items: Value) -> Value {
    json!({ "type": "array", "items": items })
}

/// An object of `properties`, all of which the answer always has, and nothing else: a field
/// added to a wire object without its line here fails the contract run.
fn answer(properties: Value) -> Value {
    let required: Vec<&String> = properties
        .as_object()
        .expect("properties are an object")
        .keys()
        .collect();
    json!({ "type": "object", "required": required, "properties": properties, "additionalProperties": false })
}

/// A request body that refuses unknown fields (`deny_unknown_fields`), with its required ones.
fn request(required: &[&str], properties: Value) -> Value {
    json!({
        "type": "object",
        "required": required,
        "additionalProperties": false,
        "properties": properties,
    })
}

fn words<T: Copy>(all: &[T], name: fn(T) -> &'static str) -> Value {
    json!({ "type": "string", "enum": all.iter().map(|&v| name(v)).collect::<Vec<_>>() })
}

pub fn all() -> Map<String, Value> {
    let auth_mode = words(AuthMode::ALL, AuthMode::as_str);
    let key_name = words(&KeyName::ALL, KeyName::as_str);
    let webhook_event = words(&WebhookEvent::all(), WebhookEvent::as_str);
    let problem = answer(json!({ "type": string(), "log_id": string() }));
    let end_user = json!({
        "type": "object",
        "required": ["id"],
        "properties": { "id": { "type": "string", "minLength": 1, "maxLength": 255 } },
    });
    let session_end_user = request(
        &["id"],
        json!({
            "id": string(),
            "email": string(),
            "display_name": string(),
            "tags": object(),
        }),
    );
    let organization = request(&["id"], json!({ "id": string(), "display_name": nullable(string()) }));
    let custom = json!({
        "type": "object",
        "description": "Operator-defined OAuth2 endpoints (required for custom-oauth2; for a catalog provider, they override its URLs).",
        "properties": {
            "authorization_url": string(),
            "token_url": string(),
            "proxy_base_url": string(),
            "userinfo_url": string(),
            "authorization_params": object(),
            "token_params": object(),
            "scope_separator": string(),
            "token_request_auth_method": { "type": "string", "description": "body (the default) or basic" },
            "disable_pkce": boolean(),
        },
    });
    let credentials_input = request(
        &[],
        json!({
            "type": auth_mode,
            "client_id": { "type": "string", "description": "Not needed for an MCP_OAUTH2 entry with dynamic client registration (Latchkey registers its client when the integration is created) nor for MCP_OAUTH2_GENERIC (a client per connection)." },
            "client_secret": { "type": "string", "description": "Sealed, never returned. OAUTH1 and TBA: the consumer secret; for OAUTH1 an RSA private key (PEM) here makes the consumer sign RSA-SHA1." },
            "scopes": { "description": "A comma-separated string or a list.", "oneOf": [string(), array(string())] },
            "app_id": { "type": "string", "pattern": "^[0-9]{1,20}$", "description": "APP and CUSTOM: the GitHub App's id (the app JWT's issuer)." },
            "app_link": { "type": "string", "format": "uri", "description": "APP and CUSTOM: the app's public https link (https://github.com/apps/<slug>); the browser installs the app under it." },
            "private_key": { "type": "string", "description": "APP and CUSTOM: the app's RSA private key (PEM); sealed, never returned." },
        }),
    );
    let integration_config = request(
        &[],
        json!({
            "service": { "type": "string", "pattern": "^[a-z0-9-]{1,64}$", "description": "AWS_SIGV4: the AWS service requests are signed for (s3, execute-api)." },
            "defaultRegion": { "type": "string", "description": "AWS_SIGV4: the region of a connection that names none (us-east-1)." },
            "stsMode": { "const": "builtin", "description": "AWS_SIGV4: Latchkey calls AWS STS with the access key below; Nango's `custom` STS endpoint is refused." },
            "awsAccessKeyId": { "type": "string", "description": "AWS_SIGV4: the IAM access key that calls sts:AssumeRole on the customers' roles." },
            "awsSecretAccessKey": { "type": "string", "description": "AWS_SIGV4: its secret; sealed, never returned (kept when not sent again)." },
        }),
    );
    let connect_ui = request(
        &[],
        json!({
            "app_name": { "type": "string", "minLength": 1, "maxLength": 64 },
            "primary_color": { "type": "string", "pattern": "^#[0-9A-Fa-f]{6}$" },
            "theme": { "type": "string", "enum": ["light", "dark", "system"] },
        }),
    );
    let imported_credentials = json!({
        "description": "The credentials of the integration's auth mode, by `type`.",
        "oneOf": [
            request(&["type", "access_token"], json!({
                "type": { "const": "OAUTH2" }, "access_token": string(), "refresh_token": string(),
                "expires_at": date_time(), "raw": object(),
            })),
            request(&["type", "apiKey"], json!({ "type": { "const": "API_KEY" }, "apiKey": string() })),
            request(&["type", "username", "password"], json!({
                "type": { "const": "BASIC" }, "username": string(), "password": string(),
            })),
            request(&["type", "token"], json!({
                "type": { "const": "OAUTH2_CC" }, "token": string(), "expires_at": date_time(),
                "client_id": string(), "client_secret": string(), "raw": object(),
                "client_certificate": string(), "client_private_key": string(),
            })),
            {
                "type": "object",
                "required": ["type"],
                "description": "JWT: the catalog's credential fields (the token is signed from them; one given is replaced).",
                "properties": { "type": { "const": "JWT" }, "token": string(), "expires_at": date_time() },
                "additionalProperties": string(),
            },
            {
                "type": "object",
                "required": ["type"],
                "additionalProperties": false,
                "description": "APP: the token is minted for connection_config.installation_id (one given is replaced).",
                "properties": { "type": { "const": "APP" }, "access_token": string(), "expires_at": date_time(), "raw": object() },
            },
            {
                "type": "object",
                "required": ["type"],
                "additionalProperties": false,
                "description": "CUSTOM: the installation token is minted for connection_config.installation_id (an `app` given is replaced); `user` is the installing user's OAUTH2 token, kept as given.",
                "properties": {
                    "type": { "const": "CUSTOM" },
                    "app": object(),
                    "user": nullable(request(&["type", "access_token"], json!({
                        "type": { "const": "OAUTH2" }, "access_token": string(), "refresh_token": string(),
                        "expires_at": date_time(), "raw": object(),
                    }))),
                    "raw": object(),
                },
            },
            request(&["type"], json!({ "type": { "const": "NONE" } })),
            request(&["type", "oauth_token", "oauth_token_secret"], json!({
                "type": { "const": "OAUTH1" }, "oauth_token": string(), "oauth_token_secret": string(), "raw": object(),
            })),
            request(&["type", "token_id", "token_secret"], json!({
                "type": { "const": "TBA" }, "token_id": string(), "token_secret": string(),
            })),
            request(&["type", "username", "password"], json!({
                "type": { "const": "SIGNATURE" }, "username": string(), "password": string(),
                "token": string(), "expires_at": date_time(),
            })),
            request(&["type", "username", "password", "organization_id", "dev_key"], json!({
                "type": { "const": "BILL" }, "username": string(), "password": string(),
                "organization_id": string(), "dev_key": string(), "session_id": string(),
                "user_id": string(), "expires_at": date_time(), "raw": object(),
            })),
            request(&["type", "role_arn"], json!({
                "type": { "const": "AWS_SIGV4" }, "role_arn": string(), "region": string(),
                "external_id": { "type": "string", "pattern": "^[A-Za-z0-9+=,.@:/-]{2,1224}$" },
                "service": string(), "access_key_id": string(), "secret_access_key": string(),
                "session_token": string(), "expires_at": date_time(), "raw": object(),
            })),
        ],
    });
    let mut all = Map::new();
    all.insert("Error".into(), json!({
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": answer(json!({
                    "code": words(ErrorCode::ALL, ErrorCode::as_str),
                    "message": { "type": "string", "description": "For the caller; never a secret or a submitted value." },
                })),
            },
        }));
    all.insert("Success".into(), json!(answer(json!({ "success": { "const": true } }))));
    all.insert("AuthMode".into(), json!(auth_mode));
    all.insert("Problem".into(), json!(problem));
    all.insert("Connection".into(), json!(answer(json!({
            "id": string(),
            "connection_id": string(),
            "provider_config_key": string(),
            "provider": string(),
            "created_at": date_time(),
            "updated_at": date_time(),
            "last_fetched_at": date_time(),
            "metadata": object(),
            "connection_config": { "type": "object", "description": "Fields the provider marks secret are `********` unless `secret_config=true`." },
            "end_user": nullable(object()),
            "tags": object(),
            "errors": array(schema("Problem")),
            "webhook_url_override": nullable(string()),
            "credentials": {
                "type": "object",
                "required": ["type"],
                "description": "By `type`: OAUTH2 (access_token, expires_at, raw; refresh_token only with `refresh_token=true`), API_KEY (apiKey), BASIC (username, password), OAUTH2_CC (token, expires_at, raw, client_id, client_certificate; never client_secret or client_private_key), TWO_STEP (token, refresh_token?, expires_at?, raw, headers?; never the end user's fields), JWT (token, expires_at; never the end user's fields or key), APP (access_token: the installation token, expires_at, raw: GitHub's answer), CUSTOM (app: an APP value, user: the installing user's OAUTH2 value or null, its refresh_token only with `refresh_token=true`; raw: the installation's answer), NONE (type only), OAUTH1 (oauth_token, oauth_token_secret, raw: the provider's access token answer), TBA (token_id, token_secret), SIGNATURE (username, token: the X-WSSE value, expires_at; never password), BILL (username, organization_id, dev_key, session_id, user_id, expires_at, raw: Bill's login answer; never password), AWS_SIGV4 (role_arn, region, service, access_key_id, secret_access_key, session_token: the assumed role's temporary credentials, expires_at, external_id, raw). MCP_OAUTH2 and MCP_OAUTH2_GENERIC connections hold OAUTH2 credentials (type OAUTH2, as Nango's). Never a client secret.",
                "properties": { "type": schema("AuthMode") },
            },
        }))));
    all.insert(
        "ConnectionList".into(),
        json!(answer(json!({
            "connections": array(answer(json!({
                "id": string(),
                "connection_id": string(),
                "provider_config_key": string(),
                "provider": string(),
                "auth_mode": schema("AuthMode"),
                "created": date_time(),
                "metadata": object(),
                "errors": array(schema("Problem")),
                "end_user": nullable(object()),
                "tags": object(),
            }))),
        }))),
    );
    all.insert(
        "ImportConnection".into(),
        json!(request(
            &["provider_config_key", "credentials"],
            json!({
                "connection_id": identifier(),
                "provider_config_key": identifier(),
                "credentials": imported_credentials,
                "connection_config": object(),
                "metadata": object(),
                "end_user": end_user,
                "tags": object(),
                "webhook_url_override": { "type": "string", "format": "uri" },
            })
        )),
    );
    all.insert(
        "ConnectionPatch".into(),
        json!(request(
            &[],
            json!({
                "end_user": end_user,
                "tags": object(),
                "webhook_url_override": nullable(json!({ "type": "string", "format": "uri" })),
            })
        )),
    );
    all.insert("MetadataWrite".into(), json!(request(&["connection_id", "provider_config_key", "metadata"], json!({
            "connection_id": { "oneOf": [identifier(), { "type": "array", "items": identifier(), "minItems": 1, "maxItems": 100 }] },
            "provider_config_key": identifier(),
            "metadata": object(),
        }))));
    all.insert(
        "MetadataWritten".into(),
        json!(answer(json!({
            "connection_id": { "oneOf": [string(), array(string())] },
            "provider_config_key": string(),
            "metadata": object(),
        }))),
    );
    all.insert("CustomOAuth2".into(), json!(custom));
    all.insert("Integration".into(), json!(answer(json!({
            "unique_key": string(),
            "provider": string(),
            "display_name": string(),
            "auth_mode": schema("AuthMode"),
            "created_at": date_time(),
            "updated_at": date_time(),
            "credentials": request(&["type", "client_id", "client_secret", "scopes"], json!({
                "type": schema("AuthMode"),
                "client_id": nullable(string()),
                "client_secret": { "description": "`********` when one is set; never the secret.", "oneOf": [{ "const": "********" }, { "type": "null" }] },
                "scopes": { "type": "string", "description": "Comma-separated." },
                "app_id": { "type": "string", "description": "APP: the GitHub App's id." },
                "app_link": { "type": "string", "description": "APP: the app's public link." },
                "private_key": { "description": "APP: `********`; never the key.", "const": "********" },
            })),
            "custom": nullable(schema("CustomOAuth2")),
            "integration_config": { "description": "AWS_SIGV4: its settings, awsSecretAccessKey `********`; null for other modes.", "type": ["object", "null"] },
            "allowed_hosts": array(string()),
            "default_allowed_hosts": array(string()),
        }))));
    all.insert("CreateIntegration".into(), json!(request(&["provider", "unique_key"], json!({
            "provider": json!({ "type": "string", "description": "A catalog name (`GET /providers`), or custom-oauth2.", "examples": ["github", "exa"] }),
            "unique_key": identifier(),
            "display_name": { "type": "string", "maxLength": 255 },
            "credentials": credentials_input,
            "custom": schema("CustomOAuth2"),
            "allowed_hosts": array(string()),
            "integration_config": integration_config,
        }))));
    all.insert(
        "UpdateIntegration".into(),
        json!(request(
            &[],
            json!({
                "unique_key": identifier(),
                "display_name": { "type": "string", "maxLength": 255 },
                "credentials": credentials_input,
                "custom": schema("CustomOAuth2"),
                "allowed_hosts": array(string()),
                "integration_config": integration_config,
            })
        )),
    );
    all.insert("Activity".into(), json!({
            "type": "object",
            "required": ["id", "attempt_id", "timestamp", "operation", "event", "level", "integration", "connection_id", "message"],
            "additionalProperties": false,
            "properties": {
                "id": string(),
                "attempt_id": string(),
                "timestamp": date_time(),
                "operation": string(),
                "event": string(),
                "level": { "type": "string", "enum": ["info", "error"] },
                "integration": nullable(string()),
                "connection_id": nullable(string()),
                "message": string(),
                "error_code": nullable(string()),
            },
        }));
    all.insert(
        "ActivityPage".into(),
        json!(answer(json!({
            "data": array(schema("Activity")),
            "next_cursor": nullable(string()),
        }))),
    );
    all.insert("ConnectUi".into(), json!(connect_ui));
    all.insert("Environment".into(), json!({
            "type": "object",
            "required": ["environment", "public_key", "callback_url", "default_callback_url", "hmac_enabled",
                         "allowed_origins", "webhook_url", "webhook_events", "connect_ui", "previous_secret_key_expires_at"],
            "additionalProperties": false,
            "properties": {
                "environment": string(),
                "public_key": string(),
                "callback_url": string(),
                "default_callback_url": string(),
                "hmac_enabled": boolean(),
                "allowed_origins": array(string()),
                "webhook_url": nullable(string()),
                "webhook_events": array(webhook_event.clone()),
                "connect_ui": schema("ConnectUi"),
                "previous_secret_key_expires_at": nullable(date_time()),
                "rotated_keys": { "type": "object", "description": "The keys this PATCH rotated, shown once.", "additionalProperties": string() },
            },
        }));
    all.insert(
        "EnvironmentPatch".into(),
        json!(request(
            &[],
            json!({
                "hmac_enabled": boolean(),
                "allowed_origins": array(string()),
                "callback_url": nullable(json!({ "type": "string", "format": "uri" })),
                "webhook_url": nullable(json!({ "type": "string", "format": "uri" })),
                "webhook_events": array(webhook_event),
                "rotate_keys": array(key_name),
                "rotation_grace_seconds": { "type": "integer", "minimum": 0, "maximum": 2_592_000 },
                "connect_ui": schema("ConnectUi"),
            })
        )),
    );
    all.insert(
        "TestWebhook".into(),
        json!(answer(json!({ "delivered": boolean(), "message": string() }))),
    );
    all.insert(
        "CreateConnectSession".into(),
        json!(request(
            &["end_user"],
            json!({
                "end_user": session_end_user,
                "organization": organization,
                "allowed_integrations": array(string()),
                "integrations_config_defaults": object(),
                "webhook_url_override": { "type": "string", "format": "uri" },
            })
        )),
    );
    all.insert(
        "ReconnectSession".into(),
        json!(request(
            &["connection_id", "integration_id"],
            json!({
                "connection_id": identifier(),
                "integration_id": identifier(),
                "end_user": session_end_user,
                "organization": organization,
                "integrations_config_defaults": object(),
                "webhook_url_override": { "type": "string", "format": "uri" },
            })
        )),
    );
    all.insert(
        "ConnectSession".into(),
        json!(answer(
            json!({ "token": string(), "connect_link": string(), "expires_at": date_time() })
        )),
    );
    all.insert("Provider".into(), json!({
            "type": "object",
            "description": "A catalog entry as the catalog holds it (its URLs, credential fields, refresh rules…), and whether Latchkey can connect it.",
            "required": ["name", "display_name", "auth_mode", "categories", "supported"],
            "properties": {
                "name": string(),
                "display_name": string(),
                "auth_mode": schema("AuthMode"),
                "categories": array(string()),
                "supported": boolean(),
            },
        }));
    all.insert("ConnectOffer".into(), json!(answer(json!({
            "expires_at": date_time(),
            "is_reconnecting": boolean(),
            "integrations": array(answer(json!({
                "unique_key": string(),
                "display_name": string(),
                "provider": string(),
                "auth_mode": schema("AuthMode"),
                "flow": { "type": "string", "enum": ["popup", "form"] },
                "path": string(),
                "fields": array({
                    let mut field = answer(json!({
                        "name": string(),
                        "group": { "type": "string", "enum": ["connection_config", "credentials"] },
                        "required": boolean(),
                    }));
                    field["additionalProperties"] = json!(true);
                    field["description"] = json!("With the catalog's rules of the field: type, format, pattern, enum, example, prefix, suffix, secret, …");
                    field
                }),
            }))),
        }))));
    all.insert(
        "Connected".into(),
        json!(answer(
            json!({ "providerConfigKey": string(), "connectionId": string() })
        )),
    );
    all.insert(
        "ApiKeyCredentials".into(),
        json!(request(
            &["apiKey"],
            json!({ "apiKey": { "type": "string", "minLength": 1, "maxLength": 8192 } })
        )),
    );
    all.insert(
        "BasicCredentials".into(),
        json!(request(&[], json!({ "username": string(), "password": string() }))),
    );
    all.insert(
        "ClientCredentials".into(),
        json!(request(
            &[],
            json!({
                "client_id": string(), "client_secret": string(),
                "client_certificate": { "type": "string", "description": "PEM; with client_private_key, for a provider that asks for mutual TLS (ADP)." },
                "client_private_key": { "type": "string", "description": "PEM; sealed, never returned." },
            })
        )),
    );
    all.insert("ModeCredentials".into(), json!({
            "type": "object",
            "description": "The mode's credential fields by the catalog's names (letters, digits and _ - .), each a string (for jwt, a key may also be {id, secret}: Ghost's id:secret).",
            "additionalProperties": string(),
        }));
    all.insert("PollResult".into(), json!({
            "oneOf": [
                answer(json!({ "status": { "const": "success" }, "providerConfigKey": string(), "connectionId": string() })),
                answer(json!({ "status": { "const": "error" }, "error_type": string(), "error_desc": string() })),
                answer(json!({ "status": { "const": "pending" } })),
            ],
        }));
    all
}
