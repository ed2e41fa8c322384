//! The table's schema: its key attributes, its global secondary indexes and its TTL, as
//! `template.yaml` declares them. `create_table` builds the same table for tests and emulators.

use aws_sdk_dynamodb::types::AttributeValue;
use time::OffsetDateTime;

use super::{map_err, n, Attributes, DynamoStore, StoreResult};

/// The table's partition and sort key attributes.
pub(super) const PK: &str = "PK";
pub(super) const SK: &str = "SK";

/// A global secondary index: its name and key attributes. Every index projects `ALL`.
pub struct Index {
    pub name: &'static str,
    pub pk: &'static str,
    pub sk: &'static str,
}

/// Listings by time: integrations, connections newest first, activity of the environment.
pub const GSI1: Index = Index {
    name: "GSI1",
    pk: "GSI1PK",
    sk: "GSI1SK",
};
/// Activity of one connection, newest first.
pub const GSI2: Index = Index {
    name: "GSI2",
    pk: "GSI2PK",
    sk: "GSI2SK",
};
/// Connections by expiry: sparse (only connections with `expires_at`) and sharded.
pub const GSI_REFRESH: Index = Index {
    name: "GSI_REFRESH",
    pk: "RPK",
    sk: "RSK",
};
const INDEXES: [&Index; 3] = [&GSI1, &GSI2, &GSI_REFRESH];

/// The attribute DynamoDB's TTL deletes items by (epoch seconds).
pub const TTL_ATTRIBUTE: &str = "expires_ttl";
/// Expired short-lived items (sessions, results, nonces) are kept this much longer before TTL
/// deletion, since the caller checks expiry itself and DynamoDB deletes lazily anyway.
const TTL_GRACE: time::Duration = crate::store::EXPIRED_ROWS_KEPT;

fn ttl(at: OffsetDateTime) -> AttributeValue {
    n(at.unix_timestamp())
}

/// The TTL of a short-lived record that expires at `expires_at`.
pub(super) fn expiring(expires_at: OffsetDateTime) -> Attributes {
    vec![(TTL_ATTRIBUTE, Some(ttl(expires_at + TTL_GRACE)))]
}

/// The TTL of an activity entry written at `timestamp`, kept for `retention`.
pub(super) fn retained(timestamp: OffsetDateTime, retention: time::Duration) -> Attributes {
    vec![(TTL_ATTRIBUTE, Some(ttl(timestamp + retention)))]
}

impl DynamoStore {
    /// Creates the table with its indexes and TTL, as `template.yaml` does: for tests and the
    /// emulator (on AWS, create it with the template).
    pub async fn create_table(&self) -> StoreResult<()> {
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
            ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
        };
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("complete attribute definition")
        };
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .expect("complete key")
        };
        let mut req = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key(PK, KeyType::Hash))
            .key_schema(key(SK, KeyType::Range))
            .attribute_definitions(attr(PK))
            .attribute_definitions(attr(SK));
        for index in INDEXES {
            req = req
                .global_secondary_indexes(
                    GlobalSecondaryIndex::builder()
                        .index_name(index.name)
                        .key_schema(key(index.pk, KeyType::Hash))
                        .key_schema(key(index.sk, KeyType::Range))
                        .projection(Projection::builder().projection_type(ProjectionType::All).build())
                        .build()
                        .expect("complete index"),
                )
                .attribute_definitions(attr(index.pk))
                .attribute_definitions(attr(index.sk));
        }
        req.send().await.map_err(map_err)?;
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(TTL_ATTRIBUTE)
                    .enabled(true)
                    .build()
                    .expect("complete TTL specification"),
            )
            .send()
            .await
            .map_err(map_err)?;
        Ok(())
    }
}
