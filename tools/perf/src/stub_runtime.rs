//! A stand-in for the Lambda Runtime API that only notices the function's first poll for work
//! (`GET /2018-06-01/runtime/invocation/next`): the moment init is over. It never answers, so
//! the function stays parked in that poll until it is stopped, using no CPU.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

const NEXT_INVOCATION: &str = "GET /2018-06-01/runtime/invocation/next ";
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
        let head = String::from_utf8_lossy(&head);
        if !head.starts_with(NEXT_INVOCATION) {
            let first_line = head.lines().next().unwrap_or_default().to_owned();
            return Err(StubError::Unexpected(first_line));
        }
        Ok(FirstPoll { at, connection })
    }
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
    use std::io::Write;

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
}
