//! A stream's shards and their lineage, as `ListShards` gives them: which shards may be read now
//! (a child only once every parent it has is drained), and which shard descends from which.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_kinesis::types::Shard;

/// One shard as the event source needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardInfo {
    pub id: String,
    /// `ParentShardId` and `AdjacentParentShardId` (a merge has two parents, a split one).
    pub parents: Vec<String>,
    /// Closed by a split or merge: it takes no more records (its `EndingSequenceNumber` is set).
    pub closed: bool,
}

/// Whether Kinesis still writes to `shard`: a closed one has an `EndingSequenceNumber`.
pub fn is_open(shard: &Shard) -> bool {
    shard
        .sequence_number_range()
        .and_then(|range| range.ending_sequence_number())
        .is_none()
}

/// Every shard of `stream`, open and closed (within its retention), all pages of `ListShards`.
pub async fn list_shards(
    kinesis: &aws_sdk_kinesis::Client,
    stream: &str,
) -> Result<Vec<Shard>, String> {
    let mut shards = Vec::new();
    let mut next_token: Option<String> = None;
    loop {
        // ListShards takes either the stream name or a token, not both.
        let request = match &next_token {
            Some(token) => kinesis.list_shards().next_token(token),
            None => kinesis.list_shards().stream_name(stream),
        };
        let page = request.send().await.map_err(|error| {
            format!(
                "ListShards {stream}: {}",
                aws_sdk_kinesis::error::DisplayErrorContext(error)
            )
        })?;
        shards.extend(page.shards().iter().cloned());
        next_token = page.next_token().map(str::to_owned);
        if next_token.is_none() {
            return Ok(shards);
        }
    }
}

impl ShardInfo {
    pub fn of(shard: &Shard) -> Self {
        Self {
            id: shard.shard_id().to_owned(),
            parents: shard
                .parent_shard_id()
                .into_iter()
                .chain(shard.adjacent_parent_shard_id())
                .map(str::to_owned)
                .collect(),
            closed: !is_open(shard),
        }
    }
}

/// The shards of a stream by id, as last listed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lineage {
    shards: BTreeMap<String, ShardInfo>,
}

impl Lineage {
    pub fn new(shards: impl IntoIterator<Item = ShardInfo>) -> Self {
        Self {
            shards: shards
                .into_iter()
                .map(|shard| (shard.id.clone(), shard))
                .collect(),
        }
    }

    pub fn get(&self, id: &str) -> Option<&ShardInfo> {
        self.shards.get(id)
    }

    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.shards.keys().map(String::as_str)
    }

    pub fn is_closed(&self, id: &str) -> bool {
        self.shards.get(id).is_some_and(|shard| shard.closed)
    }

    pub fn closed(&self) -> usize {
        self.shards.values().filter(|shard| shard.closed).count()
    }

    pub fn len(&self) -> usize {
        self.shards.len()
    }

    pub fn is_empty(&self) -> bool {
        self.shards.is_empty()
    }

    /// The shards to start reading now, in id order: not started yet, and every parent either
    /// drained or gone from the stream (expired past its retention), so a user's records are
    /// read in order across a reshard.
    pub fn ready(&self, started: &BTreeSet<String>, drained: &BTreeSet<String>) -> Vec<String> {
        self.shards
            .values()
            .filter(|shard| !started.contains(&shard.id) && !drained.contains(&shard.id))
            .filter(|shard| {
                shard
                    .parents
                    .iter()
                    .all(|parent| drained.contains(parent) || !self.shards.contains_key(parent))
            })
            .map(|shard| shard.id.clone())
            .collect()
    }

    /// Whether `ancestor` is a parent of `shard`, or a parent of a parent, and so on.
    pub fn descends_from(&self, shard: &str, ancestor: &str) -> bool {
        let mut to_visit = vec![shard];
        let mut seen = BTreeSet::new();
        while let Some(current) = to_visit.pop() {
            let Some(info) = self.shards.get(current) else {
                continue;
            };
            for parent in &info.parents {
                if parent == ancestor {
                    return true;
                }
                if seen.insert(parent.as_str()) {
                    to_visit.push(parent);
                }
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(id: &str, parents: &[&str], closed: bool) -> ShardInfo {
        ShardInfo {
            id: id.into(),
            parents: parents.iter().map(|p| (*p).to_owned()).collect(),
            closed,
        }
    }

    fn set(ids: &[&str]) -> BTreeSet<String> {
        ids.iter().map(|id| (*id).to_owned()).collect()
    }

    /// s0 split into s1 and s2; s1 and s2 merged into s3; s4 is an unrelated shard.
    fn resharded() -> Lineage {
        Lineage::new([
            shard("s0", &[], true),
            shard("s1", &["s0"], true),
            shard("s2", &["s0"], true),
            shard("s3", &["s1", "s2"], false),
            shard("s4", &[], false),
        ])
    }

    #[test]
    fn children_wait_until_every_parent_is_drained() {
        let lineage = resharded();
        assert_eq!(lineage.ready(&set(&[]), &set(&[])), ["s0", "s4"]);
        assert_eq!(
            lineage.ready(&set(&["s0", "s4"]), &set(&[])),
            Vec::<String>::new(),
            "s0 is still being read"
        );
        assert_eq!(lineage.ready(&set(&["s4"]), &set(&["s0"])), ["s1", "s2"]);
        assert_eq!(
            lineage.ready(&set(&["s2", "s4"]), &set(&["s0", "s1"])),
            Vec::<String>::new(),
            "a merge waits for both parents"
        );
        assert_eq!(
            lineage.ready(&set(&["s4"]), &set(&["s0", "s1", "s2"])),
            ["s3"]
        );
    }

    #[test]
    fn a_parent_gone_from_the_stream_does_not_hold_its_children() {
        let lineage = Lineage::new([shard("s1", &["s0"], false)]);
        assert_eq!(lineage.ready(&set(&[]), &set(&[])), ["s1"]);
    }

    #[test]
    fn descent_follows_both_parents_of_a_merge_and_nothing_else() {
        let lineage = resharded();
        assert!(lineage.descends_from("s3", "s1"));
        assert!(lineage.descends_from("s3", "s2"));
        assert!(lineage.descends_from("s3", "s0"));
        assert!(!lineage.descends_from("s1", "s2"), "siblings");
        assert!(!lineage.descends_from("s0", "s3"), "the other way round");
        assert!(!lineage.descends_from("s3", "s4"));
        assert!(!lineage.descends_from("s3", "s3"));
    }
}
