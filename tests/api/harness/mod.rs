//! The one test harness: [`spawn_app`] (and [`TestApp::builder`] for options: clock, SMTP,
//! settings) starts a real server with a fresh database; [`both_backends!`] runs a test on
//! SQLite and on PostgreSQL; typed request helpers and process helpers.
//!
//! - `backends`: [`Backend`], fresh databases, the macro;
//! - `app`: [`TestApp`], its builder and preset option sets;
//! - `requests`: requests and what checks their answers;
//! - `outbox`: waiting until the server's outbox has done its work;
//! - `reads`: the org's state through the store's read functions;
//! - `process`: the `rollcall` binary as a child process;
//! - `admin`: admin tokens and the admin API client ([`TestApp::admin`]).
//!
//! [`both_backends!`]: crate::both_backends

mod admin;
mod app;
mod backends;
mod outbox;
mod process;
mod reads;
mod requests;

pub use admin::*;
pub use app::*;
pub use backends::*;
pub use process::*;
pub use requests::*;
