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

    // The router serves exactly the listed routes: every method on every path template.
    let id = "01JDAZ3M9X4Q7T2B8C5N6R0W1Y";
    let mut served = BTreeSet::new();
    for path in ["/tasks", "/tasks/{id}"] {
        for method in METHODS {
            let http_method = method.to_uppercase().parse().unwrap();
            if resolve(&http_method, &path.replace("{id}", id), None).is_ok() {
                served.insert((method.to_uppercase(), path.to_owned()));
            }
        }
    }
    assert_eq!(served, routed);
    assert_eq!(
        resolve(&"GET".parse().unwrap(), "/tasks", None),
        Ok(Route::ListTasks)
    );
}

#[test]
fn every_operation_documents_the_errors_it_can_return() {
    let spec = spec();
    for (method, path) in ROUTES {
        let operation = &spec["paths"][path][method.to_lowercase()];
        let responses = operation["responses"].as_object().unwrap();
        let mut expected = vec!["401", "405", "500", "503"];
        if method == "GET" && path == "/tasks" {
            expected.push("400");
        }
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

/// API Gateway's JWT authorizer answers a missing or invalid token itself, with its own JSON
/// (`{"message":"Unauthorized"}`), before the function can answer with a problem document: the
/// 401 documents both, or a client validating answers against this document rejects the
/// gateway's.
#[test]
fn unauthorized_documents_the_gateways_answer_and_the_functions() {
    let spec = spec();
    let content = &spec["components"]["responses"]["Unauthorized"]["content"];
    assert_eq!(
        content["application/problem+json"]["schema"]["$ref"],
        "#/components/schemas/Problem"
    );
    assert_eq!(
        content["application/json"]["schema"]["$ref"],
        "#/components/schemas/GatewayMessage"
    );
    let gateway = schema(&spec, "GatewayMessage");
    assert_eq!(gateway["required"], serde_json::json!(["message"]));
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
    let new_task = |v: Value| {
        serde_json::from_value::<NewTask>(v)
            .map_err(|e| e.to_string())
            .and_then(|t| t.validate().map(drop).map_err(|e| e.to_string()))
    };
    let changes = |v: Value| {
        serde_json::from_value::<TaskChanges>(v)
            .map_err(|e| e.to_string())
            .and_then(|t| t.validate().map(drop).map_err(|e| e.to_string()))
    };
    type Accepts = fn(Value) -> Result<(), String>;
    for (schema_name, accepts) in [("NewTask", new_task as Accepts), ("TaskChanges", changes)] {
        let schema = schema(&spec, schema_name);
        let names = property_names(schema);
        let required: BTreeSet<String> =
            serde_json::from_value(schema["required"].clone()).unwrap_or_default();
        let body = |fields: &mut dyn Iterator<Item = &String>| {
            Value::Object(fields.map(|n| (n.clone(), valid(n))).collect())
        };
        // All documented fields together are accepted.
        accepts(body(&mut names.iter())).unwrap_or_else(|e| panic!("{schema_name}: {e}"));
        for name in &names {
            // Leaving a field out is rejected exactly when the schema requires it.
            let without = accepts(body(&mut names.iter().filter(|n| *n != name)));
            assert_eq!(
                without.is_err(),
                required.contains(name),
                "{schema_name} without {name}: {without:?}"
            );
            // A field alone satisfies minProperties: 1 when nothing else is required.
            if required.is_empty() {
                assert_eq!(schema["minProperties"], json!(1), "{schema_name}");
                accepts(body(&mut std::iter::once(name)))
                    .unwrap_or_else(|e| panic!("{schema_name}.{name}: {e}"));
            }
            if name == "task_name" {
                assert_eq!(
                    schema["properties"][name]["maxLength"],
                    json!(MAX_TASK_NAME_CHARS),
                    "{schema_name}"
                );
            }
        }
        if required.is_empty() {
            assert!(
                accepts(json!({})).is_err(),
                "{schema_name} accepts an empty body"
            );
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
