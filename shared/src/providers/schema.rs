//! The shape of one catalog entry. Every key of the data is named here (`deny_unknown_fields`),
//! so a new or misspelt key fails the catalog test instead of being silently ignored. Rare,
//! deeply nested blocks we do not interpret yet (multi-step flows, assertions, retry hints) are
//! kept as JSON values so they still round-trip and are served by `GET /providers`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::domain::AuthMode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BodyFormat {
    Form,
    Json,
    Query,
    Xml,
}

/// One user- or provider-supplied value (`connection_config`, `credentials`, `assertion_option`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<FieldFormat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
    #[serde(rename = "enum", default, skip_serializing_if = "Option::is_none")]
    pub allowed: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suffix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automated: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<bool>,
}

impl FieldSpec {
    /// The end user must supply it: not optional, not filled from the provider's response, no default.
    pub fn required(&self) -> bool {
        !self.optional.unwrap_or(false) && !self.automated.unwrap_or(false) && self.default_value.is_none()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldFormat {
    Hostname,
    Uuid,
    Email,
    Uri,
}

/// `token_url` is a string, or one URL per auth mode (`{"OAUTH2": …, "APP": …}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TokenUrl {
    Single(String),
    ByMode(BTreeMap<String, String>),
}

/// Dotted paths into a non-standard token response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TokenResponsePaths {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_expiration: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_expiration_strategy: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Verification {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    pub endpoints: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url_override: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Proxy {
    pub base_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Value>,
}

pub type Fields = BTreeMap<String, FieldSpec>;

/// One catalog entry. Key names follow the data so a catalog entry reads the same everywhere.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provider {
    pub name: String,
    pub display_name: String,
    pub auth_mode: AuthMode,
    pub categories: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias_of: Option<String>,

    // Authorization request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_url_fragment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_params: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_url_replacements: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_url_skip_encode: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_url_skip_empty: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decode_url: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope_separator: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_scopes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_pkce: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uri_metadata: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_code_param_in_callback: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_code_param_in_webhook: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installation: Option<String>,

    // OAuth 1.0a.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_params: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature_method: Option<String>,

    // Token request and response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_url: Option<TokenUrl>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_params: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_headers: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_request_method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_request_auth_method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_format: Option<BodyFormat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_client_certificate: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_response: Option<TokenResponsePaths>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_response_metadata: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_response_headers: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alternate_access_token_response_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_expiration_buffer: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_expires_in_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_unit: Option<String>,

    // Refresh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_params: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_params: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_headers: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_response_metadata: Option<Vec<String>>,

    // Multi-step, signed and registered flows: kept verbatim, not interpreted yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_steps: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assertion: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_registration: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_params: Option<Value>,

    // Values supplied per connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_config: Option<Fields>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Fields>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assertion_option: Option<Fields>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<Proxy>,
}

impl Provider {
    /// The token URL for an auth mode (most providers have a single one).
    pub fn token_url_for(&self, mode: AuthMode) -> Option<&str> {
        match self.token_url.as_ref()? {
            TokenUrl::Single(u) => Some(u),
            TokenUrl::ByMode(m) => m.get(mode.as_str()).map(String::as_str),
        }
    }
}
