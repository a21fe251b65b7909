//! The SAM template rendered from the manifest: one description of the stack, two templates
//! that follow it (Terraform reads `infra/stack.json` itself).
//!
//! Names. A manifest key becomes the deployed name `${AWS::StackName}-<key>` and a logical ID in
//! PascalCase with its kind appended ([`logical_id`]): table `tasks` is `TasksTable`, queue
//! `ingest-dlq` is `IngestDlqQueue`, function `todo-api` is `TodoApiFunction` with `TodoApiRole`
//! and `TodoApiLogGroup`, archive `activity` is the delivery stream `ActivityArchive` (the bucket
//! all archives share is `ArchiveBucket`), the event source of `event-router` on queue `ingest` is
//! `EventRouterIngestEventSource`, alarm `ingest-dlq-messages` is `IngestDlqMessagesAlarm` and
//! function alarm `errors` of `todo-api` is `TodoApiErrorsAlarm`.
//!
//! What every function shares (handler, runtime, architecture, cost tags) is in `Globals`. Cost
//! allocation tags come from parameters of the same name in PascalCase and are set on every
//! resource that takes tags: a map on the Serverless resources, a Key/Value list elsewhere.
//!
//! The output is JSON (a subset of YAML, which SAM, CloudFormation, cfn-lint and checkov read),
//! built with `serde_json`, so every value is quoted and escaped by construction.

mod archive;
mod data;
mod functions;
mod model;
mod monitoring;

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::manifest::{Architecture, Stack, StackError};

/// Resources added to the template, by logical ID.
type Resources = Map<String, Value>;

/// What the render needs besides the manifest.
pub struct RenderInput<'a> {
    pub stack: &'a Stack,
    /// The dashboard body (the file the manifest's `monitoring.dashboard.body` names), with
    /// `${prefix}`, `${region}` and `${api_id}` for the stack name, the region and the API id.
    pub dashboard_body: Option<&'a str>,
    /// The directory of the function zips (`target/lambda`), as the template should name it:
    /// relative to the template's own directory, or absolute.
    pub code_dir: &'a str,
}

/// The SAM template of `input.stack`.
pub fn render(input: &RenderInput) -> Result<Value, StackError> {
    let stack = input.stack;
    // One Architecture parameter for every function: the zips tools/package.sh builds share it.
    let mut architectures: Vec<Architecture> = stack
        .functions
        .values()
        .map(|function| function.architecture)
        .collect();
    architectures.dedup();
    if architectures.len() > 1 {
        return Err(StackError::Invalid(
            "the functions name different architectures; the SAM template (and tools/package.sh) build every function for one".into(),
        ));
    }
    let mut resources = Resources::new();
    let tags = Tags::of(stack);
    data::tables(stack, &tags, &mut resources);
    data::queues(stack, &tags, &mut resources);
    data::streams(stack, &tags, &mut resources);
    data::event_buses(stack, &tags, &mut resources);
    archive::resources(stack, &tags, &mut resources);
    model::endpoints(stack, &tags, &mut resources);
    functions::functions(stack, &tags, input.code_dir, &mut resources);
    functions::http_api(stack, &tags, &mut resources);
    monitoring::resources(stack, &tags, input.dashboard_body, &mut resources)?;

    let mut template = json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": "AWS::Serverless-2016-10-31",
        "Description": DESCRIPTION,
        "Parameters": parameters(stack),
        "Globals": functions::globals(stack, &tags),
        "Resources": resources,
        "Outputs": outputs(stack),
    });
    let conditions = conditions(stack);
    if !conditions.is_empty() {
        template["Conditions"] = Value::Object(conditions);
    }
    Ok(template)
}

/// The rendered template as text, ending in a newline.
pub fn render_text(input: &RenderInput) -> Result<String, StackError> {
    let template = render(input)?;
    let mut text = serde_json::to_string_pretty(&template)?;
    text.push('\n');
    Ok(text)
}

/// Renders the template of the manifest at `manifest_path` to `out`, naming the function zips
/// under `code_dir` relative to `out`'s directory.
pub fn render_to_file(
    manifest_path: &Path,
    profile: Option<&str>,
    code_dir: &Path,
    out: &Path,
) -> Result<(), StackError> {
    let stack = Stack::load(manifest_path)?;
    let stack = match profile {
        Some(name) => stack.with_profile(name)?,
        None => stack,
    };
    let dashboard = match &stack.monitoring {
        Some(monitoring) => {
            let path = manifest_path
                .parent()
                .unwrap_or(Path::new("."))
                .join(&monitoring.dashboard.body);
            Some(
                std::fs::read_to_string(&path).map_err(|source| StackError::Read {
                    path: path.display().to_string(),
                    source,
                })?,
            )
        }
        None => None,
    };
    let out_dir = out.parent().unwrap_or(Path::new("."));
    let code_dir = relative_path(out_dir, code_dir);
    let text = render_text(&RenderInput {
        stack: &stack,
        dashboard_body: dashboard.as_deref(),
        code_dir: &code_dir,
    })?;
    std::fs::create_dir_all(out_dir)
        .and_then(|()| std::fs::write(out, text))
        .map_err(|source| StackError::Read {
            path: out.display().to_string(),
            source,
        })
}

/// `to` as seen from directory `from` (both made absolute first): `../lambda` from
/// `target/sam` to `target/lambda`.
pub fn relative_path(from: &Path, to: &Path) -> String {
    let absolute = |path: &Path| -> Vec<String> {
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
        let mut parts = Vec::new();
        for part in path.components() {
            match part {
                std::path::Component::ParentDir => {
                    parts.pop();
                }
                std::path::Component::CurDir => {}
                other => parts.push(other.as_os_str().to_string_lossy().into_owned()),
            }
        }
        parts
    };
    let (from, to) = (absolute(from), absolute(to));
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = from[common..].iter().map(|_| "..".to_owned()).collect();
    parts.extend(to[common..].iter().cloned());
    if parts.is_empty() {
        ".".to_owned()
    } else {
        parts.join("/")
    }
}

const DESCRIPTION: &str = "Todo API, event pipeline (EventBridge, SQS, Kinesis), online features \
     and real-time scoring on a SageMaker endpoint, an S3 archive of the activity (Firehose), \
     with alarms, a dashboard and an optional budget. Rendered from infra/stack.json by `cargo run -p stack -- sam`; change the manifest, \
     not this file.";

/// `key` in PascalCase: `ingest-dlq` is `IngestDlq`, `cost_center` is `CostCenter`.
pub fn pascal(key: &str) -> String {
    key.split(['-', '_'])
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => String::new(),
            }
        })
        .collect()
}

/// The logical ID of manifest resource `key` of kind `kind` (`Table`, `Queue`, ...).
pub fn logical_id(key: &str, kind: &str) -> String {
    format!("{}{kind}", pascal(key))
}

fn reference(logical_id: &str) -> Value {
    json!({ "Ref": logical_id })
}

fn get_att(logical_id: &str, attribute: &str) -> Value {
    json!({ "Fn::GetAtt": [logical_id, attribute] })
}

/// The stack's name inside a `Fn::Sub`: the prefix of every deployed name.
const STACK_NAME: &str = "${AWS::StackName}";

/// `${AWS::StackName}-<key>`, as [`crate::resource_name`] names it.
fn deployed_name(key: &str) -> Value {
    json!({ "Fn::Sub": crate::resource_name(STACK_NAME, key) })
}

/// A manifest enum as the manifest (and AWS) spells it.
fn spelled<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(text)) => text,
        other => panic!("a manifest enum serialises to a string, not {other:?}"),
    }
}

/// The cost-allocation tags, from the parameters of the same names in PascalCase.
struct Tags {
    names: Vec<String>,
}

impl Tags {
    fn of(stack: &Stack) -> Self {
        Self {
            names: stack.cost_allocation_tags.clone(),
        }
    }

    /// `[{"Key": ..., "Value": {"Ref": ...}}]`, as plain CloudFormation resources take them.
    fn list(&self) -> Value {
        self.names
            .iter()
            .map(|name| json!({ "Key": name, "Value": reference(&pascal(name)) }))
            .collect()
    }

    /// `{name: {"Ref": ...}}`, as the Serverless resources take them.
    fn map(&self) -> Value {
        self.names
            .iter()
            .map(|name| (name.clone(), reference(&pascal(name))))
            .collect::<Map<_, _>>()
            .into()
    }
}

/// A parameter named by the manifest that turns a resource off when unset.
fn has_condition(parameter: &str) -> String {
    format!("Has{parameter}")
}

fn parameters(stack: &Stack) -> Value {
    let mut parameters = Map::new();
    let architecture = stack
        .functions
        .values()
        .map(|function| function.architecture)
        .next()
        .unwrap_or(Architecture::Arm64);
    parameters.insert(
        "Architecture".into(),
        json!({
            "Type": "String",
            "Description": "Instruction set of the functions. Must match the zips tools/package.sh built (it says which one it built).",
            "Default": spelled(&architecture),
            "AllowedValues": ["arm64", "x86_64"],
        }),
    );
    if stack.http_api.is_some() {
        parameters.insert(
            "JwtIssuer".into(),
            json!({
                "Type": "String",
                "Description": "Issuer URL of the JWT identity provider (the token's `iss` claim; API Gateway fetches <issuer>/.well-known/openid-configuration), e.g. https://cognito-idp.<region>.amazonaws.com/<pool id>.",
                "AllowedPattern": "https://.+",
            }),
        );
        parameters.insert(
            "JwtAudience".into(),
            json!({
                "Type": "CommaDelimitedList",
                "Description": "Accepted audiences (the token's `aud` claim, or `client_id` for Cognito access tokens), comma separated.",
            }),
        );
    }
    for tag in &stack.cost_allocation_tags {
        parameters.insert(
            pascal(tag),
            json!({
                "Type": "String",
                "Description": format!("Value of the {tag} cost-allocation tag."),
                "MinLength": 1,
            }),
        );
    }
    for (key, endpoint) in &stack.model_endpoints {
        // No default: a stack must not come up scoring with some other image. The pattern keeps
        // to what the endpoint role's ECR statement can take the repository ARN from.
        parameters.insert(
            endpoint.image_parameter.clone(),
            json!({
                "Type": "String",
                "Description": format!("ECR URI of the model server image (built from model/Dockerfile and pushed to ECR in this account and region) with an explicit tag or digest, e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/purchase-model:1 or .../purchase-model@sha256:<digest>. The SageMaker endpoint `{key}` runs it."),
                "AllowedPattern": model::IMAGE_URI_PATTERN,
                "ConstraintDescription": "must be an ECR image URI <account>.dkr.ecr.<region>.amazonaws.com/<repository> with :<tag> or @sha256:<digest>",
            }),
        );
    }
    if let Some(monitoring) = &stack.monitoring {
        parameters.insert(
            monitoring.alarm_topic.email_parameter.clone(),
            json!({
                "Type": "String",
                "Description": "Email address subscribed to the alarm topic: alarms and budget notifications go there once the confirmation mail AWS sends has been followed. Empty: no subscription (subscribe to the topic, output AlarmsTopicArn, yourself).",
                "Default": "",
                "AllowedPattern": "^$|^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$",
                "ConstraintDescription": "must be an email address, or empty for no subscription",
            }),
        );
        if let Some(budget) = &monitoring.budget {
            parameters.insert(
                budget.amount_parameter.clone(),
                json!({
                    "Type": "Number",
                    "Description": format!("{} cost budget in USD for what carries this stack's {} tag; its notifications go to the alarm topic. 0: no budget.", pascal(&spelled(&budget.time_unit).to_lowercase()), budget.filter_tag),
                    "Default": 0,
                    "MinValue": 0,
                }),
            );
        }
    }
    parameters.into()
}

fn conditions(stack: &Stack) -> Map<String, Value> {
    let mut conditions = Map::new();
    if let Some(monitoring) = &stack.monitoring {
        let email = &monitoring.alarm_topic.email_parameter;
        conditions.insert(
            has_condition(email),
            json!({ "Fn::Not": [{ "Fn::Equals": [reference(email), ""] }] }),
        );
        if let Some(budget) = &monitoring.budget {
            // Ref of a Number parameter is its text, so the comparison is with "0".
            conditions.insert(
                has_condition(&budget.amount_parameter),
                json!({ "Fn::Not": [{ "Fn::Equals": [reference(&budget.amount_parameter), "0"] }] }),
            );
        }
    }
    conditions
}

fn outputs(stack: &Stack) -> Value {
    let mut outputs = BTreeMap::new();
    let mut output = |name: String, description: String, value: Value| {
        outputs.insert(name, json!({ "Description": description, "Value": value }));
    };
    if stack.http_api.is_some() {
        output(
            "ApiUrl".into(),
            "Base URL of the HTTP API ($default stage)".into(),
            json!({ "Fn::Sub": "https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}" }),
        );
    }
    for key in stack.tables.keys() {
        let id = logical_id(key, "Table");
        output(
            format!("{id}Name"),
            format!("Name of the {key} table"),
            reference(&id),
        );
    }
    for key in stack.functions.keys() {
        let id = logical_id(key, "Function");
        output(
            format!("{id}Name"),
            format!("Name of the {key} function"),
            reference(&id),
        );
    }
    for key in stack.model_endpoints.keys() {
        let id = logical_id(key, "Endpoint");
        output(
            format!("{id}Name"),
            format!("Name of the SageMaker endpoint {key} (InvokeEndpoint's EndpointName)"),
            get_att(&id, "EndpointName"),
        );
    }
    for key in stack.event_buses.keys() {
        let id = logical_id(key, "EventBus");
        output(
            format!("{id}Name"),
            format!("Name of the {key} bus (the EventBusName of PutEvents)"),
            reference(&id),
        );
    }
    for key in stack.queues.keys() {
        let id = logical_id(key, "Queue");
        output(
            format!("{id}Url"),
            format!("URL of the {key} queue"),
            reference(&id),
        );
    }
    for key in stack.streams.keys() {
        let id = logical_id(key, "Stream");
        output(
            format!("{id}Name"),
            format!("Name of the {key} Kinesis stream"),
            reference(&id),
        );
    }
    archive::outputs(stack, &mut output);
    if let Some(monitoring) = &stack.monitoring {
        let topic = logical_id(&monitoring.alarm_topic.key, "Topic");
        output(
            format!("{topic}Arn"),
            "ARN of the SNS topic that the alarms and the budget notify".into(),
            reference(&topic),
        );
        let dashboard = logical_id(&monitoring.dashboard.key, "Dashboard");
        output(
            format!("{dashboard}Name"),
            "Name of the CloudWatch dashboard".into(),
            reference(&dashboard),
        );
    }
    json!(outputs)
}

#[cfg(test)]
mod tests;
