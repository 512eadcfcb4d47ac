//! The SCIM 2.0 protocol (RFC 7643, RFC 7644) as rollcall speaks it: filter and PATCH-path
//! grammars, the PATCH engine, schemas and validation, attribute projection. Pure: no I/O.

pub mod discovery;
pub mod error;
pub mod filter;
#[cfg(test)]
mod fuzz;
pub mod limits;
pub mod patch;
pub mod path;
pub mod project;
pub mod resource;
pub mod schema;
pub mod text;

pub use error::ScimError;
