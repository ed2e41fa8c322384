//! The AWS store: one DynamoDB table, single-table design (keys in `infra/README.md`). Each
//! item holds the record's serde JSON in `body` plus only the key and index attributes queries
//! need, so a field added to a record needs no table change.
//!
//! | entity          | PK                    | SK                  | indexes                                  |
//! |-----------------|-----------------------|---------------------|------------------------------------------|
//! | integration     | `INT#<key>`           | `INT`               | GSI1 `INTS` / `<key>`                     |
//! | connection      | `INT#<key>`           | `CONN#<id>`         | GSI1 `CONNS` / `<created>#<key>#<id>`, GSI_REFRESH `REFRESH#<shard>` / `<expires>#<uuid>` (sparse) |
//! | OAuth session   | `OAUTH#<state>`       | `-`                 | TTL                                       |
//! | connect session | `CONNECT#<hash>`      | `-`                 | TTL                                       |
//! | auth result     | `RESULT#<hash>`       | `-`                 | TTL                                       |
//! | activity        | `ACT#<attempt>`       | `<ts>#<id>`         | GSI1 `ACTS` / `<ts>#<id>`, GSI2 `ACTCONN#<connection>` / `<ts>#<id>`, TTL |
//! | settings        | `SETTINGS`            | `-`                 |                                           |

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use aws_sdk_dynamodb::Client;

use super::*;
use serde::Serialize;

/// Shards of the refresh index: due connections are spread over this many partitions so the
/// scheduler's reads and the writers' index updates never pile onto one key.
pub const REFRESH_SHARDS: u32 = 8;
/// Activity entries expire this long after they were written (the table's TTL attribute).
pub const ACTIVITY_RETENTION: time::Duration = time::Duration::days(30);
/// Expired short-lived items (sessions, results) are kept this much longer before TTL deletion,
/// since the caller checks expiry itself and DynamoDB deletes lazily anyway.
const TTL_GRACE: time::Duration = time::Duration::hours(1);

pub const GSI1: &str = "GSI1";
pub const GSI2: &str = "GSI2";
pub const GSI_REFRESH: &str = "GSI_REFRESH";
pub const TTL_ATTRIBUTE: &str = "expires_ttl";

type Item = HashMap<String, AttributeValue>;

pub struct DynamoStore {
    client: Client,
    table: String,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn map_err<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    if e.code() == Some("ConditionalCheckFailedException") {
        StoreError::Conflict
    } else {
        StoreError::Unavailable(DisplayErrorContext(&e).to_string())
    }
}

fn is_conflict(e: &StoreError) -> bool {
    matches!(e, StoreError::Conflict)
}

fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("records serialize")
}

fn body<T: serde::de::DeserializeOwned>(item: &Item) -> StoreResult<T> {
    match item.get("body") {
        Some(AttributeValue::S(b)) => serde_json::from_str(b).map_err(|e| StoreError::Corrupt(e.to_string())),
        _ => Err(StoreError::Corrupt("item without body".into())),
    }
}

/// Sortable time: nanoseconds since the epoch, zero-padded.
fn ts_key(t: OffsetDateTime) -> String {
    format!("{:020}", t.unix_timestamp_nanos().max(0))
}

fn ms_key(t: OffsetDateTime) -> String {
    format!("{:015}", (t.unix_timestamp_nanos() / 1_000_000).max(0))
}

fn ttl_of(t: OffsetDateTime) -> AttributeValue {
    n((t + TTL_GRACE).unix_timestamp())
}

fn end_user_id(record: &ConnectionRecord) -> Option<String> {
    record.end_user.as_ref()?.get("id")?.as_str().map(str::to_owned)
}

/// FNV-1a of the connection's internal id: a stable shard for the refresh index.
pub fn refresh_shard(id: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in id.bytes() {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    h % REFRESH_SHARDS
}

fn int_pk(key: &str) -> String {
    format!("INT#{key}")
}

fn conn_sk(id: &str) -> String {
    format!("CONN#{id}")
}

fn key(pk: String, sk: &str) -> Item {
    HashMap::from([("PK".to_owned(), s(pk)), ("SK".to_owned(), s(sk))])
}

/// The key of one connection's item.
fn connection_key(integration: &IntegrationKey, connection_id: &ConnectionId) -> Item {
    key(int_pk(integration.as_str()), &conn_sk(connection_id.as_str()))
}

/// One query of the table or an index; `query_all` pages through it.
struct Query<'a> {
    index: Option<&'a str>,
    key_condition: &'a str,
    filter: Option<String>,
    names: HashMap<String, String>,
    values: Item,
    /// Ascending sort key order.
    forward: bool,
}

/// An update expression under construction; every attribute name goes through `#aliases`, so
/// reserved words (`version`, `connection`…) never matter.
#[derive(Default)]
struct Update {
    names: HashMap<String, String>,
    values: Item,
    sets: Vec<String>,
    removes: Vec<String>,
}

impl Update {
    fn name(&mut self, attr: &str) -> String {
        let alias = format!("#{attr}");
        self.names.insert(alias.clone(), attr.to_owned());
        alias
    }
    fn set(&mut self, attr: &str, value: AttributeValue) {
        let alias = self.name(attr);
        let placeholder = format!(":{attr}");
        self.values.insert(placeholder.clone(), value);
        self.sets.push(format!("{alias} = {placeholder}"));
    }
    fn remove(&mut self, attr: &str) {
        let alias = self.name(attr);
        self.removes.push(alias);
    }
    fn value(&mut self, placeholder: &str, value: AttributeValue) {
        self.values.insert(placeholder.to_owned(), value);
    }
    fn expression(&self) -> String {
        let mut out = format!("SET {}", self.sets.join(", "));
        if !self.removes.is_empty() {
            out.push_str(&format!(" REMOVE {}", self.removes.join(", ")));
        }
        out
    }
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table with its indexes and TTL, as `template.yaml` does: for tests and the
    /// emulator. Waits until it is active.
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
        let gsi = |name: &str, pk: &str, sk: &str| {
            GlobalSecondaryIndex::builder()
                .index_name(name)
                .key_schema(key(pk, KeyType::Hash))
                .key_schema(key(sk, KeyType::Range))
                .projection(Projection::builder().projection_type(ProjectionType::All).build())
                .build()
                .expect("complete index")
        };
        let mut req = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key("PK", KeyType::Hash))
            .key_schema(key("SK", KeyType::Range))
            .global_secondary_indexes(gsi(GSI1, "GSI1PK", "GSI1SK"))
            .global_secondary_indexes(gsi(GSI2, "GSI2PK", "GSI2SK"))
            .global_secondary_indexes(gsi(GSI_REFRESH, "RPK", "RSK"));
        for a in ["PK", "SK", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK", "RPK", "RSK"] {
            req = req.attribute_definitions(attr(a));
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

    async fn get_item(&self, pk: String, sk: &str) -> StoreResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(map_err)?;
        Ok(out.item)
    }

    /// Deletes the item if present and returns what it held: of two concurrent calls exactly
    /// one gets it (the other's condition fails).
    async fn take_item(&self, pk: String, sk: &str) -> StoreResult<Option<Item>> {
        let res = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .condition_expression("attribute_exists(PK)")
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(map_err);
        match res {
            Ok(out) => Ok(out.attributes),
            Err(e) if is_conflict(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn put_new(&self, item: Item) -> StoreResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await
            .map_err(map_err)?;
        Ok(())
    }

    /// Every page of a query, until `enough` items passed the filter or the index is exhausted.
    async fn query_all(&self, q: Query<'_>, enough: usize) -> StoreResult<Vec<Item>> {
        let Query {
            index,
            key_condition,
            filter,
            names,
            values,
            forward,
        } = q;
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name(index.map(str::to_owned))
                .key_condition_expression(key_condition)
                .set_filter_expression(filter.clone())
                .set_expression_attribute_names((!names.is_empty()).then(|| names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .scan_index_forward(forward)
                .set_exclusive_start_key(start.take())
                .limit(enough.clamp(1, 500) as i32)
                .send()
                .await
                .map_err(map_err)?;
            out.extend(page.items.unwrap_or_default());
            match page.last_evaluated_key {
                Some(k) if out.len() < enough && !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        out.truncate(enough);
        Ok(out)
    }

    /// The attributes of a connection item besides its key, as one update.
    fn connection_update(record: &ConnectionRecord) -> Update {
        let mut u = Update::default();
        u.set("body", s(to_json(record)));
        u.set("version", n(record.version));
        u.set("GSI1PK", s("CONNS"));
        u.set(
            "GSI1SK",
            s(format!(
                "{}#{}#{}",
                ts_key(record.created_at),
                record.integration.as_str(),
                record.connection_id.as_str()
            )),
        );
        u.set("integration", s(record.integration.as_str()));
        u.set("connection_id", s(record.connection_id.as_str()));
        u.set("search_lc", s(record.connection_id.as_str().to_lowercase()));
        match end_user_id(record) {
            Some(id) => u.set("end_user_id", s(id)),
            None => u.remove("end_user_id"),
        }
        match record.expires_at {
            Some(at) => {
                u.set("RPK", s(format!("REFRESH#{}", refresh_shard(&record.id))));
                u.set("RSK", s(format!("{}#{}", ms_key(at), record.id)));
            }
            None => {
                u.remove("RPK");
                u.remove("RSK");
            }
        }
        u
    }

    async fn write_connection(&self, record: &ConnectionRecord, mut u: Update, condition: &str) -> StoreResult<()> {
        if condition.contains("#PK") {
            u.name("PK");
        }
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(
                int_pk(record.integration.as_str()),
                &conn_sk(record.connection_id.as_str()),
            )))
            .update_expression(u.expression())
            .condition_expression(condition)
            .set_expression_attribute_names(Some(u.names.clone()))
            .set_expression_attribute_values(Some(u.values.clone()))
            .send()
            .await
            .map_err(map_err)?;
        Ok(())
    }
}

#[async_trait]
impl IntegrationStore for DynamoStore {
    async fn create_integration(&self, record: &IntegrationRecord) -> StoreResult<()> {
        let mut item = key(int_pk(record.key.as_str()), "INT");
        item.insert("body".into(), s(to_json(record)));
        item.insert("GSI1PK".into(), s("INTS"));
        item.insert("GSI1SK".into(), s(record.key.as_str()));
        self.put_new(item).await
    }

    async fn replace_integration(&self, record: &IntegrationRecord) -> StoreResult<bool> {
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(int_pk(record.key.as_str()), "INT")))
            .update_expression("SET #body = :body")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_names("#body", "body")
            .expression_attribute_values(":body", s(to_json(record)))
            .send()
            .await
            .map_err(map_err);
        match res {
            Ok(_) => Ok(true),
            Err(e) if is_conflict(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn get_integration(&self, key: &IntegrationKey) -> StoreResult<Option<IntegrationRecord>> {
        self.get_item(int_pk(key.as_str()), "INT")
            .await?
            .map(|i| body(&i))
            .transpose()
    }

    async fn list_integrations(&self) -> StoreResult<Vec<IntegrationRecord>> {
        let items = self
            .query_all(
                Query {
                    index: Some(GSI1),
                    key_condition: "GSI1PK = :pk",
                    filter: None,
                    names: HashMap::new(),
                    values: HashMap::from([(":pk".to_owned(), s("INTS"))]),
                    forward: true,
                },
                usize::MAX,
            )
            .await?;
        items.iter().map(body).collect()
    }

    async fn delete_integration(&self, key: &IntegrationKey) -> StoreResult<bool> {
        let existed = self.take_item(int_pk(key.as_str()), "INT").await?.is_some();
        let connections = self
            .query_all(
                Query {
                    index: None,
                    key_condition: "PK = :pk AND begins_with(SK, :conn)",
                    filter: None,
                    names: HashMap::new(),
                    values: HashMap::from([
                        (":pk".to_owned(), s(int_pk(key.as_str()))),
                        (":conn".to_owned(), s("CONN#")),
                    ]),
                    forward: true,
                },
                usize::MAX,
            )
            .await?;
        for item in connections {
            let (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) = (item.get("PK"), item.get("SK")) else {
                continue;
            };
            self.client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(key_of(pk, sk)))
                .send()
                .await
                .map_err(map_err)?;
        }
        Ok(existed)
    }
}

#[async_trait]
impl ConnectionStore for DynamoStore {
    async fn upsert_connection(&self, record: &ConnectionRecord) -> StoreResult<(Upsert, u64)> {
        // Read, then write conditioned on what was read; a concurrent writer makes the condition
        // fail and the loop reads again.
        for _ in 0..5 {
            let existing: Option<ConnectionRecord> = self
                .get_item(
                    int_pk(record.integration.as_str()),
                    &conn_sk(record.connection_id.as_str()),
                )
                .await?
                .map(|i| body(&i))
                .transpose()?;
            let (record, outcome, condition, previous) = match &existing {
                Some(old) => (
                    record.clone().replacing(old),
                    Upsert::Replaced,
                    "#version = :expected",
                    Some(old.version),
                ),
                None => {
                    let mut record = record.clone();
                    record.version = 1;
                    (record, Upsert::Created, "attribute_not_exists(#PK)", None)
                }
            };
            let mut u = Self::connection_update(&record);
            if let Some(v) = previous {
                u.value(":expected", n(v));
            }
            match self.write_connection(&record, u, condition).await {
                Ok(()) => return Ok((outcome, record.version)),
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict)
    }

    async fn update_connection(&self, record: &ConnectionRecord, expected_version: u64) -> StoreResult<()> {
        let mut record = record.clone();
        record.version = expected_version + 1;
        let mut u = Self::connection_update(&record);
        u.value(":expected", n(expected_version));
        self.write_connection(&record, u, "attribute_exists(#PK) AND #version = :expected")
            .await
    }

    async fn get_connection(
        &self,
        integration: &IntegrationKey,
        connection_id: &ConnectionId,
    ) -> StoreResult<Option<ConnectionRecord>> {
        self.get_item(int_pk(integration.as_str()), &conn_sk(connection_id.as_str()))
            .await?
            .map(|i| body(&i))
            .transpose()
    }

    async fn list_connections(&self, filter: &ConnectionFilter) -> StoreResult<Vec<ConnectionRecord>> {
        let mut names = HashMap::new();
        let mut values = HashMap::from([(":pk".to_owned(), s("CONNS"))]);
        let mut conditions = Vec::new();
        if !filter.integrations.is_empty() {
            names.insert("#integration".to_owned(), "integration".to_owned());
            let marks: Vec<String> = filter
                .integrations
                .iter()
                .enumerate()
                .map(|(i, k)| {
                    values.insert(format!(":i{i}"), s(k.as_str()));
                    format!(":i{i}")
                })
                .collect();
            conditions.push(format!("#integration IN ({})", marks.join(", ")));
        }
        if let Some(id) = &filter.connection_id {
            names.insert("#connection_id".to_owned(), "connection_id".to_owned());
            values.insert(":cid".to_owned(), s(id.as_str()));
            conditions.push("#connection_id = :cid".to_owned());
        }
        if let Some(user) = &filter.end_user_id {
            names.insert("#end_user_id".to_owned(), "end_user_id".to_owned());
            values.insert(":eu".to_owned(), s(user));
            conditions.push("#end_user_id = :eu".to_owned());
        }
        if let Some(search) = &filter.search {
            names.insert("#search_lc".to_owned(), "search_lc".to_owned());
            values.insert(":search".to_owned(), s(search.to_lowercase()));
            conditions.push("contains(#search_lc, :search)".to_owned());
        }
        let wanted = filter.offset.saturating_add(filter.limit);
        if wanted == 0 {
            return Ok(Vec::new());
        }
        let items = self
            .query_all(
                Query {
                    index: Some(GSI1),
                    key_condition: "GSI1PK = :pk",
                    filter: (!conditions.is_empty()).then(|| conditions.join(" AND ")),
                    names,
                    values,
                    forward: false,
                },
                wanted,
            )
            .await?;
        items.iter().skip(filter.offset).take(filter.limit).map(body).collect()
    }

    async fn delete_connection(&self, integration: &IntegrationKey, connection_id: &ConnectionId) -> StoreResult<bool> {
        Ok(self
            .take_item(int_pk(integration.as_str()), &conn_sk(connection_id.as_str()))
            .await?
            .is_some())
    }

    async fn acquire_refresh_lease(
        &self,
        integration: &IntegrationKey,
        connection_id: &ConnectionId,
        owner: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> StoreResult<bool> {
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(connection_key(integration, connection_id)))
            .update_expression("SET #owner = :owner, #until = :until")
            .condition_expression("attribute_exists(PK) AND (attribute_not_exists(#until) OR #until <= :now)")
            .expression_attribute_names("#owner", "lease_owner")
            .expression_attribute_names("#until", "lease_until")
            .expression_attribute_values(":owner", s(owner))
            .expression_attribute_values(":until", n(until.unix_timestamp_nanos() / 1_000_000))
            .expression_attribute_values(":now", n(now.unix_timestamp_nanos() / 1_000_000))
            .send()
            .await
            .map_err(map_err);
        match res {
            Ok(_) => Ok(true),
            Err(e) if is_conflict(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn release_refresh_lease(
        &self,
        integration: &IntegrationKey,
        connection_id: &ConnectionId,
        owner: &str,
    ) -> StoreResult<()> {
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(connection_key(integration, connection_id)))
            .update_expression("REMOVE #owner, #until")
            .condition_expression("#owner = :owner")
            .expression_attribute_names("#owner", "lease_owner")
            .expression_attribute_names("#until", "lease_until")
            .expression_attribute_values(":owner", s(owner))
            .send()
            .await
            .map_err(map_err);
        match res {
            // Not ours (expired and taken by another worker) or gone: nothing to release.
            Ok(_) => Ok(()),
            Err(e) if is_conflict(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn due_connections(&self, before: OffsetDateTime, limit: usize) -> StoreResult<Vec<ConnectionRecord>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let queries = (0..REFRESH_SHARDS).map(|shard| {
            self.query_all(
                Query {
                    index: Some(GSI_REFRESH),
                    key_condition: "RPK = :pk AND RSK < :before",
                    filter: None,
                    names: HashMap::new(),
                    values: HashMap::from([
                        (":pk".to_owned(), s(format!("REFRESH#{shard}"))),
                        (":before".to_owned(), s(ms_key(before))),
                    ]),
                    forward: true,
                },
                limit,
            )
        });
        let mut due: Vec<(String, ConnectionRecord)> = Vec::new();
        for items in futures::future::join_all(queries).await {
            for item in items? {
                let sort = match item.get("RSK") {
                    Some(AttributeValue::S(v)) => v.clone(),
                    _ => continue,
                };
                due.push((sort, body(&item)?));
            }
        }
        due.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(due.into_iter().take(limit).map(|(_, r)| r).collect())
    }
}

#[async_trait]
impl FlowSessionStore for DynamoStore {
    async fn put_oauth_session(&self, session: &OAuthSession) -> StoreResult<()> {
        let mut item = key(format!("OAUTH#{}", session.state.expose()), "-");
        item.insert("body".into(), s(to_json(session)));
        item.insert(TTL_ATTRIBUTE.into(), ttl_of(session.expires_at));
        self.put_new(item).await
    }

    async fn take_oauth_session(&self, state: &str) -> StoreResult<Option<OAuthSession>> {
        self.take_item(format!("OAUTH#{state}"), "-")
            .await?
            .map(|i| body(&i))
            .transpose()
    }

    async fn put_connect_session(&self, session: &ConnectSession) -> StoreResult<()> {
        let mut item = key(format!("CONNECT#{}", session.token_hash), "-");
        item.insert("body".into(), s(to_json(session)));
        item.insert(TTL_ATTRIBUTE.into(), ttl_of(session.expires_at));
        self.put_new(item).await
    }

    async fn get_connect_session(&self, token_hash: &str) -> StoreResult<Option<ConnectSession>> {
        self.get_item(format!("CONNECT#{token_hash}"), "-")
            .await?
            .map(|i| body(&i))
            .transpose()
    }

    async fn put_auth_result(&self, result: &AuthResult) -> StoreResult<()> {
        let mut item = key(format!("RESULT#{}", result.nonce_hash), "-");
        item.insert("body".into(), s(to_json(result)));
        item.insert(TTL_ATTRIBUTE.into(), ttl_of(result.expires_at));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn take_auth_result(&self, nonce_hash: &str) -> StoreResult<Option<AuthResult>> {
        self.take_item(format!("RESULT#{nonce_hash}"), "-")
            .await?
            .map(|i| body(&i))
            .transpose()
    }
}

#[async_trait]
impl ActivityStore for DynamoStore {
    async fn append_activity(&self, entry: &ActivityEntry) -> StoreResult<()> {
        let sort = format!("{}#{}", ts_key(entry.timestamp), entry.id);
        let mut item = key(format!("ACT#{}", entry.attempt_id), &sort);
        item.insert("body".into(), s(to_json(entry)));
        item.insert("GSI1PK".into(), s("ACTS"));
        item.insert("GSI1SK".into(), s(sort.clone()));
        if let Some(conn) = &entry.connection_id {
            item.insert("GSI2PK".into(), s(format!("ACTCONN#{conn}")));
            item.insert("GSI2SK".into(), s(sort));
            item.insert("connection_id".into(), s(conn));
        }
        if let Some(int) = &entry.integration {
            item.insert("integration".into(), s(int));
        }
        item.insert("attempt_id".into(), s(&entry.attempt_id));
        item.insert(
            TTL_ATTRIBUTE.into(),
            n((entry.timestamp + ACTIVITY_RETENTION).unix_timestamp()),
        );
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn list_activity(&self, filter: &ActivityFilter) -> StoreResult<Vec<ActivityEntry>> {
        if filter.limit == 0 {
            return Ok(Vec::new());
        }
        let mut names = HashMap::new();
        let mut values = HashMap::new();
        let mut conditions = Vec::new();
        let (index, key_condition) = if let Some(attempt) = &filter.attempt_id {
            values.insert(":pk".to_owned(), s(format!("ACT#{attempt}")));
            (None, "PK = :pk")
        } else if let Some(conn) = &filter.connection_id {
            values.insert(":pk".to_owned(), s(format!("ACTCONN#{conn}")));
            (Some(GSI2), "GSI2PK = :pk")
        } else {
            values.insert(":pk".to_owned(), s("ACTS"));
            (Some(GSI1), "GSI1PK = :pk")
        };
        if let (Some(conn), Some(_)) = (&filter.connection_id, &filter.attempt_id) {
            names.insert("#connection_id".to_owned(), "connection_id".to_owned());
            values.insert(":cid".to_owned(), s(conn));
            conditions.push("#connection_id = :cid".to_owned());
        }
        if let Some(int) = &filter.integration {
            names.insert("#integration".to_owned(), "integration".to_owned());
            values.insert(":int".to_owned(), s(int));
            conditions.push("#integration = :int".to_owned());
        }
        let items = self
            .query_all(
                Query {
                    index,
                    key_condition,
                    filter: (!conditions.is_empty()).then(|| conditions.join(" AND ")),
                    names,
                    values,
                    forward: false,
                },
                filter.limit,
            )
            .await?;
        items.iter().map(body).collect()
    }
}

#[async_trait]
impl SettingsStore for DynamoStore {
    async fn get_settings(&self) -> StoreResult<EnvironmentSettings> {
        Ok(self
            .get_item("SETTINGS".into(), "-")
            .await?
            .map(|i| body(&i))
            .transpose()?
            .unwrap_or_default())
    }

    async fn put_settings(&self, settings: &EnvironmentSettings) -> StoreResult<()> {
        let mut item = key("SETTINGS".into(), "-");
        item.insert("body".into(), s(to_json(settings)));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(map_err)?;
        Ok(())
    }
}

fn key_of(pk: &str, sk: &str) -> Item {
    key(pk.to_owned(), sk)
}
