//! `AWS_SIGV4` (`aws-sigv4`): a customer's AWS account reached through an IAM role they
//! created for the team. The end user gives the role's ARN (and a region); Latchkey assumes it
//! with STS `AssumeRole`, signed with the integration's own IAM access key and the connection's
//! external id (AWS's guard against a confused deputy: a role trusts the team's account only
//! with that id), checks the temporary credentials with `GetCallerIdentity`, and keeps them
//! sealed. They last an hour and are renewed by assuming the role again, through the refresh
//! path (on a read that finds them about to expire, and ahead by the scheduler). Requests to
//! the provider are signed with them (`apply`): SigV4 over every header, with the session
//! token and the payload hash, for the integration's service and the connection's region.
//!
//! The external id is the team's to choose, never the end user's: a connect session's config
//! defaults (`external_id`, set by the team's backend, as in the CloudFormation template it
//! gave the customer) or an import bring it; otherwise each connection gets a random one. An
//! end user's `params[external_id]` is refused. The region becomes a host name
//! (`sts.<region>.amazonaws.com`, `<service>.<region>.amazonaws.com`), so it is checked to be a
//! region's shape (`check_region`) before any URL is made of it.

pub mod settings;
pub mod sts;

use async_trait::async_trait;
use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use super::verification::invalid_credentials;
use super::{wrong_credentials, AuthScheme, ModeContext, Obtain, Obtained, ProviderRequest, Submission};
use crate::credentials::Credentials;
use crate::domain::{AuthMode, Secret};
use crate::error::{Error, ErrorCode};
use crate::providers::template::{aws_sigv4, RequestParts};
use crate::store::IntegrationRecord;

pub struct AwsSigV4;

use crate::providers::AWS_EXTERNAL_ID as EXTERNAL_ID;

fn invalid_config(message: &str) -> Error {
    Error::invalid(ErrorCode::InvalidConnectionConfig, message)
}

/// An AWS region's shape: a lowercase letter, then lowercase letters, digits and single
/// hyphens, at most 32 (`us-east-1`, `us-gov-west-1`). Nothing that could end a host name label.
pub fn check_region(region: &str) -> Result<(), Error> {
    let b = region.as_bytes();
    let ok = (2..=32).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && !region.ends_with('-')
        && !region.contains("--");
    if ok {
        Ok(())
    } else {
        Err(invalid_config("region must be an AWS region, such as us-east-1."))
    }
}

/// An AWS service's signing name (`s3`, `execute-api`).
pub fn check_service(service: &str) -> Result<(), Error> {
    let ok = (1..=64).contains(&service.len())
        && service
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_body("integration_config.service must be an AWS service's signing name (lowercase letters, digits and hyphens, such as s3)."))
    }
}

/// An IAM role's ARN, `arn:<partition>:iam::<account>:role/<path/><name>`, checked.
pub struct RoleArn {
    arn: String,
    account: String,
    name: String,
}

impl RoleArn {
    pub fn parse(arn: &str) -> Result<Self, Error> {
        let bad = || {
            invalid_credentials(
                "role_arn must be an IAM role's ARN, such as arn:aws:iam::123456789012:role/LatchkeyAccess.".into(),
            )
        };
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let [_, partition, "iam", "", account, resource] = parts[..] else {
            return Err(bad());
        };
        let path = resource.strip_prefix("role/").ok_or_else(bad)?;
        let name = path.rsplit('/').next().unwrap_or_default();
        let name_ok =
            |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_alphanumeric() || b"+=,.@_-".contains(&c));
        let ok = arn.len() <= 2048
            && parts[0] == "arn"
            && matches!(partition, "aws" | "aws-cn" | "aws-us-gov")
            && account.len() == 12
            && account.bytes().all(|c| c.is_ascii_digit())
            && name.len() <= 64
            && path.split('/').all(name_ok);
        if !ok {
            return Err(bad());
        }
        Ok(Self {
            arn: arn.to_owned(),
            account: account.to_owned(),
            name: name.to_owned(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.arn
    }

    /// Whether `arn` is a session of this role: `arn:<partition>:sts::<account>:assumed-role/<name>/<session>`.
    pub fn is_assumed_by(&self, arn: &str) -> bool {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let [_, _, "sts", "", account, resource] = parts[..] else {
            return false;
        };
        let mut resource = resource.splitn(3, '/');
        account == self.account
            && resource.next() == Some("assumed-role")
            && resource.next() == Some(self.name.as_str())
            && resource.next().is_some_and(|session| !session.is_empty())
    }
}

/// Who signs a request: an access key, its secret, and a session token for temporary ones.
pub struct Signer<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a Secret,
    pub session_token: Option<&'a Secret>,
}

/// Signs `request` with SigV4 for `service` in `region` at `now`: `x-amz-date`, the payload
/// hash, the session token, and `Authorization` over every header the request carries.
pub fn sign(request: &mut ProviderRequest, signer: &Signer<'_>, region: &str, service: &str, now: OffsetDateTime) {
    let amz_date = crate::providers::template::now::format(now.to_offset(time::UtcOffset::UTC), "YYYYMMDDTHHmmss[Z]");
    let parts = RequestParts::of(request.method.as_str(), request.target.url(), &request.body);
    request.headers.remove("authorization");
    request.headers.insert("x-amz-date".into(), amz_date.clone());
    request
        .headers
        .insert("x-amz-content-sha256".into(), aws_sigv4::payload_hash(&request.body));
    if let Some(token) = signer.session_token {
        request
            .headers
            .insert("x-amz-security-token".into(), token.expose().to_owned());
    }
    let headers: Vec<(&str, &str)> = request.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let authorization = aws_sigv4::authorization(
        &aws_sigv4::Signing {
            access_key: signer.access_key_id,
            secret_key: signer.secret_access_key.expose(),
            region,
            service,
            host: None,
            amz_date: &amz_date,
            headers: &headers,
        },
        &parts,
    );
    request.headers.insert("authorization".into(), authorization);
}

/// What a connection asks for: the role, its external id, the region.
struct Ask {
    role: RoleArn,
    external_id: String,
    region: String,
}

/// A text value of the connection's config (`region`, `external_id`).
fn config_text(cx: &ModeContext<'_>, key: &str) -> Option<String> {
    cx.connection_config.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// The region: the end user's (the body's, or `params[region]`), else the integration's default.
fn region_of(given: Option<String>, record: &IntegrationRecord) -> Result<String, Error> {
    let region = given
        .filter(|r| !r.is_empty())
        .or_else(|| record.aws_sigv4.as_ref().and_then(|s| s.default_region.clone()))
        .ok_or_else(|| invalid_config("region is required: the integration has no defaultRegion."))?;
    check_region(&region)?;
    Ok(region)
}

/// The connection's external id: the team backend's, else a random one.
fn external_id_of(cx: &ModeContext<'_>, imported: Option<String>) -> Result<String, Error> {
    if let Some(id) = imported {
        return Ok(id);
    }
    match cx.connection_config.get(EXTERNAL_ID).and_then(Value::as_str) {
        Some(_) if !cx.vouched_config.contains(EXTERNAL_ID) => Err(invalid_config(
            "external_id is the team's to set (a connect session's config defaults, or an import), not the end user's.",
        )),
        Some(id) => Ok(id.to_owned()),
        None => Ok(uuid::Uuid::new_v4().to_string()),
    }
}

/// Assumes the role and checks what it gave: the connection's credentials and config.
async fn assume(cx: &ModeContext<'_>, ask: Ask) -> Result<(Credentials, crate::domain::ConnectionConfig), Error> {
    let (integration, secret) = settings::open(cx.state, cx.integration).await?;
    let operator = Signer {
        access_key_id: &integration.access_key_id,
        secret_access_key: &secret,
        session_token: None,
    };
    let temporary = sts::assume_role(cx, &operator, &ask.role, &ask.external_id, &ask.region).await?;
    let signer = Signer {
        access_key_id: &temporary.access_key_id,
        secret_access_key: &temporary.secret_access_key,
        session_token: Some(&temporary.session_token),
    };
    sts::check_identity(cx, &signer, &ask.role, &ask.region).await?;
    let expires_at = crate::time_fmt::rfc3339(temporary.expires_at);
    let raw: Map<String, Value> = json!({
        "access_key_id": temporary.access_key_id,
        "secret_access_key": temporary.secret_access_key.expose(),
        "session_token": temporary.session_token.expose(),
        "expires_at": expires_at,
    })
    .as_object()
    .cloned()
    .unwrap_or_default();
    let mut config = cx.connection_config.clone();
    config.insert("region".into(), json!(ask.region));
    config.insert("service".into(), json!(integration.service));
    config.insert(EXTERNAL_ID.into(), json!(ask.external_id));
    let credentials = Credentials::AwsSigV4 {
        role_arn: ask.role.arn,
        region: ask.region,
        service: integration.service,
        access_key_id: temporary.access_key_id,
        secret_access_key: temporary.secret_access_key,
        session_token: temporary.session_token,
        expires_at: Some(temporary.expires_at),
        external_id: Some(ask.external_id),
        raw: raw.into(),
    };
    Ok((credentials, config))
}

#[async_trait]
impl AuthScheme for AwsSigV4 {
    fn mode(&self) -> AuthMode {
        AuthMode::AwsSigV4
    }

    fn obtains(&self) -> Obtain {
        Obtain::Submission
    }

    fn form_fields(&self, _integration: &IntegrationRecord) -> Vec<&'static str> {
        vec!["role_arn"]
    }

    /// `{role_arn, region?}`, as Nango's `auth()` sends them.
    async fn submit(&self, cx: &ModeContext<'_>, mut submission: Submission) -> Result<Obtained, Error> {
        let role_arn = submission.take("role_arn").unwrap_or_default();
        let region = submission.take("region").map(|r| r.expose().trim().to_owned());
        if let Some(extra) = submission.into_fields().into_keys().next() {
            return Err(invalid_credentials(format!(
                "Credential '{extra}' is not one AWS_SIGV4 takes (role_arn, region)."
            )));
        }
        let given = region.or_else(|| config_text(cx, "region"));
        let ask = Ask {
            role: RoleArn::parse(role_arn.expose().trim())?,
            region: region_of(given, cx.integration)?,
            external_id: external_id_of(cx, None)?,
        };
        let (credentials, connection_config) = assume(cx, ask).await?;
        Ok(Obtained {
            credentials,
            connection_config,
            note: "The role was assumed and its temporary credentials answered as the role.".into(),
        })
    }

    /// An import names the role (and its external id and region); the role is assumed now,
    /// whatever temporary credentials it brings.
    async fn verify(&self, cx: &ModeContext<'_>, credentials: Credentials) -> Result<Credentials, Error> {
        let Credentials::AwsSigV4 {
            role_arn,
            region,
            external_id,
            ..
        } = credentials
        else {
            return Err(wrong_credentials(self.mode(), &credentials));
        };
        let region = Some(region)
            .filter(|r| !r.is_empty())
            .or_else(|| config_text(cx, "region"));
        let imported = match external_id {
            Some(id) => {
                let spec =
                    crate::providers::mode_config_spec(AuthMode::AwsSigV4, EXTERNAL_ID).ok_or_else(Error::internal)?;
                crate::providers::template::check_spec(spec, &id).map_err(|_| {
                    invalid_credentials("external_id must be 2 to 1224 of letters, digits and +=,.@:/-".into())
                })?;
                Some(id)
            }
            None => config_text(cx, EXTERNAL_ID),
        };
        let ask = Ask {
            role: RoleArn::parse(role_arn.trim())?,
            region: region_of(region, cx.integration)?,
            external_id: external_id_of(cx, imported)?,
        };
        Ok(assume(cx, ask).await?.0)
    }

    /// Assumes the role again, for credentials good for another hour.
    async fn refresh(&self, cx: &ModeContext<'_>, current: &Credentials) -> Result<Obtained, Error> {
        let Credentials::AwsSigV4 {
            role_arn,
            region,
            external_id,
            ..
        } = current
        else {
            return Err(wrong_credentials(self.mode(), current));
        };
        let external_id = external_id
            .clone()
            .or_else(|| config_text(cx, EXTERNAL_ID))
            .ok_or_else(|| invalid_config("The connection has no external id to assume its role with."))?;
        let ask = Ask {
            role: RoleArn::parse(role_arn)?,
            region: region_of(Some(region.clone()), cx.integration)?,
            external_id,
        };
        let (credentials, connection_config) = assume(cx, ask).await?;
        Ok(Obtained {
            credentials,
            connection_config,
            note: "The role was assumed again.".into(),
        })
    }

    fn refresh_on_read(&self, credentials: &Credentials, expiring: bool, force: bool) -> bool {
        matches!(credentials, Credentials::AwsSigV4 { .. }) && (expiring || force)
    }

    /// The catalog's templates read no credential (its base URL is the service and region).
    fn template_values(&self, _: &Credentials, _: &mut crate::providers::template::Vars<'_>) {}

    /// SigV4 with the temporary credentials, for the integration's service and the region.
    async fn apply(
        &self,
        cx: &ModeContext<'_>,
        credentials: &Credentials,
        request: &mut ProviderRequest,
    ) -> Result<(), Error> {
        let Credentials::AwsSigV4 {
            region,
            service,
            access_key_id,
            secret_access_key,
            session_token,
            ..
        } = credentials
        else {
            return Err(wrong_credentials(self.mode(), credentials));
        };
        let signer = Signer {
            access_key_id,
            secret_access_key,
            session_token: Some(session_token).filter(|t| !t.is_empty()),
        };
        sign(request, &signer, region, service, cx.state.clock.now());
        Ok(())
    }
}

#[cfg(test)]
mod tests;
