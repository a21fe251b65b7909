//! The emulator fixes of `tools/emulator/moto_server.py`, against the emulator every test uses
//! (started through that launcher): after a reshard, writes go to the open shard of their key,
//! parents keep their records and children start empty, as in Kinesis. The last test runs
//! moto without the launcher and shows the bug is still there, so the fix is still needed.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{Shard, ShardIteratorType};
use emulator::kinesis_source::lineage;
use shared::clients::ClientSettings;

async fn kinesis_at(endpoint: Option<&str>) -> aws_sdk_kinesis::Client {
    let config = testkit::emulator::sdk_config(ClientSettings::batch_consumer()).await;
    let mut builder = aws_sdk_kinesis::config::Builder::from(&config);
    if let Some(endpoint) = endpoint {
        builder = builder.endpoint_url(endpoint);
    }
    aws_sdk_kinesis::Client::from_conf(builder.build())
}

/// A one-shard stream named `name` exactly (on any emulator); its shard's id.
async fn one_shard_stream(kinesis: &aws_sdk_kinesis::Client, name: &str) -> String {
    kinesis
        .create_stream()
        .stream_name(name)
        .shard_count(1)
        .send()
        .await
        .unwrap();
    shards(kinesis, name).await[0].shard_id().to_owned()
}

async fn shards(kinesis: &aws_sdk_kinesis::Client, stream: &str) -> Vec<Shard> {
    lineage::list_shards(kinesis, stream).await.unwrap()
}

/// Puts one record per key; the shard each went to, per key, and the sequence numbers.
async fn put(
    kinesis: &aws_sdk_kinesis::Client,
    stream: &str,
    keys: impl Iterator<Item = String>,
) -> BTreeMap<String, (String, String)> {
    let mut written = BTreeMap::new();
    for key in keys {
        let answer = kinesis
            .put_record()
            .stream_name(stream)
            .partition_key(&key)
            .data(Blob::new(key.as_bytes()))
            .send()
            .await
            .unwrap();
        written.insert(
            key,
            (
                answer.shard_id().to_owned(),
                answer.sequence_number().to_owned(),
            ),
        );
    }
    written
}

/// Every record of `shard`, as (partition key, sequence number).
async fn read_all(
    kinesis: &aws_sdk_kinesis::Client,
    stream: &str,
    shard: &str,
) -> Vec<(String, String)> {
    let mut iterator = kinesis
        .get_shard_iterator()
        .stream_name(stream)
        .shard_id(shard)
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap()
        .shard_iterator;
    let mut records = Vec::new();
    while let Some(current) = iterator {
        let page = kinesis
            .get_records()
            .shard_iterator(current)
            .send()
            .await
            .unwrap();
        if page.records().is_empty() {
            break;
        }
        records.extend(page.records().iter().map(|record| {
            (
                record.partition_key().unwrap_or_default().to_owned(),
                record.sequence_number().to_owned(),
            )
        }));
        iterator = page.next_shard_iterator;
    }
    records
}

fn keys(prefix: &str, count: usize) -> impl Iterator<Item = String> {
    (0..count).map(move |n| format!("{prefix}-{n}"))
}

fn hash_range(shard: &Shard) -> (u128, u128) {
    let range = shard.hash_key_range().unwrap();
    (
        range.starting_hash_key().parse().unwrap(),
        range.ending_hash_key().parse().unwrap(),
    )
}

fn open(shards: &[Shard]) -> Vec<&Shard> {
    shards
        .iter()
        .filter(|shard| lineage::is_open(shard))
        .collect()
}

#[tokio::test]
async fn after_a_split_writes_go_to_the_children_and_the_parent_keeps_its_records() {
    let kinesis = kinesis_at(None).await;
    let stream = testkit::emulator::unique("split");
    let parent = one_shard_stream(&kinesis, &stream).await;
    let before = put(&kinesis, &stream, keys("before", 40)).await;
    assert!(before.values().all(|(shard, _)| *shard == parent));

    kinesis
        .split_shard()
        .stream_name(&stream)
        .shard_to_split(&parent)
        .new_starting_hash_key((u128::MAX / 2 + 1).to_string())
        .send()
        .await
        .unwrap();
    let listed = shards(&kinesis, &stream).await;
    let children = open(&listed);
    assert_eq!(children.len(), 2);
    assert!(
        children
            .iter()
            .all(|child| child.parent_shard_id() == Some(parent.as_str()))
    );

    let after = put(&kinesis, &stream, keys("after", 200)).await;
    let mut per_child: BTreeMap<&str, usize> = BTreeMap::new();
    for (key, (shard, _)) in &after {
        assert!(
            children.iter().any(|child| child.shard_id() == shard),
            "{key} went to {shard}, not to a child of {parent}"
        );
        *per_child.entry(shard).or_default() += 1;
    }
    // By hash key: each child takes its own range, both ends included.
    let split = u128::MAX / 2 + 1;
    for hash in [0, split - 1, split, u128::MAX] {
        let answer = kinesis
            .put_record()
            .stream_name(&stream)
            .partition_key("by-hash")
            .explicit_hash_key(hash.to_string())
            .data(Blob::new("by-hash"))
            .send()
            .await
            .unwrap();
        let child = children
            .iter()
            .find(|child| child.shard_id() == answer.shard_id())
            .unwrap_or_else(|| panic!("hash key {hash} went to {}", answer.shard_id()));
        let (low, high) = hash_range(child);
        assert!(
            low <= hash && hash <= high,
            "hash key {hash} in {low}..={high}"
        );
        *per_child.entry(child.shard_id()).or_default() += 1;
    }
    assert_eq!(
        per_child.len(),
        2,
        "both children take writes: {per_child:?}"
    );

    // The parent holds what was written before the split, under the same sequence numbers.
    let in_parent: BTreeSet<(String, String)> = read_all(&kinesis, &stream, &parent)
        .await
        .into_iter()
        .collect();
    let written_before: BTreeSet<(String, String)> = before
        .iter()
        .map(|(key, (_, sequence))| (key.clone(), sequence.clone()))
        .collect();
    assert_eq!(in_parent, written_before);
    for child in &children {
        let records = read_all(&kinesis, &stream, child.shard_id()).await;
        assert_eq!(records.len(), per_child[child.shard_id()]);
        assert!(
            records
                .iter()
                .all(|(key, _)| key.starts_with("after-") || key == "by-hash")
        );
    }
}

#[tokio::test]
async fn after_a_merge_the_parents_keep_their_records_and_the_child_takes_the_writes() {
    let kinesis = kinesis_at(None).await;
    let stream = testkit::emulator::unique("merge");
    one_shard_stream(&kinesis, &stream).await;
    kinesis
        .update_shard_count()
        .stream_name(&stream)
        .target_shard_count(2)
        .scaling_type(aws_sdk_kinesis::types::ScalingType::UniformScaling)
        .send()
        .await
        .unwrap();
    let listed = shards(&kinesis, &stream).await;
    let parents: Vec<String> = open(&listed)
        .iter()
        .map(|shard| shard.shard_id().to_owned())
        .collect();
    assert_eq!(parents.len(), 2);
    let before = put(&kinesis, &stream, keys("before", 60)).await;
    let used: BTreeSet<&str> = before.values().map(|(shard, _)| shard.as_str()).collect();
    assert_eq!(
        used,
        parents.iter().map(String::as_str).collect(),
        "UpdateShardCount's children take the writes"
    );

    kinesis
        .merge_shards()
        .stream_name(&stream)
        .shard_to_merge(&parents[0])
        .adjacent_shard_to_merge(&parents[1])
        .send()
        .await
        .unwrap();
    let listed = shards(&kinesis, &stream).await;
    let merged = open(&listed);
    assert_eq!(merged.len(), 1);
    assert_eq!(merged[0].parent_shard_id(), Some(parents[0].as_str()));
    assert_eq!(
        merged[0].adjacent_parent_shard_id(),
        Some(parents[1].as_str())
    );
    let after = put(&kinesis, &stream, keys("after", 30)).await;
    assert!(
        after
            .values()
            .all(|(shard, _)| shard == merged[0].shard_id())
    );
    let in_parents = read_all(&kinesis, &stream, &parents[0]).await.len()
        + read_all(&kinesis, &stream, &parents[1]).await.len();
    assert_eq!(in_parents, 60, "the parents keep their records");
    assert_eq!(
        read_all(&kinesis, &stream, merged[0].shard_id())
            .await
            .len(),
        30,
        "the child holds only what was written after the merge"
    );
}

/// moto as installed, without the launcher, on a free loopback port; killed on drop.
struct PlainMoto {
    child: Child,
    endpoint: String,
}

impl PlainMoto {
    fn start() -> Self {
        let port = emulator::moto::free_port().unwrap();
        let child = Command::new(testkit::emulator::emulator_python())
            .args([
                "-c",
                "import sys; from moto.server import main; main(sys.argv[1:])",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the emulator's python runs");
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for PlainMoto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// When this fails, moto routes writes to open shards by itself: check the other two fixes the
/// same way, and drop what the launcher no longer needs.
#[tokio::test]
async fn moto_without_the_launcher_still_writes_to_a_closed_parent() {
    let plain = PlainMoto::start();
    let kinesis = kinesis_at(Some(&plain.endpoint)).await;
    let parent = one_shard_stream(&kinesis, "plain").await;
    kinesis
        .split_shard()
        .stream_name("plain")
        .shard_to_split(&parent)
        .new_starting_hash_key((u128::MAX / 2 + 1).to_string())
        .send()
        .await
        .unwrap();
    let after = put(&kinesis, "plain", keys("after", 20)).await;
    assert!(
        after.values().all(|(shard, _)| *shard == parent),
        "plain moto now routes writes to the children: {after:?}"
    );
}
