//! What every batch consumer (SQS, Kinesis) runs: [`init`] (logs, settings, metrics, the SDK's
//! configuration, once) and the runtime loop, [`serve`]: per invocation, the deadline to stop
//! retrying by, the handler, the batch's counts as metrics, the EMF flush.

use std::future::Future;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use crate::clients::{self, ClientSettings};
use crate::config::Env;
use crate::metrics::{Collector, Invocation, Outcome};

/// What a batch function's `main` starts with.
pub struct Init<C> {
    /// The function's settings.
    pub config: C,
    /// The metrics collector, named after the function.
    pub metrics: &'static Collector,
    /// The SDK's configuration, to build the function's clients from.
    pub sdk: aws_config::SdkConfig,
}

/// In order: logs, the function's settings (`settings` reads them; a bad one fails init with
/// its name), the metrics collector named after the function (`AWS_LAMBDA_FUNCTION_NAME`, else
/// `default_name`), the SDK's configuration with the batch consumers' timeouts and retries.
pub async fn init<C, E>(
    default_name: &str,
    settings: impl FnOnce(&Env) -> Result<C, E>,
) -> Result<Init<C>, Error>
where
    E: std::error::Error + Send + Sync + 'static,
{
    crate::telemetry::init();
    let env = Env::process();
    let config = settings(&env)?;
    let function_name: String =
        env.or_default("AWS_LAMBDA_FUNCTION_NAME", default_name.to_owned())?;
    let metrics = crate::metrics::init(&function_name)?;
    let sdk = clients::load(ClientSettings::batch_consumer()).await;
    Ok(Init {
        config,
        metrics,
        sdk,
    })
}

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
