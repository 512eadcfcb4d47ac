//! rollcall: a SCIM 2.0 provisioning server with SSO hooks.
//!
//! Layers point one way: `http` → `provisioning` → `store`; `scim` (the protocol crate)
//! is pure and used by all.

pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod domain;
pub mod http;
pub mod outbound;
pub mod outbox;
pub mod private_files;
pub mod provisioning;
pub mod secrets;
pub mod sso;
pub mod store;
pub mod telemetry;
pub mod tls;
