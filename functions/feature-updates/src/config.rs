//! The function's settings, read once at init.

use shared::config::{ConfigError, Env, Source};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `FEATURES_TABLE`: the online feature store, one item per user.
    pub features_table: String,
    /// `APPLIED_EVENTS_TABLE`: the event ids applied to the features in the last 24 hours.
    pub applied_events_table: String,
    /// `REJECTS_QUEUE_URL`: where records that can never be processed go, with their reason.
    pub rejects_queue_url: String,
    /// `MAX_FUTURE_SKEW_SECONDS` (default 300): how far an event time may be ahead of the
    /// record's arrival on the stream.
    pub max_future_skew: time::Duration,
    /// `MAX_WRITE_ATTEMPTS` (default 5, 1 to 20): tries of one user's write when another writer
    /// changed the item in between (each re-reads it and applies the records again).
    pub max_write_attempts: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigLoadError {
    #[error(transparent)]
    Variable(#[from] ConfigError),
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    pub fn from_env<S: Source>(env: &Env<S>) -> Result<Self, ConfigLoadError> {
        let max_write_attempts: u32 = env.or_default("MAX_WRITE_ATTEMPTS", 5)?;
        if !(1..=20).contains(&max_write_attempts) {
            return Err(ConfigLoadError::Invalid(format!(
                "MAX_WRITE_ATTEMPTS {max_write_attempts} is outside 1..=20"
            )));
        }
        Ok(Self {
            features_table: env.required("FEATURES_TABLE")?,
            applied_events_table: env.required("APPLIED_EVENTS_TABLE")?,
            rejects_queue_url: shared::config::rejects_queue_url(env)?,
            max_future_skew: shared::config::max_future_skew(env)?,
            max_write_attempts,
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

    const REQUIRED: [(&str, &str); 3] = [
        ("FEATURES_TABLE", "f"),
        ("APPLIED_EVENTS_TABLE", "fe"),
        ("REJECTS_QUEUE_URL", "https://q/rejects"),
    ];

    #[test]
    fn defaults_and_overrides() {
        let config = Config::from_env(&env(&REQUIRED)).unwrap();
        assert_eq!(config.max_write_attempts, 5);
        assert_eq!(config.max_future_skew, time::Duration::minutes(5));
        let mut pairs = REQUIRED.to_vec();
        pairs.push(("MAX_WRITE_ATTEMPTS", "1"));
        assert_eq!(
            Config::from_env(&env(&pairs)).unwrap().max_write_attempts,
            1
        );
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
            ("MAX_WRITE_ATTEMPTS", "0"),
            ("MAX_WRITE_ATTEMPTS", "21"),
            ("MAX_WRITE_ATTEMPTS", "many"),
            ("MAX_FUTURE_SKEW_SECONDS", "-5"),
            ("REJECTS_QUEUE_URL", "https://q/rejects.fifo"),
        ] {
            let mut pairs: Vec<_> = REQUIRED
                .iter()
                .copied()
                .filter(|(n, _)| *n != name)
                .collect();
            pairs.push((name, value));
            let error = Config::from_env(&env(&pairs)).unwrap_err().to_string();
            assert!(error.contains(name), "{name}={value}: {error}");
        }
    }
}
