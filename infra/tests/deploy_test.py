"""The Terraform module deployed for real, to the emulator, and read back against the manifest.

`terraform apply` of infra/terraform/examples/basic, in a copy of infra/, against moto
(deploy_emulator.py beside this file); every deployed table, queue, stream, event rule, model
endpoint, function, role, event source mapping, alarm, route, topic, budget, archive bucket (its
versioning, encryption, public access block, ownership, lifecycle, TLS-only policy) and Firehose
delivery stream (its source stream, role, S3 prefixes, compression, buffering, partitioning query)
read back through the AWS APIs and compared, field by field, with infra/stack.json (moto accepts
a delivery stream with a Kinesis source but never reads the stream: the test checks the wiring,
not a delivery); `terraform destroy`, and nothing
with the test's prefix left. The copy's manifest has its enriched stream switched to on-demand
(ON_DEMAND_STREAM), so that one apply deploys both capacity modes. Before the destroy, a plan
with `-var profile=low-latency` beside a plan without it must differ by the profile's changes
and nothing else (enhanced fan-out consumers, mappings, their permissions, strong reads). From the repository root, in the emulator's venv (tools/test.sh
creates .venv; tools/check-infra.sh runs this as its `deploy` check):

    .venv/bin/python -m unittest -v infra/tests/deploy_test.py

Skipped, saying why, without terraform, the AWS provider in TF_PLUGIN_DIR (default
/opt/tf-plugins) or moto. Not named test*.py: check-infra's `unittest discover -s infra/tests`
runs in .venv-infra, without moto. Logs of the last run: target/deploy-test/.
"""

from __future__ import annotations

import atexit
import importlib.util
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
LOGS = ROOT / "target" / "deploy-test"
PLUGIN_DIR = Path(os.environ.get("TF_PLUGIN_DIR", "/opt/tf-plugins"))
PREFIX = "deploytest"
REGION = "us-east-1"
# Seconds a step may take. Apply and destroy take about a minute, mostly the provider's own
# polling (SQS attributes, Kinesis stream status).
TIMEOUTS = {"init": 120, "apply": 300, "destroy": 300, "plan": 300, "show": 60}
# examples/basic's inputs, with both optional parts (alarm email, budget) on, so that they deploy too.
VARIABLES = {
    "region": REGION, "name_prefix": PREFIX, "table_deletion_protection": False,
    "cost_allocation_tags": {"cost_center": "0000", "project": "deploy-test", "environment": "test"},
    "jwt_issuer": "https://issuer.example.com/deploy-test", "jwt_audience": ["deploy-test"],
    "model_image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/purchase-model:1",
    "alarm_email": "alarms@example.com", "monthly_budget_usd": 50,
}
# Every service the module calls (infra/terraform/*.tf): the copy's provider sends them to the emulator.
SERVICES = ["apigatewayv2", "budgets", "cloudwatch", "dynamodb", "events", "firehose", "iam", "kinesis", "lambda", "logs",
            "s3", "sagemaker", "sns", "sqs", "sts"]
# Manifest fields and the API fields that report them, where both hold the same value.
SAME = {
    "function": {"description": "Description", "runtime": "Runtime", "memory_mb": "MemorySize",
                 "timeout_seconds": "Timeout"},
    "mapping": {"batch_size": "BatchSize", "maximum_batching_window_seconds": "MaximumBatchingWindowInSeconds",
                "starting_position": "StartingPosition", "bisect_batch_on_function_error": "BisectBatchOnFunctionError",
                "maximum_retry_attempts": "MaximumRetryAttempts", "maximum_record_age_seconds": "MaximumRecordAgeInSeconds",
                "parallelization_factor": "ParallelizationFactor"},
    "queue": {"visibility_timeout_seconds": "VisibilityTimeout", "message_retention_seconds": "MessageRetentionPeriod"},
    "stream": {"shard_count": "OpenShardCount", "retention_hours": "RetentionPeriodHours"},
    "alarm": {"description": "AlarmDescription", "metric": "MetricName", "period_seconds": "Period",
              "evaluation_periods": "EvaluationPeriods", "datapoints_to_alarm": "DatapointsToAlarm",
              "comparison": "ComparisonOperator", "threshold": "Threshold", "treat_missing_data": "TreatMissingData"},
}
# The CloudWatch namespace of each kind of alarm target.
NAMESPACES = {"queue": "AWS/SQS", "stream": "AWS/Kinesis", "endpoint": "AWS/SageMaker", "http_api": "AWS/ApiGateway",
              "function": "AWS/Lambda"}
# What the manifest sets and moto 5.2.5 does not report: skipped (while not reported) and listed
# in the summary. Everything else is reported: every event source mapping field, and every alarm
# is a plain metric alarm (the manifest has no metric math, whose Metrics moto would not evaluate).
# The budget's notification subscribers and the dead-letter queue's redrive allow policy are what
# deploy_emulator.py's patches keep of what the provider sent.
NOT_SHOWN = {("function", "log_format"): "GetFunctionConfiguration has no LoggingConfig (JSON format, log group)"}
# What the templates set on every archive, not in the manifest (crates/stack src/manifest/archive.rs).
ARCHIVE_NONCURRENT_VERSION_DAYS, ARCHIVE_ABORT_INCOMPLETE_UPLOAD_DAYS, ARCHIVE_RETRY_SECONDS, ARCHIVE_LOG_RETENTION_DAYS = 30, 7, 300, 30


def every(client: Any, operation: str, **arguments: Any) -> dict[str, Any]:
    """Every page of a list call, merged: a stack larger than one page must not look undeployed."""
    return client.get_paginator(operation).paginate(**arguments).build_full_result()


def why_skip() -> str | None:
    if shutil.which("terraform") is None:
        return "no terraform on PATH (install Terraform >= 1.5 to run the deploy test)"
    if not (PLUGIN_DIR / "registry.terraform.io/hashicorp/aws").is_dir():
        return f"no AWS provider in {PLUGIN_DIR} (set TF_PLUGIN_DIR to a plugin directory with registry.terraform.io/hashicorp/aws)"
    for module in ("moto", "boto3"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not importable by {sys.executable} (run it with .venv/bin/python, which tools/test.sh creates)"
    return None


def name(key: str) -> str:
    return f"{PREFIX}-{key}"


def key_of(deployed: str) -> str:
    return deployed.removeprefix(f"{PREFIX}-").removesuffix(".fifo")


def listing(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# The stream deployed on-demand in the test (the manifest's streams are provisioned).
ON_DEMAND_STREAM = "enriched"


def on_demand(stack: dict[str, Any], key: str) -> dict[str, Any]:
    """The manifest with stream `key` on-demand: no shard count, nor a reason for one."""
    stream = stack["streams"][key]
    stream["capacity_mode"] = "on_demand"
    stream.pop("shard_count", None)
    stack["reasons"].pop(f"streams.{key}.shard_count", None)
    return stack


def same(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {field: spec[field] for field in SAME[kind] if field in spec}


def expected(stack: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What the manifest says is deployed, {resource: {field: value}}, the module's way
    (infra/terraform/*.tf). A deployed table, queue, ... is named "<kind> <manifest key>"."""
    want: dict[str, dict[str, Any]] = {}
    queues, monitoring = stack.get("queues", {}), stack.get("monitoring", {})
    topic = f"topic {monitoring['alarm_topic']['key']}" if "alarm_topic" in monitoring else None

    keys = lambda spec: [(k["name"], k["type"]) for k in [spec["partition_key"], spec.get("sort_key")] if k]  # noqa: E731
    for key, table in stack["tables"].items():
        want[f"table {key}"] = {
            "keys": keys(table), "billing_mode": table["billing_mode"],
            "point_in_time_recovery": table["point_in_time_recovery"], "server_side_encryption": table["server_side_encryption"],
            "time_to_live_attribute": table.get("time_to_live_attribute"),
            "indexes": {i: (keys(s), s["projection"]) for i, s in table.get("global_secondary_indexes", {}).items()}}
    rules = {rule: (bus, spec) for bus, b in stack.get("event_buses", {}).items() for rule, spec in b["rules"].items()}
    for key, queue in queues.items():
        dead_letter = queue.get("dead_letter")
        want[f"queue {key}"] = {
            **same("queue", queue), "fifo": queue["fifo"],
            "dead_letter": dead_letter and (f"queue {dead_letter['queue']}", dead_letter["max_receive_count"]),
            "redrive_allowed_from": {f"queue {k}" for k, q in queues.items() if q.get("dead_letter", {}).get("queue") == key} or None,
            # EventBridge may send to a rule's target queue on behalf of that rule only.
            "sent_by_rules": {f"rule {r}" for r, (_, spec) in rules.items() if spec["target"]["queue"] == key} or None}
    for key, stream in stack.get("streams", {}).items():
        # An on-demand stream's shards are Kinesis's: the manifest has no count for them.
        want[f"stream {key}"] = {**same("stream", stream), "mode": stream["capacity_mode"].upper(),
                                 "encryption": stream["encryption"]}
    for bus in stack.get("event_buses", {}):
        want[f"bus {bus}"] = {"rules": {f"rule {r}" for r, (b, _) in rules.items() if b == bus}}
    for rule, (_, spec) in rules.items():
        want[f"rule {rule}"] = {"pattern": spec["pattern"], "targets": [f"queue {spec['target']['queue']}"]}
    for key, endpoint in stack.get("model_endpoints", {}).items():
        want[f"endpoint {key}"] = {
            "memory_size_mb": endpoint["serverless"]["memory_size_mb"], "max_concurrency": endpoint["serverless"]["max_concurrency"],
            "network_isolation": endpoint["network_isolation"], "image": VARIABLES["model_image_uri"], "role": f"role {key}-sagemaker"}
        want[f"role {key}-sagemaker"] = {"trusted": {"sagemaker.amazonaws.com"}, "managed_policies": []}
    archives = stack.get("archives", {})
    if archives:
        # One bucket for every archive: a rule per archive on its prefix, one for every object.
        rules = {key: {"prefix": a["prefix"], "transitions": [(a["infrequent_access_after_days"], "STANDARD_IA")],
                       "expiration_days": a["expire_after_days"]} for key, a in archives.items()}
        rules["versions-and-uploads"] = {"prefix": "", "noncurrent_days": ARCHIVE_NONCURRENT_VERSION_DAYS,
                                         "abort_upload_days": ARCHIVE_ABORT_INCOMPLETE_UPLOAD_DAYS}
        want["bucket archive"] = {
            "versioning": "Enabled", "encryption": ("aws:kms", True), "public_access_block": [True] * 4,
            "ownership": "BucketOwnerEnforced", "lifecycle": rules, "deny_insecure_transport": True}
    for key, archive in archives.items():
        # crates/stack's object layout (src/manifest/archive.rs), from the archive's prefix and field.
        want[f"archive {key}"] = {
            "type": "KinesisStreamAsSource", "source": f"stream {archive['stream']}", "role": f"role {key}-firehose",
            "bucket": "bucket archive", "prefix": f"{archive['prefix']}/date=!{{partitionKeyFromQuery:date}}/",
            "error_output_prefix": f"{archive['prefix']}-errors/!{{firehose:error-output-type}}/date=!{{timestamp:yyyy-MM-dd}}/",
            "compression": "GZIP", "buffering": (archive["buffer_interval_seconds"], archive["buffer_size_mib"]),
            "dynamic_partitioning": (True, ARCHIVE_RETRY_SECONDS),
            "processors": [("MetadataExtraction", {"MetadataExtractionQuery": f"{{date: .{archive['partition_date_field']}[0:10]}}",
                                                   "JsonParsingEngine": "JQ-1.6"}), ("AppendDelimiterToRecord", {})],
            "logging": (True, f"log-stream {key}/DestinationDelivery"), "log_retention_days": ARCHIVE_LOG_RETENTION_DAYS}
        # Read the stream; write the archive's records and errors, nothing else of the bucket; log errors.
        want[f"role {key}-firehose"] = {"trusted": {"firehose.amazonaws.com"}, "managed_policies": [], "grants": {
            f"stream {archive['stream']}": {"kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetShardIterator",
                                            "kinesis:GetRecords", "kinesis:ListShards"},
            "bucket archive": {"s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"},
            f"bucket archive/{archive['prefix']}/*": {"s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"},
            f"bucket archive/{archive['prefix']}-errors/*": {"s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"},
            f"log-stream {key}/DestinationDelivery": {"logs:PutLogEvents"}}}

    def resolve(ref: dict[str, Any]) -> Any:
        # The deployed name of a table, stream or endpoint, a queue's URL ("queue-url <key>"), or a literal.
        return f"queue-url {ref['queue']}" if "queue" in ref else next(
            (name(ref[kind]) for kind in ("table", "stream", "endpoint") if kind in ref), ref.get("value"))

    for fn, spec in stack["functions"].items():
        want[f"function {fn}"] = {
            **same("function", spec), "handler": "bootstrap", "architecture": spec["architecture"], "role": f"role {fn}",
            "environment": {var: resolve(ref) for var, ref in spec.get("environment", {}).items()},
            "log_retention_days": spec["log_retention_days"], "log_format": spec["log_format"]}
        # Each permission's actions on its one table (and its indexes), queue, stream or endpoint,
        # and writing to the function's own log group; nothing else.
        grants: dict[str, set[str]] = {f"log-group {fn}": {"logs:CreateLogStream", "logs:PutLogEvents"}}
        for permission in spec.get("permissions", []):
            kind = next(k for k in ("table", "queue", "stream", "endpoint") if k in permission)
            for resource in [f"{kind} {permission[kind]}"] + [f"index {permission[kind]}/{i}" for i in permission.get("indexes", [])]:
                grants.setdefault(resource, set()).update(permission["actions"])
        want[f"role {fn}"] = {"trusted": {"lambda.amazonaws.com"}, "grants": grants, "managed_policies": []}
        for source in spec.get("event_sources", []):
            kind = "queue" if "queue" in source else "stream"
            want[f"mapping {fn}/{source[kind]}"] = {
                **same("mapping", source), "function": f"function {fn}", "source": f"{kind} {source[kind]}",
                "report_batch_item_failures": source["report_batch_item_failures"],
                **({"on_failure": f"queue {source['on_failure_queue']}"} if "on_failure_queue" in source else {}),
                **({"maximum_concurrency": source["maximum_concurrency"]} if "maximum_concurrency" in source else {})}

    if topic:
        want[topic] = {"subscriptions": {("email", VARIABLES["alarm_email"])}}
    alarms = dict(monitoring.get("alarms", {}))
    for fn in stack["functions"]:
        alarms.update({f"{fn}-{k}": {**a, "target": {"function": fn}} for k, a in monitoring.get("function_alarms", {}).items()})
    for key, alarm in alarms.items():
        [(kind, target)] = alarm["target"].items()
        dimensions = {
            "queue": lambda: {"QueueName": name(target) + (".fifo" if queues[target]["fifo"] else "")},
            "stream": lambda: {"StreamName": name(target)}, "function": lambda: {"FunctionName": name(target)},
            "endpoint": lambda: {"EndpointName": name(target), "VariantName": "AllTraffic"},
            "http_api": lambda: {"ApiId": "api http-api"}}[kind]()
        want[f"alarm {key}"] = {
            **same("alarm", alarm), "namespace": NAMESPACES[kind], "dimensions": dimensions, "statistic": alarm["statistic"],
            "alarm_actions": [topic], "ok_actions": [topic]}
    if "dashboard" in monitoring:
        want[f"dashboard {monitoring['dashboard']['key']}"] = {"widgets": len(json.loads(
            (ROOT / "infra" / monitoring["dashboard"]["body"]).read_text())["widgets"])}
    if "budget" in monitoring:
        budget = monitoring["budget"]
        want[f"budget {budget['time_unit'].lower()}"] = {
            "time_unit": budget["time_unit"], "limit_usd": float(VARIABLES["monthly_budget_usd"]),
            "tag_filter": [f"user:{budget['filter_tag']}${VARIABLES['cost_allocation_tags'][budget['filter_tag']]}"],
            "notifications": {(n["type"], float(n["threshold_percent"]), (topic,)) for n in budget["notifications"]}}
    if "http_api" in stack:
        api = stack["http_api"]
        want["api http-api"] = {
            "authorizers": [(api["authorizer"]["type"], [api["authorizer"]["identity_source"]],
                             VARIABLES["jwt_issuer"], VARIABLES["jwt_audience"])],
            "throttle": (api["throttle"]["burst_limit"], api["throttle"]["rate_limit"]),
            "access_log_retention_days": api["access_log_retention_days"]}
        for route in api["routes"]:
            want[f"route {route['route']}"] = {"function": f"function {route['function']}", "authorization": api["authorizer"]["type"]}
    return want


def read_deployed(endpoint: str) -> dict[str, dict[str, Any]]:
    """What the AWS APIs report of everything named <PREFIX>-..., as {resource: {field: value}},
    with every ARN, URL or API id of a deployed resource replaced by "<kind> <manifest key>"."""
    import boto3

    def client(service: str) -> Any:
        return boto3.client(service, endpoint_url=endpoint, region_name=REGION, aws_access_key_id="test",
                            aws_secret_access_key="test")

    def pick(kind: str, answer: dict[str, Any], convert: Any = lambda value: value) -> dict[str, Any]:
        return {field: convert(answer[api]) for field, api in SAME[kind].items() if api in answer}

    got: dict[str, dict[str, Any]] = {}
    refs: dict[str, str] = {}
    own = lambda deployed: deployed.startswith(f"{PREFIX}-")  # noqa: E731

    ddb = client("dynamodb")
    for table in filter(own, every(ddb, "list_tables")["TableNames"]):
        t, key = ddb.describe_table(TableName=table)["Table"], key_of(table)
        types = {a["AttributeName"]: a["AttributeType"] for a in t["AttributeDefinitions"]}
        keys = lambda schema: [(k["AttributeName"], types[k["AttributeName"]]) for k in sorted(schema, key=lambda k: k["KeyType"])]  # noqa: E731
        refs[t["TableArn"]] = f"table {key}"
        refs.update({f"{t['TableArn']}/index/{i['IndexName']}": f"index {key}/{i['IndexName']}" for i in t.get("GlobalSecondaryIndexes", [])})
        ttl = ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
        backups = ddb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
        got[f"table {key}"] = {
            "keys": keys(t["KeySchema"]), "billing_mode": t.get("BillingModeSummary", {}).get("BillingMode"),
            "point_in_time_recovery": backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED",
            "server_side_encryption": t.get("SSEDescription", {}).get("Status") == "ENABLED",
            "time_to_live_attribute": ttl.get("AttributeName") if ttl["TimeToLiveStatus"] == "ENABLED" else None,
            "indexes": {i["IndexName"]: (keys(i["KeySchema"]), i["Projection"]["ProjectionType"]) for i in t.get("GlobalSecondaryIndexes", [])}}
    sqs = client("sqs")
    for url in every(sqs, "list_queues", QueueNamePrefix=f"{PREFIX}-").get("QueueUrls", []):
        a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        key = key_of(a["QueueArn"].split(":")[-1])
        refs[a["QueueArn"]], refs[url] = f"queue {key}", f"queue-url {key}"
        redrive, allow = json.loads(a.get("RedrivePolicy") or "null"), json.loads(a.get("RedriveAllowPolicy") or "null")
        statements = json.loads(a.get("Policy") or '{"Statement": []}')["Statement"]
        got[f"queue {key}"] = {
            **pick("queue", a, int), "fifo": a.get("FifoQueue") == "true",
            "dead_letter": redrive and (redrive["deadLetterTargetArn"], int(redrive["maxReceiveCount"])),
            "redrive_allowed_from": allow and set(allow["sourceQueueArns"]),
            "sent_by_rules": {s.get("Condition", {}).get("ArnEquals", {}).get("aws:SourceArn", "<any source>") for s in statements
                              if s["Effect"] == "Allow" and s["Principal"] == {"Service": "events.amazonaws.com"}
                              and "sqs:SendMessage" in listing(s["Action"])} or None}
    kinesis = client("kinesis")
    for stream in filter(own, every(kinesis, "list_streams")["StreamNames"]):
        s = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
        refs[s["StreamARN"]] = f"stream {key_of(stream)}"
        got[refs[s["StreamARN"]]] = {**pick("stream", s), "mode": s["StreamModeDetails"]["StreamMode"],
                                     "encryption": s.get("EncryptionType") == "KMS" and s.get("KeyId") == "alias/aws/kinesis"}
        if s["StreamModeDetails"]["StreamMode"] == "ON_DEMAND":
            got[refs[s["StreamARN"]]].pop("shard_count", None)
    events = client("events")
    for bus in events.list_event_buses(NamePrefix=f"{PREFIX}-")["EventBuses"]:
        rules = events.list_rules(EventBusName=bus["Name"])["Rules"]
        got[f"bus {key_of(bus['Name'])}"] = {"rules": {r["Arn"] for r in rules}}
        for rule in rules:
            refs[rule["Arn"]] = f"rule {key_of(rule['Name'])}"
            targets = events.list_targets_by_rule(Rule=rule["Name"], EventBusName=bus["Name"])["Targets"]
            got[refs[rule["Arn"]]] = {"pattern": json.loads(rule["EventPattern"]), "targets": [t["Arn"] for t in targets]}
    sagemaker = client("sagemaker")
    for e in sagemaker.list_endpoints(NameContains=f"{PREFIX}-")["Endpoints"]:
        refs[e["EndpointArn"]] = f"endpoint {key_of(e['EndpointName'])}"
        config = sagemaker.describe_endpoint(EndpointName=e["EndpointName"])["EndpointConfigName"]
        [variant] = sagemaker.describe_endpoint_config(EndpointConfigName=config)["ProductionVariants"]
        model = sagemaker.describe_model(ModelName=variant["ModelName"])
        got[refs[e["EndpointArn"]]] = {
            "memory_size_mb": variant["ServerlessConfig"]["MemorySizeInMB"], "max_concurrency": variant["ServerlessConfig"]["MaxConcurrency"],
            "network_isolation": model["EnableNetworkIsolation"], "image": model["PrimaryContainer"]["Image"], "role": model["ExecutionRoleArn"]}
    groups = client("logs").describe_log_groups(logGroupNamePrefix="/aws/")["logGroups"]
    retention = {g["logGroupName"]: g.get("retentionInDays") for g in groups}
    refs.update({g["arn"]: f"log-group {key_of(g['logGroupName'].split('/')[-1])}" for g in groups if g["logGroupName"].startswith("/aws/lambda/")})
    # The archives: the bucket (its name ends in the account id) and each Firehose delivery stream.
    s3, account = client("s3"), client("sts").get_caller_identity()["Account"]
    prefixed: dict[str, str] = {}  # ARN prefixes of deployed resources: an object ARN is "bucket <key>/<key name>"
    for bucket in filter(lambda b: own(b["Name"]), s3.list_buckets()["Buckets"]):
        arn, key, where = f"arn:aws:s3:::{bucket['Name']}", key_of(bucket["Name"]).removesuffix(f"-{account}"), {"Bucket": bucket["Name"]}
        refs[arn], prefixed[f"{arn}/"] = f"bucket {key}", f"bucket {key}/"
        [encryption] = s3.get_bucket_encryption(**where)["ServerSideEncryptionConfiguration"]["Rules"]
        block = s3.get_public_access_block(**where)["PublicAccessBlockConfiguration"]
        [ownership] = s3.get_bucket_ownership_controls(**where)["OwnershipControls"]["Rules"]
        statements = json.loads(s3.get_bucket_policy(**where)["Policy"])["Statement"]
        got[f"bucket {key}"] = {
            "versioning": s3.get_bucket_versioning(**where).get("Status"),
            "encryption": (encryption["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"], encryption.get("BucketKeyEnabled", False)),
            "public_access_block": [block.get(k) for k in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")],
            "ownership": ownership["ObjectOwnership"],
            "lifecycle": {r["ID"]: lifecycle_rule(r) for r in s3.get_bucket_lifecycle_configuration(**where)["Rules"]},
            # Every request without TLS refused, to the bucket and to its objects.
            "deny_insecure_transport": any(
                st["Effect"] == "Deny" and st["Principal"] in ("*", {"AWS": "*"}) and "s3:*" in listing(st["Action"])
                and set(listing(st["Resource"])) == {arn, f"{arn}/*"} and st.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
                for st in statements)}
    for group in (g for g in groups if g["logGroupName"].startswith("/aws/kinesisfirehose/")):
        for st in client("logs").describe_log_streams(logGroupName=group["logGroupName"])["logStreams"]:
            refs[st["arn"]] = f"log-stream {key_of(group['logGroupName'].split('/')[-1])}/{st['logStreamName']}"
    firehose = client("firehose")
    for stream in filter(own, firehose.list_delivery_streams(Limit=100)["DeliveryStreamNames"]):
        d = firehose.describe_delivery_stream(DeliveryStreamName=stream)["DeliveryStreamDescription"]
        [destination] = d["Destinations"]
        s3d, source = destination["ExtendedS3DestinationDescription"], d.get("Source", {}).get("KinesisStreamSourceDescription", {})
        refs[d["DeliveryStreamARN"]] = f"archive {key_of(stream)}"
        partitioning, processing = s3d.get("DynamicPartitioningConfiguration", {}), s3d.get("ProcessingConfiguration", {})
        logging = s3d.get("CloudWatchLoggingOptions", {})
        group = logging.get("LogGroupName", "")
        got[refs[d["DeliveryStreamARN"]]] = {
            "type": d["DeliveryStreamType"], "source": source.get("KinesisStreamARN"),
            # The role reads the stream and writes the bucket: one role, named in both places.
            "role": source.get("RoleARN") if source.get("RoleARN") == s3d.get("RoleARN") else (source.get("RoleARN"), s3d.get("RoleARN")),
            "bucket": s3d["BucketARN"], "prefix": s3d.get("Prefix"), "error_output_prefix": s3d.get("ErrorOutputPrefix"),
            "compression": s3d.get("CompressionFormat"),
            "buffering": (s3d.get("BufferingHints", {}).get("IntervalInSeconds"), s3d.get("BufferingHints", {}).get("SizeInMBs")),
            "dynamic_partitioning": (partitioning.get("Enabled"), partitioning.get("RetryOptions", {}).get("DurationInSeconds")),
            "processors": [(p["Type"], {q["ParameterName"]: q["ParameterValue"] for q in p.get("Parameters", [])})
                           for p in processing.get("Processors", [])] if processing.get("Enabled") else [],
            "logging": (logging.get("Enabled"), f"log-stream {key_of(group.split('/')[-1])}/{logging.get('LogStreamName')}"),
            "log_retention_days": retention.get(group)}
    lam = client("lambda")
    for f in filter(lambda f: own(f["FunctionName"]), every(lam, "list_functions")["Functions"]):
        refs[f["FunctionArn"]] = f"function {key_of(f['FunctionName'])}"
        got[refs[f["FunctionArn"]]] = {
            **pick("function", f), "handler": f.get("Handler"), "architecture": f["Architectures"][0], "role": f["Role"],
            "environment": f.get("Environment", {}).get("Variables", {}), "log_retention_days": retention.get(f"/aws/lambda/{f['FunctionName']}"),
            **({"log_format": f["LoggingConfig"].get("LogFormat")} if "LoggingConfig" in f else {})}
    for m in every(lam, "list_event_source_mappings")["EventSourceMappings"]:
        function, source = m["FunctionArn"].split(":")[-1], re.split("[:/]", m["EventSourceArn"])[-1]
        if own(function):
            got[f"mapping {key_of(function)}/{key_of(source)}"] = {
                **pick("mapping", m), "function": m["FunctionArn"], "source": m["EventSourceArn"],
                "report_batch_item_failures": "ReportBatchItemFailures" in m.get("FunctionResponseTypes", []),
                "on_failure": m.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination"),
                "maximum_concurrency": m.get("ScalingConfig", {}).get("MaximumConcurrency")}
    iam = client("iam")
    for role in filter(lambda r: own(r["RoleName"]), every(iam, "list_roles")["Roles"]):
        refs[role["Arn"]] = f"role {key_of(role['RoleName'])}"
        grants: dict[str, set[str]] = {}
        for policy in iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"]:
            for s in iam.get_role_policy(RoleName=role["RoleName"], PolicyName=policy)["PolicyDocument"]["Statement"]:
                for resource in listing(s["Resource"]):
                    # A Deny shows as a grant of its own, which the manifest never has.
                    grants.setdefault(resource if s["Effect"] == "Allow" else f"Deny {resource}", set()).update(listing(s["Action"]))
        trust = role["AssumeRolePolicyDocument"]
        got[refs[role["Arn"]]] = {
            "trusted": {p for s in (json.loads(trust) if isinstance(trust, str) else trust)["Statement"]
                        for p in listing(s["Principal"].get("Service", []))},
            "grants": grants,
            "managed_policies": [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"]]}
    sns = client("sns")
    for topic in filter(lambda t: own(t["TopicArn"].split(":")[-1]), sns.list_topics()["Topics"]):
        refs[topic["TopicArn"]] = f"topic {key_of(topic['TopicArn'].split(':')[-1])}"
        subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic["TopicArn"])["Subscriptions"]
        got[refs[topic["TopicArn"]]] = {"subscriptions": {(s["Protocol"], s["Endpoint"]) for s in subscriptions}}
    apis = client("apigatewayv2")
    for api in filter(lambda a: own(a["Name"]), apis.get_apis()["Items"]):
        refs[api["ApiId"]] = f"api {key_of(api['Name'])}"
        integrations = {i["IntegrationId"]: i["IntegrationUri"] for i in apis.get_integrations(ApiId=api["ApiId"])["Items"]}
        authorizers = set()
        for route in apis.get_routes(ApiId=api["ApiId"])["Items"]:
            uri = integrations.get(route.get("Target", "").removeprefix("integrations/"), "")
            got[f"route {route['RouteKey']}"] = {"function": uri.split("/functions/")[-1].removesuffix("/invocations"),
                                                 "authorization": route.get("AuthorizationType")}
            authorizers.add(route.get("AuthorizerId"))
        jwt = [apis.get_authorizer(ApiId=api["ApiId"], AuthorizerId=a) for a in sorted(authorizers - {None})]
        stage = apis.get_stage(ApiId=api["ApiId"], StageName="$default")
        got[refs[api["ApiId"]]] = {
            "authorizers": [(a["AuthorizerType"], a["IdentitySource"], a["JwtConfiguration"]["Issuer"], a["JwtConfiguration"]["Audience"])
                            for a in jwt],
            "throttle": (stage["DefaultRouteSettings"].get("ThrottlingBurstLimit"), stage["DefaultRouteSettings"].get("ThrottlingRateLimit")),
            "access_log_retention_days": retention.get(stage.get("AccessLogSettings", {}).get("DestinationArn", "").split(":log-group:")[-1])}
    cloudwatch = client("cloudwatch")
    for a in every(cloudwatch, "describe_alarms", AlarmNamePrefix=f"{PREFIX}-")["MetricAlarms"]:
        got[f"alarm {key_of(a['AlarmName'])}"] = {
            **pick("alarm", a), "namespace": a.get("Namespace"), "dimensions": {d["Name"]: d["Value"] for d in a.get("Dimensions", [])},
            "statistic": a.get("Statistic") or a.get("ExtendedStatistic"), "alarm_actions": a["AlarmActions"], "ok_actions": a["OKActions"]}
    for d in cloudwatch.list_dashboards(DashboardNamePrefix=f"{PREFIX}-")["DashboardEntries"]:
        body = json.loads(cloudwatch.get_dashboard(DashboardName=d["DashboardName"])["DashboardBody"])
        got[f"dashboard {key_of(d['DashboardName'])}"] = {"widgets": len(body["widgets"])}
    budgets, account = client("budgets"), client("sts").get_caller_identity()["Account"]
    for b in filter(lambda b: own(b["BudgetName"]), budgets.describe_budgets(AccountId=account).get("Budgets", [])):
        where = {"AccountId": account, "BudgetName": b["BudgetName"]}
        got[f"budget {key_of(b['BudgetName'])}"] = {
            "time_unit": b["TimeUnit"], "limit_usd": float(b["BudgetLimit"]["Amount"]), "tag_filter": b.get("CostFilters", {}).get("TagKeyValue"),
            "notifications": {(n["NotificationType"], float(n["Threshold"]), tuple(s["Address"] for s in budgets.describe_subscribers_for_notification(
                **where, Notification=n)["Subscribers"])) for n in budgets.describe_notifications_for_budget(**where)["Notifications"]}}

    def translate(value: Any) -> Any:
        if isinstance(value, str):
            return refs.get(value) or next((to + value[len(start):] for start, to in prefixed.items() if value.startswith(start)), value)
        if isinstance(value, dict):
            return {translate(k): translate(v) for k, v in value.items()}
        return type(value)(translate(v) for v in value) if isinstance(value, (list, tuple, set)) else value

    return translate(got)


def lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """An S3 lifecycle rule as the templates set it: its prefix, and what happens when."""
    found: dict[str, Any] = {"prefix": rule.get("Filter", {}).get("Prefix", rule.get("Prefix"))}
    if rule.get("Status") != "Enabled":
        found["status"] = rule.get("Status")
    if "Transitions" in rule:
        found["transitions"] = [(t.get("Days"), t.get("StorageClass")) for t in rule["Transitions"]]
    if "Expiration" in rule:
        found["expiration_days"] = rule["Expiration"].get("Days")
    if "NoncurrentVersionExpiration" in rule:
        found["noncurrent_days"] = rule["NoncurrentVersionExpiration"].get("NoncurrentDays")
    if "AbortIncompleteMultipartUpload" in rule:
        found["abort_upload_days"] = rule["AbortIncompleteMultipartUpload"].get("DaysAfterInitiation")
    return found


def compare(want: dict[str, dict[str, Any]], got: dict[str, dict[str, Any]]) -> tuple[list[str], int, set[Any]]:
    """The differences, how many fields were compared (every field the manifest sets; a deployed
    resource the manifest does not have is a difference too) and the NOT_SHOWN ones skipped."""
    problems, compared, unseen = [], 0, set()
    for resource in sorted(want.keys() | got.keys()):
        if resource not in got or resource not in want:
            problems.append(f"{resource}: " + ("in the manifest, not deployed" if resource in want else "deployed, not in the manifest"))
            continue
        for field, value in want[resource].items():
            if (resource.split()[0], field) in NOT_SHOWN and field not in got[resource]:
                unseen.add((resource.split()[0], field))
                continue
            compared += 1
            if got[resource].get(field, "<not reported>") != value:
                problems.append(f"{resource}: {field}: {difference(value, got[resource].get(field, '<not reported>'))}")
    return problems, compared, unseen


def difference(want: Any, got: Any) -> str:
    """What differs: by key in a mapping, by element in a set."""
    if isinstance(want, dict) and isinstance(got, dict):
        return "; ".join(f"[{k}] {difference(want.get(k), got.get(k))}" for k in sorted(want.keys() | got.keys(), key=str)
                         if want.get(k) != got.get(k))
    if isinstance(want, set) and isinstance(got, set):
        return f"manifest's {sorted(want - got, key=str)} not deployed, deployed {sorted(got - want, key=str)} not in the manifest"
    return f"manifest {want!r}, deployed {got!r}"


SKIP = why_skip()


@unittest.skipIf(SKIP, SKIP or "")
class DeployTest(unittest.TestCase):
    times: dict[str, float] = {}
    counts: dict[str, int] = {}
    unseen: set[Any] = set()

    @classmethod
    def setUpClass(cls) -> None:
        shutil.rmtree(LOGS, ignore_errors=True)
        LOGS.mkdir(parents=True)
        # The test's own credentials and endpoints only (tools/test.sh exports AWS_ENDPOINT_URL).
        cls.env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        cls.env.update(TF_IN_AUTOMATION="1", TF_INPUT="0", CHECKPOINT_DISABLE="1", AWS_EC2_METADATA_DISABLED="true")
        # Class cleanups run last first, also when setUpClass fails: destroy, then the emulator.
        # Stopped instead (tools/test.sh stops check-infra on an early exit), it exits at once:
        # terraform() stops terraform, the emulator goes when our end of its stdin closes, and
        # atexit removes the copy.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
        temp = Path(tempfile.mkdtemp(prefix="deploy-test-"))
        atexit.register(shutil.rmtree, temp, ignore_errors=True)
        cls.start_emulator()
        # The module reads ../stack.json and ../dashboard.json beside it; a local .terraform, lock
        # file, state or tfvars must not take part.
        shutil.copytree(ROOT / "infra", temp / "infra", ignore=shutil.ignore_patterns(
            ".terraform", ".terraform.lock.hcl", "*.tfstate*", "*.tfvars", "__pycache__"))
        cls.stack = on_demand(json.loads((temp / "infra" / "stack.json").read_text()), ON_DEMAND_STREAM)
        (temp / "infra" / "stack.json").write_text(json.dumps(cls.stack, indent=2))
        # The module deploys <package_dir>/<function>/bootstrap.zip, which only tools/package.sh
        # builds (a release cargo build). The test checks the wiring, not the code: a tiny zip
        # stands in for each, where the module looks by default (<module>/../../target/lambda).
        for function in cls.stack["functions"]:
            (temp / "target" / "lambda" / function).mkdir(parents=True)
            with zipfile.ZipFile(temp / "target" / "lambda" / function / "bootstrap.zip", "w") as package:
                package.writestr("bootstrap", "#!/bin/sh\nexit 1\n")
        cls.workdir = temp / "infra" / "terraform" / "examples" / "basic"
        # Merged into examples/basic's provider block (an override file, in the copy only). No
        # skip_requesting_account_id: a budget's id is "<account>:<name>", and without the account
        # (moto's STS answers) the provider cannot read back the budget it created.
        (cls.workdir / "override.tf.json").write_text(json.dumps({"provider": {"aws": {
            "region": REGION, "access_key": "test", "secret_key": "test", "skip_credentials_validation": True,
            "skip_metadata_api_check": True, "s3_use_path_style": True,
            "endpoints": {service: cls.endpoint for service in SERVICES}}}}, indent=2))
        (cls.workdir / "deploy-test.auto.tfvars.json").write_text(json.dumps(VARIABLES, indent=2))
        cls.terraform("init", "-input=false", f"-plugin-dir={PLUGIN_DIR}")
        cls.addClassCleanup(cls.destroy)
        applied = cls.terraform("apply", "-auto-approve", "-input=false")
        cls.counts["resources created"] = int(re.search(r"Resources: (\d+) added", applied).group(1))

    @classmethod
    def start_emulator(cls) -> None:
        log = open(LOGS / "emulator.log", "w")
        cls.addClassCleanup(log.close)
        cls.emulator = subprocess.Popen([sys.executable, str(Path(__file__).with_name("deploy_emulator.py"))], env=cls.env,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True)
        cls.addClassCleanup(cls.stop_emulator)
        ready, _, _ = select.select([cls.emulator.stdout], [], [], 60)
        line = cls.emulator.stdout.readline() if ready else ""
        if not line.startswith("port "):
            raise AssertionError(f"the emulator did not start (exit {cls.emulator.poll()}); see target/deploy-test/emulator.log")
        cls.endpoint = f"http://127.0.0.1:{int(line.split()[1])}"

    @classmethod
    def stop_emulator(cls) -> None:
        cls.emulator.stdin.close()  # deploy_emulator.py stops when its stdin closes
        try:
            cls.emulator.wait(timeout=30)
        except subprocess.TimeoutExpired:
            cls.emulator.kill()
            cls.emulator.wait()

    @classmethod
    def terraform(cls, step: str, *args: str) -> str:
        """`terraform <step> <args>` in examples/basic, output to target/deploy-test/<step>.log; on a
        non-zero exit or after TIMEOUTS[step] seconds, fails with the end of the log."""
        started, log = time.monotonic(), LOGS / f"{step}.log"
        with open(log, "w") as out:
            # A session of its own, so that a timeout stops the provider plugin too.
            process = subprocess.Popen(["terraform", step, *args, "-no-color"], cwd=cls.workdir, env=cls.env,
                                       stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                status = f"exit {process.wait(timeout=TIMEOUTS[step])}"
            except BaseException as stopped:  # the timeout, or this test stopped (SIGTERM, Ctrl-C)
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                if not isinstance(stopped, subprocess.TimeoutExpired):
                    raise
                status = f"timed out after {TIMEOUTS[step]}s"
        cls.times[step] = time.monotonic() - started
        output = log.read_text()
        if process.returncode != 0:
            # The provider's progress lines are noise here, but the last few: what it waited on.
            lines = output.splitlines()
            waits = {i for i, line in enumerate(lines) if re.search(r": Still [a-z]+\.\.\. \[", line)}
            waits -= set(sorted(waits)[-5:])
            tail = [line for i, line in enumerate(lines) if i not in waits][-60:]
            raise AssertionError(f"terraform {step} failed ({status}); the end of target/deploy-test/{step}.log:\n" + "\n".join(tail))
        return output

    @classmethod
    def destroy(cls) -> None:
        try:
            cls.terraform("destroy", "-auto-approve", "-input=false")
            left = sorted(read_deployed(cls.endpoint))
            if left:
                raise AssertionError(f"terraform destroy left: {', '.join(left)}")
        finally:
            print(summary(cls.times, cls.counts, cls.unseen), file=sys.stderr, flush=True)

    def test_deployed_stack_matches_manifest(self) -> None:
        started = time.monotonic()
        want, got = expected(self.stack), read_deployed(self.endpoint)
        problems, compared, unseen = compare(want, got)
        self.times["compare"] = time.monotonic() - started
        self.unseen.update(unseen)
        self.counts.update({"resources compared": len(want), "items compared": compared})
        if problems:
            self.fail(f"{len(problems)} of {compared} items differ from infra/stack.json:\n" + "\n".join(problems))


    def plan(self, name: str, *args: str) -> dict[str, Any]:
        """The resource changes of `terraform plan <args>` against the deployed stack, by address."""
        self.terraform("plan", "-input=false", *args, f"-out={name}.plan")
        shown = self.terraform("show", "-json", f"{name}.plan")
        # The plan as JSON: one line, after whatever the CLI warns about first.
        plan = json.loads(next(line for line in shown.splitlines() if line.startswith("{")))
        return {change["address"]: change for change in plan["resource_changes"]}

    def test_the_low_latency_profile_plans_its_consumers_and_settings(self) -> None:
        """`terraform plan -var profile=low-latency` against the deployed stack, beside a plan
        without it (moto answers some attributes unlike AWS, so a plain plan is not empty):
        the profile's changes, and only those. Not applied: moto cannot map a function to a
        stream consumer."""
        plain = self.plan("plain")
        profiled = self.plan("profile", "-var", "profile=low-latency")
        changed = {address: change for address, change in profiled.items()
                   if address not in plain or (change["change"]["after"], change["change"]["after_unknown"])
                   != (plain[address]["change"]["after"], plain[address]["change"]["after_unknown"])}
        kinds = sorted((c["type"], c["index"]) for c in changed.values())
        self.assertEqual(kinds, [
            ("aws_iam_role_policy", "feature-updates"), ("aws_iam_role_policy", "stream-enrichment"),
            ("aws_kinesis_stream_consumer", "feature-updates/enriched"),
            ("aws_kinesis_stream_consumer", "stream-enrichment/activity"),
            ("aws_lambda_event_source_mapping", "event-router/ingest"),
            ("aws_lambda_event_source_mapping", "feature-updates/enriched"),
            ("aws_lambda_event_source_mapping", "stream-enrichment/activity"),
            ("aws_lambda_function", "inference"),
        ], "the profile's changes, and nothing else")
        consumers = [c["change"]["after"]["name"] for c in changed.values() if c["type"] == "aws_kinesis_stream_consumer"]
        self.assertEqual(sorted(consumers), [f"{PREFIX}-feature-updates", f"{PREFIX}-stream-enrichment"])
        mappings = {c["index"]: c["change"] for c in changed.values() if c["type"] == "aws_lambda_event_source_mapping"}
        ingest = mappings["event-router/ingest"]["after"]
        self.assertEqual((ingest["batch_size"], ingest["maximum_batching_window_in_seconds"]), (10, 0))
        for key in ("stream-enrichment/activity", "feature-updates/enriched"):
            # The mapping reads from its consumer, whose ARN is known once it exists.
            self.assertTrue(mappings[key]["after_unknown"].get("event_source_arn"), key)
            self.assertEqual(mappings[key]["after"]["maximum_batching_window_in_seconds"], 0, key)
        inference = next(c for c in changed.values() if c["type"] == "aws_lambda_function")
        self.assertEqual(inference["change"]["after"]["environment"][0]["variables"]["FEATURES_CONSISTENT_READ"], "true")


def summary(times: dict[str, float], counts: dict[str, int], unseen: set[Any]) -> str:
    steps = ", ".join(f"{step} {times[step]:.1f}s" for step in ("init", "apply", "compare", "destroy") if step in times)
    missing = "; ".join(f"{kind} {field}: {NOT_SHOWN[kind, field]}" for kind, field in sorted(unseen))
    return (f"\ndeploy test: {steps}; " + ", ".join(f"{count} {what}" for what, count in counts.items())
            + (f"\nnot shown by moto, so not compared: {missing}" if missing else ""))


if __name__ == "__main__":
    unittest.main()
