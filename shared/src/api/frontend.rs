//! What every public (frontend) route shares: parsing the connect query, authenticating the
//! environment's public key and HMAC digest, and finding where results may be sent.

use axum::http::{header, HeaderMap};

use crate::domain::ConnectionId;
use crate::error::ApiError;
use crate::signing::{constant_time_eq, verify_connect_digest};
use crate::store::EnvironmentSettings;
use crate::AppState;

/// The query of a connect URL. Brackets may arrive percent-encoded (`params%5Bsubdomain%5D`):
/// the query is decoded before keys are matched.
#[derive(Debug, Default)]
pub struct ConnectQuery {
    pub connection_id: Option<String>,
    pub public_key: Option<String>,
    pub hmac: Option<String>,
    pub params: Vec<(String, String)>,
    pub authorization_params: Vec<(String, String)>,
    pub user_scope: Option<String>,
}

const MAX_VALUE_LEN: usize = 2048;

fn bracketed<'a>(key: &'a str, prefix: &str) -> Option<&'a str> {
    key.strip_prefix(prefix)?.strip_prefix('[')?.strip_suffix(']')
}

fn check_param(kind: &str, key: &str, value: &str) -> Result<(), ApiError> {
    let key_ok =
        !key.is_empty() && key.len() <= 64 && key.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    if !key_ok {
        return Err(ApiError::bad_request(
            "invalid_query_params",
            format!("{kind} names may contain only letters, digits and _ - ."),
        ));
    }
    if value.len() > MAX_VALUE_LEN || value.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "invalid_query_params",
            format!("{kind}[{key}] is too long or holds control characters."),
        ));
    }
    Ok(())
}

impl ConnectQuery {
    pub fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let mut q = ConnectQuery::default();
        for (key, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            let (key, value) = (key.into_owned(), value.into_owned());
            let nonempty = || Some(value.clone()).filter(|v| !v.is_empty());
            match key.as_str() {
                "connection_id" => q.connection_id = nonempty(),
                "public_key" => q.public_key = nonempty(),
                "hmac" => q.hmac = nonempty(),
                "user_scope" => q.user_scope = nonempty(),
                k => {
                    if let Some(name) = bracketed(k, "params") {
                        check_param("params", name, &value)?;
                        q.params.retain(|(n, _)| n != name);
                        q.params.push((name.to_owned(), value));
                    } else if let Some(name) = bracketed(k, "authorization_params") {
                        check_param("authorization_params", name, &value)?;
                        if crate::auth::oauth2::RESERVED_AUTHORIZATION_PARAMS.contains(&name) {
                            return Err(ApiError::bad_request(
                                "invalid_query_params",
                                format!("authorization_params[{name}] is set by Latchkey and cannot be overridden."),
                            ));
                        }
                        q.authorization_params.retain(|(n, _)| n != name);
                        q.authorization_params.push((name.to_owned(), value));
                    }
                    // Other keys (cache busters, other clients' extras) are ignored.
                }
            }
        }
        Ok(q)
    }

    pub fn connection_id(&self) -> Result<Option<ConnectionId>, ApiError> {
        self.connection_id.clone().map(ConnectionId::parse).transpose()
    }

    pub fn connection_config(&self) -> crate::domain::ConnectionConfig {
        self.params
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect()
    }
}

/// Checks the public key, then (when the environment asks for it) the HMAC digest of
/// `integration[:connection_id]`.
pub fn authenticate(
    state: &AppState,
    settings: &EnvironmentSettings,
    query: &ConnectQuery,
    integration: &str,
    connection_id: Option<&str>,
) -> Result<(), ApiError> {
    let public_key = query.public_key.as_deref().ok_or_else(|| {
        ApiError::unauthorized(
            "missing_auth_token",
            "The public_key (or connect_session_token) parameter is missing.",
        )
    })?;
    if !constant_time_eq(public_key, &state.keys.public_key) {
        return Err(ApiError::unauthorized(
            "invalid_auth_token",
            "The public key is not valid for this environment.",
        ));
    }
    if settings.hmac_enabled {
        let digest = query.hmac.as_deref().ok_or_else(|| {
            ApiError::unauthorized(
                "missing_hmac",
                "This environment requires an hmac digest on every connect request.",
            )
        })?;
        if !verify_connect_digest(state.keys.hmac_key.expose(), integration, connection_id, digest) {
            return Err(ApiError::unauthorized(
                "invalid_hmac",
                "The hmac digest does not match the integration and connection id.",
            ));
        }
    }
    Ok(())
}

/// The web origin of the page that started a browser flow: `Origin`, else the `Referer`'s
/// origin (a popup navigation carries only the latter).
pub fn request_origin(headers: &HeaderMap) -> Option<String> {
    let from = |name| headers.get(name).and_then(|v| v.to_str().ok()).filter(|v| *v != "null");
    let raw = from(header::ORIGIN).or_else(|| from(header::REFERER))?;
    let url = url::Url::parse(raw).ok()?;
    matches!(url.scheme(), "http" | "https").then(|| url.origin().ascii_serialization())
}

/// The origin results may be posted to: the requesting origin, if the environment's allow-list
/// is empty or names it.
pub fn result_origin(settings: &EnvironmentSettings, origin: Option<String>) -> Option<String> {
    let origin = origin?;
    (settings.allowed_origins.is_empty() || settings.allowed_origins.iter().any(|o| o == &origin)).then_some(origin)
}

pub fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_brackets_decode_to_connection_config() {
        let q = ConnectQuery::parse(Some("public_key=pk&connection_id=u1&params%5Bsubdomain%5D=acme&params[region]=eu&authorization_params%5Bprompt%5D=consent&x=1")).unwrap();
        assert_eq!(q.public_key.as_deref(), Some("pk"));
        assert_eq!(
            q.params,
            [
                ("subdomain".to_owned(), "acme".to_owned()),
                ("region".to_owned(), "eu".to_owned())
            ]
        );
        assert_eq!(q.authorization_params, [("prompt".to_owned(), "consent".to_owned())]);
    }

    #[test]
    fn flow_parameters_cannot_be_overridden_or_smuggled() {
        for bad in [
            "authorization_params[state]=x",
            "authorization_params[redirect_uri]=https://evil",
            "params[a%20b]=1",
            "params[x]=a%0Ab",
        ] {
            assert_eq!(
                ConnectQuery::parse(Some(bad)).unwrap_err().code,
                "invalid_query_params",
                "{bad}"
            );
        }
        assert_eq!(
            ConnectQuery::parse(Some("connection_id=a/b"))
                .unwrap()
                .connection_id()
                .unwrap_err()
                .code,
            "invalid_connection_id"
        );
    }

    #[test]
    fn origins_come_from_origin_or_referer_and_respect_the_allow_list() {
        let mut h = HeaderMap::new();
        h.insert(header::REFERER, "https://app.example.com/settings?x=1".parse().unwrap());
        assert_eq!(request_origin(&h).as_deref(), Some("https://app.example.com"));
        h.insert(header::ORIGIN, "http://localhost:5173".parse().unwrap());
        assert_eq!(request_origin(&h).as_deref(), Some("http://localhost:5173"));
        let open = EnvironmentSettings::default();
        assert_eq!(
            result_origin(&open, Some("https://a.com".into())).as_deref(),
            Some("https://a.com")
        );
        let strict = EnvironmentSettings {
            allowed_origins: vec!["https://a.com".into()],
            ..Default::default()
        };
        assert_eq!(result_origin(&strict, Some("https://evil.com".into())), None);
        assert_eq!(
            result_origin(&strict, Some("https://a.com".into())).as_deref(),
            Some("https://a.com")
        );
    }
}
