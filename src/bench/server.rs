//! The server under test: a child process of this binary, its data directory, its
//! PostgreSQL database, and what `/proc` says about it.

use super::{BenchError, START_TIMEOUT};
use crate::store::{Q, Store};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// A temporary directory for the server's data and log, removed when dropped unless
/// kept.
#[derive(Debug)]
pub struct Workspace {
    dir: PathBuf,
    keep: bool,
}

impl Workspace {
    /// Creates `rollcall-bench-<random>` under `parent` (or the system temp directory).
    pub fn create(parent: Option<&Path>, keep: bool) -> Result<Workspace, BenchError> {
        let parent = parent.map_or_else(std::env::temp_dir, Path::to_path_buf);
        let dir = parent.join(format!("rollcall-bench-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir)
            .map_err(|e| BenchError::Setup(format!("cannot create {}: {e}", dir.display())))?;
        let workspace = Workspace { dir, keep };
        // PostgreSQL needs a master key given; on SQLite this is where rollcall looks anyway.
        let key = crate::store::seal::MasterKey::generate_base64()
            .map_err(|e| BenchError::Setup(e.to_string()))?;
        let path = workspace.master_key_file();
        crate::private_files::create_private(&path)
            .and_then(|mut f| {
                use std::io::Write as _;
                writeln!(f, "{}", secrecy::ExposeSecret::expose_secret(&key))
            })
            .map_err(|e| BenchError::Setup(format!("cannot write {}: {e}", path.display())))?;
        Ok(workspace)
    }

    /// The master key file of the servers and commands the benchmark runs.
    pub fn master_key_file(&self) -> PathBuf {
        self.dir.join(crate::config::DATA_DIR_KEY_FILE)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The URL of a SQLite database in the directory.
    pub fn sqlite_url(&self) -> String {
        format!("sqlite:{}", self.dir.join("rollcall.db").display())
    }

    /// The size of the SQLite database with its WAL and shared-memory files, in MiB.
    pub fn sqlite_size_mib(&self) -> f64 {
        ["rollcall.db", "rollcall.db-wal", "rollcall.db-shm"]
            .iter()
            .filter_map(|f| std::fs::metadata(self.dir.join(f)).ok())
            .map(|m| m.len() as f64 / MIB)
            .sum()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("server.log")
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        if self.keep {
            eprintln!(
                "bench: kept {} (server.log; a new token: `rollcall --data-dir {0} \
                 --database-url URL token create --org Bench`)",
                self.dir.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

const MIB: f64 = 1024.0 * 1024.0;

/// Appends the end of the server's log to an error, since the workspace (and the log
/// with it) is about to be removed.
pub fn with_log(e: BenchError, workspace: &Workspace) -> BenchError {
    if workspace.keep {
        return e;
    }
    let tail = log_tail(&workspace.log_path(), 15);
    if tail.is_empty() {
        e
    } else {
        BenchError::Request(format!("{e}\nlast lines of the server's log:\n{tail}"))
    }
}

fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A database of its own on a PostgreSQL server, dropped by [`PgDatabase::drop_database`].
#[derive(Debug)]
pub struct PgDatabase {
    server: String,
    name: String,
}

impl PgDatabase {
    /// Creates `rollcall_bench_<random>` on the server at `pg_url`.
    pub async fn create(pg_url: &str) -> Result<PgDatabase, BenchError> {
        let server = server_url(pg_url)?;
        let name = format!("rollcall_bench_{}", uuid::Uuid::new_v4().simple());
        let admin = connect_admin(&server).await?;
        let created = admin
            .execute_raw(&format!("CREATE DATABASE {name}"))
            .await
            .map_err(|e| BenchError::Setup(format!("cannot create database {name}: {e}")));
        admin.close().await;
        created?;
        Ok(PgDatabase { server, name })
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The URL the server under test connects to.
    pub fn url(&self) -> String {
        with_database(&self.server, &self.name)
    }

    /// Whether autovacuum (which also keeps planner statistics fresh) runs on the server.
    pub async fn autovacuum_on(&self) -> Result<bool, BenchError> {
        let db = self.connect().await?;
        let value = async {
            let mut tx = db.read().await?;
            tx.fetch_one(Q::new("SHOW autovacuum"))
                .await?
                .text("autovacuum")
        }
        .await;
        db.close().await;
        let value = value.map_err(|e| BenchError::Setup(format!("SHOW autovacuum: {e}")))?;
        Ok(value != "off")
    }

    /// `ANALYZE`: what autovacuum does after bulk changes, when it is off.
    pub async fn analyze(&self) -> Result<(), BenchError> {
        let db = self.connect().await?;
        let done = db.execute_raw("ANALYZE").await;
        db.close().await;
        done.map_err(|e| BenchError::Setup(format!("ANALYZE: {e}")))
    }

    async fn connect(&self) -> Result<Store, BenchError> {
        Store::connect(&self.url())
            .await
            .map_err(|e| BenchError::Setup(format!("PostgreSQL: {e}")))
    }

    /// Drops the database (the server under test must have stopped).
    pub async fn drop_database(self) -> Result<(), BenchError> {
        let admin = connect_admin(&self.server).await?;
        let dropped = admin
            .execute_raw(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await
            .map_err(|e| BenchError::Setup(format!("cannot drop database {}: {e}", self.name)));
        admin.close().await;
        dropped
    }
}

async fn connect_admin(server: &str) -> Result<Store, BenchError> {
    Store::connect(&with_database(server, "postgres"))
        .await
        .map_err(|e| BenchError::Setup(format!("PostgreSQL: {e}")))
}

/// The server part of a PostgreSQL URL (scheme, credentials, host, port, query): a
/// database name in the path is ignored.
fn server_url(url: &str) -> Result<String, BenchError> {
    let (scheme, rest) = url
        .split_once("://")
        .filter(|(s, _)| *s == "postgres" || *s == "postgresql")
        .ok_or_else(|| {
            BenchError::Usage(format!(
                "--pg-url must look like postgres://USER@HOST:PORT, not {:?}",
                crate::store::redact_url(url)
            ))
        })?;
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, Some(q)),
        None => (rest, None),
    };
    let authority = rest.split('/').next().unwrap_or_default();
    Ok(match query {
        Some(q) => format!("{scheme}://{authority}/?{q}"),
        None => format!("{scheme}://{authority}/"),
    })
}

/// `server_url` (ending in `/` or `/?query`) with a database name.
fn with_database(server: &str, database: &str) -> String {
    match server.split_once("/?") {
        Some((s, q)) => format!("{s}/{database}?{q}"),
        None => format!("{server}{database}"),
    }
}

/// Runs `rollcall org create` and `rollcall token create` on the database; returns the
/// token.
pub async fn create_org_and_token(
    exe: &Path,
    workspace: &Workspace,
    database_url: &str,
) -> Result<String, BenchError> {
    let org = cli(exe, workspace, database_url, &["org", "create", "Bench"]).await?;
    cli(
        exe,
        workspace,
        database_url,
        &["token", "create", "--org", &org, "--label", "bench"],
    )
    .await
}

/// For the sync benchmark: an org with a pool of `seats`, its SCIM token and an admin
/// token; returns (SCIM token, admin token).
pub async fn create_sync_org(
    exe: &Path,
    workspace: &Workspace,
    database_url: &str,
    seats: usize,
) -> Result<(String, String), BenchError> {
    let seats = seats.to_string();
    let org = cli(
        exe,
        workspace,
        database_url,
        &["org", "create", "Sync", "--seats", &seats],
    )
    .await?;
    let scim = cli(
        exe,
        workspace,
        database_url,
        &["token", "create", "--org", &org, "--label", "entra"],
    )
    .await?;
    let admin = cli(
        exe,
        workspace,
        database_url,
        &["admin-token", "create", "--org", &org, "--label", "bench"],
    )
    .await?;
    Ok((scim, admin))
}

/// Runs a CLI command of this binary; returns its single line of output.
async fn cli(
    exe: &Path,
    workspace: &Workspace,
    database_url: &str,
    args: &[&str],
) -> Result<String, BenchError> {
    let what = format!("rollcall {}", args.join(" "));
    let out = Command::new(exe)
        .arg("--data-dir")
        .arg(workspace.dir())
        .arg("--master-key-file")
        .arg(workspace.master_key_file())
        .arg("--database-url")
        .arg(database_url)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| BenchError::Setup(format!("cannot run `{what}`: {e}")))?;
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if !out.status.success() || stdout.is_empty() || stdout.contains('\n') {
        return Err(BenchError::Setup(format!(
            "`{what}` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(stdout)
}

/// The server under test.
#[derive(Debug)]
pub struct Server {
    child: Child,
    pid: u32,
    base_url: String,
}

impl Server {
    /// Starts `rollcall serve` on a free loopback port and waits until `/healthz` answers.
    pub async fn start(
        exe: &Path,
        workspace: &Workspace,
        database_url: &str,
    ) -> Result<Server, BenchError> {
        let port = free_port()?;
        let log = std::fs::File::create(workspace.log_path())
            .map_err(|e| BenchError::Setup(format!("cannot create the server's log: {e}")))?;
        let child = Command::new(exe)
            .arg("--data-dir")
            .arg(workspace.dir())
            .arg("--master-key-file")
            .arg(workspace.master_key_file())
            .arg("--database-url")
            .arg(database_url)
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            // Also on the error paths and if the benchmark itself is interrupted.
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| BenchError::Setup(format!("cannot start the server: {e}")))?;
        let pid = child
            .id()
            .ok_or_else(|| BenchError::Setup("the server exited at once".into()))?;
        let mut server = Server {
            child,
            pid,
            base_url: format!("http://127.0.0.1:{port}"),
        };
        server
            .wait_ready()
            .await
            .map_err(|e| with_log(e, workspace))?;
        Ok(server)
    }

    async fn wait_ready(&mut self) -> Result<(), BenchError> {
        let probe = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| BenchError::Setup(format!("cannot build an HTTP client: {e}")))?;
        let url = format!("{}/healthz", self.base_url);
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(BenchError::Setup(format!(
                    "the server exited during start-up ({status})"
                )));
            }
            if let Ok(r) = probe.get(&url).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(BenchError::Setup(format!(
                    "the server did not answer {url} within {} s",
                    START_TIMEOUT.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// `VmHWM`: the peak resident set size so far, in MiB.
    pub fn peak_rss_mib(&self) -> Option<f64> {
        proc_status_kib(self.pid, "VmHWM").map(|k| k as f64 / 1024.0)
    }

    /// `VmRSS`: the resident set size now, in MiB.
    pub fn rss_mib(&self) -> Option<f64> {
        proc_status_kib(self.pid, "VmRSS").map(|k| k as f64 / 1024.0)
    }

    /// User plus system CPU time used by the server so far.
    pub fn cpu_time(&self) -> Option<Duration> {
        cpu_time(self.pid)
    }

    /// SIGTERM (a graceful shutdown), then SIGKILL if it has not exited within 15 s.
    pub async fn stop(mut self) -> Result<(), BenchError> {
        // Without `unsafe` there is no kill(2); the `kill` utility sends the signal.
        let sent = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await
            .is_ok_and(|s| s.success());
        if sent
            && let Ok(Ok(status)) =
                tokio::time::timeout(Duration::from_secs(15), self.child.wait()).await
        {
            return if status.success() {
                Ok(())
            } else {
                Err(BenchError::Setup(format!(
                    "the server exited with {status} on SIGTERM"
                )))
            };
        }
        self.child
            .kill()
            .await
            .map_err(|e| BenchError::Setup(format!("cannot stop the server: {e}")))
    }
}

/// A port the kernel says is free now (the server binds it a moment later).
fn free_port() -> Result<u16, BenchError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| BenchError::Setup(format!("cannot find a free port: {e}")))
}

/// A `Key:   1234 kB` line of `/proc/<pid>/status`.
fn proc_status_kib(pid: u32, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// utime + stime of `/proc/<pid>/stat`, in clock ticks of 1/100 s (Linux's USER_HZ).
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; fields after it are plain.
    let after_name = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of the line are utime and stime; `fields[0]` is field 3.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

/// CPU time the whole machine spent busy (all cores, all processes) since boot: the
/// `cpu` line of `/proc/stat` without idle and iowait, in ticks of 1/100 s.
pub fn machine_busy_time() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    let busy: u64 = ticks
        .iter()
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, t)| t)
        .sum();
    Some(Duration::from_millis(busy * 10))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pg_urls_lose_their_database_and_keep_their_query() {
        let s = server_url("postgres://postgres@127.0.0.1:5432").unwrap();
        assert_eq!(
            with_database(&s, "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        let s = server_url("postgresql://u:p@h/postgres?sslmode=disable").unwrap();
        assert_eq!(
            with_database(&s, "x"),
            "postgresql://u:p@h/x?sslmode=disable"
        );
        let s = server_url("postgres://u@h:1/").unwrap();
        assert_eq!(with_database(&s, "db"), "postgres://u@h:1/db");
        assert!(server_url("sqlite:x.db").is_err());
        assert!(server_url("mysql://h").is_err());
    }

    #[test]
    fn reads_this_process_from_proc() {
        let pid = std::process::id();
        assert!(proc_status_kib(pid, "VmHWM").unwrap() > 0);
        assert!(cpu_time(pid).is_some());
        assert!(machine_busy_time().is_some());
        assert_eq!(proc_status_kib(pid, "NoSuchKey"), None);
    }
}
