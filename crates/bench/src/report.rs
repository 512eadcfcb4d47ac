//! The results: structures (serialized for `--json`) and the markdown report.

use super::load::Summary;
use serde::Serialize;
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

/// Targets on the reference machine (2 cores shared by client and server), SQLite.
mod target {
    pub const CREATES_PER_SECOND: f64 = 5_000.0;
    pub const FILTER_GETS_PER_SECOND: f64 = 25_000.0;
    pub const PAGE_MS: f64 = 5.0;
    pub const PATCH_BATCH_MS: f64 = 10.0;
    /// Largest group's batch time over the smallest's.
    pub const PATCH_GROWTH: f64 = 1.5;
    pub const RSS_MIB: f64 = 150.0;
    pub const RSS_USERS: usize = 1_000_000;
}

/// Where the benchmark ran.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub memory_gib: f64,
    pub kernel: String,
    /// The server's version (`rollcall --version`).
    pub rollcall_version: String,
    /// A debug build measures the compiler, not the server.
    pub release_build: bool,
}

impl Machine {
    /// This machine, and the server binary at `server` that says it is `rollcall_version`.
    pub fn detect(rollcall_version: String, server: &Path) -> Machine {
        let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
        let cpuinfo = read("/proc/cpuinfo");
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_else(|| "unknown".into());
        let memory_kib: f64 = read("/proc/meminfo")
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0.0);
        Machine {
            cpus: std::thread::available_parallelism().map_or(0, usize::from),
            cpu_model,
            memory_gib: (memory_kib / 1024.0 / 1024.0 * 10.0).round() / 10.0,
            kernel: read("/proc/sys/kernel/osrelease").trim().to_owned(),
            rollcall_version,
            // The server's build profile shows only in cargo's directory names (a debug
            // server sits in target/debug); the load generator must be a release build too.
            release_build: !cfg!(debug_assertions)
                && !server.parent().is_some_and(|d| d.ends_with("debug")),
        }
    }
}

/// CPU time spent by each side during a throughput phase.
#[derive(Debug, Clone, Serialize)]
pub struct Cpu {
    pub server_seconds: f64,
    pub client_seconds: f64,
    pub server_us_per_request: f64,
    pub client_us_per_request: f64,
    /// Cores the server kept busy on average (CPU time / wall time).
    pub server_cores: f64,
    pub client_cores: f64,
    /// Cores busy with anything else on the machine (PostgreSQL, other work): noise.
    pub other_cores: f64,
}

impl Cpu {
    pub fn new(server: Duration, client: Duration, others: Duration, s: &Summary) -> Cpu {
        let per_request = |d: Duration| {
            if s.requests == 0 {
                0.0
            } else {
                (d.as_secs_f64() * 1e6 / s.requests as f64).round()
            }
        };
        let cores = |d: Duration| {
            if s.seconds > 0.0 {
                (d.as_secs_f64() / s.seconds * 100.0).round() / 100.0
            } else {
                0.0
            }
        };
        Cpu {
            server_seconds: server.as_secs_f64(),
            client_seconds: client.as_secs_f64(),
            server_us_per_request: per_request(server),
            client_us_per_request: per_request(client),
            server_cores: cores(server),
            client_cores: cores(client),
            other_cores: cores(others),
        }
    }
}

/// Requests sent concurrently: rate, latency, CPU.
#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    #[serde(flatten)]
    pub summary: Summary,
    pub cpu: Option<Cpu>,
}

/// Pages read one after the other.
#[derive(Debug, Clone, Serialize)]
pub struct PagingReport {
    /// Pages read.
    pub pages: usize,
    /// Pages the whole list has.
    pub of_pages: usize,
    pub per_page: Summary,
    /// Mean time of the first tenth of the pages read (the shallowest).
    pub first_tenth_mean_ms: f64,
    /// Mean time of the last tenth (the deepest): OFFSET paging slows down here.
    pub last_tenth_mean_ms: f64,
}

impl PagingReport {
    /// From the time of each page, in page order.
    pub fn new(pages: usize, of_pages: usize, per_page: Summary, times: &[Duration]) -> Self {
        let tenth = (times.len() / 10).max(1);
        let mean_ms = |part: &[Duration]| {
            if part.is_empty() {
                0.0
            } else {
                let ms = part.iter().map(Duration::as_secs_f64).sum::<f64>() * 1000.0;
                (ms / part.len() as f64 * 1000.0).round() / 1000.0
            }
        };
        PagingReport {
            pages,
            of_pages,
            per_page,
            first_tenth_mean_ms: mean_ms(&times[..tenth.min(times.len())]),
            last_tenth_mean_ms: mean_ms(&times[times.len().saturating_sub(tenth)..]),
        }
    }
}

/// Member PATCHes and reads at one group size.
#[derive(Debug, Clone, Serialize)]
pub struct GroupSize {
    pub members: usize,
    /// Add 100 members, sent as Entra sends it (the answer carries the group).
    pub add: Summary,
    /// Remove the same 100 again.
    pub remove: Summary,
    /// The same with `?excludedAttributes=members`.
    pub add_lean: Summary,
    pub remove_lean: Summary,
    /// `GET /Groups/{id}?excludedAttributes=members`.
    pub get: Summary,
    /// Time to create the group and fill it with PATCH batches.
    pub seeded_seconds: f64,
}

/// The group phase.
#[derive(Debug, Clone, Serialize)]
pub struct GroupsReport {
    /// Sizes below 1,000 / 10,000 / 100,000 because `--users` was smaller.
    pub sizes_scaled: bool,
    pub batch: usize,
    pub batches: usize,
    /// Users created on top of `--users` for the group phase.
    pub extra_users: usize,
    pub per_size: Vec<GroupSize>,
}

/// The peak RSS after a phase.
#[derive(Debug, Clone, Serialize)]
pub struct PeakRss {
    pub after: &'static str,
    pub mib: Option<f64>,
}

/// Everything measured on one backend.
#[derive(Debug, Clone, Serialize)]
pub struct BackendReport {
    pub backend: &'static str,
    pub users: usize,
    pub connections: usize,
    pub seed: Throughput,
    pub healthz: Throughput,
    pub service_provider_config: Throughput,
    pub filter: Throughput,
    pub index_paging: PagingReport,
    pub cursor_paging: PagingReport,
    pub groups: Option<GroupsReport>,
    pub outbox_drain: OutboxDrain,
    pub peak_rss_mib: Option<f64>,
    pub rss_at_end_mib: Option<f64>,
    pub peak_rss_by_phase: Vec<PeakRss>,
    pub sqlite_file_mib: Option<f64>,
    /// PostgreSQL with autovacuum off: `ANALYZE` ran after each bulk load.
    pub analyzed: bool,
}

/// The joining emails the seeding queued, delivered to `.eml` files before the
/// measurements that follow.
#[derive(Debug, Clone, Serialize)]
pub struct OutboxDrain {
    /// Rows in the outbox once nothing was left undelivered.
    pub messages: i64,
    /// From the end of the seeding until nothing was left undelivered.
    pub seconds_after_seed: f64,
}

/// Memory mode.
#[derive(Debug, Clone, Serialize)]
pub struct RssReport {
    pub users: usize,
    pub connections: usize,
    pub seed: Throughput,
    pub filter: Throughput,
    pub index_paging: PagingReport,
    pub peak_rss_mib: Option<f64>,
    pub rss_at_end_mib: Option<f64>,
    pub peak_rss_by_phase: Vec<PeakRss>,
    pub sqlite_file_mib: f64,
}

/// `--json` for the normal mode.
pub fn json(machine: &Machine, reports: &[BackendReport]) -> Value {
    json!({ "machine": machine, "backends": reports })
}

/// `--json` for memory mode.
pub fn rss_json(machine: &Machine, report: &RssReport) -> Value {
    json!({ "machine": machine, "memory": report })
}

/// The start of the report: the machine.
pub fn header(machine: &Machine) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# rollcall bench\n\nMachine: {} CPUs ({}), {} GiB memory, Linux {}; rollcall {}{}.",
        machine.cpus,
        machine.cpu_model,
        machine.memory_gib,
        machine.kernel,
        machine.rollcall_version,
        if machine.release_build {
            ""
        } else {
            " — DEBUG BUILD, figures are meaningless; use `cargo build --release`"
        }
    );
    let _ = writeln!(
        out,
        "Client and server share the machine; the server is a child process \
         (`rollcall serve`) on loopback."
    );
    out
}

/// `met` / `**missed**`, or `—` where there is no target (PostgreSQL).
fn verdict(applies: bool, met: bool) -> &'static str {
    match (applies, met) {
        (false, _) => "—",
        (true, true) => "met",
        (true, false) => "**missed**",
    }
}

/// One backend's part of the report: a table of results, then CPU per request.
pub fn backend_markdown(r: &BackendReport) -> String {
    let mut text = String::new();
    let out = &mut text;
    let sqlite = r.backend == "SQLite";
    let t = |text: &str| {
        if sqlite {
            text.to_owned()
        } else {
            "—".into()
        }
    };
    let _ = writeln!(
        out,
        "\n## {}: {} users, {} connections\n",
        r.backend,
        int(r.users),
        r.connections
    );
    let _ = writeln!(out, "| Measurement | Result | Target (SQLite) | |");
    let _ = writeln!(out, "|---|---|---|---|");
    let mut row = |what: String, result: String, target: String, verdict: &str| {
        let _ = writeln!(out, "| {what} | {result} | {target} | {verdict} |");
    };
    row(
        format!("Seed: POST /Users ({} users)", int(r.seed.summary.requests)),
        rate(&r.seed.summary),
        t("≥ 5,000 /s"),
        verdict(
            sqlite,
            r.seed.summary.per_second >= target::CREATES_PER_SECOND,
        ),
    );
    row(
        format!(
            "GET /Users?filter=userName eq \"…\" ({} requests, random users)",
            int(r.filter.summary.requests)
        ),
        rate(&r.filter.summary),
        t("≥ 25,000 /s"),
        verdict(
            sqlite,
            r.filter.summary.per_second >= target::FILTER_GETS_PER_SECOND,
        ),
    );
    for (name, p) in [
        ("Index paging, startIndex & count=100", &r.index_paging),
        ("Cursor paging (RFC 9865), count=100", &r.cursor_paging),
    ] {
        let sample = if p.pages == p.of_pages {
            format!("all {} pages", int(p.pages))
        } else {
            format!(
                "{} of {} pages, evenly spread",
                int(p.pages),
                int(p.of_pages)
            )
        };
        row(
            format!("{name} ({sample})"),
            format!(
                "{} · first tenth {} · last tenth {}",
                per_page(&p.per_page),
                ms(p.first_tenth_mean_ms),
                ms(p.last_tenth_mean_ms)
            ),
            t("≤ 5 ms per page"),
            verdict(sqlite, p.per_page.mean_ms <= target::PAGE_MS),
        );
    }
    if let Some(g) = &r.groups {
        groups_rows(&mut row, g, sqlite);
    }
    row(
        "Baseline: GET /healthz (HTTP only)".into(),
        rate(&r.healthz.summary),
        "—".into(),
        "",
    );
    row(
        "Baseline: GET /scim/v2/ServiceProviderConfig (HTTP + token check)".into(),
        rate(&r.service_provider_config.summary),
        "—".into(),
        "",
    );
    let by_phase: Vec<String> = r
        .peak_rss_by_phase
        .iter()
        .map(|p| format!("{}: {}", p.after, mib(p.mib)))
        .collect();
    row(
        "Server peak RSS (VmHWM)".into(),
        format!("**{}** ({})", mib(r.peak_rss_mib), by_phase.join(", ")),
        t("≤ 150 MB with 1,000,000 users: see `--rss-users`"),
        "",
    );
    row(
        format!(
            "Joining emails of the seeding ({} `.eml` files) delivered, after the seeding ended",
            int(usize::try_from(r.outbox_drain.messages).unwrap_or(0))
        ),
        format!(
            "**{:.1} s** (measured after it, so no phase shares the server with it)",
            r.outbox_drain.seconds_after_seed
        ),
        "—".into(),
        "",
    );
    if let Some(size) = r.sqlite_file_mib {
        row(
            "SQLite database on disk (with WAL)".into(),
            format!("{size:.0} MiB"),
            "—".into(),
            "",
        );
    }
    if let Some(g) = &r.groups {
        if g.sizes_scaled {
            let _ = writeln!(
                out,
                "\nGroup sizes are scaled down (full sizes need `--users 100000` or more)."
            );
        }
        if g.extra_users > 0 {
            let _ = writeln!(
                out,
                "\n{} more users were created before the group phase: each timed batch \
                 adds 100 users who are not yet members (and removes them again).",
                int(g.extra_users)
            );
        }
    }
    if !sqlite {
        let _ = writeln!(
            out,
            "\nThe server's RSS and CPU exclude the PostgreSQL server processes."
        );
    }
    if r.analyzed {
        let _ = writeln!(
            out,
            "\nAutovacuum is off on this PostgreSQL server, so the benchmark ran `ANALYZE` \
             after seeding users and after filling each group, as autovacuum would have; \
             without statistics the planner picks sequential scans and sorts."
        );
    }
    cpu_table(out, r);
    text
}

fn groups_rows(row: &mut impl FnMut(String, String, String, &str), g: &GroupsReport, sqlite: bool) {
    let t = |text: String| if sqlite { text } else { "—".into() };
    let smallest = g.per_size.first().map_or(0.0, |s| s.add.mean_ms);
    let largest = g.per_size.last();
    for s in &g.per_size {
        let is_largest = largest.is_some_and(|l| l.members == s.members) && g.per_size.len() > 1;
        let growth = if smallest > 0.0 {
            s.add.mean_ms / smallest
        } else {
            0.0
        };
        let (target_text, met) = if is_largest {
            (
                format!("≤ 10 ms and ≤ 1.5 × the smallest group's (here {growth:.2} ×)"),
                s.add.mean_ms <= target::PATCH_BATCH_MS && growth <= target::PATCH_GROWTH,
            )
        } else {
            (
                "≤ 10 ms".to_owned(),
                s.add.mean_ms <= target::PATCH_BATCH_MS,
            )
        };
        row(
            format!(
                "Group PATCH add {} members, Entra-style, group of {} ({} batches)",
                g.batch,
                int(s.members),
                g.batches
            ),
            batch(&s.add),
            t(target_text),
            verdict(sqlite, met),
        );
    }
    for s in &g.per_size {
        row(
            format!(
                "Group PATCH remove {} members, Entra-style, group of {}",
                g.batch,
                int(s.members)
            ),
            batch(&s.remove),
            "—".into(),
            "",
        );
    }
    for s in &g.per_size {
        row(
            format!(
                "Group PATCH add / remove {}, `?excludedAttributes=members`, group of {}",
                g.batch,
                int(s.members)
            ),
            format!(
                "add {} / remove {}",
                batch(&s.add_lean),
                batch(&s.remove_lean)
            ),
            "—".into(),
            "",
        );
    }
    for s in &g.per_size {
        row(
            format!(
                "GET /Groups/{{id}}?excludedAttributes=members, group of {} ({} requests)",
                int(s.members),
                s.get.requests
            ),
            batch(&s.get),
            "—".into(),
            "",
        );
    }
}

/// Above this, other work on the machine skewed a phase noticeably.
const NOISY_CORES: f64 = 0.25;

fn cpu_table(out: &mut String, r: &BackendReport) {
    let _ = writeln!(
        out,
        "\nCPU time per request (server: the `rollcall serve` process; client: this \
         benchmark process; other processes: the rest of the machine, PostgreSQL included):\n"
    );
    let _ = writeln!(
        out,
        "| Phase | Requests/s | Server µs/request | Client µs/request | Server cores busy | Client cores busy | Other processes, cores |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    for (name, t) in [
        ("POST /Users", &r.seed),
        ("GET /healthz", &r.healthz),
        ("GET /ServiceProviderConfig", &r.service_provider_config),
        ("GET /Users?filter", &r.filter),
    ] {
        if let Some(c) = &t.cpu {
            let _ = writeln!(
                out,
                "| {name} | {} | {} | {} | {:.2} | {:.2} | {:.2} |",
                int(t.summary.per_second as usize),
                c.server_us_per_request,
                c.client_us_per_request,
                c.server_cores,
                c.client_cores,
                c.other_cores
            );
        }
    }
    // PostgreSQL is one of the "other processes", so only SQLite runs can tell.
    if r.backend == "SQLite" {
        let noisy: Vec<String> = [
            ("POST /Users", &r.seed),
            ("GET /healthz", &r.healthz),
            ("GET /ServiceProviderConfig", &r.service_provider_config),
            ("GET /Users?filter", &r.filter),
        ]
        .iter()
        .filter_map(|(name, t)| {
            let other = t.cpu.as_ref()?.other_cores;
            (other > NOISY_CORES).then(|| format!("{name} ({other:.2} cores)"))
        })
        .collect();
        if !noisy.is_empty() {
            let _ = writeln!(
                out,
                "\n**The machine was not quiet**: other processes were busy during {}; \
                 those figures are pessimistic.",
                noisy.join(", ")
            );
        }
    }
}

/// The memory mode's report.
pub fn rss_markdown(machine: &Machine, r: &RssReport) -> String {
    let mut out = header(machine);
    let _ = writeln!(
        out,
        "\n## Memory: SQLite, {} users, {} connections\n",
        int(r.users),
        r.connections
    );
    let _ = writeln!(out, "| Measurement | Result | Target | |");
    let _ = writeln!(out, "|---|---|---|---|");
    let applies = r.users >= target::RSS_USERS;
    let met = r.peak_rss_mib.is_some_and(|m| m <= target::RSS_MIB);
    let by_phase: Vec<String> = r
        .peak_rss_by_phase
        .iter()
        .map(|p| format!("{}: {}", p.after, mib(p.mib)))
        .collect();
    let _ = writeln!(
        out,
        "| Server peak RSS (VmHWM) | **{}** ({}; RSS at the end {}) | ≤ 150 MiB with 1,000,000 users | {} |",
        mib(r.peak_rss_mib),
        by_phase.join(", "),
        mib(r.rss_at_end_mib),
        verdict(applies, met)
    );
    let _ = writeln!(
        out,
        "| Seed: POST /Users ({} users) | {} | — | |",
        int(r.seed.summary.requests),
        rate(&r.seed.summary)
    );
    let _ = writeln!(
        out,
        "| GET /Users?filter=userName eq \"…\" ({} requests) | {} | — | |",
        int(r.filter.summary.requests),
        rate(&r.filter.summary)
    );
    let _ = writeln!(
        out,
        "| Index paging, count=100 ({} of {} pages) | {} · first tenth {} · last tenth {} | — | |",
        int(r.index_paging.pages),
        int(r.index_paging.of_pages),
        per_page(&r.index_paging.per_page),
        ms(r.index_paging.first_tenth_mean_ms),
        ms(r.index_paging.last_tenth_mean_ms)
    );
    let _ = writeln!(
        out,
        "| SQLite database on disk (with WAL) | {:.0} MiB | — | |",
        r.sqlite_file_mib
    );
    out
}

fn rate(s: &Summary) -> String {
    format!(
        "**{} /s** · p50 {} · p99 {}",
        int(s.per_second as usize),
        ms(s.p50_ms),
        ms(s.p99_ms)
    )
}

fn per_page(s: &Summary) -> String {
    format!("mean **{}** · p99 {}", ms(s.mean_ms), ms(s.p99_ms))
}

fn batch(s: &Summary) -> String {
    format!(
        "mean **{}** · p50 {} · p99 {}",
        ms(s.mean_ms),
        ms(s.p50_ms),
        ms(s.p99_ms)
    )
}

fn mib(m: Option<f64>) -> String {
    m.map_or_else(|| "n/a".into(), |m| format!("{m:.0} MiB"))
}

/// Milliseconds with about three significant digits.
fn ms(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0} ms")
    } else if x >= 10.0 {
        format!("{x:.1} ms")
    } else {
        format!("{x:.2} ms")
    }
}

/// `100000` → `100,000`.
fn int(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(int(0), "0");
        assert_eq!(int(999), "999");
        assert_eq!(int(1_000), "1,000");
        assert_eq!(int(1_234_567), "1,234,567");
        assert_eq!(ms(0.123_4), "0.12 ms");
        assert_eq!(ms(12.34), "12.3 ms");
        assert_eq!(ms(123.4), "123 ms");
        assert_eq!(verdict(true, false), "**missed**");
        assert_eq!(verdict(false, false), "—");
    }
}
