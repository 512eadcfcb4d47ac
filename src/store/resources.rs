//! SCIM resources (users and groups) as rows: the stored document plus the indexed
//! columns that filters and uniqueness need.

use super::sql::{Dialect, Q, Row, SqlValue, can_match};
use super::{StoreError, Tx};
use crate::domain::OrgId;
use serde_json::{Map, Value};

/// Which table a resource lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Users,
    Groups,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Users => "scim_users",
            Table::Groups => "scim_groups",
        }
    }

    fn count_key(self) -> &'static str {
        match self {
            Table::Users => "User",
            Table::Groups => "Group",
        }
    }
}

/// A stored resource.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResource {
    pub seq: i64,
    pub id: String,
    pub doc: Map<String, Value>,
    pub version: i64,
    pub created: String,
    pub updated: String,
}

/// What is written for a resource: its document and the indexed columns derived from it.
/// Built once by [`ResourceWrite::new`] and not changed after: the serialised copies of
/// the document must stay what the document says.
#[derive(Debug, Clone)]
pub struct ResourceWrite {
    doc: Map<String, Value>,
    external_id: Option<String>,
    /// Table-specific columns (`user_name`, `active`, `display_name_norm`, ...).
    columns: Vec<(&'static str, SqlValue)>,
    /// Folded email addresses (users only), for the `emails.value` index.
    emails: Vec<String>,
    /// `doc` as stored, and case-folded for case-insensitive filters: serialised when
    /// the write is built, so a create can do it before it waits for the one writer.
    doc_json: String,
    doc_ci: String,
}

impl ResourceWrite {
    pub fn new(
        doc: Map<String, Value>,
        external_id: Option<String>,
        columns: Vec<(&'static str, SqlValue)>,
        emails: Vec<String>,
    ) -> ResourceWrite {
        ResourceWrite {
            doc_json: doc_json(&doc),
            doc_ci: doc_ci(&doc),
            doc,
            external_id,
            columns,
            emails,
        }
    }
}

/// Paging of a list query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// `LIMIT count OFFSET offset`.
    Index { offset: i64, count: i64 },
    /// Keyset: rows after `after_seq` in `seq` order (cursor paging without sortBy).
    After { after_seq: i64, count: i64 },
}

/// A list query.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub filter: Option<Q>,
    /// `ORDER BY` expression (from the filter compiler's whitelist) and descending flag.
    pub sort: Option<(String, bool)>,
    pub page: Page,
}

fn select_columns(dialect: Dialect) -> String {
    format!(
        "r.seq, r.id, {} AS doc, r.version, r.created_at, r.updated_at",
        dialect.json_out("r.doc")
    )
}

fn decode(row: &Row) -> Result<StoredResource, StoreError> {
    let doc: Value = serde_json::from_str(row.str("doc")?)
        .map_err(|e| StoreError::Decode(format!("stored document: {e}")))?;
    let Value::Object(doc) = doc else {
        return Err(StoreError::Decode(
            "stored document is not an object".into(),
        ));
    };
    Ok(StoredResource {
        seq: row.int("seq")?,
        id: row.text("id")?,
        doc,
        version: row.int("version")?,
        created: row.text("created_at")?,
        updated: row.text("updated_at")?,
    })
}

fn doc_json(doc: &Map<String, Value>) -> String {
    // Serialising a Map of Values cannot fail.
    serde_json::to_string(doc).unwrap_or_else(|_| "{}".to_owned())
}

/// The document with every string case-folded: what case-insensitive filters compare.
fn doc_ci(doc: &Map<String, Value>) -> String {
    fn fold(v: &Value) -> Value {
        match v {
            Value::String(s) => Value::String(scim::text::fold_key(s)),
            Value::Array(a) => Value::Array(a.iter().map(fold).collect()),
            Value::Object(o) => {
                Value::Object(o.iter().map(|(k, v)| (k.clone(), fold(v))).collect())
            }
            other => other.clone(),
        }
    }
    doc_json(&doc.iter().map(|(k, v)| (k.clone(), fold(v))).collect())
}

/// Inserts a resource. A uniqueness violation comes back as `StoreError::Conflict`.
pub async fn insert(
    tx: &mut Tx,
    table: Table,
    org_id: &OrgId,
    id: &str,
    w: &ResourceWrite,
    now: &str,
) -> Result<StoredResource, StoreError> {
    let d = tx.dialect();
    let mut q = Q::new(&format!(
        "INSERT INTO {} (id, org_id, external_id, doc, doc_ci, version, created_at, updated_at",
        table.name()
    ));
    for (col, _) in &w.columns {
        q.push(", ").push(col);
    }
    q.push(") VALUES (")
        .push_bind(id)
        .push(", ")
        .push_bind(org_id)
        .push(", ")
        .push_bind(w.external_id.clone())
        .push(", ");
    q.push_json(d, w.doc_json.clone());
    q.push(", ").push_json(d, w.doc_ci.clone());
    q.push(", 1, ").push_bind(now).push(", ").push_bind(now);
    for (_, v) in &w.columns {
        q.push(", ").push_bind(v.clone());
    }
    q.push(")");
    // No ON CONFLICT here: a taken userName or externalId fails the INSERT (409).
    let seq = tx
        .insert_returning_key(q, "seq")
        .await?
        .ok_or_else(|| StoreError::Database(format!("no {} row was inserted", table.name())))?;
    write_emails(tx, org_id, seq, &w.emails, false).await?;
    bump_count(tx, table, org_id, 1).await?;
    Ok(StoredResource {
        seq,
        id: id.to_owned(),
        doc: w.doc.clone(),
        version: 1,
        created: now.to_owned(),
        updated: now.to_owned(),
    })
}

async fn write_emails(
    tx: &mut Tx,
    org_id: &OrgId,
    seq: i64,
    emails: &[String],
    replace: bool,
) -> Result<(), StoreError> {
    if replace {
        tx.execute(Q::new("DELETE FROM scim_user_emails WHERE user_seq = ?").bind(seq))
            .await?;
    }
    // Three parameters a row: bounded statements stay far below SQLite's 32,766 and
    // PostgreSQL's 65,535 parameters whatever a user holds.
    for chunk in emails.chunks(500) {
        let mut q = Q::new("INSERT INTO scim_user_emails (user_seq, org_id, value_norm) VALUES ");
        for (i, e) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push("(")
                .push_bind(seq)
                .push(", ")
                .push_bind(org_id)
                .push(", ")
                .push_bind(e.as_str())
                .push(")");
        }
        tx.execute(q).await?;
    }
    Ok(())
}

async fn bump_count(tx: &mut Tx, table: Table, org_id: &OrgId, by: i64) -> Result<(), StoreError> {
    tx.execute(
        Q::new(
            "INSERT INTO scim_counts (org_id, resource_type, total) VALUES (?, ?, ?) \
             ON CONFLICT (org_id, resource_type) DO UPDATE SET total = scim_counts.total + excluded.total",
        )
        .bind(org_id)
        .bind(table.count_key())
        .bind(by),
    )
    .await?;
    Ok(())
}

/// Reads one resource of the org. With `for_update`, locks the row until the
/// transaction ends (PostgreSQL; SQLite write transactions are already exclusive).
pub async fn get(
    tx: &mut Tx,
    table: Table,
    org_id: &OrgId,
    id: &str,
    for_update: bool,
) -> Result<Option<StoredResource>, StoreError> {
    if !can_match(id) {
        return Ok(None);
    }
    let d = tx.dialect();
    let mut q = Q::new(&format!(
        "SELECT {} FROM {} r WHERE r.id = ? AND r.org_id = ?",
        select_columns(d),
        table.name()
    ))
    .bind(id)
    .bind(org_id);
    if for_update {
        q.push(d.for_update());
    }
    tx.fetch_optional(q).await?.as_ref().map(decode).transpose()
}

/// The stored password hash of a user, if any.
pub async fn password_hash(
    tx: &mut Tx,
    org_id: &OrgId,
    id: &str,
) -> Result<Option<String>, StoreError> {
    let row = tx
        .fetch_optional(
            Q::new("SELECT password_hash FROM scim_users WHERE id = ? AND org_id = ?")
                .bind(id)
                .bind(org_id),
        )
        .await?;
    match row {
        Some(r) => r.opt_text("password_hash"),
        None => Ok(None),
    }
}

/// Replaces a resource's document and columns, bumping its version. Returns None if the
/// resource is gone.
pub async fn update(
    tx: &mut Tx,
    table: Table,
    org_id: &OrgId,
    current: &StoredResource,
    w: &ResourceWrite,
    now: &str,
) -> Result<StoredResource, StoreError> {
    let d = tx.dialect();
    let mut q = Q::new(&format!("UPDATE {} SET external_id = ", table.name()));
    q.push_bind(w.external_id.clone());
    q.push(", doc = ").push_json(d, w.doc_json.clone());
    q.push(", doc_ci = ").push_json(d, w.doc_ci.clone());
    q.push(", version = version + 1, updated_at = ")
        .push_bind(now);
    for (col, v) in &w.columns {
        q.push(", ").push(col).push(" = ").push_bind(v.clone());
    }
    q.push(" WHERE id = ")
        .push_bind(current.id.as_str())
        .push(" AND org_id = ")
        .push_bind(org_id)
        .push(" AND version = ")
        .push_bind(current.version);
    if tx.execute(q).await? != 1 {
        return Err(StoreError::Database(
            "resource changed during the transaction".into(),
        ));
    }
    if table == Table::Users {
        write_emails(tx, org_id, current.seq, &w.emails, true).await?;
    }
    Ok(StoredResource {
        seq: current.seq,
        id: current.id.clone(),
        doc: w.doc.clone(),
        version: current.version + 1,
        created: current.created.clone(),
        updated: now.to_owned(),
    })
}

/// Rewrites the folded copy of a resource's document and (users) its email keys from
/// `doc`, leaving its version alone: what the resource says has not changed. For the
/// start-up step that refolds stored keys (`provisioning::fold_keys`).
pub async fn set_folded_doc(
    tx: &mut Tx,
    table: Table,
    org_id: &OrgId,
    seq: i64,
    doc: &Map<String, Value>,
    emails: &[String],
) -> Result<(), StoreError> {
    let mut q = Q::new(&format!("UPDATE {} SET doc_ci = ", table.name()));
    q.push(tx.dialect().json_in());
    q.args.push(doc_ci(doc).into());
    q.push(" WHERE seq = ").push_bind(seq);
    tx.execute(q).await?;
    if table == Table::Users {
        write_emails(tx, org_id, seq, emails, true).await?;
    }
    Ok(())
}

/// Marks a resource as changed (new version and lastModified) without touching its
/// document, e.g. when its group members change.
pub async fn touch(tx: &mut Tx, table: Table, id: &str, now: &str) -> Result<(), StoreError> {
    tx.execute(
        Q::new(&format!(
            "UPDATE {} SET version = version + 1, updated_at = ? WHERE id = ?",
            table.name()
        ))
        .bind(now)
        .bind(id),
    )
    .await?;
    Ok(())
}

/// Deletes a resource and every membership that names it (as group or as member); the
/// groups that lose a member get a new version. Returns false if it did not exist.
pub async fn delete(
    tx: &mut Tx,
    table: Table,
    org_id: &OrgId,
    id: &str,
    now: &str,
) -> Result<bool, StoreError> {
    tx.execute(
        Q::new(
            "UPDATE scim_groups SET version = version + 1, updated_at = ? \
             WHERE id IN (SELECT group_id FROM scim_group_members WHERE member_id = ?)",
        )
        .bind(now)
        .bind(id),
    )
    .await?;
    tx.execute(Q::new("DELETE FROM scim_group_members WHERE member_id = ?").bind(id))
        .await?;
    if table == Table::Groups {
        tx.execute(Q::new("DELETE FROM scim_group_members WHERE group_id = ?").bind(id))
            .await?;
    }
    let n = tx
        .execute(
            Q::new(&format!(
                "DELETE FROM {} WHERE id = ? AND org_id = ?",
                table.name()
            ))
            .bind(id)
            .bind(org_id),
        )
        .await?;
    if n > 0 {
        bump_count(tx, table, org_id, -1).await?;
    }
    Ok(n > 0)
}

/// Counts the resources of an org matching a filter (None: all, from the kept count).
pub async fn count(
    tx: &mut Tx,
    table: Table,
    org_id: &OrgId,
    filter: Option<&Q>,
) -> Result<i64, StoreError> {
    match filter {
        None => {
            let row = tx
                .fetch_optional(
                    Q::new("SELECT total FROM scim_counts WHERE org_id = ? AND resource_type = ?")
                        .bind(org_id)
                        .bind(table.count_key()),
                )
                .await?;
            Ok(match row {
                Some(r) => r.int("total")?,
                None => 0,
            })
        }
        Some(f) => tx.fetch_one(count_query(table, org_id, f)).await?.int("n"),
    }
}

fn count_query(table: Table, org_id: &OrgId, filter: &Q) -> Q {
    let mut q = Q::new(&format!(
        "SELECT COUNT(*) AS n FROM {} r WHERE r.org_id = ? AND (",
        table.name()
    ))
    .bind(org_id);
    q.append(filter.clone());
    q.push(")");
    q
}

/// Lists a page of resources of an org.
pub async fn list(
    tx: &mut Tx,
    table: Table,
    org_id: &OrgId,
    query: &ListQuery,
) -> Result<Vec<StoredResource>, StoreError> {
    let q = list_query(tx.dialect(), table, org_id, query);
    let rows = tx.fetch_all(q).await?;
    rows.iter().map(decode).collect()
}

fn list_query(d: Dialect, table: Table, org_id: &OrgId, query: &ListQuery) -> Q {
    let mut q = Q::new(&format!(
        "SELECT {} FROM {} r WHERE r.org_id = ?",
        select_columns(d),
        table.name()
    ))
    .bind(org_id);
    if let Some(f) = &query.filter {
        q.push(" AND (");
        q.append(f.clone());
        q.push(")");
    }
    let (limit, offset) = match query.page {
        Page::Index { offset, count } => (count, offset),
        Page::After { after_seq, count } => {
            q.push(" AND r.seq > ").push_bind(after_seq);
            (count, 0)
        }
    };
    q.push(" ORDER BY ");
    if let Some((expr, desc)) = &query.sort {
        q.push(expr)
            .push(if *desc { " DESC" } else { " ASC" })
            .push(" NULLS LAST, ");
    }
    q.push("r.seq ASC")
        .push_limit(limit)
        .push(" OFFSET ")
        .push_bind(offset);
    q
}

/// The query plans of [`list`] and, when filtered, of [`count`] for the same query, as
/// the database prints them (`EXPLAIN QUERY PLAN` on SQLite, `EXPLAIN` on PostgreSQL),
/// one line per plan node. Lets tests check that the lookups IdPs make are answered from
/// indexes on each backend.
pub async fn explain_list(
    tx: &mut Tx,
    table: Table,
    org_id: &OrgId,
    query: &ListQuery,
) -> Result<Vec<String>, StoreError> {
    let d = tx.dialect();
    let mut queries = vec![list_query(d, table, org_id, query)];
    if let Some(f) = &query.filter {
        queries.push(count_query(table, org_id, f));
    }
    let mut lines = Vec::new();
    for q in queries {
        let mut explained = Q::new(d.explain());
        explained.append(q);
        for row in tx.fetch_all(explained).await? {
            lines.push(match d {
                Dialect::Sqlite => row.text("detail")?,
                Dialect::Postgres => row.text("QUERY PLAN")?,
            });
        }
    }
    Ok(lines)
}

/// Which of `ids` exist in the org's `table`.
pub async fn existing_ids(
    tx: &mut Tx,
    table: Table,
    org_id: &OrgId,
    ids: &[String],
) -> Result<Vec<String>, StoreError> {
    let mut found = Vec::with_capacity(ids.len());
    let ids: Vec<&String> = ids.iter().filter(|id| can_match(id)).collect();
    // Bounded IN lists keep every statement well under SQLite's parameter limit.
    for chunk in ids.chunks(500) {
        // The organization is checked on the rows found by id: with `org_id = ?` in the
        // WHERE, SQLite (without statistics) walks the org's rows instead of probing ids.
        let mut q = Q::new(&format!(
            "SELECT id, org_id FROM {} WHERE id IN (",
            table.name()
        ));
        q.push_list(chunk);
        q.push(")");
        for row in tx.fetch_all(q).await? {
            if row.str("org_id")? == org_id.as_str() {
                found.push(row.text("id")?);
            }
        }
    }
    Ok(found)
}
