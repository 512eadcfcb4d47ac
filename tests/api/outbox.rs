//! The transactional outbox against real peers: an SMTP server (aiosmtpd, installed by
//! .ci/run), an HTTP receiver that checks Standard Webhooks signatures with the
//! `standardwebhooks` crate, and the `rollcall` binary killed with SIGKILL mid-delivery.
//!
//! These tests drive their own [`Worker`](rollcall::outbox::Worker)s on a bare migrated
//! database rather than `spawn_app`, whose server runs a worker of its own that would
//! race the test's (and deliver to files).

mod crash;
mod destinations;
pub mod fixture;
mod lease;
mod mail;
pub mod receiver;
pub mod sink;
mod webhooks;
