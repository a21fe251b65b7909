"""The deployment templates against the manifest, infra/stack.json.

The manifest is the one definition of what the stack deploys. The Terraform module reads it, so
here it is enough to check that the module's resources iterate over the manifest and bind its
values; the SAM template is written out by hand, so every setting in it is compared with the
manifest. Each checker returns a list of problems, one line each, naming the resource and the
setting; an empty list means no drift. The tests at the end show that the checkers do find
drift: they change an in-memory copy of a template and expect the matching problem.

Run with tools/check-infra.sh, or `python -m unittest discover -s infra/tests` inside
.venv-infra (it needs cfn-lint, aws-sam-translator and bc-python-hcl2, which checkov brings).
"""

from __future__ import annotations

import ast
import copy
import functools
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path
from typing import Any

import boto3
import hcl2
from cfnlint.decode import decode
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER, ResourceNotFoundError
from samtranslator.metrics.metrics import DummyMetricsPublisher, Metrics
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

ROOT = Path(__file__).resolve().parents[2]
MANIFEST_PATH = ROOT / "infra" / "stack.json"
SAM_TEMPLATE_PATH = ROOT / "infra" / "sam" / "template.yaml"
TERRAFORM_DIR = ROOT / "infra" / "terraform"
TERRAFORM_EXAMPLE_DIR = TERRAFORM_DIR / "examples" / "basic"
CHECKOV_CONFIG_PATH = ROOT / "infra" / "checkov.yaml"
FUNCTIONS_DIR = ROOT / "functions"
SHARED_METRICS_PATH = ROOT / "shared" / "src" / "metrics.rs"
# The metrics every consumer of the keyed-state stream core records.
KEYED_STATE_REPORT_PATH = ROOT / "shared" / "src" / "keyed_state" / "report.rs"
# Whether each resource type of the Terraform module takes tags, from the provider schema.
TAGGABLE_RECORD_PATH = ROOT / "infra" / "tests" / "terraform_taggable.json"
DEFAULT_TF_PLUGIN_DIR = "/opt/tf-plugins"

ARCHITECTURES = {"arm64", "x86_64"}
HANDLER = "bootstrap"
PAYLOAD_FORMAT_VERSION = "2.0"
LOG_ACTIONS = {"logs:CreateLogStream", "logs:PutLogEvents"}
HTTP_API_KEY = "http-api"
# Queues: SQS-managed server-side encryption on every one (EventBridge can deliver to it without
# a key policy). Streams: provisioned shards; the AWS-managed key when the manifest encrypts.
STREAM_MODE = "PROVISIONED"
STREAM_KMS_KEY = "alias/aws/kinesis"
# What lets an EventBridge rule deliver to its target queue, and nothing more.
EVENTS_PRINCIPAL = "events.amazonaws.com"
EVENTS_QUEUE_ACTIONS = ["sqs:SendMessage"]
RULE_STATE = "ENABLED"
BATCH_ITEM_FAILURES = "ReportBatchItemFailures"
# Event sources: what every one has, and what only one kind has. A stream source has every
# STREAM_SOURCE_REQUIRED field and may name an on_failure_queue; a queue source has none of
# STREAM_SOURCE_FIELDS (a queue's failures go to its dead-letter queue) and may carry
# QUEUE_SOURCE_FIELDS, which a stream source must not.
EVENT_SOURCE_FIELDS = {"batch_size", "maximum_batching_window_seconds", "report_batch_item_failures"}
STREAM_SOURCE_REQUIRED = {
    "starting_position", "bisect_batch_on_function_error", "maximum_retry_attempts",
    "maximum_record_age_seconds", "parallelization_factor",
}
STREAM_SOURCE_FIELDS = STREAM_SOURCE_REQUIRED | {"on_failure_queue"}
QUEUE_SOURCE_FIELDS = {"maximum_concurrency"}
# What the event source mapping does with the function's role: read the queue or the stream,
# and send a given-up batch's pointer to the on-failure queue.
QUEUE_SOURCE_ACTIONS = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}
STREAM_SOURCE_ACTIONS = {
    "kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords",
    "kinesis:GetShardIterator", "kinesis:ListShards",
}
ON_FAILURE_ACTIONS = {"sqs:SendMessage"}
# Model endpoints: a SageMaker model, an endpoint configuration with one serverless production
# variant, the endpoint, and the execution role SageMaker assumes. The role may pull the image
# (an ECR token, which has no resource-level permissions, and the image's repository), write the
# endpoint's log group and streams, and put metrics in SageMaker's endpoint namespace; nothing
# else.
VARIANT_NAME = "AllTraffic"
SAGEMAKER_PRINCIPAL = "sagemaker.amazonaws.com"
ECR_TOKEN_ACTION = "ecr:GetAuthorizationToken"
ECR_PULL_ACTIONS = {"ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"}
ENDPOINT_LOG_ACTIONS = {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"}
METRICS_ACTION = "cloudwatch:PutMetricData"
METRICS_NAMESPACE = "/aws/sagemaker/Endpoints"
METRICS_CONDITION = {"StringEquals": {"cloudwatch:namespace": METRICS_NAMESPACE}}
ENDPOINT_LOG_GROUP_PREFIX = "/aws/sagemaker/Endpoints/"
MODEL_ROLE_ACTIONS = {ECR_TOKEN_ACTION, METRICS_ACTION} | ECR_PULL_ACTIONS | ENDPOINT_LOG_ACTIONS
# IAM condition keys, which look like actions in a policy's text.
CONDITION_KEYS = {"cloudwatch:namespace"}
# An image URI: ECR, with an explicit tag or digest (the SAM parameter's AllowedPattern and the
# Terraform variable's validation). The role's ECR statement takes the repository ARN apart
# from exactly this shape.
ECR_IMAGE_PATTERN = (
    r"^[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/[a-z0-9]+(?:[._/-][a-z0-9]+)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[0-9a-f]{64})$"
)
SERVERLESS_MEMORY_SIZES = {1024, 2048, 3072, 4096, 5120, 6144}
SERVERLESS_MAX_CONCURRENCY = range(1, 201)
# Monitoring. The alarm topic may be published to by the account's CloudWatch alarms and AWS
# Budgets only. An alarm's target decides its namespace and the dimension that names the target
# (a model endpoint's alarms also name its one variant). The dashboard is one file with three
# variables that both templates fill in.
SNS_PUBLISH_ACTION = "sns:Publish"
ALARMS_PRINCIPAL = "cloudwatch.amazonaws.com"
BUDGETS_PRINCIPAL = "budgets.amazonaws.com"
EMAIL_PROTOCOL = "email"
ALARM_NAMESPACES = {
    "queue": "AWS/SQS", "stream": "AWS/Kinesis", "endpoint": "AWS/SageMaker", "http_api": "AWS/ApiGateway",
    "function": "AWS/Lambda",
}
TARGET_DIMENSIONS = {
    "queue": "QueueName", "stream": "StreamName", "endpoint": "EndpointName", "http_api": "ApiId",
    "function": "FunctionName",
}
ALARM_SETTINGS = {
    "description", "metric", "statistic", "period_seconds", "evaluation_periods", "datapoints_to_alarm",
    "comparison", "threshold", "treat_missing_data",
}
# CloudWatch's statistics; a percentile (p0 to p100) is an extended statistic.
STANDARD_STATISTICS = {"SampleCount", "Average", "Sum", "Minimum", "Maximum"}
PERCENTILE = re.compile(r"p(100|[0-9]{1,2}(\.[0-9]+)?)")
ALARM_COMPARISONS = {
    "GreaterThanThreshold", "GreaterThanOrEqualToThreshold", "LessThanThreshold", "LessThanOrEqualToThreshold",
}
TREAT_MISSING_DATA = {"breaching", "notBreaching", "ignore", "missing"}
BUDGET_TYPE = "COST"
BUDGET_UNIT = "USD"
BUDGET_COMPARISON = "GREATER_THAN"
BUDGET_THRESHOLD_TYPE = "PERCENTAGE"
BUDGET_COST_FILTER = "TagKeyValue"
BUDGET_TIME_UNITS = {"DAILY", "MONTHLY", "QUARTERLY", "ANNUALLY"}
BUDGET_NOTIFICATION_TYPES = {"ACTUAL", "FORECASTED"}
DASHBOARD_VARIABLES = ("prefix", "region", "api_id")
DASHBOARD_PREFIX = "${prefix}-"
# The IAM actions that write a DynamoDB table: what a function's own count of write units covers.
DYNAMODB_WRITE_ACTIONS = frozenset({
    "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:TransactWriteItems",
})
# Dashboard dimensions that name a manifest resource, by the manifest section holding it.
DASHBOARD_RESOURCE_DIMENSIONS = {
    "FunctionName": "functions", "QueueName": "queues", "StreamName": "streams", "TableName": "tables",
    "EndpointName": "model_endpoints",
}


# --------------------------------------------------------------------------- loading


def load_manifest(path: Path = MANIFEST_PATH) -> dict[str, Any]:
    return json.loads(path.read_text())


def load_sam_template(path: Path = SAM_TEMPLATE_PATH) -> dict[str, Any]:
    """The template as plain data, short tags (!Ref, !Sub, !GetAtt) as their long forms."""
    template, matches = decode(str(path))
    if matches or template is None:
        raise ValueError(f"{path} does not parse: {[str(match) for match in matches]}")
    return json.loads(json.dumps(template))


def load_terraform(directory: Path) -> dict[str, Any]:
    """Resources, locals, variables, modules and outputs of the .tf files directly in `directory`."""
    module: dict[str, Any] = {"resource": {}, "locals": {}, "variable": {}, "module": {}, "provider": {}, "output": {}}
    for path in sorted(directory.glob("*.tf")):
        with path.open() as handle:
            parsed = hcl2.load(handle)
        for block in parsed.get("resource", []):
            for resource_type, named in block.items():
                for name, body in named.items():
                    module["resource"][(resource_type, name)] = body
        for block in parsed.get("locals", []):
            module["locals"].update({k: v for k, v in block.items() if not k.startswith("__")})
        for kind in ("variable", "module", "provider", "output"):
            for block in parsed.get(kind, []):
                module[kind].update(block)
    return module


def translate_sam(template: dict[str, Any]) -> dict[str, Any]:
    """The CloudFormation that SAM makes of the template, offline.

    CodeUri becomes an S3 URI first, as `sam deploy` does after uploading the zip.
    """
    template = copy.deepcopy(template)
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource.setdefault("Properties", {})["CodeUri"] = "s3://deployment-bucket/bootstrap.zip"
    metrics = Metrics("ServerlessTransform", DummyMetricsPublisher())
    translator = Translator(
        None, Parser(), boto_session=boto3.session.Session(region_name="us-east-1"), metrics=metrics
    )
    try:
        return translator.translate(template, parameter_values={}, get_managed_policy_map=lambda: {})
    finally:
        metrics.publish()


# --------------------------------------------------------------------------- naming


def pascal(key: str) -> str:
    """`todo-api` -> `TodoApi`, `cost_center` -> `CostCenter`."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_]", key) if part)


def table_id(key: str) -> str:
    return f"{pascal(key)}Table"


def function_id(key: str) -> str:
    return f"{pascal(key)}Function"


def role_id(key: str) -> str:
    return f"{pascal(key)}Role"


def log_group_id(key: str) -> str:
    return f"{pascal(key)}LogGroup"


def queue_id(key: str) -> str:
    return f"{pascal(key)}Queue"


def queue_policy_id(key: str) -> str:
    """The policy of a queue that event rules target."""
    return f"{pascal(key)}QueuePolicy"


def stream_id(key: str) -> str:
    return f"{pascal(key)}Stream"


def event_bus_id(key: str) -> str:
    return f"{pascal(key)}EventBus"


def rule_id(key: str) -> str:
    return f"{pascal(key)}Rule"


def event_source_id(function: str, source: str) -> str:
    """The event source mapping of `function` on the queue or stream `source`."""
    return f"{pascal(function)}{pascal(source)}EventSource"


def endpoint_id(key: str) -> str:
    """The SageMaker endpoint of model endpoint `key`; `!Ref` of it is its ARN."""
    return f"{pascal(key)}Endpoint"


def endpoint_config_id(key: str) -> str:
    return f"{pascal(key)}EndpointConfig"


def endpoint_model_id(key: str) -> str:
    return f"{pascal(key)}EndpointModel"


def endpoint_role_id(key: str) -> str:
    return f"{pascal(key)}EndpointRole"


def endpoint_role_name(key: str) -> dict[str, str]:
    return {"Fn::Sub": "${AWS::StackName}-" + key + "-sagemaker"}


def get_att(logical_id: str, attribute: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [logical_id, attribute]}


def event_source_of(spec: dict[str, Any]) -> tuple[str, str]:
    """("queue", key) or ("stream", key): what a manifest event source reads."""
    if "stream" in spec:
        return "stream", spec["stream"]
    return "queue", spec["queue"]


HTTP_API_ID = "HttpApi"
HTTP_API_LOG_GROUP_ID = "HttpApiAccessLogGroup"


def queue_name(key: str, queue: dict[str, Any]) -> str:
    """The queue's name after the prefix: FIFO queue names end in `.fifo`."""
    return key + (".fifo" if queue["fifo"] else "")


def queue_arn_sub(key: str, queue: dict[str, Any]) -> str:
    """The queue's ARN spelled out with pseudo parameters, where !GetAtt would make a cycle."""
    return "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${AWS::StackName}-" + queue_name(key, queue)


def arn_of(logical_id: str) -> str:
    """`!GetAtt <logical_id>.Arn`, in canonical() spelling."""
    return "${" + logical_id + ".Arn}"


def manifest_rules(manifest: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Rule key -> (its bus key, its spec), over every bus."""
    return {
        rule: (bus, spec)
        for bus, bus_spec in manifest.get("event_buses", {}).items()
        for rule, spec in bus_spec.get("rules", {}).items()
    }


def rule_targets(manifest: dict[str, Any]) -> dict[str, list[str]]:
    """Queue key -> the keys of the rules that target it."""
    targets: dict[str, list[str]] = {}
    for rule, (_, spec) in manifest_rules(manifest).items():
        targets.setdefault(spec["target"]["queue"], []).append(rule)
    return targets


def dead_letter_sources(manifest: dict[str, Any], key: str) -> list[str]:
    """The queues whose dead-letter queue is `key`."""
    return [
        source for source, queue in manifest.get("queues", {}).items()
        if (queue.get("dead_letter") or {}).get("queue") == key
    ]


def json_value(value: Any) -> Any:
    """A CloudFormation JSON property given as a string (allowed for policies and patterns) as data."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def deployed_name(key: str) -> dict[str, str]:
    return {"Fn::Sub": "${AWS::StackName}-" + key}


def ref(logical_id: str) -> dict[str, str]:
    return {"Ref": logical_id}


def canonical(value: Any) -> str:
    """One spelling for a reference: GetAtt X.Arn, !GetAtt [X, Arn] and !Sub ${X.Arn} are equal."""
    if isinstance(value, dict) and len(value) == 1:
        (function, argument), = value.items()
        if function == "Fn::GetAtt":
            parts = argument.split(".", 1) if isinstance(argument, str) else argument
            return "${" + ".".join(str(part) for part in parts) + "}"
        if function == "Ref":
            return "${" + str(argument) + "}"
        if function == "Fn::Sub":
            return argument if isinstance(argument, str) else json.dumps(argument, sort_keys=True)
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def key_schema(partition: dict[str, str], sort: dict[str, str] | None) -> list[dict[str, str]]:
    schema = [{"AttributeName": partition["name"], "KeyType": "HASH"}]
    if sort:
        schema.append({"AttributeName": sort["name"], "KeyType": "RANGE"})
    return schema


def attribute_definitions(table: dict[str, Any]) -> dict[str, str]:
    """Every key attribute of the table and its indexes, once, as DynamoDB needs them."""
    keys = [table["partition_key"], table.get("sort_key")]
    for index in table.get("global_secondary_indexes", {}).values():
        keys += [index["partition_key"], index.get("sort_key")]
    return {key["name"]: key["type"] for key in keys if key}


def parse_route(route: str) -> tuple[str, str]:
    method, _, path = route.partition(" ")
    return method.upper(), path


def topic_id(key: str) -> str:
    return f"{pascal(key)}Topic"


def topic_policy_id(key: str) -> str:
    return f"{pascal(key)}TopicPolicy"


def email_subscription_id(key: str) -> str:
    return f"{pascal(key)}EmailSubscription"


def alarm_id(name: str) -> str:
    """An alarm by its name after the prefix: `ingest-dlq-messages`, or `todo-api-errors` for the
    function alarm `errors` of function `todo-api`."""
    return f"{pascal(name)}Alarm"


def dashboard_id(key: str) -> str:
    return f"{pascal(key)}Dashboard"


def budget_key(budget: dict[str, Any]) -> str:
    """The budget's name after the prefix: its time unit, `monthly`."""
    return budget["time_unit"].lower()


def budget_id(budget: dict[str, Any]) -> str:
    return f"{pascal(budget_key(budget))}Budget"


def condition_id(parameter: str) -> str:
    """The condition that an optional parameter is set: AlarmEmail -> HasAlarmEmail."""
    return f"Has{parameter}"


def monitoring_of(manifest: dict[str, Any]) -> dict[str, Any]:
    return manifest.get("monitoring") or {}


def manifest_alarms(manifest: dict[str, Any]) -> dict[str, tuple[dict[str, Any], dict[str, Any], str]]:
    """Alarm name after the prefix -> (its settings, its target, where the manifest says so): the
    manifest's alarms, and each function alarm for every function as `<function>-<key>` with the
    target {"function": <function>}."""
    monitoring = monitoring_of(manifest)
    alarms = {
        key: (spec, spec.get("target") or {}, f"monitoring.alarms.{key}")
        for key, spec in monitoring.get("alarms", {}).items()
    }
    for function in manifest["functions"]:
        for key, spec in monitoring.get("function_alarms", {}).items():
            alarms[f"{function}-{key}"] = (spec, {"function": function}, f"monitoring.function_alarms.{key}")
    return alarms


def alarm_target(target: dict[str, Any]) -> tuple[str, str]:
    """(kind, manifest key) of an alarm's target; the HTTP API's key is `http-api`."""
    kind = next(iter(target), "")
    return kind, HTTP_API_KEY if kind == "http_api" else str(target.get(kind))


def dashboard_path(manifest: dict[str, Any]) -> Path | None:
    """The dashboard body file, beside the manifest."""
    dashboard = monitoring_of(manifest).get("dashboard")
    return MANIFEST_PATH.parent / dashboard["body"] if dashboard else None


# --------------------------------------------------------------------------- SAM checkers

@functools.lru_cache(maxsize=None)
def cfn_tag_property(resource_type: str) -> tuple[str, str] | None:
    """(property, shape) of the property that carries a CloudFormation or SAM type's tags, "map"
    or "list", from cfn-lint's bundled resource schemas: the schema's tagProperty, else Tags or
    ResourceTags (a budget's); None when the type has neither. LookupError when cfn-lint does
    not know the type."""
    try:
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", resource_type).schema
    except ResourceNotFoundError as error:
        raise LookupError(resource_type) from error
    properties = schema.get("properties", {})
    tag_property = str((schema.get("tagging") or {}).get("tagProperty", "")).rpartition("/")[2]
    name = tag_property or next((name for name in ("Tags", "ResourceTags") if name in properties), None)
    if name is None or name not in properties:
        return None
    return name, "map" if properties[name].get("type") == "object" else "list"


def expected_sam_resources(manifest: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Logical ID -> (type, what in the manifest it stands for)."""
    return {logical_id: (resource_type, origin) for logical_id, resource_type, origin in sam_resource_entries(manifest)}


def sam_resource_entries(manifest: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(logical ID, type, what in the manifest it stands for) of every resource the manifest needs."""
    entries = []
    for key in manifest["tables"]:
        entries.append((table_id(key), "AWS::DynamoDB::Table", f"table {key}"))
    for key in manifest.get("queues", {}):
        entries.append((queue_id(key), "AWS::SQS::Queue", f"queue {key}"))
    for key, rules in rule_targets(manifest).items():
        entries.append((queue_policy_id(key), "AWS::SQS::QueuePolicy", f"queue {key}, target of rule {', '.join(rules)}"))
    for key in manifest.get("streams", {}):
        entries.append((stream_id(key), "AWS::Kinesis::Stream", f"stream {key}"))
    for key in manifest.get("event_buses", {}):
        entries.append((event_bus_id(key), "AWS::Events::EventBus", f"event bus {key}"))
    for key, (bus, _) in manifest_rules(manifest).items():
        entries.append((rule_id(key), "AWS::Events::Rule", f"rule {key} of event bus {bus}"))
    for key in manifest.get("model_endpoints", {}):
        entries.append((endpoint_id(key), "AWS::SageMaker::Endpoint", f"model endpoint {key}"))
        entries.append((endpoint_config_id(key), "AWS::SageMaker::EndpointConfig", f"model endpoint {key}"))
        entries.append((endpoint_model_id(key), "AWS::SageMaker::Model", f"model endpoint {key}"))
        entries.append((endpoint_role_id(key), "AWS::IAM::Role", f"model endpoint {key}"))
    for key, function in manifest["functions"].items():
        entries.append((function_id(key), "AWS::Serverless::Function", f"function {key}"))
        entries.append((role_id(key), "AWS::IAM::Role", f"function {key}"))
        entries.append((log_group_id(key), "AWS::Logs::LogGroup", f"function {key}"))
        for source in function.get("event_sources", []):
            kind, name = event_source_of(source)
            entries.append((
                event_source_id(key, name), "AWS::Lambda::EventSourceMapping",
                f"event source of function {key} on {kind} {name}",
            ))
    if manifest.get("http_api"):
        entries.append((HTTP_API_ID, "AWS::Serverless::HttpApi", "http_api"))
        entries.append((HTTP_API_LOG_GROUP_ID, "AWS::Logs::LogGroup", "http_api"))
    monitoring = monitoring_of(manifest)
    if monitoring.get("alarm_topic"):
        key = monitoring["alarm_topic"]["key"]
        entries.append((topic_id(key), "AWS::SNS::Topic", "monitoring.alarm_topic"))
        entries.append((topic_policy_id(key), "AWS::SNS::TopicPolicy", "monitoring.alarm_topic"))
        entries.append((email_subscription_id(key), "AWS::SNS::Subscription", "monitoring.alarm_topic.email_parameter"))
    for name, (_, target, source) in manifest_alarms(manifest).items():
        origin = f"{source} of function {target['function']}" if "function" in target else source
        entries.append((alarm_id(name), "AWS::CloudWatch::Alarm", origin))
    if monitoring.get("dashboard"):
        entries.append((dashboard_id(monitoring["dashboard"]["key"]), "AWS::CloudWatch::Dashboard", "monitoring.dashboard"))
    if monitoring.get("budget"):
        entries.append((budget_id(monitoring["budget"]), "AWS::Budgets::Budget", "monitoring.budget"))
    return entries


def check_sam_accounted_for(manifest: dict[str, Any], template: dict[str, Any]) -> list[str]:
    """Every manifest resource is in the template, and nothing else is."""
    problems = []
    resources = template.get("Resources", {})
    expected = expected_sam_resources(manifest)
    seen: dict[str, str] = {}
    for logical_id, _, origin in sam_resource_entries(manifest):
        if logical_id in seen:
            problems.append(f"{logical_id}: stands for both {seen[logical_id]} and {origin}; rename a manifest key")
        seen[logical_id] = origin
    for logical_id, (resource_type, origin) in expected.items():
        if logical_id not in resources:
            problems.append(f"{logical_id}: missing; the manifest's {origin} needs a {resource_type}")
        elif resources[logical_id].get("Type") != resource_type:
            problems.append(
                f"{logical_id}: Type is {resources[logical_id].get('Type')}, {origin} needs {resource_type}"
            )
    for logical_id in resources:
        if logical_id not in expected:
            problems.append(
                f"{logical_id}: not in the manifest; add it to infra/stack.json (and to this check) or remove it"
            )
    if "Globals" in template:
        problems.append("Globals: set properties on the resources themselves, where this check compares them")
    return problems


def _compare(problems: list[str], where: str, setting: str, actual: Any, expected: Any, source: str) -> None:
    if actual != expected:
        problems.append(f"{where}: {setting} is {json.dumps(actual)}, manifest {source} wants {json.dumps(expected)}")


def check_sam_tables(manifest: dict[str, Any], template: dict[str, Any]) -> list[str]:
    """Name, billing, keys, attributes, indexes, point-in-time recovery, encryption, and time to
    live: on the manifest's time_to_live_attribute, and not set on a table without one."""
    problems = []
    resources = template.get("Resources", {})
    for key, table in manifest["tables"].items():
        logical_id = table_id(key)
        if logical_id not in resources:
            continue  # reported by check_sam_accounted_for
        props = resources[logical_id].get("Properties", {})
        where = f"{logical_id} (table {key})"
        source = f"tables.{key}"
        _compare(problems, where, "TableName", props.get("TableName"), deployed_name(key), "naming <prefix>-<key>")
        _compare(problems, where, "BillingMode", props.get("BillingMode"), table["billing_mode"], f"{source}.billing_mode")
        _compare(
            problems, where, "KeySchema", props.get("KeySchema"),
            key_schema(table["partition_key"], table.get("sort_key")), f"{source}.partition_key/sort_key",
        )
        actual_attributes = {
            attribute.get("AttributeName"): attribute.get("AttributeType")
            for attribute in as_list(props.get("AttributeDefinitions"))
        }
        _compare(
            problems, where, "AttributeDefinitions", dict(sorted(actual_attributes.items())),
            dict(sorted(attribute_definitions(table).items())), f"{source} keys and index keys",
        )
        actual_indexes = {index.get("IndexName"): index for index in as_list(props.get("GlobalSecondaryIndexes"))}
        expected_indexes = table.get("global_secondary_indexes", {})
        for name in sorted(set(actual_indexes) - set(expected_indexes)):
            problems.append(f"{where}: index {name} is not in manifest {source}.global_secondary_indexes")
        for name, index in expected_indexes.items():
            if name not in actual_indexes:
                problems.append(f"{where}: index {name} from manifest {source}.global_secondary_indexes is missing")
                continue
            _compare(
                problems, where, f"index {name} KeySchema", actual_indexes[name].get("KeySchema"),
                key_schema(index["partition_key"], index.get("sort_key")), f"{source}.global_secondary_indexes.{name}",
            )
            _compare(
                problems, where, f"index {name} Projection", actual_indexes[name].get("Projection"),
                {"ProjectionType": index["projection"]}, f"{source}.global_secondary_indexes.{name}.projection",
            )
        _compare(
            problems, where, "PointInTimeRecoverySpecification", props.get("PointInTimeRecoverySpecification"),
            {"PointInTimeRecoveryEnabled": table["point_in_time_recovery"]}, f"{source}.point_in_time_recovery",
        )
        _compare(
            problems, where, "SSESpecification", props.get("SSESpecification"),
            {"SSEEnabled": table["server_side_encryption"]}, f"{source}.server_side_encryption",
        )
        _compare(
            problems, where, "TimeToLiveSpecification", props.get("TimeToLiveSpecification"),
            sam_time_to_live(table), f"{source}.time_to_live_attribute",
        )
    return problems


def sam_time_to_live(table: dict[str, Any]) -> dict[str, Any] | None:
    """A table's TimeToLiveSpecification: on, on the manifest's attribute; none without one."""
    attribute = table.get("time_to_live_attribute")
    return {"AttributeName": attribute, "Enabled": True} if attribute is not None else None


def sam_environment_value(value: dict[str, str]) -> Any:
    """A manifest environment value as the template writes it: Ref of a table gives its name, of
    a queue its URL, of a stream its name; an endpoint's name is its EndpointName attribute (Ref
    of an endpoint is its ARN)."""
    if "table" in value:
        return ref(table_id(value["table"]))
    if "queue" in value:
        return ref(queue_id(value["queue"]))
    if "stream" in value:
        return ref(stream_id(value["stream"]))
    if "endpoint" in value:
        return get_att(endpoint_id(value["endpoint"]), "EndpointName")
    return value["value"]


def check_sam_functions(manifest: dict[str, Any], template: dict[str, Any]) -> list[str]:
    problems = []
    resources = template.get("Resources", {})
    parameters = template.get("Parameters", {})
    architecture = parameters.get("Architecture", {})
    if set(as_list(architecture.get("AllowedValues"))) != ARCHITECTURES:
        problems.append(
            f"Parameters.Architecture: AllowedValues is {json.dumps(architecture.get('AllowedValues'))}, "
            f"must be {sorted(ARCHITECTURES)}"
        )
    for key, function in manifest["functions"].items():
        source = f"functions.{key}"
        logical_id = function_id(key)
        if logical_id in resources:
            props = resources[logical_id].get("Properties", {})
            where = f"{logical_id} (function {key})"
            _compare(problems, where, "FunctionName", props.get("FunctionName"), deployed_name(key), "naming <prefix>-<key>")
            _compare(problems, where, "Description", props.get("Description"), function["description"], f"{source}.description")
            _compare(problems, where, "Runtime", props.get("Runtime"), function["runtime"], f"{source}.runtime")
            _compare(problems, where, "Handler", props.get("Handler"), HANDLER, "(provided runtimes run `bootstrap`)")
            _compare(
                problems, where, "CodeUri", props.get("CodeUri"),
                f"../../target/lambda/{key}/bootstrap.zip", "(the zip tools/package.sh writes)",
            )
            _compare(problems, where, "Architectures", props.get("Architectures"), [ref("Architecture")], "(the Architecture parameter)")
            _compare(
                problems, where, "Architecture parameter Default", architecture.get("Default"),
                function["architecture"], f"{source}.architecture",
            )
            _compare(problems, where, "MemorySize", props.get("MemorySize"), function["memory_mb"], f"{source}.memory_mb")
            _compare(problems, where, "Timeout", props.get("Timeout"), function["timeout_seconds"], f"{source}.timeout_seconds")
            _compare(problems, where, "Role", canonical(props.get("Role")), "${" + role_id(key) + ".Arn}", "(the function's own role)")
            for setting in ("Policies", "PermissionsBoundary", "AutoPublishAlias", "DeploymentPreference"):
                if setting in props:
                    problems.append(f"{where}: {setting} is set; the manifest gives the function only its own role")
            for event_name, event in (props.get("Events") or {}).items():
                if event.get("Type") != "HttpApi":
                    problems.append(
                        f"{where}: event {event_name} has Type {event.get('Type')}; queue and stream event sources are "
                        f"AWS::Lambda::EventSourceMapping resources, checked against manifest {source}.event_sources"
                    )
            logging = props.get("LoggingConfig", {})
            _compare(problems, where, "LoggingConfig.LogFormat", logging.get("LogFormat"), function["log_format"], f"{source}.log_format")
            _compare(problems, where, "LoggingConfig.LogGroup", logging.get("LogGroup"), ref(log_group_id(key)), "(the function's own log group)")
            expected_environment = {name: sam_environment_value(value) for name, value in function.get("environment", {}).items()}
            actual_environment = props.get("Environment", {}).get("Variables", {})
            for name in sorted(set(actual_environment) | set(expected_environment)):
                if name not in expected_environment:
                    problems.append(f"{where}: Environment {name} is not in manifest {source}.environment")
                elif name not in actual_environment:
                    problems.append(f"{where}: Environment {name} from manifest {source}.environment is missing")
                elif not (
                    isinstance(actual_environment[name], dict)
                    and canonical(actual_environment[name]) == canonical(expected_environment[name])
                ):
                    _compare(
                        problems, where, f"Environment {name}", actual_environment[name],
                        expected_environment[name], f"{source}.environment.{name}",
                    )
        group_id = log_group_id(key)
        if group_id in resources:
            props = resources[group_id].get("Properties", {})
            where = f"{group_id} (function {key})"
            _compare(
                problems, where, "LogGroupName", props.get("LogGroupName"),
                {"Fn::Sub": "/aws/lambda/${AWS::StackName}-" + key}, "naming /aws/lambda/<prefix>-<key>",
            )
            _compare(
                problems, where, "RetentionInDays", props.get("RetentionInDays"),
                function["log_retention_days"], f"{source}.log_retention_days",
            )
    return problems


def _statements(policy_document: Any) -> list[dict[str, Any]]:
    return [s for s in as_list((policy_document or {}).get("Statement")) if isinstance(s, dict)]


def check_sam_no_wildcard_actions(template: dict[str, Any]) -> list[str]:
    """No IAM statement anywhere in the template grants an action with `*`, or uses NotAction."""
    problems = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "NotAction":
                    problems.append(f"{path}: NotAction grants everything it does not name")
                if key == "Action":
                    for action in as_list(value):
                        if isinstance(action, str) and "*" in action:
                            problems.append(f"{path}: wildcard action {action!r}")
                walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{path}[{i}]")

    for logical_id, resource in template.get("Resources", {}).items():
        walk(resource, logical_id)
    return problems


def check_sam_iam(manifest: dict[str, Any], template: dict[str, Any]) -> list[str]:
    """Each role: assumable by Lambda only; exactly the manifest's actions on the manifest's tables
    (and indexes), queues and streams, plus writing to its own log group."""
    problems = []
    resources = template.get("Resources", {})
    for key, function in manifest["functions"].items():
        logical_id = role_id(key)
        if logical_id not in resources:
            continue
        props = resources[logical_id].get("Properties", {})
        where = f"{logical_id} (function {key})"
        _compare(problems, where, "RoleName", props.get("RoleName"), deployed_name(key), "naming <prefix>-<key>")
        trust = _statements(props.get("AssumeRolePolicyDocument"))
        trusted = [
            (s.get("Effect"), as_list((s.get("Principal") or {}).get("Service")), as_list(s.get("Action")))
            for s in trust
        ]
        if trusted != [("Allow", ["lambda.amazonaws.com"], ["sts:AssumeRole"])]:
            problems.append(f"{where}: AssumeRolePolicyDocument must let only lambda.amazonaws.com assume the role, found {trusted}")
        for setting in ("ManagedPolicyArns", "PermissionsBoundary"):
            if props.get(setting):
                problems.append(f"{where}: {setting} is set; the role has only its inline policy")

        expected: set[tuple[str, str]] = set()
        for permission in function.get("permissions", []):
            if "table" in permission:
                table_arn = arn_of(table_id(permission["table"]))
                arns = [table_arn] + [f"{table_arn}/index/{index}" for index in permission.get("indexes", [])]
            elif "queue" in permission:
                arns = [arn_of(queue_id(permission["queue"]))]
            elif "endpoint" in permission:
                # Ref of an endpoint is its ARN, as SageMaker writes it (the name in lower case).
                arns = ["${" + endpoint_id(permission["endpoint"]) + "}"]
            else:
                arns = [arn_of(stream_id(permission["stream"]))]
            expected |= {(action, arn) for action in permission["actions"] for arn in arns}
        expected |= {(action, "${" + log_group_id(key) + ".Arn}") for action in LOG_ACTIONS}

        actual: set[tuple[str, str]] = set()
        for policy in as_list(props.get("Policies")):
            for statement in _statements(policy.get("PolicyDocument")):
                if statement.get("Effect") != "Allow":
                    problems.append(f"{where}: statement {statement.get('Sid')!r} has Effect {statement.get('Effect')!r}; only Allow statements are expected")
                    continue
                if "NotResource" in statement or "Condition" in statement:
                    problems.append(f"{where}: statement {statement.get('Sid')!r} uses NotResource or Condition, which the manifest does not express")
                for action in as_list(statement.get("Action")):
                    for resource in as_list(statement.get("Resource")):
                        actual.add((action, canonical(resource)))
        for action, resource in sorted(actual - expected):
            problems.append(f"{where}: grants {action} on {resource}, which manifest functions.{key}.permissions does not")
        for action, resource in sorted(expected - actual):
            problems.append(f"{where}: does not grant {action} on {resource}, which manifest functions.{key}.permissions asks for")
    return problems


def sam_http_events(template: dict[str, Any]) -> dict[str, list[tuple[str, str, dict[str, Any]]]]:
    """Route key -> [(function logical ID, event name, event properties)] of every HttpApi event."""
    routes: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for event_name, event in (resource.get("Properties", {}).get("Events") or {}).items():
            if event.get("Type") != "HttpApi":
                continue
            props = event.get("Properties", {})
            route = f"{str(props.get('Method', '')).upper()} {props.get('Path')}"
            routes.setdefault(route, []).append((logical_id, event_name, props))
    return routes


def check_sam_routes(manifest: dict[str, Any], template: dict[str, Any]) -> list[str]:
    problems = []
    api = manifest.get("http_api") or {}
    expected = {" ".join(parse_route(route["route"])): route["function"] for route in api.get("routes", [])}
    actual = sam_http_events(template)
    for route, function in expected.items():
        events = actual.get(route, [])
        if not events:
            problems.append(f"{function_id(function)}: no HttpApi event for manifest route {route!r}")
            continue
        for logical_id, event_name, props in events:
            where = f"{logical_id} event {event_name} ({route})"
            if logical_id != function_id(function):
                problems.append(f"{where}: the manifest routes {route!r} to function {function}, not {logical_id}")
            _compare(problems, where, "ApiId", props.get("ApiId"), ref(HTTP_API_ID), "http_api")
            _compare(problems, where, "PayloadFormatVersion", props.get("PayloadFormatVersion"), PAYLOAD_FORMAT_VERSION, "(payload format 2.0)")
            if "Auth" in props:
                problems.append(f"{where}: Auth is set; every route uses the API's default JWT authorizer")
        if len(events) > 1:
            problems.append(f"route {route!r}: {len(events)} HttpApi events, the manifest has one")
    for route, events in actual.items():
        if route not in expected:
            for logical_id, event_name, _ in events:
                problems.append(f"{logical_id} event {event_name}: route {route!r} is not in manifest http_api.routes")
    return problems


def check_sam_http_api(manifest: dict[str, Any], template: dict[str, Any]) -> list[str]:
    api = manifest.get("http_api")
    resources = template.get("Resources", {})
    if not api or HTTP_API_ID not in resources:
        return []
    problems = []
    parameters = template.get("Parameters", {})
    props = resources[HTTP_API_ID].get("Properties", {})
    where = f"{HTTP_API_ID} (http_api)"
    _compare(problems, where, "Name", props.get("Name"), deployed_name(HTTP_API_KEY), "naming <prefix>-http-api")
    for setting in ("DefinitionBody", "DefinitionUri", "RouteSettings"):
        if setting in props:
            problems.append(f"{where}: {setting} is set; routes and their settings come from the manifest")
    auth = props.get("Auth", {})
    default = auth.get("DefaultAuthorizer")
    authorizer = (auth.get("Authorizers") or {}).get(default)
    if authorizer is None:
        problems.append(f"{where}: Auth.DefaultAuthorizer {default!r} is not one of Auth.Authorizers; manifest http_api.authorizer wants every route behind it")
    else:
        kind = "JWT" if "JwtConfiguration" in authorizer else "Lambda"
        _compare(problems, where, "authorizer type", kind, api["authorizer"]["type"], "http_api.authorizer.type")
        _compare(
            problems, where, "authorizer IdentitySource", authorizer.get("IdentitySource"),
            api["authorizer"]["identity_source"], "http_api.authorizer.identity_source",
        )
        jwt = authorizer.get("JwtConfiguration", {})
        _compare(problems, where, "JwtConfiguration.issuer", jwt.get("issuer"), ref("JwtIssuer"), "(the JwtIssuer parameter)")
        _compare(problems, where, "JwtConfiguration.audience", jwt.get("audience"), ref("JwtAudience"), "(the JwtAudience parameter)")
    if parameters.get("JwtAudience", {}).get("Type") != "CommaDelimitedList":
        problems.append("Parameters.JwtAudience: Type must be CommaDelimitedList (one or more audiences)")
    if parameters.get("JwtIssuer", {}).get("Type") != "String":
        problems.append("Parameters.JwtIssuer: must be a String parameter")
    route_settings = props.get("DefaultRouteSettings", {})
    _compare(
        problems, where, "DefaultRouteSettings.ThrottlingBurstLimit", route_settings.get("ThrottlingBurstLimit"),
        api["throttle"]["burst_limit"], "http_api.throttle.burst_limit",
    )
    rate = route_settings.get("ThrottlingRateLimit")
    _compare(
        problems, where, "DefaultRouteSettings.ThrottlingRateLimit",
        float(rate) if isinstance(rate, (int, float)) else rate,
        float(api["throttle"]["rate_limit"]), "http_api.throttle.rate_limit",
    )
    access = props.get("AccessLogSettings", {})
    _compare(
        problems, where, "AccessLogSettings.DestinationArn", canonical(access.get("DestinationArn")),
        "${" + HTTP_API_LOG_GROUP_ID + ".Arn}", "(its own access log group)",
    )
    if not access.get("Format"):
        problems.append(f"{where}: AccessLogSettings.Format is empty")
    if HTTP_API_LOG_GROUP_ID in resources:
        group = resources[HTTP_API_LOG_GROUP_ID].get("Properties", {})
        where = f"{HTTP_API_LOG_GROUP_ID} (http_api)"
        _compare(
            problems, where, "LogGroupName", group.get("LogGroupName"),
            {"Fn::Sub": "/aws/apigateway/${AWS::StackName}-" + HTTP_API_KEY}, "naming /aws/apigateway/<prefix>-http-api",
        )
        _compare(
            problems, where, "RetentionInDays", group.get("RetentionInDays"),
            api["access_log_retention_days"], "http_api.access_log_retention_days",
        )
    return problems


def _unexpected_properties(problems: list[str], where: str, props: dict[str, Any], allowed: set[str]) -> None:
    for setting in sorted(set(props) - allowed):
        problems.append(f"{where}: {setting} is set; the manifest does not ask for it")


QUEUE_PROPERTIES = {
    "QueueName", "FifoQueue", "ContentBasedDeduplication", "VisibilityTimeout", "MessageRetentionPeriod",
    "SqsManagedSseEnabled", "RedrivePolicy", "RedriveAllowPolicy", "Tags",
}


def check_sam_queues(manifest: dict[str, Any], template: dict[str, Any]) -> list[str]:
    """Name (FIFO: `.fifo`), FIFO settings, visibility timeout, retention, SSE-SQS, the redrive
    policy to the manifest's dead-letter queue, and on a dead-letter queue a redrive-allow policy
    naming exactly the queues that use it."""
    problems = []
    resources = template.get("Resources", {})
    queues = manifest.get("queues", {})
    for key, queue in queues.items():
        logical_id = queue_id(key)
        if logical_id not in resources:
            continue  # reported by check_sam_accounted_for
        props = resources[logical_id].get("Properties", {})
        where = f"{logical_id} (queue {key})"
        source = f"queues.{key}"
        _compare(
            problems, where, "QueueName", props.get("QueueName"),
            {"Fn::Sub": "${AWS::StackName}-" + queue_name(key, queue)}, "naming <prefix>-<key>, .fifo when FIFO",
        )
        if queue["fifo"]:
            _compare(problems, where, "FifoQueue", props.get("FifoQueue"), True, f"{source}.fifo")
            _compare(
                problems, where, "ContentBasedDeduplication", props.get("ContentBasedDeduplication"), False,
                f"{source}.fifo (the function sets deduplication ids)",
            )
        else:
            for setting in ("FifoQueue", "ContentBasedDeduplication"):
                if setting in props:
                    problems.append(f"{where}: {setting} is set on a standard queue; manifest {source}.fifo is false")
        _compare(
            problems, where, "VisibilityTimeout", props.get("VisibilityTimeout"),
            queue["visibility_timeout_seconds"], f"{source}.visibility_timeout_seconds",
        )
        _compare(
            problems, where, "MessageRetentionPeriod", props.get("MessageRetentionPeriod"),
            queue["message_retention_seconds"], f"{source}.message_retention_seconds",
        )
        _compare(problems, where, "SqsManagedSseEnabled", props.get("SqsManagedSseEnabled"), True, "(SSE-SQS on every queue)")
        if "KmsMasterKeyId" in props:
            problems.append(f"{where}: KmsMasterKeyId is set; queues use SSE-SQS (EventBridge cannot use the aws/sqs key)")

        dead_letter = queue.get("dead_letter")
        redrive = json_value(props.get("RedrivePolicy"))
        if isinstance(redrive, dict):
            redrive = {**redrive, "deadLetterTargetArn": canonical(redrive.get("deadLetterTargetArn"))}
        expected_redrive = None
        if dead_letter:
            expected_redrive = {
                "deadLetterTargetArn": arn_of(queue_id(dead_letter["queue"])),
                "maxReceiveCount": dead_letter["max_receive_count"],
            }
        _compare(problems, where, "RedrivePolicy", redrive, expected_redrive, f"{source}.dead_letter")

        sources = dead_letter_sources(manifest, key)
        allow = json_value(props.get("RedriveAllowPolicy"))
        if isinstance(allow, dict):
            allow = {**allow, "sourceQueueArns": [canonical(arn) for arn in as_list(allow.get("sourceQueueArns"))]}
        expected_allow = None
        if sources:
            expected_allow = {
                "redrivePermission": "byQueue",
                "sourceQueueArns": [queue_arn_sub(name, queues[name]) for name in sources],
            }
        _compare(
            problems, where, "RedriveAllowPolicy", allow, expected_allow,
            f"dead_letter of {', '.join(f'queues.{name}' for name in sources) or 'no queue'}",
        )
        _unexpected_properties(problems, where, props, QUEUE_PROPERTIES)
    return problems


STREAM_PROPERTIES = {"Name", "StreamModeDetails", "ShardCount", "RetentionPeriodHours", "StreamEncryption", "Tags"}


def check_sam_streams(manifest: dict[str, Any], template: dict[str, Any]) -> list[str]:
    problems = []
    resources = template.get("Resources", {})
    for key, stream in manifest.get("streams", {}).items():
        logical_id = stream_id(key)
        if logical_id not in resources:
            continue
        props = resources[logical_id].get("Properties", {})
        where = f"{logical_id} (stream {key})"
        source = f"streams.{key}"
        _compare(problems, where, "Name", props.get("Name"), deployed_name(key), "naming <prefix>-<key>")
        _compare(
            problems, where, "StreamModeDetails", props.get("StreamModeDetails"), {"StreamMode": STREAM_MODE},
            f"{source}.shard_count (provisioned shards)",
        )
        _compare(problems, where, "ShardCount", props.get("ShardCount"), stream["shard_count"], f"{source}.shard_count")
        _compare(
            problems, where, "RetentionPeriodHours", props.get("RetentionPeriodHours"),
            stream["retention_hours"], f"{source}.retention_hours",
        )
        expected_encryption = {"EncryptionType": "KMS", "KeyId": STREAM_KMS_KEY} if stream["encryption"] else None
        _compare(
            problems, where, "StreamEncryption", props.get("StreamEncryption"), expected_encryption,
            f"{source}.encryption (the AWS-managed key {STREAM_KMS_KEY})",
        )
        _unexpected_properties(problems, where, props, STREAM_PROPERTIES)
    return problems


EVENT_BUS_PROPERTIES = {"Name", "Tags"}
RULE_PROPERTIES = {"Name", "EventBusName", "EventPattern", "State", "Targets", "Tags"}


def check_sam_event_buses(manifest: dict[str, Any], template: dict[str, Any]) -> list[str]:
    """Each bus; each rule on its bus with exactly the manifest pattern and one target, the
    manifest queue; and each target queue's policy: events.amazonaws.com may send to it only
    from those rules."""
    problems = []
    resources = template.get("Resources", {})
    queues = manifest.get("queues", {})
    for bus in manifest.get("event_buses", {}):
        logical_id = event_bus_id(bus)
        if logical_id in resources:
            props = resources[logical_id].get("Properties", {})
            where = f"{logical_id} (event bus {bus})"
            _compare(problems, where, "Name", props.get("Name"), deployed_name(bus), "naming <prefix>-<key>")
            _unexpected_properties(problems, where, props, EVENT_BUS_PROPERTIES)
    for rule, (bus, spec) in manifest_rules(manifest).items():
        logical_id = rule_id(rule)
        if logical_id not in resources:
            continue
        props = resources[logical_id].get("Properties", {})
        where = f"{logical_id} (rule {rule})"
        source = f"event_buses.{bus}.rules.{rule}"
        target = spec["target"]["queue"]
        _compare(problems, where, "Name", props.get("Name"), deployed_name(rule), "naming <prefix>-<key>")
        _compare(problems, where, "EventBusName", props.get("EventBusName"), ref(event_bus_id(bus)), f"(the bus {bus})")
        _compare(problems, where, "EventPattern", json_value(props.get("EventPattern")), spec["pattern"], f"{source}.pattern")
        _compare(problems, where, "State", props.get("State"), RULE_STATE, "(rules are enabled)")
        targets = [
            {name: canonical(value) if name == "Arn" else value for name, value in item.items()}
            for item in as_list(props.get("Targets")) if isinstance(item, dict)
        ]
        _compare(problems, where, "Targets", targets, [{"Id": target, "Arn": arn_of(queue_id(target))}], f"{source}.target")
        if queues.get(target, {}).get("fifo"):
            problems.append(f"{where}: targets FIFO queue {target}, which needs a message group id the manifest does not give")
        _unexpected_properties(problems, where, props, RULE_PROPERTIES)

    for queue, rules in rule_targets(manifest).items():
        logical_id = queue_policy_id(queue)
        if logical_id not in resources:
            continue
        props = resources[logical_id].get("Properties", {})
        where = f"{logical_id} (queue {queue})"
        _compare(problems, where, "Queues", props.get("Queues"), [ref(queue_id(queue))], f"(the queue rule {', '.join(rules)} targets)")
        allowed_sources = {arn_of(rule_id(rule)): rule for rule in rules}
        covered = set()
        for statement in _statements(json_value(props.get("PolicyDocument"))):
            sid = statement.get("Sid")
            if statement.get("Effect") != "Allow":
                problems.append(f"{where}: statement {sid!r} has Effect {statement.get('Effect')!r}; only Allow statements are expected")
                continue
            principal = statement.get("Principal")
            services = as_list(principal.get("Service")) if isinstance(principal, dict) else None
            if services != [EVENTS_PRINCIPAL] or set(principal) != {"Service"}:
                problems.append(f"{where}: statement {sid!r} Principal is {json.dumps(principal)}, must be only the service {EVENTS_PRINCIPAL}")
            for action in as_list(statement.get("Action")):
                if action not in EVENTS_QUEUE_ACTIONS:
                    problems.append(f"{where}: statement {sid!r} grants {action}; EventBridge needs only {', '.join(EVENTS_QUEUE_ACTIONS)}")
            if not as_list(statement.get("Action")):
                problems.append(f"{where}: statement {sid!r} grants no action; EventBridge needs {', '.join(EVENTS_QUEUE_ACTIONS)}")
            resources_granted = [canonical(resource) for resource in as_list(statement.get("Resource"))]
            if resources_granted != [arn_of(queue_id(queue))]:
                problems.append(f"{where}: statement {sid!r} Resource is {resources_granted}, must be [{arn_of(queue_id(queue))!r}]")
            if "NotAction" in statement or "NotResource" in statement or "NotPrincipal" in statement:
                problems.append(f"{where}: statement {sid!r} uses NotAction, NotResource or NotPrincipal")
            condition = statement.get("Condition")
            source_arns = None
            if isinstance(condition, dict) and set(condition) == {"ArnEquals"} and isinstance(condition["ArnEquals"], dict):
                if set(condition["ArnEquals"]) == {"aws:SourceArn"}:
                    source_arns = [canonical(arn) for arn in as_list(condition["ArnEquals"]["aws:SourceArn"])]
            if source_arns is None:
                problems.append(
                    f"{where}: statement {sid!r} Condition is {json.dumps(condition)}; it must be exactly "
                    f"ArnEquals aws:SourceArn of the rule, or any rule in any account could send"
                )
                continue
            for arn in source_arns:
                if arn in allowed_sources:
                    covered.add(allowed_sources[arn])
                else:
                    problems.append(f"{where}: statement {sid!r} lets {arn} send; the manifest has no rule of that ARN targeting queue {queue}")
        for rule in rules:
            if rule not in covered:
                problems.append(
                    f"{where}: no statement lets rule {rule} ({arn_of(rule_id(rule))}) send to the queue, "
                    f"with condition aws:SourceArn; manifest event_buses.*.rules.{rule}.target needs it"
                )
    return problems


EVENT_SOURCE_PROPERTIES = {
    "FunctionName", "EventSourceArn", "BatchSize", "MaximumBatchingWindowInSeconds", "FunctionResponseTypes",
    "ScalingConfig", "StartingPosition", "BisectBatchOnFunctionError", "MaximumRetryAttempts",
    "MaximumRecordAgeInSeconds", "DestinationConfig", "ParallelizationFactor", "Enabled", "Tags",
}
# Stream-only settings of a manifest event source -> the mapping's property; a source without the
# setting (every queue source) must leave the property unset.
STREAM_SOURCE_PROPERTIES = {
    "starting_position": "StartingPosition",
    "bisect_batch_on_function_error": "BisectBatchOnFunctionError",
    "maximum_retry_attempts": "MaximumRetryAttempts",
    "maximum_record_age_seconds": "MaximumRecordAgeInSeconds",
    "parallelization_factor": "ParallelizationFactor",
}


def check_sam_event_sources(manifest: dict[str, Any], template: dict[str, Any]) -> list[str]:
    """Each event source mapping: its function and queue or stream, batch size and window,
    partial batch responses; on a queue the maximum concurrency; on a stream the starting
    position, bisecting, retries, record age, on-failure destination and parallelization."""
    problems = []
    resources = template.get("Resources", {})
    for key, function in manifest["functions"].items():
        for i, spec in enumerate(function.get("event_sources", [])):
            kind, name = event_source_of(spec)
            logical_id = event_source_id(key, name)
            if logical_id not in resources:
                continue
            props = resources[logical_id].get("Properties", {})
            where = f"{logical_id} (function {key}, {kind} {name})"
            source = f"functions.{key}.event_sources[{i}]"
            function_ref = canonical(props.get("FunctionName"))
            if function_ref not in ("${" + function_id(key) + "}", arn_of(function_id(key))):
                problems.append(f"{where}: FunctionName is {json.dumps(props.get('FunctionName'))}, must be !Ref {function_id(key)}")
            source_id = queue_id(name) if kind == "queue" else stream_id(name)
            _compare(problems, where, "EventSourceArn", canonical(props.get("EventSourceArn")), arn_of(source_id), f"{source}.{kind}")
            _compare(problems, where, "BatchSize", props.get("BatchSize"), spec["batch_size"], f"{source}.batch_size")
            _compare(
                problems, where, "MaximumBatchingWindowInSeconds", props.get("MaximumBatchingWindowInSeconds"),
                spec["maximum_batching_window_seconds"], f"{source}.maximum_batching_window_seconds",
            )
            _compare(
                problems, where, "FunctionResponseTypes", props.get("FunctionResponseTypes") or None,
                [BATCH_ITEM_FAILURES] if spec["report_batch_item_failures"] else None, f"{source}.report_batch_item_failures",
            )
            concurrency = spec.get("maximum_concurrency")
            _compare(
                problems, where, "ScalingConfig", props.get("ScalingConfig"),
                {"MaximumConcurrency": concurrency} if concurrency is not None else None, f"{source}.maximum_concurrency",
            )
            for field, setting in STREAM_SOURCE_PROPERTIES.items():
                _compare(problems, where, setting, props.get(setting), spec.get(field), f"{source}.{field}")
            on_failure = spec.get("on_failure_queue")
            destination = json_value(props.get("DestinationConfig"))
            if isinstance(destination, dict) and isinstance(destination.get("OnFailure"), dict):
                on_failure_config = destination["OnFailure"]
                destination = {**destination, "OnFailure": {**on_failure_config, "Destination": canonical(on_failure_config.get("Destination"))}}
            _compare(
                problems, where, "DestinationConfig", destination,
                {"OnFailure": {"Destination": arn_of(queue_id(on_failure))}} if on_failure is not None else None,
                f"{source}.on_failure_queue",
            )
            if props.get("Enabled", True) is not True:
                problems.append(f"{where}: Enabled is {json.dumps(props.get('Enabled'))}; a manifest event source is enabled")
            _unexpected_properties(problems, where, props, EVENT_SOURCE_PROPERTIES)
    return problems


MODEL_PROPERTIES = {"ExecutionRoleArn", "PrimaryContainer", "EnableNetworkIsolation", "Tags"}
ENDPOINT_CONFIG_PROPERTIES = {"ProductionVariants", "Tags"}
ENDPOINT_PROPERTIES = {"EndpointName", "EndpointConfigName", "Tags"}


def sam_image_parts(parameter: str) -> dict[str, Any]:
    """Account, region and repository of the image URI in `parameter`, taken apart with
    intrinsic functions: <account>.dkr.ecr.<region>.amazonaws.com/<repository>(:<tag>|@<digest>)."""
    host = {"Fn::Select": [0, {"Fn::Split": ["/", ref(parameter)]}]}
    without_tag = {"Fn::Select": [0, {"Fn::Split": ["@", {"Fn::Select": [0, {"Fn::Split": [":", ref(parameter)]}]}]}]}
    return {
        "Account": {"Fn::Select": [0, {"Fn::Split": [".", host]}]},
        "Region": {"Fn::Select": [3, {"Fn::Split": [".", host]}]},
        "Repository": {"Fn::Select": [1, {"Fn::Split": [".amazonaws.com/", without_tag]}]},
    }


def sam_image_repository_arn(parameter: str) -> str:
    """The ECR repository ARN of the image in `parameter`, in canonical() spelling."""
    return canonical({
        "Fn::Sub": ["arn:${AWS::Partition}:ecr:${Region}:${Account}:repository/${Repository}", sam_image_parts(parameter)],
    })


def sam_endpoint_log_group_arns(key: str) -> list[str]:
    """The endpoint's log group (SageMaker creates it) and its streams."""
    group = (
        "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
        + ENDPOINT_LOG_GROUP_PREFIX + "${AWS::StackName}-" + key
    )
    return [group, group + ":*"]


def sam_model_role_grants(key: str, endpoint: dict[str, Any]) -> set[tuple[str, str, str]]:
    """(action, resource, condition) of everything the SageMaker execution role may do."""
    grants = {(ECR_TOKEN_ACTION, "*", "")}
    grants |= {(action, sam_image_repository_arn(endpoint["image_parameter"]), "") for action in ECR_PULL_ACTIONS}
    grants |= {(action, arn, "") for action in ENDPOINT_LOG_ACTIONS for arn in sam_endpoint_log_group_arns(key)}
    grants.add((METRICS_ACTION, "*", json.dumps(METRICS_CONDITION, sort_keys=True)))
    return grants


def check_sam_model_endpoints(manifest: dict[str, Any], template: dict[str, Any]) -> list[str]:
    """Each model endpoint: its image parameter (no default, an ECR URI with tag or digest); the
    execution role (assumed by SageMaker only, exactly the grants of sam_model_role_grants); the
    model (the parameter's image, the role, network isolation from the manifest, a generated
    name); the endpoint configuration (one serverless variant AllTraffic with the manifest's
    memory and concurrency, nothing else, a generated name); the endpoint <prefix>-<key> on it."""
    problems = []
    resources = template.get("Resources", {})
    parameters = template.get("Parameters", {})
    for key, endpoint in manifest.get("model_endpoints", {}).items():
        source = f"model_endpoints.{key}"
        parameter_name = endpoint["image_parameter"]
        parameter = parameters.get(parameter_name)
        where = f"Parameters.{parameter_name} (image of model endpoint {key})"
        if parameter is None:
            problems.append(f"{where}: missing; manifest {source}.image_parameter names it")
        else:
            _compare(problems, where, "Type", parameter.get("Type"), "String", "(an image URI)")
            if "Default" in parameter:
                problems.append(f"{where}: has a Default; a stack must not come up with an image nobody chose")
            if not str(parameter.get("Description") or "").strip():
                problems.append(f"{where}: no Description; the deployer needs to know what to pass")
            _compare(
                problems, where, "AllowedPattern", parameter.get("AllowedPattern"), ECR_IMAGE_PATTERN,
                "(an ECR URI with tag or digest)",
            )

        role = endpoint_role_id(key)
        if role in resources:
            props = resources[role].get("Properties", {})
            where = f"{role} (model endpoint {key})"
            _compare(problems, where, "RoleName", props.get("RoleName"), endpoint_role_name(key), "naming <prefix>-<key>-sagemaker")
            trusted = [
                (s.get("Effect"), as_list((s.get("Principal") or {}).get("Service")), as_list(s.get("Action")))
                for s in _statements(props.get("AssumeRolePolicyDocument"))
            ]
            if trusted != [("Allow", [SAGEMAKER_PRINCIPAL], ["sts:AssumeRole"])]:
                problems.append(f"{where}: AssumeRolePolicyDocument must let only {SAGEMAKER_PRINCIPAL} assume the role, found {trusted}")
            for setting in ("ManagedPolicyArns", "PermissionsBoundary"):
                if props.get(setting):
                    problems.append(f"{where}: {setting} is set; the role has only its inline policy")
            statements = [s for policy in as_list(props.get("Policies")) for s in _statements(policy.get("PolicyDocument"))]
            actual, found = allow_grants(where, statements, canonical)
            problems += found
            expected = sam_model_role_grants(key, endpoint)
            for action, resource, condition in sorted(actual - expected):
                problems.append(
                    f"{where}: grants {action} on {resource}{' if ' + condition if condition else ''}, which SageMaker "
                    f"does not need for model endpoint {key}"
                )
            for action, resource, condition in sorted(expected - actual):
                problems.append(
                    f"{where}: does not grant {action} on {resource}{' if ' + condition if condition else ''}, which "
                    f"SageMaker needs for model endpoint {key} (and no more)"
                )

        model = endpoint_model_id(key)
        if model in resources:
            props = resources[model].get("Properties", {})
            where = f"{model} (model endpoint {key})"
            _compare(problems, where, "ExecutionRoleArn", canonical(props.get("ExecutionRoleArn")), arn_of(role), "(its own role)")
            _compare(
                problems, where, "PrimaryContainer", props.get("PrimaryContainer"), {"Image": ref(parameter_name)},
                f"{source}.image_parameter",
            )
            _compare(
                problems, where, "EnableNetworkIsolation", props.get("EnableNetworkIsolation", False),
                endpoint["network_isolation"], f"{source}.network_isolation",
            )
            if "ModelName" in props:
                problems.append(f"{where}: ModelName is set; every property forces a replacement, which a named model cannot get")
            _unexpected_properties(problems, where, props, MODEL_PROPERTIES)

        config = endpoint_config_id(key)
        if config in resources:
            props = resources[config].get("Properties", {})
            where = f"{config} (model endpoint {key})"
            variants = [
                {name: canonical(value) if name == "ModelName" else value for name, value in variant.items()}
                for variant in as_list(props.get("ProductionVariants")) if isinstance(variant, dict)
            ]
            expected_variants = [{
                "VariantName": VARIANT_NAME,
                "ModelName": canonical(get_att(model, "ModelName")),
                "ServerlessConfig": {
                    "MemorySizeInMB": endpoint["serverless"]["memory_size_mb"],
                    "MaxConcurrency": endpoint["serverless"]["max_concurrency"],
                },
            }]
            _compare(problems, where, "ProductionVariants", variants, expected_variants, f"{source}.serverless")
            if "EndpointConfigName" in props:
                problems.append(
                    f"{where}: EndpointConfigName is set; every property forces a replacement, which a named configuration cannot get"
                )
            _unexpected_properties(problems, where, props, ENDPOINT_CONFIG_PROPERTIES)

        endpoint_logical_id = endpoint_id(key)
        if endpoint_logical_id in resources:
            props = resources[endpoint_logical_id].get("Properties", {})
            where = f"{endpoint_logical_id} (model endpoint {key})"
            _compare(problems, where, "EndpointName", props.get("EndpointName"), deployed_name(key), "naming <prefix>-<key>")
            _compare(
                problems, where, "EndpointConfigName", canonical(props.get("EndpointConfigName")),
                canonical(get_att(config, "EndpointConfigName")), "(its own endpoint configuration)",
            )
            _unexpected_properties(problems, where, props, ENDPOINT_PROPERTIES)
    return problems


TOPIC_PROPERTIES = {"TopicName", "Tags"}
SUBSCRIPTION_PROPERTIES = {"TopicArn", "Protocol", "Endpoint"}
ALARM_PROPERTIES = {
    "AlarmName", "AlarmDescription", "Namespace", "MetricName", "Dimensions", "Statistic", "ExtendedStatistic",
    "Period", "EvaluationPeriods", "DatapointsToAlarm", "ComparisonOperator", "Threshold", "TreatMissingData",
    "AlarmActions", "OKActions", "Tags",
}
# Alarm properties that take a manifest setting as it is.
ALARM_PROPERTY_SETTINGS = {
    "AlarmDescription": "description", "MetricName": "metric", "Period": "period_seconds",
    "EvaluationPeriods": "evaluation_periods", "DatapointsToAlarm": "datapoints_to_alarm",
    "ComparisonOperator": "comparison", "TreatMissingData": "treat_missing_data",
}
DASHBOARD_PROPERTIES = {"DashboardName", "DashboardBody", "Tags"}
SAM_DASHBOARD_VARIABLES = {"prefix": ref("AWS::StackName"), "region": ref("AWS::Region"), "api_id": ref(HTTP_API_ID)}
BUDGET_PROPERTIES = {"Budget", "NotificationsWithSubscribers", "ResourceTags"}
BUDGET_SETTINGS = {"BudgetName", "BudgetType", "TimeUnit", "BudgetLimit", "CostFilters"}


def topic_condition(account: str, source_arn: str) -> str:
    """The condition of a grant to publish to the alarm topic: from this account, from an alarm
    (or budget) of it."""
    return json.dumps({"ArnLike": {"aws:SourceArn": source_arn}, "StringEquals": {"aws:SourceAccount": account}}, sort_keys=True)


def topic_grants(topic: str, partition: str, region: str, account: str) -> set[tuple[str, str, str, str]]:
    """(service, action, resource, condition) of everything the alarm topic's policy allows, in a
    template's spelling of the topic's ARN, the partition, the region and the account."""
    return {
        (
            ALARMS_PRINCIPAL, SNS_PUBLISH_ACTION, topic,
            topic_condition(account, f"arn:{partition}:cloudwatch:{region}:{account}:alarm:*"),
        ),
        (BUDGETS_PRINCIPAL, SNS_PUBLISH_ACTION, topic, topic_condition(account, f"arn:{partition}:budgets::{account}:*")),
    }


def allow_grants(where: str, statements: list[dict[str, Any]], spell: Any) -> tuple[set[tuple[str, str, str]], list[str]]:
    """(action, resource, condition) of every statement of a role's policies, with `spell`
    writing resources one way; a statement that is not an Allow of Action on Resource is a
    problem."""
    grants: set[tuple[str, str, str]] = set()
    problems = []
    for statement in statements:
        if statement.get("Effect") != "Allow" or "NotAction" in statement or "NotResource" in statement:
            problems.append(f"{where}: statement {statement.get('Sid')!r} must be an Allow of Action on Resource")
            continue
        condition = json.dumps(statement["Condition"], sort_keys=True) if "Condition" in statement else ""
        for action in as_list(statement.get("Action")):
            for resource in as_list(statement.get("Resource")):
                grants.add((action, spell(resource), condition))
    return grants, problems


def service_grants(where: str, document: Any, spell: Any) -> tuple[set[tuple[str, str, str, str]], list[str]]:
    """(service, action, resource, condition) of every statement of a resource policy, with
    `spell` writing references one way; a statement that is not an Allow to service principals
    is a problem."""
    grants: set[tuple[str, str, str, str]] = set()
    problems = []
    for statement in _statements(document):
        principal = statement.get("Principal")
        services = as_list(principal.get("Service")) if isinstance(principal, dict) and set(principal) == {"Service"} else None
        condition = statement.get("Condition") or {}
        if (
            statement.get("Effect") != "Allow" or services is None or not isinstance(condition, dict)
            or any(key in statement for key in ("NotAction", "NotResource", "NotPrincipal"))
        ):
            problems.append(f"{where}: statement {statement.get('Sid')!r} must be an Allow of Action on Resource to service principals")
            continue
        spelled = json.dumps(
            {operator: {key: spell(value) for key, value in (values or {}).items()} for operator, values in condition.items()},
            sort_keys=True,
        )
        for service in services:
            for action in as_list(statement.get("Action")):
                for resource in as_list(statement.get("Resource")):
                    grants.add((service, action, spell(resource), spelled))
    return grants, problems


def _compare_topic_grants(problems: list[str], where: str, actual: set[tuple[str, ...]], expected: set[tuple[str, ...]]) -> None:
    for service, action, resource, condition in sorted(actual - expected):
        problems.append(f"{where}: lets {service} {action} on {resource} if {condition}, which the alarms and the budget do not need")
    for service, action, resource, condition in sorted(expected - actual):
        problems.append(f"{where}: does not let {service} {action} on {resource} if {condition} (and no more), which they need")


def _check_sam_optional_parameter(template: dict[str, Any], parameter: str, kind: str, unset: Any, source: str) -> list[str]:
    """A deploy-time input that may be left out: its parameter, of `kind`, defaulting to `unset`
    (nothing deployed for it), and the condition Has<parameter> that it was given (compared as
    text: Ref of a parameter is its text, a Number's too)."""
    problems = []
    spec = template.get("Parameters", {}).get(parameter)
    where = f"Parameters.{parameter}"
    if spec is None:
        problems.append(f"{where}: missing; manifest {source} names it")
    else:
        _compare(problems, where, "Type", spec.get("Type"), kind, source)
        if "Default" not in spec or str(spec["Default"]) != str(unset):
            problems.append(f"{where}: Default is {json.dumps(spec.get('Default'))}, must be {json.dumps(unset)} (left out: nothing deployed for it)")
        if not str(spec.get("Description") or "").strip():
            problems.append(f"{where}: no Description; the deployer needs to know what to pass")
    name = condition_id(parameter)
    actual = (template.get("Conditions") or {}).get(name)
    expected = {"Fn::Not": [{"Fn::Equals": [ref(parameter), str(unset)]}]}
    if actual != expected:
        problems.append(f"Conditions.{name}: is {json.dumps(actual)}, must be {json.dumps(expected)} (whether {parameter} was given)")
    return problems


def check_sam_alarm_topic(manifest: dict[str, Any], template: dict[str, Any]) -> list[str]:
    """The alarm topic <prefix>-<key>; its policy (only this account's CloudWatch alarms and
    budgets may publish); the email parameter and, only when it is given, its subscription."""
    topic = monitoring_of(manifest).get("alarm_topic")
    if not topic:
        return []
    problems = []
    resources = template.get("Resources", {})
    key = topic["key"]
    logical_id = topic_id(key)
    if logical_id in resources:
        props = resources[logical_id].get("Properties", {})
        where = f"{logical_id} (alarm topic {key})"
        _compare(problems, where, "TopicName", props.get("TopicName"), deployed_name(key), "naming <prefix>-<key>")
        _unexpected_properties(problems, where, props, TOPIC_PROPERTIES)
    policy_id = topic_policy_id(key)
    if policy_id in resources:
        props = resources[policy_id].get("Properties", {})
        where = f"{policy_id} (alarm topic {key})"
        _compare(
            problems, where, "Topics", [canonical(topic_ref) for topic_ref in as_list(props.get("Topics"))],
            ["${" + logical_id + "}"], "(its alarm topic)",
        )
        grants, found = service_grants(where, json_value(props.get("PolicyDocument")), canonical)
        problems += found
        expected = topic_grants("${" + logical_id + "}", "${AWS::Partition}", "${AWS::Region}", "${AWS::AccountId}")
        _compare_topic_grants(problems, where, grants, expected)
    parameter = topic["email_parameter"]
    problems += _check_sam_optional_parameter(template, parameter, "String", "", "monitoring.alarm_topic.email_parameter")
    subscription = email_subscription_id(key)
    if subscription in resources:
        resource = resources[subscription]
        props = resource.get("Properties", {})
        where = f"{subscription} (alarm topic {key})"
        _compare(problems, where, "Condition", resource.get("Condition"), condition_id(parameter), f"(only when {parameter} is given)")
        _compare(problems, where, "TopicArn", canonical(props.get("TopicArn")), "${" + logical_id + "}", "(its alarm topic)")
        _compare(problems, where, "Protocol", props.get("Protocol"), EMAIL_PROTOCOL, "monitoring.alarm_topic.email_parameter")
        _compare(problems, where, "Endpoint", props.get("Endpoint"), ref(parameter), "monitoring.alarm_topic.email_parameter")
        _unexpected_properties(problems, where, props, SUBSCRIPTION_PROPERTIES)
    return problems


def sam_alarm_dimensions(kind: str, key: str) -> list[dict[str, str]]:
    """The dimensions of an alarm on target `kind` `key`, in canonical() spelling: Ref of a
    stream, a function or the HTTP API gives its name or id; a queue's and an endpoint's names
    are attributes (Ref gives a URL, an ARN)."""
    if kind == "queue":
        value = canonical(get_att(queue_id(key), "QueueName"))
    elif kind == "stream":
        value = "${" + stream_id(key) + "}"
    elif kind == "endpoint":
        value = canonical(get_att(endpoint_id(key), "EndpointName"))
    elif kind == "function":
        value = "${" + function_id(key) + "}"
    else:
        value = "${" + HTTP_API_ID + "}"
    dimensions = [{"Name": TARGET_DIMENSIONS.get(kind), "Value": value}]
    if kind == "endpoint":
        dimensions.append({"Name": "VariantName", "Value": VARIANT_NAME})
    return dimensions


def _number(value: Any) -> Any:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


def check_sam_alarms(manifest: dict[str, Any], template: dict[str, Any]) -> list[str]:
    """Each alarm: its name, what it measures (namespace and dimensions from its target, metric,
    statistic or percentile), when it fires (period, periods, datapoints, comparison, threshold,
    missing data), and that it notifies the alarm topic when it fires and when it clears."""
    problems = []
    resources = template.get("Resources", {})
    topic = monitoring_of(manifest).get("alarm_topic")
    actions = ["${" + topic_id(topic["key"]) + "}"] if topic else []
    for name, (spec, target, source) in manifest_alarms(manifest).items():
        logical_id = alarm_id(name)
        if logical_id not in resources:
            continue
        props = resources[logical_id].get("Properties", {})
        where = f"{logical_id} (alarm {name})"
        kind, key = alarm_target(target)
        target_source = f"{source}.target" if "target" in spec else f"{source}, for function {key}"
        _compare(problems, where, "AlarmName", props.get("AlarmName"), deployed_name(name), "naming <prefix>-<alarm>")
        _compare(problems, where, "Namespace", props.get("Namespace"), ALARM_NAMESPACES.get(kind), target_source)
        dimensions = [
            {"Name": dimension.get("Name"), "Value": canonical(dimension.get("Value"))}
            for dimension in as_list(props.get("Dimensions")) if isinstance(dimension, dict)
        ]
        _compare(problems, where, "Dimensions", dimensions, sam_alarm_dimensions(kind, key), target_source)
        statistic = spec["statistic"]
        standard = statistic in STANDARD_STATISTICS
        _compare(problems, where, "Statistic", props.get("Statistic"), statistic if standard else None, f"{source}.statistic")
        _compare(
            problems, where, "ExtendedStatistic", props.get("ExtendedStatistic"), None if standard else statistic,
            f"{source}.statistic",
        )
        for setting, field in ALARM_PROPERTY_SETTINGS.items():
            _compare(problems, where, setting, props.get(setting), spec[field], f"{source}.{field}")
        _compare(problems, where, "Threshold", _number(props.get("Threshold")), _number(spec["threshold"]), f"{source}.threshold")
        for setting in ("AlarmActions", "OKActions"):
            _compare(
                problems, where, setting, [canonical(action) for action in as_list(props.get(setting))], actions,
                "(the alarm topic, when it fires and when it clears)",
            )
        _unexpected_properties(problems, where, props, ALARM_PROPERTIES)
    return problems


def check_sam_dashboard(manifest: dict[str, Any], template: dict[str, Any]) -> list[str]:
    """The dashboard <prefix>-<key>: its body is !Sub of the text of the manifest's body file
    (the same JSON) with exactly the variables prefix, region and api_id."""
    dashboard = monitoring_of(manifest).get("dashboard")
    resources = template.get("Resources", {})
    if not dashboard or dashboard_id(dashboard["key"]) not in resources:
        return []
    problems = []
    logical_id = dashboard_id(dashboard["key"])
    props = resources[logical_id].get("Properties", {})
    where = f"{logical_id} (dashboard {dashboard['key']})"
    file = f"infra/{dashboard['body']}"
    _compare(problems, where, "DashboardName", props.get("DashboardName"), deployed_name(dashboard["key"]), "naming <prefix>-<key>")
    body = props.get("DashboardBody")
    sub = body.get("Fn::Sub") if isinstance(body, dict) and len(body) == 1 else None
    if not (isinstance(sub, list) and len(sub) == 2 and isinstance(sub[0], str)):
        problems.append(f"{where}: DashboardBody must be !Sub [<the text of {file}>, <its variables>]")
    else:
        text, variables = sub
        try:
            same = json.loads(text) == json.loads(dashboard_path(manifest).read_text())
        except ValueError:
            same = False
        if not same:
            problems.append(f"{where}: DashboardBody's text is not the JSON of {file} (monitoring.dashboard.body); paste the file in")
        _compare(problems, where, "DashboardBody variables", variables, SAM_DASHBOARD_VARIABLES, f"(the variables of {file})")
    _unexpected_properties(problems, where, props, DASHBOARD_PROPERTIES)
    return problems


def check_sam_budget(manifest: dict[str, Any], template: dict[str, Any]) -> list[str]:
    """The amount parameter (a Number, 0: no budget); the budget only when it is given: a cost
    budget <prefix>-<time unit> of that amount in USD on what carries the filter tag with this
    stack's value, notifying the alarm topic at each manifest threshold, after the topic lets
    Budgets publish."""
    monitoring = monitoring_of(manifest)
    budget = monitoring.get("budget")
    if not budget:
        return []
    source = "monitoring.budget"
    parameter = budget["amount_parameter"]
    problems = _check_sam_optional_parameter(template, parameter, "Number", 0, f"{source}.amount_parameter")
    resources = template.get("Resources", {})
    logical_id = budget_id(budget)
    if logical_id not in resources:
        return problems
    resource = resources[logical_id]
    props = resource.get("Properties", {})
    where = f"{logical_id} (budget)"
    topic = monitoring.get("alarm_topic") or {}
    _compare(problems, where, "Condition", resource.get("Condition"), condition_id(parameter), f"(only when {parameter} is given)")
    _compare(
        problems, where, "DependsOn", as_list(resource.get("DependsOn")), [topic_policy_id(topic.get("key", ""))],
        "(Budgets must be allowed to publish to the topic first)",
    )
    spec = props.get("Budget") or {}
    tag = budget["filter_tag"]
    _compare(problems, where, "Budget.BudgetName", spec.get("BudgetName"), deployed_name(budget_key(budget)), "naming <prefix>-<time unit>")
    _compare(problems, where, "Budget.BudgetType", spec.get("BudgetType"), BUDGET_TYPE, "(a cost budget)")
    _compare(problems, where, "Budget.TimeUnit", spec.get("TimeUnit"), budget["time_unit"], f"{source}.time_unit")
    _compare(
        problems, where, "Budget.BudgetLimit", spec.get("BudgetLimit"), {"Amount": ref(parameter), "Unit": BUDGET_UNIT},
        f"{source}.amount_parameter",
    )
    _compare(
        problems, where, "Budget.CostFilters", json_value(spec.get("CostFilters")),
        {BUDGET_COST_FILTER: [{"Fn::Join": ["", [f"user:{tag}$", ref(pascal(tag))]]}]},
        f"{source}.filter_tag (user:<tag>$<the value of its parameter>)",
    )
    _unexpected_properties(problems, f"{where} Budget", spec, BUDGET_SETTINGS)
    notifications = [
        {
            "Notification": entry.get("Notification"),
            "Subscribers": [
                {name: canonical(value) if name == "Address" else value for name, value in subscriber.items()}
                for subscriber in as_list(entry.get("Subscribers")) if isinstance(subscriber, dict)
            ],
        }
        for entry in as_list(props.get("NotificationsWithSubscribers")) if isinstance(entry, dict)
    ]
    expected = [
        {
            "Notification": {
                "NotificationType": notification["type"], "ComparisonOperator": BUDGET_COMPARISON,
                "Threshold": notification["threshold_percent"], "ThresholdType": BUDGET_THRESHOLD_TYPE,
            },
            "Subscribers": [{"SubscriptionType": "SNS", "Address": "${" + topic_id(topic.get("key", "")) + "}"}],
        }
        for notification in budget["notifications"]
    ]
    _compare(problems, where, "NotificationsWithSubscribers", notifications, expected, f"{source}.notifications")
    _unexpected_properties(problems, where, props, BUDGET_PROPERTIES)
    return problems


def _tag_values(tags: Any) -> dict[str, Any]:
    if isinstance(tags, dict):
        return tags
    return {tag.get("Key"): tag.get("Value") for tag in as_list(tags) if isinstance(tag, dict)}


def check_sam_tags(manifest: dict[str, Any], template: dict[str, Any]) -> list[str]:
    """Every resource whose type takes tags (cfn-lint's resource schemas say which property)
    carries every cost-allocation tag, valued by its parameter."""
    problems = []
    parameters = template.get("Parameters", {})
    expected = {key: ref(pascal(key)) for key in manifest["cost_allocation_tags"]}
    for key in manifest["cost_allocation_tags"]:
        parameter = parameters.get(pascal(key))
        if parameter is None:
            problems.append(f"Parameters.{pascal(key)}: missing; it is the value of cost-allocation tag {key}")
        elif parameter.get("Type") != "String" or int(parameter.get("MinLength", 0)) < 1:
            problems.append(f"Parameters.{pascal(key)}: must be a String with MinLength 1 (the value of tag {key})")
    for logical_id, resource in template.get("Resources", {}).items():
        resource_type = resource.get("Type")
        try:
            tagging = cfn_tag_property(resource_type)
        except LookupError:
            problems.append(f"{logical_id}: type {resource_type} is not in cfn-lint's resource schemas; cannot tell whether it takes tags")
            continue
        if tagging is None:
            continue
        name, shape = tagging
        tags = resource.get("Properties", {}).get(name)
        if tags is not None and (shape == "map") != isinstance(tags, dict):
            problems.append(f"{logical_id}: {name} must be a {'map' if shape == 'map' else 'Key/Value list'} on {resource_type}")
            continue
        actual = _tag_values(tags)
        for key, value in expected.items():
            if key not in actual:
                problems.append(f"{logical_id}: cost-allocation tag {key} is missing ({resource_type} takes {name})")
            elif actual[key] != value:
                problems.append(f"{logical_id}: tag {key} is {json.dumps(actual[key])}, must be {json.dumps(value)}")
    return problems


def check_sam_outputs(manifest: dict[str, Any], template: dict[str, Any]) -> list[str]:
    problems = []
    outputs = template.get("Outputs", {})
    expected = {f"{pascal(key)}TableName": ref(table_id(key)) for key in manifest["tables"]}
    expected |= {f"{pascal(key)}FunctionName": ref(function_id(key)) for key in manifest["functions"]}
    expected |= {f"{pascal(key)}QueueUrl": ref(queue_id(key)) for key in manifest.get("queues", {})}
    expected |= {f"{pascal(key)}StreamName": ref(stream_id(key)) for key in manifest.get("streams", {})}
    expected |= {f"{pascal(key)}EventBusName": ref(event_bus_id(key)) for key in manifest.get("event_buses", {})}
    monitoring = monitoring_of(manifest)
    if monitoring.get("alarm_topic"):
        expected[f"{topic_id(monitoring['alarm_topic']['key'])}Arn"] = ref(topic_id(monitoring["alarm_topic"]["key"]))
    if monitoring.get("dashboard"):
        expected[f"{dashboard_id(monitoring['dashboard']['key'])}Name"] = ref(dashboard_id(monitoring["dashboard"]["key"]))
    for name, value in expected.items():
        _compare(problems, f"Outputs.{name}", "Value", outputs.get(name, {}).get("Value"), value, "(deployed name)")
    for key in manifest.get("model_endpoints", {}):
        name = f"{pascal(key)}EndpointName"
        value = get_att(endpoint_id(key), "EndpointName")
        actual = outputs.get(name, {}).get("Value")
        if canonical(actual) != canonical(value):
            _compare(problems, f"Outputs.{name}", "Value", actual, value, "(deployed name)")
    if manifest.get("http_api") and HTTP_API_ID not in canonical(outputs.get("ApiUrl", {}).get("Value")):
        problems.append("Outputs.ApiUrl: missing, or not the URL of HttpApi")
    return problems


def check_sam(manifest: dict[str, Any], template: dict[str, Any]) -> list[str]:
    return (
        check_sam_accounted_for(manifest, template)
        + check_sam_tables(manifest, template)
        + check_sam_queues(manifest, template)
        + check_sam_streams(manifest, template)
        + check_sam_event_buses(manifest, template)
        + check_sam_model_endpoints(manifest, template)
        + check_sam_functions(manifest, template)
        + check_sam_event_sources(manifest, template)
        + check_sam_iam(manifest, template)
        + check_sam_no_wildcard_actions(template)
        + check_sam_routes(manifest, template)
        + check_sam_http_api(manifest, template)
        + check_sam_alarm_topic(manifest, template)
        + check_sam_alarms(manifest, template)
        + check_sam_dashboard(manifest, template)
        + check_sam_budget(manifest, template)
        + check_sam_tags(manifest, template)
        + check_sam_outputs(manifest, template)
    )


def check_sam_translated(manifest: dict[str, Any], template: dict[str, Any]) -> list[str]:
    """The CloudFormation SAM generates: it translates, every resource whose type takes tags
    (cfn-lint's resource schemas) carries them, no role is generated, and every manifest route is
    behind the JWT authorizer."""
    try:
        translated = translate_sam(template)
    except Exception as error:  # the translator's errors name the resource
        return [f"SAM transform fails: {error}"]
    problems = []
    expected_roles = {role_id(key) for key in manifest["functions"]}
    expected_roles |= {endpoint_role_id(key) for key in manifest.get("model_endpoints", {})}
    tag_keys = set(manifest["cost_allocation_tags"])
    for logical_id, resource in translated["Resources"].items():
        resource_type = resource["Type"]
        props = resource.get("Properties", {})
        if resource_type == "AWS::IAM::Role" and logical_id not in expected_roles:
            problems.append(f"{logical_id}: SAM generated a role; every function must use its manifest role")
        try:
            tagging = cfn_tag_property(resource_type)
        except LookupError:
            problems.append(f"{logical_id}: SAM generated a {resource_type}, which cfn-lint's resource schemas do not have")
            continue
        if tagging is None:
            continue
        if resource_type == "AWS::ApiGatewayV2::Api" and "Body" in props:
            keys = {tag.get("name") for tag in props["Body"].get("tags", [])}
        else:
            keys = set(_tag_values(props.get(tagging[0])))
        for key in sorted(tag_keys - keys):
            problems.append(f"{logical_id} ({resource_type}, generated by SAM): cost-allocation tag {key} is missing")
    api = translated["Resources"].get(HTTP_API_ID, {}).get("Properties", {}).get("Body", {})
    default_authorizer = (
        template.get("Resources", {}).get(HTTP_API_ID, {}).get("Properties", {}).get("Auth", {}).get("DefaultAuthorizer")
    )
    for route in (manifest.get("http_api") or {}).get("routes", []):
        method, path = parse_route(route["route"])
        operation_key = "x-amazon-apigateway-any-method" if method == "ANY" else method.lower()
        operation = api.get("paths", {}).get(path, {}).get(operation_key)
        if operation is None:
            problems.append(f"{HTTP_API_ID} (generated): route {route['route']!r} is missing")
            continue
        security = [name for requirement in operation.get("security", []) for name in requirement]
        if security != [default_authorizer]:
            problems.append(f"{HTTP_API_ID} (generated): route {route['route']!r} is authorized by {security}, not the JWT authorizer")
        integration = operation.get("x-amazon-apigateway-integration", {})
        if function_id(route["function"]) + ".Arn" not in canonical(integration.get("uri")):
            problems.append(f"{HTTP_API_ID} (generated): route {route['route']!r} does not invoke {function_id(route['function'])}")
    return problems


# --------------------------------------------------------------------------- the dashboard body


def emf_metrics_source() -> str:
    return SHARED_METRICS_PATH.read_text()


def emf_namespace() -> str:
    """The namespace every function's EMF metrics are in (shared::metrics::NAMESPACE)."""
    match = re.search(r'const NAMESPACE: &str = "([^"]+)";', emf_metrics_source())
    return match.group(1) if match else ""


def emf_sources(function: str) -> str:
    """The text of a function's crate and of shared/src/metrics.rs, where its metric names are,
    and, for a consumer of the keyed-state core (a crate that names `StreamCore`), the core's
    report, which records the metrics every such consumer shares; without their tests (from
    `#[cfg(test)]` on)."""
    paths = sorted((FUNCTIONS_DIR / function / "src").rglob("*.rs")) + [SHARED_METRICS_PATH]
    own = "\n".join(path.read_text() for path in paths if path.is_file())
    if "StreamCore" in own:
        paths.append(KEYED_STATE_REPORT_PATH)
    return "\n".join(path.read_text().partition("#[cfg(test)]")[0] for path in paths if path.is_file())


def emf_recordings(function: str) -> dict[str, set[frozenset[str]]]:
    """Metric name -> the dimension sets `function` records it with: the collector's default
    dimensions (FunctionName) and the labels of the recording. Invocation::count adds the label
    Start; counter!/histogram!/gauge! have the labels written in them."""
    text = emf_sources(function)
    constants = dict(re.findall(r'const (\w+): &str = "([^"]*)";', text))
    defaults = set(re.findall(r'with_dimension\(\s*"(\w+)"', emf_metrics_source()))
    recordings: dict[str, set[frozenset[str]]] = {}

    def record(token: str, labels: set[str]) -> None:
        name = token.strip('"') if token.startswith('"') else constants.get(token)
        if name is not None:
            recordings.setdefault(name, set()).add(frozenset(defaults | labels))

    for match in re.finditer(r'\.count\(\s*("\w+"|\w+)\s*,', text):
        record(match.group(1), {"Start"})
    macro = r'(?<![\w])(?:counter|histogram|gauge)!\(\s*("\w+"|\w+)(.*?)\)\s*\.(?:increment|record|set|absolute|decrement)\('
    for match in re.finditer(macro, text, re.S):
        record(match.group(1), set(re.findall(r'"(\w+)"\s*=>', match.group(2))))
    return recordings


def dashboard_metrics(body: Any) -> tuple[list[tuple[str, str, dict[str, Any], frozenset[str], str]], list[str]]:
    """(namespace, metric, dimension values, dimension set, widget) of every metric the dashboard
    plots, from its metric rows and from the SEARCH expressions in them; and the rows it cannot
    read."""
    metrics = []
    problems = []
    for widget in as_list(body.get("widgets") if isinstance(body, dict) else None):
        props = widget.get("properties", {}) if isinstance(widget, dict) else {}
        where = f"widget {props.get('title')!r}"
        for row in as_list(props.get("metrics")):
            row = as_list(row)
            if row and isinstance(row[0], dict):
                for search in re.findall(r"SEARCH\(\s*'([^']*)'", str(row[0].get("expression", ""))):
                    schema = re.match(r"\s*\{([^}]*)\}", search)
                    if not schema:
                        problems.append(f"{where}: SEARCH {search!r} has no {{namespace,dimensions}} schema")
                        continue
                    namespace, *names = [part.strip() for part in schema.group(1).split(",")]
                    terms = dict(re.findall(r'(\w+)="([^"]*)"', search[schema.end():]))
                    values = {name: terms.get(name) for name in names}
                    metrics.append((namespace, terms.get("MetricName", ""), values, frozenset(names), where))
                continue
            strings = [item for item in row if isinstance(item, str)]
            if "." in strings or len(strings) < 2 or len(strings) % 2:
                problems.append(f"{where}: metric row {json.dumps(row)} must spell out namespace, metric and dimension pairs")
                continue
            values = dict(zip(strings[2::2], strings[3::2]))
            metrics.append((strings[0], strings[1], values, frozenset(values), where))
    return metrics, problems


def dashboard_key(values: dict[str, Any], dimension: str) -> str:
    """The manifest key a dashboard dimension names (its value without the ${prefix}- part)."""
    return str(values.get(dimension) or "")[len(DASHBOARD_PREFIX):]


def _dashboard_dimension(manifest: dict[str, Any], where: str, name: str, value: Any) -> list[str]:
    """A dimension value that names a resource names a manifest one, as deployed."""
    if name in DASHBOARD_RESOURCE_DIMENSIONS:
        section = DASHBOARD_RESOURCE_DIMENSIONS[name]
        names = {
            queue_name(key, spec) if section == "queues" else key for key, spec in manifest.get(section, {}).items()
        }
        if not (isinstance(value, str) and value.startswith(DASHBOARD_PREFIX) and value[len(DASHBOARD_PREFIX):] in names):
            return [f"{where}: {name} {value!r} is not {DASHBOARD_PREFIX}<name> of one of the manifest's {section} ({', '.join(sorted(names))})"]
    elif name == "ApiId" and value != "${api_id}":
        return [f"{where}: ApiId {value!r} must be ${{api_id}}, the HTTP API's id"]
    elif name == "VariantName" and value != VARIANT_NAME:
        return [f"{where}: VariantName {value!r} must be {VARIANT_NAME}, the endpoints' one variant"]
    return []


def check_dashboard(manifest: dict[str, Any], text: str) -> list[str]:
    """The dashboard file: only the variables both templates give it (no other ${...}, no
    Terraform %{ directive), JSON; every resource it names is a manifest one, as deployed; every
    EMF metric it plots for function F is a name in F's crate or shared/src/metrics.rs, plotted
    with the dimensions F records it with."""
    file = f"infra/{monitoring_of(manifest)['dashboard']['body']}"
    problems = [
        f"{file}: ${{{variable}}} is not one of the variables both templates give it ({', '.join(DASHBOARD_VARIABLES)})"
        for variable in sorted(set(re.findall(r"\$\{([^}]*)\}", text)) - set(DASHBOARD_VARIABLES))
    ]
    if "%{" in text or "$${" in text:
        problems.append(f"{file}: %{{ and $${{ are Terraform template syntax, which the SAM template's !Sub does not share")
    try:
        body = json.loads(text)
    except ValueError as error:
        return problems + [f"{file}: not JSON: {error}"]
    metrics, unread = dashboard_metrics(body)
    problems += [f"{file} {problem}" for problem in unread]
    namespace = emf_namespace()
    # Per widget: the functions whose own write units it plots, and the tables whose consumed ones.
    counted: dict[str, set[str]] = {}
    consumed: dict[str, set[str]] = {}
    for metric_namespace, metric, values, names, widget in metrics:
        where = f"{file} {widget}"
        if metric_namespace == namespace and metric == "WriteCapacityUnits":
            counted.setdefault(widget, set()).add(dashboard_key(values, "FunctionName"))
        if metric_namespace == "AWS/DynamoDB" and metric == "ConsumedWriteCapacityUnits":
            consumed.setdefault(widget, set()).add(dashboard_key(values, "TableName"))
        for name, value in values.items():
            problems += _dashboard_dimension(manifest, where, name, value)
        if metric_namespace != namespace:
            continue
        function = dashboard_key(values, "FunctionName")
        if function not in manifest["functions"]:
            continue  # reported as a dimension that names no manifest function
        recorded = emf_recordings(function).get(metric, set())
        if f'"{metric}"' not in emf_sources(function):
            problems.append(
                f"{where}: {namespace} metric {metric!r} is in neither functions/{function}/src nor "
                f"shared/src/metrics.rs; the function does not emit it"
            )
        elif names not in recorded:
            problems.append(
                f"{where}: {metric} of {function} is plotted with dimensions {sorted(names)}, which {function} "
                f"records it with {sorted(sorted(dimensions) for dimensions in recorded)}: the graph would stay empty"
            )
    for widget, functions in counted.items():
        if widget not in consumed:
            continue
        for function in sorted(functions & set(manifest["functions"])):
            missing = written_tables(manifest, function) - consumed[widget]
            if missing:
                problems.append(
                    f"{file} {widget}: WriteCapacityUnits of {function} counts its writes to {', '.join(sorted(missing))} too, "
                    f"but the widget plots ConsumedWriteCapacityUnits of {', '.join(sorted(consumed[widget]))} only: the lines cannot agree"
                )
    return problems


def written_tables(manifest: dict[str, Any], function: str) -> set[str]:
    """The manifest tables `function` may write."""
    return {
        permission["table"]
        for permission in manifest["functions"][function].get("permissions", [])
        if "table" in permission and DYNAMODB_WRITE_ACTIONS & set(permission.get("actions", []))
    }


# --------------------------------------------------------------------------- Terraform checkers


def tf_value(body: dict[str, Any], path: str) -> Any:
    """The value at a dotted path of an hcl2 body; blocks and attributes are one-element lists."""
    node: Any = body
    for part in path.split("."):
        if isinstance(node, list):
            if len(node) != 1:
                return None
            node = node[0]
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    if isinstance(node, list) and len(node) == 1:
        node = node[0]
    return node


def tf_dynamic(body: dict[str, Any], name: str) -> dict[str, Any] | None:
    for block in body.get("dynamic", []):
        if name in block:
            return block[name]
    return None


def unwrap(expression: Any) -> str:
    """`${each.value.x}` -> `each.value.x`; anything else as text."""
    text = json.dumps(expression) if not isinstance(expression, str) else expression
    match = re.fullmatch(r"\$\{(.*)\}", text, re.S)
    if match and "${" not in match.group(1):
        return match.group(1)
    return text


def mentions(expression: Any, reference: str) -> bool:
    text = expression if isinstance(expression, str) else json.dumps(expression)
    return re.search(r"(?<!\w)" + re.escape(reference) + r"(?!\w)", text) is not None


MANIFEST_READ = '${jsondecode(file("${path.module}/../stack.json"))}'
NAME = "${var.name_prefix}-${each.key}"
QUEUE_NAME = '${var.name_prefix}-${each.key}${each.value.fifo ? ".fifo" : ""}'

TF_ALARM_TOPIC_ARN = "${aws_sns_topic.this[local.monitoring.alarm_topic.key].arn}"

# For each resource type (one rule per kind of that type, told apart by what for_each
# iterates): settings under "exact" must be exactly that expression or value; those under
# "binds" must mention every listed reference (the manifest value they take); "references"
# names the resource (or resources) a setting must point at; "absent" settings must not be set;
# "dynamic" blocks must iterate the manifest value under "for_each" and bind "content" (and
# have "content_exact" settings exactly).
# A literal in place of a binding is drift waiting to happen.
TF_RULES: dict[str, list[dict[str, Any]]] = {
    "aws_dynamodb_table": [{
        "for_each": "local.stack.tables",
        "exact": {"name": NAME},
        "binds": {
            "billing_mode": ["each.value.billing_mode"],
            "hash_key": ["each.value.partition_key.name"],
            "range_key": ["each.value.sort_key.name"],
            "point_in_time_recovery.enabled": ["each.value.point_in_time_recovery"],
            "server_side_encryption.enabled": ["each.value.server_side_encryption"],
        },
        "dynamic": {
            "attribute": {"for_each": ["local.table_attributes[each.key]"], "content": {"name": ["attribute.key"], "type": ["attribute.value"]}},
            "global_secondary_index": {
                "for_each": ["each.value.global_secondary_indexes"],
                "content": {
                    "name": ["global_secondary_index.key"],
                    "hash_key": ["global_secondary_index.value.partition_key.name"],
                    "range_key": ["global_secondary_index.value.sort_key.name"],
                    "projection_type": ["global_secondary_index.value.projection"],
                },
            },
            # Only tables with a manifest time_to_live_attribute get a ttl block, and it is on.
            "ttl": {
                "for_each": ["each.value.time_to_live_attribute"],
                "content": {"attribute_name": ["ttl.value"]},
                "content_exact": {"enabled": True},
            },
        },
        # A static ttl block would give every table the same TTL, manifest or not.
        "absent": ["ttl"],
    }],
    "aws_lambda_function": [{
        "for_each": "local.stack.functions",
        "exact": {"function_name": NAME, "handler": HANDLER},
        "binds": {
            "description": ["each.value.description"],
            "runtime": ["each.value.runtime"],
            "architectures": ["var.architecture", "each.value.architecture"],
            "memory_size": ["each.value.memory_mb"],
            "timeout": ["each.value.timeout_seconds"],
            "filename": ["local.package_dir", "each.key"],
            "source_code_hash": ["filebase64sha256", "local.package_dir", "each.key"],
            "role": ["each.key"],
            "environment.variables": [
                "each.value.environment", "value.table", "value.queue", "value.stream", "value.value",
                # An endpoint's name, not its ARN.
                "aws_sagemaker_endpoint.this[value.endpoint].name",
            ],
            "logging_config.log_format": ["each.value.log_format"],
            "logging_config.log_group": ["each.key"],
        },
        "references": {
            "role": "aws_iam_role", "logging_config.log_group": "aws_cloudwatch_log_group",
            "environment.variables": ["aws_dynamodb_table", "aws_sqs_queue", "aws_kinesis_stream", "aws_sagemaker_endpoint"],
        },
    }],
    "aws_iam_role": [
        {
            "for_each": "local.stack.functions",
            "exact": {"name": NAME},
            "binds": {"assume_role_policy": ["lambda.amazonaws.com", "sts:AssumeRole"]},
            "absent": ["managed_policy_arns", "inline_policy", "permissions_boundary"],
        },
        {
            "for_each": "local.model_endpoints",
            "exact": {"name": NAME + "-sagemaker"},
            "binds": {"assume_role_policy": [SAGEMAKER_PRINCIPAL, "sts:AssumeRole"]},
            "absent": ["managed_policy_arns", "inline_policy", "permissions_boundary"],
        },
    ],
    "aws_iam_role_policy": [
        {
            "for_each": "local.stack.functions",
            "binds": {
                "role": ["each.key"],
                "policy": [
                    "each.value.permissions", "permission.actions", "permission.table", "permission.indexes",
                    "permission.queue", "permission.stream", "permission.endpoint", "logs:CreateLogStream",
                    "logs:PutLogEvents", "each.key",
                    # The endpoint's ARN as SageMaker reports it, not one spelled out from its name.
                    "aws_sagemaker_endpoint.this[permission.endpoint].arn",
                ],
            },
            "references": {
                "role": "aws_iam_role",
                "policy": ["aws_dynamodb_table", "aws_sqs_queue", "aws_kinesis_stream", "aws_sagemaker_endpoint"],
            },
        },
        {
            # Its statements are compared one by one by check_terraform_model_endpoints.
            "for_each": "local.model_endpoints",
            "binds": {"role": ["each.key"]},
            "references": {"role": "aws_iam_role"},
        },
    ],
    "aws_sagemaker_model": [{
        "for_each": "local.model_endpoints",
        # Every setting of a model forces a replacement: a generated name, and the new model made
        # before the old one goes.
        "exact": {"lifecycle.create_before_destroy": True},
        "binds": {
            "execution_role_arn": ["aws_iam_role.model_endpoint[each.key].arn"],
            "enable_network_isolation": ["each.value.network_isolation"],
            "primary_container.image": ["local.model_images", "each.value.image_parameter"],
            "depends_on": ["aws_iam_role_policy.model_endpoint"],
        },
        "absent": [
            "name", "container", "vpc_config", "inference_execution_config", "primary_container.model_data_url",
            "primary_container.model_data_source", "primary_container.environment", "primary_container.image_config",
        ],
    }],
    "aws_sagemaker_endpoint_configuration": [{
        "for_each": "local.model_endpoints",
        "exact": {"production_variants.variant_name": VARIANT_NAME, "lifecycle.create_before_destroy": True},
        "binds": {
            "production_variants.model_name": ["aws_sagemaker_model.this[each.key].name"],
            "production_variants.serverless_config.memory_size_in_mb": ["each.value.serverless.memory_size_mb"],
            "production_variants.serverless_config.max_concurrency": ["each.value.serverless.max_concurrency"],
        },
        "absent": [
            "name", "name_prefix", "kms_key_arn", "data_capture_config", "async_inference_config", "shadow_production_variants",
            "production_variants.instance_type", "production_variants.initial_instance_count",
            "production_variants.serverless_config.provisioned_concurrency",
        ],
    }],
    "aws_sagemaker_endpoint": [{
        "for_each": "local.model_endpoints",
        "exact": {"name": NAME},
        "binds": {"endpoint_config_name": ["aws_sagemaker_endpoint_configuration.this[each.key].name"]},
        "absent": ["deployment_config"],
    }],
    "aws_cloudwatch_log_group": [
        {
            "for_each": "local.stack.functions",
            "exact": {"name": "/aws/lambda/" + NAME},
            "binds": {"retention_in_days": ["each.value.log_retention_days"]},
        },
        {
            "for_each": "local.http_apis",
            "exact": {"name": "/aws/apigateway/" + NAME},
            "binds": {"retention_in_days": ["each.value.access_log_retention_days"]},
        },
    ],
    "aws_apigatewayv2_api": [{
        "for_each": "local.http_apis",
        "exact": {"name": NAME, "protocol_type": "HTTP"},
        "absent": ["body", "target", "route_key"],
    }],
    "aws_apigatewayv2_authorizer": [{
        "for_each": "local.http_apis",
        "binds": {
            "authorizer_type": ["each.value.authorizer.type"],
            "identity_sources": ["each.value.authorizer.identity_source"],
            "jwt_configuration.issuer": ["var.jwt_issuer"],
            "jwt_configuration.audience": ["var.jwt_audience"],
        },
    }],
    "aws_apigatewayv2_stage": [{
        "for_each": "local.http_apis",
        "exact": {"name": "$default", "auto_deploy": True},
        "binds": {
            "default_route_settings.throttling_burst_limit": ["each.value.throttle.burst_limit"],
            "default_route_settings.throttling_rate_limit": ["each.value.throttle.rate_limit"],
            "access_log_settings.destination_arn": ["each.key"],
            "access_log_settings.format": ["$context.requestId"],
        },
        "references": {"access_log_settings.destination_arn": "aws_cloudwatch_log_group"},
        "absent": ["route_settings"],
    }],
    "aws_apigatewayv2_route": [{
        "for_each": "local.routes",
        "binds": {
            "route_key": ["each.value.route"],
            "target": ["each.value.function"],
            "authorization_type": ["local.stack.http_api.authorizer.type"],
            "authorizer_id": ["aws_apigatewayv2_authorizer"],
        },
        "references": {"target": "aws_apigatewayv2_integration"},
    }],
    "aws_apigatewayv2_integration": [{
        "for_each": "local.routes",
        "exact": {"integration_type": "AWS_PROXY", "payload_format_version": PAYLOAD_FORMAT_VERSION},
        "binds": {"integration_uri": ["each.key"]},
        "references": {"integration_uri": "aws_lambda_function"},
    }],
    "aws_lambda_permission": [{
        "for_each": "aws_apigatewayv2_integration",
        "exact": {"action": "lambda:InvokeFunction", "principal": "apigateway.amazonaws.com"},
        "binds": {"function_name": ["each.key"], "source_arn": ["execution_arn"]},
        "references": {"function_name": "aws_lambda_function"},
    }],
    "aws_sqs_queue": [{
        "for_each": "local.queues",
        "exact": {
            "name": QUEUE_NAME,
            "sqs_managed_sse_enabled": True,
            # FIFO queues only, and off: the function sets deduplication ids.
            "content_based_deduplication": "${each.value.fifo ? False : None}",
        },
        "binds": {
            "fifo_queue": ["each.value.fifo"],
            "visibility_timeout_seconds": ["each.value.visibility_timeout_seconds"],
            "message_retention_seconds": ["each.value.message_retention_seconds"],
        },
        "absent": [
            "name_prefix", "redrive_policy", "redrive_allow_policy", "kms_master_key_id", "policy",
            "delay_seconds", "max_message_size", "receive_wait_time_seconds",
        ],
    }],
    "aws_sqs_queue_redrive_policy": [{
        "for_each": "local.dead_letters",
        "binds": {
            "queue_url": ["each.key"],
            "redrive_policy": ["deadLetterTargetArn", "each.value.queue", "maxReceiveCount", "each.value.max_receive_count"],
        },
        "references": {"queue_url": "aws_sqs_queue", "redrive_policy": "aws_sqs_queue"},
    }],
    "aws_sqs_queue_redrive_allow_policy": [{
        "for_each": "local.dead_letter_sources",
        "binds": {"queue_url": ["each.key"], "redrive_allow_policy": ["byQueue", "sourceQueueArns", "each.value"]},
        "references": {"queue_url": "aws_sqs_queue", "redrive_allow_policy": "aws_sqs_queue"},
    }],
    "aws_sqs_queue_policy": [{
        "for_each": "local.rule_target_queues",
        "binds": {
            "queue_url": ["each.key"],
            "policy": ["each.value", EVENTS_PRINCIPAL, *EVENTS_QUEUE_ACTIONS, "ArnEquals", "aws:SourceArn", "each.key"],
        },
        "references": {"queue_url": "aws_sqs_queue", "policy": ["aws_sqs_queue", "aws_cloudwatch_event_rule"]},
    }],
    "aws_kinesis_stream": [{
        "for_each": "local.streams",
        "exact": {"name": NAME, "stream_mode_details.stream_mode": STREAM_MODE},
        "binds": {
            "shard_count": ["each.value.shard_count"],
            "retention_period": ["each.value.retention_hours"],
            "encryption_type": ["each.value.encryption", "KMS"],
            "kms_key_id": ["each.value.encryption", STREAM_KMS_KEY],
        },
        "absent": ["shard_level_metrics"],
    }],
    "aws_cloudwatch_event_bus": [{
        "for_each": "local.event_buses",
        "exact": {"name": NAME},
        "absent": ["event_source_name", "kms_key_identifier"],
    }],
    "aws_cloudwatch_event_rule": [{
        "for_each": "local.event_rules",
        "exact": {"name": NAME, "event_pattern": "${jsonencode(each.value.pattern)}"},
        "binds": {"event_bus_name": ["each.value.bus"]},
        "references": {"event_bus_name": "aws_cloudwatch_event_bus"},
        # No state or is_enabled: rules are created enabled.
        "absent": ["name_prefix", "schedule_expression", "role_arn", "state", "is_enabled"],
    }],
    "aws_cloudwatch_event_target": [{
        "for_each": "local.event_rules",
        "binds": {
            "rule": ["each.key"], "event_bus_name": ["each.value.bus"],
            "target_id": ["each.value.queue"], "arn": ["each.value.queue"],
        },
        "references": {"rule": "aws_cloudwatch_event_rule", "event_bus_name": "aws_cloudwatch_event_bus", "arn": "aws_sqs_queue"},
        "absent": ["input", "input_path", "input_transformer", "role_arn", "sqs_target"],
    }],
    "aws_lambda_event_source_mapping": [{
        "for_each": "local.event_sources",
        "binds": {
            "function_name": ["each.value.function"],
            "event_source_arn": ["each.value.queue", "each.value.stream"],
            "batch_size": ["each.value.batch_size"],
            "maximum_batching_window_in_seconds": ["each.value.maximum_batching_window_seconds"],
            "function_response_types": ["each.value.report_batch_item_failures", BATCH_ITEM_FAILURES],
            # Stream sources only: null for a queue source, which has none of these.
            "starting_position": ["each.value.starting_position"],
            "bisect_batch_on_function_error": ["each.value.bisect_batch_on_function_error"],
            "maximum_retry_attempts": ["each.value.maximum_retry_attempts"],
            "maximum_record_age_in_seconds": ["each.value.maximum_record_age_seconds"],
            "parallelization_factor": ["each.value.parallelization_factor"],
        },
        "references": {"function_name": "aws_lambda_function", "event_source_arn": ["aws_sqs_queue", "aws_kinesis_stream"]},
        "dynamic": {
            "scaling_config": {
                "for_each": ["each.value.maximum_concurrency"],
                "content": {"maximum_concurrency": ["scaling_config.value"]},
            },
            "destination_config": {
                "for_each": ["each.value.on_failure_queue"],
                "content": {"on_failure.destination_arn": ["aws_sqs_queue", "destination_config.value"]},
            },
        },
        "absent": [
            "enabled", "filter_criteria", "starting_position_timestamp", "tumbling_window_in_seconds",
            "destination_config", "scaling_config",
        ],
    }],
    "aws_sns_topic": [{
        "for_each": "local.alarm_topics",
        "exact": {"name": NAME},
        # No key: see infra/checkov.yaml (CKV_AWS_26); the policy is its own resource.
        "absent": ["name_prefix", "kms_master_key_id", "policy", "fifo_topic", "delivery_policy"],
    }],
    "aws_sns_topic_policy": [{
        # Its statements are compared one by one by check_terraform_monitoring.
        "for_each": "local.alarm_topics",
        "exact": {"arn": "${aws_sns_topic.this[each.key].arn}"},
    }],
    "aws_sns_topic_subscription": [{
        # The email address is the manifest's email_parameter: check_terraform_monitoring.
        "for_each": "local.alarm_topics",
        "exact": {"topic_arn": "${aws_sns_topic.this[each.key].arn}", "protocol": EMAIL_PROTOCOL},
    }],
    "aws_cloudwatch_metric_alarm": [{
        "for_each": "local.alarms",
        "exact": {
            "alarm_name": NAME,
            "alarm_actions": [TF_ALARM_TOPIC_ARN],
            "ok_actions": [TF_ALARM_TOPIC_ARN],
        },
        "binds": {
            "alarm_description": ["each.value.description"],
            "namespace": ["local.alarm_namespaces", "each.value.target"],
            "metric_name": ["each.value.metric"],
            # Each kind of target: its dimension, the deployed name or id of the resource.
            "dimensions": [
                *TARGET_DIMENSIONS.values(), "VariantName",
                "aws_sqs_queue.this[each.value.target.queue].name",
                "aws_kinesis_stream.this[each.value.target.stream].name",
                "aws_sagemaker_endpoint.this[each.value.target.endpoint].name",
                "aws_sagemaker_endpoint_configuration.this[each.value.target.endpoint].production_variants",
                "aws_lambda_function.this[each.value.target.function].function_name",
                "aws_apigatewayv2_api",
            ],
            "statistic": ["local.standard_statistics", "each.value.statistic"],
            "extended_statistic": ["local.standard_statistics", "each.value.statistic"],
            "period": ["each.value.period_seconds"],
            "evaluation_periods": ["each.value.evaluation_periods"],
            "datapoints_to_alarm": ["each.value.datapoints_to_alarm"],
            "comparison_operator": ["each.value.comparison"],
            "threshold": ["each.value.threshold"],
            "treat_missing_data": ["each.value.treat_missing_data"],
        },
        "absent": [
            "metric_query", "unit", "actions_enabled", "insufficient_data_actions", "threshold_metric_id",
            "evaluate_low_sample_count_percentiles",
        ],
    }],
    "aws_cloudwatch_dashboard": [{
        # The body is compared by check_terraform_monitoring.
        "for_each": "local.dashboards",
        "exact": {"dashboard_name": NAME},
    }],
    "aws_budgets_budget": [{
        "for_each": "local.budgets",
        "exact": {
            "name": NAME, "budget_type": BUDGET_TYPE, "limit_unit": BUDGET_UNIT, "cost_filter.name": BUDGET_COST_FILTER,
            "depends_on": ["${aws_sns_topic_policy.this}"],
        },
        "binds": {
            "time_unit": ["each.value.time_unit"],
            "cost_filter.values": ["user:%s$%s", "each.value.filter_tag", "local.tags[each.value.filter_tag]"],
        },
        "dynamic": {
            "notification": {
                "for_each": ["each.value.notifications"],
                "content": {
                    "notification_type": ["notification.value.type"],
                    "threshold": ["notification.value.threshold_percent"],
                },
                "content_exact": {
                    "comparison_operator": BUDGET_COMPARISON, "threshold_type": BUDGET_THRESHOLD_TYPE,
                    "subscriber_sns_topic_arns": [TF_ALARM_TOPIC_ARN],
                },
            },
        },
        "absent": [
            "notification", "name_prefix", "cost_types", "planned_limit", "auto_adjust_data", "time_period_end",
            "time_period_start", "subscriber_email_addresses",
        ],
    }],
}


def check_terraform_reads_manifest(module: dict[str, Any]) -> list[str]:
    problems = []
    locals_ = module["locals"]
    if tf_value(locals_, "stack") != MANIFEST_READ:
        problems.append(f"locals.stack: is {tf_value(locals_, 'stack')!r}, must be {MANIFEST_READ!r}")
    tags = tf_value(locals_, "tags")
    if not (mentions(tags, "local.stack.cost_allocation_tags") and mentions(tags, "var.cost_allocation_tags")):
        problems.append("locals.tags: must map each key of local.stack.cost_allocation_tags to var.cost_allocation_tags[key]")
    if not mentions(tf_value(locals_, "http_apis"), "local.stack.http_api"):
        problems.append("locals.http_apis: must come from local.stack.http_api")
    if not mentions(tf_value(locals_, "routes"), "local.stack.http_api.routes"):
        problems.append("locals.routes: must come from local.stack.http_api.routes")
    derived = {
        "queues": ["local.stack.queues"],
        "streams": ["local.stack.streams"],
        "event_buses": ["local.stack.event_buses"],
        "model_endpoints": ["local.stack.model_endpoints"],
        "model_image_repositories": [
            "local.model_endpoints", "local.model_images", "endpoint.image_parameter",
            "?P<account>", "?P<region>", "?P<repository>",
        ],
        "dead_letters": ["local.queues", "dead_letter"],
        "dead_letter_sources": ["local.dead_letters", "dead_letter.queue"],
        "event_rules": ["local.event_buses", "rules", "pattern", "target.queue"],
        "rule_target_queues": ["local.event_rules", "rule.queue"],
        "event_sources": ["local.stack.functions", "event_sources", "source.function", "source.queue", "source.stream"],
        "monitoring": ["local.stack.monitoring"],
        "alarm_topics": ["local.monitoring.alarm_topic", "local.monitoring.alarm_topic.key"],
        "dashboards": ["local.monitoring.dashboard", "local.monitoring.dashboard.key"],
        "alarms": ["local.monitoring.alarms", "local.monitoring.function_alarms", "local.stack.functions"],
        "budgets": ["local.monitoring.budget", "local.monitoring.budget.time_unit"],
    }
    for name, references in derived.items():
        value = tf_value(locals_, name)
        missing = [reference for reference in references if not mentions(value, reference)]
        if value is None or missing:
            problems.append(f"locals.{name}: must be built from the manifest ({', '.join(references)}); it is {json.dumps(value)}")
    attributes = tf_value(locals_, "table_attributes")
    for reference in ("local.stack.tables", "partition_key", "sort_key", "global_secondary_indexes"):
        if not (isinstance(attributes, str) and reference in attributes):
            problems.append(f"locals.table_attributes: must be built from the manifest tables' keys (no {reference})")
    return problems


def _check_tf_rule(where: str, body: dict[str, Any], rule: dict[str, Any]) -> list[str]:
    problems = []
    for path, expected in rule.get("exact", {}).items():
        actual = tf_value(body, path)
        if actual != expected:
            problems.append(f"{where}: {path} is {json.dumps(actual)}, must be {json.dumps(expected)}")
    for path, references in rule.get("binds", {}).items():
        actual = tf_value(body, path)
        missing = [reference for reference in references if not mentions(actual, reference)]
        if actual is None:
            problems.append(f"{where}: {path} is not set; it must bind {', '.join(references)}")
        elif missing:
            problems.append(f"{where}: {path} is {json.dumps(actual)}, which does not bind {', '.join(missing)}")
    for path, resource_types in rule.get("references", {}).items():
        for resource_type in as_list(resource_types):
            if not mentions(tf_value(body, path), resource_type):
                problems.append(f"{where}: {path} must refer to the manifest's {resource_type}")
    for path in rule.get("absent", []):
        if tf_value(body, path) is not None:
            problems.append(f"{where}: {path} is set; the manifest does not ask for it")
    for name, block_rule in rule.get("dynamic", {}).items():
        block = tf_dynamic(body, name)
        if block is None:
            problems.append(f"{where}: no dynamic \"{name}\" block over the manifest")
            continue
        problems += _check_tf_rule(f"{where} dynamic {name}", block, {"binds": {"for_each": block_rule["for_each"]}})
        problems += _check_tf_rule(
            f"{where} dynamic {name} content", tf_value(block, "content") or {},
            {"binds": block_rule["content"], "exact": block_rule.get("content_exact", {})},
        )
    return problems


def check_terraform_resources(manifest: dict[str, Any], module: dict[str, Any]) -> list[str]:
    """Every resource iterates over the manifest and binds its settings to manifest values."""
    problems = []
    seen_types = set()
    seen_kinds = set()
    for (resource_type, name), body in module["resource"].items():
        where = f"{resource_type}.{name}"
        seen_types.add(resource_type)
        rules = TF_RULES.get(resource_type)
        if rules is None:
            problems.append(f"{where}: {resource_type} is not built from the manifest; add it to the manifest and to this check")
            continue
        for_each = unwrap(tf_value(body, "for_each"))
        matching = [rule for rule in rules if mentions(for_each, rule["for_each"])]
        if not matching:
            wanted = " or ".join(rule["for_each"] for rule in rules)
            problems.append(f"{where}: for_each is {json.dumps(tf_value(body, 'for_each'))}, must iterate {wanted}")
            continue
        seen_kinds.add((resource_type, matching[0]["for_each"]))
        problems += _check_tf_rule(where, body, matching[0])
    needed = {"aws_dynamodb_table"} if manifest["tables"] else set()
    if manifest["functions"]:
        needed |= {"aws_lambda_function", "aws_iam_role", "aws_iam_role_policy", "aws_cloudwatch_log_group"}
    if manifest.get("http_api"):
        needed |= {
            "aws_apigatewayv2_api", "aws_apigatewayv2_authorizer", "aws_apigatewayv2_stage",
            "aws_apigatewayv2_route", "aws_apigatewayv2_integration", "aws_lambda_permission",
        }
    if manifest.get("queues"):
        needed.add("aws_sqs_queue")
    if any(queue.get("dead_letter") for queue in manifest.get("queues", {}).values()):
        needed |= {"aws_sqs_queue_redrive_policy", "aws_sqs_queue_redrive_allow_policy"}
    if manifest.get("streams"):
        needed.add("aws_kinesis_stream")
    if manifest.get("event_buses"):
        needed.add("aws_cloudwatch_event_bus")
    if manifest_rules(manifest):
        needed |= {"aws_cloudwatch_event_rule", "aws_cloudwatch_event_target", "aws_sqs_queue_policy"}
    if any(function.get("event_sources") for function in manifest["functions"].values()):
        needed.add("aws_lambda_event_source_mapping")
    if manifest.get("model_endpoints"):
        needed |= {"aws_sagemaker_model", "aws_sagemaker_endpoint_configuration", "aws_sagemaker_endpoint"}
        # Types shared with the functions: the endpoints need their own kind of each.
        for resource_type in ("aws_iam_role", "aws_iam_role_policy"):
            if (resource_type, "local.model_endpoints") not in seen_kinds:
                problems.append(
                    f"{resource_type}: none iterates local.model_endpoints; each model endpoint needs its SageMaker execution role"
                )
    for resource_type in sorted(needed - seen_types):
        problems.append(f"{resource_type}: missing; the manifest needs it")
    return problems


def _quoted_actions(text: str) -> set[str]:
    """Every quoted `service:Action` string in an expression (quotes may be escaped)."""
    return set(re.findall(r"""\\*['"]([a-z0-9-]+:[A-Za-z0-9*]+)\\*['"]""", text))


def check_terraform_iam(module: dict[str, Any]) -> list[str]:
    """No literal IAM action with `*`; in roles' policies the only literal actions are the
    log-writing ones, the rest come from the manifest's permissions; queue policies grant only
    what EventBridge needs to deliver, topic policies only what alarms and budgets need."""
    problems = []
    for (resource_type, name), body in module["resource"].items():
        if resource_type in ("aws_iam_role_policy", "aws_iam_policy") and mentions(tf_value(body, "for_each"), "local.model_endpoints"):
            allowed, why = MODEL_ROLE_ACTIONS, "a SageMaker execution role pulls the image and writes logs and metrics, nothing else"
        elif resource_type in ("aws_iam_role_policy", "aws_iam_policy"):
            allowed, why = LOG_ACTIONS, "actions come from the manifest's permissions"
        elif resource_type == "aws_sqs_queue_policy":
            allowed, why = set(EVENTS_QUEUE_ACTIONS), f"EventBridge needs only {', '.join(EVENTS_QUEUE_ACTIONS)}"
        elif resource_type == "aws_sns_topic_policy":
            allowed, why = {SNS_PUBLISH_ACTION}, f"alarms and budgets need only {SNS_PUBLISH_ACTION}"
        else:
            continue
        policy = str(tf_value(body, "policy"))
        if re.search(r"\bNot(Action|Resource|Principal)\b", policy):
            problems.append(f"{resource_type}.{name}: NotAction, NotResource or NotPrincipal in the policy")
        # Condition keys (aws:SourceArn, cloudwatch:namespace) look like actions; they are not.
        actions = {
            action for action in _quoted_actions(policy) if not action.startswith("aws:") and action not in CONDITION_KEYS
        }
        for action in sorted(actions):
            if "*" in action:
                problems.append(f"{resource_type}.{name}: wildcard action {action!r}")
            elif action not in allowed:
                problems.append(f"{resource_type}.{name}: literal action {action!r}; {why}")
    return problems


def _json_strings(value: Any) -> set[str]:
    """Every string value (not key) inside a JSON value."""
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return set().union(*(_json_strings(item) for item in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_json_strings(item) for item in value)) if value else set()
    return set()


# Literals the module writes for their own reason, which the manifest happens to hold too: the
# action EventBridge needs on a target queue is also event-router's action on its output queues.
TF_OWN_LITERALS = {"aws_sqs_queue_policy": set(EVENTS_QUEUE_ACTIONS)}
SERVICE_PRINCIPAL = re.compile(r"[a-z0-9-]+\.amazonaws\.com")


def check_terraform_no_manifest_literals(manifest: dict[str, Any], module: dict[str, Any]) -> list[str]:
    """Names and values from the manifest appear in the module only through local.stack."""
    literals = set(manifest["tables"]) | set(manifest["functions"])
    literals |= set(manifest.get("queues", {})) | set(manifest.get("streams", {})) | set(manifest.get("event_buses", {}))
    literals |= set(manifest.get("model_endpoints", {}))
    for rule, (_, spec) in manifest_rules(manifest).items():
        literals |= {rule} | _json_strings(spec["pattern"])
    for table in manifest["tables"].values():
        literals |= set(table.get("global_secondary_indexes", {})) | set(attribute_definitions(table))
        literals.add(table["billing_mode"])
        if "time_to_live_attribute" in table:
            literals.add(table["time_to_live_attribute"])
    for function in manifest["functions"].values():
        literals |= {function["runtime"], *function.get("environment", {})}
        for permission in function.get("permissions", []):
            literals |= set(permission["actions"])
        for source in function.get("event_sources", []):
            literals |= {source["starting_position"]} if "starting_position" in source else set()
    for route in (manifest.get("http_api") or {}).get("routes", []):
        literals |= {route["route"], parse_route(route["route"])[1]}
    monitoring = monitoring_of(manifest)
    literals |= set(monitoring.get("alarms", {})) | set(monitoring.get("function_alarms", {}))
    literals |= {monitoring[section]["key"] for section in ("alarm_topic", "dashboard") if monitoring.get(section)}
    if monitoring.get("dashboard"):
        literals.add(monitoring["dashboard"]["body"])
    for spec in [*monitoring.get("alarms", {}).values(), *monitoring.get("function_alarms", {}).values()]:
        literals |= {spec["metric"], spec["statistic"], spec["comparison"], spec["treat_missing_data"]}
    if monitoring.get("budget"):
        budget = monitoring["budget"]
        literals |= {budget["filter_tag"], budget["time_unit"]} | {notification["type"] for notification in budget["notifications"]}
    problems = []
    for (resource_type, name), body in module["resource"].items():
        # A service principal (events.amazonaws.com) is not the bus key `events`.
        text = SERVICE_PRINCIPAL.sub("", json.dumps(body))
        for literal in sorted(literals - TF_OWN_LITERALS.get(resource_type, set())):
            if re.search(r"(?<![\w.])" + re.escape(literal) + r"(?![\w])", text):
                problems.append(f"{resource_type}.{name}: manifest value {literal!r} is written out; take it from local.stack")
    return problems


def check_terraform_tags(manifest: dict[str, Any], module: dict[str, Any]) -> list[str]:
    """The tag variable has exactly the manifest's keys; every resource type of the module is in
    the record of taggable types, and each that takes tags has tags = local.tags."""
    problems = []
    variable = module["variable"].get("cost_allocation_tags")
    if variable is None:
        problems.append("variable cost_allocation_tags: missing; it is the one input for the cost-allocation tags")
    else:
        declared = set(re.findall(r"'(\w+)':", str(tf_value(variable, "type"))))
        if declared != set(manifest["cost_allocation_tags"]):
            problems.append(
                f"variable cost_allocation_tags: its object type has {sorted(declared)}, "
                f"manifest cost_allocation_tags is {sorted(manifest['cost_allocation_tags'])}"
            )
        if not tf_value(variable, "validation"):
            problems.append("variable cost_allocation_tags: no validation that the values are non-empty")
    takes_tags = load_taggable_record()["takes_tags"]
    for (resource_type, name), body in module["resource"].items():
        where = f"{resource_type}.{name}"
        if resource_type not in takes_tags:
            problems.append(
                f"{where}: {resource_type} is not in infra/tests/{TAGGABLE_RECORD_PATH.name}; record whether it takes "
                f"tags (the provider schema says)"
            )
            continue
        if not takes_tags[resource_type]:
            continue
        if tf_value(body, "tags") != "${local.tags}":
            problems.append(f"{where}: tags is {json.dumps(tf_value(body, 'tags'))}, must be local.tags (the cost-allocation tags)")
    return problems


def parameter_variable(parameter: str) -> str:
    """A SAM parameter's Terraform variable: `ModelImageUri` -> `model_image_uri`."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", parameter).lower()


def tf_literal_policy(body: dict[str, Any]) -> Any:
    """The policy document of `policy = jsonencode({...})` when it is written out (no for
    expressions), with its interpolations as text; None otherwise."""
    match = re.fullmatch(r"\$\{jsonencode\((.*)\)\}", str(tf_value(body, "policy")), re.S)
    if not match:
        return None
    try:
        return ast.literal_eval(match.group(1))
    except (ValueError, SyntaxError):
        return None


# The image's repository, from local.model_image_repositories; the endpoint's log group.
TF_IMAGE_REPOSITORY_ARN = (
    "arn:${data.aws_partition.current.partition}:ecr:${local.model_image_repositories[each.key].region}:"
    "${local.model_image_repositories[each.key].account}:repository/${local.model_image_repositories[each.key].repository}"
)
TF_ENDPOINT_LOG_GROUP_ARN = (
    "arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.id}:"
    "${data.aws_caller_identity.current.account_id}:log-group:" + ENDPOINT_LOG_GROUP_PREFIX + NAME
)


def tf_model_role_grants() -> set[tuple[str, str, str]]:
    grants = {(ECR_TOKEN_ACTION, "*", "")}
    grants |= {(action, TF_IMAGE_REPOSITORY_ARN, "") for action in ECR_PULL_ACTIONS}
    log_group_arns = (TF_ENDPOINT_LOG_GROUP_ARN, TF_ENDPOINT_LOG_GROUP_ARN + ":*")
    grants |= {(action, arn, "") for action in ENDPOINT_LOG_ACTIONS for arn in log_group_arns}
    grants.add((METRICS_ACTION, "*", json.dumps(METRICS_CONDITION, sort_keys=True)))
    return grants


def check_terraform_model_endpoints(manifest: dict[str, Any], module: dict[str, Any]) -> list[str]:
    """Each manifest image_parameter has its variable (snake case, no default, validated as an
    ECR URI with tag or digest) in local.model_images; the SageMaker execution role's policy
    grants exactly what SageMaker needs (as the SAM template's), statement by statement."""
    problems = []
    endpoints = manifest.get("model_endpoints", {})
    if not endpoints:
        return problems
    images = tf_value(module["locals"], "model_images")
    images = images if isinstance(images, dict) else {}
    for key, endpoint in endpoints.items():
        parameter = endpoint["image_parameter"]
        name = parameter_variable(parameter)
        where = f"variable {name} (image_parameter {parameter} of model endpoint {key})"
        variable = module["variable"].get(name)
        if variable is None:
            problems.append(f"{where}: missing")
        else:
            if "default" in variable:
                problems.append(f"{where}: has a default; a stack must not come up with an image nobody chose")
            if tf_value(variable, "type") != "${string}":
                problems.append(f"{where}: type must be string")
            condition = str(tf_value(variable, "validation.condition"))
            if ECR_IMAGE_PATTERN.replace("\\", "\\\\") not in condition or not mentions(condition, f"var.{name}"):
                problems.append(f"{where}: validation must match var.{name} against the ECR URI pattern {ECR_IMAGE_PATTERN}")
        if images.get(parameter) != f"${{var.{name}}}":
            problems.append(f"locals.model_images: {parameter} is {json.dumps(images.get(parameter))}, must be var.{name}")

    policies = [
        (name, body) for (resource_type, name), body in module["resource"].items()
        if resource_type == "aws_iam_role_policy" and mentions(tf_value(body, "for_each"), "local.model_endpoints")
    ]
    for name, body in policies:
        where = f"aws_iam_role_policy.{name}"
        document = tf_literal_policy(body)
        if not isinstance(document, dict):
            problems.append(f"{where}: policy must be jsonencode of a written-out document, so that each statement can be checked")
            continue
        actual, found = allow_grants(where, _statements(document), str)
        problems += found
        expected = tf_model_role_grants()
        for action, resource, condition in sorted(actual - expected):
            when = f" if {condition}" if condition else ""
            problems.append(f"{where}: grants {action} on {resource}{when}, which SageMaker does not need")
        for action, resource, condition in sorted(expected - actual):
            when = f" if {condition}" if condition else ""
            problems.append(f"{where}: does not grant {action} on {resource}{when}, which SageMaker needs (and no more)")
    return problems


# The alarm topic's policy in the module's spelling; the dashboard's templatefile() call.
TF_PARTITION = "${data.aws_partition.current.partition}"
TF_REGION = "${data.aws_region.current.id}"
TF_ACCOUNT = "${data.aws_caller_identity.current.account_id}"
TF_DASHBOARD_PATH = "${path.module}/../${each.value.body}"
TF_DASHBOARD_VARIABLES = {
    "prefix": "${var.name_prefix}", "region": TF_REGION, "api_id": f'${{aws_apigatewayv2_api.this["{HTTP_API_KEY}"].id}}',
}


def tf_templatefile(expression: Any) -> tuple[str, Any] | None:
    """(path, variables) of `templatefile("<path>", {...})`; None for any other expression."""
    match = re.fullmatch(r'\$\{templatefile\("(.*?)",(\{.*\})\)\}', str(expression), re.S)
    if not match:
        return None
    try:
        return match.group(1), ast.literal_eval(match.group(2))
    except (ValueError, SyntaxError):
        return None


def _check_tf_optional_variable(variables: dict[str, Any], name: str, kind: str, source: str) -> list[str]:
    """A deploy-time input that may be left out: null by default (nothing deployed for it), of
    `kind`, validated."""
    where = f"variable {name} ({source})"
    variable = variables.get(name)
    if variable is None:
        return [f"{where}: missing"]
    problems = []
    if "default" not in variable or tf_value(variable, "default") is not None:
        problems.append(f"{where}: must default to null (left out: nothing deployed for it)")
    if tf_value(variable, "type") != f"${{{kind}}}":
        problems.append(f"{where}: type must be {kind}")
    if not mentions(tf_value(variable, "validation.condition"), f"var.{name}"):
        problems.append(f"{where}: no validation of var.{name}")
    return problems


def check_terraform_monitoring(manifest: dict[str, Any], module: dict[str, Any]) -> list[str]:
    """The inputs the manifest's monitoring names (email_parameter, amount_parameter: variables
    in snake case, null by default) and where they go (the subscription, the budget); the alarm
    topic's policy, statement by statement, as the SAM template's; the dashboard's body,
    templatefile() of the manifest's file with exactly the variables the SAM template gives it."""
    monitoring = monitoring_of(manifest)
    problems = []
    resources = module["resource"]
    topic = monitoring.get("alarm_topic")
    if topic:
        email = parameter_variable(topic["email_parameter"])
        problems += _check_tf_optional_variable(
            module["variable"], email, "string", f"monitoring.alarm_topic.email_parameter {topic['email_parameter']}",
        )
    budget = monitoring.get("budget")
    if budget:
        amount = parameter_variable(budget["amount_parameter"])
        problems += _check_tf_optional_variable(
            module["variable"], amount, "number", f"monitoring.budget.amount_parameter {budget['amount_parameter']}",
        )
        if not mentions(tf_value(module["locals"], "budgets"), f"var.{amount}"):
            problems.append(f"locals.budgets: must be empty while var.{amount} is null")
    for (resource_type, name), body in resources.items():
        where = f"{resource_type}.{name}"
        if resource_type == "aws_sns_topic_subscription" and topic:
            if not mentions(tf_value(body, "for_each"), f"var.{email}"):
                problems.append(f"{where}: for_each must be empty while var.{email} is null")
            if tf_value(body, "endpoint") != f"${{var.{email}}}":
                problems.append(f"{where}: endpoint is {json.dumps(tf_value(body, 'endpoint'))}, must be var.{email}")
        elif resource_type == "aws_sns_topic_policy":
            document = tf_literal_policy(body)
            if not isinstance(document, dict):
                problems.append(f"{where}: policy must be jsonencode of a written-out document, so that each statement can be checked")
                continue
            grants, found = service_grants(where, document, str)
            problems += found
            _compare_topic_grants(problems, where, grants, topic_grants("${aws_sns_topic.this[each.key].arn}", TF_PARTITION, TF_REGION, TF_ACCOUNT))
        elif resource_type == "aws_cloudwatch_dashboard":
            call = tf_templatefile(tf_value(body, "dashboard_body"))
            if call is None or call != (TF_DASHBOARD_PATH, TF_DASHBOARD_VARIABLES):
                problems.append(
                    f"{where}: dashboard_body is {json.dumps(tf_value(body, 'dashboard_body'))}, must be "
                    f"templatefile(\"{TF_DASHBOARD_PATH}\", {json.dumps(TF_DASHBOARD_VARIABLES)})"
                )
        elif resource_type == "aws_budgets_budget" and budget and not mentions(tf_value(body, "limit_amount"), f"var.{amount}"):
            problems.append(f"{where}: limit_amount is {json.dumps(tf_value(body, 'limit_amount'))}, must be var.{amount}")
    return problems


def load_taggable_record(path: Path = TAGGABLE_RECORD_PATH) -> dict[str, Any]:
    return json.loads(path.read_text())


def check_taggable_record(record: dict[str, Any], resource_schemas: dict[str, Any]) -> list[str]:
    """The record says of each type what the provider's schema says: whether it has `tags`."""
    problems = []
    for resource_type, takes_tags in sorted(record["takes_tags"].items()):
        schema = resource_schemas.get(resource_type)
        if schema is None:
            problems.append(f"{resource_type}: not in the provider schema")
        elif ("tags" in schema["block"].get("attributes", {})) != takes_tags:
            problems.append(
                f"{resource_type}: recorded as {'taking' if takes_tags else 'not taking'} tags, the provider schema "
                f"says {'not' if takes_tags else 'it does'}"
            )
    return problems


def provider_resource_schemas(record: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """The resource schemas of the recorded provider version from `terraform providers schema`,
    offline from a provider plugin directory (TF_PLUGIN_DIR, default /opt/tf-plugins); None and
    the reason when there is no terraform or no such provider there."""
    terraform = shutil.which("terraform")
    plugin_dir = Path(os.environ.get("TF_PLUGIN_DIR", DEFAULT_TF_PLUGIN_DIR))
    source, version = record["provider"]["source"], record["provider"]["version"]
    if terraform is None:
        return None, "no terraform on PATH"
    if not (plugin_dir / source / version).is_dir():
        return None, f"no {source} {version} in the provider plugin directory {plugin_dir} (TF_PLUGIN_DIR)"
    with tempfile.TemporaryDirectory() as work:
        (Path(work) / "versions.tf").write_text(
            'terraform {\n  required_providers {\n    aws = {\n'
            f'      source  = "{source}"\n      version = "{version}"\n'
            '    }\n  }\n}\n'
        )
        run = functools.partial(subprocess.run, cwd=work, capture_output=True, text=True, check=True)
        run([terraform, "init", "-backend=false", "-input=false", f"-plugin-dir={plugin_dir}"])
        schemas = json.loads(run([terraform, "providers", "schema", "-json"]).stdout)
    return schemas["provider_schemas"][source]["resource_schemas"], ""


def check_terraform_variables(module: dict[str, Any]) -> list[str]:
    problems = []
    variables = module["variable"]
    for name in ("name_prefix", "cost_allocation_tags", "jwt_issuer", "jwt_audience", "architecture", "package_dir"):
        if name not in variables:
            problems.append(f"variable {name}: missing")
    architecture = variables.get("architecture", {})
    condition = json.dumps(tf_value(architecture, "validation.condition"))
    if tf_value(architecture, "default") is not None or not all(value in condition for value in ARCHITECTURES):
        problems.append("variable architecture: must default to null (the manifest's value) and accept only arm64 or x86_64")
    return problems


def manifest_inputs(manifest: dict[str, Any]) -> list[str]:
    """The module's variables for the deploy-time inputs the manifest names: model images, the
    alarm email, the budget amount."""
    parameters = [endpoint["image_parameter"] for endpoint in manifest.get("model_endpoints", {}).values()]
    monitoring = monitoring_of(manifest)
    if monitoring.get("alarm_topic"):
        parameters.append(monitoring["alarm_topic"]["email_parameter"])
    if monitoring.get("budget"):
        parameters.append(monitoring["budget"]["amount_parameter"])
    return [parameter_variable(parameter) for parameter in parameters]


def check_terraform_example_inputs(manifest: dict[str, Any], module: dict[str, Any], example: dict[str, Any]) -> list[str]:
    """The example passes every module input that has no default, and every input the manifest
    names, as the variable of the same name."""
    call = next(iter(example["module"].values()), None)
    if call is None:
        return ["examples/basic: no module call"]
    problems = [
        f"examples/basic: the module call does not pass {name}, which has no default"
        for name, variable in sorted(module["variable"].items())
        if "default" not in variable and tf_value(call, name) is None
    ]
    for name in manifest_inputs(manifest):
        if tf_value(call, name) != f"${{var.{name}}}":
            problems.append(f"examples/basic: the module call does not pass {name} = var.{name}, an input the manifest names")
        elif name not in example["variable"]:
            problems.append(f"examples/basic: variable {name} is missing")
    return problems


def check_terraform_example(example: dict[str, Any]) -> list[str]:
    problems = []
    call = next(iter(example["module"].values()), None)
    if call is None:
        return ["examples/basic: no module call"]
    if tf_value(call, "source") != "../..":
        problems.append(f"examples/basic: module source is {tf_value(call, 'source')!r}, must be \"../..\"")
    for name in ("name_prefix", "cost_allocation_tags", "jwt_issuer", "jwt_audience"):
        if tf_value(call, name) is None:
            problems.append(f"examples/basic: the module call does not pass {name}")
    if not mentions(tf_value(example["provider"].get("aws", {}), "region"), "var.region"):
        problems.append("examples/basic: provider aws must take region from var.region")
    return problems


def snake(key: str) -> str:
    """`todo-api` -> `todo_api`."""
    return re.sub(r"[^a-z0-9]+", "_", key.lower())


# Which module output holds each kind of manifest resource, and the example's output name for it.
TF_EXAMPLE_OUTPUTS = {
    "tables": ("table_names", "{}_table_name"),
    "functions": ("function_names", "{}_function_name"),
    "queues": ("queue_urls", "{}_queue_url"),
    "streams": ("stream_names", "{}_stream_name"),
    "event_buses": ("event_bus_names", "{}_event_bus_name"),
    "model_endpoints": ("model_endpoint_names", "{}_endpoint_name"),
}
# The module's and the example's output for each part of the manifest's monitoring.
TF_MONITORING_OUTPUTS = {"alarm_topic": "alarm_topic_arn", "dashboard": "dashboard_name"}


def check_terraform_example_outputs(manifest: dict[str, Any], module: dict[str, Any], example: dict[str, Any]) -> list[str]:
    """The example names every manifest resource the SAM stack outputs, from the module's maps,
    and the module has those maps."""
    problems = []
    outputs = example["output"]
    expected = {}
    for section, (module_output, example_name) in TF_EXAMPLE_OUTPUTS.items():
        if manifest.get(section) and module_output not in module["output"]:
            problems.append(f"output {module_output}: missing from the module; manifest {section} needs it")
        for key in manifest.get(section, {}):
            expected[example_name.format(snake(key))] = f'${{module.stack.{module_output}["{key}"]}}'
    if manifest.get("http_api"):
        expected["api_url"] = "${module.stack.api_url}"
    for section, output in TF_MONITORING_OUTPUTS.items():
        if monitoring_of(manifest).get(section):
            if output not in module["output"]:
                problems.append(f"output {output}: missing from the module; manifest monitoring.{section} needs it")
            expected[output] = f"${{module.stack.{output}}}"
    for name, value in expected.items():
        actual = tf_value(outputs.get(name, {}), "value")
        if actual != value:
            problems.append(f"examples/basic output {name}: value is {json.dumps(actual)}, must be {json.dumps(value)}")
    for name in sorted(set(outputs) - set(expected)):
        problems.append(f"examples/basic output {name}: names nothing in the manifest")
    return problems


def check_terraform(manifest: dict[str, Any], module: dict[str, Any]) -> list[str]:
    return (
        check_terraform_reads_manifest(module)
        + check_terraform_resources(manifest, module)
        + check_terraform_iam(module)
        + check_terraform_no_manifest_literals(manifest, module)
        + check_terraform_tags(manifest, module)
        + check_terraform_variables(module)
        + check_terraform_model_endpoints(manifest, module)
        + check_terraform_monitoring(manifest, module)
    )


def _setting(node: Any, path: str) -> Any:
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def check_manifest_reasons(manifest: dict[str, Any]) -> list[str]:
    """Every reason names a setting the manifest has: top-level reasons by their dotted path,
    function, model endpoint, HTTP API and monitoring reasons by a (dotted) setting of theirs."""
    problems = []
    for path in manifest.get("reasons", {}):
        if _setting(manifest, path) is None:
            problems.append(f"reasons.{path}: the manifest has no setting {path}")
    owners = {f"functions.{key}": function for key, function in manifest["functions"].items()}
    owners |= {f"model_endpoints.{key}": endpoint for key, endpoint in manifest.get("model_endpoints", {}).items()}
    if manifest.get("http_api"):
        owners["http_api"] = manifest["http_api"]
    if manifest.get("monitoring"):
        owners["monitoring"] = manifest["monitoring"]
    for owner, spec in owners.items():
        for setting in spec.get("reasons", {}):
            if _setting(spec, setting) is None or setting.split(".")[0] == "reasons":
                problems.append(f"{owner}.reasons.{setting}: {owner} has no setting {setting}")
    return problems


def check_manifest_model_endpoints(manifest: dict[str, Any]) -> list[str]:
    """Each model endpoint has settings SageMaker accepts (serverless memory 1024..6144 MB in
    1024 MB steps, max concurrency 1..200) and an image parameter that can name a SAM parameter;
    every environment value and permission that names an endpoint names a manifest one, and an
    endpoint permission grants only SageMaker actions."""
    problems = []
    endpoints = manifest.get("model_endpoints", {})
    for key, endpoint in endpoints.items():
        where = f"model_endpoints.{key}"
        memory = endpoint["serverless"]["memory_size_mb"]
        concurrency = endpoint["serverless"]["max_concurrency"]
        if memory not in SERVERLESS_MEMORY_SIZES:
            problems.append(f"{where}.serverless.memory_size_mb: {memory} is not one of SageMaker's {sorted(SERVERLESS_MEMORY_SIZES)}")
        if concurrency not in SERVERLESS_MAX_CONCURRENCY:
            problems.append(f"{where}.serverless.max_concurrency: {concurrency} is outside SageMaker's 1..200")
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", str(endpoint["image_parameter"])):
            problems.append(
                f"{where}.image_parameter: {endpoint['image_parameter']!r} is not a template parameter name (letters and digits)"
            )
    for key, function in manifest["functions"].items():
        for name, value in function.get("environment", {}).items():
            if "endpoint" in value and value["endpoint"] not in endpoints:
                problems.append(f"functions.{key}.environment.{name}: endpoint {value['endpoint']} is not a manifest model endpoint")
        for i, permission in enumerate(function.get("permissions", [])):
            if "endpoint" not in permission:
                continue
            where = f"functions.{key}.permissions[{i}]"
            if permission["endpoint"] not in endpoints:
                problems.append(f"{where}: endpoint {permission['endpoint']} is not a manifest model endpoint")
            for action in permission["actions"]:
                if not action.startswith("sagemaker:"):
                    problems.append(f"{where}: {action} is not a SageMaker action; an endpoint permission grants actions on the endpoint")
    return problems


def check_manifest_event_sources(manifest: dict[str, Any]) -> list[str]:
    """Each event source reads exactly one manifest queue or stream and has the settings of its
    kind and no other kind's: a stream source every stream-only setting (on_failure_queue is
    optional, and a standard manifest queue), a queue source none of them and a stream source no
    queue-only one. The function's permissions cover what the mapping does with its role."""
    problems = []
    queues = manifest.get("queues", {})
    streams = manifest.get("streams", {})
    known = {"queue", "stream"} | EVENT_SOURCE_FIELDS | STREAM_SOURCE_FIELDS | QUEUE_SOURCE_FIELDS
    for key, function in manifest["functions"].items():
        granted = {
            (kind, permission[kind], action)
            for permission in function.get("permissions", [])
            for kind in ("table", "queue", "stream") if kind in permission
            for action in permission["actions"]
        }
        for i, spec in enumerate(function.get("event_sources", [])):
            where = f"functions.{key}.event_sources[{i}]"
            kinds = [kind for kind in ("queue", "stream") if kind in spec]
            if len(kinds) != 1:
                problems.append(f"{where}: names {' and '.join(kinds) or 'neither queue nor stream'}; an event source reads exactly one queue or stream")
                continue
            kind, name = event_source_of(spec)
            if name not in (queues if kind == "queue" else streams):
                problems.append(f"{where}: {kind} {name} is not a manifest {kind}")
            for field in sorted(EVENT_SOURCE_FIELDS - set(spec)):
                problems.append(f"{where}: {field} is missing; every event source sets it")
            for field in sorted(set(spec) - known):
                problems.append(f"{where}: {field} is not an event source setting")
            if kind == "stream":
                for field in sorted(STREAM_SOURCE_REQUIRED - set(spec)):
                    problems.append(f"{where}: stream source {name} lacks {field}; a stream source sets every one of {', '.join(sorted(STREAM_SOURCE_REQUIRED))}")
                for field in sorted(QUEUE_SOURCE_FIELDS & set(spec)):
                    problems.append(f"{where}: {field} is a queue setting; stream source {name} cannot take it")
                needed = {("stream", name, action) for action in STREAM_SOURCE_ACTIONS}
            else:
                for field in sorted(STREAM_SOURCE_FIELDS & set(spec)):
                    problems.append(f"{where}: {field} is a stream setting; queue source {name} cannot take it (a queue's failures go to its dead-letter queue)")
                needed = {("queue", name, action) for action in QUEUE_SOURCE_ACTIONS}
            on_failure = spec.get("on_failure_queue")
            if kind == "stream" and on_failure is not None:
                if on_failure not in queues:
                    problems.append(f"{where}: on_failure_queue {on_failure} is not a manifest queue")
                elif queues[on_failure]["fifo"]:
                    problems.append(f"{where}: on_failure_queue {on_failure} is FIFO; Lambda sends failure records to standard queues only")
                needed |= {("queue", on_failure, action) for action in ON_FAILURE_ACTIONS}
            for resource_kind, resource, action in sorted(needed - granted):
                problems.append(
                    f"{where}: functions.{key}.permissions lacks {action} on {resource_kind} {resource}, "
                    f"which the event source mapping needs (it uses the function's role)"
                )
    return problems


def check_manifest_rule_keys(manifest: dict[str, Any]) -> list[str]:
    """Rule keys are unique across buses: the deployed rule name and the logical ID carry only
    the rule key (Terraform's local.event_rules fails the plan on a duplicate)."""
    problems = []
    seen: dict[str, str] = {}
    for bus, spec in manifest.get("event_buses", {}).items():
        for rule in spec.get("rules", {}):
            if rule in seen:
                problems.append(f"event_buses.{bus}.rules.{rule}: rule key {rule} is also a rule of bus {seen[rule]}; rule keys must be unique")
            seen[rule] = bus
    return problems


def _check_alarm_settings(where: str, spec: dict[str, Any], allowed: set[str]) -> list[str]:
    """An alarm's settings are the ones CloudWatch takes, with values it accepts."""
    problems = [f"{where}: {field} is missing" for field in sorted(ALARM_SETTINGS - set(spec))]
    problems += [f"{where}: {field} is not an alarm setting" for field in sorted(set(spec) - ALARM_SETTINGS - allowed)]
    statistic = spec.get("statistic")
    if statistic is not None and statistic not in STANDARD_STATISTICS and not PERCENTILE.fullmatch(str(statistic)):
        problems.append(f"{where}.statistic: {statistic!r} is neither one of {sorted(STANDARD_STATISTICS)} nor a percentile p0..p100")
    if "comparison" in spec and spec["comparison"] not in ALARM_COMPARISONS:
        problems.append(f"{where}.comparison: {spec['comparison']!r} is not one of {sorted(ALARM_COMPARISONS)}")
    if "treat_missing_data" in spec and spec["treat_missing_data"] not in TREAT_MISSING_DATA:
        problems.append(f"{where}.treat_missing_data: {spec['treat_missing_data']!r} is not one of {sorted(TREAT_MISSING_DATA)}")
    period = spec.get("period_seconds")
    if period is not None and not (period in (10, 30) or (isinstance(period, int) and period > 0 and period % 60 == 0)):
        problems.append(f"{where}.period_seconds: {period} is not 10, 30 or a multiple of 60, the periods an alarm takes")
    evaluation, datapoints = spec.get("evaluation_periods"), spec.get("datapoints_to_alarm")
    if isinstance(evaluation, int) and isinstance(datapoints, int) and not 1 <= datapoints <= evaluation:
        problems.append(f"{where}.datapoints_to_alarm: {datapoints} must be 1..evaluation_periods ({evaluation})")
    return problems


def check_manifest_monitoring(manifest: dict[str, Any]) -> list[str]:
    """Alarms have settings CloudWatch accepts and targets that name a manifest queue, stream,
    model endpoint or the HTTP API; no function alarm takes a manifest alarm's name; the alarms
    and the budget have a topic to notify; the budget filters on a cost-allocation tag, with a
    time unit and notifications Budgets accepts; the parameters named can be template
    parameters; the dashboard's body file exists."""
    monitoring = monitoring_of(manifest)
    if not monitoring:
        return []
    problems = []
    alarms = monitoring.get("alarms", {})
    topic = monitoring.get("alarm_topic")
    budget = monitoring.get("budget")
    if (alarms or monitoring.get("function_alarms") or budget) and not topic:
        problems.append("monitoring.alarm_topic: missing; the alarms and the budget notify it")
    parameters = {"alarm_topic.email_parameter": (topic or {}).get("email_parameter"), "budget.amount_parameter": (budget or {}).get("amount_parameter")}
    for path, parameter in parameters.items():
        if parameter is not None and not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", str(parameter)):
            problems.append(f"monitoring.{path}: {parameter!r} is not a template parameter name (letters and digits)")
    sections = {"queue": "queues", "stream": "streams", "endpoint": "model_endpoints"}
    for key, spec in alarms.items():
        where = f"monitoring.alarms.{key}"
        problems += _check_alarm_settings(where, spec, {"target"})
        target = spec.get("target") or {}
        kinds = list(target)
        if len(kinds) != 1 or kinds[0] not in ALARM_NAMESPACES or kinds[0] == "function":
            problems.append(f"{where}.target: {json.dumps(target)} must name exactly one queue, stream, endpoint, or http_api: true")
        elif kinds[0] == "http_api":
            if target["http_api"] is not True or not manifest.get("http_api"):
                problems.append(f"{where}.target: http_api must be true, and the manifest must have an http_api")
        elif target[kinds[0]] not in manifest.get(sections[kinds[0]], {}):
            problems.append(f"{where}.target: {kinds[0]} {target[kinds[0]]} is not a manifest {kinds[0]}")
    for key, spec in monitoring.get("function_alarms", {}).items():
        where = f"monitoring.function_alarms.{key}"
        problems += _check_alarm_settings(where, spec, set())
        for function in manifest["functions"]:
            if f"{function}-{key}" in alarms:
                problems.append(f"{where}: function {function}'s alarm is named {function}-{key}, like monitoring.alarms.{function}-{key}")
    if budget:
        where = "monitoring.budget"
        if budget.get("filter_tag") not in manifest["cost_allocation_tags"]:
            problems.append(f"{where}.filter_tag: {budget.get('filter_tag')!r} is not one of the cost_allocation_tags, which every resource carries")
        if budget.get("time_unit") not in BUDGET_TIME_UNITS:
            problems.append(f"{where}.time_unit: {budget.get('time_unit')!r} is not one of {sorted(BUDGET_TIME_UNITS)}")
        for i, notification in enumerate(budget.get("notifications", [])):
            if notification.get("type") not in BUDGET_NOTIFICATION_TYPES:
                problems.append(f"{where}.notifications[{i}].type: {notification.get('type')!r} is not one of {sorted(BUDGET_NOTIFICATION_TYPES)}")
            threshold = notification.get("threshold_percent")
            if not (isinstance(threshold, (int, float)) and threshold > 0):
                problems.append(f"{where}.notifications[{i}].threshold_percent: {threshold!r} must be a percentage above 0")
    path = dashboard_path(manifest)
    if path is not None and not path.is_file():
        problems.append(f"monitoring.dashboard.body: {path.relative_to(ROOT)} does not exist")
    return problems


def check_cloudformation_inline_skips(template: dict[str, Any]) -> list[str]:
    """Every checkov skip in a resource's Metadata (the CloudFormation form) gives its reason."""
    problems = []
    for logical_id, resource in template.get("Resources", {}).items():
        checkov = (resource.get("Metadata") or {}).get("checkov") or {}
        for skip in as_list(checkov.get("skip")):
            if not isinstance(skip, dict) or not skip.get("id") or not str(skip.get("comment") or "").strip():
                problems.append(f"{logical_id}: checkov skip {json.dumps(skip)} has no id or no comment (its reason)")
    return problems


def check_checkov_config(text: str) -> list[str]:
    """Every skipped check has its reason in a comment on its line or the lines just above."""
    problems = []
    if re.search(r"^\s*soft-fail\s*:", text, re.M):
        problems.append("infra/checkov.yaml: soft-fail would let failed checks pass")
    lines = text.splitlines()
    in_skips = False
    comment = False
    for line in lines:
        stripped = line.strip()
        if re.match(r"^[\w-]+\s*:", line):
            in_skips = line.startswith("skip-check")
            comment = False
            continue
        if not in_skips:
            continue
        if stripped.startswith("#"):
            comment = True
        elif stripped.startswith("- "):
            check_id = stripped[2:].split("#")[0].strip()
            if not (comment or "#" in stripped):
                problems.append(f"infra/checkov.yaml: skipped check {check_id} has no reason")
            comment = False
    return problems


def check_inline_skips(files: dict[str, str]) -> list[str]:
    """Every inline `checkov:skip=<check>:<reason>` in the templates gives its reason."""
    problems = []
    for name, text in files.items():
        for match in re.finditer(r"checkov:skip=([A-Z0-9_]+)(?::(.*))?", text):
            if not (match.group(2) or "").strip():
                problems.append(f"{name}: inline skip of {match.group(1)} has no reason")
    return problems


def template_texts() -> dict[str, str]:
    paths = [SAM_TEMPLATE_PATH, *sorted(TERRAFORM_DIR.rglob("*.tf"))]
    return {str(path.relative_to(ROOT)): path.read_text() for path in paths}


# --------------------------------------------------------------------------- tests


def report(problems: list[str]) -> str:
    return "\n" + "\n".join(f"  - {problem}" for problem in problems)


class Fixtures(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.manifest = load_manifest()
        cls.template = load_sam_template()
        cls.module = load_terraform(TERRAFORM_DIR)
        cls.example = load_terraform(TERRAFORM_EXAMPLE_DIR)

    def assertNoProblems(self, problems: list[str]) -> None:
        if problems:
            self.fail(f"{len(problems)} problem(s):{report(problems)}")


class SamTemplateMatchesManifest(Fixtures):
    def test_every_resource_is_accounted_for(self) -> None:
        self.assertNoProblems(check_sam_accounted_for(self.manifest, self.template))

    def test_tables(self) -> None:
        self.assertNoProblems(check_sam_tables(self.manifest, self.template))

    def test_functions_and_log_groups(self) -> None:
        self.assertNoProblems(check_sam_functions(self.manifest, self.template))

    def test_queues(self) -> None:
        self.assertNoProblems(check_sam_queues(self.manifest, self.template))

    def test_streams(self) -> None:
        self.assertNoProblems(check_sam_streams(self.manifest, self.template))

    def test_event_buses_rules_and_queue_policies(self) -> None:
        self.assertNoProblems(check_sam_event_buses(self.manifest, self.template))

    def test_event_source_mappings(self) -> None:
        self.assertNoProblems(check_sam_event_sources(self.manifest, self.template))

    def test_model_endpoints_their_models_configurations_and_roles(self) -> None:
        self.assertNoProblems(check_sam_model_endpoints(self.manifest, self.template))

    def test_roles_grant_exactly_the_manifest_permissions(self) -> None:
        self.assertNoProblems(check_sam_iam(self.manifest, self.template))

    def test_no_wildcard_actions(self) -> None:
        self.assertNoProblems(check_sam_no_wildcard_actions(self.template))

    def test_routes(self) -> None:
        self.assertNoProblems(check_sam_routes(self.manifest, self.template))

    def test_http_api(self) -> None:
        self.assertNoProblems(check_sam_http_api(self.manifest, self.template))

    def test_cost_allocation_tags(self) -> None:
        self.assertNoProblems(check_sam_tags(self.manifest, self.template))

    def test_outputs(self) -> None:
        self.assertNoProblems(check_sam_outputs(self.manifest, self.template))

    def test_generated_resources_are_tagged_and_authorized(self) -> None:
        self.assertNoProblems(check_sam_translated(self.manifest, self.template))

    def test_alarm_topic_its_policy_and_subscription(self) -> None:
        self.assertNoProblems(check_sam_alarm_topic(self.manifest, self.template))

    def test_alarms(self) -> None:
        self.assertNoProblems(check_sam_alarms(self.manifest, self.template))

    def test_dashboard_is_the_manifest_file(self) -> None:
        self.assertNoProblems(check_sam_dashboard(self.manifest, self.template))

    def test_budget(self) -> None:
        self.assertNoProblems(check_sam_budget(self.manifest, self.template))


class TerraformModuleFollowsManifest(Fixtures):
    def test_reads_the_manifest(self) -> None:
        self.assertNoProblems(check_terraform_reads_manifest(self.module))

    def test_resources_iterate_over_the_manifest(self) -> None:
        self.assertNoProblems(check_terraform_resources(self.manifest, self.module))

    def test_no_wildcard_or_literal_actions(self) -> None:
        self.assertNoProblems(check_terraform_iam(self.module))

    def test_no_manifest_values_written_out(self) -> None:
        self.assertNoProblems(check_terraform_no_manifest_literals(self.manifest, self.module))

    def test_cost_allocation_tags(self) -> None:
        self.assertNoProblems(check_terraform_tags(self.manifest, self.module))

    def test_variables(self) -> None:
        self.assertNoProblems(check_terraform_variables(self.module))

    def test_example_root_configuration(self) -> None:
        self.assertNoProblems(check_terraform_example(self.example))

    def test_example_outputs_follow_the_manifest(self) -> None:
        self.assertNoProblems(check_terraform_example_outputs(self.manifest, self.module, self.example))

    def test_example_passes_every_input_without_default(self) -> None:
        self.assertNoProblems(check_terraform_example_inputs(self.manifest, self.module, self.example))

    def test_model_endpoint_images_and_sagemaker_role(self) -> None:
        self.assertNoProblems(check_terraform_model_endpoints(self.manifest, self.module))

    def test_monitoring_inputs_topic_policy_and_dashboard_body(self) -> None:
        self.assertNoProblems(check_terraform_monitoring(self.manifest, self.module))


class ManifestChecks(Fixtures):
    def test_every_reason_names_a_setting(self) -> None:
        self.assertNoProblems(check_manifest_reasons(self.manifest))

    def test_rule_keys_are_unique_across_buses(self) -> None:
        self.assertNoProblems(check_manifest_rule_keys(self.manifest))

    def test_model_endpoints_and_what_names_them(self) -> None:
        self.assertNoProblems(check_manifest_model_endpoints(self.manifest))

    def test_the_checker_finds_bad_endpoint_settings_and_references(self) -> None:
        manifest = copy.deepcopy(self.manifest)
        manifest["model_endpoints"]["model"]["serverless"] = {"memory_size_mb": 1500, "max_concurrency": 0}
        manifest["model_endpoints"]["model"]["image_parameter"] = "model-image"
        inference = manifest["functions"]["inference"]
        inference["environment"]["MODEL_ENDPOINT_NAME"] = {"endpoint": "scorer"}
        inference["permissions"][1]["actions"].append("dynamodb:GetItem")
        inference["permissions"][1]["endpoint"] = "scorer"
        problems = check_manifest_model_endpoints(manifest)
        self.assertIn(
            "model_endpoints.model.serverless.memory_size_mb: 1500 is not one of SageMaker's [1024, 2048, 3072, 4096, 5120, 6144]",
            problems,
        )
        self.assertIn("model_endpoints.model.serverless.max_concurrency: 0 is outside SageMaker's 1..200", problems)
        self.assertIn(
            "model_endpoints.model.image_parameter: 'model-image' is not a template parameter name (letters and digits)", problems,
        )
        self.assertIn("functions.inference.environment.MODEL_ENDPOINT_NAME: endpoint scorer is not a manifest model endpoint", problems)
        self.assertIn("functions.inference.permissions[1]: endpoint scorer is not a manifest model endpoint", problems)
        self.assertIn(
            "functions.inference.permissions[1]: dynamodb:GetItem is not a SageMaker action; an endpoint permission grants "
            "actions on the endpoint", problems,
        )
        self.assertEqual(len(problems), 6, report(problems))

    def test_event_sources_have_the_settings_of_their_kind(self) -> None:
        self.assertNoProblems(check_manifest_event_sources(self.manifest))

    def test_the_checker_finds_a_stream_source_without_a_stream_setting(self) -> None:
        for field in sorted(STREAM_SOURCE_REQUIRED):
            with self.subTest(field=field):
                manifest = copy.deepcopy(self.manifest)
                del manifest["functions"]["stream-enrichment"]["event_sources"][0][field]
                self.assertEqual(
                    check_manifest_event_sources(manifest),
                    [
                        f"functions.stream-enrichment.event_sources[0]: stream source activity lacks {field}; a stream source "
                        f"sets every one of {', '.join(sorted(STREAM_SOURCE_REQUIRED))}"
                    ],
                )

    def test_the_checker_finds_a_queue_source_with_a_stream_setting(self) -> None:
        manifest = copy.deepcopy(self.manifest)
        source = manifest["functions"]["event-router"]["event_sources"][0]
        source["parallelization_factor"] = 1
        source["on_failure_queue"] = "rejects"
        problems = check_manifest_event_sources(manifest)
        for field in ("parallelization_factor", "on_failure_queue"):
            self.assertIn(
                f"functions.event-router.event_sources[0]: {field} is a stream setting; queue source ingest cannot "
                f"take it (a queue's failures go to its dead-letter queue)", problems,
            )
        self.assertEqual(len(problems), 2, report(problems))

    def test_the_checker_finds_a_stream_source_with_a_queue_setting_or_both_kinds(self) -> None:
        manifest = copy.deepcopy(self.manifest)
        manifest["functions"]["stream-enrichment"]["event_sources"][0]["maximum_concurrency"] = 5
        manifest["functions"]["event-router"]["event_sources"][0]["stream"] = "activity"
        problems = check_manifest_event_sources(manifest)
        self.assertIn("functions.stream-enrichment.event_sources[0]: maximum_concurrency is a queue setting; stream source activity cannot take it", problems)
        self.assertIn("functions.event-router.event_sources[0]: names queue and stream; an event source reads exactly one queue or stream", problems)

    def test_the_checker_finds_a_bad_on_failure_queue_or_a_missing_permission(self) -> None:
        manifest = copy.deepcopy(self.manifest)
        manifest["functions"]["stream-enrichment"]["event_sources"][0]["on_failure_queue"] = "orders"
        permissions = manifest["functions"]["stream-enrichment"]["permissions"]
        permissions[0]["actions"].remove("kinesis:GetShardIterator")
        problems = check_manifest_event_sources(manifest)
        where = "functions.stream-enrichment.event_sources[0]"
        self.assertIn(f"{where}: on_failure_queue orders is FIFO; Lambda sends failure records to standard queues only", problems)
        self.assertIn(f"{where}: functions.stream-enrichment.permissions lacks sqs:SendMessage on queue orders, which the event source mapping needs (it uses the function's role)", problems)
        self.assertIn(f"{where}: functions.stream-enrichment.permissions lacks kinesis:GetShardIterator on stream activity, which the event source mapping needs (it uses the function's role)", problems)
        self.assertEqual(len(problems), 3, report(problems))

    def test_the_checker_finds_a_rule_key_on_two_buses(self) -> None:
        manifest = copy.deepcopy(self.manifest)
        manifest["event_buses"]["audit"] = copy.deepcopy(manifest["event_buses"]["events"])
        self.assertEqual(
            check_manifest_rule_keys(manifest),
            ["event_buses.audit.rules.to-ingest: rule key to-ingest is also a rule of bus events; rule keys must be unique"],
        )

    def test_the_checker_finds_a_reason_for_nothing(self) -> None:
        manifest = copy.deepcopy(self.manifest)
        manifest["reasons"]["queues.ingest.visibility_timeout"] = "typo"
        manifest["functions"]["event-router"]["reasons"]["batch_size"] = "belongs to event_sources"
        manifest["model_endpoints"]["model"]["reasons"]["serverless.provisioned_concurrency"] = "not set"
        problems = check_manifest_reasons(manifest)
        self.assertIn(
            "model_endpoints.model.reasons.serverless.provisioned_concurrency: model_endpoints.model has no setting "
            "serverless.provisioned_concurrency", problems,
        )
        self.assertIn("reasons.queues.ingest.visibility_timeout: the manifest has no setting queues.ingest.visibility_timeout", problems)
        self.assertIn("functions.event-router.reasons.batch_size: functions.event-router has no setting batch_size", problems)

    def test_monitoring(self) -> None:
        self.assertNoProblems(check_manifest_monitoring(self.manifest))

    def test_the_checker_finds_bad_alarms_and_targets(self) -> None:
        manifest = copy.deepcopy(self.manifest)
        alarms = manifest["monitoring"]["alarms"]
        alarms["rejects-messages"]["target"] = {"queue": "reject"}
        alarms["model-errors"]["target"] = {"endpoint": "model", "queue": "rejects"}
        alarms["http-api-latency-p99"]["statistic"] = "p999"
        alarms["http-api-5xx-rate"]["comparison"] = "Above"
        alarms["activity-iterator-age"]["datapoints_to_alarm"] = 2
        alarms["enriched-iterator-age"]["period_seconds"] = 90
        del alarms["ingest-oldest-message-age"]["treat_missing_data"]
        manifest["monitoring"]["function_alarms"]["errors"]["target"] = {"function": "todo-api"}
        alarms["inference-throttles"] = copy.deepcopy(alarms["model-errors"])
        alarms["inference-throttles"]["target"] = {"endpoint": "model"}
        problems = check_manifest_monitoring(manifest)
        self.assertEqual(
            sorted(problems),
            sorted([
                "monitoring.alarms.rejects-messages.target: queue reject is not a manifest queue",
                'monitoring.alarms.model-errors.target: {"endpoint": "model", "queue": "rejects"} must name exactly one queue, '
                "stream, endpoint, or http_api: true",
                "monitoring.alarms.http-api-latency-p99.statistic: 'p999' is neither one of ['Average', 'Maximum', 'Minimum', "
                "'SampleCount', 'Sum'] nor a percentile p0..p100",
                "monitoring.alarms.http-api-5xx-rate.comparison: 'Above' is not one of ['GreaterThanOrEqualToThreshold', "
                "'GreaterThanThreshold', 'LessThanOrEqualToThreshold', 'LessThanThreshold']",
                "monitoring.alarms.activity-iterator-age.datapoints_to_alarm: 2 must be 1..evaluation_periods (1)",
                "monitoring.alarms.enriched-iterator-age.period_seconds: 90 is not 10, 30 or a multiple of 60, the periods an alarm takes",
                "monitoring.alarms.ingest-oldest-message-age: treat_missing_data is missing",
                "monitoring.function_alarms.errors: target is not an alarm setting",
                "monitoring.function_alarms.throttles: function inference's alarm is named inference-throttles, like "
                "monitoring.alarms.inference-throttles",
            ]),
        )

    def test_the_checker_finds_a_bad_budget_topic_or_dashboard_file(self) -> None:
        manifest = copy.deepcopy(self.manifest)
        monitoring = manifest["monitoring"]
        del monitoring["alarm_topic"]
        budget = monitoring["budget"]
        budget["filter_tag"] = "team"
        budget["time_unit"] = "WEEKLY"
        budget["amount_parameter"] = "monthly-budget"
        budget["notifications"][0] = {"type": "PLANNED", "threshold_percent": 0}
        monitoring["dashboard"]["body"] = "dashboards/operations.json"
        problems = check_manifest_monitoring(manifest)
        self.assertEqual(
            sorted(problems),
            sorted([
                "monitoring.alarm_topic: missing; the alarms and the budget notify it",
                "monitoring.budget.amount_parameter: 'monthly-budget' is not a template parameter name (letters and digits)",
                "monitoring.budget.filter_tag: 'team' is not one of the cost_allocation_tags, which every resource carries",
                "monitoring.budget.time_unit: 'WEEKLY' is not one of ['ANNUALLY', 'DAILY', 'MONTHLY', 'QUARTERLY']",
                "monitoring.budget.notifications[0].type: 'PLANNED' is not one of ['ACTUAL', 'FORECASTED']",
                "monitoring.budget.notifications[0].threshold_percent: 0 must be a percentage above 0",
                "monitoring.dashboard.body: infra/dashboards/operations.json does not exist",
            ]),
        )

    def test_the_checker_finds_a_monitoring_reason_for_nothing(self) -> None:
        manifest = copy.deepcopy(self.manifest)
        manifest["monitoring"]["reasons"]["alarms.dlq-depth"] = "renamed alarm"
        self.assertEqual(
            check_manifest_reasons(manifest), ["monitoring.reasons.alarms.dlq-depth: monitoring has no setting alarms.dlq-depth"],
        )


class DashboardFile(Fixtures):
    def test_variables_resources_and_metrics(self) -> None:
        self.assertNoProblems(check_dashboard(self.manifest, dashboard_path(self.manifest).read_text()))


class TerraformTaggableRecord(unittest.TestCase):
    def test_the_record_matches_the_provider_schema(self) -> None:
        record = load_taggable_record()
        schemas, why_not = provider_resource_schemas(record)
        if schemas is None:
            self.skipTest(f"{why_not}: infra/tests/{TAGGABLE_RECORD_PATH.name} is not compared with the provider schema")
        problems = check_taggable_record(record, schemas)
        if problems:
            self.fail(report(problems))

    def test_the_checker_finds_a_record_the_schema_contradicts(self) -> None:
        record = {"takes_tags": {"aws_sns_topic": False, "aws_sns_topic_policy": True, "aws_made_up": True}}
        schemas = {
            "aws_sns_topic": {"block": {"attributes": {"name": {}, "tags": {}}}},
            "aws_sns_topic_policy": {"block": {"attributes": {"arn": {}}}},
        }
        self.assertEqual(
            check_taggable_record(record, schemas),
            [
                "aws_made_up: not in the provider schema",
                "aws_sns_topic: recorded as not taking tags, the provider schema says it does",
                "aws_sns_topic_policy: recorded as taking tags, the provider schema says not",
            ],
        )


class CheckovConfig(unittest.TestCase):
    def test_every_skip_has_a_reason_and_failures_fail(self) -> None:
        problems = check_checkov_config(CHECKOV_CONFIG_PATH.read_text())
        if problems:
            self.fail(report(problems))

    def test_every_inline_skip_has_a_reason(self) -> None:
        problems = check_inline_skips(template_texts()) + check_cloudformation_inline_skips(load_sam_template())
        if problems:
            self.fail(report(problems))

    def test_the_checker_finds_a_cloudformation_skip_without_reason(self) -> None:
        template = {"Resources": {"Q": {"Metadata": {"checkov": {"skip": [{"id": "CKV_AWS_27"}, {"id": "CKV_AWS_1", "comment": "why"}]}}}}}
        self.assertEqual(check_cloudformation_inline_skips(template), ['Q: checkov skip {"id": "CKV_AWS_27"} has no id or no comment (its reason)'])

    def test_the_checker_finds_an_inline_skip_without_reason(self) -> None:
        problems = check_inline_skips({"x.tf": "  #checkov:skip=CKV_AWS_28\n  #checkov:skip=CKV_AWS_50:costs\n"})
        self.assertEqual(problems, ["x.tf: inline skip of CKV_AWS_28 has no reason"])

    def test_the_checker_finds_a_skip_without_reason(self) -> None:
        text = "skip-check:\n  # reason\n  - CKV_AWS_1\n  - CKV_AWS_2\nsoft-fail: true\n"
        problems = check_checkov_config(text)
        self.assertIn("infra/checkov.yaml: skipped check CKV_AWS_2 has no reason", problems)
        self.assertIn("infra/checkov.yaml: soft-fail would let failed checks pass", problems)
        self.assertEqual(len(problems), 2, report(problems))


class CheckersFindDrift(Fixtures):
    """Each test breaks one thing in an in-memory copy and expects the checker to say so."""

    def sam(self) -> dict[str, Any]:
        return copy.deepcopy(self.template)

    def props(self, template: dict[str, Any], logical_id: str) -> dict[str, Any]:
        return template["Resources"][logical_id]["Properties"]

    def assertFinds(self, problems: list[str], *fragments: str) -> None:
        matching = [p for p in problems if all(fragment in p for fragment in fragments)]
        self.assertTrue(matching, f"no problem mentions {fragments}; got:{report(problems)}")

    def test_the_unchanged_templates_have_no_problems(self) -> None:
        self.assertNoProblems(check_sam(self.manifest, self.template))
        self.assertNoProblems(check_terraform(self.manifest, self.module))

    def test_changed_memory(self) -> None:
        template = self.sam()
        self.props(template, "TodoApiFunction")["MemorySize"] = 512
        self.assertFinds(check_sam(self.manifest, template), "TodoApiFunction", "MemorySize is 512", "wants 256")

    def test_manifest_change_not_followed(self) -> None:
        manifest = copy.deepcopy(self.manifest)
        manifest["functions"]["todo-api"]["timeout_seconds"] = 20
        self.assertFinds(check_sam(manifest, self.template), "TodoApiFunction", "Timeout is 10", "wants 20")

    def test_extra_iam_action(self) -> None:
        template = self.sam()
        statements = self.props(template, "TodoApiRole")["Policies"][0]["PolicyDocument"]["Statement"]
        statements[0]["Action"].append("dynamodb:Scan")
        self.assertFinds(check_sam(self.manifest, template), "TodoApiRole", "grants dynamodb:Scan on ${TasksTable.Arn}")

    def test_missing_index_resource(self) -> None:
        template = self.sam()
        statements = self.props(template, "TodoApiRole")["Policies"][0]["PolicyDocument"]["Statement"]
        statements[0]["Resource"] = statements[0]["Resource"][:1]
        self.assertFinds(check_sam(self.manifest, template), "TodoApiRole", "does not grant dynamodb:Query on ${TasksTable.Arn}/index/by_status")

    def test_wildcard_action(self) -> None:
        template = self.sam()
        statements = self.props(template, "TodoApiRole")["Policies"][0]["PolicyDocument"]["Statement"]
        statements[1]["Action"] = ["logs:*"]
        problems = check_sam(self.manifest, template)
        self.assertFinds(problems, "TodoApiRole", "wildcard action 'logs:*'")
        self.assertFinds(problems, "TodoApiRole", "grants logs:* on")

    def test_missing_tag(self) -> None:
        template = self.sam()
        tags = self.props(template, "TasksTable")["Tags"]
        tags[:] = [tag for tag in tags if tag["Key"] != "cost_center"]
        self.assertFinds(check_sam(self.manifest, template), "TasksTable", "cost-allocation tag cost_center is missing")

    def test_missing_tag_on_a_generated_resource(self) -> None:
        template = self.sam()
        del self.props(template, "HttpApi")["Tags"]["environment"]
        problems = check_sam_translated(self.manifest, template)
        self.assertFinds(problems, "HttpApiApiGatewayDefaultStage", "environment is missing")
        self.assertFinds(problems, "HttpApi (AWS::ApiGatewayV2::Api", "environment is missing")

    def test_removed_route(self) -> None:
        template = self.sam()
        del self.props(template, "TodoApiFunction")["Events"]["AnyTasksId"]
        self.assertFinds(check_sam(self.manifest, template), "TodoApiFunction", "ANY /tasks/{id}")
        self.assertFinds(check_sam_translated(self.manifest, template), "ANY /tasks/{id}", "missing")

    def test_route_without_the_authorizer(self) -> None:
        template = self.sam()
        self.props(template, "TodoApiFunction")["Events"]["AnyTasks"]["Properties"]["Auth"] = {"Authorizer": "NONE"}
        self.assertFinds(check_sam(self.manifest, template), "AnyTasks", "Auth is set")
        self.assertFinds(check_sam_translated(self.manifest, template), "ANY /tasks", "not the JWT authorizer")

    def test_environment_names_another_table(self) -> None:
        template = self.sam()
        self.props(template, "TodoApiFunction")["Environment"]["Variables"]["TASKS_TABLE"] = {"Ref": "HttpApi"}
        self.assertFinds(check_sam(self.manifest, template), "Environment TASKS_TABLE", '{"Ref": "TasksTable"}')

    def test_changed_throttle_and_index(self) -> None:
        template = self.sam()
        self.props(template, "HttpApi")["DefaultRouteSettings"]["ThrottlingRateLimit"] = 1000
        self.props(template, "TasksTable")["GlobalSecondaryIndexes"][0]["Projection"] = {"ProjectionType": "KEYS_ONLY"}
        problems = check_sam(self.manifest, template)
        self.assertFinds(problems, "HttpApi", "ThrottlingRateLimit is 1000")
        self.assertFinds(problems, "TasksTable", "index by_status Projection")

    def test_unmanifested_resource(self) -> None:
        template = self.sam()
        template["Resources"]["ExtraQueue"] = {"Type": "AWS::SQS::Queue", "Properties": {}}
        self.assertFinds(check_sam(self.manifest, template), "ExtraQueue", "not in the manifest")

    def test_function_without_its_role(self) -> None:
        template = self.sam()
        del self.props(template, "TodoApiFunction")["Role"]
        self.assertFinds(check_sam(self.manifest, template), "TodoApiFunction", "Role")
        self.assertFinds(check_sam_translated(self.manifest, template), "SAM generated a role")

    # ------------------------------------------------ queues, streams, events, event sources

    def statement(self, template: dict[str, Any], role: str, sid: str) -> dict[str, Any]:
        statements = self.props(template, role)["Policies"][0]["PolicyDocument"]["Statement"]
        return next(statement for statement in statements if statement.get("Sid") == sid)

    def queue_policy_statement(self, template: dict[str, Any]) -> dict[str, Any]:
        return self.props(template, "IngestQueuePolicy")["PolicyDocument"]["Statement"][0]

    def test_changed_batch_size(self) -> None:
        template = self.sam()
        self.props(template, "EventRouterIngestEventSource")["BatchSize"] = 10
        self.assertFinds(check_sam(self.manifest, template), "EventRouterIngestEventSource", "BatchSize is 10", "wants 100")

    def test_missing_report_batch_item_failures(self) -> None:
        template = self.sam()
        del self.props(template, "EventRouterIngestEventSource")["FunctionResponseTypes"]
        self.assertFinds(
            check_sam(self.manifest, template), "EventRouterIngestEventSource", "FunctionResponseTypes is null",
            "report_batch_item_failures", '["ReportBatchItemFailures"]',
        )

    def test_manifest_event_source_change_not_followed(self) -> None:
        manifest = copy.deepcopy(self.manifest)
        manifest["functions"]["event-router"]["event_sources"][0]["maximum_concurrency"] = 10
        manifest["functions"]["event-router"]["event_sources"][0]["maximum_batching_window_seconds"] = 5
        problems = check_sam(manifest, self.template)
        self.assertFinds(problems, "EventRouterIngestEventSource", "ScalingConfig", '{"MaximumConcurrency": 10}')
        self.assertFinds(problems, "EventRouterIngestEventSource", "MaximumBatchingWindowInSeconds is 1", "wants 5")

    def test_event_source_on_another_queue_or_disabled(self) -> None:
        template = self.sam()
        props = self.props(template, "EventRouterIngestEventSource")
        props["EventSourceArn"] = {"Fn::GetAtt": ["RejectsQueue", "Arn"]}
        props["Enabled"] = False
        problems = check_sam(self.manifest, template)
        self.assertFinds(problems, "EventRouterIngestEventSource", "EventSourceArn", "${IngestQueue.Arn}")
        self.assertFinds(problems, "EventRouterIngestEventSource", "Enabled is false")

    def test_sqs_event_on_the_function_instead_of_a_mapping(self) -> None:
        template = self.sam()
        self.props(template, "EventRouterFunction")["Events"] = {
            "Ingest": {"Type": "SQS", "Properties": {"Queue": {"Fn::GetAtt": ["IngestQueue", "Arn"]}}},
        }
        self.assertFinds(check_sam(self.manifest, template), "EventRouterFunction", "event Ingest has Type SQS")

    def test_changed_starting_position(self) -> None:
        template = self.sam()
        self.props(template, "StreamEnrichmentActivityEventSource")["StartingPosition"] = "LATEST"
        self.assertFinds(
            check_sam(self.manifest, template), "StreamEnrichmentActivityEventSource (function stream-enrichment, stream activity)",
            'StartingPosition is "LATEST"', "event_sources[0].starting_position", '"TRIM_HORIZON"',
        )

    def test_missing_bisect_flag(self) -> None:
        template = self.sam()
        del self.props(template, "StreamEnrichmentActivityEventSource")["BisectBatchOnFunctionError"]
        self.assertFinds(
            check_sam(self.manifest, template), "StreamEnrichmentActivityEventSource", "BisectBatchOnFunctionError is null",
            "bisect_batch_on_function_error wants true",
        )

    def test_changed_on_failure_destination(self) -> None:
        template = self.sam()
        self.props(template, "StreamEnrichmentActivityEventSource")["DestinationConfig"]["OnFailure"]["Destination"] = {
            "Fn::GetAtt": ["RejectsQueue", "Arn"],
        }
        self.assertFinds(
            check_sam(self.manifest, template), "StreamEnrichmentActivityEventSource", "DestinationConfig", "${RejectsQueue.Arn}",
            "on_failure_queue", "${EnrichmentFailuresQueue.Arn}",
        )
        template = self.sam()
        del self.props(template, "StreamEnrichmentActivityEventSource")["DestinationConfig"]
        self.assertFinds(check_sam(self.manifest, template), "StreamEnrichmentActivityEventSource", "DestinationConfig is null")

    def test_changed_parallelization_factor(self) -> None:
        template = self.sam()
        self.props(template, "StreamEnrichmentActivityEventSource")["ParallelizationFactor"] = 2
        self.assertFinds(
            check_sam(self.manifest, template), "StreamEnrichmentActivityEventSource", "ParallelizationFactor is 2",
            "parallelization_factor wants 1",
        )

    def test_changed_retries_record_age_and_stream(self) -> None:
        template = self.sam()
        props = self.props(template, "StreamEnrichmentActivityEventSource")
        props["MaximumRetryAttempts"] = -1
        del props["MaximumRecordAgeInSeconds"]
        props["EventSourceArn"] = {"Fn::GetAtt": ["EnrichedStream", "Arn"]}
        problems = check_sam(self.manifest, template)
        self.assertFinds(problems, "StreamEnrichmentActivityEventSource", "MaximumRetryAttempts is -1", "wants 10")
        self.assertFinds(problems, "StreamEnrichmentActivityEventSource", "MaximumRecordAgeInSeconds is null", "wants 21600")
        self.assertFinds(problems, "StreamEnrichmentActivityEventSource", "EventSourceArn", "event_sources[0].stream", "${ActivityStream.Arn}")

    def test_settings_of_the_other_kind_of_event_source(self) -> None:
        template = self.sam()
        self.props(template, "EventRouterIngestEventSource")["StartingPosition"] = "LATEST"
        self.props(template, "EventRouterIngestEventSource")["DestinationConfig"] = {
            "OnFailure": {"Destination": {"Fn::GetAtt": ["RejectsQueue", "Arn"]}},
        }
        self.props(template, "StreamEnrichmentActivityEventSource")["ScalingConfig"] = {"MaximumConcurrency": 5}
        problems = check_sam(self.manifest, template)
        self.assertFinds(problems, "EventRouterIngestEventSource", 'StartingPosition is "LATEST"', "wants null")
        self.assertFinds(problems, "EventRouterIngestEventSource", "DestinationConfig", "on_failure_queue wants null")
        self.assertFinds(problems, "StreamEnrichmentActivityEventSource", "ScalingConfig", "maximum_concurrency wants null")

    def test_manifest_stream_source_change_not_followed(self) -> None:
        manifest = copy.deepcopy(self.manifest)
        source = manifest["functions"]["stream-enrichment"]["event_sources"][0]
        source["maximum_retry_attempts"] = 3
        del source["on_failure_queue"]
        problems = check_sam(manifest, self.template)
        self.assertFinds(problems, "StreamEnrichmentActivityEventSource", "MaximumRetryAttempts is 10", "wants 3")
        self.assertFinds(problems, "StreamEnrichmentActivityEventSource", "DestinationConfig", "wants null")

    def test_missing_stream_event_source(self) -> None:
        template = self.sam()
        del template["Resources"]["StreamEnrichmentActivityEventSource"]
        self.assertFinds(
            check_sam(self.manifest, template), "StreamEnrichmentActivityEventSource: missing",
            "event source of function stream-enrichment on stream activity",
        )

    def test_stream_enrichment_role_without_the_on_failure_queue(self) -> None:
        template = self.sam()
        statements = self.props(template, "StreamEnrichmentRole")["Policies"][0]["PolicyDocument"]["Statement"]
        statements[:] = [statement for statement in statements if statement.get("Sid") != "EnrichmentFailuresQueue"]
        self.statement(template, "StreamEnrichmentRole", "ActivityStream")["Action"].append("kinesis:PutRecords")
        problems = check_sam(self.manifest, template)
        self.assertFinds(problems, "StreamEnrichmentRole", "does not grant sqs:SendMessage on ${EnrichmentFailuresQueue.Arn}")
        self.assertFinds(problems, "StreamEnrichmentRole", "grants kinesis:PutRecords on ${ActivityStream.Arn}")

    def test_new_tables_stream_queue_and_environment(self) -> None:
        template = self.sam()
        self.props(template, "ProfilesTable")["KeySchema"].append({"AttributeName": "at", "KeyType": "RANGE"})
        self.props(template, "AggregatesTable")["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] = False
        self.props(template, "EnrichedStream")["RetentionPeriodHours"] = 48
        self.props(template, "EnrichmentFailuresQueue")["MessageRetentionPeriod"] = 345600
        variables = self.props(template, "StreamEnrichmentFunction")["Environment"]["Variables"]
        variables["PROFILE_CACHE_SIZE"] = "100"
        variables["ENRICHED_STREAM"] = {"Ref": "ActivityStream"}
        problems = check_sam(self.manifest, template)
        self.assertFinds(problems, "ProfilesTable (table profiles)", "KeySchema", "tables.profiles.partition_key/sort_key")
        self.assertFinds(problems, "AggregatesTable (table aggregates)", "PointInTimeRecoverySpecification", "point_in_time_recovery")
        self.assertFinds(problems, "EnrichedStream (stream enriched)", "RetentionPeriodHours is 48", "wants 24")
        self.assertFinds(problems, "EnrichmentFailuresQueue (queue enrichment-failures)", "MessageRetentionPeriod is 345600", "wants 1209600")
        self.assertFinds(problems, "StreamEnrichmentFunction", 'Environment PROFILE_CACHE_SIZE is "100"', '"10000"')
        self.assertFinds(problems, "StreamEnrichmentFunction", "Environment ENRICHED_STREAM", '{"Ref": "EnrichedStream"}')

    def test_wrong_or_missing_time_to_live(self) -> None:
        template = self.sam()
        self.props(template, "FeaturesTable")["TimeToLiveSpecification"]["AttributeName"] = "ttl"
        self.assertFinds(
            check_sam(self.manifest, template), "FeaturesTable (table features)", "TimeToLiveSpecification",
            '"AttributeName": "ttl"', "tables.features.time_to_live_attribute", '"AttributeName": "expiresAt"',
        )
        template = self.sam()
        self.props(template, "FeaturesTable")["TimeToLiveSpecification"]["Enabled"] = False
        self.assertFinds(
            check_sam(self.manifest, template), "FeaturesTable", "TimeToLiveSpecification", '"Enabled": false',
            '"Enabled": true',
        )
        template = self.sam()
        del self.props(template, "FeaturesTable")["TimeToLiveSpecification"]
        self.assertFinds(
            check_sam(self.manifest, template), "FeaturesTable", "TimeToLiveSpecification is null",
            "tables.features.time_to_live_attribute",
        )

    def test_time_to_live_on_a_table_without_one(self) -> None:
        template = self.sam()
        self.props(template, "AggregatesTable")["TimeToLiveSpecification"] = {"AttributeName": "expiresAt", "Enabled": True}
        self.assertFinds(
            check_sam(self.manifest, template), "AggregatesTable (table aggregates)", "TimeToLiveSpecification",
            "tables.aggregates.time_to_live_attribute wants null",
        )

    def test_manifest_time_to_live_change_not_followed(self) -> None:
        manifest = copy.deepcopy(self.manifest)
        manifest["tables"]["features"]["time_to_live_attribute"] = "deleteAt"
        manifest["tables"]["profiles"]["time_to_live_attribute"] = "expiresAt"
        problems = check_sam(manifest, self.template)
        self.assertFinds(problems, "FeaturesTable", "TimeToLiveSpecification", '"AttributeName": "deleteAt"')
        self.assertFinds(problems, "ProfilesTable", "TimeToLiveSpecification is null", '"AttributeName": "expiresAt"')
        manifest = copy.deepcopy(self.manifest)
        del manifest["tables"]["features"]["time_to_live_attribute"]
        self.assertFinds(check_sam(manifest, self.template), "FeaturesTable", "TimeToLiveSpecification", "wants null")

    def test_new_function_queue_and_event_source(self) -> None:
        template = self.sam()
        self.props(template, "FeatureUpdatesEnrichedEventSource")["EventSourceArn"] = {"Fn::GetAtt": ["ActivityStream", "Arn"]}
        self.props(template, "FeatureUpdatesEnrichedEventSource")["DestinationConfig"]["OnFailure"]["Destination"] = {
            "Fn::GetAtt": ["EnrichmentFailuresQueue", "Arn"],
        }
        self.statement(template, "FeatureUpdatesRole", "FeaturesTable")["Action"].remove("dynamodb:PutItem")
        self.props(template, "FeatureFailuresQueue")["MessageRetentionPeriod"] = 345600
        self.props(template, "FeatureUpdatesFunction")["Environment"]["Variables"]["FEATURES_TABLE"] = {"Ref": "AggregatesTable"}
        problems = check_sam(self.manifest, template)
        where = "FeatureUpdatesEnrichedEventSource (function feature-updates, stream enriched)"
        self.assertFinds(problems, where, "EventSourceArn", "${EnrichedStream.Arn}")
        self.assertFinds(problems, where, "DestinationConfig", "${FeatureFailuresQueue.Arn}")
        self.assertFinds(problems, "FeatureUpdatesRole", "does not grant dynamodb:PutItem on ${FeaturesTable.Arn}")
        self.assertFinds(problems, "FeatureFailuresQueue (queue feature-failures)", "MessageRetentionPeriod is 345600")
        self.assertFinds(problems, "FeatureUpdatesFunction", "Environment FEATURES_TABLE", '{"Ref": "FeaturesTable"}')

    def test_changed_pattern(self) -> None:
        template = self.sam()
        self.props(template, "ToIngestRule")["EventPattern"] = {"detail-type": ["user_activity"]}
        self.assertFinds(check_sam(self.manifest, template), "ToIngestRule", "EventPattern", "order_placed")

    def test_pattern_as_a_json_string_is_compared_as_data(self) -> None:
        template = self.sam()
        pattern = self.manifest["event_buses"]["events"]["rules"]["to-ingest"]["pattern"]
        self.props(template, "ToIngestRule")["EventPattern"] = json.dumps(pattern, indent=2)
        self.assertNoProblems(check_sam_event_buses(self.manifest, template))

    def test_rule_targets_another_queue(self) -> None:
        template = self.sam()
        self.props(template, "ToIngestRule")["Targets"][0]["Arn"] = {"Fn::GetAtt": ["RejectsQueue", "Arn"]}
        self.assertFinds(check_sam(self.manifest, template), "ToIngestRule", "Targets", "${IngestQueue.Arn}")

    def test_rule_on_the_default_bus(self) -> None:
        template = self.sam()
        del self.props(template, "ToIngestRule")["EventBusName"]
        self.assertFinds(check_sam(self.manifest, template), "ToIngestRule", "EventBusName is null", '{"Ref": "EventsEventBus"}')

    def test_changed_max_receive_count(self) -> None:
        template = self.sam()
        self.props(template, "IngestQueue")["RedrivePolicy"]["maxReceiveCount"] = 3
        self.assertFinds(
            check_sam(self.manifest, template), "IngestQueue (queue ingest)", "RedrivePolicy", '"maxReceiveCount": 3',
            "queues.ingest.dead_letter",
        )

    def test_redrive_to_another_queue_and_open_redrive_allow(self) -> None:
        template = self.sam()
        self.props(template, "IngestQueue")["RedrivePolicy"]["deadLetterTargetArn"] = {"Fn::GetAtt": ["RejectsQueue", "Arn"]}
        self.props(template, "IngestDlqQueue")["RedriveAllowPolicy"] = {"redrivePermission": "allowAll"}
        problems = check_sam(self.manifest, template)
        self.assertFinds(problems, "IngestQueue", "RedrivePolicy", "${IngestDlqQueue.Arn}")
        self.assertFinds(problems, "IngestDlqQueue", "RedriveAllowPolicy", "byQueue")

    def test_queue_without_sse_or_fifo(self) -> None:
        template = self.sam()
        self.props(template, "RejectsQueue")["SqsManagedSseEnabled"] = False
        del self.props(template, "OrdersQueue")["FifoQueue"]
        self.props(template, "OrdersQueue")["ContentBasedDeduplication"] = True
        problems = check_sam(self.manifest, template)
        self.assertFinds(problems, "RejectsQueue", "SqsManagedSseEnabled is false")
        self.assertFinds(problems, "OrdersQueue", "FifoQueue is null", "queues.orders.fifo")
        self.assertFinds(problems, "OrdersQueue", "ContentBasedDeduplication is true")

    def test_changed_visibility_timeout_and_extra_queue_setting(self) -> None:
        template = self.sam()
        self.props(template, "IngestQueue")["VisibilityTimeout"] = 30
        self.props(template, "IngestQueue")["DelaySeconds"] = 5
        problems = check_sam(self.manifest, template)
        self.assertFinds(problems, "IngestQueue", "VisibilityTimeout is 30", "wants 180")
        self.assertFinds(problems, "IngestQueue", "DelaySeconds is set")

    def test_stream_unencrypted_or_on_demand(self) -> None:
        template = self.sam()
        del self.props(template, "ActivityStream")["StreamEncryption"]
        self.props(template, "ActivityStream")["StreamModeDetails"] = {"StreamMode": "ON_DEMAND"}
        problems = check_sam(self.manifest, template)
        self.assertFinds(problems, "ActivityStream", "StreamEncryption is null", "alias/aws/kinesis")
        self.assertFinds(problems, "ActivityStream", "StreamModeDetails", "PROVISIONED")

    def test_missing_queue_policy_condition(self) -> None:
        template = self.sam()
        del self.queue_policy_statement(template)["Condition"]
        problems = check_sam(self.manifest, template)
        self.assertFinds(problems, "IngestQueuePolicy", "Condition is null", "aws:SourceArn")
        self.assertFinds(problems, "IngestQueuePolicy", "no statement lets rule to-ingest")

    def test_queue_policy_condition_on_another_rule_or_key(self) -> None:
        template = self.sam()
        self.queue_policy_statement(template)["Condition"] = {"ArnLike": {"aws:SourceArn": "*"}}
        self.assertFinds(check_sam(self.manifest, template), "IngestQueuePolicy", "ArnLike")
        template = self.sam()
        self.queue_policy_statement(template)["Condition"]["ArnEquals"]["aws:SourceArn"] = {"Fn::GetAtt": ["EventsEventBus", "Arn"]}
        self.assertFinds(check_sam(self.manifest, template), "IngestQueuePolicy", "lets ${EventsEventBus.Arn} send")

    def test_queue_policy_grants_more(self) -> None:
        template = self.sam()
        statement = self.queue_policy_statement(template)
        statement["Action"] = ["sqs:SendMessage", "sqs:ReceiveMessage"]
        statement["Principal"] = {"AWS": "*"}
        problems = check_sam(self.manifest, template)
        self.assertFinds(problems, "IngestQueuePolicy", "grants sqs:ReceiveMessage")
        self.assertFinds(problems, "IngestQueuePolicy", "Principal", "events.amazonaws.com")

    def test_missing_queue_policy(self) -> None:
        template = self.sam()
        del template["Resources"]["IngestQueuePolicy"]
        self.assertFinds(check_sam(self.manifest, template), "IngestQueuePolicy: missing", "target of rule to-ingest")

    def test_extra_sqs_action(self) -> None:
        template = self.sam()
        self.statement(template, "EventRouterRole", "IngestQueue")["Action"].append("sqs:SendMessage")
        self.assertFinds(check_sam(self.manifest, template), "EventRouterRole", "grants sqs:SendMessage on ${IngestQueue.Arn}")

    def test_stream_permission_on_another_resource(self) -> None:
        template = self.sam()
        self.statement(template, "EventRouterRole", "ActivityStream")["Resource"] = {"Fn::Sub": "${ActivityStream.Arn}/*"}
        problems = check_sam(self.manifest, template)
        self.assertFinds(problems, "EventRouterRole", "does not grant kinesis:PutRecords on ${ActivityStream.Arn}")
        self.assertFinds(problems, "EventRouterRole", "grants kinesis:PutRecords on ${ActivityStream.Arn}/*")

    def test_environment_names_another_queue_or_stream(self) -> None:
        template = self.sam()
        variables = self.props(template, "EventRouterFunction")["Environment"]["Variables"]
        variables["ORDERS_QUEUE_URL"] = {"Ref": "RejectsQueue"}
        variables["ACTIVITY_STREAM"] = {"Fn::GetAtt": ["ActivityStream", "Arn"]}
        problems = check_sam(self.manifest, template)
        self.assertFinds(problems, "Environment ORDERS_QUEUE_URL", '{"Ref": "OrdersQueue"}')
        self.assertFinds(problems, "Environment ACTIVITY_STREAM", '{"Ref": "ActivityStream"}')

    def test_missing_tags_on_rule_and_event_source(self) -> None:
        template = self.sam()
        del self.props(template, "ToIngestRule")["Tags"]
        tags = self.props(template, "EventRouterIngestEventSource")["Tags"]
        tags[:] = [tag for tag in tags if tag["Key"] != "project"]
        problems = check_sam(self.manifest, template)
        self.assertFinds(problems, "ToIngestRule", "cost-allocation tag cost_center is missing")
        self.assertFinds(problems, "EventRouterIngestEventSource", "cost-allocation tag project is missing")
        self.assertFinds(check_sam_translated(self.manifest, template), "ToIngestRule (AWS::Events::Rule", "missing")

    def test_missing_output(self) -> None:
        template = self.sam()
        del template["Outputs"]["IngestDlqQueueUrl"]
        self.assertFinds(check_sam(self.manifest, template), "Outputs.IngestDlqQueueUrl", '{"Ref": "IngestDlqQueue"}')

    def test_colliding_logical_ids(self) -> None:
        manifest = copy.deepcopy(self.manifest)
        manifest["queues"]["ingest_dlq"] = manifest["queues"]["ingest-dlq"]
        self.assertFinds(check_sam_accounted_for(manifest, self.template), "IngestDlqQueue: stands for both queue ingest-dlq and queue ingest_dlq")

    # ------------------------------------------------ model endpoint and inference

    def test_changed_serverless_settings_and_network_isolation(self) -> None:
        template = self.sam()
        variant = self.props(template, "ModelEndpointConfig")["ProductionVariants"][0]
        variant["ServerlessConfig"]["MemorySizeInMB"] = 2048
        self.props(template, "ModelEndpointModel")["EnableNetworkIsolation"] = True
        problems = check_sam(self.manifest, template)
        self.assertFinds(
            problems, "ModelEndpointConfig (model endpoint model)", "ProductionVariants", '"MemorySizeInMB": 2048',
            "model_endpoints.model.serverless", '"MemorySizeInMB": 1024',
        )
        self.assertFinds(
            problems, "ModelEndpointModel (model endpoint model)", "EnableNetworkIsolation is true", "network_isolation wants false",
        )

    def test_manifest_endpoint_change_not_followed(self) -> None:
        manifest = copy.deepcopy(self.manifest)
        manifest["model_endpoints"]["model"]["serverless"]["max_concurrency"] = 10
        manifest["model_endpoints"]["model"]["network_isolation"] = True
        problems = check_sam(manifest, self.template)
        self.assertFinds(problems, "ModelEndpointConfig", "ProductionVariants", '"MaxConcurrency": 10')
        self.assertFinds(problems, "ModelEndpointModel", "EnableNetworkIsolation is false", "wants true")

    def test_endpoint_configuration_with_an_instance_or_a_key(self) -> None:
        template = self.sam()
        props = self.props(template, "ModelEndpointConfig")
        props["ProductionVariants"][0]["InstanceType"] = "ml.t2.medium"
        props["KmsKeyId"] = "alias/aws/sagemaker"
        props["EndpointConfigName"] = {"Fn::Sub": "${AWS::StackName}-model"}
        problems = check_sam(self.manifest, template)
        self.assertFinds(problems, "ModelEndpointConfig", "ProductionVariants", "ml.t2.medium")
        self.assertFinds(problems, "ModelEndpointConfig", "KmsKeyId is set")
        self.assertFinds(problems, "ModelEndpointConfig", "EndpointConfigName is set", "forces a replacement")

    def test_model_with_another_image_role_or_a_name(self) -> None:
        template = self.sam()
        props = self.props(template, "ModelEndpointModel")
        props["PrimaryContainer"] = {"Image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/purchase-model:1"}
        props["ExecutionRoleArn"] = {"Fn::GetAtt": ["InferenceRole", "Arn"]}
        props["ModelName"] = {"Fn::Sub": "${AWS::StackName}-model"}
        problems = check_sam(self.manifest, template)
        self.assertFinds(problems, "ModelEndpointModel", "PrimaryContainer", "image_parameter", '{"Image": {"Ref": "ModelImageUri"}}')
        self.assertFinds(problems, "ModelEndpointModel", "ExecutionRoleArn", "${ModelEndpointRole.Arn}")
        self.assertFinds(problems, "ModelEndpointModel", "ModelName is set")

    def test_endpoint_name_and_configuration(self) -> None:
        template = self.sam()
        props = self.props(template, "ModelEndpoint")
        props["EndpointName"] = "model"
        props["EndpointConfigName"] = "hand-made-config"
        problems = check_sam(self.manifest, template)
        self.assertFinds(problems, "ModelEndpoint (model endpoint model)", 'EndpointName is "model"', "${AWS::StackName}-model")
        self.assertFinds(
            problems, "ModelEndpoint (model endpoint model)", "EndpointConfigName", "${ModelEndpointConfig.EndpointConfigName}",
        )

    def test_image_parameter_with_a_default_or_without_pattern(self) -> None:
        template = self.sam()
        parameter = template["Parameters"]["ModelImageUri"]
        parameter["Default"] = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/purchase-model:latest"
        del parameter["AllowedPattern"]
        problems = check_sam(self.manifest, template)
        self.assertFinds(problems, "Parameters.ModelImageUri", "has a Default")
        self.assertFinds(problems, "Parameters.ModelImageUri", "AllowedPattern is null")
        del template["Parameters"]["ModelImageUri"]
        self.assertFinds(check_sam(self.manifest, template), "Parameters.ModelImageUri", "missing", "image_parameter")

    def test_sagemaker_role_pulls_from_every_repository(self) -> None:
        template = self.sam()
        self.statement(template, "ModelEndpointRole", "EcrImage")["Resource"] = "*"
        problems = check_sam(self.manifest, template)
        self.assertFinds(problems, "ModelEndpointRole", "grants ecr:BatchGetImage on *")
        self.assertFinds(problems, "ModelEndpointRole", "does not grant ecr:BatchGetImage on", "repository/${Repository}")

    def test_sagemaker_role_metrics_without_condition_and_extra_action(self) -> None:
        template = self.sam()
        del self.statement(template, "ModelEndpointRole", "Metrics")["Condition"]
        self.statement(template, "ModelEndpointRole", "Logs")["Action"].append("logs:DeleteLogGroup")
        problems = check_sam(self.manifest, template)
        self.assertFinds(problems, "ModelEndpointRole", "grants cloudwatch:PutMetricData on *, which")
        self.assertFinds(problems, "ModelEndpointRole", "does not grant cloudwatch:PutMetricData on * if", "cloudwatch:namespace")
        self.assertFinds(problems, "ModelEndpointRole", "grants logs:DeleteLogGroup on", "/aws/sagemaker/Endpoints/${AWS::StackName}-model")

    def test_sagemaker_role_trusted_by_lambda(self) -> None:
        template = self.sam()
        statement = self.props(template, "ModelEndpointRole")["AssumeRolePolicyDocument"]["Statement"][0]
        statement["Principal"]["Service"] = "lambda.amazonaws.com"
        self.assertFinds(check_sam(self.manifest, template), "ModelEndpointRole", "only sagemaker.amazonaws.com")

    def test_invoke_permission_not_on_the_endpoint_arn(self) -> None:
        template = self.sam()
        statement = self.statement(template, "InferenceRole", "ModelEndpoint")
        # Spelled out from the name: SageMaker's ARN has the name in lower case, a stack name may not.
        statement["Resource"] = {
            "Fn::Sub": "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:endpoint/${AWS::StackName}-model",
        }
        problems = check_sam(self.manifest, template)
        self.assertFinds(problems, "InferenceRole", "grants sagemaker:InvokeEndpoint on arn:")
        self.assertFinds(problems, "InferenceRole", "does not grant sagemaker:InvokeEndpoint on ${ModelEndpoint}")

    def test_endpoint_environment_is_the_arn(self) -> None:
        template = self.sam()
        self.props(template, "InferenceFunction")["Environment"]["Variables"]["MODEL_ENDPOINT_NAME"] = {"Ref": "ModelEndpoint"}
        self.assertFinds(
            check_sam(self.manifest, template), "InferenceFunction", "Environment MODEL_ENDPOINT_NAME", '{"Ref": "ModelEndpoint"}',
            '{"Fn::GetAtt": ["ModelEndpoint", "EndpointName"]}',
        )
        template = self.sam()
        # The same reference in the other spelling is no drift.
        variables = self.props(template, "InferenceFunction")["Environment"]["Variables"]
        variables["MODEL_ENDPOINT_NAME"] = {"Fn::GetAtt": "ModelEndpoint.EndpointName"}
        self.assertNoProblems(check_sam_functions(self.manifest, template))

    def test_missing_predict_route_endpoint_tags_and_output(self) -> None:
        template = self.sam()
        del self.props(template, "InferenceFunction")["Events"]["AnyPredictBatch"]
        tags = self.props(template, "ModelEndpoint")["Tags"]
        tags[:] = [tag for tag in tags if tag["Key"] != "environment"]
        del self.props(template, "ModelEndpointConfig")["Tags"]
        del template["Outputs"]["ModelEndpointName"]
        problems = check_sam(self.manifest, template)
        self.assertFinds(problems, "InferenceFunction", "ANY /predict/batch")
        self.assertFinds(problems, "ModelEndpoint: cost-allocation tag environment is missing")
        self.assertFinds(problems, "ModelEndpointConfig: cost-allocation tag cost_center is missing")
        self.assertFinds(problems, "Outputs.ModelEndpointName", "EndpointName")
        translated = check_sam_translated(self.manifest, template)
        self.assertFinds(translated, "ANY /predict/batch", "missing")
        self.assertFinds(translated, "ModelEndpoint (AWS::SageMaker::Endpoint", "environment is missing")

    def test_missing_model_endpoint_resources(self) -> None:
        template = self.sam()
        del template["Resources"]["ModelEndpointRole"]
        del template["Resources"]["ModelEndpointModel"]
        problems = check_sam_accounted_for(self.manifest, template)
        self.assertFinds(problems, "ModelEndpointRole: missing", "model endpoint model", "AWS::IAM::Role")
        self.assertFinds(problems, "ModelEndpointModel: missing", "AWS::SageMaker::Model")

    def test_terraform_endpoint_settings_written_out(self) -> None:
        module = copy.deepcopy(self.module)
        config = module["resource"][("aws_sagemaker_endpoint_configuration", "this")]
        config["production_variants"][0]["serverless_config"][0]["memory_size_in_mb"] = [1024]
        config["kms_key_arn"] = ["${var.kms_key_arn}"]
        model = module["resource"][("aws_sagemaker_model", "this")]
        model["enable_network_isolation"] = [True]
        del model["lifecycle"]
        module["resource"][("aws_sagemaker_endpoint", "this")]["name"] = ["${var.name_prefix}-model"]
        problems = check_terraform(self.manifest, module)
        self.assertFinds(
            problems, "aws_sagemaker_endpoint_configuration.this", "memory_size_in_mb is 1024", "each.value.serverless.memory_size_mb",
        )
        self.assertFinds(problems, "aws_sagemaker_endpoint_configuration.this", "kms_key_arn is set")
        self.assertFinds(problems, "aws_sagemaker_model.this", "enable_network_isolation is true", "each.value.network_isolation")
        self.assertFinds(problems, "aws_sagemaker_model.this", "lifecycle.create_before_destroy is null")
        self.assertFinds(problems, "aws_sagemaker_endpoint.this", "manifest value 'model' is written out")
        self.assertFinds(problems, "aws_sagemaker_endpoint.this", "name is", '"${var.name_prefix}-${each.key}"')

    def test_terraform_model_image_not_the_parameter(self) -> None:
        module = copy.deepcopy(self.module)
        module["resource"][("aws_sagemaker_model", "this")]["primary_container"][0]["image"] = ["${var.model_image_uri}"]
        module["locals"]["model_images"] = [{"ModelImageUri": "${var.image}"}]
        problems = check_terraform(self.manifest, module)
        self.assertFinds(problems, "aws_sagemaker_model.this", "primary_container.image", "local.model_images, each.value.image_parameter")
        self.assertFinds(problems, "locals.model_images: ModelImageUri", "must be var.model_image_uri")

    def test_terraform_image_variable_with_default_or_without_validation(self) -> None:
        module = copy.deepcopy(self.module)
        variable = module["variable"]["model_image_uri"]
        variable["default"] = ["123456789012.dkr.ecr.eu-west-1.amazonaws.com/purchase-model:latest"]
        del variable["validation"]
        problems = check_terraform(self.manifest, module)
        self.assertFinds(problems, "variable model_image_uri", "has a default")
        self.assertFinds(problems, "variable model_image_uri", "validation must match var.model_image_uri")
        del module["variable"]["model_image_uri"]
        self.assertFinds(check_terraform(self.manifest, module), "variable model_image_uri", "missing")

    def test_terraform_sagemaker_role_pulls_from_every_repository(self) -> None:
        module = copy.deepcopy(self.module)
        body = module["resource"][("aws_iam_role_policy", "model_endpoint")]
        body["policy"] = [body["policy"][0].replace(TF_IMAGE_REPOSITORY_ARN, "*")]
        problems = check_terraform(self.manifest, module)
        self.assertFinds(problems, "aws_iam_role_policy.model_endpoint", "grants ecr:BatchGetImage on *")
        self.assertFinds(
            problems, "aws_iam_role_policy.model_endpoint", "does not grant ecr:BatchGetImage on", "local.model_image_repositories",
        )

    def test_terraform_sagemaker_role_extra_action_or_metrics_unconditioned(self) -> None:
        module = copy.deepcopy(self.module)
        body = module["resource"][("aws_iam_role_policy", "model_endpoint")]
        policy = body["policy"][0].replace("'logs:PutLogEvents'", "'logs:PutLogEvents', 'logs:DeleteLogGroup'")
        policy = policy.replace(", 'Condition': {'StringEquals': {'cloudwatch:namespace': '/aws/sagemaker/Endpoints'}}", "")
        body["policy"] = [policy]
        problems = check_terraform(self.manifest, module)
        self.assertFinds(problems, "aws_iam_role_policy.model_endpoint", "literal action 'logs:DeleteLogGroup'")
        self.assertFinds(problems, "aws_iam_role_policy.model_endpoint", "grants logs:DeleteLogGroup on")
        self.assertFinds(problems, "aws_iam_role_policy.model_endpoint", "grants cloudwatch:PutMetricData on *, which")

    def test_terraform_function_policy_and_environment_without_endpoints(self) -> None:
        module = copy.deepcopy(self.module)
        policy = module["resource"][("aws_iam_role_policy", "function")]
        endpoint_arn = "aws_sagemaker_endpoint.this[permission.endpoint].arn"
        policy["policy"] = [policy["policy"][0].replace(endpoint_arn, '"arn:aws:sagemaker:*:*:endpoint/*"')]
        function = module["resource"][("aws_lambda_function", "this")]
        variables = function["environment"][0]["variables"][0]
        endpoint_name = "aws_sagemaker_endpoint.this[value.endpoint].name"
        function["environment"] = [{"variables": [variables.replace(endpoint_name, "aws_sagemaker_endpoint.this[value.endpoint].arn")]}]
        problems = check_terraform(self.manifest, module)
        self.assertFinds(problems, "aws_iam_role_policy.function", "does not bind", "aws_sagemaker_endpoint.this[permission.endpoint].arn")
        self.assertFinds(problems, "aws_lambda_function.this", "environment.variables", "does not bind", endpoint_name)

    def test_terraform_missing_sagemaker_resources(self) -> None:
        module = copy.deepcopy(self.module)
        del module["resource"][("aws_sagemaker_endpoint", "this")]
        del module["resource"][("aws_iam_role", "model_endpoint")]
        problems = check_terraform(self.manifest, module)
        self.assertFinds(problems, "aws_sagemaker_endpoint: missing")
        self.assertFinds(problems, "aws_iam_role: none iterates local.model_endpoints")

    def test_terraform_example_without_the_image(self) -> None:
        example = copy.deepcopy(self.example)
        del next(iter(example["module"].values()))["model_image_uri"]
        del example["output"]["model_endpoint_name"]
        self.assertFinds(check_terraform_example_inputs(self.manifest, self.module, example), "does not pass model_image_uri")
        self.assertFinds(
            check_terraform_example_outputs(self.manifest, self.module, example), "output model_endpoint_name",
            'module.stack.model_endpoint_names[\\"model\\"]',
        )

    def test_terraform_event_source_literal(self) -> None:
        module = copy.deepcopy(self.module)
        body = module["resource"][("aws_lambda_event_source_mapping", "this")]
        body["batch_size"] = [100]
        body["function_response_types"] = [["ReportBatchItemFailures"]]
        problems = check_terraform(self.manifest, module)
        self.assertFinds(problems, "aws_lambda_event_source_mapping.this", "batch_size is 100", "each.value.batch_size")
        self.assertFinds(problems, "aws_lambda_event_source_mapping.this", "function_response_types", "each.value.report_batch_item_failures")

    def test_terraform_event_source_without_scaling_config(self) -> None:
        module = copy.deepcopy(self.module)
        del module["resource"][("aws_lambda_event_source_mapping", "this")]["dynamic"]
        self.assertFinds(check_terraform(self.manifest, module), "aws_lambda_event_source_mapping.this", 'no dynamic "scaling_config"')

    def test_terraform_stream_source_settings_written_out(self) -> None:
        module = copy.deepcopy(self.module)
        body = module["resource"][("aws_lambda_event_source_mapping", "this")]
        body["starting_position"] = ["TRIM_HORIZON"]
        body["parallelization_factor"] = [1]
        del body["bisect_batch_on_function_error"]
        problems = check_terraform(self.manifest, module)
        self.assertFinds(problems, "aws_lambda_event_source_mapping.this", "starting_position is", "does not bind each.value.starting_position")
        self.assertFinds(problems, "aws_lambda_event_source_mapping.this", "manifest value 'TRIM_HORIZON' is written out")
        self.assertFinds(problems, "aws_lambda_event_source_mapping.this", "parallelization_factor is 1", "each.value.parallelization_factor")
        self.assertFinds(problems, "aws_lambda_event_source_mapping.this", "bisect_batch_on_function_error is not set")

    def test_terraform_event_source_without_destination_config_or_streams(self) -> None:
        module = copy.deepcopy(self.module)
        body = module["resource"][("aws_lambda_event_source_mapping", "this")]
        body["dynamic"] = [block for block in body["dynamic"] if "destination_config" not in block]
        body["event_source_arn"] = ["${aws_sqs_queue.this[each.value.queue].arn}"]
        problems = check_terraform(self.manifest, module)
        self.assertFinds(problems, "aws_lambda_event_source_mapping.this", 'no dynamic "destination_config"')
        self.assertFinds(problems, "aws_lambda_event_source_mapping.this", "event_source_arn", "does not bind each.value.stream")
        self.assertFinds(problems, "aws_lambda_event_source_mapping.this", "event_source_arn must refer to the manifest's aws_kinesis_stream")

    def test_terraform_on_failure_destination_not_the_manifest_queue(self) -> None:
        module = copy.deepcopy(self.module)
        body = module["resource"][("aws_lambda_event_source_mapping", "this")]
        block = next(block for block in body["dynamic"] if "destination_config" in block)["destination_config"]
        block["content"] = [{"on_failure": [{"destination_arn": '${aws_sqs_queue.this["enrichment-failures"].arn}'}]}]
        problems = check_terraform(self.manifest, module)
        self.assertFinds(problems, "dynamic destination_config content", "on_failure.destination_arn", "does not bind destination_config.value")
        self.assertFinds(problems, "aws_lambda_event_source_mapping.this", "manifest value 'enrichment-failures' is written out")

    def test_terraform_time_to_live_missing_or_written_out(self) -> None:
        module = copy.deepcopy(self.module)
        body = module["resource"][("aws_dynamodb_table", "this")]
        body["dynamic"] = [block for block in body["dynamic"] if "ttl" not in block]
        self.assertFinds(check_terraform(self.manifest, module), "aws_dynamodb_table.this", 'no dynamic "ttl"')
        # A static block: the same TTL on every table, whatever the manifest says.
        body["ttl"] = [{"attribute_name": ["expiresAt"], "enabled": [True]}]
        problems = check_terraform(self.manifest, module)
        self.assertFinds(problems, "aws_dynamodb_table.this", "ttl is set")
        self.assertFinds(problems, "aws_dynamodb_table.this", "manifest value 'expiresAt' is written out")

    def test_terraform_time_to_live_not_bound_or_disabled(self) -> None:
        module = copy.deepcopy(self.module)
        block = tf_dynamic(module["resource"][("aws_dynamodb_table", "this")], "ttl")
        block["for_each"] = ['${try(each.value.point_in_time_recovery, false) ? ["expiresAt"] : []}']
        block["content"] = [{"attribute_name": ["expiresAt"], "enabled": [False]}]
        problems = check_terraform(self.manifest, module)
        self.assertFinds(problems, "aws_dynamodb_table.this dynamic ttl", "for_each", "does not bind each.value.time_to_live_attribute")
        self.assertFinds(problems, "dynamic ttl content", "attribute_name", "does not bind ttl.value")
        self.assertFinds(problems, "dynamic ttl content", "enabled is false, must be true")
        self.assertFinds(problems, "aws_dynamodb_table.this", "manifest value 'expiresAt' is written out")

    def test_terraform_event_sources_keyed_by_queue_only(self) -> None:
        module = copy.deepcopy(self.module)
        value = module["locals"]["event_sources"][0]
        module["locals"]["event_sources"] = [value.replace("try(source.queue, source.stream)", "source.queue")]
        self.assertFinds(check_terraform(self.manifest, module), "locals.event_sources", "source.stream")

    def test_terraform_queue_policy_without_condition(self) -> None:
        module = copy.deepcopy(self.module)
        body = module["resource"][("aws_sqs_queue_policy", "event_rules")]
        body["policy"] = [re.sub(r", 'Condition': \{.*\}\}\}", "}", body["policy"][0])]
        self.assertNotIn("Condition", body["policy"][0])
        self.assertFinds(check_terraform(self.manifest, module), "aws_sqs_queue_policy.event_rules", "does not bind", "aws:SourceArn")

    def test_terraform_queue_policy_extra_action(self) -> None:
        module = copy.deepcopy(self.module)
        body = module["resource"][("aws_sqs_queue_policy", "event_rules")]
        body["policy"] = [body["policy"][0].replace("'Action': 'sqs:SendMessage'", "'Action': ['sqs:SendMessage', 'sqs:ReceiveMessage']")]
        self.assertFinds(check_terraform(self.manifest, module), "aws_sqs_queue_policy.event_rules", "literal action 'sqs:ReceiveMessage'")

    def test_terraform_pattern_and_queue_settings_written_out(self) -> None:
        module = copy.deepcopy(self.module)
        module["resource"][("aws_cloudwatch_event_rule", "this")]["event_pattern"] = ['{"detail-type": ["user_activity"]}']
        module["resource"][("aws_sqs_queue", "this")]["sqs_managed_sse_enabled"] = [False]
        module["resource"][("aws_sqs_queue", "this")]["visibility_timeout_seconds"] = [180]
        problems = check_terraform(self.manifest, module)
        self.assertFinds(problems, "aws_cloudwatch_event_rule.this", "event_pattern is", "jsonencode(each.value.pattern)")
        self.assertFinds(problems, "aws_cloudwatch_event_rule.this", "manifest value 'user_activity' is written out")
        self.assertFinds(problems, "aws_sqs_queue.this", "sqs_managed_sse_enabled is false")
        self.assertFinds(problems, "aws_sqs_queue.this", "visibility_timeout_seconds is 180")

    def test_terraform_redrive_without_the_manifest_count(self) -> None:
        module = copy.deepcopy(self.module)
        body = module["resource"][("aws_sqs_queue_redrive_policy", "this")]
        body["redrive_policy"] = [body["redrive_policy"][0].replace("${each.value.max_receive_count}", "5")]
        self.assertFinds(check_terraform(self.manifest, module), "aws_sqs_queue_redrive_policy.this", "does not bind each.value.max_receive_count")

    def test_terraform_queue_key_written_out(self) -> None:
        module = copy.deepcopy(self.module)
        module["resource"][("aws_cloudwatch_event_target", "this")]["arn"] = ['${aws_sqs_queue.this["ingest"].arn}']
        problems = check_terraform(self.manifest, module)
        self.assertFinds(problems, "aws_cloudwatch_event_target.this", "manifest value 'ingest' is written out")
        self.assertFinds(problems, "aws_cloudwatch_event_target.this", "arn is", "does not bind each.value.queue")

    def test_terraform_environment_without_queue_urls(self) -> None:
        module = copy.deepcopy(self.module)
        body = module["resource"][("aws_lambda_function", "this")]
        body["environment"] = [{"variables": [body["environment"][0]["variables"][0].replace("aws_sqs_queue.this[value.queue].url", "value.queue")]}]
        self.assertFinds(check_terraform(self.manifest, module), "aws_lambda_function.this", "environment.variables must refer to the manifest's aws_sqs_queue")

    def test_terraform_missing_tags_on_rule(self) -> None:
        module = copy.deepcopy(self.module)
        del module["resource"][("aws_cloudwatch_event_rule", "this")]["tags"]
        self.assertFinds(check_terraform(self.manifest, module), "aws_cloudwatch_event_rule.this", "must be local.tags")

    def test_terraform_missing_resource_kind(self) -> None:
        module = copy.deepcopy(self.module)
        del module["resource"][("aws_sqs_queue_policy", "event_rules")]
        self.assertFinds(check_terraform(self.manifest, module), "aws_sqs_queue_policy: missing")

    def test_terraform_example_output_for_a_removed_queue(self) -> None:
        manifest = copy.deepcopy(self.manifest)
        del manifest["queues"]["rejects"]
        manifest["queues"]["audit"] = manifest["queues"]["ingest-dlq"]
        problems = check_terraform_example_outputs(manifest, self.module, self.example)
        self.assertFinds(problems, "output rejects_queue_url", "names nothing in the manifest")
        self.assertFinds(problems, "output audit_queue_url", 'module.stack.queue_urls[\\"audit\\"]')

    def test_terraform_literal_instead_of_manifest_value(self) -> None:
        module = copy.deepcopy(self.module)
        module["resource"][("aws_lambda_function", "this")]["memory_size"] = [256]
        self.assertFinds(check_terraform(self.manifest, module), "aws_lambda_function.this", "memory_size is 256", "each.value.memory_mb")

    def test_terraform_resource_not_iterating_the_manifest(self) -> None:
        module = copy.deepcopy(self.module)
        module["resource"][("aws_dynamodb_table", "this")]["for_each"] = ['${toset(["tasks"])}']
        self.assertFinds(check_terraform(self.manifest, module), "aws_dynamodb_table.this", "must iterate local.stack.tables")

    def test_terraform_missing_tags(self) -> None:
        module = copy.deepcopy(self.module)
        del module["resource"][("aws_apigatewayv2_stage", "default")]["tags"]
        self.assertFinds(check_terraform(self.manifest, module), "aws_apigatewayv2_stage.default", "must be local.tags")

    def test_terraform_wildcard_action(self) -> None:
        module = copy.deepcopy(self.module)
        body = module["resource"][("aws_iam_role_policy", "function")]
        body["policy"] = [body["policy"][0].replace("logs:PutLogEvents", "logs:*")]
        self.assertFinds(check_terraform(self.manifest, module), "aws_iam_role_policy.function", "wildcard action 'logs:*'")

    def test_terraform_manifest_value_written_out(self) -> None:
        module = copy.deepcopy(self.module)
        module["resource"][("aws_dynamodb_table", "this")]["name"] = ["${var.name_prefix}-tasks"]
        module["resource"][("aws_lambda_function", "this")]["runtime"] = ["provided.al2023"]
        problems = check_terraform(self.manifest, module)
        self.assertFinds(problems, "aws_dynamodb_table.this", "manifest value 'tasks' is written out")
        self.assertFinds(problems, "aws_lambda_function.this", "manifest value 'provided.al2023' is written out")

    def test_terraform_manifest_not_read(self) -> None:
        module = copy.deepcopy(self.module)
        module["locals"]["stack"] = ['${jsondecode(file("stack.json"))}']
        self.assertFinds(check_terraform(self.manifest, module), "locals.stack")

    def test_terraform_tag_variable_drifts_from_manifest(self) -> None:
        manifest = copy.deepcopy(self.manifest)
        manifest["cost_allocation_tags"].append("owner")
        self.assertFinds(check_terraform(manifest, self.module), "variable cost_allocation_tags", "owner")

    # ------------------------------------------------ monitoring

    def topic_statement(self, template: dict[str, Any], sid: str) -> dict[str, Any]:
        statements = self.props(template, "AlarmsTopicPolicy")["PolicyDocument"]["Statement"]
        return next(statement for statement in statements if statement.get("Sid") == sid)

    def test_alarm_settings_changed(self) -> None:
        template = self.sam()
        props = self.props(template, "HttpApi5xxRateAlarm")
        props["Threshold"] = 0.5
        props["Statistic"] = "Sum"
        del self.props(template, "HttpApiLatencyP99Alarm")["ExtendedStatistic"]
        self.props(template, "HttpApiLatencyP99Alarm")["Statistic"] = "Maximum"
        self.props(template, "TodoApiErrorsAlarm")["Period"] = 60
        self.props(template, "ActivityIteratorAgeAlarm")["TreatMissingData"] = "breaching"
        problems = check_sam(self.manifest, template)
        self.assertFinds(problems, "HttpApi5xxRateAlarm (alarm http-api-5xx-rate)", "Threshold is 0.5", "wants 0.05")
        self.assertFinds(problems, "HttpApi5xxRateAlarm", 'Statistic is "Sum"', 'statistic wants "Average"')
        self.assertFinds(problems, "HttpApiLatencyP99Alarm", "ExtendedStatistic is null", 'wants "p99"')
        self.assertFinds(problems, "HttpApiLatencyP99Alarm", 'Statistic is "Maximum"', "wants null")
        self.assertFinds(
            problems, "TodoApiErrorsAlarm (alarm todo-api-errors)", "Period is 60", "monitoring.function_alarms.errors.period_seconds",
        )
        self.assertFinds(problems, "ActivityIteratorAgeAlarm", 'TreatMissingData is "breaching"', '"notBreaching"')

    def test_alarm_on_another_resource_or_namespace(self) -> None:
        template = self.sam()
        self.props(template, "IngestDlqMessagesAlarm")["Dimensions"][0]["Value"] = {"Fn::GetAtt": ["IngestQueue", "QueueName"]}
        self.props(template, "ModelErrorsAlarm")["Dimensions"].pop()
        self.props(template, "EnrichedIteratorAgeAlarm")["Dimensions"][0]["Value"] = {"Fn::Sub": "${AWS::StackName}-enriched"}
        self.props(template, "InferenceThrottlesAlarm")["Namespace"] = "RealtimePipeline"
        self.props(template, "HttpApi5xxRateAlarm")["Dimensions"][0]["Value"] = {"Ref": "HttpApiAccessLogGroup"}
        problems = check_sam(self.manifest, template)
        self.assertFinds(problems, "IngestDlqMessagesAlarm", "Dimensions", "${IngestQueue.QueueName}", "${IngestDlqQueue.QueueName}")
        self.assertFinds(problems, "ModelErrorsAlarm", "Dimensions", "VariantName")
        self.assertFinds(problems, "EnrichedIteratorAgeAlarm", "Dimensions", '"${EnrichedStream}"')
        self.assertFinds(problems, "InferenceThrottlesAlarm", 'Namespace is "RealtimePipeline"', "for function inference", '"AWS/Lambda"')
        self.assertFinds(problems, "HttpApi5xxRateAlarm", "Dimensions", "${HttpApi}")

    def test_alarm_without_its_actions_or_with_more(self) -> None:
        template = self.sam()
        del self.props(template, "RejectsMessagesAlarm")["OKActions"]
        self.props(template, "ModelClientErrorsAlarm")["AlarmActions"].append({"Ref": "RejectsQueue"})
        self.props(template, "FeatureUpdatesErrorsAlarm")["InsufficientDataActions"] = [{"Ref": "AlarmsTopic"}]
        problems = check_sam(self.manifest, template)
        self.assertFinds(problems, "RejectsMessagesAlarm", "OKActions is []", '["${AlarmsTopic}"]')
        self.assertFinds(problems, "ModelClientErrorsAlarm", "AlarmActions", "${RejectsQueue}")
        self.assertFinds(problems, "FeatureUpdatesErrorsAlarm", "InsufficientDataActions is set")

    def test_manifest_alarm_change_not_followed(self) -> None:
        manifest = copy.deepcopy(self.manifest)
        monitoring = manifest["monitoring"]
        monitoring["alarms"]["rejects-messages"]["threshold"] = 10
        monitoring["function_alarms"]["throttles"]["evaluation_periods"] = 2
        monitoring["function_alarms"]["duration"] = copy.deepcopy(monitoring["function_alarms"]["errors"])
        problems = check_sam(manifest, self.template)
        self.assertFinds(problems, "RejectsMessagesAlarm", "Threshold is 0.0", "wants 10.0")
        self.assertFinds(problems, "EventRouterThrottlesAlarm", "EvaluationPeriods is 1", "wants 2")
        self.assertFinds(problems, "TodoApiDurationAlarm: missing", "monitoring.function_alarms.duration of function todo-api")

    def test_alarm_topic_policy_too_open(self) -> None:
        template = self.sam()
        del self.topic_statement(template, "CloudWatchAlarms")["Condition"]["StringEquals"]
        self.topic_statement(template, "Budgets")["Action"] = ["sns:Publish", "sns:Subscribe"]
        self.topic_statement(template, "Budgets")["Condition"]["ArnLike"]["aws:SourceArn"] = "*"
        problems = check_sam(self.manifest, template)
        self.assertFinds(problems, "AlarmsTopicPolicy", "lets cloudwatch.amazonaws.com sns:Publish on ${AlarmsTopic} if", "which the alarms")
        self.assertFinds(problems, "AlarmsTopicPolicy", "does not let cloudwatch.amazonaws.com sns:Publish", "aws:SourceAccount")
        self.assertFinds(problems, "AlarmsTopicPolicy", "lets budgets.amazonaws.com sns:Subscribe")
        self.assertFinds(problems, "AlarmsTopicPolicy", "does not let budgets.amazonaws.com", "arn:${AWS::Partition}:budgets::${AWS::AccountId}:*")
        template = self.sam()
        self.topic_statement(template, "Budgets")["Principal"] = {"AWS": "*"}
        self.assertFinds(check_sam(self.manifest, template), "AlarmsTopicPolicy", "'Budgets' must be an Allow", "service principals")

    def test_alarm_topic_partition_written_out(self) -> None:
        template = self.sam()
        condition = self.topic_statement(template, "CloudWatchAlarms")["Condition"]["ArnLike"]
        condition["aws:SourceArn"] = {"Fn::Sub": "arn:aws:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*"}
        self.assertFinds(check_sam(self.manifest, template), "AlarmsTopicPolicy", "lets cloudwatch.amazonaws.com", "arn:aws:cloudwatch")

    def test_email_subscription_unconditional_or_to_an_address(self) -> None:
        template = self.sam()
        del template["Resources"]["AlarmsEmailSubscription"]["Condition"]
        self.props(template, "AlarmsEmailSubscription")["Endpoint"] = "ops@example.com"
        template["Parameters"]["AlarmEmail"]["Default"] = "ops@example.com"
        template["Conditions"]["HasAlarmEmail"] = {"Fn::Equals": [{"Ref": "AlarmEmail"}, "ops@example.com"]}
        problems = check_sam(self.manifest, template)
        self.assertFinds(problems, "AlarmsEmailSubscription", "Condition is null", '"HasAlarmEmail"')
        self.assertFinds(problems, "AlarmsEmailSubscription", 'Endpoint is "ops@example.com"', '{"Ref": "AlarmEmail"}')
        self.assertFinds(problems, "Parameters.AlarmEmail: Default is", 'must be ""')
        self.assertFinds(problems, "Conditions.HasAlarmEmail", "whether AlarmEmail was given")

    def test_topic_encrypted_or_renamed(self) -> None:
        template = self.sam()
        self.props(template, "AlarmsTopic")["KmsMasterKeyId"] = "alias/aws/sns"
        self.props(template, "AlarmsTopic")["TopicName"] = "alarms"
        problems = check_sam(self.manifest, template)
        self.assertFinds(problems, "AlarmsTopic (alarm topic alarms)", "KmsMasterKeyId is set")
        self.assertFinds(problems, "AlarmsTopic", 'TopicName is "alarms"', "${AWS::StackName}-alarms")

    def test_dashboard_body_not_the_file(self) -> None:
        template = self.sam()
        sub = self.props(template, "OperationsDashboard")["DashboardBody"]["Fn::Sub"]
        sub[0] = sub[0].replace("Events per stage", "Events per step")
        self.assertFinds(check_sam(self.manifest, template), "OperationsDashboard", "not the JSON of infra/dashboard.json")
        template = self.sam()
        variables = self.props(template, "OperationsDashboard")["DashboardBody"]["Fn::Sub"][1]
        variables["api_id"] = {"Ref": "HttpApiAccessLogGroup"}
        variables["account"] = {"Ref": "AWS::AccountId"}
        self.assertFinds(check_sam(self.manifest, template), "OperationsDashboard", "DashboardBody variables", "HttpApiAccessLogGroup")
        template = self.sam()
        self.props(template, "OperationsDashboard")["DashboardBody"] = json.dumps({"widgets": []})
        self.assertFinds(check_sam(self.manifest, template), "OperationsDashboard", "must be !Sub [<the text of infra/dashboard.json>")

    def test_budget_changed(self) -> None:
        template = self.sam()
        resource = template["Resources"]["MonthlyBudget"]
        del resource["Condition"]
        del resource["DependsOn"]
        budget = resource["Properties"]["Budget"]
        budget["CostFilters"] = {"TagKeyValue": ["user:project$todo"]}
        budget["BudgetLimit"]["Amount"] = 100
        resource["Properties"]["NotificationsWithSubscribers"][0]["Notification"]["Threshold"] = 90
        problems = check_sam(self.manifest, template)
        self.assertFinds(problems, "MonthlyBudget (budget)", "Condition is null", '"HasMonthlyBudgetUsd"')
        self.assertFinds(problems, "MonthlyBudget", "DependsOn is []", '["AlarmsTopicPolicy"]')
        self.assertFinds(problems, "MonthlyBudget", "Budget.CostFilters", "user:project$todo", "filter_tag", "Fn::Join")
        self.assertFinds(problems, "MonthlyBudget", "Budget.BudgetLimit", '"Amount": 100', "MonthlyBudgetUsd")
        self.assertFinds(problems, "MonthlyBudget", "NotificationsWithSubscribers", '"Threshold": 90', "notifications")

    def test_manifest_budget_change_not_followed(self) -> None:
        manifest = copy.deepcopy(self.manifest)
        manifest["monitoring"]["budget"]["filter_tag"] = "cost_center"
        manifest["monitoring"]["budget"]["notifications"].pop()
        problems = check_sam(manifest, self.template)
        self.assertFinds(problems, "MonthlyBudget", "Budget.CostFilters", '"user:cost_center$"', '{"Ref": "CostCenter"}')
        self.assertFinds(problems, "MonthlyBudget", "NotificationsWithSubscribers", "FORECASTED")

    def test_budget_parameter_not_a_number_or_without_its_condition(self) -> None:
        template = self.sam()
        template["Parameters"]["MonthlyBudgetUsd"]["Type"] = "String"
        del template["Conditions"]["HasMonthlyBudgetUsd"]
        problems = check_sam(self.manifest, template)
        self.assertFinds(problems, "Parameters.MonthlyBudgetUsd", 'Type is "String"', '"Number"')
        self.assertFinds(problems, "Conditions.HasMonthlyBudgetUsd: is null")

    def test_missing_monitoring_resources_and_outputs(self) -> None:
        template = self.sam()
        for logical_id in ("AlarmsTopicPolicy", "StreamEnrichmentThrottlesAlarm", "OperationsDashboard", "MonthlyBudget"):
            del template["Resources"][logical_id]
        del template["Outputs"]["AlarmsTopicArn"]
        problems = check_sam(self.manifest, template)
        self.assertFinds(problems, "AlarmsTopicPolicy: missing", "AWS::SNS::TopicPolicy")
        self.assertFinds(problems, "StreamEnrichmentThrottlesAlarm: missing", "of function stream-enrichment")
        self.assertFinds(problems, "OperationsDashboard: missing", "AWS::CloudWatch::Dashboard")
        self.assertFinds(problems, "MonthlyBudget: missing", "AWS::Budgets::Budget")
        self.assertFinds(problems, "Outputs.AlarmsTopicArn", '{"Ref": "AlarmsTopic"}')

    def test_tags_missing_on_any_type_that_takes_them(self) -> None:
        template = self.sam()
        del self.props(template, "AlarmsTopic")["Tags"]
        del self.props(template, "OperationsDashboard")["Tags"]
        del self.props(template, "MonthlyBudget")["ResourceTags"]
        tags = self.props(template, "ModelErrorsAlarm")["Tags"]
        tags[:] = [tag for tag in tags if tag["Key"] != "project"]
        problems = check_sam(self.manifest, template)
        self.assertFinds(problems, "AlarmsTopic: cost-allocation tag cost_center is missing (AWS::SNS::Topic takes Tags)")
        self.assertFinds(problems, "OperationsDashboard: cost-allocation tag environment is missing")
        self.assertFinds(problems, "MonthlyBudget: cost-allocation tag project is missing (AWS::Budgets::Budget takes ResourceTags)")
        self.assertFinds(problems, "ModelErrorsAlarm: cost-allocation tag project is missing")
        translated = check_sam_translated(self.manifest, template)
        self.assertFinds(translated, "MonthlyBudget (AWS::Budgets::Budget, generated by SAM): cost-allocation tag cost_center is missing")
        self.assertFinds(translated, "AlarmsTopic (AWS::SNS::Topic", "missing")

    def test_tags_known_from_the_resource_schemas(self) -> None:
        template = self.sam()
        template["Resources"]["ExtraTopic"] = {"Type": "AWS::SNS::Topic", "Properties": {}}
        template["Resources"]["ExtraThing"] = {"Type": "AWS::Made::Up", "Properties": {}}
        template["Resources"]["ExtraPolicy"] = {"Type": "AWS::SNS::TopicPolicy", "Properties": {}}
        problems = check_sam_tags(self.manifest, template)
        self.assertFinds(problems, "ExtraTopic: cost-allocation tag project is missing (AWS::SNS::Topic takes Tags)")
        self.assertFinds(problems, "ExtraThing: type AWS::Made::Up is not in cfn-lint's resource schemas")
        self.assertFalse([problem for problem in problems if problem.startswith("ExtraPolicy")], report(problems))
        self.props(template, "AlarmsTopic")["Tags"] = {"cost_center": {"Ref": "CostCenter"}}
        self.assertFinds(check_sam_tags(self.manifest, template), "AlarmsTopic: Tags must be a Key/Value list on AWS::SNS::Topic")

    # ------------------------------------------------ the dashboard file

    def dashboard_text(self) -> str:
        return dashboard_path(self.manifest).read_text()

    def test_dashboard_variable_the_templates_do_not_give(self) -> None:
        text = self.dashboard_text().replace('"${region}"', '"${AWS::Region}"', 1).replace("${prefix}-rejects", "%{ if x }rejects")
        problems = check_dashboard(self.manifest, text)
        self.assertFinds(problems, "infra/dashboard.json: ${AWS::Region} is not one of the variables", "prefix, region, api_id")
        self.assertFinds(problems, "infra/dashboard.json: %{ and $${ are Terraform template syntax")

    def test_dashboard_metric_the_function_does_not_emit(self) -> None:
        text = self.dashboard_text().replace('MetricName=\\"EventsRouted\\"', 'MetricName=\\"EventRouted\\"')
        text = text.replace('"ModelLatency", "FunctionName", "${prefix}-inference", {"stat": "p50"', '"ModelLatency", "FunctionName", "${prefix}-event-router", {"stat": "p50"')
        problems = check_dashboard(self.manifest, text)
        self.assertFinds(
            problems, "widget 'Events per stage (per minute)'", "RealtimePipeline metric 'EventRouted'",
            "neither functions/event-router/src nor shared/src/metrics.rs",
        )
        self.assertFinds(problems, "widget 'Inference latency (ms)'", "'ModelLatency' is in neither functions/event-router/src")

    def test_dashboard_metric_with_dimensions_the_function_does_not_record(self) -> None:
        # inference records Predictions without the Start label: a SEARCH over FunctionName and
        # Start finds nothing; event-router counts EventsRejected with it.
        text = self.dashboard_text().replace(
            '["RealtimePipeline", "Predictions", "FunctionName", "${prefix}-inference", {"stat": "Sum", "label": "scored (inference)"}]',
            '[{"expression": "SUM(SEARCH(\'{RealtimePipeline,FunctionName,Start} MetricName=\\"Predictions\\" '
            'FunctionName=\\"${prefix}-inference\\"\', \'Sum\', 60))", "id": "scored"}]',
        ).replace("{RealtimePipeline,FunctionName,Start} MetricName=\\\"EventsRejected\\\"", "{RealtimePipeline,FunctionName} MetricName=\\\"EventsRejected\\\"")
        problems = check_dashboard(self.manifest, text)
        self.assertFinds(
            problems, "Predictions of inference is plotted with dimensions ['FunctionName', 'Start']",
            "records it with [['FunctionName']]",
        )
        self.assertFinds(problems, "EventsRejected of event-router is plotted with dimensions ['FunctionName']", "[['FunctionName', 'Start']]")

    def test_dashboard_names_resources_the_manifest_does_not_have(self) -> None:
        text = (
            self.dashboard_text().replace('FunctionName=\\"${prefix}-event-router\\"', 'FunctionName=\\"${prefix}-router\\"')
            .replace('"${prefix}-rejects"', '"${prefix}-orders"').replace('"${prefix}-features"', '"features"')
            .replace('"ApiId", "${api_id}", {"stat": "p50"', '"ApiId", "${prefix}-http-api", {"stat": "p50"')
            .replace('"VariantName", "AllTraffic", {"stat": "p99"', '"VariantName", "primary", {"stat": "p99"')
        )
        problems = check_dashboard(self.manifest, text)
        self.assertFinds(problems, "FunctionName '${prefix}-router' is not ${prefix}-<name> of one of the manifest's functions")
        self.assertFinds(problems, "QueueName '${prefix}-orders' is not ${prefix}-<name>", "orders.fifo")
        self.assertFinds(problems, "TableName 'features' is not ${prefix}-<name> of one of the manifest's tables")
        self.assertFinds(problems, "ApiId '${prefix}-http-api' must be ${api_id}")
        self.assertFinds(problems, "VariantName 'primary' must be AllTraffic")

    def test_dashboard_compares_a_functions_write_units_with_every_table_it_writes(self) -> None:
        self.assertEqual(check_dashboard(self.manifest, self.dashboard_text()), [])
        body = json.loads(self.dashboard_text())
        panel = next(w for w in body["widgets"] if w["properties"]["title"].startswith("Feature store write units"))
        panel["properties"]["metrics"] = [
            row for row in panel["properties"]["metrics"] if "${prefix}-features-applied-ids" not in row
        ]
        problems = check_dashboard(self.manifest, json.dumps(body))
        self.assertFinds(
            problems, "widget 'Feature store write units (per minute)'",
            "WriteCapacityUnits of feature-updates counts its writes to features-applied-ids too",
            "plots ConsumedWriteCapacityUnits of features only",
        )

    def test_dashboard_rows_that_cannot_be_read(self) -> None:
        body = json.loads(self.dashboard_text())
        body["widgets"][2]["properties"]["metrics"][1] = [".", ".", ".", "${prefix}-enriched"]
        problems = check_dashboard(self.manifest, json.dumps(body))
        self.assertFinds(problems, "widget 'Stream iterator age", "must spell out namespace, metric and dimension pairs")
        self.assertFinds(check_dashboard(self.manifest, "{"), "infra/dashboard.json: not JSON")

    # ------------------------------------------------ Terraform monitoring

    def test_terraform_alarm_settings_written_out(self) -> None:
        module = copy.deepcopy(self.module)
        alarm = module["resource"][("aws_cloudwatch_metric_alarm", "this")]
        alarm["threshold"] = [0]
        alarm["statistic"] = ["${each.value.statistic}"]
        alarm["comparison_operator"] = ["GreaterThanThreshold"]
        alarm["ok_actions"] = [[]]
        dimensions = alarm["dimensions"][0]
        alarm["dimensions"] = [dimensions.replace("aws_sqs_queue.this[each.value.target.queue].name", "aws_sqs_queue.this[each.value.target.queue].url")]
        problems = check_terraform(self.manifest, module)
        self.assertFinds(problems, "aws_cloudwatch_metric_alarm.this", "threshold is 0", "each.value.threshold")
        self.assertFinds(problems, "aws_cloudwatch_metric_alarm.this", "statistic is", "does not bind local.standard_statistics")
        self.assertFinds(problems, "aws_cloudwatch_metric_alarm.this", "manifest value 'GreaterThanThreshold' is written out")
        self.assertFinds(problems, "aws_cloudwatch_metric_alarm.this", "ok_actions is []")
        self.assertFinds(problems, "aws_cloudwatch_metric_alarm.this", "dimensions", "does not bind aws_sqs_queue.this[each.value.target.queue].name")

    def test_terraform_alarms_not_from_the_manifest(self) -> None:
        module = copy.deepcopy(self.module)
        value = module["locals"]["alarms"][0]
        module["locals"]["alarms"] = [value.replace("try(local.monitoring.function_alarms,{})", "{}")]
        module["resource"][("aws_cloudwatch_metric_alarm", "this")]["alarm_name"] = ["${var.name_prefix}-rejects-messages"]
        problems = check_terraform(self.manifest, module)
        self.assertFinds(problems, "locals.alarms", "local.monitoring.function_alarms")
        self.assertFinds(problems, "aws_cloudwatch_metric_alarm.this", "manifest value 'rejects-messages' is written out")

    def test_terraform_topic_policy_too_open(self) -> None:
        module = copy.deepcopy(self.module)
        body = module["resource"][("aws_sns_topic_policy", "this")]
        policy = body["policy"][0].replace("'StringEquals': {'aws:SourceAccount': '${data.aws_caller_identity.current.account_id}'}, ", "", 1)
        policy = policy.replace("'Action': 'sns:Publish'", "'Action': ['sns:Publish', 'sns:Subscribe']", 1)
        body["policy"] = [policy]
        problems = check_terraform(self.manifest, module)
        self.assertFinds(problems, "aws_sns_topic_policy.this", "literal action 'sns:Subscribe'")
        self.assertFinds(problems, "aws_sns_topic_policy.this", "lets cloudwatch.amazonaws.com sns:Subscribe")
        self.assertFinds(problems, "aws_sns_topic_policy.this", "does not let cloudwatch.amazonaws.com sns:Publish", "aws:SourceAccount")

    def test_terraform_topic_policy_partition_written_out(self) -> None:
        module = copy.deepcopy(self.module)
        body = module["resource"][("aws_sns_topic_policy", "this")]
        body["policy"] = [body["policy"][0].replace("arn:${data.aws_partition.current.partition}:budgets", "arn:aws:budgets")]
        self.assertFinds(check_terraform(self.manifest, module), "aws_sns_topic_policy.this", "lets budgets.amazonaws.com", "arn:aws:budgets")

    def test_terraform_subscription_and_inputs(self) -> None:
        module = copy.deepcopy(self.module)
        subscription = module["resource"][("aws_sns_topic_subscription", "email")]
        subscription["for_each"] = ["${local.alarm_topics}"]
        subscription["endpoint"] = ["ops@example.com"]
        module["variable"]["alarm_email"]["default"] = [""]
        del module["variable"]["monthly_budget_usd"]["validation"]
        problems = check_terraform(self.manifest, module)
        self.assertFinds(problems, "aws_sns_topic_subscription.email: for_each must be empty while var.alarm_email is null")
        self.assertFinds(problems, "aws_sns_topic_subscription.email: endpoint is", "must be var.alarm_email")
        self.assertFinds(problems, "variable alarm_email", "must default to null")
        self.assertFinds(problems, "variable monthly_budget_usd", "no validation of var.monthly_budget_usd")
        del module["variable"]["alarm_email"]
        self.assertFinds(check_terraform(self.manifest, module), "variable alarm_email (monitoring.alarm_topic.email_parameter AlarmEmail): missing")

    def test_terraform_dashboard_body_not_the_file_or_other_variables(self) -> None:
        module = copy.deepcopy(self.module)
        body = module["resource"][("aws_cloudwatch_dashboard", "this")]
        body["dashboard_body"] = [body["dashboard_body"][0].replace("'region': '${data.aws_region.current.id}'", "'region': 'eu-west-1'")]
        self.assertFinds(check_terraform(self.manifest, module), "aws_cloudwatch_dashboard.this: dashboard_body is", "templatefile")
        body["dashboard_body"] = ['${templatefile("${path.module}/../dashboard.json",{})}']
        problems = check_terraform(self.manifest, module)
        self.assertFinds(problems, "aws_cloudwatch_dashboard.this: dashboard_body is", "${each.value.body}")
        body["dashboard_body"] = ['${file("${path.module}/../dashboard.json")}']
        self.assertFinds(check_terraform(self.manifest, module), "aws_cloudwatch_dashboard.this: dashboard_body is")

    def test_terraform_budget_written_out_or_always_there(self) -> None:
        module = copy.deepcopy(self.module)
        budget = module["resource"][("aws_budgets_budget", "this")]
        budget["cost_filter"][0]["values"] = [["user:project$todo"]]
        budget["limit_amount"] = ["100"]
        budget["time_unit"] = ["MONTHLY"]
        notification = tf_dynamic(budget, "notification")
        notification["content"][0]["threshold_type"] = ["ABSOLUTE_VALUE"]
        del budget["depends_on"]
        module["locals"]["budgets"] = ['${{"monthly" = local.monitoring.budget}}']
        problems = check_terraform(self.manifest, module)
        self.assertFinds(problems, "aws_budgets_budget.this", "cost_filter.values", "does not bind", "local.tags[each.value.filter_tag]")
        self.assertFinds(problems, "aws_budgets_budget.this", "manifest value 'project' is written out")
        self.assertFinds(problems, "aws_budgets_budget.this: limit_amount is", "must be var.monthly_budget_usd")
        self.assertFinds(problems, "aws_budgets_budget.this", "manifest value 'MONTHLY' is written out")
        self.assertFinds(problems, "dynamic notification content", 'threshold_type is "ABSOLUTE_VALUE"', '"PERCENTAGE"')
        self.assertFinds(problems, "aws_budgets_budget.this", "depends_on is null")
        self.assertFinds(problems, "locals.budgets: must be empty while var.monthly_budget_usd is null")

    def test_terraform_missing_tags_on_monitoring_resources(self) -> None:
        module = copy.deepcopy(self.module)
        del module["resource"][("aws_sns_topic", "this")]["tags"]
        del module["resource"][("aws_budgets_budget", "this")]["tags"]
        problems = check_terraform(self.manifest, module)
        self.assertFinds(problems, "aws_sns_topic.this: tags is null, must be local.tags")
        self.assertFinds(problems, "aws_budgets_budget.this: tags is null, must be local.tags")

    def test_terraform_resource_type_not_in_the_taggable_record(self) -> None:
        module = copy.deepcopy(self.module)
        module["resource"][("aws_cloudwatch_composite_alarm", "this")] = {"for_each": ["${local.alarms}"]}
        self.assertFinds(
            check_terraform_tags(self.manifest, module),
            "aws_cloudwatch_composite_alarm.this: aws_cloudwatch_composite_alarm is not in infra/tests/terraform_taggable.json",
        )

    def test_terraform_example_without_monitoring_inputs_or_outputs(self) -> None:
        example = copy.deepcopy(self.example)
        del next(iter(example["module"].values()))["alarm_email"]
        del example["variable"]["monthly_budget_usd"]
        del example["output"]["dashboard_name"]
        module = copy.deepcopy(self.module)
        del module["output"]["alarm_topic_arn"]
        self.assertFinds(check_terraform_example_inputs(self.manifest, self.module, example), "does not pass alarm_email = var.alarm_email")
        self.assertFinds(check_terraform_example_inputs(self.manifest, self.module, example), "variable monthly_budget_usd is missing")
        self.assertFinds(check_terraform_example_outputs(self.manifest, self.module, example), "output dashboard_name", "module.stack.dashboard_name")
        self.assertFinds(check_terraform_example_outputs(self.manifest, module, self.example), "output alarm_topic_arn: missing from the module")


if __name__ == "__main__":
    unittest.main()
