//! The start-up step that recomputes every stored case-insensitive key with
//! [`scim::text::fold_key`] (NFC and full case folding) where earlier versions stored
//! simple lower-casing: org and team names, userNames, group displayNames, email keys
//! and the folded documents filters read. It runs once, after the SQL migrations.
//!
//! Two rows that were distinct before may now fold to one key (`groß` and `GROSS`). The
//! older row keeps the key; the later one gets a [`duplicate_key`] no name folds to, so
//! nothing fails and nothing is merged. Each such collision is logged at WARN and
//! recorded in the org's audit log (`user.key_collision`, ...), for an admin to rename
//! or remove one of the two.

use crate::domain::OrgId;
use crate::provisioning::write::email_keys;
use crate::store::audit::{self, NewEntry};
use crate::store::fold_keys::{self as sql, KeyedRow, KeyedTable, duplicate_key, parked_key};
use crate::store::{Store, StoreError, Tx, resources};
use scim::text::fold_key;
use serde_json::json;
use std::collections::HashMap;
use std::collections::hash_map::Entry;

/// The name the step records in `data_steps` once it has run.
pub const STEP: &str = "fold_keys_nfc_full_case_folding";

/// Rows read at a time.
const PAGE: i64 = 500;

/// Two rows whose names fold to one key: `kept` keeps it, `moved` now has `key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyCollision {
    /// `org`, `team`, `user` or `group`.
    pub kind: &'static str,
    /// The org of both rows (for orgs: the moved org).
    pub org_id: OrgId,
    pub kept_id: String,
    pub moved_id: String,
    /// The moved row's name, as stored.
    pub name: String,
    pub key: String,
}

/// Runs the step unless it has run (in this or another process); returns the collisions
/// it found, each already logged and audited. One transaction: all or nothing.
pub async fn refold_keys(store: &Store, now: &str) -> Result<Vec<KeyCollision>, StoreError> {
    let mut tx = store.write().await?;
    if !sql::claim_step(&mut tx, STEP, now).await? {
        return Ok(Vec::new());
    }
    let mut collisions = Vec::new();
    for table in KeyedTable::ALL {
        collisions.extend(refold_table(&mut tx, table).await?);
    }
    let entries: Vec<_> = collisions.iter().map(audit_after).collect();
    let entries: Vec<NewEntry<'_>> = collisions
        .iter()
        .zip(&entries)
        .map(|(c, (action, target, after))| NewEntry {
            org_id: &c.org_id,
            at: now,
            actor: "system",
            action,
            target,
            before: None,
            after: Some(after),
        })
        .collect();
    audit::insert_many(&mut tx, &entries).await?;
    tx.commit().await?;
    for c in &collisions {
        tracing::warn!(
            org = %c.org_id,
            kind = c.kind,
            kept = %c.kept_id,
            moved = %c.moved_id,
            name = %c.name,
            key = %c.key,
            "two names are now the same ignoring case: the older keeps it, the later was \
             given another key; rename or remove one (see the org's audit log)"
        );
    }
    Ok(collisions)
}

fn audit_after(c: &KeyCollision) -> (String, String, serde_json::Value) {
    (
        format!("{}.key_collision", c.kind),
        format!("{}:{}", c.kind, c.moved_id),
        json!({
            "name": c.name,
            "key": c.key,
            "collides_with": format!("{}:{}", c.kind, c.kept_id),
        }),
    )
}

async fn refold_table(tx: &mut Tx, table: KeyedTable) -> Result<Vec<KeyCollision>, StoreError> {
    // (org, folded key) → the id of the oldest row with it, and how many later rows
    // were moved aside from it.
    let mut taken: HashMap<(OrgId, String), (String, usize)> = HashMap::new();
    let mut moves: Vec<(String, String)> = Vec::new();
    let mut collisions = Vec::new();
    let mut after = 0;
    loop {
        let rows = sql::rows(tx, table, after, PAGE).await?;
        for row in &rows {
            let folded = fold_key(&row.name);
            let key = match taken.entry((row.org_id.clone(), folded)) {
                Entry::Vacant(e) => {
                    let key = e.key().1.clone();
                    e.insert((row.id.clone(), 0));
                    key
                }
                Entry::Occupied(mut e) => {
                    let key = duplicate_key(&e.key().1, e.get().1 + 1);
                    let (kept, n) = e.get_mut();
                    *n += 1;
                    collisions.push(KeyCollision {
                        kind: table.kind(),
                        org_id: if table == KeyedTable::Orgs {
                            OrgId::from(row.id.as_str())
                        } else {
                            row.org_id.clone()
                        },
                        kept_id: kept.clone(),
                        moved_id: row.id.clone(),
                        name: row.name.clone(),
                        key: key.clone(),
                    });
                    key
                }
            };
            if key != row.key {
                moves.push((row.id.clone(), key));
            }
            refold_doc(tx, table, row).await?;
        }
        match rows.last() {
            Some(last) if rows.len() as i64 == PAGE => after = last.pos,
            _ => break,
        }
    }
    // Keys change hands (`σας` gives up the key `σασ` another row folds to): park every
    // moving row on a key of its own first, so no statement meets the unique index
    // half-way.
    for (id, _) in &moves {
        sql::set_key(tx, table, id, &parked_key(id)).await?;
    }
    for (id, key) in &moves {
        sql::set_key(tx, table, id, key).await?;
    }
    Ok(collisions)
}

async fn refold_doc(tx: &mut Tx, table: KeyedTable, row: &KeyedRow) -> Result<(), StoreError> {
    let (Some(resource), Some(doc)) = (table.resource_table(), &row.doc) else {
        return Ok(());
    };
    resources::set_folded_doc(tx, resource, &row.org_id, row.pos, doc, &email_keys(doc)).await
}
