//! Resources for tests against the emulator `tools/test.sh` runs: names no other test uses, the
//! manifest's tables and a queue under such names, and the keyed-state core's settings on
//! them. Built only with the `test-support` feature, for dev-dependencies.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::stack::Stack;

/// Fails the test, saying how to run it, unless an emulator's endpoint is set.
pub fn require_emulator() {
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL").is_some(),
        "integration tests need the emulator: run tools/test.sh"
    );
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
    crate::tables::create_table(client, &name, &Stack::workspace().tables[key])
        .await
        .expect("create table");
    name
}

/// A standard queue under a unique name; its URL.
#[cfg(feature = "sinks")]
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
#[cfg(feature = "sinks")]
pub async fn stream_core_settings(
    dynamodb: &aws_sdk_dynamodb::Client,
    sqs: &aws_sdk_sqs::Client,
    state_table: &str,
    applied_ids_table: &str,
) -> crate::keyed_state::Settings {
    crate::keyed_state::Settings {
        state_table: table(dynamodb, state_table).await,
        applied_ids_table: table(dynamodb, applied_ids_table).await,
        rejects_queue_url: queue(sqs, "rejects").await,
        max_future_skew: time::Duration::minutes(5),
        state_cache_size: 100,
    }
}
