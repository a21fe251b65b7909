#!/usr/bin/env python3
"""Performance and cost report from `perf-report measure`'s measurements and a dated price table.

    python3 tools/perf/cost_report.py [--measurements target/perf/measurements.json]
                                      [--prices tools/perf/prices.json] [--out target/perf]
                                      [--manifest infra/stack.json]

writes, into --out:

  report.json           the measurements, the prices used and the derived cost model: every
                        input, every line's quantity, unit price, formula and result;
  summary.md            goals against measurements, requests and capacity units per event,
                        DynamoDB units per event of each stream consumer (warm and cold, with
                        the floor) and of the hot users, cost per million events (the pipeline
                        warm and cold, the naive design without and with a 24-hour memory of
                        event ids), how it is computed, and the price table with its date;
  cost-per-million.svg  cost per million events by design, stacked by service;
  init-time.svg         init time per function (median wall and CPU ms) against the 10 ms goal;
  capacity-modes.svg    the streams' monthly cost, provisioned (by peak-to-average ratio) and
                        on-demand, by events a month, with where on-demand becomes the cheaper
                        (streams.py computes it);

summary.md and report.json also price the manifest's `archives` (Firehose to S3, archive.py
computes it) per month and per million events at the rates the freshness and sizing sections
use, or say that the manifest has none;

and prints the cost table to stdout.

Whatever the measurements leave out (a first version of the measuring tool may not fill every
part) is reported as "not measured", and the cost model names the inputs it lacks; a part that
is present but malformed is an error naming the key and what was expected. Python 3.9+,
standard library only.
"""

import argparse
import datetime
import json
import math
import sys
from pathlib import Path
from xml.sax.saxutils import escape

# streams.py, beside this file, also when the report is loaded by path.
sys.path.insert(0, str(Path(__file__).resolve().parent))
import archive  # noqa: E402
import freshness  # noqa: E402
import streams  # noqa: E402

NOT_MEASURED = "not measured"

# Every function of the workspace, in the order the README presents them; the pipeline's three
# batch consumers are the ones the workload drives and the warm-CPU goal applies to.
ALL_FUNCTIONS = ("todo-api", "event-router", "stream-enrichment", "feature-updates", "inference")
PIPELINE_FUNCTIONS = ("event-router", "stream-enrichment", "feature-updates")

# The goals the report holds the measurements to.
INIT_WALL_MS_GOAL = 10.0
COLD_PATH_CPU_MS_GOAL = 15.0
WARM_CPU_PER_EVENT_US_GOAL = 2.0
# Decimal megabytes, the stricter reading of "3 MB": a zip is never reported as meeting the goal
# on the strength of the binary unit.
ZIP_BYTES_GOAL = 3_000_000
# DynamoDB units per event of each stream consumer, steady state (the warm run decides; the cold
# run is shown beside it as the bound when Lambda keeps no affinity), and the pipeline's cost.
WRITE_UNITS_PER_EVENT_GOAL = 0.62
READ_UNITS_PER_EVENT_GOAL = 0.65
PIPELINE_USD_PER_MILLION_GOAL = 2.40
# Every item under 64 KB, in decimal kilobytes as for the zips: the stricter reading.
ITEM_BYTES_GOAL = 64_000
# The low-latency profile's modelled p99 from PutEvents to the features POST /predict reads.
LOW_LATENCY_PROFILE = "low-latency"
FRESHNESS_P99_GOAL_SECONDS = 2.0

EVENTS_PER_REPORT = 1_000_000
HOURS_PER_MONTH = streams.HOURS_PER_MONTH
# The rates the archive is priced at: those the freshness and sizing sections price.
ARCHIVE_RATES = tuple(sorted(set(freshness.COST_RATES) | set(streams.SIZING_RATES)))

# Every producer event is one EventBridge custom event (events are far below 64 KB) and one
# SendMessage by the rule's target into the ingest queue.
EVENTBRIDGE_EVENTS_PER_EVENT = 1
INGEST_SENDS_PER_EVENT = 1

# The stream consumers keep keyed state in DynamoDB; the cold run and the hot users run them alone.
CONSUMERS = ("stream-enrichment", "feature-updates")
# The hot-user workloads perf-report runs: a share of the reference's events to one user, and one
# user at a rate.
HOT_USERS = ("share", "rate")

SERVICES = ("EventBridge", "SQS", "Lambda", "Kinesis", "DynamoDB")
DESIGNS = ("pipeline", "pipeline_cold", "naive", "naive_with_memory")
DESIGN_TITLES = {
    "pipeline": "pipeline, warm (as built)",
    "pipeline_cold": "pipeline, cold",
    "naive": "naive design",
    "naive_with_memory": "naive with 24 h memory",
}
# The part of `workload` each design other than the pipeline takes its functions from.
DESIGN_SOURCES = {"pipeline_cold": "cold", "naive": "naive", "naive_with_memory": "naive_with_memory"}

REQUIRED_PRICES = (
    "lambda_requests",
    "lambda_arm64_gb_second",
    "sqs_standard_requests",
    "sqs_fifo_requests",
    "kinesis_shard_hour",
    "kinesis_put_payload_units",
    "kinesis_on_demand_stream_hour",
    "kinesis_on_demand_data_in_gb",
    "kinesis_on_demand_data_out_gb",
    "kinesis_enhanced_fan_out_consumer_shard_hour",
    "kinesis_enhanced_fan_out_data_gb",
    "dynamodb_on_demand_write_request_units",
    "dynamodb_on_demand_read_request_units",
    "eventbridge_custom_events",
)

# What a workload function entry holds besides its requests, and the least each may be (a whole
# number where the minimum is an int); a key that is absent or null is an input the report
# lacks, not an error. The keyed-state figures (distinct users onwards) are the stream
# consumers'; bookkeeping_write_units (spills and shards' marks) are part of
# write_request_units.
WORKLOAD_FUNCTION_KEYS = (
    ("memory_mb", 1.0),
    ("invocations", 0.0),
    ("records", 0),
    ("billed_ms_per_invocation", 0.0),
    ("p99_ms_per_invocation", 0.0),
    ("read_request_units", 0.0),
    ("write_request_units", 0.0),
    ("kinesis_put_payload_units", 0.0),
    ("distinct_users", 0),
    ("states_cached", 0),
    ("states_read", 0),
    ("lookups", 0),
    ("spills", 0),
    ("spilled_ids", 0),
    ("conflicts", 0),
    ("bookkeeping_write_units", 0.0),
    ("largest_item_bytes", 0),
    ("retried_records", 0),
)

# Request keys are "<service>:<Operation>". SQS requests are billed per request at the rate of
# the queue's type; "sqs-fifo:" names requests to a FIFO queue (the orders queue).
SQS_STANDARD_PREFIX = "sqs:"
SQS_FIFO_PREFIX = "sqs-fifo:"


class InputError(Exception):
    """An input file that is missing, unreadable or not what the contract says."""


# ---------------------------------------------------------------------------------------------
# Reading and checking the inputs


def describe(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "the number %r" % value
    if isinstance(value, str):
        return "the string %r" % value
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def load_json(path, what, hint):
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("%s file %s does not exist%s" % (what, path, hint)) from None
    except OSError as error:
        raise InputError("cannot read %s file %s: %s" % (what, path, error.strerror)) from None
    except UnicodeDecodeError as error:
        raise InputError("%s: not UTF-8 text (byte %d)" % (path, error.start)) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(
            "%s: not valid JSON (line %d, column %d): %s" % (path, error.lineno, error.colno, error.msg)
        ) from None


class Checker:
    """Type checks that name the file and the key path of whatever is wrong."""

    def __init__(self, file):
        self.file = str(file)

    def fail(self, where, expected, value):
        raise InputError("%s: %s: expected %s, found %s" % (self.file, where, expected, describe(value)))

    def missing(self, where, expected):
        raise InputError("%s: %s is missing: expected %s" % (self.file, where, expected))

    def object(self, value, where):
        if not isinstance(value, dict):
            self.fail(where, "an object", value)
        return value

    def number(self, value, where, minimum=0.0):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            self.fail(where, "a number", value)
        if value < minimum:
            self.fail(where, "a number of at least %s" % minimum, value)
        return value

    def integer(self, value, where, minimum=0):
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(where, "a whole number", value)
        if value < minimum:
            self.fail(where, "a whole number of at least %d" % minimum, value)
        return value

    def string(self, value, where):
        if not isinstance(value, str) or not value:
            self.fail(where, "a non-empty string", value)
        return value

    def optional(self, container, key, where, check, **limits):
        """The checked value of container[key], or None when it is absent or null."""
        value = container.get(key)
        if value is None:
            return None
        return check(value, "%s.%s" % (where, key) if where else key, **limits)


def parse_measurements(raw, file):
    """The measurements as plain dicts, every present part checked; absent parts are None."""
    check = Checker(file)
    check.object(raw, "the document")
    if "schema" not in raw:
        check.missing("schema", "1")
    if isinstance(raw["schema"], bool) or raw["schema"] != 1:
        check.fail("schema", "1 (the only version this report reads)", raw["schema"])
    if "date" not in raw:
        check.missing("date", 'the time of the measurement, e.g. "2026-11-23T18:30:00Z"')
    date = check.string(raw["date"], "date")
    if "machine" not in raw:
        check.missing("machine", 'an object with "cpu", "cores", "os" and "profile"')
    machine_raw = check.object(raw["machine"], "machine")
    machine = {
        "cpu": check.optional(machine_raw, "cpu", "machine", check.string),
        "cores": check.optional(machine_raw, "cores", "machine", check.integer, minimum=1),
        "os": check.optional(machine_raw, "os", "machine", check.string),
        "profile": check.optional(machine_raw, "profile", "machine", check.string),
    }

    def timed_starts(key):
        """A {function: {runs, wall_ms, cpu_ms}} part (init, the cold path); {} when absent."""
        parsed_part = {}
        if raw.get(key) is None:
            return parsed_part
        for function, entry in check.object(raw[key], key).items():
            where = "%s.%s" % (key, function)
            check.object(entry, where)
            parsed = {"runs": check.optional(entry, "runs", where, check.integer, minimum=1)}
            for clock in ("wall_ms", "cpu_ms"):
                stats = entry.get(clock)
                if stats is None:
                    parsed[clock] = None
                    continue
                check.object(stats, "%s.%s" % (where, clock))
                parsed[clock] = {
                    stat: check.optional(stats, stat, "%s.%s" % (where, clock), check.number)
                    for stat in ("median", "p90", "min")
                }
            parsed_part[function] = parsed
        return parsed_part

    init = timed_starts("init")
    # Init plus a first event that makes one call over TLS, per function measured.
    cold_path = timed_starts("cold_path")

    def number_map(key, unit_check=check.number):
        """A {function: number} part; a null value stays None (not measured)."""
        if raw.get(key) is None:
            return {}
        return {
            function: (None if value is None else unit_check(value, "%s.%s" % (key, function)))
            for function, value in check.object(raw[key], key).items()
        }

    zip_bytes = number_map("zip_bytes", check.integer)
    zip_architecture = raw.get("zip_architecture")
    if zip_architecture is not None and zip_architecture not in ("arm64", "x86_64"):
        check.fail("zip_architecture", '"arm64", "x86_64" or null', zip_architecture)
    warm_cpu = number_map("warm_cpu_per_event_us")
    workload = None
    if raw.get("workload") is not None:
        workload = parse_workload(raw["workload"], check)

    return {
        "date": date,
        "machine": machine,
        "init": init,
        "zip_bytes": zip_bytes,
        "zip_architecture": zip_architecture,
        "warm_cpu_per_event_us": warm_cpu,
        "cold_path": cold_path,
        "workload": workload,
    }


def parse_requests(value, check, where):
    check.object(value, where)
    for operation, count in value.items():
        if ":" not in operation:
            check.fail("%s (key %r)" % (where, operation), 'a key "<service>:<Operation>"', operation)
        check.number(count, "%s.%s" % (where, operation))
    return dict(value)


def parse_workload_functions(value, check, where):
    functions = {}
    for function, entry in check.object(value, where).items():
        entry_where = "%s.%s" % (where, function)
        check.object(entry, entry_where)
        parsed = {
            key: check.optional(entry, key, entry_where,
                                check.integer if isinstance(minimum, int) else check.number, minimum=minimum)
            for key, minimum in WORKLOAD_FUNCTION_KEYS
        }
        parsed["requests"] = None
        if entry.get("requests") is not None:
            parsed["requests"] = parse_requests(entry["requests"], check, entry_where + ".requests")
        functions[function] = parsed
    return functions


def parse_workload(value, check):
    check.object(value, "workload")
    if value.get("events") is None:
        check.missing("workload.events", "the number of events the workload drove (a whole number)")
    workload = {
        "events": check.integer(value["events"], "workload.events", minimum=1),
        "users": check.optional(value, "users", "workload", check.integer, minimum=1),
        "zipf_exponent": check.optional(value, "zipf_exponent", "workload", check.number),
        "seed": check.optional(value, "seed", "workload", check.integer),
        "batch_size": check.optional(value, "batch_size", "workload", check.integer, minimum=1),
        "order_share": check.optional(value, "order_share", "workload", check.number),
        "functions": {},
        "event_source_requests": None,
        "naive": None,
        "naive_with_memory": None,
        "cold": None,
        "affinity_lost": None,
        "hot_users": None,
        "stream_record_bytes": None,
        "throughput": None,
    }
    if value.get("throughput") is not None:
        workload["throughput"] = parse_throughput(value["throughput"], check, "workload.throughput")
    if value.get("stream_record_bytes") is not None:
        workload["stream_record_bytes"] = {
            name: check.number(size, "workload.stream_record_bytes.%s" % name, minimum=1)
            for name, size in check.object(value["stream_record_bytes"], "workload.stream_record_bytes").items()
        }
    if value.get("functions") is not None:
        workload["functions"] = parse_workload_functions(value["functions"], check, "workload.functions")
    if value.get("event_source_requests") is not None:
        workload["event_source_requests"] = parse_requests(
            value["event_source_requests"], check, "workload.event_source_requests"
        )
    for key in ("naive", "naive_with_memory"):
        if value.get(key) is not None:
            workload[key] = parse_alternative_design(value[key], check, "workload." + key)
    if value.get("cold") is not None:
        workload["cold"] = parse_consumer_workload(value["cold"], check, "workload.cold")
    if value.get("affinity_lost") is not None:
        workload["affinity_lost"] = {
            name: parse_consumer_workload(entry, check, "workload.affinity_lost.%s" % name)
            for name, entry in check.object(value["affinity_lost"], "workload.affinity_lost").items()
        }
    if value.get("hot_users") is not None:
        workload["hot_users"] = {
            name: parse_consumer_workload(entry, check, "workload.hot_users.%s" % name)
            for name, entry in check.object(value["hot_users"], "workload.hot_users").items()
        }
    return workload


def parse_throughput(value, check, where):
    """The throughput run: the latency model it put in front of the emulator and each
    consumer's batches under it."""
    check.object(value, where)
    model = check.object(value.get("latency_model") or {}, where + ".latency_model")
    services = {}
    for service in ("dynamodb", "kinesis", "sqs"):
        entry = model.get(service)
        if entry is None:
            check.missing("%s.latency_model.%s" % (where, service), 'an object with "median_ms" and "p99_ms"')
        check.object(entry, "%s.latency_model.%s" % (where, service))
        services[service] = {key: check.number(entry.get(key), "%s.latency_model.%s.%s" % (where, service, key))
                             for key in ("median_ms", "p99_ms")}
    return {
        "description": check.optional(value, "description", where, check.string),
        "latency_model": services,
        "latency_source": check.optional(model, "source", where + ".latency_model", check.string),
        "functions": parse_workload_functions(value.get("functions") or {}, check, where + ".functions"),
        "calls_modelled": check.optional(value, "calls_modelled", where, check.integer),
    }


def parse_alternative_design(value, check, where):
    """A design measured against the pipeline (`naive`, `naive_with_memory`): a description,
    the functions it changes, and the event source's requests where it changes them."""
    check.object(value, where)
    design = {
        "description": check.optional(value, "description", where, check.string),
        "functions": {},
        "event_source_requests": None,
    }
    if value.get("functions") is not None:
        design["functions"] = parse_workload_functions(value["functions"], check, where + ".functions")
    if value.get("event_source_requests") is not None:
        design["event_source_requests"] = parse_requests(
            value["event_source_requests"], check, where + ".event_source_requests"
        )
    return design


def parse_consumer_workload(value, check, where):
    """A run of the two stream consumers besides the reference (`cold`, each hot user)."""
    check.object(value, where)
    run = {
        "description": check.optional(value, "description", where, check.string),
        "events": check.optional(value, "events", where, check.integer),
        "functions": {},
    }
    if value.get("functions") is not None:
        run["functions"] = parse_workload_functions(value["functions"], check, where + ".functions")
    return run


def parse_tiers(value, first_usd, check, where):
    """A price that falls with the month's volume: [{"from": quantity, "usd": rate}, ...], the
    first from 0 at the price's own rate, each `from` above the last."""
    if not isinstance(value, list) or not value:
        check.fail(where, 'a list of {"from", "usd"} objects', value)
    tiers = []
    for index, tier in enumerate(value):
        tier_where = "%s[%d]" % (where, index)
        check.object(tier, tier_where)
        tiers.append({"from": check.number(tier.get("from"), tier_where + ".from"),
                      "usd": check.number(tier.get("usd"), tier_where + ".usd")})
        if index and tiers[-1]["from"] <= tiers[-2]["from"]:
            check.fail(tier_where + ".from", "a number above the previous tier's", tiers[-1]["from"])
    if tiers[0]["from"] != 0 or tiers[0]["usd"] != first_usd:
        check.fail(where + "[0]", "the first tier: from 0 at the price's usd", value[0])
    return tiers


def parse_prices(raw, file):
    check = Checker(file)
    check.object(raw, "the document")
    for key in ("taken_on", "region", "currency"):
        if raw.get(key) is None:
            check.missing(key, "a non-empty string")
        check.string(raw[key], key)
    if raw["currency"] != "USD":
        check.fail("currency", '"USD"', raw["currency"])
    if raw.get("prices") is None:
        check.missing("prices", "an object of named prices")
    prices = check.object(raw["prices"], "prices")
    for key in REQUIRED_PRICES:
        if key not in prices:
            check.missing("prices.%s" % key, 'an object with "usd", "per", "unit" and "source"')
    parsed = {}
    for key, entry in prices.items():
        where = "prices.%s" % key
        check.object(entry, where)
        for field, expected in (("usd", "a number"), ("per", "a number"), ("unit", "a string"),
                                ("source", "the URL the price was taken from")):
            if entry.get(field) is None:
                check.missing("%s.%s" % (where, field), expected)
        parsed[key] = {
            "usd": check.number(entry["usd"], where + ".usd"),
            "per": check.number(entry["per"], where + ".per", minimum=1),
            "unit": check.string(entry["unit"], where + ".unit"),
            "source": check.string(entry["source"], where + ".source"),
            "what": entry.get("what") or key,
            "status": entry.get("status") or "not confirmed",
            "checked_against": list(entry.get("checked_against") or []),
        }
        if entry.get("tiers") is not None:
            parsed[key]["tiers"] = parse_tiers(entry["tiers"], parsed[key]["usd"], check, where + ".tiers")
    return {
        "taken_on": raw["taken_on"],
        "region": raw["region"],
        "currency": raw["currency"],
        "notes": list(raw.get("notes") or []),
        "prices": parsed,
    }


# ---------------------------------------------------------------------------------------------
# Formatting


def format_significant(value, significant=3, keep_decimals=0):
    """A number without exponent, `significant` digits after the leading zeros, trailing zeros
    dropped down to `keep_decimals` decimals."""
    if value == 0:
        return "0" if keep_decimals == 0 else "0." + "0" * keep_decimals
    magnitude = math.floor(math.log10(abs(value)))
    decimals = max(significant - 1 - magnitude, keep_decimals, 0)
    text = "{:,.{}f}".format(value, decimals)
    if "." in text:
        whole, fraction = text.split(".")
        fraction = fraction.rstrip("0")
        fraction = fraction + "0" * (keep_decimals - len(fraction)) if len(fraction) < keep_decimals else fraction
        text = whole + ("." + fraction if fraction else "")
    return text


def format_usd(value):
    if value is None:
        return NOT_MEASURED
    if abs(value) >= 1:
        return "${:,.2f}".format(value)
    return "$" + format_significant(value, 3, keep_decimals=2)


def format_price(price):
    """A unit price as the price table states it: "$0.20 per million requests"."""
    usd = "{:.10f}".format(price["usd"]).rstrip("0")
    whole, fraction = usd.split(".")
    usd = "$%s.%s" % (whole, fraction.ljust(2, "0"))
    if price["per"] == 1_000_000:
        per = "million " + price["unit"]
    elif price["per"] == 1:
        per = price["unit"]
    else:
        per = "{:,} {}".format(int(price["per"]), price["unit"])
    text = "%s per %s" % (usd, per)
    tiers = price.get("tiers")
    if tiers:
        text += "; " + ", ".join("$%s from %s %s a month" % (format_significant(tier["usd"], 4),
                                                             format_count(tier["from"]), price["unit"])
                                 for tier in tiers[1:])
    return text


def format_count(value):
    if value is None:
        return NOT_MEASURED
    if float(value).is_integer():
        return "{:,}".format(int(value))
    return format_significant(value, 4)


def format_ms(value):
    return NOT_MEASURED if value is None else "%s ms" % format_significant(value, 3)


def format_date(text):
    """ "2026-11-23T18:30:00Z" as "2026-11-23 18:30 UTC"; anything else as given."""
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc)
        return moment.strftime("%Y-%m-%d %H:%M UTC")
    return moment.strftime("%Y-%m-%d %H:%M")


def describe_machine(machine):
    parts = [machine.get("cpu") or "unknown CPU"]
    if machine.get("cores"):
        parts.append("%d cores" % machine["cores"])
    if machine.get("os"):
        parts.append(machine["os"])
    if machine.get("profile"):
        parts.append("%s build" % machine["profile"])
    return ", ".join(parts)


# ---------------------------------------------------------------------------------------------
# Goals


def verdict(value, limit):
    """Met when the value is at most the limit."""
    if value is None:
        return NOT_MEASURED
    return "met" if value <= limit else "not met"


def verdict_under(value, limit):
    """Met when the value is below the limit."""
    if value is None:
        return NOT_MEASURED
    return "met" if value < limit else "not met"


def all_met(verdicts):
    """One verdict for several: not met if any is; else not measured if any is, or if there are
    none; else met."""
    if "not met" in verdicts:
        return "not met"
    if not verdicts or NOT_MEASURED in verdicts:
        return NOT_MEASURED
    return "met"


def format_bytes(value):
    return NOT_MEASURED if value is None else "{:,} bytes".format(value)


def goal_rows(measurements):
    """One row per goal and function: what was measured, the goal, and whether it is met."""
    functions = list(ALL_FUNCTIONS) + sorted(
        (set(measurements["init"]) | set(measurements["zip_bytes"])) - set(ALL_FUNCTIONS)
    )
    rows = []
    for function in functions:
        entry = measurements["init"].get(function) or {}
        wall = (entry.get("wall_ms") or {}).get("median")
        cpu = (entry.get("cpu_ms") or {}).get("median")
        if wall is None:
            shown = NOT_MEASURED
        else:
            details = []
            p90 = (entry.get("wall_ms") or {}).get("p90")
            if p90 is not None:
                details.append("p90 %s" % format_ms(p90))
            details.append("CPU %s" % format_ms(cpu))
            if entry.get("runs"):
                details.append("%d runs" % entry["runs"])
            shown = "%s (%s)" % (format_ms(wall), ", ".join(details))
        rows.append({
            "goal": "init, median wall time",
            "limit": "≤ %s ms" % format_significant(INIT_WALL_MS_GOAL),
            "function": function,
            "value": wall,
            "measured": shown,
            "met": verdict(wall, INIT_WALL_MS_GOAL),
        })
    for function in functions:
        cpu = (measurements["cold_path"].get(function) or {}).get("cpu_ms") or {}
        value = cpu.get("median")
        rows.append({
            "goal": "cold path CPU (init and first event)",
            "limit": "≤ %s ms" % format_significant(COLD_PATH_CPU_MS_GOAL),
            "function": function,
            "value": value,
            "measured": format_ms(value),
            "met": verdict(value, COLD_PATH_CPU_MS_GOAL),
        })
    for function in PIPELINE_FUNCTIONS:
        value = measurements["warm_cpu_per_event_us"].get(function)
        rows.append({
            "goal": "warm CPU per event",
            "limit": "≤ %s µs" % format_significant(WARM_CPU_PER_EVENT_US_GOAL),
            "function": function,
            "value": value,
            "measured": NOT_MEASURED if value is None else "%s µs" % format_significant(value, 3),
            "met": verdict(value, WARM_CPU_PER_EVENT_US_GOAL),
        })
    architecture = measurements["zip_architecture"]
    for function in functions:
        value = measurements["zip_bytes"].get(function)
        shown = NOT_MEASURED
        if value is not None:
            shown = "{:,} bytes".format(value) + (" (%s)" % architecture if architecture else "")
        rows.append({
            "goal": "deployment zip",
            "limit": "≤ 3 MB (3,000,000 bytes)",
            "function": function,
            "value": value,
            "measured": shown,
            "met": verdict(value, ZIP_BYTES_GOAL),
        })
    return rows


# ---------------------------------------------------------------------------------------------
# The cost model


def design_functions(workload, design):
    """The workload entries of a design, where each was taken from ({function: key path}), the
    event source's requests, and the assumptions made to complete them. The pipeline is the
    reference run. Its cold variant takes the two stream consumers from `workload.cold` and
    event-router and the event source as built: the cold run changes only the consumers'
    execution environments. The naive designs change the two stream consumers only, so a
    function they do not list is taken as built, and so are the event source's requests when
    they give none."""
    assumptions = []
    built = workload["functions"]
    wheres = {function: "workload.functions.%s" % function for function in set(PIPELINE_FUNCTIONS) | set(built)}
    if design == "pipeline":
        return built, wheres, workload["event_source_requests"], assumptions
    source = DESIGN_SOURCES[design]
    alternative = workload[source]
    title = DESIGN_TITLES[design]
    functions = {}
    if design == "pipeline_cold":
        for function in PIPELINE_FUNCTIONS:
            if function in CONSUMERS:
                wheres[function] = "workload.cold.functions.%s" % function
                if function in alternative["functions"]:
                    functions[function] = alternative["functions"][function]
            elif function in built:
                functions[function] = built[function]
        assumptions.append(
            "%s: event-router and the ingest queue's event source as built (the cold run "
            "changes only the stream consumers' execution environments)" % title
        )
        return functions, wheres, workload["event_source_requests"], assumptions
    for function in PIPELINE_FUNCTIONS:
        if function in alternative["functions"]:
            functions[function] = alternative["functions"][function]
            wheres[function] = "workload.%s.functions.%s" % (source, function)
        elif function in built:
            functions[function] = built[function]
            assumptions.append(
                "%s: %s as built (workload.%s.functions does not list it)" % (title, function, source)
            )
        else:
            wheres[function] = "workload.%s.functions.%s" % (source, function)
    for function, entry in alternative["functions"].items():
        if function not in functions:
            functions[function] = entry
            wheres[function] = "workload.%s.functions.%s" % (source, function)
    event_source = alternative["event_source_requests"]
    if event_source is None:
        event_source = workload["event_source_requests"]
        if event_source is not None:
            assumptions.append(
                "%s: the ingest queue's event source requests as built "
                "(workload.%s.event_source_requests is absent)" % (title, source)
            )
    return functions, wheres, event_source, assumptions


class Line:
    """One priced quantity per million events: what it is, how it was reached, what it costs."""

    def __init__(self, service, item, unit, price_key, prices):
        self.service = service
        self.item = item
        self.unit = unit
        self.price_key = price_key
        self.price = prices[price_key]
        self.quantity = None
        self.quantity_formula = None
        self.inputs = {}
        self.lacks = []

    @property
    def usd(self):
        if self.quantity is None:
            return None
        return self.quantity * self.price["usd"] / self.price["per"]

    def formula(self):
        if self.quantity is None:
            return "lacks %s" % ", ".join(self.lacks)
        return "%s = %s %s × %s = %s" % (
            self.quantity_formula,
            format_count(self.quantity),
            self.unit,
            format_price(self.price),
            format_usd(self.usd),
        )

    def as_json(self):
        return {
            "service": self.service,
            "item": self.item,
            "inputs": self.inputs,
            "quantity_per_million_events": self.quantity,
            "unit": self.unit,
            "price": self.price_key,
            "unit_price_usd": self.price["usd"],
            "price_per": self.price["per"],
            "formula": self.formula(),
            "usd_per_million_events": self.usd,
            "lacks": self.lacks,
        }


def on_demand_lines(function, units, scale, scale_text, workload, manifest_streams, prices):
    """The lines of the records `function` puts (`units` PUT payload units: a record each) on an
    on-demand stream, which bills data put and read instead of payload units; None when the
    stream it writes is provisioned."""
    written = [key for key, stream in manifest_streams.items()
               if function in stream["writers"] and stream["capacity_mode"] == "on_demand"]
    if not written:
        return None
    key = written[0]
    readers = len(manifest_streams[key]["readers"])
    put = Line("Kinesis", "data put by %s on the on-demand %s stream (a record rounded up to 1 KB)" % (function, key),
               "GB", "kinesis_on_demand_data_in_gb", prices)
    read = Line("Kinesis", "data read from the on-demand %s stream by its %d consumer%s"
                % (key, readers, "" if readers == 1 else "s"), "GB", "kinesis_on_demand_data_out_gb", prices)
    size = (workload.get("stream_record_bytes") or {}).get(key)
    if size is None:
        put.lacks = read.lacks = ["workload.stream_record_bytes.%s" % key]
        return [put, read]
    records = units * scale
    data_in, data_out = streams.on_demand_data(records, size, readers)
    for line, quantity, how in ((put, data_in, "× %s KiB" % math.ceil(size / 1024)),
                                (read, data_out, "× %s bytes × %d" % (format_significant(size, 4), readers))):
        line.inputs = {"records": units, "record_bytes": size, "readers": readers}
        line.quantity = quantity
        line.quantity_formula = "%s records in %s events %s %s / 2^30" % (
            format_count(units), format_count(workload["events"]), scale_text, how)
    return [put, read]


def design_cost(workload, design, prices, manifest_streams=None):
    """Every priced line of one design, scaled from the workload's events to a million; the
    records put on an on-demand stream of `manifest_streams` priced as that mode bills them."""
    manifest_streams = manifest_streams or {}
    functions, wheres, event_source, assumptions = design_functions(workload, design)
    events = workload["events"]
    scale = EVENTS_PER_REPORT / events
    scale_text = "× %s" % format_count(scale)
    lines = []

    eventbridge = Line("EventBridge", "custom events put on the bus", "events",
                       "eventbridge_custom_events", prices)
    eventbridge.quantity = EVENTS_PER_REPORT * EVENTBRIDGE_EVENTS_PER_EVENT
    eventbridge.quantity_formula = "%s events × %d" % (format_count(EVENTS_PER_REPORT), EVENTBRIDGE_EVENTS_PER_EVENT)
    lines.append(eventbridge)

    ingest = Line("SQS", "sends into the ingest queue by the bus's rule", "requests",
                  "sqs_standard_requests", prices)
    ingest.quantity = EVENTS_PER_REPORT * INGEST_SENDS_PER_EVENT
    ingest.quantity_formula = "%s events × %d" % (format_count(EVENTS_PER_REPORT), INGEST_SENDS_PER_EVENT)
    lines.append(ingest)

    source = Line("SQS", "receives and deletes by the ingest queue's event source mapping", "requests",
                  "sqs_standard_requests", prices)
    if event_source is None:
        source.lacks.append("workload.event_source_requests")
    else:
        billed = {op: n for op, n in event_source.items() if op.startswith(SQS_STANDARD_PREFIX)}
        source.inputs = dict(billed)
        source.quantity = sum(billed.values()) * scale
        source.quantity_formula = "(%s) in %s events %s" % (
            " + ".join("%s %s" % (op, format_count(n)) for op, n in billed.items()) or "0",
            format_count(events),
            scale_text,
        )
    lines.append(source)

    for function in PIPELINE_FUNCTIONS:
        entry = functions.get(function)
        entry_where = wheres[function]

        def lacking(*keys):
            if entry is None:
                return [entry_where]
            return ["%s.%s" % (entry_where, key) for key in keys if entry.get(key) is None]

        # The function's own SQS requests, at the rate of the queue's type.
        for prefix, price_key, queue in ((SQS_STANDARD_PREFIX, "sqs_standard_requests", "standard"),
                                         (SQS_FIFO_PREFIX, "sqs_fifo_requests", "FIFO")):
            line = Line("SQS", "sends by %s (%s queues)" % (function, queue), "requests", price_key, prices)
            missing = lacking("requests")
            if missing:
                line.lacks = missing
                if prefix == SQS_FIFO_PREFIX:
                    continue  # one line naming the missing requests is enough
            else:
                billed = {op: n for op, n in entry["requests"].items() if op.startswith(prefix)}
                if not billed:
                    continue
                line.inputs = dict(billed)
                line.quantity = sum(billed.values()) * scale
                line.quantity_formula = "(%s) in %s events %s" % (
                    " + ".join("%s %s" % (op, format_count(n)) for op, n in billed.items()),
                    format_count(events),
                    scale_text,
                )
            lines.append(line)

        requests = Line("Lambda", "%s requests" % function, "requests", "lambda_requests", prices)
        requests.lacks = lacking("invocations")
        if not requests.lacks:
            requests.inputs = {"invocations": entry["invocations"]}
            requests.quantity = entry["invocations"] * scale
            requests.quantity_formula = "%s invocations in %s events %s" % (
                format_count(entry["invocations"]), format_count(events), scale_text)
        lines.append(requests)

        duration = Line("Lambda", "%s duration" % function, "GB-seconds", "lambda_arm64_gb_second", prices)
        duration.lacks = lacking("invocations", "billed_ms_per_invocation", "memory_mb")
        if not duration.lacks:
            # Lambda bills each invocation's duration rounded up to the millisecond.
            billed_ms = math.ceil(entry["billed_ms_per_invocation"])
            invocations = entry["invocations"] * scale
            duration.inputs = {
                "invocations": entry["invocations"],
                "billed_ms_per_invocation": entry["billed_ms_per_invocation"],
                "billed_ms_rounded_up": billed_ms,
                "memory_mb": entry["memory_mb"],
            }
            duration.quantity = invocations * billed_ms / 1000 * entry["memory_mb"] / 1024
            duration.quantity_formula = "%s invocations × %s ms (%s rounded up) × %s MB / 1024" % (
                format_count(invocations), billed_ms,
                format_significant(entry["billed_ms_per_invocation"], 4), format_count(entry["memory_mb"]))
        lines.append(duration)

        put_units = Line("Kinesis", "records put by %s" % function, "PUT payload units",
                         "kinesis_put_payload_units", prices)
        put_units.lacks = lacking("kinesis_put_payload_units")
        if not put_units.lacks:
            units = entry["kinesis_put_payload_units"]
            on_demand = on_demand_lines(function, units, scale, scale_text, workload, manifest_streams, prices)
            if units == 0:
                put_units = None
            elif on_demand is not None:
                put_units = None
                lines.extend(on_demand)
            else:
                put_units.inputs = {"kinesis_put_payload_units": units}
                put_units.quantity = units * scale
                put_units.quantity_formula = "%s units in %s events %s" % (
                    format_count(units), format_count(events), scale_text)
        if put_units is not None:
            lines.append(put_units)

        for key, price_key, title, unit in (
            ("read_request_units", "dynamodb_on_demand_read_request_units", "reads", "read request units"),
            ("write_request_units", "dynamodb_on_demand_write_request_units", "writes", "write request units"),
        ):
            line = Line("DynamoDB", "%s by %s" % (title, function), unit, price_key, prices)
            line.lacks = lacking(key)
            if not line.lacks:
                if entry[key] == 0:
                    continue
                line.inputs = {key: entry[key]}
                line.quantity = entry[key] * scale
                line.quantity_formula = "%s units in %s events %s" % (
                    format_count(entry[key]), format_count(events), scale_text)
            lines.append(line)

    for function, entry in functions.items():
        if function in PIPELINE_FUNCTIONS:
            continue
        assumptions.append("%s is not part of the pipeline's cost model: left out" % wheres[function])
    for function in PIPELINE_FUNCTIONS:
        entry = functions.get(function) or {}
        for op in sorted((entry.get("requests") or {})):
            service = op.split(":", 1)[0]
            if service not in ("sqs", "sqs-fifo", "kinesis", "dynamodb"):
                assumptions.append("%s's %s requests are not priced (no price for %s)" % (function, op, service))

    by_service = {}
    for service in SERVICES:
        service_lines = [line for line in lines if line.service == service]
        if not service_lines:
            by_service[service] = 0.0
        elif any(line.usd is None for line in service_lines):
            by_service[service] = None
        else:
            by_service[service] = sum(line.usd for line in service_lines)
    lacks = sorted({key for line in lines for key in line.lacks})
    known = sum(line.usd for line in lines if line.usd is not None)
    return {
        "title": DESIGN_TITLES[design],
        "lines": lines,
        "by_service": by_service,
        "total": None if lacks else known,
        "known_lines_total": known,
        "lacks": lacks,
        "assumptions": assumptions,
    }


def fixed_monthly(manifest_streams, prices):
    lines = streams.fixed_monthly_lines(manifest_streams, prices)
    for line in lines:
        line["formula"] = "%s h × %s" % (format_count(line["quantity"]), format_price(prices[line["price"]]))
    return {"lines": lines, "total_usd_per_month": sum(line["usd_per_month"] for line in lines),
            "streams": manifest_streams}


def cost_model(measurements, prices, manifest_streams):
    workload = measurements["workload"]
    model = {
        "events_per_report": EVENTS_PER_REPORT,
        "computed": workload is not None,
        "lacks": [],
        "designs": {},
        "fixed_monthly": fixed_monthly(manifest_streams, prices["prices"]),
        "ratios_to_pipeline": {design: None for design in DESIGNS[1:]},
        "ratio_naive_to_pipeline": None,
    }
    if workload is None:
        model["lacks"] = ["workload"]
        return model
    model["designs"]["pipeline"] = design_cost(workload, "pipeline", prices["prices"], manifest_streams)
    for design in DESIGNS[1:]:
        source = DESIGN_SOURCES[design]
        if workload[source] is None:
            model["lacks"].append("workload." + source)
        else:
            model["designs"][design] = design_cost(workload, design, prices["prices"], manifest_streams)
    for design in model["designs"].values():
        model["lacks"].extend(key for key in design["lacks"] if key not in model["lacks"])
    pipeline = model["designs"]["pipeline"]["total"]
    for design in DESIGNS[1:]:
        total = model["designs"].get(design, {}).get("total")
        if pipeline and total is not None:
            model["ratios_to_pipeline"][design] = total / pipeline
    model["ratio_naive_to_pipeline"] = model["ratios_to_pipeline"]["naive"]
    return model


def formulas():
    """How each line is computed, in words; summary.md and report.json both carry it."""
    return [
        "Scale: every count measured over the workload's N events is multiplied by 1,000,000 / N.",
        "EventBridge: 1 custom event per producer event (each far below 64 KB) × the custom-event price.",
        "SQS: 1 SendMessage per event by the rule into the ingest queue, plus the event source "
        "mapping's ReceiveMessage and DeleteMessageBatch on it, plus each function's own `sqs:` "
        "requests, at the standard-queue price; `sqs-fifo:` requests (the orders queue) at the FIFO "
        "price. Every request is taken to carry at most 64 KB (one billed request).",
        "Lambda requests: invocations × the request price.",
        "Lambda duration: invocations × billed milliseconds per invocation, rounded up to the "
        "millisecond, / 1000 × memory MB / 1024 = GB-seconds × the arm64 price per GB-second.",
        "Kinesis, a provisioned stream: PUT payload units (one per record of up to 25 KB) × the "
        "price per million units; reads by the event source mappings are not billed per request. "
        "The shards are billed by the hour whatever the traffic: shards × 730 h a month × the "
        "shard-hour price, shown apart as a fixed monthly cost and left out of the cost per event. "
        "An on-demand stream (the manifest's `capacity_mode`): the data put, each record rounded "
        "up to 1 KB, and the data its consumers read, per GB (2^30 bytes), instead of PUT units; "
        "730 stream-hours a month apart as the fixed cost.",
        "DynamoDB on demand: read request units × the read price + write request units × the "
        "write price, the units DynamoDB bills as the functions computed them from the items' "
        "sizes (on-demand billing, no provisioned capacity).",
        "Designs: the pipeline, warm, is the reference run (one execution environment per "
        "function for the whole workload: the steady state). The pipeline, cold, takes "
        "stream-enrichment's and feature-updates' figures from the same activity run with a new "
        "execution environment for every batch (workload.cold: nothing cached, the bound when "
        "Lambda keeps no affinity), event-router and the event source as built. The naive design "
        "reads and writes each event's item on its own (workload.naive); the naive design with a "
        "24-hour memory also reads and writes an item per applied event id, one more read and one "
        "more write unit per event in each consumer (workload.naive_with_memory), which is what "
        "absorbing resends as the pipeline does would cost it.",
        "Total: the sum of the lines; each ratio is a design's total over the pipeline's, warm.",
        "The archive (Firehose to S3, the manifest's `archives`) is priced apart, per month and per "
        "million events at given rates: part of it does not grow with the events (objects a day).",
        "Left out: free tiers, CloudWatch logs and metrics, KMS requests for the streams' and "
        "tables' keys, storage other than the archive's, data transfer, and what the rejects and "
        "failure queues see.",
    ]


# ---------------------------------------------------------------------------------------------
# Requests and capacity units per event


def per_event_rows(measurements):
    workload = measurements["workload"]
    rows = []
    if workload is None:
        for function in PIPELINE_FUNCTIONS:
            rows.append({"design": "pipeline", "function": function, "entry": None})
        return rows
    for design in DESIGNS:
        if design != "pipeline" and workload[DESIGN_SOURCES[design]] is None:
            continue
        functions, _, event_source, _ = design_functions(workload, design)
        for function in PIPELINE_FUNCTIONS:
            rows.append({"design": design, "function": function, "entry": functions.get(function)})
        rows.append({"design": design, "function": "event source on the ingest queue",
                     "entry": None if event_source is None else {"requests": event_source}})
    return rows


def per_event(value, events):
    if value is None:
        return NOT_MEASURED
    return format_significant(value / events, 3)


# ---------------------------------------------------------------------------------------------
# DynamoDB per stream consumer: warm, cold and the hot users

# What a consumer's figures are computed from (the keys of its workload entry).
CONSUMER_INPUTS = (
    "records", "read_request_units", "write_request_units", "distinct_users",
    "bookkeeping_write_units", "states_cached", "states_read", "lookups", "spills", "spilled_ids",
    "conflicts", "largest_item_bytes",
)

# The runs with affinity lost (two execution environments taking the batches in turn), by their
# name in `workload.affinity_lost`, and how the per-consumer table calls them.
AFFINITY_RUNS = (
    ("alternating", "alternating (as built)"),
    ("alternating_trusting_cache", "alternating, cache trusted"),
)


def consumer_formulas():
    """How each consumer figure is computed; summary.md and report.json both carry it."""
    return [
        "Per event: over the records the consumer handled in the run (`records`).",
        "Read (write) units per event: read_request_units (write_request_units) / records, the "
        "units DynamoDB bills as the consumer computed them from the items' sizes.",
        "Floor: distinct_users / records write units per event: a design writing each user's "
        "item once per batch writes at least one unit per distinct user of every batch.",
        "Bookkeeping: bookkeeping_write_units / records, the write units of spilled event ids and "
        "of shards' marks (part of the write units).",
        "States cached: states_cached / (states_cached + states_read), the share of the states a "
        "batch needed that the execution environment still held.",
        "Lookups per 1,000 events: lookups (Query pages reading spilled ids) / records × 1,000.",
        "Largest item: the largest item written in the run, in bytes by DynamoDB's size rules.",
        "Conflicts per 1,000 events: conditional writes that lost to a newer state (each billed, "
        "then read and written again, or its records retried) / records × 1,000.",
        "Alternating: two execution environments take the batches in turn (workload.affinity_lost): "
        "as built, the shard's mark tells each that its cache is a batch behind; cache trusted, "
        "each uses its stale cache (what the core would cost without the mark).",
    ]


def consumer_figures(entry, where):
    """One stream consumer's DynamoDB figures per event it handled, its inputs, and the inputs it
    lacks (key paths under `where`). A figure whose inputs are absent is None."""
    entry = entry or {}
    inputs = {key: entry.get(key) for key in CONSUMER_INPUTS}
    lacks = [where] if not entry else ["%s.%s" % (where, key) for key in CONSUMER_INPUTS if inputs[key] is None]
    # Shown where measured; a run without it lacks nothing the goals need.
    inputs["retried_records"] = entry.get("retried_records")
    records = inputs["records"]

    def per_record(key, times=1):
        if inputs[key] is None or not records:
            return None
        return inputs[key] / records * times

    cached, read = inputs["states_cached"], inputs["states_read"]
    share = None
    if cached is not None and read is not None and cached + read > 0:
        share = cached / (cached + read)
    return {
        "inputs": inputs,
        "read_units_per_event": per_record("read_request_units"),
        "write_units_per_event": per_record("write_request_units"),
        "floor_write_units_per_event": per_record("distinct_users"),
        "bookkeeping_write_units_per_event": per_record("bookkeeping_write_units"),
        "states_cached_share": share,
        "lookups_per_1000_events": per_record("lookups", 1000),
        "conflicts_per_1000_events": per_record("conflicts", 1000),
        "spills": inputs["spills"],
        "largest_item_bytes": inputs["largest_item_bytes"],
        "lacks": lacks,
    }


def consumer_units(workload):
    """Each stream consumer's figures in the warm reference run and the cold run."""
    units = {"runs": {"warm": {}, "cold": {}}, "lacks": []}
    if workload is None:
        units["lacks"].append("workload")
        return units
    runs = [("warm", workload["functions"], "workload.functions")]
    if workload["cold"] is None:
        units["lacks"].append("workload.cold")
    else:
        runs.append(("cold", workload["cold"]["functions"], "workload.cold.functions"))
    # Shown when measured; an older measurements file without them lacks nothing the goals need.
    for name, _ in AFFINITY_RUNS:
        run = (workload.get("affinity_lost") or {}).get(name)
        if run is not None:
            units["runs"][name] = {}
            runs.append((name, run["functions"], "workload.affinity_lost.%s.functions" % name))
    for run, functions, where in runs:
        for consumer in CONSUMERS:
            figures = consumer_figures(functions.get(consumer), "%s.%s" % (where, consumer))
            units["runs"][run][consumer] = figures
            units["lacks"].extend(figures["lacks"])
    return units


def hot_user_units(workload):
    """Each hot-user workload's figures per consumer, with the verdict on its largest item."""
    hot = {"goal": "every item under 64 KB (< %s bytes)" % format_count(ITEM_BYTES_GOAL),
           "workloads": {}, "lacks": []}
    if workload is None:
        hot["lacks"].append("workload")
        return hot
    if workload["hot_users"] is None:
        hot["lacks"].append("workload.hot_users")
        return hot
    present = workload["hot_users"]
    hot["lacks"].extend("workload.hot_users.%s" % name for name in HOT_USERS if name not in present)
    for name in [n for n in HOT_USERS if n in present] + sorted(set(present) - set(HOT_USERS)):
        run = present[name]
        functions = {}
        for consumer in CONSUMERS:
            figures = consumer_figures(run["functions"].get(consumer),
                                       "workload.hot_users.%s.functions.%s" % (name, consumer))
            figures["item_goal"] = verdict_under(figures["largest_item_bytes"], ITEM_BYTES_GOAL)
            hot["lacks"].extend(figures["lacks"])
            functions[consumer] = figures
        hot["workloads"][name] = {"description": run["description"], "events": run["events"],
                                  "functions": functions}
    return hot


def figure(units, run, consumer, key):
    return units["runs"][run].get(consumer, {}).get(key)


def format_units(value):
    return NOT_MEASURED if value is None else format_significant(value, 3)


def warm_and_cold_row(goal, function, limit, warm, cold, shown, met):
    """A goal row whose warm figure decides, with the cold one beside it (`cold`), and both as
    text for the tables (`warm_shown`, `cold_shown`)."""
    return {"goal": goal, "function": function, "limit": limit, "value": warm, "cold": cold,
            "measured": NOT_MEASURED if warm is None else "%s (cold: %s)" % (shown(warm), shown(cold)),
            "met": met, "warm_shown": shown(warm), "cold_shown": shown(cold)}


def keyed_state_goal_rows(units, hot, model):
    """The goals of the keyed-state design: DynamoDB units per event per consumer and the
    pipeline's cost (the warm figures decide; cold is shown beside them), and every hot user's
    items under 64 KB."""
    rows = []
    for key, goal, limit in (
        ("write_units_per_event", "DynamoDB write units per event (steady state, warm)", WRITE_UNITS_PER_EVENT_GOAL),
        ("read_units_per_event", "DynamoDB read units per event (steady state, warm)", READ_UNITS_PER_EVENT_GOAL),
    ):
        for consumer in CONSUMERS:
            warm, cold = figure(units, "warm", consumer, key), figure(units, "cold", consumer, key)
            rows.append(warm_and_cold_row(goal, consumer, "≤ %s" % format_significant(limit), warm, cold,
                                          format_units, verdict(warm, limit)))
    warm = model["designs"].get("pipeline", {}).get("total")
    cold = model["designs"].get("pipeline_cold", {}).get("total")
    rows.append(warm_and_cold_row("cost per million events (warm)", "pipeline",
                                  "≤ %s" % format_usd(PIPELINE_USD_PER_MILLION_GOAL), warm, cold, format_usd,
                                  verdict(warm, PIPELINE_USD_PER_MILLION_GOAL)))
    for consumer in CONSUMERS:
        runs = [run["functions"][consumer] for run in hot["workloads"].values()]
        known = [figures["largest_item_bytes"] for figures in runs if figures["largest_item_bytes"] is not None]
        value = max(known) if known else None
        measured = NOT_MEASURED if value is None else "%s (%s)" % (format_bytes(value), ", ".join(
            "%s: %s" % (name, format_bytes(run["functions"][consumer]["largest_item_bytes"]))
            for name, run in hot["workloads"].items()))
        rows.append({"goal": "largest item, hot users", "function": consumer,
                     "limit": "< 64 KB (%s bytes)" % format_count(ITEM_BYTES_GOAL), "value": value,
                     "measured": measured, "met": all_met([figures["item_goal"] for figures in runs])})
    return rows


# ---------------------------------------------------------------------------------------------
# Markdown


def markdown_table(header, rows):
    def cell(text):
        return str(text).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    lines.extend("| " + " | ".join(cell(c) for c in row) + " |" for row in rows)
    return "\n".join(lines)


def lacks_text(keys):
    """Key paths as markdown, those under one parent gathered: `a.b.{c, d}`."""
    groups = {}
    for key in keys:
        parent, _, leaf = key.rpartition(".")
        groups.setdefault(parent, []).append(leaf)
    return ", ".join(
        "`%s`" % ".".join(filter(None, (parent, leaves[0]))) if len(leaves) == 1
        else "`%s.{%s}`" % (parent, ", ".join(leaves))
        for parent, leaves in groups.items())


def cost_table(model):
    """The main table: cost per million events by service, one column per design, and each
    design's ratio to the pipeline, warm."""

    def cells(shown):
        return [shown(model["designs"][d]) if d in model["designs"] else NOT_MEASURED for d in DESIGNS]

    header = ["service (USD per million events)"] + [DESIGN_TITLES[d] for d in DESIGNS]
    rows = [[service] + cells(lambda design: format_usd(design["by_service"][service])) for service in SERVICES]
    rows.append(["**total**"] + cells(lambda design: "**%s**" % format_usd(design["total"])))
    ratios = model["ratios_to_pipeline"]
    rows.append(["ratio to the pipeline, warm", ""] + [
        "%s×" % format_significant(ratios[d], 3) if ratios[d] else NOT_MEASURED for d in DESIGNS[1:]])
    return markdown_table(header, rows)


def fixed_cost_sentence(model):
    fixed = model["fixed_monthly"]
    parts = " + ".join("%s (%s)" % (line["item"], line["formula"]) for line in fixed["lines"])
    return ("Fixed, whatever the traffic and the same for every design: the Kinesis streams by "
            "the hour, %s a month: %s." % (format_usd(fixed["total_usd_per_month"]), parts))


def consumer_units_section(units, goals):
    """The DynamoDB units per event of each consumer, warm and cold, and the goals beside them."""
    out = ["## DynamoDB units per event, per consumer", ""]
    out.append("Per event each stream consumer handled. Warm: the reference run, one execution "
               "environment per function for the whole workload (the steady state). Cold: the same "
               "activity with a new execution environment for every batch, nothing cached: the bound "
               "when Lambda keeps no affinity between a shard and an environment.")
    out.append("")
    rows = []
    run_names = [("warm", "warm"), ("cold", "cold")] + [
        (name, title) for name, title in AFFINITY_RUNS if name in units["runs"]]
    for consumer in CONSUMERS:
        for run, title in run_names:
            figures = units["runs"][run].get(consumer)
            if figures is None:
                rows.append([consumer, title] + [NOT_MEASURED] * 10)
                continue
            share = figures["states_cached_share"]
            retried = figures["inputs"].get("retried_records")
            rows.append([
                consumer,
                title,
                format_count(figures["inputs"]["records"]),
                format_units(figures["read_units_per_event"]),
                format_units(figures["write_units_per_event"]),
                format_units(figures["floor_write_units_per_event"]),
                format_units(figures["bookkeeping_write_units_per_event"]),
                NOT_MEASURED if share is None else "%s%%" % format_significant(share * 100, 3),
                format_units(figures["lookups_per_1000_events"]),
                format_units(figures["conflicts_per_1000_events"]),
                NOT_MEASURED if retried is None else format_count(retried),
                format_bytes(figures["largest_item_bytes"]),
            ])
    out.append(markdown_table(
        ["consumer", "run", "events", "read units per event", "write units per event",
         "floor (write units per event)", "bookkeeping write units per event (spills, marks)",
         "states cached", "lookups per 1,000 events", "conflicts per 1,000 events",
         "records retried", "largest item"], rows))
    out.append("")
    out.append("Goals: the warm figures decide; cold is shown beside them as the bound with affinity lost.")
    out.append("")
    out.append(markdown_table(
        ["goal", "consumer", "goal value", "warm", "met", "cold (affinity lost)"],
        [[g["goal"], g["function"], g["limit"], g["warm_shown"], g["met"], g["cold_shown"]]
         for g in goals if "cold" in g]))
    out.append("")
    out.extend("- %s" % text for text in consumer_formulas())
    out.append("")
    if units["lacks"]:
        out.append("Not measured: %s." % lacks_text(units["lacks"]))
        out.append("")
    return out


def hot_users_section(hot):
    """Each hot-user workload's units per event, spills and largest item, against 64 KB."""
    out = ["## Hot users", ""]
    rows = []
    for name, run in hot["workloads"].items():
        for consumer in CONSUMERS:
            figures = run["functions"][consumer]
            rows.append([
                name,
                consumer,
                format_count(figures["inputs"]["records"]),
                format_units(figures["read_units_per_event"]),
                format_units(figures["write_units_per_event"]),
                format_count(figures["spills"]),
                format_bytes(figures["largest_item_bytes"]),
                figures["item_goal"],
            ])
    if rows:
        out.append(markdown_table(
            ["hot user", "consumer", "events", "read units per event", "write units per event", "spills",
             "largest item", "under 64 KB (%s bytes)" % format_count(ITEM_BYTES_GOAL)], rows))
        out.append("")
        for name, run in hot["workloads"].items():
            out.append("- `%s`: %s." % (name, (run["description"] or NOT_MEASURED).rstrip(".")))
        out.append("")
    out.append("Goal: every item stays under 64 KB (%s bytes, the stricter reading): **%s**."
               % (format_count(ITEM_BYTES_GOAL), all_met([row[-1] for row in rows])))
    out.append("")
    if hot["lacks"]:
        out.append("Not measured: %s." % lacks_text(hot["lacks"]))
        out.append("")
    return out


def format_volume(events_per_month):
    """`3.2 billion events a month (1,218 a second)`."""
    for size, word in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million"), (1e3, "thousand")):
        if events_per_month >= size:
            text = "%s %s" % (format_significant(events_per_month / size, 2), word)
            break
    else:
        text = format_count(round(events_per_month))
    return "%s events a month (%s a second on average)" % (
        text, format_significant(events_per_month / streams.SECONDS_PER_MONTH, 3))


def freshness_model(manifest, workload, model, prices):
    """Modelled freshness and cost per million events of the deployed settings, of each
    setting changed alone, and of each profile; `lacks` names what is missing."""
    throughput = (workload or {}).get("throughput")
    pipeline = model["designs"].get("pipeline", {}).get("total")
    lacks = []
    if throughput is None:
        lacks.append("workload.throughput")
    if pipeline is None:
        lacks.append("the pipeline's cost per million events")
    result = {"lacks": lacks, "variants": [], "rates": list(freshness.COST_RATES)}
    if lacks:
        return result
    for label, settings in freshness.variants(manifest):
        modelled = freshness.model(settings, throughput)
        costs = [freshness.profile_cost(settings, workload, pipeline, prices, rate) for rate in freshness.COST_RATES]
        result["variants"].append({
            "label": label, "settings": settings, "p50_seconds": modelled["p50"], "p99_seconds": modelled["p99"],
            "stages": [{"stage": name, "p50_seconds": p50, "p99_seconds": p99, "how": how}
                       for name, p50, p99, how in modelled["stages"]],
            "usd_per_million_events": [cost["usd_per_million"] for cost in costs],
            "records_per_batch": [cost["batches"] for cost in costs],
        })
    return result


def freshness_goal_rows(fresh):
    variant = next((v for v in fresh["variants"] if v["label"] == "profile %s" % LOW_LATENCY_PROFILE), None)
    value = None if variant is None else variant["p99_seconds"]
    return [{"goal": "freshness p99, modelled for AWS", "function": "profile %s" % LOW_LATENCY_PROFILE,
             "limit": "≤ %s s" % format_significant(FRESHNESS_P99_GOAL_SECONDS), "value": value,
             "measured": NOT_MEASURED if value is None else "%s s" % format_significant(value, 3),
             "met": verdict(value, FRESHNESS_P99_GOAL_SECONDS)}]


def freshness_section(fresh):
    out = ["## Freshness", ""]
    out.append("From an event's PutEvents to its effect in the features `POST /predict` reads, modelled "
               "for AWS stage by stage (`tools/perf/freshness.py`: the event sources' documented polling "
               "and batching, the manifest's windows, the consumers' batch times under the latency "
               "model; each stage a distribution, their sum drawn %s times). Measured through the local "
               "stack: [freshness](freshness.md)." % format_count(freshness.DRAWS))
    out.append("")
    if fresh["lacks"]:
        out.append("Not computed: lacks %s." % ", ".join("`%s`" % key for key in fresh["lacks"]))
        out.append("")
        return out
    rates = fresh["rates"]
    out.append(markdown_table(
        ["settings", "p50", "p99"] + ["per million events at %s events/s" % format_count(r) for r in rates],
        [[v["label"], "%s s" % format_significant(v["p50_seconds"], 2), "%s s" % format_significant(v["p99_seconds"], 2)]
         + [format_usd(cost) for cost in v["usd_per_million_events"]] for v in fresh["variants"]]))
    out.append("")
    out.append("The cost: the pipeline's measured cost per million events (batches of the deployed size, "
               "warm), adjusted for the batches each setting makes at that rate on one shard per stream "
               "(Lambda requests and duration, the ingest queue's receives and deletes, write units, "
               "which coalesce less in smaller batches), plus enhanced fan-out's consumer-shard-hours "
               "and data. Strongly consistent feature reads cost inference a read unit per item instead "
               "of half of one, per prediction, not per event.")
    out.append("")
    for v in fresh["variants"]:
        if v["label"] not in ("as deployed", "profile %s" % LOW_LATENCY_PROFILE):
            continue
        out.append("### Stages: %s" % v["label"])
        out.append("")
        out.append(markdown_table(["stage", "p50", "p99", "how"], [
            [s["stage"], "%s ms" % format_significant(s["p50_seconds"] * 1000, 3),
             "%s ms" % format_significant(s["p99_seconds"] * 1000, 3), s["how"]] for s in v["stages"]]))
        out.append("")
    return out


def sizing_model(workload, model, manifest_streams, prices):
    """For each rate of streams.SIZING_RATES: per stream, shards (Kinesis's write limit) and the
    parallelization factor at which its consumer keeps up with a shard (from the throughput
    run), and what a month costs; `lacks` names what is missing."""
    throughput = (workload or {}).get("throughput")
    inputs, lacks = streams.stream_inputs(manifest_streams, workload)
    if throughput is None:
        lacks.append("workload.throughput")
    lanes = {}
    for key, stream in manifest_streams.items():
        rates = [streams.lane_records_per_second((throughput or {}).get("functions", {}).get(reader))
                 for reader in stream["readers"]]
        if throughput is not None and (not rates or None in rates):
            lacks.append("workload.throughput.functions.<consumer of %s>" % key)
        elif rates:
            lanes[key] = min(rates)
    result = {"lacks": lacks, "rows": [], "lane_records_per_second": lanes}
    if lacks:
        return result
    for rate in streams.SIZING_RATES:
        sized = {key: streams.size_stream(rate * s["records_per_event"], s["record_bytes"], lanes[key])
                 for key, s in inputs.items()}
        factor_one = all(factor == 1 for _, factor in sized.values())
        design = model["designs"].get("pipeline" if factor_one else "pipeline_cold") or {}
        per_million = design.get("total")
        shards = sum(shards for shards, _ in sized.values())
        streams_usd = streams.usd(prices, "kinesis_shard_hour", shards * streams.HOURS_PER_MONTH)
        events = rate * streams.SECONDS_PER_MONTH
        result["rows"].append({
            "events_per_second": rate,
            "streams": {key: {"shards": s, "parallelization_factor": f} for key, (s, f) in sized.items()},
            "design": "pipeline" if factor_one else "pipeline_cold",
            "usd_per_million_events": per_million,
            "streams_usd_per_month": streams_usd,
            "usd_per_month": None if per_million is None else events / 1e6 * per_million + streams_usd,
        })
    return result


def throughput_section(workload, sizing):
    """What one shard's consumers sustain under the latency model, and the sizing table."""
    out = ["## Throughput per shard", ""]
    throughput = (workload or {}).get("throughput")
    if throughput is None:
        out.extend(["Not measured: the measurements have no `workload.throughput`.", ""])
        return out
    model = throughput["latency_model"]
    out.append("Each stream consumer's batches of the reference workload, one warm execution "
               "environment each, with every AWS call answered no sooner than a latency model of "
               "the service in a region draws (log-normal; the proxies of `emulator::latency` in "
               "front of the emulator, and of a stand-in Kinesis that keeps the records):")
    out.append("")
    out.append(markdown_table(["service", "median per call", "p99 per call"], [
        [name, "%s ms" % format_significant(model[service]["median_ms"], 3),
         "%s ms" % format_significant(model[service]["p99_ms"], 3)]
        for service, name in (("dynamodb", "DynamoDB"), ("kinesis", "Kinesis"), ("sqs", "SQS"))]))
    out.append("")
    if throughput["latency_source"]:
        out.append("Source: %s." % throughput["latency_source"].rstrip("."))
        out.append("")
    rows = []
    for function, work in throughput["functions"].items():
        lane = streams.lane_records_per_second(work)
        reference = (workload["functions"].get(function) or {}).get("billed_ms_per_invocation")
        p99 = work.get("p99_ms_per_invocation")
        per_batch = work["records"] / work["invocations"] if work.get("invocations") else None
        rows.append([
            function,
            NOT_MEASURED if per_batch is None else format_significant(per_batch, 3),
            format_ms(work.get("billed_ms_per_invocation")) if work.get("billed_ms_per_invocation") else NOT_MEASURED,
            format_ms(p99) if p99 else NOT_MEASURED,
            format_ms(reference) if reference else NOT_MEASURED,
            NOT_MEASURED if lane is None else format_count(round(lane)),
            NOT_MEASURED if lane is None or not p99 else format_count(round(per_batch / (p99 / 1000))),
        ])
    out.append(markdown_table(["consumer", "records per batch", "batch, median", "batch, p99",
                               "batch against the emulator alone, median", "records/s per shard at factor 1",
                               "records/s at the p99 batch"], rows))
    out.append("")
    out.append("A shard takes at most 1,000 records or 1 MiB a second; a consumer keeps up with a "
               "full shard when its records per second (times the parallelization factor: that "
               "many batches of the shard at once, each key in order) reach 1,000. Lambda's own "
               "time per invocation and polling are not in the batch time.")
    out.append("")
    out.append("### Sizing")
    out.append("")
    if sizing["lacks"]:
        out.append("Not computed: lacks %s." % ", ".join("`%s`" % key for key in sizing["lacks"]))
        out.append("")
        return out
    keys = list(sizing["rows"][0]["streams"])
    rows = []
    for row in sizing["rows"]:
        rows.append(["%s" % format_count(row["events_per_second"])]
                    + ["%d × %d" % (row["streams"][k]["shards"], row["streams"][k]["parallelization_factor"])
                       for k in keys]
                    + [format_usd(row["usd_per_million_events"]) + (" (cold)" if row["design"] == "pipeline_cold" else ""),
                       format_usd(row["streams_usd_per_month"]),
                       format_usd(row["usd_per_month"])])
    out.append(markdown_table(["events/s"] + ["%s: shards × factor" % k for k in keys]
                              + ["per million events", "streams a month", "a month in all"], rows))
    out.append("")
    out.append("Shards: enough for Kinesis's write limit, then more only where a factor of 10 "
               "would not let the consumer keep up. Factor: the least at which each shard's "
               "consumer keeps up at its median batch time. A month: the events at the cost per "
               "million of the pipeline, warm (cold where a factor is above 1: the shard's "
               "batches then run in several environments and the warm state cache rarely "
               "helps), plus the shards' hours; provisioned streams at a steady rate.")
    out.append("")
    return out


def capacity_section(capacity, manifest_streams, svg_name):
    out = ["## Capacity modes", ""]
    modes = ", ".join("%s %s%s" % (key, s["capacity_mode"].replace("_", "-"),
                                   " (%d shard%s)" % (s["shard_count"], "" if s["shard_count"] == 1 else "s")
                                   if s["shard_count"] else "")
                      for key, s in manifest_streams.items())
    out.append("What the two streams cost a month together, provisioned or on-demand, by traffic "
               "(the manifest deploys: %s). A provisioned stream is sized for its peak second; an "
               "on-demand one bills what goes through, so the comparison depends on how much higher "
               "the peak is than the average (`tools/perf/streams.py` computes it)." % modes)
    out.append("")
    if not capacity["computed"]:
        out.append("Not computed: lacks %s." % ", ".join("`%s`" % key for key in capacity["lacks"]))
        out.append("")
        return out
    inputs = capacity["streams"]
    out.append("Per stream, from the workload: " + "; ".join(
        "%s, %s per event of %s bytes on average, read by %d consumer%s" % (
            key, "a record" if s["records_per_event"] == 1 else "%s records" % format_significant(s["records_per_event"], 3),
            format_significant(s["record_bytes"], 4), s["readers"], "" if s["readers"] == 1 else "s")
        for key, s in inputs.items()) + ".")
    out.append("")
    rows = []
    for ratio in capacity["peak_to_average"]:
        volume = capacity["crossovers"][ratio]
        rows.append(["%s×" % ratio, "provisioned at every volume up to 10^12 events a month" if volume is None
                     else "on-demand from %s" % format_volume(volume)])
    out.append(markdown_table(["peak / average", "cheaper"], rows))
    out.append("")
    out.append("![monthly cost of the streams by capacity mode](%s)" % svg_name)
    out.append("")
    return out


def format_bytes_short(value):
    """`102 KB`, `16.2 MB`: decimal units, for object sizes."""
    for size, unit in ((1e9, "GB"), (1e6, "MB"), (1e3, "KB")):
        if value >= size:
            return "%s %s" % (format_significant(value / size, 3), unit)
    return "%s bytes" % format_significant(value, 3)


def archive_formulas():
    """How the archive is priced; summary.md and report.json both carry it."""
    return [
        "Per month at a steady rate of events a second (730 h); per million events: that over the "
        "month's events.",
        "Firehose ingestion: every record of the source stream, each rounded up to the next 5 KB "
        "(5,120 bytes), as AWS bills a Kinesis stream source; per GB (2^30 bytes), through the "
        "price's tiers.",
        "Dynamic partitioning: the records' bytes, not rounded (an assumption: AWS's page bills it "
        "per GB delivered and names no rounding), per GB; the objects delivered, per 1,000; the "
        "JQ query at %s µs a record (assumed), per hour." % format_significant(archive.JQ_SECONDS_PER_RECORD * 1e6),
        "Objects: each date partition is buffered apart and delivered when its interval ends or "
        "its buffer fills with uncompressed data, whichever is first: 86,400 s / that period a day, "
        "plus one a day for the buffer that spans midnight (split between two dates). One S3 PUT "
        "each.",
        "Storage at steady state: `expire_after_days` days of gzip data (the record, a newline, "
        "over a gzip ratio of %s, assumed), Standard for `infrequent_access_after_days`, then "
        "Standard-IA (billed as at least 128 KiB an object and 30 days) with a transition "
        "request an object. S3 lifecycle rules leave objects under 128 KiB in Standard by default: "
        "those are billed in Standard to expiry. The bucket is versioned: an expired object is "
        "billed %d days more as a noncurrent version, in its class." % (
            format_significant(archive.GZIP_RATIO), archive.NONCURRENT_VERSION_DAYS),
        "A source stream in on-demand mode also bills the data Firehose reads from it, per GB; a "
        "provisioned one does not (Firehose shares the shards' reads with the other consumers).",
    ]


def archive_sentence(arch):
    """One line for stdout: the archive at each rate, or why it is not priced."""
    if not arch["computed"]:
        return "Archive: not priced: %s." % (arch["reason"] or "lacks %s" % ", ".join(arch["lacks"]))
    return "Archive (%s), a month and per million events: %s." % (", ".join(arch["archives"]), "; ".join(
        "%s events/s %s (%s)" % (format_count(t["events_per_second"]), format_usd(t["usd_per_month"]),
                                 format_usd(t["usd_per_million_events"])) for t in arch["totals"]))


def archive_section(arch, pipeline_total):
    """The archive's lines a month by rate, its total a month and per million events, and the
    pipeline's cost per million with it."""
    out = ["## Archive", ""]
    if not arch["computed"]:
        if arch["reason"]:
            out.append("Not priced: %s, so the archive's Firehose and S3 costs are in no figure of this "
                       "report." % arch["reason"])
        else:
            out.append("Not computed: lacks %s." % ", ".join("`%s`" % key for key in arch["lacks"]))
        out.append("")
        return out
    rates = arch["rates"]
    header = [""] + ["%s events/s" % format_count(rate) for rate in rates]
    for key, item in arch["archives"].items():
        settings, source = item["settings"], item["source"]
        out.append("`archives.%s`: every record of the %s stream delivered by Amazon Data Firehose (the "
                   "stream as its source) to S3, gzip, partitioned by event date (`%s`), buffered %s s or "
                   "%s MiB; %s; expired after %s days, then kept %d days as a noncurrent version "
                   "(`tools/perf/archive.py`). The source: %s per "
                   "event of %s bytes (`workload.stream_record_bytes.%s`, data and partition key), a "
                   "%s stream." % (
                       key, settings["stream"], settings["partition_date_field"] or "?",
                       format_count(settings["buffer_interval_seconds"]), format_count(settings["buffer_size_mib"]),
                       "Standard, Standard-IA after %s days" % settings["infrequent_access_after_days"]
                       if settings["infrequent_access_after_days"] else "Standard",
                       format_count(settings["expire_after_days"]), archive.NONCURRENT_VERSION_DAYS,
                       "a record" if source["records_per_event"] == 1 else
                       "%s records" % format_significant(source["records_per_event"], 3),
                       format_significant(source["record_bytes"], 4), settings["stream"],
                       source["capacity_mode"].replace("_", "-")))
        out.append("")
        rows = item["rows"]
        table = [
            ["objects a day"] + [format_count(round(row["objects_per_day"])) for row in rows],
            ["object, gzip"] + [format_bytes_short(row["object_gzip_bytes"]) for row in rows],
            ["after %s days" % settings["infrequent_access_after_days"]] + [
                "Standard-IA" if row["storage"]["transitioned"] else "Standard (under 128 KiB)" for row in rows],
        ]
        # A row per line, in the order the rates first have them (some rates lack some lines:
        # Standard-IA only where objects reach 128 KiB).
        items = {}
        for row in rows:
            for entry in row["lines"]:
                items.setdefault(entry["item"], "%s: %s" % (entry["service"], entry["item"]))
        for item, title in items.items():
            costs = [{entry["item"]: entry["usd_per_month"] for entry in row["lines"]}.get(item) for row in rows]
            table.append([title] + ["" if cost is None else format_usd(cost) for cost in costs])
        table.append(["**a month**"] + ["**%s**" % format_usd(row["usd_per_month"]) for row in rows])
        table.append(["per million events"] + [format_usd(row["usd_per_million_events"]) for row in rows])
        out.append(markdown_table(header, table))
        out.append("")
    totals = arch["totals"]
    rows = [["archive%s, per million events" % ("s" if len(arch["archives"]) > 1 else "")]
            + [format_usd(t["usd_per_million_events"]) for t in totals],
            ["pipeline, warm, per million events"] + [format_usd(pipeline_total) for _ in totals],
            ["**pipeline and archive, per million events**"] + [
                "**%s**" % format_usd(None if pipeline_total is None else pipeline_total + t["usd_per_million_events"])
                for t in totals]]
    out.append(markdown_table(header, rows))
    out.append("")
    out.append("Dollar figures a month, at a steady rate; storage at steady state. The pipeline's goal of "
               "%s per million events is for the pipeline alone." % format_usd(PIPELINE_USD_PER_MILLION_GOAL))
    out.append("")
    out.extend("- %s" % text for text in archive_formulas())
    for key, item in arch["archives"].items():
        out.append("- If AWS metered JQ processing by the hour the Firehose stream runs rather than by the "
                   "query's time, `%s` would cost %s a month more (730 h)." % (key, format_usd(item["jq_wall_clock_usd_per_month"])))
        out.extend("- %s" % text for text in item["assumptions"])
    out.append("")
    return out


def render_summary(measurements, prices, model, goals, svg_names, units, hot, capacity=None, sizing=None,
                   fresh=None, arch=None):
    out = []
    out.append("# Performance and cost report")
    out.append("")
    out.append("Measured %s on %s. Prices: %s list prices taken %s (`tools/perf/prices.json`)."
               % (format_date(measurements["date"]), describe_machine(measurements["machine"]),
                  prices["region"], prices["taken_on"]))
    out.append("")
    workload = measurements["workload"]
    if workload is not None:
        details = ["%s events" % format_count(workload["events"])]
        if workload["users"]:
            details.append("over %s users" % format_count(workload["users"]))
        if workload["zipf_exponent"] is not None:
            details.append("Zipf s = %s" % format_significant(workload["zipf_exponent"], 3))
        if workload["seed"] is not None:
            details.append("seed %d" % workload["seed"])
        if workload["batch_size"]:
            details.append("batches of %d" % workload["batch_size"])
        if workload["order_share"] is not None:
            details.append("%s%% orders" % format_significant(workload["order_share"] * 100, 3))
        out.append("Workload: " + ", ".join(details) + ".")
        out.append("")

    out.append("## Goals")
    out.append("")
    out.append(markdown_table(["goal", "function", "measured", "goal value", "met"],
                              [[g["goal"], g["function"], g["measured"], g["limit"], g["met"]] for g in goals]))
    out.append("")
    out.append("![init time by function](%s)" % svg_names["init"])
    out.append("")

    out.append("## Requests and capacity units per event")
    out.append("")
    if workload is None:
        out.append("Not measured: the measurements have no `workload`.")
        out.append("")
    header = ["design", "function", "memory", "invocations per event", "billed ms per invocation",
              "requests per event", "read units per event", "write units per event",
              "Kinesis PUT payload units per event"]
    rows = []
    for row in per_event_rows(measurements):
        entry = row["entry"]
        design = DESIGN_TITLES[row["design"]]
        if entry is None:
            rows.append([design, row["function"]] + [NOT_MEASURED] * 7)
            continue
        events = workload["events"]
        requests = entry.get("requests")
        if requests is None:
            request_text = NOT_MEASURED
        else:
            request_text = ", ".join("%s %s" % (op, per_event(n, events)) for op, n in requests.items()) or "none"
        if row["function"] not in PIPELINE_FUNCTIONS:
            rows.append([design, row["function"], "", "", "", request_text, "", "", ""])
            continue
        memory = entry.get("memory_mb")
        billed = entry.get("billed_ms_per_invocation")
        rows.append([
            design,
            row["function"],
            NOT_MEASURED if memory is None else "%s MB" % format_count(memory),
            per_event(entry.get("invocations"), events),
            NOT_MEASURED if billed is None else format_significant(billed, 3),
            request_text,
            per_event(entry.get("read_request_units"), events),
            per_event(entry.get("write_request_units"), events),
            per_event(entry.get("kinesis_put_payload_units"), events),
        ])
    out.append(markdown_table(header, rows))
    if workload is not None:
        for design in DESIGNS[1:]:
            source = workload[DESIGN_SOURCES[design]]
            if source is not None and source["description"]:
                out.append("")
                out.append("%s: %s." % (DESIGN_TITLES[design][:1].upper() + DESIGN_TITLES[design][1:],
                                         source["description"].rstrip(".")))
    out.append("")

    out.extend(consumer_units_section(units, goals))
    out.extend(hot_users_section(hot))

    out.append("## Cost per million events")
    out.append("")
    out.append(cost_table(model))
    out.append("")
    out.append(fixed_cost_sentence(model))
    out.append("")
    if model["lacks"]:
        out.append("The cost model lacks: %s." % ", ".join("`%s`" % key for key in model["lacks"]))
        out.append("")
    out.append("![cost per million events by design](%s)" % svg_names["cost"])
    out.append("")
    for name in DESIGNS:
        design = model["designs"].get(name)
        if design is None:
            continue
        out.append("### Lines: %s" % design["title"])
        out.append("")
        out.append(markdown_table(
            ["service", "item", "per million events", "unit price", "USD", "how"],
            [[line.service, line.item,
              NOT_MEASURED if line.quantity is None else "%s %s" % (format_count(line.quantity), line.unit),
              format_price(line.price), format_usd(line.usd), line.formula()]
             for line in design["lines"]]))
        if design["assumptions"]:
            out.append("")
            out.extend("- %s" % text for text in design["assumptions"])
        out.append("")

    if capacity is not None:
        out.extend(throughput_section(workload, sizing))
        out.extend(freshness_section(fresh))
        out.extend(capacity_section(capacity, model["fixed_monthly"]["streams"], svg_names["capacity"]))
    if arch is not None:
        out.extend(archive_section(arch, model["designs"].get("pipeline", {}).get("total")))

    out.append("## How it is computed")
    out.append("")
    out.extend("- %s" % text for text in formulas())
    out.append("")

    out.append("## Prices")
    out.append("")
    out.append("%s list prices in %s, taken %s; free tiers ignored. Prices change: check each "
               "against its source before relying on it." % (prices["region"], prices["currency"], prices["taken_on"]))
    out.append("")
    out.append(markdown_table(
        ["price", "what", "status", "source"],
        [[format_price(p), p["what"], p["status"], p["source"]] for p in prices["prices"].values()]))
    out.append("")
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# SVG charts, written by hand so the report needs nothing beyond the standard library


SERVICE_COLOURS = {
    "EventBridge": "#CC79A7",
    "SQS": "#E69F00",
    "Lambda": "#0072B2",
    "Kinesis": "#009E73",
    "DynamoDB": "#D55E00",
}
WALL_COLOUR = "#0072B2"
CPU_COLOUR = "#56B4E9"
GOAL_COLOUR = "#D55E00"
FONT = 'font-family="Helvetica, Arial, sans-serif"'


def nice_axis(maximum, ticks=5):
    """An axis top and tick step in 1, 2, 2.5, 5 × 10^n that covers `maximum`."""
    if maximum <= 0:
        return 1.0, 0.2
    raw = maximum / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        step = factor * magnitude
        if step >= raw:
            break
    return step * math.ceil(maximum / step - 1e-9), step


def svg_text(x, y, text, size=12, anchor="start", weight="normal", fill="#222", extra=""):
    return '<text x="%.1f" y="%.1f" %s font-size="%d" text-anchor="%s" font-weight="%s" fill="%s"%s>%s</text>' % (
        x, y, FONT, size, anchor, weight, fill, extra, escape(text))


class Plot:
    """A vertical-bar plot area with a labelled y axis and gridlines."""

    def __init__(self, width, height, left, right, top, bottom, y_max, y_step, y_label, tick_format):
        self.width, self.height = width, height
        self.left, self.right, self.top, self.bottom = left, right, top, bottom
        self.y_max, self.y_step = y_max, y_step
        self.y_label = y_label
        self.tick_format = tick_format

    @property
    def plot_height(self):
        return self.height - self.top - self.bottom

    @property
    def plot_width(self):
        return self.width - self.left - self.right

    def y(self, value):
        return self.height - self.bottom - value / self.y_max * self.plot_height

    def axes(self):
        parts = ['<g class="axes">']
        steps = int(round(self.y_max / self.y_step))
        for i in range(steps + 1):
            value = i * self.y_step
            y = self.y(value)
            parts.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd" stroke-width="1"/>'
                         % (self.left, y, self.width - self.right, y))
            parts.append(svg_text(self.left - 8, y + 4, self.tick_format(value), anchor="end"))
        base = self.height - self.bottom
        parts.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333" stroke-width="1"/>'
                     % (self.left, self.top, self.left, base))
        parts.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333" stroke-width="1"/>'
                     % (self.left, base, self.width - self.right, base))
        middle = self.top + self.plot_height / 2
        parts.append(svg_text(18, middle, self.y_label, size=13, anchor="middle",
                              extra=' transform="rotate(-90 18 %.1f)"' % middle))
        parts.append("</g>")
        return parts


def svg_document(width, height, title, subtitle, body):
    return "\n".join([
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img">'
        % (width, height, width, height),
        "<title>%s</title>" % escape(title + " — " + subtitle),
        '<rect width="100%" height="100%" fill="#fff"/>',
        svg_text(width / 2, 26, title, size=17, anchor="middle", weight="bold"),
        svg_text(width / 2, 46, subtitle, size=12, anchor="middle", fill="#555"),
    ] + body + ["</svg>", ""])


def legend(x, y, entries):
    parts = ['<g class="legend">']
    for i, (label, colour, kind) in enumerate(entries):
        row_y = y + i * 20
        if kind == "whisker":
            parts.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>' % (x + 7, row_y, x + 7, row_y + 12, colour))
            parts.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>' % (x + 2, row_y, x + 12, row_y, colour))
        elif kind == "line":
            parts.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2" '
                         'stroke-dasharray="6 4"/>' % (x, row_y + 6, x + 14, row_y + 6, colour))
        elif kind == "circle":
            parts.append('<circle cx="%.1f" cy="%.1f" r="5" fill="none" stroke="%s" stroke-width="2"/>'
                         % (x + 7, row_y + 6, colour))
        else:
            parts.append('<rect x="%.1f" y="%.1f" width="14" height="12" fill="%s"/>' % (x, row_y, colour))
        parts.append(svg_text(x + 20, row_y + 11, label))
    parts.append("</g>")
    return parts


# The cost chart's labels under its bars, two lines each.
CHART_LABELS = {
    "pipeline": ("pipeline, warm", "(as built)"),
    "pipeline_cold": ("pipeline, cold", "(no affinity)"),
    "naive": ("naive design", ""),
    "naive_with_memory": ("naive with", "24 h memory"),
}


def render_cost_svg(measurements, model):
    width, height = 940, 540
    designs = list(DESIGNS)
    totals = []
    for name in designs:
        design = model["designs"].get(name)
        if design is not None:
            totals.append(sum(v for v in design["by_service"].values() if v is not None))
    y_max, y_step = nice_axis(max(totals) * 1.12 if totals and max(totals) > 0 else 1.0)
    plot = Plot(width, height, left=80, right=190, top=70, bottom=110, y_max=y_max, y_step=y_step,
                y_label="USD per million events",
                tick_format=lambda v: "$" + format_significant(v, 3, keep_decimals=2 if v else 0))
    body = plot.axes()
    bar_width = 110
    slot = plot.plot_width / len(designs)
    for index, name in enumerate(designs):
        design = model["designs"].get(name)
        x = plot.left + slot * index + (slot - bar_width) / 2
        centre = x + bar_width / 2
        body.append('<g class="bar" data-design="%s">' % name)
        if design is None:
            top = plot.y(y_max * 0.25)
            body.append('<rect x="%.1f" y="%.1f" width="%d" height="%.1f" fill="none" stroke="#999" '
                        'stroke-dasharray="4 3"/>' % (x, top, bar_width, plot.y(0) - top))
            body.append(svg_text(centre, top - 8, NOT_MEASURED, anchor="middle", fill="#777"))
        else:
            base = 0.0
            for service in SERVICES:
                value = design["by_service"][service]
                if not value:
                    continue
                y_top, y_bottom = plot.y(base + value), plot.y(base)
                body.append('<rect class="segment" data-service="%s" x="%.1f" y="%.1f" width="%d" height="%.1f" '
                            'fill="%s"><title>%s: %s</title></rect>'
                            % (service, x, y_top, bar_width, max(y_bottom - y_top, 0.5),
                               SERVICE_COLOURS[service], escape(service), escape(format_usd(value))))
                base += value
            label = format_usd(design["total"]) if design["total"] is not None else (
                "≥ %s, incomplete" % format_usd(design["known_lines_total"]))
            body.append(svg_text(centre, plot.y(base) - 8, label, size=13, anchor="middle", weight="bold"))
        for line, label in enumerate(CHART_LABELS[name]):
            if label:
                body.append(svg_text(centre, plot.y(0) + 20 + line * 16, label, size=13, anchor="middle"))
        body.append("</g>")
    body.append(svg_text(plot.left + plot.plot_width / 2, plot.y(0) + 58, "design", size=13, anchor="middle"))
    ratios = model["ratios_to_pipeline"]
    notes = ["To the pipeline, warm: " + "; ".join(
        "%s %s" % (DESIGN_TITLES[d], "%s×" % format_significant(ratios[d], 3) if ratios[d] else NOT_MEASURED)
        for d in DESIGNS[1:])]
    fixed = model["fixed_monthly"]
    notes.append("Not per event: the Kinesis streams by the hour, %s a month (%d streams × 730 h), the same for every design."
                 % (format_usd(fixed["total_usd_per_month"]), len(fixed["lines"])))
    for i, note in enumerate(notes):
        body.append(svg_text(plot.left, height - 28 + i * 16, note, size=11, fill="#444"))
    body.extend(legend(width - plot.right + 24, plot.top + 10,
                       [(s, SERVICE_COLOURS[s], "box") for s in reversed(SERVICES)]))
    subtitle = "measured %s on %s" % (format_date(measurements["date"]), describe_machine(measurements["machine"]))
    return svg_document(width, height, "Cost per million events by design, us-east-1 list prices", subtitle, body)


def init_functions(measurements):
    return list(ALL_FUNCTIONS) + sorted(set(measurements["init"]) - set(ALL_FUNCTIONS))


def render_init_svg(measurements):
    functions = init_functions(measurements)
    width, height = 860, 500
    values = [INIT_WALL_MS_GOAL]
    for function in functions:
        entry = measurements["init"].get(function) or {}
        for clock in ("wall_ms", "cpu_ms"):
            stats = entry.get(clock) or {}
            values.extend(v for v in (stats.get("median"), stats.get("p90")) if v is not None)
    y_max, y_step = nice_axis(max(values) * 1.15)
    plot = Plot(width, height, left=70, right=170, top=70, bottom=70, y_max=y_max, y_step=y_step,
                y_label="init time, ms", tick_format=lambda v: format_significant(v, 3))
    body = plot.axes()
    slot = plot.plot_width / len(functions)
    bar_width = min(36, slot / 3)
    for index, function in enumerate(functions):
        entry = measurements["init"].get(function) or {}
        wall = (entry.get("wall_ms") or {})
        cpu = (entry.get("cpu_ms") or {})
        centre = plot.left + slot * index + slot / 2
        body.append('<g class="bar" data-function="%s">' % escape(function))
        if wall.get("median") is None and cpu.get("median") is None:
            top = plot.y(y_max * 0.2)
            body.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#999" '
                        'stroke-dasharray="4 3"/>' % (centre - bar_width, top, 2 * bar_width, plot.y(0) - top))
            body.append(svg_text(centre, top - 8, NOT_MEASURED, anchor="middle", fill="#777"))
        for offset, stats, colour, kind in ((-bar_width, wall, WALL_COLOUR, "wall"),
                                             (0, cpu, CPU_COLOUR, "cpu")):
            median = stats.get("median")
            if median is None:
                continue
            x = centre + offset
            top = plot.y(median)
            body.append('<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s">'
                        '<title>%s %s median %s</title></rect>'
                        % (kind, x, top, bar_width, max(plot.y(0) - top, 0.5), colour,
                           escape(function), kind, escape(format_ms(median))))
            p90 = stats.get("p90")
            label_y = plot.y(max(median, p90 if (p90 is not None and kind == "wall") else median)) - 5
            body.append(svg_text(x + bar_width / 2, label_y, format_significant(median, 3), size=10, anchor="middle"))
            if p90 is not None and kind == "wall":
                # A whisker to p90 shows how much a cold start varies from run to run.
                mid = x + bar_width / 2
                body.append('<line class="p90" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333"/>'
                            % (mid, plot.y(median), mid, plot.y(p90)))
                body.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333"/>'
                            % (mid - 5, plot.y(p90), mid + 5, plot.y(p90)))
        body.append(svg_text(centre, plot.y(0) + 20, function, size=12, anchor="middle"))
        body.append("</g>")
    goal_y = plot.y(INIT_WALL_MS_GOAL)
    body.append('<line class="goal" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2" '
                'stroke-dasharray="6 4"/>' % (plot.left, goal_y, width - plot.right, goal_y, GOAL_COLOUR))
    body.append(svg_text(plot.left + 6, goal_y - 6, "goal: %s ms" % format_significant(INIT_WALL_MS_GOAL),
                         size=12, anchor="start", fill=GOAL_COLOUR, weight="bold"))
    body.append(svg_text(plot.left + plot.plot_width / 2, height - 22, "function", size=13, anchor="middle"))
    body.extend(legend(width - plot.right + 20, plot.top + 10, [
        ("wall, median", WALL_COLOUR, "box"),
        ("whisker: wall p90", "#333", "whisker"),
        ("CPU, median", CPU_COLOUR, "box"),
        ("goal (wall median)", GOAL_COLOUR, "line"),
    ]))
    subtitle = "measured %s on %s" % (format_date(measurements["date"]), describe_machine(measurements["machine"]))
    return svg_document(width, height, "Init time by function", subtitle, body)


# The capacity chart's series: on-demand, then provisioned by peak-to-average ratio.
ON_DEMAND_COLOUR = "#D55E00"
PROVISIONED_COLOURS = {1: "#0072B2", 3: "#56B4E9", 10: "#009E73", 30: "#999999"}


def render_capacity_svg(measurements, prices, capacity):
    """The streams' monthly cost by events a month, log-log: on-demand as one line, provisioned
    as one step line per peak-to-average ratio, each crossover marked."""
    width, height = 940, 560
    left, right, top, bottom = 90, 230, 70, 80
    subtitle = "%s list prices taken %s; measured %s" % (
        prices["region"], prices["taken_on"], format_date(measurements["date"]))
    title = "Monthly cost of the two streams by capacity mode"
    if not capacity["computed"]:
        body = [svg_text(width / 2, height / 2, "not computed: lacks %s" % ", ".join(capacity["lacks"]),
                         anchor="middle", fill="#777")]
        return svg_document(width, height, title, subtitle, body)
    volumes = capacity["volumes"]
    series = [("on-demand", ON_DEMAND_COLOUR, capacity["on_demand"], None)]
    for ratio in capacity["peak_to_average"]:
        series.append(("provisioned, peak %s× average" % ratio, PROVISIONED_COLOURS.get(ratio, "#555"),
                       [point["usd"] for point in capacity["provisioned"][ratio]], ratio))
    costs = [cost for _, _, values, _ in series for cost in values]
    y_low = 10 ** math.floor(math.log10(min(costs)))
    y_high = 10 ** math.ceil(math.log10(max(costs)))
    x_low, x_high = math.log10(volumes[0]), math.log10(volumes[-1])
    plot_width, plot_height = width - left - right, height - top - bottom

    def x(volume):
        return left + (math.log10(volume) - x_low) / (x_high - x_low) * plot_width

    def y(cost):
        return top + plot_height - (math.log10(cost) - math.log10(y_low)) / (
            math.log10(y_high) - math.log10(y_low)) * plot_height

    body = ['<g class="axes">']
    for power in range(int(x_low), int(x_high) + 1):
        body.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>' % (x(10 ** power), top, x(10 ** power), top + plot_height))
        body.append(svg_text(x(10 ** power), top + plot_height + 18, "10^%d" % power, anchor="middle"))
    for power in range(round(math.log10(y_low)), round(math.log10(y_high)) + 1):
        body.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>' % (left, y(10 ** power), left + plot_width, y(10 ** power)))
        body.append(svg_text(left - 8, y(10 ** power) + 4, format_usd(10 ** power), anchor="end"))
    body.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#333"/>' % (left, top, plot_width, plot_height))
    body.append(svg_text(left + plot_width / 2, height - 30, "events a month (log scale)", size=13, anchor="middle"))
    middle = top + plot_height / 2
    body.append(svg_text(22, middle, "USD a month (log scale)", size=13, anchor="middle",
                         extra=' transform="rotate(-90 22 %.1f)"' % middle))
    body.append("</g>")
    for label, colour, values, ratio in series:
        points = " ".join("%.1f,%.1f" % (x(v), y(c)) for v, c in zip(volumes, values))
        body.append('<polyline class="series" data-series="%s" points="%s" fill="none" stroke="%s" stroke-width="2"/>'
                    % (escape(label), points, colour))
        if ratio is None:
            continue
        crossing = capacity["crossovers"][ratio]
        if crossing is not None:
            cost = values[volumes.index(crossing)]
            body.append('<circle class="crossover" data-ratio="%s" cx="%.1f" cy="%.1f" r="5" fill="none" '
                        'stroke="%s" stroke-width="2"><title>on-demand is cheaper from %s</title></circle>'
                        % (ratio, x(crossing), y(cost), colour, escape(format_volume(crossing))))
    body.extend(legend(width - right + 20, top + 10, [(label, colour, "line") for label, colour, _, _ in series]
                       + [("crossover: on-demand cheaper", "#333", "circle")]))
    return svg_document(width, height, title, subtitle, body)


# ---------------------------------------------------------------------------------------------
# report.json and the command line


def report_json(raw_measurements, measurements, prices, model, goals, units, hot, manifest_streams, capacity,
                sizing, fresh, arch=None):
    designs = {}
    for name, design in model["designs"].items():
        designs[name] = {
            "title": design["title"],
            "lines": [line.as_json() for line in design["lines"]],
            "usd_per_million_events_by_service": design["by_service"],
            "total_usd_per_million_events": design["total"],
            "known_lines_usd_per_million_events": design["known_lines_total"],
            "lacks": design["lacks"],
            "assumptions": design["assumptions"],
        }
    return {
        "schema": 1,
        "measurements": raw_measurements,
        "prices": prices,
        "goals": [{k: g[k] for k in ("goal", "function", "limit", "value", "cold", "measured", "met") if k in g}
                  for g in goals],
        "cost_model": {
            "events_per_report": model["events_per_report"],
            "computed": model["computed"],
            "lacks": model["lacks"],
            "formulas": formulas(),
            "constants": {
                "hours_per_month": HOURS_PER_MONTH,
                "streams": manifest_streams,
                "eventbridge_events_per_event": EVENTBRIDGE_EVENTS_PER_EVENT,
                "ingest_sends_per_event": INGEST_SENDS_PER_EVENT,
                "lambda_price": "arm64",
            },
            "designs": designs,
            "fixed_usd_per_month": model["fixed_monthly"],
            "ratios_to_pipeline": model["ratios_to_pipeline"],
            "ratio_naive_to_pipeline": model["ratio_naive_to_pipeline"],
        },
        "dynamodb_per_consumer": {
            "goals": {
                "write_units_per_event": WRITE_UNITS_PER_EVENT_GOAL,
                "read_units_per_event": READ_UNITS_PER_EVENT_GOAL,
                "pipeline_usd_per_million_events": PIPELINE_USD_PER_MILLION_GOAL,
                "decided_by": "warm",
            },
            "formulas": consumer_formulas(),
            "warm": units["runs"]["warm"],
            "cold": units["runs"]["cold"],
            **{name: units["runs"][name] for name, _ in AFFINITY_RUNS if name in units["runs"]},
            "lacks": units["lacks"],
        },
        "capacity_modes": capacity,
        "sizing": sizing,
        "freshness": fresh,
        "archive": None if arch is None else dict(arch, formulas=archive_formulas()),
        "hot_users": {
            "goal": hot["goal"],
            "item_bytes_limit": ITEM_BYTES_GOAL,
            "workloads": hot["workloads"],
            "lacks": hot["lacks"],
        },
    }


SVG_NAMES = {"cost": "cost-per-million.svg", "init": "init-time.svg", "capacity": "capacity-modes.svg"}
DEFAULT_MANIFEST = Path(__file__).resolve().parents[2] / "infra" / "stack.json"


def build_report(measurements_path, prices_path, manifest_path=DEFAULT_MANIFEST):
    """Everything the report writes, as {file name: text}, and the table for stdout."""
    raw = load_json(measurements_path, "measurements",
                    " (write it with `perf-report measure`, or name another with --measurements)")
    measurements = parse_measurements(raw, measurements_path)
    prices = parse_prices(load_json(prices_path, "prices", " (name one with --prices)"), prices_path)
    manifest = load_json(manifest_path, "manifest", " (name one with --manifest)")
    manifest_streams = streams.manifest_streams(manifest)
    try:
        archives = archive.manifest_archives(manifest)
    except archive.SpecError as error:
        raise InputError("%s: %s" % (manifest_path, error)) from None
    model = cost_model(measurements, prices, manifest_streams)
    capacity = streams.capacity_model(manifest_streams, measurements["workload"], prices["prices"])
    sizing = sizing_model(measurements["workload"], model, manifest_streams, prices["prices"])
    fresh = freshness_model(manifest, measurements["workload"], model, prices["prices"])
    units = consumer_units(measurements["workload"])
    hot = hot_user_units(measurements["workload"])
    arch = archive.archive_model(archives, manifest_streams, measurements["workload"], prices["prices"],
                                 ARCHIVE_RATES)
    goals = goal_rows(measurements) + keyed_state_goal_rows(units, hot, model) + freshness_goal_rows(fresh)
    files = {
        "report.json": json.dumps(report_json(raw, measurements, prices, model, goals, units, hot,
                                              manifest_streams, capacity, sizing, fresh, arch), indent=2,
                                  ensure_ascii=False) + "\n",
        "summary.md": render_summary(measurements, prices, model, goals, SVG_NAMES, units, hot, capacity, sizing,
                                     fresh, arch),
        SVG_NAMES["cost"]: render_cost_svg(measurements, model),
        SVG_NAMES["init"]: render_init_svg(measurements),
        SVG_NAMES["capacity"]: render_capacity_svg(measurements, prices, capacity),
    }
    table = "\n".join([
        "Cost per million events, %s list prices taken %s; measured %s on %s"
        % (prices["region"], prices["taken_on"], format_date(measurements["date"]),
           describe_machine(measurements["machine"])),
        "",
        cost_table(model),
        "",
        fixed_cost_sentence(model),
        "",
        archive_sentence(arch),
    ] + (["", "The cost model lacks: %s." % ", ".join(model["lacks"])] if model["lacks"] else []))
    return files, table


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--measurements", default="target/perf/measurements.json",
                        help="perf-report's measurements (default: %(default)s)")
    parser.add_argument("--prices", default="tools/perf/prices.json",
                        help="the dated price table (default: %(default)s)")
    parser.add_argument("--out", default="target/perf", help="where the report goes (default: %(default)s)")
    parser.add_argument("--manifest", default=str(DEFAULT_MANIFEST),
                        help="the deployment manifest, for its streams (default: infra/stack.json)")
    args = parser.parse_args(argv)
    try:
        files, table = build_report(args.measurements, args.prices, args.manifest)
    except InputError as error:
        print("cost_report: %s" % error, file=sys.stderr)
        return 2
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (out / name).write_text(text, encoding="utf-8")
    except OSError as error:
        print("cost_report: cannot write into %s: %s" % (out, error.strerror or error), file=sys.stderr)
        return 1
    print(table)
    print()
    print("wrote %s" % ", ".join(str(out / name) for name in files))
    return 0


if __name__ == "__main__":
    sys.exit(main())
