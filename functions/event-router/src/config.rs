//! The function's settings, read once at init.

use shared::config::{ConfigLoadError, Env, Source};
use shared::events::TimeLimits;

use crate::routing::{DEFAULT_ROUTING_TABLE, RoutingTable};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub routing_table: RoutingTable,
    /// `REJECTS_QUEUE_URL`: where events that can never be routed go, with their reason.
    pub rejects_queue_url: String,
    pub time_limits: TimeLimits,
}

impl Config {
    /// Reads `REJECTS_QUEUE_URL`, the routing table (`ROUTING_TABLE` JSON, or the file
    /// `ROUTING_TABLE_FILE`, else the default table, which needs `ACTIVITY_STREAM` and
    /// `ORDERS_QUEUE_URL`), `MAX_EVENT_AGE_SECONDS` (default 7 days) and
    /// `MAX_FUTURE_SKEW_SECONDS` (default 300).
    pub fn from_env<S: Source>(env: &Env<S>) -> Result<Self, ConfigLoadError> {
        let rejects_queue_url = shared::config::rejects_queue_url(env)?;
        let defaults = TimeLimits::default();
        let max_age: i64 =
            env.or_default("MAX_EVENT_AGE_SECONDS", defaults.max_age.whole_seconds())?;
        let max_future_skew = shared::config::max_future_skew(env)?;
        if max_age <= 0 {
            return Err(ConfigLoadError::Invalid(
                "MAX_EVENT_AGE_SECONDS must be positive".into(),
            ));
        }
        let inline: Option<String> = env.optional("ROUTING_TABLE")?;
        let file: Option<String> = env.optional("ROUTING_TABLE_FILE")?;
        let json = match (inline, file) {
            (Some(_), Some(_)) => {
                return Err(ConfigLoadError::Invalid(
                    "ROUTING_TABLE and ROUTING_TABLE_FILE are both set; set one".into(),
                ));
            }
            (Some(json), None) => json,
            (None, Some(path)) => std::fs::read_to_string(&path).map_err(|error| {
                ConfigLoadError::Invalid(format!("cannot read ROUTING_TABLE_FILE {path}: {error}"))
            })?,
            (None, None) => DEFAULT_ROUTING_TABLE.to_owned(),
        };
        let routing_table =
            RoutingTable::parse(&json, |name| env.optional::<String>(name).ok().flatten())
                .map_err(|error| ConfigLoadError::Invalid(error.to_string()))?;
        Ok(Self {
            routing_table,
            rejects_queue_url,
            time_limits: TimeLimits {
                max_future_skew,
                max_age: time::Duration::seconds(max_age),
            },
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

    #[test]
    fn the_default_table_needs_its_variables() {
        let error =
            Config::from_env(&env(&[("REJECTS_QUEUE_URL", "https://q/rejects")])).unwrap_err();
        assert!(error.to_string().contains("ACTIVITY_STREAM"), "{error}");
        let config = Config::from_env(&env(&[
            ("REJECTS_QUEUE_URL", "https://q/rejects"),
            ("ACTIVITY_STREAM", "activity"),
            ("ORDERS_QUEUE_URL", "https://q/orders.fifo"),
            ("MAX_EVENT_AGE_SECONDS", "3600"),
        ]))
        .unwrap();
        assert_eq!(config.time_limits.max_age, time::Duration::hours(1));
        assert_eq!(
            config.time_limits.max_future_skew,
            time::Duration::minutes(5)
        );
        assert_eq!(config.routing_table.routes().len(), 2);
    }

    #[test]
    fn one_table_source_and_a_rejects_queue() {
        let error = Config::from_env(&env(&[
            ("REJECTS_QUEUE_URL", "https://q"),
            ("ROUTING_TABLE", "{}"),
            ("ROUTING_TABLE_FILE", "/x"),
        ]))
        .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("ROUTING_TABLE and ROUTING_TABLE_FILE are both set"),
            "{error}"
        );
        let error = Config::from_env(&env(&[
            ("REJECTS_QUEUE_URL", "https://q"),
            ("ROUTING_TABLE_FILE", "/nonexistent/table.json"),
        ]))
        .unwrap_err();
        assert!(
            error.to_string().contains("/nonexistent/table.json"),
            "{error}"
        );
        let error = Config::from_env(&env(&[
            ("ROUTING_TABLE", r#"{"routes": [{"detail_type": "user_activity", "targets": [{"kinesis": {"stream": "s"}}]}]}"#),
        ]))
        .unwrap_err();
        assert!(error.to_string().contains("REJECTS_QUEUE_URL"), "{error}");
        let error = Config::from_env(&env(&[
            ("REJECTS_QUEUE_URL", "https://q/rejects.fifo"),
            ("MAX_EVENT_AGE_SECONDS", "60"),
        ]))
        .unwrap_err();
        assert!(
            error.to_string().contains("REJECTS_QUEUE_URL") && error.to_string().contains("FIFO"),
            "{error}"
        );
        assert!(matches!(
            Config::from_env(&env(&[
                ("REJECTS_QUEUE_URL", "https://q"),
                ("MAX_EVENT_AGE_SECONDS", "-1"),
            ])),
            Err(ConfigLoadError::Invalid(_))
        ));
        let error = Config::from_env(&env(&[
            ("REJECTS_QUEUE_URL", "https://q"),
            ("MAX_EVENT_AGE_SECONDS", "soon"),
        ]))
        .unwrap_err();
        assert!(
            error.to_string().contains("MAX_EVENT_AGE_SECONDS"),
            "{error}"
        );
    }
}
