use super::sts::{endpoint, xml_text};
use super::*;

#[test]
fn a_region_is_a_region_and_never_a_host() {
    for ok in ["us-east-1", "us-gov-west-1", "eu-central-2", "cn-north-1"] {
        assert!(check_region(ok).is_ok(), "{ok}");
    }
    for bad in [
        "",
        "us-east-1.evil.example",
        "169.254.169.254#",
        "evil.example/",
        "us-east-1@evil",
        "US-EAST-1",
        "-us",
        "us-",
        "us--east",
        "1us",
        "a",
        &"a".repeat(33),
    ] {
        let err = check_region(bad).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidConnectionConfig, "{bad}");
    }
    assert_eq!(
        endpoint("eu-west-1").unwrap().as_str(),
        "https://sts.eu-west-1.amazonaws.com/"
    );
    assert_eq!(
        endpoint("cn-north-1").unwrap().as_str(),
        "https://sts.cn-north-1.amazonaws.com.cn/"
    );
}

#[test]
fn role_arns_are_checked_and_their_sessions_recognized() {
    let role = RoleArn::parse("arn:aws:iam::123456789012:role/team/LatchkeyAccess").unwrap();
    assert!(role.is_assumed_by("arn:aws:sts::123456789012:assumed-role/LatchkeyAccess/latchkey-ab12"));
    for other in [
        "arn:aws:sts::999999999999:assumed-role/LatchkeyAccess/s",
        "arn:aws:sts::123456789012:assumed-role/LatchkeyAccessX/s",
        "arn:aws:sts::123456789012:assumed-role/LatchkeyAccess/",
        "arn:aws:iam::123456789012:user/LatchkeyAccess",
        "",
    ] {
        assert!(!role.is_assumed_by(other), "{other}");
    }
    for bad in [
        "",
        "arn:aws:iam::12345678901:role/x",
        "arn:aws:iam::123456789012:user/x",
        "arn:aws:s3:::bucket",
        "arn:evil:iam::123456789012:role/x",
        "arn:aws:iam::123456789012:role/",
        "arn:aws:iam::123456789012:role/a b",
        "arn:aws:iam::123456789012:role/x\n",
    ] {
        assert_eq!(
            RoleArn::parse(bad).err().unwrap().code,
            ErrorCode::InvalidCredentials,
            "{bad:?}"
        );
    }
}

#[test]
fn sts_answers_are_read_by_element() {
    let xml = r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>
        <AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/R/s</Arn></AssumedRoleUser>
        <Credentials><AccessKeyId>ASIAEXAMPLE</AccessKeyId><SecretAccessKey>s/+k</SecretAccessKey>
        <SessionToken>tok</SessionToken><Expiration>2026-12-02T21:00:00Z</Expiration></Credentials>
        </AssumeRoleResult></AssumeRoleResponse>"#;
    assert_eq!(xml_text(xml, "AccessKeyId").as_deref(), Some("ASIAEXAMPLE"));
    assert_eq!(xml_text(xml, "SecretAccessKey").as_deref(), Some("s/+k"));
    assert_eq!(
        xml_text(xml, "Arn").as_deref(),
        Some("arn:aws:sts::123456789012:assumed-role/R/s")
    );
    assert_eq!(xml_text(xml, "Missing"), None);
    assert_eq!(xml_text("<a><b>", "b"), None);
    assert_eq!(xml_text("not xml <<<", "b"), None);
}

#[test]
fn an_external_id_is_a_mode_key_of_connection_config() {
    let config = |v: &str| {
        let mut c = crate::domain::ConnectionConfig::default();
        c.insert(EXTERNAL_ID.into(), serde_json::json!(v));
        c
    };
    let ok = crate::providers::validate_connection_config("aws-sigv4", &config("b3c0-team-7")).unwrap();
    assert_eq!(ok.get(EXTERNAL_ID).and_then(Value::as_str), Some("b3c0-team-7"));
    for bad in ["x", "a b", "id#frag"] {
        assert!(
            crate::providers::validate_connection_config("aws-sigv4", &config(bad)).is_err(),
            "{bad}"
        );
    }
    assert!(
        crate::providers::validate_connection_config("zendesk", &config("b3c0-team-7")).is_err(),
        "only AWS_SIGV4 takes it"
    );
}
