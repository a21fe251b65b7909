//! Todo CRUD API: API Gateway HTTP API (payload 2.0) → Lambda → DynamoDB.
//!
//! Every task belongs to the caller named by the JWT authorizer's `sub` claim and lives in
//! that owner's partition of the tasks table, so isolation is a property of the key, not of a
//! filter: no request can name another owner's partition.
//!
//! Pure parts (routing, validation, cursors, preconditions, identity) are plain functions;
//! [`store`] is the only module that talks to DynamoDB; [`handler`] glues them together.

pub mod config;
pub mod cursor;
pub mod handler;
pub mod identity;
pub mod list_query;
pub mod model;
pub mod preconditions;
pub mod routes;
pub mod store;

pub use config::Config;
pub use handler::{App, handle};
