//! The Lambda Runtime API (`/2018-06-01/runtime/...`), served on a loopback port to one function
//! process, so the function's own `main` runs through `lambda_runtime` exactly as in Lambda:
//! it long-polls `invocation/next`, then posts a `response` or an `error` for that request id.
//!
//! One [`Environment`] is one process's lifetime; when the process exits, its server and any
//! invocation it held go with it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio::task::JoinHandle;

/// Lambda's limit on a synchronous response payload.
pub const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024;

const PREFIX: &str = "/2018-06-01/runtime";

/// One request for the function, and where its outcome goes.
pub struct Invocation {
    pub request_id: String,
    pub payload: Bytes,
    pub reply: oneshot::Sender<Outcome>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The function's response payload.
    Response(Bytes),
    /// The function reported an error (`invocation/{id}/error`).
    FunctionError { error_type: String, body: String },
    /// No answer within the function's timeout; the process was stopped, as Lambda does.
    TimedOut(Duration),
    /// The process ended while it held the invocation.
    Crashed(String),
}

/// Invocations waiting for any free instance of a function.
pub type Queue = Arc<tokio::sync::Mutex<mpsc::Receiver<Invocation>>>;

/// Which instance of a function may take invocations: `None`, whichever is free (in turn);
/// `Some(n)`, only instance `n` (see [`crate::functions::FunctionPool::pin`]).
pub type Placement = watch::Receiver<Option<usize>>;

struct InFlight {
    request_id: String,
    reply: oneshot::Sender<Outcome>,
}

/// The Runtime API's view of one execution environment.
pub struct Environment {
    function_arn: String,
    timeout: Duration,
    queue: Queue,
    /// This environment's instance number, and which instance may take invocations.
    instance: usize,
    placement: Placement,
    in_flight: Mutex<Option<InFlight>>,
    polled: watch::Sender<bool>,
    init_error: Mutex<Option<String>>,
    /// Signalled when the process must be stopped (a timed-out invocation, an injected crash),
    /// with the reason in `kill_reason`.
    pub kill: Notify,
    kill_reason: Mutex<Option<String>>,
}

impl Environment {
    pub fn new(
        function_arn: String,
        timeout: Duration,
        queue: Queue,
        instance: usize,
        placement: Placement,
    ) -> Arc<Self> {
        Arc::new(Self {
            function_arn,
            timeout,
            queue,
            instance,
            placement,
            in_flight: Mutex::new(None),
            polled: watch::channel(false).0,
            init_error: Mutex::new(None),
            kill: Notify::new(),
            kill_reason: Mutex::new(None),
        })
    }

    /// Whether the process holds an invocation right now.
    pub fn is_busy(&self) -> bool {
        self.in_flight.lock().unwrap().is_some()
    }

    /// Has the process stopped at once, whatever it is doing, for `reason`.
    pub fn stop_process(&self, reason: &str) {
        self.kill_reason
            .lock()
            .unwrap()
            .get_or_insert_with(|| reason.to_owned());
        self.kill.notify_one();
    }

    /// Why the process was stopped, once [`Environment::stop_process`] was called.
    pub fn kill_reason(&self) -> Option<String> {
        self.kill_reason.lock().unwrap().clone()
    }

    /// Resolves once the process has asked for an invocation (its init is done), also when it
    /// asked before anyone waited: a fast process can poll before its supervisor looks.
    pub async fn initialized(&self) {
        let mut polled = self.polled.subscribe();
        // `wait_for` checks the current value first; `changed` would miss an earlier poll.
        let _ = polled.wait_for(|polled| *polled).await;
    }

    /// What the process reported through `init/error`, if anything.
    pub fn init_error(&self) -> Option<String> {
        self.init_error.lock().unwrap().clone()
    }

    /// Ends the invocation the process holds, if any, with `outcome`.
    pub fn fail_in_flight(&self, outcome: Outcome) {
        if let Some(in_flight) = self.in_flight.lock().unwrap().take() {
            let _ = in_flight.reply.send(outcome);
        }
    }

    fn complete(&self, request_id: &str, outcome: Outcome) -> bool {
        let mut slot = self.in_flight.lock().unwrap();
        if slot.as_ref().is_some_and(|f| f.request_id == request_id) {
            let in_flight = slot.take().expect("checked");
            let _ = in_flight.reply.send(outcome);
            true
        } else {
            false
        }
    }

    /// Whether the placement lets this environment take invocations.
    fn placed_here(&self, pin: &Option<usize>) -> bool {
        pin.is_none_or(|instance| instance == self.instance)
    }

    /// The next invocation for this environment: environments take the queue in turn (the
    /// queue's lock is fair), and one the placement excludes waits, also while it holds the
    /// queue (it lets go as soon as the placement moves elsewhere). `None` once the stack stops.
    async fn take(&self) -> Option<Invocation> {
        let mut placement = self.placement.clone();
        loop {
            if placement
                .wait_for(|pin| self.placed_here(pin))
                .await
                .is_err()
            {
                // The pool is gone, and the stack with it.
                return None;
            }
            let mut queue = self.queue.lock().await;
            if !self.placed_here(&placement.borrow_and_update()) {
                continue;
            }
            let moved = async {
                if placement
                    .wait_for(|pin| !self.placed_here(pin))
                    .await
                    .is_err()
                {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                // A pin that moved away wins over an invocation that arrived meanwhile.
                biased;
                () = moved => {}
                invocation = queue.recv() => return invocation,
            }
        }
    }

    async fn next(self: &Arc<Self>) -> Response<Full<Bytes>> {
        self.polled.send_replace(true);
        let invocation = self.take().await;
        let Some(invocation) = invocation else {
            // The stack is stopping; the process is about to be stopped too.
            return std::future::pending().await;
        };
        let deadline = SystemTime::now() + self.timeout;
        let deadline_ms = deadline
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        let request_id = invocation.request_id.clone();
        *self.in_flight.lock().unwrap() = Some(InFlight {
            request_id: request_id.clone(),
            reply: invocation.reply,
        });
        let environment = Arc::clone(self);
        let timeout = self.timeout;
        let timer_id = request_id.clone();
        tokio::spawn(async move {
            tokio::time::sleep(timeout).await;
            if environment.complete(&timer_id, Outcome::TimedOut(timeout)) {
                environment.stop_process("stopped after an invocation timed out");
            }
        });
        Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/json")
            .header("lambda-runtime-aws-request-id", &request_id)
            .header("lambda-runtime-deadline-ms", deadline_ms.to_string())
            .header("lambda-runtime-invoked-function-arn", &self.function_arn)
            .header(
                "lambda-runtime-trace-id",
                format!(
                    "Root=1-{:08x}-{}",
                    deadline_ms / 1000,
                    &request_id.replace('-', "")[..24]
                ),
            )
            .body(Full::new(invocation.payload))
            .expect("valid response")
    }

    async fn handle(self: Arc<Self>, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let Some(route) = path.strip_prefix(PREFIX) else {
            return answer(StatusCode::NOT_FOUND, "UnknownPath", &path);
        };
        if method == Method::GET && route == "/invocation/next" {
            return self.next().await;
        }
        if method != Method::POST {
            return answer(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", &path);
        }
        let error_type = request
            .headers()
            .get("lambda-runtime-function-error-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = match request.into_body().collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(error) => return answer(StatusCode::BAD_REQUEST, "BadBody", &error.to_string()),
        };
        if route == "/init/error" {
            let text = String::from_utf8_lossy(&body).into_owned();
            *self.init_error.lock().unwrap() = Some(text);
            return answer(StatusCode::ACCEPTED, "OK", "");
        }
        let Some(rest) = route.strip_prefix("/invocation/") else {
            return answer(StatusCode::NOT_FOUND, "UnknownPath", &path);
        };
        let (request_id, outcome) = if let Some(id) = rest.strip_suffix("/response") {
            if body.len() > MAX_RESPONSE_BYTES {
                let outcome = Outcome::FunctionError {
                    error_type: "Function.ResponseSizeTooLarge".into(),
                    body: format!(
                        "response of {} bytes exceeds the {MAX_RESPONSE_BYTES}-byte limit",
                        body.len()
                    ),
                };
                self.complete(id, outcome);
                return answer(StatusCode::PAYLOAD_TOO_LARGE, "RequestTooLarge", id);
            }
            (id, Outcome::Response(body))
        } else if let Some(id) = rest.strip_suffix("/error") {
            let body = String::from_utf8_lossy(&body).into_owned();
            let error_type = error_type
                .or_else(|| {
                    serde_json::from_str::<serde_json::Value>(&body)
                        .ok()?
                        .get("errorType")?
                        .as_str()
                        .map(str::to_owned)
                })
                .unwrap_or_else(|| "Unhandled".into());
            (id, Outcome::FunctionError { error_type, body })
        } else {
            return answer(StatusCode::NOT_FOUND, "UnknownPath", &path);
        };
        if self.complete(request_id, outcome) {
            answer(StatusCode::ACCEPTED, "OK", "")
        } else {
            answer(StatusCode::BAD_REQUEST, "InvalidRequestID", request_id)
        }
    }
}

fn answer(status: StatusCode, kind: &str, detail: &str) -> Response<Full<Bytes>> {
    let body = if status.is_success() {
        json!({"status": kind})
    } else {
        json!({"errorType": kind, "errorMessage": detail})
    };
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("valid response")
}

/// Serves the Runtime API for `environment` on a free loopback port. Aborting the returned
/// task closes every connection it accepted.
pub async fn serve(environment: Arc<Environment>) -> std::io::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let task = crate::http_server::serve(listener, move |request, _client| {
        Arc::clone(&environment).handle(request)
    });
    Ok((address, task))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn environment() -> (Arc<Environment>, mpsc::Sender<Invocation>) {
        let (sender, receiver) = mpsc::channel(1);
        let queue: Queue = Arc::new(tokio::sync::Mutex::new(receiver));
        let placement = watch::channel(None).1;
        let environment =
            Environment::new("arn".into(), Duration::from_secs(1), queue, 1, placement);
        (environment, sender)
    }

    #[tokio::test]
    async fn a_poll_before_anyone_waits_still_counts_as_init_done() {
        let (environment, _sender) = environment();
        let polling = Arc::clone(&environment);
        let poll = tokio::spawn(async move { polling.next().await });
        while !*environment.polled.borrow() {
            tokio::task::yield_now().await;
        }
        tokio::time::timeout(Duration::from_secs(1), environment.initialized())
            .await
            .expect("the earlier poll is seen");
        poll.abort();
    }

    fn invocation(request_id: &str) -> Invocation {
        Invocation {
            request_id: request_id.to_owned(),
            payload: Bytes::new(),
            reply: oneshot::channel().0,
        }
    }

    #[tokio::test]
    async fn an_environment_the_pin_excludes_lets_go_of_the_queue_and_waits() {
        let (sender, receiver) = mpsc::channel(4);
        let queue: Queue = Arc::new(tokio::sync::Mutex::new(receiver));
        let (pin, placement) = watch::channel(None);
        let environment = |instance| {
            Environment::new(
                "arn".into(),
                Duration::from_secs(5),
                Arc::clone(&queue),
                instance,
                placement.clone(),
            )
        };
        let (one, two) = (environment(1), environment(2));
        let take = |environment: &Arc<Environment>| {
            let environment = Arc::clone(environment);
            tokio::spawn(async move { environment.take().await.map(|i| i.request_id) })
        };
        // Instance 1 holds the queue, waiting; instance 2 waits for it.
        let first = take(&one);
        tokio::time::sleep(Duration::from_millis(20)).await;
        let second = take(&two);
        tokio::time::sleep(Duration::from_millis(20)).await;
        pin.send_replace(Some(2));
        tokio::time::sleep(Duration::from_millis(20)).await;
        sender.send(invocation("a")).await.unwrap();
        assert_eq!(second.await.unwrap().as_deref(), Some("a"));
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!first.is_finished(), "instance 1 waits while pinned away");
        pin.send_replace(None);
        sender.send(invocation("b")).await.unwrap();
        assert_eq!(first.await.unwrap().as_deref(), Some("b"));
    }

    #[tokio::test]
    async fn init_is_not_done_before_the_first_poll() {
        let (environment, _sender) = environment();
        let waited = tokio::time::timeout(Duration::from_millis(50), environment.initialized());
        assert!(waited.await.is_err());
    }
}
