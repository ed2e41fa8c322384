//! The authorization request of the code grant: the URL the browser is sent to, with state,
//! PKCE, scopes and the provider's and the request's extra parameters.

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use url::Url;

use super::endpoints::OAuth2Endpoints;
use crate::domain::OAuthState;
use crate::error::{Error, ErrorCode};

/// Query parameters the flow itself sets; callers may not override them.
pub const RESERVED_AUTHORIZATION_PARAMS: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "code_challenge",
    "code_challenge_method",
];

pub struct AuthorizationRequest<'a> {
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub scopes: &'a [String],
    pub state: &'a OAuthState,
    pub code_challenge: Option<&'a str>,
    /// Per-request extras (`authorization_params[...]`), applied after the provider's own.
    pub extra_params: &'a [(String, String)],
    /// `user_scope` of the connect URL (Slack user-token scopes), sent as its own parameter.
    pub user_scope: Option<&'a [String]>,
}

/// The integration's scopes, then the provider's defaults not already among them.
pub fn effective_scopes(endpoints: &OAuth2Endpoints, configured: &[String]) -> Vec<String> {
    let mut scopes = configured.to_vec();
    for s in &endpoints.default_scopes {
        if !scopes.contains(s) {
            scopes.push(s.clone());
        }
    }
    scopes
}

/// The name a parameter has in the provider's URL, after the catalog's renames (`None`: the
/// provider's entry drops it).
fn renamed<'a>(endpoints: &'a OAuth2Endpoints, name: &'a str) -> Option<&'a str> {
    let mut name = name;
    for (from, to) in &endpoints.authorization_url_replacements {
        let (from, to) = (from.trim_end_matches('='), to.trim_end_matches('='));
        if name == from {
            if to.is_empty() {
                return None;
            }
            name = to;
        }
    }
    Some(name)
}

/// Refuses a request extra that would land on a parameter the flow sets, by its own name or by
/// the name a rename gives it: printful renames `redirect_uri` to `redirect_url`, so an extra
/// `redirect_url` would be a second redirect target. Checked on the names as they reach the URL.
fn check_extras(endpoints: &OAuth2Endpoints, extras: &[(String, String)]) -> Result<(), Error> {
    let reserved: Vec<&str> = RESERVED_AUTHORIZATION_PARAMS
        .iter()
        .flat_map(|name| [Some(*name), renamed(endpoints, name)])
        .flatten()
        .collect();
    for (name, _) in extras {
        let landing = renamed(endpoints, name);
        if reserved.contains(&name.as_str()) || landing.is_some_and(|l| reserved.contains(&l)) {
            return Err(Error::invalid(
                ErrorCode::InvalidQueryParams,
                format!("authorization_params[{name}] is set by Latchkey for this provider and cannot be overridden."),
            ));
        }
    }
    Ok(())
}

/// The URL the browser is sent to. Fails when a request extra names a parameter the flow sets,
/// before or after the provider's renames.
pub fn authorization_url(endpoints: &OAuth2Endpoints, req: &AuthorizationRequest<'_>) -> Result<Url, Error> {
    check_extras(endpoints, req.extra_params)?;
    let shape = &endpoints.url_shape;
    let mut pairs: Vec<(String, String)> = vec![
        ("response_type".into(), "code".into()),
        ("client_id".into(), req.client_id.into()),
        ("redirect_uri".into(), req.redirect_uri.into()),
    ];
    let scopes = effective_scopes(endpoints, req.scopes);
    if !scopes.is_empty() {
        pairs.push(("scope".into(), scopes.join(&endpoints.scope_separator)));
    }
    pairs.push(("state".into(), req.state.expose().into()));
    if let Some(challenge) = req.code_challenge {
        pairs.push(("code_challenge".into(), challenge.into()));
        pairs.push(("code_challenge_method".into(), "S256".into()));
    }
    if let Some(user_scope) = req.user_scope.filter(|s| !s.is_empty()) {
        pairs.push(("user_scope".into(), user_scope.join(&endpoints.scope_separator)));
    }
    let mut extras: Vec<(String, String)> = endpoints.authorization_params.clone();
    for (k, v) in req.extra_params {
        extras.retain(|(ek, _)| ek != k);
        extras.push((k.clone(), v.clone()));
    }
    for (k, v) in extras {
        pairs.retain(|(pk, _)| *pk != k);
        pairs.push((k, v));
    }
    let mut pairs: Vec<(String, String)> = pairs
        .into_iter()
        .filter_map(|(k, v)| renamed(endpoints, &k).map(|k| (k.to_owned(), v)))
        .collect();
    let mut url = endpoints.authorization_url.url().clone();
    if shape.skip_empty {
        pairs.retain(|(_, v)| !v.is_empty());
        let kept: Vec<(String, String)> = url.query_pairs().into_owned().filter(|(_, v)| !v.is_empty()).collect();
        url.set_query(None);
        url.query_pairs_mut().extend_pairs(kept);
    }
    let scope_name = renamed(endpoints, "scope");
    let raw_scope = match scope_name {
        Some(name) if shape.raw_scopes => pairs.iter().position(|(k, _)| k == name).map(|i| pairs.remove(i)),
        _ => None,
    };
    if !pairs.is_empty() {
        url.query_pairs_mut().extend_pairs(pairs);
    }
    if let Some((name, scopes)) = raw_scope {
        let raw = format!("{name}={}", utf8_percent_encode(&scopes, RAW_SCOPE));
        let query = match url.query() {
            Some(q) if !q.is_empty() => format!("{q}&{raw}"),
            _ => raw,
        };
        url.set_query(Some(&query));
    }
    if let Some(fragment) = &shape.fragment {
        let query = url.query().map(|q| format!("?{q}")).unwrap_or_default();
        url.set_query(None);
        url.set_fragment(Some(&format!("{fragment}{query}")));
    }
    Ok(url)
}

/// What a scope list sent as written still encodes: what would end the parameter or the URL
/// (`&`, `#`), a `%` that would read as an escape, and what a URL cannot hold (controls,
/// spaces, quotes, angle brackets). The separators Nango leaves alone (`+`, `,`, `:`, `/`) pass.
const RAW_SCOPE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'<')
    .add(b'>')
    .add(b'`');

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authorization_url_carries_pkce_state_and_extras() {
        let endpoints = OAuth2Endpoints {
            authorization_params: vec![("prompt".into(), "consent".into())],
            ..OAuth2Endpoints::new(
                crate::outbound::Target::catalog(Url::parse("https://id.example.com/auth?audience=api").unwrap()),
                crate::outbound::Target::catalog(Url::parse("https://id.example.com/token").unwrap()),
            )
        };
        let state = OAuthState::new("st");
        let url = authorization_url(
            &endpoints,
            &AuthorizationRequest {
                client_id: "cid",
                redirect_uri: "http://127.0.0.1:3003/oauth/callback",
                scopes: &["openid".into(), "email".into()],
                state: &state,
                code_challenge: Some("chal"),
                extra_params: &[("prompt".into(), "login".into()), ("login_hint".into(), "a@b.c".into())],
                user_scope: None,
            },
        )
        .unwrap();
        let q: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let get = |k: &str| {
            q.iter()
                .filter(|(qk, _)| qk == k)
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(url.host_str(), Some("id.example.com"));
        assert_eq!(get("audience"), ["api"]);
        assert_eq!(get("scope"), ["openid email"]);
        assert_eq!(get("state"), ["st"]);
        assert_eq!(get("code_challenge_method"), ["S256"]);
        assert_eq!(
            get("prompt"),
            ["login"],
            "a request's extra replaces the provider default"
        );
        assert_eq!(get("login_hint"), ["a@b.c"]);
    }

    /// printful renames `redirect_uri` to `redirect_url`: an extra of either name (or of any
    /// name that a rename turns into a reserved one) is refused, never sent twice.
    #[test]
    fn reserved_names_are_checked_after_the_providers_renames() {
        let mut endpoints = OAuth2Endpoints::new(
            crate::outbound::Target::catalog(Url::parse("https://www.printful.com/oauth/authorize").unwrap()),
            crate::outbound::Target::catalog(Url::parse("https://www.printful.com/oauth/token").unwrap()),
        );
        endpoints.authorization_url_replacements = vec![
            ("redirect_uri".into(), "redirect_url".into()),
            ("tag".into(), "state".into()),
            ("response_type".into(), "".into()),
        ];
        let state = OAuthState::new("st");
        let url_with = |extra: &[(String, String)]| {
            authorization_url(
                &endpoints,
                &AuthorizationRequest {
                    client_id: "cid",
                    redirect_uri: "https://latchkey.example/oauth/callback",
                    scopes: &[],
                    state: &state,
                    code_challenge: None,
                    extra_params: extra,
                    user_scope: None,
                },
            )
        };
        for name in ["redirect_url", "redirect_uri", "state", "tag", "client_id"] {
            let e = url_with(&[(name.into(), "https://evil.example/cb".into())]).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidQueryParams, "{name}");
            assert!(e.message.contains(name), "{}", e.message);
            assert!(!e.message.contains("evil"), "the value is not repeated");
        }
        let url = url_with(&[("login_hint".into(), "a@b.c".into())]).unwrap();
        let names: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
        assert_eq!(names.iter().filter(|k| *k == "redirect_url").count(), 1, "{url}");
        assert!(!names.contains(&"redirect_uri".to_owned()) && !names.contains(&"response_type".to_owned()));
        assert!(names.contains(&"login_hint".to_owned()));
    }
}
