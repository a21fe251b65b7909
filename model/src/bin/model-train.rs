//! Trains a model and writes `model.json`; prints what it measured.
//!
//! Without `--archive`, on simulated users: the defaults reproduce the checked-in model at
//! `model/artifacts/model.json`. With `--archive <folder or s3://bucket/prefix>`, on the
//! activity archive, split in time.

use std::path::PathBuf;
use std::process::ExitCode;

use model::Model;
use model::archive::{ArchiveLocation, read};
use model::archive_training::{ArchiveTrainingConfig, held_out_auc, train_on_archive};
use model::artifact::ARTIFACT_FILE;
use model::train::{TrainingConfig, train};
use shared::features::SpecVersion;

const USAGE: &str = "usage: model-train [--archive DIR|s3://BUCKET/PREFIX] [--spec-version N] [--seed N] [--examples-per-user N] [--l2 X] [--out DIR]
  simulated users (no --archive): [--users N] [--held-out-users N]
  archive: [--held-out-fraction X] [--warm-up-hours N] [--compare-with MODEL_DIR]";

struct Options {
    archive: Option<ArchiveLocation>,
    /// A model (say the one in service) to score on the same held-out examples.
    compare_with: Option<PathBuf>,
    simulated: TrainingConfig,
    archived: ArchiveTrainingConfig,
    out: PathBuf,
}

fn parse() -> Result<Options, String> {
    let mut options = Options {
        archive: None,
        compare_with: None,
        simulated: TrainingConfig::REFERENCE,
        archived: ArchiveTrainingConfig::DEFAULT,
        out: PathBuf::from("model/artifacts"),
    };
    let mut spec_version = None;
    let mut arguments = std::env::args().skip(1);
    while let Some(flag) = arguments.next() {
        let value = arguments
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let fail = |error: String| format!("{flag} {value:?}: {error}");
        let number = |value: &str| value.parse::<usize>().map_err(|e| fail(e.to_string()));
        let decimal = |value: &str| value.parse::<f64>().map_err(|e| fail(e.to_string()));
        let (s, a) = (&mut options.simulated, &mut options.archived);
        match flag.as_str() {
            "--archive" => options.archive = Some(value.parse().map_err(|e| fail(format!("{e}")))?),
            "--spec-version" => {
                spec_version = Some(
                    value
                        .parse::<SpecVersion>()
                        .map_err(|e| fail(e.to_string()))?,
                )
            }
            "--seed" => {
                let seed = value
                    .parse()
                    .map_err(|e: std::num::ParseIntError| fail(e.to_string()))?;
                (s.seed, a.seed) = (seed, seed);
            }
            "--examples-per-user" => {
                let count = number(&value)?;
                (s.examples_per_user, a.examples_per_user) = (count, count);
            }
            "--l2" => {
                let l2 = decimal(&value)?;
                (s.l2, a.l2) = (l2, l2);
            }
            "--users" => s.users = number(&value)?,
            "--held-out-users" => s.held_out_users = number(&value)?,
            "--held-out-fraction" => a.held_out_fraction = decimal(&value)?,
            "--warm-up-hours" => {
                a.warm_up_hours = value
                    .parse()
                    .map_err(|e: std::num::ParseIntError| fail(e.to_string()))?
            }
            "--out" => options.out = PathBuf::from(value),
            "--compare-with" => options.compare_with = Some(PathBuf::from(value)),
            _ => return Err(format!("unknown option {flag}\n{USAGE}")),
        }
    }
    if let Some(version) = spec_version {
        options.simulated.spec_version = version;
        options.archived.spec_version = version;
    }
    let s = &options.simulated;
    if s.users == 0 || s.held_out_users == 0 || s.examples_per_user == 0 {
        return Err("users, held-out users and examples per user must be at least 1".into());
    }
    if !(options.archived.l2 >= 0.0 && s.l2 >= 0.0) {
        return Err("--l2 must be a number ≥ 0".into());
    }
    Ok(options)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let options = match parse() {
        Ok(options) => options,
        Err(error) => {
            eprintln!("model-train: {error}");
            return ExitCode::from(2);
        }
    };
    let model = match &options.archive {
        None => train(&options.simulated),
        Some(location) => {
            let archive = match read(location).await {
                Ok(archive) => archive,
                Err(error) => {
                    eprintln!("model-train: {error}");
                    return ExitCode::from(1);
                }
            };
            println!("archive {location}: {}", archive.summary());
            if let Some(first) = &archive.stats.first_malformed {
                println!("first malformed record: {first}");
            }
            let model = match train_on_archive(&archive, &location.to_string(), &options.archived) {
                Ok(model) => model,
                Err(error) => {
                    eprintln!("model-train: {error}");
                    return ExitCode::from(1);
                }
            };
            if let Some(dir) = &options.compare_with {
                let compared = Model::load(dir)
                    .map_err(|e| e.to_string())
                    .and_then(|other| {
                        held_out_auc(&archive, &options.archived, &other).map(|auc| (other, auc))
                    });
                match compared {
                    Ok((other, auc)) => println!(
                        "compared: {} (feature spec version {}) from {} on the same held-out examples: AUC {auc:.4}",
                        other.version,
                        other.feature_spec_version,
                        dir.display()
                    ),
                    Err(error) => {
                        eprintln!("model-train: --compare-with {}: {error}", dir.display());
                        return ExitCode::from(1);
                    }
                }
            }
            model
        }
    };
    write(&model, &options.out)
}

fn write(model: &Model, out: &std::path::Path) -> ExitCode {
    let path = out.join(ARTIFACT_FILE);
    let text = serde_json::to_string_pretty(model).expect("a model serializes") + "\n";
    if let Err(error) = std::fs::create_dir_all(out).and_then(|()| std::fs::write(&path, text)) {
        eprintln!("model-train: cannot write {}: {error}", path.display());
        return ExitCode::from(1);
    }
    let t = &model.training;
    println!(
        "model {} (feature spec version {}) -> {}",
        model.version,
        model.feature_spec_version,
        path.display()
    );
    println!(
        "trained on {} users, {} examples ({} positive), {} Newton iterations",
        t.users, t.examples, t.positives, t.iterations
    );
    match &t.archive {
        None => println!(
            "held-out AUC {:.4} on {} users, {} examples ({} positive)",
            t.held_out_auc, t.held_out_users, t.held_out_examples, t.held_out_positives
        ),
        Some(archive) => println!(
            "held-out AUC {:.4} on {} examples ({} positive) from {} to {}",
            t.held_out_auc,
            t.held_out_examples,
            t.held_out_positives,
            archive.held_out_from,
            archive.events_to
        ),
    }
    ExitCode::SUCCESS
}
