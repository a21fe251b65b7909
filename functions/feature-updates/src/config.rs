//! The function's settings, read once at init.

use shared::config::{ConfigLoadError, Env, Source};
use shared::keyed_state::Settings;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The keyed-state core's: `FEATURES_TABLE` (the online feature store, one item per user),
    /// `APPLIED_EVENTS_TABLE`, `REJECTS_QUEUE_URL`, `MAX_FUTURE_SKEW_SECONDS`,
    /// `STATE_CACHE_SIZE`.
    pub core: Settings,
    /// `MAX_WRITE_ATTEMPTS` (default 5, 1 to 20): tries of one user's write when another writer
    /// changed the item in between (each re-reads it and applies the records again).
    pub max_write_attempts: u32,
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
            core: Settings::from_env(env, "FEATURES_TABLE")?,
            max_write_attempts,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUIRED: [(&str, &str); 3] = [
        ("FEATURES_TABLE", "f"),
        ("APPLIED_EVENTS_TABLE", "fe"),
        ("REJECTS_QUEUE_URL", "https://q/rejects"),
    ];

    #[test]
    fn defaults_and_overrides() {
        let config = Config::from_env(&Env::from_pairs(&REQUIRED)).unwrap();
        assert_eq!(config.max_write_attempts, 5);
        assert_eq!(config.core.state_table, "f", "the core's settings");
        let mut pairs = REQUIRED.to_vec();
        pairs.push(("MAX_WRITE_ATTEMPTS", "1"));
        assert_eq!(
            Config::from_env(&Env::from_pairs(&pairs))
                .unwrap()
                .max_write_attempts,
            1
        );
    }

    #[test]
    fn missing_and_bad_settings_are_named() {
        testkit::settings::assert_each_setting_is_named(
            Config::from_env,
            &REQUIRED,
            &[
                ("MAX_WRITE_ATTEMPTS", "0"),
                ("MAX_WRITE_ATTEMPTS", "21"),
                ("MAX_WRITE_ATTEMPTS", "many"),
                ("STATE_CACHE_SIZE", "lots"),
            ],
        );
    }
}
