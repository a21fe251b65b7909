//! The event source emulations against the emulator. SQS: batches, partial batch responses,
//! visibility timeout and redrive to the dead-letter queue after the maximum receives. Kinesis:
//! retry from the first failed record, bisecting on function errors, and giving up after the
//! maximum retries with a pointer on the on-failure queue; shard lineage across splits, merges
//! and shard count updates; concurrent batches of one shard with a parallelization factor.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::QueueAttributeName;
use emulator::functions::{FunctionPool, FunctionSettings};
use emulator::kinesis_source::{self, StreamSource, lineage};
use emulator::logs::LogSink;
use emulator::resources::{Queue, queue_arn};
use emulator::sqs_source::{self, EventSourceStats, QueueSource};
use shared::clients::ClientSettings;
use stack::{EventSourceSpec, StartingPosition, StreamSourceSettings};

fn fixture() -> PathBuf {
    let deps = std::env::current_exe().unwrap();
    deps.parent()
        .and_then(|d| d.parent())
        .unwrap()
        .join("examples/misbehaving-function")
}

async fn queue(sqs: &aws_sdk_sqs::Client, name: &str, redrive: Option<(&Queue, u32)>) -> Queue {
    let mut request = sqs
        .create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::VisibilityTimeout, "2");
    if let Some((dlq, max_receives)) = redrive {
        request = request.attributes(
            QueueAttributeName::RedrivePolicy,
            serde_json::json!({"deadLetterTargetArn": dlq.arn, "maxReceiveCount": max_receives})
                .to_string(),
        );
    }
    let url = request.send().await.unwrap().queue_url.unwrap();
    let arn = queue_arn(sqs, &url).await.unwrap();
    Queue {
        name: name.to_owned(),
        url,
        arn,
    }
}

/// The misbehaving fixture as function `key`, with its log under the test's temporary folder.
async fn start_fixture(key: &str, suffix: &str) -> (Arc<FunctionPool>, Arc<LogSink>) {
    start_fixtures(key, suffix, 1).await
}

/// The fixture with `instances` execution environments.
async fn start_fixtures(
    key: &str,
    suffix: &str,
    instances: usize,
) -> (Arc<FunctionPool>, Arc<LogSink>) {
    let log = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("esm-{key}-{suffix}.log"));
    let logs = LogSink::create(&log, false).unwrap();
    let pool = FunctionPool::start(
        FunctionSettings {
            key: key.into(),
            deployed_name: format!("test-{key}"),
            binary: fixture(),
            environment: Vec::new(),
            memory_mb: 128,
            timeout: Duration::from_secs(5),
            log_format: "JSON",
            region: "us-east-1".into(),
            instances,
        },
        Arc::clone(&logs),
    )
    .await
    .unwrap();
    (Arc::new(pool), logs)
}

async fn depth(sqs: &aws_sdk_sqs::Client, queue: &Queue) -> (usize, usize) {
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&queue.url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap();
    let attributes = attributes.attributes().unwrap();
    let number = |name| attributes[&name].parse::<usize>().unwrap();
    (
        number(QueueAttributeName::ApproximateNumberOfMessages),
        number(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_items_come_back_and_end_in_the_dead_letter_queue() {
    let sdk = testkit::emulator::sdk_config(ClientSettings::batch_consumer()).await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let suffix = ulid::Ulid::new().to_string().to_lowercase();
    let dlq = queue(&sqs, &format!("esm-dlq-{suffix}"), None).await;
    let source_queue = queue(&sqs, &format!("esm-{suffix}"), Some((&dlq, 2))).await;
    for body in ["ok-1", "fail", "ok-2"] {
        sqs.send_message()
            .queue_url(&source_queue.url)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }

    let (pool, logs) = start_fixture("consumer", &suffix).await;
    let stats = Arc::new(EventSourceStats::default());
    let pollers = sqs_source::start(
        Arc::new(QueueSource {
            function: "consumer".into(),
            pool: Arc::clone(&pool),
            queue: source_queue.clone(),
            spec: EventSourceSpec {
                queue: Some("source".into()),
                batch_size: 10,
                maximum_batching_window_seconds: 0,
                report_batch_item_failures: true,
                ..EventSourceSpec::default()
            },
            region: "us-east-1".into(),
            sqs: sqs.clone(),
            logs: Arc::clone(&logs),
            stats: Arc::clone(&stats),
        }),
        1,
    );

    // "fail" is received twice (visibility 2 s), then SQS moves it to the dead-letter queue.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let in_dlq = depth(&sqs, &dlq).await.0;
        if in_dlq == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no redrive to the DLQ; log:\n{}",
            logs.tail(30)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for poller in pollers {
        poller.abort();
    }
    assert_eq!(
        depth(&sqs, &source_queue).await,
        (0, 0),
        "the processed messages were deleted"
    );
    let moved = sqs
        .receive_message()
        .queue_url(&dlq.url)
        .send()
        .await
        .unwrap();
    assert_eq!(moved.messages()[0].body(), Some("fail"));
    assert_eq!(
        stats.failed.load(Ordering::Relaxed),
        2,
        "reported failed on each of its two receives"
    );
    assert!(
        stats.messages.load(Ordering::Relaxed) >= 4,
        "3 messages, the failed one twice"
    );
    pool.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_batches_retry_from_the_failed_record_bisect_and_give_up_to_the_destination() {
    let sdk = testkit::emulator::sdk_config(ClientSettings::batch_consumer()).await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let kinesis = aws_sdk_kinesis::Client::new(&sdk);
    let suffix = ulid::Ulid::new().to_string().to_lowercase();
    let failures = queue(&sqs, &format!("esm-failures-{suffix}"), None).await;
    let stream = testkit::emulator::stream(&kinesis, "esm-stream").await;
    let mut sequences = Vec::new();
    for data in ["ok-1", "fail", "ok-2", "crash", "ok-3"] {
        let put = kinesis
            .put_record()
            .stream_name(&stream)
            .partition_key("p")
            .data(aws_sdk_kinesis::primitives::Blob::new(data))
            .send()
            .await
            .unwrap();
        sequences.push(put.sequence_number().to_owned());
    }

    let (pool, logs) = start_fixture("stream-consumer", &suffix).await;
    let stats = Arc::new(EventSourceStats::default());
    let pollers = kinesis_source::start(Arc::new(StreamSource {
        function: "stream-consumer".into(),
        pool: Arc::clone(&pool),
        stream_name: stream.clone(),
        batch_size: 10,
        batching_window: Duration::from_secs(1),
        report_batch_item_failures: true,
        settings: StreamSourceSettings {
            starting_position: StartingPosition::TrimHorizon,
            bisect_batch_on_function_error: true,
            maximum_retry_attempts: Some(3),
            maximum_record_age_seconds: None,
            on_failure_queue: Some(failures.name.clone()),
            parallelization_factor: 1,
            enhanced_fan_out: false,
        },
        on_failure: Some(failures.clone()),
        region: "us-east-1".into(),
        kinesis: kinesis.clone(),
        sqs: sqs.clone(),
        logs: Arc::clone(&logs),
        stats: Arc::clone(&stats),
    }))
    .await
    .unwrap();

    // "fail" is retried from its own sequence number until the retries run out; "crash" fails
    // the invocation, so its batch is bisected until it is alone; everything else is done.
    let mut pointers = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while pointers.len() < 2 && Instant::now() < deadline {
        let page = sqs
            .receive_message()
            .queue_url(&failures.url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        for message in page.messages() {
            let pointer: serde_json::Value = serde_json::from_str(message.body().unwrap()).unwrap();
            pointers.push(pointer);
        }
    }
    for poller in pollers {
        poller.abort();
    }
    pool.stop().await;
    assert_eq!(pointers.len(), 2, "{pointers:?}");
    let given_up: Vec<(&str, &str)> = pointers
        .iter()
        .map(|p| {
            (
                p["KinesisBatchInfo"]["startSequenceNumber"]
                    .as_str()
                    .unwrap(),
                p["KinesisBatchInfo"]["endSequenceNumber"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        given_up,
        [
            (sequences[1].as_str(), sequences[1].as_str()),
            (sequences[3].as_str(), sequences[3].as_str())
        ],
        "only the failing records are given up"
    );
    assert_eq!(
        pointers[0]["requestContext"]["condition"],
        "RetryAttemptsExhausted"
    );
    assert_eq!(pointers[0]["requestContext"]["approximateInvokeCount"], 4);
    assert_eq!(pointers[0]["KinesisBatchInfo"]["batchSize"], 1);
    assert_eq!(stats.discarded.load(Ordering::Relaxed), 2);
}

/// A stream source over `stream` feeding the fixture, with no retries to wait for.
async fn stream_source(
    stream: &str,
    parallelization_factor: u32,
    instances: usize,
    suffix: &str,
) -> (Arc<StreamSource>, Arc<FunctionPool>, Arc<LogSink>) {
    let sdk = testkit::emulator::sdk_config(ClientSettings::batch_consumer()).await;
    let (pool, logs) = start_fixtures("lineage-consumer", suffix, instances).await;
    let source = Arc::new(StreamSource {
        function: "lineage-consumer".into(),
        pool: Arc::clone(&pool),
        stream_name: stream.to_owned(),
        batch_size: 10,
        batching_window: Duration::ZERO,
        report_batch_item_failures: true,
        settings: StreamSourceSettings {
            starting_position: StartingPosition::TrimHorizon,
            bisect_batch_on_function_error: false,
            maximum_retry_attempts: Some(0),
            maximum_record_age_seconds: None,
            on_failure_queue: None,
            parallelization_factor,
            enhanced_fan_out: false,
        },
        on_failure: None,
        region: "us-east-1".into(),
        kinesis: aws_sdk_kinesis::Client::new(&sdk),
        sqs: aws_sdk_sqs::Client::new(&sdk),
        logs: Arc::clone(&logs),
        stats: Arc::new(EventSourceStats::default()),
    });
    (source, pool, logs)
}

/// Puts `count` slow records over `keys` partition keys, in one PutRecords.
async fn put_slow(
    kinesis: &aws_sdk_kinesis::Client,
    stream: &str,
    round: usize,
    count: usize,
    keys: usize,
) {
    let entries = (0..count)
        .map(|n| {
            aws_sdk_kinesis::types::PutRecordsRequestEntry::builder()
                .partition_key(format!("key-{}", n % keys))
                .data(aws_sdk_kinesis::primitives::Blob::new(format!(
                    "slow-{round}-{n}"
                )))
                .build()
                .unwrap()
        })
        .collect();
    let answer = kinesis
        .put_records()
        .stream_name(stream)
        .set_records(Some(entries))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.failed_record_count(), Some(0));
}

async fn open_shards(kinesis: &aws_sdk_kinesis::Client, stream: &str) -> Vec<String> {
    lineage::list_shards(kinesis, stream)
        .await
        .unwrap()
        .iter()
        .filter(|shard| lineage::is_open(shard))
        .map(|shard| shard.shard_id().to_owned())
        .collect()
}

/// Stops the source and its function; checks every record was done once, in its key's order.
async fn stop_and_check_order(
    source: &StreamSource,
    pollers: Vec<tokio::task::JoinHandle<()>>,
    pool: &FunctionPool,
    records: usize,
) {
    for poller in pollers {
        poller.abort();
    }
    pool.stop().await;
    let order = &source.stats.order;
    assert_eq!(
        order.out_of_order.load(Ordering::Relaxed),
        0,
        "{:?}",
        order.examples()
    );
    assert_eq!(
        order.records.load(Ordering::Relaxed),
        records,
        "each record once"
    );
}

/// Waits until `expected` records are done and no batch runs.
async fn wait_until_done(source: &StreamSource, expected: usize, logs: &LogSink) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while source.stats.order.records.load(Ordering::Relaxed) < expected
        || source.stats.busy.load(Ordering::Relaxed) > 0
    {
        assert!(
            Instant::now() < deadline,
            "{} of {expected} records done; log:\n{}",
            source.stats.order.records.load(Ordering::Relaxed),
            logs.tail(30)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn across_splits_and_merges_parents_are_drained_first_and_every_key_stays_in_order() {
    let sdk = testkit::emulator::sdk_config(ClientSettings::batch_consumer()).await;
    let kinesis = aws_sdk_kinesis::Client::new(&sdk);
    let suffix = ulid::Ulid::new().to_string().to_lowercase();
    let stream = testkit::emulator::stream(&kinesis, "lineage").await;
    let (source, pool, logs) = stream_source(&stream, 1, 2, &suffix).await;
    let pollers = kinesis_source::start(Arc::clone(&source)).await.unwrap();

    // Each reshard comes while the shards before it still hold records being processed
    // (100 ms a batch), so children started early would overtake their parents.
    put_slow(&kinesis, &stream, 0, 60, 12).await;
    let first = open_shards(&kinesis, &stream).await;
    kinesis
        .split_shard()
        .stream_name(&stream)
        .shard_to_split(&first[0])
        .new_starting_hash_key((u128::MAX / 2 + 1).to_string())
        .send()
        .await
        .unwrap();
    put_slow(&kinesis, &stream, 1, 60, 12).await;
    let children = open_shards(&kinesis, &stream).await;
    kinesis
        .merge_shards()
        .stream_name(&stream)
        .shard_to_merge(&children[0])
        .adjacent_shard_to_merge(&children[1])
        .send()
        .await
        .unwrap();
    put_slow(&kinesis, &stream, 2, 60, 12).await;
    for target in [2, 1] {
        kinesis
            .update_shard_count()
            .stream_name(&stream)
            .target_shard_count(target)
            .scaling_type(aws_sdk_kinesis::types::ScalingType::UniformScaling)
            .send()
            .await
            .unwrap();
        put_slow(&kinesis, &stream, 3 + target as usize, 60, 12).await;
    }
    wait_until_done(&source, 300, &logs).await;
    // Every shard was read, and every closed one to its end, before the source goes quiet.
    let deadline = Instant::now() + Duration::from_secs(10);
    while source.stats.shards_drained.load(Ordering::Relaxed) < 6 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop_and_check_order(&source, pollers, &pool, 300).await;
    let stats = &source.stats;
    // 1 shard, split into 2, merged into 1, split into 2, merged into 1: 7 shards, 6 closed.
    assert_eq!(stats.shards_read.load(Ordering::Relaxed), 7);
    assert_eq!(stats.shards_drained.load(Ordering::Relaxed), 6);
    assert_eq!(stats.discarded.load(Ordering::Relaxed), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parallelization_factor_runs_batches_of_a_shard_at_once_in_key_order() {
    let sdk = testkit::emulator::sdk_config(ClientSettings::batch_consumer()).await;
    let kinesis = aws_sdk_kinesis::Client::new(&sdk);
    let suffix = ulid::Ulid::new().to_string().to_lowercase();
    let mut peaks = Vec::new();
    for factor in [1, 4] {
        let stream = testkit::emulator::stream(&kinesis, &format!("lanes-{factor}")).await;
        put_slow(&kinesis, &stream, 0, 200, 40).await;
        let (source, pool, logs) =
            stream_source(&stream, factor, 4, &format!("{factor}-{suffix}")).await;
        let pollers = kinesis_source::start(Arc::clone(&source)).await.unwrap();
        wait_until_done(&source, 200, &logs).await;
        stop_and_check_order(&source, pollers, &pool, 200).await;
        peaks.push(source.stats.busy_peak.load(Ordering::Relaxed));
    }
    assert_eq!(peaks[0], 1, "factor 1: one batch of the shard at a time");
    assert!(
        (2..=4).contains(&peaks[1]),
        "factor 4: up to 4 batches at once, {} seen",
        peaks[1]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_are_created_in_the_manifests_capacity_mode_and_read_on_every_shard() {
    let endpoint = testkit::emulator::endpoint();
    let mut manifest: serde_json::Value =
        serde_json::from_str(include_str!("../../../infra/stack.json")).unwrap();
    manifest["streams"]["enriched"] = serde_json::json!({
        "capacity_mode": "on_demand", "retention_hours": 24, "encryption": true
    });
    manifest["streams"]["activity"]["shard_count"] = 3.into();
    manifest["reasons"]
        .as_object_mut()
        .unwrap()
        .remove("streams.enriched.shard_count");
    let stack = stack::Stack::from_json(&manifest.to_string()).unwrap();
    let suffix = ulid::Ulid::new().to_string().to_lowercase();
    let clients = emulator::running_stack::emulator_clients(endpoint, "us-east-1");
    let mut resources = emulator::resources::Resources::name(&stack, &format!("modes-{suffix}"));
    let log = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("modes-{suffix}.log"));
    resources
        .create(&stack, &clients, &LogSink::create(&log, false).unwrap())
        .await
        .unwrap();

    let mode = |stream: &str| {
        let kinesis = clients.kinesis.clone();
        let stream = stream.to_owned();
        async move {
            let summary = kinesis
                .describe_stream_summary()
                .stream_name(stream)
                .send()
                .await
                .unwrap();
            let summary = summary.stream_description_summary().unwrap().clone();
            (
                summary
                    .stream_mode_details()
                    .unwrap()
                    .stream_mode()
                    .as_str()
                    .to_owned(),
                summary.open_shard_count(),
            )
        }
    };
    assert_eq!(
        mode(&resources.streams["activity"]).await,
        ("PROVISIONED".to_owned(), 3)
    );
    let (enriched_mode, enriched_shards) = mode(&resources.streams["enriched"]).await;
    assert_eq!(enriched_mode, "ON_DEMAND");
    assert!(enriched_shards >= 1, "Kinesis picks the shards");

    // Every shard of the on-demand stream is read: records of many keys all come through.
    put_slow(&clients.kinesis, &resources.streams["enriched"], 0, 80, 40).await;
    let (source, pool, logs) = stream_source(&resources.streams["enriched"], 1, 2, &suffix).await;
    let pollers = kinesis_source::start(Arc::clone(&source)).await.unwrap();
    wait_until_done(&source, 80, &logs).await;
    assert_eq!(
        source.stats.shards_read.load(Ordering::Relaxed),
        enriched_shards as usize
    );
    stop_and_check_order(&source, pollers, &pool, 80).await;
}
