"""The stack's Kinesis streams in the cost report: each stream's capacity mode as the manifest
deploys it, and what the two modes cost a month by traffic.

Provisioned: shards × 730 h × the shard-hour price, with enough shards for the traffic's peak (one
shard takes 1,000 records or 1 MiB a second in), plus a PUT payload unit per record (per 25 KiB).
On-demand: 730 h × the stream-hour price, plus the data put (each record rounded up to 1 KiB)
and the data read by each consumer, per GiB. The peak is the month's average rate times a
peak-to-average ratio: a provisioned stream is sized for its peak, an on-demand one bills what
went through. Standard library only; cost_report.py renders what this computes.
"""

import math

HOURS_PER_MONTH = 730
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600
# Kinesis's write limits per shard, and its billing units.
SHARD_RECORDS_PER_SECOND = 1000
SHARD_BYTES_PER_SECOND = 1024 * 1024
PUT_PAYLOAD_UNIT_BYTES = 25 * 1024
ON_DEMAND_RECORD_ROUNDING_BYTES = 1024
GIB = 1024 ** 3
# Traffic shapes compared: the busiest second over the month's average second.
PEAK_TO_AVERAGE = (1, 3, 10, 30)
# Events a month the comparison covers: 10^5 to 10^12, 24 steps a decade.
VOLUMES = [10 ** (5 + step / 24) for step in range(7 * 24 + 1)]

CAPACITY_PRICES = (
    "kinesis_shard_hour",
    "kinesis_put_payload_units",
    "kinesis_on_demand_stream_hour",
    "kinesis_on_demand_data_in_gb",
    "kinesis_on_demand_data_out_gb",
)


def usd(prices, key, quantity):
    price = prices[key]
    return quantity * price["usd"] / price["per"]


def manifest_streams(manifest):
    """{stream key: its capacity mode, shard count, the functions that put records on it (a
    `kinesis:PutRecords` permission) and those an event source feeds from it}."""
    streams = {}
    for key, spec in manifest.get("streams", {}).items():
        writers, readers = [], []
        for function, fspec in manifest.get("functions", {}).items():
            if any(p.get("stream") == key and "kinesis:PutRecords" in p.get("actions", [])
                   for p in fspec.get("permissions", [])):
                writers.append(function)
            if any(source.get("stream") == key for source in fspec.get("event_sources", [])):
                readers.append(function)
        streams[key] = {
            "capacity_mode": spec["capacity_mode"],
            "shard_count": spec.get("shard_count"),
            "writers": writers,
            "readers": readers,
        }
    return streams


def shards_for(peak_records_per_second, record_bytes):
    """Provisioned shards that take this peak: its records and its bytes a second."""
    by_records = peak_records_per_second / SHARD_RECORDS_PER_SECOND
    by_bytes = peak_records_per_second * record_bytes / SHARD_BYTES_PER_SECOND
    return max(1, math.ceil(max(by_records, by_bytes) - 1e-9))


def provisioned_month(records, peak_to_average, record_bytes, prices):
    """A provisioned stream carrying `records` a month: {"shards", "usd"}."""
    peak = records / SECONDS_PER_MONTH * peak_to_average
    shards = shards_for(peak, record_bytes)
    units = records * math.ceil(record_bytes / PUT_PAYLOAD_UNIT_BYTES)
    return {
        "shards": shards,
        "usd": usd(prices, "kinesis_shard_hour", shards * HOURS_PER_MONTH)
        + usd(prices, "kinesis_put_payload_units", units),
    }


def on_demand_data(records, record_bytes, readers):
    """GiB an on-demand stream bills for `records`: put (each rounded up to 1 KiB) and read (by
    each of `readers` consumers)."""
    rounded = math.ceil(record_bytes / ON_DEMAND_RECORD_ROUNDING_BYTES) * ON_DEMAND_RECORD_ROUNDING_BYTES
    return records * rounded / GIB, records * record_bytes * readers / GIB


def on_demand_month(records, record_bytes, readers, prices):
    """An on-demand stream carrying `records` a month, read by `readers` consumers: USD."""
    data_in, data_out = on_demand_data(records, record_bytes, readers)
    return (usd(prices, "kinesis_on_demand_stream_hour", HOURS_PER_MONTH)
            + usd(prices, "kinesis_on_demand_data_in_gb", data_in)
            + usd(prices, "kinesis_on_demand_data_out_gb", data_out))


def crossover(volumes, provisioned, on_demand):
    """The least volume from which on-demand is cheaper at every volume after it; None if the
    last volume is not one (provisioned is cheaper, or as cheap, somewhere to the end)."""
    found = None
    for volume in volumes:
        if on_demand(volume) < provisioned(volume):
            found = volume if found is None else found
        else:
            found = None
    return found


def stream_inputs(streams, workload):
    """Per stream: records per event (its writers' PUT payload units, one per record of up to
    25 KiB, over the workload's events), mean record bytes, and consumers; the inputs lacking."""
    inputs, lacks = {}, []
    functions = workload["functions"] if workload else {}
    sizes = (workload or {}).get("stream_record_bytes") or {}
    for key, stream in streams.items():
        units = [functions.get(w, {}).get("kinesis_put_payload_units") for w in stream["writers"]]
        if not workload or any(u is None for u in units):
            lacks.append("workload.functions.<writer of %s>.kinesis_put_payload_units" % key)
            continue
        if sizes.get(key) is None:
            lacks.append("workload.stream_record_bytes.%s" % key)
            continue
        inputs[key] = {
            "records_per_event": sum(units) / workload["events"],
            "record_bytes": sizes[key],
            "readers": len(stream["readers"]),
        }
    return inputs, lacks


def capacity_model(streams, workload, prices):
    """Both modes' monthly cost of all the streams together by events a month, for each peak-to-
    average ratio, and where on-demand becomes the cheaper; `computed` False (with `lacks`)
    when an input or a price is missing."""
    missing_prices = [key for key in CAPACITY_PRICES if key not in prices]
    inputs, lacks = stream_inputs(streams, workload)
    lacks = ["prices." + key for key in missing_prices] + lacks
    model = {"computed": not lacks, "lacks": lacks, "streams": inputs, "volumes": VOLUMES,
             "peak_to_average": list(PEAK_TO_AVERAGE), "on_demand": [], "provisioned": {}, "crossovers": {}}
    if lacks:
        return model

    def provisioned(volume, ratio):
        months = [provisioned_month(volume * s["records_per_event"], ratio, s["record_bytes"], prices)
                  for s in inputs.values()]
        return sum(m["usd"] for m in months), sum(m["shards"] for m in months)

    def on_demand(volume):
        return sum(on_demand_month(volume * s["records_per_event"], s["record_bytes"], s["readers"], prices)
                   for s in inputs.values())

    model["on_demand"] = [on_demand(v) for v in VOLUMES]
    for ratio in PEAK_TO_AVERAGE:
        points = [provisioned(v, ratio) for v in VOLUMES]
        model["provisioned"][ratio] = [{"usd": cost, "shards": shards} for cost, shards in points]
        model["crossovers"][ratio] = crossover(VOLUMES, lambda v, r=ratio: provisioned(v, r)[0], on_demand)
    return model


# The rates the sizing table is drawn up for, in events a second.
SIZING_RATES = (100, 1_000, 10_000, 50_000)
MAX_PARALLELIZATION_FACTOR = 10


def lane_records_per_second(work):
    """What one batch lane of a shard sustains: a batch's records over its median handler time
    (a consumer entry of the throughput run); None without the figures."""
    invocations, records, median = (work or {}).get("invocations"), (work or {}).get("records"), \
        (work or {}).get("billed_ms_per_invocation")
    if not invocations or not records or not median:
        return None
    return records / invocations / (median / 1000)


def size_stream(records_per_second, record_bytes, lane_rate):
    """Shards and parallelization factor for a stream taking `records_per_second`, read by a
    consumer whose batch lanes each sustain `lane_rate` records a second: enough shards for
    Kinesis's write limit, then the least factor (up to 10) at which each shard's consumer
    keeps up, with more shards where even 10 does not."""
    shards = shards_for(records_per_second, record_bytes)
    per_shard = records_per_second / shards
    factor = max(1, math.ceil(per_shard / lane_rate - 1e-9))
    if factor > MAX_PARALLELIZATION_FACTOR:
        shards = math.ceil(records_per_second / (MAX_PARALLELIZATION_FACTOR * lane_rate) - 1e-9)
        factor = max(1, math.ceil(records_per_second / shards / lane_rate - 1e-9))
    return shards, factor


def fixed_monthly_lines(streams, prices):
    """What the manifest's streams cost a month whatever the traffic: a provisioned stream's
    shard-hours, an on-demand stream's stream-hours."""
    lines = []
    for key, stream in streams.items():
        if stream["capacity_mode"] == "provisioned":
            shards = stream["shard_count"]
            lines.append({
                "service": "Kinesis",
                "item": "%s stream: %d provisioned shard%s" % (key, shards, "" if shards == 1 else "s"),
                "price": "kinesis_shard_hour",
                "quantity": shards * HOURS_PER_MONTH,
                "usd_per_month": usd(prices, "kinesis_shard_hour", shards * HOURS_PER_MONTH),
            })
        else:
            lines.append({
                "service": "Kinesis",
                "item": "%s stream: on-demand" % key,
                "price": "kinesis_on_demand_stream_hour",
                "quantity": HOURS_PER_MONTH,
                "usd_per_month": usd(prices, "kinesis_on_demand_stream_hour", HOURS_PER_MONTH),
            })
    return lines
