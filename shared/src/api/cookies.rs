//! Cookies of the API: reading one from a request, and the browser binding of an OAuth flow.
//!
//! `/oauth/connect` sets one cookie per flow, named after its binding (so flows started side
//! by side each keep theirs) and holding it: `HttpOnly` (no script reads it), `SameSite=Lax`
//! (sent on the provider's top-level redirect back to the callback, a GET — also through the
//! custom callback domain's 308, which keeps the method — but on no cross-site subrequest or
//! POST), `Secure` with a `__Secure-` name under https, `Path` the API's own callback, and the
//! flow session's lifetime. The callback reads it back and clears it.

use axum::http::{header, HeaderMap, HeaderValue};

use crate::config::Config;

/// The value of cookie `name` in the request's `Cookie` headers, if it is there.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim_matches('"'))
}

/// The name of a flow's cookie: a prefix of its binding identifies it among the flows a browser
/// has under way.
pub fn flow_cookie_name(config: &Config, binding: &str) -> String {
    let prefix = if config.is_https() { "__Secure-" } else { "" };
    format!("{prefix}latchkey_flow_{}", &binding[..binding.len().min(16)])
}

fn flow_cookie(config: &Config, binding: &str, value: &str, max_age: i64) -> HeaderValue {
    let secure = if config.is_https() { "; Secure" } else { "" };
    let text = format!(
        "{}={value}; Path={}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}",
        flow_cookie_name(config, binding),
        config.api_callback_url().path(),
    );
    HeaderValue::from_str(&text).expect("cookie parts are header-safe")
}

/// The `Set-Cookie` that binds a flow to the browser starting it.
pub fn set_flow_cookie(config: &Config, binding: &str) -> HeaderValue {
    flow_cookie(
        config,
        binding,
        binding,
        config.oauth_session_ttl.whole_seconds().max(1),
    )
}

/// The `Set-Cookie` that removes a flow's cookie once its callback came.
pub fn clear_flow_cookie(config: &Config, binding: &str) -> HeaderValue {
    flow_cookie(config, binding, "", 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str) -> Config {
        Config::new("test", url.parse().unwrap(), None)
    }

    #[test]
    fn a_flow_cookie_is_http_only_lax_scoped_to_the_callback_and_secure_under_https() {
        let binding = "ab".repeat(32);
        let https = set_flow_cookie(&config("https://api.example.com/prod"), &binding);
        assert_eq!(
            https.to_str().unwrap(),
            format!(
                "__Secure-latchkey_flow_abababababababab={binding}; Path=/prod/oauth/callback; Max-Age=600; HttpOnly; \
                 SameSite=Lax; Secure"
            )
        );
        let http = set_flow_cookie(&config("http://127.0.0.1:3003"), &binding);
        assert_eq!(
            http.to_str().unwrap(),
            format!(
                "latchkey_flow_abababababababab={binding}; Path=/oauth/callback; Max-Age=600; HttpOnly; SameSite=Lax"
            )
        );
        // A custom callback domain changes where providers send the browser, not the cookie's
        // path: the callback domain's redirect lands on the API's own callback.
        let custom = Config::new(
            "test",
            "https://api.example.com".parse().unwrap(),
            Some("https://auth.example.com/oauth/callback".parse().unwrap()),
        );
        assert!(set_flow_cookie(&custom, &binding)
            .to_str()
            .unwrap()
            .contains("; Path=/oauth/callback;"));
        assert!(clear_flow_cookie(&custom, &binding)
            .to_str()
            .unwrap()
            .contains("=; Path=/oauth/callback; Max-Age=0;"));
    }

    #[test]
    fn cookies_are_found_among_several_headers_and_pairs() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, "a=1; latchkey_flow_x=one".parse().unwrap());
        h.append(header::COOKIE, "b=2;latchkey_flow_y=\"two\"".parse().unwrap());
        assert_eq!(cookie(&h, "latchkey_flow_x"), Some("one"));
        assert_eq!(cookie(&h, "latchkey_flow_y"), Some("two"));
        assert_eq!(cookie(&h, "latchkey_flow"), None);
        assert_eq!(cookie(&HeaderMap::new(), "a"), None);
    }
}
