//! An `AWS_SIGV4` integration's settings, by the names of Nango's `integration_config`:
//! `service` (what requests are signed for), `defaultRegion` (when a connection names none),
//! and the operator's IAM access key that calls STS `AssumeRole`, `awsAccessKeyId` and
//! `awsSecretAccessKey` (sealed with the integration's context, never returned). `stsMode` may
//! only be `builtin`: Latchkey calls AWS STS itself, and a custom STS endpoint (Nango's
//! `stsMode: custom`) is refused with a clear error rather than ignored.

use std::collections::BTreeMap;

use crate::auth::{open_secret, seal_secret};
use crate::domain::{AuthMode, Secret};
use crate::error::Error;
use crate::store::{AwsSigV4Settings, IntegrationRecord};
use crate::AppState;

use super::{check_region, check_service};

/// Nango's keys of a custom STS endpoint, which Latchkey names in its refusal.
const CUSTOM_STS_KEYS: [&str; 7] = [
    "stsEndpointUrl",
    "stsAuthType",
    "stsAuthHeader",
    "stsApiKey",
    "stsAuthUsername",
    "stsAuthPassword",
    "stsMode",
];

fn refuse(message: impl Into<String>) -> Error {
    Error::invalid_body(message)
}

/// An IAM access key id: 16 to 128 uppercase letters and digits (`AKIA…`).
fn check_access_key_id(id: &str) -> Result<(), Error> {
    let ok = (16..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(refuse(
            "integration_config.awsAccessKeyId must be an IAM access key id (16 to 128 uppercase letters and digits).",
        ))
    }
}

fn check_secret_access_key(secret: &Secret) -> Result<(), Error> {
    let s = secret.expose();
    if (16..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(refuse(
            "integration_config.awsSecretAccessKey must be 16 to 128 printable characters without spaces.",
        ))
    }
}

/// Applies `integration_config` to a record: each key given replaces the kept one (the secret
/// access key is kept when not sent again), and the whole must then be complete.
pub async fn apply(
    state: &AppState,
    record: &mut IntegrationRecord,
    mut config: BTreeMap<String, Secret>,
) -> Result<(), Error> {
    if record.auth_mode != AuthMode::AwsSigV4 {
        return Err(refuse(format!(
            "integration_config is for AWS_SIGV4 integrations; provider '{}' uses {}.",
            record.provider, record.auth_mode
        )));
    }
    let text = |config: &mut BTreeMap<String, Secret>, k: &str| config.remove(k).map(|v| v.expose().trim().to_owned());
    match text(&mut config, "stsMode").as_deref() {
        None | Some("builtin") => {}
        Some(_) => {
            return Err(refuse(
                "integration_config.stsMode must be 'builtin': Latchkey calls AWS STS with the integration's own access key, and does not call a custom STS endpoint.",
            ))
        }
    }
    let service = text(&mut config, "service");
    let default_region = text(&mut config, "defaultRegion");
    let access_key_id = text(&mut config, "awsAccessKeyId");
    let secret = config.remove("awsSecretAccessKey");
    if let Some(key) = config.keys().next() {
        let custom = CUSTOM_STS_KEYS.contains(&key.as_str());
        return Err(refuse(if custom {
            format!("integration_config.{key} configures a custom STS endpoint, which Latchkey does not call: give awsAccessKeyId and awsSecretAccessKey.")
        } else {
            format!("integration_config.{key} is not a setting of AWS_SIGV4 (service, defaultRegion, stsMode, awsAccessKeyId, awsSecretAccessKey).")
        }));
    }
    if let Some(service) = &service {
        check_service(service)?;
    }
    if let Some(region) = default_region.as_deref().filter(|r| !r.is_empty()) {
        check_region(region)
            .map_err(|_| refuse("integration_config.defaultRegion must be an AWS region (us-east-1)."))?;
    }
    if let Some(id) = &access_key_id {
        check_access_key_id(id)?;
    }
    let sealed = match secret {
        Some(secret) => {
            check_secret_access_key(&secret)?;
            Some(seal_secret(state, &record.key, &secret).await?)
        }
        None => None,
    };
    let kept = record.aws_sigv4.take();
    let service = service.or_else(|| kept.as_ref().map(|k| k.service.clone()));
    let default_region = match default_region {
        Some(r) if r.is_empty() => None,
        Some(r) => Some(r),
        None => kept.as_ref().and_then(|k| k.default_region.clone()),
    };
    let access_key_id = access_key_id.or_else(|| kept.as_ref().map(|k| k.access_key_id.clone()));
    let secret_access_key = sealed.or_else(|| kept.map(|k| k.secret_access_key));
    let (Some(service), Some(access_key_id), Some(secret_access_key)) = (service, access_key_id, secret_access_key)
    else {
        return Err(missing(record));
    };
    record.aws_sigv4 = Some(AwsSigV4Settings {
        service,
        default_region,
        access_key_id,
        secret_access_key,
    });
    Ok(())
}

/// What an `AWS_SIGV4` integration created without its settings is told.
pub fn missing(record: &IntegrationRecord) -> Error {
    refuse(format!(
        "Provider '{}' uses AWS_SIGV4: send integration_config with service, awsAccessKeyId and awsSecretAccessKey (and defaultRegion), the IAM user that assumes your customers' roles.",
        record.provider
    ))
}

/// The settings and the opened secret access key, for a call to STS.
pub async fn open(state: &AppState, record: &IntegrationRecord) -> Result<(AwsSigV4Settings, Secret), Error> {
    let settings = record.aws_sigv4.clone().ok_or_else(|| missing(record))?;
    let secret = open_secret(state, record, &settings.secret_access_key).await?;
    Ok((settings, secret))
}
