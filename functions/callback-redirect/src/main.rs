//! Lambda `callback-redirect`: runs on the operator's own domain (the callback URL registered
//! with providers) and answers every request with `308` to the real callback URL
//! (`LATCHKEY_CALLBACK_TARGET`), the whole query string kept byte for byte. It reads no
//! secret and calls no AWS service; its role has no permissions beyond its log group.

use lambda_http::{service_fn, Body, Error, Request, Response};

/// The redirect target for a request query: `target` plus the query exactly as received.
pub fn location(target: &str, query: Option<&str>) -> String {
    match query.filter(|q| !q.is_empty()) {
        None => target.to_owned(),
        Some(q) if target.contains('?') => format!("{target}&{q}"),
        Some(q) => format!("{target}?{q}"),
    }
}

pub fn redirect(target: &str, req: &Request) -> Response<Body> {
    Response::builder()
        .status(308)
        .header("location", location(target, req.uri().query()))
        .header("cache-control", "no-store")
        .header("referrer-policy", "no-referrer")
        .body(Body::Empty)
        .expect("static response parts are valid")
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let target = std::env::var("LATCHKEY_CALLBACK_TARGET")
        .map_err(|_| "LATCHKEY_CALLBACK_TARGET is required (the API's /oauth/callback URL)")?;
    let target: &'static str = Box::leak(target.into_boxed_str());
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(redirect(target, &req))
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_is_kept_exactly() {
        let t = "https://abc.execute-api.eu-west-1.amazonaws.com/oauth/callback";
        assert_eq!(location(t, None), t);
        assert_eq!(location(t, Some("")), t);
        assert_eq!(
            location(t, Some("code=a%2Fb&state=x%5B1%5D&params%5Bsubdomain%5D=acme")),
            format!("{t}?code=a%2Fb&state=x%5B1%5D&params%5Bsubdomain%5D=acme")
        );
        assert_eq!(
            location("https://x/cb?env=prod", Some("code=1")),
            "https://x/cb?env=prod&code=1"
        );
    }

    #[test]
    fn answers_308_without_a_body() {
        let req = lambda_http::http::Request::builder()
            .uri("https://auth.example.com/oauth/callback?code=1&state=2")
            .body(Body::Empty)
            .unwrap();
        let res = redirect("https://api.example.com/oauth/callback", &req);
        assert_eq!(res.status(), 308);
        assert_eq!(
            res.headers()["location"],
            "https://api.example.com/oauth/callback?code=1&state=2"
        );
    }
}
