//! A fault-injecting proxy between the functions and the AWS emulator. With fault injection on,
//! each function gets its own proxy (so faults and crashes are told apart per function) as its
//! `AWS_ENDPOINT_URL`; the proxy forwards every request to the emulator unless its plan draws a
//! fault for it:
//!
//! - **throttled**: the service's own throttling error (DynamoDB's and Kinesis's
//!   `ProvisionedThroughputExceededException`, SQS's `RequestThrottled`), as AWS answers it;
//! - **server error**: a 500 or a 503;
//! - **slow**: forwarded, then answered up to [`FaultPlan::slowest`] late; past the SDK's attempt
//!   timeout the call is retried although it took effect;
//! - **dropped**: the connection closes before the request is forwarded;
//! - **dropped after forwarding**: the request takes effect and its answer is lost, so the
//!   retry repeats a write that already happened.
//!
//! A crash schedule kills the function's busy process right after forwarding its k-th request
//! since the last crash: the write took effect, the process never learns it, and the event
//! source delivers the batch again to a new process. Points 1, 2, 3, ... interrupt successive
//! batches ever later in their run of requests. A kill point may also count only the requests
//! of one operation ([`KillPoint::after`]): right after a stream function's first
//! `BatchWriteItem` (its spill of applied ids), say, before the state writes that follow it.
//!
//! With a latency model ([`FaultProxy::set_latency`]), a forwarded call is answered no sooner
//! than a latency drawn for its service ([`crate::latency`]): AWS in a region, in front of the
//! emulator.
//!
//! Faults are drawn from a seeded generator: the same seed draws the same sequence.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, HOST, TRANSFER_ENCODING};
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::functions::FunctionPool;
use crate::http_server::{self, DropConnection};
use crate::latency::LatencyModel;

/// How long a crashed call is held open: the process is gone well before.
const CRASH_HOLD: Duration = Duration::from_secs(10);
/// The shortest delay of a slow answer.
const SLOWEST_FLOOR: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Throttled,
    ServerError,
    Slow,
    Dropped,
    DroppedAfterForwarding,
}

impl Fault {
    pub const ALL: [Fault; 5] = [
        Fault::Throttled,
        Fault::ServerError,
        Fault::Slow,
        Fault::Dropped,
        Fault::DroppedAfterForwarding,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Fault::Throttled => "throttled",
            Fault::ServerError => "server errors",
            Fault::Slow => "slow",
            Fault::Dropped => "dropped",
            Fault::DroppedAfterForwarding => "dropped after forwarding",
        }
    }

    fn index(self) -> usize {
        Fault::ALL.iter().position(|f| *f == self).expect("listed")
    }
}

/// What share of requests get a fault (each kind equally likely), and how late a slow answer
/// may come.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaultPlan {
    pub rate: f64,
    pub slowest: Duration,
}

impl FaultPlan {
    /// Every request forwarded untouched.
    pub const NONE: FaultPlan = FaultPlan {
        rate: 0.0,
        slowest: SLOWEST_FLOOR,
    };
}

/// What a proxy did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FaultCounts {
    pub requests: u64,
    /// Per kind, in the order of [`Fault::ALL`].
    pub faults: [u64; 5],
    /// Processes killed in the middle of an invocation.
    pub crashes: u64,
}

impl FaultCounts {
    pub fn of(&self, fault: Fault) -> u64 {
        self.faults[fault.index()]
    }

    /// Faults and crashes, all told.
    pub fn injected(&self) -> u64 {
        self.faults.iter().sum::<u64>() + self.crashes
    }

    pub fn add(&mut self, other: &FaultCounts) {
        self.requests += other.requests;
        for (sum, count) in self.faults.iter_mut().zip(other.faults) {
            *sum += count;
        }
        self.crashes += other.crashes;
    }

    /// What happened since `earlier`, a snapshot of the same counts.
    pub fn subtract(&mut self, earlier: &FaultCounts) {
        self.requests -= earlier.requests;
        for (count, before) in self.faults.iter_mut().zip(earlier.faults) {
            *count -= before;
        }
        self.crashes -= earlier.crashes;
    }

    /// `1234 requests, 12 faults (...)`
    pub fn render(&self) -> String {
        let kinds: Vec<String> = Fault::ALL
            .iter()
            .map(|fault| format!("{} {}", self.of(*fault), fault.label()))
            .collect();
        format!(
            "{} requests, {} faults ({}), {} processes killed mid-invocation",
            self.requests,
            self.faults.iter().sum::<u64>(),
            kinds.join(", "),
            self.crashes
        )
    }
}

/// A scheduled kill of the function's busy process: at the `nth` request since the previous
/// kill (or since the schedule was set), counting only the requests of `operation` when one is
/// named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KillPoint {
    /// The operation counted, as the request's `X-Amz-Target` names it after the dot
    /// (`BatchWriteItem`, `PutRecords`); `None`: every request.
    pub operation: Option<String>,
    pub nth: u64,
    /// Whether the request is forwarded first (it takes effect, the process never hears) or
    /// never reaches the service.
    pub after_forwarding: bool,
}

impl KillPoint {
    /// Right after the `nth` request of any kind took effect.
    pub fn any(nth: u64) -> Self {
        Self {
            operation: None,
            nth,
            after_forwarding: true,
        }
    }

    /// Right after the `nth` request of `operation` took effect.
    pub fn after(operation: &str, nth: u64) -> Self {
        Self {
            operation: Some(operation.to_owned()),
            nth,
            after_forwarding: true,
        }
    }

    /// Right before the `nth` request of `operation` would have reached the service.
    pub fn before(operation: &str, nth: u64) -> Self {
        Self {
            after_forwarding: false,
            ..Self::after(operation, nth)
        }
    }

    /// Whether a request of `operation` counts towards this point.
    fn counts(&self, operation: Option<&str>) -> bool {
        self.operation
            .as_deref()
            .is_none_or(|wanted| Some(wanted) == operation)
    }

    /// Why the process was killed, for its log.
    fn reason(&self) -> String {
        let request = match &self.operation {
            Some(operation) => format!("{operation} request {}", self.nth),
            None => format!("request {}", self.nth),
        };
        if self.after_forwarding {
            format!(
                "killed by the fault proxy right after its {request} since the last kill took effect"
            )
        } else {
            format!(
                "killed by the fault proxy right before its {request} since the last kill reached the service"
            )
        }
    }
}

/// What to do with one request.
#[derive(Debug, Clone, PartialEq)]
enum Action {
    /// Forwarded, and answered no sooner than this after it arrived.
    Forward {
        answer_after: Duration,
    },
    Inject {
        fault: Fault,
        delay: Duration,
        variant: bool,
    },
    Crash {
        point: KillPoint,
    },
}

/// The plan, its generator and the kill schedule: decides each request's fate.
struct Control {
    plan: FaultPlan,
    latency: Option<LatencyModel>,
    rng: StdRng,
    crash_points: VecDeque<KillPoint>,
    /// Requests counted towards the next point since the last kill.
    since_crash: u64,
    counts: FaultCounts,
}

impl Control {
    fn new(seed: u64) -> Self {
        Self {
            plan: FaultPlan::NONE,
            latency: None,
            rng: StdRng::seed_from_u64(seed),
            crash_points: VecDeque::new(),
            since_crash: 0,
            counts: FaultCounts::default(),
        }
    }

    /// The fate of the next request, `target` its `X-Amz-Target` (`None`: not named).
    fn next(&mut self, target: Option<&str>) -> Action {
        let operation = target
            .and_then(|target| target.rsplit_once('.'))
            .map(|(_, operation)| operation);
        self.counts.requests += 1;
        if let Some(point) = self.crash_points.front()
            && point.counts(operation)
        {
            self.since_crash += 1;
            if self.since_crash >= point.nth {
                let point = self.crash_points.pop_front().expect("a front point");
                self.since_crash = 0;
                return Action::Crash { point };
            }
        }
        if self.plan.rate <= 0.0 || !self.rng.random_bool(self.plan.rate.min(1.0)) {
            let answer_after = match self.latency.as_ref().and_then(|model| model.of(target)) {
                Some(latency) => latency.draw(&mut self.rng),
                None => Duration::ZERO,
            };
            return Action::Forward { answer_after };
        }
        let fault = Fault::ALL[self.rng.random_range(0..Fault::ALL.len())];
        let slowest = self.plan.slowest.max(SLOWEST_FLOOR);
        let delay = self.rng.random_range(SLOWEST_FLOOR..=slowest);
        let variant = self.rng.random_bool(0.5);
        self.counts.faults[fault.index()] += 1;
        Action::Inject {
            fault,
            delay,
            variant,
        }
    }
}

/// A crash point taken by a request: unless [`CrashPoint::used`], it goes back to the schedule
/// when dropped, also when the request is abandoned on the way (a killed process's connections
/// close, and their requests with them).
struct CrashPoint<'a> {
    control: &'a Mutex<Control>,
    point: Option<KillPoint>,
}

impl<'a> CrashPoint<'a> {
    fn taken(control: &'a Mutex<Control>, point: KillPoint) -> Self {
        Self {
            control,
            point: Some(point),
        }
    }

    fn used(mut self) {
        self.point = None;
    }
}

impl Drop for CrashPoint<'_> {
    fn drop(&mut self) {
        if let Some(point) = self.point.take() {
            self.control.lock().unwrap().missed_crash(point);
        }
    }
}

impl Control {
    /// The kill at `point` found no process to kill: count again, from now.
    fn missed_crash(&mut self, point: KillPoint) {
        self.crash_points.push_front(point);
        self.since_crash = 0;
    }
}

struct ProxyState {
    function: String,
    upstream: String,
    client: Client<HttpConnector, Full<Bytes>>,
    control: Mutex<Control>,
    pool: OnceLock<Arc<FunctionPool>>,
}

/// One function's proxy.
pub struct FaultProxy {
    /// Where the function sends its AWS requests.
    pub url: String,
    state: Arc<ProxyState>,
    server: JoinHandle<()>,
}

impl FaultProxy {
    /// Serves a proxy for `function` to `upstream` on a free loopback port, forwarding every
    /// request until [`FaultProxy::set_plan`] says otherwise.
    pub async fn start(function: &str, upstream: &str, seed: u64) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let state = Arc::new(ProxyState {
            function: function.to_owned(),
            upstream: upstream.trim_end_matches('/').to_owned(),
            client: Client::builder(TokioExecutor::new()).build_http(),
            control: Mutex::new(Control::new(seed)),
            pool: OnceLock::new(),
        });
        let handler_state = Arc::clone(&state);
        let server = http_server::serve_or_drop(listener, move |request, _| {
            handle(Arc::clone(&handler_state), request)
        });
        Ok(Self { url, state, server })
    }

    /// The function's processes, for crashes.
    pub fn attach(&self, pool: Arc<FunctionPool>) {
        let _ = self.state.pool.set(pool);
    }

    pub fn set_plan(&self, plan: FaultPlan) {
        self.state.control.lock().unwrap().plan = plan;
    }

    /// Answers each forwarded call no sooner than a latency `model` draws for its service;
    /// `None` answers as soon as the emulator does.
    pub fn set_latency(&self, model: Option<LatencyModel>) {
        self.state.control.lock().unwrap().latency = model;
    }

    /// Kills the busy process after its `points[0]`-th request, then (counting again from the
    /// crash) after the `points[1]`-th, and so on.
    pub fn schedule_crashes(&self, points: impl IntoIterator<Item = u64>) {
        self.schedule_kills(points.into_iter().map(KillPoint::any));
    }

    /// Kills the busy process at each point in turn, each counted from the previous kill; the
    /// schedule replaces any earlier one.
    pub fn schedule_kills(&self, points: impl IntoIterator<Item = KillPoint>) {
        let mut control = self.state.control.lock().unwrap();
        control.crash_points = points.into_iter().filter(|p| p.nth > 0).collect();
        control.since_crash = 0;
    }

    /// Crash points not reached yet.
    pub fn crashes_pending(&self) -> usize {
        self.state.control.lock().unwrap().crash_points.len()
    }

    pub fn counts(&self) -> FaultCounts {
        self.state.control.lock().unwrap().counts.clone()
    }

    pub fn stop(self) {
        self.server.abort();
    }
}

async fn handle(
    state: Arc<ProxyState>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, DropConnection> {
    let arrived = tokio::time::Instant::now();
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map_err(|_| DropConnection)?.to_bytes();
    let action = state.control.lock().unwrap().next(target(&parts));
    match action {
        Action::Forward { answer_after } => {
            let response = state.forward(&parts, body).await;
            tokio::time::sleep_until(arrived + answer_after).await;
            Ok(response)
        }
        Action::Inject {
            fault,
            delay,
            variant,
        } => match fault {
            Fault::Throttled | Fault::ServerError => {
                Ok(injected_error(fault, target(&parts), variant))
            }
            Fault::Slow => {
                let response = state.forward(&parts, body).await;
                tokio::time::sleep(delay).await;
                Ok(response)
            }
            Fault::Dropped => Err(DropConnection),
            Fault::DroppedAfterForwarding => {
                state.forward(&parts, body).await;
                Err(DropConnection)
            }
        },
        Action::Crash { point } => {
            let reason = point.reason();
            let after_forwarding = point.after_forwarding;
            let point = CrashPoint::taken(&state.control, point);
            let forwarded = if after_forwarding {
                Some(state.forward(&parts, body.clone()).await)
            } else {
                None
            };
            let killed = state.pool.get().map_or(0, |pool| pool.crash_busy(&reason));
            if killed == 0 {
                // No invocation was running: the request was a straggler of a process killed
                // a moment ago. The point stays for the next process (`point` puts it back).
                return Ok(match forwarded {
                    Some(response) => response,
                    None => state.forward(&parts, body).await,
                });
            }
            point.used();
            state.control.lock().unwrap().counts.crashes += 1;
            tokio::time::sleep(CRASH_HOLD).await;
            Err(DropConnection)
        }
    }
}

impl ProxyState {
    /// Sends the request on to the emulator; its answer, or a 502 if it cannot be reached.
    async fn forward(
        &self,
        parts: &hyper::http::request::Parts,
        body: Bytes,
    ) -> Response<Full<Bytes>> {
        let path = parts.uri.path_and_query().map_or("/", |path| path.as_str());
        let mut builder = Request::builder()
            .method(parts.method.clone())
            .uri(format!("{}{path}", self.upstream));
        for (name, value) in &parts.headers {
            if ![HOST, CONNECTION, TRANSFER_ENCODING, CONTENT_LENGTH].contains(name) {
                builder = builder.header(name, value);
            }
        }
        let request = match builder.body(Full::new(body)) {
            Ok(request) => request,
            Err(error) => return bad_gateway(&format!("{}: {error}", self.function)),
        };
        let answer = match self.client.request(request).await {
            Ok(answer) => answer,
            Err(error) => return bad_gateway(&format!("{}: {error}", self.function)),
        };
        let (parts, body) = answer.into_parts();
        let body = match body.collect().await {
            Ok(body) => body.to_bytes(),
            Err(error) => return bad_gateway(&format!("{}: {error}", self.function)),
        };
        let mut response = Response::builder().status(parts.status);
        for (name, value) in &parts.headers {
            if ![CONNECTION, TRANSFER_ENCODING, CONTENT_LENGTH].contains(name) {
                response = response.header(name, value);
            }
        }
        response
            .body(Full::new(body))
            .unwrap_or_else(|error| bad_gateway(&error.to_string()))
    }
}

fn bad_gateway(message: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(StatusCode::BAD_GATEWAY)
        .body(Full::new(Bytes::from(format!(
            "the fault proxy could not reach the emulator: {message}"
        ))))
        .expect("static response")
}

/// The JSON protocol's operation header, `<Service>_<version>.<Operation>`.
fn target(parts: &hyper::http::request::Parts) -> Option<&str> {
    parts
        .headers
        .get("x-amz-target")
        .and_then(|value| value.to_str().ok())
}

/// The error the service behind `target` answers for `fault` (throttled or server error), in
/// its JSON protocol's shape; `variant` picks 503 over 500 for a server error.
fn injected_error(fault: Fault, target: Option<&str>, variant: bool) -> Response<Full<Bytes>> {
    let service = target.and_then(|t| t.split('.').next()).unwrap_or("");
    let (content_type, namespace) = match service {
        "DynamoDB_20120810" => (
            "application/x-amz-json-1.0",
            "com.amazonaws.dynamodb.v20120810#",
        ),
        "AmazonSQS" => ("application/x-amz-json-1.0", "com.amazonaws.sqs#"),
        _ => ("application/x-amz-json-1.1", ""),
    };
    let (status, code, message) = match (fault, service) {
        (Fault::Throttled, "AmazonSQS") => (
            StatusCode::BAD_REQUEST,
            "RequestThrottled",
            "Request is throttled.",
        ),
        (Fault::Throttled, _) => (
            StatusCode::BAD_REQUEST,
            "ProvisionedThroughputExceededException",
            "Rate exceeded (injected by the fault proxy)",
        ),
        (_, _) if variant => (
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "Service unavailable (injected by the fault proxy)",
        ),
        (_, "DynamoDB_20120810") => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "Internal server error (injected by the fault proxy)",
        ),
        (_, _) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalFailure",
            "Internal failure (injected by the fault proxy)",
        ),
    };
    let mut response = Response::builder()
        .status(status)
        .header(CONTENT_TYPE, content_type)
        .header("x-amzn-requestid", ulid::Ulid::new().to_string());
    if service == "AmazonSQS" {
        // SQS's JSON protocol carries the query-protocol error code here as well.
        let side = if status.is_server_error() {
            "Receiver"
        } else {
            "Sender"
        };
        response = response.header("x-amzn-query-error", format!("{code};{side}"));
    }
    let body = json!({"__type": format!("{namespace}{code}"), "message": message});
    response
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("static response")
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORWARD: Action = Action::Forward {
        answer_after: Duration::ZERO,
    };

    fn draws(seed: u64, plan: FaultPlan, n: usize) -> Vec<Action> {
        let mut control = Control::new(seed);
        control.plan = plan;
        (0..n).map(|_| control.next(None)).collect()
    }

    const TEN_PERCENT: FaultPlan = FaultPlan {
        rate: 0.1,
        slowest: Duration::from_secs(2),
    };

    #[test]
    fn the_rate_is_the_share_of_requests_faulted_spread_over_every_kind() {
        let mut control = Control::new(7);
        control.plan = TEN_PERCENT;
        for _ in 0..20_000 {
            control.next(None);
        }
        let counts = &control.counts;
        assert_eq!(counts.requests, 20_000);
        let faults: u64 = counts.faults.iter().sum();
        assert!((1_800..=2_200).contains(&faults), "{faults} faults");
        for fault in Fault::ALL {
            let share = counts.of(fault);
            assert!((300..=500).contains(&share), "{share} {}", fault.label());
        }
        assert_eq!(counts.injected(), faults);
    }

    #[test]
    fn the_same_seed_draws_the_same_faults_and_no_plan_draws_none() {
        assert_eq!(draws(3, TEN_PERCENT, 500), draws(3, TEN_PERCENT, 500));
        assert_ne!(draws(3, TEN_PERCENT, 500), draws(4, TEN_PERCENT, 500));
        assert!(draws(3, FaultPlan::NONE, 500).iter().all(|a| *a == FORWARD));
    }

    #[test]
    fn with_a_latency_model_forwarded_calls_wait_their_services_draw() {
        let mut control = Control::new(5);
        control.latency = Some(LatencyModel::region());
        let waits = |control: &mut Control, target: Option<&str>| -> Vec<Duration> {
            (0..2_000)
                .map(|_| match control.next(target) {
                    Action::Forward { answer_after } => answer_after,
                    other => panic!("{other:?}"),
                })
                .collect()
        };
        let median = |mut waits: Vec<Duration>| {
            waits.sort();
            waits[waits.len() / 2].as_secs_f64() * 1000.0
        };
        let dynamodb = median(waits(&mut control, Some("DynamoDB_20120810.GetItem")));
        let kinesis = median(waits(&mut control, Some("Kinesis_20131202.PutRecords")));
        assert!((4.5..5.5).contains(&dynamodb), "{dynamodb} ms");
        assert!((18.0..22.0).contains(&kinesis), "{kinesis} ms");
        assert!(
            waits(&mut control, Some("AWSEvents.PutEvents"))
                .iter()
                .all(Duration::is_zero),
            "no latency for a service the model does not know"
        );
        control.latency = None;
        assert_eq!(control.next(Some("DynamoDB_20120810.GetItem")), FORWARD);
    }

    #[test]
    fn slow_answers_stay_between_the_floor_and_the_slowest() {
        for action in draws(9, TEN_PERCENT, 5_000) {
            if let Action::Inject { delay, .. } = action {
                assert!((SLOWEST_FLOOR..=Duration::from_secs(2)).contains(&delay));
            }
        }
    }

    fn schedule(points: &[u64]) -> VecDeque<KillPoint> {
        points.iter().map(|nth| KillPoint::any(*nth)).collect()
    }

    #[test]
    fn crashes_come_after_the_scheduled_request_counted_from_the_last_crash() {
        let mut control = Control::new(1);
        control.crash_points = schedule(&[1, 3]);
        let actions: Vec<Action> = (0..6)
            .map(|_| control.next(Some("DynamoDB_20120810.PutItem")))
            .collect();
        assert_eq!(
            actions,
            [
                Action::Crash {
                    point: KillPoint::any(1)
                },
                FORWARD,
                FORWARD,
                Action::Crash {
                    point: KillPoint::any(3)
                },
                FORWARD,
                FORWARD,
            ]
        );
        assert!(control.crash_points.is_empty());
    }

    #[test]
    fn a_kill_point_of_an_operation_counts_only_its_requests() {
        let mut control = Control::new(1);
        control.crash_points = VecDeque::from([
            KillPoint::after("BatchWriteItem", 2),
            KillPoint::before("PutItem", 1),
            KillPoint::any(2),
        ]);
        let requests = [
            "BatchGetItem",
            "BatchWriteItem",
            "PutItem",
            "BatchWriteItem",
            "PutItem",
            "BatchWriteItem",
            "PutItem",
            "Query",
            "PutItem",
        ];
        let actions: Vec<Action> = requests
            .iter()
            .map(|operation| control.next(Some(&format!("DynamoDB_20120810.{operation}"))))
            .collect();
        let crash = |point| Action::Crash { point };
        assert_eq!(
            actions,
            [
                FORWARD,
                FORWARD,
                FORWARD,
                crash(KillPoint::after("BatchWriteItem", 2)),
                crash(KillPoint::before("PutItem", 1)),
                FORWARD,
                crash(KillPoint::any(2)),
                FORWARD,
                FORWARD,
            ]
        );
        assert_eq!(
            KillPoint::after("BatchWriteItem", 1).reason(),
            "killed by the fault proxy right after its BatchWriteItem request 1 since the last kill took effect"
        );
        assert!(
            KillPoint::before("PutItem", 3)
                .reason()
                .contains("right before its PutItem request 3")
        );
        assert!(
            KillPoint::any(4)
                .reason()
                .contains("right after its request 4 since")
        );
    }

    #[test]
    fn a_crash_that_finds_no_process_waits_for_the_same_point_of_the_next() {
        let mut control = Control::new(1);
        control.crash_points = schedule(&[2]);
        assert_eq!(control.next(None), FORWARD);
        let Action::Crash { point } = control.next(None) else {
            panic!("expected a crash");
        };
        assert_eq!(point, KillPoint::any(2));
        control.missed_crash(point);
        assert_eq!(control.next(None), FORWARD);
        assert_eq!(
            control.next(None),
            Action::Crash {
                point: KillPoint::any(2)
            }
        );
    }

    #[test]
    fn a_crash_point_comes_back_unless_used_also_when_its_request_is_abandoned() {
        let control = Mutex::new(Control::new(1));
        control.lock().unwrap().crash_points = schedule(&[1, 1]);
        let take = || match control.lock().unwrap().next(None) {
            Action::Crash { point } => point,
            other => panic!("expected a crash, got {other:?}"),
        };
        // Dropped unused, as when the request's connection closed before the kill.
        drop(CrashPoint::taken(&control, take()));
        assert_eq!(control.lock().unwrap().crash_points, schedule(&[1, 1]));
        CrashPoint::taken(&control, take()).used();
        assert_eq!(control.lock().unwrap().crash_points, schedule(&[1]));
    }

    async fn body_of(response: Response<Full<Bytes>>) -> serde_json::Value {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn injected_errors_take_each_services_shape() {
        let dynamodb = injected_error(Fault::Throttled, Some("DynamoDB_20120810.PutItem"), false);
        assert_eq!(dynamodb.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            body_of(dynamodb).await["__type"],
            "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"
        );
        let kinesis = injected_error(Fault::Throttled, Some("Kinesis_20131202.PutRecords"), true);
        assert_eq!(
            kinesis.headers()[CONTENT_TYPE],
            "application/x-amz-json-1.1"
        );
        assert_eq!(
            body_of(kinesis).await["__type"],
            "ProvisionedThroughputExceededException"
        );
        let sqs = injected_error(Fault::Throttled, Some("AmazonSQS.SendMessageBatch"), false);
        assert_eq!(
            sqs.headers()["x-amzn-query-error"],
            "RequestThrottled;Sender"
        );
        let unavailable = injected_error(Fault::ServerError, Some("AmazonSQS.SendMessage"), true);
        assert_eq!(unavailable.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            unavailable.headers()["x-amzn-query-error"],
            "ServiceUnavailable;Receiver"
        );
        let internal = injected_error(Fault::ServerError, Some("DynamoDB_20120810.GetItem"), false);
        assert_eq!(internal.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            body_of(internal).await["__type"],
            "com.amazonaws.dynamodb.v20120810#InternalServerError"
        );
    }
}
