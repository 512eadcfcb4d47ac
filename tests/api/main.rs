//! API tests: a real server over real HTTP, on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod admin;
mod bulk;
mod case_folding;
mod cli;
mod conformance;
mod cursors;
mod durability;
mod effects;
mod errors;
mod etags;
mod filter_sql;
mod filters;
mod harness;
mod indexes;
mod large_groups;
mod outbox;
mod patch;
mod peers;
mod rate_limits;
mod reads;
mod refusals;
mod replay;
mod seats;
mod secrets_at_rest;
mod sso;
mod store_rules;
mod users;
mod writes;
