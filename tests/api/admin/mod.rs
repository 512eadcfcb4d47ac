//! The admin API (`/admin/v1`) as an org admin uses it, on SQLite and PostgreSQL.

mod openapi;
mod rules;
mod teams;
