//! The rows of the start-up step that recomputes the case-insensitive keys
//! (`provisioning::fold_keys`), and the spelling of a key it had to move aside.

use super::resources::Table;
use super::sql::{Q, Row};
use super::{StoreError, Tx};
use crate::domain::OrgId;
use serde_json::{Map, Value};

/// A table with a case-insensitive unique key, oldest rows first in [`rows`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyedTable {
    Orgs,
    Teams,
    Users,
    Groups,
}

impl KeyedTable {
    pub const ALL: [KeyedTable; 4] = [
        KeyedTable::Orgs,
        KeyedTable::Teams,
        KeyedTable::Users,
        KeyedTable::Groups,
    ];

    /// The resource's name in audit actions and targets (`user:<id>`).
    pub fn kind(self) -> &'static str {
        match self {
            KeyedTable::Orgs => "org",
            KeyedTable::Teams => "team",
            KeyedTable::Users => "user",
            KeyedTable::Groups => "group",
        }
    }

    /// (table, name column, key column).
    fn columns(self) -> (&'static str, &'static str, &'static str) {
        match self {
            KeyedTable::Orgs => ("orgs", "name", "name_norm"),
            KeyedTable::Teams => ("teams", "name", "name_norm"),
            KeyedTable::Users => ("scim_users", "user_name", "user_name_norm"),
            KeyedTable::Groups => ("scim_groups", "display_name", "display_name_norm"),
        }
    }

    /// The SCIM resource table, for the tables that hold documents.
    pub fn resource_table(self) -> Option<Table> {
        match self {
            KeyedTable::Users => Some(Table::Users),
            KeyedTable::Groups => Some(Table::Groups),
            KeyedTable::Orgs | KeyedTable::Teams => None,
        }
    }
}

/// The key given to the `n`-th (from 1) later row whose name folds to the key `folded`
/// of an older row. Fold keys never hold an ASCII capital, so it collides with no name;
/// a filter `sw` the folded name still finds the row, and a sign-in by that name finds
/// both rows and refuses as ambiguous (see `sessions::match_users`).
pub fn duplicate_key(folded: &str, n: usize) -> String {
    format!("{folded} (DUPLICATE {n})")
}

/// A key no name folds to, unique per row: where a row waits while keys change hands.
pub fn parked_key(id: &str) -> String {
    format!("#PARKED {id}")
}

/// One row as the step reads it.
#[derive(Debug, Clone)]
pub struct KeyedRow {
    /// The paging position: `seq` for users and groups, the row's place for the others.
    pub pos: i64,
    pub id: String,
    /// The org the key is unique in; orgs' names are unique server-wide (empty here).
    pub org_id: OrgId,
    pub name: String,
    pub key: String,
    /// Users and groups: the stored document, if it holds anything but ASCII (else its
    /// folded copy and email keys cannot change).
    pub doc: Option<Map<String, Value>>,
}

/// Marks the data step `name` as run; false if it already had (in another process too:
/// PostgreSQL makes a concurrent insert wait for the first to commit).
pub async fn claim_step(tx: &mut Tx, name: &str, now: &str) -> Result<bool, StoreError> {
    let q =
        Q::new("INSERT INTO data_steps (name, ran_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(now);
    Ok(tx.execute(q).await? == 1)
}

/// Rows of `t` after position `after`, oldest first, at most `limit`. Orgs and teams are
/// few and have no sequence: they come in one page, ordered by creation.
pub async fn rows(
    tx: &mut Tx,
    t: KeyedTable,
    after: i64,
    limit: i64,
) -> Result<Vec<KeyedRow>, StoreError> {
    let (table, name, key) = t.columns();
    let d = tx.dialect();
    let q = match t {
        KeyedTable::Orgs | KeyedTable::Teams if after > 0 => return Ok(Vec::new()),
        KeyedTable::Orgs => Q::new(&format!(
            "SELECT 0 AS pos, id, '' AS org_id, {name} AS name, {key} AS key, NULL AS doc \
             FROM {table} ORDER BY created_at, id"
        )),
        KeyedTable::Teams => Q::new(&format!(
            "SELECT 0 AS pos, id, org_id, {name} AS name, {key} AS key, NULL AS doc \
             FROM {table} ORDER BY created_at, id"
        )),
        KeyedTable::Users | KeyedTable::Groups => {
            let mut q = Q::new(&format!(
                "SELECT seq AS pos, id, org_id, {name} AS name, {key} AS key, {} AS doc \
                 FROM {table} WHERE seq > ? ORDER BY seq",
                d.json_out("doc")
            ))
            .bind(after);
            q.push_limit(limit);
            q
        }
    };
    tx.fetch_all(q).await?.iter().map(decode).collect()
}

fn decode(r: &Row) -> Result<KeyedRow, StoreError> {
    let doc = match r.opt_text("doc")? {
        Some(text) if !text.is_ascii() => match serde_json::from_str(&text) {
            Ok(Value::Object(doc)) => Some(doc),
            _ => {
                return Err(StoreError::Decode(
                    "stored document is not an object".into(),
                ));
            }
        },
        _ => None,
    };
    Ok(KeyedRow {
        pos: r.int("pos")?,
        id: r.text("id")?,
        org_id: r.id("org_id")?,
        name: r.text("name")?,
        key: r.text("key")?,
        doc,
    })
}

/// Sets the key of one row.
pub async fn set_key(tx: &mut Tx, t: KeyedTable, id: &str, key: &str) -> Result<(), StoreError> {
    let (table, _, column) = t.columns();
    tx.execute(
        Q::new(&format!("UPDATE {table} SET {column} = ? WHERE id = ?"))
            .bind(key)
            .bind(id),
    )
    .await?;
    Ok(())
}
