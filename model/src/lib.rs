//! The reference model and its server.
//!
//! - [`history`]: a user's events as training reads them.
//! - [`simulate`]: simulated user activity with a known cause of purchases.
//! - [`archive`]: the activity archive (a folder or an S3 prefix) read back by user.
//! - [`train`]: examples whose features come from the shared feature spec code, a logistic
//!   regression fitted on them, and its AUC on held-out users.
//! - [`archive_training`]: point-in-time examples from the archive, split in time.
//! - [`backfill`]: feature items migrated to the latest spec version from the archive.
//! - [`artifact`]: the trained model as a file, loaded and scored by the server.
//! - [`server`]: SageMaker's bring-your-own-container contract (`/ping`, `/invocations`) and the
//!   runtime's `/endpoints/{name}/invocations`, so the SDK can call it locally.
//! - [`settings`]: the server's settings from the environment.

pub mod archive;
pub mod archive_training;
pub mod artifact;
pub mod backfill;
pub mod history;
pub mod server;
pub mod settings;
pub mod simulate;
pub mod train;

pub use artifact::Model;
