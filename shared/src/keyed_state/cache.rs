//! States kept warm in an execution environment between batches, as last written (or read),
//! least recently used out first, each with the shard its user's records came from.
//!
//! A cached state may be stale: another environment may have written the user since (Lambda
//! does not promise that a shard's next batch comes to the same environment). The core uses a
//! state only while the shard's mark names this environment and the state was last applied
//! from that shard, and drops every state of a shard whose mark names another
//! ([`super::applied_ids`]). Beyond that it is safe because every write is conditional on the
//! version the state carries: a stale state's write fails, the entry is dropped, and the
//! consumer's conflict policy reads the item again. What a stale state decides without a write is safe too: it knows a subset of what
//! the stored item knows (checkpoints only advance, applied ids are only added or spilled),
//! so it can take a record for new when it is not (then the write fails), never the reverse.

use std::num::NonZeroUsize;
use std::sync::Mutex;

use lru::LruCache;

/// Most states a cache may hold.
pub const MAX_STATE_CACHE_SIZE: usize = 1_000_000;

pub struct StateCache<S> {
    /// `None` when the cache is off (size 0).
    entries: Option<Mutex<LruCache<String, S>>>,
}

impl<S: Clone> StateCache<S> {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: NonZeroUsize::new(capacity)
                .map(|capacity| Mutex::new(LruCache::new(capacity))),
        }
    }

    /// A copy of the cached state of `user_id`: the entry stays as it was whatever the batch
    /// does to the copy.
    pub fn get(&self, user_id: &str) -> Option<S> {
        self.entries
            .as_ref()?
            .lock()
            .expect("state cache lock")
            .get(user_id)
            .cloned()
    }

    pub fn put(&self, user_id: &str, state: S) {
        if let Some(entries) = &self.entries {
            entries
                .lock()
                .expect("state cache lock")
                .put(user_id.to_owned(), state);
        }
    }

    pub fn evict(&self, user_id: &str) {
        if let Some(entries) = &self.entries {
            entries.lock().expect("state cache lock").pop(user_id);
        }
    }

    /// Drops every entry `stale` picks; how many.
    pub fn evict_where(&self, stale: impl Fn(&S) -> bool) -> usize {
        let Some(entries) = &self.entries else {
            return 0;
        };
        let mut entries = entries.lock().expect("state cache lock");
        let users: Vec<String> = entries
            .iter()
            .filter(|(_, state)| stale(state))
            .map(|(user_id, _)| user_id.clone())
            .collect();
        for user_id in &users {
            entries.pop(user_id);
        }
        users.len()
    }

    pub fn len(&self) -> usize {
        self.entries
            .as_ref()
            .map_or(0, |entries| entries.lock().expect("state cache lock").len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_changed_by_a_batch_leaves_the_entry_alone() {
        let cache = StateCache::new(2);
        cache.put("u", vec![1]);
        let mut copy = cache.get("u").unwrap();
        copy.push(2);
        assert_eq!(cache.get("u"), Some(vec![1]));
        cache.evict("u");
        assert_eq!(cache.get("u"), None);
    }

    #[test]
    fn entries_can_be_dropped_by_what_they_hold() {
        let cache = StateCache::new(10);
        for (user, shard) in [("a", 1), ("b", 2), ("c", 1)] {
            cache.put(user, shard);
        }
        assert_eq!(cache.evict_where(|shard| *shard == 1), 2);
        assert_eq!(
            (cache.get("a"), cache.get("b"), cache.get("c")),
            (None, Some(2), None)
        );
        assert_eq!(StateCache::<u8>::new(0).evict_where(|_| true), 0);
    }

    #[test]
    fn the_least_recently_used_goes_first_and_size_zero_is_off() {
        let cache = StateCache::new(2);
        cache.put("a", 1);
        cache.put("b", 2);
        cache.get("a");
        cache.put("c", 3);
        assert_eq!(
            (cache.get("a"), cache.get("b"), cache.get("c")),
            (Some(1), None, Some(3))
        );
        let off = StateCache::new(0);
        off.put("a", 1);
        assert_eq!((off.get("a"), off.len()), (None, 0));
    }
}
