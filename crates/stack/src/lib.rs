//! The deployment manifest, `infra/stack.json`, as the one description of what is deployed:
//! its model and the checks that refuse an inconsistent one ([`manifest`]), DynamoDB tables
//! created from it ([`tables`]), and the SAM template rendered from it ([`sam`], the
//! `stack sam` command).
//!
//! Nothing here runs in Lambda: the functions read their settings from the environment the
//! templates give them, so a manifest change rebuilds the tools and tests, not the functions.

pub mod manifest;
pub mod sam;
pub mod tables;

pub use manifest::*;
