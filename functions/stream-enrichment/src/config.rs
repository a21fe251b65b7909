//! The function's settings, read once at init.

use std::time::Duration;

use shared::config::{ConfigError, Env, Source};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `PROFILES_TABLE`: the profiles joined onto events.
    pub profiles_table: String,
    /// `AGGREGATES_TABLE`: per-user aggregates and session state.
    pub aggregates_table: String,
    /// `APPLIED_EVENTS_TABLE`: the event ids applied to the aggregates in the last 24 hours.
    pub applied_events_table: String,
    /// `ENRICHED_STREAM`: where enriched events go.
    pub enriched_stream: String,
    /// `REJECTS_QUEUE_URL`: where records that can never be processed go, with their reason.
    pub rejects_queue_url: String,
    /// `PROFILE_CACHE_SIZE` (default 10000; 0 turns the cache off).
    pub profile_cache_size: usize,
    /// `PROFILE_CACHE_TTL_SECONDS` (default 300).
    pub profile_cache_ttl: Duration,
    /// `MAX_FUTURE_SKEW_SECONDS` (default 300): how far an event time may be ahead of the
    /// record's arrival on the stream.
    pub max_future_skew: time::Duration,
}

/// Most profiles a cache may hold: about 250 bytes each, so at most ~250 MB of memory.
pub const MAX_PROFILE_CACHE_SIZE: usize = 1_000_000;

#[derive(Debug, thiserror::Error)]
pub enum ConfigLoadError {
    #[error(transparent)]
    Variable(#[from] ConfigError),
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    pub fn from_env<S: Source>(env: &Env<S>) -> Result<Self, ConfigLoadError> {
        let profile_cache_size: usize = env.or_default("PROFILE_CACHE_SIZE", 10_000)?;
        let ttl_seconds: u64 = env.or_default("PROFILE_CACHE_TTL_SECONDS", 300)?;
        let rejects_queue_url = shared::config::rejects_queue_url(env)?;
        if profile_cache_size > MAX_PROFILE_CACHE_SIZE {
            return Err(ConfigLoadError::Invalid(format!(
                "PROFILE_CACHE_SIZE {profile_cache_size} is over {MAX_PROFILE_CACHE_SIZE}"
            )));
        }
        if ttl_seconds > 86_400 {
            return Err(ConfigLoadError::Invalid(
                "PROFILE_CACHE_TTL_SECONDS is over a day; profile changes would show that late"
                    .into(),
            ));
        }
        Ok(Self {
            profiles_table: env.required("PROFILES_TABLE")?,
            aggregates_table: env.required("AGGREGATES_TABLE")?,
            applied_events_table: env.required("APPLIED_EVENTS_TABLE")?,
            enriched_stream: env.required("ENRICHED_STREAM")?,
            rejects_queue_url,
            profile_cache_size,
            profile_cache_ttl: Duration::from_secs(ttl_seconds),
            max_future_skew: shared::config::max_future_skew(env)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env<HashMap<String, String>> {
        Env::from_pairs(pairs)
    }

    const REQUIRED: [(&str, &str); 5] = [
        ("PROFILES_TABLE", "p"),
        ("AGGREGATES_TABLE", "a"),
        ("APPLIED_EVENTS_TABLE", "ae"),
        ("ENRICHED_STREAM", "e"),
        ("REJECTS_QUEUE_URL", "https://q/rejects"),
    ];

    #[test]
    fn defaults_and_overrides() {
        let config = Config::from_env(&env(&REQUIRED)).unwrap();
        assert_eq!(config.profile_cache_size, 10_000);
        assert_eq!(config.profile_cache_ttl, Duration::from_secs(300));
        let mut pairs = REQUIRED.to_vec();
        pairs.extend([
            ("PROFILE_CACHE_SIZE", "0"),
            ("PROFILE_CACHE_TTL_SECONDS", "5"),
        ]);
        let config = Config::from_env(&env(&pairs)).unwrap();
        assert_eq!(config.profile_cache_size, 0);
        assert_eq!(config.profile_cache_ttl, Duration::from_secs(5));
    }

    #[test]
    fn missing_and_bad_settings_are_named() {
        for missing in REQUIRED.map(|(name, _)| name) {
            let pairs: Vec<_> = REQUIRED
                .iter()
                .copied()
                .filter(|(n, _)| *n != missing)
                .collect();
            let error = Config::from_env(&env(&pairs)).unwrap_err().to_string();
            assert!(error.contains(missing), "{error}");
        }
        for (name, value) in [
            ("PROFILE_CACHE_SIZE", "many"),
            ("PROFILE_CACHE_SIZE", "2000000"),
            ("PROFILE_CACHE_TTL_SECONDS", "-1"),
            ("PROFILE_CACHE_TTL_SECONDS", "100000"),
            ("MAX_FUTURE_SKEW_SECONDS", "-5"),
        ] {
            let mut pairs = REQUIRED.to_vec();
            pairs.push((name, value));
            let error = Config::from_env(&env(&pairs)).unwrap_err().to_string();
            assert!(error.contains(name), "{name}={value}: {error}");
        }
    }
}
