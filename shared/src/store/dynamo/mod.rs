//! The AWS store: one DynamoDB table, single-table design. Each item holds the record's serde
//! JSON in `body` plus only the key and index attributes queries need, so a field added to a
//! record needs no table change.
//!
//! - `table.rs`: the table's schema (key attributes, indexes, TTL) and `create_table`.
//! - `keys.rs`: every key and index value of every entity, per domain (documented in
//!   `infra/README.md`).
//! - this file: the client, the codec (`body`) and the operations every domain uses — `get`,
//!   `put`, `put_new`, `take`, `update` (conditional), `query` — each written once.
//! - one file per domain trait: `integrations.rs`, `connections.rs`, `flow_sessions.rs`,
//!   `activity.rs`, `settings.rs`.

mod activity;
mod connections;
mod flow_sessions;
mod integrations;
mod keys;
mod settings;
mod table;

use std::collections::HashMap;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use aws_sdk_dynamodb::Client;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{StoreError, StoreResult};
pub use keys::{refresh_shard, REFRESH_SHARDS};
pub use table::{Index, ACTIVITY_RETENTION, GSI1, GSI2, GSI_REFRESH, TTL_ATTRIBUTE};

type Item = HashMap<String, AttributeValue>;

/// Attributes of an item beside its key: `None` = absent (left out of a put, removed by an
/// update).
type Attributes = Vec<(&'static str, Option<AttributeValue>)>;

/// The attribute holding the record's JSON.
const BODY: &str = "body";

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
    match item.get(BODY) {
        Some(AttributeValue::S(b)) => serde_json::from_str(b).map_err(|e| StoreError::Corrupt(e.to_string())),
        _ => Err(StoreError::Corrupt("item without body".into())),
    }
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
        for (attr, value) in attributes {
            match value {
                Some(v) => u.set(attr, v),
                None => u.remove(attr),
            }
        }
        u
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

/// One query of the table or an index: one partition, optionally a sort key condition and
/// filters. `DynamoStore::query` pages through it.
struct Query {
    index: Option<&'static str>,
    key_condition: String,
    sort_key: &'static str,
    filters: Vec<String>,
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
            filters: Vec::new(),
            at,
            forward: true,
        }
    }
    fn sort_begins_with(mut self, prefix: &str) -> Self {
        let v = self.at.value(":sk", s(prefix));
        self.key_condition += &format!(" AND begins_with({}, {v})", self.sort_key);
        self
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
    /// Adds a filter condition (built with `self.at`).
    fn filter(&mut self, condition: String) {
        self.filters.push(condition);
    }
    fn filter_equals(&mut self, attr: &str, value: AttributeValue) {
        let name = self.at.name(attr);
        let v = self.at.value(&format!(":{attr}"), value);
        self.filter(format!("{name} = {v}"));
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

    /// The record under `key` (a consistent read).
    async fn get<T: DeserializeOwned>(&self, key: Item) -> StoreResult<Option<T>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(map_err)?;
        out.item.as_ref().map(body).transpose()
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

    /// Every page of a query, each item handed to `take` (which says whether it counts),
    /// until `enough` counted or the partition is exhausted.
    async fn pages(
        &self,
        q: &Query,
        enough: usize,
        mut take: impl FnMut(Item) -> StoreResult<bool>,
    ) -> StoreResult<()> {
        let filter = (!q.filters.is_empty()).then(|| q.filters.join(" AND "));
        let mut counted = 0;
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name(q.index.map(str::to_owned))
                .key_condition_expression(&q.key_condition)
                .set_filter_expression(filter.clone())
                .set_expression_attribute_names(q.at.names())
                .set_expression_attribute_values(q.at.values())
                .scan_index_forward(q.forward)
                .set_exclusive_start_key(start.take())
                .limit((enough - counted).clamp(1, 500) as i32)
                .send()
                .await
                .map_err(map_err)?;
            for item in page.items.unwrap_or_default() {
                if counted < enough && take(item)? {
                    counted += 1;
                }
            }
            match page.last_evaluated_key {
                Some(k) if counted < enough && !k.is_empty() => start = Some(k),
                _ => return Ok(()),
            }
        }
    }

    /// Every page of a query, until `enough` items passed the filters or the partition is
    /// exhausted.
    async fn query_items(&self, q: &Query, enough: usize) -> StoreResult<Vec<Item>> {
        let mut out = Vec::new();
        self.pages(q, enough, |item| {
            out.push(item);
            Ok(true)
        })
        .await?;
        Ok(out)
    }

    /// `query_items`, decoded.
    async fn query<T: DeserializeOwned>(&self, q: &Query, enough: usize) -> StoreResult<Vec<T>> {
        self.query_items(q, enough).await?.iter().map(body).collect()
    }

    /// The records of a query that `keep` accepts (a rule the filter expression cannot state
    /// on attributes), page after page, until `enough` were kept or the partition is exhausted.
    async fn query_kept<T: DeserializeOwned>(
        &self,
        q: &Query,
        enough: usize,
        keep: impl Fn(&T) -> bool,
    ) -> StoreResult<Vec<T>> {
        let mut out = Vec::new();
        self.pages(q, enough, |item| {
            let record: T = body(&item)?;
            let kept = keep(&record);
            if kept {
                out.push(record);
            }
            Ok(kept)
        })
        .await?;
        Ok(out)
    }
}
