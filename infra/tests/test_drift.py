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
    """Resources, locals, variables and modules of the .tf files directly in `directory`."""
    module: dict[str, Any] = {"resource": {}, "locals": {}, "variable": {}, "module": {}, "provider": {}}
    for path in sorted(directory.glob("*.tf")):
        with path.open() as handle:
            parsed = hcl2.load(handle)
        for block in parsed.get("resource", []):
            for resource_type, named in block.items():
                for name, body in named.items():
                    module["resource"][(resource_type, name)] = body
        for block in parsed.get("locals", []):
            module["locals"].update({k: v for k, v in block.items() if not k.startswith("__")})
        for kind in ("variable", "module", "provider"):
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


HTTP_API_ID = "HttpApi"
HTTP_API_LOG_GROUP_ID = "HttpApiAccessLogGroup"


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

# Resource types that take tags, and how SAM/CloudFormation spell them.
SAM_TAGGABLE = {
    "AWS::Serverless::Function": "map",
    "AWS::Serverless::HttpApi": "map",
    "AWS::DynamoDB::Table": "list",
    "AWS::IAM::Role": "list",
    "AWS::Logs::LogGroup": "list",
}
# Types the stack may contain that take no tags.
SAM_UNTAGGABLE: set[str] = set()


def expected_sam_resources(manifest: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Logical ID -> (type, what in the manifest it stands for)."""
    expected = {}
    for key in manifest["tables"]:
        expected[table_id(key)] = ("AWS::DynamoDB::Table", f"table {key}")
    for key in manifest["functions"]:
        expected[function_id(key)] = ("AWS::Serverless::Function", f"function {key}")
        expected[role_id(key)] = ("AWS::IAM::Role", f"function {key}")
        expected[log_group_id(key)] = ("AWS::Logs::LogGroup", f"function {key}")
    if manifest.get("http_api"):
        expected[HTTP_API_ID] = ("AWS::Serverless::HttpApi", "http_api")
        expected[HTTP_API_LOG_GROUP_ID] = ("AWS::Logs::LogGroup", "http_api")
    return expected


def check_sam_accounted_for(manifest: dict[str, Any], template: dict[str, Any]) -> list[str]:
    """Every manifest resource is in the template, and nothing else is."""
    problems = []
    resources = template.get("Resources", {})
    expected = expected_sam_resources(manifest)
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
    return problems


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
            logging = props.get("LoggingConfig", {})
            _compare(problems, where, "LoggingConfig.LogFormat", logging.get("LogFormat"), function["log_format"], f"{source}.log_format")
            _compare(problems, where, "LoggingConfig.LogGroup", logging.get("LogGroup"), ref(log_group_id(key)), "(the function's own log group)")
            expected_environment = {}
            for name, value in function.get("environment", {}).items():
                expected_environment[name] = ref(table_id(value["table"])) if "table" in value else value["value"]
            actual_environment = props.get("Environment", {}).get("Variables", {})
            for name in sorted(set(actual_environment) | set(expected_environment)):
                if name not in expected_environment:
                    problems.append(f"{where}: Environment {name} is not in manifest {source}.environment")
                elif name not in actual_environment:
                    problems.append(f"{where}: Environment {name} from manifest {source}.environment is missing")
                else:
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
    and indexes, plus writing to its own log group."""
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
            table_arn = "${" + table_id(permission["table"]) + ".Arn}"
            arns = [table_arn] + [f"{table_arn}/index/{index}" for index in permission.get("indexes", [])]
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
    for name, value in expected.items():
        _compare(problems, f"Outputs.{name}", "Value", outputs.get(name, {}).get("Value"), value, "(deployed name)")
    if manifest.get("http_api") and HTTP_API_ID not in canonical(outputs.get("ApiUrl", {}).get("Value")):
        problems.append("Outputs.ApiUrl: missing, or not the URL of HttpApi")
    return problems


def check_sam(manifest: dict[str, Any], template: dict[str, Any]) -> list[str]:
    return (
        check_sam_accounted_for(manifest, template)
        + check_sam_tables(manifest, template)
        + check_sam_functions(manifest, template)
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
    "AWS::DynamoDB::Table", "AWS::IAM::Role", "AWS::Logs::LogGroup",
}
TRANSLATED_UNTAGGABLE = {"AWS::Lambda::Permission"}


def check_sam_translated(manifest: dict[str, Any], template: dict[str, Any]) -> list[str]:
    """The CloudFormation SAM generates: it translates, its taggable resources carry the tags,
    no role is generated, and every manifest route is behind the JWT authorizer."""
    try:
        translated = translate_sam(template)
    except Exception as error:  # the translator's errors name the resource
        return [f"SAM transform fails: {error}"]
    problems = []
    expected_roles = {role_id(key) for key in manifest["functions"]}
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

TF_TAGGABLE = {
    "aws_dynamodb_table", "aws_lambda_function", "aws_iam_role", "aws_cloudwatch_log_group",
    "aws_apigatewayv2_api", "aws_apigatewayv2_stage",
}
TF_UNTAGGABLE = {
    "aws_iam_role_policy", "aws_apigatewayv2_route", "aws_apigatewayv2_integration",
    "aws_apigatewayv2_authorizer", "aws_lambda_permission",
}

# For each resource type (one rule per kind of that type, told apart by what for_each
# iterates): settings under "exact" must be exactly that expression or value; those under
# "binds" must mention every listed reference (the manifest value they take); "references"
# names the resource a setting must point at; "absent" settings must not be set. A literal in
# place of a binding is drift waiting to happen.
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
        },
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
            "environment.variables": ["each.value.environment", "value.table", "value.value"],
            "logging_config.log_format": ["each.value.log_format"],
            "logging_config.log_group": ["each.key"],
        },
        "references": {"role": "aws_iam_role", "logging_config.log_group": "aws_cloudwatch_log_group", "environment.variables": "aws_dynamodb_table"},
    }],
    "aws_iam_role": [{
        "for_each": "local.stack.functions",
        "exact": {"name": NAME},
        "binds": {"assume_role_policy": ["lambda.amazonaws.com", "sts:AssumeRole"]},
        "absent": ["managed_policy_arns", "inline_policy", "permissions_boundary"],
    }],
    "aws_iam_role_policy": [{
        "for_each": "local.stack.functions",
        "binds": {
            "role": ["each.key"],
            "policy": [
                "each.value.permissions", "permission.actions", "permission.table", "permission.indexes",
                "logs:CreateLogStream", "logs:PutLogEvents", "each.key",
            ],
        },
        "references": {"role": "aws_iam_role", "policy": "aws_dynamodb_table"},
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
    for path, resource_type in rule.get("references", {}).items():
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
        problems += _check_tf_rule(f"{where} dynamic {name} content", tf_value(block, "content") or {}, {"binds": block_rule["content"]})
    return problems


def check_terraform_resources(manifest: dict[str, Any], module: dict[str, Any]) -> list[str]:
    """Every resource iterates over the manifest and binds its settings to manifest values."""
    problems = []
    seen_types = set()
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
        problems += _check_tf_rule(where, body, matching[0])
    needed = {"aws_dynamodb_table"} if manifest["tables"] else set()
    if manifest["functions"]:
        needed |= {"aws_lambda_function", "aws_iam_role", "aws_iam_role_policy", "aws_cloudwatch_log_group"}
    if manifest.get("http_api"):
        needed |= {
            "aws_apigatewayv2_api", "aws_apigatewayv2_authorizer", "aws_apigatewayv2_stage",
            "aws_apigatewayv2_route", "aws_apigatewayv2_integration", "aws_lambda_permission",
        }
    for resource_type in sorted(needed - seen_types):
        problems.append(f"{resource_type}: missing; the manifest needs it")
    return problems


def _quoted_actions(text: str) -> set[str]:
    """Every quoted `service:Action` string in an expression (quotes may be escaped)."""
    return set(re.findall(r"""\\*['"]([a-z0-9-]+:[A-Za-z0-9*]+)\\*['"]""", text))


def check_terraform_iam(module: dict[str, Any]) -> list[str]:
    """No literal IAM action with `*`; the only literal actions are the log-writing ones, the
    rest come from the manifest's permissions."""
    problems = []
    for (resource_type, name), body in module["resource"].items():
        if resource_type not in ("aws_iam_role_policy", "aws_iam_policy"):
            continue
        actions = _quoted_actions(str(tf_value(body, "policy")))
        for action in sorted(actions):
            if "*" in action:
                problems.append(f"{resource_type}.{name}: wildcard action {action!r}")
            elif action not in LOG_ACTIONS:
                problems.append(f"{resource_type}.{name}: literal action {action!r}; actions come from the manifest's permissions")
    return problems


def check_terraform_no_manifest_literals(manifest: dict[str, Any], module: dict[str, Any]) -> list[str]:
    """Names and values from the manifest appear in the module only through local.stack."""
    literals = set(manifest["tables"]) | set(manifest["functions"])
    for table in manifest["tables"].values():
        literals |= set(table.get("global_secondary_indexes", {})) | set(attribute_definitions(table))
        literals.add(table["billing_mode"])
    for function in manifest["functions"].values():
        literals |= {function["runtime"], *function.get("environment", {})}
        for permission in function.get("permissions", []):
            literals |= set(permission["actions"])
    for route in (manifest.get("http_api") or {}).get("routes", []):
        literals |= {route["route"], parse_route(route["route"])[1]}
    problems = []
    for (resource_type, name), body in module["resource"].items():
        text = json.dumps(body)
        for literal in sorted(literals):
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


def check_terraform(manifest: dict[str, Any], module: dict[str, Any]) -> list[str]:
    return (
        check_terraform_reads_manifest(module)
        + check_terraform_resources(manifest, module)
        + check_terraform_iam(module)
        + check_terraform_no_manifest_literals(manifest, module)
        + check_terraform_tags(manifest, module)
        + check_terraform_variables(module)
    )


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


class CheckovConfig(unittest.TestCase):
    def test_every_skip_has_a_reason_and_failures_fail(self) -> None:
        problems = check_checkov_config(CHECKOV_CONFIG_PATH.read_text())
        if problems:
            self.fail(report(problems))

    def test_every_inline_skip_has_a_reason(self) -> None:
        problems = check_inline_skips(template_texts())
        if problems:
            self.fail(report(problems))

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
