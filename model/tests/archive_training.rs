//! Training on an archive: simulated users written as the archive holds activity (date
//! partitions of gzipped JSON lines, with a Firehose retry's duplicates and a damaged line),
//! read back and trained on with the split in time.

use std::io::Write;
use std::path::{Path, PathBuf};

use model::archive::{ArchiveLocation, read};
use model::archive_training::{ArchiveTrainingConfig, held_out_auc, train_on_archive};
use model::simulate::simulate_user;
use model::train::START_MS;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const SEED: u64 = 41;
const USERS: usize = 300;

fn rfc3339(at_ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(at_ms) * 1_000_000)
        .unwrap()
        .format(&Rfc3339)
        .unwrap()
}

/// Writes the simulated population as an archive under `root`; with `duplicates`, every
/// fifth record is written a second time into another object.
fn write_archive(root: &Path, duplicates: bool) {
    let mut partitions: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for index in 0..USERS {
        let user = simulate_user(SEED, index, START_MS, 3);
        for (n, event) in user.events.iter().enumerate() {
            let timestamp = rfc3339(event.at_ms);
            let amount = event
                .amount
                .map_or(String::new(), |amount| format!(r#","amount":{amount}"#));
            let record = format!(
                r#"{{"eventId":"e-{index}-{n}","userId":"sim-{index}","type":"{}","timestamp":"{timestamp}"{amount}}}"#,
                event.activity_type.as_str()
            );
            let date = timestamp[..10].to_owned();
            if duplicates && n % 5 == 0 {
                partitions
                    .entry(format!("{date}/retry"))
                    .or_default()
                    .push(record.clone());
            }
            partitions
                .entry(format!("{date}/first"))
                .or_default()
                .push(record);
        }
    }
    for (key, records) in partitions {
        let (date, name) = key.split_once('/').unwrap();
        let dir = root.join(format!("activity/date={date}"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        for record in records {
            writeln!(encoder, "{record}").unwrap();
        }
        if duplicates {
            writeln!(encoder, "{{\"eventId\": truncated").unwrap();
        }
        std::fs::write(dir.join(format!("{name}.gz")), encoder.finish().unwrap()).unwrap();
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[tokio::test]
async fn a_model_trained_on_the_archive_predicts_the_later_range_and_ignores_resends() {
    let clean = scratch("archive-clean");
    let resent = scratch("archive-resent");
    write_archive(&clean, false);
    write_archive(&resent, true);
    let config = ArchiveTrainingConfig::DEFAULT;

    let archive = read(&ArchiveLocation::Folder(resent.clone()))
        .await
        .unwrap();
    assert!(archive.stats.duplicates > 1_000, "{:?}", archive.stats);
    assert_eq!(
        archive.stats.malformed, archive.stats.objects,
        "one damaged line each"
    );
    let active = (0..USERS)
        .filter(|index| !simulate_user(SEED, *index, START_MS, 3).events.is_empty())
        .count();
    assert_eq!(archive.users.len(), active);
    let model = train_on_archive(&archive, "resent", &config).unwrap();

    let summary = model.training.archive.as_ref().unwrap();
    assert_eq!(summary.duplicates, archive.stats.duplicates);
    assert_eq!(summary.events_from[..10], *"2026-01-01");
    assert!(summary.held_out_from.as_str() > "2026-01-03", "{summary:?}");
    assert_eq!(model.feature_spec_version, config.spec_version.number());
    assert!(
        model.training.held_out_auc > 0.8,
        "held-out AUC {}",
        model.training.held_out_auc
    );

    // The checked-in model (spec version 1, simulated users of another seed), on the same
    // held-out examples at its own version.
    let checked_in =
        model::Model::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts"))
            .unwrap();
    let compared = held_out_auc(&archive, &config, &checked_in).unwrap();
    assert!(compared > 0.8, "the checked-in model: AUC {compared}");

    // Duplicates and damage left out: the same model as from the clean archive.
    let archive = read(&ArchiveLocation::Folder(clean.clone())).await.unwrap();
    assert_eq!(archive.stats.duplicates, 0);
    let from_clean = train_on_archive(&archive, "resent", &config).unwrap();
    assert_eq!(from_clean.version, model.version);
    assert_eq!(from_clean.training.examples, model.training.examples);

    std::fs::remove_dir_all(clean).unwrap();
    std::fs::remove_dir_all(resent).unwrap();
}

#[tokio::test]
async fn an_archive_too_short_for_the_warm_up_is_refused_with_the_reason() {
    let dir = scratch("archive-short");
    let partition = dir.join("activity/date=2026-01-01");
    std::fs::create_dir_all(&partition).unwrap();
    let records: String = (0..4)
        .map(|n| {
            format!(
                "{{\"eventId\":\"e{n}\",\"userId\":\"u\",\"type\":\"view\",\"timestamp\":\"{}\"}}\n",
                rfc3339(START_MS + n * 3_600_000)
            )
        })
        .collect();
    std::fs::write(partition.join("a"), records).unwrap();
    let archive = read(&ArchiveLocation::Folder(dir.clone())).await.unwrap();
    let error = train_on_archive(&archive, "short", &ArchiveTrainingConfig::DEFAULT).unwrap_err();
    assert!(error.to_string().contains("spans 3.0 h"), "{error}");
    std::fs::remove_dir_all(dir).unwrap();
}
