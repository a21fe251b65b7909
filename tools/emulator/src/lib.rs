//! The local stack's emulator: the whole system on one machine, from the same definitions it
//! deploys from.
//!
//! [`running_stack::RunningStack::start`] starts (or joins) the AWS emulator ([`moto`]),
//! creates the manifest's resources ([`resources`]), runs every function as its real Lambda
//! binary behind a local Runtime API ([`functions`], [`runtime_api`]), feeds them as Lambda's
//! event source mappings would ([`sqs_source`], [`kinesis_source`]), serves the HTTP API as API
//! Gateway would ([`gateway`], [`routes`], [`token`]) and hosts the model ([`model_endpoint`]);
//! writes the archives as Firehose would ([`archive_delivery`]); [`fault_proxy`] can stand
//! between the functions and the AWS emulator.

pub mod archive_delivery;
mod child;
pub mod fault_proxy;
pub mod functions;
pub mod gateway;
pub mod http_client;
pub mod http_server;
pub mod kinesis_source;
pub mod latency;
pub mod logs;
pub mod model_endpoint;
pub mod moto;
pub mod resources;
pub mod routes;
pub mod running_stack;
pub mod runtime_api;
pub mod sqs_source;
pub mod token;
