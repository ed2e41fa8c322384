//! Refresh on read against the real provider (`oidc-provider`, `rotateRefreshToken: true`: a
//! rotated refresh token used again revokes its grant), counted at the provider: many
//! concurrent reads of an expired connection on two instances sharing one store (the SQLite
//! file; the DynamoDB table on moto) cause exactly one refresh grant and no revoked grant, and
//! every reader gets a token the provider accepts; reads after it cause none until it is due;
//! `force_refresh` refreshes; a write lost to a concurrent metadata edit, delete or
//! re-authorization leaves the connection consistent; a lease holder that died holds readers
//! off until its lease ends. Runs on SQLite (20-e2e) and on DynamoDB + KMS (40-aws).

use std::collections::HashSet;

use latchkey_tests::{oidc_peer, spawn_app, spawn_app_with_oidc, FaultPeer, OAuthClient, ProviderStats, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use time::Duration;

const KEY: &str = "idp";

async fn stats(client: &OAuthClient) -> ProviderStats {
    oidc_peer().stats(&client.client_id).await
}

async fn works_at_the_provider(access_token: &str) {
    let (status, me) = oidc_peer().userinfo(access_token).await;
    assert_eq!(status, 200, "the provider refuses the token: {me}");
}

/// Moves Latchkey's clock past the expiry of oidc-provider's one-hour access tokens (the
/// provider's own clock does not move: the tokens still work there).
fn expire(app: &TestApp) {
    app.clock.advance(Duration::minutes(61));
}

#[tokio::test]
async fn fifty_concurrent_reads_on_two_instances_cause_one_refresh_grant_and_every_token_works() {
    let (app, client) = spawn_app_with_oidc(KEY).await;
    let other = app.another_instance().await;
    app.connect_through_provider(KEY, "alice", "alice").await;
    let (before, _) = app.tokens(KEY, "alice", "").await;
    expire(&app);

    let mut reads = tokio::task::JoinSet::new();
    for i in 0..50 {
        let instance = if i % 2 == 0 { &app } else { &other };
        let request = instance.bearer(Method::GET, &format!("/connections/alice?provider_config_key={KEY}"));
        reads.spawn(async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.json::<Value>().await.unwrap())
        });
    }
    let mut tokens = HashSet::new();
    while let Some(read) = reads.join_next().await {
        let (status, body) = read.unwrap();
        assert_eq!(status, 200, "{body}");
        tokens.insert(body["credentials"]["access_token"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        stats(&client).await,
        ProviderStats {
            refresh_grants: 1,
            revoked_grants: 0
        },
        "one refresh at the provider, no refresh token used twice"
    );
    assert_eq!(tokens.len(), 1, "every reader got the refreshed token: {tokens:?}");
    let fresh = tokens.into_iter().next().unwrap();
    assert_ne!(fresh, before);
    works_at_the_provider(&fresh).await;
    let refreshes: Vec<Value> = app
        .activity(Some("alice"))
        .await
        .into_iter()
        .filter(|e| e["operation"] == "refresh")
        .collect();
    assert_eq!(refreshes.len(), 1, "{refreshes:?}");
    assert_eq!(refreshes[0]["event"], "refreshed");
}

#[tokio::test]
async fn reads_after_a_refresh_cause_none_until_it_is_due_and_force_refresh_refreshes() {
    let (app, client) = spawn_app_with_oidc(KEY).await;
    app.connect_through_provider(KEY, "bob", "bob").await;
    expire(&app);
    let (first, first_refresh) = app.tokens(KEY, "bob", "").await;
    for _ in 0..10 {
        assert_eq!(app.tokens(KEY, "bob", "").await.0, first);
    }
    assert_eq!(stats(&client).await.refresh_grants, 1);

    let (forced, forced_refresh) = app.tokens(KEY, "bob", "&force_refresh=true").await;
    assert_ne!(forced, first);
    assert_ne!(
        forced_refresh, first_refresh,
        "the provider rotated the refresh token; it was stored"
    );
    works_at_the_provider(&forced).await;
    expire(&app);
    let (due, _) = app.tokens(KEY, "bob", "").await;
    works_at_the_provider(&due).await;
    assert_eq!(
        stats(&client).await,
        ProviderStats {
            refresh_grants: 3,
            revoked_grants: 0
        }
    );
}

/// Expires `id`, starts a read that refreshes it and holds the refresh at `fault` until `meanwhile`
/// is done: what the read answered.
async fn racing_a_refresh(
    app: &TestApp,
    fault: &FaultPeer,
    id: &str,
    meanwhile: impl std::future::Future<Output = ()>,
) -> (u16, Value) {
    expire(app);
    fault.hold();
    let request = app.bearer(Method::GET, &format!("/connections/{id}?provider_config_key={KEY}"));
    let read = tokio::spawn(async move {
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.json::<Value>().await.unwrap())
    });
    fault.arrived().await;
    meanwhile.await;
    fault.let_through();
    read.await.unwrap()
}

#[tokio::test]
async fn a_refresh_that_loses_its_write_to_a_metadata_edit_keeps_both() {
    let app = spawn_app().await;
    let (fault, client) = FaultPeer::in_front_of_oidc(&app, KEY).await;
    app.connect_through_provider(KEY, "carol", "carol").await;
    let edit = json!({"connection_id": "carol", "provider_config_key": KEY, "metadata": {"plan": "pro"}});
    let (status, body) = racing_a_refresh(&app, &fault, "carol", async {
        let (status, body) = app.backend(Method::POST, "/connections/metadata", Some(&edit)).await;
        assert_eq!(status, 200, "{body}");
    })
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["metadata"], json!({"plan": "pro"}), "the edit was kept");
    works_at_the_provider(body["credentials"]["access_token"].as_str().unwrap()).await;
    // The rotated refresh token was stored: the next refresh uses it, and the grant lives.
    let (forced, _) = app.tokens(KEY, "carol", "&force_refresh=true").await;
    works_at_the_provider(&forced).await;
    assert_eq!(
        stats(&client).await,
        ProviderStats {
            refresh_grants: 2,
            revoked_grants: 0
        }
    );
}

#[tokio::test]
async fn a_connection_deleted_during_its_refresh_stays_deleted() {
    let app = spawn_app().await;
    let (fault, _client) = FaultPeer::in_front_of_oidc(&app, KEY).await;
    app.connect_through_provider(KEY, "dave", "dave").await;
    let (status, body) = racing_a_refresh(&app, &fault, "dave", async {
        let (status, body) = app
            .backend(
                Method::DELETE,
                &format!("/connections/dave?provider_config_key={KEY}"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
    })
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found")),
        "{body}"
    );
    app.assert_not_stored(KEY, "dave").await;
}

#[tokio::test]
async fn an_authorization_during_a_refresh_wins_over_it() {
    let app = spawn_app().await;
    let (fault, client) = FaultPeer::in_front_of_oidc(&app, KEY).await;
    app.connect_through_provider(KEY, "erin", "erin").await;
    let mut again = String::new();
    let (status, body) = racing_a_refresh(&app, &fault, "erin", async {
        // The end user connects again meanwhile (its code exchange passes the held refresh).
        fault.stop_holding();
        app.connect_through_provider(KEY, "erin", "erin").await;
        let (token, _) = app.tokens(KEY, "erin", "").await;
        again = token;
    })
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["credentials"]["access_token"],
        again.as_str(),
        "the new authorization stands"
    );
    let (forced, _) = app.tokens(KEY, "erin", "&force_refresh=true").await;
    works_at_the_provider(&forced).await;
    assert_eq!(stats(&client).await.revoked_grants, 0);
}

#[tokio::test]
async fn a_lease_holder_that_dies_mid_refresh_holds_readers_off_until_its_lease_ends() {
    let app = spawn_app().await;
    let (fault, client) = FaultPeer::in_front_of_oidc(&app, KEY).await;
    app.connect_through_provider(KEY, "frank", "frank").await;
    expire(&app);
    // A reader takes the lease and dies while the provider has its request (its request is
    // dropped mid-refresh: nothing gives the lease back).
    fault.hold();
    let request = app.bearer(Method::GET, &format!("/connections/frank?provider_config_key={KEY}"));
    let dying = tokio::spawn(request.send());
    fault.arrived().await;
    dying.abort();
    fault.stop_holding();

    // Other readers wait for it (moving Latchkey's clock, not taking time), then give up with a
    // retryable error rather than refresh beside it.
    app.clock.set_virtual_waits(true);
    app.assert_read_fails(KEY, "frank", "", 503, "service_unavailable")
        .await;
    // Its lease ends: the next reader refreshes.
    app.clock.advance(Duration::seconds(60));
    let (token, _) = app.tokens(KEY, "frank", "").await;
    works_at_the_provider(&token).await;
    assert_eq!(
        stats(&client).await,
        ProviderStats {
            refresh_grants: 1,
            revoked_grants: 0
        },
        "the dead holder's request never reached the provider; one refresh after it"
    );
}
