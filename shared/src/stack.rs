//! The deployment manifest, `infra/stack.json`: the one definition of the stack's resource names
//! and per-function settings.
//!
//! The Terraform module reads the same file, the SAM template is checked against it, and the
//! local stack and the integration tests create their resources from these types, so a table
//! or a setting cannot differ between a laptop and a deployment.
//!
//! Deployed names are `<prefix>-<key>` ([`resource_name`]): the SAM stack name or Terraform's
//! `name_prefix` in AWS, `local` in the local stack.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

/// The manifest as checked into the repository.
const WORKSPACE_MANIFEST: &str = include_str!("../../infra/stack.json");

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("cannot read the stack manifest {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the stack manifest is not valid: {0}")]
    Parse(#[from] serde_json::Error),
    #[error("the stack manifest is inconsistent: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stack {
    /// Free text for readers of the file.
    #[serde(default)]
    pub notes: Option<String>,
    /// Tag keys every taggable resource carries, with values from one deployment input.
    pub cost_allocation_tags: Vec<String>,
    pub tables: BTreeMap<String, TableSpec>,
    pub functions: BTreeMap<String, FunctionSpec>,
    #[serde(default)]
    pub http_api: Option<HttpApiSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableSpec {
    pub partition_key: KeyAttribute,
    #[serde(default)]
    pub sort_key: Option<KeyAttribute>,
    #[serde(default)]
    pub global_secondary_indexes: BTreeMap<String, IndexSpec>,
    pub billing_mode: BillingMode,
    pub point_in_time_recovery: bool,
    pub server_side_encryption: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyAttribute {
    pub name: String,
    #[serde(rename = "type")]
    pub attribute_type: AttributeType,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum AttributeType {
    S,
    N,
    B,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BillingMode {
    PayPerRequest,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexSpec {
    pub partition_key: KeyAttribute,
    #[serde(default)]
    pub sort_key: Option<KeyAttribute>,
    pub projection: ProjectionType,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProjectionType {
    All,
    KeysOnly,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionSpec {
    pub description: String,
    pub runtime: String,
    pub architecture: Architecture,
    pub memory_mb: u32,
    pub timeout_seconds: u32,
    pub log_retention_days: u32,
    pub log_format: LogFormat,
    #[serde(default)]
    pub environment: BTreeMap<String, EnvValue>,
    #[serde(default)]
    pub permissions: Vec<Permission>,
    /// Why each setting has its value, keyed by setting name.
    #[serde(default)]
    pub reasons: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    Arm64,
    X86_64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum LogFormat {
    #[serde(rename = "JSON")]
    Json,
    Text,
}

impl LogFormat {
    /// The value Lambda puts in `AWS_LAMBDA_LOG_FORMAT`.
    pub fn as_env_value(self) -> &'static str {
        match self {
            LogFormat::Json => "JSON",
            LogFormat::Text => "Text",
        }
    }
}

/// An environment variable's value: literal, or the deployed name of a manifest resource.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum EnvValue {
    Table { table: String },
    Literal { value: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Permission {
    pub table: String,
    #[serde(default)]
    pub indexes: Vec<String>,
    pub actions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpApiSpec {
    pub routes: Vec<RouteSpec>,
    pub authorizer: AuthorizerSpec,
    pub throttle: ThrottleSpec,
    pub access_log_retention_days: u32,
    #[serde(default)]
    pub reasons: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSpec {
    /// API Gateway route key: `<METHOD|ANY> <path>`, path segments may be `{name}` or `{name+}`.
    pub route: String,
    pub function: String,
}

impl RouteSpec {
    /// The method (`ANY` included) and the path of the route key.
    pub fn method_and_path(&self) -> (&str, &str) {
        self.route.split_once(' ').unwrap_or(("", &self.route))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizerSpec {
    #[serde(rename = "type")]
    pub authorizer_type: AuthorizerType,
    pub identity_source: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum AuthorizerType {
    #[serde(rename = "JWT")]
    Jwt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThrottleSpec {
    pub burst_limit: u32,
    pub rate_limit: u32,
}

/// The deployed name of manifest resource `key` in the stack named `prefix`.
pub fn resource_name(prefix: &str, key: &str) -> String {
    format!("{prefix}-{key}")
}

const ROUTE_METHODS: [&str; 8] = [
    "ANY", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS",
];

impl Stack {
    /// The repository's `infra/stack.json`, compiled in.
    pub fn workspace() -> Self {
        Self::from_json(WORKSPACE_MANIFEST).expect("infra/stack.json is valid: checked by tests")
    }

    pub fn load(path: &Path) -> Result<Self, StackError> {
        let text = std::fs::read_to_string(path).map_err(|source| StackError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_json(&text)
    }

    /// Parses and checks that every reference inside the manifest resolves.
    pub fn from_json(text: &str) -> Result<Self, StackError> {
        let stack: Stack = serde_json::from_str(text)?;
        stack.validate()?;
        Ok(stack)
    }

    pub fn table(&self, key: &str) -> Option<&TableSpec> {
        self.tables.get(key)
    }

    fn validate(&self) -> Result<(), StackError> {
        let invalid = |message: String| Err(StackError::Invalid(message));
        if self.cost_allocation_tags.is_empty() {
            return invalid("cost_allocation_tags is empty".into());
        }
        for (key, table) in &self.tables {
            check_resource_key(key)?;
            table.check_attribute_types(key)?;
        }
        for (key, function) in &self.functions {
            check_resource_key(key)?;
            if function.memory_mb < 128 || function.memory_mb > 10_240 {
                return invalid(format!(
                    "function {key}: memory_mb {} is outside Lambda's 128..=10240",
                    function.memory_mb
                ));
            }
            if function.timeout_seconds == 0 || function.timeout_seconds > 900 {
                return invalid(format!(
                    "function {key}: timeout_seconds {} is outside Lambda's 1..=900",
                    function.timeout_seconds
                ));
            }
            for (name, value) in &function.environment {
                if let EnvValue::Table { table } = value
                    && !self.tables.contains_key(table)
                {
                    return invalid(format!(
                        "function {key}: environment {name} names table {table}, which the manifest does not define"
                    ));
                }
            }
            for permission in &function.permissions {
                let Some(table) = self.tables.get(&permission.table) else {
                    return invalid(format!(
                        "function {key}: a permission names table {}, which the manifest does not define",
                        permission.table
                    ));
                };
                if let Some(index) = permission
                    .indexes
                    .iter()
                    .find(|index| !table.global_secondary_indexes.contains_key(*index))
                {
                    return invalid(format!(
                        "function {key}: a permission names index {index} of table {}, which has no such index",
                        permission.table
                    ));
                }
                if let Some(action) = permission
                    .actions
                    .iter()
                    .find(|action| action.contains('*') || !action.starts_with("dynamodb:"))
                {
                    return invalid(format!(
                        "function {key}: action {action:?} is not one exact dynamodb action"
                    ));
                }
            }
        }
        if let Some(api) = &self.http_api {
            for route in &api.routes {
                let (method, path) = route.method_and_path();
                if !ROUTE_METHODS.contains(&method) || !path.starts_with('/') {
                    return invalid(format!(
                        "route {:?} is not `<METHOD|ANY> /path`",
                        route.route
                    ));
                }
                if !self.functions.contains_key(&route.function) {
                    return invalid(format!(
                        "route {} targets function {}, which the manifest does not define",
                        route.route, route.function
                    ));
                }
            }
        }
        Ok(())
    }
}

impl TableSpec {
    /// Every key attribute named by the table and its indexes, with one type per name, as
    /// DynamoDB's `AttributeDefinitions` needs them.
    pub fn attribute_definitions(&self) -> BTreeMap<&str, AttributeType> {
        let mut attributes = BTreeMap::new();
        for key in self.key_attributes() {
            attributes.insert(key.name.as_str(), key.attribute_type);
        }
        attributes
    }

    fn key_attributes(&self) -> impl Iterator<Item = &KeyAttribute> {
        std::iter::once(&self.partition_key)
            .chain(&self.sort_key)
            .chain(
                self.global_secondary_indexes
                    .values()
                    .flat_map(|index| std::iter::once(&index.partition_key).chain(&index.sort_key)),
            )
    }

    fn check_attribute_types(&self, table: &str) -> Result<(), StackError> {
        let mut seen: BTreeMap<&str, AttributeType> = BTreeMap::new();
        for key in self.key_attributes() {
            match seen.insert(&key.name, key.attribute_type) {
                Some(other) if other != key.attribute_type => {
                    return Err(StackError::Invalid(format!(
                        "table {table}: key attribute {} has two types, {other:?} and {:?}",
                        key.name, key.attribute_type
                    )));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

fn check_resource_key(key: &str) -> Result<(), StackError> {
    let valid = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !key.starts_with('-')
        && !key.ends_with('-');
    if valid {
        Ok(())
    } else {
        Err(StackError::Invalid(format!(
            "resource key {key:?} must be lowercase letters, digits and inner hyphens"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest_with(edit: impl FnOnce(&mut serde_json::Value)) -> Result<Stack, StackError> {
        let mut value: serde_json::Value = serde_json::from_str(WORKSPACE_MANIFEST).unwrap();
        edit(&mut value);
        Stack::from_json(&value.to_string())
    }

    #[test]
    fn the_workspace_manifest_is_valid() {
        let stack = Stack::workspace();
        assert!(stack.functions.contains_key("todo-api"));
        assert!(stack.tables.contains_key("tasks"));
        assert_eq!(
            stack.cost_allocation_tags,
            ["cost_center", "project", "environment"]
        );
    }

    #[test]
    fn attribute_definitions_cover_table_and_index_keys_once() {
        let stack = Stack::workspace();
        let names: Vec<&str> = stack.tables["tasks"]
            .attribute_definitions()
            .into_keys()
            .collect();
        assert_eq!(names, ["id", "owner", "status_id"]);
    }

    #[test]
    fn an_unknown_field_is_refused_with_its_name() {
        let error = manifest_with(|m| m["functions"]["todo-api"]["memory"] = 512.into())
            .unwrap_err()
            .to_string();
        assert!(error.contains("unknown field `memory`"), "{error}");
    }

    #[test]
    fn dangling_references_are_refused() {
        let error = manifest_with(|m| {
            m["functions"]["todo-api"]["environment"]["TASKS_TABLE"]["table"] = "nope".into()
        })
        .unwrap_err()
        .to_string();
        assert!(error.contains("names table nope"), "{error}");

        let error = manifest_with(|m| {
            m["functions"]["todo-api"]["permissions"][0]["indexes"][0] = "by_owner".into()
        })
        .unwrap_err()
        .to_string();
        assert!(error.contains("no such index"), "{error}");

        let error = manifest_with(|m| m["http_api"]["routes"][0]["function"] = "other".into())
            .unwrap_err()
            .to_string();
        assert!(error.contains("targets function other"), "{error}");
    }

    #[test]
    fn wildcard_actions_and_bad_settings_are_refused() {
        let error = manifest_with(|m| {
            m["functions"]["todo-api"]["permissions"][0]["actions"][0] = "dynamodb:*".into()
        })
        .unwrap_err()
        .to_string();
        assert!(error.contains("not one exact dynamodb action"), "{error}");

        let error = manifest_with(|m| m["functions"]["todo-api"]["memory_mb"] = 64.into())
            .unwrap_err()
            .to_string();
        assert!(error.contains("memory_mb 64"), "{error}");

        let error = manifest_with(|m| m["http_api"]["routes"][0]["route"] = "FETCH /x".into())
            .unwrap_err()
            .to_string();
        assert!(error.contains("FETCH /x"), "{error}");

        let error = manifest_with(|m| {
            m["tables"]["tasks"]["global_secondary_indexes"]["by_status"]["sort_key"]["type"] =
                "S".into();
            m["tables"]["tasks"]["global_secondary_indexes"]["by_status"]["partition_key"]["type"] =
                "N".into();
        })
        .unwrap_err()
        .to_string();
        assert!(error.contains("owner has two types"), "{error}");
    }

    #[test]
    fn resource_names_carry_the_prefix() {
        assert_eq!(resource_name("prod", "tasks"), "prod-tasks");
    }
}
