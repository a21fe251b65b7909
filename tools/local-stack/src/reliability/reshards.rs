//! Resharding under load: the pipeline workloads publish in parts, and between two parts every
//! stream of the stack is resharded, one step of [`PLAN`] each time, while the records of the
//! parts before are still being processed: the shard count doubled with `UpdateShardCount`, the
//! widest open shard split, the two highest open shards merged (children of different parents
//! after the steps before), and the count brought back to what was deployed. Each step leaves
//! records in closed parents that the event sources must drain before reading the children.

use std::fmt;

use aws_sdk_kinesis::types::{ScalingType, Shard};

use emulator::kinesis_source::lineage;
use emulator::resources::Clients;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReshardKind {
    /// `UpdateShardCount` to twice the open shards.
    ScaleUp,
    /// `SplitShard` of the open shard with the widest hash key range (the lowest of equals),
    /// at its middle.
    Split,
    /// `MergeShards` of the two open shards with the highest hash keys.
    Merge,
    /// `UpdateShardCount` back to the deployed shard count.
    ScaleDown,
}

/// The steps, in order; each is made on every stream.
pub const PLAN: [ReshardKind; 4] = [
    ReshardKind::ScaleUp,
    ReshardKind::Split,
    ReshardKind::Merge,
    ReshardKind::ScaleDown,
];

impl fmt::Display for ReshardKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ScaleUp => "shard count up",
            Self::Split => "split",
            Self::Merge => "merge",
            Self::ScaleDown => "shard count down",
        })
    }
}

/// One reshard made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reshard {
    pub stream: String,
    pub kind: ReshardKind,
    pub open_before: usize,
    pub open_after: usize,
}

/// The open shards of `stream`, by hash key range.
pub async fn open_shards(clients: &Clients, stream: &str) -> Result<Vec<Shard>, String> {
    let mut open: Vec<Shard> = lineage::list_shards(&clients.kinesis, stream)
        .await?
        .into_iter()
        .filter(lineage::is_open)
        .collect();
    open.sort_by_key(|shard| hash_range(shard).0);
    Ok(open)
}

/// The open shards of a provisioned `stream`; `None` for an on-demand one (which Kinesis
/// reshards by itself: `UpdateShardCount` refuses it).
pub async fn provisioned_shards(clients: &Clients, stream: &str) -> Result<Option<usize>, String> {
    let summary = clients
        .kinesis
        .describe_stream_summary()
        .stream_name(stream)
        .send()
        .await
        .map_err(|error| {
            format!(
                "DescribeStreamSummary {stream}: {}",
                aws_sdk_kinesis::error::DisplayErrorContext(error)
            )
        })?;
    let on_demand = summary
        .stream_description_summary()
        .and_then(|summary| summary.stream_mode_details())
        .is_some_and(|mode| mode.stream_mode() == &aws_sdk_kinesis::types::StreamMode::OnDemand);
    if on_demand {
        return Ok(None);
    }
    Ok(Some(open_shards(clients, stream).await?.len()))
}

fn hash_range(shard: &Shard) -> (u128, u128) {
    let range = shard.hash_key_range();
    let parse = |key: Option<&str>| key.and_then(|key| key.parse().ok()).unwrap_or_default();
    (
        parse(range.map(|r| r.starting_hash_key())),
        parse(range.map(|r| r.ending_hash_key())),
    )
}

/// Where to split a shard: the first hash key of its upper half.
pub fn middle(start: u128, end: u128) -> u128 {
    start + (end - start) / 2 + 1
}

/// Makes step `kind` on `stream`, deployed with `deployed_shards` shards.
pub async fn reshard(
    clients: &Clients,
    stream: &str,
    kind: ReshardKind,
    deployed_shards: usize,
) -> Result<Reshard, String> {
    let open = open_shards(clients, stream).await?;
    let failed = |error: String| format!("{kind} on {stream}: {error}");
    let kinesis = &clients.kinesis;
    match kind {
        ReshardKind::ScaleUp | ReshardKind::ScaleDown => {
            let target = if kind == ReshardKind::ScaleUp {
                open.len() * 2
            } else {
                deployed_shards
            };
            kinesis
                .update_shard_count()
                .stream_name(stream)
                .target_shard_count(i32::try_from(target).unwrap_or(i32::MAX))
                .scaling_type(ScalingType::UniformScaling)
                .send()
                .await
                .map_err(|error| {
                    failed(aws_sdk_kinesis::error::DisplayErrorContext(error).to_string())
                })?;
        }
        ReshardKind::Split => {
            // The lowest of equally wide shards: after a doubling, the lower half, so that the
            // next step's merge of the two highest shards joins a child of this split with a
            // shard of another parent.
            let widest = open
                .iter()
                .max_by(|a, b| {
                    let ((a_start, a_end), (b_start, b_end)) = (hash_range(a), hash_range(b));
                    (a_end - a_start)
                        .cmp(&(b_end - b_start))
                        .then(b_start.cmp(&a_start))
                })
                .ok_or_else(|| failed("no open shard".into()))?;
            let (start, end) = hash_range(widest);
            kinesis
                .split_shard()
                .stream_name(stream)
                .shard_to_split(widest.shard_id())
                .new_starting_hash_key(middle(start, end).to_string())
                .send()
                .await
                .map_err(|error| {
                    failed(aws_sdk_kinesis::error::DisplayErrorContext(error).to_string())
                })?;
        }
        ReshardKind::Merge => {
            let [.., low, high] = open.as_slice() else {
                return Err(failed(format!("{} open shard(s), 2 needed", open.len())));
            };
            kinesis
                .merge_shards()
                .stream_name(stream)
                .shard_to_merge(low.shard_id())
                .adjacent_shard_to_merge(high.shard_id())
                .send()
                .await
                .map_err(|error| {
                    failed(aws_sdk_kinesis::error::DisplayErrorContext(error).to_string())
                })?;
        }
    }
    let open_after = open_shards(clients, stream).await?.len();
    Ok(Reshard {
        stream: stream.to_owned(),
        kind,
        open_before: open.len(),
        open_after,
    })
}

/// "split 2, merge 2, ..." in [`PLAN`]'s order, for the kinds made.
pub fn tally(made: &[Reshard]) -> String {
    PLAN.iter()
        .map(|kind| {
            let count = made.iter().filter(|reshard| reshard.kind == *kind).count();
            format!("{kind} {count}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_split_point_is_inside_the_range_and_past_its_start() {
        assert_eq!(middle(0, u128::MAX), u128::MAX / 2 + 1);
        let (start, end) = (u128::MAX / 2 + 1, u128::MAX);
        let point = middle(start, end);
        assert!(start < point && point <= end);
        assert_eq!(middle(10, 11), 11, "the smallest shard that can split");
    }

    #[test]
    fn the_tally_names_every_step_in_order() {
        let made = |kind| Reshard {
            stream: "s".into(),
            kind,
            open_before: 1,
            open_after: 2,
        };
        assert_eq!(
            tally(&[
                made(ReshardKind::Split),
                made(ReshardKind::ScaleUp),
                made(ReshardKind::Split)
            ]),
            "shard count up 1, split 2, merge 0, shard count down 0"
        );
    }
}
