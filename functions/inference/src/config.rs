//! Settings from the environment, read once at init.

use std::time::Duration;

use shared::clients::ClientSettings;
use shared::config::{ConfigError, ConfigLoadError, Env, Source};
use shared::features::SpecVersion;

use crate::rows::RowFormat;

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `FEATURES_TABLE`.
    pub features_table: String,
    /// `MODEL_ENDPOINT_NAME`.
    pub endpoint_name: String,
    /// `MODEL_CONTENT_TYPE`: `text/csv` (default) or `application/json`.
    pub row_format: RowFormat,
    /// `SCORE_THRESHOLD` in [0, 1] (default 0.5): a score at or above it is labelled true.
    pub threshold: f64,
    /// `FALLBACK_SCORE` in [0, 1], unset by default: when set, a model error, throttling or
    /// timeout answers this score, flagged `fallback`, instead of an error.
    pub fallback_score: Option<f64>,
    /// `FEATURE_SPEC_VERSION` (default 1, the checked-in model's): the feature spec version the
    /// endpoint's model was trained on, which rows are computed at. Items that do not hold its
    /// state yet are refused, and an endpoint that reports another version is not trusted.
    pub spec_version: SpecVersion,
    /// `MODEL_SPEC_VERSION`: the feature spec version of an endpoint whose container does not
    /// report one (a built-in algorithm). Must be `FEATURE_SPEC_VERSION`; an endpoint that
    /// reports a version is always held to what it reports.
    pub declared_model_spec_version: Option<u32>,
    /// `MODEL_ATTEMPT_TIMEOUT_MS` (default 2000, 100..=2000: it can only be shortened): one InvokeEndpoint attempt.
    pub model_attempt_timeout: Duration,
    /// `FEATURES_CONSISTENT_READ` (`true` or `false`, default false): read the features
    /// strongly consistent, at twice the read units, so a score never misses a written feature.
    pub consistent_read: bool,
}

/// InvokeEndpoint attempts: one retry for throttling, 5xx and timeouts.
pub const MODEL_ATTEMPTS: u32 = 2;

impl Config {
    pub fn from_env<S: Source>(env: &Env<S>) -> Result<Self, ConfigLoadError> {
        let unit = |name: &str, value: Option<f64>| match value {
            Some(value) if !(0.0..=1.0).contains(&value) => Err(ConfigError::Malformed {
                name: name.to_owned(),
                value: value.to_string(),
                reason: "must be a number from 0 to 1".into(),
            }),
            _ => Ok(value),
        };
        let threshold = unit(
            "SCORE_THRESHOLD",
            Some(env.or_default("SCORE_THRESHOLD", 0.5)?),
        )?
        .unwrap_or(0.5);
        let fallback_score = unit("FALLBACK_SCORE", env.optional("FALLBACK_SCORE")?)?;
        let spec_version: SpecVersion = env.or_default("FEATURE_SPEC_VERSION", SpecVersion::V1)?;
        let declared: Option<u32> = env.optional("MODEL_SPEC_VERSION")?;
        if let Some(version) = declared
            && version != spec_version.number()
        {
            return Err(ConfigLoadError::Variable(ConfigError::Malformed {
                name: "MODEL_SPEC_VERSION".into(),
                value: version.to_string(),
                reason: format!(
                    "this function computes feature spec version {spec_version} (FEATURE_SPEC_VERSION); a model trained on version {version} would score wrong rows"
                ),
            }));
        }
        let timeout_ms: u64 = env.or_default("MODEL_ATTEMPT_TIMEOUT_MS", 2_000)?;
        if !(100..=2_000).contains(&timeout_ms) {
            return Err(ConfigLoadError::Variable(ConfigError::Malformed {
                name: "MODEL_ATTEMPT_TIMEOUT_MS".into(),
                value: timeout_ms.to_string(),
                reason: "must be 100..=2000: two attempts and the feature read must fit the function's 10 s".into(),
            }));
        }
        Ok(Self {
            features_table: env.required("FEATURES_TABLE")?,
            endpoint_name: env.required("MODEL_ENDPOINT_NAME")?,
            row_format: env.or_default("MODEL_CONTENT_TYPE", RowFormat::Csv)?,
            threshold,
            fallback_score,
            spec_version,
            declared_model_spec_version: declared,
            model_attempt_timeout: Duration::from_millis(timeout_ms),
            consistent_read: env.or_default("FEATURES_CONSISTENT_READ", false)?,
        })
    }

    /// Timeouts and retries of the SageMaker client: an attempt bounded by the configured
    /// timeout, one retry, the whole call bounded below twice that plus backoff.
    pub fn model_client_settings(&self) -> ClientSettings {
        let attempt = self.model_attempt_timeout;
        ClientSettings {
            connect_timeout: attempt.min(Duration::from_millis(1_000)),
            attempt_timeout: attempt,
            operation_timeout: attempt * MODEL_ATTEMPTS + Duration::from_millis(200),
            max_attempts: MODEL_ATTEMPTS,
            initial_backoff: Duration::from_millis(25),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env<std::collections::HashMap<String, String>> {
        let mut all = vec![
            ("FEATURES_TABLE", "features"),
            ("MODEL_ENDPOINT_NAME", "model"),
        ];
        all.extend_from_slice(pairs);
        Env::from_pairs(&all)
    }

    #[test]
    fn defaults_are_csv_a_half_threshold_no_fallback_and_two_second_attempts() {
        let config = Config::from_env(&env(&[])).unwrap();
        assert_eq!(config.row_format, RowFormat::Csv);
        assert_eq!(config.threshold, 0.5);
        assert_eq!(config.fallback_score, None);
        assert_eq!(config.model_attempt_timeout, Duration::from_secs(2));
        assert!(
            !config.consistent_read,
            "eventually consistent: half the read units"
        );
        let strong = Config::from_env(&env(&[("FEATURES_CONSISTENT_READ", "true")])).unwrap();
        assert!(strong.consistent_read);
    }

    #[test]
    fn every_worst_case_answers_inside_the_function_and_api_gateway_limits() {
        let config = Config::from_env(&env(&[("MODEL_ATTEMPT_TIMEOUT_MS", "2000")])).unwrap();
        let model = config.model_client_settings();
        let features = ClientSettings::http_api();
        // The read is abandoned at its deadline, retries included.
        let worst = crate::features::READ_DEADLINE + model.operation_timeout;
        // A slow but healthy first attempt is never cut short by the read's deadline.
        assert!(crate::features::READ_DEADLINE >= features.attempt_timeout);
        // The deployed function timeout is 10 s (infra/stack.json); API Gateway's is 30 s.
        assert!(worst < Duration::from_secs(10), "{worst:?}");
        assert!(model.attempt_timeout < model.operation_timeout);
        assert_eq!(model.max_attempts, 2);
        let stack = stack::Stack::workspace();
        assert_eq!(stack.functions["inference"].timeout_seconds, 10);
    }

    #[test]
    fn bad_values_are_refused_with_their_name() {
        for (name, value, needle) in [
            ("SCORE_THRESHOLD", "1.5", "from 0 to 1"),
            ("FALLBACK_SCORE", "-0.1", "from 0 to 1"),
            (
                "MODEL_CONTENT_TYPE",
                "application/x-npy",
                "text/csv or application/json",
            ),
            ("MODEL_SPEC_VERSION", "2", "computes feature spec version 1"),
            (
                "FEATURE_SPEC_VERSION",
                "3",
                "not one this code knows (1 to 2)",
            ),
            ("MODEL_ATTEMPT_TIMEOUT_MS", "2500", "100..=2000"),
            ("FEATURES_CONSISTENT_READ", "yes", "yes"),
        ] {
            let error = Config::from_env(&env(&[(name, value)]))
                .unwrap_err()
                .to_string();
            assert!(error.contains(name), "{error}");
            assert!(error.contains(needle), "{error}");
        }
        let error = Config::from_env(&Env::from_pairs(&[("FEATURES_TABLE", "f")])).unwrap_err();
        assert!(error.to_string().contains("MODEL_ENDPOINT_NAME"));
    }
}
