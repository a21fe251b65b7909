//! How long a batch invocation may work: Lambda's deadline less a margin to answer in, so
//! retries stop in time and failures are reported instead of the invocation being killed.

use std::time::{Duration, SystemTime};

/// Time kept back from the invocation's deadline to answer after the last retry.
pub const MARGIN: Duration = Duration::from_secs(2);

/// The instant work on this invocation must stop: its deadline less [`MARGIN`].
pub fn of(context: &lambda_runtime::Context) -> tokio::time::Instant {
    let remaining = context
        .deadline()
        .duration_since(SystemTime::now())
        .unwrap_or_default()
        .saturating_sub(MARGIN);
    tokio::time::Instant::now() + remaining
}
