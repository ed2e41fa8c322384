//! The table's schema: its key attributes, its global secondary indexes with their projections,
//! and its TTL, as `template.yaml` declares them. `create_table` builds the same table for tests
//! and emulators. No index projects `ALL`: each projects the keys and exactly the attributes its
//! queries read, and none projects a connection's `credentials` or `body`.

use aws_sdk_dynamodb::types::AttributeValue;
use time::OffsetDateTime;

use super::keys::{BODY, GENERATION, VIEW};
use super::{map_err, n, Attributes, DynamoStore, StoreResult};

/// The table's partition and sort key attributes.
pub(super) const PK: &str = "PK";
pub(super) const SK: &str = "SK";

/// What an index copies of its items besides the keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Projection {
    KeysOnly,
    Include(&'static [&'static str]),
}

/// A global secondary index: its name, key attributes and projection.
pub struct Index {
    pub name: &'static str,
    pub pk: &'static str,
    pub sk: &'static str,
    pub projection: Projection,
}

/// Every integration, by key (`INTS`); the items are then read from the table.
pub const INTEGRATIONS: Index = Index {
    name: "Integrations",
    pk: "IPK",
    sk: "ISK",
    projection: Projection::KeysOnly,
};
/// One integration generation's connections, newest first, in `LISTING_SHARDS` shards.
pub const CONNECTIONS_BY_INTEGRATION: Index = Index {
    name: "ConnectionsByIntegration",
    pk: "CIPK",
    sk: "CISK",
    projection: Projection::Include(&[VIEW, GENERATION]),
};
/// Every connection, newest first, in `LISTING_SHARDS` shards.
pub const CONNECTIONS_BY_ENVIRONMENT: Index = Index {
    name: "ConnectionsByEnvironment",
    pk: "CEPK",
    sk: "CESK",
    projection: Projection::Include(&[VIEW, GENERATION]),
};
/// One end user's connections, newest first (sparse: connections with an end user).
pub const CONNECTIONS_BY_END_USER: Index = Index {
    name: "ConnectionsByEndUser",
    pk: "CUPK",
    sk: "CUSK",
    projection: Projection::Include(&[VIEW, GENERATION]),
};
/// Connections by next proactive renewal, soonest first, in `REFRESH_SHARDS` shards (sparse:
/// connections the policy renews ahead of reads). The table key names the connection.
pub const REFRESH_DUE: Index = Index {
    name: "RefreshDue",
    pk: "RPK",
    sk: "RSK",
    projection: Projection::KeysOnly,
};
/// One day of the environment's activity, newest first, in `ACTIVITY_SHARDS` shards.
pub const ACTIVITY_BY_TIME: Index = Index {
    name: "ActivityByTime",
    pk: "ATPK",
    sk: "ATSK",
    projection: Projection::Include(&[BODY]),
};
/// One connection id's activity, newest first.
pub const ACTIVITY_BY_CONNECTION: Index = Index {
    name: "ActivityByConnection",
    pk: "ACPK",
    sk: "ACSK",
    projection: Projection::Include(&[BODY]),
};

/// Every index of the table.
pub const INDEXES: [&Index; 7] = [
    &INTEGRATIONS,
    &CONNECTIONS_BY_INTEGRATION,
    &CONNECTIONS_BY_ENVIRONMENT,
    &CONNECTIONS_BY_END_USER,
    &REFRESH_DUE,
    &ACTIVITY_BY_TIME,
    &ACTIVITY_BY_CONNECTION,
];

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
            AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
            Projection as DynamoProjection, ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
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
            let projection = match index.projection {
                Projection::KeysOnly => DynamoProjection::builder().projection_type(ProjectionType::KeysOnly),
                Projection::Include(attrs) => attrs.iter().fold(
                    DynamoProjection::builder().projection_type(ProjectionType::Include),
                    |p, a| p.non_key_attributes(*a),
                ),
            };
            req = req
                .global_secondary_indexes(
                    GlobalSecondaryIndex::builder()
                        .index_name(index.name)
                        .key_schema(key(index.pk, KeyType::Hash))
                        .key_schema(key(index.sk, KeyType::Range))
                        .projection(projection.build())
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
