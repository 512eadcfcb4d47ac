//! API tests: a real server over real HTTP, on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;
mod users;
mod filters;
mod support;
mod indexes;
mod conformance;
mod patch;
mod replay;
mod reads;
mod etags;
mod writes;
