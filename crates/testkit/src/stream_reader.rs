//! Reading a whole Kinesis stream from its oldest record, every shard: what tests and the local
//! stack's demo check the pipeline's output with.

use aws_sdk_kinesis::types::{Record, ShardIteratorType};

use shared::dynamo::describe;

/// Every record in `stream` now, per shard in sequence order.
pub async fn read_all(
    client: &aws_sdk_kinesis::Client,
    stream: &str,
) -> Result<Vec<Record>, String> {
    let shards = client
        .list_shards()
        .stream_name(stream)
        .send()
        .await
        .map_err(|error| format!("ListShards {stream}: {}", describe(&error)))?;
    let mut records = Vec::new();
    for shard in shards.shards() {
        let mut iterator = client
            .get_shard_iterator()
            .stream_name(stream)
            .shard_id(shard.shard_id())
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .map_err(|error| format!("GetShardIterator {stream}: {}", describe(&error)))?
            .shard_iterator;
        while let Some(current) = iterator {
            let page = client
                .get_records()
                .shard_iterator(current)
                .limit(10_000)
                .send()
                .await
                .map_err(|error| format!("GetRecords {stream}: {}", describe(&error)))?;
            // An open shard always hands back a next iterator; no records means caught up.
            if page.records().is_empty() {
                break;
            }
            records.extend(page.records().iter().cloned());
            iterator = page.next_shard_iterator;
        }
    }
    Ok(records)
}
