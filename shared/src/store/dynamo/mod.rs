//! The AWS store: one DynamoDB table, single-table design. Each item holds the record's serde
//! JSON in `body` plus only the key and index attributes queries need, so a field added to a
//! record needs no table change. A connection's item splits its record in three: `view` (what
//! listings show, projected into the listing indexes), `body` (the rest) and `credentials`
//! (the sealed bytes, in no index).
//!
//! - `table.rs`: the table's schema (key attributes, indexes and their projections, TTL) and
//!   `create_table`.
//! - `keys.rs`: every key and index value of every entity, per domain (documented in
//!   `infra/README.md`).
//! - this file: the client, the codec (`body`) and the operations every domain uses — `get`,
//!   `batch_get`, `put`, `put_new`, `take`, `update` (conditional), `transact`, `query`, and
//!   `merge` (a newest- or soonest-first read across shards) — each written once.
//! - one file per domain trait: `integrations.rs`, `connections.rs` (records, leases, reads),
//!   `listing.rs` (listings, the refresh index, purges), `flow_sessions.rs`, `activity.rs`,
//!   `settings.rs`, `nonces.rs`.
//! - `policy_tests.rs`: `template.yaml`'s per-role `dynamodb:LeadingKeys` checked against
//!   `keys.rs`.

mod activity;
mod connections;
mod flow_sessions;
mod integrations;
mod keys;
mod listing;
mod nonces;
#[cfg(test)]
mod policy_tests;
mod settings;
mod table;

use std::collections::{HashMap, VecDeque};

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, ReturnValue, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{StoreError, StoreResult};
use crate::refresh_policy::RefreshPolicy;
pub use table::{Index, Projection, INDEXES, TTL_ATTRIBUTE};

type Item = HashMap<String, AttributeValue>;

/// Attributes of an item beside its key: `None` = absent (left out of a put, removed by an
/// update).
type Attributes = Vec<(&'static str, Option<AttributeValue>)>;

use keys::BODY;

pub struct DynamoStore {
    client: Client,
    table: String,
    /// How long activity entries live before DynamoDB's TTL deletes them.
    activity_retention: time::Duration,
    /// What each written connection's refresh index key is computed with.
    policy: RefreshPolicy,
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

/// A transaction's error: `Conflict` when one of its conditions failed.
fn map_transaction_err<R: std::fmt::Debug>(
    e: SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError, R>,
) -> StoreError {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    if let Some(TransactWriteItemsError::TransactionCanceledException(c)) = e.as_service_error() {
        if c.cancellation_reasons()
            .iter()
            .any(|r| r.code() == Some("ConditionalCheckFailed"))
        {
            return StoreError::Conflict;
        }
    }
    map_err(e)
}

/// A string attribute of an item.
fn s_attr<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v),
        _ => None,
    }
}

/// A JSON attribute of an item, decoded.
fn json_attr<T: DeserializeOwned>(item: &Item, name: &str) -> StoreResult<T> {
    let text = s_attr(item, name).ok_or_else(|| StoreError::Corrupt(format!("item without {name}")))?;
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A conditional write's outcome as "did the condition hold": a lost condition is `false`.
fn held(result: StoreResult<()>) -> StoreResult<bool> {
    match result {
        Ok(()) => Ok(true),
        Err(StoreError::Conflict) => Ok(false),
        Err(e) => Err(e),
    }
}

fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("records serialize")
}

fn body<T: DeserializeOwned>(item: &Item) -> StoreResult<T> {
    json_attr(item, BODY)
}

/// The whole item of a record: its key, its `body`, and the attributes that are present.
fn record_item<T: Serialize>(mut key: Item, record: &T, attributes: Attributes) -> Item {
    key.insert(BODY.to_owned(), s(to_json(record)));
    key.extend(attributes.into_iter().filter_map(|(a, v)| Some((a.to_owned(), v?))));
    key
}

/// The attribute names and values of one expression. Every name goes through a `#alias`, so
/// reserved words (`version`, `connection`…) never matter.
#[derive(Default)]
struct Placeholders {
    names: HashMap<String, String>,
    values: Item,
}

impl Placeholders {
    /// The alias of an attribute name.
    fn name(&mut self, attr: &str) -> String {
        let alias = format!("#{attr}");
        self.names.insert(alias.clone(), attr.to_owned());
        alias
    }
    /// Binds a value to `placeholder` (`:name`) and returns the placeholder.
    fn value(&mut self, placeholder: &str, value: AttributeValue) -> String {
        self.values.insert(placeholder.to_owned(), value);
        placeholder.to_owned()
    }
    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }
    fn values(&self) -> Option<Item> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

/// An update expression under construction: `SET` and `REMOVE` clauses.
#[derive(Default)]
struct Update {
    at: Placeholders,
    sets: Vec<String>,
    removes: Vec<String>,
}

impl Update {
    /// Sets `body` to the record's JSON and each of `attributes` (removing the absent ones).
    fn record<T: Serialize>(record: &T, attributes: Attributes) -> Self {
        let mut u = Update::default();
        u.set(BODY, s(to_json(record)));
        u.apply(attributes);
        u
    }
    /// Sets each of `attributes`, removing the absent ones.
    fn apply(&mut self, attributes: Attributes) {
        for (attr, value) in attributes {
            match value {
                Some(v) => self.set(attr, v),
                None => self.remove(attr),
            }
        }
    }
    fn set(&mut self, attr: &str, value: AttributeValue) {
        let alias = self.at.name(attr);
        let placeholder = self.at.value(&format!(":{attr}"), value);
        self.sets.push(format!("{alias} = {placeholder}"));
    }
    fn remove(&mut self, attr: &str) {
        let alias = self.at.name(attr);
        self.removes.push(alias);
    }
    fn expression(&self) -> String {
        let mut clauses = Vec::new();
        if !self.sets.is_empty() {
            clauses.push(format!("SET {}", self.sets.join(", ")));
        }
        if !self.removes.is_empty() {
            clauses.push(format!("REMOVE {}", self.removes.join(", ")));
        }
        clauses.join(" ")
    }
}

/// One query of the table or an index: one partition, optionally a sort key condition.
/// `DynamoStore::query_items` and `merge` page through it.
struct Query {
    index: Option<&'static str>,
    key_condition: String,
    sort_key: &'static str,
    at: Placeholders,
    /// Ascending sort key order.
    forward: bool,
}

impl Query {
    /// The items of partition `pk` of `index` (`None`: the table), ascending.
    fn partition(index: Option<&Index>, pk: String) -> Self {
        let (name, pk_attr, sort_key) = match index {
            Some(i) => (Some(i.name), i.pk, i.sk),
            None => (None, table::PK, table::SK),
        };
        let mut at = Placeholders::default();
        let key_condition = format!("{pk_attr} = {}", at.value(":pk", s(pk)));
        Query {
            index: name,
            key_condition,
            sort_key,
            at,
            forward: true,
        }
    }
    fn sort_before(mut self, bound: String) -> Self {
        let v = self.at.value(":sk", s(bound));
        self.key_condition += &format!(" AND {} < {v}", self.sort_key);
        self
    }
    /// Sort keys from `low` to `high`, both included.
    fn sort_between(mut self, low: String, high: String) -> Self {
        let (lo, hi) = (self.at.value(":lo", s(low)), self.at.value(":hi", s(high)));
        self.key_condition += &format!(" AND {} BETWEEN {lo} AND {hi}", self.sort_key);
        self
    }
    fn newest_first(mut self) -> Self {
        self.forward = false;
        self
    }
}

/// How many items a listing examines at most (a search over a huge partition stops there).
const MAX_EXAMINED: usize = 50_000;

impl DynamoStore {
    /// The store of `table`, keeping activity entries 30 days (`with_activity_retention`).
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            activity_retention: time::Duration::days(30),
            policy: RefreshPolicy::default(),
        }
    }

    /// Keeps activity entries for `retention` (the TTL of each written entry).
    pub fn with_activity_retention(mut self, retention: time::Duration) -> Self {
        self.activity_retention = retention;
        self
    }

    /// Schedules connection renewals with `policy` (the default policy otherwise).
    pub fn with_refresh_policy(mut self, policy: RefreshPolicy) -> Self {
        self.policy = policy;
        self
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// The item under `key` (a consistent read).
    async fn get_item(&self, key: Item) -> StoreResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(map_err)?;
        Ok(out.item)
    }

    /// The record under `key` (a consistent read).
    async fn get<T: DeserializeOwned>(&self, key: Item) -> StoreResult<Option<T>> {
        self.get_item(key).await?.as_ref().map(body).transpose()
    }

    /// Writes (or overwrites) the item.
    async fn put(&self, item: Item) -> StoreResult<()> {
        self.put_item(item, None).await
    }

    /// Writes the item if its key is free; `Conflict` when it is taken.
    async fn put_new(&self, item: Item) -> StoreResult<()> {
        self.put_item(item, Some("attribute_not_exists(PK)")).await
    }

    async fn put_item(&self, item: Item, condition: Option<&str>) -> StoreResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .set_condition_expression(condition.map(str::to_owned))
            .send()
            .await
            .map_err(map_err)?;
        Ok(())
    }

    /// Deletes the item under `key`, if there is one (no condition).
    async fn delete(&self, key: Item) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .send()
            .await
            .map_err(map_err)?;
        Ok(())
    }

    /// Deletes the item if present and returns what it held: of two concurrent calls exactly
    /// one gets it (the other's condition fails).
    async fn take_item(&self, key: Item) -> StoreResult<Option<Item>> {
        let res = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .condition_expression("attribute_exists(PK)")
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(map_err);
        match res {
            Ok(out) => Ok(out.attributes),
            Err(StoreError::Conflict) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `take_item`, decoded.
    async fn take<T: DeserializeOwned>(&self, key: Item) -> StoreResult<Option<T>> {
        self.take_item(key).await?.as_ref().map(body).transpose()
    }

    /// Applies `update` to the item under `key` if `condition` (over `update`'s placeholders)
    /// holds; `Conflict` when it does not.
    async fn update(&self, key: Item, update: Update, condition: &str) -> StoreResult<()> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(update.expression())
            .condition_expression(condition)
            .set_expression_attribute_names(update.at.names())
            .set_expression_attribute_values(update.at.values())
            .send()
            .await
            .map_err(map_err)?;
        Ok(())
    }

    /// Every page of a query, until `enough` items came back or the partition is exhausted.
    async fn query_items(&self, q: &Query, enough: usize) -> StoreResult<Vec<Item>> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let (items, next) = self
                .query_page(q, start.take(), enough.saturating_sub(out.len()).clamp(1, 500))
                .await?;
            out.extend(items);
            match next {
                Some(k) if out.len() < enough => start = Some(k),
                _ => break,
            }
        }
        out.truncate(enough);
        Ok(out)
    }

    /// The items under `keys` that exist, in no particular order (consistent reads, 100 keys per
    /// request, unprocessed keys asked again). Only `projection`'s attributes when given.
    async fn batch_get(&self, keys: Vec<Item>, projection: Option<&[&str]>) -> StoreResult<Vec<Item>> {
        let mut found = Vec::new();
        for chunk in keys.chunks(100) {
            let mut pending = Some(chunk.to_vec());
            for attempt in 0u32.. {
                let Some(keys) = pending.take().filter(|k| !k.is_empty()) else {
                    break;
                };
                if attempt == 5 {
                    return Err(StoreError::Unavailable(
                        "batch read kept coming back unprocessed".into(),
                    ));
                }
                if attempt > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(20 << attempt)).await;
                }
                let mut request = KeysAndAttributes::builder().set_keys(Some(keys)).consistent_read(true);
                if let Some(attrs) = projection {
                    let mut at = Placeholders::default();
                    let names: Vec<String> = attrs.iter().map(|a| at.name(a)).collect();
                    request = request
                        .projection_expression(names.join(", "))
                        .set_expression_attribute_names(at.names());
                }
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(
                        &self.table,
                        request.build().map_err(|e| StoreError::Unavailable(e.to_string()))?,
                    )
                    .send()
                    .await
                    .map_err(map_err)?;
                found.extend(
                    out.responses
                        .and_then(|mut r| r.remove(&self.table))
                        .unwrap_or_default(),
                );
                pending = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                    .map(|k| k.keys);
            }
        }
        Ok(found)
    }

    /// Writes all of `items` or none (`Conflict` when a condition failed).
    async fn transact(&self, items: Vec<TransactWriteItem>) -> StoreResult<()> {
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map_err(map_transaction_err)?;
        Ok(())
    }

    /// One page of a query: up to `limit` items from `start`, and where the next page starts.
    async fn query_page(&self, q: &Query, start: Option<Item>, limit: usize) -> StoreResult<(Vec<Item>, Option<Item>)> {
        let page = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(q.index.map(str::to_owned))
            .key_condition_expression(&q.key_condition)
            .set_expression_attribute_names(q.at.names())
            .set_expression_attribute_values(q.at.values())
            .scan_index_forward(q.forward)
            .set_exclusive_start_key(start)
            .limit(limit.clamp(1, 1000) as i32)
            .send()
            .await
            .map_err(map_err)?;
        Ok((
            page.items.unwrap_or_default(),
            page.last_evaluated_key.filter(|k| !k.is_empty()),
        ))
    }

    /// Reads several partitions in one order — each query's own (all ascending, or all newest
    /// first) — merged by sort key, until `wanted` items were kept by `keep` or the partitions
    /// are exhausted (or `MAX_EXAMINED` items were looked at). Partitions are read a page at a
    /// time, only as far as the merge needs them.
    async fn merge<T>(
        &self,
        queries: &[Query],
        wanted: usize,
        mut keep: impl FnMut(&Item) -> StoreResult<Option<T>>,
    ) -> StoreResult<Vec<T>> {
        struct Stream {
            buffer: VecDeque<Item>,
            next: Option<Item>,
            done: bool,
        }
        let mut streams: Vec<Stream> = queries
            .iter()
            .map(|_| Stream {
                buffer: VecDeque::new(),
                next: None,
                done: false,
            })
            .collect();
        let page = (wanted.div_ceil(queries.len().max(1)) + 8).clamp(16, 500);
        let forward = queries.first().is_some_and(|q| q.forward);
        let (mut out, mut examined) = (Vec::new(), 0usize);
        while out.len() < wanted {
            let refills: Vec<usize> = (0..streams.len())
                .filter(|&i| streams[i].buffer.is_empty() && !streams[i].done)
                .collect();
            let pages = futures::future::join_all(
                refills
                    .iter()
                    .map(|&i| self.query_page(&queries[i], streams[i].next.take(), page)),
            )
            .await;
            for (&i, result) in refills.iter().zip(pages) {
                let (items, next) = result?;
                streams[i].done = next.is_none();
                streams[i].next = next;
                streams[i].buffer.extend(items);
            }
            let sort_key = |i: usize| -> Option<&str> { s_attr(streams[i].buffer.front()?, queries[i].sort_key) };
            let best = (0..streams.len()).filter(|&i| sort_key(i).is_some()).reduce(|a, b| {
                let (ka, kb) = (sort_key(a), sort_key(b));
                if (forward && kb < ka) || (!forward && kb > ka) {
                    b
                } else {
                    a
                }
            });
            let Some(best) = best else {
                break;
            };
            let item = streams[best].buffer.pop_front().expect("a head");
            if let Some(kept) = keep(&item)? {
                out.push(kept);
            }
            examined += 1;
            if examined >= MAX_EXAMINED {
                tracing::warn!(examined, kept = out.len(), "a listing stopped at its examination bound");
                break;
            }
        }
        Ok(out)
    }
}
