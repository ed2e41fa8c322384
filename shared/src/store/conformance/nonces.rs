//! Nonces: claimed once while they live, again once they expired; one winner among concurrent
//! claims.

use super::*;

/// Every test of this file.
pub async fn run(store: &dyn Store) {
    a_nonce_is_claimed_once_until_it_expires(store).await;
    of_concurrent_claims_of_one_nonce_one_wins(store).await;
}

pub async fn a_nonce_is_claimed_once_until_it_expires(store: &dyn Store) {
    let nonce = unique("nonce");
    let t = now();
    let until = t + Duration::seconds(301);
    assert!(store.claim_nonce(&nonce, t, until).await.unwrap());
    assert!(!store.claim_nonce(&nonce, t, until).await.unwrap(), "a replay");
    assert!(
        !store
            .claim_nonce(
                &nonce,
                until - Duration::milliseconds(1),
                until + Duration::seconds(301)
            )
            .await
            .unwrap(),
        "still claimed just before the claim ends"
    );
    assert!(
        store.claim_nonce(&unique("nonce"), t, until).await.unwrap(),
        "another nonce is free"
    );
    // Once the claim ended, the nonce may be claimed again (and is then taken again).
    let later = until + Duration::seconds(1);
    assert!(store
        .claim_nonce(&nonce, later, later + Duration::seconds(301))
        .await
        .unwrap());
    assert!(!store
        .claim_nonce(&nonce, later, later + Duration::seconds(301))
        .await
        .unwrap());
}

pub async fn of_concurrent_claims_of_one_nonce_one_wins(store: &dyn Store) {
    let nonce = unique("nonce");
    let t = now();
    let claims = (0..8).map(|_| store.claim_nonce(&nonce, t, t + Duration::seconds(301)));
    let results = futures::future::join_all(claims).await;
    assert_eq!(
        results.iter().filter(|r| matches!(r, Ok(true))).count(),
        1,
        "{results:?}"
    );
    assert!(results.iter().all(Result::is_ok));
}
