//! Sessions and the request as server functions see it. Before any of it,
//! the middleware (`crate::middleware`) refuses requests addressed to
//! another host and cross-site state changes, and resolves the session.
//!
//! - [`client`](mod@client): where a request came from ([`client_ip`]);
//! - [`store`]: the sessions in the database and their cookie;
//! - [`endpoint`]: what server functions use to reach the request;
//! - [`extract`]: the same proofs for plain axum handlers.

pub mod client;
pub mod endpoint;
pub mod extract;
pub mod store;

pub use client::*;
pub use endpoint::*;
pub use extract::*;
pub use store::*;
