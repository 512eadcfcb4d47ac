//! SSO policies and settings policies applied to chosen teams, and the effective settings
//! they give (DESIGN.md "Policies").
//!
//! - The org has at most one **SSO policy**: the teams it names enforce SSO, so their
//!   members are refused email sign-in and their joining email says to use the company
//!   SSO. It sets the effective `sso_enforced` to true, whatever else says otherwise.
//! - **Settings policies** carry a settings object that overrides, key by key (top-level
//!   keys), the own settings of the teams they name. Where two policies set the same key on
//!   a team, the one changed most recently wins (a per-org revision counter decides, so the
//!   rule holds even within one clock tick). They may not set `sso_enforced`: that is the
//!   SSO policy's job, and one way to enforce SSO keeps it auditable.
//!
//! Every change runs in one transaction with its audit entry.

use super::Sso;
use crate::clock::format_timestamp;
use crate::domain::{OrgId, TeamId};
use crate::provisioning::admin::{AdminActor, AdminError, record, to_json};
use crate::store::policies::{self, Policy, PolicyKind, SSO_ENFORCED, Source};
use crate::store::{StoreError, Tx, effects as effects_sql, team_admin};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use utoipa::PartialSchema as _;
use utoipa::openapi::schema::{AnyOfBuilder, ArrayBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr};

/// The most teams one policy may name.
const MAX_TEAMS: usize = 1000;

/// The org's SSO policy.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SsoPolicyView {
    /// Teams whose members must sign in through the org's SSO connection.
    #[schema(value_type = Vec<String>)]
    pub team_ids: Vec<TeamId>,
    /// When it was last changed; absent if it never was.
    pub updated: Option<String>,
}

/// The teams the SSO policy applies to (replaces the list).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SsoPolicyUpdate {
    /// Teams of the org.
    #[schema(max_items = 1000, value_type = Vec<String>)]
    pub team_ids: Vec<TeamId>,
}

/// A settings policy.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SettingsPolicyView {
    pub id: String,
    pub name: String,
    /// The settings it imposes on its teams (top-level keys override theirs).
    #[schema(value_type = Object)]
    pub settings: Value,
    #[schema(value_type = Vec<String>)]
    pub team_ids: Vec<TeamId>,
    /// The org's policy change counter at its last change: where two policies set the same
    /// key on a team, the higher revision wins.
    pub revision: i64,
    pub created: String,
    pub updated: String,
}

/// A settings policy to create.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSettingsPolicy {
    /// Not blank (it is trimmed).
    #[schema(
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub name: String,
    #[schema(value_type = PolicySettings)]
    pub settings: Value,
    /// Teams of the org.
    #[serde(default)]
    #[schema(max_items = 1000, value_type = Vec<String>)]
    pub team_ids: Vec<TeamId>,
}

/// Changes to a settings policy; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsPolicyUpdate {
    /// Not blank (it is trimmed).
    #[schema(
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub name: Option<String>,
    #[schema(value_type = Option<PolicySettings>)]
    pub settings: Option<Value>,
    /// Teams of the org.
    #[schema(max_items = 1000, value_type = Option<Vec<String>>)]
    pub team_ids: Option<Vec<TeamId>>,
}

/// The settings a policy imposes, for the OpenAPI document: any object but one that sets
/// `sso_enforced` (the SSO policy's job).
pub struct PolicySettings;

impl utoipa::PartialSchema for PolicySettings {
    fn schema() -> RefOr<Schema> {
        // `(?![\s\S])` is the end of the name in ECMAScript and Python regexes alike; the
        // rest is the text rule (`scim::limits::TEXT_PATTERN`) without its `^`.
        let text = scim::limits::TEXT_PATTERN.trim_start_matches('^');
        let not_sso_enforced = ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(format!("^(?!{SSO_ENFORCED}(?![\\s\\S])){text}")));
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property_names(Some(not_sso_enforced))
            .additional_properties(Some(Ref::from_schema_name("SettingValue")))
            .into()
    }
}

impl utoipa::ToSchema for PolicySettings {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push(("SettingValue".into(), SettingValue::schema()));
    }
}

/// A value in a policy's settings: any JSON whose strings and keys follow the text rule
/// (`scim::limits::TEXT_PATTERN`), which the admin API applies to every body.
struct SettingValue;

impl utoipa::PartialSchema for SettingValue {
    fn schema() -> RefOr<Schema> {
        let text = || {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(scim::limits::TEXT_PATTERN))
        };
        let value = || Ref::from_schema_name("SettingValue");
        AnyOfBuilder::new()
            .item(text())
            .item(ObjectBuilder::new().schema_type(Type::Number))
            .item(ObjectBuilder::new().schema_type(Type::Boolean))
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .item(ArrayBuilder::new().items(value()))
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .property_names(Some(text()))
                    .additional_properties(Some(value())),
            )
            .into()
    }
}

/// Where an effective value comes from.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SourceView {
    /// `team` (the team's own settings), `settings_policy` or `sso_policy`.
    pub source: String,
    pub policy_id: Option<String>,
    pub policy_name: Option<String>,
}

/// A team's settings with its policies applied.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EffectiveSettingsView {
    #[schema(value_type = String)]
    pub team_id: TeamId,
    /// What applies: the team's own settings overridden by its policies.
    #[schema(value_type = Object)]
    pub settings: Value,
    /// For each key of `settings`, where its value comes from.
    pub sources: BTreeMap<String, SourceView>,
    /// The team's own settings, as set on the team.
    #[schema(value_type = Object)]
    pub team_settings: Value,
    /// Whether its members must sign in through the org's SSO connection.
    pub sso_enforced: bool,
}

fn source_view(s: &Source) -> SourceView {
    match s {
        Source::Team => SourceView {
            source: "team".into(),
            policy_id: None,
            policy_name: None,
        },
        Source::SettingsPolicy { id, name } => SourceView {
            source: "settings_policy".into(),
            policy_id: Some(id.clone()),
            policy_name: Some(name.clone()),
        },
        Source::SsoPolicy { id, name } => SourceView {
            source: "sso_policy".into(),
            policy_id: Some(id.clone()),
            policy_name: Some(name.clone()),
        },
    }
}

fn settings_view(p: &Policy) -> SettingsPolicyView {
    SettingsPolicyView {
        id: p.id.clone(),
        name: p.name.clone(),
        settings: Value::Object(p.settings.clone()),
        team_ids: p.team_ids.clone(),
        revision: p.revision,
        created: p.created.clone(),
        updated: p.updated.clone(),
    }
}

fn sso_view(p: Option<&Policy>) -> SsoPolicyView {
    SsoPolicyView {
        team_ids: p.map(|p| p.team_ids.clone()).unwrap_or_default(),
        updated: p.map(|p| p.updated.clone()),
    }
}

fn check_name(name: &str) -> Result<String, AdminError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(AdminError::Invalid("a policy needs a name".into()));
    }
    Ok(name.to_owned())
}

fn check_settings(v: &Value) -> Result<Map<String, Value>, AdminError> {
    let Some(m) = v.as_object() else {
        return Err(AdminError::Invalid("settings must be a JSON object".into()));
    };
    if m.contains_key(SSO_ENFORCED) {
        return Err(AdminError::Invalid(format!(
            "a settings policy cannot set {SSO_ENFORCED:?}: require SSO with the SSO policy \
             (PUT /admin/v1/policies/sso)"
        )));
    }
    Ok(m.clone())
}

/// The distinct teams named, all of them teams of the org.
async fn check_teams(
    tx: &mut Tx,
    org_id: &OrgId,
    ids: &[TeamId],
) -> Result<Vec<TeamId>, AdminError> {
    if ids.len() > MAX_TEAMS {
        return Err(AdminError::Invalid(format!(
            "a policy may name at most {MAX_TEAMS} teams; this one names {}",
            ids.len()
        )));
    }
    let wanted: BTreeSet<TeamId> = ids.iter().cloned().collect();
    let list: Vec<TeamId> = wanted.iter().cloned().collect();
    let known = effects_sql::known_teams(tx, org_id, &list).await?;
    let unknown: Vec<&TeamId> = wanted.difference(&known).collect();
    if !unknown.is_empty() {
        // Like every other id of the admin API that names nothing: 404.
        return Err(AdminError::NotFound(format!(
            "no team with id {} in this organization",
            unknown
                .iter()
                .map(|s| format!("{s:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(list)
}

/// The audit log's name for a policy.
fn target(id: &str) -> String {
    format!("policy:{id}")
}

fn not_found(id: &str) -> AdminError {
    AdminError::NotFound(format!(
        "no settings policy with id {id:?} in this organization"
    ))
}

fn now(sso: &Sso) -> String {
    format_timestamp(sso.clock.now())
}

impl Sso {
    /// The org's SSO policy (no teams if none was set).
    pub async fn sso_policy(&self, actor: &AdminActor) -> Result<SsoPolicyView, AdminError> {
        let mut tx = self.store.read().await?;
        let found = policies::list(&mut tx, &actor.org_id, PolicyKind::Sso, None).await?;
        Ok(sso_view(found.first()))
    }

    /// Sets the teams the org's SSO policy applies to.
    pub async fn put_sso_policy(
        &self,
        actor: &AdminActor,
        update: SsoPolicyUpdate,
    ) -> Result<SsoPolicyView, AdminError> {
        let now = now(self);
        let mut tx = self.store.write().await?;
        let team_ids = check_teams(&mut tx, &actor.org_id, &update.team_ids).await?;
        let found = policies::list(&mut tx, &actor.org_id, PolicyKind::Sso, None).await?;
        let before = found.first().cloned();
        let revision = policies::next_revision(&mut tx, &actor.org_id).await?;
        let policy = match &before {
            Some(p) => {
                let p = Policy {
                    team_ids,
                    revision,
                    updated: now.clone(),
                    ..p.clone()
                };
                policies::update(&mut tx, &p).await?;
                p
            }
            None => {
                let p = Policy {
                    id: uuid::Uuid::new_v4().to_string(),
                    org_id: actor.org_id.clone(),
                    kind: PolicyKind::Sso,
                    name: "SSO policy".into(),
                    settings: Map::new(),
                    revision,
                    team_ids,
                    created: now.clone(),
                    updated: now.clone(),
                };
                // The unique index `policies_one_sso` keeps a concurrent first PUT from
                // creating a second one: it fails instead.
                policies::insert(&mut tx, &p).await.map_err(|e| match e {
                    StoreError::Conflict { .. } => AdminError::Conflict(
                        "the SSO policy was changed at the same time; try again".into(),
                    ),
                    other => other.into(),
                })?;
                p
            }
        };
        let after = sso_view(Some(&policy));
        let before_json = match &before {
            Some(p) => Some(to_json(&sso_view(Some(p)))?),
            None => None,
        };
        record(
            &mut tx,
            actor,
            &now,
            "policy.sso.updated",
            &target(&policy.id),
            before_json.as_ref(),
            Some(&to_json(&after)?),
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// The org's settings policies, oldest revision first.
    pub async fn settings_policies(
        &self,
        actor: &AdminActor,
    ) -> Result<Vec<SettingsPolicyView>, AdminError> {
        let mut tx = self.store.read().await?;
        let found = policies::list(&mut tx, &actor.org_id, PolicyKind::Settings, None).await?;
        Ok(found.iter().map(settings_view).collect())
    }

    /// One settings policy.
    pub async fn settings_policy(
        &self,
        actor: &AdminActor,
        id: &str,
    ) -> Result<SettingsPolicyView, AdminError> {
        let mut tx = self.store.read().await?;
        let found = policies::list(&mut tx, &actor.org_id, PolicyKind::Settings, Some(id)).await?;
        found
            .first()
            .map(settings_view)
            .ok_or_else(|| not_found(id))
    }

    /// Creates a settings policy.
    pub async fn create_settings_policy(
        &self,
        actor: &AdminActor,
        new: NewSettingsPolicy,
    ) -> Result<SettingsPolicyView, AdminError> {
        let name = check_name(&new.name)?;
        let settings = check_settings(&new.settings)?;
        let now = now(self);
        let mut tx = self.store.write().await?;
        let team_ids = check_teams(&mut tx, &actor.org_id, &new.team_ids).await?;
        let p = Policy {
            id: uuid::Uuid::new_v4().to_string(),
            org_id: actor.org_id.clone(),
            kind: PolicyKind::Settings,
            name,
            settings,
            revision: policies::next_revision(&mut tx, &actor.org_id).await?,
            team_ids,
            created: now.clone(),
            updated: now.clone(),
        };
        policies::insert(&mut tx, &p).await?;
        let view = settings_view(&p);
        record(
            &mut tx,
            actor,
            &now,
            "policy.settings.created",
            &target(&p.id),
            None,
            Some(&to_json(&view)?),
        )
        .await?;
        tx.commit().await?;
        Ok(view)
    }

    /// Changes a settings policy's name, settings or teams. Any change makes it the most
    /// recent policy: it wins conflicts from then on.
    pub async fn update_settings_policy(
        &self,
        actor: &AdminActor,
        id: &str,
        update: SettingsPolicyUpdate,
    ) -> Result<SettingsPolicyView, AdminError> {
        let now = now(self);
        let mut tx = self.store.write().await?;
        let mut p = policies::list(&mut tx, &actor.org_id, PolicyKind::Settings, Some(id))
            .await?
            .pop()
            .ok_or_else(|| not_found(id))?;
        let before = settings_view(&p);
        if let Some(name) = &update.name {
            p.name = check_name(name)?;
        }
        if let Some(settings) = &update.settings {
            p.settings = check_settings(settings)?;
        }
        if let Some(teams) = &update.team_ids {
            p.team_ids = check_teams(&mut tx, &actor.org_id, teams).await?;
        }
        p.revision = policies::next_revision(&mut tx, &actor.org_id).await?;
        p.updated = now.clone();
        if !policies::update(&mut tx, &p).await? {
            return Err(not_found(id));
        }
        let after = settings_view(&p);
        record(
            &mut tx,
            actor,
            &now,
            "policy.settings.updated",
            &target(id),
            Some(&to_json(&before)?),
            Some(&to_json(&after)?),
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Deletes a settings policy: its teams get their own settings back.
    pub async fn delete_settings_policy(
        &self,
        actor: &AdminActor,
        id: &str,
    ) -> Result<(), AdminError> {
        let now = now(self);
        let mut tx = self.store.write().await?;
        let p = policies::list(&mut tx, &actor.org_id, PolicyKind::Settings, Some(id))
            .await?
            .pop()
            .ok_or_else(|| not_found(id))?;
        policies::delete(&mut tx, &actor.org_id, id).await?;
        record(
            &mut tx,
            actor,
            &now,
            "policy.settings.deleted",
            &target(id),
            Some(&to_json(&settings_view(&p))?),
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A team's effective settings and where each value comes from.
    pub async fn effective_settings(
        &self,
        actor: &AdminActor,
        team_id: &TeamId,
    ) -> Result<EffectiveSettingsView, AdminError> {
        let mut tx = self.store.read().await?;
        let summary = team_admin::team_summaries(&mut tx, &actor.org_id, Some(team_id))
            .await?
            .pop()
            .ok_or_else(|| {
                AdminError::NotFound(format!("no team with id {team_id:?} in this organization"))
            })?;
        let own: Value = serde_json::from_str(&summary.settings)
            .map_err(|e| AdminError::Internal(format!("team settings: {e}")))?;
        let applied = policies::applied_to_teams(&mut tx, std::slice::from_ref(team_id))
            .await?
            .remove(team_id)
            .unwrap_or_default();
        let e = policies::effective(&own, &applied);
        let sso_enforced = e.settings.get(SSO_ENFORCED).and_then(Value::as_bool) == Some(true);
        Ok(EffectiveSettingsView {
            team_id: team_id.clone(),
            sources: e
                .sources
                .iter()
                .map(|(k, s)| (k.clone(), source_view(s)))
                .collect(),
            settings: Value::Object(e.settings),
            team_settings: own,
            sso_enforced,
        })
    }
}
