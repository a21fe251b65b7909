//! The reference model and its server.
//!
//! - [`simulate`]: simulated user activity with a known cause of purchases.
//! - [`train`]: examples whose features come from the shared feature spec code, a logistic
//!   regression fitted on them, and its AUC on held-out users.
//! - [`artifact`]: the trained model as a file, loaded and scored by the server.
//! - [`server`]: SageMaker's bring-your-own-container contract (`/ping`, `/invocations`) and the
//!   runtime's `/endpoints/{name}/invocations`, so the SDK can call it locally.
//! - [`settings`]: the server's settings from the environment.

pub mod artifact;
pub mod server;
pub mod settings;
pub mod simulate;
pub mod train;

pub use artifact::Model;
