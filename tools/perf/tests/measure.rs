//! The measuring code against real binaries and the emulator `tools/test.sh` runs. What is
//! asserted is what the figures count, never how fast anything was.

use std::path::PathBuf;

use perf::environment::{UNREACHABLE_ENDPOINT, function_settings, named_resources};
use perf::init::measure_once;
use perf::workload::{self, HotUserOptions, WorkloadOptions, WorkloadResources};
use stack::Stack;

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
    let endpoint = testkit::emulator::endpoint();
    let stack = Stack::workspace();
    let prefix = format!("perf-{}", ulid::Ulid::new().to_string().to_lowercase());
    let clients = emulator::running_stack::emulator_clients(endpoint, "us-east-1");
    let logs = emulator::logs::LogSink::create(
        &PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{prefix}.log")),
        false,
    )
    .unwrap();
    let mut sets = [
        "",
        "-cold",
        "-alternating",
        "-trusting",
        "-share",
        "-rate",
        "-throughput",
    ]
    .map(|run| emulator::resources::Resources::name(&stack, &format!("{prefix}{run}")));
    for resources in &mut sets {
        resources.create(&stack, &clients, &logs).await.unwrap();
    }
    let [
        reference,
        cold,
        alternating,
        alternating_trusting_cache,
        hot_share,
        hot_rate,
        throughput,
    ] = &sets;
    let resources = WorkloadResources {
        reference,
        throughput,
        cold,
        alternating,
        alternating_trusting_cache,
        hot_share,
        hot_rate,
    };
    let options = WorkloadOptions {
        events: 250,
        users: 40,
        zipf_exponent: 1.1,
        seed: 3,
        order_share: 0.1,
        hot_user_share: 0.0,
    };
    let hot = HotUserOptions {
        share: 0.5,
        events_per_second: 100,
        seconds: 3,
    };
    let report = workload::run(&stack, endpoint, &resources, &options, &hot)
        .await
        .unwrap();

    let router = &report.functions["event-router"];
    // 250 events in batches of 100: 3 invocations, one PutRecords each, every event routed.
    assert_eq!((router.invocations, router.records), (3, 250));
    assert_eq!(router.requests["kinesis:PutRecords"], 3);
    assert_eq!(router.kinesis_put_payload_units, 250);
    // Records' mean size, data and partition key: an activity record is a small JSON object, an
    // enriched one carries the activity and the profile's fields besides.
    // The throughput run: every call the consumers made went through the latency model.
    let throughput = &report.throughput;
    let mut calls = 0;
    for function in ["stream-enrichment", "feature-updates"] {
        let work = &throughput.functions[function];
        assert_eq!((work.invocations, work.records), (3, 250), "{function}");
        assert!(work.p99_ms_per_invocation >= work.billed_ms_per_invocation);
        calls += work.requests.values().sum::<usize>() as u64;
    }
    assert!(calls > 0);
    assert_eq!(throughput.calls_modelled, calls);
    let sizes = &report.stream_record_bytes;
    assert!((100.0..1024.0).contains(&sizes["activity"]), "{sizes:?}");
    assert!(sizes["enriched"] > sizes["activity"], "{sizes:?}");
    for function in ["stream-enrichment", "feature-updates"] {
        let warm = &report.functions[function];
        let cold = &report.cold.functions[function];
        for work in [warm, cold] {
            assert_eq!((work.invocations, work.records), (3, 250), "{function}");
            // A write per user per batch, not per event, each of one unit (small items).
            assert_eq!(
                work.items_written, work.distinct_users,
                "{function}: {work:?}"
            );
            assert!(work.items_written < 250, "{function}: {work:?}");
            assert_eq!(
                work.item_write_units, work.items_written as f64,
                "{function}"
            );
            assert_eq!(work.conflicts, 0, "{function}");
        }
        // One environment: the shard's mark written once, states read once per user.
        assert_eq!(
            warm.requests["dynamodb:PutItem"],
            warm.items_written + 1,
            "{function}: {warm:?}"
        );
        assert!(warm.states_cached > 0, "{function}: {warm:?}");
        assert_eq!(warm.states_cached + warm.states_read, warm.distinct_users);
        // A new environment per batch: nothing cached, the mark written by every batch.
        assert_eq!(cold.states_cached, 0, "{function}");
        assert_eq!(cold.states_read, cold.distinct_users, "{function}");
        assert_eq!(
            cold.requests["dynamodb:PutItem"],
            cold.items_written + 3,
            "{function}: {cold:?}"
        );
        assert!(
            cold.read_request_units > warm.read_request_units,
            "{function}"
        );
        let naive = &report.naive.functions[function];
        assert_eq!(naive.requests["dynamodb:GetItem"], 250);
        assert_eq!(naive.requests["dynamodb:PutItem"], 250);
        assert!(!naive.requests.contains_key("dynamodb:BatchGetItem"));
        assert!(
            naive.write_request_units > warm.item_write_units,
            "{function}: a write per event costs more than one per user per batch"
        );
        let memory = &report.naive_with_memory.functions[function];
        assert_eq!(
            memory.write_request_units,
            naive.write_request_units + 250.0
        );
        assert_eq!(memory.read_request_units, naive.read_request_units + 250.0);

        // Two environments in turn: with the mark, each reads every state (as cold) and marks
        // the shard every batch; trusting its cache instead, a user written by the other
        // environment in between loses its conditional write.
        let alternating = &report.affinity_lost["alternating"].functions[function];
        assert_eq!(alternating.states_cached, 0, "{function}: {alternating:?}");
        assert_eq!(alternating.conflicts, 0, "{function}");
        assert_eq!(
            alternating.requests["dynamodb:PutItem"],
            alternating.items_written + 3,
            "{function}: the mark every batch"
        );
        let trusting = &report.affinity_lost["alternating_trusting_cache"].functions[function];
        assert!(trusting.conflicts > 0, "{function}: {trusting:?}");
        assert!(
            trusting.write_request_units > alternating.write_request_units,
            "{function}: lost conditional writes are billed"
        );

        // The hot users: half of 250 events to one user; 300 of one user in 3 s.
        let share = &report.hot_users["share"].functions[function];
        assert_eq!(share.records, 250, "{function}");
        let rate = &report.hot_users["rate"].functions[function];
        assert_eq!((rate.records, rate.distinct_users), (300, 3), "{function}");
        assert!(rate.spills >= 1, "{function}: {rate:?}");
        assert!(
            rate.largest_item_bytes < 3 * 1024,
            "{function}: {} bytes",
            rate.largest_item_bytes
        );
    }
    assert_eq!(report.event_source_requests["sqs:ReceiveMessage"], 25);
}
