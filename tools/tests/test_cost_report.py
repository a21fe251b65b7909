"""Tests of tools/perf/cost_report.py: the cost arithmetic of the four designs (the pipeline warm
and cold, the naive design without and with a 24-hour memory) on a small input computed by hand,
the stream consumers' DynamoDB units per event (floor, shares, goals met and not met, warm
deciding), the hot users against 64 KB, what the report says when the measurements leave parts
out (an older measurements file included), the errors for missing or malformed input, the charts
(well-formed SVG, one bar per design and per function), the markdown tables, and the files
shipped beside it (the price table, the sample measurements).

Standard library only: `python3 -m unittest discover -s tools/tests -p test_cost_report.py`
from the repository root, or with every other tool test through tools/test.sh.
"""

import contextlib
import copy
import importlib.util
import io
import json
import re
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ElementTree
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "perf" / "cost_report.py"
PRICES = ROOT / "tools" / "perf" / "prices.json"
SAMPLE = ROOT / "tools" / "perf" / "sample-measurements.json"
STACK = ROOT / "infra" / "stack.json"

# Loaded by path: tools/perf is a folder of scripts, not a package.
_spec = importlib.util.spec_from_file_location("cost_report", SCRIPT)
cost_report = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cost_report)

SVG = "{http://www.w3.org/2000/svg}"

# Round prices, so that every figure below can be checked by hand.
TEST_PRICES = {
    "schema": 1,
    "region": "us-east-1",
    "currency": "USD",
    "taken_on": "2026-11-23",
    "prices": {
        "lambda_requests": {"usd": 0.20, "per": 1000000, "unit": "requests", "source": "https://example.test/lambda"},
        "lambda_arm64_gb_second": {"usd": 0.00001, "per": 1, "unit": "GB-second", "source": "https://example.test/lambda"},
        "sqs_standard_requests": {"usd": 0.40, "per": 1000000, "unit": "requests", "source": "https://example.test/sqs"},
        "sqs_fifo_requests": {"usd": 0.50, "per": 1000000, "unit": "requests", "source": "https://example.test/sqs"},
        "kinesis_shard_hour": {"usd": 0.015, "per": 1, "unit": "shard-hour", "source": "https://example.test/kinesis"},
        "kinesis_put_payload_units": {"usd": 0.014, "per": 1000000, "unit": "PUT payload units",
                                      "source": "https://example.test/kinesis"},
        "kinesis_on_demand_stream_hour": {"usd": 0.04, "per": 1, "unit": "stream-hour",
                                          "source": "https://example.test/kinesis"},
        "kinesis_on_demand_data_in_gb": {"usd": 0.08, "per": 1, "unit": "GB", "source": "https://example.test/kinesis"},
        "kinesis_on_demand_data_out_gb": {"usd": 0.04, "per": 1, "unit": "GB", "source": "https://example.test/kinesis"},
        "kinesis_enhanced_fan_out_consumer_shard_hour": {"usd": 0.015, "per": 1, "unit": "consumer-shard-hour",
                                                         "source": "https://example.test/kinesis"},
        "kinesis_enhanced_fan_out_data_gb": {"usd": 0.013, "per": 1, "unit": "GB", "source": "https://example.test/kinesis"},
        "dynamodb_on_demand_write_request_units": {"usd": 0.625, "per": 1000000, "unit": "write request units",
                                                   "source": "https://example.test/dynamodb"},
        "dynamodb_on_demand_read_request_units": {"usd": 0.125, "per": 1000000, "unit": "read request units",
                                                  "source": "https://example.test/dynamodb"},
        "eventbridge_custom_events": {"usd": 1.00, "per": 1000000, "unit": "events",
                                      "source": "https://example.test/eventbridge"},
    },
}

def keyed(records, users, cached, read, lookups, spills, spilled_ids, bookkeeping, largest,
          conflicts=0, retried=0):
    """A stream consumer's keyed-state figures, as perf-report writes them."""
    return {"records": records, "distinct_users": users, "states_cached": cached, "states_read": read,
            "lookups": lookups, "spills": spills, "spilled_ids": spilled_ids, "conflicts": conflicts,
            "bookkeeping_write_units": bookkeeping, "largest_item_bytes": largest,
            "retried_records": retried}


# 1,000 events, so every count is multiplied by 1,000 to reach a million. Warm, both consumers
# are within 0.62 write and 0.65 read units per event; cold, they are not, and the pipeline
# costs more than $2.40 (the warm figures decide). One hot user's item is exactly 64,000 bytes.
SMALL = {
    "schema": 1,
    "date": "2026-11-23T18:30:00Z",
    "machine": {"cpu": "Test CPU", "cores": 2, "os": "Linux 6.18", "profile": "release"},
    "init": {
        name: {"runs": 10, "wall_ms": {"median": wall, "p90": wall + 1, "min": wall - 0.5},
               "cpu_ms": {"median": wall - 1, "p90": wall - 0.5, "min": wall - 1.2}}
        for name, wall in (("todo-api", 4.0), ("event-router", 3.5), ("stream-enrichment", 4.5),
                           ("feature-updates", 4.4), ("inference", 12.0))
    },
    "zip_bytes": {"todo-api": 2900000, "event-router": 3000001, "stream-enrichment": 3000000,
                  "feature-updates": None, "inference": 4000000},
    "zip_architecture": "arm64",
    "warm_cpu_per_event_us": {"event-router": 1.5, "stream-enrichment": 2.6},
    "workload": {
        "events": 1000, "users": 100, "zipf_exponent": 1.1, "seed": 7, "batch_size": 100, "order_share": 0.1,
        "functions": {
            "event-router": {
                "memory_mb": 1024, "invocations": 10, "billed_ms_per_invocation": 9.2,
                "requests": {"kinesis:PutRecords": 10, "sqs:SendMessageBatch": 2, "sqs-fifo:SendMessageBatch": 4},
                "read_request_units": 0, "write_request_units": 0, "kinesis_put_payload_units": 1000,
            },
            "stream-enrichment": {
                "memory_mb": 512, "invocations": 10, "billed_ms_per_invocation": 20,
                "requests": {"dynamodb:BatchGetItem": 10, "dynamodb:PutItem": 400, "kinesis:PutRecords": 10},
                "read_request_units": 400, "write_request_units": 400, "kinesis_put_payload_units": 1000,
                **keyed(1000, 380, 300, 100, 5, 4, 250, 20, 2048),
            },
            "feature-updates": {
                "memory_mb": 256, "invocations": 10, "billed_ms_per_invocation": 40.5,
                "requests": {"dynamodb:BatchGetItem": 10, "dynamodb:PutItem": 500},
                "read_request_units": 300, "write_request_units": 500, "kinesis_put_payload_units": 0,
                **keyed(1000, 450, 360, 90, 2, 5, 300, 50, 3000),
            },
        },
        "event_source_requests": {"sqs:ReceiveMessage": 120, "sqs:DeleteMessageBatch": 100},
        "naive": {
            "description": "one GetItem and one PutItem per event",
            "functions": {
                "stream-enrichment": {
                    "memory_mb": 512, "invocations": 10, "billed_ms_per_invocation": 100, "records": 1000,
                    "requests": {"dynamodb:GetItem": 1000, "dynamodb:PutItem": 1000, "kinesis:PutRecords": 10},
                    "read_request_units": 1000, "write_request_units": 1000, "kinesis_put_payload_units": 1000,
                },
                "feature-updates": {
                    "memory_mb": 256, "invocations": 10, "billed_ms_per_invocation": 120, "records": 1000,
                    "requests": {"dynamodb:GetItem": 1000, "dynamodb:PutItem": 1000},
                    "read_request_units": 1000, "write_request_units": 1000, "kinesis_put_payload_units": 0,
                },
            },
        },
        # The naive design plus 1 read and 1 write unit per event per consumer.
        "naive_with_memory": {
            "description": "the naive design with an item per applied event id",
            "functions": {
                "stream-enrichment": {
                    "memory_mb": 512, "invocations": 10, "billed_ms_per_invocation": 100, "records": 1000,
                    "requests": {"dynamodb:GetItem": 2000, "dynamodb:PutItem": 2000, "kinesis:PutRecords": 10},
                    "read_request_units": 2000, "write_request_units": 2000, "kinesis_put_payload_units": 1000,
                    "bookkeeping_write_units": 1000,
                },
                "feature-updates": {
                    "memory_mb": 256, "invocations": 10, "billed_ms_per_invocation": 120, "records": 1000,
                    "requests": {"dynamodb:GetItem": 2000, "dynamodb:PutItem": 2000},
                    "read_request_units": 2000, "write_request_units": 2000, "kinesis_put_payload_units": 0,
                    "bookkeeping_write_units": 1000,
                },
            },
        },
        "cold": {
            "description": "a new execution environment for every batch",
            "events": 1000,
            "functions": {
                "stream-enrichment": {
                    "memory_mb": 512, "invocations": 10, "billed_ms_per_invocation": 30,
                    "requests": {"dynamodb:BatchGetItem": 20, "dynamodb:PutItem": 400, "kinesis:PutRecords": 10},
                    "read_request_units": 1400, "write_request_units": 500, "kinesis_put_payload_units": 1000,
                    **keyed(1000, 380, 0, 380, 40, 10, 250, 70, 2048),
                },
                "feature-updates": {
                    "memory_mb": 256, "invocations": 10, "billed_ms_per_invocation": 60,
                    "requests": {"dynamodb:BatchGetItem": 20, "dynamodb:PutItem": 500},
                    "read_request_units": 1000, "write_request_units": 600, "kinesis_put_payload_units": 0,
                    **keyed(1000, 450, 0, 450, 30, 12, 300, 110, 3000),
                },
            },
        },
        # Two environments in turn: as built (the mark: each reads every state, marks each batch),
        # and trusting their caches (conflicts, and stream-enrichment's records retried).
        "affinity_lost": {
            "alternating": {
                "description": "two environments in turn",
                "events": 1000,
                "functions": {
                    "stream-enrichment": {"read_request_units": 1400, "write_request_units": 510,
                                          **keyed(1000, 380, 0, 380, 40, 10, 250, 80, 2048)},
                    "feature-updates": {"read_request_units": 1000, "write_request_units": 610,
                                        **keyed(1000, 450, 0, 450, 30, 12, 300, 120, 3000)},
                },
            },
            "alternating_trusting_cache": {
                "description": "two environments in turn, each trusting its cache",
                "events": 1000,
                "functions": {
                    "stream-enrichment": {"read_request_units": 900, "write_request_units": 700,
                                          **keyed(1000, 380, 250, 330, 40, 10, 250, 20, 2048,
                                                  conflicts=120, retried=640)},
                    "feature-updates": {"read_request_units": 800, "write_request_units": 750,
                                        **keyed(1000, 450, 300, 350, 30, 12, 300, 20, 3000,
                                                conflicts=150)},
                },
            },
        },
        "hot_users": {
            "share": {
                "description": "30 % of the events to one user",
                "events": 1000,
                "functions": {
                    "stream-enrichment": {"read_request_units": 350, "write_request_units": 420,
                                          **keyed(1000, 330, 290, 40, 3, 6, 400, 30, 9000)},
                    "feature-updates": {"read_request_units": 280, "write_request_units": 470,
                                        **keyed(1000, 400, 350, 50, 1, 8, 500, 40, 12000)},
                },
            },
            "rate": {
                "description": "one user at 1000 events/s",
                "events": 2000,
                "functions": {
                    "stream-enrichment": {"read_request_units": 40, "write_request_units": 260,
                                          **keyed(2000, 20, 19, 1, 0, 40, 2000, 80, 40000)},
                    "feature-updates": {"read_request_units": 60, "write_request_units": 900,
                                        **keyed(2000, 20, 19, 1, 0, 44, 2000, 88, 64000)},
                },
            },
        },
    },
}

# What perf-report wrote before the keyed-state core: no cold run, no naive design with a
# memory, no hot users, and none of the consumers' keyed-state figures (records it had).
NEW_FUNCTION_KEYS = ("distinct_users", "states_cached", "states_read", "lookups", "spills",
                     "spilled_ids", "conflicts", "bookkeeping_write_units", "largest_item_bytes",
                     "retried_records")


def older(measurements):
    older = copy.deepcopy(measurements)
    workload = older["workload"]
    for key in ("cold", "naive_with_memory", "affinity_lost", "hot_users"):
        del workload[key]
    for functions in (workload["functions"], workload["naive"]["functions"]):
        for entry in functions.values():
            for key in NEW_FUNCTION_KEYS:
                entry.pop(key, None)
    return older


class Inputs:
    """Measurements and prices written to a temporary folder, as the command reads them."""

    def __init__(self, test, measurements, prices=None):
        folder = tempfile.TemporaryDirectory()
        test.addCleanup(folder.cleanup)
        self.folder = Path(folder.name)
        self.measurements = self.folder / "measurements.json"
        self.prices = self.folder / "prices.json"
        self.out = self.folder / "out"
        self.measurements.write_text(json.dumps(measurements), encoding="utf-8")
        self.prices.write_text(json.dumps(TEST_PRICES if prices is None else prices), encoding="utf-8")

    def model(self):
        measurements = cost_report.parse_measurements(json.loads(self.measurements.read_text()), self.measurements)
        prices = cost_report.parse_prices(json.loads(self.prices.read_text()), self.prices)
        manifest_streams = cost_report.streams.manifest_streams(json.loads(STACK.read_text(encoding="utf-8")))
        return measurements, prices, cost_report.cost_model(measurements, prices, manifest_streams)

    def report(self):
        return cost_report.build_report(self.measurements, self.prices)


def section(markdown, title):
    """The text of one `## title` section of the summary."""
    match = re.search(r"^## %s\n(.*?)(?=^## |\Z)" % re.escape(title), markdown, re.S | re.M)
    if match is None:
        raise AssertionError("summary.md has no section %r" % title)
    return match.group(1)


def table_rows(text):
    """The body rows of the first markdown table in `text`, as lists of cells."""
    rows = []
    for line in text.splitlines():
        if line.startswith("|"):
            rows.append(line)
        elif rows:
            break
    return [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows[2:]]


class CostArithmetic(unittest.TestCase):
    def setUp(self):
        self.measurements, self.prices, self.model = Inputs(self, SMALL).model()
        self.pipeline = self.model["designs"]["pipeline"]
        self.naive = self.model["designs"]["naive"]

    def line(self, design, item):
        matches = [line for line in design["lines"] if line.item == item]
        self.assertEqual(len(matches), 1, "lines named %r: %s" % (item, [l.item for l in design["lines"]]))
        return matches[0]

    def test_each_service_of_the_pipeline_as_computed_by_hand(self):
        by_service = self.pipeline["by_service"]
        # 1,000,000 events × $1.00 per million.
        self.assertAlmostEqual(by_service["EventBridge"], 1.00)
        # Ingest sends 1,000,000 + mapping (120 + 100) × 1,000 + router 2 × 1,000 at $0.40,
        # and the router's 4 × 1,000 FIFO sends at $0.50.
        self.assertAlmostEqual(by_service["SQS"], 0.40 + 0.088 + 0.0008 + 0.002)
        # 3 × 10 × 1,000 requests at $0.20 a million; GB-seconds: 10,000 × 10 ms × 1 GB = 100,
        # 10,000 × 20 ms × 0.5 GB = 100, 10,000 × 41 ms × 0.25 GB = 102.5, at $0.00001.
        self.assertAlmostEqual(by_service["Lambda"], 0.006 + 302.5 * 0.00001)
        # 2,000 units × 1,000 at $0.014 a million.
        self.assertAlmostEqual(by_service["Kinesis"], 0.028)
        # 700,000 read units at $0.125 and 900,000 write units at $0.625 a million.
        self.assertAlmostEqual(by_service["DynamoDB"], 0.0875 + 0.5625)
        self.assertAlmostEqual(self.pipeline["total"], 2.177825)
        self.assertEqual(self.pipeline["lacks"], [])

    def test_billed_duration_is_rounded_up_to_the_millisecond(self):
        router = self.line(self.pipeline, "event-router duration")
        self.assertEqual(router.inputs["billed_ms_rounded_up"], 10)
        self.assertAlmostEqual(router.quantity, 100.0)
        features = self.line(self.pipeline, "feature-updates duration")
        self.assertEqual(features.inputs["billed_ms_rounded_up"], 41)
        self.assertAlmostEqual(features.quantity, 102.5)
        self.assertAlmostEqual(features.usd, 0.001025)

    def test_fifo_requests_are_priced_apart(self):
        standard = self.line(self.pipeline, "sends by event-router (standard queues)")
        fifo = self.line(self.pipeline, "sends by event-router (FIFO queues)")
        self.assertEqual((standard.quantity, standard.price_key), (2000, "sqs_standard_requests"))
        self.assertEqual((fifo.quantity, fifo.price_key), (4000, "sqs_fifo_requests"))
        self.assertAlmostEqual(fifo.usd, 0.002)

    def test_the_naive_design_and_the_ratio(self):
        by_service = self.naive["by_service"]
        self.assertAlmostEqual(by_service["EventBridge"], 1.00)
        self.assertAlmostEqual(by_service["SQS"], 0.4908)  # event-router and the mapping as built
        # Durations: 100 + 10,000 × 100 ms × 0.5 GB + 10,000 × 120 ms × 0.25 GB = 900 GB-s.
        self.assertAlmostEqual(by_service["Lambda"], 0.006 + 0.009)
        self.assertAlmostEqual(by_service["Kinesis"], 0.028)
        self.assertAlmostEqual(by_service["DynamoDB"], 0.25 + 1.25)
        self.assertAlmostEqual(self.naive["total"], 3.0338)
        self.assertAlmostEqual(self.model["ratio_naive_to_pipeline"], 3.0338 / 2.177825)
        self.assertTrue(any("event-router as built" in text for text in self.naive["assumptions"]))

    def test_the_pipeline_cold_takes_the_consumers_from_the_cold_run(self):
        cold = self.model["designs"]["pipeline_cold"]
        by_service = cold["by_service"]
        self.assertAlmostEqual(by_service["EventBridge"], 1.00)
        self.assertAlmostEqual(by_service["SQS"], 0.4908)  # event-router and the mapping as built
        # 30,000 requests; GB-seconds: router 100 as built, 10,000 × 30 ms × 0.5 GB = 150,
        # 10,000 × 60 ms × 0.25 GB = 150.
        self.assertAlmostEqual(by_service["Lambda"], 0.006 + 400 * 0.00001)
        self.assertAlmostEqual(by_service["Kinesis"], 0.028)
        # (1,400 + 1,000) × 1,000 read units at $0.125 and (500 + 600) × 1,000 write units at $0.625.
        self.assertAlmostEqual(by_service["DynamoDB"], 0.3 + 0.6875)
        self.assertAlmostEqual(cold["total"], 2.5163)
        self.assertEqual(cold["lacks"], [])
        self.assertAlmostEqual(self.model["ratios_to_pipeline"]["pipeline_cold"], 2.5163 / 2.177825)
        router = self.line(cold, "event-router duration")
        self.assertEqual(router.inputs, self.line(self.pipeline, "event-router duration").inputs)
        reads = self.line(cold, "reads by stream-enrichment")
        self.assertEqual(reads.inputs, {"read_request_units": 1400})
        self.assertTrue(any("event-router and the ingest queue's event source as built" in text
                            for text in cold["assumptions"]))

    def test_naive_with_memory_is_naive_plus_a_read_and_a_write_unit_per_event_per_consumer(self):
        memory = self.model["designs"]["naive_with_memory"]
        workload = SMALL["workload"]
        for consumer in cost_report.CONSUMERS:
            naive, with_memory = workload["naive"]["functions"][consumer], workload["naive_with_memory"]["functions"][consumer]
            for key in ("read_request_units", "write_request_units"):
                self.assertEqual(with_memory[key] - naive[key], naive["records"], (consumer, key))
        for service in ("EventBridge", "SQS", "Lambda", "Kinesis"):
            self.assertAlmostEqual(memory["by_service"][service], self.naive["by_service"][service], msg=service)
        # 2 consumers × 1,000,000 events × (1 read unit at $0.125 + 1 write unit at $0.625) a million.
        self.assertAlmostEqual(memory["by_service"]["DynamoDB"] - self.naive["by_service"]["DynamoDB"], 1.5)
        self.assertAlmostEqual(memory["by_service"]["DynamoDB"], 3.0)
        self.assertAlmostEqual(memory["total"], 3.0338 + 1.5)
        self.assertAlmostEqual(self.model["ratios_to_pipeline"]["naive_with_memory"], 4.5338 / 2.177825)
        self.assertEqual(self.line(memory, "writes by feature-updates").quantity, 2_000_000)
        self.assertTrue(any(text.startswith("naive with 24 h memory: event-router as built")
                            for text in memory["assumptions"]))

    def test_a_consumer_the_cold_run_lacks_is_not_taken_warm(self):
        measurements = copy.deepcopy(SMALL)
        del measurements["workload"]["cold"]["functions"]["feature-updates"]
        _, _, model = Inputs(self, measurements).model()
        cold = model["designs"]["pipeline_cold"]
        self.assertEqual(cold["lacks"], ["workload.cold.functions.feature-updates"])
        self.assertIsNone(cold["total"])
        self.assertIsNone(model["ratios_to_pipeline"]["pipeline_cold"])
        self.assertIn("workload.cold.functions.feature-updates", model["lacks"])
        self.assertAlmostEqual(model["designs"]["pipeline"]["total"], 2.177825)

    def test_shard_hours_are_a_fixed_monthly_cost_outside_the_cost_per_event(self):
        fixed = self.model["fixed_monthly"]
        self.assertAlmostEqual(fixed["total_usd_per_month"], 2 * 730 * 0.015)
        self.assertFalse(any("shard" in line.item for line in self.pipeline["lines"]))

    def test_report_json_carries_inputs_formulas_and_results(self):
        files, _ = Inputs(self, SMALL).report()
        report = json.loads(files["report.json"])
        self.assertEqual(report["measurements"], SMALL)
        model = report["cost_model"]
        self.assertTrue(model["formulas"])
        lines = model["designs"]["pipeline"]["lines"]
        duration = next(line for line in lines if line["item"] == "feature-updates duration")
        self.assertEqual(duration["inputs"], {"invocations": 10, "billed_ms_per_invocation": 40.5,
                                              "billed_ms_rounded_up": 41, "memory_mb": 256})
        self.assertAlmostEqual(duration["quantity_per_million_events"], 102.5)
        self.assertEqual(duration["unit_price_usd"], 0.00001)
        self.assertIn("41 ms (40.5 rounded up)", duration["formula"])
        self.assertAlmostEqual(duration["usd_per_million_events"], 0.001025)
        self.assertAlmostEqual(model["designs"]["pipeline"]["total_usd_per_million_events"], 2.177825)
        self.assertAlmostEqual(model["ratio_naive_to_pipeline"], 3.0338 / 2.177825)
        self.assertAlmostEqual(model["fixed_usd_per_month"]["total_usd_per_month"], 21.9)
        self.assertEqual(list(model["designs"]), list(cost_report.DESIGNS))
        totals = {name: design["total_usd_per_million_events"] for name, design in model["designs"].items()}
        for name, total in (("pipeline", 2.177825), ("pipeline_cold", 2.5163), ("naive", 3.0338),
                            ("naive_with_memory", 4.5338)):
            self.assertAlmostEqual(totals[name], total, msg=name)
            self.assertTrue(model["designs"][name]["lines"], name)
        self.assertAlmostEqual(model["ratios_to_pipeline"]["naive_with_memory"], 4.5338 / 2.177825)

    def test_stdout_has_the_cost_table(self):
        inputs = Inputs(self, SMALL)
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            status = cost_report.main(["--measurements", str(inputs.measurements), "--prices", str(inputs.prices),
                                       "--out", str(inputs.out)])
        self.assertEqual(status, 0)
        text = output.getvalue()
        self.assertIn("| service (USD per million events) | pipeline, warm (as built) | pipeline, cold "
                      "| naive design | naive with 24 h memory |", text)
        self.assertIn("| **total** | **$2.18** | **$2.52** | **$3.03** | **$4.53** |", text)
        self.assertIn("| ratio to the pipeline, warm |  | 1.16× | 1.39× | 2.08× |", text)
        self.assertIn("$21.90 a month", text)
        for name in ("report.json", "summary.md", "cost-per-million.svg", "init-time.svg", "capacity-modes.svg"):
            self.assertTrue((inputs.out / name).is_file(), name)


class CapacityModes(unittest.TestCase):
    """The streams' cost in both capacity modes, checked by hand at round prices."""

    PRICES = {key: {"usd": entry["usd"], "per": entry["per"]} for key, entry in TEST_PRICES["prices"].items()}
    STREAMS = {
        "activity": {"capacity_mode": "provisioned", "shard_count": 1, "writers": ["event-router"],
                     "readers": ["stream-enrichment"]},
        "enriched": {"capacity_mode": "on_demand", "shard_count": None, "writers": ["stream-enrichment"],
                     "readers": ["feature-updates", "archiver"]},
    }

    def test_a_provisioned_stream_is_sized_for_its_peak_records_or_bytes(self):
        streams = cost_report.streams
        self.assertEqual(streams.shards_for(0.5, 300), 1, "at least one shard")
        self.assertEqual(streams.shards_for(1000, 300), 1)
        self.assertEqual(streams.shards_for(1001, 300), 2, "1,000 records a second a shard")
        self.assertEqual(streams.shards_for(600, 2048), 2, "1 MiB a second a shard: 600 × 2 KiB")
        # 2,628,000 records a month: 1 a second on average, 10 at the peak.
        month = streams.provisioned_month(2_628_000, 10, 300, self.PRICES)
        self.assertEqual(month["shards"], 1)
        self.assertAlmostEqual(month["usd"], 730 * 0.015 + 2.628 * 0.014)
        big = streams.provisioned_month(2_628_000_000, 3, 30 * 1024, self.PRICES)
        # 1,000 records of 30 KiB a second, 3,000 at the peak: 88 MiB a second, 88 shards; 2 units each.
        self.assertEqual(big["shards"], 88)
        self.assertAlmostEqual(big["usd"], 88 * 730 * 0.015 + 2 * 2628 * 0.014)

    def test_an_on_demand_stream_bills_a_rounded_kilobyte_in_and_each_consumers_bytes_out(self):
        streams = cost_report.streams
        data_in, data_out = streams.on_demand_data(2 ** 20, 300, 2)
        self.assertAlmostEqual(data_in, 1.0, msg="2^20 records of 300 bytes: 1 KiB each put")
        self.assertAlmostEqual(data_out, 2 ** 20 * 300 * 2 / 2 ** 30)
        self.assertAlmostEqual(streams.on_demand_month(2 ** 20, 300, 2, self.PRICES),
                               730 * 0.04 + 1.0 * 0.08 + data_out * 0.04)

    def test_the_crossover_is_where_on_demand_stays_cheaper(self):
        crossover = cost_report.streams.crossover
        volumes = [1, 2, 3, 4, 5]
        self.assertEqual(crossover(volumes, lambda v: 10, lambda v: 2 * v), None, "cheaper only below")
        self.assertEqual(crossover(volumes, lambda v: 5.5, lambda v: 10 - v), 5)
        self.assertEqual(crossover(volumes, lambda v: 3 * v, lambda v: 7), 3)
        self.assertEqual(crossover(volumes, lambda v: {2: 9}.get(v, 4), lambda v: 5), None,
                         "cheaper at 2 only, then not")

    def test_steady_traffic_is_cheaper_provisioned_and_spiky_traffic_on_demand(self):
        measurements = cost_report.parse_measurements(json.loads(SAMPLE.read_text(encoding="utf-8")), SAMPLE)
        streams = cost_report.streams.manifest_streams(json.loads(STACK.read_text(encoding="utf-8")))
        model = cost_report.streams.capacity_model(streams, measurements["workload"], self.PRICES)
        self.assertTrue(model["computed"], model["lacks"])
        self.assertIsNone(model["crossovers"][1])
        crossing = model["crossovers"][30]
        self.assertIsNotNone(crossing)
        at = model["volumes"].index(crossing)
        self.assertLess(model["on_demand"][at], model["provisioned"][30][at]["usd"])
        self.assertGreaterEqual(model["on_demand"][at - 1], model["provisioned"][30][at - 1]["usd"])
        # The same traffic costs the same on-demand whatever its peak; provisioned, more shards.
        self.assertGreater(model["provisioned"][30][-1]["shards"], model["provisioned"][1][-1]["shards"])
        svg = ElementTree.fromstring(cost_report.render_capacity_svg(
            measurements, cost_report.parse_prices(TEST_PRICES, "prices"), model))
        series = [line.get("data-series") for line in svg.iter(SVG + "polyline")]
        self.assertEqual(series, ["on-demand"] + ["provisioned, peak %s× average" % r for r in (1, 3, 10, 30)])
        marked = [circle.get("data-ratio") for circle in svg.iter(SVG + "circle") if circle.get("data-ratio")]
        self.assertEqual(marked, [str(r) for r in (1, 3, 10, 30) if model["crossovers"][r] is not None])

    def test_without_record_sizes_the_comparison_says_what_it_lacks(self):
        measurements = cost_report.parse_measurements(json.loads(SAMPLE.read_text(encoding="utf-8")), SAMPLE)
        del measurements["workload"]["stream_record_bytes"]
        streams = cost_report.streams.manifest_streams(json.loads(STACK.read_text(encoding="utf-8")))
        model = cost_report.streams.capacity_model(streams, measurements["workload"], self.PRICES)
        self.assertFalse(model["computed"])
        self.assertIn("workload.stream_record_bytes.activity", model["lacks"])
        text = "\n".join(cost_report.capacity_section(model, streams, "capacity-modes.svg"))
        self.assertIn("Not computed: lacks `workload.stream_record_bytes.activity`", text)

    def test_an_on_demand_stream_prices_its_records_as_data_and_bills_its_hours(self):
        measurements = cost_report.parse_measurements(json.loads(SAMPLE.read_text(encoding="utf-8")), SAMPLE)
        workload = measurements["workload"]
        prices = cost_report.parse_prices(TEST_PRICES, "prices")["prices"]
        design = cost_report.design_cost(workload, "pipeline", prices, self.STREAMS)
        items = [line.item for line in design["lines"] if line.service == "Kinesis"]
        self.assertIn("records put by event-router", items, "the provisioned stream: PUT units")
        self.assertNotIn("records put by stream-enrichment", items)
        put = next(line for line in design["lines"] if line.item.startswith("data put by stream-enrichment"))
        read = next(line for line in design["lines"] if line.item.startswith("data read from the on-demand enriched"))
        records = workload["functions"]["stream-enrichment"]["kinesis_put_payload_units"] * 1_000_000 / workload["events"]
        size = workload["stream_record_bytes"]["enriched"]
        self.assertAlmostEqual(put.quantity, records * 1024 / 2 ** 30)
        self.assertAlmostEqual(read.quantity, records * size * 2 / 2 ** 30, msg="two consumers")
        fixed = cost_report.fixed_monthly(self.STREAMS, prices)
        self.assertEqual([line["item"] for line in fixed["lines"]],
                         ["activity stream: 1 provisioned shard", "enriched stream: on-demand"])
        self.assertAlmostEqual(fixed["total_usd_per_month"], 730 * 0.015 + 730 * 0.04)


class Sizing(unittest.TestCase):
    """Shards and parallelization factor by rate, from the consumers' batch times."""

    PRICES = CapacityModes.PRICES

    def test_a_stream_gets_shards_for_its_writes_then_a_factor_for_its_consumer(self):
        size = cost_report.streams.size_stream
        self.assertEqual(size(1000, 300, 1600), (1, 1), "a full shard, a consumer faster than it")
        self.assertEqual(size(1000, 300, 400), (1, 3), "400 records/s a lane: 3 lanes for 1,000")
        self.assertEqual(size(600, 2048, 1600), (2, 1), "1.2 MiB/s: two shards by bytes")
        self.assertEqual(size(1000, 300, 50), (2, 10), "20 lanes needed: more shards, 10 lanes each")
        self.assertEqual(size(50_000, 300, 1600), (50, 1))
        self.assertEqual(size(100, 300, 1600), (1, 1))

    def test_a_lane_sustains_a_batch_of_records_per_median_batch_time(self):
        lane = cost_report.streams.lane_records_per_second
        self.assertAlmostEqual(lane({"invocations": 100, "records": 10000, "billed_ms_per_invocation": 62.5}), 1600)
        self.assertIsNone(lane({"invocations": 100, "records": 10000}))
        self.assertIsNone(lane(None))

    def model(self, **changes):
        raw = json.loads(SAMPLE.read_text(encoding="utf-8"))
        for function, median in changes.items():
            raw["workload"]["throughput"]["functions"][function]["billed_ms_per_invocation"] = median
        measurements = cost_report.parse_measurements(raw, SAMPLE)
        prices = cost_report.parse_prices(TEST_PRICES, "prices")
        manifest_streams = cost_report.streams.manifest_streams(json.loads(STACK.read_text(encoding="utf-8")))
        model = cost_report.cost_model(measurements, prices, manifest_streams)
        return measurements, model, cost_report.sizing_model(measurements["workload"], model, manifest_streams,
                                                              prices["prices"])

    def test_the_sizing_table_costs_each_rate_a_month(self):
        measurements, model, sizing = self.model()
        self.assertEqual(sizing["lacks"], [])
        rates = [row["events_per_second"] for row in sizing["rows"]]
        self.assertEqual(rates, [100, 1000, 10000, 50000])
        top = sizing["rows"][-1]
        self.assertEqual(top["streams"]["activity"], {"shards": 50, "parallelization_factor": 1})
        self.assertEqual(top["design"], "pipeline")
        warm = model["designs"]["pipeline"]["total"]
        self.assertAlmostEqual(top["streams_usd_per_month"], 100 * 730 * 0.015)
        self.assertAlmostEqual(top["usd_per_month"], 50_000 * 730 * 3600 / 1e6 * warm + 100 * 730 * 0.015)
        text = "\n".join(cost_report.throughput_section(measurements["workload"], sizing))
        self.assertIn("| stream-enrichment | 100 | 62.5 ms | 131 ms |", text)
        self.assertIn("| 50,000 | 50 × 1 | 50 × 1 |", text)

    def test_a_slow_consumer_needs_a_factor_and_then_costs_as_cold(self):
        _, model, sizing = self.model(**{"feature-updates": 400.0})
        row = next(row for row in sizing["rows"] if row["events_per_second"] == 1000)
        self.assertEqual(row["streams"]["enriched"], {"shards": 1, "parallelization_factor": 4})
        self.assertEqual(row["streams"]["activity"]["parallelization_factor"], 1)
        self.assertEqual(row["design"], "pipeline_cold")
        self.assertEqual(row["usd_per_million_events"], model["designs"]["pipeline_cold"]["total"])

    def test_without_the_throughput_run_nothing_is_sized(self):
        raw = json.loads(SAMPLE.read_text(encoding="utf-8"))
        del raw["workload"]["throughput"]
        measurements = cost_report.parse_measurements(raw, SAMPLE)
        sizing = cost_report.sizing_model(measurements["workload"], {"designs": {}},
                                          cost_report.streams.manifest_streams(json.loads(STACK.read_text())),
                                          self.PRICES)
        self.assertEqual(sizing["lacks"], ["workload.throughput"])
        text = "\n".join(cost_report.throughput_section(measurements["workload"], sizing))
        self.assertIn("Not measured: the measurements have no `workload.throughput`.", text)


class Freshness(unittest.TestCase):
    """The modelled freshness of the deployed settings and of each profile, and its cost."""

    def setUp(self):
        self.manifest = json.loads(STACK.read_text(encoding="utf-8"))
        raw = json.loads(SAMPLE.read_text(encoding="utf-8"))
        self.workload = cost_report.parse_measurements(raw, SAMPLE)["workload"]
        self.throughput = self.workload["throughput"]
        self.fresh = cost_report.freshness

    def test_the_profile_changes_what_the_manifest_deploys_and_nothing_else(self):
        deployed = self.fresh.profile_settings(self.manifest)
        low = self.fresh.profile_settings(self.manifest, "low-latency")
        self.assertEqual(deployed["ingest"], {"window": 1, "batch_size": 100, "enhanced_fan_out": False})
        self.assertEqual(low["ingest"], {"window": 0, "batch_size": 10, "enhanced_fan_out": False})
        self.assertTrue(low["activity"]["enhanced_fan_out"] and low["enriched"]["enhanced_fan_out"])
        self.assertFalse(deployed["consistent_read"])
        self.assertTrue(low["consistent_read"])
        with self.assertRaises(KeyError):
            self.fresh.profile_settings(self.manifest, "fastest")

    def test_each_stage_is_in_the_path_only_when_its_setting_puts_it_there(self):
        deployed = [name for name, _, _, _ in self.fresh.model(self.fresh.profile_settings(self.manifest),
                                                               self.throughput)["stages"]]
        self.assertIn("activity stream to stream-enrichment (polled)", deployed)
        self.assertIn("feature-updates's batching window", deployed)
        self.assertIn("the read's replication lag", deployed)
        low = [name for name, _, _, _ in self.fresh.model(
            self.fresh.profile_settings(self.manifest, "low-latency"), self.throughput)["stages"]]
        self.assertIn("activity stream to stream-enrichment (enhanced fan-out)", low)
        self.assertFalse(any("window" in name or "replication" in name for name in low), low)

    def test_the_total_is_the_sum_of_the_stages_drawn_together(self):
        # Polling alone: two uniform waits of up to a second; their sum's median is about 1 s.
        settings = self.fresh.profile_settings(self.manifest)
        modelled = self.fresh.model(settings, self.throughput)
        medians = sum(p50 for _, p50, _, _ in modelled["stages"])
        self.assertLess(abs(modelled["p50"] - medians) / medians, 0.25, "sums of skewed stages, near the sum of medians")
        self.assertGreater(modelled["p99"], max(p99 for _, _, p99, _ in modelled["stages"]))
        self.assertLess(modelled["p99"], sum(p99 for _, _, p99, _ in modelled["stages"]))
        again = self.fresh.model(settings, self.throughput)
        self.assertEqual(modelled["p99"], again["p99"], "seeded")

    def test_smaller_batches_cost_more_per_event_and_fan_out_adds_its_hours(self):
        prices = cost_report.parse_prices(TEST_PRICES, "prices")["prices"]
        deployed = self.fresh.profile_settings(self.manifest)
        at = lambda settings, rate: self.fresh.profile_cost(settings, self.workload, 2.0, prices, rate)
        full = at(deployed, 100)
        self.assertEqual(full["batches"]["event-router"], 100, "100 events/s fill a 1 s window")
        self.assertAlmostEqual(full["usd_per_million"], 2.0, places=6, msg="as measured")
        slow = at(deployed, 10)
        self.assertEqual(slow["batches"]["stream-enrichment"], 10)
        extra_invocations = 1_000_000 / 10 - 1_000_000 / 100
        self.assertGreater(slow["usd_per_million"] - 2.0, extra_invocations * 0.2 / 1e6 * 3)
        # At 10,000 events/s every batch is full either way: fan-out adds only its own lines.
        low = self.fresh.profile_settings(self.manifest, "low-latency")
        polled = dict(low, activity=dict(low["activity"], enhanced_fan_out=False),
                      enriched=dict(low["enriched"], enhanced_fan_out=False))
        fan_out = at(low, 10_000)["usd_per_million"] - at(polled, 10_000)["usd_per_million"]
        hours = 2 * 730 / (10_000 * 730 * 3600 / 1e6)
        data = sum(self.workload["stream_record_bytes"].values()) * 1e6 / 2 ** 30
        self.assertAlmostEqual(fan_out, hours * 0.015 + data * 0.013)
        # Without a window, a polled stream's batch still gathers a second's worth (the poll).
        self.assertEqual(at(polled, 10)["batches"]["stream-enrichment"], 10)
        self.assertLess(at(low, 10)["batches"]["stream-enrichment"], 10)
        self.assertAlmostEqual(self.fresh.distinct_users(1, 1000, 1.1), 1.0)
        self.assertLess(self.fresh.distinct_users(100, 1000, 1.1), 100)

    def test_the_report_holds_the_low_latency_profile_to_two_seconds(self):
        files, _ = Inputs(self, json.loads(SAMPLE.read_text(encoding="utf-8"))).report()
        summary = files["summary.md"]
        text = section(summary, "Freshness")
        self.assertIn("| profile low-latency |", text)
        self.assertIn("### Stages: as deployed", text)
        goal = next(line for line in summary.splitlines() if line.startswith("| freshness p99"))
        self.assertTrue(goal.endswith("| met |"), goal)
        report = json.loads(files["report.json"])
        labels = [variant["label"] for variant in report["freshness"]["variants"]]
        self.assertEqual(labels[0], "as deployed")
        self.assertEqual(labels[-1], "profile low-latency")


class NotMeasured(unittest.TestCase):
    MINIMAL = {"schema": 1, "date": "2026-11-23T18:30:00Z", "machine": {"cpu": "Test CPU"},
               "zip_bytes": {"event-router": None}}

    def test_only_the_required_parts(self):
        files, table = Inputs(self, self.MINIMAL).report()
        summary = files["summary.md"]
        for row in table_rows(section(summary, "Goals")):
            self.assertEqual(row[2:], ["not measured", row[3], "not measured"], row)
        self.assertIn("Not measured: the measurements have no `workload`.", summary)
        self.assertIn("The cost model lacks: `workload`.", summary)
        for row in table_rows(section(summary, "Cost per million events"))[:-1]:
            self.assertEqual(row[1:], ["not measured"] * 4, row)
        self.assertIn("lacks: workload", table)
        report = json.loads(files["report.json"])
        self.assertFalse(report["cost_model"]["computed"])
        self.assertEqual(report["cost_model"]["lacks"], ["workload"])
        # The charts still draw, with their placeholders.
        for name in ("cost-per-million.svg", "init-time.svg"):
            self.assertIn("not measured", files[name])
            ElementTree.fromstring(files[name].encode("utf-8"))

    def test_a_missing_workload_key_is_named_and_leaves_only_its_lines_unpriced(self):
        measurements = copy.deepcopy(SMALL)
        del measurements["workload"]["functions"]["feature-updates"]["billed_ms_per_invocation"]
        del measurements["workload"]["naive"]
        del measurements["warm_cpu_per_event_us"]
        inputs = Inputs(self, measurements)
        _, _, model = inputs.model()
        pipeline = model["designs"]["pipeline"]
        self.assertEqual(pipeline["lacks"], ["workload.functions.feature-updates.billed_ms_per_invocation"])
        self.assertEqual(model["lacks"], ["workload.naive",
                                          "workload.functions.feature-updates.billed_ms_per_invocation"])
        self.assertIsNone(pipeline["total"])
        self.assertIsNone(pipeline["by_service"]["Lambda"])
        self.assertAlmostEqual(pipeline["by_service"]["DynamoDB"], 0.65)
        self.assertIsNone(model["ratio_naive_to_pipeline"])

        files, _ = inputs.report()
        cost = {row[0]: row[1:] for row in table_rows(section(files["summary.md"], "Cost per million events"))}
        self.assertEqual(cost["Lambda"], ["not measured", "$0.01", "not measured", "$0.015"])
        self.assertEqual(cost["DynamoDB"], ["$0.65", "$0.988", "not measured", "$3.00"])
        self.assertEqual(cost["**total**"], ["**not measured**", "**$2.52**", "not measured", "**$4.53**"])
        self.assertEqual(cost["ratio to the pipeline, warm"], ["", "not measured", "not measured", "not measured"])
        goals = table_rows(section(files["summary.md"], "Goals"))
        warm = [row for row in goals if row[0] == "warm CPU per event"]
        self.assertEqual([row[4] for row in warm], ["not measured"] * 3)
        self.assertIn("≥ $", files["cost-per-million.svg"])  # the known lines, marked incomplete

    def test_an_older_measurements_file_still_reports_and_names_what_it_lacks(self):
        inputs = Inputs(self, older(SMALL))
        files, table = inputs.report()
        _, _, model = inputs.model()
        self.assertEqual(model["lacks"], ["workload.cold", "workload.naive_with_memory"])
        self.assertEqual(list(model["designs"]), ["pipeline", "naive"])
        self.assertAlmostEqual(model["designs"]["pipeline"]["total"], 2.177825)
        self.assertAlmostEqual(model["ratio_naive_to_pipeline"], 3.0338 / 2.177825)
        self.assertIn("lacks: workload.cold, workload.naive_with_memory", table)
        summary = files["summary.md"]
        cost = {row[0]: row[1:] for row in table_rows(section(summary, "Cost per million events"))}
        self.assertEqual(cost["**total**"], ["**$2.18**", "not measured", "**$3.03**", "not measured"])
        self.assertEqual(cost["ratio to the pipeline, warm"], ["", "not measured", "1.39×", "not measured"])

        units = section(summary, "DynamoDB units per event, per consumer")
        rows = table_rows(units)
        self.assertEqual(rows[0], ["stream-enrichment", "warm", "1,000", "0.4", "0.4"] + ["not measured"] * 7)
        self.assertEqual(rows[1], ["stream-enrichment", "cold"] + ["not measured"] * 10)
        self.assertEqual(len(rows), 4, "no alternating runs in an older file, and none lacking")
        self.assertIn("Not measured: `workload.cold`, `workload.functions.stream-enrichment.{distinct_users, "
                      "bookkeeping_write_units, states_cached, states_read, lookups, spills, spilled_ids, conflicts, "
                      "largest_item_bytes}`, `workload.functions.feature-updates.{distinct_users, ", units)
        hot = section(summary, "Hot users")
        self.assertIn("Not measured: `workload.hot_users`.", hot)
        self.assertIn("every item stays under 64 KB (64,000 bytes, the stricter reading): **not measured**", hot)
        goals = {(row[0], row[1]): row[4] for row in table_rows(section(summary, "Goals"))}
        self.assertEqual(goals[("DynamoDB write units per event (steady state, warm)", "feature-updates")], "met")
        self.assertEqual(goals[("largest item, hot users", "stream-enrichment")], "not measured")
        self.assertEqual(goals[("cost per million events (warm)", "pipeline")], "met")

        report = json.loads(files["report.json"])
        self.assertEqual(report["cost_model"]["lacks"], ["workload.cold", "workload.naive_with_memory"])
        self.assertEqual(report["cost_model"]["ratios_to_pipeline"]["pipeline_cold"], None)
        self.assertEqual(report["hot_users"]["lacks"], ["workload.hot_users"])
        self.assertEqual(report["hot_users"]["workloads"], {})
        lacks = report["dynamodb_per_consumer"]["lacks"]
        self.assertEqual(lacks[0], "workload.cold")
        self.assertIn("workload.functions.feature-updates.distinct_users", lacks)
        self.assertEqual(report["dynamodb_per_consumer"]["cold"], {})
        root = ElementTree.fromstring(files["cost-per-million.svg"].encode("utf-8"))
        bars = [g for g in root.iter(SVG + "g") if g.get("class") == "bar"]
        self.assertEqual([bar.get("data-design") for bar in bars], list(cost_report.DESIGNS))
        self.assertEqual(["not measured" in "".join(bar.itertext()) for bar in bars], [False, True, False, True])

    def test_a_hot_user_workload_left_out_is_named(self):
        measurements = copy.deepcopy(SMALL)
        del measurements["workload"]["hot_users"]["rate"]
        files, _ = Inputs(self, measurements).report()
        report = json.loads(files["report.json"])
        self.assertEqual(report["hot_users"]["lacks"], ["workload.hot_users.rate"])
        self.assertEqual(list(report["hot_users"]["workloads"]), ["share"])
        hot = section(files["summary.md"], "Hot users")
        self.assertIn("Not measured: `workload.hot_users.rate`.", hot)
        # The share's items are all under 64 KB: what was measured meets the goal.
        self.assertIn("**met**", hot)

    def test_a_missing_function_is_named(self):
        measurements = copy.deepcopy(SMALL)
        del measurements["workload"]["functions"]["event-router"]
        _, _, model = Inputs(self, measurements).model()
        self.assertIn("workload.functions.event-router", model["designs"]["pipeline"]["lacks"])
        self.assertIsNone(model["designs"]["pipeline"]["total"])

    def test_goals_verdicts_and_null_zip(self):
        files, _ = Inputs(self, SMALL).report()
        verdicts = {(row[0], row[1]): row[4] for row in table_rows(section(files["summary.md"], "Goals"))}
        self.assertEqual(verdicts[("init, median wall time", "event-router")], "met")
        self.assertEqual(verdicts[("init, median wall time", "inference")], "not met")
        self.assertEqual(verdicts[("cold path CPU (init and first event)", "todo-api")], "not measured")
        self.assertEqual(verdicts[("warm CPU per event", "event-router")], "met")
        self.assertEqual(verdicts[("warm CPU per event", "stream-enrichment")], "not met")
        self.assertEqual(verdicts[("warm CPU per event", "feature-updates")], "not measured")
        self.assertEqual(verdicts[("deployment zip", "todo-api")], "met")
        self.assertEqual(verdicts[("deployment zip", "stream-enrichment")], "met")  # exactly 3,000,000
        self.assertEqual(verdicts[("deployment zip", "event-router")], "not met")
        self.assertEqual(verdicts[("deployment zip", "feature-updates")], "not measured")

    def test_cold_path_cpu_when_given(self):
        measurements = copy.deepcopy(SMALL)
        measurements["cold_path"] = {
            "todo-api": {"runs": 3, "wall_ms": {"median": 20.0}, "cpu_ms": {"median": 9.5}},
            "inference": {"runs": 3, "wall_ms": {"median": 30.0}, "cpu_ms": {"median": 16.0}},
        }
        files, _ = Inputs(self, measurements).report()
        verdicts = {(row[0], row[1]): row[4] for row in table_rows(section(files["summary.md"], "Goals"))}
        self.assertEqual(verdicts[("cold path CPU (init and first event)", "todo-api")], "met")
        self.assertEqual(verdicts[("cold path CPU (init and first event)", "inference")], "not met")
        self.assertEqual(verdicts[("cold path CPU (init and first event)", "event-router")], "not measured")


class ConsumerUnits(unittest.TestCase):
    """DynamoDB units per event of each stream consumer, warm and cold, against the goals."""

    def report(self, measurements=SMALL, prices=None):
        files, _ = Inputs(self, measurements, prices).report()
        return files["summary.md"], json.loads(files["report.json"])

    def goal_verdicts(self, summary):
        return {(row[0], row[1]): row[4] for row in table_rows(section(summary, "Goals"))}

    def test_units_per_event_floor_and_shares(self):
        measurements = cost_report.parse_measurements(SMALL, "small")
        units = cost_report.consumer_units(measurements["workload"])
        self.assertEqual(units["lacks"], [])
        warm = units["runs"]["warm"]["stream-enrichment"]
        self.assertAlmostEqual(warm["read_units_per_event"], 400 / 1000)
        self.assertAlmostEqual(warm["write_units_per_event"], 400 / 1000)
        self.assertAlmostEqual(warm["floor_write_units_per_event"], 380 / 1000)  # distinct users / records
        self.assertAlmostEqual(warm["bookkeeping_write_units_per_event"], 20 / 1000)
        self.assertAlmostEqual(warm["states_cached_share"], 300 / (300 + 100))
        self.assertAlmostEqual(warm["lookups_per_1000_events"], 5)
        self.assertEqual(warm["largest_item_bytes"], 2048)
        features = units["runs"]["warm"]["feature-updates"]
        self.assertAlmostEqual(features["states_cached_share"], 0.8)
        self.assertAlmostEqual(features["floor_write_units_per_event"], 0.45)
        cold = units["runs"]["cold"]["feature-updates"]
        self.assertAlmostEqual(cold["read_units_per_event"], 1.0)
        self.assertAlmostEqual(cold["bookkeeping_write_units_per_event"], 0.11)
        self.assertEqual(cold["states_cached_share"], 0)
        self.assertAlmostEqual(cold["lookups_per_1000_events"], 30)

    def test_per_event_means_per_record_the_consumer_handled(self):
        measurements = copy.deepcopy(SMALL)
        measurements["workload"]["functions"]["feature-updates"]["records"] = 500
        units = cost_report.consumer_units(cost_report.parse_measurements(measurements, "m")["workload"])
        features = units["runs"]["warm"]["feature-updates"]
        self.assertAlmostEqual(features["write_units_per_event"], 1.0)
        self.assertAlmostEqual(features["floor_write_units_per_event"], 0.9)
        self.assertAlmostEqual(features["lookups_per_1000_events"], 4)

    def test_no_states_at_all_has_no_share(self):
        measurements = copy.deepcopy(SMALL)
        entry = measurements["workload"]["functions"]["stream-enrichment"]
        entry["states_cached"] = entry["states_read"] = 0
        summary, report = self.report(measurements)
        self.assertIsNone(report["dynamodb_per_consumer"]["warm"]["stream-enrichment"]["states_cached_share"])
        rows = table_rows(section(summary, "DynamoDB units per event, per consumer"))
        self.assertEqual(rows[0][7], "not measured")

    def test_the_table_has_warm_and_cold_rows_per_consumer(self):
        summary, _ = self.report()
        rows = table_rows(section(summary, "DynamoDB units per event, per consumer"))
        runs = ["warm", "cold", "alternating (as built)", "alternating, cache trusted"]
        self.assertEqual([row[:2] for row in rows],
                         [[consumer, run] for consumer in ("stream-enrichment", "feature-updates") for run in runs])
        self.assertEqual(rows[0][2:], ["1,000", "0.4", "0.4", "0.38", "0.02", "75%", "5", "0", "0", "2,048 bytes"])
        self.assertEqual(rows[1][2:], ["1,000", "1.4", "0.5", "0.38", "0.07", "0%", "40", "0", "0", "2,048 bytes"])
        self.assertEqual(rows[5][2:], ["1,000", "1", "0.6", "0.45", "0.11", "0%", "30", "0", "0", "3,000 bytes"])

    def test_alternating_runs_show_what_trusting_a_stale_cache_costs(self):
        summary, report = self.report()
        rows = {(row[0], row[1]): row[2:] for row in
                table_rows(section(summary, "DynamoDB units per event, per consumer"))}
        built = rows[("stream-enrichment", "alternating (as built)")]
        trusted = rows[("stream-enrichment", "alternating, cache trusted")]
        self.assertEqual(built[1:3], ["1.4", "0.51"])
        self.assertEqual((built[5], built[7], built[8]), ("0%", "0", "0"))
        self.assertEqual(trusted[1:3], ["0.9", "0.7"])
        self.assertEqual((trusted[5], trusted[7], trusted[8]), ("43.1%", "120", "640"))
        self.assertEqual(rows[("feature-updates", "alternating, cache trusted")][7:9], ["150", "0"])
        per_consumer = report["dynamodb_per_consumer"]
        self.assertAlmostEqual(
            per_consumer["alternating_trusting_cache"]["stream-enrichment"]["conflicts_per_1000_events"], 120)
        # The goals are the warm run's alone.
        goals = [g for g in report["goals"] if "cold" in g]
        self.assertTrue(all(g["met"] == "met" for g in goals), goals)

    def test_warm_figures_decide_and_cold_is_shown_beside_them(self):
        summary, report = self.report()
        text = section(summary, "DynamoDB units per event, per consumer")
        goals = table_rows(text.split("Goals: the warm figures decide")[1])
        self.assertEqual(goals, [
            ["DynamoDB write units per event (steady state, warm)", "stream-enrichment", "≤ 0.62", "0.4", "met", "0.5"],
            ["DynamoDB write units per event (steady state, warm)", "feature-updates", "≤ 0.62", "0.5", "met", "0.6"],
            ["DynamoDB read units per event (steady state, warm)", "stream-enrichment", "≤ 0.65", "0.4", "met", "1.4"],
            ["DynamoDB read units per event (steady state, warm)", "feature-updates", "≤ 0.65", "0.3", "met", "1"],
            ["cost per million events (warm)", "pipeline", "≤ $2.40", "$2.18", "met", "$2.52"],
        ])
        verdicts = self.goal_verdicts(summary)
        self.assertEqual(verdicts[("cost per million events (warm)", "pipeline")], "met")
        cost = next(g for g in report["goals"] if g["goal"] == "cost per million events (warm)")
        self.assertAlmostEqual(cost["value"], 2.177825)
        self.assertAlmostEqual(cost["cold"], 2.5163)

    def test_goals_not_met_when_warm_is_over(self):
        measurements = copy.deepcopy(SMALL)
        measurements["workload"]["functions"]["feature-updates"]["write_request_units"] = 621
        measurements["workload"]["functions"]["stream-enrichment"]["write_request_units"] = 620  # exactly 0.62
        measurements["workload"]["functions"]["stream-enrichment"]["read_request_units"] = 651
        measurements["workload"]["functions"]["feature-updates"]["read_request_units"] = 650  # exactly 0.65
        prices = copy.deepcopy(TEST_PRICES)
        prices["prices"]["eventbridge_custom_events"]["usd"] = 1.30
        summary, _ = self.report(measurements, prices)
        verdicts = self.goal_verdicts(summary)
        self.assertEqual(verdicts[("DynamoDB write units per event (steady state, warm)", "feature-updates")], "not met")
        self.assertEqual(verdicts[("DynamoDB write units per event (steady state, warm)", "stream-enrichment")], "met")
        self.assertEqual(verdicts[("DynamoDB read units per event (steady state, warm)", "stream-enrichment")], "not met")
        self.assertEqual(verdicts[("DynamoDB read units per event (steady state, warm)", "feature-updates")], "met")
        # $1.30 for the events: 2.177825 + 0.30 + 0.1390... over $2.40.
        self.assertEqual(verdicts[("cost per million events (warm)", "pipeline")], "not met")

    def test_cold_within_the_goals_does_not_rescue_warm_over_them(self):
        measurements = copy.deepcopy(SMALL)
        measurements["workload"]["functions"]["stream-enrichment"]["read_request_units"] = 700
        for entry in measurements["workload"]["cold"]["functions"].values():
            entry["read_request_units"] = entry["write_request_units"] = 10
        verdicts = self.goal_verdicts(self.report(measurements)[0])
        self.assertEqual(verdicts[("DynamoDB read units per event (steady state, warm)", "stream-enrichment")], "not met")
        self.assertEqual(verdicts[("DynamoDB write units per event (steady state, warm)", "stream-enrichment")], "met")

    def test_report_json_carries_the_figures(self):
        _, report = self.report()
        part = report["dynamodb_per_consumer"]
        self.assertEqual(part["goals"], {"write_units_per_event": 0.62, "read_units_per_event": 0.65,
                                         "pipeline_usd_per_million_events": 2.40, "decided_by": "warm"})
        self.assertTrue(part["formulas"])
        self.assertEqual(part["lacks"], [])
        warm = part["warm"]["feature-updates"]
        self.assertAlmostEqual(warm["floor_write_units_per_event"], 0.45)
        self.assertAlmostEqual(warm["write_units_per_event"], 0.5)
        self.assertEqual(warm["inputs"]["distinct_users"], 450)
        self.assertAlmostEqual(part["cold"]["stream-enrichment"]["read_units_per_event"], 1.4)
        write = next(g for g in report["goals"] if g["goal"].startswith("DynamoDB write")
                     and g["function"] == "feature-updates")
        self.assertEqual((write["value"], write["cold"], write["met"]), (0.5, 0.6, "met"))


class HotUsers(unittest.TestCase):
    def setUp(self):
        files, _ = Inputs(self, SMALL).report()
        self.summary = files["summary.md"]
        self.report = json.loads(files["report.json"])

    def test_table_has_a_row_per_hot_user_and_consumer(self):
        text = section(self.summary, "Hot users")
        self.assertEqual(table_rows(text), [
            ["share", "stream-enrichment", "1,000", "0.35", "0.42", "6", "9,000 bytes", "met"],
            ["share", "feature-updates", "1,000", "0.28", "0.47", "8", "12,000 bytes", "met"],
            ["rate", "stream-enrichment", "2,000", "0.02", "0.13", "40", "40,000 bytes", "met"],
            ["rate", "feature-updates", "2,000", "0.03", "0.45", "44", "64,000 bytes", "not met"],
        ])
        self.assertIn("- `share`: 30 % of the events to one user.", text)
        self.assertIn("- `rate`: one user at 1000 events/s.", text)
        self.assertIn("every item stays under 64 KB (64,000 bytes, the stricter reading): **not met**", text)

    def test_the_goal_is_met_below_64000_bytes(self):
        measurements = copy.deepcopy(SMALL)
        measurements["workload"]["hot_users"]["rate"]["functions"]["feature-updates"]["largest_item_bytes"] = 63999
        files, _ = Inputs(self, measurements).report()
        text = section(files["summary.md"], "Hot users")
        self.assertEqual([row[-1] for row in table_rows(text)], ["met"] * 4)
        self.assertIn("**met**", text)
        verdicts = {(row[0], row[1]): row[4] for row in table_rows(section(files["summary.md"], "Goals"))}
        self.assertEqual(verdicts[("largest item, hot users", "feature-updates")], "met")

    def test_an_item_size_not_measured_leaves_the_goal_not_measured(self):
        measurements = copy.deepcopy(SMALL)
        measurements["workload"]["hot_users"]["rate"]["functions"]["feature-updates"]["largest_item_bytes"] = None
        files, _ = Inputs(self, measurements).report()
        text = section(files["summary.md"], "Hot users")
        self.assertEqual([row[-1] for row in table_rows(text)], ["met", "met", "met", "not measured"])
        self.assertIn("**not measured**", text)
        self.assertIn("`workload.hot_users.rate.functions.feature-updates.largest_item_bytes`", text)
        verdicts = {(row[0], row[1]): row[4] for row in table_rows(section(files["summary.md"], "Goals"))}
        self.assertEqual(verdicts[("largest item, hot users", "feature-updates")], "not measured")
        self.assertEqual(verdicts[("largest item, hot users", "stream-enrichment")], "met")

    def test_goal_rows_take_the_largest_item_of_every_hot_user(self):
        rows = {(row[0], row[1]): row for row in table_rows(section(self.summary, "Goals"))}
        features = rows[("largest item, hot users", "feature-updates")]
        self.assertEqual(features[2:], ["64,000 bytes (share: 12,000 bytes, rate: 64,000 bytes)",
                                        "< 64 KB (64,000 bytes)", "not met"])
        self.assertEqual(rows[("largest item, hot users", "stream-enrichment")][4], "met")

    def test_report_json_carries_the_hot_users(self):
        hot = self.report["hot_users"]
        self.assertEqual(hot["item_bytes_limit"], 64000)
        self.assertEqual(hot["lacks"], [])
        self.assertEqual(list(hot["workloads"]), ["share", "rate"])
        rate = hot["workloads"]["rate"]
        self.assertEqual((rate["description"], rate["events"]), ("one user at 1000 events/s", 2000))
        features = rate["functions"]["feature-updates"]
        self.assertAlmostEqual(features["write_units_per_event"], 0.45)
        self.assertAlmostEqual(features["floor_write_units_per_event"], 0.01)
        self.assertEqual((features["spills"], features["largest_item_bytes"], features["item_goal"]),
                         (44, 64000, "not met"))
        self.assertEqual(hot["workloads"]["share"]["functions"]["stream-enrichment"]["item_goal"], "met")


class BadInput(unittest.TestCase):
    def error(self, measurements=None, prices=None):
        inputs = Inputs(self, SMALL if measurements is None else measurements, prices)
        with self.assertRaises(cost_report.InputError) as caught:
            inputs.report()
        return str(caught.exception)

    def test_missing_file(self):
        inputs = Inputs(self, SMALL)
        with self.assertRaises(cost_report.InputError) as caught:
            cost_report.build_report(inputs.folder / "nope.json", inputs.prices)
        self.assertIn("measurements file %s does not exist" % (inputs.folder / "nope.json"), str(caught.exception))
        self.assertIn("perf-report measure", str(caught.exception))
        with self.assertRaises(cost_report.InputError) as caught:
            cost_report.build_report(inputs.measurements, inputs.folder / "none.json")
        self.assertIn("prices file %s does not exist" % (inputs.folder / "none.json"), str(caught.exception))

    def test_not_json(self):
        inputs = Inputs(self, SMALL)
        inputs.measurements.write_text('{"schema": 1,\n  "date": }', encoding="utf-8")
        with self.assertRaises(cost_report.InputError) as caught:
            inputs.report()
        self.assertIn("not valid JSON (line 2, column", str(caught.exception))

    def test_wrong_types_name_the_key_and_what_was_expected(self):
        cases = [
            (("init", "todo-api", "wall_ms", "median"), "fast",
             "init.todo-api.wall_ms.median: expected a number, found the string 'fast'"),
            (("zip_bytes", "todo-api"), 12.5, "zip_bytes.todo-api: expected a whole number, found the number 12.5"),
            (("workload", "functions", "event-router", "requests"), [1],
             "workload.functions.event-router.requests: expected an object, found a list"),
            (("workload", "functions", "event-router", "invocations"), -1,
             "workload.functions.event-router.invocations: expected a number of at least 0.0, found the number -1"),
            (("workload", "events"), 0, "workload.events: expected a whole number of at least 1, found the number 0"),
            (("machine",), "a laptop", "machine: expected an object, found the string 'a laptop'"),
            (("schema",), 2, "schema: expected 1 (the only version this report reads), found the number 2"),
            (("zip_architecture",), "riscv", "zip_architecture: expected \"arm64\", \"x86_64\" or null"),
            (("workload", "cold", "functions", "stream-enrichment", "spills"), 1.5,
             "workload.cold.functions.stream-enrichment.spills: expected a whole number, found the number 1.5"),
            (("workload", "functions", "feature-updates", "bookkeeping_write_units"), -2,
             "workload.functions.feature-updates.bookkeeping_write_units: expected a number of at least 0.0"),
            (("workload", "hot_users"), [], "workload.hot_users: expected an object, found a list"),
            (("workload", "hot_users", "rate", "functions", "feature-updates", "largest_item_bytes"), "big",
             "workload.hot_users.rate.functions.feature-updates.largest_item_bytes: expected a whole number"),
            (("workload", "naive_with_memory", "functions"), 3,
             "workload.naive_with_memory.functions: expected an object, found the number 3"),
        ]
        for path, value, message in cases:
            with self.subTest(key=".".join(path)):
                measurements = copy.deepcopy(SMALL)
                container = measurements
                for key in path[:-1]:
                    container = container[key]
                container[path[-1]] = value
                self.assertIn(message, self.error(measurements))

    def test_missing_required_keys(self):
        for key, message in (("date", "date is missing"), ("machine", "machine is missing"),
                             ("schema", "schema is missing")):
            measurements = copy.deepcopy(SMALL)
            del measurements[key]
            self.assertIn(message, self.error(measurements))
        measurements = copy.deepcopy(SMALL)
        del measurements["workload"]["events"]
        self.assertIn("workload.events is missing", self.error(measurements))

    def test_a_request_key_without_its_service(self):
        measurements = copy.deepcopy(SMALL)
        measurements["workload"]["event_source_requests"] = {"ReceiveMessage": 3}
        self.assertIn('expected a key "<service>:<Operation>"', self.error(measurements))

    def test_prices_missing_a_price_or_its_source(self):
        prices = copy.deepcopy(TEST_PRICES)
        del prices["prices"]["kinesis_shard_hour"]
        self.assertIn("prices.kinesis_shard_hour is missing", self.error(prices=prices))
        prices = copy.deepcopy(TEST_PRICES)
        del prices["prices"]["sqs_fifo_requests"]["source"]
        self.assertIn("prices.sqs_fifo_requests.source is missing", self.error(prices=prices))
        prices = copy.deepcopy(TEST_PRICES)
        del prices["taken_on"]
        self.assertIn("taken_on is missing", self.error(prices=prices))

    def test_the_command_exits_2_with_the_message(self):
        with tempfile.TemporaryDirectory() as folder:
            result = subprocess.run(
                [sys.executable, str(SCRIPT), "--measurements", str(Path(folder) / "absent.json"),
                 "--prices", str(PRICES), "--out", str(Path(folder) / "out")],
                capture_output=True, text=True, timeout=60)
            self.assertEqual(result.returncode, 2, result.stderr)
            self.assertEqual(result.stdout, "")
            self.assertRegex(result.stderr, r"^cost_report: measurements file .*absent\.json does not exist")
            self.assertFalse((Path(folder) / "out").exists())


class Charts(unittest.TestCase):
    def setUp(self):
        self.files, _ = Inputs(self, SMALL).report()

    def parse(self, name):
        return ElementTree.fromstring(self.files[name].encode("utf-8"))

    def bars(self, root):
        return [g for g in root.iter(SVG + "g") if g.get("class") == "bar"]

    def texts(self, root):
        return ["".join(t.itertext()) for t in root.iter(SVG + "text")]

    def test_cost_chart_has_one_stacked_bar_per_design(self):
        root = self.parse("cost-per-million.svg")
        bars = self.bars(root)
        self.assertEqual([bar.get("data-design") for bar in bars],
                         ["pipeline", "pipeline_cold", "naive", "naive_with_memory"])
        segments = [rect.get("data-service") for rect in bars[0].iter(SVG + "rect")]
        self.assertEqual(segments, ["EventBridge", "SQS", "Lambda", "Kinesis", "DynamoDB"])
        texts = self.texts(root)
        for total in ("$2.18", "$2.52", "$3.03", "$4.53"):
            self.assertIn(total, texts)
        labels = ["".join(t.itertext()) for t in bars[3].iter(SVG + "text")]
        self.assertEqual(labels[-2:], ["naive with", "24 h memory"])
        self.assertIn("To the pipeline, warm: pipeline, cold 1.16×; naive design 1.39×; naive with 24 h memory 2.08×",
                      texts)
        self.assertIn("USD per million events", texts)  # the y axis
        self.assertIn("design", texts)  # the x axis
        legend = next(g for g in root.iter(SVG + "g") if g.get("class") == "legend")
        self.assertEqual(sorted("".join(t.itertext()) for t in legend.iter(SVG + "text")), sorted(cost_report.SERVICES))
        title = root.find(SVG + "title").text
        self.assertIn("2026-11-23 18:30 UTC", title)
        self.assertIn("Test CPU, 2 cores", title)

    def test_stacked_segments_add_up_to_the_total(self):
        root = self.parse("cost-per-million.svg")
        axis_ticks = [t for t in self.texts(root) if t.startswith("$") and t.count(".") <= 1]
        self.assertTrue(axis_ticks)
        plot_height = 540 - 70 - 110
        axis_max, _ = cost_report.nice_axis(4.5338 * 1.12)  # the tallest bar: naive with memory
        for index, total in ((1, 2.5163), (2, 3.0338), (3, 4.5338)):
            heights = [float(rect.get("height")) for rect in self.bars(root)[index].iter(SVG + "rect")]
            self.assertAlmostEqual(sum(heights), total / axis_max * plot_height, delta=0.5)

    def test_init_chart_has_one_bar_per_function_and_the_goal_line(self):
        root = self.parse("init-time.svg")
        bars = self.bars(root)
        self.assertEqual([bar.get("data-function") for bar in bars], list(cost_report.ALL_FUNCTIONS))
        for bar in bars:
            kinds = [rect.get("class") for rect in bar.iter(SVG + "rect")]
            self.assertEqual(kinds, ["wall", "cpu"], bar.get("data-function"))
        goal = next(line for line in root.iter(SVG + "line") if line.get("class") == "goal")
        self.assertEqual(goal.get("y1"), goal.get("y2"))
        # The goal sits at 10 ms on the axis: between the 0 baseline and the top by 10 / axis max.
        axis_max, _ = cost_report.nice_axis(13.0 * 1.15)
        plot_height = 500 - 70 - 70
        self.assertAlmostEqual(float(goal.get("y1")), 500 - 70 - 10 / axis_max * plot_height, delta=0.1)
        texts = self.texts(root)
        self.assertIn("goal: 10 ms", texts)
        self.assertIn("init time, ms", texts)
        self.assertIn("function", texts)

    def test_an_unknown_function_gets_its_bar_too(self):
        measurements = copy.deepcopy(SMALL)
        measurements["init"]["batch-export"] = measurements["init"]["todo-api"]
        files, _ = Inputs(self, measurements).report()
        root = ElementTree.fromstring(files["init-time.svg"].encode("utf-8"))
        self.assertEqual([bar.get("data-function") for bar in self.bars(root)],
                         list(cost_report.ALL_FUNCTIONS) + ["batch-export"])

    def test_machine_names_are_escaped(self):
        measurements = copy.deepcopy(SMALL)
        measurements["machine"]["cpu"] = "Intel <Xeon> & co"
        files, _ = Inputs(self, measurements).report()
        for name in ("cost-per-million.svg", "init-time.svg"):
            root = ElementTree.fromstring(files[name].encode("utf-8"))
            self.assertIn("Intel <Xeon> & co", root.find(SVG + "title").text)


class Summary(unittest.TestCase):
    def setUp(self):
        files, _ = Inputs(self, SMALL).report()
        self.summary = files["summary.md"]

    def test_header_names_date_machine_and_price_date(self):
        first = self.summary.splitlines()[2]
        self.assertIn("2026-11-23 18:30 UTC", first)
        self.assertIn("Test CPU, 2 cores, Linux 6.18, release build", first)
        self.assertIn("list prices taken 2026-11-23", first)

    def test_goals_table_has_a_row_per_function_for_each_goal(self):
        rows = table_rows(section(self.summary, "Goals"))
        for goal in ("init, median wall time", "cold path CPU (init and first event)", "deployment zip"):
            self.assertEqual([row[1] for row in rows if row[0] == goal], list(cost_report.ALL_FUNCTIONS), goal)
        self.assertEqual([row[1] for row in rows if row[0] == "warm CPU per event"],
                         list(cost_report.PIPELINE_FUNCTIONS))
        self.assertTrue(all(row[4] in ("met", "not met", "not measured") for row in rows))

    def test_requests_table_has_a_row_per_function_and_design(self):
        rows = table_rows(section(self.summary, "Requests and capacity units per event"))
        for design in ("pipeline, warm (as built)", "pipeline, cold", "naive design", "naive with 24 h memory"):
            functions = [row[1] for row in rows if row[0] == design]
            self.assertEqual(functions, list(cost_report.PIPELINE_FUNCTIONS) + ["event source on the ingest queue"])
        router = next(row for row in rows if row[:2] == ["pipeline, warm (as built)", "event-router"])
        # 10 invocations, 6 SQS and 10 Kinesis requests, 1,000 payload units over 1,000 events.
        self.assertEqual(router[2:5], ["1,024 MB", "0.01", "9.2"])
        self.assertIn("sqs-fifo:SendMessageBatch 0.004", router[5])
        self.assertEqual(router[8], "1")
        features = next(row for row in rows if row[:2] == ["naive design", "feature-updates"])
        self.assertEqual(features[6:8], ["1", "1"])
        features = next(row for row in rows if row[:2] == ["naive with 24 h memory", "feature-updates"])
        self.assertEqual(features[6:8], ["2", "2"])
        cold = next(row for row in rows if row[:2] == ["pipeline, cold", "stream-enrichment"])
        self.assertEqual(cold[6:8], ["1.4", "0.5"])

    def test_cost_section_has_a_row_per_service_with_lines_and_formulas(self):
        text = section(self.summary, "Cost per million events")
        rows = table_rows(text)
        self.assertEqual([row[0] for row in rows],
                         list(cost_report.SERVICES) + ["**total**", "ratio to the pipeline, warm"])
        for title in ("pipeline, warm (as built)", "pipeline, cold", "naive design", "naive with 24 h memory"):
            self.assertIn("### Lines: %s" % title, text)
        self.assertIn("10,000 invocations × 41 ms (40.5 rounded up) × 256 MB / 1024 = 102.5 GB-seconds", text)

    def test_how_it_is_computed_and_prices(self):
        how = section(self.summary, "How it is computed")
        for word in ("1,000,000 / N", "rounded up", "730 h", "PUT payload units", "FIFO"):
            self.assertIn(word, how)
        prices = section(self.summary, "Prices")
        self.assertIn("taken 2026-11-23", prices)
        self.assertEqual(len(table_rows(prices)), len(TEST_PRICES["prices"]))


class ShippedFiles(unittest.TestCase):
    def test_price_table_is_dated_and_sourced(self):
        raw = json.loads(PRICES.read_text(encoding="utf-8"))
        prices = cost_report.parse_prices(raw, PRICES)
        self.assertRegex(prices["taken_on"], r"^\d{4}-\d{2}-\d{2}$")
        self.assertEqual(prices["region"], "us-east-1")
        for key in cost_report.REQUIRED_PRICES + ("apigateway_http_api_requests", "sagemaker_serverless_gb_second"):
            self.assertIn(key, prices["prices"])
        for key, price in prices["prices"].items():
            with self.subTest(price=key):
                self.assertTrue(price["source"].startswith("https://aws.amazon.com/"), price["source"])
                self.assertIn(price["status"], ("corroborated", "partly confirmed", "not confirmed"))
                if price["status"] != "not confirmed":
                    self.assertTrue(price["checked_against"])

    def test_sample_measurements_are_marked_and_complete(self):
        raw = json.loads(SAMPLE.read_text(encoding="utf-8"))
        self.assertTrue(raw["_comment"].startswith("SAMPLE"))
        files, table = cost_report.build_report(SAMPLE, PRICES)
        report = json.loads(files["report.json"])
        self.assertEqual(report["cost_model"]["lacks"], [])
        self.assertEqual(list(report["cost_model"]["designs"]), list(cost_report.DESIGNS))
        self.assertGreater(report["cost_model"]["ratio_naive_to_pipeline"], 1)
        self.assertGreater(report["cost_model"]["ratios_to_pipeline"]["naive_with_memory"],
                           report["cost_model"]["ratios_to_pipeline"]["naive"])
        self.assertEqual(report["dynamodb_per_consumer"]["lacks"], [])
        self.assertEqual(report["hot_users"]["lacks"], [])
        self.assertEqual(list(report["hot_users"]["workloads"]), ["share", "rate"])
        self.assertIn("**total**", table)

    def test_the_streams_come_from_the_manifest_with_their_writers_and_readers(self):
        stack = json.loads(STACK.read_text(encoding="utf-8"))
        found = cost_report.streams.manifest_streams(stack)
        self.assertEqual(set(found), set(stack["streams"]))
        self.assertEqual(found["activity"]["writers"], ["event-router"])
        self.assertEqual(found["activity"]["readers"], ["stream-enrichment"])
        self.assertEqual(found["enriched"]["writers"], ["stream-enrichment"])
        self.assertEqual(found["enriched"]["readers"], ["feature-updates"])
        for key, stream in stack["streams"].items():
            self.assertEqual(found[key]["capacity_mode"], stream["capacity_mode"])
            self.assertEqual(found[key]["shard_count"], stream.get("shard_count"))

    def test_memory_of_the_sample_matches_the_manifest(self):
        stack = json.loads(STACK.read_text(encoding="utf-8"))
        sample = json.loads(SAMPLE.read_text(encoding="utf-8"))
        workload = sample["workload"]
        runs = [workload, workload["naive"], workload["naive_with_memory"], workload["cold"]]
        runs.extend(workload["hot_users"].values())
        for run in runs:
            for name, entry in run["functions"].items():
                self.assertEqual(entry["memory_mb"], stack["functions"][name]["memory_mb"], name)


class Formatting(unittest.TestCase):
    def test_usd(self):
        self.assertEqual(cost_report.format_usd(2.177825), "$2.18")
        self.assertEqual(cost_report.format_usd(0.4), "$0.40")
        self.assertEqual(cost_report.format_usd(0.002), "$0.002")
        self.assertEqual(cost_report.format_usd(0.000433), "$0.000433")
        self.assertEqual(cost_report.format_usd(None), "not measured")

    def test_price(self):
        prices = cost_report.parse_prices(TEST_PRICES, "test")["prices"]
        self.assertEqual(cost_report.format_price(prices["lambda_requests"]), "$0.20 per million requests")
        self.assertEqual(cost_report.format_price(prices["lambda_arm64_gb_second"]), "$0.00001 per GB-second")
        self.assertEqual(cost_report.format_price(prices["kinesis_shard_hour"]), "$0.015 per shard-hour")

    def test_nice_axis(self):
        self.assertEqual(cost_report.nice_axis(3.4), (4.0, 1.0))
        self.assertEqual(cost_report.nice_axis(14.95), (15, 5))
        self.assertEqual(cost_report.nice_axis(11.5), (12.5, 2.5))
        self.assertEqual(cost_report.nice_axis(0), (1.0, 0.2))


if __name__ == "__main__":
    unittest.main()
