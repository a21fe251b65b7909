//! The SQS event source emulation against the emulator: batches, partial batch responses,
//! visibility timeout and redrive to the dead-letter queue after the maximum receives.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::QueueAttributeName;
use local_stack::event_sources::{self, EventSourceStats, QueueSource};
use local_stack::functions::{FunctionPool, FunctionSettings};
use local_stack::logs::LogSink;
use local_stack::resources::Queue;
use shared::clients::{self, ClientSettings};
use shared::stack::EventSourceSpec;

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
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&QueueAttributeName::QueueArn]
        .clone();
    Queue {
        name: name.to_owned(),
        url,
        arn,
    }
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
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL").is_some(),
        "run tools/test.sh"
    );
    let sdk = clients::load(ClientSettings::batch_consumer()).await;
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

    let log = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("esm-{suffix}.log"));
    let logs = LogSink::create(&log, false).unwrap();
    let pool = Arc::new(
        FunctionPool::start(
            FunctionSettings {
                key: "consumer".into(),
                deployed_name: "test-consumer".into(),
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
        .unwrap(),
    );
    let stats = Arc::new(EventSourceStats::default());
    let pollers = event_sources::start(
        Arc::new(QueueSource {
            function: "consumer".into(),
            pool: Arc::clone(&pool),
            queue: source_queue.clone(),
            spec: EventSourceSpec {
                queue: "source".into(),
                batch_size: 10,
                maximum_batching_window_seconds: 0,
                report_batch_item_failures: true,
                maximum_concurrency: None,
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
