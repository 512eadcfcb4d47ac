//! The two databases a test runs on, a fresh database of the test's own on either, and
//! the one macro that runs a test on both.

use rollcall::store::Store;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The set-up of a test that builds what it needs itself (a server process, a database
/// it seeds before the server starts ...): just the backend.
pub async fn backend(backend: Backend) -> Backend {
    backend
}

/// The PostgreSQL server tests use (trust auth); each test gets a database of its own.
pub fn pg_admin_url() -> String {
    std::env::var("ROLLCALL_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// Drops the test's PostgreSQL database when the test ends.
pub struct PgDatabase {
    pub name: String,
}

impl PgDatabase {
    pub async fn create() -> PgDatabase {
        let name = format!("rollcall_test_{}", uuid::Uuid::new_v4().simple());
        let admin = Store::connect(&format!("{}/postgres", pg_admin_url()))
            .await
            .expect("PostgreSQL must be running at 127.0.0.1:5432 (see .ci/run)");
        admin
            .execute_raw(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        admin.close().await;
        PgDatabase { name }
    }

    pub fn url(&self) -> String {
        format!("{}/{}", pg_admin_url(), self.name)
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside the test's runtime; a thread with its own runtime can block.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(admin) = Store::connect(&format!("{}/postgres", pg_admin_url())).await {
                    let _ = admin
                        .execute_raw(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                    admin.close().await;
                }
            });
        })
        .join();
    }
}

/// A data directory and an empty database of the test's own: the SQLite file in the
/// directory, or a PostgreSQL database (dropped with the returned guard); and its URL.
pub async fn fresh_database(backend: Backend) -> (tempfile::TempDir, Option<PgDatabase>, String) {
    let dir = tempfile::tempdir().unwrap();
    let pg = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(PgDatabase::create().await),
    };
    let url = match &pg {
        Some(db) => db.url(),
        None => format!("sqlite:{}", dir.path().join("rollcall.db").display()),
    };
    (dir, pg, url)
}

/// Held for the whole of a test that loads both cores for seconds (thousands of users
/// seeded, a 10,000-member group, server processes killed mid-delivery): such tests run
/// one at a time, so none of them starves another's timing-sensitive step. The suite's
/// second thread goes on with light tests meanwhile.
pub async fn heavy() -> tokio::sync::SemaphorePermit<'static> {
    static HEAVY: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);
    HEAVY.acquire().await.unwrap()
}

/// Generates a `#[tokio::test]` per listed `async fn(T)` and backend, in the modules
/// `sqlite` and `postgres` of the calling module (so `cargo test sqlite::` picks one
/// backend and a test keeps its function's name):
///
/// - `both_backends!(a, b)`: each gets a [`TestApp`](super::TestApp) from
///   [`spawn_app`](super::spawn_app);
/// - `both_backends!(setup = crate::path::to::f; a, b)`: each gets what
///   `f(backend).await` returns (the path is the crate's, since the tests are generated
///   in modules of their own): an option set over
///   [`TestApp::builder`](super::TestApp::builder) such as
///   [`spawn_fast_outbox`](super::spawn_fast_outbox), a fixture such as the outbox's
///   `Db::new`, or [`backend`] for a test that builds everything itself;
/// - `both_backends!(sqlite_only, setup = f; a, b)`: as above on SQLite alone, for checks
///   that touch no database beyond the set-up.
#[macro_export]
macro_rules! both_backends {
    (@on $module:ident $backend:ident [$setup:path] $($name:ident),*) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($setup($crate::harness::Backend::$backend).await).await
                }
            )*
        }
    };
    (sqlite_only, setup = $setup:path; $($name:ident),* $(,)?) => {
        $crate::both_backends!(@on sqlite Sqlite [$setup] $($name),*);
    };
    (setup = $setup:path; $($name:ident),* $(,)?) => {
        $crate::both_backends!(@on sqlite Sqlite [$setup] $($name),*);
        $crate::both_backends!(@on postgres Postgres [$setup] $($name),*);
    };
    ($($name:ident),* $(,)?) => {
        $crate::both_backends!(@on sqlite Sqlite [$crate::harness::spawn_app] $($name),*);
        $crate::both_backends!(@on postgres Postgres [$crate::harness::spawn_app] $($name),*);
    };
}
