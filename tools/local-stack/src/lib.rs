//! The local stack: the whole system on one machine, from the same definitions it deploys from.
//!
//! [`stack::RunningStack::start`] starts (or joins) the AWS emulator, creates the manifest's
//! resources, runs every function as its real Lambda binary behind a local Runtime API
//! ([`functions`], [`runtime_api`]) and serves the HTTP API as API Gateway would ([`gateway`]).
//! [`demo`] drives a workload through it and checks the outcome.

pub mod api_tests;
pub mod bad_input;
mod child;
pub mod demo;
pub mod demo_events;
pub mod demo_features;
pub mod demo_predictions;
pub mod emulator;
pub mod event_sources;
pub mod exactly_once;
pub mod fault_proxy;
pub mod functions;
pub mod fuzz;
pub mod gateway;
pub mod http_client;
pub mod http_server;
pub mod isolation;
pub mod load;
pub mod logs;
pub mod memory_workloads;
pub mod model_endpoint;
pub mod reliability;
pub mod resources;
pub mod routes;
pub mod runtime_api;
pub mod stack;
pub mod stream_sources;
pub mod token;
