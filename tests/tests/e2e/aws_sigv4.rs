//! AWS_SIGV4 end to end against STS and IAM on moto with request authentication on
//! (`tests/peers/aws/sts.py`): moto recomputes every SigV4 signature with botocore, knows only
//! the access keys it issued, and judges `AssumeRole` by the role's trust policy and its
//! `sts:ExternalId` condition. The integration holds the team's IAM access key; the end user
//! gives a role ARN through `POST /auth/aws-sigv4/{integration}` (the body Nango's `auth()`
//! sends); the team's backend gives the external id in its connect session. The temporary
//! credentials a backend reads are the role's (moto's `GetCallerIdentity` answered for them,
//! signed with their session token), renewed by assuming the role again; the integration's
//! secret access key is never shown; and what the end user controls (region, external id,
//! role) never moves where the integration's key is sent.

use latchkey_tests::aws_sts::{integration, spawn_sts_app, StsPeer};
use latchkey_tests::{assert_no_secret, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use time::Duration;

/// A connect session whose defaults carry the team's external id for `aws`.
async fn session(app: &TestApp, external_id: &str) -> String {
    let (status, v) = app
        .backend(
            Method::POST,
            "/connect/sessions",
            Some(&json!({"end_user": {"id": "u1"}, "allowed_integrations": ["aws"],
                "integrations_config_defaults": {"aws": {"connection_config": {"external_id": external_id}}}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v["data"]["token"].as_str().unwrap().to_owned()
}

/// `POST /auth/aws-sigv4/aws` with a connect session token and `body`.
async fn connect(app: &TestApp, token: &str, extra: &str, body: &Value) -> (StatusCode, Value) {
    let url = app.url(&format!("/auth/aws-sigv4/aws?connect_session_token={token}{extra}"));
    let r = app.http.post(url).json(body).send().await.unwrap();
    (r.status(), r.json().await.unwrap_or(Value::Null))
}

async fn setup() -> (TestApp, StsPeer) {
    let (app, peer) = spawn_sts_app().await;
    let created = app.post_integration(&integration(&peer, "aws", "s3")).await;
    let config = &created["integration_config"];
    assert_eq!(config["service"], "s3");
    assert_eq!(config["awsSecretAccessKey"], "********", "{created}");
    assert_no_secret(&created.to_string(), &[&peer.access_key().1]);
    (app, peer)
}

#[tokio::test]
async fn a_role_is_assumed_with_the_teams_external_id_and_renewed_by_assuming_it_again() {
    let (app, peer) = setup().await;
    let (role, external_id) = peer.role();
    let token = session(&app, &external_id).await;
    let (status, v) = connect(&app, &token, "", &json!({"role_arn": role, "region": "us-east-1"})).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let id = v["connectionId"].as_str().unwrap().to_owned();

    let (status, conn) = app.read_connection("aws", &id, "").await;
    assert_eq!(status, 200, "{conn}");
    let c = &conn["credentials"];
    assert_eq!(c["type"], "AWS_SIGV4");
    assert_eq!(c["role_arn"], role.as_str());
    assert_eq!(
        (c["region"].as_str(), c["service"].as_str()),
        (Some("us-east-1"), Some("s3"))
    );
    assert_eq!(c["external_id"], external_id.as_str());
    let first_key = c["access_key_id"].as_str().unwrap().to_owned();
    assert!(first_key.starts_with("ASIA"), "temporary credentials: {c}");
    assert!(!c["session_token"].as_str().unwrap().is_empty());
    assert_eq!(c["raw"]["access_key_id"], first_key.as_str(), "Nango's raw shape");
    assert_eq!(conn["connection_config"]["external_id"], external_id.as_str());
    assert_eq!(conn["connection_config"]["service"], "s3");
    assert_eq!(peer.received("AssumeRole").await, 1);
    assert_eq!(
        peer.received("GetCallerIdentity").await,
        1,
        "the temporary credentials were proven, signed with their session token"
    );
    assert_eq!(peer.refused().await, 0, "moto accepted every signature");
    let secret = peer.access_key().1;
    assert_no_secret(&conn.to_string(), &[&secret]);
    assert_no_secret(&json!(app.activity(None).await).to_string(), &[&secret]);

    // They last an hour: a read that finds them about to expire assumes the role again.
    let (_, again) = app.read_connection("aws", &id, "").await;
    assert_eq!(
        again["credentials"]["access_key_id"],
        first_key.as_str(),
        "live credentials are reused"
    );
    app.clock.advance(Duration::minutes(58));
    let (_, later) = app.read_connection("aws", &id, "").await;
    let second_key = later["credentials"]["access_key_id"].as_str().unwrap().to_owned();
    assert_ne!(second_key, first_key, "{later}");
    assert_eq!(peer.received("AssumeRole").await, 2);
    let (_, forced) = app.read_connection("aws", &id, "&force_refresh=true").await;
    assert_ne!(forced["credentials"]["access_key_id"], second_key.as_str());
    assert_eq!(peer.received("AssumeRole").await, 3);

    // Credentials in use are renewed by the scheduler before they expire.
    app.clock.advance(Duration::minutes(50));
    let report = app.run_scheduler().await;
    assert_eq!((report.due, report.enqueued), (1, 1), "{report:?}");
    assert_eq!(app.run_jobs().await, 1);
    assert_eq!(peer.received("AssumeRole").await, 4);
    assert_eq!(peer.refused().await, 0);
}

#[tokio::test]
async fn what_the_end_user_controls_never_moves_the_integrations_key() {
    let (app, peer) = setup().await;
    let (role, external_id) = peer.role();

    // The end user's own external id is refused: it is the team's guard against a confused deputy.
    let (status, v) = app
        .frontend_post(
            "/auth/aws-sigv4/aws",
            "connection_id=mine&params%5Bexternal_id%5D=team-ext-7",
            &json!({"role_arn": role}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"]["code"], "invalid_connection_config", "{v}");

    // Regions that would name another host are refused before anything is sent.
    for region in [
        "169.254.169.254#",
        "us-east-1.evil.example",
        "evil.example/x",
        "us-east-1@evil.example",
    ] {
        let (status, v) = app
            .frontend_post(
                "/auth/aws-sigv4/aws",
                "connection_id=mine",
                &json!({"role_arn": role, "region": region}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{region}: {v}");
        assert_eq!(v["error"]["code"], "invalid_connection_config", "{region}: {v}");
    }
    for bad_role in ["arn:aws:iam::123456789012:user/latchkey", "https://evil.example/", ""] {
        let (status, v) = app
            .frontend_post(
                "/auth/aws-sigv4/aws",
                "connection_id=mine",
                &json!({"role_arn": bad_role}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad_role}: {v}");
        assert_eq!(v["error"]["code"], "invalid_credentials", "{bad_role}: {v}");
    }
    assert_eq!(peer.stats().await["requests"], 0, "nothing reached STS");

    // Without the team's external id, the role's trust policy refuses: nothing is stored.
    let (status, v) = app
        .frontend_post("/auth/aws-sigv4/aws", "connection_id=mine", &json!({"role_arn": role}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"]["code"], "connection_test_failed", "{v}");
    assert_eq!(peer.received("AssumeRole").await, 1);
    assert_eq!(peer.refused().await, 1, "STS judged it");
    app.assert_not_stored("aws", "mine").await;
    let failed = app.failed_activity(Some("mine"), "connection_test_failed").await;
    assert!(
        failed.to_string().contains("AccessDenied"),
        "the operator sees why: {failed}"
    );

    // A wrong integration secret is refused by STS's signature check, and named to the operator.
    let mut wrong = integration(&peer, "aws", "s3");
    wrong["integration_config"]["awsSecretAccessKey"] = json!("not-the-secret-access-key-0000");
    let (status, _) = app
        .backend(
            Method::PATCH,
            "/integrations/aws",
            Some(&json!({"integration_config": wrong["integration_config"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let token = session(&app, &external_id).await;
    let (status, v) = connect(&app, &token, "", &json!({"role_arn": role})).await;
    assert_eq!(v["error"]["code"], "connection_test_failed", "{status} {v}");
    let entries = json!(app.activity(None).await).to_string();
    assert!(entries.contains("SignatureDoesNotMatch"), "{entries}");
    assert_no_secret(&entries, &["not-the-secret-access-key-0000", &peer.access_key().1]);
}

#[tokio::test]
async fn an_import_assumes_the_role_it_names_and_the_integration_is_checked() {
    let (app, peer) = setup().await;
    let (role, external_id) = peer.role();
    let (status, v) = app
        .backend(
            Method::POST,
            "/connections",
            Some(&json!({"provider_config_key": "aws", "connection_id": "imported",
                "credentials": {"type": "AWS_SIGV4", "role_arn": role, "external_id": external_id, "region": "eu-west-1"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (_, conn) = app.read_connection("aws", "imported", "").await;
    assert_eq!(conn["credentials"]["region"], "eu-west-1");
    assert!(conn["credentials"]["access_key_id"]
        .as_str()
        .unwrap()
        .starts_with("ASIA"));
    assert_eq!(peer.refused().await, 0);

    // An integration without its key, or with a custom STS endpoint, is refused with the reason.
    for (config, says) in [
        (json!(null), "integration_config"),
        (
            json!({"service": "s3", "stsMode": "custom", "stsEndpointUrl": "https://sts.example.com"}),
            "stsMode",
        ),
        (
            json!({"service": "s3", "awsAccessKeyId": "AKIAEXAMPLE0000000", "awsSecretAccessKey": "s".repeat(40), "defaultRegion": "evil.example/"}),
            "defaultRegion",
        ),
        (
            json!({"service": "S3!", "awsAccessKeyId": "AKIAEXAMPLE0000000", "awsSecretAccessKey": "s".repeat(40)}),
            "service",
        ),
    ] {
        let mut body = json!({"provider": "aws-sigv4", "unique_key": "aws2"});
        if !config.is_null() {
            body["integration_config"] = config;
        }
        let (status, v) = app.backend(Method::POST, "/integrations", Some(&body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
        assert!(v["error"]["message"].as_str().unwrap().contains(says), "{v}");
    }
    let (status, v) = app
        .backend(
            Method::POST,
            "/integrations",
            Some(&json!({"provider": "openai", "unique_key": "ai", "integration_config": {"service": "s3"}})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
}
