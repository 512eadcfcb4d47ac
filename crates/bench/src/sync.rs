//! `rollcall bench --sync`: an Entra-style initial sync into mapped teams, then a
//! deprovisioning wave (issue 3).
//!
//! Entra ID first creates every user, then the groups (empty), then adds members with
//! PATCH batches of 100. Before the member batches an admin maps every group to one of
//! ten teams, each with a seat reservation just large enough for its members; every user
//! also lands in the default team, which shares what is left of the pool. The pool is
//! sized so that the last [`WAITERS`] users created wait for a default-team seat; the
//! deprovisioning wave (`active: false`, as Entra sends it) then frees seats, and the
//! first deprovisions each hand one to a waiter in the same transaction.

use super::BenchError;
use super::load::{self, Amount, Client, Latencies, Summary, call, json_int, json_str};
use super::phases::{members_patch, user_body};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;
use uuid::Uuid;

/// Groups in the sync.
pub const GROUPS: usize = 1_000;
/// Teams the groups are mapped to.
pub const TEAMS: usize = 10;
/// Users left waiting for a default-team seat after the sync (at most a tenth of them).
pub const WAITERS: usize = 1_000;
/// Members per PATCH, as Entra batches them.
const BATCH: usize = 100;

/// Which users each group holds: group 0 the first half of the users (50,000 of
/// 100,000), groups 1-9 a twentieth each, the rest 100 consecutive users each.
#[derive(Debug, Clone)]
pub struct SyncPlan {
    pub users: usize,
    /// Users left waiting for a default-team seat: [`WAITERS`], or a tenth of the users.
    pub waiters: usize,
    pub deprovision: usize,
    /// Per group, the range of user indexes it holds.
    pub groups: Vec<std::ops::Range<usize>>,
}

impl SyncPlan {
    pub fn new(users: usize, deprovision: usize) -> SyncPlan {
        let mut groups = Vec::with_capacity(GROUPS);
        groups.push(0..users / 2);
        let twentieth = users / 20;
        for k in 1..10 {
            groups.push(k * twentieth..(k + 1) * twentieth);
        }
        let small = BATCH.min(users / (GROUPS - 10)).max(1);
        for g in 0..GROUPS - 10 {
            let start = (g * small) % users.saturating_sub(small).max(1);
            groups.push(start..start + small);
        }
        SyncPlan {
            users,
            waiters: WAITERS.min(users / 10),
            deprovision: deprovision.min(users),
            groups,
        }
    }

    /// The team group `g` maps to, and the role (every hundredth group grants admin).
    pub fn mapping(g: usize) -> (usize, &'static str) {
        (
            g % TEAMS,
            if g.is_multiple_of(100) {
                "admin"
            } else {
                "user"
            },
        )
    }

    /// Distinct users per team: what each team's reservation must hold.
    pub fn team_sizes(&self) -> Vec<usize> {
        let mut members = vec![BTreeSet::new(); TEAMS];
        for (g, range) in self.groups.iter().enumerate() {
            members[Self::mapping(g).0].extend(range.clone());
        }
        members.iter().map(BTreeSet::len).collect()
    }

    /// Member PATCHes: (group, first user, last user + 1).
    pub fn batches(&self) -> Vec<(usize, usize, usize)> {
        let mut out = Vec::new();
        for (g, range) in self.groups.iter().enumerate() {
            let mut at = range.start;
            while at < range.end {
                let end = (at + BATCH).min(range.end);
                out.push((g, at, end));
                at = end;
            }
        }
        out
    }

    pub fn memberships(&self) -> usize {
        self.groups.iter().map(ExactSizeIterator::len).sum()
    }

    /// The pool: every team's reservation plus default-team seats for all but the
    /// waiters.
    pub fn pool(&self) -> usize {
        self.team_sizes().iter().sum::<usize>() + self.users - self.waiters
    }
}

/// What the sync measured.
#[derive(Debug, Clone, Serialize)]
pub struct SyncReport {
    pub users: usize,
    pub waiters: usize,
    pub groups: usize,
    pub memberships: usize,
    pub teams: usize,
    pub pool: usize,
    pub create_users: Summary,
    pub create_groups: Summary,
    /// Admin API: creating the teams and mapping every group (not part of the sync).
    pub mapping_seconds: f64,
    pub member_patches: Summary,
    /// Users, groups and member PATCHes: the initial sync as the IdP sees it.
    pub sync_seconds: f64,
    pub sync_requests: usize,
    pub sync_per_second: f64,
    pub waiting_after_sync: u64,
    /// The rest of the wave, at full concurrency.
    pub deprovision: Summary,
    /// The first deprovisions, each of which hands its default-team seat to a waiter in
    /// the same transaction: from request sent to seat granted.
    pub grant_latency: Summary,
    pub waiting_after_wave: u64,
}

/// Runs the sync against a server whose org was created with `plan.pool()` seats.
pub async fn run(
    scim: &Client,
    admin: &Client,
    connections: usize,
    plan: &SyncPlan,
) -> Result<SyncReport, BenchError> {
    // Teams and their reservations exist before the IdP connects; the mappings need
    // the groups' ids, so they are made between the groups and their members.
    eprintln!("bench: sync: {TEAMS} teams (admin API)");
    let setup_started = Instant::now();
    let teams = create_teams(admin, plan).await?;
    let mut mapping_seconds = setup_started.elapsed().as_secs_f64();

    let started = Instant::now();
    eprintln!("bench: sync: {} users", plan.users);
    let (create_users, ids) = create_users(scim, connections, plan.users).await?;
    eprintln!("bench: sync: {GROUPS} groups");
    let (create_groups, groups) = create_groups(scim, connections).await?;
    let sync_before_mapping = started.elapsed().as_secs_f64();

    eprintln!("bench: sync: {GROUPS} mappings (admin API)");
    let mapping_started = Instant::now();
    map_groups(admin, &teams, &groups).await?;
    mapping_seconds += mapping_started.elapsed().as_secs_f64();

    let batches = plan.batches();
    eprintln!("bench: sync: {} member PATCHes", batches.len());
    let patches_started = Instant::now();
    let member_patches = patch_members(scim, connections, &batches, &groups, &ids).await?;
    let sync_seconds = sync_before_mapping + patches_started.elapsed().as_secs_f64();
    let sync_requests = plan.users + GROUPS + batches.len();
    let waiting_after_sync = waiting(admin).await?;

    eprintln!("bench: sync: deprovisioning {} users", plan.deprovision);
    let (wave, grant_latency) = deprovision(scim, connections, plan, &ids).await?;
    let waiting_after_wave = waiting(admin).await?;
    Ok(SyncReport {
        users: plan.users,
        waiters: plan.waiters,
        groups: GROUPS,
        memberships: plan.memberships(),
        teams: TEAMS,
        pool: plan.pool(),
        create_users: create_users.summary(),
        create_groups: create_groups.summary(),
        mapping_seconds: round3(mapping_seconds),
        member_patches: member_patches.summary(),
        sync_seconds: round3(sync_seconds),
        sync_requests,
        sync_per_second: (sync_requests as f64 / sync_seconds).round(),
        waiting_after_sync,
        deprovision: wave.summary(),
        grant_latency: grant_latency.summary(),
        waiting_after_wave,
    })
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

async fn create_users(
    scim: &Client,
    connections: usize,
    users: usize,
) -> Result<(Latencies, Vec<Uuid>), BenchError> {
    let client = scim.clone();
    let url: Arc<str> = scim.scim_url("/Users").into();
    let run = load::drive(
        connections,
        Amount::Requests(users),
        Some("POST /Users"),
        move |i| {
            let (client, url) = (client.clone(), url.clone());
            async move {
                let request = client.send_json(Method::POST, &url, user_body(i));
                let (body, _) = call(request, &[StatusCode::CREATED], "POST /Users").await?;
                json_str(body.as_ref(), "id")
                    .and_then(|id| Uuid::parse_str(id).ok())
                    .ok_or_else(|| "POST /Users: no id in the answer".to_owned())
            }
        },
    )
    .await?;
    Ok((run.latencies, run.results))
}

async fn create_groups(
    scim: &Client,
    connections: usize,
) -> Result<(Latencies, Vec<String>), BenchError> {
    let client = scim.clone();
    let url: Arc<str> = scim.scim_url("/Groups").into();
    let run = load::drive(connections, Amount::Requests(GROUPS), None, move |g| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let body = format!(
                r#"{{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Sync group {g:04}","externalId":"sync-{g}"}}"#
            );
            let request = client.send_json(Method::POST, &url, body);
            let (body, _) = call(request, &[StatusCode::CREATED], "POST /Groups").await?;
            json_str(body.as_ref(), "id")
                .map(ToOwned::to_owned)
                .ok_or_else(|| "POST /Groups: no id in the answer".to_owned())
        }
    })
    .await?;
    Ok((run.latencies, run.results))
}

/// Creates the teams with their reservations; returns their ids.
async fn create_teams(admin: &Client, plan: &SyncPlan) -> Result<Vec<String>, BenchError> {
    let mut teams = Vec::with_capacity(TEAMS);
    for (t, size) in plan.team_sizes().into_iter().enumerate() {
        let body = format!(r#"{{"name":"Sync team {t}","reserved_seats":{size}}}"#);
        let url = admin.root_url("/admin/v1/teams");
        let (body, _) = call(
            admin.send_json(Method::POST, &url, body),
            &[StatusCode::CREATED],
            "POST /admin/v1/teams",
        )
        .await
        .map_err(BenchError::Request)?;
        let id = json_str(body.as_ref(), "id")
            .ok_or_else(|| BenchError::Request("POST /admin/v1/teams: no id".into()))?;
        teams.push(id.to_owned());
    }
    Ok(teams)
}

/// Maps every group to its team.
async fn map_groups(admin: &Client, teams: &[String], groups: &[String]) -> Result<(), BenchError> {
    let url = admin.root_url("/admin/v1/group-mappings");
    for (g, group) in groups.iter().enumerate() {
        let (team, role) = SyncPlan::mapping(g);
        let body = format!(
            r#"{{"group_id":"{group}","team_id":"{}","team_role":"{role}"}}"#,
            teams[team]
        );
        call(
            admin.send_json(Method::POST, &url, body),
            &[StatusCode::CREATED],
            "POST /admin/v1/group-mappings",
        )
        .await
        .map_err(BenchError::Request)?;
    }
    Ok(())
}

async fn patch_members(
    scim: &Client,
    connections: usize,
    batches: &[(usize, usize, usize)],
    groups: &[String],
    ids: &[Uuid],
) -> Result<Latencies, BenchError> {
    let bodies: Arc<Vec<(String, String)>> = Arc::new(
        batches
            .iter()
            .map(|&(g, from, to)| {
                (
                    scim.scim_url(&format!("/Groups/{}", groups[g])),
                    members_patch("Add", &ids[from..to]),
                )
            })
            .collect(),
    );
    let client = scim.clone();
    let run = load::drive(
        connections,
        Amount::Requests(bodies.len()),
        Some("PATCH /Groups"),
        move |i| {
            let (client, bodies) = (client.clone(), bodies.clone());
            async move {
                let (url, body) = &bodies[i];
                let request = client.send_json(Method::PATCH, url, body.clone());
                call(
                    request,
                    &[StatusCode::OK, StatusCode::NO_CONTENT],
                    "PATCH /Groups/{id}",
                )
                .await
                .map(drop)
            }
        },
    )
    .await?;
    Ok(run.latencies)
}

/// `active: false` for the first `plan.deprovision` users. The first `plan.waiters` are
/// sent one at a time so that each one's latency is the time until its freed seat is
/// granted (in the same transaction); the rest go at full concurrency. Returns (the
/// rest, the first).
async fn deprovision(
    scim: &Client,
    connections: usize,
    plan: &SyncPlan,
    ids: &[Uuid],
) -> Result<(Latencies, Latencies), BenchError> {
    let body = r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":false}]}"#;
    let first = plan.waiters.min(plan.deprovision);
    let mut times = Vec::with_capacity(first);
    let started = Instant::now();
    for id in &ids[..first] {
        let url = scim.scim_url(&format!("/Users/{id}"));
        let t0 = Instant::now();
        call(
            scim.send_json(Method::PATCH, &url, body.to_owned()),
            &[StatusCode::OK],
            "PATCH /Users/{id} active false",
        )
        .await
        .map_err(BenchError::Request)?;
        times.push(t0.elapsed());
    }
    let grants = Latencies::from_durations(&times, started.elapsed());
    let rest: Arc<Vec<String>> = Arc::new(
        ids[first..plan.deprovision]
            .iter()
            .map(|id| scim.scim_url(&format!("/Users/{id}")))
            .collect(),
    );
    let client = scim.clone();
    let wave = load::drive(
        connections,
        Amount::Requests(rest.len()),
        Some("deprovision"),
        move |i| {
            let (client, rest) = (client.clone(), rest.clone());
            async move {
                call(
                    client.send_json(Method::PATCH, &rest[i], body.to_owned()),
                    &[StatusCode::OK],
                    "PATCH /Users/{id} active false",
                )
                .await
                .map(drop)
            }
        },
    )
    .await?;
    Ok((wave.latencies, grants))
}

/// Members waiting for a seat across the org's teams (admin API).
async fn waiting(admin: &Client) -> Result<u64, BenchError> {
    let (body, _) = call(
        admin.get(&admin.root_url("/admin/v1/teams")),
        &[StatusCode::OK],
        "GET /admin/v1/teams",
    )
    .await
    .map_err(BenchError::Request)?;
    let text = String::from_utf8_lossy(body.as_ref());
    let mut total = 0;
    for part in text.split("\"waiting\":").skip(1) {
        let n = json_int(format!("\"waiting\":{part}").as_bytes(), "waiting")
            .ok_or_else(|| BenchError::Request("GET /admin/v1/teams: no waiting count".into()))?;
        total += n;
    }
    Ok(total)
}

/// The markdown section of the report.
pub fn markdown(backend: &str, r: &SyncReport) -> String {
    let line = |what: &str, s: &Summary| {
        format!(
            "| {what} | {} | {:.0} /s | {:.1} ms | {:.1} ms |\n",
            s.requests, s.per_second, s.p50_ms, s.p99_ms
        )
    };
    let met = match (r.users >= 100_000, r.sync_seconds < 120.0) {
        (false, _) => "not judged (the target is for 100,000 users)",
        (true, true) => "met",
        (true, false) => "**missed**",
    };
    let mut out = format!(
        "\n## {backend}: Entra-style initial sync\n\n{} users, {} groups ({} memberships, the \
         largest group {} members) mapped to {} teams; pool of {} seats ({} users left \
         waiting for a default-team seat).\n\n\
         **Initial sync: {:.1} s** for {} requests ({:.0} requests/s) — target < 120 s for 100,000 \
         users on SQLite: {met}. Waiting after the sync: {}.\n\n\
         | Phase | Requests | Rate | p50 | p99 |\n|---|---|---|---|---|\n",
        r.users,
        r.groups,
        r.memberships,
        r.users / 2,
        r.teams,
        r.pool,
        r.waiters,
        r.sync_seconds,
        r.sync_requests,
        r.sync_per_second,
        r.waiting_after_sync,
    );
    out.push_str(&line("POST /Users", &r.create_users));
    out.push_str(&line("POST /Groups", &r.create_groups));
    out.push_str(&line("PATCH /Groups members +100", &r.member_patches));
    out.push_str(&line(
        "Deprovisioning wave after those, concurrent (PATCH active false)",
        &r.deprovision,
    ));
    out.push_str(&line(
        "First deprovisions, one at a time, each freeing a seat for a waiter: request to seat granted",
        &r.grant_latency,
    ));
    out.push_str(&format!(
        "\nTeams and mappings through the admin API (not part of the sync): {:.1} s. \
         Waiting after the wave: {}.\n",
        r.mapping_seconds, r.waiting_after_wave
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_has_the_sizes_of_the_issue() {
        let plan = SyncPlan::new(100_000, 10_000);
        assert_eq!(plan.groups.len(), GROUPS);
        assert_eq!(plan.groups[0].len(), 50_000);
        assert!(plan.groups.iter().all(|g| g.end <= 100_000));
        assert_eq!(
            plan.batches().iter().map(|(_, a, b)| b - a).sum::<usize>(),
            plan.memberships()
        );
        // Every team's reservation holds its members, and the default team misses
        // exactly WAITERS seats.
        let sizes = plan.team_sizes();
        assert!(sizes.iter().all(|&s| s > 0));
        assert_eq!(plan.waiters, WAITERS);
        assert_eq!(plan.pool(), sizes.iter().sum::<usize>() + 100_000 - WAITERS);
    }

    #[test]
    fn small_plans_stay_in_range() {
        let plan = SyncPlan::new(2_000, 500);
        assert!(plan.groups.iter().all(|g| !g.is_empty() && g.end <= 2_000));
        assert_eq!(plan.deprovision, 500);
        assert_eq!(plan.waiters, 200);
        let tiny = SyncPlan::new(100, 10_000);
        assert_eq!((tiny.waiters, tiny.deprovision), (10, 100));
    }
}
