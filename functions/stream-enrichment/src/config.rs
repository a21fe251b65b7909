//! The function's settings, read once at init.

use std::time::Duration;

use shared::config::{ConfigLoadError, Env, Source};
use shared::keyed_state::Settings;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The keyed-state core's: `AGGREGATES_TABLE` (per-user aggregates and session state),
    /// `APPLIED_EVENTS_TABLE`, `REJECTS_QUEUE_URL`, `MAX_FUTURE_SKEW_SECONDS`,
    /// `STATE_CACHE_SIZE`.
    pub core: Settings,
    /// `PROFILES_TABLE`: the profiles joined onto events.
    pub profiles_table: String,
    /// `ENRICHED_STREAM`: where enriched events go.
    pub enriched_stream: String,
    /// `PROFILE_CACHE_SIZE` (default 10000; 0 turns the cache off).
    pub profile_cache_size: usize,
    /// `PROFILE_CACHE_TTL_SECONDS` (default 300).
    pub profile_cache_ttl: Duration,
}

/// Most profiles a cache may hold: about 250 bytes each, so at most ~250 MB of memory.
pub const MAX_PROFILE_CACHE_SIZE: usize = 1_000_000;

impl Config {
    pub fn from_env<S: Source>(env: &Env<S>) -> Result<Self, ConfigLoadError> {
        let profile_cache_size: usize = env.or_default("PROFILE_CACHE_SIZE", 10_000)?;
        let ttl_seconds: u64 = env.or_default("PROFILE_CACHE_TTL_SECONDS", 300)?;
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
            core: Settings::from_env(env, "AGGREGATES_TABLE")?,
            profiles_table: env.required("PROFILES_TABLE")?,
            enriched_stream: env.required("ENRICHED_STREAM")?,
            profile_cache_size,
            profile_cache_ttl: Duration::from_secs(ttl_seconds),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUIRED: [(&str, &str); 5] = [
        ("PROFILES_TABLE", "p"),
        ("AGGREGATES_TABLE", "a"),
        ("APPLIED_EVENTS_TABLE", "ae"),
        ("ENRICHED_STREAM", "e"),
        ("REJECTS_QUEUE_URL", "https://q/rejects"),
    ];

    #[test]
    fn defaults_and_overrides() {
        let config = Config::from_env(&Env::from_pairs(&REQUIRED)).unwrap();
        assert_eq!(config.profile_cache_size, 10_000);
        assert_eq!(config.profile_cache_ttl, Duration::from_secs(300));
        assert_eq!(config.core.state_table, "a", "the core's settings");
        let mut pairs = REQUIRED.to_vec();
        pairs.extend([
            ("PROFILE_CACHE_SIZE", "0"),
            ("PROFILE_CACHE_TTL_SECONDS", "5"),
        ]);
        let config = Config::from_env(&Env::from_pairs(&pairs)).unwrap();
        assert_eq!(config.profile_cache_size, 0);
        assert_eq!(config.profile_cache_ttl, Duration::from_secs(5));
    }

    #[test]
    fn missing_and_bad_settings_are_named() {
        testkit::settings::assert_each_setting_is_named(
            Config::from_env,
            &REQUIRED,
            &[
                ("PROFILE_CACHE_SIZE", "many"),
                ("PROFILE_CACHE_SIZE", "2000000"),
                ("PROFILE_CACHE_TTL_SECONDS", "-1"),
                ("PROFILE_CACHE_TTL_SECONDS", "100000"),
                ("STATE_CACHE_SIZE", "lots"),
            ],
        );
    }
}
