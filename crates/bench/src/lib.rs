//! `rollcall-bench`: seeds users and groups, then drives a real rollcall server over HTTP
//! on loopback and reports throughput, latency and the server's peak memory. See
//! BENCHMARKS.md.
//!
//! The server is the rollcall binary run as a child process (`serve`), so its peak RSS can
//! be read from `/proc` and the load generator's own work is not counted in it; the
//! organization and its tokens come from the same binary's `org create` / `token create`.
//! The benchmark uses nothing of the server's library: only its command line, its HTTP
//! API and, to wait for its outbox and to manage a PostgreSQL database, SQL of its own
//! (src/database.rs).
//! A benchmark, not a test: it fails only when a request is refused or a page does not
//! hold what it should, never because a figure misses its target.

mod conns;
mod database;
mod load;
mod phases;
mod report;
mod server;
mod sync;

use database::PgDatabase;
use load::Client;
use phases::{GroupPlan, Phases};
use report::{BackendReport, Machine, RssReport};
use server::{Server, Workspace};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Which databases to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendChoice {
    Sqlite,
    Postgres,
    Both,
}

/// A database the server under test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The name used in the report.
    pub fn label(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

/// Seed data into a rollcall server and measure it over HTTP (see BENCHMARKS.md).
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "rollcall-bench", version, about)]
pub struct BenchArgs {
    /// The rollcall server binary to run [default: `rollcall` beside this binary, else
    /// target/release/rollcall of the workspace]
    #[arg(long)]
    pub server: Option<PathBuf>,
    /// Users to seed
    #[arg(long, default_value_t = 100_000)]
    pub users: usize,
    /// Which database(s) to measure
    #[arg(long, value_enum, default_value_t = BackendChoice::Both)]
    pub backend: BackendChoice,
    /// PostgreSQL server to create a fresh `rollcall_bench_*` database on (and drop it after)
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
    pub pg_url: String,
    /// Concurrent connections for seeding and the throughput measurements
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Filter GETs (`userName eq` a random existing user) to send
    #[arg(long, default_value_t = 50_000)]
    pub filter_requests: usize,
    /// Send filter GETs for this many seconds instead of a fixed number
    #[arg(long)]
    pub duration: Option<u64>,
    /// Pages of 100 read with startIndex, spread evenly over the whole list
    #[arg(long, default_value_t = 200)]
    pub page_samples: usize,
    /// Measured PATCH batches of 100 members per group size and variant
    #[arg(long, default_value_t = 50)]
    pub patch_batches: usize,
    /// `GET /Groups/{id}?excludedAttributes=members` requests per group size
    #[arg(long, default_value_t = 200)]
    pub group_gets: usize,
    /// Leave out the group PATCH measurements
    #[arg(long)]
    pub skip_groups: bool,
    /// Memory mode: only seed this many users on SQLite and report the server's peak RSS
    #[arg(long)]
    pub rss_users: Option<usize>,
    /// Entra-style initial sync instead: --users users, 1,000 groups mapped to teams,
    /// then a deprovisioning wave (see BENCHMARKS.md)
    #[arg(long)]
    pub sync: bool,
    /// Users deprovisioned (`active: false`) after the sync
    #[arg(long, default_value_t = 10_000)]
    pub deprovision: usize,
    /// Also write the results as JSON to this file
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Where the temporary data directory goes [default: the system's temp directory]
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// Seed for the random choice of users to look up
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Keep the data directory and the PostgreSQL database afterwards, to investigate
    #[arg(long)]
    pub keep: bool,
}

/// Why the benchmark could not run to the end.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Bad options.
    #[error("{0}")]
    Usage(String),
    /// Preparing the run failed: directories, the database, the server, the CLI.
    #[error("{0}")]
    Setup(String),
    /// The server refused a request or answered something unexpected.
    #[error("{0}")]
    Request(String),
    /// The JSON report could not be written.
    #[error("cannot write {path}: {reason}")]
    Output { path: String, reason: String },
}

/// Runs the benchmark and prints the report on stdout (progress goes to stderr).
pub async fn run(args: BenchArgs) -> Result<(), BenchError> {
    validate(&args)?;
    load::ensure_crypto_provider();
    let exe = server::locate(args.server.as_deref())?;
    eprintln!("bench: server binary {}", exe.display());
    let machine = Machine::detect(server::version(&exe).await?, &exe);
    let json = if let Some(users) = args.rss_users {
        let rss = run_rss(&exe, &args, users).await?;
        println!("{}", report::rss_markdown(&machine, &rss));
        report::rss_json(&machine, &rss)
    } else if args.sync {
        print!("{}", report::header(&machine));
        let mut reports = Vec::new();
        for &backend in backends(&args) {
            let r = run_sync(&exe, &args, backend).await?;
            print!("{}", sync::markdown(backend.label(), &r));
            reports.push(serde_json::json!({"backend": backend.label(), "sync": r}));
        }
        serde_json::json!({"machine": machine, "sync": reports})
    } else {
        // Each backend's table is printed as soon as it is measured: a failure on the
        // next one does not lose it.
        print!("{}", report::header(&machine));
        let mut reports = Vec::new();
        for &backend in backends(&args) {
            let r = run_backend(&exe, &args, backend).await?;
            print!("{}", report::backend_markdown(&r));
            reports.push(r);
        }
        report::json(&machine, &reports)
    };
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&json).map_err(|e| BenchError::Output {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        std::fs::write(path, text + "\n").map_err(|e| BenchError::Output {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        eprintln!("bench: results written to {}", path.display());
    }
    Ok(())
}

fn backends(args: &BenchArgs) -> &'static [Backend] {
    match args.backend {
        BackendChoice::Sqlite => &[Backend::Sqlite],
        BackendChoice::Postgres => &[Backend::Postgres],
        BackendChoice::Both => &[Backend::Sqlite, Backend::Postgres],
    }
}

/// The sync benchmark on one backend, on a fresh database.
async fn run_sync(
    exe: &Path,
    args: &BenchArgs,
    backend: Backend,
) -> Result<sync::SyncReport, BenchError> {
    let workspace = Workspace::create(args.work_dir.as_deref(), args.keep)?;
    let plan = sync::SyncPlan::new(args.users, args.deprovision);
    let pg = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(PgDatabase::create(&args.pg_url).await?),
    };
    let url = pg
        .as_ref()
        .map_or_else(|| workspace.sqlite_url(), PgDatabase::url);
    eprintln!("bench: sync on {}", backend.label());
    let result = async {
        let (scim_token, admin_token) =
            server::create_sync_org(exe, &workspace, &url, plan.pool()).await?;
        let server = Server::start(exe, &workspace, &url).await?;
        let scim = Client::new(&server.base_url(), &scim_token, args.concurrency)?;
        let admin = Client::new(&server.base_url(), &admin_token, 2)?;
        let result = sync::run(&scim, &admin, args.concurrency, &plan).await;
        let stopped = server.stop().await;
        let report = result.map_err(|e| server::with_log(e, &workspace))?;
        stopped?;
        Ok(report)
    }
    .await;
    if let Some(db) = pg
        && !args.keep
    {
        db.drop_database().await?;
    }
    result
}

fn validate(args: &BenchArgs) -> Result<(), BenchError> {
    if args.users < 100 {
        return Err(BenchError::Usage("--users must be at least 100".into()));
    }
    if args.rss_users.is_some_and(|n| n < 100) {
        return Err(BenchError::Usage("--rss-users must be at least 100".into()));
    }
    if args.concurrency == 0 || args.concurrency > 4096 {
        return Err(BenchError::Usage(
            "--concurrency must be between 1 and 4096".into(),
        ));
    }
    if args.filter_requests == 0 || args.page_samples == 0 || args.group_gets == 0 {
        return Err(BenchError::Usage(
            "--filter-requests, --page-samples and --group-gets must be positive".into(),
        ));
    }
    if args.duration == Some(0) {
        return Err(BenchError::Usage("--duration must be positive".into()));
    }
    if args.patch_batches == 0 {
        return Err(BenchError::Usage("--patch-batches must be positive".into()));
    }
    Ok(())
}

/// Creates the database, runs the server on it, measures, and always cleans up.
async fn run_backend(
    exe: &Path,
    args: &BenchArgs,
    backend: Backend,
) -> Result<BackendReport, BenchError> {
    let workspace = Workspace::create(args.work_dir.as_deref(), args.keep)?;
    eprintln!(
        "bench: {}: data directory {}",
        backend.label(),
        workspace.dir().display()
    );
    match backend {
        Backend::Sqlite => {
            let url = workspace.sqlite_url();
            measure_backend(exe, args, backend, &workspace, &url, None).await
        }
        Backend::Postgres => {
            let db = PgDatabase::create(&args.pg_url).await?;
            eprintln!("bench: PostgreSQL: database {}", db.name());
            let result = async {
                let analyze = if db.autovacuum_on().await? {
                    None
                } else {
                    eprintln!(
                        "bench: PostgreSQL: autovacuum is off; running ANALYZE after bulk loads"
                    );
                    Some(&db)
                };
                measure_backend(exe, args, backend, &workspace, &db.url(), analyze).await
            }
            .await;
            if args.keep {
                eprintln!(
                    "bench: PostgreSQL: kept database {} (drop it with DROP DATABASE {} WITH (FORCE))",
                    db.name(),
                    db.name()
                );
                return result;
            }
            let dropped = db.drop_database().await;
            let report = result?;
            dropped?;
            Ok(report)
        }
    }
}

async fn measure_backend(
    exe: &Path,
    args: &BenchArgs,
    backend: Backend,
    workspace: &Workspace,
    database_url: &str,
    analyze: Option<&PgDatabase>,
) -> Result<BackendReport, BenchError> {
    let token = server::create_org_and_token(exe, workspace, database_url).await?;
    let server = Server::start(exe, workspace, database_url).await?;
    let client = Client::new(&server.base_url(), &token, args.concurrency)?;
    let result = Phases::new(&client, &server, analyze, database_url, args)
        .all(backend, args, group_plan(args))
        .await;
    let stopped = server.stop().await;
    let mut report = match result {
        Ok(report) => report,
        Err(e) => return Err(server::with_log(e, workspace)),
    };
    stopped?;
    report.sqlite_file_mib = match backend {
        Backend::Sqlite => Some(workspace.sqlite_size_mib()),
        Backend::Postgres => None,
    };
    Ok(report)
}

/// The group sizes: 1,000, 10,000 and 100,000 members, scaled down with fewer users.
fn group_plan(args: &BenchArgs) -> Option<GroupPlan> {
    (!args.skip_groups).then(|| GroupPlan::for_users(args.users, args.patch_batches))
}

async fn run_rss(exe: &Path, args: &BenchArgs, users: usize) -> Result<RssReport, BenchError> {
    let workspace = Workspace::create(args.work_dir.as_deref(), args.keep)?;
    eprintln!(
        "bench: memory mode, {users} users on SQLite in {}",
        workspace.dir().display()
    );
    let url = workspace.sqlite_url();
    let token = server::create_org_and_token(exe, &workspace, &url).await?;
    let server = Server::start(exe, &workspace, &url).await?;
    let client = Client::new(&server.base_url(), &token, args.concurrency)?;
    let result = Phases::new(&client, &server, None, &url, args)
        .rss(users, args)
        .await;
    let stopped = server.stop().await;
    let mut report = result.map_err(|e| server::with_log(e, &workspace))?;
    stopped?;
    report.sqlite_file_mib = workspace.sqlite_size_mib();
    Ok(report)
}

/// How long the server may take to start (PostgreSQL migrations included).
const START_TIMEOUT: Duration = Duration::from_secs(60);
