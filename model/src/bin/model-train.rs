//! Trains the reference model and writes `model.json`; prints what it measured.
//! The defaults reproduce the checked-in model at `model/artifacts/model.json`.

use std::path::PathBuf;
use std::process::ExitCode;

use model::artifact::ARTIFACT_FILE;
use model::train::{TrainingConfig, train};

fn main() -> ExitCode {
    let mut config = TrainingConfig::REFERENCE;
    let mut out = PathBuf::from("model/artifacts");
    let mut arguments = std::env::args().skip(1);
    while let Some(flag) = arguments.next() {
        let value = arguments.next();
        let parsed = match (flag.as_str(), value.as_deref()) {
            ("--seed", Some(v)) => v.parse().map(|v| config.seed = v).map_err(|e| e.to_string()),
            ("--users", Some(v)) => v.parse().map(|v| config.users = v).map_err(|e| e.to_string()),
            ("--held-out-users", Some(v)) => v
                .parse()
                .map(|v| config.held_out_users = v)
                .map_err(|e| e.to_string()),
            ("--examples-per-user", Some(v)) => v
                .parse()
                .map(|v| config.examples_per_user = v)
                .map_err(|e| e.to_string()),
            ("--l2", Some(v)) => v.parse().map(|v| config.l2 = v).map_err(|e| e.to_string()),
            ("--out", Some(v)) => {
                out = PathBuf::from(v);
                Ok(())
            }
            _ => Err("usage: model-train [--seed N] [--users N] [--held-out-users N] [--examples-per-user N] [--l2 X] [--out DIR]".to_owned()),
        };
        if let Err(error) = parsed {
            eprintln!("model-train: {flag}: {error}");
            return ExitCode::from(2);
        }
    }
    if config.users == 0 || config.held_out_users == 0 || config.examples_per_user == 0 {
        eprintln!("model-train: users, held-out users and examples per user must be at least 1");
        return ExitCode::from(2);
    }
    let model = train(&config);
    let path = out.join(ARTIFACT_FILE);
    let text = serde_json::to_string_pretty(&model).expect("a model serializes") + "\n";
    if let Err(error) = std::fs::create_dir_all(&out).and_then(|()| std::fs::write(&path, text)) {
        eprintln!("model-train: cannot write {}: {error}", path.display());
        return ExitCode::from(1);
    }
    let t = &model.training;
    println!("model {} -> {}", model.version, path.display());
    println!(
        "trained on {} users, {} examples ({} positive), {} Newton iterations",
        t.users, t.examples, t.positives, t.iterations
    );
    println!(
        "held-out AUC {:.4} on {} users, {} examples ({} positive)",
        t.held_out_auc, t.held_out_users, t.held_out_examples, t.held_out_positives
    );
    ExitCode::SUCCESS
}
