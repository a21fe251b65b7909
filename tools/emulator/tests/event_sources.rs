//! The event source emulations against the emulator. SQS: batches, partial batch responses,
//! visibility timeout and redrive to the dead-letter queue after the maximum receives. Kinesis:
//! retry from the first failed record, bisecting on function errors, and giving up after the
//! maximum retries with a pointer on the on-failure queue.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::QueueAttributeName;
use emulator::functions::{FunctionPool, FunctionSettings};
use emulator::kinesis_source::{self, StreamSource};
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
            instances: 1,
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
    let stream = format!("esm-stream-{suffix}");
    kinesis
        .create_stream()
        .stream_name(&stream)
        .shard_count(1)
        .send()
        .await
        .unwrap();
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
