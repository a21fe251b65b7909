"""Tests of tools/smoke-test.py that need no running stack.

Its contract constants are held to functions/*/openapi.yaml and the feature spec; its pure
parts (arguments, answers against the contracts, the events it sends and the features they
must produce) are tested directly; and whole runs go against an in-process fake of the HTTP
API, with EventBridge from moto's in-process mock, to show what it prints when the stack
answers well, answers wrongly or is not there.

Run with `.venv/bin/python -m unittest discover -s tools/tests` from the repository root
(it needs PyYAML and moto, both in tools/requirements.txt).
"""

import contextlib
import datetime
import importlib.util
import io
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import unittest
import urllib.error
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from unittest import mock

import yaml
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "smoke-test.py"
TODO_OPENAPI = ROOT / "functions" / "todo-api" / "openapi.yaml"
INFERENCE_OPENAPI = ROOT / "functions" / "inference" / "openapi.yaml"
FEATURE_SPEC = ROOT / "shared" / "src" / "features" / "spec.rs"
EVENTS_RS = ROOT / "shared" / "src" / "events.rs"

# The file name has a hyphen (it is a command), so it is loaded by path.
_spec = importlib.util.spec_from_file_location("smoke_test", SCRIPT)
smoke = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(smoke)

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
TOKEN = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ0ZXN0In0."
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def load_yaml(path):
    with open(path, encoding="utf-8") as file:
        return yaml.safe_load(file)


def closed_port():
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def new_ulid():
    return "0" + "".join(secrets.choice(CROCKFORD) for _ in range(25))


class ContractConstantsTest(unittest.TestCase):
    """The names the script checks are the contracts' and the feature spec's."""

    @classmethod
    def setUpClass(cls):
        cls.todo = load_yaml(TODO_OPENAPI)["components"]["schemas"]
        cls.inference = load_yaml(INFERENCE_OPENAPI)["components"]["schemas"]

    def test_task_fields_are_the_contracts(self):
        self.assertEqual(smoke.TASK_FIELDS, set(self.todo["Task"]["required"]))
        self.assertEqual(smoke.TASK_FIELDS, set(self.todo["Task"]["properties"]))
        self.assertEqual(smoke.TASK_LIST_FIELDS, set(self.todo["TaskList"]["properties"]))

    def test_prediction_fields_are_the_contracts(self):
        fields = self.inference["PredictionFields"]
        self.assertEqual(smoke.PREDICTION_FIELDS, set(fields["required"]))
        self.assertEqual(
            smoke.PREDICTION_FIELDS | smoke.PREDICTION_OPTIONAL_FIELDS, set(fields["properties"])
        )
        extra = self.inference["PredictResponse"]["allOf"][1]
        self.assertEqual(smoke.ANSWER_FIELDS, set(extra["required"]))
        self.assertEqual(smoke.BATCH_FIELDS, set(self.inference["BatchResponse"]["required"]))
        self.assertEqual(smoke.TIMINGS_FIELDS, set(self.inference["Timings"]["required"]))
        self.assertEqual(
            list(smoke.FEATURE_SPEC_VERSIONS), self.inference["FeatureSpecVersion"]["enum"]
        )
        documented = set(self.inference["Features"]["properties"])
        self.assertEqual(
            smoke.VERSION_2_FEATURES, documented - set(self.inference["Features"]["required"])
        )
        reasons = fields["properties"]["fallbackReason"]["enum"]
        self.assertLessEqual(set(smoke.TRANSIENT_FALLBACK_REASONS), set(reasons))

    def test_feature_names_are_the_contracts_in_its_order(self):
        self.assertEqual(list(smoke.FEATURE_NAMES), self.inference["Features"]["required"])
        self.assertEqual(
            ["none", *smoke.ACTIVITY_TYPES],
            self.inference["Features"]["properties"]["last_event_type"]["enum"],
        )

    def test_the_defaults_are_the_contracts(self):
        seconds = self.inference["Features"]["properties"]["seconds_since_last_event"]
        self.assertEqual(smoke.MAX_SECONDS_SINCE_LAST_EVENT, seconds["maximum"])
        defaults = smoke.default_features()
        self.assertEqual(list(defaults), list(smoke.FEATURE_NAMES))
        self.assertEqual(defaults["last_event_type"], "none")

    def test_windows_and_session_gap_are_the_feature_specs(self):
        spec = FEATURE_SPEC.read_text(encoding="utf-8")
        self.assertIn("pub const SESSION_GAP_MS: i64 = 30 * MINUTE_MS;", spec)
        self.assertEqual(smoke.SESSION_GAP, datetime.timedelta(minutes=30))
        lengths = re.findall(r'name: "(\w+)",\s*length_ms: ([^,]+),', spec)
        self.assertEqual(
            lengths,
            [("5m", "5 * MINUTE_MS"), ("1h", "HOUR_MS"), ("24h", "DAY_MS")],
        )
        self.assertEqual(
            [length for _, length in smoke.WINDOWS],
            [
                datetime.timedelta(minutes=5),
                datetime.timedelta(hours=1),
                datetime.timedelta(days=1),
            ],
        )

    def test_activity_types_are_in_the_order_of_activity_type_all(self):
        events = EVENTS_RS.read_text(encoding="utf-8")
        block = re.search(r"pub const ALL: \[ActivityType; 6\] = \[(.*?)\];", events, re.S)
        variants = re.findall(r"ActivityType::(\w+)", block.group(1))
        snake = [re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower() for name in variants]
        self.assertEqual(snake, list(smoke.ACTIVITY_TYPES))


class ArgumentsTest(unittest.TestCase):
    def parse(self, *argv, environ=None):
        stderr = io.StringIO()
        with mock.patch.dict(os.environ, environ or {}, clear=True), contextlib.redirect_stderr(
            stderr
        ):
            try:
                return smoke.parse_args(list(argv)), stderr.getvalue()
            except SystemExit as exit:
                return exit.code, stderr.getvalue()

    def test_the_base_url_loses_its_trailing_slash_and_keeps_a_stage(self):
        self.assertEqual(smoke.api_base_url("http://127.0.0.1:3000/"), "http://127.0.0.1:3000")
        self.assertEqual(
            smoke.api_base_url("https://abc.execute-api.eu-west-1.amazonaws.com/prod/"),
            "https://abc.execute-api.eu-west-1.amazonaws.com/prod",
        )

    def test_urls_that_cannot_be_the_api_are_refused(self):
        for url in ("ftp://host", "127.0.0.1:3000", "http://", "http://h/?a=1", "http://h:x/"):
            with self.subTest(url=url), self.assertRaises(ValueError):
                smoke.api_base_url(url)

    def test_the_token_comes_from_the_option_or_the_environment(self):
        args, _ = self.parse("--api-url", "http://h", "--bus", "b", "--token", TOKEN)
        self.assertEqual(args.token, TOKEN)
        args, _ = self.parse(
            "--api-url", "http://h", "--bus", "b", environ={"SMOKE_TEST_TOKEN": TOKEN}
        )
        self.assertEqual(args.token, TOKEN)
        self.assertEqual(args.timeout, 120)
        self.assertEqual(args.user_prefix, "smoke-test")

    def test_without_a_token_it_refuses_to_run_and_says_where_to_get_one(self):
        code, stderr = self.parse("--api-url", "http://h", "--bus", "b")
        self.assertEqual(code, 2)
        self.assertIn("no token: pass --token or set SMOKE_TEST_TOKEN", stderr)
        self.assertIn("local-stack token", stderr)

    def test_bad_inputs_are_named(self):
        cases = [
            (["--token", "Bearer " + TOKEN], "without the 'Bearer ' prefix"),
            (["--token", "not-a-jwt"], "does not look like a JWT"),
            (["--token", TOKEN, "--timeout", "0"], "--timeout: '0': give a positive number"),
            (["--token", TOKEN, "--timeout", "soon"], "is not a number of seconds"),
            (["--token", TOKEN, "--user-prefix", "a b"], "--user-prefix: user ids may not"),
            (["--token", TOKEN, "--user-prefix", "p" * 112], "at most 111"),
        ]
        for extra, message in cases:
            with self.subTest(extra=extra):
                code, stderr = self.parse("--api-url", "http://h", "--bus", "b", *extra)
                self.assertEqual(code, 2)
                self.assertIn(message, stderr)


class AnswersTest(unittest.TestCase):
    def scored_example(self):
        """The contract's own example of a POST /predict answer."""
        inference = load_yaml(INFERENCE_OPENAPI)
        content = inference["paths"]["/predict"]["post"]["responses"]["200"]["content"]
        return content["application/json"]["examples"]["scored"]["value"]

    def task(self, **changes):
        task = {
            "id": "01KAT3W6N8V4J2G0Q5M7Y9XBCD",
            "task_name": "smoke test 1",
            "status": "Pending",
            "created_at": "2026-03-01T12:00:00.000Z",
            "updated_at": "2026-03-01T12:00:00.000Z",
            "version": 1,
        }
        task.update(changes)
        return task

    def test_a_task_as_the_contract_has_it_passes(self):
        self.assertEqual(smoke.task_problems(self.task(), "smoke test 1", "Pending", 1), [])

    def test_a_task_that_differs_is_described(self):
        problems = smoke.task_problems(
            self.task(version=True, status="Completed", created_at="yesterday", extra=1),
            "smoke test 1",
            "Pending",
            1,
        )
        self.assertEqual(problems, ["task has unexpected extra"])
        problems = smoke.task_problems(
            self.task(version=2, status="Completed", created_at="yesterday", id="x"),
            "smoke test 1",
            "Pending",
            1,
        )
        self.assertEqual(
            problems,
            [
                "id 'x' is not a ULID",
                "status 'Completed', expected 'Pending'",
                "version 2, expected 1",
                "created_at 'yesterday' is not an RFC 3339 date-time",
            ],
        )
        self.assertEqual(
            smoke.task_problems(self.task(version=True), "smoke test 1", "Pending", 1),
            ["version True, expected 1"],
        )

    def test_the_contracts_example_answer_passes(self):
        example = self.scored_example()
        self.assertEqual(smoke.predict_response_problems(example, "user-alice", True), [])

    def test_a_fallback_a_wrong_label_or_a_missing_field_fails(self):
        example = self.scored_example()
        fallback = dict(example, fallback=True, fallbackReason="model-timeout")
        self.assertEqual(
            smoke.predict_response_problems(fallback, "user-alice", True),
            ["the fallback score was given (model-timeout), not the model's"],
        )
        wrong_label = dict(example, label=True)
        self.assertEqual(
            smoke.predict_response_problems(wrong_label, "user-alice", True),
            ["label true for score 0.4854743382496446 and threshold 0.5"],
        )
        no_timings = {key: value for key, value in example.items() if key != "timings"}
        self.assertEqual(
            smoke.predict_response_problems(no_timings, "user-alice", True),
            ["answer lacks timings"],
        )
        self.assertEqual(
            smoke.predict_response_problems(example, "user-bob", False),
            ["userId 'user-alice', expected 'user-bob'", "featuresFound true, expected false"],
        )

    def test_only_throttling_unavailability_and_timeouts_are_asked_again(self):
        def answer(status, body=b"{}", headers=None):
            return smoke.Response("POST", "/predict", status, headers or {}, body)

        fallback = json.dumps({"fallback": True, "fallbackReason": "model-timeout"}).encode()
        model_error = json.dumps({"fallback": True, "fallbackReason": "model-error"}).encode()
        batch = json.dumps({"predictions": [{"fallback": False}, json.loads(fallback)]}).encode()
        self.assertTrue(smoke.is_transient(answer(504)))
        self.assertTrue(smoke.is_transient(answer(429)))
        self.assertTrue(smoke.is_transient(answer(200, fallback)))
        self.assertTrue(smoke.is_transient(answer(200, batch)))
        self.assertFalse(smoke.is_transient(answer(200, model_error)))
        self.assertFalse(smoke.is_transient(answer(502)))
        self.assertFalse(smoke.is_transient(answer(200, b"not json")))
        self.assertEqual(smoke.retry_delay(answer(503, headers={"Retry-After": "1"}), 3), 1)
        self.assertEqual(smoke.retry_delay(answer(503, headers={"Retry-After": "60"}), 0), 5)
        self.assertEqual(smoke.retry_delay(answer(504), 1), 2)

    def test_bodies_are_shown_on_one_line_and_cut(self):
        self.assertEqual(smoke.body_preview(b'{\n  "a": 1\n}'), '{ "a": 1 }')
        self.assertEqual(smoke.body_preview(b""), "(empty body)")
        self.assertEqual(smoke.body_preview("x" * 10, limit=4), "xxxx... (10 characters)")

    def test_transport_errors_are_said_in_a_few_words(self):
        refused = urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))
        self.assertEqual(smoke.describe_transport_error(refused, 35), "connection refused")
        self.assertEqual(
            smoke.describe_transport_error(TimeoutError("timed out"), 1.5),
            "no answer within 1.5 s",
        )


class EventsAndFeaturesTest(unittest.TestCase):
    def sent(self):
        _, sent = smoke.event_entries("bus", "u-1", "u-1-order", NOW)
        return sent

    def test_the_entries_are_three_activities_and_an_order_of_the_user(self):
        entries, sent = smoke.event_entries("my-bus", "u-1", "u-1-order", NOW)
        details = [json.loads(entry["Detail"]) for entry in entries]
        self.assertEqual({entry["EventBusName"] for entry in entries}, {"my-bus"})
        self.assertEqual(
            [(entry["Source"], entry["DetailType"]) for entry in entries],
            [("shop.web", "user_activity")] * 3 + [("shop.checkout", "order_placed")],
        )
        self.assertEqual([detail.get("userId") for detail in details], ["u-1"] * 4)
        self.assertEqual(
            [detail.get("type") for detail in details[:3]], ["view", "add_to_cart", "click"]
        )
        order = details[3]
        self.assertEqual(order["amount"], sum(item["price"] for item in order["items"]))
        self.assertEqual(
            set(order), {"orderId", "userId", "amount", "currency", "items", "timestamp"}
        )
        stamps = [smoke.parse_timestamp(detail["timestamp"]) for detail in details[:4]]
        self.assertEqual(stamps, sorted(stamps))
        self.assertEqual(stamps[-1], NOW)
        self.assertEqual([event.at for event in sent], stamps)
        self.assertEqual(
            [(event.activity_type, event.amount) for event in sent],
            [("view", 0), ("add_to_cart", 0), ("click", 0), ("purchase", order["amount"])],
        )

    def test_timestamps_are_utc_rfc3339_with_milliseconds(self):
        an_hour_east = datetime.timezone(datetime.timedelta(hours=1))
        moment = datetime.datetime(2026, 1, 2, 4, 4, 5, 6789, tzinfo=an_hour_east)
        self.assertEqual(smoke.rfc3339(moment), "2026-01-02T03:04:05.006Z")

    def test_soon_after_the_events_every_window_counts_them_all(self):
        expected = smoke.expected_features(self.sent(), NOW + datetime.timedelta(seconds=10))
        for window in ("5m", "1h", "24h"):
            self.assertEqual(expected[f"event_count_{window}"], 4)
            self.assertEqual(expected[f"purchase_count_{window}"], 1)
            self.assertEqual(expected[f"view_count_{window}"], 1)
            self.assertEqual(expected[f"login_count_{window}"], 0)
        self.assertEqual(expected["purchase_amount_24h"], 12.5)
        self.assertEqual(expected["last_event_type"], "purchase")
        self.assertEqual(expected["session_event_count"], 4)
        self.assertEqual(expected["sessions_started_24h"], 1)
        self.assertNotIn("seconds_since_last_event", expected)

    def test_windows_and_sessions_near_their_edge_are_not_checked(self):
        later = smoke.expected_features(
            self.sent(), NOW + datetime.timedelta(minutes=4, seconds=30)
        )
        self.assertNotIn("event_count_5m", later)
        self.assertEqual(later["event_count_1h"], 4)
        much_later = smoke.expected_features(self.sent(), NOW + datetime.timedelta(minutes=40))
        self.assertNotIn("session_event_count", much_later)
        self.assertEqual(much_later["last_event_type"], "purchase")

    def test_sessions_split_at_a_gap_of_thirty_minutes(self):
        minute = datetime.timedelta(minutes=1)
        events = [
            smoke.SentEvent("view", NOW),
            smoke.SentEvent("click", NOW + 29 * minute),
            smoke.SentEvent("login", NOW + 59 * minute),
            smoke.SentEvent("search", NOW + 60 * minute),
        ]
        expected = smoke.expected_features(events, NOW + 61 * minute)
        self.assertEqual(expected["sessions_started_24h"], 2)
        self.assertEqual(expected["session_event_count"], 2)
        self.assertEqual(expected["last_event_type"], "search")

    def test_differences_name_the_feature_with_what_was_expected(self):
        expected = {"event_count_5m": 4, "purchase_amount_24h": 12.5, "last_event_type": "click"}
        features = {"event_count_5m": 3, "purchase_amount_24h": 12.5000000001}
        self.assertEqual(
            smoke.feature_differences(expected, features),
            ["event_count_5m 3 (4)", 'last_event_type missing (click)'],
        )
        self.assertEqual(smoke.overcounted(expected, features), [])
        self.assertEqual(smoke.overcounted(expected, {"event_count_5m": 5}), ["event_count_5m"])

    def test_a_user_without_events_expects_the_defaults(self):
        self.assertEqual(smoke.expected_features([], NOW), smoke.default_features())


class EventBridgeTest(unittest.TestCase):
    """put_events against moto's in-process EventBridge."""

    def setUp(self):
        environ = {
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": "us-east-1",
        }
        patcher = mock.patch.dict(os.environ, environ)
        patcher.start()
        self.addCleanup(patcher.stop)
        for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EVENTBRIDGE", "AWS_DEFAULT_REGION"):
            os.environ.pop(name, None)
        mocked = mock_aws()
        mocked.start()
        self.addCleanup(mocked.stop)

    def test_accepted_entries_pass(self):
        import boto3

        boto3.client("events", region_name="us-east-1").create_event_bus(Name="smoke-events")
        entries, _ = smoke.event_entries("smoke-events", "u-1", "o-1", NOW)
        self.assertEqual(smoke.put_events(entries)["FailedEntryCount"], 0)

    def test_a_missing_bus_is_named_with_the_services_error(self):
        entries, _ = smoke.event_entries("no-such-bus", "u-1", "o-1", NOW)
        with self.assertRaises(smoke.StepFailed) as failure:
            smoke.put_events(entries)
        self.assertEqual(
            str(failure.exception),
            "EventBridge: ResourceNotFoundException Event bus no-such-bus does not exist.",
        )

    def test_without_a_region_it_says_which_variable_to_set(self):
        os.environ.pop("AWS_REGION")
        with mock.patch.dict(os.environ, {"AWS_CONFIG_FILE": os.devnull}):
            with self.assertRaises(smoke.StepFailed) as failure:
                smoke.put_events([])
        self.assertEqual(str(failure.exception), "EventBridge: no region; set AWS_REGION")

    def test_without_boto3_it_says_how_to_run_it(self):
        with mock.patch.dict(sys.modules, {"boto3": None}):
            with self.assertRaises(smoke.StepFailed) as failure:
                smoke.put_events([])
        self.assertIn("boto3 is not installed; run with .venv/bin/python", str(failure.exception))


class FakeApi:
    """The HTTP API as its contracts describe it, in memory: a JWT check that wants any bearer
    token, the todo routes (listing oldest first, two per page, so that finding the new task
    takes paging) and /predict for users without events. `broken` names a method whose
    answers are 500."""

    def __init__(self, broken=None):
        self.broken = broken
        self.tasks = {}
        for number in range(3):
            self.store({"task_name": f"older {number}"})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def store(self, body):
        task = {
            "id": new_ulid(),
            "task_name": body["task_name"],
            "status": body.get("status", "Pending"),
            "created_at": "2026-03-01T12:00:00.000Z",
            "updated_at": "2026-03-01T12:00:00.000Z",
            "version": 1,
        }
        self.tasks[task["id"]] = task
        return task

    def answer(self, method, path, headers, body):
        """(status, headers, JSON body) for one request."""
        if not headers.get("Authorization", "").startswith("Bearer "):
            return 401, {}, {"message": "Unauthorized"}
        if method == self.broken:
            return 500, {}, {"type": "about:blank", "title": "Internal", "status": 500,
                             "detail": "broken on purpose"}
        url = urllib.parse.urlsplit(path)
        parts = url.path.strip("/").split("/")
        if parts == ["tasks"] and method == "POST":
            task = self.store(body)
            return 201, {"ETag": '"1"', "Location": f"/tasks/{task['id']}"}, task
        if parts == ["tasks"] and method == "GET":
            offset = int(dict(urllib.parse.parse_qsl(url.query)).get("next", 0))
            tasks = list(self.tasks.values())
            following = offset + 2 if offset + 2 < len(tasks) else None
            return 200, {}, {"items": tasks[offset:offset + 2],
                             "next": None if following is None else str(following)}
        if len(parts) == 2 and parts[0] == "tasks":
            task = self.tasks.get(parts[1])
            if task is None:
                return 404, {}, {"type": "about:blank", "title": "Not Found", "status": 404,
                                 "detail": "no such task"}
            if_match = headers.get("If-Match")
            if if_match is not None and if_match != f'"{task["version"]}"':
                return 412, {}, {"type": "about:blank", "title": "Precondition Failed",
                                 "status": 412, "detail": "stale"}
            if method == "GET":
                return 200, {"ETag": f'"{task["version"]}"'}, task
            if method == "PUT":
                task.update(body, version=task["version"] + 1)
                return 200, {"ETag": f'"{task["version"]}"'}, task
            if method == "DELETE":
                del self.tasks[parts[1]]
                return 204, {}, None
        if parts == ["predict"] and method == "POST":
            return 200, {}, {
                "predictionId": new_ulid(),
                "userId": body["userId"],
                "score": 0.25,
                "label": False,
                "fallback": False,
                "featuresFound": False,
                "features": smoke.default_features(),
                "threshold": 0.5,
                "modelVersion": "fake",
                "featureSpecVersion": 1,
                "timings": {"featureReadMs": 1, "modelMs": 1, "overheadMs": 0, "totalMs": 2},
            }
        return 404, {}, {"message": "Not Found"}

    def handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def respond(self):
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length)) if length else None
                status, headers, answer = fake.answer(self.command, self.path, self.headers, body)
                data = b"" if answer is None else json.dumps(answer).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = respond

            def log_message(self, *args):
                pass

        return Handler


class WholeRunTest(unittest.TestCase):
    """main() against the fake API, with EventBridge mocked in-process."""

    def run_smoke_test(self, api_url, bus="smoke-events"):
        environ = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                   "AWS_REGION": "us-east-1"}
        out = io.StringIO()
        with mock.patch.dict(os.environ, environ), mock_aws():
            for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EVENTBRIDGE"):
                os.environ.pop(name, None)
            import boto3

            boto3.client("events", region_name="us-east-1").create_event_bus(Name="smoke-events")
            with contextlib.redirect_stdout(out):
                status = smoke.main(
                    ["--api-url", api_url, "--bus", bus, "--token", TOKEN, "--timeout", "1.5"]
                )
        return status, out.getvalue().splitlines()

    def start_api(self, broken=None):
        api = FakeApi(broken)
        self.addCleanup(api.close)
        return api

    CHECKS = [
        smoke.AUTHORIZER_CHECK,
        *(getattr(smoke.TodoChecks, name) for name in
          ("CREATE", "READ", "LIST", "UPDATE", "DELETE", "GONE", "CLEANUP")),
        *(getattr(smoke.ScoringChecks, name) for name in
          ("PREDICT_NEW", "PUT_EVENTS", "PIPELINE", "BATCH")),
    ]

    def outcomes(self, lines):
        """{check: "PASS" or the FAIL message} of a run's lines, which must all be verdicts
        but the first (what is tested) and the last (the totals)."""
        outcomes = {}
        for line in lines[1:-1]:
            passed = re.fullmatch(r"PASS (.+) \(\d+ ms\)", line)
            if passed and passed.group(1) in self.CHECKS:
                outcomes[passed.group(1)] = "PASS"
                continue
            # Longest first: "GET /tasks/{id} after DELETE" before "GET /tasks/{id}".
            for check in sorted(self.CHECKS, key=len, reverse=True):
                if line.startswith(f"FAIL {check}: "):
                    outcomes[check] = line[len(f"FAIL {check}: "):]
                    break
            else:
                self.fail(f"not a verdict on a known check: {line}")
        return outcomes

    def test_every_route_of_a_healthy_api_passes_and_the_pipeline_waits_its_timeout(self):
        api = self.start_api()
        status, lines = self.run_smoke_test(api.url)
        outcomes = self.outcomes(lines)
        for check in (
            smoke.AUTHORIZER_CHECK,
            "POST /tasks",
            "GET /tasks/{id}",
            "GET /tasks",
            "PUT /tasks/{id}",
            "DELETE /tasks/{id}",
            "GET /tasks/{id} after DELETE",
            "POST /predict (user without events)",
            "PutEvents",
        ):
            self.assertEqual(outcomes.get(check), "PASS", lines)
        # The fake never sees the events, so the features never come.
        pipeline = outcomes["pipeline: PutEvents to features in POST /predict"]
        self.assertRegex(pipeline, r"^expected features counting the 4 events of smoke-test-")
        self.assertIn("within 1.5 s; after", pipeline)
        self.assertIn("polls the last answer was: featuresFound false: 200 {", pipeline)
        self.assertEqual(
            outcomes["POST /predict/batch"],
            "skipped: pipeline: PutEvents to features in POST /predict failed",
        )
        self.assertEqual(lines[-1], "smoke test: 9 passed, 2 failed")
        self.assertEqual(status, 1)
        self.assertEqual(len(api.tasks), 3, "the new task is gone")

    def test_a_failing_route_shows_the_answer_and_the_task_is_cleaned_up(self):
        api = self.start_api(broken="PUT")
        status, lines = self.run_smoke_test(api.url, bus="no-such-bus")
        outcomes = self.outcomes(lines)
        self.assertEqual(
            outcomes["PUT /tasks/{id}"],
            'expected 200, got 500 {"type": "about:blank", "title": "Internal", "status": 500, '
            '"detail": "broken on purpose"}',
        )
        self.assertEqual(outcomes["DELETE /tasks/{id}"], "skipped: PUT /tasks/{id} failed")
        self.assertEqual(
            outcomes["GET /tasks/{id} after DELETE"], "skipped: DELETE /tasks/{id} failed"
        )
        self.assertEqual(outcomes["cleanup: DELETE /tasks/{id}"], "PASS")
        self.assertEqual(
            outcomes["PutEvents"],
            "EventBridge: ResourceNotFoundException Event bus no-such-bus does not exist.",
        )
        self.assertEqual(status, 1)
        self.assertEqual(len(api.tasks), 3, "the new task is gone")


class CommandLineTest(unittest.TestCase):
    """The script as a command: what the end-to-end suites run."""

    def run_script(self, *argv, environ=None):
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("AWS_", "SMOKE_TEST_"))}
        env.update(environ or {})
        return subprocess.run(
            [sys.executable, str(SCRIPT), *argv],
            capture_output=True, text=True, env=env, timeout=60, cwd=ROOT,
        )

    def test_a_stopped_stack_fails_every_check_without_a_stack_trace(self):
        port = closed_port()
        result = self.run_script(
            "--api-url", f"http://127.0.0.1:{port}", "--bus", "smoke-events",
            environ={
                "SMOKE_TEST_TOKEN": TOKEN,
                "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
                "AWS_ACCESS_KEY_ID": "test",
                "AWS_SECRET_ACCESS_KEY": "test",
                "AWS_REGION": "us-east-1",
            },
        )
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertEqual(result.stderr, "")
        lines = result.stdout.splitlines()
        self.assertTrue(all(line.startswith("FAIL ") for line in lines[1:-1]), lines)
        self.assertIn(
            f"FAIL POST /tasks: POST http://127.0.0.1:{port}/tasks: connection refused", lines
        )
        self.assertIn(
            f'FAIL PutEvents: EventBridge: Could not connect to the endpoint URL: '
            f'"http://127.0.0.1:{port}/"',
            lines,
        )
        self.assertEqual(lines[-1], "smoke test: 0 passed, 11 failed")

    def test_without_a_token_it_refuses_to_run(self):
        result = self.run_script("--api-url", "http://127.0.0.1:1", "--bus", "smoke-events")
        self.assertEqual(result.returncode, 2)
        self.assertEqual(result.stdout, "")
        self.assertIn("error: no token: pass --token or set SMOKE_TEST_TOKEN", result.stderr)

    def test_help_names_the_interface(self):
        result = self.run_script("--help")
        self.assertEqual(result.returncode, 0)
        for text in ("--api-url URL", "--bus NAME", "--token TOKEN", "--timeout SECONDS",
                     "--user-prefix P", "SMOKE_TEST_TOKEN", "AWS_ENDPOINT_URL"):
            self.assertIn(text, result.stdout)


if __name__ == "__main__":
    unittest.main()
