//! The token of a two-step answer, where `token_response` says: a dotted path (empty: the
//! whole body is the token), its refresh token, and its lifetime (`expireIn` seconds, or an
//! `expireAt` date or epoch; else `token_expires_in_ms`; less `token_expiration_buffer`). The
//! answer's fields named by `token_response_metadata` join the connection config; the headers
//! named by `token_response_headers` (a session cookie) are kept with the token.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::body;
use super::steps::{not_issued, Answer, Step};
use crate::auth::oauth2::token::at_path;
use crate::auth::{ModeContext, Obtained};
use crate::credentials::Credentials;
use crate::domain::{AccessToken, RefreshToken, Secret};
use crate::error::Error;
use crate::providers::schema::Provider;

fn text_at(fields: &Map<String, Value>, path: &str) -> Option<String> {
    match at_path(fields, path)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// An `expireAt` value: RFC 3339, an ISO date-time without offset (UTC), or epoch seconds or
/// milliseconds.
fn parse_expire_at(value: &Value) -> Option<OffsetDateTime> {
    let epoch = |n: f64| {
        let secs = if n > 1e11 { n / 1000.0 } else { n };
        OffsetDateTime::from_unix_timestamp(secs as i64).ok()
    };
    match value {
        Value::Number(n) => epoch(n.as_f64()?),
        Value::String(s) => {
            let s = s.trim();
            if let Ok(n) = s.parse::<f64>() {
                return epoch(n);
            }
            OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .ok()
                .or_else(|| {
                    let naive = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
                    let head = s.get(..19)?;
                    time::PrimitiveDateTime::parse(head, naive).ok().map(|t| t.assume_utc())
                })
        }
        _ => None,
    }
}

fn expires_at(p: &Provider, fields: &Map<String, Value>, now: OffsetDateTime) -> Option<OffsetDateTime> {
    let now = now.replace_nanosecond(0).unwrap_or(now);
    let paths = p.token_response.as_ref();
    let strategy = paths
        .and_then(|t| t.token_expiration_strategy.as_deref())
        .unwrap_or("expireIn");
    let stated = paths
        .and_then(|t| t.token_expiration.as_deref())
        .and_then(|path| at_path(fields, path));
    let at = match (strategy, stated) {
        ("expireAt", Some(v)) => parse_expire_at(v),
        (_, Some(Value::Number(n))) => n.as_f64().map(|s| now + time::Duration::seconds(s as i64)),
        (_, Some(Value::String(s))) => s
            .trim()
            .parse::<f64>()
            .ok()
            .map(|s| now + time::Duration::seconds(s as i64)),
        _ => None,
    }
    .filter(|t| *t > now)
    .or_else(|| {
        p.token_expires_in_ms
            .filter(|ms| *ms > 0)
            .map(|ms| now + time::Duration::milliseconds(ms))
    })?;
    Some(at - time::Duration::seconds(p.token_expiration_buffer.unwrap_or(0)))
}

/// The credentials in the last answer of a run.
pub fn read(
    cx: &ModeContext<'_>,
    p: &Provider,
    answer: Answer,
    fields: BTreeMap<String, Secret>,
) -> Result<Obtained, Error> {
    let paths = p.token_response.clone().unwrap_or_default();
    let token_path = paths.token.unwrap_or_default();
    let token = if token_path.is_empty() {
        body::bare_token(&answer.reply.body)
    } else {
        text_at(&answer.fields, &token_path)
    }
    .ok_or_else(|| not_issued(false, "the answer holds no token where the catalog says".into()))?;
    let refresh_token = paths
        .refresh_token
        .as_deref()
        .and_then(|path| text_at(&answer.fields, path))
        .map(RefreshToken::new);
    if crate::domain::limits::stored_size(&answer.fields) > crate::domain::limits::RAW {
        return Err(not_issued(false, "the answer is larger than Latchkey stores".into()));
    }
    let mut metadata = Map::new();
    for path in p.token_response_metadata.iter().flatten() {
        if let Some(v) = answer
            .all
            .iter()
            .rev()
            .find_map(|f| at_path(f, path))
            .filter(|v| !v.is_null())
        {
            metadata.insert(path.clone(), v.clone());
        }
    }
    let headers: BTreeMap<String, String> = p
        .token_response_headers
        .iter()
        .flatten()
        .filter_map(|h| {
            let name = h.to_ascii_lowercase();
            answer.reply.headers.get(&name).map(|v| (name, v.clone()))
        })
        .collect();
    let now = cx.state.clock.now();
    let expires_at = expires_at(p, &answer.fields, now);
    let connection_config =
        crate::providers::config_from_provider(&p.name, cx.connection_config.clone(), &metadata, &[]);
    let note = match expires_at {
        Some(t) => format!("Token received, expires in {} s.", (t - now).whole_seconds()),
        None => "Token received.".to_owned(),
    };
    Ok(Obtained {
        credentials: Credentials::TwoStep {
            token: AccessToken::new(token),
            refresh_token,
            expires_at,
            raw: answer.fields.into(),
            headers,
            fields,
        },
        connection_config,
        note,
    })
}

/// The entry's refresh request, when it has one: `refresh_url` (else the token URL) with
/// `refresh_token_params` and `refresh_token_headers` (else the token headers).
pub fn refresh_step(p: &Provider) -> Option<Step> {
    if p.refresh_url.is_none() && p.refresh_token_params.is_none() && p.refresh_token_headers.is_none() {
        return None;
    }
    Some(Step {
        token_url: p
            .refresh_url
            .clone()
            .or_else(|| p.token_url_for(p.auth_mode).map(str::to_owned))?,
        token_request_method: None,
        token_headers: p.refresh_token_headers.clone().or_else(|| p.token_headers.clone()),
        token_params: p.refresh_token_params.clone(),
        body_format: p.body_format,
    })
}

/// A refresh answer without a refresh token keeps the one used.
pub fn keep_refresh_token(credentials: &mut Credentials, used: &RefreshToken) {
    if let Credentials::TwoStep {
        refresh_token: kept @ None,
        ..
    } = credentials
    {
        *kept = Some(used.clone());
    }
}

/// `name=value; name2=value2` of `Set-Cookie` values (joined by `, `), without attributes.
pub fn cookie_pairs(set_cookie: &str) -> String {
    set_cookie
        .split(", ")
        .filter_map(|c| c.split(';').next())
        .map(str::trim)
        .filter(|pair| pair.contains('=') && !pair.to_ascii_lowercase().starts_with("expires="))
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn expiry_dates_come_in_every_shape_providers_send() {
        let t = |v: Value| parse_expire_at(&v).map(|t| t.unix_timestamp());
        assert_eq!(t(json!("2030-01-01T00:00:00Z")), Some(1_893_456_000));
        assert_eq!(t(json!("2030-01-01T00:00:00.123")), Some(1_893_456_000));
        assert_eq!(t(json!(1_893_456_000)), Some(1_893_456_000));
        assert_eq!(t(json!(1_893_456_000_000u64)), Some(1_893_456_000));
        assert_eq!(t(json!("1893456000")), Some(1_893_456_000));
        assert_eq!(t(json!("soon")), None);
    }

    #[test]
    fn cookies_keep_their_pairs_only() {
        assert_eq!(
            cookie_pairs("B1SESSION=abc; path=/b1s; HttpOnly, ROUTEID=.node1; path=/"),
            "B1SESSION=abc; ROUTEID=.node1"
        );
    }
}
