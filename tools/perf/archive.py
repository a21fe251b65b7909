"""The stack's archives in the cost report: what it costs to deliver every record of a Kinesis
stream to S3 with Amazon Data Firehose (the stream as its source), gzip-compressed and
partitioned by event date, and to keep it under an S3 lifecycle (Standard, then Standard-IA,
then expiry), per month and per million events at a given rate. The manifest's `archives`
section says what is archived and how; cost_report.py renders what this computes.

Per month, at `rate` events a second (730 h), for each archive:

- Firehose ingestion: every record of the source stream, each rounded up to the next 5 KB
  (5,120 bytes), per GB (2^30 bytes), at the tiered price of a Kinesis stream source;
- dynamic partitioning: the bytes processed (not rounded), per GB; the objects delivered, per
  1,000; and the time the JQ query takes, per hour (JQ_SECONDS_PER_RECORD a record);
- objects: Firehose buffers each date partition apart and flushes it when its interval ends
  or its buffer is full, whichever is first: 86,400 s / that period objects a day, plus one a
  day for the buffer that spans midnight (split between two dates);
- S3: a PUT per object; steady-state storage, i.e. `expire_after_days` days of gzip data:
  Standard for `infrequent_access_after_days`, then Standard-IA (each object billed as at least
  128 KiB and 30 days there) with a transition request per object. S3 lifecycle rules do not
  move objects under 128 KiB to Standard-IA by default: those stay in Standard to expiry. The
  bucket is versioned, so an expired object stays NONCURRENT_VERSION_DAYS more as a noncurrent
  version, in the class it was in;
- Kinesis: if the source stream is on-demand, the data Firehose reads from it, per GB.

Standard library only.
"""

import bisect
import datetime
import gzip
import itertools
import json
import math
import random
import uuid

from streams import GIB, HOURS_PER_MONTH, SECONDS_PER_MONTH, stream_inputs, usd

SECONDS_PER_DAY = 86_400
DAYS_PER_MONTH = SECONDS_PER_MONTH / SECONDS_PER_DAY
MIB = 1024 ** 2
KIB = 1024

# Firehose bills ingestion from Direct PUT and Kinesis stream sources in 5 KB increments per
# record (a 136-byte record is billed as 5,120 bytes).
FIREHOSE_RECORD_ROUNDING_BYTES = 5 * KIB
# AppendDelimiterToRecord: a newline after each record in the objects.
DELIMITER_BYTES = 1
# The buffer that spans midnight is delivered as two objects, one per date.
MIDNIGHT_EXTRA_OBJECTS_PER_DAY = 1
# S3 Standard-IA bills each object as at least 128 KiB and for at least 30 days; lifecycle
# rules leave objects under 128 KiB in their class unless a size filter says otherwise.
IA_MIN_OBJECT_BYTES = 128 * KIB
IA_MIN_DAYS = 30
# The bucket is versioned and keeps an expired object this many days more as a noncurrent
# version (ARCHIVE_NONCURRENT_VERSION_DAYS in crates/stack/src/manifest/archive.rs, which both
# templates use; not in the manifest).
NONCURRENT_VERSION_DAYS = 30
# The first tier of S3 Standard storage; the archive is priced at its rate throughout.
S3_STANDARD_FIRST_TIER_GB = 50 * 1024

# Assumed: gzip (level 6) of newline-delimited activity records with UUID event ids, as
# production's are (the envelope id EventBridge gives): 4.09 to 4.25 measured with
# representative_records() below for objects of 3,000 to 300,000 records; 7.8 to 8.4 with the
# perf workload's short ids ("perf-123"). Rounded down.
GZIP_RATIO = 4.0
# Assumed: the time the JQ query takes per record. jq 1.6 (the version Firehose runs) takes
# 4.2 µs a record for `{date: .timestamp[0:10]}` over 300,000 such records, parsing included, on
# a 2-core x86_64 VM; AWS documents neither its engine's speed nor how it meters JQ hours.
JQ_SECONDS_PER_RECORD = 5e-6

ARCHIVE_PRICES = (
    "firehose_kds_source_ingestion_gb",
    "firehose_dynamic_partitioning_gb",
    "firehose_dynamic_partitioning_objects",
    "firehose_jq_processing_hour",
    "s3_standard_put_requests",
    "s3_standard_storage_gb_month",
    "s3_standard_ia_storage_gb_month",
    "s3_standard_ia_transition_requests",
)

# What an archive of the manifest holds: (key, required, whole number).
SPEC_KEYS = (
    ("stream", True, None),
    ("prefix", False, None),
    ("partition_date_field", False, None),
    ("buffer_interval_seconds", True, False),
    ("buffer_size_mib", True, False),
    ("infrequent_access_after_days", False, True),
    ("expire_after_days", True, True),
)

NO_ARCHIVES = "the manifest has no `archives` section"


class SpecError(Exception):
    """A manifest `archives` section that is not what the cost model reads."""


def manifest_archives(manifest):
    """{archive key: its settings} from the manifest's `archives`; None when it has none."""
    if "archives" not in manifest:
        return None
    raw = manifest["archives"]
    if not isinstance(raw, dict):
        raise SpecError("archives: expected an object of archives")
    archives = {}
    for key, spec in raw.items():
        where = "archives.%s" % key
        if not isinstance(spec, dict):
            raise SpecError("%s: expected an object" % where)
        parsed = {}
        for name, required, whole in SPEC_KEYS:
            value = spec.get(name)
            if value is None:
                if required:
                    raise SpecError("%s.%s is missing" % (where, name))
                parsed[name] = None
                continue
            if whole is None:
                if not isinstance(value, str) or not value:
                    raise SpecError("%s.%s: expected a non-empty string, found %r" % (where, name, value))
            elif isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or (whole and not isinstance(value, int)) or value <= 0:
                raise SpecError("%s.%s: expected a %s greater than 0, found %r"
                                % (where, name, "whole number" if whole else "number", value))
            parsed[name] = value
        if parsed["stream"] not in manifest.get("streams", {}):
            raise SpecError("%s.stream: %r is not a stream of the manifest" % (where, parsed["stream"]))
        archives[key] = parsed
    return archives


def charge(prices, key, quantity):
    """USD for `quantity` of a month at price `key`, through its tiers when it has them (each
    tier's rate from its `from`, in the price's unit)."""
    price = prices[key]
    tiers = price.get("tiers")
    if not tiers:
        return usd(prices, key, quantity)
    total = 0.0
    for index, tier in enumerate(tiers):
        end = tiers[index + 1]["from"] if index + 1 < len(tiers) else math.inf
        if quantity <= tier["from"]:
            break
        total += (min(quantity, end) - tier["from"]) * tier["usd"] / price["per"]
    return total


def firehose_billed_bytes(record_bytes):
    """What Firehose bills for ingesting one record: rounded up to the next 5 KB."""
    return math.ceil(record_bytes / FIREHOSE_RECORD_ROUNDING_BYTES - 1e-12) * FIREHOSE_RECORD_ROUNDING_BYTES


def flush_seconds(bytes_per_second, interval_seconds, buffer_size_mib):
    """How often a partition's buffer is delivered: at the end of its interval, or sooner when
    `buffer_size_mib` of incoming (uncompressed) data fills it."""
    if bytes_per_second <= 0:
        return interval_seconds
    return min(interval_seconds, buffer_size_mib * MIB / bytes_per_second)


def objects_per_day(records_per_day, bytes_per_second, interval_seconds, buffer_size_mib):
    """S3 objects a day for one active date partition: a flush a period, plus one for the
    buffer that spans midnight; never more than the records."""
    flushes = SECONDS_PER_DAY / flush_seconds(bytes_per_second, interval_seconds, buffer_size_mib)
    return min(records_per_day, flushes + MIDNIGHT_EXTRA_OBJECTS_PER_DAY)


def steady_storage(daily_bytes, object_bytes, infrequent_access_after_days, expire_after_days,
                   noncurrent_days=0, transition_small_objects=False):
    """GB billed a month once the lifecycle's days of data are kept: in Standard until the
    transition, in Standard-IA after (each object as at least 128 KiB, for at least 30 days),
    expired after `expire_after_days`, then `noncurrent_days` more as a noncurrent version in
    the same class. Objects under 128 KiB stay in Standard unless `transition_small_objects`
    (a lifecycle rule with a size filter under 128 KiB)."""
    ia_after = infrequent_access_after_days
    transitioned = (ia_after is not None and ia_after < expire_after_days
                    and (object_bytes >= IA_MIN_OBJECT_BYTES or transition_small_objects))
    if not transitioned:
        return {"transitioned": False, "standard_days": expire_after_days, "ia_days": 0,
                "ia_billed_days": 0, "ia_billed_object_bytes": None, "noncurrent_days": noncurrent_days,
                "noncurrent_class": "Standard", "standard_gb": daily_bytes * expire_after_days / GIB,
                "ia_gb": 0.0, "noncurrent_gb": daily_bytes * noncurrent_days / GIB}
    billed_object = max(object_bytes, IA_MIN_OBJECT_BYTES)
    ia_days = expire_after_days - ia_after
    # Standard-IA's 30 days count from the transition, noncurrent days included.
    ia_billed_days = max(ia_days, IA_MIN_DAYS - noncurrent_days)
    per_byte = billed_object / object_bytes
    return {"transitioned": True, "standard_days": ia_after, "ia_days": ia_days,
            "ia_billed_days": ia_billed_days, "ia_billed_object_bytes": billed_object,
            "noncurrent_days": noncurrent_days, "noncurrent_class": "Standard-IA",
            "standard_gb": daily_bytes * ia_after / GIB,
            "ia_gb": daily_bytes * per_byte * ia_billed_days / GIB,
            "noncurrent_gb": daily_bytes * per_byte * noncurrent_days / GIB}


def fmt(value):
    """A number for a formula: whole numbers with thousands separators, else 4 significant
    digits."""
    if float(value).is_integer() and abs(value) < 1e15:
        return "{:,}".format(int(value))
    text = "{:,.4g}".format(value)
    return text if "e" not in text else "{:,.0f}".format(value)


def line(service, item, unit, price_key, quantity, how, prices):
    return {"service": service, "item": item, "unit": unit, "price": price_key, "quantity_per_month": quantity,
            "how": how, "usd_per_month": charge(prices, price_key, quantity)}


def archive_month(rate, spec, stream, prices, capacity_mode="provisioned", gzip_ratio=GZIP_RATIO,
                  jq_seconds_per_record=JQ_SECONDS_PER_RECORD, noncurrent_days=NONCURRENT_VERSION_DAYS):
    """One archive at `rate` events a second: its lines a month, the objects and storage behind
    them, the total a month and per million events. `stream` holds the source stream's records
    per event and mean record bytes (streams.stream_inputs)."""
    events = rate * SECONDS_PER_MONTH
    records = events * stream["records_per_event"]
    size = stream["record_bytes"]
    delivered = size + DELIMITER_BYTES
    records_per_day = records / DAYS_PER_MONTH
    bytes_per_second = records / SECONDS_PER_MONTH * delivered
    flush = flush_seconds(bytes_per_second, spec["buffer_interval_seconds"], spec["buffer_size_mib"])
    per_day = objects_per_day(records_per_day, bytes_per_second, spec["buffer_interval_seconds"],
                              spec["buffer_size_mib"])
    objects = per_day * DAYS_PER_MONTH
    daily_gzip = records_per_day * delivered / gzip_ratio
    object_gzip = daily_gzip / per_day if per_day else 0.0
    storage = steady_storage(daily_gzip, object_gzip, spec["infrequent_access_after_days"],
                             spec["expire_after_days"], noncurrent_days)
    billed = firehose_billed_bytes(size)
    lines = [
        line("Firehose", "ingestion from the %s stream (each record billed as %s bytes)"
             % (spec["stream"], fmt(billed)), "GB", "firehose_kds_source_ingestion_gb",
             records * billed / GIB, "%s records × %s bytes (%s rounded up to 5 KB) / 2^30"
             % (fmt(records), fmt(billed), fmt(size)), prices),
        line("Firehose", "dynamic partitioning, data processed", "GB", "firehose_dynamic_partitioning_gb",
             records * size / GIB, "%s records × %s bytes / 2^30" % (fmt(records), fmt(size)), prices),
        line("Firehose", "dynamic partitioning, objects delivered", "objects",
             "firehose_dynamic_partitioning_objects", objects,
             "%s objects a day × %s days" % (fmt(per_day), fmt(DAYS_PER_MONTH)), prices),
        line("Firehose", "dynamic partitioning, JQ processing", "hours", "firehose_jq_processing_hour",
             records * jq_seconds_per_record / 3600,
             "%s records × %s µs / 3,600 s" % (fmt(records), fmt(jq_seconds_per_record * 1e6)), prices),
        line("S3", "PUT of each object", "requests", "s3_standard_put_requests", objects,
             "one per object delivered", prices),
        line("S3", "Standard storage (%d days of data)" % storage["standard_days"], "GB-months",
             "s3_standard_storage_gb_month", storage["standard_gb"],
             "%s bytes a day (%s records × %s bytes / gzip %s) × %d days / 2^30"
             % (fmt(daily_gzip), fmt(records_per_day), fmt(delivered), fmt(gzip_ratio), storage["standard_days"]),
             prices),
    ]
    if storage["transitioned"]:
        lines.append(line("S3", "Standard-IA storage (%d days of data)" % storage["ia_days"], "GB-months",
                          "s3_standard_ia_storage_gb_month", storage["ia_gb"],
                          "%s bytes a day × %d days%s / 2^30" % (
                              fmt(daily_gzip), storage["ia_billed_days"],
                              "" if storage["ia_billed_object_bytes"] == object_gzip else
                              " × 128 KiB / %s-byte objects" % fmt(object_gzip)), prices))
        lines.append(line("S3", "lifecycle transitions to Standard-IA", "requests",
                          "s3_standard_ia_transition_requests", objects, "one per object", prices))
    if storage["noncurrent_days"]:
        lines.append(line("S3", "%s storage of noncurrent versions (%d days after expiry)"
                          % (storage["noncurrent_class"], storage["noncurrent_days"]), "GB-months",
                          "s3_standard_ia_storage_gb_month" if storage["transitioned"] else "s3_standard_storage_gb_month",
                          storage["noncurrent_gb"], "%s bytes a day × %d days%s / 2^30" % (
                              fmt(daily_gzip), storage["noncurrent_days"],
                              " × 128 KiB / %s-byte objects" % fmt(object_gzip)
                              if storage["transitioned"] and storage["ia_billed_object_bytes"] != object_gzip else ""),
                          prices))
    if capacity_mode == "on_demand":
        lines.append(line("Kinesis", "data Firehose reads from the on-demand %s stream" % spec["stream"], "GB",
                          "kinesis_on_demand_data_out_gb", records * size / GIB,
                          "%s records × %s bytes / 2^30" % (fmt(records), fmt(size)), prices))
    total = sum(entry["usd_per_month"] for entry in lines)
    return {
        "events_per_second": rate,
        "events_per_month": events,
        "records_per_month": records,
        "flush_seconds": flush,
        "objects_per_day": per_day,
        "object_bytes": delivered * records_per_day / per_day if per_day else 0.0,
        "object_gzip_bytes": object_gzip,
        "storage": storage,
        "lines": lines,
        "usd_per_month": total,
        "usd_per_million_events": total / (events / 1e6),
    }


def archive_model(archives, manifest_streams, workload, prices, rates):
    """Every archive of the manifest at each of `rates` events a second, and their sum;
    `computed` False with the reason or the inputs and prices lacking."""
    model = {"computed": False, "reason": None, "lacks": [], "rates": list(rates), "archives": {}, "totals": [],
             "gzip_ratio": GZIP_RATIO, "jq_seconds_per_record": JQ_SECONDS_PER_RECORD}
    if archives is None:
        model["reason"] = NO_ARCHIVES
        return model
    if not archives:
        model["reason"] = "the manifest's `archives` section is empty"
        return model
    needed = set(ARCHIVE_PRICES)
    if any(manifest_streams[a["stream"]]["capacity_mode"] == "on_demand" for a in archives.values()):
        needed.add("kinesis_on_demand_data_out_gb")
    model["lacks"] = ["prices.%s" % key for key in sorted(needed) if key not in prices]
    inputs = {}
    for key, spec in archives.items():
        found, lacks = stream_inputs({spec["stream"]: manifest_streams[spec["stream"]]}, workload)
        model["lacks"].extend(lack for lack in lacks if lack not in model["lacks"])
        inputs[key] = found.get(spec["stream"])
    if model["lacks"]:
        return model
    model["computed"] = True
    for key, spec in archives.items():
        stream = manifest_streams[spec["stream"]]
        rows = [archive_month(rate, spec, inputs[key], prices, stream["capacity_mode"]) for rate in rates]
        assumptions = []
        if any(row["storage"]["standard_gb"] > S3_STANDARD_FIRST_TIER_GB for row in rows):
            assumptions.append("Standard storage beyond 50 TB is priced at the first tier's rate: an upper bound")
        model["archives"][key] = {
            "settings": spec,
            "source": {"stream": spec["stream"], "capacity_mode": stream["capacity_mode"], **inputs[key]},
            "rows": rows,
            "jq_wall_clock_usd_per_month": usd(prices, "firehose_jq_processing_hour", HOURS_PER_MONTH),
            "assumptions": assumptions,
        }
    for index, rate in enumerate(rates):
        total = sum(archive["rows"][index]["usd_per_month"] for archive in model["archives"].values())
        model["totals"].append({"events_per_second": rate, "usd_per_month": total,
                                "usd_per_million_events": total / (rate * SECONDS_PER_MONTH / 1e6)})
    return model


# ---------------------------------------------------------------------------------------------
# Where GZIP_RATIO comes from: activity records shaped as event-router writes them, from a
# workload shaped as perf-report's reference (Zipf users, 10 % orders as purchases).

ACTIVITY_TYPES = ("view", "click", "search", "add_to_cart", "login")


def representative_records(count, rate, seed=20261206, users=1000, zipf_exponent=1.1, order_share=0.1,
                           uuid_ids=True):
    """`count` activity records (JSON bytes, the stream's data) at `rate` a second: camelCase
    fields in event-router's order, RFC 3339 times with nanoseconds, UUID event ids (or the perf
    workload's `perf-<n>`)."""
    rng = random.Random(seed)
    weights = [1 / (rank ** zipf_exponent) for rank in range(1, users + 1)]
    total = sum(weights)
    cumulative = list(itertools.accumulate(weight / total for weight in weights))
    start = datetime.datetime(2026, 12, 6, 17, tzinfo=datetime.timezone.utc)
    records = []
    for n in range(count):
        user = "user-%d" % min(bisect.bisect_left(cumulative, rng.random()), users - 1)
        nanos = int(n / rate * 1e9) + rng.randrange(1_000_000)
        at = start + datetime.timedelta(microseconds=nanos // 1000)
        fraction = ("%09d" % (at.microsecond * 1000 + nanos % 1000)).rstrip("0") or "0"
        timestamp = at.strftime("%Y-%m-%dT%H:%M:%S.") + fraction + "Z"
        event_id = str(uuid.UUID(int=rng.getrandbits(128), version=4)) if uuid_ids else "perf-%d" % n
        if rng.random() < order_share:
            record = {"eventId": event_id, "userId": user, "type": "purchase", "timestamp": timestamp,
                      "itemId": "sku-1", "amount": round(rng.random() * 20000) / 100 + 1.0,
                      "attributes": {"currency": "EUR", "orderId": "order-%d" % n}}
        else:
            record = {"eventId": event_id, "userId": user, "type": rng.choice(ACTIVITY_TYPES),
                      "timestamp": timestamp, "itemId": "sku-%d" % rng.randrange(500)}
        records.append(json.dumps(record, separators=(",", ":")).encode("utf-8"))
    return records


def gzip_ratio(records, level=6):
    """Uncompressed over gzip-compressed bytes of `records`, each followed by a newline, as one
    object."""
    body = b"".join(record + b"\n" for record in records)
    return len(body) / len(gzip.compress(body, compresslevel=level, mtime=0))
