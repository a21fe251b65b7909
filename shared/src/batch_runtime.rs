//! The runtime loop every batch consumer (SQS, Kinesis) runs after [`crate::init::init`]: per
//! invocation, the deadline to stop retrying by, the handler, the batch's counts as metrics, the
//! EMF flush.

use std::future::Future;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use crate::metrics::{Collector, Invocation, Outcome};

/// What a batch handler reports about one batch.
pub trait BatchMetrics {
    /// Adds the batch's counts to the invocation's metrics.
    fn record(&self, invocation: &Invocation);
    /// Records reported back for redelivery.
    fn failed(&self) -> usize;
}

/// Serves batches with `handle(payload, deadline)` until the runtime stops; `deadline` is
/// Lambda's less [`crate::deadline::MARGIN`].
pub async fn serve<E, R, M, H, F>(metrics: &'static Collector, handle: H) -> Result<(), Error>
where
    E: DeserializeOwned + Send + 'static,
    R: Serialize + Send + 'static,
    M: BatchMetrics,
    H: Fn(E, Instant) -> F,
    F: Future<Output = (R, M)>,
{
    let handle = &handle;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<E>| async move {
        let deadline = crate::deadline::of(&event.context);
        let invocation = Invocation::begin();
        let (response, report) = handle(event.payload, deadline).await;
        report.record(&invocation);
        invocation.finish(Outcome::from_failures(report.failed()));
        crate::metrics::flush(metrics, std::io::stdout());
        Ok::<_, Error>(response)
    }))
    .await
}
