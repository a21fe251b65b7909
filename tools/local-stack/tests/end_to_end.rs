//! The whole local stack against the emulator `tools/test.sh` runs: the demo through the HTTP
//! API, API Gateway's own answers, the table behind it, and the command line with Ctrl-C.
//! `tools/test.sh` builds the function binaries first (`cargo build --workspace --bins`).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use emulator::fault_proxy::FaultPlan;
use emulator::http_client::HttpClient;
use emulator::running_stack::{EmulatorChoice, RunningStack, StackOptions};
use emulator::token;
use hyper::{Method, StatusCode};
use local_stack::demo::events::EventsOptions;
use local_stack::demo::predictions::PredictionOptions;
use local_stack::demo::{self, DemoOptions, DemoTarget};
use local_stack::reliability::api_tests::{self, ApiTestOptions, ApiTestReport};
use local_stack::reliability::bad_input;
use local_stack::reliability::fault_workloads::{self, ExactlyOnceOptions};
use local_stack::reliability::isolation;
use local_stack::reliability::load::{self, LoadOptions};
use local_stack::reliability::memory_workloads::{MemoryOptions, RESEND_GAPS_HOURS};
use serde_json::{Value, json};
use stack::Stack;

fn endpoint() -> String {
    testkit::emulator::endpoint().to_owned()
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The folder with this build's binaries (`target/debug`), where todo-api is too.
fn binaries_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_BIN_EXE_local-stack"))
        .parent()
        .unwrap()
        .to_owned();
    for function in Stack::workspace().functions.keys() {
        assert!(
            dir.join(function).is_file(),
            "{} is missing: build the functions with `cargo build --workspace --bins`",
            dir.join(function).display()
        );
    }
    dir
}

fn unique_prefix(name: &str) -> String {
    format!("{name}-{}", ulid::Ulid::new().to_string().to_lowercase())
}

async fn start(prefix: &str) -> RunningStack {
    start_with_faults(prefix, None, None).await
}

async fn start_with_faults(
    prefix: &str,
    fault_seed: Option<u64>,
    parallelization_factor: Option<u32>,
) -> RunningStack {
    RunningStack::start(StackOptions {
        manifest: Stack::workspace(),
        prefix: prefix.to_owned(),
        port: 0,
        functions_dir: binaries_dir(),
        model_dir: std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../model/artifacts"),
        instances: 2,
        emulator: EmulatorChoice::Existing {
            endpoint: endpoint(),
        },
        log_file: PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{prefix}.log")),
        echo_logs: false,
        region: "us-east-1".into(),
        fault_seed,
        parallelization_factor,
        archive_buffer_interval: None,
    })
    .await
    .expect("the stack starts")
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_passes_and_the_gateway_behaves_like_api_gateway() {
    let prefix = unique_prefix("e2e");
    let stack = start(&prefix).await;
    let tasks_table = stack.resources.tables["tasks"].clone();
    assert_eq!(
        tasks_table,
        format!("{prefix}-tasks"),
        "named from the manifest"
    );

    let options = DemoOptions {
        users: 3,
        tasks_per_user: 4,
    };
    let report = demo::run(
        &DemoTarget {
            api_url: &stack.api_url,
            dynamodb: &stack.clients.dynamodb,
            tasks_table: &tasks_table,
        },
        options,
        false,
    )
    .await;
    assert!(report.passed(), "{}", report.render());
    assert_eq!(report.requests, options.total_requests());
    // Each user keeps all tasks but the one deleted.
    assert_eq!((report.tasks_in_table, report.tasks_expected), (9, 9));

    // The pipeline: bus -> rule -> ingest queue -> event source -> event-router -> targets,
    // with the demo users' profiles seeded as `up` seeds them.
    demo::events::seed_profiles(&stack.clients, &stack.resources.tables["profiles"], 3)
        .await
        .unwrap();
    let pipeline = demo::events::run(
        &stack.clients,
        &stack.resources,
        EventsOptions {
            users: 3,
            activities_per_user: 5,
            orders_per_user: 1,
            invalid: 2,
            feature_users: 2,
        },
    )
    .await;
    assert!(pipeline.passed(), "{}", pipeline.render());
    // Distinct events: SQS may deliver a message twice, and the router then puts its record
    // (or its reject) twice; the enriched stream below has each event once.
    assert_eq!((pipeline.on_stream, pipeline.orders_queued), (34, 3));
    assert!(pipeline.rejected >= 2, "{}", pipeline.render());
    // Then: activity stream -> Kinesis event source -> stream-enrichment -> enriched stream.
    // Users 0 and 2 have profiles (6 events each); user 1 and the 2 feature users (8 events
    // each, in 3 sessions) have none.
    assert_eq!(pipeline.enriched, 34);
    assert_eq!((pipeline.with_profile, pipeline.without_profile), (12, 22));
    assert!(
        (9..=12).contains(&pipeline.sessions),
        "{} sessions",
        pipeline.sessions
    );
    let enrichment_source = &stack.event_sources["stream-enrichment<-activity"];
    assert!(
        enrichment_source
            .messages
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 34
    );
    assert_eq!(
        enrichment_source
            .discarded
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    // Then: enriched stream -> Kinesis event source -> feature-updates -> feature store, each
    // feature user's 26 features equal to the reference computed from its events.
    assert_eq!(pipeline.features.len(), 2);
    for check in &pipeline.features {
        assert_eq!(
            check.values.len(),
            shared::features::SpecVersion::LATEST.definitions().len()
        );
        assert!(check.mismatches().is_empty(), "{}", pipeline.render());
    }
    let feature_source = &stack.event_sources["feature-updates<-enriched"];
    assert!(
        feature_source
            .messages
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 34
    );
    // Then: the HTTP API -> inference -> feature store and the model server as the SageMaker
    // endpoint, for the users the pipeline just gave features to, and one without any.
    let checked: Vec<String> = pipeline
        .features
        .iter()
        .map(|f| f.user_id.clone())
        .collect();
    let mut users: Vec<String> = (0..3).map(demo::events::demo_user).collect();
    users.extend(checked.iter().cloned());
    let predictions = demo::predictions::run(
        &stack.api_url,
        PredictionOptions {
            users,
            checked,
            requests: 10,
        },
    )
    .await;
    assert!(predictions.passed(), "{}", predictions.render());
    assert_eq!(predictions.latencies.len(), 10);
    assert_eq!(predictions.batch_users, 6);
    assert_eq!(predictions.without_features, 1, "{}", predictions.render());
    let model = model::Model::load(&workspace_root().join("model/artifacts")).unwrap();
    assert_eq!(
        predictions.model_version.as_deref(),
        Some(model.version.as_str())
    );

    let router_source = &stack.event_sources["event-router<-ingest"];
    assert!(
        router_source
            .messages
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 36
    );
    assert_eq!(
        router_source
            .failed
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );

    let client = HttpClient::new(Duration::from_secs(10));
    let url = |path: &str| format!("{}{path}", stack.api_url);
    let bearer = |sub: &str| format!("Bearer {}", token::mint(sub, now(), 600));
    let alice = bearer("e2e-alice");

    // API Gateway's own answers never reach the function.
    let unrouted = client
        .send(
            Method::GET,
            &url("/nothing-here"),
            &[("authorization", &alice)],
            None,
        )
        .await
        .unwrap();
    assert_eq!(unrouted.status, StatusCode::NOT_FOUND);
    assert_eq!(
        unrouted.json::<Value>().unwrap(),
        json!({"message": "Not Found"})
    );
    let expired = format!("Bearer {}", token::mint("e2e-alice", now() - 7200, 60));
    let refused = client
        .send(
            Method::GET,
            &url("/tasks"),
            &[("authorization", &expired)],
            None,
        )
        .await
        .unwrap();
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        refused.json::<Value>().unwrap(),
        json!({"message": "Unauthorized"})
    );

    // ANY routes hand every method to the function, which answers 405 with Allow itself.
    let patch = client
        .send(
            Method::PATCH,
            &url("/tasks"),
            &[("authorization", &alice)],
            None,
        )
        .await
        .unwrap();
    assert_eq!(patch.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        patch.header("content-type"),
        Some("application/problem+json")
    );
    assert!(patch.header("allow").is_some());

    // A task created over HTTP is in the manifest's table, under the token's subject.
    let created = client
        .send(
            Method::POST,
            &url("/tasks"),
            &[
                ("authorization", &alice),
                ("content-type", "application/json"),
            ],
            Some(
                json!({"task_name": "written through the stack"})
                    .to_string()
                    .into(),
            ),
        )
        .await
        .unwrap();
    assert_eq!(created.status, StatusCode::CREATED);
    let id = created.json::<Value>().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let item = stack
        .clients
        .dynamodb
        .get_item()
        .table_name(&tasks_table)
        .key("owner", AttributeValue::S("e2e-alice".into()))
        .key("id", AttributeValue::S(id.clone()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .expect("the task is stored under its owner");
    assert_eq!(
        item["task_name"].as_s().unwrap(),
        "written through the stack"
    );
    assert_eq!(item["status"].as_s().unwrap(), "Pending");

    let api_url = stack.api_url.clone();
    stack.stop().await;
    let after = client
        .send(Method::GET, &format!("{api_url}/tasks"), &[], None)
        .await;
    assert!(after.is_err(), "the HTTP API stops with the stack");
}

/// Reads the child's stdout until a line starts with `prefix`; returns that line.
fn wait_for_line(reader: &mut impl BufRead, prefix: &str, output: &mut String) -> Option<String> {
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        output.push_str(&line);
        if line.trim_start().starts_with(prefix) {
            return Some(line.trim().to_owned());
        }
    }
}

#[test]
fn the_command_runs_the_demo_with_its_own_emulator_and_exits_with_its_verdict() {
    let training_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("training");
    let python = testkit::emulator::emulator_python();
    let prefix = unique_prefix("cli");
    let output = Command::new(env!("CARGO_BIN_EXE_local-stack"))
        .current_dir(workspace_root())
        .args([
            "up",
            "--demo",
            "--exit-after-demo",
            "--port",
            "0",
            "--users",
            "2",
        ])
        .args([
            "--tasks-per-user",
            "3",
            "--predictions",
            "5",
            "--training-users",
            "30",
            "--prefix",
            &prefix,
        ])
        .arg("--emulator-python")
        .arg(python)
        .arg("--functions-dir")
        .arg(binaries_dir())
        .arg("--training-dir")
        .arg(&training_dir)
        .arg("--log-file")
        .arg(PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{prefix}.log")))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("demo: PASS"), "{stdout}");
    assert!(stdout.contains("pipeline: PASS"), "{stdout}");
    assert!(stdout.contains("predictions: PASS"), "{stdout}");
    assert!(
        stdout.contains("table check: 4 tasks stored, 4 expected"),
        "{stdout}"
    );
    // Events -> archive -> backfill and parity -> model -> endpoint -> /predict.
    assert!(stdout.contains("training: PASS"), "{stdout}");
    assert!(
        stdout.contains("30 items rewritten at spec version 1; a version-2 read refused 30"),
        "{stdout}"
    );
    assert!(
        stdout.contains("spec versions [1, 2] in order, 0 errors, 0 fallbacks"),
        "{stdout}"
    );
    // Train/serve parity against the stack: every archived user's stored features equal the
    // archive's, computed by the spec code at the same time.
    let parity = stdout
        .lines()
        .find_map(|line| line.trim().strip_prefix("parity: "))
        .unwrap_or_else(|| panic!("no parity line:\n{stdout}"));
    let (equal, rest) = parity.split_once(" of ").unwrap();
    let compared = rest.split_whitespace().next().unwrap();
    assert_eq!(equal, compared, "{parity}");
    assert!(compared.parse::<usize>().unwrap() >= 30, "{parity}");
    assert!(stderr.contains("local-stack: stopped"), "{stderr}");
}

/// Processes whose environment holds `variable=value`: the stack's function environments
/// carry `AWS_LAMBDA_FUNCTION_NAME=<prefix>-<function>`.
fn processes_with(variable: &str, value: &str) -> Vec<u32> {
    let needle = format!("{variable}={value}");
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|environ| {
                environ
                    .split(|byte| *byte == 0)
                    .any(|entry| entry == needle.as_bytes())
            })
        })
        .collect()
}

/// Starts `local-stack up` on the test emulator and waits until it serves; returns the child,
/// the API URL and the name its todo-api environments run under.
fn spawn_serving_stack(prefix: &str, emulator: &[&str]) -> (std::process::Child, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_local-stack"))
        .current_dir(workspace_root())
        .args(["up", "--port", "0", "--prefix", prefix])
        .args(emulator)
        .arg("--functions-dir")
        .arg(binaries_dir())
        .arg("--log-file")
        .arg(PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{prefix}.log")))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    let api_line = wait_for_line(&mut stdout, "HTTP API", &mut seen)
        .unwrap_or_else(|| panic!("no HTTP API line in:\n{seen}"));
    let api_url = api_line.trim_start_matches("HTTP API").trim().to_owned();
    wait_for_line(&mut stdout, "serving until Ctrl-C", &mut seen)
        .unwrap_or_else(|| panic!("not serving:\n{seen}"));
    (child, api_url, seen)
}

/// Processes whose command line contains every one of `parts`.
fn processes_running(parts: &[&str]) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| {
                let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                parts.iter().all(|part| cmdline.contains(part))
            })
        })
        .collect()
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within 15 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn killing_the_stack_takes_its_emulator_and_functions_with_it() {
    let python = testkit::emulator::emulator_python();
    let prefix = unique_prefix("sigkill");
    let (mut child, _, output) = spawn_serving_stack(
        &prefix,
        &["--emulator-python", python.to_str().expect("a UTF-8 path")],
    );
    let function_name = format!("{prefix}-todo-api");
    let port = output
        .lines()
        .find_map(|line| {
            line.trim()
                .strip_prefix("emulator")?
                .trim()
                .strip_prefix("http://127.0.0.1:")
        })
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no emulator line in:\n{output}"))
        .to_owned();
    let emulator = ["from moto.server import main", "-p", port.as_str()];
    assert_eq!(
        processes_running(&emulator).len(),
        1,
        "the stack's own moto runs"
    );
    assert_eq!(
        processes_with("AWS_LAMBDA_FUNCTION_NAME", &function_name).len(),
        2
    );
    // SIGKILL: the stack gets no chance to clean up; the kernel must.
    child.kill().unwrap();
    child.wait().unwrap();
    wait_until("the emulator and the functions end with the stack", || {
        processes_running(&emulator).is_empty()
            && processes_with("AWS_LAMBDA_FUNCTION_NAME", &function_name).is_empty()
    });
}

#[test]
fn ctrl_c_stops_every_component() {
    let prefix = unique_prefix("sigint");
    let (mut child, api_url, _) = spawn_serving_stack(&prefix, &["--endpoint", &endpoint()]);
    let function_name = format!("{prefix}-todo-api");
    assert_eq!(
        processes_with("AWS_LAMBDA_FUNCTION_NAME", &function_name).len(),
        2,
        "two execution environments run"
    );

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = HttpClient::new(Duration::from_secs(10));
    let bearer = format!("Bearer {}", token::mint("sigint-user", now(), 600));
    let before = runtime
        .block_on(client.send(
            Method::GET,
            &format!("{api_url}/tasks"),
            &[("authorization", &bearer)],
            None,
        ))
        .unwrap();
    assert_eq!(before.status, StatusCode::OK);

    // SAFETY: signalling our own child process.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let mut status = None;
    wait_until("the stack exits after Ctrl-C", || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    let status = status.unwrap();
    assert!(status.success(), "exit status {status}");
    assert!(
        processes_with("AWS_LAMBDA_FUNCTION_NAME", &function_name).is_empty(),
        "no function process outlives the stack"
    );
    let after = runtime.block_on(client.send(Method::GET, &format!("{api_url}/tasks"), &[], None));
    assert!(after.is_err(), "the HTTP API is gone after Ctrl-C");
    let log = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{prefix}.log")),
    )
    .unwrap();
    assert!(log.contains("stopped"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_on_the_same_emulator_reuses_its_resources() {
    let prefix = unique_prefix("rerun");
    let first = start(&prefix).await;
    let queues = first.resources.queues.clone();
    first.stop().await;
    let second = start(&prefix).await;
    assert_eq!(
        second.resources.queues, queues,
        "the same queues, found again"
    );
    second.stop().await;
}

/// The deploy guide's smoke test (`tools/smoke-test.py`), run as a deployment would be checked:
/// the same script, given the local stack's API URL, bus name and a token, with the SDK's
/// endpoint variable pointing boto3 at the emulator. It passes; given a bus that does not
/// exist, it fails that path and what depends on it, and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_smoke_test_script_passes_against_the_local_stack_and_fails_on_a_wrong_bus() {
    // The venv that holds moto holds boto3 too.
    let python = testkit::emulator::emulator_python();
    let prefix = unique_prefix("smoke");
    let stack = start(&prefix).await;
    let token = token::mint("smoke-user", now(), 3600);
    let run = |bus: String| {
        tokio::process::Command::new(&python)
            .current_dir(workspace_root())
            .arg("tools/smoke-test.py")
            .args([
                "--api-url",
                &stack.api_url,
                "--bus",
                &bus,
                "--timeout",
                "60",
            ])
            .env("SMOKE_TEST_TOKEN", &token)
            .env("AWS_ENDPOINT_URL", &stack.endpoint)
            .output()
    };

    let passed = run(stack.resources.event_buses["events"].clone())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&passed.stdout);
    let stderr = String::from_utf8_lossy(&passed.stderr);
    assert!(passed.status.success(), "{stdout}\n{stderr}");
    let verdicts: Vec<&str> = stdout
        .lines()
        .filter(|line| line.starts_with("PASS ") || line.starts_with("FAIL "))
        .collect();
    for path in [
        "GET /tasks without a token",
        "POST /tasks",
        "PUT /tasks/{id}",
        "DELETE /tasks/{id}",
        "POST /predict",
        "PutEvents",
        "pipeline",
        "POST /predict/batch",
    ] {
        assert!(
            verdicts
                .iter()
                .any(|line| line.starts_with(&format!("PASS {path}"))),
            "no PASS line for {path}:\n{stdout}"
        );
    }
    assert!(
        verdicts.iter().all(|line| line.starts_with("PASS ")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("smoke test: {} passed, 0 failed", verdicts.len())),
        "{stdout}"
    );

    let failed = run(format!("{prefix}-no-such-bus")).await.unwrap();
    let stdout = String::from_utf8_lossy(&failed.stdout);
    assert_eq!(failed.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("FAIL PutEvents: EventBridge: ResourceNotFoundException"),
        "{stdout}"
    );
    assert!(
        stdout.contains("FAIL POST /predict/batch: skipped"),
        "{stdout}"
    );
    assert!(stdout.contains("PASS POST /tasks"), "{stdout}");
    stack.stop().await;
}

/// `local-stack reliability`'s checks, the fast subset: one user's attempts to read, list,
/// page into, update and delete another's tasks are all refused, none reveals or changes the
/// owner's tasks; a short paced load of every route answers every request as documented; the
/// APIs answer schemathesis's cases as their documents say; and two small workloads (one
/// published once, one twice) through the pipeline under 10% faulted AWS requests and two
/// kills mid-batch of each function an event source feeds (event-router's batches coming back
/// after a shortened visibility timeout, set back afterwards) leave the features and aggregates
/// exactly as the events determine; so do the memory workloads that follow (resends an hour
/// and a day after their originals, found among the spilled ids; a hot user; the stream
/// functions moved from one environment to the other and back, not trusting stale warm
/// states; a kill of each between its spill and its state write).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reliability_checks_pass_on_a_fresh_stack() {
    let prefix = unique_prefix("reliability");
    let stack = start_with_faults(&prefix, Some(20261124), Some(2)).await;
    let isolation = isolation::run(
        &stack.api_url,
        &format!("{prefix}-owner"),
        &format!("{prefix}-intruder"),
    )
    .await;
    let options = LoadOptions {
        workers: 2,
        rate: 20.0,
        duration: Duration::from_secs(2),
    };
    let load = load::run(&stack.api_url, &format!("{prefix}-load"), options).await;
    // A few examples per operation and phase: every phase and check runs, briefly.
    let api_options = ApiTestOptions {
        // The venv that holds moto holds schemathesis too.
        schemathesis: testkit::emulator::emulator_python().with_file_name("schemathesis"),
        config: workspace_root().join("tools/schemathesis/schemathesis.toml"),
        root: workspace_root(),
        max_examples: 5,
        seed: Some(20261123),
    };
    let mut api_tests = ApiTestReport::default();
    for function in ["todo-api", "inference"] {
        let document = workspace_root().join(format!("functions/{function}/openapi.yaml"));
        let user = format!("{prefix}-api");
        let run = api_tests::run_document(&api_options, &document, &stack.api_url, &user).await;
        api_tests.runs.push(run);
    }
    let exactly_once_options = ExactlyOnceOptions {
        users: 8,
        events: 120,
        seed: 20261124,
        faults: FaultPlan {
            rate: 0.1,
            slowest: Duration::from_secs(2),
        },
        crash_points: 2,
        queue_redelivery: Duration::from_secs(30),
        timeout: Duration::from_secs(180),
        memory: Some(MemoryOptions {
            users: 8,
            events: 200,
            hot_share: 0.3,
            followers: 300,
            spill_kills: 1,
            paced_parts: 4,
        }),
        reshard_pause: Some(Duration::from_millis(500)),
        parallelization_factor: 2,
    };
    let exactly_once = fault_workloads::run(&stack, &prefix, &exactly_once_options).await;
    let ingest_visibility =
        fault_workloads::visibility_timeout(&stack.clients, &stack.resources.queues["ingest"].url)
            .await;
    let bad_input = bad_input::run(&stack, &prefix).await;
    stack.stop().await;
    assert!(bad_input.passed(), "{}", bad_input.render());
    let catalogue = bad_input::catalogue(&prefix, time::OffsetDateTime::now_utc());
    let total = bad_input.total();
    assert_eq!(total.tried, catalogue.len());
    assert_eq!(
        total.rejected + total.refused,
        catalogue.iter().filter(|case| !case.is_good()).count(),
        "every bad input rejected or refused: {}",
        bad_input.render()
    );
    assert_eq!(
        total.processed,
        catalogue.iter().filter(|case| case.is_good()).count()
    );
    assert_eq!(bad_input.rejects_seen, total.rejected);
    assert!(exactly_once.passed(), "{}", exactly_once.render());
    // Both streams through every step of the plan, each closed shard read to its end by its
    // consumer: per stream, 1 shard up to 2 (1 closed), a split (1), a merge (2), down to 1 (2).
    assert_eq!(exactly_once.reshards.len(), 8, "{}", exactly_once.render());
    assert_eq!(
        exactly_once.streams.shards_drained,
        12,
        "{}",
        exactly_once.render()
    );
    assert!(
        exactly_once.streams.records >= 2 * 360,
        "{}",
        exactly_once.render()
    );
    let injected = exactly_once.injected();
    // Two kills per function an event source feeds, and one more of each stream function right
    // after a spill.
    assert_eq!(injected.crashes, 8, "{}", exactly_once.render());
    assert_eq!(
        exactly_once.faults["event-router"].crashes,
        2,
        "{}",
        exactly_once.render()
    );
    assert_eq!(
        ingest_visibility.as_deref(),
        Ok("180"),
        "the deployed visibility timeout is back"
    );
    assert!(injected.injected() > 10, "{}", exactly_once.render());
    for workload in &exactly_once.workloads {
        assert_eq!(workload.drift(), 0);
        assert_eq!(workload.published, 120 * workload.deliveries);
        assert_eq!(workload.features_equal, workload.users);
        assert_eq!(workload.aggregates_equal, workload.users);
    }
    // The memory workloads: resends of spilled ids found by lookup in both stream functions,
    // spills, a kill after a spill in each, the shards moved twice and environment 1 not
    // trusting its warm states when it got them back; drift 0.
    let memory = exactly_once
        .memory
        .as_ref()
        .expect("the memory workloads ran");
    let render = exactly_once.render();
    assert_eq!(memory.drift(), 0, "{render}");
    assert_eq!(memory.resends, RESEND_GAPS_HOURS.len());
    assert_eq!(memory.spill_kills, 2, "{render}");
    assert_eq!(memory.swaps, 2);
    assert!(memory.hot_user_events >= 40, "{render}");
    for workload in &memory.workloads {
        assert_eq!(workload.features_equal, workload.users, "{render}");
        assert_eq!(workload.aggregates_equal, workload.users, "{render}");
    }
    assert_eq!(
        memory.consumers.keys().collect::<Vec<_>>(),
        ["feature-updates", "stream-enrichment"]
    );
    for (function, consumer) in &memory.consumers {
        assert!(consumer.found_spilled >= 2, "{function}: {render}");
        assert!(consumer.spills > 0, "{function}: {render}");
        assert_eq!(consumer.back_current, Some(false), "{function}: {render}");
        // Sticky: after its first batch, environment 1 found its cache current each time.
        let sticky = consumer.sticky;
        assert!(sticky.batches >= 1, "{function}: {render}");
        assert!(
            sticky.cache_current + 1 >= sticky.batches,
            "{function}: {render}"
        );
        assert!(consumer.alternating.batches >= 1, "{function}: {render}");
    }
    assert!(isolation.passed(), "{}", isolation.render());
    assert!(isolation.attempts >= 60, "{}", isolation.render());
    assert_eq!(isolation.refused, isolation.attempts);
    assert!(load.passed(), "{}", load.render());
    // Paced at 20 per second for 2 s, each worker finishing its round of 6 requests.
    assert!((30..=70).contains(&load.requests()), "{}", load.render());
    assert_eq!(load.latencies.len(), 6, "every route: {}", load.render());
    assert!(api_tests.passed(), "{}", api_tests.render());
    assert!(
        api_tests.runs.iter().all(|run| run.cases >= 20),
        "{}",
        api_tests.render()
    );
}

/// The freshness measurement against a running stack: each probe's event is seen through
/// `POST /predict`, with a background workload publishing meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freshness_probes_see_their_events_through_predict_under_load() {
    use local_stack::freshness::{self, FreshnessOptions};
    let prefix = unique_prefix("fresh");
    let stack = start(&prefix).await;
    let bus = stack.resources.event_buses.values().next().unwrap().clone();
    let options = FreshnessOptions {
        probes: 4,
        concurrency: 2,
        background_rate: 10.0,
        background_users: 5,
        poll: Duration::from_millis(100),
        timeout: Duration::from_secs(60),
    };
    let report = freshness::run(
        &stack.clients,
        &bus,
        &stack.api_url,
        &prefix,
        None,
        &options,
    )
    .await;
    stack.stop().await;
    assert!(report.passed(), "{}", report.render());
    assert_eq!(report.latencies.len(), 4);
    assert!(report.background_published >= 10, "{}", report.render());
    // An event goes through two stream hops and three functions: never instantly.
    assert!(
        report.percentile(50).unwrap() > Duration::from_millis(100),
        "{}",
        report.render()
    );
}
