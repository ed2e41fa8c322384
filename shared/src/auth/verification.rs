//! What the credentials modes share: a submitted value checked against the catalog's field spec
//! (`check_field`), and the provider's `proxy.verification` request that proves credentials
//! before anything is stored (`verify_with_provider`), built from the catalog's templates with
//! the mode's values and authentication. Any failure of that request is one generic
//! `connection_test_failed` (the status, and whether a host answered, go to the operator's
//! activity entry only); a host the integration does not allow is `host_not_allowed`, and
//! nothing is sent.

use super::{AuthScheme, ModeContext, Obtained, ProviderRequest};
use crate::credentials::Credentials;
use crate::error::{Error, ErrorCode};
use crate::outbound::{Method, Target};
use crate::providers::template::{
    check_spec, render_text, render_url_traced, Moment, RequestParts, Slot, TemplateError, Vars,
};

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

/// Checks a value pasted over several lines (a PEM key): line breaks are its only control
/// characters, and it matches its catalog spec as pasted (a pattern's `\s` takes the breaks).
pub fn check_lines(cx: &ModeContext<'_>, name: &str, value: &str) -> Result<(), Error> {
    if value.chars().any(|c| c.is_control() && c != '\n' && c != '\r') {
        return check_field(cx, name, value);
    }
    let spec = crate::providers::provider(&cx.integration.provider)
        .and_then(|p| p.credentials.as_ref())
        .and_then(|specs| specs.get(name));
    match spec {
        Some(spec) => check_spec(spec, value.trim())
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

/// What the end user is told when the provider did not accept the credentials, whatever the
/// reason: the answer's status, and whether a host answered at all, are the operator's to see
/// (the activity entry), not a probe's.
const NOT_VERIFIED: &str = "The credentials could not be verified with the provider.";

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
    verify_at(cx, scheme, credentials, verification).await
}

/// Calls `verification` (the catalog's, or the one a mode names for an entry without any) on
/// the provider's proxy base URL with the credentials.
pub async fn verify_at(
    cx: &ModeContext<'_>,
    scheme: &dyn AuthScheme,
    credentials: &Credentials,
    verification: &crate::providers::schema::Verification,
) -> Result<(), Error> {
    let provider = crate::providers::provider(&cx.integration.provider)
        .ok_or_else(|| crate::providers::unknown_provider(&cx.integration.provider))?;
    let Some(proxy) = provider.proxy.as_ref() else {
        return Ok(());
    };
    let what = format!("Provider '{}'", provider.name);
    let mut vars = Vars {
        credential_specs: provider.credentials.as_ref(),
        moment: Moment::at(cx.state.clock.now()),
        ..Vars::config(cx.connection_config, provider.connection_config.as_ref())
    };
    scheme.template_values(credentials, &mut vars);
    let operator_base = cx.integration.custom.as_ref().and_then(|c| c.proxy_base_url.as_deref());
    let base = match operator_base {
        Some(url) => Target::operator(
            url::Url::parse(url).map_err(|_| test_failed("The integration's proxy_base_url is not valid."))?,
        ),
        None => {
            let template = verification.base_url_override.as_deref().unwrap_or(&proxy.base_url);
            let rendered = render_url_traced(template, &vars).map_err(|e| e.into_error(&what))?;
            super::target_of(cx.integration, cx.vouched_config, rendered)
        }
    };
    // Before any credential is put into a request: the host must be one the integration allows.
    base.check()
        .map_err(|e| e.into_error(ErrorCode::ConnectionTestFailed, NOT_VERIFIED))?;
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
    let method = Method::from_bytes(verification.method.as_deref().unwrap_or("GET").as_bytes())
        .map_err(|_| test_failed("The provider's verification method is not valid."))?;
    // Headers are rendered for each request: signing templates read its method, host and path.
    let headers_for = |url: &url::Url| -> Result<std::collections::BTreeMap<String, String>, Error> {
        let vars = Vars {
            request: Some(RequestParts::of(method.as_str(), url, &[])),
            ..vars.clone()
        };
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
        Ok(headers)
    };
    let mut last_status = None;
    for endpoint in &verification.endpoints {
        if endpoint.contains("${") || !endpoint.starts_with('/') {
            return Err(Error::invalid(
                ErrorCode::UnsupportedProviderTemplate,
                format!("{what} verifies at a templated endpoint, which Latchkey does not support yet."),
            ));
        }
        let mut url = url::Url::parse(&format!("{}{endpoint}", base.url().as_str().trim_end_matches('/')))
            .map_err(|_| test_failed("The verification URL is not valid."))?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(&query);
        }
        let mut request = ProviderRequest::new(method.clone(), base.with_url(url.clone()));
        request.headers = headers_for(&url)?;
        scheme.apply(cx, credentials, &mut request).await?;
        match cx.state.outbound.send(request).await {
            Ok(reply) if reply.is_success() => return Ok(()),
            Ok(reply) => last_status = Some(reply.status),
            Err(e) => {
                tracing::warn!(provider = %provider.name, error = %e, "verification request failed");
                // A refused host is the caller's to fix; anything else is one generic answer.
                return Err(if e.is_refused_host() {
                    e.into_error(ErrorCode::ConnectionTestFailed, NOT_VERIFIED)
                } else {
                    let cause = match e {
                        crate::outbound::OutboundError::Timeout => "verification_timeout",
                        crate::outbound::OutboundError::Unreachable => "verification_unreachable",
                        _ => "verification_failed",
                    };
                    Error::provider(e.is_transient(), ErrorCode::ConnectionTestFailed, NOT_VERIFIED)
                        .with_detail(e.to_string())
                        .with_cause(cause)
                });
            }
        }
    }
    let status = last_status.unwrap_or(0);
    // A provider failing on its side (or throttling) has not judged the credentials yet.
    let transient = status >= 500 || status == 429;
    Err(
        Error::provider(transient, ErrorCode::ConnectionTestFailed, NOT_VERIFIED)
            .with_detail(format!("the verification request answered HTTP {status}"))
            .with_cause(format!("verification_http_{status}")),
    )
}
