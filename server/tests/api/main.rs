//! Integration tests: the real `server` binary, started on port 0 against a
//! fresh database, once on SQLite and once on PostgreSQL.

mod helpers;

mod account;
mod audit;
mod auth;
mod email_queue;
mod foundation;
mod invitations;
mod roles;
mod scale;
mod schema;
mod sweep;
mod users;
