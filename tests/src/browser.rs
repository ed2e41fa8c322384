//! A browser without a screen: a cookie-jar HTTP client that follows redirects one by one and
//! submits `oidc-provider`'s dev login and consent forms, the way a person would click through
//! them. It stops before Latchkey's callback when a test needs the callback URL itself (to
//! replay it, or to let a state expire first).

use std::time::Duration;

use reqwest::header::LOCATION;
use serde_json::Value;
use url::Url;

pub struct Browser {
    http: reqwest::Client,
    /// Latchkey's `/oauth/callback`: where `authorize` stops.
    callback_url: String,
}

/// Where a connect request landed: the provider's interaction page (login or consent).
#[derive(Debug)]
pub struct Landing {
    pub url: Url,
    pub html: String,
}

/// Latchkey's result page, with what its script posts to the opener.
#[derive(Debug)]
pub struct ResultPage {
    pub status: u16,
    pub html: String,
    /// The `postMessage` payload.
    pub message: Value,
    /// The `postMessage` target origin; `None` = nothing is posted to the opener.
    pub target: Option<String>,
}

impl ResultPage {
    pub fn parse(status: u16, html: String) -> ResultPage {
        let script_value = |name: &str| -> Value {
            let start = html
                .find(&format!("var {name} = "))
                .unwrap_or_else(|| panic!("no `var {name}` in the result page: {html}"))
                + name.len()
                + 7;
            let end = start + html[start..].find(";\n").expect("the statement ends");
            serde_json::from_str(&html[start..end]).expect("the script value is JSON")
        };
        let message = script_value("message");
        let target = script_value("target").as_str().map(str::to_owned);
        ResultPage {
            status,
            html,
            message,
            target,
        }
    }

    pub fn is_success(&self) -> bool {
        self.message["type"] == "latchkey:auth:success"
    }

    pub fn error_type(&self) -> &str {
        self.message["error_type"].as_str().unwrap_or("")
    }
}

enum Step {
    /// A page (not a redirect) at this URL.
    Page(Url, reqwest::Response),
    /// A redirect to Latchkey's callback, not followed.
    Callback(String),
}

impl Browser {
    pub fn new(callback_url: &str) -> Browser {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Browser {
            http,
            callback_url: callback_url.to_owned(),
        }
    }

    /// A browser that reaches each of `names` at `addr` and trusts `ca_pem`: a TLS stand-in's
    /// test certificate authority (the provider's own URLs are used as written).
    pub fn with_tls_names(callback_url: &str, names: &[&str], addr: std::net::SocketAddr, ca_pem: &str) -> Browser {
        let mut builder = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap());
        for name in names {
            builder = builder.resolve(name, addr);
        }
        Browser {
            http: builder.build().unwrap(),
            callback_url: callback_url.to_owned(),
        }
    }

    /// Follows redirects from `response` (GET, as browsers do after 302/303) until a page, or
    /// until the next hop is Latchkey's callback.
    async fn follow(&self, mut url: Url, mut response: reqwest::Response) -> Step {
        for _ in 0..10 {
            if !response.status().is_redirection() {
                return Step::Page(url, response);
            }
            let location = response.headers()[LOCATION].to_str().unwrap().to_owned();
            url = url.join(&location).expect("a valid Location");
            if url.as_str().starts_with(&self.callback_url) {
                return Step::Callback(url.to_string());
            }
            response = self.http.get(url.clone()).send().await.expect("the hop answers");
        }
        panic!("too many redirects, last at {url}");
    }

    /// Opens a connect URL (with request headers such as `Referer`) and follows it to the
    /// provider's first interaction page.
    pub async fn start(&self, connect_url: &str, headers: &[(&str, &str)]) -> Landing {
        let provider_url = self.begin(connect_url, headers).await;
        self.visit(&provider_url).await
    }

    /// Opens a connect URL in this browser (which keeps the flow's cookie) and returns where
    /// it sends the browser, not yet opened: the provider's authorization URL.
    pub async fn begin(&self, connect_url: &str, headers: &[(&str, &str)]) -> String {
        let mut request = self.http.get(connect_url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("connect answers");
        assert_eq!(response.status(), 302, "connect redirects to the provider");
        let location = response.headers()[LOCATION].to_str().unwrap();
        Url::parse(connect_url).unwrap().join(location).unwrap().to_string()
    }

    /// Opens `url` (a provider's authorization URL, say) and follows it to the provider's
    /// first interaction page.
    pub async fn visit(&self, url: &str) -> Landing {
        let response = self.http.get(url).send().await.expect("the page answers");
        match self.follow(Url::parse(url).unwrap(), response).await {
            Step::Page(url, response) => Landing {
                url,
                html: response.text().await.unwrap(),
            },
            Step::Callback(url) => panic!("the provider skipped its interaction and went to {url}"),
        }
    }

    /// Logs in as `user` and consents (each only when the provider asks), returning the
    /// callback URL the provider sends the browser to, not yet opened.
    pub async fn authorize(&self, landing: Landing, user: &str) -> String {
        let (mut url, mut html) = (landing.url, landing.html);
        for _ in 0..4 {
            let form: Vec<(&str, &str)> = if html.contains(r#"name="prompt" value="login""#) {
                vec![("prompt", "login"), ("login", user), ("password", "x")]
            } else if html.contains(r#"name="prompt" value="consent""#) {
                vec![("prompt", "consent")]
            } else {
                panic!("unexpected provider page at {url}: {html}");
            };
            let response = self.http.post(url.clone()).form(&form).send().await.unwrap();
            match self.follow(url.clone(), response).await {
                Step::Callback(callback) => return callback,
                Step::Page(next, response) => {
                    url = next;
                    html = response.text().await.unwrap();
                }
            }
        }
        panic!("the provider never redirected back to Latchkey");
    }

    /// Declines at the provider (`/interaction/{uid}/abort`): returns the callback URL, which
    /// carries `error=access_denied`.
    pub async fn deny(&self, landing: Landing) -> String {
        let abort = landing.url.join(&format!("{}/abort", landing.url.path())).unwrap();
        let response = self.http.get(abort.clone()).send().await.unwrap();
        match self.follow(abort, response).await {
            Step::Callback(callback) => callback,
            Step::Page(url, _) => panic!("abort did not redirect back, stopped at {url}"),
        }
    }

    /// Opens Latchkey's callback URL and reads the result page.
    pub async fn finish(&self, callback_url: &str) -> ResultPage {
        let response = self.http.get(callback_url).send().await.unwrap();
        let status = response.status().as_u16();
        ResultPage::parse(status, response.text().await.unwrap())
    }

    /// The whole flow a person clicks through: connect, log in, consent, result page.
    pub async fn connect(&self, connect_url: &str, headers: &[(&str, &str)], user: &str) -> ResultPage {
        let landing = self.start(connect_url, headers).await;
        let callback = self.authorize(landing, user).await;
        self.finish(&callback).await
    }
}
