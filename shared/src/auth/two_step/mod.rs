//! `TWO_STEP`: the catalog's token request made with the end user's credential fields (a
//! login, an API key and secret, a private key that signs a JWT assertion), then its
//! `additional_steps` (`steps`), the token read from the last answer as `token_response` says.
//! The fields are kept, sealed, so the token is renewed by repeating the steps; where the
//! entry has a refresh request (`refresh_url`, `refresh_token_params`, `refresh_token_headers`)
//! and the provider issued a refresh token, that request comes first. The token is applied as
//! `Authorization: Bearer` unless the catalog's templates place it (`${accessToken}`).

mod body;
mod steps;
mod token;

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::jws;
use super::verification::{check_field, check_lines, invalid_credentials};
use super::{wrong_credentials, AuthScheme, ModeContext, Obtain, Obtained, Submission};
use crate::credentials::Credentials;
use crate::domain::{AuthMode, Secret};
use crate::error::Error;
use crate::providers::schema::Provider;
use crate::providers::template::{render_text, Moment, Slot, TemplateError, Vars};
use crate::store::IntegrationRecord;
use steps::Step;

pub struct TwoStep;

pub(super) fn entry(cx: &ModeContext<'_>) -> Result<&'static Provider, Error> {
    crate::providers::provider(&cx.integration.provider)
        .ok_or_else(|| crate::providers::unknown_provider(&cx.integration.provider))
}

pub(super) fn what(p: &Provider) -> String {
    format!("Provider '{}'", p.name)
}

/// Whether the end user may leave a variable out: a declared field that is optional (or has
/// a default, or the provider fills it).
fn optional(p: &Provider, var: &str) -> bool {
    let spec = if let Some(k) = var.strip_prefix("credentials.") {
        p.credentials.as_ref().and_then(|s| s.get(k))
    } else if let Some(k) = var.strip_prefix("connectionConfig.") {
        p.connection_config.as_ref().and_then(|s| s.get(k))
    } else if let Some(k) = var.strip_prefix("assertionOption.") {
        p.assertion_option.as_ref().and_then(|s| s.get(k))
    } else {
        None
    };
    spec.is_some_and(|s| !s.required())
}

/// The end user's fields, checked against the catalog: declared names only (credentials and
/// assertion options), none the provider fills itself, each matching its spec, the required
/// ones present, defaults applied.
pub(super) fn checked_fields(
    cx: &ModeContext<'_>,
    p: &Provider,
    mut given: BTreeMap<String, Secret>,
) -> Result<BTreeMap<String, Secret>, Error> {
    let specs = p
        .credentials
        .iter()
        .flatten()
        .chain(p.assertion_option.iter().flatten());
    let mut out = BTreeMap::new();
    for (name, spec) in specs {
        let value = given.remove(name).filter(|v| !v.is_empty());
        if spec.automated == Some(true) {
            if value.is_some() {
                return Err(invalid_credentials(format!(
                    "Credential '{name}' is computed by Latchkey and cannot be given."
                )));
            }
            continue;
        }
        let value = value.or_else(|| spec.default_value.clone().filter(|d| !d.is_empty()).map(Secret::new));
        match value {
            Some(v) => {
                // A pasted PEM holds line breaks; the catalog's patterns are written for them
                // escaped (`\n`), as in a service-account file.
                check_field(cx, name, v.expose()).or_else(|e| {
                    let escaped = v.expose().replace("\r\n", "\\n").replace('\n', "\\n");
                    if escaped == v.expose() {
                        return Err(e);
                    }
                    check_field(cx, name, &escaped)
                        .or_else(|_| check_lines(cx, name, v.expose()))
                        .map_err(|_| e)
                })?;
                out.insert(name.clone(), v);
            }
            None if spec.required() => {
                return Err(invalid_credentials(format!("Credential '{name}' is required.")));
            }
            None => {}
        }
    }
    if let Some(extra) = given.keys().next() {
        return Err(invalid_credentials(format!(
            "Provider '{}' takes no credential '{extra}'.",
            p.name
        )));
    }
    Ok(out)
}

/// The values the steps' templates read: the connection config, the fields, the integration's
/// client id and secret where the entry reads them but does not ask the end user, a refresh
/// token, and the JWTs the entry signs.
async fn vars_for<'a>(
    cx: &ModeContext<'a>,
    p: &'a Provider,
    fields: &BTreeMap<String, Secret>,
    refresh_token: Option<&str>,
) -> Result<Vars<'a>, Error> {
    let mut vars = Vars {
        credential_specs: p.credentials.as_ref(),
        moment: Moment::at(cx.state.clock.now()),
        ..Vars::config(cx.connection_config, p.connection_config.as_ref())
    };
    let assertion_names: Vec<&String> = p.assertion_option.iter().flatten().map(|(k, _)| k).collect();
    for (k, v) in fields {
        let target = if assertion_names.contains(&k) {
            &mut vars.assertion_options
        } else {
            &mut vars.credentials
        };
        // A PEM key travels to its signer with escaped line breaks (values hold no control
        // characters); `crypto::keys::pem` reads either form.
        let value = match v.expose() {
            pem if pem.contains("-----BEGIN") => pem.replace("\r\n", "\\n").replace('\n', "\\n"),
            other => other.to_owned(),
        };
        target.insert(k.clone(), value);
    }
    for (field, from_integration) in [("clientId", 0), ("clientSecret", 1)] {
        let declared = p.credentials.as_ref().is_some_and(|s| s.contains_key(field));
        if declared || vars.credentials.contains_key(field) {
            continue;
        }
        let value = match from_integration {
            0 => cx.integration.client_id.clone(),
            _ if cx.integration.client_secret.is_some() => Some(
                super::open_client_secret(cx.state, cx.integration)
                    .await?
                    .expose()
                    .to_owned(),
            ),
            _ => None,
        };
        if let Some(v) = value {
            vars.credentials.insert(field.to_owned(), v);
        }
    }
    if let Some(rt) = refresh_token {
        vars.secrets.insert("refresh_token", rt.to_owned());
    }
    let now = vars.moment.now().unix_timestamp();
    let render = |t: &str| render_optional(p, t, &vars, Slot::Param);
    let signed = |spec: Option<Result<jws::JwtSpec<'_>, TemplateError>>| -> Result<Option<String>, Error> {
        match spec {
            None => Ok(None),
            Some(spec) => {
                let spec = spec.map_err(|e| e.into_error(&what(p)))?;
                jws::sign(&spec, now, &render)
                    .map(Some)
                    .map_err(|e| e.into_error(&what(p)))
            }
        }
    };
    let assertion = signed(p.assertion.as_ref().and_then(jws::JwtSpec::assertion))?;
    let token = signed(p.token.as_ref().and_then(jws::JwtSpec::token))?;
    if let Some(a) = assertion {
        vars.credentials.insert("assertion".into(), a);
    }
    if let Some(t) = token {
        vars.secrets.insert("token", t);
    }
    Ok(vars)
}

/// Renders a template; `None` when it needs an optional value the end user left out.
pub(super) fn render_optional(
    p: &Provider,
    template: &str,
    vars: &Vars<'_>,
    slot: Slot,
) -> Result<Option<String>, TemplateError> {
    match render_text(template, vars, slot) {
        Ok(v) => Ok(Some(v)),
        Err(TemplateError::Missing(var)) if optional(p, &var) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Runs the entry's steps with `fields` (and a refresh token for a refresh request).
async fn obtain(
    cx: &ModeContext<'_>,
    p: &Provider,
    steps: &[Step],
    fields: BTreeMap<String, Secret>,
    refresh_token: Option<&str>,
) -> Result<Obtained, Error> {
    let mut vars = vars_for(cx, p, &fields, refresh_token).await?;
    let operator_url = cx
        .integration
        .custom
        .as_ref()
        .filter(|c| !c.token_url.is_empty() && refresh_token.is_none())
        .map(|c| url::Url::parse(&c.token_url).map(crate::outbound::Target::operator))
        .transpose()
        .map_err(|_| Error::invalid_body("custom.token_url is not an absolute URL."))?;
    let render = |t: &str, v: &Vars<'_>, slot| render_optional(p, t, v, slot);
    let answer = steps::run(cx, steps, &mut vars, operator_url, &render, &what(p)).await?;
    token::read(cx, p, answer, fields)
}

#[async_trait]
impl AuthScheme for TwoStep {
    fn mode(&self) -> AuthMode {
        AuthMode::TwoStep
    }

    fn obtains(&self) -> Obtain {
        Obtain::Submission
    }

    /// The entry's credential fields and assertion options, less those Latchkey computes.
    fn form_fields(&self, integration: &IntegrationRecord) -> Vec<&'static str> {
        let Some(p) = crate::providers::provider(&integration.provider) else {
            return Vec::new();
        };
        p.credentials
            .iter()
            .flatten()
            .chain(p.assertion_option.iter().flatten())
            .filter(|(_, spec)| spec.automated != Some(true))
            .map(|(name, _)| name.as_str())
            .collect()
    }

    async fn submit(&self, cx: &ModeContext<'_>, submission: Submission) -> Result<Obtained, Error> {
        let p = entry(cx)?;
        let fields = checked_fields(cx, p, submission.into_fields())?;
        obtain(cx, p, &steps::of(p)?, fields, None).await
    }

    /// An import brings a token (kept as is, with the fields to renew it, or alone), or only the
    /// fields (the steps are run).
    async fn verify(&self, cx: &ModeContext<'_>, credentials: Credentials) -> Result<Credentials, Error> {
        let Credentials::TwoStep {
            token,
            refresh_token,
            expires_at,
            raw,
            headers,
            fields,
        } = credentials
        else {
            return Err(wrong_credentials(self.mode(), &credentials));
        };
        let p = entry(cx)?;
        // A token alone is kept as is (it is renewed only by connecting again); fields given
        // are held to the catalog's rules, as a submission's are.
        let fields = if fields.is_empty() && !token.is_empty() {
            fields
        } else {
            checked_fields(cx, p, fields)?
        };
        if token.is_empty() {
            return Ok(obtain(cx, p, &steps::of(p)?, fields, None).await?.credentials);
        }
        Ok(Credentials::TwoStep {
            token,
            refresh_token,
            expires_at,
            raw,
            headers,
            fields,
        })
    }

    /// The entry's refresh request when it has one and the provider issued a refresh token
    /// (falling back to the steps when the provider refuses it), else the steps again.
    async fn refresh(&self, cx: &ModeContext<'_>, current: &Credentials) -> Result<Obtained, Error> {
        let Credentials::TwoStep {
            refresh_token, fields, ..
        } = current
        else {
            return Err(wrong_credentials(self.mode(), current));
        };
        let p = entry(cx)?;
        if let (Some(rt), Some(refresh)) = (refresh_token, token::refresh_step(p)) {
            match obtain(cx, p, &[refresh], fields.clone(), Some(rt.expose())).await {
                Ok(mut obtained) => {
                    token::keep_refresh_token(&mut obtained.credentials, rt);
                    return Ok(obtained);
                }
                Err(e) if e.kind.is_transient() || fields.is_empty() => return Err(e),
                Err(_) => {}
            }
        }
        if fields.is_empty() {
            return Err(invalid_credentials(
                "The connection has no credential fields to repeat the token request with; it must be connected again."
                    .into(),
            ));
        }
        obtain(cx, p, &steps::of(p)?, fields.clone(), None).await
    }

    fn refresh_on_read(&self, credentials: &Credentials, expiring: bool, force: bool) -> bool {
        matches!(credentials, Credentials::TwoStep { .. }) && (expiring || force)
    }

    /// `${accessToken}` and `${credentials.token}` are the token; `${credentials.x}` the fields;
    /// `${credentials._cookies}` the cookies the provider set with it.
    fn template_values(&self, credentials: &Credentials, vars: &mut Vars<'_>) {
        if let Credentials::TwoStep {
            token, fields, headers, ..
        } = credentials
        {
            vars.secrets.insert("accessToken", token.expose().to_owned());
            for (k, v) in fields {
                vars.credentials.insert(k.clone(), v.expose().to_owned());
            }
            vars.credentials.insert("token".into(), token.expose().to_owned());
            if let Some(cookies) = headers.get("set-cookie") {
                vars.credentials.insert("_cookies".into(), token::cookie_pairs(cookies));
            }
        }
    }
}

#[cfg(test)]
mod tests;
