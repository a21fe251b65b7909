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
import json
import re
import unittest
from pathlib import Path
from typing import Any

import boto3
import hcl2
from cfnlint.decode import decode
from samtranslator.metrics.metrics import DummyMetricsPublisher, Metrics
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

ROOT = Path(__file__).resolve().parents[2]
MANIFEST_PATH = ROOT / "infra" / "stack.json"
SAM_TEMPLATE_PATH = ROOT / "infra" / "sam" / "template.yaml"
TERRAFORM_DIR = ROOT / "infra" / "terraform"
TERRAFORM_EXAMPLE_DIR = TERRAFORM_DIR / "examples" / "basic"
CHECKOV_CONFIG_PATH = ROOT / "infra" / "checkov.yaml"

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


# --------------------------------------------------------------------------- SAM checkers

# Resource types that take tags, and how SAM/CloudFormation spell them. AWS::Events::Rule takes
# Tags (its CloudFormation resource schema marks it taggable, tags on create and update; the
# reference page of its Tag property still speaks of ECS targets only), and so does
# AWS::Lambda::EventSourceMapping (since 2024).
SAM_TAGGABLE = {
    "AWS::Serverless::Function": "map",
    "AWS::Serverless::HttpApi": "map",
    "AWS::DynamoDB::Table": "list",
    "AWS::IAM::Role": "list",
    "AWS::Logs::LogGroup": "list",
    "AWS::SQS::Queue": "list",
    "AWS::Kinesis::Stream": "list",
    "AWS::Events::EventBus": "list",
    "AWS::Events::Rule": "list",
    "AWS::Lambda::EventSourceMapping": "list",
    "AWS::SageMaker::Model": "list",
    "AWS::SageMaker::EndpointConfig": "list",
    "AWS::SageMaker::Endpoint": "list",
}
# Types the stack may contain that take no tags.
SAM_UNTAGGABLE: set[str] = {"AWS::SQS::QueuePolicy"}


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
            actual: set[tuple[str, str, str]] = set()
            for policy in as_list(props.get("Policies")):
                for statement in _statements(policy.get("PolicyDocument")):
                    if statement.get("Effect") != "Allow" or "NotAction" in statement or "NotResource" in statement:
                        problems.append(f"{where}: statement {statement.get('Sid')!r} must be an Allow of Action on Resource")
                        continue
                    condition = json.dumps(statement["Condition"], sort_keys=True) if "Condition" in statement else ""
                    for action in as_list(statement.get("Action")):
                        for resource in as_list(statement.get("Resource")):
                            actual.add((action, canonical(resource), condition))
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


def _tag_values(tags: Any) -> dict[str, Any]:
    if isinstance(tags, dict):
        return tags
    return {tag.get("Key"): tag.get("Value") for tag in as_list(tags) if isinstance(tag, dict)}


def check_sam_tags(manifest: dict[str, Any], template: dict[str, Any]) -> list[str]:
    """Every taggable resource carries every cost-allocation tag, valued by its parameter."""
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
        if resource_type in SAM_UNTAGGABLE:
            continue
        if resource_type not in SAM_TAGGABLE:
            problems.append(f"{logical_id}: type {resource_type} is not known to this check; say whether it takes tags")
            continue
        tags = resource.get("Properties", {}).get("Tags")
        shape = SAM_TAGGABLE[resource_type]
        if tags is not None and (shape == "map") != isinstance(tags, dict):
            problems.append(f"{logical_id}: Tags must be a {'map' if shape == 'map' else 'Key/Value list'} on {resource_type}")
            continue
        actual = _tag_values(tags)
        for key, value in expected.items():
            if key not in actual:
                problems.append(f"{logical_id}: cost-allocation tag {key} is missing")
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
        + check_sam_tags(manifest, template)
        + check_sam_outputs(manifest, template)
    )


# What SAM generates: tags and authorization must survive the transform.
TRANSLATED_TAGGABLE = {
    "AWS::Lambda::Function", "AWS::ApiGatewayV2::Api", "AWS::ApiGatewayV2::Stage",
    "AWS::DynamoDB::Table", "AWS::IAM::Role", "AWS::Logs::LogGroup", "AWS::SQS::Queue",
    "AWS::Kinesis::Stream", "AWS::Events::EventBus", "AWS::Events::Rule", "AWS::Lambda::EventSourceMapping",
    "AWS::SageMaker::Model", "AWS::SageMaker::EndpointConfig", "AWS::SageMaker::Endpoint",
}
TRANSLATED_UNTAGGABLE = {"AWS::Lambda::Permission", "AWS::SQS::QueuePolicy"}


def check_sam_translated(manifest: dict[str, Any], template: dict[str, Any]) -> list[str]:
    """The CloudFormation SAM generates: it translates, its taggable resources carry the tags,
    no role is generated, and every manifest route is behind the JWT authorizer."""
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
        if resource_type in TRANSLATED_UNTAGGABLE:
            continue
        if resource_type not in TRANSLATED_TAGGABLE:
            problems.append(f"{logical_id}: SAM generated a {resource_type}, which this check does not know")
            continue
        if resource_type == "AWS::ApiGatewayV2::Api" and "Body" in props:
            keys = {tag.get("name") for tag in props["Body"].get("tags", [])}
        else:
            keys = set(_tag_values(props.get("Tags")))
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

# aws_cloudwatch_event_rule and aws_lambda_event_source_mapping take tags (the latter since
# provider 5.70, hence versions.tf).
TF_TAGGABLE = {
    "aws_dynamodb_table", "aws_lambda_function", "aws_iam_role", "aws_cloudwatch_log_group",
    "aws_apigatewayv2_api", "aws_apigatewayv2_stage", "aws_sqs_queue", "aws_kinesis_stream",
    "aws_cloudwatch_event_bus", "aws_cloudwatch_event_rule", "aws_lambda_event_source_mapping",
    "aws_sagemaker_model", "aws_sagemaker_endpoint_configuration", "aws_sagemaker_endpoint",
}
TF_UNTAGGABLE = {
    "aws_iam_role_policy", "aws_apigatewayv2_route", "aws_apigatewayv2_integration",
    "aws_apigatewayv2_authorizer", "aws_lambda_permission", "aws_sqs_queue_policy",
    "aws_sqs_queue_redrive_policy", "aws_sqs_queue_redrive_allow_policy", "aws_cloudwatch_event_target",
}

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
    what EventBridge needs to deliver."""
    problems = []
    for (resource_type, name), body in module["resource"].items():
        if resource_type in ("aws_iam_role_policy", "aws_iam_policy") and mentions(tf_value(body, "for_each"), "local.model_endpoints"):
            allowed, why = MODEL_ROLE_ACTIONS, "a SageMaker execution role pulls the image and writes logs and metrics, nothing else"
        elif resource_type in ("aws_iam_role_policy", "aws_iam_policy"):
            allowed, why = LOG_ACTIONS, "actions come from the manifest's permissions"
        elif resource_type == "aws_sqs_queue_policy":
            allowed, why = set(EVENTS_QUEUE_ACTIONS), f"EventBridge needs only {', '.join(EVENTS_QUEUE_ACTIONS)}"
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
    problems = []
    for (resource_type, name), body in module["resource"].items():
        # A service principal (events.amazonaws.com) is not the bus key `events`.
        text = SERVICE_PRINCIPAL.sub("", json.dumps(body))
        for literal in sorted(literals - TF_OWN_LITERALS.get(resource_type, set())):
            if re.search(r"(?<![\w.])" + re.escape(literal) + r"(?![\w])", text):
                problems.append(f"{resource_type}.{name}: manifest value {literal!r} is written out; take it from local.stack")
    return problems


def check_terraform_tags(manifest: dict[str, Any], module: dict[str, Any]) -> list[str]:
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
    for (resource_type, name), body in module["resource"].items():
        where = f"{resource_type}.{name}"
        if resource_type in TF_UNTAGGABLE:
            continue
        if resource_type not in TF_TAGGABLE:
            problems.append(f"{where}: {resource_type} is not known to this check; say whether it takes tags")
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
        actual: set[tuple[str, str, str]] = set()
        for statement in _statements(document):
            if statement.get("Effect") != "Allow" or "NotAction" in statement or "NotResource" in statement:
                problems.append(f"{where}: statement {statement.get('Sid')!r} must be an Allow of Action on Resource")
                continue
            condition = json.dumps(statement["Condition"], sort_keys=True) if "Condition" in statement else ""
            for action in as_list(statement.get("Action")):
                for resource in as_list(statement.get("Resource")):
                    actual.add((action, str(resource), condition))
        expected = tf_model_role_grants()
        for action, resource, condition in sorted(actual - expected):
            when = f" if {condition}" if condition else ""
            problems.append(f"{where}: grants {action} on {resource}{when}, which SageMaker does not need")
        for action, resource, condition in sorted(expected - actual):
            when = f" if {condition}" if condition else ""
            problems.append(f"{where}: does not grant {action} on {resource}{when}, which SageMaker needs (and no more)")
    return problems


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


def check_terraform_example_inputs(module: dict[str, Any], example: dict[str, Any]) -> list[str]:
    """The example passes every module input that has no default."""
    call = next(iter(example["module"].values()), None)
    if call is None:
        return ["examples/basic: no module call"]
    return [
        f"examples/basic: the module call does not pass {name}, which has no default"
        for name, variable in sorted(module["variable"].items())
        if "default" not in variable and tf_value(call, name) is None
    ]


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
    )


def _setting(node: Any, path: str) -> Any:
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def check_manifest_reasons(manifest: dict[str, Any]) -> list[str]:
    """Every reason names a setting the manifest has: top-level reasons by their dotted path,
    function, model endpoint and HTTP API reasons by a (dotted) setting of theirs."""
    problems = []
    for path in manifest.get("reasons", {}):
        if _setting(manifest, path) is None:
            problems.append(f"reasons.{path}: the manifest has no setting {path}")
    owners = {f"functions.{key}": function for key, function in manifest["functions"].items()}
    owners |= {f"model_endpoints.{key}": endpoint for key, endpoint in manifest.get("model_endpoints", {}).items()}
    if manifest.get("http_api"):
        owners["http_api"] = manifest["http_api"]
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
        self.assertNoProblems(check_terraform_example_inputs(self.module, self.example))

    def test_model_endpoint_images_and_sagemaker_role(self) -> None:
        self.assertNoProblems(check_terraform_model_endpoints(self.manifest, self.module))


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
        self.statement(template, "FeatureUpdatesRole", "FeaturesTable")["Action"].remove("dynamodb:GetItem")
        self.props(template, "FeatureFailuresQueue")["MessageRetentionPeriod"] = 345600
        self.props(template, "FeatureUpdatesFunction")["Environment"]["Variables"]["FEATURES_TABLE"] = {"Ref": "AggregatesTable"}
        problems = check_sam(self.manifest, template)
        where = "FeatureUpdatesEnrichedEventSource (function feature-updates, stream enriched)"
        self.assertFinds(problems, where, "EventSourceArn", "${EnrichedStream.Arn}")
        self.assertFinds(problems, where, "DestinationConfig", "${FeatureFailuresQueue.Arn}")
        self.assertFinds(problems, "FeatureUpdatesRole", "does not grant dynamodb:GetItem on ${FeaturesTable.Arn}")
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
        self.assertFinds(check_terraform_example_inputs(self.module, example), "does not pass model_image_uri")
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


if __name__ == "__main__":
    unittest.main()
