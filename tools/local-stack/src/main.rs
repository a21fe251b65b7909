//! `local-stack`: run the whole system on this machine. `tools/stack.sh` installs what it needs,
//! builds the functions and runs this.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use emulator::fault_proxy::FaultPlan;
use emulator::running_stack::{EmulatorChoice, RunningStack, StackOptions};
use emulator::token;
use local_stack::demo::events::EventsOptions;
use local_stack::demo::predictions::PredictionOptions;
use local_stack::demo::training::TrainingOptions;
use local_stack::demo::{self, DemoOptions, DemoTarget};
use local_stack::freshness::{self, FreshnessOptions};
use local_stack::reliability::ReliabilityReport;
use local_stack::reliability::api_tests::{self, ApiTestOptions, ApiTestReport};
use local_stack::reliability::bad_input;
use local_stack::reliability::fault_workloads::{self, ExactlyOnceOptions};
use local_stack::reliability::fuzz;
use local_stack::reliability::isolation;
use local_stack::reliability::load::{self, LoadOptions};
use local_stack::reliability::memory_workloads::MemoryOptions;
use stack::Stack;

#[derive(Parser)]
#[command(
    name = "local-stack",
    about = "Run the stack locally: AWS emulator, resources from infra/stack.json, the functions as Lambda binaries, the HTTP API",
    long_about = "Run the stack locally.\n\n\
        `up` starts the AWS emulator (moto) on a free loopback port, creates every resource \
        of infra/stack.json, runs each function's binary under a local Lambda Runtime API and \
        serves the HTTP API on a loopback port as API Gateway would (routes, JWT authorizer, \
        throttling, payload format 2.0). All component logs go to one file. Ctrl-C stops \
        everything.\n\n\
        Requests need `Authorization: Bearer <token>`; `local-stack token <user>` prints one \
        for that user (the local authorizer checks issuer, audience and expiry, not signatures)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Bring the stack up and serve until Ctrl-C (or, with --exit-after-demo, until the demo ends).
    Up(Box<UpArgs>),
    /// Fuzz the decoders and request parsing, then bring the stack up on its own emulator, try
    /// what must never work (one user at another's tasks), load every HTTP route, test the APIs
    /// against their OpenAPI documents, drive pipeline workloads (once and twice delivered)
    /// under injected faults and process kills and compare the stored state with the reference,
    /// then the memory workloads (resends an hour and a day late, a hot user, environments
    /// swapped under a shard, kills between a spill and the state write), print the counts and
    /// stop; the exit status is 0 only if every check passed.
    Reliability(Box<ReliabilityArgs>),
    /// Bring the stack up, publish a steady background workload, and measure how long each of
    /// a number of probe events takes from its PutEvents to a `POST /predict` that counts it;
    /// print p50 and p99 and stop. The exit status is 0 only if every probe saw its event.
    Freshness(Box<FreshnessArgs>),
    /// Print a token the local HTTP API accepts, for caller SUB (its JWT `sub` claim).
    Token {
        sub: String,
        /// Seconds until the token expires.
        #[arg(long, default_value_t = 3600)]
        ttl_seconds: i64,
    },
}

#[derive(Args)]
struct UpArgs {
    /// Drive the demo workload once the stack is up, print its summary and check it.
    #[arg(long)]
    demo: bool,
    /// Stop after the demo; the exit status is 0 only if every demo check passed.
    #[arg(long, requires = "demo")]
    exit_after_demo: bool,
    #[command(flatten)]
    stack: StackArgs,
    /// Demo users, each working concurrently.
    #[arg(long, default_value_t = 8)]
    users: usize,
    /// Tasks each demo user creates.
    #[arg(long, default_value_t = 10)]
    tasks_per_user: usize,
    /// Activity events each demo user publishes to the event bus.
    #[arg(long, default_value_t = 12)]
    events_per_user: usize,
    /// Orders each demo user places.
    #[arg(long, default_value_t = 2)]
    orders_per_user: usize,
    /// Events the demo publishes that can never be processed (they must end up rejected).
    #[arg(long, default_value_t = 4)]
    invalid_events: usize,
    /// Users whose stored features the demo checks against a reference computed from their
    /// events (8 events each, spread over the last two hours).
    #[arg(long, default_value_t = 2)]
    feature_users: usize,
    /// Single `POST /predict` requests the demo times once the pipeline has run (one warm-up
    /// request more, then one batch of every user).
    #[arg(long, default_value_t = 100)]
    predictions: usize,
    /// Simulated users whose activity over the last --training-days the training demo
    /// publishes, then trains a spec-version-2 model on from the archive and rolls out (0: no
    /// training demo).
    #[arg(long, default_value_t = 120)]
    training_users: usize,
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=6))]
    training_days: u32,
    /// The simulation's seed.
    #[arg(long, default_value_t = 20_261_206)]
    training_seed: u64,
    /// The archive's first hours give no training examples.
    #[arg(long, default_value_t = 12)]
    warm_up_hours: u32,
    /// The backfill's write budget, in write units a second.
    #[arg(long, default_value_t = 100.0)]
    backfill_write_units: f64,
    /// Where the trained model and the backfill's progress file go.
    #[arg(long, default_value = "target/local-stack/training")]
    training_dir: PathBuf,
}

#[derive(Args)]
struct ReliabilityArgs {
    #[command(flatten)]
    stack: StackArgs,
    /// Seconds the load test keeps starting requests.
    #[arg(long, default_value_t = 10.0)]
    load_seconds: f64,
    /// Requests per second of the load test, all workers together (the stage throttle
    /// allows 100, with bursts of 200).
    #[arg(long, default_value_t = 40.0)]
    load_rate: f64,
    /// Load test workers, each its own user.
    #[arg(long, default_value_t = 4)]
    load_workers: usize,
    /// Seconds the fuzzer spends on each of its targets (the decoders and request parsing).
    #[arg(long, default_value_t = 15.0)]
    fuzz_seconds: f64,
    /// The fuzzer's random seed, to repeat a run (default: a new one, printed).
    #[arg(long)]
    fuzz_seed: Option<u64>,
    /// The sample events the fuzzer starts from.
    #[arg(long, default_value = "events")]
    events_dir: PathBuf,
    /// The API tester run against each function's OpenAPI document (functions/<name>/openapi.yaml).
    #[arg(long, default_value = ".venv/bin/schemathesis")]
    schemathesis: PathBuf,
    #[arg(long, default_value = "tools/schemathesis/schemathesis.toml")]
    schemathesis_config: PathBuf,
    /// Examples schemathesis generates per operation and phase.
    #[arg(long, default_value_t = 50)]
    api_examples: usize,
    /// Schemathesis's seed, to repeat a run.
    #[arg(long)]
    api_seed: Option<u64>,
    /// Share of the functions' AWS requests the fault proxies fault while the pipeline
    /// workloads run (0 to 1).
    #[arg(long, default_value_t = 0.10)]
    fault_rate: f64,
    /// The latest a slow answer comes, in milliseconds.
    #[arg(long, default_value_t = 6_000)]
    fault_slowest_ms: u64,
    /// The seed of the faults and of the pipeline workloads, to repeat a run.
    #[arg(long)]
    fault_seed: Option<u64>,
    /// Users of each pipeline workload (Zipf-distributed).
    #[arg(long, default_value_t = 40)]
    workload_users: usize,
    /// Events of each pipeline workload (one is published once per event, the other twice).
    #[arg(long, default_value_t = 600)]
    workload_events: usize,
    /// Kills of the process of each function an event source feeds, mid-batch: right after
    /// its 1st, 2nd, ... request since the previous kill.
    #[arg(long, default_value_t = 5)]
    crash_points: u64,
    /// Seconds until a killed invocation's SQS batch comes back: the visibility timeout of the
    /// queues feeding functions while the workloads run (deployed: six times the function's
    /// timeout). At least the function's timeout, or batches come back while still in work.
    #[arg(long, default_value_t = 30)]
    crash_redelivery_seconds: u64,
    /// Seconds the pipeline may take to apply the workloads and fall quiet (the faulted
    /// workloads, then again the memory workloads).
    #[arg(long, default_value_t = 300)]
    workload_timeout: u64,
    /// Events of the memory workloads' hot workload (of --workload-users users and a hot one),
    /// published in four parts: stream functions on environment 1, 2, 1, then either.
    #[arg(long, default_value_t = 600)]
    hot_workload_events: usize,
    /// The hot user's share of the hot workload's events (0 to 1).
    #[arg(long, default_value_t = 0.3)]
    hot_user_share: f64,
    /// Newer events of each resend's user between its original and the resend: enough that
    /// the original's id is spilled out of the user's item (300 or more makes sure).
    #[arg(long, default_value_t = 300)]
    resend_followers: usize,
    /// Kills of each stream function right after its spill of applied ids took effect,
    /// before its state writes.
    #[arg(long, default_value_t = 1)]
    spill_kills: u64,
    /// Parts the memory workloads' phases on environment 1 and on either environment publish
    /// their events in, 1.2 s apart: about as many batches per stream function, for the warm
    /// cache's hit rate.
    #[arg(long, default_value_t = 10)]
    memory_paced_parts: usize,
    /// Skip the memory workloads (resends, hot user, environment swaps, spill kills).
    #[arg(long)]
    no_memory_workloads: bool,
    /// Concurrent batches per shard of the stream sources during the run (1 to 10; the
    /// manifest deploys 1): the checks hold with Lambda's concurrency within a shard too.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=10))]
    parallelization_factor: u32,
    /// Milliseconds between a part of the pipeline workloads and the reshard of every stream
    /// that follows it (split, merge, shard count up and down).
    #[arg(long, default_value_t = 1_000)]
    reshard_pause_ms: u64,
    /// Publish the pipeline workloads in one part, without resharding.
    #[arg(long)]
    no_reshards: bool,
}

#[derive(Args)]
struct FreshnessArgs {
    #[command(flatten)]
    stack: StackArgs,
    /// Probe events, each of a user never seen.
    #[arg(long, default_value_t = 100)]
    probes: usize,
    /// Probes in flight at once.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Background events a second while the probes run.
    #[arg(long, default_value_t = 20.0)]
    background_rate: f64,
    /// Users of the background events.
    #[arg(long, default_value_t = 50)]
    background_users: usize,
    /// Milliseconds between a probe's `POST /predict` requests.
    #[arg(long, default_value_t = 50)]
    poll_ms: u64,
    /// Seconds a probe waits for its event at most.
    #[arg(long, default_value_t = 60)]
    probe_timeout: u64,
}

/// Where and how the stack runs.
#[derive(Args)]
struct StackArgs {
    /// Run the manifest as deployed with this profile (its `profiles`, e.g. low-latency).
    /// Enhanced fan-out is read by polling locally.
    #[arg(long)]
    profile: Option<String>,
    /// Loopback port of the HTTP API (0 picks a free one).
    #[arg(long, default_value_t = 3000)]
    port: u16,
    /// Use the AWS emulator already running at this URL instead of starting one.
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,
    /// The Python with the pinned moto, to start the emulator with when no --endpoint is given.
    #[arg(long, default_value = ".venv/bin/python")]
    emulator_python: PathBuf,
    /// The deployment manifest to follow.
    #[arg(long, default_value = "infra/stack.json")]
    manifest: PathBuf,
    /// Folder with the function binaries (one per manifest function, named as it).
    #[arg(long, default_value = "target/debug")]
    functions_dir: PathBuf,
    /// The folder with the model (model.json) the local model endpoint serves.
    #[arg(long, default_value = "model/artifacts")]
    model_dir: PathBuf,
    /// Execution environments per function: invocations that run at once.
    #[arg(long, default_value_t = 2)]
    instances: usize,
    /// Resource name prefix, like a deployed stack's name: tables are <prefix>-<key>.
    #[arg(long, default_value = "local")]
    prefix: String,
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// The one log every component writes to.
    #[arg(long, default_value = "target/local-stack/stack.log")]
    log_file: PathBuf,
    /// Also copy every log line to the terminal (stderr).
    #[arg(long)]
    echo_logs: bool,
    /// Seconds the archive buffers a date's records before writing them to its bucket, instead
    /// of the manifest's buffer_interval_seconds (300).
    #[arg(long)]
    archive_buffer_seconds: Option<u64>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Token { sub, ttl_seconds } => {
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            println!("{}", token::mint(&sub, now, ttl_seconds));
            ExitCode::SUCCESS
        }
        Command::Up(args) => block_on(up(*args)),
        Command::Reliability(args) => block_on(reliability(*args)),
        Command::Freshness(args) => block_on(measure_freshness(*args)),
    }
}

fn block_on(command: impl std::future::Future<Output = ExitCode>) -> ExitCode {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(command)
}

/// Starts the stack `args` describe; the exit status to end with when it cannot start.
async fn start(
    args: &StackArgs,
    fault_seed: Option<u64>,
    parallelization_factor: Option<u32>,
) -> Result<RunningStack, ExitCode> {
    let loaded = Stack::load(&args.manifest).and_then(|manifest| match &args.profile {
        Some(profile) => manifest.with_profile(profile),
        None => Ok(manifest),
    });
    let manifest = match loaded {
        Ok(manifest) => manifest,
        Err(error) => {
            eprintln!("local-stack: {error}");
            return Err(ExitCode::from(2));
        }
    };
    let emulator = match &args.endpoint {
        Some(endpoint) => EmulatorChoice::Existing {
            endpoint: endpoint.clone(),
        },
        None => EmulatorChoice::Start {
            python: args.emulator_python.clone(),
        },
    };
    let options = StackOptions {
        manifest,
        prefix: args.prefix.clone(),
        port: args.port,
        functions_dir: args.functions_dir.clone(),
        model_dir: args.model_dir.clone(),
        instances: args.instances,
        emulator,
        log_file: args.log_file.clone(),
        echo_logs: args.echo_logs,
        region: args.region.clone(),
        fault_seed,
        parallelization_factor,
        archive_buffer_interval: args.archive_buffer_seconds.map(Duration::from_secs),
    };
    eprintln!("local-stack: starting (logs: {})", args.log_file.display());
    tokio::select! {
        started = RunningStack::start(options) => started.map_err(|error| {
            eprintln!("local-stack: could not start: {error}");
            ExitCode::from(2)
        }),
        () = stop_requested() => {
            // Dropping the half-started stack kills its processes (kill_on_drop).
            eprintln!("local-stack: interrupted during start-up");
            Err(ExitCode::from(130))
        }
    }
}

/// Brings the stack up, runs the reliability checks against it, prints their counts and
/// stops it; the exit status is 0 only if every check passed.
async fn reliability(args: ReliabilityArgs) -> ExitCode {
    // The fuzzer needs no stack: it runs first, on its own.
    let targets = match fuzz::targets(&args.events_dir) {
        Ok(targets) => targets,
        Err(error) => {
            eprintln!("local-stack: the fuzzer's sample events: {error}");
            return ExitCode::from(2);
        }
    };
    let seed = args.fuzz_seed.unwrap_or_else(rand::random);
    let per_target = Duration::from_secs_f64(args.fuzz_seconds.max(0.0));
    let fuzzed = fuzz::run(&targets, per_target, seed);
    print!("{}", fuzzed.render());
    let fault_seed = args.fault_seed.unwrap_or_else(rand::random);
    // The functions reach the emulator through the fault proxies, which forward untouched until
    // the pipeline workloads run.
    let stack = match start(
        &args.stack,
        Some(fault_seed),
        Some(args.parallelization_factor),
    )
    .await
    {
        Ok(stack) => stack,
        Err(status) => return status,
    };
    let run = ulid::Ulid::new().to_string().to_lowercase();
    let api_options = ApiTestOptions {
        schemathesis: args.schemathesis.clone(),
        config: args.schemathesis_config.clone(),
        root: PathBuf::from("."),
        max_examples: args.api_examples,
        seed: args.api_seed,
    };
    let load_options = LoadOptions {
        workers: args.load_workers,
        rate: args.load_rate,
        duration: Duration::from_secs_f64(args.load_seconds.max(0.0)),
    };
    let exactly_once_options = ExactlyOnceOptions {
        users: args.workload_users,
        events: args.workload_events,
        seed: fault_seed,
        faults: FaultPlan {
            rate: args.fault_rate.clamp(0.0, 1.0),
            slowest: Duration::from_millis(args.fault_slowest_ms),
        },
        crash_points: args.crash_points,
        queue_redelivery: Duration::from_secs(args.crash_redelivery_seconds),
        timeout: Duration::from_secs(args.workload_timeout),
        memory: (!args.no_memory_workloads).then(|| MemoryOptions {
            users: args.workload_users,
            events: args.hot_workload_events,
            hot_share: args.hot_user_share.clamp(0.0, 1.0),
            followers: args.resend_followers,
            spill_kills: args.spill_kills,
            paced_parts: args.memory_paced_parts.max(1),
        }),
        reshard_pause: (!args.no_reshards).then(|| Duration::from_millis(args.reshard_pause_ms)),
        parallelization_factor: args.parallelization_factor,
    };
    let checks = async {
        let isolation = isolation::run(
            &stack.api_url,
            &format!("isolation-owner-{run}"),
            &format!("isolation-intruder-{run}"),
        )
        .await;
        print!("{}", isolation.render());
        let load = load::run(&stack.api_url, &format!("load-{run}"), load_options).await;
        print!("{}", load.render());
        let mut api_tests = ApiTestReport::default();
        let user = format!("api-tests-{run}");
        for function in stack.resources.functions.keys() {
            let document = PathBuf::from(format!("functions/{function}/openapi.yaml"));
            if document.is_file() {
                api_tests.runs.push(
                    api_tests::run_document(&api_options, &document, &stack.api_url, &user).await,
                );
            }
        }
        print!("{}", api_tests.render());
        let exactly_once = fault_workloads::run(&stack, &run, &exactly_once_options).await;
        print!("{}", exactly_once.render());
        let bad_input = bad_input::run(&stack, &run).await;
        print!("{}", bad_input.render());
        ReliabilityReport {
            fuzz: fuzzed,
            isolation,
            load,
            api_tests,
            exactly_once,
            bad_input,
        }
    };
    let report = tokio::select! {
        report = checks => Some(report),
        () = stop_requested() => None,
    };
    stack.stop().await;
    if let Some(report) = &report {
        print!("{}", report.render());
    }
    match report.map(|report| report.passed()) {
        Some(true) => ExitCode::SUCCESS,
        Some(false) => ExitCode::from(1),
        None => {
            eprintln!("local-stack: reliability checks interrupted");
            ExitCode::from(130)
        }
    }
}

async fn measure_freshness(args: FreshnessArgs) -> ExitCode {
    let stack = match start(&args.stack, None, None).await {
        Ok(stack) => stack,
        Err(status) => return status,
    };
    let run = format!("fresh-{}", ulid::Ulid::new().to_string().to_lowercase());
    let options = FreshnessOptions {
        probes: args.probes,
        concurrency: args.concurrency,
        background_rate: args.background_rate,
        background_users: args.background_users,
        poll: Duration::from_millis(args.poll_ms),
        timeout: Duration::from_secs(args.probe_timeout),
    };
    let Some(bus) = stack.resources.event_buses.values().next().cloned() else {
        eprintln!("local-stack: the manifest has no event bus to publish to");
        stack.stop().await;
        return ExitCode::from(2);
    };
    let measured = freshness::run(
        &stack.clients,
        &bus,
        &stack.api_url,
        &run,
        args.stack.profile.as_deref(),
        &options,
    );
    let report = tokio::select! {
        report = measured => Some(report),
        () = stop_requested() => None,
    };
    stack.stop().await;
    match report {
        Some(report) => {
            print!("{}", report.render());
            if report.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        None => {
            eprintln!("local-stack: freshness interrupted");
            ExitCode::from(130)
        }
    }
}

async fn up(args: UpArgs) -> ExitCode {
    let mut stack = match start(&args.stack, None, None).await {
        Ok(stack) => stack,
        Err(status) => return status,
    };
    print_banner(&stack, &args.stack);
    let mut status = ExitCode::SUCCESS;
    // Profiles for every other demo user, so the stack enriches with and without one (the
    // demo's check of the profile joins counts on them).
    if let Some(profiles) = stack.resources.tables.get("profiles")
        && let Err(error) = demo::events::seed_profiles(&stack.clients, profiles, args.users).await
    {
        eprintln!("local-stack: {error}");
        status = ExitCode::from(1);
    }
    if args.demo {
        let target = DemoTarget {
            api_url: &stack.api_url,
            dynamodb: &stack.clients.dynamodb,
            tasks_table: &stack.resources.tables["tasks"],
        };
        let options = DemoOptions {
            users: args.users,
            tasks_per_user: args.tasks_per_user,
        };
        let events = EventsOptions {
            users: args.users,
            activities_per_user: args.events_per_user,
            orders_per_user: args.orders_per_user,
            invalid: args.invalid_events,
            feature_users: args.feature_users,
        };
        let api_url = stack.api_url.clone();
        let predictions = args.predictions;
        let demo_users = args.users;
        let both = async {
            let todo = demo::run(&target, options, true).await;
            let pipeline = demo::events::run(&stack.clients, &stack.resources, events).await;
            // Predictions for the users the pipeline just gave features to.
            let checked: Vec<String> = pipeline
                .features
                .iter()
                .map(|f| f.user_id.clone())
                .collect();
            let mut users: Vec<String> = (0..demo_users).map(demo::events::demo_user).collect();
            users.extend(checked.iter().cloned());
            let scored = demo::predictions::run(
                &api_url,
                PredictionOptions {
                    users,
                    checked,
                    requests: predictions,
                },
            )
            .await;
            (todo, pipeline, scored)
        };
        let report = tokio::select! {
            report = both => Some(report),
            () = stop_requested() => None,
        };
        match report {
            Some((todo, pipeline, scored)) => {
                print!("{}", todo.render());
                print!("{}", pipeline.render());
                print!("{}", scored.render());
                if !todo.passed() || !pipeline.passed() || !scored.passed() {
                    status = ExitCode::from(1);
                }
            }
            None => {
                eprintln!("local-stack: demo interrupted");
                stack.stop().await;
                return ExitCode::from(130);
            }
        }
    }
    if args.demo && args.training_users > 0 {
        let options = TrainingOptions {
            users: args.training_users,
            days: args.training_days,
            seed: args.training_seed,
            warm_up_hours: args.warm_up_hours,
            reference_model_dir: args.stack.model_dir.clone(),
            out_dir: args.training_dir.clone(),
            write_units_per_second: args.backfill_write_units,
            settle_timeout: Duration::from_secs(120),
        };
        eprintln!(
            "local-stack: training demo: {} simulated users over {} days",
            options.users, options.days
        );
        let report = tokio::select! {
            report = demo::training::run(&mut stack, &options) => Some(report),
            () = stop_requested() => None,
        };
        match report {
            Some(training) => {
                print!("{}", training.render());
                if !training.passed() {
                    status = ExitCode::from(1);
                }
            }
            None => {
                eprintln!("local-stack: demo interrupted");
                stack.stop().await;
                return ExitCode::from(130);
            }
        }
    }
    if !args.exit_after_demo {
        println!("serving until Ctrl-C");
        stop_requested().await;
    }
    eprintln!("local-stack: stopping");
    stack.stop().await;
    eprintln!("local-stack: stopped");
    status
}

fn print_banner(stack: &RunningStack, args: &StackArgs) {
    let tables: Vec<&str> = stack
        .resources
        .tables
        .values()
        .map(String::as_str)
        .collect();
    let functions: Vec<String> = stack
        .resources
        .functions
        .keys()
        .map(|key| format!("{key} x{}", args.instances.max(1)))
        .collect();
    println!("local stack up");
    println!("  HTTP API   {}", stack.api_url);
    println!(
        "  emulator   {}  (AWS_ENDPOINT_URL for the AWS CLI and SDKs)",
        stack.endpoint
    );
    println!("  tables     {}", tables.join(", "));
    println!(
        "  functions  {} (binaries in {})",
        functions.join(", "),
        args.functions_dir.display()
    );
    if let Some(model) = &stack.model_endpoint {
        println!("  model      endpoint {} on {}", model.name, model.url);
    }
    println!("  logs       {}", stack.logs.path().display());
    println!(
        "  try        curl -H \"Authorization: Bearer $(tools/stack.sh token user-alice)\" {}/tasks",
        stack.api_url
    );
}

/// Ctrl-C or SIGTERM.
async fn stop_requested() {
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async {
            match terminate.as_mut() {
                Some(signal) => { signal.recv().await; }
                None => std::future::pending::<()>().await,
            }
        } => {}
    }
}
