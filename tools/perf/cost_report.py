#!/usr/bin/env python3
"""Performance and cost report from `perf-report measure`'s measurements and a dated price table.

    python3 tools/perf/cost_report.py [--measurements target/perf/measurements.json]
                                      [--prices tools/perf/prices.json] [--out target/perf]

writes, into --out:

  report.json           the measurements, the prices used and the derived cost model: every
                        input, every line's quantity, unit price, formula and result;
  summary.md            goals against measurements, requests and capacity units per event,
                        cost per million events (as built against the naive design), how it is
                        computed, and the price table with its date;
  cost-per-million.svg  cost per million events by design, stacked by service;
  init-time.svg         init time per function (median wall and CPU ms) against the 10 ms goal;

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

EVENTS_PER_REPORT = 1_000_000
HOURS_PER_MONTH = 730
# The provisioned Kinesis streams the stack deploys and their shards (infra/stack.json,
# `streams`; a test keeps this in step with it). They cost by the hour, not by the event.
KINESIS_SHARDS = {"activity": 1, "enriched": 1}

# Every producer event is one EventBridge custom event (events are far below 64 KB) and one
# SendMessage by the rule's target into the ingest queue.
EVENTBRIDGE_EVENTS_PER_EVENT = 1
INGEST_SENDS_PER_EVENT = 1

SERVICES = ("EventBridge", "SQS", "Lambda", "Kinesis", "DynamoDB")
DESIGNS = ("pipeline", "naive")
DESIGN_TITLES = {"pipeline": "pipeline (as built)", "naive": "naive design"}

REQUIRED_PRICES = (
    "lambda_requests",
    "lambda_arm64_gb_second",
    "sqs_standard_requests",
    "sqs_fifo_requests",
    "kinesis_shard_hour",
    "kinesis_put_payload_units",
    "dynamodb_on_demand_write_request_units",
    "dynamodb_on_demand_read_request_units",
    "eventbridge_custom_events",
)

# What a workload function entry holds; a key that is absent or null is an input the cost
# model lacks, not an error.
WORKLOAD_FUNCTION_KEYS = (
    "memory_mb",
    "invocations",
    "billed_ms_per_invocation",
    "requests",
    "read_request_units",
    "write_request_units",
    "kinesis_put_payload_units",
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
            "memory_mb": check.optional(entry, "memory_mb", entry_where, check.number, minimum=1),
            "invocations": check.optional(entry, "invocations", entry_where, check.number),
            "billed_ms_per_invocation": check.optional(
                entry, "billed_ms_per_invocation", entry_where, check.number
            ),
            "read_request_units": check.optional(entry, "read_request_units", entry_where, check.number),
            "write_request_units": check.optional(entry, "write_request_units", entry_where, check.number),
            "kinesis_put_payload_units": check.optional(
                entry, "kinesis_put_payload_units", entry_where, check.number
            ),
            "requests": None,
        }
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
    }
    if value.get("functions") is not None:
        workload["functions"] = parse_workload_functions(value["functions"], check, "workload.functions")
    if value.get("event_source_requests") is not None:
        workload["event_source_requests"] = parse_requests(
            value["event_source_requests"], check, "workload.event_source_requests"
        )
    naive = value.get("naive")
    if naive is not None:
        check.object(naive, "workload.naive")
        workload["naive"] = {
            "description": check.optional(naive, "description", "workload.naive", check.string),
            "functions": {},
            "event_source_requests": None,
        }
        if naive.get("functions") is not None:
            workload["naive"]["functions"] = parse_workload_functions(
                naive["functions"], check, "workload.naive.functions"
            )
        if naive.get("event_source_requests") is not None:
            workload["naive"]["event_source_requests"] = parse_requests(
                naive["event_source_requests"], check, "workload.naive.event_source_requests"
            )
    return workload


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
    return "%s per %s" % (usd, per)


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


def goal_rows(measurements):
    """One row per goal and function: what was measured, the goal, and whether it is met."""

    def verdict(value, limit):
        if value is None:
            return NOT_MEASURED
        return "met" if value <= limit else "not met"

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
    """The workload entries of a design, and the assumptions made to complete them: the naive
    design changes the two stream consumers only, so a function it does not list is taken as
    built, and so are the event source's requests when it gives none."""
    assumptions = []
    if design == "pipeline":
        return workload["functions"], workload["event_source_requests"], "workload", assumptions
    naive = workload["naive"]
    functions = {}
    for function in PIPELINE_FUNCTIONS:
        if function in naive["functions"]:
            functions[function] = naive["functions"][function]
        elif function in workload["functions"]:
            functions[function] = workload["functions"][function]
            assumptions.append(
                "naive design: %s as built (workload.naive.functions does not list it)" % function
            )
    for function, entry in naive["functions"].items():
        functions.setdefault(function, entry)
    event_source = naive["event_source_requests"]
    if event_source is None:
        event_source = workload["event_source_requests"]
        if event_source is not None:
            assumptions.append(
                "naive design: the ingest queue's event source requests as built "
                "(workload.naive.event_source_requests is absent)"
            )
    return functions, event_source, "workload.naive", assumptions


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


def design_cost(workload, design, prices):
    """Every priced line of one design, scaled from the workload's events to a million."""
    functions, event_source, where, assumptions = design_functions(workload, design)
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
        entry_where = "%s.functions.%s" % (where, function)

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
            if units == 0:
                put_units = None
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
        assumptions.append("%s.functions.%s is not part of the pipeline's cost model: left out" % (where, function))
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


def fixed_monthly(prices):
    price = prices["kinesis_shard_hour"]
    lines = []
    for stream, shards in KINESIS_SHARDS.items():
        lines.append({
            "service": "Kinesis",
            "item": "%s stream: %d provisioned shard%s" % (stream, shards, "" if shards == 1 else "s"),
            "formula": "%d shard × %d h × %s" % (shards, HOURS_PER_MONTH, format_price(price)),
            "usd_per_month": shards * HOURS_PER_MONTH * price["usd"] / price["per"],
        })
    return {"lines": lines, "total_usd_per_month": sum(line["usd_per_month"] for line in lines)}


def cost_model(measurements, prices):
    workload = measurements["workload"]
    model = {
        "events_per_report": EVENTS_PER_REPORT,
        "computed": workload is not None,
        "lacks": [],
        "designs": {},
        "fixed_monthly": fixed_monthly(prices["prices"]),
        "ratio_naive_to_pipeline": None,
    }
    if workload is None:
        model["lacks"] = ["workload"]
        return model
    model["designs"]["pipeline"] = design_cost(workload, "pipeline", prices["prices"])
    if workload["naive"] is None:
        model["lacks"].append("workload.naive")
    else:
        model["designs"]["naive"] = design_cost(workload, "naive", prices["prices"])
    for design in model["designs"].values():
        model["lacks"].extend(design["lacks"])
    pipeline = model["designs"]["pipeline"]["total"]
    naive = model["designs"].get("naive", {}).get("total")
    if pipeline and naive is not None:
        model["ratio_naive_to_pipeline"] = naive / pipeline
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
        "Kinesis: PUT payload units (one per record of up to 25 KB) × the price per million units; "
        "reads by the event source mappings are not billed per request. The shards are billed by "
        "the hour whatever the traffic: shards × 730 h a month × the shard-hour price, shown apart "
        "as a fixed monthly cost and left out of the cost per event.",
        "DynamoDB on demand: read request units × the read price + write request units × the "
        "write price, as the functions counted them (on-demand billing, no provisioned capacity).",
        "Total: the sum of the lines; the ratio is the naive design's total over the pipeline's.",
        "Left out: free tiers, CloudWatch logs and metrics, KMS requests for the streams' and "
        "tables' keys, storage, data transfer, and what the rejects and failure queues see.",
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
        if design == "naive" and workload["naive"] is None:
            continue
        functions, event_source, _, _ = design_functions(workload, design)
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
# Markdown


def markdown_table(header, rows):
    def cell(text):
        return str(text).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    lines.extend("| " + " | ".join(cell(c) for c in row) + " |" for row in rows)
    return "\n".join(lines)


def cost_table(model):
    """The main table: cost per million events by service, as built against naive."""
    designs = [d for d in DESIGNS if d in model["designs"]]
    if not designs:
        return markdown_table(["service", "pipeline (as built)", "naive design"],
                              [[service, NOT_MEASURED, NOT_MEASURED] for service in SERVICES + ("total",)])
    header = ["service (USD per million events)"] + [model["designs"][d]["title"] for d in designs]
    if "naive" not in designs:
        header.append("naive design")
    rows = []
    for service in SERVICES:
        row = [service] + [format_usd(model["designs"][d]["by_service"][service]) for d in designs]
        if "naive" not in designs:
            row.append(NOT_MEASURED)
        rows.append(row)
    total = ["**total**"] + ["**%s**" % format_usd(model["designs"][d]["total"]) for d in designs]
    if "naive" not in designs:
        total.append(NOT_MEASURED)
    rows.append(total)
    ratio = model["ratio_naive_to_pipeline"]
    rows.append(["naive / pipeline", "", "%s×" % format_significant(ratio, 3) if ratio else NOT_MEASURED])
    return markdown_table(header, rows)


def fixed_cost_sentence(model):
    fixed = model["fixed_monthly"]
    parts = " + ".join("%s (%s)" % (line["item"], line["formula"]) for line in fixed["lines"])
    return ("Fixed, whatever the traffic and the same for both designs: Kinesis shard-hours, "
            "%s a month: %s." % (format_usd(fixed["total_usd_per_month"]), parts))


def render_summary(measurements, prices, model, goals, svg_names):
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
    if workload is not None and workload["naive"] is not None and workload["naive"]["description"]:
        out.append("")
        out.append("The naive design: %s." % workload["naive"]["description"].rstrip("."))
    out.append("")

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
        else:
            parts.append('<rect x="%.1f" y="%.1f" width="14" height="12" fill="%s"/>' % (x, row_y, colour))
        parts.append(svg_text(x + 20, row_y + 11, label))
    parts.append("</g>")
    return parts


def render_cost_svg(measurements, model):
    width, height = 820, 520
    designs = list(DESIGNS)
    totals = []
    for name in designs:
        design = model["designs"].get(name)
        if design is not None:
            totals.append(sum(v for v in design["by_service"].values() if v is not None))
    y_max, y_step = nice_axis(max(totals) * 1.12 if totals and max(totals) > 0 else 1.0)
    plot = Plot(width, height, left=80, right=190, top=70, bottom=90, y_max=y_max, y_step=y_step,
                y_label="USD per million events",
                tick_format=lambda v: "$" + format_significant(v, 3, keep_decimals=2 if v else 0))
    body = plot.axes()
    bar_width = 120
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
        body.append(svg_text(centre, plot.y(0) + 20, DESIGN_TITLES[name], size=13, anchor="middle"))
        body.append("</g>")
    body.append(svg_text(plot.left + plot.plot_width / 2, plot.y(0) + 42, "design", size=13, anchor="middle"))
    ratio = model["ratio_naive_to_pipeline"]
    notes = ["naive / pipeline: %s" % ("%s×" % format_significant(ratio, 3) if ratio else NOT_MEASURED)]
    fixed = model["fixed_monthly"]
    notes.append("Not per event: Kinesis shard-hours, %s a month (%d streams × 730 h), the same for both designs."
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


# ---------------------------------------------------------------------------------------------
# report.json and the command line


def report_json(raw_measurements, measurements, prices, model, goals):
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
        "goals": [{k: g[k] for k in ("goal", "function", "limit", "value", "measured", "met")} for g in goals],
        "cost_model": {
            "events_per_report": model["events_per_report"],
            "computed": model["computed"],
            "lacks": model["lacks"],
            "formulas": formulas(),
            "constants": {
                "hours_per_month": HOURS_PER_MONTH,
                "kinesis_shards": KINESIS_SHARDS,
                "eventbridge_events_per_event": EVENTBRIDGE_EVENTS_PER_EVENT,
                "ingest_sends_per_event": INGEST_SENDS_PER_EVENT,
                "lambda_price": "arm64",
            },
            "designs": designs,
            "fixed_usd_per_month": model["fixed_monthly"],
            "ratio_naive_to_pipeline": model["ratio_naive_to_pipeline"],
        },
    }


SVG_NAMES = {"cost": "cost-per-million.svg", "init": "init-time.svg"}


def build_report(measurements_path, prices_path):
    """Everything the report writes, as {file name: text}, and the table for stdout."""
    raw = load_json(measurements_path, "measurements",
                    " (write it with `perf-report measure`, or name another with --measurements)")
    measurements = parse_measurements(raw, measurements_path)
    prices = parse_prices(load_json(prices_path, "prices", " (name one with --prices)"), prices_path)
    model = cost_model(measurements, prices)
    goals = goal_rows(measurements)
    files = {
        "report.json": json.dumps(report_json(raw, measurements, prices, model, goals), indent=2,
                                  ensure_ascii=False) + "\n",
        "summary.md": render_summary(measurements, prices, model, goals, SVG_NAMES),
        SVG_NAMES["cost"]: render_cost_svg(measurements, model),
        SVG_NAMES["init"]: render_init_svg(measurements),
    }
    table = "\n".join([
        "Cost per million events, %s list prices taken %s; measured %s on %s"
        % (prices["region"], prices["taken_on"], format_date(measurements["date"]),
           describe_machine(measurements["machine"])),
        "",
        cost_table(model),
        "",
        fixed_cost_sentence(model),
    ] + (["", "The cost model lacks: %s." % ", ".join(model["lacks"])] if model["lacks"] else []))
    return files, table


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--measurements", default="target/perf/measurements.json",
                        help="perf-report's measurements (default: %(default)s)")
    parser.add_argument("--prices", default="tools/perf/prices.json",
                        help="the dated price table (default: %(default)s)")
    parser.add_argument("--out", default="target/perf", help="where the report goes (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        files, table = build_report(args.measurements, args.prices)
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
