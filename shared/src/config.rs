//! Typed settings read from environment variables once, at init.
//!
//! A function declares its settings as a struct and fills it through [`Env`]; any missing or
//! malformed variable fails init with a message naming the variable, so a misconfigured
//! deployment fails its first cold start loudly instead of misbehaving on the first event.

use std::collections::HashMap;
use std::fmt::Display;
use std::str::FromStr;

/// Why a setting could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {name} is required but not set")]
    Missing { name: String },
    #[error("environment variable {name} is set but empty")]
    Empty { name: String },
    #[error("environment variable {name} has the malformed value {value:?}: {reason}")]
    Malformed {
        name: String,
        value: String,
        reason: String,
    },
}

/// Why a function's settings could not be loaded: a variable that is missing or malformed, or
/// a value outside what the function accepts.
#[derive(Debug, thiserror::Error)]
pub enum ConfigLoadError {
    #[error(transparent)]
    Variable(#[from] ConfigError),
    #[error("{0}")]
    Invalid(String),
}

/// Where variables come from: the process environment in production, a map in tests.
pub trait Source {
    /// `Err` carries the raw value when the variable is set but not valid Unicode.
    fn var(&self, name: &str) -> Option<Result<String, String>>;
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Source for ProcessEnv {
    fn var(&self, name: &str) -> Option<Result<String, String>> {
        std::env::var_os(name).map(|value| {
            value
                .into_string()
                .map_err(|raw| raw.to_string_lossy().into_owned())
        })
    }
}

impl Source for HashMap<String, String> {
    fn var(&self, name: &str) -> Option<Result<String, String>> {
        self.get(name).cloned().map(Ok)
    }
}

/// Typed access to environment variables.
#[derive(Debug, Clone, Default)]
pub struct Env<S = ProcessEnv> {
    source: S,
}

impl Env<ProcessEnv> {
    /// Reads the process environment.
    pub fn process() -> Self {
        Self { source: ProcessEnv }
    }
}

impl<S: Source> Env<S> {
    pub fn from_source(source: S) -> Self {
        Self { source }
    }

    /// A variable that must be set, non-empty, and parse as `T`.
    pub fn required<T>(&self, name: &str) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        self.optional(name)?.ok_or_else(|| ConfigError::Missing {
            name: name.to_owned(),
        })
    }

    /// A variable that may be unset; when set it must be non-empty and parse as `T`.
    pub fn optional<T>(&self, name: &str) -> Result<Option<T>, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        let raw = match self.source.var(name) {
            None => return Ok(None),
            Some(Err(raw)) => {
                return Err(ConfigError::Malformed {
                    name: name.to_owned(),
                    value: raw,
                    reason: "not valid UTF-8".to_owned(),
                });
            }
            Some(Ok(raw)) => raw,
        };
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(ConfigError::Empty {
                name: name.to_owned(),
            });
        }
        trimmed
            .parse()
            .map(Some)
            .map_err(|err: T::Err| ConfigError::Malformed {
                name: name.to_owned(),
                value: raw.clone(),
                reason: err.to_string(),
            })
    }

    /// A variable with a default used when it is unset.
    pub fn or_default<T>(&self, name: &str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        Ok(self.optional(name)?.unwrap_or(default))
    }
}

impl Env<HashMap<String, String>> {
    /// An environment of exactly `pairs`, for tests and tools.
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        Self::from_source(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }
}

/// `REJECTS_QUEUE_URL`, the rejects queue every batch consumer sends to: required, and a
/// standard queue, since rejects carry no message group.
pub fn rejects_queue_url<S: Source>(env: &Env<S>) -> Result<String, ConfigError> {
    const NAME: &str = "REJECTS_QUEUE_URL";
    let url: String = env.required(NAME)?;
    if url.ends_with(".fifo") {
        return Err(ConfigError::Malformed {
            name: NAME.to_owned(),
            value: url,
            reason: "it names a FIFO queue; rejects carry no message group, so it must be a standard queue".into(),
        });
    }
    Ok(url)
}

/// `MAX_FUTURE_SKEW_SECONDS`, how far an event time may be ahead of the processing clock
/// (producers' clock skew): by default [`TimeLimits`]'s 5 minutes; never negative.
///
/// [`TimeLimits`]: crate::events::TimeLimits
pub fn max_future_skew<S: Source>(env: &Env<S>) -> Result<time::Duration, ConfigError> {
    const NAME: &str = "MAX_FUTURE_SKEW_SECONDS";
    let default = crate::events::TimeLimits::default().max_future_skew;
    let seconds: i64 = env.or_default(NAME, default.whole_seconds())?;
    if seconds < 0 {
        return Err(ConfigError::Malformed {
            name: NAME.to_owned(),
            value: seconds.to_string(),
            reason: "must not be negative".to_owned(),
        });
    }
    Ok(time::Duration::seconds(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env<HashMap<String, String>> {
        Env::from_pairs(pairs)
    }

    #[test]
    fn required_reads_and_parses() {
        let env = env(&[("TABLE", "tasks"), ("LIMIT", " 42 ")]);
        assert_eq!(env.required::<String>("TABLE").unwrap(), "tasks");
        assert_eq!(env.required::<u32>("LIMIT").unwrap(), 42);
    }

    #[test]
    fn missing_variable_is_named() {
        let err = env(&[]).required::<String>("TASKS_TABLE").unwrap_err();
        assert_eq!(
            err,
            ConfigError::Missing {
                name: "TASKS_TABLE".into()
            }
        );
        assert!(err.to_string().contains("TASKS_TABLE"));
    }

    #[test]
    fn empty_variable_is_rejected_not_defaulted() {
        let env = env(&[("LIMIT", "  ")]);
        assert!(matches!(
            env.or_default("LIMIT", 5u32),
            Err(ConfigError::Empty { name }) if name == "LIMIT"
        ));
    }

    #[test]
    fn malformed_variable_names_variable_value_and_reason() {
        let err = env(&[("LIMIT", "ten")])
            .required::<u32>("LIMIT")
            .unwrap_err();
        let message = err.to_string();
        assert!(message.contains("LIMIT"), "{message}");
        assert!(message.contains("\"ten\""), "{message}");
        assert!(message.contains("invalid digit"), "{message}");
    }

    #[test]
    fn future_skew_defaults_to_five_minutes_and_is_never_negative() {
        assert_eq!(
            max_future_skew(&env(&[])).unwrap(),
            time::Duration::minutes(5)
        );
        assert_eq!(
            max_future_skew(&env(&[("MAX_FUTURE_SKEW_SECONDS", "0")])).unwrap(),
            time::Duration::ZERO
        );
        let error = max_future_skew(&env(&[("MAX_FUTURE_SKEW_SECONDS", "-5")])).unwrap_err();
        assert!(
            error.to_string().contains("MAX_FUTURE_SKEW_SECONDS"),
            "{error}"
        );
        assert!(
            error.to_string().contains("must not be negative"),
            "{error}"
        );
    }

    #[test]
    fn optional_and_default() {
        let env = env(&[("SET", "7")]);
        assert_eq!(env.optional::<u8>("UNSET").unwrap(), None);
        assert_eq!(env.optional::<u8>("SET").unwrap(), Some(7));
        assert_eq!(env.or_default("UNSET", 3u8).unwrap(), 3);
        assert_eq!(env.or_default("SET", 3u8).unwrap(), 7);
    }
}
