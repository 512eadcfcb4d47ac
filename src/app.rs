//! Building and running the server: `App::build(config)` binds the socket (port 0 picks
//! a free one, which is how tests run many servers at once) and `run_until_stopped` serves.

use crate::clock::{Clock, SystemClock, format_timestamp};
use crate::config::Config;
use crate::http::{self, AppParts, AppState};
use crate::outbox::{self, OutboxError};
use crate::provisioning::invitations::Invitations;
use crate::provisioning::{CursorKey, Directory};
use crate::sso::{Sso, session};
use crate::store::{Dialect, SqliteSynchronous, Store, StoreError, postgres_unsafe_settings};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot load the SCIM schemas: {0}")]
    Schemas(String),
    #[error("cannot listen on {address}: {reason}")]
    Listen { address: SocketAddr, reason: String },
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    #[error("cannot set up invitations: {0}")]
    Invitations(String),
    #[error("cannot set up the cursor key: {0}")]
    Cursors(String),
    #[error("cannot set up session signing keys: {0}")]
    Sessions(String),
}

/// A built, bound, not yet serving server.
pub struct App {
    router: axum::Router,
    listener: TcpListener,
    address: SocketAddr,
    store: Store,
    /// Delivers queued emails and webhooks while the server runs.
    outbox: outbox::Worker,
    sso: Sso,
}

impl App {
    /// Connects, migrates, loads schemas and binds, with the real clock.
    pub async fn build(config: Config) -> Result<App, StartError> {
        App::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// As [`App::build`], with a given clock (tests).
    pub async fn build_with_clock(
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> Result<App, StartError> {
        let store = open_store(&config, &format_timestamp(clock.now())).await?;
        warn_unless_durable(&store, config.sqlite_synchronous).await;
        let registry = Arc::new(
            scim::schema::Registry::load().map_err(|e| StartError::Schemas(e.to_string()))?,
        );
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|e| StartError::Listen {
                address: config.listen,
                reason: e.to_string(),
            })?;
        let address = listener.local_addr().map_err(|e| StartError::Listen {
            address: config.listen,
            reason: e.to_string(),
        })?;
        let outbox = outbox::Worker::new(
            store.clone(),
            clock.clone(),
            outbox::Mailer::from_config(&config)?,
            outbox::WorkerOptions {
                poll_interval: config.outbox.poll_interval,
                claim_for: config.outbox.lease,
                destinations: config.outbound.clone(),
                ..outbox::WorkerOptions::default()
            },
        )?;
        let invitations = Invitations::load(
            &store,
            &config.public_base_url(address),
            config.invitation_ttl_days,
            clock.now(),
        )
        .await
        .map_err(|e| StartError::Invitations(e.to_string()))?;
        let cursors = CursorKey::load(&store, clock.now())
            .await
            .map_err(|e| StartError::Cursors(e.to_string()))?;
        let directory = Directory::new(
            store.clone(),
            registry.clone(),
            clock.clone(),
            invitations,
            cursors,
        );
        session::ensure_signing_key(&store, clock.now())
            .await
            .map_err(|e| StartError::Sessions(e.to_string()))?;
        let sessions = session::Sessions::new(
            store.clone(),
            clock.clone(),
            session::SessionSettings {
                issuer: config.public_base_url(address),
                access_ttl_secs: config.access_token_ttl_secs,
                refresh_ttl_secs: session::DEFAULT_REFRESH_TTL_SECS,
            },
        );
        let sso = Sso::new(store.clone(), clock, directory.clone(), sessions)
            .with_outbound(config.outbound.clone())
            .with_public_base_url(&config.public_base_url(address));
        let state = AppState::new(AppParts {
            store: store.clone(),
            sso: sso.clone(),
            directory,
            registry,
            config: Arc::new(config),
        });
        Ok(App {
            router: http::router(state),
            listener,
            address,
            store,
            outbox,
            sso,
        })
    }

    /// Sign-in and sessions over this server's database (tests drive sign-in with it).
    pub fn sso(&self) -> Sso {
        self.sso.clone()
    }

    /// The bound address.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves until `shutdown` completes, then drains requests and closes the database.
    pub async fn run_until_stopped(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        // The worker stops with the server; it finishes the round in flight first.
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let stop = Arc::new(stop);
        let worker = self.outbox;
        let outbox_task = tokio::spawn(async move {
            worker
                .run(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await;
        });
        let stop_on_signal = stop.clone();
        // The peer address feeds the rate limits (`http::rate_limit`).
        let service = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        let result = axum::serve(self.listener, service)
            .with_graceful_shutdown(async move {
                shutdown.await;
                stop_on_signal.send_replace(true);
            })
            .await;
        stop.send_replace(true);
        let _ = outbox_task.await;
        self.store.close().await;
        result
    }
}

/// Connects to the configured database with the master key and migrates it (which also
/// seals secrets still stored in clear), then refolds keys stored by earlier versions
/// (once): what the server and every command start with.
pub async fn open_store(config: &Config, now: &str) -> Result<Store, StoreError> {
    let store = Store::connect_with(config.database_url(), config.sqlite_synchronous)
        .await?
        .with_master_key(config.master_key.clone());
    store.migrate().await?;
    crate::provisioning::fold_keys::refold_keys(&store, now).await?;
    Ok(store)
}

/// Logs a warning when an acknowledged write could be lost to a power cut: SQLite set to
/// `synchronous = normal`, or a PostgreSQL server running with `fsync` or
/// `synchronous_commit` off (rollcall never changes either).
async fn warn_unless_durable(store: &Store, synchronous: SqliteSynchronous) {
    match store.dialect() {
        Dialect::Sqlite => {
            if synchronous != SqliteSynchronous::Full {
                tracing::warn!(
                    sqlite_synchronous = %synchronous,
                    "SQLite commits are not synced to disk one by one: a power cut or an \
                     operating-system crash may undo writes already acknowledged \
                     (--sqlite-synchronous full, the default, prevents it)"
                );
            }
        }
        Dialect::Postgres => {
            let settings = match store.read().await {
                Ok(mut tx) => postgres_unsafe_settings(&mut tx).await,
                Err(e) => Err(e),
            };
            match settings {
                Ok(settings) => {
                    for (name, value) in settings {
                        tracing::warn!(
                            setting = %name,
                            value = %value,
                            "the PostgreSQL server may lose acknowledged commits to a power \
                             cut: rollcall relies on fsync and synchronous_commit being on"
                        );
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not read PostgreSQL's durability settings")
                }
            }
        }
    }
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
