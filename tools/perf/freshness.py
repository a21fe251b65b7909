"""How fresh a feature is when `POST /predict` reads it, modelled for AWS: the time from an
event's PutEvents to the moment its effect is in what the read returns, stage by stage, from
the documented polling and batching of each event source, the manifest's settings (as deployed,
or under one of its `profiles`) and the consumers' batch times measured under the latency model
(`workload.throughput`). Each stage is a distribution; their sum is drawn many times (seeded)
for its median and 99th percentile. Standard library only; cost_report.py renders it.
"""

import math
import random

from streams import HOURS_PER_MONTH, SECONDS_PER_MONTH, usd

DRAWS = 50_000
SEED = 20261206
Z_P99 = 2.326347874

# Stages whose figures are not the manifest's or the measurements': (median s, p99 s, source).
EVENTBRIDGE_TO_SQS = (0.10, 0.40, "EventBridge to its SQS target: AWS documents near-real-time "
                      "delivery and no figure; 100 ms median, 400 ms p99 assumed")
SQS_POLL = (0.02, 0.10, "Lambda's SQS pollers long-poll, so a message is received as it arrives: "
            "20 ms median, 100 ms p99 assumed")
KINESIS_POLL_INTERVAL = (1.0, "Lambda polls each shard with a standard iterator at a base rate of "
                         "once per second when it is caught up (AWS Lambda developer guide): a record "
                         "waits up to 1 s, uniformly")
ENHANCED_FAN_OUT = (0.07, 0.20, "enhanced fan-out pushes records over HTTP/2 with a typical average "
                    "propagation delay of 70 ms (Kinesis developer guide); 200 ms p99 assumed")
EVENTUAL_READ_LAG = (0.01, 1.0, "an eventually consistent read reflects a write usually within a "
                     "second (DynamoDB developer guide): 10 ms median and 1 s p99 assumed; a strongly "
                     "consistent read, at twice the read units, has none")


def lognormal(median, p99):
    """A draw function for a log-normal distribution of this median and 99th percentile."""
    sigma = math.log(max(p99 / median, 1.0)) / Z_P99
    return lambda rng: median * math.exp(sigma * rng.gauss(0.0, 1.0))


def uniform(high):
    return lambda rng: rng.uniform(0.0, high)


def stage_sources(source_settings, handler):
    """The stages of the path, each (name, draw, how it is modelled)."""
    router, activity, enriched = (source_settings[k] for k in ("ingest", "activity", "enriched"))
    stages = [
        ("EventBridge to the ingest queue", lognormal(*EVENTBRIDGE_TO_SQS[:2]), EVENTBRIDGE_TO_SQS[2]),
        ("event-router's poller receives it", lognormal(*SQS_POLL[:2]), SQS_POLL[2]),
    ]
    if router["window"]:
        stages.append(("event-router's batching window", uniform(router["window"]),
                       "up to the window (%d s), uniformly: a batch waits for more messages" % router["window"]))
    stages.append(("event-router's batch", handler["event-router"][0], handler["event-router"][1]))
    for stream, settings, consumer in (("activity", activity, "stream-enrichment"),
                                       ("enriched", enriched, "feature-updates")):
        if settings["enhanced_fan_out"]:
            stages.append(("%s stream to %s (enhanced fan-out)" % (stream, consumer),
                           lognormal(*ENHANCED_FAN_OUT[:2]), ENHANCED_FAN_OUT[2]))
        else:
            stages.append(("%s stream to %s (polled)" % (stream, consumer),
                           uniform(KINESIS_POLL_INTERVAL[0]), KINESIS_POLL_INTERVAL[1]))
        if settings["window"]:
            stages.append(("%s's batching window" % consumer, uniform(settings["window"]),
                           "up to the window (%d s), uniformly" % settings["window"]))
        stages.append(("%s's batch" % consumer, handler[consumer][0], handler[consumer][1]))
    if not source_settings["consistent_read"]:
        stages.append(("the read's replication lag", lognormal(*EVENTUAL_READ_LAG[:2]), EVENTUAL_READ_LAG[2]))
    return stages


def handler_stages(throughput, latency_model):
    """Each function's batch time as a draw: the consumers' fitted to their measured median
    and p99 under the latency model; event-router's as its PutRecords and SendMessageBatch
    calls drawn from the model (its batch was not measured against a fast stream)."""
    handler = {}
    for consumer in ("stream-enrichment", "feature-updates"):
        work = throughput["functions"][consumer]
        median, p99 = work["billed_ms_per_invocation"] / 1000, work["p99_ms_per_invocation"] / 1000
        handler[consumer] = (lognormal(median, max(p99, median)),
                             "measured under the latency model: %.0f ms median, %.0f ms p99" % (median * 1000, p99 * 1000))
    kinesis = lognormal(latency_model["kinesis"]["median_ms"] / 1000, latency_model["kinesis"]["p99_ms"] / 1000)
    sqs = lognormal(latency_model["sqs"]["median_ms"] / 1000, latency_model["sqs"]["p99_ms"] / 1000)
    handler["event-router"] = (lambda rng: kinesis(rng) + sqs(rng),
                               "a PutRecords and a SendMessageBatch, drawn from the latency model")
    return handler


def profile_settings(manifest, profile_name=None):
    """What the freshness path depends on, as deployed or under profile `profile_name`: each
    source's batching window and batch size, enhanced fan-out of the stream sources, and whether
    inference reads its features strongly consistent."""
    functions = manifest["functions"]
    profile = (manifest.get("profiles") or {}).get(profile_name) if profile_name else None
    if profile_name and profile is None:
        raise KeyError("the manifest has no profile %r" % profile_name)
    overrides = (profile or {}).get("event_sources") or {}
    settings = {}
    for function in functions.values():
        for source in function.get("event_sources", []):
            key = source.get("queue") or source.get("stream")
            override = overrides.get(key) or {}
            settings[key] = {
                "window": override.get("maximum_batching_window_seconds", source["maximum_batching_window_seconds"]),
                "batch_size": override.get("batch_size", source["batch_size"]),
                "enhanced_fan_out": bool(override.get("enhanced_fan_out", source.get("enhanced_fan_out", False)))
                if "stream" in source else False,
            }
    environment = dict(functions["inference"].get("environment", {}))
    for name, value in ((profile or {}).get("environment") or {}).get("inference", {}).items():
        environment[name] = {"value": value}
    settings["consistent_read"] = (environment.get("FEATURES_CONSISTENT_READ") or {}).get("value") == "true"
    return settings


def percentile(sorted_values, share):
    return sorted_values[min(len(sorted_values) - 1, max(0, math.ceil(len(sorted_values) * share) - 1))]


def model(settings, throughput):
    """The modelled freshness under `settings` (profile_settings):
    {"p50", "p99" (seconds), "stages": [(name, p50, p99, how)]}."""
    handler = handler_stages(throughput, throughput["latency_model"])
    stages = stage_sources(settings, handler)
    rng = random.Random(SEED)
    totals = [0.0] * DRAWS
    rows = []
    for name, draw, how in stages:
        values = [draw(rng) for _ in range(DRAWS)]
        for index, value in enumerate(values):
            totals[index] += value
        values.sort()
        rows.append((name, percentile(values, 0.5), percentile(values, 0.99), how))
    totals.sort()
    return {"p50": percentile(totals, 0.5), "p99": percentile(totals, 0.99), "stages": rows,
            "settings": settings}


# The rates the profiles are priced at, in events a second, on one shard per stream.
COST_RATES = (10, 100, 1_000)
PIPELINE = ("event-router", "stream-enrichment", "feature-updates")
SOURCE_OF = {"event-router": "ingest", "stream-enrichment": "activity", "feature-updates": "enriched"}


def records_per_batch(settings, rate, handler_seconds, polled):
    """A batch's records at `rate` a second: what the batching window gathers; with no window,
    what arrived while the previous batch ran, and at least a poll interval's worth on a polled
    stream (Lambda polls a caught-up shard once a second); at least one, at most the batch size."""
    if settings["window"]:
        gathered = rate * settings["window"]
    elif polled:
        gathered = rate * max(KINESIS_POLL_INTERVAL[0], handler_seconds)
    else:
        gathered = rate * handler_seconds
    return min(settings["batch_size"], max(1.0, gathered))


def distinct_users(batch, users, exponent):
    """Expected distinct users among `batch` events drawn from Zipf(`exponent`) over `users`."""
    weights = [1 / (rank ** exponent) for rank in range(1, users + 1)]
    total = sum(weights)
    return sum(1 - (1 - w / total) ** batch for w in weights)


def profile_cost(settings, workload, pipeline_total, prices, rate):
    """Cost per million events under `settings` (profile_settings) at `rate`
    events a second on one shard per stream: the measured pipeline (batches of the deployed
    size, warm) adjusted for the batches the profile's windows make at that rate (Lambda
    requests and duration, the ingest queue's receives and deletes, the consumers' write units,
    which coalesce less in smaller batches), plus enhanced fan-out's consumer-shard-hours and
    data. A smaller batch is billed the measured duration of a full one: mostly waiting on its
    calls, it takes nearly as long, so the duration is an upper bound.
    {"usd_per_million", "batches": {function: records per batch}}."""
    functions = workload["functions"]
    events = workload["events"]
    users, exponent = workload.get("users") or 1000, workload.get("zipf_exponent") or 1.1
    per_million = 1_000_000 / events
    total = pipeline_total
    batches = {}

    throughput = workload.get("throughput") or {}
    for function in PIPELINE:
        work = functions[function]
        source = settings[SOURCE_OF[function]]
        timed = (throughput.get("functions") or {}).get(function) or work
        handler_seconds = timed["billed_ms_per_invocation"] / 1000
        polled = function != "event-router" and not source["enhanced_fan_out"]
        batch = records_per_batch(source, rate, handler_seconds, polled)
        batches[function] = batch
        measured = work["invocations"] * per_million
        modelled = 1_000_000 / batch
        extra = modelled - measured
        total += usd(prices, "lambda_requests", extra)
        billed = math.ceil(work["billed_ms_per_invocation"])
        total += usd(prices, "lambda_arm64_gb_second", extra * billed / 1000 * work["memory_mb"] / 1024)
        if function == "event-router":
            # The event source's ReceiveMessage and DeleteMessageBatch, one each per batch.
            total += usd(prices, "sqs_standard_requests", 2 * extra)
        else:
            measured_batch = work["records"] / work["invocations"]
            coalescing = distinct_users(batch, users, exponent) / batch
            measured_coalescing = distinct_users(measured_batch, users, exponent) / measured_batch
            units = work["write_request_units"] * per_million
            total += usd(prices, "dynamodb_on_demand_write_request_units",
                         units * (coalescing / measured_coalescing - 1))
    sizes = workload.get("stream_record_bytes") or {}
    for stream in ("activity", "enriched"):
        if settings[stream]["enhanced_fan_out"]:
            hours_per_million = HOURS_PER_MONTH / (rate * SECONDS_PER_MONTH / 1_000_000)
            total += usd(prices, "kinesis_enhanced_fan_out_consumer_shard_hour", hours_per_million)
            total += usd(prices, "kinesis_enhanced_fan_out_data_gb", 1_000_000 * sizes.get(stream, 0) / 2 ** 30)
    return {"usd_per_million": total, "batches": batches}


def variants(manifest):
    """The settings that trade freshness against cost, one at a time from the deployed ones,
    then every profile of the manifest: [(label, settings)]."""
    deployed = profile_settings(manifest)

    def changed(change):
        settings = {key: dict(value) if isinstance(value, dict) else value for key, value in deployed.items()}
        change(settings)
        return settings

    def no_windows(settings):
        for key in ("ingest", "activity", "enriched"):
            settings[key]["window"] = 0
        # SQS takes batches over 10 only with a window of 1 s or more.
        settings["ingest"]["batch_size"] = min(10, settings["ingest"]["batch_size"])

    def fan_out(settings):
        for key in ("activity", "enriched"):
            settings[key]["enhanced_fan_out"] = True

    def strong(settings):
        settings["consistent_read"] = True

    rows = [("as deployed", deployed),
            ("batching windows 0 (ingest batches of 10)", changed(no_windows)),
            ("enhanced fan-out on both streams", changed(fan_out)),
            ("strongly consistent feature reads", changed(strong))]
    for name in sorted(manifest.get("profiles") or {}):
        rows.append(("profile %s" % name, profile_settings(manifest, name)))
    return rows
