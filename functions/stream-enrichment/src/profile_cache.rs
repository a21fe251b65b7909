//! Profiles kept warm between batches: bounded (least recently used out first) and each entry
//! fresh for a time to live, so a changed profile shows within the TTL. Users without a
//! profile are cached too: a hot anonymous user costs no read per batch.

use std::num::NonZeroUsize;
use std::time::Duration;

use lru::LruCache;
use shared::enriched::ProfileAttributes;
use tokio::time::Instant;

pub struct ProfileCache {
    /// `None` when the cache is off (size 0).
    entries: Option<LruCache<String, (ProfileAttributes, Instant)>>,
    ttl: Duration,
}

impl ProfileCache {
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            entries: NonZeroUsize::new(capacity).map(LruCache::new),
            ttl,
        }
    }

    /// The cached profile of `user_id`, if read less than the TTL before `now`.
    pub fn get(&mut self, user_id: &str, now: Instant) -> Option<ProfileAttributes> {
        let entries = self.entries.as_mut()?;
        match entries.get(user_id) {
            Some((profile, read_at)) if now.saturating_duration_since(*read_at) < self.ttl => {
                Some(profile.clone())
            }
            Some(_) => {
                entries.pop(user_id);
                None
            }
            None => None,
        }
    }

    pub fn insert(&mut self, user_id: &str, profile: ProfileAttributes, read_at: Instant) {
        if let Some(entries) = self.entries.as_mut() {
            entries.put(user_id.to_owned(), (profile, read_at));
        }
    }

    pub fn len(&self) -> usize {
        self.entries.as_ref().map_or(0, LruCache::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(segment: &str) -> ProfileAttributes {
        ProfileAttributes {
            segment: segment.into(),
            found: true,
            ..ProfileAttributes::unknown()
        }
    }

    #[test]
    fn entries_expire_after_the_ttl() {
        let start = Instant::now();
        let mut cache = ProfileCache::new(10, Duration::from_secs(60));
        cache.insert("u", profile("a"), start);
        assert_eq!(
            cache.get("u", start + Duration::from_secs(59)),
            Some(profile("a"))
        );
        assert_eq!(cache.get("u", start + Duration::from_secs(60)), None);
        assert!(cache.is_empty(), "an expired entry is dropped");
    }

    #[test]
    fn the_least_recently_used_entry_makes_room() {
        let now = Instant::now();
        let mut cache = ProfileCache::new(2, Duration::from_secs(60));
        cache.insert("a", profile("a"), now);
        cache.insert("b", profile("b"), now);
        cache.get("a", now);
        cache.insert("c", profile("c"), now);
        assert_eq!(cache.len(), 2);
        assert!(cache.get("b", now).is_none());
        assert!(cache.get("a", now).is_some());
        assert!(cache.get("c", now).is_some());
    }

    #[test]
    fn unknown_users_are_cached_and_size_zero_turns_the_cache_off() {
        let now = Instant::now();
        let mut cache = ProfileCache::new(5, Duration::from_secs(60));
        cache.insert("anon", ProfileAttributes::unknown(), now);
        assert_eq!(cache.get("anon", now), Some(ProfileAttributes::unknown()));
        let mut off = ProfileCache::new(0, Duration::from_secs(60));
        off.insert("u", profile("a"), now);
        assert_eq!(off.get("u", now), None);
    }
}
