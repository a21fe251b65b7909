//! A stand-in for the Lambda Runtime API that notices the function's first poll for work
//! (`GET /2018-06-01/runtime/invocation/next`): the moment init is over. Left unanswered, the
//! function stays parked in that poll until it is stopped, using no CPU; or it is handed one
//! invocation and its answer is awaited (the cold path).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

const NEXT_INVOCATION: &str = "GET /2018-06-01/runtime/invocation/next HTTP";
/// Request heads are a few hundred bytes; anything longer is not a runtime client.
const MAX_HEAD_BYTES: usize = 16 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StubError {
    #[error("the stub Runtime API could not listen: {0}")]
    Bind(std::io::Error),
    #[error("no request within {0:?}: the function did not finish init")]
    NoPoll(Duration),
    #[error("the function's first request was not a poll for work: {0}")]
    Unexpected(String),
    #[error("reading the function's request: {0}")]
    Read(std::io::Error),
}

pub struct StubRuntime {
    listener: TcpListener,
}

/// The first poll: when its request head was complete, and the connection it holds open.
pub struct FirstPoll {
    pub at: Instant,
    pub connection: TcpStream,
}

impl StubRuntime {
    pub fn bind() -> Result<Self, StubError> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(StubError::Bind)?;
        Ok(Self { listener })
    }

    /// `host:port`, the form `AWS_LAMBDA_RUNTIME_API` takes.
    pub fn address(&self) -> String {
        let address = self
            .listener
            .local_addr()
            .expect("a bound listener has an address");
        address.to_string()
    }

    /// Blocks (without spinning: the measured process needs the CPU) until the function's
    /// first request head has arrived, and checks that it is the poll for work.
    pub fn wait_for_first_poll(&self, timeout: Duration) -> Result<FirstPoll, StubError> {
        if !readable_within(&self.listener, timeout) {
            return Err(StubError::NoPoll(timeout));
        }
        let (mut connection, _) = self.listener.accept().map_err(StubError::Read)?;
        connection
            .set_read_timeout(Some(timeout))
            .map_err(StubError::Read)?;
        let (at, head, _) = read_head(&mut connection)?;
        if !head.starts_with(NEXT_INVOCATION) {
            let first_line = head.lines().next().unwrap_or_default().to_owned();
            return Err(StubError::Unexpected(first_line));
        }
        Ok(FirstPoll { at, connection })
    }
}

impl StubRuntime {
    /// Hands `payload` to the function as its first invocation on the connection of its first
    /// poll, and waits for its answer (`POST .../invocation/<id>/response` or `/error`):
    /// returns when that request arrived, and whether it was a response.
    pub fn invoke_once(
        &self,
        poll: FirstPoll,
        payload: &[u8],
        function_arn: &str,
        timeout: Duration,
    ) -> Result<(Instant, bool, Vec<u8>), StubError> {
        let FirstPoll { mut connection, .. } = poll;
        let deadline_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis())
            + timeout.as_millis();
        // `Connection: close`, so the answer comes on a connection of its own.
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             lambda-runtime-aws-request-id: perf-1\r\nlambda-runtime-deadline-ms: {deadline_ms}\r\n\
             lambda-runtime-invoked-function-arn: {function_arn}\r\nconnection: close\r\n\r\n",
            payload.len()
        );
        connection
            .write_all(head.as_bytes())
            .and_then(|()| connection.write_all(payload))
            .map_err(StubError::Read)?;
        drop(connection);
        if !readable_within(&self.listener, timeout) {
            return Err(StubError::NoPoll(timeout));
        }
        let (mut answer, _) = self.listener.accept().map_err(StubError::Read)?;
        answer
            .set_read_timeout(Some(timeout))
            .map_err(StubError::Read)?;
        let (at, head, mut body) = read_head(&mut answer)?;
        let first_line = head.lines().next().unwrap_or_default().to_owned();
        let response =
            first_line.starts_with("POST /2018-06-01/runtime/invocation/perf-1/response ");
        if !response && !first_line.starts_with("POST /2018-06-01/runtime/invocation/perf-1/error ")
        {
            return Err(StubError::Unexpected(first_line));
        }
        let length = content_length(&head).ok_or_else(|| {
            StubError::Unexpected(format!("an answer without content-length: {head}"))
        })?;
        let mut buffer = [0u8; 4096];
        while body.len() < length {
            let read = answer.read(&mut buffer).map_err(StubError::Read)?;
            if read == 0 {
                return Err(StubError::Unexpected(format!(
                    "the answer ended after {} of {length} bytes",
                    body.len()
                )));
            }
            body.extend_from_slice(&buffer[..read]);
        }
        let _ = answer
            .write_all(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        Ok((at, response, body))
    }
}

/// Reads one request head; returns when it was complete, the head and any bytes read past it.
fn read_head(connection: &mut TcpStream) -> Result<(Instant, String, Vec<u8>), StubError> {
    let mut head = Vec::with_capacity(512);
    let mut buffer = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let read = connection.read(&mut buffer).map_err(StubError::Read)?;
        if read == 0 || head.len() > MAX_HEAD_BYTES {
            return Err(StubError::Unexpected(
                String::from_utf8_lossy(&head).into_owned(),
            ));
        }
        head.extend_from_slice(&buffer[..read]);
    }
    let at = Instant::now();
    let end = head
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(head.len(), |p| p + 4);
    let rest = head.split_off(end);
    Ok((at, String::from_utf8_lossy(&head).into_owned(), rest))
}

/// The `content-length` of a request head, if it has one.
fn content_length(head: &str) -> Option<usize> {
    head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse().ok())?
    })
}

/// poll(2) on the listener: true once a connection waits to be accepted.
fn readable_within(listener: &TcpListener, timeout: Duration) -> bool {
    let mut descriptor = libc::pollfd {
        fd: listener.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let millis = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: one valid pollfd for a descriptor the listener owns for the whole call.
    let ready = unsafe { libc::poll(&mut descriptor, 1, millis) };
    ready == 1 && descriptor.revents & libc::POLLIN != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_poll_is_noticed_and_anything_else_refused() {
        let stub = StubRuntime::bind().unwrap();
        let address = stub.address();
        let client = std::thread::spawn(move || {
            let mut stream = TcpStream::connect(address).unwrap();
            stream
                .write_all(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nhost: x\r\n\r\n")
                .unwrap();
            stream
        });
        let poll = stub.wait_for_first_poll(Duration::from_secs(5)).unwrap();
        assert!(poll.at.elapsed() < Duration::from_secs(5));
        drop(client.join());

        let stub = StubRuntime::bind().unwrap();
        let address = stub.address();
        let client = std::thread::spawn(move || {
            let mut stream = TcpStream::connect(address).unwrap();
            stream
                .write_all(b"POST /2018-06-01/runtime/init/error HTTP/1.1\r\n\r\n")
                .unwrap();
            stream
        });
        let error = stub
            .wait_for_first_poll(Duration::from_secs(5))
            .err()
            .unwrap();
        assert!(error.to_string().contains("init/error"), "{error}");
        drop(client.join());

        let stub = StubRuntime::bind().unwrap();
        let error = stub
            .wait_for_first_poll(Duration::from_millis(50))
            .err()
            .unwrap();
        assert!(matches!(error, StubError::NoPoll(_)), "{error}");
    }

    #[test]
    fn one_invocation_is_handed_over_and_its_answer_read() {
        let stub = StubRuntime::bind().unwrap();
        let address = stub.address();
        let client = std::thread::spawn(move || {
            let mut poll = TcpStream::connect(&address).unwrap();
            poll.write_all(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n\r\n")
                .unwrap();
            let mut invocation = String::new();
            poll.read_to_string(&mut invocation).unwrap();
            let mut answer = TcpStream::connect(&address).unwrap();
            answer
                .write_all(
                    b"POST /2018-06-01/runtime/invocation/perf-1/response HTTP/1.1\r\n\
                      content-length: 17\r\n\r\n{\"statusCode\":200}",
                )
                .unwrap();
            invocation
        });
        let poll = stub.wait_for_first_poll(Duration::from_secs(5)).unwrap();
        let (_, responded, body) = stub
            .invoke_once(poll, b"{\"x\":1}", "arn:f", Duration::from_secs(5))
            .unwrap();
        assert!(responded);
        assert_eq!(body, b"{\"statusCode\":200}");
        let invocation = client.join().unwrap();
        assert!(
            invocation.contains("lambda-runtime-aws-request-id: perf-1"),
            "{invocation}"
        );
        assert!(invocation.ends_with("{\"x\":1}"), "{invocation}");
    }
}
