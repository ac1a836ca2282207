//! Integration tests: the real `server` binary, started on port 0 against a
//! fresh database, once on SQLite and once on PostgreSQL.

// Test and benchmark code: a failed step panics with its reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod account;
mod applications;
mod audit;
mod auth;
mod backups;
mod bulk;
mod email_queue;
mod export;
mod foundation;
mod fresh_sign_in;
mod import;
mod invitations;
mod monitoring;
mod oidc;
mod oidc_request;
mod operations;
mod outages;
mod passkeys;
mod roles;
mod scale;
mod schema;
mod settings;
mod sweep;
mod two_factor;
mod users;
