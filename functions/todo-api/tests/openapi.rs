//! Keeps `openapi.yaml` in step with the code: routes, schemas, enums and limits.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use todo_api::list_query::{DEFAULT_LIMIT, MAX_LIMIT};
use todo_api::model::{
    MAX_BODY_BYTES, MAX_TASK_NAME_CHARS, NewTask, Task, TaskChanges, TaskStatus,
};
use todo_api::routes::{ROUTES, Route, resolve};

fn spec() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml"))
        .expect("openapi.yaml");
    serde_yaml_ng::from_str(&text).expect("valid YAML")
}

fn schema<'a>(spec: &'a Value, name: &str) -> &'a Value {
    &spec["components"]["schemas"][name]
}

fn property_names(schema: &Value) -> BTreeSet<String> {
    schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

#[test]
fn documents_exactly_the_routes_the_router_serves() {
    let spec = spec();
    assert_eq!(spec["openapi"], "3.1.0");
    let mut documented = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in METHODS {
            if item.get(method).is_some() {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let routed: BTreeSet<_> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(documented, routed);

    // Each listed route really resolves, to a distinct operation.
    let id = "01JDAZ3M9X4Q7T2B8C5N6R0W1Y";
    let mut operations = Vec::new();
    for (method, path) in ROUTES {
        let method = method.parse().unwrap();
        let route = resolve(&method, &path.replace("{id}", id), None).expect(path);
        assert!(!operations.contains(&route), "{route:?} twice");
        operations.push(route);
    }
    assert!(operations.contains(&Route::ListTasks));
}

#[test]
fn every_operation_documents_the_errors_it_can_return() {
    let spec = spec();
    for (method, path) in ROUTES {
        let operation = &spec["paths"][path][method.to_lowercase()];
        let responses = operation["responses"].as_object().unwrap();
        let mut expected = vec!["401", "405", "503"];
        if path.contains("{id}") {
            expected.push("404");
        }
        if method == "POST" || method == "PUT" {
            expected.extend(["400", "413", "415"]);
        }
        if method == "PUT" || method == "DELETE" {
            expected.extend(["400", "412"]);
        }
        for status in expected {
            assert!(
                responses.contains_key(status),
                "{method} {path} lacks {status}"
            );
        }
    }
}

#[test]
fn task_schema_matches_what_the_api_returns() {
    let spec = spec();
    let task = Task {
        id: "01JDAZ3M9X4Q7T2B8C5N6R0W1Y".into(),
        task_name: "x".into(),
        status: TaskStatus::Pending,
        created_at: "2026-11-23T10:00:00.000Z".into(),
        updated_at: "2026-11-23T10:00:00.000Z".into(),
        version: 1,
    };
    let returned: BTreeSet<String> = serde_json::to_value(&task)
        .unwrap()
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let task_schema = schema(&spec, "Task");
    assert_eq!(property_names(task_schema), returned);
    let required: BTreeSet<String> =
        serde_json::from_value(task_schema["required"].clone()).unwrap();
    assert_eq!(required, returned);
}

#[test]
fn request_schemas_match_what_the_api_accepts() {
    let spec = spec();
    let valid = |name: &str| match name {
        "task_name" => json!("x"),
        "status" => json!("Completed"),
        other => panic!("documented field {other} has no test value"),
    };
    for (schema_name, accepts) in [
        (
            "NewTask",
            (|v: Value| serde_json::from_value::<NewTask>(v).is_ok()) as fn(Value) -> bool,
        ),
        ("TaskChanges", |v: Value| {
            serde_json::from_value::<TaskChanges>(v).is_ok()
        }),
    ] {
        let names = property_names(schema(&spec, schema_name));
        let body: serde_json::Map<String, Value> =
            names.iter().map(|n| (n.clone(), valid(n))).collect();
        assert!(
            accepts(Value::Object(body)),
            "{schema_name} rejects its documented fields"
        );
        for name in &names {
            let max = &schema(&spec, schema_name)["properties"][name]["maxLength"];
            if name == "task_name" {
                assert_eq!(max, &json!(MAX_TASK_NAME_CHARS), "{schema_name}.task_name");
            }
        }
    }
}

#[test]
fn enums_and_limits_match_the_code() {
    let spec = spec();
    let statuses: Vec<String> =
        serde_json::from_value(schema(&spec, "TaskStatus")["enum"].clone()).unwrap();
    let coded: Vec<String> = TaskStatus::ALL
        .iter()
        .map(|s| s.as_str().to_owned())
        .collect();
    assert_eq!(statuses, coded);

    let limit = spec["paths"]["/tasks"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .unwrap();
    assert_eq!(limit["schema"]["maximum"], json!(MAX_LIMIT));
    assert_eq!(limit["schema"]["default"], json!(DEFAULT_LIMIT));

    let too_large = spec["components"]["responses"]["PayloadTooLarge"]["description"]
        .as_str()
        .unwrap();
    assert!(
        too_large.contains(&MAX_BODY_BYTES.to_string()),
        "{too_large}"
    );
}
