//! `perf-report measure`: init time and CPU of every function (release binaries against a stub
//! Runtime API, median of repeated runs) and the deployment zip sizes, written as JSON for
//! `tools/perf/cost_report.py`. `tools/perf.sh` builds what it needs and runs both.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use perf::cold_path::{ColdCase, StreamBatches, cases};
use perf::environment::{UNREACHABLE_ENDPOINT, function_settings, named_resources};
use perf::init::{InitSample, InitSummary, measure_cold, measure_once};
use perf::machine::Machine;
use perf::warm::WarmCpu;
use perf::workload::{self, HotUserOptions, WorkloadOptions, WorkloadReport, WorkloadResources};
use perf::zips::{zip_architecture, zip_sizes};
use serde::Serialize;
use stack::Stack;

#[derive(Parser)]
#[command(
    name = "perf-report",
    about = "Measure init time and CPU of every function, and its deployment zip"
)]
struct Cli {
    /// Folder with the function binaries, built with `cargo build --release`.
    #[arg(long, default_value = "target/release")]
    functions_dir: PathBuf,
    /// Folder where `tools/package.sh` leaves `<function>/bootstrap.zip`.
    #[arg(long, default_value = "target/lambda")]
    lambda_dir: PathBuf,
    #[arg(long, default_value = "infra/stack.json")]
    manifest: PathBuf,
    /// Starts per function (after one discarded warm-up start).
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// The build profile of the binaries, for the report.
    #[arg(long, default_value = "release")]
    profile: String,
    #[arg(long, default_value = "target/perf/measurements.json")]
    out: PathBuf,
    /// The Python with the pinned moto: the reference workload runs against the emulator it
    /// starts on a free loopback port.
    #[arg(long, default_value = ".venv/bin/python")]
    emulator_python: PathBuf,
    /// Events of the reference workload (0: skip it).
    #[arg(long, default_value_t = 10_000)]
    events: usize,
    /// Users the events are drawn from (Zipf).
    #[arg(long, default_value_t = 1_000)]
    users: usize,
    #[arg(long, default_value_t = 1.1)]
    zipf_exponent: f64,
    #[arg(long, default_value_t = 20_261_123)]
    seed: u64,
    /// Share of the events that are orders.
    #[arg(long, default_value_t = 0.1)]
    order_share: f64,
    /// A hot-user workload: the reference workload with this share of its events given to one
    /// user (0: skip it).
    #[arg(long, default_value_t = 0.3)]
    hot_user_share: f64,
    /// A hot-user workload: one user's events at this rate (per second of event time) ...
    #[arg(long, default_value_t = 1_000)]
    hot_user_rate: u64,
    /// ... for this long (0: skip it).
    #[arg(long, default_value_t = 600)]
    hot_user_seconds: u64,
    /// Certificate (PEM) of the TLS terminator put in front of the emulator for the cold path;
    /// with --tls-key and --ca-bundle (`tools/perf.sh` makes all three with openssl).
    #[arg(long, requires_all = ["tls_key", "ca_bundle"])]
    tls_certificate: Option<PathBuf>,
    #[arg(long)]
    tls_key: Option<PathBuf>,
    /// Root certificates the function trusts (`SSL_CERT_FILE`): the system's and the terminator's.
    #[arg(long)]
    ca_bundle: Option<PathBuf>,
    /// The model server inference's cold path calls (`cargo build --release -p model`).
    #[arg(long, default_value = "target/release/model-server")]
    model_server: PathBuf,
    /// The folder with the model (model.json) it serves.
    #[arg(long, default_value = "model/artifacts")]
    model_dir: PathBuf,
    /// The per-function benchmarks' measurements (JSON lines; `cargo bench` with BENCH_REPORT
    /// set writes them), reported as warm CPU per event.
    #[arg(long)]
    bench_report: Option<PathBuf>,
    /// The sample events the HTTP APIs' cold paths are handed (`<function>/<file>.json`).
    #[arg(long, default_value = "events")]
    events_dir: PathBuf,
}

#[derive(Serialize)]
struct Measurements {
    schema: u32,
    date: String,
    machine: Machine,
    init: BTreeMap<String, InitSummary>,
    zip_bytes: BTreeMap<String, Option<u64>>,
    zip_architecture: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    workload: Option<WorkloadReport>,
    /// Init plus a first invocation whose AWS calls go over TLS, per function.
    cold_path: BTreeMap<String, InitSummary>,
    /// The benchmarks' worst case per function, µs per event (pure work, no I/O).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    warm_cpu_per_event_us: BTreeMap<String, f64>,
    /// Every benchmark case, µs per event.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    warm_cpu_cases: BTreeMap<String, BTreeMap<String, f64>>,
    /// What each function's cold path was handed.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    cold_path_first_event: BTreeMap<String, String>,
}

/// Resource names of the measured processes: nothing exists under them.
const PREFIX: &str = "perf";

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("perf-report: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> Result<(), String> {
    let stack = Stack::load(&cli.manifest).map_err(|e| e.to_string())?;
    if cli.runs == 0 {
        return Err("--runs must be at least 1".into());
    }
    let out_dir = cli.out.parent().unwrap_or(std::path::Path::new("."));
    let logs = out_dir.join("logs");
    std::fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;

    let resources = named_resources(&stack, PREFIX);
    let mut functions = Vec::new();
    for function in stack.functions.keys() {
        let settings = function_settings(
            &stack,
            &resources,
            function,
            &cli.functions_dir,
            UNREACHABLE_ENDPOINT,
        )
        .map_err(|e| e.to_string())?;
        if !settings.binary.is_file() {
            return Err(format!(
                "{} is missing: build it with `cargo build --release -p {function}`",
                settings.binary.display()
            ));
        }
        functions.push(settings);
    }
    let mut samples: BTreeMap<&str, Vec<InitSample>> = BTreeMap::new();
    // Round after round over every function, so a noisy moment of the machine spreads over
    // all of them instead of landing on one; round 0 warms the page cache and is discarded.
    for round in 0..=cli.runs {
        for settings in &functions {
            let log = logs.join(format!("{}.log", settings.key));
            let sample = measure_once(settings, &log).map_err(|e| e.to_string())?;
            if round > 0 {
                samples
                    .entry(settings.key.as_str())
                    .or_default()
                    .push(sample);
            }
        }
    }
    let init: BTreeMap<String, InitSummary> = samples
        .into_iter()
        .filter_map(|(function, s)| Some((function.to_owned(), InitSummary::of(&s)?)))
        .collect();

    let (workload, cold) = if cli.events == 0 && cli.tls_certificate.is_none() {
        (None, Vec::new())
    } else {
        let options = WorkloadOptions {
            events: cli.events,
            users: cli.users,
            zipf_exponent: cli.zipf_exponent,
            seed: cli.seed,
            order_share: cli.order_share,
            hot_user_share: 0.0,
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(run_emulated(&stack, cli, out_dir, &options))?
    };
    let warm = match &cli.bench_report {
        Some(path) => WarmCpu::read(path).map_err(|e| e.to_string())?,
        None => WarmCpu::default(),
    };
    let measurements = Measurements {
        schema: 1,
        date: time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .map_err(|e| e.to_string())?,
        machine: Machine::this(&cli.profile),
        init,
        zip_bytes: zip_sizes(&cli.lambda_dir, stack.functions.keys()),
        zip_architecture: zip_architecture(&cli.lambda_dir),
        workload,
        cold_path: cold
            .iter()
            .map(|(function, _, summary)| (function.clone(), summary.clone()))
            .collect(),
        warm_cpu_per_event_us: warm.worst,
        warm_cpu_cases: warm.cases,
        cold_path_first_event: cold
            .into_iter()
            .map(|(function, event, _)| (function, event))
            .collect(),
    };
    println!(
        "{:<18} {:>14} {:>14} {:>12}",
        "function", "init median ms", "init p90 ms", "CPU med ms"
    );
    for (function, summary) in &measurements.init {
        println!(
            "{function:<18} {:>14.2} {:>14.2} {:>12.2}",
            summary.wall_ms.median, summary.wall_ms.p90, summary.cpu_ms.median
        );
    }
    for (function, summary) in &measurements.cold_path {
        println!(
            "{function:<18} cold path (init + first event over TLS): median {:.2} ms, CPU {:.2} ms (p90 {:.2})",
            summary.wall_ms.median, summary.cpu_ms.median, summary.cpu_ms.p90
        );
    }
    for (function, worst) in &measurements.warm_cpu_per_event_us {
        println!("{function:<18} warm CPU per event (slowest benchmark case): {worst:.2} µs");
    }
    if let Some(workload) = &measurements.workload {
        println!(
            "{:<18} {:>11} {:>9} {:>13} {:>12} {:>12}",
            "function", "invocations", "records", "ms/invocation", "read units", "write units"
        );
        for (function, work) in &workload.functions {
            println!(
                "{function:<18} {:>11} {:>9} {:>13.2} {:>12.1} {:>12.1}",
                work.invocations,
                work.records,
                work.billed_ms_per_invocation,
                work.read_request_units,
                work.write_request_units
            );
        }
        println!(
            "{:<40} {:<18} {:>10} {:>10} {:>10} {:>12}",
            "units per event", "function", "read", "write", "floor", "largest item"
        );
        let mut runs = vec![("reference, warm", &workload.functions)];
        runs.push(("reference, cold", &workload.cold.functions));
        for (name, lost) in &workload.affinity_lost {
            runs.push((
                if name == "alternating" {
                    "reference, alternating"
                } else {
                    "reference, alternating, cache trusted"
                },
                &lost.functions,
            ));
        }
        for (name, hot) in &workload.hot_users {
            runs.push((
                if name == "share" {
                    "hot user, share"
                } else {
                    "hot user, rate"
                },
                &hot.functions,
            ));
        }
        for (run, functions) in runs {
            for function in ["stream-enrichment", "feature-updates"] {
                let Some(work) = functions.get(function) else {
                    continue;
                };
                let events = work.records.max(1) as f64;
                println!(
                    "{run:<40} {function:<18} {:>10.3} {:>10.3} {:>10.3} {:>10} B",
                    work.read_request_units / events,
                    work.write_request_units / events,
                    work.distinct_users as f64 / events,
                    work.largest_item_bytes
                );
            }
        }
    }
    let json = serde_json::to_string_pretty(&measurements).map_err(|e| e.to_string())?;
    std::fs::write(&cli.out, json + "\n").map_err(|e| format!("{}: {e}", cli.out.display()))?;
    println!("measurements: {}", cli.out.display());
    Ok(())
}

/// A function's cold path: what it was handed, and its starts.
type ColdPath = (String, String, InitSummary);

/// Starts a moto server of its own and creates the manifest's resources under a fresh prefix;
/// runs the workload, then the cold paths through a TLS terminator; the emulator stops with it.
async fn run_emulated(
    stack: &Stack,
    cli: &Cli,
    out_dir: &std::path::Path,
    options: &WorkloadOptions,
) -> Result<(Option<WorkloadReport>, Vec<ColdPath>), String> {
    let logs = emulator::logs::LogSink::create(&out_dir.join("workload.log"), false)
        .map_err(|e| format!("workload log: {e}"))?;
    let mut emulator = emulator::moto::Emulator::start(&cli.emulator_python, &logs)
        .await
        .map_err(|e| e.to_string())?;
    let clients =
        emulator::running_stack::emulator_clients(&emulator.endpoint, perf::environment::REGION);
    let prefix = format!("perf-{}", ulid::Ulid::new().to_string().to_lowercase());
    let mut resources = emulator::resources::Resources::name(stack, &prefix);
    let mut more = [
        "cold",
        "alternating",
        "trusting",
        "share",
        "rate",
        "throughput",
    ]
    .map(|run| emulator::resources::Resources::name(stack, &format!("{prefix}-{run}")));
    let outcome = async {
        resources
            .create(stack, &clients, &logs)
            .await
            .map_err(|e| e.to_string())?;
        let workload = if options.events == 0 {
            None
        } else {
            for resources in &mut more {
                resources
                    .create(stack, &clients, &logs)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            let [
                cold,
                alternating,
                alternating_trusting_cache,
                hot_share,
                hot_rate,
                throughput,
            ] = &more;
            let sets = WorkloadResources {
                reference: &resources,
                throughput,
                cold,
                alternating,
                alternating_trusting_cache,
                hot_share,
                hot_rate,
            };
            let hot = HotUserOptions {
                share: cli.hot_user_share,
                events_per_second: cli.hot_user_rate,
                seconds: cli.hot_user_seconds,
            };
            Some(
                workload::run(stack, &emulator.endpoint, &sets, options, &hot)
                    .await
                    .map_err(|e| e.to_string())?,
            )
        };
        let cold = match (&cli.tls_certificate, &cli.tls_key, &cli.ca_bundle) {
            (Some(certificate), Some(key), Some(bundle)) => {
                // The stream functions' first batches are the workload's; without it, they
                // have no cold path.
                let streams = match workload {
                    Some(_) => Some(
                        StreamBatches::read(stack, &clients.kinesis, &resources)
                            .await
                            .map_err(|e| e.to_string())?,
                    ),
                    None => None,
                };
                let cases = cases(
                    stack,
                    &cli.events_dir,
                    options,
                    &resources.queues["ingest"].arn,
                    streams.as_ref(),
                )
                .map_err(|e| e.to_string())?;
                let tls = Tls {
                    certificate,
                    key,
                    bundle,
                };
                cold_paths(
                    stack,
                    cli,
                    out_dir,
                    &resources,
                    &emulator.endpoint,
                    &tls,
                    &logs,
                    &cases,
                )
                .await?
            }
            _ => Vec::new(),
        };
        Ok((workload, cold))
    }
    .await;
    emulator.stop().await;
    outcome
}

/// The terminator's certificate and key, and the roots the functions trust.
struct Tls<'a> {
    certificate: &'a std::path::Path,
    key: &'a std::path::Path,
    bundle: &'a std::path::Path,
}

/// Each case's cold path: `--runs` starts (after one discarded), each answering its first event
/// with its AWS calls made over TLS: DynamoDB, Kinesis and SQS through a terminator in front of
/// the emulator, the model endpoint through one in front of the model server.
#[allow(clippy::too_many_arguments)]
async fn cold_paths(
    stack: &Stack,
    cli: &Cli,
    out_dir: &std::path::Path,
    resources: &emulator::resources::Resources,
    emulator: &str,
    tls: &Tls<'_>,
    logs: &std::sync::Arc<emulator::logs::LogSink>,
    cases: &[ColdCase],
) -> Result<Vec<ColdPath>, String> {
    let upstream = |url: &str| url.trim_start_matches("http://").to_owned();
    let proxy = perf::tls_proxy::TlsProxy::start(tls.certificate, tls.key, upstream(emulator))
        .await
        .map_err(|e| e.to_string())?;
    let model_settings = emulator::model_endpoint::ModelServerSettings {
        binary: cli.model_server.clone(),
        model_dir: cli.model_dir.clone(),
    };
    let model_name = resources.model_endpoints.values().next().cloned();
    let model = match &model_name {
        Some(name) => Some(
            emulator::model_endpoint::ModelEndpoint::start(&model_settings, name, logs)
                .await
                .map_err(|e| e.to_string())?,
        ),
        None => None,
    };
    let outcome = async {
        let model_proxy = match &model {
            Some(model) => Some(
                perf::tls_proxy::TlsProxy::start(tls.certificate, tls.key, upstream(&model.url))
                    .await
                    .map_err(|e| e.to_string())?,
            ),
            None => None,
        };
        let mut measured = Vec::new();
        for case in cases {
            let log = out_dir
                .join("logs")
                .join(format!("{}-cold.log", case.function));
            let mut settings = function_settings(
                stack,
                resources,
                case.function,
                &cli.functions_dir,
                &proxy.endpoint,
            )
            .map_err(|e| e.to_string())?;
            settings
                .environment
                .push(("SSL_CERT_FILE".into(), tls.bundle.display().to_string()));
            if let Some(model_proxy) = &model_proxy {
                settings.environment.push((
                    "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME".into(),
                    model_proxy.endpoint.clone(),
                ));
            }
            let runs = cli.runs;
            let samples = tokio::task::block_in_place(|| {
                (0..=runs)
                    .map(|_| measure_cold(&settings, &log, &case.payload, case.accept))
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(|e| e.to_string())?;
            // The first start warms the page cache and the emulator; it is not counted.
            let summary = InitSummary::of(&samples[1..]).ok_or("no cold-path samples")?;
            measured.push((
                case.function.to_owned(),
                case.first_event.to_owned(),
                summary,
            ));
        }
        Ok(measured)
    }
    .await;
    if let Some(model) = model {
        model.stop().await;
    }
    outcome
}
