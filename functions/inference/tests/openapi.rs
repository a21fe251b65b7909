//! Keeps `openapi.yaml` in step with the code: routes, limits, the feature columns and the
//! fields of every answer.

use std::collections::BTreeSet;

use inference::handler::{ROUTES, resolve};
use inference::request::{MAX_BATCH_USERS, MAX_CONTEXT_KEYS};
use inference::scoring::{BatchResponse, PredictResponse, Prediction, Timings};
use serde_json::Value;
use shared::events::MAX_ID_CHARS;
use shared::features::spec::FeatureKind;
use shared::features::{FeatureVector, SpecVersion};

fn spec() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml"))
        .expect("openapi.yaml");
    serde_yaml_ng::from_str(&text).expect("valid YAML")
}

fn schema<'a>(spec: &'a Value, name: &str) -> &'a Value {
    &spec["components"]["schemas"][name]
}

fn names(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

/// Property names a schema allows, following `allOf` and `$ref`s to other schemas.
fn allowed(spec: &Value, schema: &Value) -> BTreeSet<String> {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/components/schemas/");
        return allowed(spec, self::schema(spec, name));
    }
    let mut all = names(&schema["properties"]);
    for part in schema["allOf"].as_array().into_iter().flatten() {
        all.extend(allowed(spec, part));
    }
    all
}

fn required(spec: &Value, schema: &Value) -> BTreeSet<String> {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/components/schemas/");
        return required(spec, self::schema(spec, name));
    }
    let mut all: BTreeSet<String> = schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    for part in schema["allOf"].as_array().into_iter().flatten() {
        all.extend(required(spec, part));
    }
    all
}

#[test]
fn documents_exactly_the_routes_the_handler_serves() {
    let spec = spec();
    assert_eq!(spec["openapi"], "3.1.0");
    let mut documented = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    let routed: BTreeSet<_> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(documented, routed);
    for (method, path) in ROUTES {
        assert!(resolve(&method.parse().unwrap(), path).is_ok());
        let responses = names(&spec["paths"][path][method.to_lowercase()]["responses"]);
        for status in [
            "200", "400", "401", "405", "413", "415", "500", "502", "503", "504",
        ] {
            assert!(responses.contains(status), "{method} {path} lacks {status}");
        }
    }
}

#[test]
fn request_limits_are_the_codes() {
    let spec = spec();
    assert_eq!(schema(&spec, "UserId")["maxLength"], MAX_ID_CHARS);
    let request = schema(&spec, "PredictRequest");
    assert_eq!(request["additionalProperties"], false);
    assert_eq!(
        names(&request["properties"]),
        BTreeSet::from(["userId".into(), "context".into()])
    );
    assert_eq!(
        request["properties"]["context"]["maxProperties"],
        MAX_CONTEXT_KEYS
    );
    let users = &schema(&spec, "BatchRequest")["properties"]["users"];
    assert_eq!(users["maxItems"], MAX_BATCH_USERS);
    assert_eq!(users["minItems"], 1);
}

#[test]
fn the_feature_columns_are_the_specs_in_order_with_their_types() {
    let spec = spec();
    let features = schema(&spec, "Features");
    // JSON objects here are unordered: the order is checked on `required`, which lists them.
    let documented: Vec<&str> = features["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|name| name.as_str().unwrap())
        .collect();
    // Version 1's columns are required; the later versions' are documented and optional.
    let columns = |version: SpecVersion| -> Vec<&str> {
        version
            .definitions()
            .iter()
            .map(|d| d.name.as_str())
            .collect()
    };
    assert_eq!(documented, columns(SpecVersion::V1), "in column order");
    assert_eq!(
        names(&features["properties"]),
        columns(SpecVersion::LATEST)
            .iter()
            .map(|c| c.to_string())
            .collect()
    );
    assert_eq!(features["additionalProperties"], false);
    for definition in SpecVersion::LATEST.definitions() {
        let property = &features["properties"][&definition.name];
        let property = match property["$ref"].as_str() {
            Some(reference) => schema(&spec, reference.trim_start_matches("#/components/schemas/")),
            None => property,
        };
        let expected = match definition.kind {
            FeatureKind::PurchaseAmount { .. } => "number",
            FeatureKind::LastEventType => "string",
            _ => "integer",
        };
        assert_eq!(property["type"], expected, "{}", definition.name);
    }
    let versions: Vec<u32> = SpecVersion::ALL.iter().map(|v| v.number()).collect();
    assert_eq!(
        schema(&spec, "FeatureSpecVersion")["enum"],
        serde_json::json!(versions)
    );
}

fn prediction() -> Prediction {
    Prediction {
        prediction_id: "01JDAZ3M9X4Q7T2B8C5N6R0W1Y".into(),
        user_id: "u".into(),
        score: 0.25,
        label: false,
        fallback: true,
        fallback_reason: Some("model-timeout"),
        features_found: false,
        features: FeatureVector::defaults(SpecVersion::LATEST),
    }
}

#[test]
fn every_field_the_handler_answers_is_documented_and_every_required_one_is_answered() {
    let spec = spec();
    let single = serde_json::to_value(PredictResponse {
        prediction: prediction(),
        threshold: 0.5,
        model_version: None,
        feature_spec_version: SpecVersion::LATEST.number(),
        timings: Timings::default(),
    })
    .unwrap();
    let batch = serde_json::to_value(BatchResponse {
        predictions: vec![prediction()],
        threshold: 0.5,
        model_version: Some("m".into()),
        feature_spec_version: SpecVersion::LATEST.number(),
        timings: Timings::default(),
    })
    .unwrap();
    for (name, body) in [
        ("PredictResponse", &single),
        ("BatchResponse", &batch),
        ("Prediction", &batch["predictions"][0]),
        ("Timings", &single["timings"]),
    ] {
        let schema = schema(&spec, name);
        let answered = names(body);
        let allowed = allowed(&spec, schema);
        assert!(
            answered.is_subset(&allowed),
            "{name}: undocumented {:?}",
            answered.difference(&allowed).collect::<Vec<_>>()
        );
        let required = required(&spec, schema);
        assert!(
            required.is_subset(&answered),
            "{name}: never answered {:?}",
            required.difference(&answered).collect::<Vec<_>>()
        );
    }
}
