//! The catalog's request-time templates, rendered as their entries write them: a signed header
//! agrees with the other headers of the same request, helpers nest, and `${stepN.x}` reads an
//! earlier answer within its slot's rules.

use serde_json::json;
use time::OffsetDateTime;

use super::*;
use crate::providers::provider;

fn moment() -> Moment {
    Moment::at(OffsetDateTime::from_unix_timestamp(1_772_528_707).unwrap())
}

fn header(entry: &str, name: &str) -> String {
    let p = provider(entry).unwrap();
    p.token_headers
        .as_ref()
        .and_then(|h| h.get(name))
        .or_else(|| p.proxy.as_ref()?.headers.as_ref()?.get(name))
        .unwrap_or_else(|| panic!("{entry} has no header {name}"))
        .clone()
}

#[test]
fn avanans_signature_covers_the_same_moment_and_request_id_as_its_headers() {
    let mut vars = Vars {
        moment: moment(),
        ..Vars::default()
    };
    vars.credentials.insert("appId".into(), "app1".into());
    vars.credentials.insert("secretKey".into(), "sk".into());
    let date = render_text(&header("avanan", "x-av-date"), &vars, Slot::Header).unwrap();
    let id = render_text(&header("avanan", "x-av-req-id"), &vars, Slot::Header).unwrap();
    let sig = render_text(&header("avanan", "x-av-sig"), &vars, Slot::Header).unwrap();
    assert_eq!(date, "2026-03-03T09:05:07");
    assert_eq!(uuid::Uuid::parse_str(&id).unwrap().get_version_num(), 4);
    use base64::Engine;
    use sha2::Digest;
    let expected = hex::encode(sha2::Sha256::digest(
        base64::engine::general_purpose::STANDARD.encode(format!("{id}app1{date}sk")),
    ));
    assert_eq!(sig, expected);
}

#[test]
fn request_parts_feed_cisco_duos_hmac_and_aws_signatures() {
    let mut vars = Vars {
        moment: moment(),
        request: Some(RequestParts::of(
            "get",
            &Url::parse("https://api-x.duosecurity.com/admin/v1/users?username=a%20b&limit=1").unwrap(),
            b"",
        )),
        ..Vars::default()
    };
    vars.credentials
        .insert("username".into(), "DIWJ8X6AEYOR5OMC6TQ1".into());
    vars.credentials
        .insert("password".into(), "Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep".into());
    let auth = render_text(&header("cisco-duo-admin", "authorization"), &vars, Slot::Header).unwrap();
    let date = render_text(&header("cisco-duo-admin", "date"), &vars, Slot::Header).unwrap();
    assert_eq!(date, "Tue, 03 Mar 2026 09:05:07 +0000");
    let canonical = format!("{date}\nGET\napi-x.duosecurity.com\n/admin/v1/users\nlimit=1&username=a%20b");
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(b"Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep").unwrap();
    mac.update(canonical.as_bytes());
    let pair = format!("DIWJ8X6AEYOR5OMC6TQ1:{}", hex::encode(mac.finalize().into_bytes()));
    use base64::Engine;
    assert_eq!(
        auth,
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
    );

    let aws = render_text(&header("aws-iam", "authorization"), &vars, Slot::Header).unwrap();
    assert!(
        aws.starts_with("AWS4-HMAC-SHA256 Credential=DIWJ8X6AEYOR5OMC6TQ1/20260303/us-east-1/iam/aws4_request,"),
        "{aws}"
    );
    assert_eq!(
        render_text(&header("aws-iam", "x-amz-date"), &vars, Slot::Header).unwrap(),
        "20260303T090507Z"
    );
}

#[test]
fn tripletex_and_sage_intacct_dates_render_as_params() {
    let vars = Vars {
        moment: moment(),
        ..Vars::default()
    };
    assert_eq!(
        render_text("${now+7:days:YYYY-MM-DD}", &vars, Slot::Param).unwrap(),
        "2026-03-10"
    );
    assert_eq!(
        render_text("${now}", &vars, Slot::Param).unwrap(),
        "2026-03-03T09:05:07.000Z"
    );
    let nonce = render_text("${random}", &vars, Slot::Query).unwrap();
    assert_eq!(
        nonce,
        render_text("${random}", &vars, Slot::Header).unwrap(),
        "one per request"
    );
    assert_ne!(nonce, render_text("${random}", &Vars::default(), Slot::Header).unwrap());
}

#[test]
fn step_values_fill_their_slot_and_a_hostile_answer_is_refused() {
    let answer = |v: serde_json::Value| v.as_object().unwrap().clone();
    let mut vars = Vars {
        steps: vec![answer(
            json!({"instance_url": "https://acme.my.salesforce.com", "access_token": "at 1", "nested": {"id": 7}}),
        )],
        ..Vars::default()
    };
    let url = render_url_traced("${step1.instance_url}/services/a360/token", &vars).unwrap();
    assert_eq!(url.url.as_str(), "https://acme.my.salesforce.com/services/a360/token");
    assert_eq!(url.host_from, ["step1.instance_url"], "the answer chose the host");
    assert_eq!(
        render_text("Bearer ${step1.access_token}", &vars, Slot::Header).unwrap(),
        "Bearer at 1"
    );
    assert_eq!(render_text("${step1.nested.id}", &vars, Slot::Param).unwrap(), "7");
    assert_eq!(
        render_url("${step2.token_endpoint}", &vars),
        Err(TemplateError::Missing("step2.token_endpoint".into()))
    );
    for hostile in [
        "https://evil.com@acme.com",
        "https://evil.com/x?y=",
        "javascript:alert(1)",
    ] {
        vars.steps[0].insert("instance_url".into(), json!(hostile));
        assert!(
            matches!(
                render_url("${step1.instance_url}/services/a360/token", &vars),
                Err(TemplateError::Invalid { .. }) | Err(TemplateError::NotAUrl)
            ),
            "{hostile}"
        );
    }
}

#[test]
fn helpers_nest_and_their_output_is_checked_for_its_slot() {
    let mut vars = Vars::default();
    vars.credentials.insert("a".into(), "x".into());
    use base64::Engine;
    use sha2::Digest;
    let inner = base64::engine::general_purpose::STANDARD.encode("x:y");
    assert_eq!(
        render_text("${sha256Hex(${base64(${credentials.a}:y)})}", &vars, Slot::Header).unwrap(),
        hex::encode(sha2::Sha256::digest(inner))
    );
    // Base64 may carry `/`, `+` and `=`: never into a path segment.
    vars.credentials.insert("a".into(), "\u{ff}\u{ff}".into());
    assert!(matches!(
        render_url("https://api.example.com/${base64(${credentials.a}?)}/x", &vars),
        Err(TemplateError::Unsupported(_))
    ));
    let url = render_url("https://api.example.com/${sha256Hex(${credentials.a})}/x", &vars).unwrap();
    assert_eq!(url.host_str(), Some("api.example.com"));
}
