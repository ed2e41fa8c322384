//! What the credentials modes share: a submitted value checked against the catalog's field spec
//! (`check_field`), and the provider's `proxy.verification` request that proves credentials
//! before anything is stored (`verify_with_provider`), built from the catalog's templates with
//! the mode's values and authentication. Any failure of that request is
//! `connection_test_failed`; the provider's answer is not echoed.

use reqwest::header::{HeaderName, HeaderValue};

use super::{AuthScheme, ModeContext, Obtained, ProviderRequest};
use crate::credentials::Credentials;
use crate::error::{Error, ErrorCode};
use crate::providers::template::{check_spec, render_text, render_url, Slot, TemplateError, Vars};

pub fn invalid_credentials(message: String) -> Error {
    Error::invalid(ErrorCode::InvalidCredentials, message)
}

/// Checks one credential value: no control characters, and its catalog `pattern`/`enum`/`format`.
pub fn check_field(cx: &ModeContext<'_>, name: &str, value: &str) -> Result<(), Error> {
    if value.chars().any(char::is_control) {
        return Err(invalid_credentials(format!(
            "Credential '{name}' holds control characters."
        )));
    }
    let spec = crate::providers::provider(&cx.integration.provider)
        .and_then(|p| p.credentials.as_ref())
        .and_then(|specs| specs.get(name));
    match spec {
        Some(spec) => check_spec(spec, value)
            .map_err(|reason| invalid_credentials(format!("Credential '{name}' is not valid: {reason}."))),
        None => Ok(()),
    }
}

/// The refresh of credentials that do not expire: the provider is asked again whether they
/// still work.
pub async fn retest(cx: &ModeContext<'_>, scheme: &dyn AuthScheme, current: &Credentials) -> Result<Obtained, Error> {
    verify_with_provider(cx, scheme, current).await?;
    Ok(Obtained {
        credentials: current.clone(),
        connection_config: cx.connection_config.clone(),
        note: super::STILL_ACCEPTED.into(),
    })
}

fn test_failed(message: impl Into<String>) -> Error {
    Error::invalid(ErrorCode::ConnectionTestFailed, message)
}

/// Calls the provider's verification endpoint with the credentials, when the catalog names one.
/// An integration's `custom.proxy_base_url` replaces the catalog's base URL.
pub async fn verify_with_provider(
    cx: &ModeContext<'_>,
    scheme: &dyn AuthScheme,
    credentials: &Credentials,
) -> Result<(), Error> {
    let Some(provider) = crate::providers::provider(&cx.integration.provider) else {
        return Ok(());
    };
    let Some(proxy) = provider.proxy.as_ref() else {
        return Ok(());
    };
    let Some(verification) = proxy.verification.as_ref() else {
        return Ok(());
    };
    let what = format!("Provider '{}'", provider.name);
    let mut vars = Vars {
        credential_specs: provider.credentials.as_ref(),
        ..Vars::config(cx.connection_config, provider.connection_config.as_ref())
    };
    scheme.template_values(credentials, &mut vars);
    let base_template = cx
        .integration
        .custom
        .as_ref()
        .and_then(|c| c.proxy_base_url.as_deref())
        .or(verification.base_url_override.as_deref())
        .unwrap_or(&proxy.base_url);
    let base = render_url(base_template, &vars).map_err(|e| e.into_error(&what))?;
    let mut headers = std::collections::BTreeMap::new();
    for (k, v) in proxy
        .headers
        .iter()
        .flatten()
        .chain(verification.headers.iter().flatten())
    {
        match render_text(v, &vars, Slot::Header) {
            Ok(value) => {
                headers.insert(k.to_ascii_lowercase(), value);
            }
            // A header built from optional connection config that was not given is left out.
            Err(TemplateError::Missing(var)) if var.starts_with("connectionConfig.") => continue,
            Err(e) => return Err(e.into_error(&what)),
        }
    }
    let query: Vec<(String, String)> = proxy
        .query
        .iter()
        .flatten()
        .map(|(k, v)| {
            Ok((
                k.clone(),
                render_text(v, &vars, Slot::Param).map_err(|e| e.into_error(&what))?,
            ))
        })
        .collect::<Result<_, Error>>()?;
    let method = reqwest::Method::from_bytes(verification.method.as_deref().unwrap_or("GET").as_bytes())
        .map_err(|_| test_failed("The provider's verification method is not valid."))?;
    let mut last_status = None;
    for endpoint in &verification.endpoints {
        if endpoint.contains("${") || !endpoint.starts_with('/') {
            return Err(Error::invalid(
                ErrorCode::UnsupportedProviderTemplate,
                format!("{what} verifies at a templated endpoint, which Latchkey does not support yet."),
            ));
        }
        let mut url = url::Url::parse(&format!("{}{endpoint}", base.as_str().trim_end_matches('/')))
            .map_err(|_| test_failed("The verification URL is not valid."))?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(&query);
        }
        let mut request = ProviderRequest {
            method: method.clone(),
            url,
            headers: headers.clone(),
            body: Vec::new(),
        };
        scheme.apply(cx, credentials, &mut request).await?;
        let mut req = cx
            .state
            .http
            .request(request.method, request.url)
            .timeout(cx.state.config.provider_timeout);
        for (k, v) in &request.headers {
            let (Ok(name), Ok(mut value)) = (HeaderName::from_bytes(k.as_bytes()), HeaderValue::from_str(v)) else {
                return Err(test_failed("A verification header is not valid."));
            };
            value.set_sensitive(true);
            req = req.header(name, value);
        }
        if !request.body.is_empty() {
            req = req.body(request.body);
        }
        match req.send().await {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) => last_status = Some(r.status().as_u16()),
            Err(e) => {
                tracing::warn!(provider = %provider.name, timeout = e.is_timeout(), "verification request failed");
                return Err(Error::provider(
                    true,
                    ErrorCode::ConnectionTestFailed,
                    format!(
                        "The credentials could not be verified: {} did not answer.",
                        base.host_str().unwrap_or("the provider")
                    ),
                ));
            }
        }
    }
    let status = last_status.unwrap_or(0);
    // A provider failing on its side (or throttling) has not judged the credentials yet.
    let transient = status >= 500 || status == 429;
    Err(Error::provider(
        transient,
        ErrorCode::ConnectionTestFailed,
        format!("The provider rejected the credentials (HTTP {status})."),
    ))
}
