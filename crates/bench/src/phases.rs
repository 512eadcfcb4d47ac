//! What is measured, phase by phase, against one running server.

use super::database::{Outbox, PgDatabase};
use super::load::{
    self, Amount, Client, Latencies, PROGRESS_EVERY, Summary, call, contains, json_int, json_str,
};
use super::report::{
    BackendReport, Cpu, GroupSize, GroupsReport, OutboxDrain, PagingReport, PeakRss, RssReport,
    Throughput,
};
use super::server::{self, Server};
use super::{Backend, BenchArgs, BenchError};
use reqwest::{Method, StatusCode};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Users per page in the paging measurements, members per PATCH batch.
const PAGE: usize = 100;
/// How long the bench waits for the seeding's joining emails to be delivered.
const OUTBOX_DRAIN_LIMIT: Duration = Duration::from_secs(15 * 60);
/// Requests in each of the two baselines (`/healthz`, `/ServiceProviderConfig`).
const BASELINE_REQUESTS: usize = 20_000;
/// Unmeasured requests before a measurement (connections open, caches warm).
const WARM_UP: usize = 1_000;
/// Distinct filter URLs prepared in advance (picked at random among all users).
const FILTER_URLS: usize = 65_536;

const OK: &[StatusCode] = &[StatusCode::OK];
const CREATED: &[StatusCode] = &[StatusCode::CREATED];
/// RFC 7644 §3.5.2: a PATCH answers 200 with the resource or 204 without.
const PATCHED: &[StatusCode] = &[StatusCode::OK, StatusCode::NO_CONTENT];

/// Group sizes and how many PATCH batches to time at each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupPlan {
    /// Members each group holds before the measured batches.
    pub sizes: Vec<usize>,
    /// Timed batches per size and variant.
    pub batches: usize,
    /// Whether `sizes` are smaller than 1,000 / 10,000 / 100,000 for lack of users.
    pub scaled: bool,
}

impl GroupPlan {
    /// 1,000, 10,000 and 100,000 members; with fewer than 100,000 users, the largest
    /// group is as large as the user count and the others 1/10 and 1/100 of it.
    pub fn for_users(users: usize, batches: usize) -> GroupPlan {
        const FULL: [usize; 3] = [1_000, 10_000, 100_000];
        if users >= FULL[2] {
            return GroupPlan {
                sizes: FULL.to_vec(),
                batches,
                scaled: false,
            };
        }
        let largest = (users / PAGE * PAGE).max(PAGE);
        let mut sizes: Vec<usize> = [largest / 100, largest / 10, largest]
            .iter()
            .map(|s| s.div_ceil(PAGE).max(1) * PAGE)
            .collect();
        sizes.dedup();
        GroupPlan {
            sizes,
            batches,
            scaled: true,
        }
    }

    /// Users the group phase needs: the largest group plus the members the timed
    /// batches add (each batch is removed again, so the group keeps its size).
    pub fn users_needed(&self) -> usize {
        self.sizes.iter().max().copied().unwrap_or(0) + self.batches * PAGE
    }
}

/// The measurements, sharing one client and one server.
pub struct Phases<'a> {
    client: &'a Client,
    server: &'a Server,
    /// A PostgreSQL database to `ANALYZE` after bulk changes (autovacuum is off).
    analyze: Option<&'a PgDatabase>,
    /// The server's database, read to wait until the outbox is delivered.
    database_url: &'a str,
    connections: usize,
    group_gets: usize,
    seed: u64,
}

impl<'a> Phases<'a> {
    pub fn new(
        client: &'a Client,
        server: &'a Server,
        analyze: Option<&'a PgDatabase>,
        database_url: &'a str,
        args: &BenchArgs,
    ) -> Phases<'a> {
        Phases {
            client,
            server,
            analyze,
            database_url,
            connections: args.concurrency,
            group_gets: args.group_gets,
            seed: args.seed,
        }
    }

    /// Every phase, in order: seed, baselines, filter, paging, groups.
    pub async fn all(
        &self,
        backend: Backend,
        args: &BenchArgs,
        plan: Option<GroupPlan>,
    ) -> Result<BackendReport, BenchError> {
        let name = backend.label();
        let users = args.users;
        let mut peak_rss = Vec::new();

        eprintln!(
            "bench: {name}: seeding {users} users with POST /Users ({} connections)",
            self.connections
        );
        let (seed, mut ids) = self
            .with_cpu(self.seed_users(0, users, "POST /Users"))
            .await?;
        self.note_rss(&mut peak_rss, "seed users");
        self.settle().await?;
        eprintln!("bench: {name}: waiting for the joining emails to be delivered");
        let outbox_drain = self.drain_outbox().await?;

        eprintln!("bench: {name}: baselines /healthz and /ServiceProviderConfig");
        let baseline_requests = BASELINE_REQUESTS.min(args.filter_requests);
        let healthz = self
            .with_cpu(self.baseline("/healthz", false, baseline_requests))
            .await?
            .0;
        let service_provider_config = self
            .with_cpu(self.baseline("/ServiceProviderConfig", true, baseline_requests))
            .await?
            .0;

        let amount = match args.duration {
            Some(secs) => Amount::For(Duration::from_secs(secs)),
            None => Amount::Requests(args.filter_requests),
        };
        eprintln!("bench: {name}: GET /Users?filter=userName eq ...");
        let urls = self.filter_urls(users);
        self.warm_up(&urls).await?;
        let filter = self
            .with_cpu(self.filter_gets(urls, 0, amount, Some("filter GETs")))
            .await?
            .0;
        self.note_rss(&mut peak_rss, "filter GETs");

        eprintln!(
            "bench: {name}: paging with startIndex, {} pages",
            args.page_samples
        );
        let index_paging = self.index_paging(users, args.page_samples).await?;
        eprintln!("bench: {name}: paging with cursors through all {users} users");
        let cursor_paging = self.cursor_paging(users).await?;
        self.note_rss(&mut peak_rss, "paging");

        let groups = match plan {
            Some(plan) => {
                let extra = plan.users_needed().saturating_sub(users);
                if extra > 0 {
                    eprintln!("bench: {name}: seeding {extra} more users for the group phase");
                    ids.extend(self.seed_users(users, extra, "POST /Users").await?.1);
                    self.settle().await?;
                }
                let mut report = self.groups(name, &plan, &ids).await?;
                report.extra_users = extra;
                self.note_rss(&mut peak_rss, "groups");
                Some(report)
            }
            None => None,
        };

        Ok(BackendReport {
            backend: name,
            users,
            connections: self.connections,
            seed,
            healthz,
            service_provider_config,
            filter,
            index_paging,
            cursor_paging,
            groups,
            outbox_drain,
            peak_rss_mib: self.server.peak_rss_mib(),
            rss_at_end_mib: self.server.rss_mib(),
            peak_rss_by_phase: peak_rss,
            sqlite_file_mib: None,
            analyzed: self.analyze.is_some(),
        })
    }

    /// Memory mode: many users, a few reads, the peak RSS.
    pub async fn rss(&self, users: usize, args: &BenchArgs) -> Result<RssReport, BenchError> {
        let mut peak_rss = Vec::new();
        eprintln!(
            "bench: seeding {users} users with POST /Users ({} connections)",
            self.connections
        );
        let (seed, _) = self
            .with_cpu(self.seed_users(0, users, "POST /Users"))
            .await?;
        self.note_rss(&mut peak_rss, "seed users");
        eprintln!("bench: GET /Users?filter=userName eq ...");
        let urls = self.filter_urls(users);
        self.warm_up(&urls).await?;
        let amount = Amount::Requests(args.filter_requests.min(20_000));
        let filter = self
            .with_cpu(self.filter_gets(urls, 0, amount, None))
            .await?
            .0;
        eprintln!("bench: paging with startIndex");
        let index_paging = self.index_paging(users, args.page_samples.min(50)).await?;
        self.note_rss(&mut peak_rss, "reads");
        Ok(RssReport {
            users,
            connections: self.connections,
            seed,
            filter,
            index_paging,
            peak_rss_mib: self.server.peak_rss_mib(),
            rss_at_end_mib: self.server.rss_mib(),
            peak_rss_by_phase: peak_rss,
            sqlite_file_mib: 0.0,
        })
    }

    /// After bulk changes: what autovacuum would do, where it is off.
    async fn settle(&self) -> Result<(), BenchError> {
        match self.analyze {
            Some(db) => db.analyze().await,
            None => Ok(()),
        }
    }

    /// Waits until the outbox holds nothing undelivered, so that the measurements after
    /// the seeding do not share the server with delivering its joining emails. Returns
    /// how long that took after the seeding ended.
    async fn drain_outbox(&self) -> Result<OutboxDrain, BenchError> {
        let mut outbox = Outbox::open(self.database_url).await?;
        let started = Instant::now();
        let outcome = loop {
            match outbox.counts().await {
                Ok((total, 0)) => break Ok(total),
                Ok(_) if started.elapsed() > OUTBOX_DRAIN_LIMIT => {
                    break Err(BenchError::Request(format!(
                        "the outbox was not delivered within {} s",
                        OUTBOX_DRAIN_LIMIT.as_secs()
                    )));
                }
                Ok(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                Err(e) => break Err(e),
            }
        };
        outbox.close().await;
        Ok(OutboxDrain {
            messages: outcome?,
            seconds_after_seed: started.elapsed().as_secs_f64(),
        })
    }

    fn note_rss(&self, into: &mut Vec<PeakRss>, after: &'static str) {
        into.push(PeakRss {
            after,
            mib: self.server.peak_rss_mib(),
        });
    }

    /// Runs a throughput phase and charges the CPU time used meanwhile to its requests.
    async fn with_cpu<T>(
        &self,
        phase: impl Future<Output = Result<(Latencies, T), BenchError>>,
    ) -> Result<(Throughput, T), BenchError> {
        let own = std::process::id();
        let sample = || {
            Some((
                self.server.cpu_time()?,
                server::cpu_time(own)?,
                server::machine_busy_time()?,
            ))
        };
        let before = sample();
        let (latencies, value) = phase.await?;
        let after = sample();
        let summary = latencies.summary();
        let cpu = match (before, after) {
            (Some((s0, c0, m0)), Some((s1, c1, m1))) => {
                let (server, client) = (s1.saturating_sub(s0), c1.saturating_sub(c0));
                let others = m1.saturating_sub(m0).saturating_sub(server + client);
                Some(Cpu::new(server, client, others, &summary))
            }
            _ => None,
        };
        Ok((Throughput { summary, cpu }, value))
    }

    /// Creates users `first..first + count` concurrently; returns their ids in order.
    async fn seed_users(
        &self,
        first: usize,
        count: usize,
        label: &str,
    ) -> Result<(Latencies, Vec<Uuid>), BenchError> {
        let client = self.client.clone();
        let url: Arc<str> = self.client.scim_url("/Users").into();
        let run = load::drive(
            self.connections,
            Amount::Requests(count),
            Some(label),
            move |i| {
                let (client, url) = (client.clone(), url.clone());
                async move {
                    let body = Some(user_body(first + i));
                    let (_, location) = client
                        .fast(Method::POST, &url, body, CREATED, "POST /Users")
                        .await?;
                    location
                        .as_ref()
                        .and_then(|l| l.to_str().ok())
                        .and_then(|l| l.rsplit('/').next())
                        .and_then(|id| Uuid::parse_str(id).ok())
                        .ok_or_else(|| "POST /Users: no Location naming the new user".to_owned())
                }
            },
        )
        .await?;
        Ok((run.latencies, run.results))
    }

    /// A cheap endpoint at full concurrency: what HTTP (and authentication) cost alone.
    async fn baseline(
        &self,
        path: &str,
        scim: bool,
        requests: usize,
    ) -> Result<(Latencies, ()), BenchError> {
        let url: Arc<str> = if scim {
            self.client.scim_url(path)
        } else {
            self.client.root_url(path)
        }
        .into();
        let what: Arc<str> = format!("GET {path}").into();
        let client = self.client.clone();
        let run = load::drive(
            self.connections,
            Amount::Requests(requests),
            None,
            move |_| {
                let (client, url, what) = (client.clone(), url.clone(), what.clone());
                async move {
                    client
                        .fast(Method::GET, &url, None, OK, &what)
                        .await
                        .map(drop)
                }
            },
        )
        .await?;
        Ok((run.latencies, ()))
    }

    /// Filter URLs for random existing users, prepared before the clock starts.
    fn filter_urls(&self, users: usize) -> Arc<Vec<String>> {
        Arc::new(
            (0..FILTER_URLS as u64)
                .map(|k| {
                    let user = load::random(self.seed, k) % users as u64;
                    self.client.scim_url(&format!(
                        "/Users?filter=userName%20eq%20%22{}%22",
                        user_name(user as usize).replace('@', "%40")
                    ))
                })
                .collect(),
        )
    }

    /// Unmeasured filter GETs: open every connection and warm the server's caches.
    async fn warm_up(&self, urls: &Arc<Vec<String>>) -> Result<(), BenchError> {
        self.filter_gets(
            urls.clone(),
            FILTER_URLS / 2,
            Amount::Requests(WARM_UP),
            None,
        )
        .await
        .map(drop)
    }

    /// `GET /Users?filter=userName eq "..."`, starting at `urls[first]`.
    async fn filter_gets(
        &self,
        urls: Arc<Vec<String>>,
        first: usize,
        amount: Amount,
        progress: Option<&str>,
    ) -> Result<(Latencies, ()), BenchError> {
        let client = self.client.clone();
        let run = load::drive(self.connections, amount, progress, move |i| {
            let (client, urls) = (client.clone(), urls.clone());
            async move {
                let url = &urls[(first + i) % urls.len()];
                let (body, _) = client
                    .fast(Method::GET, url, None, OK, "GET /Users?filter")
                    .await?;
                if contains(body.as_ref(), b"\"totalResults\":1,") {
                    Ok(())
                } else {
                    Err(format!("GET {url} did not find exactly one user"))
                }
            }
        })
        .await?;
        Ok((run.latencies, ()))
    }

    /// Pages of 100 with `startIndex`, spread evenly from the first to the last page.
    async fn index_paging(&self, users: usize, samples: usize) -> Result<PagingReport, BenchError> {
        let pages = users.div_ceil(PAGE);
        let samples = samples.clamp(1, pages);
        let page_of = move |k: usize| {
            if samples == 1 {
                0
            } else {
                k * (pages - 1) / (samples - 1)
            }
        };
        let client = self.client.clone();
        let base = self.client.scim_url("/Users");
        let op = move |k: usize| {
            let client = client.clone();
            let page = page_of(k % samples);
            let url = format!("{base}?startIndex={}&count={PAGE}", page * PAGE + 1);
            async move {
                let t0 = Instant::now();
                let (body, _) = call(client.get(&url), OK, "GET /Users?startIndex").await?;
                let took = t0.elapsed();
                let expected = (users - page * PAGE).min(PAGE) as u64;
                match json_int(body.as_ref(), "itemsPerPage") {
                    Some(n) if n == expected => Ok(took),
                    other => Err(format!(
                        "GET {url}: itemsPerPage {other:?}, expected {expected}"
                    )),
                }
            }
        };
        let op = Arc::new(op);
        let warm = op.clone();
        load::drive(1, Amount::Requests(samples.min(10)), None, move |k| warm(k)).await?;
        let run = load::drive(1, Amount::Requests(samples), None, move |k| op(k)).await?;
        Ok(PagingReport::new(
            samples,
            pages,
            run.latencies.summary(),
            &run.results,
        ))
    }

    /// RFC 9865: `cursor=` then each `nextCursor` until there is none; every user once.
    async fn cursor_paging(&self, users: usize) -> Result<PagingReport, BenchError> {
        let base = self.client.scim_url("/Users");
        let mut url = format!("{base}?count={PAGE}&cursor=");
        let mut times = Vec::with_capacity(users / PAGE + 1);
        let mut seen = 0u64;
        let started = Instant::now();
        loop {
            let t0 = Instant::now();
            let (body, _) = call(self.client.get(&url), OK, "GET /Users?cursor")
                .await
                .map_err(BenchError::Request)?;
            times.push(t0.elapsed());
            let body = body.as_ref();
            seen += json_int(body, "itemsPerPage").ok_or_else(|| {
                BenchError::Request(format!("GET {url}: no itemsPerPage in the answer"))
            })?;
            match json_str(body, "nextCursor") {
                Some(next) => url = format!("{base}?count={PAGE}&cursor={next}"),
                None => break,
            }
            if times.len() > users {
                return Err(BenchError::Request(
                    "cursor paging does not end: more pages than users".into(),
                ));
            }
        }
        if seen != users as u64 {
            return Err(BenchError::Request(format!(
                "cursor paging returned {seen} users, expected {users}"
            )));
        }
        let summary = Latencies::from_durations(&times, started.elapsed()).summary();
        Ok(PagingReport::new(times.len(), times.len(), summary, &times))
    }

    /// Entra-style member PATCHes into groups of each size, and reading those groups.
    async fn groups(
        &self,
        name: &str,
        plan: &GroupPlan,
        ids: &[Uuid],
    ) -> Result<GroupsReport, BenchError> {
        let mut per_size = Vec::new();
        for &size in &plan.sizes {
            eprintln!("bench: {name}: group of {size} members: seeding with PATCH batches");
            let created = Instant::now();
            let body = format!(
                r#"{{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Bench group of {size}","externalId":"bench-{size}"}}"#
            );
            let request =
                self.client
                    .send_json(Method::POST, &self.client.scim_url("/Groups"), body);
            let (body, _) = call(request, CREATED, "POST /Groups")
                .await
                .map_err(BenchError::Request)?;
            let group = json_str(body.as_ref(), "id")
                .ok_or_else(|| BenchError::Request("POST /Groups: no id in the answer".into()))?
                .to_owned();
            let lean = self
                .client
                .scim_url(&format!("/Groups/{group}?excludedAttributes=members"));
            let entra = self.client.scim_url(&format!("/Groups/{group}"));
            let too_few = || BenchError::Request(format!("too few users for a group of {size}"));
            let mut last_note = Instant::now();
            for (k, batch) in ids
                .get(..size)
                .ok_or_else(too_few)?
                .chunks(PAGE)
                .enumerate()
            {
                self.patch_members(&lean, "Add", batch).await?;
                if last_note.elapsed() >= PROGRESS_EVERY {
                    eprintln!("bench:   {} / {size} members", (k + 1) * PAGE);
                    last_note = Instant::now();
                }
            }
            let seeded_seconds = created.elapsed().as_secs_f64();
            self.settle().await?;

            eprintln!(
                "bench: {name}: group of {size} members: {} timed batches of {PAGE}",
                plan.batches
            );
            let extra = ids
                .get(size..size + plan.batches * PAGE)
                .ok_or_else(too_few)?;
            let (add, remove) = self.timed_batches(&entra, extra).await?;
            let (add_lean, remove_lean) = self.timed_batches(&lean, extra).await?;
            let get = self.get_group(&lean, &group).await?;
            per_size.push(GroupSize {
                members: size,
                add,
                remove,
                add_lean,
                remove_lean,
                get,
                seeded_seconds: (seeded_seconds * 1000.0).round() / 1000.0,
            });
        }
        Ok(GroupsReport {
            sizes_scaled: plan.scaled,
            batch: PAGE,
            batches: plan.batches,
            extra_users: 0,
            per_size,
        })
    }

    /// Adds each batch of `users` and removes it again, timing both, so the group keeps
    /// its size throughout.
    async fn timed_batches(
        &self,
        url: &str,
        users: &[Uuid],
    ) -> Result<(Summary, Summary), BenchError> {
        let (mut adds, mut removes) = (Vec::new(), Vec::new());
        let started = Instant::now();
        for batch in users.chunks(PAGE) {
            adds.push(self.patch_members(url, "Add", batch).await?);
            removes.push(self.patch_members(url, "Remove", batch).await?);
        }
        let elapsed = started.elapsed();
        Ok((
            Latencies::from_durations(&adds, elapsed).summary(),
            Latencies::from_durations(&removes, elapsed).summary(),
        ))
    }

    /// One PATCH as Entra sends it: `{"op":"Add"|"Remove","path":"members","value":[...]}`.
    async fn patch_members(
        &self,
        url: &str,
        op: &str,
        users: &[Uuid],
    ) -> Result<Duration, BenchError> {
        let body = members_patch(op, users);
        let t0 = Instant::now();
        call(
            self.client.send_json(Method::PATCH, url, body),
            PATCHED,
            "PATCH /Groups/{id}",
        )
        .await
        .map_err(BenchError::Request)?;
        Ok(t0.elapsed())
    }

    /// `GET /Groups/{id}?excludedAttributes=members`, one at a time.
    async fn get_group(&self, url: &str, group: &str) -> Result<Summary, BenchError> {
        let id = format!("\"id\":\"{group}\"");
        let requests = self.group_gets;
        let mut times = Vec::with_capacity(requests);
        let started = Instant::now();
        for _ in 0..requests {
            let t0 = Instant::now();
            let (body, _) = call(self.client.get(url), OK, "GET /Groups/{id}")
                .await
                .map_err(BenchError::Request)?;
            times.push(t0.elapsed());
            let body = body.as_ref();
            if !contains(body, id.as_bytes()) || contains(body, b"\"members\"") {
                return Err(BenchError::Request(format!(
                    "GET {url}: not the group, or members despite excludedAttributes"
                )));
            }
        }
        Ok(Latencies::from_durations(&times, started.elapsed()).summary())
    }
}

/// `user0000042@bench.example`
fn user_name(i: usize) -> String {
    format!("user{i:07}@bench.example")
}

/// A user as Entra ID provisions one: core and enterprise schemas, name, one email.
pub(super) fn user_body(i: usize) -> String {
    let name = user_name(i);
    format!(
        concat!(
            r#"{{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","#,
            r#""urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"#,
            r#""externalId":"ext-{i}","userName":"{name}","active":true,"#,
            r#""displayName":"Bench User {i}","#,
            r#""name":{{"givenName":"Bench","familyName":"User {i}","formatted":"Bench User {i}"}},"#,
            r#""emails":[{{"value":"{name}","type":"work","primary":true}}],"#,
            r#""urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":"#,
            r#"{{"department":"Department {d}","employeeNumber":"{i}"}}}}"#
        ),
        i = i,
        name = name,
        d = i % 50
    )
}

/// `{"schemas":[PatchOp],"Operations":[{"op":op,"path":"members","value":[{"value":id},...]}]}`
pub(super) fn members_patch(op: &str, users: &[Uuid]) -> String {
    let mut body = String::with_capacity(128 + users.len() * 50);
    body.push_str(
        r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":""#,
    );
    body.push_str(op);
    body.push_str(r#"","path":"members","value":["#);
    let mut buffer = Uuid::encode_buffer();
    for (k, id) in users.iter().enumerate() {
        if k > 0 {
            body.push(',');
        }
        body.push_str(r#"{"value":""#);
        body.push_str(id.hyphenated().encode_lower(&mut buffer));
        body.push_str(r#""}"#);
    }
    body.push_str("]}]}");
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_sizes_scale_down_with_fewer_users() {
        let full = GroupPlan::for_users(100_000, 50);
        assert_eq!(full.sizes, vec![1_000, 10_000, 100_000]);
        assert!(!full.scaled);
        assert_eq!(full.users_needed(), 105_000);
        assert_eq!(GroupPlan::for_users(250_000, 5).sizes, full.sizes);
        let small = GroupPlan::for_users(5_000, 10);
        assert_eq!(small.sizes, vec![100, 500, 5_000]);
        assert!(small.scaled);
        assert_eq!(small.users_needed(), 6_000);
        assert_eq!(GroupPlan::for_users(150, 1).sizes, vec![100]);
    }

    #[test]
    fn bodies_are_json() {
        let user: serde_json::Value = serde_json::from_str(&user_body(42)).unwrap();
        assert_eq!(user["userName"], "user0000042@bench.example");
        assert_eq!(user["emails"][0]["value"], "user0000042@bench.example");
        let ids = [Uuid::new_v4(), Uuid::new_v4()];
        let patch: serde_json::Value = serde_json::from_str(&members_patch("Add", &ids)).unwrap();
        assert_eq!(patch["Operations"][0]["op"], "Add");
        assert_eq!(
            patch["Operations"][0]["value"][1]["value"],
            ids[1].to_string()
        );
    }
}
