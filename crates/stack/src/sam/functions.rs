//! The functions with their log groups, roles and event source mappings, and the HTTP API.

use serde_json::{Map, Value, json};

use super::{Resources, Tags, deployed_name, get_att, logical_id, pascal, reference, spelled};
use crate::manifest::{EnvValue, Permission, Stack};

/// What every function shares. The runtime goes here only when every function has the same.
pub(super) fn globals(stack: &Stack, tags: &Tags) -> Value {
    let mut function = json!({
        "Handler": "bootstrap",
        "Architectures": [reference("Architecture")],
        "Tags": tags.map(),
    });
    if let Some(first) = stack.functions.values().next()
        && same_runtime_everywhere(stack)
    {
        function["Runtime"] = first.runtime.as_str().into();
    }
    json!({ "Function": function })
}

fn same_runtime_everywhere(stack: &Stack) -> bool {
    let mut runtimes = stack.functions.values().map(|f| f.runtime.as_str());
    let first = runtimes.next();
    runtimes.all(|runtime| Some(runtime) == first)
}

fn environment_value(value: &EnvValue) -> Value {
    match value {
        EnvValue::Table { table } => reference(&logical_id(table, "Table")),
        EnvValue::Queue { queue } => reference(&logical_id(queue, "Queue")),
        EnvValue::Stream { stream } => reference(&logical_id(stream, "Stream")),
        EnvValue::Endpoint { endpoint } => {
            get_att(&logical_id(endpoint, "Endpoint"), "EndpointName")
        }
        EnvValue::Literal { value } => value.as_str().into(),
    }
}

/// One statement per manifest permission, named for the resource it grants on.
fn statement(permission: &Permission) -> Value {
    let (sid, resource) =
        if let Some(table) = &permission.table {
            let id = logical_id(table, "Table");
            let resource =
                if permission.indexes.is_empty() {
                    get_att(&id, "Arn")
                } else {
                    std::iter::once(get_att(&id, "Arn"))
                        .chain(permission.indexes.iter().map(
                            |index| json!({ "Fn::Sub": format!("${{{id}.Arn}}/index/{index}") }),
                        ))
                        .collect()
                };
            (id, resource)
        } else if let Some(queue) = &permission.queue {
            let id = logical_id(queue, "Queue");
            let resource = get_att(&id, "Arn");
            (id, resource)
        } else if let Some(stream) = &permission.stream {
            let id = logical_id(stream, "Stream");
            let resource = get_att(&id, "Arn");
            (id, resource)
        } else if let Some(endpoint) = &permission.endpoint {
            // Ref of an endpoint is its ARN.
            let id = logical_id(endpoint, "Endpoint");
            let resource = reference(&id);
            (id, resource)
        } else {
            unreachable!("the manifest's checks refuse a permission without a resource")
        };
    json!({ "Sid": sid, "Effect": "Allow", "Action": permission.actions, "Resource": resource })
}

pub(super) fn functions(stack: &Stack, tags: &Tags, code_dir: &str, resources: &mut Resources) {
    let same_runtime = same_runtime_everywhere(stack);
    for (key, function) in &stack.functions {
        let log_group = logical_id(key, "LogGroup");
        let role = logical_id(key, "Role");
        let function_id = logical_id(key, "Function");
        resources.insert(
            log_group.clone(),
            json!({
                "Type": "AWS::Logs::LogGroup",
                "DeletionPolicy": "Delete",
                "UpdateReplacePolicy": "Delete",
                "Properties": {
                    "LogGroupName": { "Fn::Sub": format!("/aws/lambda/${{AWS::StackName}}-{key}") },
                    "RetentionInDays": function.log_retention_days,
                    "Tags": tags.list(),
                },
            }),
        );
        let mut statements: Vec<Value> = function.permissions.iter().map(statement).collect();
        // An enhanced fan-out source reads through its own consumer: the mapping subscribes to
        // its shards with the function's role.
        for source in &function.event_sources {
            if source.stream_settings().is_some_and(|s| s.enhanced_fan_out) {
                statements.push(json!({
                    "Sid": format!("FanOut{}", pascal(source.source_key())),
                    "Effect": "Allow",
                    "Action": ["kinesis:SubscribeToShard", "kinesis:DescribeStreamConsumer"],
                    "Resource": [get_att(&consumer_id(key, source.source_key()), "ConsumerARN")],
                }));
            }
        }
        // `arn:...:log-group:<name>:*`: the group and its streams, nothing else.
        statements.push(json!({
            "Sid": "Logs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [get_att(&log_group, "Arn")],
        }));
        resources.insert(
            role.clone(),
            json!({
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "RoleName": deployed_name(key),
                    "Description": format!("Execution role of the {key} function"),
                    "AssumeRolePolicyDocument": assume_role("lambda.amazonaws.com"),
                    "Policies": [{
                        "PolicyName": key,
                        "PolicyDocument": { "Version": "2012-10-17", "Statement": statements },
                    }],
                    "Tags": tags.list(),
                },
            }),
        );
        let mut properties = json!({
            "FunctionName": deployed_name(key),
            "Description": function.description,
            "CodeUri": format!("{code_dir}/{key}/bootstrap.zip"),
            "MemorySize": function.memory_mb,
            "Timeout": function.timeout_seconds,
            "Role": get_att(&role, "Arn"),
            "LoggingConfig": { "LogFormat": spelled(&function.log_format), "LogGroup": reference(&log_group) },
        });
        if !same_runtime {
            properties["Runtime"] = function.runtime.as_str().into();
        }
        if !function.environment.is_empty() {
            let variables: Map<String, Value> = function
                .environment
                .iter()
                .map(|(name, value)| (name.clone(), environment_value(value)))
                .collect();
            properties["Environment"] = json!({ "Variables": variables });
        }
        let routes: Map<String, Value> = stack
            .http_api
            .iter()
            .flat_map(|api| &api.routes)
            .filter(|route| route.function == *key)
            .map(|route| {
                let (method, path) = route.method_and_path();
                (
                    route_event_name(method, path),
                    json!({
                        "Type": "HttpApi",
                        "Properties": {
                            "ApiId": reference("HttpApi"),
                            "Method": method,
                            "Path": path,
                            "PayloadFormatVersion": "2.0",
                        },
                    }),
                )
            })
            .collect();
        if !routes.is_empty() {
            properties["Events"] = routes.into();
        }
        resources.insert(
            function_id.clone(),
            json!({ "Type": "AWS::Serverless::Function", "Properties": properties }),
        );
        for source in &function.event_sources {
            let source_id = match (&source.queue, &source.stream) {
                (Some(queue), _) => logical_id(queue, "Queue"),
                (None, Some(stream)) => logical_id(stream, "Stream"),
                (None, None) => unreachable!("the manifest's checks refuse a source without one"),
            };
            let mut mapping = json!({
                "FunctionName": reference(&function_id),
                "EventSourceArn": get_att(&source_id, "Arn"),
            });
            if source.stream_settings().is_some_and(|s| s.enhanced_fan_out) {
                let consumer = consumer_id(key, source.source_key());
                resources.insert(
                    consumer.clone(),
                    json!({
                        "Type": "AWS::Kinesis::StreamConsumer",
                        "Properties": {
                            "ConsumerName": { "Fn::Sub": format!("${{AWS::StackName}}-{key}") },
                            "StreamARN": get_att(&source_id, "Arn"),
                            "Tags": tags.list(),
                        },
                    }),
                );
                mapping["EventSourceArn"] = get_att(&consumer, "ConsumerARN");
            }
            mapping["BatchSize"] = source.batch_size.into();
            mapping["MaximumBatchingWindowInSeconds"] =
                source.maximum_batching_window_seconds.into();
            if source.report_batch_item_failures {
                mapping["FunctionResponseTypes"] = json!(["ReportBatchItemFailures"]);
            }
            if let Some(concurrency) = source.maximum_concurrency {
                mapping["ScalingConfig"] = json!({ "MaximumConcurrency": concurrency });
            }
            if let Some(stream) = source.stream_settings() {
                mapping["StartingPosition"] = spelled(&stream.starting_position).into();
                mapping["BisectBatchOnFunctionError"] =
                    stream.bisect_batch_on_function_error.into();
                if let Some(retries) = source.maximum_retry_attempts {
                    mapping["MaximumRetryAttempts"] = retries.into();
                }
                if let Some(age) = source.maximum_record_age_seconds {
                    mapping["MaximumRecordAgeInSeconds"] = age.into();
                }
                if let Some(queue) = &stream.on_failure_queue {
                    mapping["DestinationConfig"] = json!({
                        "OnFailure": { "Destination": get_att(&logical_id(queue, "Queue"), "Arn") },
                    });
                }
                mapping["ParallelizationFactor"] = stream.parallelization_factor.into();
            }
            mapping["Tags"] = tags.list();
            resources.insert(
                format!("{}{}EventSource", pascal(key), pascal(source.source_key())),
                json!({ "Type": "AWS::Lambda::EventSourceMapping", "Properties": mapping }),
            );
        }
    }
}

/// The enhanced fan-out consumer of `function` on `stream`: `FeatureUpdatesEnrichedConsumer`.
fn consumer_id(function: &str, stream: &str) -> String {
    format!("{}{}Consumer", pascal(function), pascal(stream))
}

/// `ANY /tasks/{id}` is the event `AnyTasksId`.
fn route_event_name(method: &str, path: &str) -> String {
    let mut name = pascal(&method.to_lowercase());
    for segment in path.split('/') {
        name.push_str(&pascal(segment.trim_matches(['{', '}', '+'])));
    }
    name
}

pub(super) fn assume_role(service: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{ "Effect": "Allow", "Principal": { "Service": service }, "Action": "sts:AssumeRole" }],
    })
}

/// API Gateway's access log line: one JSON object per request.
const ACCESS_LOG_FORMAT: &str = concat!(
    r#"{"requestId":"$context.requestId","requestTime":"$context.requestTime", "#,
    r#""sourceIp":"$context.identity.sourceIp","userAgent":"$context.identity.userAgent", "#,
    r#""routeKey":"$context.routeKey","path":"$context.path","protocol":"$context.protocol", "#,
    r#""status":"$context.status","responseLength":"$context.responseLength", "#,
    r#""responseLatency":"$context.responseLatency","integrationLatency":"$context.integrationLatency", "#,
    r#""integrationStatus":"$context.integrationStatus","integrationError":"$context.integrationErrorMessage", "#,
    r#""authorizerError":"$context.authorizer.error"}"#,
);

pub(super) fn http_api(stack: &Stack, tags: &Tags, resources: &mut Resources) {
    let Some(api) = &stack.http_api else {
        return;
    };
    resources.insert(
        "HttpApiAccessLogGroup".into(),
        json!({
            "Type": "AWS::Logs::LogGroup",
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
            "Properties": {
                "LogGroupName": { "Fn::Sub": "/aws/apigateway/${AWS::StackName}-http-api" },
                "RetentionInDays": api.access_log_retention_days,
                "Tags": tags.list(),
            },
        }),
    );
    resources.insert(
        "HttpApi".into(),
        json!({
            "Type": "AWS::Serverless::HttpApi",
            "Properties": {
                "Name": deployed_name("http-api"),
                "Description": "Todo and scoring API; every route needs a JWT from the configured issuer",
                "FailOnWarnings": true,
                "Auth": {
                    "DefaultAuthorizer": "JwtAuthorizer",
                    "Authorizers": { "JwtAuthorizer": {
                        "IdentitySource": api.authorizer.identity_source,
                        "JwtConfiguration": {
                            "issuer": reference("JwtIssuer"),
                            "audience": reference("JwtAudience"),
                        },
                    } },
                },
                "DefaultRouteSettings": {
                    "ThrottlingBurstLimit": api.throttle.burst_limit,
                    "ThrottlingRateLimit": api.throttle.rate_limit,
                },
                "AccessLogSettings": {
                    "DestinationArn": get_att("HttpApiAccessLogGroup", "Arn"),
                    "Format": ACCESS_LOG_FORMAT,
                },
                "Tags": tags.map(),
            },
        }),
    );
}
