//! `perf-report measure`: init time and CPU of every function (release binaries against a stub
//! Runtime API, median of repeated runs) and the deployment zip sizes, written as JSON for
//! `tools/perf/cost_report.py`. `tools/perf.sh` builds what it needs and runs both.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use perf::environment::{UNREACHABLE_ENDPOINT, function_settings, named_resources};
use perf::init::{InitSample, InitSummary, measure_cold, measure_once};
use perf::machine::Machine;
use perf::workload::{self, WorkloadOptions, WorkloadReport};
use perf::zips::{zip_architecture, zip_sizes};
use serde::Serialize;
use shared::stack::Stack;

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
    /// The moto server the reference workload runs against (started on a free loopback port).
    #[arg(long, default_value = ".venv/bin/moto_server")]
    moto_server: PathBuf,
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
    /// Certificate (PEM) of the TLS terminator put in front of the emulator for the cold path;
    /// with --tls-key and --ca-bundle (`tools/perf.sh` makes all three with openssl).
    #[arg(long, requires_all = ["tls_key", "ca_bundle"])]
    tls_certificate: Option<PathBuf>,
    #[arg(long)]
    tls_key: Option<PathBuf>,
    /// Root certificates the function trusts (`SSL_CERT_FILE`): the system's and the terminator's.
    #[arg(long)]
    ca_bundle: Option<PathBuf>,
}

/// The cold path's function and first event: a list of the caller's tasks, one DynamoDB Query.
const COLD_FUNCTION: &str = "todo-api";
const COLD_EVENT: &str = "events/todo-api/list-tasks.json";

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
    /// Init plus a first invocation that makes one DynamoDB call over TLS, per function.
    cold_path: BTreeMap<String, InitSummary>,
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

    let (workload, cold_path) = if cli.events == 0 && cli.tls_certificate.is_none() {
        (None, BTreeMap::new())
    } else {
        let options = WorkloadOptions {
            events: cli.events,
            users: cli.users,
            zipf_exponent: cli.zipf_exponent,
            seed: cli.seed,
            order_share: cli.order_share,
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(run_emulated(&stack, cli, out_dir, &options))?
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
        cold_path,
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
    }
    let json = serde_json::to_string_pretty(&measurements).map_err(|e| e.to_string())?;
    std::fs::write(&cli.out, json + "\n").map_err(|e| format!("{}: {e}", cli.out.display()))?;
    println!("measurements: {}", cli.out.display());
    Ok(())
}

/// Starts a moto server of its own and creates the manifest's resources under a fresh prefix;
/// runs the workload, then the cold path through a TLS terminator; the emulator stops with it.
async fn run_emulated(
    stack: &Stack,
    cli: &Cli,
    out_dir: &std::path::Path,
    options: &WorkloadOptions,
) -> Result<(Option<WorkloadReport>, BTreeMap<String, InitSummary>), String> {
    let logs = local_stack::logs::LogSink::create(&out_dir.join("workload.log"), false)
        .map_err(|e| format!("workload log: {e}"))?;
    let mut emulator = local_stack::emulator::Emulator::start(&cli.moto_server, &logs)
        .await
        .map_err(|e| e.to_string())?;
    let clients =
        local_stack::stack::emulator_clients(&emulator.endpoint, perf::environment::REGION);
    let prefix = format!("perf-{}", ulid::Ulid::new().to_string().to_lowercase());
    let mut resources = local_stack::resources::Resources::name(stack, &prefix);
    let outcome = async {
        resources
            .create(stack, &clients, &logs)
            .await
            .map_err(|e| e.to_string())?;
        let workload = if options.events == 0 {
            None
        } else {
            Some(
                workload::run(stack, &emulator.endpoint, &resources, options)
                    .await
                    .map_err(|e| e.to_string())?,
            )
        };
        let cold = match (&cli.tls_certificate, &cli.tls_key, &cli.ca_bundle) {
            (Some(certificate), Some(key), Some(bundle)) => {
                cold_path(
                    stack,
                    cli,
                    out_dir,
                    &resources,
                    &emulator.endpoint,
                    certificate,
                    key,
                    bundle,
                )
                .await?
            }
            _ => BTreeMap::new(),
        };
        Ok((workload, cold))
    }
    .await;
    emulator.stop().await;
    outcome
}

/// The cold path of [`COLD_FUNCTION`]: `--runs` starts, each answering [`COLD_EVENT`] with its
/// first DynamoDB call made over TLS to the terminator.
#[allow(clippy::too_many_arguments)]
async fn cold_path(
    stack: &Stack,
    cli: &Cli,
    out_dir: &std::path::Path,
    resources: &local_stack::resources::Resources,
    emulator: &str,
    certificate: &std::path::Path,
    key: &std::path::Path,
    bundle: &std::path::Path,
) -> Result<BTreeMap<String, InitSummary>, String> {
    let upstream = emulator.trim_start_matches("http://").to_owned();
    let proxy = perf::tls_proxy::TlsProxy::start(certificate, key, upstream)
        .await
        .map_err(|e| e.to_string())?;
    let payload = std::fs::read(COLD_EVENT).map_err(|e| format!("{COLD_EVENT}: {e}"))?;
    let log = out_dir
        .join("logs")
        .join(format!("{COLD_FUNCTION}-cold.log"));
    let mut settings = function_settings(
        stack,
        resources,
        COLD_FUNCTION,
        &cli.functions_dir,
        &proxy.endpoint,
    )
    .map_err(|e| e.to_string())?;
    settings
        .environment
        .push(("SSL_CERT_FILE".into(), bundle.display().to_string()));
    let runs = cli.runs;
    let samples = tokio::task::block_in_place(|| {
        (0..=runs)
            .map(|_| measure_cold(&settings, &log, &payload, answered_200))
            .collect::<Result<Vec<_>, _>>()
    })
    .map_err(|e| e.to_string())?;
    // The first start warms the page cache and the emulator's table; it is not counted.
    let summary = InitSummary::of(&samples[1..]).ok_or("no cold-path samples")?;
    Ok(BTreeMap::from([(COLD_FUNCTION.to_owned(), summary)]))
}

/// The cold path counts only if the first request was served: an HTTP API answer of 200.
fn answered_200(body: &[u8]) -> Result<(), String> {
    let answer: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        format!(
            "the answer is not JSON ({e}): {}",
            String::from_utf8_lossy(body)
        )
    })?;
    match answer["statusCode"].as_u64() {
        Some(200) => Ok(()),
        _ => Err(format!("expected statusCode 200, got: {answer}")),
    }
}
