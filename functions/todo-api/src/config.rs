//! The function's settings, read once at init.

use shared::config::{ConfigLoadError, Env, Source};

/// The variable that names the tasks table (set from the manifest's `environment`).
pub const TASKS_TABLE_VARIABLE: &str = "TASKS_TABLE";

/// Settings for todo-api.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `TASKS_TABLE`: the DynamoDB tasks table.
    pub tasks_table: String,
}

impl Config {
    pub fn from_env<S: Source>(env: &Env<S>) -> Result<Self, ConfigLoadError> {
        Ok(Self {
            tasks_table: env.required(TASKS_TABLE_VARIABLE)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn table_is_required_and_named_in_the_error() {
        let env = Env::from_source(HashMap::new());
        let err = Config::from_env(&env).unwrap_err();
        assert!(err.to_string().contains("TASKS_TABLE"), "{err}");

        let env = Env::from_source(HashMap::from([("TASKS_TABLE".into(), "TodoList".into())]));
        let config = Config::from_env(&env).unwrap();
        assert_eq!(config.tasks_table, "TodoList");
    }
}
