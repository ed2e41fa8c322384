//! What every public (frontend) route shares at the edge: the connect query parsed into a
//! `flows::start::ConnectRequest`, and where results may be sent.

use axum::http::{header, HeaderMap};

use super::auth_result;
use crate::auth::oauth2::authorize::RESERVED_AUTHORIZATION_PARAMS;
use crate::error::{Error, ErrorCode};
use crate::flows::start::ConnectRequest;

const MAX_VALUE_LEN: usize = 2048;

fn bracketed<'a>(key: &'a str, prefix: &str) -> Option<&'a str> {
    key.strip_prefix(prefix)?.strip_prefix('[')?.strip_suffix(']')
}

fn check_param(kind: &str, key: &str, value: &str) -> Result<(), Error> {
    let key_ok =
        !key.is_empty() && key.len() <= 64 && key.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    if !key_ok {
        return Err(Error::invalid(
            ErrorCode::InvalidQueryParams,
            format!("{kind} names may contain only letters, digits and _ - ."),
        ));
    }
    if value.len() > MAX_VALUE_LEN || value.chars().any(char::is_control) {
        return Err(Error::invalid(
            ErrorCode::InvalidQueryParams,
            format!("{kind}[{key}] is too long or holds control characters."),
        ));
    }
    Ok(())
}

/// Parses the query of a connect URL. Brackets may arrive percent-encoded
/// (`params%5Bsubdomain%5D`): the query is decoded before keys are matched. Unknown keys (cache
/// busters, other clients' extras) are ignored.
pub fn parse_connect_query(raw: Option<&str>) -> Result<ConnectRequest, Error> {
    let mut q = ConnectRequest::default();
    for (key, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        let (key, value) = (key.into_owned(), value.into_owned());
        let nonempty = || Some(value.clone()).filter(|v| !v.is_empty());
        match key.as_str() {
            "connection_id" => q.connection_id = nonempty(),
            "public_key" => q.public_key = nonempty(),
            "hmac" => q.hmac = nonempty(),
            "user_scope" => q.user_scope = nonempty(),
            "connect_session_token" => q.connect_session_token = nonempty(),
            "client_nonce" => {
                q.result_nonce_hash = Some(crate::flows::poll::nonce_hash(&auth_result::parse_nonce(&value)?));
            }
            "ws_client_id" if !value.is_empty() => q.ws_client_id = Some(crate::sockets::parse_client_id(&value)?),
            k => {
                if let Some(name) = bracketed(k, "params") {
                    check_param("params", name, &value)?;
                    q.params.retain(|(n, _)| n != name);
                    q.params.push((name.to_owned(), value));
                } else if let Some(name) = bracketed(k, "authorization_params") {
                    check_param("authorization_params", name, &value)?;
                    if RESERVED_AUTHORIZATION_PARAMS.contains(&name) {
                        return Err(Error::invalid(
                            ErrorCode::InvalidQueryParams,
                            format!("authorization_params[{name}] is set by Latchkey and cannot be overridden."),
                        ));
                    }
                    q.authorization_params.retain(|(n, _)| n != name);
                    q.authorization_params.push((name.to_owned(), value));
                }
            }
        }
    }
    Ok(q)
}

/// The web origin of the page that started a browser flow: `Origin`, else the `Referer`'s
/// origin (a popup navigation carries only the latter).
pub fn request_origin(headers: &HeaderMap) -> Option<String> {
    let from = |name| headers.get(name).and_then(|v| v.to_str().ok()).filter(|v| *v != "null");
    let raw = from(header::ORIGIN).or_else(|| from(header::REFERER))?;
    let url = url::Url::parse(raw).ok()?;
    matches!(url.scheme(), "http" | "https").then(|| url.origin().ascii_serialization())
}

pub fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}

#[cfg(test)]
mod props;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::EnvironmentSettings;

    #[test]
    fn encoded_brackets_decode_to_connection_config() {
        let q = parse_connect_query(Some("public_key=pk&connection_id=u1&params%5Bsubdomain%5D=acme&params[region]=eu&authorization_params%5Bprompt%5D=consent&x=1")).unwrap();
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
                parse_connect_query(Some(bad)).unwrap_err().code,
                ErrorCode::InvalidQueryParams,
                "{bad}"
            );
        }
        assert_eq!(
            parse_connect_query(Some("connection_id=a/b"))
                .unwrap()
                .connection_id()
                .unwrap_err()
                .code,
            ErrorCode::InvalidConnectionId
        );
    }

    #[test]
    fn origins_come_from_origin_or_referer_and_respect_the_allow_list() {
        let mut h = HeaderMap::new();
        h.insert(header::REFERER, "https://app.example.com/settings?x=1".parse().unwrap());
        assert_eq!(request_origin(&h).as_deref(), Some("https://app.example.com"));
        h.insert(header::ORIGIN, "http://localhost:5173".parse().unwrap());
        assert_eq!(request_origin(&h).as_deref(), Some("http://localhost:5173"));
        let own = "https://auth.example.com";
        let open = EnvironmentSettings::default();
        assert!(open.allows_origin(own, "https://a.com"));
        let strict = EnvironmentSettings {
            allowed_origins: vec!["https://a.com".into()],
            ..Default::default()
        };
        assert!(!strict.allows_origin(own, "https://evil.com"));
        assert!(strict.allows_origin(own, "https://a.com"));
    }
}
