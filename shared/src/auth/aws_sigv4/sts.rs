//! The two calls Latchkey makes to AWS STS (query protocol, XML answers), each signed by
//! `sign`: `AssumeRole` with the integration's access key (the customer's role, with the
//! connection's external id), and `GetCallerIdentity` with the temporary credentials it gave
//! (they work, and are the role's). Both go to `https://sts.<region>.amazonaws.com/` through
//! the guarded client; the region is checked (`check_region`) before a URL is made of it.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{check_region, sign, RoleArn, Signer};
use crate::auth::{ModeContext, ProviderRequest};
use crate::domain::Secret;
use crate::error::{Error, ErrorCode};
use crate::outbound::{Method, Target};

/// How long the temporary credentials are asked for (AWS's default and Nango's).
pub const DURATION_SECONDS: u32 = 3600;

/// The end user is told one thing whatever STS answered; the activity entry has the code.
const NOT_ASSUMED: &str = "The role could not be assumed: check its ARN, and that its trust policy names this integration's AWS account and the connection's external id.";

/// What `AssumeRole` gave.
pub struct Temporary {
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub session_token: Secret,
    pub expires_at: OffsetDateTime,
}

fn refused(transient: bool, detail: String) -> Error {
    Error::provider(transient, ErrorCode::ConnectionTestFailed, NOT_ASSUMED).with_detail(detail)
}

/// STS's regional endpoint (`.amazonaws.com.cn` in the China regions).
pub fn endpoint(region: &str) -> Result<url::Url, Error> {
    check_region(region)?;
    let domain = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    url::Url::parse(&format!("https://sts.{region}.{domain}/")).map_err(|_| Error::internal())
}

/// The text of the first `<tag>` element of an XML answer.
pub fn xml_text(xml: &str, tag: &str) -> Option<String> {
    let mut inside = false;
    for token in xmlparser::Tokenizer::from(xml) {
        match token.ok()? {
            xmlparser::Token::ElementStart { local, .. } => inside = local.as_str() == tag,
            xmlparser::Token::Text { text } if inside => {
                let text = text.as_str().trim();
                return (!text.is_empty()).then(|| text.to_owned());
            }
            _ => {}
        }
    }
    None
}

/// One STS action, signed by `signer`; the answer's body, or the refusal (with STS's error
/// code for the operator).
async fn call(
    cx: &ModeContext<'_>,
    signer: &Signer<'_>,
    region: &str,
    params: &[(String, String)],
) -> Result<String, Error> {
    let mut request = ProviderRequest::new(Method::POST, Target::catalog(endpoint(region)?))
        .form(params)
        .header("accept", "text/xml");
    sign(&mut request, signer, region, "sts", cx.state.clock.now());
    let reply = cx.state.outbound.send(request).await.map_err(|e| {
        if e.is_refused_host() {
            e.into_error(ErrorCode::ConnectionTestFailed, NOT_ASSUMED)
        } else {
            refused(e.is_transient(), format!("the STS request failed: {e}"))
        }
    })?;
    let body = String::from_utf8_lossy(&reply.body).into_owned();
    if !reply.is_success() {
        let status = reply.status;
        let code = xml_text(&body, "Code").unwrap_or_default();
        let transient = status >= 500 || status == 429 || code == "Throttling";
        let code: String = code.chars().filter(char::is_ascii_alphanumeric).take(64).collect();
        return Err(refused(transient, format!("STS answered HTTP {status} {code}")));
    }
    Ok(body)
}

/// `AssumeRole` of `role` with `external_id`, signed with the integration's access key.
pub async fn assume_role(
    cx: &ModeContext<'_>,
    signer: &Signer<'_>,
    role: &RoleArn,
    external_id: &str,
    region: &str,
) -> Result<Temporary, Error> {
    let session = format!("latchkey-{}", hex::encode(crate::crypto::random_bytes::<8>()));
    let params: Vec<(String, String)> = [
        ("Action", "AssumeRole"),
        ("Version", "2011-06-15"),
        ("RoleArn", role.as_str()),
        ("RoleSessionName", &session),
        ("ExternalId", external_id),
        ("DurationSeconds", &DURATION_SECONDS.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let body = call(cx, signer, region, &params).await?;
    let field = |tag| xml_text(&body, tag).ok_or_else(|| refused(false, format!("the AssumeRole answer has no {tag}")));
    let expiration = field("Expiration")?;
    Ok(Temporary {
        access_key_id: field("AccessKeyId")?,
        secret_access_key: Secret::new(field("SecretAccessKey")?),
        session_token: Secret::new(field("SessionToken")?),
        expires_at: OffsetDateTime::parse(&expiration, &Rfc3339)
            .map_err(|_| refused(false, "the AssumeRole answer's Expiration is not a time".into()))?,
    })
}

/// `GetCallerIdentity` with the temporary credentials: the ARN they act as, which must be a
/// session of `role` (`arn:aws:sts::<account>:assumed-role/<name>/<session>`).
pub async fn check_identity(
    cx: &ModeContext<'_>,
    signer: &Signer<'_>,
    role: &RoleArn,
    region: &str,
) -> Result<(), Error> {
    let params = [
        ("Action".to_owned(), "GetCallerIdentity".to_owned()),
        ("Version".to_owned(), "2011-06-15".to_owned()),
    ];
    let body = call(cx, signer, region, &params).await?;
    let arn = xml_text(&body, "Arn").unwrap_or_default();
    if role.is_assumed_by(&arn) {
        Ok(())
    } else {
        Err(refused(
            false,
            "the temporary credentials act as another identity than the role".into(),
        ))
    }
}
