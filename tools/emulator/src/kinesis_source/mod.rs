//! Lambda's Kinesis event source mapping, emulated with the manifest's settings.
//!
//! - **Shards and resharding** (this module): the stream's shards are listed again every second;
//!   a shard is read once every parent it has is drained (a split's one parent, a merge's two),
//!   so each partition key's records reach the function in stream order across a reshard, as
//!   Lambda does it. A closed shard's poller ends once it has read and processed everything the
//!   shard holds. Shards there at the start are read from the starting position; shards that
//!   appear later (children) from their first record.
//! - **Reading and batching** ([`poller`]): one poller per shard reads it and hands each record
//!   to one of `parallelization_factor` lanes by its partition key; each lane gathers up to
//!   `batch_size` records or what arrived within `maximum_batching_window_seconds` and invokes
//!   the function, one batch at a time, so batches of one shard run side by side while each
//!   key's records stay in order.
//! - **Retries and giving up** ([`poller`]): a partial batch response (`ReportBatchItemFailures`)
//!   naming a sequence number is done up to it and retried from it; an invocation that fails (or
//!   answers something Lambda reads as a complete failure) retries the whole batch, split in two
//!   first with `bisect_batch_on_function_error`; after `maximum_retry_attempts` retries, or
//!   once the oldest record is older than `maximum_record_age_seconds`, a pointer to the batch
//!   (shard, sequence range) goes to the on-failure queue and the lane moves on.
//! - **A check on all of it** ([`order`]): every record done is checked against its key's last
//!   one; the count of those out of order is in the source's stats.

pub mod event;
pub mod lineage;
pub mod order;
mod poller;

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use aws_sdk_kinesis::types::ShardIteratorType;
use stack::{StartingPosition, StreamSourceSettings};
use tokio::task::{JoinHandle, JoinSet};

use crate::functions::FunctionPool;
use crate::kinesis_source::lineage::{Lineage, ShardInfo};
use crate::kinesis_source::poller::ShardPoller;
use crate::logs::LogSink;
use crate::resources::Queue;
use crate::sqs_source::EventSourceStats;

/// How often the shards are listed again: Lambda finds a reshard's children within seconds.
const SHARD_DISCOVERY: Duration = Duration::from_secs(1);

pub struct StreamSource {
    pub function: String,
    pub pool: Arc<FunctionPool>,
    pub stream_name: String,
    pub batch_size: usize,
    pub batching_window: Duration,
    pub report_batch_item_failures: bool,
    pub settings: StreamSourceSettings,
    pub on_failure: Option<Queue>,
    pub region: String,
    pub kinesis: aws_sdk_kinesis::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub logs: Arc<LogSink>,
    pub stats: Arc<EventSourceStats>,
}

impl StreamSource {
    fn component(&self) -> String {
        format!("{}<-{}", self.function, self.stream_name)
    }

    async fn list_shards(&self) -> Result<Lineage, String> {
        let shards = lineage::list_shards(&self.kinesis, &self.stream_name).await?;
        Ok(Lineage::new(shards.iter().map(ShardInfo::of)))
    }
}

/// Starts the source: it reads the stream's shards, following their lineage, until aborted.
pub async fn start(source: Arc<StreamSource>) -> Result<Vec<JoinHandle<()>>, String> {
    let summary = source
        .kinesis
        .describe_stream_summary()
        .stream_name(&source.stream_name)
        .send()
        .await
        .map_err(|error| {
            format!(
                "DescribeStreamSummary {}: {}",
                source.stream_name,
                aws_sdk_kinesis::error::DisplayErrorContext(error)
            )
        })?;
    let stream_arn = summary
        .stream_description_summary()
        .map(|summary| summary.stream_arn().to_owned())
        .unwrap_or_default();
    let lineage = source.list_shards().await?;
    let coordinator = Coordinator {
        source,
        stream_arn,
        lineage: Arc::new(RwLock::new(lineage)),
    };
    Ok(vec![tokio::spawn(coordinator.run())])
}

/// Starts each shard's poller when its parents are drained, and keeps the lineage current.
struct Coordinator {
    source: Arc<StreamSource>,
    stream_arn: String,
    lineage: Arc<RwLock<Lineage>>,
}

impl Coordinator {
    async fn run(self) {
        let source = &self.source;
        let (present_at_start, closed_at_start): (BTreeSet<String>, BTreeSet<String>) = {
            let lineage = self.lineage.read().expect("never poisoned");
            let ids = lineage.ids().map(str::to_owned).collect::<BTreeSet<_>>();
            let closed = ids
                .iter()
                .filter(|id| lineage.is_closed(id))
                .cloned()
                .collect();
            (ids, closed)
        };
        let mut started = BTreeSet::new();
        let mut drained = BTreeSet::new();
        if source.settings.starting_position == StartingPosition::Latest {
            // Reading from the tip: shards closed before the start hold nothing to read.
            drained.extend(closed_at_start);
        }
        // Dropped when the source is aborted, which aborts every poller with it.
        let mut pollers = JoinSet::new();
        loop {
            let ready = self
                .lineage
                .read()
                .expect("never poisoned")
                .ready(&started, &drained);
            for shard_id in ready {
                let position = if present_at_start.contains(&shard_id) {
                    match source.settings.starting_position {
                        StartingPosition::TrimHorizon => ShardIteratorType::TrimHorizon,
                        StartingPosition::Latest => ShardIteratorType::Latest,
                    }
                } else {
                    ShardIteratorType::TrimHorizon
                };
                started.insert(shard_id.clone());
                source.stats.shards_read.fetch_add(1, Ordering::Relaxed);
                pollers.spawn(
                    ShardPoller {
                        source: Arc::clone(source),
                        shard_id,
                        position,
                        stream_arn: self.stream_arn.clone(),
                        lineage: Arc::clone(&self.lineage),
                        component: source.component(),
                    }
                    .run(),
                );
            }
            tokio::select! {
                Some(finished) = pollers.join_next() => match finished {
                    Ok(shard_id) => {
                        started.remove(&shard_id);
                        drained.insert(shard_id);
                        source.stats.shards_drained.fetch_add(1, Ordering::Relaxed);
                    }
                    // Its children then wait for good: say so.
                    Err(error) => self.log(format!("a shard's poller failed: {error}")),
                },
                () = tokio::time::sleep(SHARD_DISCOVERY) => match source.list_shards().await {
                    Ok(listed) => *self.lineage.write().expect("never poisoned") = listed,
                    Err(error) => self.log(error),
                },
            }
        }
    }

    fn log(&self, line: String) {
        self.source.logs.line(&self.source.component(), &line);
    }
}
