//! The `rollcall` binary as an operator uses it: `org create`, `token create|list|revoke`
//! and `serve`, output meant for scripts on stdout, one clear error line otherwise.

use crate::harness::{Backend, TestApp};
use reqwest::StatusCode;
use secrecy::ExposeSecret as _;
use std::path::Path;
use std::process::{Command, Output};

/// `rollcall ARGS` with a clean environment, run from `dir`.
fn rollcall(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rollcall"));
    cmd.current_dir(dir);
    for var in [
        "ROLLCALL_DATABASE_URL",
        "ROLLCALL_DATA_DIR",
        "ROLLCALL_CONFIG",
        "ROLLCALL_LISTEN",
        "ROLLCALL_PUBLIC_URL",
        "ROLLCALL_MASTER_KEY",
        "ROLLCALL_MASTER_KEY_FILE",
        "ROLLCALL_NEW_MASTER_KEY",
        "ROLLCALL_NEW_MASTER_KEY_FILE",
        "ROLLCALL_LOG_FORMAT",
        "RUST_LOG",
        "RUST_BACKTRACE",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("the rollcall binary runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

/// Asserts success with exactly one line on stdout, and returns it.
fn one_line(out: &Output) -> String {
    assert!(out.status.success(), "failed: {}", stderr(out));
    let text = stdout(out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "expected one line on stdout: {text:?}");
    lines[0].to_owned()
}

/// Asserts a failure reported as one `error: ...` line (clap may add usage hints after
/// it), mentioning `needle`, without a panic or backtrace.
fn clear_failure(out: &Output, needle: &str) -> String {
    let err = stderr(out);
    assert!(
        !out.status.success(),
        "should fail; stdout {:?}",
        stdout(out)
    );
    assert!(
        stdout(out).is_empty(),
        "nothing on stdout when failing: {:?}",
        stdout(out)
    );
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
    let first = err.lines().next().unwrap_or_default().to_owned();
    assert!(
        first.starts_with("error: "),
        "first line should be the error: {err:?}"
    );
    assert!(
        first.contains(needle),
        "{first:?} should mention {needle:?}"
    );
    assert_eq!(
        err.lines().filter(|l| l.starts_with("error")).count(),
        1,
        "one error line: {err:?}"
    );
    first
}

fn is_uuid(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn org_and_token_from_the_cli_authenticate_against_serve() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap();

    let org_id = one_line(&run(rollcall(dir.path()).args([
        "--data-dir",
        data_arg,
        "org",
        "create",
        "Acme",
        "--seats",
        "5",
    ])));
    assert!(
        is_uuid(&org_id),
        "org create prints only the id: {org_id:?}"
    );
    assert!(
        data.join("rollcall.db").is_file(),
        "SQLite lives in the data dir"
    );

    let token = one_line(&run(rollcall(dir.path()).args([
        "--data-dir",
        data_arg,
        "token",
        "create",
        "--org",
        "Acme",
        "--label",
        "okta",
    ])));
    assert!(
        token.starts_with("rcs_") && !token.contains(char::is_whitespace),
        "{token:?}"
    );

    let server = crate::harness::serve_process(&mut rollcall(dir.path()), &data, &[]);
    rollcall::tls::ensure_crypto_provider();
    let client = reqwest::Client::new();
    let users = format!("http://{}/scim/v2/Users", server.address);
    let r = client.get(&users).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = client
        .post(&users)
        .bearer_auth(&token)
        .header("Content-Type", "application/scim+json")
        .body(r#"{"userName": "cli@example.com"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);

    // The token is listed (never its secret) and can be revoked while the server runs.
    let listed = stdout(&run(rollcall(dir.path()).args([
        "--data-dir",
        data_arg,
        "token",
        "list",
        "--org",
        "Acme",
    ])));
    assert!(
        !listed.contains(&token),
        "token list must not print secrets"
    );
    let line = listed
        .lines()
        .find(|l| l.contains("okta"))
        .unwrap_or_else(|| panic!("okta token not listed: {listed:?}"));
    assert!(line.contains("active"), "{line}");
    let token_id = line.split('\t').next().unwrap().to_owned();
    assert!(is_uuid(&token_id), "{line}");

    let out =
        run(rollcall(dir.path()).args(["--data-dir", data_arg, "token", "revoke", &token_id]));
    assert!(out.status.success(), "{}", stderr(&out));
    let r = client.get(&users).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    let listed = stdout(&run(rollcall(dir.path()).args([
        "--data-dir",
        data_arg,
        "token",
        "list",
        "--org",
        "Acme",
    ])));
    assert!(listed.contains("revoked"), "{listed:?}");
    // Revoking twice is an error, not a silent success.
    let out =
        run(rollcall(dir.path()).args(["--data-dir", data_arg, "token", "revoke", &token_id]));
    clear_failure(&out, &token_id);
    drop(server);
}

/// The CLI against the database of a running server (SQLite through its data dir,
/// PostgreSQL through its URL): the server sees what the CLI does at once.
async fn cli_tokens_work_against_a_running_server(app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let db = app.database_url.as_str();
    let cli = |args: &[&str]| {
        let mut cmd = rollcall(dir.path());
        match app.backend {
            // The embedded default: the server's data dir is all the CLI needs.
            Backend::Sqlite => cmd.arg("--data-dir").arg(app.data_dir.path()),
            Backend::Postgres => cmd
                .args(["--database-url", db])
                .env("ROLLCALL_MASTER_KEY", app.master_key_text.expose_secret()),
        };
        run(cmd.args(args))
    };
    let org_id = one_line(&cli(&["org", "create", "Initech"]));
    assert!(is_uuid(&org_id));
    let token = one_line(&cli(&[
        "token", "create", "--org", &org_id, "--label", "entra",
    ]));
    let r = app
        .request_with(reqwest::Method::GET, "/Users", None, Some(&token), &[])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body["totalResults"], 0,
        "Initech sees none of Acme's users"
    );

    clear_failure(&cli(&["org", "create", "Initech"]), "already exists");
    clear_failure(&cli(&["org", "create", "INITECH"]), "already exists");
    clear_failure(&cli(&["token", "create", "--org", "Nobody"]), "Nobody");

    let listed = stdout(&cli(&["token", "list", "--org", "Initech"]));
    let token_id = listed
        .lines()
        .next()
        .unwrap()
        .split('\t')
        .next()
        .unwrap()
        .to_owned();
    assert!(cli(&["token", "revoke", &token_id]).status.success());
    let r = app
        .request_with(reqwest::Method::GET, "/Users", None, Some(&token), &[])
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

crate::both_backends!(cli_tokens_work_against_a_running_server);

/// Asserts stderr is exactly one line (besides blank ones), `error: ...` naming `needle`.
fn exactly_one_line(out: &Output, needle: &str) {
    clear_failure(out, needle);
    let err = stderr(out);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line on stderr, got {err:?}");
}

#[test]
fn bad_arguments_fail_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let cli = |args: &[&str]| run(rollcall(dir.path()).args(["--data-dir", data]).args(args));
    exactly_one_line(&cli(&["org", "create"]), "NAME");
    exactly_one_line(&cli(&["frobnicate"]), "frobnicate");
    exactly_one_line(&cli(&["org", "create", "X", "--seats", "many"]), "many");
    exactly_one_line(&cli(&["token", "create"]), "--org");
}

#[test]
fn bad_values_fail_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let cli = |args: &[&str]| run(rollcall(dir.path()).args(["--data-dir", data]).args(args));
    exactly_one_line(&cli(&["serve", "--listen", "nowhere"]), "nowhere");
    exactly_one_line(&cli(&["org", "create", "  "]), "empty");
    exactly_one_line(&cli(&["token", "revoke", "no-such-token"]), "no-such-token");
    exactly_one_line(&cli(&["token", "list", "--org", "Nobody"]), "Nobody");
}

#[test]
fn unsupported_or_unreachable_databases_fail_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    // A master key, so that PostgreSQL gets as far as connecting.
    let key = crate::harness::new_master_key();
    for (url, needle) in [
        ("mysql://root:hunter2@db/x", "database URL"),
        ("postgres://postgres@127.0.0.1:1/x", "cannot connect"),
    ] {
        let cli = |args: &[&str]| {
            run(rollcall(dir.path())
                .env("ROLLCALL_MASTER_KEY", key.expose_secret())
                .args(["--data-dir", data, "--database-url", url])
                .args(args))
        };
        let out = cli(&["org", "create", "X"]);
        exactly_one_line(&out, needle);
        assert!(
            !stderr(&out).contains("hunter2"),
            "password leaked: {}",
            stderr(&out)
        );
        // `serve` says the same, and does not hang.
        let out = cli(&["serve", "--listen", "127.0.0.1:0"]);
        let line = clear_failure(&out, needle);
        assert!(!line.contains("hunter2"), "password leaked: {line}");
    }
}
