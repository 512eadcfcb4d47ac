//! Policies: the org's SSO policy and its settings policies, each applied to chosen teams
//! (table `policies` and `policy_teams`, migration 0009).

use super::sql::{Q, Row};
use super::{StoreError, Tx};
use crate::domain::{OrgId, TeamId};
use std::collections::{BTreeMap, HashMap};

/// What a policy does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    /// Members of its teams must sign in through the org's SSO connection.
    Sso,
    /// Its settings override those of its teams.
    Settings,
}

impl PolicyKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyKind::Sso => "sso",
            PolicyKind::Settings => "settings",
        }
    }
}

/// A stored policy with the teams it applies to.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub id: String,
    pub org_id: OrgId,
    pub kind: PolicyKind,
    pub name: String,
    /// The settings object (empty for the SSO policy).
    pub settings: serde_json::Map<String, serde_json::Value>,
    /// The org-wide change counter when it was last changed: the higher wins a conflict.
    pub revision: i64,
    /// Team ids, sorted.
    pub team_ids: Vec<TeamId>,
    pub created: String,
    pub updated: String,
}

fn decode(r: &Row) -> Result<Policy, StoreError> {
    let kind = match r.text("kind")?.as_str() {
        "sso" => PolicyKind::Sso,
        "settings" => PolicyKind::Settings,
        other => return Err(StoreError::Decode(format!("policy kind {other:?}"))),
    };
    let settings = match serde_json::from_str(&r.text("settings")?)
        .map_err(|e| StoreError::Decode(format!("policy settings: {e}")))?
    {
        serde_json::Value::Object(m) => m,
        _ => serde_json::Map::new(),
    };
    Ok(Policy {
        id: r.text("id")?,
        org_id: r.id("org_id")?,
        kind,
        name: r.text("name")?,
        settings,
        revision: r.int("revision")?,
        team_ids: Vec::new(),
        created: r.text("created_at")?,
        updated: r.text("updated_at")?,
    })
}

/// The org's policies of `kind` (or the one with `id`), in revision order, with their teams.
pub async fn list(
    tx: &mut Tx,
    org_id: &OrgId,
    kind: PolicyKind,
    id: Option<&str>,
) -> Result<Vec<Policy>, StoreError> {
    let settings = tx.dialect().json_out("settings");
    let mut q = Q::new(&format!(
        "SELECT id, org_id, kind, name, {settings} AS settings, revision, created_at, updated_at \
         FROM policies WHERE org_id = ? AND kind = ?"
    ))
    .bind(org_id)
    .bind(kind.as_str());
    if let Some(id) = id {
        q.push(" AND id = ").push_bind(id);
    }
    q.push(" ORDER BY revision, id");
    let mut out: Vec<Policy> = tx
        .fetch_all(q)
        .await?
        .iter()
        .map(decode)
        .collect::<Result<_, _>>()?;
    if out.is_empty() {
        return Ok(out);
    }
    let ids: Vec<String> = out.iter().map(|p| p.id.clone()).collect();
    let mut teams: HashMap<String, Vec<TeamId>> = HashMap::new();
    // Bounded IN lists: a statement's parameters stay bounded however many policies.
    for chunk in ids.chunks(500) {
        let mut q = Q::new("SELECT policy_id, team_id FROM policy_teams WHERE policy_id IN (");
        q.push_list(chunk);
        q.push(") ORDER BY team_id");
        for row in tx.fetch_all(q).await? {
            teams
                .entry(row.text("policy_id")?)
                .or_default()
                .push(row.id("team_id")?);
        }
    }
    for p in &mut out {
        p.team_ids = teams.remove(&p.id).unwrap_or_default();
    }
    Ok(out)
}

/// The org's next policy revision. Taken inside the writing transaction (SQLite holds
/// the write lock; on PostgreSQL two concurrent changes may draw the same number, and
/// the id breaks the tie).
pub async fn next_revision(tx: &mut Tx, org_id: &OrgId) -> Result<i64, StoreError> {
    tx.fetch_one(
        Q::new(
            "SELECT CAST(COALESCE(MAX(revision), 0) + 1 AS BIGINT) AS n FROM policies \
             WHERE org_id = ?",
        )
        .bind(org_id),
    )
    .await?
    .int("n")
}

/// The policy's settings as the JSON text the `settings` column stores.
fn settings_json(p: &Policy) -> String {
    serde_json::Value::Object(p.settings.clone()).to_string()
}

/// Inserts a policy and its teams. A second SSO policy of an org is a Conflict.
pub async fn insert(tx: &mut Tx, p: &Policy) -> Result<(), StoreError> {
    let dialect = tx.dialect();
    let mut q = Q::new(
        "INSERT INTO policies (id, org_id, kind, name, revision, created_at, updated_at, settings) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ",
    )
    .bind(p.id.as_str())
    .bind(p.org_id.as_str())
    .bind(p.kind.as_str())
    .bind(p.name.as_str())
    .bind(p.revision)
    .bind(p.created.as_str())
    .bind(p.updated.as_str());
    q.push_json(dialect, settings_json(p));
    q.push(")");
    tx.execute(q).await?;
    put_teams(tx, p).await
}

/// Rewrites a policy's name, settings, revision and teams. False if there is no such policy.
pub async fn update(tx: &mut Tx, p: &Policy) -> Result<bool, StoreError> {
    let dialect = tx.dialect();
    let mut q = Q::new("UPDATE policies SET name = ?, revision = ?, updated_at = ?, settings = ")
        .bind(p.name.as_str())
        .bind(p.revision)
        .bind(p.updated.as_str());
    q.push_json(dialect, settings_json(p));
    q.push(" WHERE org_id = ")
        .push_bind(p.org_id.as_str())
        .push(" AND id = ")
        .push_bind(p.id.as_str());
    if tx.execute(q).await? != 1 {
        return Ok(false);
    }
    tx.execute(Q::new("DELETE FROM policy_teams WHERE policy_id = ?").bind(p.id.as_str()))
        .await?;
    put_teams(tx, p).await?;
    Ok(true)
}

async fn put_teams(tx: &mut Tx, p: &Policy) -> Result<(), StoreError> {
    for chunk in p.team_ids.chunks(300) {
        let mut q = Q::new("INSERT INTO policy_teams (policy_id, team_id, org_id) VALUES ");
        for (i, team) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push("(")
                .push_bind(p.id.as_str())
                .push(", ")
                .push_bind(team.as_str())
                .push(", ")
                .push_bind(p.org_id.as_str())
                .push(")");
        }
        tx.execute(q).await?;
    }
    Ok(())
}

/// Deletes a policy (its team links go with it). False if there is no such policy.
pub async fn delete(tx: &mut Tx, org_id: &OrgId, id: &str) -> Result<bool, StoreError> {
    Ok(tx
        .execute(
            Q::new("DELETE FROM policies WHERE org_id = ? AND id = ?")
                .bind(org_id)
                .bind(id),
        )
        .await?
        == 1)
}

/// A policy as it applies to one team.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    pub id: String,
    pub kind: PolicyKind,
    pub name: String,
    pub settings: serde_json::Map<String, serde_json::Value>,
    pub revision: i64,
}

/// The policies applied to each of `team_ids` (settings policies in revision order, the
/// last one winning; then the SSO policy), in one query.
pub async fn applied_to_teams(
    tx: &mut Tx,
    team_ids: &[TeamId],
) -> Result<BTreeMap<TeamId, Vec<Applied>>, StoreError> {
    let mut out: BTreeMap<TeamId, Vec<Applied>> = BTreeMap::new();
    let settings = tx.dialect().json_out("p.settings");
    for chunk in team_ids.chunks(500) {
        if chunk.is_empty() {
            continue;
        }
        let mut q = Q::new(&format!(
            "SELECT pt.team_id, p.id, p.org_id, p.kind, p.name, {settings} AS settings, \
             p.revision, p.created_at, p.updated_at FROM policy_teams pt \
             JOIN policies p ON p.id = pt.policy_id WHERE pt.team_id IN ("
        ));
        q.push_list(chunk);
        q.push(") ORDER BY pt.team_id, p.kind, p.revision, p.id");
        for row in tx.fetch_all(q).await? {
            let p = decode(&row)?;
            out.entry(row.id("team_id")?).or_default().push(Applied {
                id: p.id,
                kind: p.kind,
                name: p.name,
                settings: p.settings,
                revision: p.revision,
            });
        }
    }
    Ok(out)
}

/// Where an effective setting comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The team's own settings.
    Team,
    /// A settings policy (the most recently changed one, where several set the key).
    SettingsPolicy { id: String, name: String },
    /// The org's SSO policy (only `sso_enforced`).
    SsoPolicy { id: String, name: String },
}

/// A team's settings once its policies are applied, and where each value comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct Effective {
    pub settings: serde_json::Map<String, serde_json::Value>,
    pub sources: BTreeMap<String, Source>,
}

/// The key an SSO policy sets on its teams (DESIGN.md "Policies").
pub const SSO_ENFORCED: &str = "sso_enforced";

/// Applies `applied` (as [`applied_to_teams`] orders them) over a team's own settings.
/// Settings policies replace whole top-level keys; where two set the same key, the one
/// with the higher revision (changed last) wins. The SSO policy sets `sso_enforced` to
/// true whatever the team or a settings policy says: it is the stricter rule.
pub fn effective(own: &serde_json::Value, applied: &[Applied]) -> Effective {
    let mut settings = own.as_object().cloned().unwrap_or_default();
    let mut sources: BTreeMap<String, Source> =
        settings.keys().map(|k| (k.clone(), Source::Team)).collect();
    let mut ordered: Vec<&Applied> = applied.iter().collect();
    ordered.sort_by(|a, b| {
        (a.kind == PolicyKind::Sso, a.revision, &a.id).cmp(&(
            b.kind == PolicyKind::Sso,
            b.revision,
            &b.id,
        ))
    });
    for p in ordered {
        match p.kind {
            PolicyKind::Settings => {
                for (k, v) in &p.settings {
                    settings.insert(k.clone(), v.clone());
                    sources.insert(
                        k.clone(),
                        Source::SettingsPolicy {
                            id: p.id.clone(),
                            name: p.name.clone(),
                        },
                    );
                }
            }
            PolicyKind::Sso => {
                settings.insert(SSO_ENFORCED.to_owned(), serde_json::Value::Bool(true));
                sources.insert(
                    SSO_ENFORCED.to_owned(),
                    Source::SsoPolicy {
                        id: p.id.clone(),
                        name: p.name.clone(),
                    },
                );
            }
        }
    }
    Effective { settings, sources }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(id: &str, kind: PolicyKind, revision: i64, settings: serde_json::Value) -> Applied {
        Applied {
            id: id.into(),
            kind,
            name: format!("policy {id}"),
            settings: settings.as_object().cloned().unwrap_or_default(),
            revision,
        }
    }

    #[test]
    fn the_last_changed_policy_wins_and_sso_beats_everything() {
        let own = json!({"theme": "dark", "sso_enforced": false, "locale": "fr"});
        let applied = [
            policy(
                "b",
                PolicyKind::Settings,
                5,
                json!({"theme": "light", "sso_enforced": false}),
            ),
            policy(
                "a",
                PolicyKind::Settings,
                2,
                json!({"theme": "blue", "timeout": 30}),
            ),
            policy("s", PolicyKind::Sso, 1, json!({})),
        ];
        let e = effective(&own, &applied);
        assert_eq!(
            serde_json::Value::Object(e.settings),
            json!({"theme": "light", "sso_enforced": true, "locale": "fr", "timeout": 30})
        );
        assert_eq!(e.sources["locale"], Source::Team);
        assert_eq!(
            e.sources["theme"],
            Source::SettingsPolicy {
                id: "b".into(),
                name: "policy b".into()
            }
        );
        assert_eq!(
            e.sources["timeout"],
            Source::SettingsPolicy {
                id: "a".into(),
                name: "policy a".into()
            }
        );
        assert!(matches!(
            e.sources["sso_enforced"],
            Source::SsoPolicy { .. }
        ));
        let none = effective(&json!({}), &[]);
        assert!(none.settings.is_empty() && none.sources.is_empty());
    }
}
