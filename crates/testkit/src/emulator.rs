//! The AWS emulator every integration test runs against, and resources on it under names no
//! other test uses.
//!
//! [`endpoint`] is the one fixture: with `AWS_ENDPOINT_URL` set (as `tools/test.sh` does) the
//! tests use that emulator; without it, the first test of a test binary starts the pinned moto
//! server of `.venv/` on a free loopback port and points the standard SDK variables at it, so
//! plain `cargo test -p <crate>` works. The server is started once per test binary (by the
//! emulator library, as the local stack starts it; its log: `target/testkit/moto-<pid>.log`)
//! and dies with it: it is spawned from a thread that lives as long as the process, with the
//! kernel told to kill it when that thread ends (`PR_SET_PDEATHSIG`), which is at process exit.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_config::SdkConfig;
use shared::clients::{self, ClientSettings};
use stack::Stack;

/// How to install the emulator, said whenever it is missing.
const INSTALL: &str = "install the pinned emulator with `tools/test.sh` (or `python3 -m venv .venv && \
     .venv/bin/pip install -r tools/requirements.txt`), or set AWS_ENDPOINT_URL to a running one";

/// The emulator's endpoint, starting one for this test process when `AWS_ENDPOINT_URL` is unset.
/// Call it before building any SDK client (it sets the SDK's standard variables).
///
/// # Panics
/// When no emulator is given and the pinned one is not installed or does not start; the message
/// says how to install it.
pub fn endpoint() -> &'static str {
    static ENDPOINT: OnceLock<String> = OnceLock::new();
    ENDPOINT.get_or_init(|| match std::env::var("AWS_ENDPOINT_URL") {
        Ok(given) => given,
        Err(_) => {
            let started = start_owned_emulator(&emulator_python())
                .unwrap_or_else(|problem| panic!("{problem}"));
            // SAFETY: set once, inside the OnceLock's initialisation. Every test that talks to
            // AWS calls this before building a client and waits here meanwhile; a test of the
            // same binary that reads the environment without calling it first could race.
            unsafe {
                std::env::set_var("AWS_ENDPOINT_URL", &started);
                for (name, value) in [
                    ("AWS_ACCESS_KEY_ID", "test"),
                    ("AWS_SECRET_ACCESS_KEY", "test"),
                    ("AWS_REGION", "us-east-1"),
                ] {
                    if std::env::var_os(name).is_none() {
                        std::env::set_var(name, value);
                    }
                }
            }
            started
        }
    })
}

/// The SDK configuration of the functions' clients, pointed at [`endpoint`].
pub async fn sdk_config(settings: ClientSettings) -> SdkConfig {
    endpoint();
    clients::load(settings).await
}

/// The Python with the pinned moto: `EMULATOR_PYTHON` when set, else the repository's `.venv/`.
pub fn emulator_python() -> PathBuf {
    std::env::var_os("EMULATOR_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv/bin/python"))
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Starts moto through the emulator library (its start-up probe, its check that the
/// process did not exit, its log) on a thread that never ends: the kernel's parent-death signal,
/// sent when the spawning thread exits, then arrives only when the whole test process does.
fn start_owned_emulator(server: &Path) -> Result<String, String> {
    let server = server.to_owned();
    if !server.is_file() {
        return Err(format!(
            "AWS_ENDPOINT_URL is not set and there is no emulator at {}: {INSTALL}",
            server.display()
        ));
    }
    let log = workspace_root().join(format!("target/testkit/moto-{}.log", std::process::id()));
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(error) => {
                let _ = sender.send(Err(format!("no runtime for the emulator: {error}")));
                return;
            }
        };
        let started = runtime.block_on(async {
            let logs = emulator::logs::LogSink::create(&log, false)
                .map_err(|error| format!("{}: {error}", log.display()))?;
            emulator::moto::Emulator::start(&server, &logs)
                .await
                .map_err(|error| format!("{error}; its log: {}; {INSTALL}", log.display()))
        });
        let endpoint = started.as_ref().map(|emulator| emulator.endpoint.clone());
        let _ = sender.send(endpoint.map_err(Clone::clone));
        if let Ok(emulator) = started {
            // Held, never dropped: the server lives as long as the test process. The runtime
            // keeps running the tasks that copy its output into the log: parked, they would
            // stop, the pipe would fill and moto would block on its next log line.
            runtime.block_on(async move {
                let _held = emulator;
                std::future::pending::<()>().await
            });
        }
    });
    receiver
        .recv()
        .map_err(|_| "the emulator's thread ended".to_owned())?
}

/// `name` followed by what no other test of any run on the emulator has used.
pub fn unique(name: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = time::OffsetDateTime::now_utc().unix_timestamp_nanos() % 1_000_000_007;
    format!(
        "{name}-{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The manifest's table `key`, created under a unique name; its name.
pub async fn table(client: &aws_sdk_dynamodb::Client, key: &str) -> String {
    let name = unique(key);
    stack::tables::create_table(client, &name, &Stack::workspace().tables[key])
        .await
        .expect("create table");
    name
}

/// A standard queue under a unique name; its URL.
pub async fn queue(sqs: &aws_sdk_sqs::Client, name: &str) -> String {
    sqs.create_queue()
        .queue_name(unique(name))
        .send()
        .await
        .expect("create queue")
        .queue_url
        .expect("a queue URL")
}

/// A stream of one provisioned shard under a unique name starting with `name`; its name.
pub async fn stream(kinesis: &aws_sdk_kinesis::Client, name: &str) -> String {
    let name = unique(name);
    kinesis
        .create_stream()
        .stream_name(&name)
        .shard_count(1)
        .send()
        .await
        .expect("create stream");
    name
}

/// The keyed-state core's settings on fresh resources: the manifest's tables `state_table` and
/// `applied_ids_table`, a rejects queue, the deployed defaults otherwise.
pub async fn stream_core_settings(
    dynamodb: &aws_sdk_dynamodb::Client,
    sqs: &aws_sdk_sqs::Client,
    state_table: &str,
    applied_ids_table: &str,
) -> shared::keyed_state::Settings {
    shared::keyed_state::Settings {
        state_table: table(dynamodb, state_table).await,
        applied_ids_table: table(dynamodb, applied_ids_table).await,
        rejects_queue_url: queue(sqs, "rejects").await,
        max_future_skew: time::Duration::minutes(5),
        state_cache_size: 100,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_emulator_says_how_to_install_it() {
        let problem = start_owned_emulator(Path::new("/nonexistent/.venv/bin/python"))
            .expect_err("nothing to start");
        assert!(
            problem.contains("/nonexistent/.venv/bin/python"),
            "{problem}"
        );
        assert!(
            problem.contains("pip install -r tools/requirements.txt"),
            "{problem}"
        );
    }

    #[test]
    fn an_owned_emulator_starts_answers_and_logs() {
        let started = start_owned_emulator(&emulator_python()).expect("the pinned emulator starts");
        assert!(std::net::TcpStream::connect(started.trim_start_matches("http://")).is_ok());
        let log = workspace_root().join(format!("target/testkit/moto-{}.log", std::process::id()));
        assert!(log.is_file(), "{}", log.display());
        // moto logs a line per request: more lines than a pipe holds must still be answered,
        // so its output has to keep being drained into the log.
        let address = started.trim_start_matches("http://");
        for request in 0..1_000 {
            use std::io::{Read, Write};
            let mut stream = std::net::TcpStream::connect(address).unwrap();
            stream
                .set_read_timeout(Some(std::time::Duration::from_secs(10)))
                .unwrap();
            stream
                .write_all(b"GET /moto-api/ HTTP/1.0\r\n\r\n")
                .unwrap();
            let mut answer = Vec::new();
            stream
                .read_to_end(&mut answer)
                .unwrap_or_else(|error| panic!("request {request} unanswered: {error}"));
            assert!(answer.starts_with(b"HTTP/1."), "request {request}");
        }
        assert!(
            std::fs::metadata(&log).unwrap().len() > 64 * 1024,
            "every request logged"
        );
    }

    #[test]
    fn a_started_emulator_answers_and_is_reused() {
        if std::env::var_os("AWS_ENDPOINT_URL").is_some() {
            // Given an emulator, the fixture must not start another.
            assert_eq!(endpoint(), std::env::var("AWS_ENDPOINT_URL").unwrap());
            return;
        }
        let first = endpoint();
        assert!(std::net::TcpStream::connect(first.trim_start_matches("http://")).is_ok());
        assert_eq!(std::env::var("AWS_ENDPOINT_URL").unwrap(), first);
        assert_eq!(endpoint(), first, "one emulator per test process");
    }

    #[test]
    fn unique_names_differ() {
        assert_ne!(unique("t"), unique("t"));
    }
}
