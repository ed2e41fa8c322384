//! The AWS backend against a moto server (started by `tests/steps/40-aws.sh`, which exports
//! `AWS_ENDPOINT_URL`, a region and dummy credentials). Same code path as a Lambda: the
//! clients come from `latchkey::aws`.

use std::sync::Arc;
use std::time::Duration;

use latchkey::aws;
use latchkey::crypto::kms::{CacheLimits, KmsSealer};
use latchkey::crypto::{random_token, SealContext, SealError, Sealer};
use latchkey::store::dynamo::DynamoStore;
use latchkey::store::prelude::*;

fn endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL must point at the moto server (tests/steps/40-aws.sh)")
}

async fn sdk() -> aws_config::SdkConfig {
    let _ = endpoint();
    aws::sdk_config().await
}

fn table_name() -> String {
    format!("latchkey-test-{}", &random_token()[..12].replace(['-', '_'], "x"))
}

async fn fresh_store() -> DynamoStore {
    let store = DynamoStore::new(aws::dynamodb_client(&sdk().await), table_name());
    store.create_table().await.unwrap();
    store
}

async fn new_key(client: &aws_sdk_kms::Client) -> String {
    let out = client.create_key().send().await.unwrap();
    out.key_metadata().unwrap().key_id().to_owned()
}

async fn sealer(limits: CacheLimits) -> (KmsSealer, aws_sdk_kms::Client, String) {
    let client = aws::kms_client(&sdk().await);
    let key = new_key(&client).await;
    (KmsSealer::new(client.clone(), key.clone(), limits), client, key)
}

/// `template.yaml` declares the table `table.rs` creates: every index with its keys and
/// projection, and no other (the Lambda runtime test builds its table from the template, these
/// tests from `table.rs`).
#[test]
fn the_template_declares_the_table_the_code_uses() {
    use latchkey::store::dynamo::{Projection, INDEXES};
    let template = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
    let table = &template[template.find("  Table:\n").unwrap()..template.find("\n  Key:\n").unwrap()];
    for index in INDEXES {
        let projection = match index.projection {
            Projection::KeysOnly => "{ ProjectionType: KEYS_ONLY }".to_owned(),
            Projection::Include(attrs) => format!(
                "{{ ProjectionType: INCLUDE, NonKeyAttributes: [{}] }}",
                attrs.join(", ")
            ),
        };
        let block = format!(
            "        - IndexName: {}\n          KeySchema:\n            - {{ AttributeName: {}, KeyType: HASH }}\n            \
             - {{ AttributeName: {}, KeyType: RANGE }}\n          Projection: {projection}\n",
            index.name, index.pk, index.sk
        );
        assert!(
            table.contains(&block),
            "template.yaml lacks, or differs on, index:\n{block}"
        );
        for attr in [index.pk, index.sk] {
            assert!(
                table.contains(&format!("- {{ AttributeName: {attr}, AttributeType: S }}")),
                "{attr}"
            );
        }
    }
    assert_eq!(
        table.matches("- IndexName:").count(),
        INDEXES.len(),
        "no index the code doesn't know"
    );
    assert!(!table.contains("ProjectionType: ALL"));
}

#[tokio::test]
async fn dynamo_store_passes_the_conformance_suite() {
    let store = fresh_store().await;
    latchkey::store::conformance::run_all(&store).await;
}

/// The activity retention is configurable on DynamoDB too: an entry's TTL is its time plus it.
#[tokio::test]
async fn activity_entries_expire_after_the_configured_retention() {
    let client = aws::dynamodb_client(&sdk().await);
    let table = table_name();
    let store = DynamoStore::new(client.clone(), &table).with_activity_retention(time::Duration::days(7));
    store.create_table().await.unwrap();
    let at = time::OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
    let entry = latchkey::store::conformance::activity_entry("e1", at);
    store.append_activity(&entry).await.unwrap();
    let items = client
        .scan()
        .table_name(&table)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    let ttl = items[0][latchkey::store::dynamo::TTL_ATTRIBUTE].as_n().unwrap().clone();
    assert_eq!(ttl, (at + time::Duration::days(7)).unix_timestamp().to_string());
}

/// Every index of the table, scanned whole: no index item holds a connection's sealed
/// credentials or secret config, its body, or an integration's sealed client secret — only the
/// keys and the attributes the index declares.
#[tokio::test]
async fn no_index_item_carries_sealed_credentials() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use base64::Engine;
    use latchkey::store::conformance::{connection, live_integration};
    use latchkey::store::dynamo::{Projection, INDEXES};
    use latchkey::store::{ActivityEntry, Sealed};

    let store = fresh_store().await;
    let marker = b"SEALED-CREDENTIALS-MUST-STAY-IN-THE-TABLE".to_vec();
    let key = "indexed";
    let mut integration = latchkey::store::conformance::integration(key);
    integration.client_secret = Some(Sealed(marker.clone()));
    store.create_integration(&integration).await.unwrap();
    let _ = live_integration(&store, key).await;
    let now = time::OffsetDateTime::now_utc();
    for i in 0..20 {
        let mut c = connection(key, &format!("c-{i}"));
        c.credentials = Sealed(marker.clone());
        c.secret_config = Some(Sealed(marker.clone()));
        c.last_read_at = Some(now);
        store.upsert_connection(&c).await.unwrap();
        store
            .append_activity(&ActivityEntry {
                attempt_id: format!("attempt-{i}"),
                event: "stored".into(),
                integration: Some(key.into()),
                connection_id: Some(format!("c-{i}")),
                message: "stored".into(),
                ..latchkey::store::conformance::activity_entry(&format!("act-{i}"), now)
            })
            .await
            .unwrap();
    }
    let b64 = base64::engine::general_purpose::STANDARD.encode(&marker);
    let marker_text = String::from_utf8(marker.clone()).unwrap();
    let client = aws::dynamodb_client(&sdk().await);
    for index in INDEXES {
        let mut allowed = vec!["PK", "SK", index.pk, index.sk];
        if let Projection::Include(attrs) = index.projection {
            allowed.extend(attrs);
        }
        let mut seen = 0;
        let mut start = None;
        loop {
            let page = client
                .scan()
                .table_name(store.table())
                .index_name(index.name)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .unwrap();
            for item in page.items() {
                seen += 1;
                for (name, value) in item {
                    assert!(
                        allowed.contains(&name.as_str()),
                        "{}: {name} is not projected",
                        index.name
                    );
                    let leaks = match value {
                        AttributeValue::B(b) => b.as_ref().windows(marker.len()).any(|w| w == marker),
                        AttributeValue::S(s) => s.contains(&b64) || s.contains(&marker_text),
                        _ => false,
                    };
                    assert!(!leaks, "{}: {name} holds the sealed bytes", index.name);
                }
                let is_connection = item.get("SK") == Some(&AttributeValue::S("CONN".into()));
                assert!(
                    !is_connection
                        || ["credentials", "secret_config", "body"]
                            .iter()
                            .all(|a| !item.contains_key(*a)),
                    "{}: a connection's sealed parts or body",
                    index.name
                );
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        assert!(seen > 0, "{} holds items (else this test proves nothing)", index.name);
    }
    // The table itself still has them, apart from the body.
    let item = client
        .get_item()
        .table_name(store.table())
        .key("PK", AttributeValue::S(format!("CONN#{key}#c-0")))
        .key("SK", AttributeValue::S("CONN".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(item.get("credentials"), Some(&AttributeValue::B(marker.clone().into())));
    assert_eq!(
        item.get("secret_config"),
        Some(&AttributeValue::B(marker.clone().into()))
    );
    for part in ["body", "view"] {
        let AttributeValue::S(text) = &item[part] else { panic!() };
        assert!(!text.contains(&b64), "the {part} holds no sealed bytes");
    }
}

#[tokio::test]
async fn kms_sealer_round_trips_and_binds_the_context() {
    let (sealer, client, key) = sealer(CacheLimits::default()).await;
    let ctx = SealContext::connection("prod", "github", "alice");
    let blob = sealer.seal(b"{\"access_token\":\"t\"}", &ctx).await.unwrap();
    assert_eq!(blob[0], 0x02, "versioned format");
    assert_eq!(sealer.open(&blob, &ctx).await.unwrap(), b"{\"access_token\":\"t\"}");

    // Moved onto another connection: fails, from the cache and from a cold sealer alike.
    let other = SealContext::connection("prod", "github", "bob");
    assert!(matches!(sealer.open(&blob, &other).await, Err(SealError::Invalid)));
    let cold = KmsSealer::new(client, key, CacheLimits::default());
    assert!(matches!(cold.open(&blob, &other).await, Err(SealError::Invalid)));
    assert_eq!(cold.open(&blob, &ctx).await.unwrap(), b"{\"access_token\":\"t\"}");

    let mut tampered = blob.clone();
    *tampered.last_mut().unwrap() ^= 1;
    assert!(matches!(sealer.open(&tampered, &ctx).await, Err(SealError::Invalid)));
    assert!(matches!(sealer.open(&blob[..2], &ctx).await, Err(SealError::Invalid)));
    let mut v1 = blob.clone();
    v1[0] = 0x01;
    assert!(matches!(sealer.open(&v1, &ctx).await, Err(SealError::Invalid)));
}

#[tokio::test]
async fn warm_reads_cost_no_kms_call_and_cache_bounds_hold() {
    let limits = CacheLimits {
        max_age: Duration::from_secs(600),
        max_uses: 3,
        max_entries: 2,
    };
    let (sealer, _, _) = sealer(limits).await;
    let ctx = |c: &str| SealContext::connection("prod", "github", c);

    // A fresh data key at least every `max_uses` seals of one context.
    let mut blobs = Vec::new();
    for _ in 0..4 {
        blobs.push(sealer.seal(b"x", &ctx("a")).await.unwrap());
    }
    assert_eq!(sealer.kms_calls(), 2, "3 seals per data key");

    // The sealing cache remembers nothing the opening cache needs: the first open decrypts.
    let before = sealer.kms_calls();
    sealer.open(&blobs[0], &ctx("a")).await.unwrap();
    assert_eq!(sealer.kms_calls(), before + 1);
    sealer.open(&blobs[0], &ctx("a")).await.unwrap();
    sealer.open(&blobs[1], &ctx("a")).await.unwrap();
    assert_eq!(sealer.kms_calls(), before + 1, "warm reads: no KMS call");
    // max_uses also bounds opens: the 4th use of the cached key goes back to KMS.
    sealer.open(&blobs[2], &ctx("a")).await.unwrap();
    assert_eq!(sealer.kms_calls(), before + 2);

    // max_entries: three contexts through a 2-entry cache evict the oldest.
    let b = sealer.seal(b"y", &ctx("b")).await.unwrap();
    let c = sealer.seal(b"z", &ctx("c")).await.unwrap();
    let d = sealer.seal(b"w", &ctx("d")).await.unwrap();
    let base = sealer.kms_calls();
    sealer.open(&b, &ctx("b")).await.unwrap();
    sealer.open(&c, &ctx("c")).await.unwrap();
    sealer.open(&d, &ctx("d")).await.unwrap();
    assert_eq!(sealer.kms_calls(), base + 3);
    sealer.open(&d, &ctx("d")).await.unwrap();
    assert_eq!(sealer.kms_calls(), base + 3, "newest entry kept");
    sealer.open(&b, &ctx("b")).await.unwrap();
    assert_eq!(sealer.kms_calls(), base + 4, "oldest entry evicted");
}

#[tokio::test]
async fn cached_keys_expire_with_max_age() {
    let limits = CacheLimits {
        max_age: Duration::from_millis(200),
        ..CacheLimits::default()
    };
    let (sealer, _, _) = sealer(limits).await;
    let ctx = SealContext::connection("prod", "github", "aged");
    let blob = sealer.seal(b"x", &ctx).await.unwrap();
    sealer.open(&blob, &ctx).await.unwrap();
    let warm = sealer.kms_calls();
    sealer.open(&blob, &ctx).await.unwrap();
    assert_eq!(sealer.kms_calls(), warm);
    tokio::time::sleep(Duration::from_millis(300)).await;
    sealer.open(&blob, &ctx).await.unwrap();
    assert_eq!(sealer.kms_calls(), warm + 1);
    sealer.seal(b"x", &ctx).await.unwrap();
    assert_eq!(sealer.kms_calls(), warm + 2, "a fresh data key after max_age");
}

#[tokio::test]
async fn kms_unreachable_or_refusing_is_unavailable() {
    // Unreachable endpoint.
    let conf = aws_sdk_kms::config::Builder::from(&sdk().await)
        .endpoint_url("http://127.0.0.1:9")
        .build();
    let dead = KmsSealer::new(
        aws_sdk_kms::Client::from_conf(conf),
        "alias/none",
        CacheLimits::default(),
    );
    let ctx = SealContext::connection("prod", "github", "x");
    assert!(matches!(dead.seal(b"x", &ctx).await, Err(SealError::Unavailable(_))));

    // A key KMS refuses (moto does not enforce disabled keys; a missing one gives
    // NotFoundException, a service-side refusal like DisabledException).
    let missing = KmsSealer::new(
        aws::kms_client(&sdk().await),
        "alias/latchkey-missing",
        CacheLimits::default(),
    );
    assert!(matches!(missing.seal(b"x", &ctx).await, Err(SealError::Unavailable(_))));
    let (sealer, _, _) = sealer(CacheLimits::default()).await;
    let blob = sealer.seal(b"x", &ctx).await.unwrap();
    assert!(matches!(
        missing.open(&blob, &ctx).await,
        Err(SealError::Unavailable(_)) | Err(SealError::Invalid)
    ));
}

#[tokio::test]
async fn kms_unavailable_answers_503_and_writes_nothing() {
    use axum::body::Body;
    use tower::ServiceExt;
    let store = Arc::new(fresh_store().await);
    let conf = aws_sdk_kms::config::Builder::from(&sdk().await)
        .endpoint_url("http://127.0.0.1:9")
        .build();
    let dead = KmsSealer::new(
        aws_sdk_kms::Client::from_conf(conf),
        "alias/none",
        CacheLimits::default(),
    );
    let keys = latchkey::config::EnvironmentKeys::generate();
    let secret = keys.secret_key.expose().to_owned();
    let config = latchkey::config::Config::new("prod", "http://127.0.0.1:3003".parse().unwrap(), None);
    let state = latchkey::AppState::new(store.clone(), Arc::new(dead), keys, config);
    let body = serde_json::json!({
        "provider": "custom-oauth2",
        "unique_key": "down",
        "credentials": {"type": "OAUTH2", "client_id": "id", "client_secret": "shh"},
        "custom": {"authorization_url": "https://id.example.com/a", "token_url": "https://id.example.com/t"}
    });
    let res = latchkey::api::local(state)
        .oneshot(
            axum::http::Request::post("/integrations")
                .header("authorization", format!("Bearer {secret}"))
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 16).await.unwrap();
    let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(json["error"]["code"], "service_unavailable");
    let key = latchkey::domain::IntegrationKey::parse("down").unwrap();
    assert_eq!(store.get_integration(&key).await.unwrap(), None, "nothing written");
}

#[tokio::test]
async fn keys_come_from_secrets_manager_and_the_aws_backend_builds() {
    let sdk = sdk().await;
    let sm = aws::secrets_client(&sdk);
    let keys = latchkey::config::EnvironmentKeys::generate();
    let name = format!("latchkey/test/{}", table_name());
    sm.create_secret()
        .name(&name)
        .secret_string(serde_json::to_string(&keys).unwrap())
        .send()
        .await
        .unwrap();
    let read = aws::environment_keys(&sm, &name).await.unwrap();
    assert_eq!(read.public_key, keys.public_key);
    assert_eq!(read.secret_key.expose(), keys.secret_key.expose());
    assert!(aws::environment_keys(&sm, "latchkey/missing").await.is_err());

    // The whole backend from the environment, as a Lambda builds it.
    let store = fresh_store().await;
    let kms = aws::kms_client(&sdk);
    let key = new_key(&kms).await;
    let state = {
        // SAFETY: only this test sets these variables, before the backend reads them.
        unsafe {
            std::env::set_var("LATCHKEY_TABLE", store.table());
            std::env::set_var("LATCHKEY_KMS_KEY_ID", &key);
            std::env::set_var("LATCHKEY_KEYS_SECRET_ID", &name);
        }
        let config = latchkey::config::Config::new("prod", "http://127.0.0.1:3003".parse().unwrap(), None);
        latchkey::runtime::aws_state(config).await.unwrap()
    };
    assert_eq!(state.keys.cached().public_key, keys.public_key);
    let ctx = SealContext::integration("prod", "github");
    let blob = state.sealer.seal(b"s", &ctx).await.unwrap();
    assert_eq!(state.sealer.open(&blob, &ctx).await.unwrap(), b"s");
    assert_eq!(state.store.get_settings().await.unwrap(), Default::default());
}

/// Two instances read one keys secret. A rotation on one writes a new version of the secret
/// (a seed becomes explicit keys); the other takes the new secret key the first time a caller
/// presents it, keeps accepting the previous one during the grace period, and picks up keys it
/// was never shown once its copy is older than the maximum age.
#[tokio::test]
async fn a_rotation_on_one_instance_reaches_the_others_through_the_secret() {
    use latchkey::keys::{KeyName, Keys, DEFAULT_MAX_AGE};
    let sdk = sdk().await;
    let sm = aws::secrets_client(&sdk);
    let name = format!("latchkey/test/{}", table_name());
    let seed = r#"{"seed": "0123456789abcdef0123456789abcdef0123456789abcdef"}"#;
    sm.create_secret().name(&name).secret_string(seed).send().await.unwrap();
    let instance = || async {
        let keys = aws::environment_keys(&sm, &name).await.unwrap();
        let source = aws::SecretsManagerKeys {
            client: sm.clone(),
            secret_id: name.clone(),
        };
        Keys::new(Arc::new(source), keys, time::OffsetDateTime::now_utc())
    };
    let (a, b) = (instance().await, instance().await);
    let before = b.cached();
    let now = time::OffsetDateTime::now_utc();
    let rotated = a
        .rotate(&[KeyName::SecretKey], time::Duration::hours(24), now)
        .await
        .unwrap();

    let stored = sm.get_secret_value().secret_id(&name).send().await.unwrap();
    let explicit: latchkey::config::EnvironmentKeys = serde_json::from_str(stored.secret_string().unwrap()).unwrap();
    assert_eq!(explicit, *rotated, "the secret now holds the explicit keys");
    assert_eq!(explicit.public_key, before.public_key, "keys not rotated are kept");
    assert_eq!(explicit.previous_secret_key.as_ref(), Some(&before.secret_key));

    assert_eq!(
        b.current(now).await.secret_key,
        before.secret_key,
        "b still has its copy"
    );
    let seen = b.reload_for_unknown_key(now).await.expect("b reads the new version");
    assert_eq!(seen.accepted_secret_keys(now), rotated.accepted_secret_keys(now));
    assert_eq!(
        seen.accepted_secret_keys(now + time::Duration::hours(25)),
        [rotated.secret_key.expose()]
    );

    let later = a
        .rotate(&[KeyName::PublicKey], time::Duration::ZERO, now)
        .await
        .unwrap();
    assert_eq!(
        later.secret_key, rotated.secret_key,
        "a rotation keeps what the last one wrote"
    );
    assert_ne!(b.current(now).await.public_key, later.public_key);
    assert_eq!(b.current(now + DEFAULT_MAX_AGE).await.public_key, later.public_key);
}
