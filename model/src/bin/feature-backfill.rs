//! Migrates the features table to the latest feature spec version from the activity archive;
//! prints progress and a summary. See `model::backfill` and the rollout runbook in
//! docs/operations.md.

use std::path::PathBuf;
use std::process::ExitCode;

use model::archive::{ArchiveLocation, read};
use model::backfill::{BackfillOptions, run};

const USAGE: &str = "usage: feature-backfill --archive DIR|s3://BUCKET/PREFIX --table NAME [--write-units-per-second X (default 50)] [--progress-file FILE] [--max-items N]";

fn parse() -> Result<(ArchiveLocation, BackfillOptions), String> {
    let mut archive = None;
    let mut options = BackfillOptions {
        table: String::new(),
        source: String::new(),
        write_units_per_second: 50.0,
        progress_file: None,
        max_items: None,
    };
    let mut arguments = std::env::args().skip(1);
    while let Some(flag) = arguments.next() {
        let value = arguments
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--archive" => {
                archive = Some(
                    value
                        .parse::<ArchiveLocation>()
                        .map_err(|e| e.to_string())?,
                )
            }
            "--table" => options.table = value,
            "--write-units-per-second" => {
                options.write_units_per_second = value
                    .parse()
                    .map_err(|e| format!("--write-units-per-second {value:?}: {e}"))?
            }
            "--progress-file" => options.progress_file = Some(PathBuf::from(value)),
            "--max-items" => {
                options.max_items = Some(
                    value
                        .parse()
                        .map_err(|e| format!("--max-items {value:?}: {e}"))?,
                )
            }
            _ => return Err(format!("unknown option {flag}\n{USAGE}")),
        }
    }
    let archive = archive.ok_or_else(|| format!("--archive is required\n{USAGE}"))?;
    if options.table.is_empty() {
        return Err(format!("--table is required\n{USAGE}"));
    }
    options.source = archive.to_string();
    Ok((archive, options))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let (location, options) = match parse() {
        Ok(parsed) => parsed,
        Err(error) => {
            eprintln!("feature-backfill: {error}");
            return ExitCode::from(2);
        }
    };
    let archive = match read(&location).await {
        Ok(archive) => archive,
        Err(error) => {
            eprintln!("feature-backfill: {error}");
            return ExitCode::from(1);
        }
    };
    println!("archive {location}: {}", archive.summary());
    let shared = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = aws_sdk_dynamodb::Client::new(&shared);
    let summary = match run(&client, &archive, &options, |counts| {
        println!("progress: {counts}");
    })
    .await
    {
        Ok(summary) => summary,
        Err(error) => {
            eprintln!("feature-backfill: {error}");
            return ExitCode::from(2);
        }
    };
    println!(
        "backfill of {} {} in {:.1} s ({} items handled by an earlier run): {}",
        options.table,
        if summary.complete {
            "complete"
        } else {
            "stopped at --max-items (run again with the progress file to go on)"
        },
        summary.elapsed.as_secs_f64(),
        summary.resumed_after,
        summary.counts
    );
    for (user, reason) in &summary.failures {
        eprintln!("feature-backfill: {user}: {reason}");
    }
    if summary.counts.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
