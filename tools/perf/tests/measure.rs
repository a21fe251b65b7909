//! The measuring code against real binaries and the emulator `tools/test.sh` runs. What is
//! asserted is what the figures count, never how fast anything was.

use std::path::PathBuf;

use perf::environment::{UNREACHABLE_ENDPOINT, function_settings, named_resources};
use perf::init::measure_once;
use perf::workload::{self, WorkloadOptions};
use shared::stack::Stack;

/// This build's binaries (`target/debug`), where the functions are too.
fn debug_binaries() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_BIN_EXE_perf-report"))
        .parent()
        .unwrap()
        .to_owned();
    assert!(
        dir.join("todo-api").is_file(),
        "{} is missing: build the functions with `cargo build --workspace --bins`",
        dir.join("todo-api").display()
    );
    dir
}

#[test]
fn init_is_measured_to_the_first_poll_and_a_failing_init_is_reported() {
    let stack = Stack::workspace();
    let resources = named_resources(&stack, "perf-test");
    let log = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("init-test.log");
    let mut settings = function_settings(
        &stack,
        &resources,
        "todo-api",
        &debug_binaries(),
        UNREACHABLE_ENDPOINT,
    )
    .unwrap();
    let sample = measure_once(&settings, &log).unwrap();
    assert!(sample.wall_ms > 0.0 && sample.cpu_ms > 0.0, "{sample:?}");

    // Without its table the function cannot configure itself: init fails, and says why.
    settings
        .environment
        .retain(|(name, _)| name != "TASKS_TABLE");
    let error = measure_once(&settings, &log).unwrap_err().to_string();
    assert!(error.contains("TASKS_TABLE"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workload_counts_each_request_and_the_naive_design_one_read_and_write_per_event() {
    let endpoint = std::env::var("AWS_ENDPOINT_URL")
        .expect("the workload test needs the emulator: run tools/test.sh");
    let stack = Stack::workspace();
    let prefix = format!("perf-{}", ulid::Ulid::new().to_string().to_lowercase());
    let clients = local_stack::stack::emulator_clients(&endpoint, "us-east-1");
    let logs = local_stack::logs::LogSink::create(
        &PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{prefix}.log")),
        false,
    )
    .unwrap();
    let mut resources = local_stack::resources::Resources::name(&stack, &prefix);
    resources.create(&stack, &clients, &logs).await.unwrap();
    let options = WorkloadOptions {
        events: 250,
        users: 40,
        zipf_exponent: 1.1,
        seed: 3,
        order_share: 0.1,
    };
    let report = workload::run(&stack, &endpoint, &resources, &options)
        .await
        .unwrap();

    let router = &report.functions["event-router"];
    // 250 events in batches of 100: 3 invocations, one PutRecords each, every event routed.
    assert_eq!((router.invocations, router.records), (3, 250));
    assert_eq!(router.requests["kinesis:PutRecords"], 3);
    assert_eq!(router.kinesis_put_payload_units, 250);
    for function in ["stream-enrichment", "feature-updates"] {
        let work = &report.functions[function];
        assert_eq!((work.invocations, work.records), (3, 250), "{function}");
        // One BatchGetItem per batch at least; one write per user per batch, not per event.
        assert!(
            work.requests["dynamodb:BatchGetItem"] >= 3,
            "{function}: {work:?}"
        );
        assert_eq!(
            work.requests["dynamodb:PutItem"], work.items_written,
            "{function}"
        );
        assert!(work.items_written < 250, "{function}: {work:?}");
        assert!(
            work.item_write_units >= work.items_written as f64,
            "{function}"
        );
        // Every event's id recorded once, one write unit each, 25 per BatchWriteItem.
        assert_eq!(
            work.write_request_units - work.item_write_units,
            250.0,
            "{function}"
        );
        assert_eq!(
            work.requests["dynamodb:BatchWriteItem"],
            4 + 4 + 2,
            "{function}"
        );
        let naive = &report.naive.functions[function];
        assert_eq!(naive.requests["dynamodb:GetItem"], 250);
        assert_eq!(naive.requests["dynamodb:PutItem"], 250);
        assert!(!naive.requests.contains_key("dynamodb:BatchGetItem"));
        assert!(
            naive.write_request_units > work.item_write_units,
            "{function}: a write per event costs more than one per user per batch"
        );
    }
    assert_eq!(report.event_source_requests["sqs:ReceiveMessage"], 25);
}
