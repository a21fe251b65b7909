//! The checked-in model: reproducible from its command, trained on this feature spec, and
//! predictive on users it never saw.

use std::path::Path;

use model::Model;
use model::artifact::Column;
use model::train::{TrainingConfig, auc, examples, train};
use shared::features::SpecVersion;

/// The held-out AUC the checked-in model must reach; retraining that falls below it fails.
const MIN_HELD_OUT_AUC: f64 = 0.85;

fn checked_in() -> Model {
    Model::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts"))
        .expect("model/artifacts/model.json loads")
}

#[test]
fn the_checked_in_model_is_what_its_command_trains() {
    let model = checked_in();
    assert_eq!(model.training.command, TrainingConfig::REFERENCE.command());
    let retrained = train(&TrainingConfig::REFERENCE);
    assert_eq!(retrained.training.examples, model.training.examples);
    assert_eq!(retrained.training.positives, model.training.positives);
    // Parameters to within float noise: libm's exp and ln_1p may differ in the last bit
    // between platforms.
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * (1.0 + a.abs());
    assert!(close(retrained.intercept, model.intercept));
    for (a, b) in retrained.weights().iter().zip(model.weights()) {
        assert!(
            close(*a, b),
            "weight {a} vs checked-in {b}: retrain with `{}`",
            model.training.command
        );
    }
    assert!(close(
        retrained.training.held_out_auc,
        model.training.held_out_auc
    ));
}

#[test]
fn the_checked_in_model_reads_this_spec_in_its_column_order() {
    let model = checked_in();
    let version = TrainingConfig::REFERENCE.spec_version;
    assert_eq!(model.feature_spec_version, version.number());
    let names: Vec<&str> = model.columns.iter().map(Column::name).collect();
    let spec: Vec<&str> = version
        .definitions()
        .iter()
        .map(|d| d.name.as_str())
        .collect();
    assert_eq!(names, spec);
}

#[test]
fn the_checked_in_model_predicts_purchases_of_users_it_never_saw() {
    let model = checked_in();
    assert!(
        model.training.held_out_auc >= MIN_HELD_OUT_AUC,
        "recorded held-out AUC {}",
        model.training.held_out_auc
    );
    // A population it was not trained on: another seed.
    let version = SpecVersion::from_number(model.feature_spec_version).unwrap();
    let fresh = examples(model.training.seed + 1, 0..400, 16, version);
    let scores = model.score_rows(&fresh.rows).unwrap();
    let measured = auc(&scores, &fresh.labels);
    assert!(
        measured >= MIN_HELD_OUT_AUC,
        "AUC {measured} on fresh users"
    );
    // And it beats the obvious single feature it could have leaned on alone.
    let column = version.column("event_count_5m").unwrap();
    let baseline: Vec<f64> = fresh.rows.iter().map(|row| row[column]).collect();
    assert!(
        measured > auc(&baseline, &fresh.labels) + 0.02,
        "no better than recent activity alone"
    );
}
