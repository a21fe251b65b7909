//! The AWS emulator every integration test runs against, and resources on it under names no
//! other test uses.
//!
//! [`endpoint`] is the one fixture: with `AWS_ENDPOINT_URL` set (as `tools/test.sh` does) the
//! tests use that emulator; without it, the first test of a test binary starts the pinned moto
//! server of `.venv/` on a free loopback port and points the standard SDK variables at it, so
//! plain `cargo test -p <crate>` works. The server is started once per test binary and dies with
//! it: it is spawned from a thread that lives as long as the process, with the kernel told to
//! kill it when that thread ends (`PR_SET_PDEATHSIG`), which is at process exit.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use shared::clients::{self, ClientSettings};
use stack::Stack;

/// moto starts in one to three seconds; a loaded machine gets generous room.
const START_TIMEOUT: Duration = Duration::from_secs(60);

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
            let started =
                start_owned_emulator(&moto_server()).unwrap_or_else(|problem| panic!("{problem}"));
            // SAFETY: set once, inside the OnceLock's initialisation, before this process builds
            // any SDK client: every test that talks to AWS waits here first.
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

/// The pinned `moto_server`: `MOTO_SERVER` when set, else the repository's `.venv/`.
pub fn moto_server() -> PathBuf {
    std::env::var_os("MOTO_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv/bin/moto_server"))
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Starts `moto_server` from a thread that never ends, so that the kernel's parent-death signal
/// (sent when the spawning thread exits) arrives only when the whole test process does.
fn start_owned_emulator(server: &Path) -> Result<String, String> {
    let server = server.to_owned();
    if !server.is_file() {
        return Err(format!(
            "AWS_ENDPOINT_URL is not set and there is no emulator at {}: {INSTALL}",
            server.display()
        ));
    }
    let port = emulator::moto::free_port()
        .map_err(|error| format!("no free loopback port for the emulator: {error}"))?;
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let spawned = spawn_dying_with_parent(&server, port);
        let failed = spawned.is_err();
        let _ = sender.send(spawned.map(|_child| ()));
        if !failed {
            loop {
                std::thread::park();
            }
        }
    });
    receiver
        .recv()
        .map_err(|_| "the emulator's thread ended".to_owned())??;
    let deadline = Instant::now() + START_TIMEOUT;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return Err(format!(
                "the emulator did not accept connections on port {port} within {START_TIMEOUT:?}: {INSTALL}"
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(format!("http://127.0.0.1:{port}"))
}

fn spawn_dying_with_parent(server: &Path, port: u16) -> Result<std::process::Child, String> {
    let mut command = Command::new(server);
    command
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    emulator::child::dies_with_parent_thread(&mut command);
    command
        .spawn()
        .map_err(|error| format!("cannot start {}: {error}: {INSTALL}", server.display()))
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
        let problem = start_owned_emulator(Path::new("/nonexistent/.venv/bin/moto_server"))
            .expect_err("nothing to start");
        assert!(
            problem.contains("/nonexistent/.venv/bin/moto_server"),
            "{problem}"
        );
        assert!(
            problem.contains("pip install -r tools/requirements.txt"),
            "{problem}"
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
        assert!(TcpStream::connect(first.trim_start_matches("http://")).is_ok());
        assert_eq!(std::env::var("AWS_ENDPOINT_URL").unwrap(), first);
        assert_eq!(endpoint(), first, "one emulator per test process");
    }

    #[test]
    fn unique_names_differ() {
        assert_ne!(unique("t"), unique("t"));
    }
}
