//! `perf-report measure`: init time and CPU of every function (release binaries against a stub
//! Runtime API, median of repeated runs) and the deployment zip sizes, written as JSON for
//! `tools/perf/cost_report.py`. `tools/perf.sh` builds what it needs and runs both.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use perf::environment::{function_environment, named_resources};
use perf::init::{InitSample, InitSummary, measure_once};
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
    let functions: Vec<&String> = stack.functions.keys().collect();
    let mut samples: BTreeMap<&str, Vec<InitSample>> = BTreeMap::new();
    // Round after round over every function, so a noisy moment of the machine spreads over
    // all of them instead of landing on one; round 0 warms the page cache and is discarded.
    for round in 0..=cli.runs {
        for function in &functions {
            let binary = cli.functions_dir.join(function);
            if !binary.is_file() {
                return Err(format!(
                    "{} is missing: build it with `cargo build --release -p {function}`",
                    binary.display()
                ));
            }
            let environment = |runtime_api: &str| {
                function_environment(&stack, &resources, function, runtime_api)
                    .expect("a function of this manifest")
            };
            let log = logs.join(format!("{function}.log"));
            let sample = measure_once(&binary, environment, &log).map_err(|e| e.to_string())?;
            if round > 0 {
                samples.entry(function.as_str()).or_default().push(sample);
            }
        }
    }
    let init: BTreeMap<String, InitSummary> = samples
        .into_iter()
        .filter_map(|(function, s)| Some((function.to_owned(), InitSummary::of(&s)?)))
        .collect();

    let workload = if cli.events == 0 {
        None
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
        Some(runtime.block_on(run_workload(&stack, cli, out_dir, &options))?)
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

/// Starts a moto server of its own, creates the manifest's resources under a fresh prefix and
/// runs the workload; the emulator stops with it.
async fn run_workload(
    stack: &Stack,
    cli: &Cli,
    out_dir: &std::path::Path,
    options: &WorkloadOptions,
) -> Result<WorkloadReport, String> {
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
        workload::run(stack, &emulator.endpoint, &resources, options)
            .await
            .map_err(|e| e.to_string())
    }
    .await;
    emulator.stop().await;
    outcome
}
