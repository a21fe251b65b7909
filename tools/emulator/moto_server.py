"""moto's server with its Kinesis resharding corrected: the emulator every part of the project runs.

Usage: <python with the pinned moto> tools/emulator/moto_server.py [moto_server's arguments]

The local stack, the test kit and tools/test.sh start moto through this file (the Rust side
carries a copy of it, `include_str!`, and runs it with `python -c`). It corrects three methods of
moto 5.2.5's Kinesis model, in-process, so that resharding behaves as Kinesis documents it; each
fix has a test in tools/emulator/tests/emulator_fixes.rs that fails without it:

- Stream.get_shard_for_key: moto routes a partition key to the first shard whose hash key range
  holds it, closed or not, so after SplitShard, MergeShards or UpdateShardCount every
  PutRecord(s) still lands on the closed parent and a reshard moves no traffic. Kinesis writes to
  the open shard of the key's range; so does this.
- Stream.split_shard: moto empties the parent and puts its records again (new sequence numbers)
  through get_shard_for_key, so they move to the children, or with the bug above back into the
  parent, numbered from 1. In Kinesis a parent keeps its records until they expire, and its
  children start empty; so here.
- Stream.merge_shards: moto copies both parents' records into the new shard, so every record is
  read twice. Here the parents keep theirs and the child starts empty.

Writes and reshards also take one lock here (moto's server answers on several threads), so that
no record lands in a shard after it closed.

Everything else is moto's own. The shard ids, hash key ranges and parent links of the new
shards are moto's (the next free ids, the parents' ranges), and the checks are the same.
"""

from __future__ import annotations

import sys
import threading
from operator import attrgetter

from moto.kinesis.exceptions import InvalidArgumentError
from moto.kinesis.models import Shard, Stream
from moto.server import main
from moto.utilities.utils import md5_hash

RESHARD_LOCK = threading.RLock()


def open_shard_for_key(self: Stream, partition_key: str, explicit_hash_key: str) -> Shard | None:
    # moto's checks of the key and hash key, then the open shard whose range holds the hash
    # (Kinesis ranges include their ending hash key; moto's lookup leaves it out).
    if not isinstance(partition_key, str) or len(partition_key) > 256:
        raise InvalidArgumentError("partition_key")
    if explicit_hash_key:
        if not isinstance(explicit_hash_key, str):
            raise InvalidArgumentError("explicit_hash_key")
        hash_key = int(explicit_hash_key)
        if hash_key >= 2**128:
            raise InvalidArgumentError("explicit_hash_key")
    else:
        hash_key = int(md5_hash(partition_key.encode("utf-8")).hexdigest(), 16)
    for shard in list(self.shards.values()):
        if shard.is_open and shard.starting_hash <= hash_key <= shard.ending_hash:
            return shard
    return None


def serialized(method):
    # The server answers on several threads: a write picks its shard and appends to it, and a
    # reshard closes shards and adds children, one at a time, so no record lands in a shard
    # after it closed (its EndingSequenceNumber is final once ListShards shows it).
    def locked(*args, **kwargs):
        with RESHARD_LOCK:
            return method(*args, **kwargs)

    return locked


def count_open(stream: Stream) -> int:
    # What DescribeStreamSummary reports as OpenShardCount.
    return sum(1 for shard in stream.shards.values() if shard.is_open)


def next_shard_index(stream: Stream) -> int:
    return max(stream.shards.values(), key=attrgetter("_shard_id"))._shard_id + 1


def split_keeping_records(self: Stream, shard_to_split: str, new_starting_hash_key: str) -> None:
    new_starting_hash = int(new_starting_hash_key)
    shard = self.shards[shard_to_split]
    # Kinesis: the key must be in the shard's range, and above its first key (the lower child
    # gets [start, key - 1], the upper [key, end]).
    if not shard.starting_hash < new_starting_hash <= shard.ending_hash:
        raise InvalidArgumentError(
            message=f"NewStartingHashKey {new_starting_hash} used in SplitShard() on shard "
            f"{shard_to_split} in stream {self.stream_name} under account {self.account_id} is "
            f"not greater than the shard's StartingHashKey {shard.starting_hash} and at most its "
            f"EndingHashKey {shard.ending_hash}."
        )
    if not shard.is_open:
        raise InvalidArgumentError(
            message=f"Shard {shard.shard_id} in stream {self.stream_name} under account "
            f"{self.account_id} has already been merged or split, and thus is not eligible for "
            "merging or splitting."
        )
    index = next_shard_index(self)
    lower = Shard(index, shard.starting_hash, new_starting_hash - 1, parent=shard.shard_id)
    upper = Shard(index + 1, new_starting_hash, shard.ending_hash, parent=shard.shard_id)
    # Closed first: from here on no write can pick the parent.
    shard.is_open = False
    self.shards[lower.shard_id] = lower
    self.shards[upper.shard_id] = upper
    self.shard_count = count_open(self)


def merge_keeping_records(self: Stream, shard_to_merge: str, adjacent_shard_to_merge: str) -> None:
    first = self.shards[shard_to_merge]
    second = self.shards[adjacent_shard_to_merge]
    if first.ending_hash + 1 == second.starting_hash:
        low, high = first, second
    elif second.ending_hash + 1 == first.starting_hash:
        low, high = second, first
    else:
        raise InvalidArgumentError(adjacent_shard_to_merge)
    if not (first.is_open and second.is_open):
        raise InvalidArgumentError(
            message=f"Shards {shard_to_merge} and {adjacent_shard_to_merge} in stream "
            f"{self.stream_name} under account {self.account_id} must both be open to be merged."
        )
    merged = Shard(
        next_shard_index(self),
        low.starting_hash,
        high.ending_hash,
        parent=first.shard_id,
        adjacent_parent=second.shard_id,
    )
    first.is_open = False
    second.is_open = False
    self.shards[merged.shard_id] = merged
    self.shard_count = count_open(self)


Stream.get_shard_for_key = open_shard_for_key
Stream.put_record = serialized(Stream.put_record)
Stream.split_shard = serialized(split_keeping_records)
Stream.merge_shards = serialized(merge_keeping_records)

if __name__ == "__main__":
    main(sys.argv[1:])
