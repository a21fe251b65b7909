#!/usr/bin/env python3
"""Smoke test of a running stack, deployed or local: every entry point once, end to end.

Needs Python 3 and boto3 (the repository's .venv has it: tools/requirements.txt).
Run `tools/smoke-test.py --help` for what it checks and how to point it at a stack.
"""

import argparse
import datetime
import http.client
import json
import os
import re
import secrets
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

DESCRIPTION = """\
Smoke test of a running stack: calls every entry point once and prints one line per check,
`PASS <check> (<ms> ms)` or `FAIL <check>: <what was expected, what came back>`, then
`smoke test: N passed, M failed`. The exit status is 0 only if every check passed.

Checks, in order (a check whose prerequisite failed is reported as `FAIL ...: skipped`):
  1. the JWT authorizer: GET /tasks without a token is refused with 401;
  2. the todo API (functions/todo-api/openapi.yaml): POST /tasks, GET /tasks/{id}, GET /tasks
     (every page until the new task is listed), PUT /tasks/{id} with If-Match, DELETE
     /tasks/{id} with If-Match, then GET /tasks/{id} is 404. The task is deleted even when a
     check fails;
  3. POST /predict for a new user (<user-prefix>-<random hex>): scored by the model, no
     stored features (functions/inference/openapi.yaml);
  4. EventBridge PutEvents to the bus: view, add_to_cart and click activities and one order
     of that user; all accepted;
  5. the pipeline end to end: POST /predict is polled until the user's features count every
     valid event (the order as a purchase, with its amount), within --timeout. Its time is
     from the accepted PutEvents to the first answer showing all of them: EventBridge, SQS,
     event-router, Kinesis, stream-enrichment, Kinesis, feature-updates, DynamoDB, inference
     and the model endpoint;
  6. POST /predict/batch of that user and another new one: two predictions in order, the
     first with stored features, the second without.

The events go to EventBridge with boto3's credentials; the region is AWS_REGION, else
boto3's own chain (AWS_DEFAULT_REGION, the profile). AWS_ENDPOINT_URL (or
AWS_ENDPOINT_URL_EVENTBRIDGE) points boto3 at an emulator.
"""

EPILOG = """\
against a deployed stack (SAM outputs ApiUrl and EventsEventBusName; Terraform: api_url and
events_event_bus_name):
  SMOKE_TEST_TOKEN=$(aws cognito-idp initiate-auth ... --query AuthenticationResult.IdToken \\
      --output text) AWS_REGION=eu-west-1 \\
  tools/smoke-test.py --api-url https://abc123.execute-api.eu-west-1.amazonaws.com \\
      --bus todo-dev-events

against the local stack (`target/debug/local-stack up --port 0 --prefix smoke` prints the
HTTP API and emulator URLs; its bus is <prefix>-events):
  AWS_ENDPOINT_URL=http://127.0.0.1:<emulator port> AWS_REGION=us-east-1 \\
  AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \\
  .venv/bin/python tools/smoke-test.py --api-url http://127.0.0.1:<api port> \\
      --bus smoke-events --token "$(target/debug/local-stack token smoke-user)"

exit status: 0 every check passed, 1 a check failed, 2 bad arguments, 130 interrupted.
"""

TOKEN_VARIABLE = "SMOKE_TEST_TOKEN"
DEFAULT_TIMEOUT_SECONDS = 120.0
DEFAULT_USER_PREFIX = "smoke-test"

# API Gateway gives up on an integration after 30 s, so a longer wait would learn nothing more.
HTTP_TIMEOUT_SECONDS = 35.0
POLL_INTERVAL_SECONDS = 1.0
# A serverless model endpoint idle for a while takes a few seconds to start, which inference
# answers with 504 or 503 (or, with FALLBACK_SCORE set, a fallback score): a scoring check
# asks again for this long before it fails.
WARM_UP_SECONDS = 30.0
MAX_RETRY_DELAY_SECONDS = 5.0
TRANSIENT_STATUSES = (429, 503, 504)
TRANSIENT_FALLBACK_REASONS = ("model-timeout", "model-unavailable", "model-throttled")
BODY_PREVIEW_CHARS = 300
# Newest first, so the new task is normally on the first page; the cap only stops a cursor
# that never ends.
LISTING_PAGE_SIZE = 100
MAX_LISTING_PAGES = 100

# functions/inference/openapi.yaml: UserId is at most 128 characters; the random part is 16.
MAX_USER_PREFIX_CHARS = 128 - 1 - 16

ULID = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$")

# functions/todo-api/openapi.yaml, schema Task (additionalProperties: false).
TASK_FIELDS = frozenset({"id", "task_name", "status", "created_at", "updated_at", "version"})
TASK_LIST_FIELDS = frozenset({"items", "next"})

# functions/inference/openapi.yaml: PredictionFields, PredictResponse, BatchResponse, Timings.
PREDICTION_FIELDS = frozenset(
    {"predictionId", "userId", "score", "label", "fallback", "featuresFound", "features"}
)
PREDICTION_OPTIONAL_FIELDS = frozenset({"fallbackReason"})
ANSWER_FIELDS = frozenset({"threshold", "modelVersion", "featureSpecVersion", "timings"})
BATCH_FIELDS = ANSWER_FIELDS | {"predictions"}
TIMINGS_FIELDS = frozenset({"featureReadMs", "modelMs", "overheadMs", "totalMs"})
# The contract's FeatureSpecVersion: the versions shared/src/features/spec.rs knows. A stack
# answers the version its model was trained on (FEATURE_SPEC_VERSION of inference).
FEATURE_SPEC_VERSIONS = (1, 2)
# Columns version 2 appends to version 1's (FEATURE_NAMES): present in answers at version 2.
VERSION_2_FEATURES = frozenset({"seconds_since_open_cart"})

# The feature spec, shared/src/features/spec.rs: activity types in ActivityType::ALL order,
# windows with their lengths, the session gap and the defaults of a user without events.
ACTIVITY_TYPES = ("click", "view", "search", "add_to_cart", "purchase", "login")
WINDOWS = (
    ("5m", datetime.timedelta(minutes=5)),
    ("1h", datetime.timedelta(hours=1)),
    ("24h", datetime.timedelta(hours=24)),
)
SESSION_GAP = datetime.timedelta(minutes=30)
MAX_SECONDS_SINCE_LAST_EVENT = 30 * 86_400
NO_EVENT_TYPE = "none"
AMOUNT_TOLERANCE = 1e-6
# Events near a window's trailing edge may or may not be counted (bucket rounding, and the
# function's clock is not this machine's), so a window is checked only while every event is
# at least this far inside it.
EDGE_MARGIN = datetime.timedelta(seconds=60)


def feature_names():
    """Every feature, in the spec's column order."""
    names = []
    for window, _ in WINDOWS:
        names.append(f"event_count_{window}")
        names.extend(f"{activity}_count_{window}" for activity in ACTIVITY_TYPES)
    names += [
        "purchase_amount_24h",
        "seconds_since_last_event",
        "last_event_type",
        "session_event_count",
        "sessions_started_24h",
    ]
    return names


FEATURE_NAMES = tuple(feature_names())


def default_features():
    """The features of a user without stored data (the spec's defaults)."""
    features = {name: 0 for name in FEATURE_NAMES}
    features["purchase_amount_24h"] = 0.0
    features["seconds_since_last_event"] = MAX_SECONDS_SINCE_LAST_EVENT
    features["last_event_type"] = NO_EVENT_TYPE
    return features


class StepFailed(Exception):
    """A check saw something other than what it expected; the message says both."""


class RequestFailed(StepFailed):
    """An HTTP call got no answer at all (refused, timed out, reset)."""


# --- arguments -----------------------------------------------------------------------------


def api_base_url(text):
    """The API's base URL without a trailing slash; it may carry a stage path."""
    parsed = urllib.parse.urlsplit(text.strip())
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError(f"{text!r} is not an http:// or https:// URL with a host")
    if parsed.query or parsed.fragment:
        raise ValueError(f"{text!r} has a query or fragment; give the API's base URL")
    try:
        parsed.port
    except ValueError:
        raise ValueError(f"{text!r} has an invalid port") from None
    return urllib.parse.urlunsplit((parsed.scheme, parsed.netloc, parsed.path.rstrip("/"), "", ""))


def check_token(token):
    """The bearer token, or ValueError saying why it cannot be one."""
    if token.lower().startswith("bearer "):
        raise ValueError("give the JWT itself, without the 'Bearer ' prefix")
    if token.count(".") != 2 or any(ch.isspace() for ch in token):
        raise ValueError("it does not look like a JWT (three dot-separated parts, no spaces)")
    return token


def check_user_prefix(prefix):
    if not prefix:
        raise ValueError("it is empty")
    if len(prefix) > MAX_USER_PREFIX_CHARS:
        raise ValueError(f"it is {len(prefix)} characters; at most {MAX_USER_PREFIX_CHARS}")
    if any(ch.isspace() or not ch.isprintable() for ch in prefix):
        raise ValueError("user ids may not contain white space or control characters")
    return prefix


def positive_seconds(text):
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not seconds > 0 or seconds == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: give a positive number of seconds")
    return seconds


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="tools/smoke-test.py",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--api-url",
        required=True,
        metavar="URL",
        help="base URL of the HTTP API (SAM output ApiUrl, Terraform api_url; locally the "
        "banner's `HTTP API` URL)",
    )
    parser.add_argument(
        "--bus",
        required=True,
        metavar="NAME",
        help="the event bus name or ARN (SAM output EventsEventBusName, Terraform "
        "events_event_bus_name; locally <prefix>-events)",
    )
    parser.add_argument(
        "--token",
        metavar="TOKEN",
        help=f"a JWT the API's authorizer accepts (default: ${TOKEN_VARIABLE}); e.g. a "
        "Cognito ID token, or locally `target/debug/local-stack token <user>`",
    )
    parser.add_argument(
        "--timeout",
        type=positive_seconds,
        default=DEFAULT_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help="how long the events may take to show in the features (default: %(default)g)",
    )
    parser.add_argument(
        "--user-prefix",
        default=DEFAULT_USER_PREFIX,
        metavar="P",
        help="prefix of the users the test makes up, <P>-<random hex> (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    try:
        args.api_url = api_base_url(args.api_url)
    except ValueError as error:
        parser.error(f"--api-url: {error}")
    args.bus = args.bus.strip()
    if not args.bus:
        parser.error("--bus: give the event bus name")
    token = args.token if args.token is not None else os.environ.get(TOKEN_VARIABLE, "")
    token = token.strip()
    if not token:
        parser.error(
            f"no token: pass --token or set {TOKEN_VARIABLE} to a JWT the API accepts "
            "(locally: target/debug/local-stack token <user>; on AWS, e.g. a Cognito ID token)"
        )
    try:
        args.token = check_token(token)
    except ValueError as error:
        parser.error(f"the token: {error}")
    try:
        args.user_prefix = check_user_prefix(args.user_prefix)
    except ValueError as error:
        parser.error(f"--user-prefix: {error}")
    return args


# --- HTTP ----------------------------------------------------------------------------------


def body_preview(body, limit=BODY_PREVIEW_CHARS):
    """A response body on one line, cut at `limit` characters."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    text = " ".join(body.split())
    if not text:
        return "(empty body)"
    if len(text) > limit:
        return text[:limit] + f"... ({len(text)} characters)"
    return text


def describe_transport_error(error, timeout):
    """Why a request got no answer, in a few words."""
    reason = error.reason if isinstance(error, urllib.error.URLError) else error
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return f"no answer within {timeout:g} s"
    if isinstance(reason, socket.gaierror):
        return f"host name not resolved ({reason.strerror})"
    if isinstance(reason, http.client.RemoteDisconnected):
        return "connection closed without an answer"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason) or type(reason).__name__


@dataclass
class Response:
    method: str
    path: str
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def summary(self):
        return f"{self.status} {body_preview(self.body)}"

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            raise StepFailed(
                f"{self.method} {self.path}: expected a JSON body, got {self.summary()}"
            ) from None

    def expect(self, status):
        """The JSON body of an answer with `status`, or StepFailed showing what came."""
        if self.status != status:
            raise StepFailed(f"expected {status}, got {self.summary()}{hint(self.status)}")
        return self.json() if status != 204 else None


def is_transient(response):
    """Whether an answer may change by asking again shortly: throttled, unavailable, timed out,
    or scored by the fallback because the model endpoint was."""
    if response.status in TRANSIENT_STATUSES:
        return True
    if response.status != 200:
        return False
    try:
        body = json.loads(response.body)
    except ValueError:
        return False
    if not isinstance(body, dict):
        return False
    predictions = body.get("predictions")
    if not isinstance(predictions, list):
        predictions = [body]
    return any(
        isinstance(prediction, dict)
        and prediction.get("fallback") is True
        and prediction.get("fallbackReason") in TRANSIENT_FALLBACK_REASONS
        for prediction in predictions
    )


def retry_delay(response, attempt):
    """Seconds to wait before asking again: Retry-After when given, else doubling from 1 s."""
    try:
        delay = float(response.headers.get("Retry-After", ""))
    except ValueError:
        delay = 2.0**attempt
    return max(0.0, min(delay, MAX_RETRY_DELAY_SECONDS))


def hint(status):
    """What an answer usually means, where the body does not say."""
    if status == 401:
        return " (the token was refused: expired, or another issuer or audience?)"
    if status == 429:
        return " (throttled by the API stage)"
    return ""


class Api:
    def __init__(self, base_url, token):
        self.base_url = base_url
        self.token = token

    def call(self, method, path, body=None, headers=None, authorized=True, timeout=None):
        timeout = HTTP_TIMEOUT_SECONDS if timeout is None else timeout
        url = self.base_url + path
        request_headers = {"Accept": "application/json", "User-Agent": "smoke-test"}
        if authorized:
            request_headers["Authorization"] = f"Bearer {self.token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            request_headers["Content-Type"] = "application/json"
        request_headers.update(headers or {})
        request = urllib.request.Request(url, data=data, headers=request_headers, method=method)
        # Every status is an answer to check, so urllib's HTTPError is turned back into one.
        try:
            try:
                with urllib.request.urlopen(request, timeout=timeout) as answer:
                    return Response(method, path, answer.status, answer.headers, answer.read())
            except urllib.error.HTTPError as error:
                # Reading the body of a 4xx or 5xx may still time out: handled below.
                with error:
                    return Response(method, path, error.code, error.headers, error.read())
        except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
            raise RequestFailed(
                f"{method} {url}: {describe_transport_error(error, timeout)}"
            ) from None

    def call_patiently(self, method, path, body=None):
        """`call`, asked again while the answer is transient (is_transient), for at most
        WARM_UP_SECONDS; the last answer is returned either way."""
        deadline = time.monotonic() + WARM_UP_SECONDS
        attempt = 0
        while True:
            response = self.call(method, path, body)
            delay = retry_delay(response, attempt)
            if not is_transient(response) or time.monotonic() + delay > deadline:
                return response
            time.sleep(delay)
            attempt += 1


# --- checks of answers against the contracts ------------------------------------------------


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_integer(value):
    return isinstance(value, int) and not isinstance(value, bool)


def field_problems(body, required, optional=frozenset(), what="body"):
    """Missing and unexpected fields of a JSON object, per the contract."""
    if not isinstance(body, dict):
        return [f"{what} is not a JSON object"]
    problems = []
    missing = sorted(required - body.keys())
    if missing:
        problems.append(f"{what} lacks {', '.join(missing)}")
    unexpected = sorted(body.keys() - required - optional)
    if unexpected:
        problems.append(f"{what} has unexpected {', '.join(unexpected)}")
    return problems


def task_problems(task, task_name, status, version, task_id=None):
    """What is wrong with a Task (todo-api openapi.yaml) that should have these values."""
    problems = field_problems(task, TASK_FIELDS, what="task")
    if problems:
        return problems
    if task_id is not None and task["id"] != task_id:
        problems.append(f"id {task['id']!r}, expected {task_id!r}")
    elif not isinstance(task["id"], str) or not ULID.match(task["id"]):
        problems.append(f"id {task['id']!r} is not a ULID")
    if task["task_name"] != task_name:
        problems.append(f"task_name {task['task_name']!r}, expected {task_name!r}")
    if task["status"] != status:
        problems.append(f"status {task['status']!r}, expected {status!r}")
    if task["version"] != version or not is_integer(task["version"]):
        problems.append(f"version {task['version']!r}, expected {version}")
    for stamp in ("created_at", "updated_at"):
        if parse_timestamp(task[stamp]) is None:
            problems.append(f"{stamp} {task[stamp]!r} is not an RFC 3339 date-time")
    return problems


def etag_of(version):
    """The ETag of a task version: the version, quoted."""
    return f'"{version}"'


def parse_timestamp(value):
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def rfc3339(moment):
    """UTC, millisecond precision, `Z`: what shared/src/events.rs parses."""
    utc = moment.astimezone(datetime.timezone.utc)
    return utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def prediction_problems(prediction, user_id, features_found, optional=frozenset()):
    """What is wrong with one prediction (inference openapi.yaml, PredictionFields) of
    `user_id`, scored by the model, with or without stored features."""
    problems = field_problems(
        prediction, PREDICTION_FIELDS, PREDICTION_OPTIONAL_FIELDS | optional, what="prediction"
    )
    if problems:
        return problems
    if prediction["userId"] != user_id:
        problems.append(f"userId {prediction['userId']!r}, expected {user_id!r}")
    if not isinstance(prediction["predictionId"], str) or not ULID.match(
        prediction["predictionId"]
    ):
        problems.append(f"predictionId {prediction['predictionId']!r} is not a ULID")
    score = prediction["score"]
    if not is_number(score) or not 0 <= score <= 1:
        problems.append(f"score {score!r} is not in [0, 1]")
    if not isinstance(prediction["label"], bool):
        problems.append(f"label {prediction['label']!r} is not a boolean")
    if prediction["fallback"] is not False:
        reason = prediction.get("fallbackReason", "no reason given")
        problems.append(f"the fallback score was given ({reason}), not the model's")
    if prediction["featuresFound"] is not features_found:
        problems.append(
            f"featuresFound {json.dumps(prediction['featuresFound'])}, "
            f"expected {json.dumps(features_found)}"
        )
    features = prediction["features"]
    problems += field_problems(
        features, frozenset(FEATURE_NAMES), VERSION_2_FEATURES, what="features"
    )
    return problems


def answer_problems(answer):
    """What is wrong with the fields every /predict answer carries besides predictions."""
    problems = []
    threshold = answer["threshold"]
    if not is_number(threshold) or not 0 <= threshold <= 1:
        problems.append(f"threshold {threshold!r} is not in [0, 1]")
    if answer["modelVersion"] is not None and not isinstance(answer["modelVersion"], str):
        problems.append(f"modelVersion {answer['modelVersion']!r} is not a string or null")
    if answer["featureSpecVersion"] not in FEATURE_SPEC_VERSIONS:
        problems.append(
            f"featureSpecVersion {answer['featureSpecVersion']!r}, expected one of {FEATURE_SPEC_VERSIONS}"
        )
    timings = answer["timings"]
    timing_problems = field_problems(timings, TIMINGS_FIELDS, what="timings")
    if not timing_problems:
        timing_problems = [
            f"timings.{name} {timings[name]!r} is not a number >= 0"
            for name in sorted(TIMINGS_FIELDS)
            if not is_number(timings[name]) or timings[name] < 0
        ]
    return problems + timing_problems


def label_problems(prediction, threshold):
    """The label must be `score >= threshold`."""
    if not is_number(threshold) or not is_number(prediction.get("score")):
        return []
    if prediction.get("label") is not (prediction["score"] >= threshold):
        return [
            f"label {json.dumps(prediction.get('label'))} for score {prediction['score']} "
            f"and threshold {threshold}"
        ]
    return []


def predict_response_problems(answer, user_id, features_found):
    """What is wrong with a POST /predict answer (PredictResponse)."""
    problems = field_problems(
        answer, PREDICTION_FIELDS | ANSWER_FIELDS, PREDICTION_OPTIONAL_FIELDS, what="answer"
    )
    if problems:
        return problems
    problems = prediction_problems(answer, user_id, features_found, optional=ANSWER_FIELDS)
    if problems:
        return problems
    return answer_problems(answer) + label_problems(answer, answer["threshold"])


# --- events and the features they must produce ---------------------------------------------


@dataclass(frozen=True)
class SentEvent:
    """A valid event as the features see it: its activity type, event time and amount."""

    activity_type: str
    at: datetime.datetime
    amount: float = 0.0


def event_entries(bus, user_id, order_id, now):
    """PutEvents entries for `user_id` and the activities they must count as.

    Three activities and an order, a second apart and ending at `now`, so the order is the
    newest event. Nothing invalid: a reject would wait in the rejects queue and set off its
    alarm on every run."""
    activities = ("view", "add_to_cart", "click")
    order_amount = 12.5
    start = now - datetime.timedelta(seconds=len(activities))
    entries = []
    sent = []
    for offset, activity in enumerate(activities):
        at = start + datetime.timedelta(seconds=offset)
        detail = {
            "userId": user_id,
            "type": activity,
            "itemId": "sku-smoke-1",
            "timestamp": rfc3339(at),
        }
        entries.append(entry(bus, "shop.web", "user_activity", detail))
        sent.append(SentEvent(activity, at))
    order = {
        "orderId": order_id,
        "userId": user_id,
        "amount": order_amount,
        "currency": "EUR",
        "items": [{"itemId": "sku-smoke-1", "quantity": 1, "price": order_amount}],
        "timestamp": rfc3339(now),
    }
    entries.append(entry(bus, "shop.checkout", "order_placed", order))
    # event-router writes an order to the activity stream as a `purchase` with the order's
    # amount (OrderPlaced::as_activity in shared/src/events.rs), so it counts as one.
    sent.append(SentEvent("purchase", now, order_amount))
    return entries, sent


def entry(bus, source, detail_type, detail):
    return {
        "EventBusName": bus,
        "Source": source,
        "DetailType": detail_type,
        "Detail": json.dumps(detail),
    }


def sessions_of(times):
    """Session spans (first, last, events) of event times, split at gaps of SESSION_GAP."""
    sessions = []
    for at in sorted(times):
        if sessions and at - sessions[-1][1] < SESSION_GAP:
            first, _, count = sessions[-1]
            sessions[-1] = (first, at, count + 1)
        else:
            sessions.append((at, at, 1))
    return sessions


def expected_features(events, read_time):
    """The features `events` must produce when read at `read_time`, as far as they are
    certain: windows near whose trailing edge an event lies are left out (see EDGE_MARGIN),
    and so is seconds_since_last_event, which depends on the function's clock."""
    if not events:
        return default_features()
    expected = {}
    oldest = min(event.at for event in events)
    newest = max(event.at for event in events)
    for window, length in WINDOWS:
        if read_time - oldest > length - EDGE_MARGIN:
            continue
        expected[f"event_count_{window}"] = len(events)
        for activity in ACTIVITY_TYPES:
            expected[f"{activity}_count_{window}"] = sum(
                1 for event in events if event.activity_type == activity
            )
    day = WINDOWS[-1][1]
    if read_time - oldest <= day - EDGE_MARGIN:
        expected["purchase_amount_24h"] = sum(
            event.amount for event in events if event.activity_type == "purchase"
        )
        expected["sessions_started_24h"] = len(sessions_of([event.at for event in events]))
    expected["last_event_type"] = max(events, key=lambda event: event.at).activity_type
    last_session = sessions_of([event.at for event in events])[-1]
    if read_time - newest <= SESSION_GAP - EDGE_MARGIN:
        expected["session_event_count"] = last_session[2]
    return expected


def feature_differences(expected, features):
    """`name actual (expected)` for every expected feature the answer does not match."""
    differences = []
    for name, want in expected.items():
        if name not in features:
            differences.append(f"{name} missing ({want})")
            continue
        got = features[name]
        if is_number(want) and is_number(got):
            same = abs(got - want) <= AMOUNT_TOLERANCE
        else:
            same = got == want
        if not same:
            differences.append(f"{name} {json.dumps(got)} ({json.dumps(want)})")
    return differences


def overcounted(expected, features):
    """Numeric features already above what the sent events can explain: they will not come
    down by waiting (a double count, or another producer using the same user id)."""
    return [
        name
        for name, want in expected.items()
        if is_number(want)
        and is_number(features.get(name))
        and features[name] > want + AMOUNT_TOLERANCE
    ]


# --- EventBridge -----------------------------------------------------------------------------


def describe_aws_error(error):
    from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError

    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return f"EventBridge: {details.get('Code', 'error')} {details.get('Message', '')}".rstrip()
    if isinstance(error, NoRegionError):
        return "EventBridge: no region; set AWS_REGION"
    if isinstance(error, NoCredentialsError):
        return (
            "EventBridge: no AWS credentials "
            "(a profile, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
        )
    return f"EventBridge: {error}"


def put_events(entries):
    """Puts `entries` on EventBridge; StepFailed unless every one was accepted."""
    # Imported here, so that the HTTP checks (and --help) run where boto3 is missing and
    # this check says so.
    try:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:
        raise StepFailed(
            "EventBridge: boto3 is not installed; run with .venv/bin/python "
            "(tools/requirements.txt)"
        ) from None
    config = Config(
        connect_timeout=10,
        read_timeout=20,
        retries={"max_attempts": 3, "mode": "standard"},
    )
    try:
        # botocore reads AWS_DEFAULT_REGION but not AWS_REGION, which the other SDKs, the AWS
        # CLI and Lambda use; honour it first so one variable serves every tool.
        events = boto3.client(
            "events", region_name=os.environ.get("AWS_REGION") or None, config=config
        )
        answer = events.put_events(Entries=entries)
    except (BotoCoreError, ClientError) as error:
        raise StepFailed(describe_aws_error(error)) from None
    failed = answer.get("FailedEntryCount", 0)
    if failed:
        reasons = sorted(
            {
                f"{item.get('ErrorCode', '?')} {item.get('ErrorMessage', '')}".rstrip()
                for item in answer.get("Entries", [])
                if "ErrorCode" in item
            }
        )
        raise StepFailed(
            f"EventBridge: expected FailedEntryCount 0, got {failed} of {len(entries)}: "
            + "; ".join(reasons)
        )
    return answer


# --- the run -------------------------------------------------------------------------------


class Report:
    """Prints one line per check as it ends and remembers which passed."""

    def __init__(self, out=None):
        self.out = out if out is not None else sys.stdout
        self.passed = 0
        self.failed = 0
        self.outcomes = {}

    def run(self, name, check, needs=()):
        """Runs `check` as the check `name`; its result, or None when it failed or was skipped
        because a check it needs did not pass."""
        for prerequisite in needs:
            if not self.outcomes.get(prerequisite):
                self.fail(name, f"skipped: {prerequisite} failed")
                return None
        started = time.monotonic()
        try:
            result = check()
        except StepFailed as error:
            self.fail(name, str(error))
            return None
        elapsed_ms = (time.monotonic() - started) * 1000
        self.passed += 1
        self.outcomes[name] = True
        self.print(f"PASS {name} ({elapsed_ms:.0f} ms)")
        return result

    def fail(self, name, message):
        self.failed += 1
        self.outcomes[name] = False
        self.print(f"FAIL {name}: {message}")

    def print(self, line):
        print(line, file=self.out, flush=True)


def fail_on(problems, response=None):
    if problems:
        shown = f"; got {response.summary()}" if response is not None else ""
        raise StepFailed("; ".join(problems) + shown)


class TodoChecks:
    """Every route of the todo API on one new task, which is deleted whatever happens."""

    CREATE = "POST /tasks"
    READ = "GET /tasks/{id}"
    LIST = "GET /tasks"
    UPDATE = "PUT /tasks/{id}"
    DELETE = "DELETE /tasks/{id}"
    GONE = "GET /tasks/{id} after DELETE"
    CLEANUP = "cleanup: DELETE /tasks/{id}"

    def __init__(self, api, report, task_name):
        self.api = api
        self.report = report
        self.task_name = task_name
        self.task_id = None
        self.deleted = False

    def run(self):
        try:
            self.report.run(self.CREATE, self.create)
            self.report.run(self.READ, self.read, needs=[self.CREATE])
            self.report.run(self.LIST, self.find_in_listing, needs=[self.CREATE])
            self.report.run(self.UPDATE, self.update, needs=[self.CREATE])
            self.report.run(self.DELETE, self.delete, needs=[self.UPDATE])
            self.report.run(self.GONE, self.read_deleted, needs=[self.DELETE])
        finally:
            if self.task_id is not None and not self.deleted:
                self.report.run(self.CLEANUP, self.clean_up)

    def path(self):
        return f"/tasks/{self.task_id}"

    def create(self):
        response = self.api.call("POST", "/tasks", {"task_name": self.task_name})
        task = response.expect(201)
        if isinstance(task, dict) and isinstance(task.get("id"), str):
            # Known as soon as it exists, so that it is cleaned up whatever fails next.
            self.task_id = task["id"]
        fail_on(task_problems(task, self.task_name, "Pending", 1), response)
        problems = etag_problems(response, 1)
        location = response.headers.get("Location")
        if location is not None and not location.endswith(self.path()):
            problems.append(f"Location {location!r}, expected one ending in {self.path()}")
        fail_on(problems)

    def read(self):
        response = self.api.call("GET", self.path())
        task = response.expect(200)
        fail_on(task_problems(task, self.task_name, "Pending", 1, self.task_id), response)
        fail_on(etag_problems(response, 1))

    def find_in_listing(self):
        cursor = None
        seen_cursors = set()
        listed = 0
        for _ in range(MAX_LISTING_PAGES):
            query = {"limit": LISTING_PAGE_SIZE}
            if cursor is not None:
                query["next"] = cursor
            path = "/tasks?" + urllib.parse.urlencode(query)
            response = self.api.call("GET", path)
            page = response.expect(200)
            fail_on(field_problems(page, TASK_LIST_FIELDS, what="page"), response)
            if not isinstance(page["items"], list):
                raise StepFailed(f"items is not a list; got {response.summary()}")
            listed += len(page["items"])
            for task in page["items"]:
                if isinstance(task, dict) and task.get("id") == self.task_id:
                    fail_on(task_problems(task, self.task_name, "Pending", 1, self.task_id))
                    return
            cursor = page["next"]
            if cursor is None:
                raise StepFailed(f"task {self.task_id} is not among the {listed} tasks listed")
            if not isinstance(cursor, str) or cursor in seen_cursors:
                raise StepFailed(f"next {cursor!r} is not a new cursor string")
            seen_cursors.add(cursor)
        raise StepFailed(
            f"task {self.task_id} is not in the first {MAX_LISTING_PAGES} pages ({listed} tasks)"
        )

    def update(self):
        response = self.api.call(
            "PUT", self.path(), {"status": "Completed"}, headers={"If-Match": etag_of(1)}
        )
        task = response.expect(200)
        fail_on(task_problems(task, self.task_name, "Completed", 2, self.task_id), response)
        fail_on(etag_problems(response, 2))

    def delete(self):
        response = self.api.call("DELETE", self.path(), headers={"If-Match": etag_of(2)})
        response.expect(204)
        self.deleted = True

    def read_deleted(self):
        response = self.api.call("GET", self.path())
        if response.status != 404:
            raise StepFailed(f"expected 404, got {response.summary()}")

    def clean_up(self):
        # Without If-Match: whatever version a failed check left, the task goes.
        response = self.api.call("DELETE", self.path())
        if response.status not in (204, 404):
            raise StepFailed(
                f"task {self.task_id} ({self.task_name!r}) may be left behind: "
                f"expected 204, got {response.summary()}"
            )
        self.deleted = True


def etag_problems(response, version):
    etag = response.headers.get("ETag")
    if etag != etag_of(version):
        return [f"ETag {etag!r}, expected {etag_of(version)!r}"]
    return []


class ScoringChecks:
    """/predict for a new user, the events of that user, the pipeline, /predict/batch."""

    PREDICT_NEW = "POST /predict (user without events)"
    PUT_EVENTS = "PutEvents"
    PIPELINE = "pipeline: PutEvents to features in POST /predict"
    BATCH = "POST /predict/batch"

    def __init__(self, api, report, bus, user_id, other_user_id, timeout):
        self.api = api
        self.report = report
        self.bus = bus
        self.user_id = user_id
        self.other_user_id = other_user_id
        self.timeout = timeout
        self.sent = []

    def run(self):
        self.report.run(self.PREDICT_NEW, self.predict_new_user)
        self.report.run(self.PUT_EVENTS, self.put_events)
        self.report.run(
            self.PIPELINE, self.wait_for_features, needs=[self.PUT_EVENTS, self.PREDICT_NEW]
        )
        self.report.run(self.BATCH, self.predict_batch, needs=[self.PIPELINE])

    def predict_new_user(self):
        response = self.api.call_patiently("POST", "/predict", {"userId": self.user_id})
        answer = response.expect(200)
        fail_on(predict_response_problems(answer, self.user_id, False), response)
        fail_on(defaults_problems(answer["features"]))

    def put_events(self):
        now = datetime.datetime.now(datetime.timezone.utc)
        order_id = f"{self.user_id}-order"
        entries, self.sent = event_entries(self.bus, self.user_id, order_id, now)
        put_events(entries)

    def wait_for_features(self):
        deadline = time.monotonic() + self.timeout
        polls = 0
        last_answer = "none"
        while True:
            polls += 1
            remaining = deadline - time.monotonic()
            try:
                response = self.api.call(
                    "POST",
                    "/predict",
                    {"userId": self.user_id},
                    timeout=max(1.0, min(HTTP_TIMEOUT_SECONDS, remaining)),
                )
            except RequestFailed as error:
                # A transient gap in the API should not end the wait; the deadline does.
                last_answer = str(error)
            else:
                done, last_answer = self.features_complete(response)
                if done:
                    return
            if time.monotonic() >= deadline:
                raise StepFailed(
                    f"expected features counting the {len(self.sent)} events of "
                    f"{self.user_id} within {self.timeout:g} s; after {polls} polls the "
                    f"last answer was: {last_answer}"
                )
            time.sleep(max(0.0, min(POLL_INTERVAL_SECONDS, deadline - time.monotonic())))

    def features_complete(self, response):
        """Whether the answer shows every sent event, and what it showed otherwise."""
        if response.status != 200:
            return False, response.summary() + hint(response.status)
        try:
            answer = json.loads(response.body)
        except ValueError:
            return False, f"not JSON: {response.summary()}"
        if not isinstance(answer, dict) or answer.get("featuresFound") is not True:
            found = answer.get("featuresFound") if isinstance(answer, dict) else None
            return False, f"featuresFound {json.dumps(found)}: {response.summary()}"
        # Anything else amiss (a fallback score while the endpoint warms up, say) may pass;
        # the deadline decides, and the message shows the last answer.
        problems = predict_response_problems(answer, self.user_id, True)
        if problems:
            return False, "; ".join(problems) + f"; {response.summary()}"
        expected = expected_features(self.sent, datetime.datetime.now(datetime.timezone.utc))
        too_many = overcounted(expected, answer["features"])
        if too_many:
            raise StepFailed(
                "more counted than was sent (an event applied twice?), features (expected): "
                + ", ".join(
                    feature_differences(
                        {name: expected[name] for name in too_many}, answer["features"]
                    )
                )
            )
        differences = feature_differences(expected, answer["features"])
        if differences:
            return False, "features (expected): " + ", ".join(differences)
        return True, ""

    def predict_batch(self):
        users = [self.user_id, self.other_user_id]
        response = self.api.call_patiently(
            "POST", "/predict/batch", {"users": [{"userId": user} for user in users]}
        )
        answer = response.expect(200)
        fail_on(field_problems(answer, BATCH_FIELDS, what="answer"), response)
        predictions = answer["predictions"]
        if not isinstance(predictions, list) or len(predictions) != len(users):
            raise StepFailed(f"expected {len(users)} predictions; got {response.summary()}")
        first, second = predictions
        problems = answer_problems(answer)
        problems += numbered(0, prediction_problems(first, self.user_id, True))
        problems += numbered(1, prediction_problems(second, self.other_user_id, False))
        fail_on(problems, response)
        now = datetime.datetime.now(datetime.timezone.utc)
        expected = expected_features(self.sent, now)
        problems = numbered(0, feature_differences(expected, first["features"]))
        problems += numbered(1, defaults_problems(second["features"]))
        for index, prediction in enumerate(predictions):
            problems += numbered(index, label_problems(prediction, answer["threshold"]))
        fail_on(problems, response)


def numbered(index, problems):
    """Problems of the batch's prediction `index`, saying which it is."""
    return [f"predictions[{index}]: {problem}" for problem in problems]


def defaults_problems(features):
    differences = feature_differences(default_features(), features)
    if differences:
        return [
            "features of a user without events are not the defaults (expected): "
            + ", ".join(differences)
        ]
    return []


AUTHORIZER_CHECK = "GET /tasks without a token (authorizer)"


def main(argv=None):
    args = parse_args(argv)
    run_id = secrets.token_hex(8)
    user_id = f"{args.user_prefix}-{run_id}"
    other_user_id = f"{args.user_prefix}-{secrets.token_hex(8)}"
    task_name = f"smoke test {run_id}"
    api = Api(args.api_url, args.token)
    report = Report()
    report.print(
        f"smoke test of {args.api_url}, bus {args.bus}: user {user_id}, task {task_name!r}"
    )
    try:
        report.run(AUTHORIZER_CHECK, lambda: unauthorized_is_refused(api))
        TodoChecks(api, report, task_name).run()
        ScoringChecks(api, report, args.bus, user_id, other_user_id, args.timeout).run()
    except KeyboardInterrupt:
        report.print(f"smoke test: interrupted ({report.passed} passed, {report.failed} failed)")
        return 130
    report.print(f"smoke test: {report.passed} passed, {report.failed} failed")
    return 0 if report.failed == 0 else 1


def unauthorized_is_refused(api):
    response = api.call("GET", "/tasks", authorized=False)
    if response.status != 401:
        raise StepFailed(f"expected 401, got {response.summary()}")


if __name__ == "__main__":
    sys.exit(main())
