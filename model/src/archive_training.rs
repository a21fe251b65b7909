//! Training sets from the activity archive, point-in-time correct by construction: an example
//! at time t is the user's features from the archived events at or before t only (applied and
//! read by the spec code, [`user_examples`]), and its label comes from the events after t: a
//! purchase in (t, t + 30 min].
//!
//! The split is in time, not by user: examples from the last `held_out_fraction` of the usable
//! span are held out, and training examples end 30 minutes before it, so no training label
//! looks into the held-out range. The first `warm_up_hours` of the archive give no examples:
//! the windows of a user's first day would read history the archive does not hold.
//!
//! Event time is the clock here, as it is for the windows: what the online item held at t also
//! depends on when events arrived (an event stamped before t that arrived after t was not in the
//! item at t). That lag is seconds in this pipeline; training on event time reads it as zero.

use shared::features::SpecVersion;

use crate::archive::Archive;
use crate::artifact::{ArchiveSummary, Model, TrainingSummary};
use crate::simulate::user_rng;
use crate::train::{Examples, HORIZON_MS, fit_model, rfc3339, sample_times, user_examples};

const HOUR_MS: i64 = 3_600_000;

/// The knobs of one training run on an archive.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ArchiveTrainingConfig {
    pub seed: u64,
    pub examples_per_user: usize,
    /// The share of the usable span held out, at its end: in (0, 1).
    pub held_out_fraction: f64,
    pub warm_up_hours: u32,
    pub l2: f64,
    pub spec_version: SpecVersion,
}

impl ArchiveTrainingConfig {
    pub const DEFAULT: ArchiveTrainingConfig = ArchiveTrainingConfig {
        seed: 20_261_206,
        examples_per_user: 16,
        held_out_fraction: 0.25,
        warm_up_hours: 24,
        l2: 1.0,
        spec_version: SpecVersion::LATEST,
    };

    pub fn command(&self, source: &str) -> String {
        format!(
            "cargo run -p model --bin model-train -- --archive {source} --seed {} --examples-per-user {} --held-out-fraction {} --warm-up-hours {} --l2 {} --spec-version {}",
            self.seed,
            self.examples_per_user,
            self.held_out_fraction,
            self.warm_up_hours,
            self.l2,
            self.spec_version
        )
    }
}

/// Why an archive cannot be trained on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ArchiveTrainingError {
    #[error("the archive holds no activity records")]
    NoEvents,
    #[error(
        "the archive spans {span_hours:.1} h of event time; training needs the {warm_up_hours} h warm-up, then room for a training and a held-out range, each with 30 minutes of labels after it (lower --warm-up-hours, or archive more)"
    )]
    TooShort { span_hours: f64, warm_up_hours: u32 },
    #[error(
        "the {which} examples have {positives} purchases within 30 minutes among {examples}: a model needs both outcomes (archive more activity, or move the split with --held-out-fraction)"
    )]
    OneOutcome {
        which: &'static str,
        positives: usize,
        examples: usize,
    },
    #[error("--held-out-fraction must be between 0 and 1, exclusive; it is {0}")]
    Fraction(f64),
}

/// The example times of training and of the held-out range (epoch ms, end exclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeSplit {
    pub training: std::ops::Range<i64>,
    pub held_out: std::ops::Range<i64>,
}

/// Where the split falls for an archive whose events span `from..=to`.
pub fn split_time(
    from: i64,
    to: i64,
    config: &ArchiveTrainingConfig,
) -> Result<TimeSplit, ArchiveTrainingError> {
    if !(config.held_out_fraction > 0.0 && config.held_out_fraction < 1.0) {
        return Err(ArchiveTrainingError::Fraction(config.held_out_fraction));
    }
    let too_short = || ArchiveTrainingError::TooShort {
        span_hours: (to - from) as f64 / HOUR_MS as f64,
        warm_up_hours: config.warm_up_hours,
    };
    // Every example needs its full 30 minutes of labels inside the archive.
    let first = from + i64::from(config.warm_up_hours) * HOUR_MS;
    let last = to - HORIZON_MS;
    if last <= first {
        return Err(too_short());
    }
    let split = last - ((last - first) as f64 * config.held_out_fraction) as i64;
    let training = first..split - HORIZON_MS;
    let held_out = split..last;
    if training.is_empty() || held_out.is_empty() {
        return Err(too_short());
    }
    Ok(TimeSplit { training, held_out })
}

/// The training and held-out examples of `archive`.
pub fn archive_examples(
    archive: &Archive,
    config: &ArchiveTrainingConfig,
) -> Result<(Examples, Examples, TimeSplit), ArchiveTrainingError> {
    let (Some(from), Some(to)) = (archive.stats.events_from, archive.stats.events_to) else {
        return Err(ArchiveTrainingError::NoEvents);
    };
    let split = split_time(from, to, config)?;
    let mut training = Examples::default();
    let mut held_out = Examples::default();
    // Users in name order, each with its own random stream: the same archive gives the same
    // examples.
    for (index, events) in archive.users.values().enumerate() {
        let mut rng = user_rng(config.seed, index, 1);
        let times = sample_times(
            &mut rng,
            events,
            split.training.clone(),
            config.examples_per_user,
        );
        user_examples(events, &times, config.spec_version, &mut training);
        let mut rng = user_rng(config.seed, index, 2);
        let times = sample_times(
            &mut rng,
            events,
            split.held_out.clone(),
            config.examples_per_user,
        );
        user_examples(events, &times, config.spec_version, &mut held_out);
    }
    for (which, examples) in [("training", &training), ("held-out", &held_out)] {
        let positives = examples.positives();
        if positives == 0 || positives == examples.rows.len() {
            return Err(ArchiveTrainingError::OneOutcome {
                which,
                positives,
                examples: examples.rows.len(),
            });
        }
    }
    Ok((training, held_out, split))
}

/// Trains on the archive read from `source` and measures AUC on its held-out later range.
pub fn train_on_archive(
    archive: &Archive,
    source: &str,
    config: &ArchiveTrainingConfig,
) -> Result<Model, ArchiveTrainingError> {
    let (training, held_out, split) = archive_examples(archive, config)?;
    let users = archive.users.len();
    let stats = &archive.stats;
    let summary = TrainingSummary {
        command: config.command(source),
        seed: config.seed,
        users,
        examples: 0,
        positives: 0,
        l2: config.l2,
        iterations: 0,
        held_out_users: users,
        held_out_examples: 0,
        held_out_positives: 0,
        held_out_auc: 0.0,
        archive: Some(ArchiveSummary {
            source: source.to_owned(),
            objects: stats.objects,
            records: stats.records,
            duplicates: stats.duplicates,
            malformed: stats.malformed,
            events_from: rfc3339(stats.events_from.unwrap_or_default()),
            events_to: rfc3339(stats.events_to.unwrap_or_default()),
            held_out_from: rfc3339(split.held_out.start),
            warm_up_hours: config.warm_up_hours,
        }),
    };
    Ok(fit_model(
        &training,
        &held_out,
        config.spec_version,
        summary,
    ))
}

/// The AUC of another model (`model`, say the one in service) on the held-out examples
/// `config` gives, computed at that model's own spec version: the comparison a new model is
/// judged by.
pub fn held_out_auc(
    archive: &Archive,
    config: &ArchiveTrainingConfig,
    model: &Model,
) -> Result<f64, String> {
    let version =
        SpecVersion::from_number(model.feature_spec_version).map_err(|error| error.to_string())?;
    let same_split = ArchiveTrainingConfig {
        spec_version: version,
        ..*config
    };
    let (_, held_out, _) = archive_examples(archive, &same_split).map_err(|e| e.to_string())?;
    let scores = model
        .score_rows(&held_out.rows)
        .map_err(|error| format!("the model cannot score these rows: {error}"))?;
    Ok(crate::train::auc(&scores, &held_out.labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 24 * HOUR_MS;

    #[test]
    fn the_split_leaves_labels_of_training_before_the_held_out_range() {
        let config = ArchiveTrainingConfig::DEFAULT;
        let split = split_time(0, 3 * DAY, &config).unwrap();
        // Usable: 24 h to 72 h - 30 min; the last quarter held out.
        let last = 3 * DAY - HORIZON_MS;
        assert_eq!(split.held_out.end, last);
        assert_eq!(split.held_out.start, last - (last - DAY) / 4);
        assert_eq!(split.training, DAY..split.held_out.start - HORIZON_MS);
        let error = split_time(0, DAY + HOUR_MS, &config).unwrap_err();
        assert!(error.to_string().contains("spans 25.0 h"), "{error}");
        for fraction in [0.0, 1.0, f64::NAN] {
            let config = ArchiveTrainingConfig {
                held_out_fraction: fraction,
                ..config
            };
            assert!(matches!(
                split_time(0, 3 * DAY, &config),
                Err(ArchiveTrainingError::Fraction(_))
            ));
        }
    }
}
