//! The server under test: the rollcall binary, run as a child process, its data
//! directory, its command line, and what `/proc` says about it.

use super::{BenchError, START_TIMEOUT};
use base64::Engine as _;
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
        let path = workspace.master_key_file();
        write_master_key(&path)
            .map_err(|e| BenchError::Setup(format!("cannot write {}: {e}", path.display())))?;
        Ok(workspace)
    }

    /// The master key file of the servers and commands the benchmark runs.
    pub fn master_key_file(&self) -> PathBuf {
        self.dir.join("master.key")
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

/// A new master key as rollcall reads it: the base64 of 32 random bytes, in a file only
/// this user may read.
fn write_master_key(path: &Path) -> std::io::Result<()> {
    use std::io::Write as _;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(path)?;
    writeln!(
        file,
        "{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    )
}

/// The rollcall binary: `explicit`, else `rollcall` beside this binary (what
/// `cargo build --release --workspace` puts there), else target/release/rollcall under
/// `$CARGO_TARGET_DIR` or the workspace.
pub fn locate(explicit: Option<&Path>) -> Result<PathBuf, BenchError> {
    if let Some(path) = explicit {
        return if path.is_file() {
            Ok(path.to_path_buf())
        } else {
            Err(BenchError::Usage(format!(
                "--server {}: no such file",
                path.display()
            )))
        };
    }
    let own_dir = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf));
    let target_dir = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from);
    let workspace_target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target");
    candidates(own_dir, target_dir, &workspace_target)
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(|| {
            BenchError::Usage(
                "cannot find the rollcall binary beside rollcall-bench or in target/release: \
                 build it with `cargo build --release --workspace`, or give --server PATH"
                    .into(),
            )
        })
}

/// Where [`locate`] looks, in order.
fn candidates(
    own_dir: Option<PathBuf>,
    target_dir: Option<PathBuf>,
    workspace_target: &Path,
) -> Vec<PathBuf> {
    let in_release = |dir: &Path| dir.join("release").join("rollcall");
    own_dir
        .map(|d| d.join("rollcall"))
        .into_iter()
        .chain(target_dir.as_deref().map(in_release))
        .chain(std::iter::once(in_release(workspace_target)))
        .collect()
}

/// `rollcall --version` of the server binary: `rollcall 0.1.0` gives `0.1.0`.
pub async fn version(exe: &Path) -> Result<String, BenchError> {
    let out = Command::new(exe)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| BenchError::Setup(format!("cannot run {}: {e}", exe.display())))?;
    let text = String::from_utf8_lossy(&out.stdout);
    match text.trim().strip_prefix("rollcall ") {
        Some(v) if out.status.success() => Ok(v.to_owned()),
        _ => Err(BenchError::Setup(format!(
            "{} --version did not say `rollcall VERSION`: is it the rollcall server?",
            exe.display()
        ))),
    }
}

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
    let token = |kind: &'static str, label: &'static str| {
        let org = org.clone();
        async move {
            cli(
                exe,
                workspace,
                database_url,
                &[kind, "create", "--org", &org, "--label", label],
            )
            .await
        }
    };
    Ok((
        token("token", "entra").await?,
        token("admin-token", "bench").await?,
    ))
}

/// Runs a command of the server binary; returns its single line of output.
async fn cli(
    exe: &Path,
    workspace: &Workspace,
    database_url: &str,
    args: &[&str],
) -> Result<String, BenchError> {
    let what = format!("rollcall {}", args.join(" "));
    let out = rollcall(exe, workspace, database_url)
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

/// The server binary on the workspace's data directory, master key and database.
fn rollcall(exe: &Path, workspace: &Workspace, database_url: &str) -> Command {
    let mut cmd = Command::new(exe);
    cmd.arg("--data-dir")
        .arg(workspace.dir())
        .arg("--master-key-file")
        .arg(workspace.master_key_file())
        .arg("--database-url")
        .arg(database_url);
    cmd
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
        let child = rollcall(exe, workspace, database_url)
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
    fn looks_beside_itself_then_in_the_target_directories() {
        let found = candidates(
            Some("/x/release".into()),
            Some("/t".into()),
            Path::new("/w/target"),
        );
        assert_eq!(
            found,
            [
                "/x/release/rollcall",
                "/t/release/rollcall",
                "/w/target/release/rollcall"
            ]
            .map(PathBuf::from)
        );
        assert_eq!(
            candidates(None, None, Path::new("/w/target")),
            [PathBuf::from("/w/target/release/rollcall")]
        );
        let missing = locate(Some(Path::new("/no/such/rollcall"))).unwrap_err();
        assert_eq!(
            missing.to_string(),
            "--server /no/such/rollcall: no such file"
        );
    }

    #[test]
    fn master_keys_are_32_random_bytes_readable_only_by_their_owner() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.key"), dir.path().join("b.key"));
        write_master_key(&a).unwrap();
        write_master_key(&b).unwrap();
        let text = std::fs::read_to_string(&a).unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .unwrap();
        assert_eq!(bytes.len(), 32);
        assert_ne!(text, std::fs::read_to_string(&b).unwrap());
        let mode = std::fs::metadata(&a).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
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
