"""Tests of tools/perf/archive.py and of the archive in tools/perf/cost_report.py: Firehose's
5 KB rounding of each record, the objects a day from the buffer interval and size, steady-state
storage from the lifecycle's days (Standard-IA's 128 KiB and 30-day minimums, small objects left
in Standard, noncurrent versions kept after expiry), tiered prices, a whole month checked by hand at round prices, the gzip ratio the
model assumes against representative records, and what the report says when the manifest has
no `archives` section or a malformed one.

Standard library only: `python3 -m unittest discover -s tools/tests -p test_archive.py` from the
repository root.
"""

import contextlib
import copy
import importlib.util
import io
import json
import tempfile
import unittest
from pathlib import Path

from test_cost_report import SMALL, TEST_PRICES

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "perf" / "cost_report.py"
PRICES = ROOT / "tools" / "perf" / "prices.json"
SAMPLE = ROOT / "tools" / "perf" / "sample-measurements.json"
STACK = ROOT / "infra" / "stack.json"

_spec = importlib.util.spec_from_file_location("cost_report_for_archive", SCRIPT)
cost_report = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cost_report)
archive = cost_report.archive

GIB = 2 ** 30
MONTH_SECONDS = 730 * 3600
MONTH_DAYS = MONTH_SECONDS / 86400

# The archive as the manifest describes it (infra/stack.json may not have it yet).
ARCHIVES = {"activity": {"stream": "activity", "prefix": "activity", "partition_date_field": "timestamp",
                         "buffer_interval_seconds": 300, "buffer_size_mib": 64,
                         "infrequent_access_after_days": 30, "expire_after_days": 400}}

# Round prices for the archive, beside the pipeline's round test prices.
ARCHIVE_PRICES = {
    "firehose_kds_source_ingestion_gb": {"usd": 0.03, "per": 1, "unit": "GB", "source": "https://example.test/firehose"},
    "firehose_dynamic_partitioning_gb": {"usd": 0.02, "per": 1, "unit": "GB", "source": "https://example.test/firehose"},
    "firehose_dynamic_partitioning_objects": {"usd": 0.005, "per": 1000, "unit": "objects",
                                              "source": "https://example.test/firehose"},
    "firehose_jq_processing_hour": {"usd": 0.07, "per": 1, "unit": "hour", "source": "https://example.test/firehose"},
    "s3_standard_put_requests": {"usd": 0.005, "per": 1000, "unit": "requests", "source": "https://example.test/s3"},
    "s3_standard_storage_gb_month": {"usd": 0.023, "per": 1, "unit": "GB-month", "source": "https://example.test/s3"},
    "s3_standard_ia_storage_gb_month": {"usd": 0.0125, "per": 1, "unit": "GB-month",
                                        "source": "https://example.test/s3"},
    "s3_standard_ia_transition_requests": {"usd": 0.01, "per": 1000, "unit": "requests",
                                           "source": "https://example.test/s3"},
}
ALL_TEST_PRICES = copy.deepcopy(TEST_PRICES)
ALL_TEST_PRICES["prices"].update(ARCHIVE_PRICES)
PARSED = cost_report.parse_prices(ALL_TEST_PRICES, "prices")["prices"]

# The activity records' mean size (data and partition key) perf-report measured on 2026-12-06
# (docs/results/performance.md).
MEASURED_ACTIVITY_RECORD_BYTES = 134.6


def stack(archives=None):
    """infra/stack.json with `archives` set (None: without the section)."""
    manifest = json.loads(STACK.read_text(encoding="utf-8"))
    manifest.pop("archives", None)
    if archives is not None:
        manifest["archives"] = archives
    return manifest


def line(row, prefix):
    matches = [entry for entry in row["lines"] if entry["item"].startswith(prefix)]
    if len(matches) != 1:
        raise AssertionError("lines starting %r: %s" % (prefix, [entry["item"] for entry in row["lines"]]))
    return matches[0]


class Rounding(unittest.TestCase):
    def test_each_record_is_billed_rounded_up_to_the_next_5_kb(self):
        billed = archive.firehose_billed_bytes
        self.assertEqual(billed(136), 5120, "a 136-byte record is billed as 5 KB")
        self.assertEqual(billed(1), 5120)
        self.assertEqual(billed(5120), 5120)
        self.assertEqual(billed(5121), 10240)
        # AWS's own examples: a 3 KB record is billed as 5 KB, a 12 KB one as 15 KB, 42 KB as 45 KB.
        self.assertEqual(billed(3 * 1024), 5 * 1024)
        self.assertEqual(billed(12 * 1024), 15 * 1024)
        self.assertEqual(billed(42 * 1024), 45 * 1024)

    def test_ingestion_bills_the_rounded_size_and_partitioning_the_actual_one(self):
        row = archive.archive_month(100, ARCHIVES["activity"], {"records_per_event": 1, "record_bytes": 136}, PARSED)
        records = 100 * MONTH_SECONDS
        self.assertAlmostEqual(line(row, "ingestion")["quantity_per_month"], records * 5120 / GIB)
        self.assertAlmostEqual(line(row, "dynamic partitioning, data processed")["quantity_per_month"],
                               records * 136 / GIB)
        # Per million events, ingestion alone: 10^6 × 5,120 bytes / 2^30 × $0.03.
        per_million = line(row, "ingestion")["usd_per_month"] / (records / 1e6)
        self.assertAlmostEqual(per_million, 1e6 * 5120 / GIB * 0.03)

    def test_two_records_per_event_bill_twice_the_ingestion(self):
        one = archive.archive_month(10, ARCHIVES["activity"], {"records_per_event": 1, "record_bytes": 136}, PARSED)
        two = archive.archive_month(10, ARCHIVES["activity"], {"records_per_event": 2, "record_bytes": 136}, PARSED)
        self.assertAlmostEqual(line(two, "ingestion")["usd_per_month"], 2 * line(one, "ingestion")["usd_per_month"])


class Objects(unittest.TestCase):
    def test_a_partition_is_delivered_every_interval_when_its_buffer_does_not_fill(self):
        self.assertEqual(archive.flush_seconds(13_700, 300, 64), 300)
        # 288 flushes a day, and the buffer that spans midnight split between two dates.
        self.assertEqual(archive.objects_per_day(8_640_000, 13_700, 300, 64), 289)
        self.assertEqual(archive.objects_per_day(8_640_000, 13_700, 60, 64), 1441)
        self.assertEqual(archive.objects_per_day(8_640_000, 13_700, 900, 64), 97)

    def test_a_full_buffer_is_delivered_before_its_interval(self):
        # 1 MiB a second fills 64 MiB in 64 s: 1,350 flushes a day.
        self.assertEqual(archive.flush_seconds(2 ** 20, 300, 64), 64)
        self.assertEqual(archive.objects_per_day(10 ** 9, 2 ** 20, 300, 64), 86400 / 64 + 1)
        self.assertEqual(archive.objects_per_day(10 ** 9, 2 ** 20, 300, 128), 86400 / 128 + 1)

    def test_never_more_objects_than_records(self):
        self.assertEqual(archive.objects_per_day(100, 0.2, 300, 64), 100)

    def test_a_month_of_objects_and_their_puts(self):
        row = archive.archive_month(100, ARCHIVES["activity"], {"records_per_event": 1, "record_bytes": 136}, PARSED)
        self.assertEqual(row["objects_per_day"], 289)
        self.assertAlmostEqual(line(row, "dynamic partitioning, objects delivered")["quantity_per_month"],
                               289 * MONTH_DAYS)
        self.assertAlmostEqual(line(row, "PUT")["quantity_per_month"], 289 * MONTH_DAYS)
        # 10,000 events/s of 137 bytes delivered fill 64 MiB in 48.98 s.
        fast = archive.archive_month(10_000, ARCHIVES["activity"], {"records_per_event": 1, "record_bytes": 136},
                                     PARSED)
        self.assertAlmostEqual(fast["flush_seconds"], 64 * 2 ** 20 / (10_000 * 137))
        self.assertAlmostEqual(fast["objects_per_day"], 86400 / (64 * 2 ** 20 / (10_000 * 137)) + 1)


class Storage(unittest.TestCase):
    def test_steady_state_is_the_lifecycle_days_of_data_in_each_class(self):
        kept = archive.steady_storage(GIB, 2 ** 20, 30, 400)
        self.assertTrue(kept["transitioned"])
        self.assertAlmostEqual(kept["standard_gb"], 30)
        self.assertAlmostEqual(kept["ia_gb"], 370)
        self.assertEqual((kept["standard_days"], kept["ia_days"]), (30, 370))
        longer = archive.steady_storage(GIB, 2 ** 20, 60, 730)
        self.assertAlmostEqual(longer["standard_gb"] + longer["ia_gb"], 730)
        self.assertAlmostEqual(longer["standard_gb"], 60)

    def test_objects_under_128_kib_stay_in_standard_until_they_expire(self):
        small = archive.steady_storage(GIB, 100 * 1024, 30, 400)
        self.assertFalse(small["transitioned"])
        self.assertAlmostEqual(small["standard_gb"], 400)
        self.assertEqual(small["ia_gb"], 0)
        self.assertTrue(archive.steady_storage(GIB, 128 * 1024, 30, 400)["transitioned"], "exactly 128 KiB moves")

    def test_standard_ia_bills_small_objects_as_128_kib(self):
        # A lifecycle rule that moves 64 KiB objects anyway: each billed as 128 KiB, twice its size.
        forced = archive.steady_storage(GIB, 64 * 1024, 30, 400, transition_small_objects=True)
        self.assertTrue(forced["transitioned"])
        self.assertAlmostEqual(forced["standard_gb"], 30)
        self.assertAlmostEqual(forced["ia_gb"], 370 * 2)

    def test_standard_ia_bills_at_least_30_days(self):
        short = archive.steady_storage(GIB, 2 ** 20, 30, 45)
        self.assertEqual(short["ia_days"], 15)
        self.assertAlmostEqual(short["ia_gb"], 30, msg="15 days kept, 30 billed")

    def test_an_expired_object_is_kept_as_a_noncurrent_version_in_its_class(self):
        kept = archive.steady_storage(GIB, 2 ** 20, 30, 400, noncurrent_days=30)
        self.assertAlmostEqual(kept["standard_gb"], 30)
        self.assertAlmostEqual(kept["ia_gb"], 370)
        self.assertAlmostEqual(kept["noncurrent_gb"], 30)
        self.assertEqual(kept["noncurrent_class"], "Standard-IA")
        small = archive.steady_storage(GIB, 64 * 1024, 30, 400, noncurrent_days=30)
        self.assertAlmostEqual(small["standard_gb"], 400)
        self.assertAlmostEqual(small["noncurrent_gb"], 30)
        self.assertEqual(small["noncurrent_class"], "Standard")
        # Standard-IA's 30 days count noncurrent days: 15 current and 30 noncurrent bill 45.
        short = archive.steady_storage(GIB, 2 ** 20, 30, 45, noncurrent_days=30)
        self.assertAlmostEqual(short["ia_gb"] + short["noncurrent_gb"], 45)
        self.assertEqual(archive.NONCURRENT_VERSION_DAYS, 30, "crates/stack: ARCHIVE_NONCURRENT_VERSION_DAYS")

    def test_without_a_transition_everything_is_standard(self):
        self.assertAlmostEqual(archive.steady_storage(GIB, 2 ** 20, None, 400)["standard_gb"], 400)
        self.assertAlmostEqual(archive.steady_storage(GIB, 2 ** 20, 400, 400)["standard_gb"], 400)

    def test_the_archive_is_gzip_bytes_a_day_times_the_days(self):
        row = archive.archive_month(100, ARCHIVES["activity"], {"records_per_event": 1, "record_bytes": 136}, PARSED)
        daily = 8_640_000 * 137 / archive.GZIP_RATIO
        self.assertAlmostEqual(line(row, "Standard storage (")["quantity_per_month"], daily * 30 / GIB)
        self.assertAlmostEqual(line(row, "Standard-IA storage (")["quantity_per_month"], daily * 370 / GIB)
        self.assertAlmostEqual(line(row, "Standard-IA storage of noncurrent")["quantity_per_month"], daily * 30 / GIB)
        self.assertIn("(30 days of data)", line(row, "Standard storage (")["item"])
        # 10 events/s: objects of about 100 KB, left in Standard for all 400 days, and 30 more.
        slow = archive.archive_month(10, ARCHIVES["activity"], {"records_per_event": 1, "record_bytes": 136}, PARSED)
        self.assertLess(slow["object_gzip_bytes"], 128 * 1024)
        self.assertAlmostEqual(line(slow, "Standard storage (")["quantity_per_month"], daily / 10 * 400 / GIB)
        self.assertAlmostEqual(line(slow, "Standard storage of noncurrent")["quantity_per_month"],
                               daily / 10 * 30 / GIB)
        self.assertFalse(any("Standard-IA" in entry["item"] for entry in slow["lines"]))


class HandComputed(unittest.TestCase):
    """A month at 100 events a second of 136-byte records, every line written out by hand."""

    def test_every_line_and_the_total(self):
        row = archive.archive_month(100, ARCHIVES["activity"], {"records_per_event": 1, "record_bytes": 136}, PARSED)
        records = 262_800_000
        objects = 289 * 730 / 24
        daily_gzip = 8_640_000 * 137 / 4
        expected = {
            "ingestion": records * 5120 / GIB * 0.03,
            "dynamic partitioning, data processed": records * 136 / GIB * 0.02,
            "dynamic partitioning, objects delivered": objects * 0.005 / 1000,
            "dynamic partitioning, JQ processing": records * 5e-6 / 3600 * 0.07,
            "PUT": objects * 0.005 / 1000,
            "Standard storage (": daily_gzip * 30 / GIB * 0.023,
            "Standard-IA storage (": daily_gzip * 370 / GIB * 0.0125,
            "Standard-IA storage of noncurrent versions": daily_gzip * 30 / GIB * 0.0125,
            "lifecycle transitions": objects * 0.01 / 1000,
        }
        self.assertEqual(len(row["lines"]), len(expected))
        for prefix, usd in expected.items():
            self.assertAlmostEqual(line(row, prefix)["usd_per_month"], usd, msg=prefix)
        self.assertAlmostEqual(row["usd_per_month"], sum(expected.values()))
        self.assertAlmostEqual(row["usd_per_million_events"], sum(expected.values()) / 262.8)
        # Ingestion is most of it: 37.65 GB billed for every GB of records.
        self.assertGreater(line(row, "ingestion")["usd_per_month"], 0.9 * row["usd_per_month"])

    def test_an_on_demand_source_also_bills_what_firehose_reads(self):
        row = archive.archive_month(100, ARCHIVES["activity"], {"records_per_event": 1, "record_bytes": 136}, PARSED,
                                    capacity_mode="on_demand")
        read = line(row, "data Firehose reads")
        self.assertAlmostEqual(read["usd_per_month"], 262_800_000 * 136 / GIB * 0.04)
        provisioned = archive.archive_month(100, ARCHIVES["activity"], {"records_per_event": 1, "record_bytes": 136},
                                            PARSED)
        self.assertAlmostEqual(row["usd_per_month"] - provisioned["usd_per_month"], read["usd_per_month"])


class Tiers(unittest.TestCase):
    TIERED = {"usd": 0.029, "per": 1, "unit": "GB", "source": "https://example.test/firehose",
              "tiers": [{"from": 0, "usd": 0.029}, {"from": 500000, "usd": 0.025}, {"from": 2000000, "usd": 0.020}]}

    def prices(self, entry):
        return cost_report.parse_prices({"taken_on": "2026-11-23", "region": "us-east-1", "currency": "USD",
                                         "prices": {**TEST_PRICES["prices"], "tiered": entry}}, "prices")["prices"]

    def test_each_tier_bills_its_own_part_of_the_month(self):
        prices = self.prices(self.TIERED)
        self.assertAlmostEqual(archive.charge(prices, "tiered", 400_000), 400_000 * 0.029)
        self.assertAlmostEqual(archive.charge(prices, "tiered", 600_000), 500_000 * 0.029 + 100_000 * 0.025)
        self.assertAlmostEqual(archive.charge(prices, "tiered", 3_000_000),
                               500_000 * 0.029 + 1_500_000 * 0.025 + 1_000_000 * 0.020)
        self.assertEqual(cost_report.format_price(prices["tiered"]),
                         "$0.029 per GB; $0.025 from 500,000 GB a month, $0.02 from 2,000,000 GB a month")

    def test_malformed_tiers_are_errors(self):
        for tiers, message in (([{"from": 0, "usd": 0.03}], "the first tier: from 0 at the price's usd"),
                               ([{"from": 0, "usd": 0.029}, {"from": 0, "usd": 0.02}], "above the previous tier's"),
                               ({"from": 0}, "a list of")):
            with self.subTest(tiers=tiers), self.assertRaises(cost_report.InputError) as raised:
                self.prices(dict(self.TIERED, tiers=tiers))
            self.assertIn(message, str(raised.exception))

    def test_the_top_rate_crosses_the_first_ingestion_tier(self):
        prices = cost_report.parse_prices(json.loads(PRICES.read_text(encoding="utf-8")), PRICES)["prices"]
        row = archive.archive_month(50_000, ARCHIVES["activity"], {"records_per_event": 1, "record_bytes": 136},
                                    prices)
        ingestion = line(row, "ingestion")
        self.assertGreater(ingestion["quantity_per_month"], 500_000)
        self.assertLess(ingestion["usd_per_month"], ingestion["quantity_per_month"] * 0.029)


class GzipRatio(unittest.TestCase):
    """The ratio the model assumes against records shaped as event-router writes them."""

    def test_the_assumed_ratio_is_no_higher_than_measured_for_uuid_event_ids(self):
        records = archive.representative_records(3000, 10)
        measured = archive.gzip_ratio(records)
        self.assertLessEqual(archive.GZIP_RATIO, measured)
        self.assertGreater(archive.GZIP_RATIO, measured * 0.9, "not far below it either")

    def test_short_ids_compress_about_twice_as_well(self):
        self.assertGreater(archive.gzip_ratio(archive.representative_records(3000, 10, uuid_ids=False)), 7)

    def test_the_records_are_the_size_perf_report_measured(self):
        records = archive.representative_records(3000, 10, uuid_ids=False)
        # The measured mean counts the partition key, the user id.
        mean = sum(len(r) + len(json.loads(r)["userId"]) for r in records) / len(records)
        self.assertAlmostEqual(mean, MEASURED_ACTIVITY_RECORD_BYTES, delta=0.05 * MEASURED_ACTIVITY_RECORD_BYTES)
        first = json.loads(records[0])
        self.assertEqual(list(first)[:4], ["eventId", "userId", "type", "timestamp"])
        self.assertRegex(first["timestamp"], r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d+Z$")


class Inputs:
    """Measurements, prices and a manifest written to a temporary folder."""

    def __init__(self, test, measurements, prices, manifest):
        folder = tempfile.TemporaryDirectory()
        test.addCleanup(folder.cleanup)
        self.folder = Path(folder.name)
        self.paths = {}
        for name, value in (("measurements", measurements), ("prices", prices), ("manifest", manifest)):
            self.paths[name] = self.folder / ("%s.json" % name)
            self.paths[name].write_text(json.dumps(value), encoding="utf-8")

    def report(self):
        return cost_report.build_report(self.paths["measurements"], self.paths["prices"], self.paths["manifest"])

    def main(self):
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            status = cost_report.main(["--measurements", str(self.paths["measurements"]), "--prices",
                                       str(self.paths["prices"]), "--manifest", str(self.paths["manifest"]),
                                       "--out", str(self.folder / "out")])
        return status, output.getvalue()


def summary_section(markdown):
    start = markdown.index("## Archive\n")
    return markdown[start:markdown.index("\n## ", start + 1)]


class Report(unittest.TestCase):
    def test_the_rates_are_those_of_the_freshness_and_sizing_sections(self):
        self.assertEqual(cost_report.ARCHIVE_RATES, (10, 100, 1_000, 10_000, 50_000))

    def test_a_manifest_without_archives_is_said_to_price_none(self):
        inputs = Inputs(self, SMALL, ALL_TEST_PRICES, stack())
        files, table = inputs.report()
        text = summary_section(files["summary.md"])
        self.assertIn("Not priced: the manifest has no `archives` section", text)
        self.assertIn("Archive: not priced: the manifest has no `archives` section.", table)
        report = json.loads(files["report.json"])
        self.assertFalse(report["archive"]["computed"])
        self.assertEqual(report["archive"]["reason"], "the manifest has no `archives` section")
        status, output = inputs.main()
        self.assertEqual(status, 0)
        self.assertIn("Archive: not priced", output)

    def test_the_archive_is_priced_by_rate_beside_the_pipeline(self):
        measurements = copy.deepcopy(SMALL)
        measurements["workload"]["stream_record_bytes"] = {"activity": 136, "enriched": 300}
        files, table = Inputs(self, measurements, ALL_TEST_PRICES, stack(ARCHIVES)).report()
        report = json.loads(files["report.json"])["archive"]
        self.assertTrue(report["computed"], report["lacks"])
        rows = report["archives"]["activity"]["rows"]
        self.assertEqual([row["events_per_second"] for row in rows], [10, 100, 1000, 10000, 50000])
        # SMALL: event-router puts 1,000 records for 1,000 events.
        self.assertEqual(report["archives"]["activity"]["source"]["records_per_event"], 1)
        hand = archive.archive_month(100, ARCHIVES["activity"], {"records_per_event": 1, "record_bytes": 136}, PARSED)
        self.assertAlmostEqual(rows[1]["usd_per_month"], hand["usd_per_month"])
        for row, total in zip(rows, report["totals"]):
            self.assertAlmostEqual(total["usd_per_month"], sum(entry["usd_per_month"] for entry in row["lines"]))
            self.assertAlmostEqual(total["usd_per_million_events"],
                                   total["usd_per_month"] / (row["events_per_second"] * MONTH_SECONDS / 1e6))
        self.assertTrue(report["formulas"])
        text = summary_section(files["summary.md"])
        self.assertIn("| objects a day | 289 | 289 | 289 |", text)
        self.assertIn("Standard (under 128 KiB)", text)
        self.assertIn("**pipeline and archive, per million events**", text)
        self.assertIn("$51.10 a month more (730 h)", text)
        self.assertIn("Archive (activity), a month and per million events: 10 events/s $", table)

    def test_without_the_archive_prices_it_says_what_it_lacks(self):
        files, table = Inputs(self, SMALL, TEST_PRICES, stack(ARCHIVES)).report()
        text = summary_section(files["summary.md"])
        self.assertIn("Not computed: lacks `prices.firehose_dynamic_partitioning_gb`", text)
        self.assertIn("Archive: not priced: lacks prices.", table)

    def test_without_record_sizes_it_says_what_it_lacks(self):
        measurements = json.loads(SAMPLE.read_text(encoding="utf-8"))
        del measurements["workload"]["stream_record_bytes"]
        files, _ = Inputs(self, measurements, ALL_TEST_PRICES, stack(ARCHIVES)).report()
        self.assertIn("`workload.stream_record_bytes.activity`", summary_section(files["summary.md"]))

    def test_a_malformed_archive_is_an_error_naming_the_key(self):
        cases = [
            ({"buffer_interval_seconds": None}, "archives.activity.buffer_interval_seconds is missing"),
            ({"expire_after_days": 0}, "archives.activity.expire_after_days: expected a whole number greater than 0"),
            ({"expire_after_days": 400.5}, "archives.activity.expire_after_days: expected a whole number"),
            ({"buffer_size_mib": "64"}, "archives.activity.buffer_size_mib: expected a number greater than 0"),
            ({"stream": "clicks"}, "archives.activity.stream: 'clicks' is not a stream of the manifest"),
        ]
        for change, message in cases:
            archives = copy.deepcopy(ARCHIVES)
            for key, value in change.items():
                if value is None:
                    del archives["activity"][key]
                else:
                    archives["activity"][key] = value
            with self.subTest(change=change), self.assertRaises(cost_report.InputError) as raised:
                Inputs(self, SMALL, ALL_TEST_PRICES, stack(archives)).report()
            self.assertIn(message, str(raised.exception))

    def test_the_shipped_prices_price_the_archive_and_the_shipped_manifest_parses(self):
        prices = cost_report.parse_prices(json.loads(PRICES.read_text(encoding="utf-8")), PRICES)["prices"]
        for key in archive.ARCHIVE_PRICES:
            self.assertIn(key, prices)
        self.assertEqual([tier["from"] for tier in prices["firehose_kds_source_ingestion_gb"]["tiers"]],
                         [0, 500000, 2000000])
        shipped = json.loads(STACK.read_text(encoding="utf-8"))
        found = archive.manifest_archives(shipped)
        if "archives" in shipped:
            self.assertEqual(set(found), set(shipped["archives"]))
        else:
            self.assertIsNone(found)


if __name__ == "__main__":
    unittest.main()
