//! What one shard's consumers sustain. The reference's activity goes through stream-enrichment
//! and feature-updates again, on fresh tables, in batches as deployed, one warm execution
//! environment each (a shard's steady state), with their AWS calls made through fault proxies
//! that answer each call no sooner than a latency model of the service in a region says
//! ([`emulator::latency`]): DynamoDB and SQS in front of the emulator, Kinesis in front of a
//! stand-in that keeps the enriched records (the emulator itself takes about 1.5 s per 100
//! records, far slower than Kinesis). Handler time per batch, median and p99, is what a batch
//! of the shard takes; records per second per shard follow from it (the cost report divides).

use std::collections::BTreeMap;

use emulator::fault_proxy::FaultProxy;
use emulator::latency::LatencyModel;
use emulator::resources::Resources;
use serde::Serialize;
use stack::Stack;

use crate::workload::{
    CapturedStream, CountedClients, Environments, FunctionWork, WorkloadError, consumers_through,
};

/// The proxies' seed: the same draws on every run.
const LATENCY_SEED: u64 = 20_261_206;

#[derive(Debug, Clone, Serialize)]
pub struct ThroughputReport {
    pub description: String,
    pub latency_model: LatencyModel,
    /// Per consumer: batches, records, handler time per batch (median and p99) with the model.
    pub functions: BTreeMap<String, FunctionWork>,
    /// Calls the proxies answered with the model's latency: every call the consumers made.
    pub calls_modelled: u64,
}

/// Runs `activity` through both consumers on `resources` with `model` in front of `endpoint`.
pub async fn measure(
    stack: &Stack,
    endpoint: &str,
    resources: &Resources,
    activity: &[Vec<u8>],
    model: LatencyModel,
) -> Result<ThroughputReport, WorkloadError> {
    let proxy = |upstream: String, name: &'static str| {
        let model = model.clone();
        async move {
            let proxy = FaultProxy::start(name, &upstream, LATENCY_SEED)
                .await
                .map_err(|error| WorkloadError::Setup(format!("the {name} proxy: {error}")))?;
            proxy.set_latency(Some(model));
            Ok::<_, WorkloadError>(proxy)
        }
    };
    let services = proxy(endpoint.to_owned(), "throughput").await?;
    let captured = CapturedStream::start().await;
    let stream = proxy(captured.endpoint.clone(), "throughput-kinesis").await?;
    let clients = CountedClients::new(&services.url);
    let kinesis = aws_sdk_kinesis::Client::from_conf(
        clients
            .kinesis
            .config()
            .to_builder()
            .endpoint_url(&stream.url)
            .build(),
    );
    let functions = consumers_through(
        stack,
        &clients,
        resources,
        activity,
        Environments::One,
        &captured,
        kinesis,
    )
    .await?;
    let calls_modelled = services.counts().requests + stream.counts().requests;
    services.stop();
    stream.stop();
    Ok(ThroughputReport {
        description: format!(
            "the reference workload's {} activity records through both consumers, one warm environment each, with every DynamoDB, Kinesis and SQS call answered no sooner than the latency model draws",
            activity.len()
        ),
        latency_model: model,
        functions,
        calls_modelled,
    })
}
