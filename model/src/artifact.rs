//! The model artifact (`model.json`): a logistic regression over the feature spec's numeric row,
//! with the transform of every column, the spec version it was trained on and how it was
//! trained. Training writes it; the server loads it; both expand rows with [`Model::expand`], so
//! what is trained is what is served.

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The file the server loads from its model directory.
pub const ARTIFACT_FILE: &str = "model.json";
/// The artifact's format; a server refuses any other.
pub const FORMAT: &str = "logistic-regression/v1";

/// A trained model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Model {
    pub format: String,
    /// Names this model's parameters: `<target>-lr-<12 hex digits of their SHA-256>`.
    pub version: String,
    /// The feature spec version the training rows were computed with.
    pub feature_spec_version: u32,
    /// What the score is the probability of.
    pub target: String,
    /// One per input column, in the spec's column order.
    pub columns: Vec<Column>,
    pub intercept: f64,
    pub training: TrainingSummary,
}

/// How one input column enters the linear score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "transform", rename_all = "camelCase", deny_unknown_fields)]
pub enum Column {
    /// `weight * (ln(1 + x) - mean) / scale`: counts, seconds and amounts are heavy-tailed.
    #[serde(rename_all = "camelCase")]
    Log1p {
        name: String,
        mean: f64,
        scale: f64,
        weight: f64,
    },
    /// `weights[x]`: x is a category code, one weight per code.
    #[serde(rename_all = "camelCase")]
    Category { name: String, weights: Vec<f64> },
}

impl Column {
    pub fn name(&self) -> &str {
        match self {
            Column::Log1p { name, .. } | Column::Category { name, .. } => name,
        }
    }

    /// Terms this column contributes to the expanded row.
    fn width(&self) -> usize {
        match self {
            Column::Log1p { .. } => 1,
            Column::Category { weights, .. } => weights.len(),
        }
    }
}

/// How and on what the model was trained, and how well it did on users it never saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrainingSummary {
    pub command: String,
    pub seed: u64,
    pub users: usize,
    pub examples: usize,
    pub positives: usize,
    pub l2: f64,
    pub iterations: usize,
    pub held_out_users: usize,
    pub held_out_examples: usize,
    pub held_out_positives: usize,
    pub held_out_auc: f64,
    /// Where the examples came from when they came from the activity archive, not simulation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive: Option<ArchiveSummary>,
}

/// The archive a model was trained on, and how its examples were split in time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArchiveSummary {
    /// The folder or `s3://bucket/prefix` read.
    pub source: String,
    pub objects: usize,
    /// Records read, duplicates (the same user and event id again) and malformed lines left out.
    pub records: usize,
    pub duplicates: usize,
    pub malformed: usize,
    /// Event times of the oldest and newest event (RFC 3339).
    pub events_from: String,
    pub events_to: String,
    /// Examples at or after this time are held out; training examples and their labels end
    /// before it.
    pub held_out_from: String,
    pub warm_up_hours: u32,
}

/// Why a row cannot be scored.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RowError {
    #[error(
        "row {row} has {got} values; this model takes {expected}, in the feature spec's column order"
    )]
    Width {
        row: usize,
        got: usize,
        expected: usize,
    },
    #[error("row {row}, column {column} ({name}): {value} is not a finite number ≥ 0")]
    NotACount {
        row: usize,
        column: usize,
        name: String,
        value: f64,
    },
    #[error(
        "row {row}, column {column} ({name}): {value} is not a category code (an integer in 0..{codes})"
    )]
    NotACode {
        row: usize,
        column: usize,
        name: String,
        value: f64,
        codes: usize,
    },
}

/// Why an artifact cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read the model {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the model {path} is not a valid artifact: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error("the model {path} is of format {found:?}; this server reads {FORMAT:?}")]
    Format { path: String, found: String },
    #[error("the model {path} is invalid: {reason}")]
    Invalid { path: String, reason: String },
}

impl Model {
    /// Loads `model.json` from `dir` and checks it can score.
    pub fn load(dir: &Path) -> Result<Self, LoadError> {
        let path = dir.join(ARTIFACT_FILE);
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(&path).map_err(|source| LoadError::Read {
            path: shown.clone(),
            source,
        })?;
        let model: Model = serde_json::from_str(&text).map_err(|source| LoadError::Parse {
            path: shown.clone(),
            source,
        })?;
        if model.format != FORMAT {
            return Err(LoadError::Format {
                path: shown,
                found: model.format,
            });
        }
        model.check().map_err(|reason| LoadError::Invalid {
            path: shown,
            reason,
        })?;
        Ok(model)
    }

    fn check(&self) -> Result<(), String> {
        if self.columns.is_empty() {
            return Err("it has no columns".into());
        }
        let finite = |value: f64| value.is_finite();
        for column in &self.columns {
            let ok = match column {
                Column::Log1p {
                    mean,
                    scale,
                    weight,
                    ..
                } => finite(*mean) && finite(*weight) && finite(*scale) && *scale > 0.0,
                Column::Category { weights, .. } => {
                    !weights.is_empty() && weights.iter().copied().all(finite)
                }
            };
            if !ok {
                return Err(format!(
                    "column {} has a non-finite parameter or a scale ≤ 0",
                    column.name()
                ));
            }
        }
        if !finite(self.intercept) {
            return Err("the intercept is not finite".into());
        }
        if self.version != self.parameter_version() {
            return Err(format!(
                "its version {} does not match its parameters ({}): it was edited after training",
                self.version,
                self.parameter_version()
            ));
        }
        Ok(())
    }

    /// The version its parameters call for. Parameters are hashed at 12 significant digits,
    /// so the version survives a round trip through JSON text.
    pub fn parameter_version(&self) -> String {
        let mut canonical = format!("{}|{:.11e}", self.target, self.intercept);
        for column in &self.columns {
            canonical.push_str(&format!("|{}", column.name()));
            let numbers: Vec<f64> = match column {
                Column::Log1p {
                    mean,
                    scale,
                    weight,
                    ..
                } => vec![*mean, *scale, *weight],
                Column::Category { weights, .. } => weights.clone(),
            };
            for number in numbers {
                canonical.push_str(&format!(",{number:.11e}"));
            }
        }
        let digest = Sha256::digest(canonical.as_bytes());
        let hex: String = digest[..6]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        format!("{}-lr-{hex}", self.target)
    }

    /// Terms of the expanded row (the design vector without the intercept).
    pub fn width(&self) -> usize {
        self.columns.iter().map(Column::width).sum()
    }

    /// The expanded terms of input row `row` (the `index`-th of a request), checked.
    pub fn expand(&self, index: usize, row: &[f64]) -> Result<Vec<f64>, RowError> {
        if row.len() != self.columns.len() {
            return Err(RowError::Width {
                row: index,
                got: row.len(),
                expected: self.columns.len(),
            });
        }
        let mut terms = Vec::with_capacity(self.width());
        for (position, (column, &value)) in self.columns.iter().zip(row).enumerate() {
            match column {
                Column::Log1p {
                    name, mean, scale, ..
                } => {
                    if !(value.is_finite() && value >= 0.0) {
                        return Err(RowError::NotACount {
                            row: index,
                            column: position,
                            name: name.clone(),
                            value,
                        });
                    }
                    terms.push((value.ln_1p() - mean) / scale);
                }
                Column::Category { name, weights } => {
                    let codes = weights.len();
                    if !(value.is_finite() && value.fract() == 0.0 && value >= 0.0)
                        || value as usize >= codes
                    {
                        return Err(RowError::NotACode {
                            row: index,
                            column: position,
                            name: name.clone(),
                            value,
                            codes,
                        });
                    }
                    let code = value as usize;
                    terms.extend((0..codes).map(|c| if c == code { 1.0 } else { 0.0 }));
                }
            }
        }
        Ok(terms)
    }

    /// The weights of the expanded terms, in [`Model::expand`]'s order.
    pub fn weights(&self) -> Vec<f64> {
        let mut weights = Vec::with_capacity(self.width());
        for column in &self.columns {
            match column {
                Column::Log1p { weight, .. } => weights.push(*weight),
                Column::Category { weights: w, .. } => weights.extend(w),
            }
        }
        weights
    }

    /// Sets the expanded terms' weights (training's result).
    pub fn set_weights(&mut self, weights: &[f64]) {
        let mut rest = weights;
        for column in &mut self.columns {
            let (mine, others) = rest.split_at(column.width());
            match column {
                Column::Log1p { weight, .. } => *weight = mine[0],
                Column::Category { weights, .. } => weights.copy_from_slice(mine),
            }
            rest = others;
        }
    }

    /// The probability of the target for input row `row`.
    pub fn score(&self, index: usize, row: &[f64]) -> Result<f64, RowError> {
        let terms = self.expand(index, row)?;
        Ok(sigmoid(linear(self.intercept, &self.weights(), &terms)))
    }

    /// Scores many rows; the first bad row fails them all, naming itself.
    pub fn score_rows(&self, rows: &[Vec<f64>]) -> Result<Vec<f64>, RowError> {
        let weights = self.weights();
        rows.iter()
            .enumerate()
            .map(|(index, row)| {
                let terms = self.expand(index, row)?;
                Ok(sigmoid(linear(self.intercept, &weights, &terms)))
            })
            .collect()
    }
}

pub(crate) fn linear(intercept: f64, weights: &[f64], terms: &[f64]) -> f64 {
    intercept
        + weights
            .iter()
            .zip(terms)
            .map(|(weight, term)| weight * term)
            .sum::<f64>()
}

pub(crate) fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> Model {
        let mut model = Model {
            format: FORMAT.into(),
            version: String::new(),
            feature_spec_version: 1,
            target: "purchase-30m".into(),
            columns: vec![
                Column::Log1p {
                    name: "a".into(),
                    mean: 1.0,
                    scale: 2.0,
                    weight: 0.5,
                },
                Column::Category {
                    name: "t".into(),
                    weights: vec![0.0, 1.0, -1.0],
                },
            ],
            intercept: -0.25,
            training: TrainingSummary {
                command: String::new(),
                seed: 0,
                users: 0,
                examples: 0,
                positives: 0,
                l2: 0.0,
                iterations: 0,
                held_out_users: 0,
                held_out_examples: 0,
                held_out_positives: 0,
                held_out_auc: 0.0,
                archive: None,
            },
        };
        model.version = model.parameter_version();
        model
    }

    #[test]
    fn scores_log1p_terms_and_one_hot_categories() {
        let model = model();
        let x = 3.0_f64;
        let expected = sigmoid(-0.25 + 0.5 * ((x.ln_1p() - 1.0) / 2.0) - 1.0);
        assert!((model.score(0, &[x, 2.0]).unwrap() - expected).abs() < 1e-15);
        assert_eq!(model.expand(0, &[0.0, 1.0]).unwrap()[1..], [0.0, 1.0, 0.0]);
    }

    #[test]
    fn refuses_rows_it_cannot_score_naming_row_and_column() {
        let model = model();
        let rows = vec![vec![1.0, 0.0], vec![1.0]];
        let error = model.score_rows(&rows).unwrap_err();
        assert_eq!(
            error,
            RowError::Width {
                row: 1,
                got: 1,
                expected: 2
            }
        );
        for (row, needle) in [
            (vec![-1.0, 0.0], "column 0 (a): -1"),
            (vec![f64::NAN, 0.0], "NaN"),
            (vec![1.0, 3.0], "0..3"),
            (vec![1.0, 0.5], "not a category code"),
        ] {
            let message = model.score(4, &row).unwrap_err().to_string();
            assert!(message.contains(needle), "{message}");
            assert!(message.starts_with("row 4"), "{message}");
        }
    }

    #[test]
    fn the_version_names_the_parameters() {
        let mut model = model();
        let before = model.parameter_version();
        assert!(before.starts_with("purchase-30m-lr-"), "{before}");
        assert_eq!(before.len(), "purchase-30m-lr-".len() + 12);
        model.intercept = 0.0;
        assert_ne!(model.parameter_version(), before);
        assert!(model.check().unwrap_err().contains("edited after training"));
        model.set_weights(&[2.0, 1.0, 1.0, 1.0]);
        assert_eq!(model.weights(), [2.0, 1.0, 1.0, 1.0]);
    }
}
