//! The test org's state as the store's own read functions give it: what a test checks
//! when the API does not show it, instead of SQL of its own.

use super::app::TestApp;
use rollcall::domain::{TeamId, UserId};
use rollcall::store::team_admin::{self, MemberDetail};
use rollcall::store::teams::{self, OrgSettings, TeamMembership};

impl TestApp {
    /// The org's settings (default team, seat overflow ...).
    pub async fn settings(&self) -> OrgSettings {
        let store = self.store().await;
        let mut tx = store.read().await.unwrap();
        let settings = teams::settings(&mut tx, &self.org_id).await.unwrap();
        drop(tx);
        store.close().await;
        settings
    }

    /// The org's default team (the initial team, named after the org, unless changed).
    pub async fn default_team(&self) -> String {
        self.settings()
            .await
            .default_team_id
            .expect("the org has a default team")
            .into_string()
    }

    /// The id of the org's first subscription.
    pub async fn subscription_id(&self) -> String {
        let store = self.store().await;
        let mut tx = store.read().await.unwrap();
        let subscriptions = team_admin::subscription_summaries(&mut tx, &self.org_id, None)
            .await
            .unwrap();
        drop(tx);
        store.close().await;
        subscriptions[0].subscription.id.to_string()
    }

    /// Every membership of a team, whatever its state, by time added.
    pub async fn team_members(&self, team_id: &str) -> Vec<MemberDetail> {
        let store = self.store().await;
        let mut tx = store.read().await.unwrap();
        let members = team_admin::team_memberships(&mut tx, &TeamId::from(team_id), false)
            .await
            .unwrap();
        drop(tx);
        store.close().await;
        members
    }

    /// Every membership of the org's teams, ordered by team and user.
    pub async fn org_members(&self) -> Vec<MemberDetail> {
        let store = self.store().await;
        let mut tx = store.read().await.unwrap();
        let mut members = Vec::new();
        for team in team_admin::team_summaries(&mut tx, &self.org_id, None)
            .await
            .unwrap()
        {
            members.extend(
                team_admin::team_memberships(&mut tx, &team.team.id, false)
                    .await
                    .unwrap(),
            );
        }
        drop(tx);
        store.close().await;
        members.sort_by(|a, b| (&a.team_id, &a.user_id).cmp(&(&b.team_id, &b.user_id)));
        members
    }

    /// The memberships of one user, ordered by team.
    pub async fn memberships_of(&self, user_id: &str) -> Vec<TeamMembership> {
        let store = self.store().await;
        let mut tx = store.read().await.unwrap();
        let memberships = teams::memberships_of_users(&mut tx, &[UserId::from(user_id)])
            .await
            .unwrap();
        drop(tx);
        store.close().await;
        memberships
    }
}
