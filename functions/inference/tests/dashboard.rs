//! The operations dashboard (`infra/dashboard.json`) plots the metrics this function records,
//! by the names and dimensions it records them with.

use inference::handler::{
    FALLBACK_PREDICTIONS, FEATURE_READ_LATENCY, MODEL_LATENCY, PREDICTIONS, USERS_WITHOUT_FEATURES,
};
use serde_json::Value;

/// Every metric line of the dashboard in our namespace: (name, dimension pairs).
fn pipeline_metrics(dashboard: &Value) -> Vec<(String, Vec<String>)> {
    let mut found = Vec::new();
    for widget in dashboard["widgets"].as_array().unwrap() {
        for line in widget["properties"]["metrics"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let parts: Vec<String> = line
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|part| part.as_str().map(str::to_owned))
                .collect();
            if parts.first().map(String::as_str) == Some(shared::metrics::NAMESPACE) {
                found.push((parts[1].clone(), parts[2..].to_vec()));
            }
        }
    }
    found
}

#[test]
fn the_dashboard_plots_what_inference_records() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/dashboard.json");
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let recorded = [
        PREDICTIONS,
        FALLBACK_PREDICTIONS,
        USERS_WITHOUT_FEATURES,
        FEATURE_READ_LATENCY,
        MODEL_LATENCY,
    ];
    let plotted = pipeline_metrics(&dashboard);
    assert!(plotted.len() >= 3, "{plotted:?}");
    for (name, dimensions) in plotted {
        assert!(
            recorded.contains(&name.as_str()),
            "{name} is not a metric inference records"
        );
        // Recorded without labels: FunctionName is the one dimension EMF adds.
        assert_eq!(
            dimensions,
            ["FunctionName", "${prefix}-inference"],
            "{name}"
        );
    }
}
